"""Where a dataset's files are looked for, in order, and how they are fetched.

1. an explicit directory (``data_dir=`` / ``--data-dir``, else ``$SHALLOWNET_DATA``):
   used or refused, never silently skipped;
2. the user cache (``$SHALLOWNET_CACHE``, else ``$XDG_CACHE_HOME/shallownet``,
   else ``~/.cache/shallownet``), one sub-directory per dataset;
3. system copies (``/usr/share/datasets/<name>``, e.g. Debian's
   ``dataset-fashion-mnist`` package), then any further directories the
   caller names (``also_in``, e.g. the book's ``../data``);
4. a checksum-verified download into the explicit directory or the cache,
   from ``$SHALLOWNET_MIRRORS`` (base URLs separated by spaces or commas) if
   set, else the dataset's own mirrors. Processes that share a directory take
   turns through a lock file in it: the first downloads, the others find its
   verified files; a file only appears, by rename, once verified.

In each directory a file is found as ``NAME.gz`` or ``NAME``, directly or in a
sub-directory named for the dataset (``fashion-mnist/``, or another tool's
layout such as ``FashionMNIST/raw/``).
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from shallownet.data import decoded
from shallownet.data.catalog import ImageDatasetSpec, get_spec
from shallownet.data.download import decompressed_md5, download
from shallownet.data.idx import read_idx_verified
from shallownet.errors import ChecksumError, DataError, DatasetNotFoundError, Hint, Placeholder

__all__ = [
    "RawImageData",
    "user_cache_dir",
    "explicit_data_dir",
    "find_files",
    "locate_dataset",
    "fetch_dataset",
]

DATA_ENV = "SHALLOWNET_DATA"
CACHE_ENV = "SHALLOWNET_CACHE"
MIRRORS_ENV = "SHALLOWNET_MIRRORS"
LOCK_NAME = ".download.lock"
#: How long a process waits for another one downloading into the same directory.
LOCK_TIMEOUT = 3600.0


@dataclass(frozen=True)
class RawImageData:
    """A dataset's four arrays as stored (uint8 images, integer labels) and where they came from."""

    spec: ImageDatasetSpec
    train_images: np.ndarray  # (N, H, W) uint8
    train_labels: np.ndarray  # (N,)
    test_images: np.ndarray
    test_labels: np.ndarray
    directory: Path
    source: str  # "explicit", "cache", "system" or "download"
    verified: bool  # every file's decompressed MD5 matched the spec


def user_cache_dir() -> Path:
    """The per-user cache directory of shallownet."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "shallownet"


def explicit_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The directory the user named: ``data_dir`` if given, else ``$SHALLOWNET_DATA``, else None.

    Raises
    ------
    DataError
        The path names a file, not a directory.
    """
    env = os.environ.get(DATA_ENV)
    raw = data_dir if data_dir is not None else env or None
    if raw is None:
        return None
    path = Path(raw).expanduser()
    if path.exists() and not path.is_dir():
        raise DataError(f"the data directory {path} is a file, not a directory.")
    return path


def _subdirs(spec: ImageDatasetSpec, directory: Path) -> list[Path]:
    return [directory / spec.name, *(directory / a for a in spec.aliases), directory]


def find_files(spec: ImageDatasetSpec, directory: Path) -> dict[str, Path] | None:
    """Paths of all four files in one candidate directory of ``directory``, or None."""
    for sub in _subdirs(spec, directory):
        found = {}
        for key, f in spec.files.items():
            for candidate in (sub / f"{f.name}.gz", sub / f.name):
                if candidate.is_file():
                    found[key] = candidate
                    break
        if len(found) == len(spec.files):
            return found
    return None


def _read_all(spec: ImageDatasetSpec, files: dict[str, Path], verify: bool) -> dict:
    arrays = {}
    for key, path in files.items():
        content = read_idx_verified(path)
        expected = spec.files[key].md5
        if verify and content.md5 != expected:
            fetch = Hint.call("fetch_dataset", spec.name)
            data_dir = Hint("data_dir", Placeholder("DIR"))
            raise ChecksumError(
                f"{path} does not match the published {spec.title} data: the MD5 of its "
                f"decompressed bytes is {content.md5}, expected {expected}. The file is "
                f"corrupt or a different version: replace it with a verified download, "
                f"`{fetch}` (with {data_dir} for a directory you named).",
                hints=[fetch, data_dir]
            )
        arrays[key] = content.array
    _check_shapes(spec, files, arrays)
    return arrays


def _read_decoded(spec: ImageDatasetSpec, files: dict[str, Path]) -> dict:
    """The verified arrays of ``files``: from the decoded cache (:mod:`shallownet.data.decoded`)
    when it holds them for these very files, else read, verified and then cached."""
    try:
        entry = decoded.cache_entry(user_cache_dir(), spec.name, files,
                                    {k: f.md5 for k, f in spec.files.items()})
    except OSError:
        return _read_all(spec, files, True)
    arrays = decoded.load(entry)
    if arrays is not None:
        _check_shapes(spec, files, arrays)
        return arrays
    arrays = _read_all(spec, files, True)
    if decoded.store(entry, arrays):
        for stale in entry.parent.glob(f"{spec.name}-*"):  # of sources since replaced
            if stale != entry:
                shutil.rmtree(stale, ignore_errors=True)
    return arrays


def _check_shapes(spec: ImageDatasetSpec, files: dict[str, Path], arrays: dict[str, np.ndarray]):
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        where = files[f"{split}_images"]
        if images.ndim != 3:
            raise DataError(f"{where} holds an array of shape {images.shape}; images must be "
                            "(N, height, width).")
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError(
                f"{files[f'{split}_labels']} holds labels of shape {labels.shape} for "
                f"{len(images)} images in {where}; they must be ({len(images)},)."
            )
        if labels.size and (labels.min() < 0 or labels.max() >= len(spec.classes)):
            raise DataError(
                f"{files[f'{split}_labels']} has labels outside 0..{len(spec.classes) - 1}."
            )


def locate_dataset(
    name: str | ImageDatasetSpec,
    *,
    data_dir: str | os.PathLike | None = None,
    download_missing: bool = True,
    mirrors: Sequence[str] | None = None,
    verify: bool = True,
    progress: bool | None = None,
    also_in: Sequence[str | os.PathLike] = (),
) -> RawImageData:
    """Find (or fetch) a dataset in the documented order and read its four files.

    Parameters
    ----------
    name : str or ImageDatasetSpec
        ``"fashion-mnist"``, ``"mnist"``, or a spec (e.g. with other mirrors or checksums).
    data_dir : path-like, optional
        Explicit directory; ``$SHALLOWNET_DATA`` is used when not given.
    download_missing : bool, default True
        Download when no usable copy is found.
    mirrors : sequence of str, optional
        Base URLs to download from instead of the spec's.
    verify : bool, default True
        Require each file's decompressed MD5 to match the spec.
    also_in : sequence of path-like
        Directories to look in after the system copies (source ``"local"``).

    Raises
    ------
    DatasetNotFoundError
        No copy anywhere and downloading is off; the message names every place
        looked in and the ways to provide the data.
    ChecksumError, IDXFormatError, DataError
        A file in the explicit directory is corrupt (never silently skipped).
    DownloadError
        Every mirror failed.
    """
    spec = get_spec(name)
    explicit = explicit_data_dir(data_dir)
    looked: list[str] = []

    if explicit is not None:
        files = find_files(spec, explicit) if explicit.is_dir() else None
        if files is not None:
            return _raw(spec, files, "explicit", verify)
        if not download_missing:
            raise _not_found(spec, [str(explicit)], explicit=True)
        return _download_into(spec, explicit / spec.name, mirrors, verify, progress,
                              present="explicit")

    cache = user_cache_dir() / spec.name
    files = find_files(spec, cache)
    looked.append(f"{cache} (user cache)")
    if files is not None:
        try:
            return _raw(spec, files, "cache", verify)
        except DataError as exc:
            warnings.warn(f"ignoring a bad copy in the cache: {exc}", stacklevel=2)
    candidates = [(Path(d), "system") for d in spec.system_dirs]
    candidates += [(Path(d).absolute(), "local") for d in also_in]
    for directory, source in candidates:
        looked.append(f"{directory} ({source} copy)")
        files = find_files(spec, directory)
        if files is not None:
            try:
                return _raw(spec, files, source, verify)
            except DataError as exc:
                warnings.warn(f"ignoring a bad {source} copy: {exc}", stacklevel=2)
    if not download_missing:
        raise _not_found(spec, looked, explicit=False)
    return _download_into(spec, cache, mirrors, verify, progress)


def fetch_dataset(
    name: str | ImageDatasetSpec,
    *,
    data_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    force: bool = False,
    progress: bool | None = None,
) -> RawImageData:
    """Make sure a verified copy exists in ``data_dir`` (or the cache), downloading what is missing.

    A copy there that fails verification is replaced; with ``force``, files
    already there are downloaded again.
    """
    spec = get_spec(name)
    explicit = explicit_data_dir(data_dir)
    target = (explicit / spec.name) if explicit is not None else user_cache_dir() / spec.name
    if not force:
        files = find_files(spec, explicit if explicit is not None else target)
        if files is not None:
            try:
                return _raw(spec, files, "explicit" if explicit is not None else "cache", True)
            except DataError as exc:
                warnings.warn(f"replacing a bad copy: {exc}", stacklevel=2)
    return _download_into(spec, target, mirrors, True, progress, force=force,
                          present="explicit" if explicit is not None else "cache")


def _raw(spec, files, source, verify, *, explicit: bool = False) -> RawImageData:
    # a directory the user named is read as it is: nothing of it goes to the user cache
    cached = verify and source != "explicit" and not explicit
    arrays = _read_decoded(spec, files) if cached else _read_all(spec, files, verify)
    return RawImageData(
        spec=spec, directory=files["train_images"].parent, source=source, verified=verify, **arrays
    )


def _download_into(spec, directory: Path, mirrors, verify, progress, force=False,
                   present="cache") -> RawImageData:
    """Download what ``directory`` lacks, one process at a time; read the four files.

    The source is "download" if this call fetched a file, else ``present``
    (another process had fetched them all while this one waited for the lock).
    """
    bases = _mirrors(spec, mirrors)
    fetched = False
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        hint = Hint("data_dir", Placeholder("DIR"))
        raise DataError(f"cannot create the data directory {directory}: "
                        f"{exc.strerror or exc}. Choose another with {hint}.",
                        hints=[hint]) from exc
    files = {}
    with _download_lock(directory, progress):
        for key, f in spec.files.items():
            dest = directory / f"{f.name}.gz"
            for part in directory.glob(f".{dest.name}.*.part"):  # a killed download's
                part.unlink(missing_ok=True)
            if force or not dest.is_file() or (verify and not _intact(dest, f.md5)):
                urls = [base.rstrip("/") + "/" + f"{f.name}.gz" for base in bases]
                download(urls, dest, md5=f.md5 if verify else None, progress=progress)
                fetched = True
            files[key] = dest
    return _raw(spec, files, "download" if fetched else present, verify,
                explicit=present == "explicit")


def _mirrors(spec: ImageDatasetSpec, mirrors: Sequence[str] | None) -> list[str]:
    if mirrors is not None:
        return list(mirrors)
    configured = os.environ.get(MIRRORS_ENV, "").replace(",", " ").split()
    return configured or list(spec.mirrors)


class _download_lock:
    """Hold ``directory``'s lock file; say so when another process holds it first."""

    def __init__(self, directory: Path, progress):
        self.lock = FileLock(directory / LOCK_NAME)
        self.directory, self.progress = directory, progress

    def __enter__(self):
        try:
            self.lock.acquire(timeout=0.5)
        except Timeout:
            if self.progress is not False:
                print(f"shallownet: waiting for another process downloading into "
                      f"{self.directory}", file=sys.stderr, flush=True)
            try:
                self.lock.acquire(timeout=LOCK_TIMEOUT)
            except Timeout:
                raise DataError(
                    f"another process has been downloading into {self.directory} for "
                    f"{LOCK_TIMEOUT / 60:.0f} minutes (it holds {self.lock.lock_file}); "
                    f"stop it, or use another data directory ({Hint('data_dir')}).",
                    hints=[Hint("data_dir")]
                ) from None
        except OSError as exc:
            raise DataError(f"cannot lock the data directory {self.directory}: "
                            f"{exc.strerror or exc}.") from exc
        return self

    def __exit__(self, *exc):
        self.lock.release()


def _intact(path: Path, md5: str) -> bool:
    """Whether the file at ``path`` decompresses to bytes with MD5 ``md5``."""
    try:
        return decompressed_md5(path) == md5
    except ChecksumError:
        return False


def _not_found(spec: ImageDatasetSpec, looked: list[str], *,
               explicit: bool) -> DatasetNotFoundError:
    """The error for a dataset found nowhere: where it was looked for, how to provide it."""
    places = "\n  ".join(
        p if not explicit or Path(p).is_dir() else f"{p} (does not exist)" for p in looked
    )
    names = ", ".join(f"{f.name}.gz" for f in spec.files.values())
    fetch = (Hint.call("fetch_dataset", spec.name, data_dir=looked[0]) if explicit
             else Hint.call("fetch_dataset", spec.name))
    data_dir = Hint("data_dir", Placeholder("DIR"))
    ways = [
        f"run `{fetch}` to download it there" if explicit
        else f"run `{fetch}` to download it into the user cache",
        f"put the files ({names}) in a directory and pass {data_dir} (or set {DATA_ENV}=DIR)",
    ]
    if spec.debian_package:
        ways.append(f"on Debian/Ubuntu, `apt-get install {spec.debian_package}`")
    where = "the directory you named" if explicit else "any of these places"
    steps = "\n  ".join(f"{i}. {w}" for i, w in enumerate(ways, 1))
    return DatasetNotFoundError(
        f"{spec.title} was not found in {where}:\n  {places}\n"
        f"Provide it in one of these ways:\n  {steps}", hints=[fetch, data_dir]
    )
