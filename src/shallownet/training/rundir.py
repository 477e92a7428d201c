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
        tensorboard/       TensorBoard event files (train --tensorboard)
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
from shallownet.errors import OutputError, RunConfigError

__all__ = ["RunDir", "default_run_path"]

_METRIC_ORDER = ("fold", "epoch", "train_loss", "train_acc", "test_loss", "test_acc",
                 "val_loss", "val_acc", "w_error", "b_error", "seconds")


def default_run_path(model: str, impl: str, data: str, root: str | os.PathLike = "runs") -> Path:
    """``runs/MODEL-IMPL-DATA-YYYYmmdd-HHMMSS`` (``-2``, ``-3``, ... if taken)."""
    stem = data if data in CATALOG or data == "synthetic-linear" else Path(data).stem
    base = Path(root) / f"{model}-{impl}-{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


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
            raise OutputError(
                f"{self.path} already holds a run. Continue it with --resume {self.path}, "
                "or choose another --out."
            )
        if self.path.exists() and not self.path.is_dir():
            raise OutputError(f"--out {self.path} is a file, not a directory.")
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
                f"({exc.strerror or exc}). Choose another --out, or fix its permissions or "
                "free space there."
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
                "Choose another --out."
            ) from exc
        return self

    def write_config(self, config: dict, dataset: dict) -> None:
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
        keys = [k for k in _METRIC_ORDER if k in columns or any(k in r for r in history)]
        keys += sorted({k for r in history for k in r} - set(keys))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        for record in history:
            writer.writerow({k: _csv_value(record.get(k)) for k in keys})
        write_text(self.metrics_csv, buffer.getvalue(), what="metrics file")
        write_json(self.metrics_json, {"history": history, **(summary or {})},
                   what="metrics file")


def _csv_value(value):
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else value
