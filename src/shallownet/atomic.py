"""Write files atomically: a temporary file beside the target, then ``os.replace``.

A reader (or a crash) never sees a half-written file where a complete one is
expected: the target is either the old complete file or the new complete one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shallownet.errors import OutputError
from shallownet.jsonutil import json_safe

__all__ = ["atomic_path", "write_bytes", "write_text", "write_json", "remove_temporaries"]

_SUFFIX = ".tmp"


@contextmanager
def atomic_path(path: str | os.PathLike, *, what: str = "file") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    The content is flushed to the disk (``fsync``) before the rename, so even a
    power cut leaves the old file or the new one. On an exception the temporary
    file is removed and ``path`` is untouched. An ``OSError`` (no permission,
    disk full) becomes an :class:`OutputError` naming ``what`` and the path.
    A process killed in between leaves only a hidden ``.NAME.*.tmp`` file,
    which :func:`remove_temporaries` clears.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_SUFFIX, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise _output_error(what, path, exc) from exc
    tmp = Path(tmp)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise _output_error(what, path, exc) from exc
    finally:
        tmp.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete the ``.NAME.*.tmp`` files that writers killed mid-write left in ``directory``.

    Only call it where no other process is writing (e.g. on resuming a run).
    Returns the paths removed.
    """
    removed = []
    for tmp in Path(directory).glob(f".?*.*{_SUFFIX}"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _output_error(what: str, path: Path, exc: OSError) -> OutputError:
    return OutputError(
        f"cannot write the {what} {path}: {exc.strerror or exc}. "
        "Free space or fix the permissions there, or write elsewhere."
    )


def write_bytes(path: str | os.PathLike, data: bytes, *, what: str = "file") -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_path(path, what=what) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, *, what: str = "file") -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    return write_bytes(path, text.encode("utf-8"), what=what)


def write_json(path: str | os.PathLike, obj, *, what: str = "file") -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically (nan/inf refused by JSON: null)."""
    return write_text(path, json.dumps(json_safe(obj), indent=2) + "\n", what=what)
