"""Checksum-verified downloads from a list of mirrors.

A file is downloaded into a temporary file beside its destination, its MD5 is
checked on the *decompressed* bytes (so a re-compressed copy of the same data
passes), and only then is it renamed into place: the destination either does
not exist or holds verified data.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from shallownet.errors import ChecksumError, DownloadError, Hint, Placeholder

__all__ = ["download", "decompressed_md5"]

_CHUNK = 1 << 16
_USER_AGENT = "shallownet (+https://pypi.org/project/shallownet/)"


def decompressed_md5(path: str | os.PathLike) -> str:
    """MD5 hex digest of a file's content, gunzipped first if it is gzip data.

    Raises
    ------
    ChecksumError
        The file starts like gzip but does not decompress (corrupt or truncated).
    """
    path = Path(path)
    digest = hashlib.md5()
    with open(path, "rb") as raw:
        is_gzip = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if is_gzip else raw
        try:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
        except (OSError, EOFError, zlib.error) as exc:
            raise ChecksumError(f"{path} is not valid gzip data ({exc}).") from exc
    return digest.hexdigest()


def download(
    urls: Sequence[str],
    dest: str | os.PathLike,
    *,
    md5: str | None,
    retries: int = 3,
    timeout: float = 30.0,
    backoff: float = 0.5,
    progress: bool | None = None,
) -> Path:
    """Download the first of ``urls`` that yields a file whose decompressed MD5 is ``md5``.

    Each URL is tried up to ``retries`` times for transient failures (network
    errors, HTTP 5xx, short reads), waiting ``backoff * 2**attempt`` seconds in
    between; a 4xx answer or a checksum mismatch moves on to the next URL.

    Parameters
    ----------
    urls : sequence of str
        Full URLs of the same file on different mirrors, tried in order.
    dest : path-like
        Where the verified file is placed (its directory is created).
    md5 : str or None
        Expected MD5 of the decompressed content; ``None`` skips the check.
    retries, timeout, backoff, progress
        Attempts per URL, socket timeout in seconds, retry delay base, and
        whether to draw a progress bar (``None``: only on a terminal).

    Returns
    -------
    Path of the verified file.

    Raises
    ------
    DownloadError
        Every URL failed; the message lists each URL with its reason.
    """
    if not urls:
        raise DownloadError(f"no mirror to download {Path(dest).name} from.")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for url in urls:
        for attempt in range(max(1, retries)):
            try:
                _fetch_verified(url, dest, md5, timeout, progress)
                return dest
            except _Permanent as exc:
                failures.append(f"{url}: {exc}")
                break
            except _Transient as exc:
                if attempt + 1 == max(1, retries):
                    failures.append(f"{url}: {exc} (after {attempt + 1} attempts)")
                else:
                    time.sleep(backoff * 2**attempt)
    lines = "\n  ".join(failures)
    hint = Hint("data_dir", Placeholder("DIR"))
    raise DownloadError(
        f"could not download {dest.name}; every mirror failed:\n  {lines}\n"
        "Check the network, or download the file by hand and point shallownet at its "
        f"directory with {hint} or SHALLOWNET_DATA=DIR.", hints=[hint]
    )


class _Transient(Exception):
    """A failure worth retrying on the same URL."""


class _Permanent(Exception):
    """A failure that retrying the same URL will not fix."""


def _fetch_verified(url: str, dest: Path, md5: str | None, timeout: float, progress) -> None:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise _Permanent(f"unsupported URL scheme {scheme!r}")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _stream_to(url, out, timeout, progress, dest.name)
            out.flush()
            os.fsync(out.fileno())
        if md5 is not None:
            try:
                got = decompressed_md5(tmp)
            except ChecksumError as exc:
                raise _Permanent(f"corrupt download ({exc})") from exc
            if got != md5:
                raise _Permanent(f"checksum mismatch: MD5 {got}, expected {md5}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _stream_to(url: str, out, timeout: float, progress, label: str) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        kind = _Transient if exc.code >= 500 or exc.code == 429 else _Permanent
        raise kind(f"HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Transient(f"connection failed ({getattr(exc, 'reason', exc)})") from exc
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        received = 0
        with tqdm(
            total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
            disable=None if progress is None else not progress, leave=False,
        ) as bar:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, ValueError, http.client.HTTPException) as exc:
                    raise _Transient(f"connection broke after {received:,} bytes ({exc})") from exc
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and received != total:
        raise _Transient(f"short read: {received:,} of {total:,} bytes")
