"""The package's own exception family.

Every error a user can cause (a bad file, a missing dataset, an impossible
option) is raised as a subclass of :class:`ShallownetError`. The CLI prints
its message as one paragraph and exits non-zero; anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "Hint",
    "HintedWarning",
    "Placeholder",
    "ShallownetError",
    "UsageError",
    "DataError",
    "IDXFormatError",
    "CSVFormatError",
    "ImageFileError",
    "ChecksumError",
    "DatasetNotFoundError",
    "DownloadError",
    "OutputError",
    "CheckpointError",
    "RunConfigError",
    "TrainingDiverged",
]


_UNSET = object()


class Placeholder(str):
    """A value for the reader to fill in, written as it is: ``data_dir=DIR``."""

    def __repr__(self) -> str:
        return str(self)


class Hint:
    """A setting or a call that a message advises, spelled as Python spells it.

    ``Hint("lr", 0.01)`` reads ``lr=0.01``, ``Hint("data_dir")`` reads
    ``data_dir`` and ``Hint.call("resume_run", "runs/a")`` reads
    ``resume_run('runs/a')``. The library writes its messages in these
    words; the command line (:func:`shallownet.cli.messages.for_the_command_line`)
    respells each hint of an error as its own flag or command
    (``--lr 0.01``, ``--data-dir``, ``shallownet train --resume runs/a``).
    """

    __slots__ = ("name", "value", "args", "kwargs")

    def __init__(self, name: str, value: object = _UNSET) -> None:
        self.name, self.value = name, value
        self.args: tuple | None = None  # a call's positional and keyword arguments
        self.kwargs: dict = {}

    @classmethod
    def call(cls, name: str, *args: object, **kwargs: object) -> Hint:
        """A call to advise: ``Hint.call("fetch_dataset", "mnist", data_dir=DIR)``."""
        hint = cls(name)
        hint.args, hint.kwargs = args, kwargs
        return hint

    @property
    def is_call(self) -> bool:
        return self.args is not None

    @property
    def has_value(self) -> bool:
        return self.value is not _UNSET

    def __str__(self) -> str:
        if self.is_call:
            words = [_python(a) for a in self.args]
            words += [f"{k}={_python(v)}" for k, v in self.kwargs.items()]
            return f"{self.name}({', '.join(words)})"
        return f"{self.name}={_python(self.value)}" if self.has_value else self.name

    def __repr__(self) -> str:
        return f"Hint({self})"


def _python(value: object) -> str:
    """``value`` as it is written in Python: ``0.01``, ``'runs/a'``, ``(128, 64)``, ``DIR``."""
    if isinstance(value, float):
        return f"{value:g}"
    return repr(str(value)) if hasattr(value, "__fspath__") else repr(value)


class HintedWarning(UserWarning):
    """A warning whose advice names settings as Python does (``Hint``); the command line
    respells them as flags, as it does for errors."""

    def __init__(self, message: str, *, hints=()) -> None:
        super().__init__(message)
        self.hints = list(hints)


class ShallownetError(Exception):
    """Base class of every error shallownet raises on purpose.

    The message says what went wrong, where (file, line, parameter) and what to
    do. ``hints`` are the :class:`Hint` objects the message names, so that the
    command line can name its flags instead.
    """

    def __init__(self, *args: object, hints: Iterable[Hint] = ()) -> None:
        super().__init__(*args)
        self.hints = tuple(hints)


class UsageError(ShallownetError, ValueError):
    """An impossible argument or option value."""


class DataError(ShallownetError):
    """A data file or dataset that cannot be used."""


class IDXFormatError(DataError):
    """An IDX file whose header or payload is malformed."""


class CSVFormatError(DataError):
    """A CSV file with ragged rows, non-numeric cells or no data."""


class ImageFileError(DataError):
    """A user's image file (to classify) that is missing, unreadable, corrupt or too large."""


class ChecksumError(DataError):
    """A file whose content does not match its published MD5."""


class DatasetNotFoundError(DataError):
    """A dataset found in none of the places looked in."""


class DownloadError(DataError):
    """A download that failed from every mirror."""


class OutputError(ShallownetError):
    """A result (figure, metrics, checkpoint) that cannot be written where asked."""


class CheckpointError(ShallownetError):
    """A checkpoint that cannot be read, is not shallownet's, or does not fit the model."""


class RunConfigError(ShallownetError):
    """A run directory whose ``config.json`` is missing, unreadable or inconsistent."""


class TrainingDiverged(ShallownetError):
    """The training loss became nan or inf.

    Attributes ``epoch`` and ``step`` (1-based) say where.
    """

    def __init__(self, message: str, *, epoch: int, step: int, hints: Iterable[Hint] = ()):
        super().__init__(message, hints=hints)
        self.epoch = epoch
        self.step = step
