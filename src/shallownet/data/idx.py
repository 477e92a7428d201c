"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a big-endian header followed by a dense array::

    bytes 0-1   zero
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16,
                0x0C int32, 0x0D float32, 0x0E float64
    byte  3     rank d (number of dimensions)
    then d big-endian uint32 sizes, then prod(sizes) elements.

Files may be gzip-compressed; compression is recognised by the gzip magic
bytes, not by the file name. The header is validated before the payload is
read, and the payload is read in chunks, so a header that lies about its size
costs at most the bytes the file really holds.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shallownet.errors import Hint, IDXFormatError, Placeholder

__all__ = ["read_idx", "write_idx", "IDX_DTYPES", "MAX_PAYLOAD_BYTES", "IDXContent"]

#: IDX type code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}

#: Largest payload a header may announce (4 GiB; Fashion-MNIST's largest file is 47 MB).
MAX_PAYLOAD_BYTES = 4 * 2**30
_MAX_RANK = 8
_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
#: Largest byte count numpy can index (an empty array's other sizes must fit it too).
_MAX_INDEX = np.iinfo(np.intp).max


@dataclass(frozen=True)
class IDXContent:
    """An IDX array with the MD5 of the decompressed file it came from."""

    array: np.ndarray
    md5: str
    compressed: bool


def read_idx(path: str | os.PathLike, *, max_bytes: int = MAX_PAYLOAD_BYTES) -> np.ndarray:
    """Read an IDX file (raw or gzip) into a numpy array of native byte order.

    Parameters
    ----------
    path : str or path-like
        The file. Gzip compression is detected from its first two bytes.
    max_bytes : int, default 4 GiB
        Largest payload the header may announce; beyond it the file is refused.

    Returns
    -------
    ndarray of shape ``sizes`` from the header, with the header's element type.

    Raises
    ------
    IDXFormatError
        Empty, truncated or over-long file; wrong magic; unknown type code;
        absurd rank or sizes; a ``.gz`` that is not valid gzip.
    """
    return read_idx_verified(path, max_bytes=max_bytes).array


def read_idx_verified(
    path: str | os.PathLike, *, max_bytes: int = MAX_PAYLOAD_BYTES
) -> IDXContent:
    """Like :func:`read_idx`, also returning the MD5 of the decompressed bytes."""
    path = Path(path)
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte or an unencodable name
        reason = getattr(exc, "strerror", None) or exc
        raise IDXFormatError(f"cannot read IDX file {path}: {reason}.") from exc
    try:
        with raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if compressed:
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    return _read_stream(stream, path, compressed, max_bytes, None)
            size = os.fstat(raw.fileno()).st_size
            return _read_stream(raw, path, compressed, max_bytes, size)
    except IDXFormatError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        fetch = Hint.call("fetch_dataset", Placeholder("NAME"))
        raise IDXFormatError(
            f"{path} is not a valid gzip file ({exc}). It is probably truncated or corrupt: "
            f"delete it and fetch it again (`{fetch}`).", hints=[fetch]
        ) from exc


def _read_stream(stream, path: Path, compressed: bool, max_bytes: int, file_size: int | None):
    """Validate the header, then read exactly the announced payload in chunks."""
    digest = hashlib.md5()
    head = _read_exact(stream, 4)
    digest.update(head)
    if len(head) == 0:
        raise IDXFormatError(f"{path} is empty; an IDX file starts with a 4-byte magic number.")
    if len(head) < 4 or head[0] != 0 or head[1] != 0:
        raise IDXFormatError(
            f"{path} is not an IDX file: its magic number {head.hex()} does not start with "
            "two zero bytes. Check that the path names an images or labels file."
        )
    code, rank = head[2], head[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise IDXFormatError(
            f"{path} has unknown IDX element type 0x{code:02X} (known: {known}); "
            "the file is corrupt or not IDX."
        )
    if not 1 <= rank <= _MAX_RANK:
        raise IDXFormatError(f"{path} declares rank {rank}; an IDX array has 1 to {_MAX_RANK}.")
    dims_raw = _read_exact(stream, 4 * rank)
    digest.update(dims_raw)
    if len(dims_raw) < 4 * rank:
        raise IDXFormatError(
            f"{path} is truncated inside its header ({rank} dimensions announced)."
        )
    dims = tuple(int.from_bytes(dims_raw[i : i + 4], "big") for i in range(0, 4 * rank, 4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    header_len = 4 + 4 * rank
    if math.prod(d for d in dims if d) * dtype.itemsize > _MAX_INDEX:
        raise IDXFormatError(
            f"{path} declares an array of shape {dims}, too large to index even with an empty "
            "dimension; the header is corrupt."
        )
    if expected > max_bytes:
        raise IDXFormatError(
            f"{path} declares an array of shape {dims} ({expected:,} bytes), more than the "
            f"{max_bytes:,}-byte limit; the header is corrupt."
        )
    if file_size is not None and file_size != header_len + expected:
        what = "truncated" if file_size < header_len + expected else "longer than its header says"
        raise IDXFormatError(
            f"{path} is {what}: header announces shape {dims} = {expected:,} payload bytes, "
            f"the file holds {file_size - header_len:,}. Delete it and fetch it again."
        )
    payload = bytearray()
    while len(payload) < expected:
        chunk = stream.read(min(_CHUNK, expected - len(payload)))
        if not chunk:
            raise IDXFormatError(
                f"{path} is truncated: header announces shape {dims} = {expected:,} payload "
                f"bytes, the file holds {len(payload):,}. Delete it and fetch it again."
            )
        payload += chunk
    if stream.read(1):
        raise IDXFormatError(
            f"{path} is longer than its header says (shape {dims}, {expected:,} payload "
            "bytes): the file is corrupt."
        )
    digest.update(payload)
    array = np.frombuffer(payload, dtype=dtype).reshape(dims)
    if dtype.byteorder not in ("=", "|"):
        array = array.astype(dtype.newbyteorder("="))
    return IDXContent(array=array, md5=digest.hexdigest(), compressed=compressed)


def _read_exact(stream, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = stream.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file; gzip-compressed if ``compress`` (default: name ends .gz).

    Parameters
    ----------
    path : str or path-like
    array : ndarray of a dtype in :data:`IDX_DTYPES` (any byte order), rank 1 to 8.
    compress : bool, optional

    Returns
    -------
    Path of the file written.
    """
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        raise IDXFormatError(f"IDX cannot store dtype {array.dtype}; use one of uint8, int8, "
                             "int16, int32, float32, float64.")
    if not 1 <= array.ndim <= _MAX_RANK:
        raise IDXFormatError(f"IDX stores arrays of rank 1 to {_MAX_RANK}, not {array.ndim}.")
    code = _CODES[native]
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    body = np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if compress is None:
        compress = path.name.endswith(".gz")
    data = header + body
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path
