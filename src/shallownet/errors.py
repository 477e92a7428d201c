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
    "ChecksumError",
    "DatasetNotFoundError",
    "DownloadError",
    "OutputError",
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


class ChecksumError(DataError):
    """A file whose content does not match its published MD5."""


class DatasetNotFoundError(DataError):
    """A dataset found in none of the places looked in."""


class DownloadError(DataError):
    """A download that failed from every mirror."""


class OutputError(ShallownetError):
    """A result (figure, metrics, checkpoint) that cannot be written where asked."""
