"""The run directory: one folder per training run, holding everything it produced.

::

    runs/softmax-scratch-fashion-mnist-20261124-101500/
        config.json        the run's configuration and dataset facts
        metrics.csv        one row per epoch
        metrics.json       the same, plus final figures, confusion matrix, per-class accuracy
        curves.png/.svg    loss and accuracy per epoch
        gallery.png        test images with true and predicted labels (image data)
        confusion.png      confusion matrix (classifiers)
        checkpoint.pt      weights, optimiser state, config, epoch (after every epoch)
        tensorboard/       TensorBoard event files (train_run with tensorboard=True)

:class:`RunDir` is the one reader and writer of these files: training writes
them through it (and through its callbacks :class:`Checkpoint` and
:class:`MetricsFiles`), ``evaluate``, ``compare`` and the tests read them
through it. :data:`METRIC_COLUMNS` lists the per-epoch figures once.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
from pathlib import Path

from shallownet import __version__
from shallownet.atomic import write_json, write_text
from shallownet.data.catalog import CATALOG
from shallownet.errors import Hint, OutputError, RunConfigError
from shallownet.phases import phase
from shallownet.training.callbacks import Callback
from shallownet.training.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["RunDir", "default_run_path", "METRIC_COLUMNS", "FIGURE_COLUMNS", "metric_columns",
           "Checkpoint", "MetricsFiles", "run_dir_of", "unused_path"]

#: The columns of ``metrics.csv``, in order: a run writes those its records have.
METRIC_COLUMNS = ("fold", "epoch", "train_loss", "train_acc", "test_loss", "test_acc",
                  "val_loss", "val_acc", "train_log_rmse", "test_log_rmse", "val_log_rmse",
                  "w_error", "b_error", "seconds")
#: The per-epoch figures of a run (not counters, not times).
FIGURE_COLUMNS = tuple(c for c in METRIC_COLUMNS if c not in ("fold", "epoch", "seconds"))


def metric_columns(task: str, *, parameter_errors: bool = False,
                   held_out: str = "test", metric: str | None = None) -> tuple[str, ...]:
    """The columns of a run's ``metrics.csv`` before its first epoch: accuracies for a
    classifier, ``w_error`` and ``b_error`` for data made from known parameters; the
    held-out figures are ``test_...`` or, on a validation split, ``val_...``."""
    wanted = {"epoch", "train_loss", f"{held_out}_loss", "seconds"}
    if task != "regression":
        wanted |= {"train_acc", f"{held_out}_acc"}
    if parameter_errors:
        wanted |= {"w_error", "b_error"}
    if metric == "log-rmse":
        wanted |= {"train_log_rmse", f"{held_out}_log_rmse"}
    return tuple(c for c in METRIC_COLUMNS if c in wanted)


def default_run_path(model: str, impl: str, data: str, root: str | os.PathLike = "runs") -> Path:
    """``runs/MODEL-IMPL-DATA-YYYYmmdd-HHMMSS`` (``-2``, ``-3``, ... if taken)."""
    stem = data if data in CATALOG or data == "synthetic-linear" else Path(data).stem
    return unused_path(Path(root) / f"{model}-{impl}-{stem}-{time.strftime('%Y%m%d-%H%M%S')}")


def unused_path(base: Path) -> Path:
    """``base``, or ``base-2``, ``base-3``, ... : the first that does not exist yet."""
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def run_dir_of(path: str | os.PathLike) -> RunDir:
    """The run directory ``path`` names: itself, or, for a search's directory
    (``shallownet tune``: it holds ``tune.json``), the run it retrained, ``best/``.

    A search that has not retrained its best yet is refused with what to do.
    """
    path = Path(path)
    if not (path / "tune.json").is_file() or (path / "config.json").exists():
        return RunDir(path)
    if not (path / "best" / "config.json").is_file():
        resume = Hint.call("resume_tune", path)
        raise RunConfigError(f"{path} is a search that has not retrained its best yet (it has "
                             f"no best/ run): finish it with {resume}.", hints=[resume])
    return RunDir(path / "best")


class RunDir:
    """Paths and writers of one run directory."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    config = property(lambda self: self.path / "config.json")
    metrics_csv = property(lambda self: self.path / "metrics.csv")
    metrics_json = property(lambda self: self.path / "metrics.json")
    curves_png = property(lambda self: self.path / "curves.png")
    curves_svg = property(lambda self: self.path / "curves.svg")
    gallery = property(lambda self: self.path / "gallery.png")
    confusion = property(lambda self: self.path / "confusion.png")
    checkpoint = property(lambda self: self.path / "checkpoint.pt")
    tensorboard = property(lambda self: self.path / "tensorboard")

    def check_new(self) -> RunDir:
        """Refuse a directory that already holds a run, or a file in its place."""
        if self.config.exists() or self.checkpoint.exists():
            resume = Hint.call("resume_run", self.path)
            raise OutputError(
                f"{self.path} already holds a run. Continue it with {resume}, "
                f"or choose another run directory ({Hint('out')}).", hints=[resume, Hint("out")]
            )
        if self.path.exists() and not self.path.is_dir():
            raise OutputError(f"{self.path} is a file, not a directory: choose another run "
                              f"directory ({Hint('out')}).", hints=[Hint("out")])
        return self.check_writable()

    def check_writable(self) -> RunDir:
        """Refuse a place this process cannot write to, before any work is done.

        Writes (and removes) one byte in the run directory, or in its nearest
        existing parent: a read-only or full file system, or missing
        permissions, fail here rather than after the data has loaded.
        """
        where = self.path.absolute()
        while not where.exists() and where != where.parent:
            where = where.parent
        if not where.is_dir():
            raise OutputError(f"cannot create the run directory {self.path}: {where} is a file.")
        try:
            fd, probe = tempfile.mkstemp(prefix=".write-probe.", suffix=".tmp", dir=where)
            try:
                os.write(fd, b"\0")
            finally:
                os.close(fd)
                os.unlink(probe)
        except OSError as exc:
            raise OutputError(
                f"cannot write the run directory {self.path}: {where} is not writable "
                f"({exc.strerror or exc}). Choose another run directory ({Hint('out')}), or "
                "fix its permissions or free space there.", hints=[Hint("out")]
            ) from exc
        return self

    def create(self) -> RunDir:
        """Make the directory; refuse one that already holds a run."""
        self.check_new()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"cannot create the run directory {self.path}: {exc.strerror or exc}. "
                f"Choose another run directory ({Hint('out')}).", hints=[Hint("out")]
            ) from exc
        return self

    def write_config(self, config: dict, dataset: dict) -> None:
        """``config.json``: the run's settings (``RunConfig.to_dict()``, and ``folds`` for a
        cross-validation run), the dataset's facts and shallownet's version."""
        write_json(self.config, {"shallownet": __version__, **config, "dataset": dataset},
                   what="run config")

    def read_config(self) -> dict:
        """The parsed ``config.json`` (a :class:`RunConfigError` if missing or not JSON)."""
        try:
            is_dir = self.path.is_dir()
        except OSError as exc:  # a name too long
            raise RunConfigError(f"{self.path} is not a run directory ({exc.strerror}).") from exc
        if not is_dir:
            raise RunConfigError(f"{self.path} is not a run directory (no such directory).")
        try:
            return json.loads(self.config.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunConfigError(
                f"{self.path} is not a run directory: it has no config.json."
            ) from None
        except (OSError, ValueError, RecursionError) as exc:
            # ValueError: not UTF-8, not JSON, or an integer too long to convert;
            # RecursionError: arrays or objects nested too deeply to parse.
            raise RunConfigError(f"cannot read {self.config}: {exc}.") from exc

    def write_metrics(self, history: list[dict], summary: dict | None = None, *,
                      columns: tuple[str, ...] = ("epoch",)) -> None:
        """``metrics.csv`` (one row per epoch) and ``metrics.json`` (history and summary).

        ``columns`` head the CSV even before the first epoch is done.
        """
        keys = [k for k in METRIC_COLUMNS if k in columns or any(k in r for r in history)]
        keys += sorted({k for r in history for k in r} - set(keys))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        for record in history:
            writer.writerow({k: _csv_value(record.get(k)) for k in keys})
        write_text(self.metrics_csv, buffer.getvalue(), what="metrics file")
        write_json(self.metrics_json, {"history": history, **(summary or {})},
                   what="metrics file")


    def read_metrics(self) -> tuple[list[str], list[dict]]:
        """The header and the rows of ``metrics.csv`` as numbers (none if there is no file
        yet): ``epoch`` a whole number, the :data:`METRIC_COLUMNS` floats or None.

        A damaged file (a cell that is not a number, epochs that do not
        increase) is a :class:`RunConfigError` naming the line.
        """
        path = self.metrics_csv
        try:
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                columns = list(reader.fieldnames or [])
                rows = list(reader)
        except FileNotFoundError:
            return [], []
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise RunConfigError(f"cannot read {path}: {exc}.") from exc
        if rows and "epoch" not in columns:
            raise RunConfigError(f"{path} has no epoch column; it is not a shallownet "
                                 "metrics file.")
        history = []
        for line, row in enumerate(rows, start=2):
            record = {"epoch": _cell(row, "epoch", path, line, integer=True)}
            for key in METRIC_COLUMNS:
                if key in columns and key not in record:
                    record[key] = _cell(row, key, path, line, integer=key == "fold")
            if history and record["epoch"] <= history[-1]["epoch"] and "fold" not in record:
                raise RunConfigError(
                    f"{path}, line {line}: epoch {record['epoch']} follows epoch "
                    f"{history[-1]['epoch']}; the epochs of a metrics file must increase."
                )
            history.append(record)
        return columns, history

    def read_final(self) -> dict | None:
        """``metrics.json``'s final figures, or None while the run is unfinished (or the file
        unreadable)."""
        try:
            final = json.loads(self.metrics_json.read_text(encoding="utf-8")).get("final")
        except (OSError, ValueError, AttributeError, RecursionError):
            return None
        return final if isinstance(final, dict) else None

    def save_checkpoint(self, *, model, optimizer, config: dict, epoch: int,
                        history: list[dict]) -> Path:
        """``checkpoint.pt``: the state after ``epoch`` epochs
        (:func:`~shallownet.training.checkpoint.save_checkpoint`)."""
        return save_checkpoint(self.checkpoint, model=model, optimizer=optimizer,
                               config=config, epoch=epoch, history=history)

    def load_checkpoint(self) -> dict:
        """The checked contents of ``checkpoint.pt``
        (:func:`~shallownet.training.checkpoint.load_checkpoint`)."""
        return load_checkpoint(self.checkpoint)


class Checkpoint(Callback):
    """Save ``checkpoint.pt`` before the first epoch (epoch 0, for a new run) and after each.

    ``config`` is what the checkpoint records of the run (the settings and
    the dataset's facts).
    """

    def __init__(self, run_dir: RunDir, config: dict) -> None:
        self.run_dir, self.config = run_dir, config
        self.saved_epoch: int | None = None  # the epoch of the checkpoint on disk

    def _save(self, setup, history: list[dict]) -> None:
        with phase("checkpoints"):
            self.run_dir.save_checkpoint(model=setup.model, optimizer=setup.optimizer,
                                         config=self.config, epoch=len(history),
                                         history=history)
        self.saved_epoch = len(history)

    def on_train_begin(self, trainer, setup, history: list[dict]) -> None:
        if not history:
            self._save(setup, history)  # a good checkpoint exists before the first step
        else:
            self.saved_epoch = len(history)  # a resumed run's

    def on_epoch_end(self, trainer, setup, history: list[dict]) -> None:
        self._save(setup, history)


class MetricsFiles(Callback):
    """Write ``metrics.csv`` and ``metrics.json`` (the history so far) before the first epoch
    of a new run and after each epoch."""

    def __init__(self, run_dir: RunDir, columns: tuple[str, ...]) -> None:
        self.run_dir, self.columns = run_dir, columns

    def on_train_begin(self, trainer, setup, history: list[dict]) -> None:
        if not history:
            self.run_dir.write_metrics(history, columns=self.columns)

    def on_epoch_end(self, trainer, setup, history: list[dict]) -> None:
        self.run_dir.write_metrics(history, columns=self.columns)


def _cell(row: dict, key: str, path: Path, line: int, *, integer: bool = False):
    text = (row.get(key) or "").strip()
    if not text and not integer:
        return None
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or (integer and not (value.is_integer() and value >= 1)):
        what = "a whole number of at least 1" if integer else "a number"
        raise RunConfigError(
            f"{path}, line {line}: {key} is {text!r}, not {what}. The file is damaged; "
            "train the run again, or leave it out of the comparison."
        )
    return int(value) if integer else value


def _csv_value(value):
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else value
