"""A run's full configuration (model, data, training settings), to and from JSON."""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import asdict, dataclass

from shallownet.errors import RunConfigError, ShallownetError, UsageError
from shallownet.registry import ModelConfig
from shallownet.training.data import DataSpec, data_kind
from shallownet.typecheck import typed

__all__ = ["TrainSettings", "RunConfig", "book_settings"]


@dataclass(frozen=True)
class TrainSettings:
    """How long and how to train: epochs, batch size, seed, device, whether softmax
    regression trains with the compiled step (:mod:`shallownet.training.kernel`), and
    whether the run also writes TensorBoard events (:mod:`shallownet.training.tensorboard`)."""

    epochs: int = 10
    batch_size: int = 256
    seed: int = 0
    device: str = "auto"
    kernel: bool = False
    tensorboard: bool = False  # also log to RUN_DIR/tensorboard (needs the tensorboard package)

    def check(self) -> TrainSettings:
        for name, minimum in (("epochs", 1), ("batch_size", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"{flag} must be a whole number of at least {minimum}, "
                                 f"not {value!r}.")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise UsageError(f"--seed must be a whole number of 0 or more, not {self.seed!r}.")
        if not isinstance(self.device, str):
            raise UsageError(f"--device must be a name such as cpu, not {self.device!r}.")
        for name in ("kernel", "tensorboard"):
            if not isinstance(getattr(self, name), bool):
                raise UsageError(f"{name} must be true or false, not {getattr(self, name)!r}.")
        return self


def book_settings(model: str, data: str) -> dict:
    """The book's epochs and batch size for ``model`` on ``data`` (its learning rate is the
    registry's default).

    Linear regression on the synthetic data: 3 epochs of batch 10; a CSV
    dataset: 10 epochs of batch 32; everything else: 10 epochs of batch 256.
    """
    if data == "synthetic-linear":
        return {"epochs": 3, "batch_size": 10}
    if data_kind(data) == "csv":
        return {"epochs": 10, "batch_size": 32}
    return {"epochs": 10, "batch_size": 256}


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; saved as ``config.json`` and in each checkpoint."""

    model: ModelConfig = ModelConfig()
    data: DataSpec = DataSpec()
    train: TrainSettings = TrainSettings()

    def resolved(self) -> RunConfig:
        """A copy with the model's defaults filled in; every value checked."""
        model = self.model.resolved()
        try:
            data = self.data.resolved()
        except (RuntimeError, OSError) as exc:  # ~user with no home; a name too long for a path
            raise UsageError(
                f"the dataset {self.data.name!r} (directory {self.data.data_dir!r}) cannot be "
                f"used as a path: {exc}"
            ) from exc
        return dataclasses.replace(self, model=model, data=data, train=self.train.check())

    def to_dict(self) -> dict:
        return {"model": asdict(self.model), "data": asdict(self.data),
                "train": asdict(self.train)}

    @classmethod
    def from_dict(cls, d: object, *, source: str = "config") -> RunConfig:
        """Rebuild from :meth:`to_dict` output; anything malformed is a :class:`RunConfigError`."""
        if not isinstance(d, dict):
            raise RunConfigError(f"{source}: a run config must be a JSON object.")
        unknown = set(d) - {"model", "data", "train"}
        if unknown:
            names = ", ".join(sorted(map(str, unknown)))  # a checkpoint's keys need not be str
            raise RunConfigError(f"{source}: unknown section(s) {names}.")
        parts = {}
        for key, kind in (("model", ModelConfig), ("data", DataSpec), ("train", TrainSettings)):
            parts[key] = _section(kind, d.get(key, {}), f"{source}: {key}")
        try:
            return cls(**parts).resolved()
        except ShallownetError as exc:
            raise RunConfigError(f"{source}: {exc}") from exc
        except (TypeError, ValueError, OverflowError) as exc:
            raise RunConfigError(f"{source}: invalid value ({exc}).") from exc


def _section(kind, values: object, where: str):
    if not isinstance(values, dict):
        raise RunConfigError(f"{where} must be a JSON object.")
    hints = typing.get_type_hints(kind)
    unknown = set(values) - set(hints)
    if unknown:
        raise RunConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}.")
    clean = {}
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):  # json reads NaN, Infinity
            raise RunConfigError(f"{where}.{name} must be finite, not {value!r}.")
        clean[name] = typed(value, hints[name], f"{where}.{name}", RunConfigError)
    return kind(**clean)
