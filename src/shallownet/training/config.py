"""A run's full configuration (model, data, training settings), to and from JSON."""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import asdict, dataclass

from shallownet.defaults import book_defaults
from shallownet.errors import RunConfigError, ShallownetError, UsageError
from shallownet.metrics import METRICS
from shallownet.registry import ModelConfig, check_compatible
from shallownet.runtime import PRECISIONS
from shallownet.training.augment import make_augmentation
from shallownet.training.data import DataSpec
from shallownet.training.schedules import make_schedule
from shallownet.training.steps import STEPS
from shallownet.typecheck import typed

__all__ = ["TrainSettings", "RunConfig"]


@dataclass(frozen=True)
class TrainSettings:
    """How long and how to train.

    ``None`` means the book's value for the model and data
    (:mod:`shallownet.defaults`); :meth:`RunConfig.resolved` fills them in.
    """

    epochs: int | None = None  # epochs in total
    batch_size: int | None = None  # examples per minibatch
    seed: int = 0  # initial weights, batch order, dropout masks
    device: str = "auto"  # auto | cpu | cuda | mps
    step: str = "auto"  # auto | autograd | fused | kernel (shallownet.training.steps)
    schedule: str = "constant"  # constant | cosine | onecycle (shallownet.training.schedules)
    warmup: float | None = None  # share of the run warming up (None: the schedule's own)
    augment: tuple[str, ...] = ()  # crop, flip (shallownet.training.augment)
    precision: str = "float32"  # float32 | bfloat16 (matrix products; mixed precision)
    recipe: str | None = None  # the recipe these settings came from (shallownet.recipes)
    tensorboard: bool = False  # also log to RUN_DIR/tensorboard (needs the tensorboard package)
    visdom: str | None = None  # also send the curves to this visdom server (its URL)
    watch_gradients: bool = False  # each layer's gradient norms per epoch (training.gradients)
    metric: str | None = None  # an extra per-epoch figure: log-rmse (shallownet.metrics.METRICS)

    def check(self) -> TrainSettings:
        for name, minimum in (("epochs", 1), ("batch_size", 1)):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise UsageError(f"{name} must be a whole number of at least {minimum}, "
                                 f"not {value!r}.")
        if (not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0
                or self.seed >= 2**63):  # torch's generators take 64-bit seeds
            raise UsageError(f"seed must be a whole number from 0 to 2**63 - 1, not "
                             f"{self.seed!r}.")
        if not isinstance(self.device, str):
            raise UsageError(f"device must be a name such as cpu, not {self.device!r}.")
        if self.step not in STEPS:
            raise UsageError(f"unknown step {self.step!r}; choose one of {', '.join(STEPS)}.")
        make_schedule(self.schedule, 1.0, 1, warmup=self.warmup)  # checks both
        make_augmentation(self.augment)
        if self.precision not in PRECISIONS:
            raise UsageError(f"unknown precision {self.precision!r}; choose one of "
                             f"{', '.join(PRECISIONS)}.")
        if not isinstance(self.tensorboard, bool):
            raise UsageError(f"tensorboard must be true or false, not {self.tensorboard!r}.")
        if self.visdom is not None:
            from shallownet.training.visdom import parse_url

            parse_url(self.visdom)  # a URL such as http://localhost:8097
        if not isinstance(self.watch_gradients, bool):
            raise UsageError(f"watch_gradients must be true or false, not "
                             f"{self.watch_gradients!r}.")
        if self.metric is not None and self.metric not in METRICS:
            raise UsageError(f"unknown metric {self.metric!r}; choose one of "
                             f"{', '.join(METRICS)}.")
        return self


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; saved as ``config.json`` and in each checkpoint."""

    model: ModelConfig = ModelConfig()
    data: DataSpec = DataSpec()
    train: TrainSettings = TrainSettings()

    def resolved(self) -> RunConfig:
        """A copy with every default filled in; every value checked.

        What is ``None`` comes from the book's table (:mod:`shallownet.defaults`)
        for the model, the kind of data and the optimiser; a model that cannot
        train on that kind of data is refused
        (:func:`shallownet.registry.check_compatible`).
        """
        try:
            data = self.data.resolved()
        except (RuntimeError, OSError) as exc:  # ~user with no home; a name too long for a path
            raise UsageError(
                f"the dataset {self.data.name!r} (directory {self.data.data_dir!r}) cannot be "
                f"used as a path: {exc}"
            ) from exc
        traits = data.traits()
        model = self.model.resolved(traits.kind)
        check_compatible(model, traits)
        train = self.train.check()
        book = book_defaults(model.model, traits.kind, model.optimizer)
        train = dataclasses.replace(
            train, epochs=book.epochs if train.epochs is None else train.epochs,
            batch_size=book.batch_size if train.batch_size is None else train.batch_size)
        return dataclasses.replace(self, model=model, data=data, train=train)

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
            values = d.get(key, {})
            if key == "train" and isinstance(values, dict) and "kernel" in values:
                values = _without_kernel_flag(values, f"{source}: train")
            parts[key] = _section(kind, values, f"{source}: {key}")
        try:
            return cls(**parts).resolved()
        except ShallownetError as exc:
            raise RunConfigError(f"{source}: {exc}") from exc
        except (TypeError, ValueError, OverflowError) as exc:
            raise RunConfigError(f"{source}: invalid value ({exc}).") from exc


def _without_kernel_flag(values: dict, where: str) -> dict:
    """A run saved before steps had names: ``kernel: true`` trained with the compiled step,
    ``kernel: false`` with what ``auto`` picks."""
    values = dict(values)
    kernel = values.pop("kernel")
    if not isinstance(kernel, bool):
        raise RunConfigError(f"{where}.kernel must be true or false, not {kernel!r}.")
    values.setdefault("step", "kernel" if kernel else "auto")
    return values


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
