"""The package's own exception family.

Every error a user can cause (a bad file, a missing dataset, an impossible
option) is raised as a subclass of :class:`ShallownetError`. The CLI prints
its message as one paragraph and exits non-zero; anything else is a bug.
"""

from __future__ import annotations

__all__ = [
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


class ShallownetError(Exception):
    """Base class of every error shallownet raises on purpose.

    The message says what went wrong, where (file, line, option) and what to do.
    """


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

    def __init__(self, message: str, *, epoch: int, step: int):
        super().__init__(message)
        self.epoch = epoch
        self.step = step
