"""TensorBoard: a run's epochs, figures and hyper-parameters as TensorBoard events.

A run logs when its config says so (``TrainSettings(tensorboard=True)``, the
command line's ``train --tensorboard``).

:class:`TensorBoardLog` writes into ``RUN_DIR/tensorboard/`` with
:class:`torch.utils.tensorboard.SummaryWriter`, so ``tensorboard --logdir runs``
shows every run side by side. What it writes, at global step = epoch:

* scalars, one per number of the epoch's record (the columns of ``metrics.csv``),
  under the tags of :data:`SCALAR_TAGS`: ``loss/train``, ``loss/test``,
  ``accuracy/train``, ``accuracy/test``, ``error/w`` (‖ŵ − w‖₂), ``error/b``
  (|b̂ − b|) and ``time/epoch_seconds``; a number of another name keeps its name.
  TensorBoard stores them as float32.
* at the last epoch, the run's figures under ``figures/curves``,
  ``figures/confusion`` and ``figures/gallery``: the very PNG files of the run
  directory (same bytes, same size), and the run's totals ``final/seconds``
  (training and evaluation) and ``final/samples_per_second``.
* the hyper-parameters (TensorBoard's hparams plugin): the run config's
  ``model``, ``data`` and ``train`` fields flattened to ``model.lr``,
  ``train.batch_size``, ``data.name``, ... (tuples as ``"128,64"``, unset
  values left out). No ``Experiment`` summary is written: TensorBoard then
  takes the columns from every run's hyper-parameters together and offers every
  scalar as a metric, so runs of different models line up, and the final
  figures are the last values of ``loss/test``, ``accuracy/test``, ...

Resuming, and runs killed at any moment
    A run's epoch is logged right after its checkpoint is saved, and flushed,
    so the log never holds an epoch the checkpoint has not. A resumed run
    starts a new event file with ``purge_step`` = its checkpoint's epoch ``k``:
    TensorBoard discards every step from ``k`` on written by the older files
    (the epoch ``k`` a kill may have cut off, the figures of the earlier end),
    and the new file writes epoch ``k`` again from the checkpoint's history,
    then the new epochs: each step once. A run that had no TensorBoard log yet
    gets its whole history. TensorBoard orders event files by name, which
    starts with the time in whole seconds, so a resumption waits, if needed,
    for the second after the newest file's. The hyper-parameters go into a
    small ``*.hparams`` event file written when the run ends and replacing the
    one of an earlier end (TensorBoard keeps the first it reads of a run, and
    resuming with more epochs changes ``train.epochs``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import struct
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from shallownet.errors import Hint, OutputError, UsageError
from shallownet.training.callbacks import Callback
from shallownet.training.rundir import METRIC_COLUMNS

__all__ = ["TensorBoardLog", "TensorBoardEpochs", "SCALAR_TAGS", "FIGURE_TAGS", "FINAL_TAGS",
           "require_tensorboard", "flat_hparams"]

#: The TensorBoard tag of each number of an epoch's record (``metrics.csv`` column -> tag).
#: ``SPLIT_KIND`` columns become ``KIND/SPLIT`` (``acc`` spelled ``accuracy``).
SCALAR_TAGS = {
    column: "time/epoch_seconds" if column == "seconds" else
    "{1}/{0}".format(*column.split("_", 1)).replace("acc/", "accuracy/")
    for column in METRIC_COLUMNS if column not in ("fold", "epoch")
}
#: The tag of each figure of the run directory (its name without ``.png`` -> tag).
FIGURE_TAGS = {"curves": "figures/curves", "confusion": "figures/confusion",
               "gallery": "figures/gallery"}
#: The tag of each run total of the final summary (summary key -> tag), at the last epoch.
FINAL_TAGS = {"seconds": "final/seconds", "samples_per_second": "final/samples_per_second"}

_HPARAMS_SUFFIX = ".hparams"
_EVENTS = "tfevents"
_FILE_TIME = re.compile(r"tfevents\.(\d+)\.")
_PNG = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}  # IHDR colour type -> channels


def require_tensorboard() -> None:
    """Raise a :class:`UsageError` saying how to install TensorBoard unless it imports."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except Exception as exc:  # ImportError; a broken install (protobuf) raises others
        hint = Hint("tensorboard", False)
        raise UsageError(
            "logging to TensorBoard writes TensorBoard event files, which needs the tensorboard "
            f"package, and it cannot be imported ({type(exc).__name__}: {exc}). Install it "
            f"with pip install 'shallownet[tensorboard]', or train with {hint}.", hints=[hint]
        ) from exc


def flat_hparams(config) -> dict[str, bool | int | float | str]:
    """The run config's ``model``, ``data`` and ``train`` fields as ``{"model.lr": 0.1, ...}``.

    Booleans, numbers and strings keep their type; a tuple becomes its values
    joined by commas; unset (``None``) fields are left out, and so is
    ``train.tensorboard`` (true in every logged run).
    """
    flat = {}
    for section in ("model", "data", "train"):
        for field in dataclasses.fields(getattr(config, section)):
            name, value = f"{section}.{field.name}", getattr(getattr(config, section), field.name)
            if value is None or name == "train.tensorboard":
                continue
            if isinstance(value, tuple | list):
                value = ",".join(str(v) for v in value)
            elif not isinstance(value, bool | int | float | str):
                value = str(value)
            flat[name] = value
    return flat


class TensorBoardLog:
    """The TensorBoard event files of one run, in ``log_dir`` (``RUN_DIR/tensorboard``).

    Parameters
    ----------
    log_dir : path
        Created if missing; may hold the event files of an earlier part of the run.
    config : RunConfig
        Its fields become the hyper-parameters (:func:`flat_hparams`).
    history : list of dict, optional
        The epochs already trained (a resumed run's checkpoint history). With
        event files already in ``log_dir``, the last of them is written again
        and every later step of the older files is discarded; without, all are
        written.

    Raises
    ------
    UsageError
        TensorBoard is not installed.
    OutputError
        ``log_dir`` cannot be written (now or on any later call).

    Use it as a context manager: leaving the block closes the writer; after an
    exception, write errors of the close are left out in favour of it.
    """

    def __init__(self, log_dir: str | os.PathLike, config, *, history: list[dict] | None = None):
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = Path(log_dir)
        self.config = config
        history = list(history or [])
        existing = self._event_files()
        start = max(len(history), 1) if existing else 1
        if existing:
            _wait_past(existing)  # the new file must sort after every older one
        self._writer = None
        with self._writing("open"):
            self._writer = SummaryWriter(str(self.log_dir),
                                         purge_step=start if existing else None)
        for record in history[start - 1:]:
            self.epoch(record)

    # -- what is written ------------------------------------------------------------------

    def epoch(self, record: Mapping) -> None:
        """Every number of an epoch's ``record`` (except ``epoch``) at step ``record["epoch"]``."""
        step = int(record["epoch"])
        with self._writing("write"):
            for key, value in record.items():
                if key != "epoch" and _is_number(value):
                    self._writer.add_scalar(SCALAR_TAGS.get(key, key), float(value), step)
            self._writer.flush()  # an epoch on disk with its checkpoint, not 2 minutes later

    def histograms(self, tensors: Mapping, step: int) -> None:
        """A histogram of each tensor ``{"gradient/layer1": tensor, ...}`` at ``step``."""
        with self._writing("write"):
            for tag, tensor in tensors.items():
                self._writer.add_histogram(tag, tensor.detach().float().cpu(), step)
            self._writer.flush()

    def figures(self, paths: Mapping[str, str | os.PathLike], step: int) -> None:
        """The PNG files ``{"gallery": path, ...}`` as images (bytes as they are) at ``step``."""
        from tensorboard.compat.proto.summary_pb2 import Summary

        with self._writing("write"):
            for name, path in paths.items():
                data = Path(path).read_bytes()
                width, height, channels = _png_size(data, path)
                image = Summary.Image(height=height, width=width, colorspace=channels,
                                      encoded_image_string=data)
                tag = FIGURE_TAGS.get(name, f"figures/{name}")
                self._writer.file_writer.add_summary(
                    Summary(value=[Summary.Value(tag=tag, image=image)]), step)
            self._writer.flush()

    def hparams(self, summary: Mapping) -> None:
        """The run's totals (:data:`FINAL_TAGS`) at its last epoch, then its hyper-parameters.

        The hyper-parameters are written to a new ``*.hparams`` event file that
        replaces the one of an earlier end of the run; ``summary`` is the run's
        final figures (``epochs``, ``seconds``, ``samples_per_second``, ...).
        """
        from torch.utils.tensorboard import SummaryWriter

        step = int(summary["epochs"])
        with self._writing("write"):
            for key, tag in FINAL_TAGS.items():
                if _is_number(summary.get(key)):
                    self._writer.add_scalar(tag, float(summary[key]), step)
            self._writer.flush()
            older = [p for p in self._event_files() if p.name.endswith(_HPARAMS_SUFFIX)]
            with SummaryWriter(str(self.log_dir), filename_suffix=_HPARAMS_SUFFIX) as writer:
                for part in _hparams_summaries(flat_hparams(self.config)):
                    writer.file_writer.add_summary(part, step)
            for path in older:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        """Flush and close the event file (again: nothing)."""
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        with self._writing("close"):
            writer.close()

    def __enter__(self) -> TensorBoardLog:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            return
        with suppress(OutputError):  # the exception under way says more
            self.close()

    # -- helpers --------------------------------------------------------------------------

    def _event_files(self) -> list[Path]:
        if not self.log_dir.is_dir():
            return []
        return sorted(p for p in self.log_dir.iterdir() if _EVENTS in p.name and p.is_file())

    @contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        """Turn an ``OSError`` (also one the writer's thread raised) into an OutputError."""
        try:
            yield
        except OSError as exc:
            raise OutputError(
                f"cannot {what} the TensorBoard log in {self.log_dir}: {exc.strerror or exc}. "
                "It must be a directory this process can write to, on a disk with free space."
            ) from exc


def _is_number(value) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _wait_past(files: list[Path]) -> None:
    """Sleep until the clock's whole second is later than that of every file's name."""
    seconds = [int(m.group(1)) for p in files if (m := _FILE_TIME.search(p.name))]
    if seconds and max(seconds) + 1 - time.time() < 2:  # not for a clock set back
        newest = max(seconds)
        while time.time() < newest + 1:
            time.sleep(newest + 1 - time.time() + 0.001)


def _png_size(data: bytes, path) -> tuple[int, int, int]:
    """(width, height, channels) from a PNG's IHDR chunk."""
    if data[:8] != _PNG or data[12:16] != b"IHDR" or len(data) < 26:
        raise OutputError(f"{path} is not a PNG image; cannot log it to TensorBoard.")
    width, height = struct.unpack(">II", data[16:24])
    return width, height, _PNG_CHANNELS.get(data[25], 4)


def _hparams_summaries(hparams: Mapping[str, bool | int | float | str]) -> list:
    """The hparams plugin's session start (the values) and end (success) summaries."""
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    start = plugin_data_pb2.SessionStartInfo(start_time_secs=time.time())
    for name, value in hparams.items():
        if isinstance(value, bool):
            start.hparams[name].bool_value = value
        elif isinstance(value, int | float):
            start.hparams[name].number_value = value
        else:
            start.hparams[name].string_value = value
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS, end_time_secs=time.time())
    parts = []
    for tag, key, info in ((metadata.SESSION_START_INFO_TAG, "session_start_info", start),
                           (metadata.SESSION_END_INFO_TAG, "session_end_info", end)):
        content = plugin_data_pb2.HParamsPluginData(version=metadata.PLUGIN_DATA_VERSION,
                                                    **{key: info})
        parts.append(Summary(value=[Summary.Value(
            tag=tag, metadata=metadata.create_summary_metadata(content))]))
    return parts


class TensorBoardEpochs(Callback):
    """Log each finished epoch's record to a :class:`TensorBoardLog`."""

    def __init__(self, log: TensorBoardLog) -> None:
        self.log = log

    def on_epoch_end(self, trainer, setup, history: list[dict]) -> None:
        self.log.epoch(history[-1])
