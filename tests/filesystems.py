"""Real file-system conditions for tests: a small disk, a read-only directory, a full disk.

No mocks: the tests that use these run the code against a real tmpfs mounted
for the test (which needs root, or CAP_SYS_ADMIN), or against a directory
whose permission bits forbid writing (which only stops a user other than root).

* :func:`small_filesystem` mounts a tmpfs of a given size (``ENOSPC`` once full);
* :func:`read_only_directory` gives a directory nobody can write to: a
  read-only tmpfs (root) or a ``chmod 0o555`` directory (not root);
* :func:`fill` writes a filler file until the file system is full (delete it,
  or call :func:`fill` again, to free or take up what was freed).

Where a condition cannot be made on this machine the test is skipped, saying why.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["can_mount", "small_filesystem", "read_only_directory", "fill", "free_bytes",
           "used_bytes", "PAGE"]

#: tmpfs allocates whole pages: sizes and free space move in steps of this.
PAGE = os.sysconf("SC_PAGE_SIZE")
_COMMAND_TIMEOUT = 30


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True,
                          timeout=_COMMAND_TIMEOUT)


@functools.cache
def _mount_refusal() -> str | None:
    """Why a tmpfs cannot be mounted here (None: it can), found by mounting a tiny one once."""
    if not _is_root():
        return "mounting a tmpfs needs root (CAP_SYS_ADMIN); this test runs as a normal user"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount/umount are not installed"
    import tempfile

    probe = Path(tempfile.mkdtemp(prefix="shallownet-mount-probe."))
    try:
        done = _mount("-t", "tmpfs", "-o", f"size={PAGE}", "tmpfs", str(probe))
        if done.returncode != 0:
            return ("mounting a tmpfs is not permitted here (no CAP_SYS_ADMIN, e.g. an "
                    f"unprivileged container): {_first_line(done.stderr) or done.returncode}")
        _unmount(probe)
        return None
    except (OSError, subprocess.SubprocessError) as exc:
        return f"mount failed: {exc}"
    finally:
        probe.rmdir()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def can_mount() -> bool:
    """Whether this process can mount a tmpfs (root with CAP_SYS_ADMIN)."""
    return _mount_refusal() is None


def _require_mount() -> None:
    reason = _mount_refusal()
    if reason is not None:
        pytest.skip(reason)


def _unmount(path: Path) -> None:
    """Unmount ``path``; if it is busy, detach it lazily (``umount -l``)."""
    done = subprocess.run(["umount", str(path)], capture_output=True, text=True,
                          timeout=_COMMAND_TIMEOUT)
    if done.returncode != 0:
        lazy = subprocess.run(["umount", "-l", str(path)], capture_output=True, text=True,
                              timeout=_COMMAND_TIMEOUT)
        if lazy.returncode != 0:
            raise RuntimeError(f"cannot unmount {path}: {done.stderr.strip()}; "
                               f"umount -l: {lazy.stderr.strip()}")


@contextmanager
def _tmpfs(path: Path, options: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    done = _mount("-t", "tmpfs", "-o", options, "tmpfs", str(path))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({options}) at {path}: {done.stderr.strip()}")
    try:
        yield path
    finally:
        _unmount(path)


@contextmanager
def small_filesystem(path: str | os.PathLike, size_bytes: int) -> Iterator[Path]:
    """A tmpfs of ``size_bytes`` (rounded up to whole pages) mounted at ``path``.

    Unmounted afterwards, even when the test fails (lazily if still busy).
    Skips the test where mounting is not permitted.
    """
    _require_mount()
    with _tmpfs(Path(path), f"size={int(size_bytes)},mode=0755") as mounted:
        yield mounted


@contextmanager
def read_only_directory(path: str | os.PathLike, *,
                        subdirs: Sequence[str] = ()) -> Iterator[Path]:
    """A directory at ``path`` that cannot be written to (nor anything in it).

    As root (who ignores permission bits) a tmpfs mounted read-only; as
    another user a directory with mode 0o555. ``subdirs`` (relative paths)
    exist in it, read-only too. Skips the test where neither works (root
    without permission to mount). Writes fail with ``EROFS`` ("Read-only
    file system") or ``EACCES`` ("Permission denied").
    """
    path = Path(path)
    if _is_root():
        _require_mount()
        with _tmpfs(path, "size=1m,mode=0755") as mounted:
            for sub in subdirs:
                (mounted / sub).mkdir(parents=True, exist_ok=True)
            done = _mount("-o", "remount,ro", str(mounted))
            if done.returncode != 0:
                pytest.skip(f"cannot remount {mounted} read-only: {done.stderr.strip()}")
            yield mounted
        return
    path.mkdir(parents=True, exist_ok=True)
    for sub in subdirs:
        (path / sub).mkdir(parents=True, exist_ok=True)
    locked = sorted([path, *(p for p in path.rglob("*") if p.is_dir())],
                    key=lambda p: len(p.parts), reverse=True)  # the deepest first
    for p in locked:
        p.chmod(0o555)
    try:
        probe = path / ".write-test"
        try:
            probe.touch()
        except PermissionError:
            pass
        else:  # some capability (CAP_DAC_OVERRIDE) lets this user write anyway
            probe.unlink()
            pytest.skip(f"{path} stays writable after chmod 0o555 (this user overrides "
                        "permissions), and mounting is not permitted")
        yield path
    finally:
        for p in reversed(locked):
            p.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)


def fill(path: str | os.PathLike, *, leave: int = 0, name: str = ".filler") -> Path:
    """Write a filler file into the directory ``path`` until its file system is full.

    Appends to the filler when it exists already (so calling it again takes up
    whatever was freed since). With ``leave``, the filler is then shortened
    so that about ``leave`` bytes (best a multiple of :data:`PAGE`) are free.
    Returns the filler's path: delete it to free the space.
    """
    filler = Path(path) / name
    block = bytes(1 << 20)
    chunk = len(block)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while chunk:
            try:
                written = os.write(fd, block[:chunk])
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                chunk //= 2
                continue
            if written < chunk:  # a short write: the next one says ENOSPC
                chunk = max(1, written)
        try:
            os.fsync(fd)  # on a disk with delayed allocation, the blocks are taken now
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
        if leave:
            size = os.fstat(fd).st_size
            os.ftruncate(fd, max(0, size - int(leave)))
    finally:
        os.close(fd)
    return filler


def free_bytes(path: str | os.PathLike) -> int:
    """The bytes an ordinary user could still write on the file system of ``path``."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def used_bytes(path: str | os.PathLike) -> int:
    """The bytes in use on the file system of ``path``."""
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize
