"""The book's download helpers (section 4.10, Kaggle house prices): ``DATA_HUB`` and friends.

``DATA_HUB`` maps a name to a ``(url, sha1)`` pair; :func:`download` puts the
file in a cache directory (``../data`` by default, as in the book) and returns
its path as a string; :func:`download_extract` unpacks a ``.zip`` or tar
archive beside it; :func:`download_all` fetches every entry. Section 4.10's
code runs unchanged::

    d2l.DATA_HUB['kaggle_house_train'] = (
        d2l.DATA_URL + 'kaggle_house_pred_train.csv', '585e9cc9...')
    train_data = pd.read_csv(d2l.download('kaggle_house_train'))

Where this differs from the book (each difference is in docs/d2l.md):

- A file already in the cache whose SHA-1 matches is returned without any
  network access (offline use works). One whose SHA-1 is wrong is downloaded
  again, with a warning.
- The bytes are fetched into a hidden ``.NAME.*.part`` file beside the
  destination (with the retries, timeout and progress bar of
  :func:`shallownet.data.download.download`), their SHA-1 is checked, and only
  then is the file renamed into place. A failed download (HTTP error, refused
  connection, truncated body) raises :class:`~shallownet.errors.DownloadError`
  naming the URL; a wrong SHA-1 raises
  :class:`~shallownet.errors.ChecksumError` naming both hashes. Either way
  nothing is left at the destination and no ``.part`` file remains (the book
  writes whatever arrived, unchecked, and returns it).
- An unknown name raises :class:`UnknownNameError` (a ``KeyError`` and an
  ``AssertionError``) listing the known names; a malformed ``DATA_HUB`` entry
  raises :class:`~shallownet.errors.UsageError`.
- :func:`download_extract` refuses an archive member that would land outside
  the cache directory (path traversal, links pointing out, device files)
  before extracting anything; ``.tgz`` and ``.tar.gz`` archives give the
  folder without the whole suffix.
- :func:`download_extract` and :func:`download_all` take an optional
  ``cache_dir``; :func:`download_all` tries every entry and then reports all
  the failures at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tarfile
import tempfile
import warnings
import zipfile

from shallownet.data.download import download as _fetch
from shallownet.errors import (
    ChecksumError,
    DataError,
    DownloadError,
    OutputError,
    ShallownetError,
    UsageError,
)

__all__ = [
    "DATA_HUB",
    "DATA_URL",
    "download",
    "download_extract",
    "download_all",
    "extract",
    "UnknownNameError",
]

#: The book's base URL of its data files.
DATA_URL = "http://d2l-data.s3-accelerate.amazonaws.com/"

#: Name -> ``(url, sha1)`` of each file :func:`download` knows; add entries as the book does.
DATA_HUB: dict[str, tuple[str, str]] = {
    "kaggle_house_train": (
        DATA_URL + "kaggle_house_pred_train.csv",
        "585e9cc93e70b39160e7921475f9bcd7d31219ce",
    ),
    "kaggle_house_test": (
        DATA_URL + "kaggle_house_pred_test.csv",
        "fa19780a7b011d9b009e8bff8e99922a8ee2eb90",
    ),
}

_DEFAULT_CACHE = os.path.join("..", "data")
_CHUNK = 1 << 20
_SHA1 = re.compile(r"[0-9a-f]{40}")
# Attempts per download (network errors, HTTP 5xx and short reads are retried), the wait
# before the n-th retry (_BACKOFF * 2**n seconds) and the socket timeout in seconds.
_RETRIES = 3
_BACKOFF = 0.5
_TIMEOUT = 30.0
# Archive suffixes, longest first, and how each is opened.
_ARCHIVES = (
    (".tar.gz", "tar"), (".tar.bz2", "tar"), (".tar.xz", "tar"), (".tgz", "tar"),
    (".tar", "tar"), (".gz", "tar"), (".zip", "zip"),
)


class UnknownNameError(ShallownetError, KeyError, AssertionError):
    """A name that is not a key of ``DATA_HUB``; the message lists the known names.

    It is a ``KeyError``, as a failed lookup in a mapping is, and also an
    ``AssertionError``: the book checks the name with ``assert name in
    DATA_HUB``, so code written against the book that catches
    ``AssertionError`` keeps working. (Nothing in the book catches it; keeping
    both costs nothing.) Unlike a plain ``KeyError`` its ``str()`` is the
    message, not the message's ``repr``.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def download(name, cache_dir=_DEFAULT_CACHE, sha1_hash=None, *, folder=None):
    """Download ``DATA_HUB[name]`` (or the URL ``name``) into ``cache_dir`` unless a verified copy
    is there.

    Both editions' calls work: the older edition's ``download(name, cache_dir)``
    with a key of ``DATA_HUB``, and the current edition's ``download(url,
    folder, sha1_hash=None)`` with an ``http(s)://`` URL (anything else is
    looked up in ``DATA_HUB``, as the current edition does). The file is named
    after the last part of its URL, and the path returned is
    ``os.path.join(cache_dir, that name)``, as in the book.

    Parameters
    ----------
    name : str
        A key of ``DATA_HUB``, or a URL.
    cache_dir : str or path-like
        The directory of the downloaded files (created when needed); the book's
        ``../data`` by default, relative to the working directory. ``folder=``
        is the current edition's name for it.
    sha1_hash : str, optional
        For a URL: the SHA-1 the file must have. Without it, a copy already
        in ``cache_dir`` is used as it is (downloads are written whole or not
        at all), and a new download is not checked.

    Returns
    -------
    str
        The path of a file whose SHA-1 is the one in ``DATA_HUB``.

    Raises
    ------
    UnknownNameError
        ``name`` is not in ``DATA_HUB`` (the message lists the names that are).
    UsageError
        ``DATA_HUB[name]`` is not a ``(url, sha1)`` pair.
    DownloadError
        The server could not be reached, answered with an error, or sent a
        truncated body (after retries); nothing is left in ``cache_dir``.
    ChecksumError
        The bytes received have another SHA-1; nothing is left in ``cache_dir``.
    OutputError
        ``cache_dir`` cannot be created or written.
    """
    if folder is not None:
        cache_dir = folder
    url, sha1_hash, source = _url_and_hash(name, sha1_hash)
    fname = os.path.join(cache_dir, _file_name(name, url))
    if os.path.isfile(fname):
        if sha1_hash is None:
            return fname
        found = _sha1(fname)
        if found == sha1_hash:
            return fname  # verified copy: no network access
        warnings.warn(
            f"d2l.download({name!r}): {fname} has SHA-1 {found}, not the {sha1_hash} of "
            f"{source}; downloading it again from {url}.",
            stacklevel=2,
        )
    try:
        os.makedirs(cache_dir, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"d2l.download({name!r}): cannot create the cache directory {cache_dir} "
            f"({exc.strerror or exc}). Pass another cache_dir, or fix the permissions there."
        ) from exc
    print(f"Downloading {fname} from {url}...")
    _fetch_checked(name, url, sha1_hash, fname, source)
    return fname


def download_extract(name, folder=None, *, cache_dir=_DEFAULT_CACHE):
    """Download ``DATA_HUB[name]`` (a zip or tar archive) and extract it beside itself.

    Parameters
    ----------
    name : str
        A key of ``DATA_HUB`` whose URL ends in ``.zip``, ``.tar``, ``.tar.gz``,
        ``.tgz``, ``.tar.bz2``, ``.tar.xz`` or ``.gz`` (a gzipped tar, as in the book).
    folder : str, optional
        The folder inside the archive to return.
    cache_dir : str or path-like
        As for :func:`download` (not in the book, whose default it keeps).

    Returns
    -------
    str
        ``os.path.join(cache_dir, folder)`` if ``folder`` is given, else the
        archive's path without its suffix (``data/x.tar.gz`` gives ``data/x``).

    Raises
    ------
    DataError
        A member would be written outside ``cache_dir`` (an absolute path, a
        ``..`` that climbs out, a link that points out, a device file), or
        the file is not a valid archive; nothing is extracted.
    UsageError
        The URL's suffix is not an archive's.
    UnknownNameError, DownloadError, ChecksumError, OutputError
        As for :func:`download`.
    """
    url, _ = _entry(name)
    kind, suffix = _archive_kind(name, url)
    fname = download(name, cache_dir)
    base_dir = os.path.dirname(fname)
    _extract_into(f"d2l.download_extract({name!r})", fname, kind, base_dir,
                  f"Its SHA-1 is the one in d2l.DATA_HUB[{name!r}], so the entry itself names a "
                  "file that is not a valid archive: check its URL.")
    return os.path.join(base_dir, folder) if folder else fname[: -len(suffix)]


def extract(filename, folder=None):
    """Extract the zip or tar archive ``filename`` into ``folder`` (default: beside it).

    The current edition's helper. As :func:`download_extract`, a member that
    would land outside ``folder`` is refused before anything is extracted.
    """
    kind, _ = _archive_kind(os.path.basename(filename), os.fspath(filename))
    base_dir = os.fspath(folder) if folder is not None else os.path.dirname(filename)
    _extract_into(f"d2l.extract({os.fspath(filename)!r})", os.fspath(filename), kind,
                  base_dir, "Download it again.")


def _extract_into(call: str, fname: str, kind: str, base_dir: str, advice: str) -> None:
    """Extract archive ``fname`` (``kind`` zip or tar) into ``base_dir``, refusing escapes."""
    try:
        if kind == "zip":
            with zipfile.ZipFile(fname, "r") as archive:
                _refuse_escapes(call, fname, base_dir, _zip_members(archive))
                archive.extractall(base_dir)
        else:
            with tarfile.open(fname, "r") as archive:
                _refuse_escapes(call, fname, base_dir, _tar_members(archive))
                if hasattr(tarfile, "data_filter"):
                    archive.extractall(base_dir, filter="data")
                else:  # pragma: no cover - Python without the extraction filters
                    archive.extractall(base_dir)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise DataError(
            f"{call}: {fname} cannot be extracted as a {kind} archive ({exc}). {advice}"
        ) from exc
    except OSError as exc:
        raise OutputError(
            f"{call}: cannot extract {fname} into {base_dir} "
            f"({exc.strerror or exc}). Free space or fix the permissions there."
        ) from exc


def download_all(*, cache_dir=_DEFAULT_CACHE):
    """Download every file of ``DATA_HUB`` into ``cache_dir`` (those already verified stay).

    Every entry is tried, even after one fails; then a single
    :class:`~shallownet.errors.DownloadError` lists each failure.
    """
    failures = []
    for name in list(DATA_HUB):
        try:
            download(name, cache_dir)
        except DataError as exc:
            failures.append(f"{name}: {exc}")
    if failures:
        listed = "\n  - ".join(failures)
        raise DownloadError(
            f"d2l.download_all: {len(failures)} of {len(DATA_HUB)} files could not be "
            f"downloaded (the others are in {cache_dir}):\n  - {listed}"
        )


# --------------------------------------------------------------------------- helpers


def _is_url(name) -> bool:
    return isinstance(name, str) and name.lower().startswith(("http://", "https://"))


def _url_and_hash(name, sha1_hash) -> tuple[str, str | None, str]:
    """(url, lower-case sha1 or None, where the hash comes from, for messages)."""
    if not _is_url(name):
        url, sha1 = _entry(name)
        return url, sha1, f"d2l.DATA_HUB[{name!r}]"
    if sha1_hash is None:
        return name, None, "sha1_hash"
    if not (isinstance(sha1_hash, str) and _SHA1.fullmatch(sha1_hash.strip().lower())):
        raise UsageError(f"d2l.download({name!r}): sha1_hash={sha1_hash!r} is not a SHA-1 "
                         "(40 hexadecimal digits); `sha1sum FILE` prints a file's.")
    return name, sha1_hash.strip().lower(), "sha1_hash"


def _entry(name) -> tuple[str, str]:
    """``DATA_HUB[name]`` as (url, lower-case sha1), or a clear error."""
    try:
        entry = DATA_HUB[name]
    except (KeyError, TypeError):
        known = ", ".join(repr(k) for k in sorted(DATA_HUB, key=str)) or "none (it is empty)"
        raise UnknownNameError(
            f"{name!r} is not in d2l.DATA_HUB; the names it holds: {known}. Register a file "
            f"first: d2l.DATA_HUB[{name!r}] = (url, sha1)."
        ) from None
    if not (isinstance(entry, tuple | list) and len(entry) == 2
            and all(isinstance(part, str) for part in entry)):
        raise UsageError(
            f"d2l.DATA_HUB[{name!r}] is {entry!r}; it must be a (url, sha1) pair of strings."
        )
    url, sha1_hash = entry[0], entry[1].strip().lower()
    if not _SHA1.fullmatch(sha1_hash):
        raise UsageError(
            f"d2l.DATA_HUB[{name!r}] has the hash {entry[1]!r}, which is not a SHA-1 "
            "(40 hexadecimal digits); `sha1sum FILE` prints a file's."
        )
    return url, sha1_hash


def _file_name(name: str, url: str) -> str:
    base = url.split("/")[-1]
    if not base or base in (".", ".."):
        raise UsageError(
            f"d2l.DATA_HUB[{name!r}] has the URL {url!r}, which names no file (the file in "
            "the cache is named after the URL's last part)."
        )
    return base


def _archive_kind(name: str, url: str) -> tuple[str, str]:
    base = url.split("/")[-1]
    for suffix, kind in _ARCHIVES:
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            return kind, suffix
    raise UsageError(
        f"d2l.download_extract({name!r}): {base!r} is not a zip or tar archive (its name "
        "ends in none of .zip, .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz, .gz); use "
        "d2l.download for a plain file."
    )


def _sha1(path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_checked(name: str, url: str, sha1_hash: str | None, fname: str,
                   source: str) -> None:
    """Download ``url`` into a ``.part`` file beside ``fname``, check it against ``sha1_hash``
    (taken from ``source``) when there is one, rename it to ``fname``."""
    directory, base = os.path.split(fname)
    try:
        fd, part = tempfile.mkstemp(prefix=f".{base}.", suffix=".part", dir=directory or ".")
        os.close(fd)
    except OSError as exc:
        raise OutputError(
            f"d2l.download({name!r}): cannot write in {directory or '.'} "
            f"({exc.strerror or exc}). Pass another cache_dir, or fix the permissions there."
        ) from exc
    try:
        try:
            _fetch([url], part, md5=None, retries=_RETRIES, backoff=_BACKOFF,
                   timeout=_TIMEOUT, progress=None)
        except DownloadError as exc:
            raise DownloadError(
                f"d2l.download({name!r}) could not download {url}: {_reason(exc, url)}. "
                f"Nothing was saved as {fname}. Check the network connection and the URL"
                + (f" in {source}" if source.startswith("d2l.DATA_HUB") else "")
                + f", then run it again; or download the file by hand and put it at {fname}"
                + (f" (its SHA-1 must be {sha1_hash})." if sha1_hash else ".")
            ) from exc
        got = _sha1(part) if sha1_hash is not None else None
        if got != sha1_hash:
            raise ChecksumError(
                f"d2l.download({name!r}): the file downloaded from {url} has SHA-1 {got}, "
                f"but {source} expects {sha1_hash}; it was not saved as "
                f"{fname}. The transfer may have been corrupted, or the file changed "
                "on the server: run it again, and if the mismatch persists check the URL and "
                f"the SHA-1 in {source}."
            )
        try:
            os.replace(part, fname)
        except OSError as exc:
            raise OutputError(
                f"d2l.download({name!r}): cannot write {fname} ({exc.strerror or exc}). "
                "Free space or fix the permissions there, or pass another cache_dir."
            ) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(part)


def _reason(exc: DownloadError, url: str) -> str:
    """Why ``url`` failed, as :func:`shallownet.data.download.download` reported it."""
    for line in str(exc).splitlines():
        line = line.strip()
        if line.startswith(f"{url}: "):
            return line[len(url) + 2:]
    return str(exc)


def _zip_members(archive: zipfile.ZipFile):
    """(name, None, None) of each member: a zip file holds only files and folders."""
    for info in archive.infolist():
        yield info.filename, None, None


def _tar_members(archive: tarfile.TarFile):
    """(name, link target or None, problem or None) of each member."""
    for member in archive.getmembers():
        if member.ischr() or member.isblk() or member.isfifo():
            yield member.name, None, "is a device or pipe"
        elif member.issym():
            # a symbolic link's target is relative to the link's own folder
            yield member.name, os.path.join(os.path.dirname(member.name), member.linkname), None
        elif member.islnk():
            yield member.name, member.linkname, None
        else:
            yield member.name, None, None


def _refuse_escapes(call: str, fname: str, base_dir: str, members) -> None:
    """Raise DataError if any member would be written (or link) outside ``base_dir``."""
    root = os.path.realpath(base_dir or ".")
    for member, link, problem in members:
        if problem is None and _escapes(root, member):
            problem = "would be written outside the folder"
        if problem is None and link is not None and _escapes(root, link):
            problem = f"links to {link!r}, outside the folder"
        if problem is not None:
            raise DataError(
                f"{call}: refusing to extract {fname}: its member "
                f"{member!r} {problem} ({base_dir or '.'}). Nothing was extracted. The archive "
                "is unsafe: delete it and check where it came from."
            )


def _escapes(root: str, member: str) -> bool:
    """Whether ``member`` (a path inside an archive) resolves outside ``root``."""
    if not member or os.path.isabs(member) or member.startswith(("/", "\\")):
        return True
    if os.path.splitdrive(member)[0]:
        return True
    target = os.path.realpath(os.path.join(root, member))
    return os.path.commonpath([root, target]) != root
