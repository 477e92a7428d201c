"""IDX reading and writing: round trips, compression by content, and every malformed file."""

from __future__ import annotations

import gzip
import hashlib
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from shallownet.data import read_idx, write_idx
from shallownet.data.idx import read_idx_verified
from shallownet.errors import IDXFormatError, ShallownetError

DTYPES = ["uint8", "int8", "int16", "int32", "float32", "float64"]
CODES = {
    "uint8": 0x08,
    "int8": 0x09,
    "int16": 0x0B,
    "int32": 0x0C,
    "float32": 0x0D,
    "float64": 0x0E,
}
SHAPES = {1: (7,), 2: (3, 5), 3: (2, 3, 4), 4: (2, 1, 3, 2)}


def sample_array(dtype: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Values spanning the dtype's range (negatives, extremes, fractions)."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        arr = rng.normal(0, 1e3, size=shape).astype(dt)
        flat = arr.reshape(-1)
        special = [np.finfo(dt).max, -np.finfo(dt).tiny, -0.0]
        flat[: min(3, flat.size)] = special[: min(3, flat.size)]
        return arr
    info = np.iinfo(dt)
    arr = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dt)
    flat = arr.reshape(-1)
    flat[:2] = [info.min, info.max]
    return arr


def idx_bytes(code: int, dims: tuple[int, ...], payload: bytes, rank: int | None = None) -> bytes:
    """A hand-made IDX file (the header may lie about anything)."""
    rank = len(dims) if rank is None else rank
    return bytes([0, 0, code, rank]) + b"".join(d.to_bytes(4, "big") for d in dims) + payload


def assert_same(out: np.ndarray, expected: np.ndarray) -> None:
    """Same shape, same native dtype, bit-identical values (NaN and -0.0 included)."""
    native = expected.dtype.newbyteorder("=")
    assert out.shape == expected.shape
    assert out.dtype == native
    assert out.dtype.byteorder in ("=", "|") or out.dtype.isnative
    assert out.tobytes() == expected.astype(native).tobytes()


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("rank", sorted(SHAPES))
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip(tmp_path, dtype, rank, compress):
    arr = sample_array(dtype, SHAPES[rank])
    path = write_idx(tmp_path / ("a.idx.gz" if compress else "a.idx"), arr)
    assert path == tmp_path / ("a.idx.gz" if compress else "a.idx")
    assert (path.read_bytes()[:2] == b"\x1f\x8b") is compress
    assert_same(read_idx(path), arr)


@pytest.mark.parametrize("dtype", DTYPES)
def test_written_header_is_big_endian_idx(tmp_path, dtype):
    arr = sample_array(dtype, (2, 3))
    data = write_idx(tmp_path / "a", arr).read_bytes()
    assert data[:4] == bytes([0, 0, CODES[dtype], 2])
    assert data[4:12] == (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    assert data[12:] == arr.astype(np.dtype(dtype).newbyteorder(">")).tobytes()


def test_big_endian_input_array_round_trips(tmp_path):
    arr = np.arange(-6, 6, dtype=">i4").reshape(3, 4)
    assert_same(read_idx(write_idx(tmp_path / "be.gz", arr)), arr.astype("=i4"))


def test_zero_length_dimension_round_trips(tmp_path):
    arr = np.zeros((0, 28, 28), dtype=np.uint8)
    out = read_idx(write_idx(tmp_path / "empty.gz", arr))
    assert out.shape == (0, 28, 28)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.data(),
    dtype=st.sampled_from(DTYPES),
    compress=st.booleans(),
)
def test_round_trip_property(tmp_path, data, dtype, compress):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6))
    arr = data.draw(hnp.arrays(np.dtype(dtype), shape))
    path = write_idx(tmp_path / "prop.idx", arr, compress=compress)
    assert_same(read_idx(path), arr)
    content = read_idx_verified(path)
    assert content.compressed is compress


@pytest.mark.parametrize("dtype", ["int64", "uint16", "float16", "bool", "complex64"])
def test_write_refuses_unsupported_dtype(tmp_path, dtype):
    with pytest.raises(IDXFormatError, match="cannot store dtype"):
        write_idx(tmp_path / "x.gz", np.zeros(3, dtype=dtype))
    assert not (tmp_path / "x.gz").exists()


@pytest.mark.parametrize("shape", [(), (1,) * 9])
def test_write_refuses_bad_rank(tmp_path, shape):
    with pytest.raises(IDXFormatError, match="rank"):
        write_idx(tmp_path / "x", np.zeros(shape, dtype=np.uint8))


# --------------------------------------------------------------------------- compression by content


def test_gzip_detected_by_content_not_name(tmp_path):
    arr = sample_array("int16", (4, 5))
    path = write_idx(tmp_path / "images-idx3-ubyte", arr, compress=True)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert_same(read_idx(path), arr)
    assert read_idx_verified(path).compressed is True


def test_raw_file_named_gz_is_read_as_raw(tmp_path):
    arr = sample_array("float32", (3, 2))
    path = write_idx(tmp_path / "labels.gz", arr, compress=False)
    assert path.read_bytes()[:4] == bytes([0, 0, 0x0D, 2])
    assert_same(read_idx(path), arr)
    assert read_idx_verified(path).compressed is False


def test_non_idx_non_gzip_file_named_gz_fails(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"<html><body>404 Not Found</body></html>\n")
    with pytest.raises(IDXFormatError, match="not an IDX file") as excinfo:
        read_idx(path)
    assert str(path) in str(excinfo.value)


# --------------------------------------------------------------------------- malformed files

PAYLOAD_12 = bytes(range(12))


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _corrupt_gzip() -> bytes:
    rng = np.random.default_rng(1)
    payload = rng.integers(0, 8, 4096, dtype=np.uint8).tobytes()
    data = bytearray(_gz(idx_bytes(0x08, (64, 64), payload)))
    mid = len(data) // 2
    for i in range(mid, mid + 8):
        data[i] ^= 0xFF
    return bytes(data)


def _truncated_gzip() -> bytes:
    rng = np.random.default_rng(2)
    data = _gz(idx_bytes(0x08, (64, 64), rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()))
    return data[: len(data) // 2]


# name -> (file name, content, regex the message must match)
MALFORMED = {
    "wrong-magic": ("a", b"\x01\x00\x08\x01" + (12).to_bytes(4, "big") + PAYLOAD_12, "magic"),
    "wrong-magic-gz": (
        "a.gz",
        _gz(b"\x00\x01\x08\x01" + (12).to_bytes(4, "big") + PAYLOAD_12),
        "magic",
    ),
    "unknown-type-0x0A": ("a", idx_bytes(0x0A, (12,), PAYLOAD_12), "unknown IDX element type 0x0A"),
    "unknown-type-0x00": ("a", idx_bytes(0x00, (12,), PAYLOAD_12), "unknown IDX element type 0x00"),
    "unknown-type-0xFF-gz": ("a.gz", _gz(idx_bytes(0xFF, (12,), PAYLOAD_12)), "unknown"),
    "rank-0": ("a", idx_bytes(0x08, (), PAYLOAD_12), "rank 0"),
    "rank-9": ("a", idx_bytes(0x08, (1,) * 9, b"\x07"), "rank 9"),
    "rank-255-gz": ("a.gz", _gz(idx_bytes(0x08, (), b"", rank=255)), "rank 255"),
    "truncated-payload": ("a", idx_bytes(0x08, (3, 4), PAYLOAD_12[:-1]), "truncated"),
    "truncated-payload-gz": ("a.gz", _gz(idx_bytes(0x0C, (3, 4), bytes(47))), "truncated"),
    "trailing-bytes": ("a", idx_bytes(0x08, (3, 4), PAYLOAD_12 + b"\x00"), "longer than"),
    "trailing-bytes-gz": (
        "a.gz",
        _gz(idx_bytes(0x08, (3, 4), PAYLOAD_12 + b"junk")),
        "longer than",
    ),
    "dims-mismatch": ("a", idx_bytes(0x0B, (5, 5), PAYLOAD_12), "truncated"),
    "dims-mismatch-small": ("a", idx_bytes(0x0B, (2, 2), PAYLOAD_12), "longer than"),
    "dims-mismatch-gz": ("a.gz", _gz(idx_bytes(0x0D, (1, 2), PAYLOAD_12)), "longer than"),
    "empty": ("a", b"", "empty"),
    "empty-named-gz": ("a.gz", b"", "empty"),
    "empty-gzip-stream": ("a.gz", _gz(b""), "empty"),
    "truncated-magic": ("a", b"\x00\x00\x08", "not an IDX file"),
    "truncated-header": (
        "a",
        b"\x00\x00\x08\x03" + (2).to_bytes(4, "big") + b"\x00\x00",
        "truncated inside its header",
    ),
    "truncated-header-gz": (
        "a.gz",
        _gz(b"\x00\x00\x08\x02" + (2).to_bytes(4, "big")),
        "truncated inside its header",
    ),
    "corrupt-gzip": ("a.gz", _corrupt_gzip(), "gzip|truncated|longer"),
    "truncated-gzip": ("a.gz", _truncated_gzip(), "not a valid gzip file"),
    "gzip-magic-only": ("a.gz", b"\x1f\x8b", "not a valid gzip file"),
    "garbage-after-gzip-magic": ("a", b"\x1f\x8b" + bytes(range(50, 150)), "not a valid gzip"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_raises_idx_format_error(tmp_path, case):
    name, content, pattern = MALFORMED[case]
    path = tmp_path / f"{case}-{name}"
    path.write_bytes(content)
    with pytest.raises(IDXFormatError, match=pattern) as excinfo:
        read_idx(path)
    assert isinstance(excinfo.value, ShallownetError)
    assert str(path) in str(excinfo.value)
    with pytest.raises(IDXFormatError):
        read_idx_verified(path)


def test_corrupt_gzip_in_the_middle_of_a_real_file(tmp_path):
    arr = sample_array("uint8", (40, 28, 28), seed=5) // 16  # compressible
    path = write_idx(tmp_path / "imgs.gz", arr)
    data = bytearray(path.read_bytes())
    assert read_idx(path).shape == (40, 28, 28)
    mid = len(data) // 2
    data[mid : mid + 4] = bytes(b ^ 0x5A for b in data[mid : mid + 4])
    path.write_bytes(bytes(data))
    with pytest.raises(IDXFormatError) as excinfo:
        read_idx(path)
    assert str(path) in str(excinfo.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nope" / "train-images-idx3-ubyte.gz"
    with pytest.raises(IDXFormatError, match="cannot read IDX file") as excinfo:
        read_idx(path)
    assert str(path) in str(excinfo.value)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(IDXFormatError) as excinfo:
        read_idx(tmp_path)
    assert str(tmp_path) in str(excinfo.value)


def test_max_bytes_limit(tmp_path):
    path = write_idx(tmp_path / "a.gz", np.zeros((10, 10), dtype=np.float64))
    assert read_idx(path, max_bytes=800).shape == (10, 10)
    with pytest.raises(IDXFormatError, match="limit"):
        read_idx(path, max_bytes=799)


def _measure(fn):
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        with pytest.raises(IDXFormatError) as excinfo:
            fn()
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return excinfo.value, elapsed, peak


ABSURD = {
    # 2**31 images of 28x28: ~1.7 TB announced, beyond the 4 GiB limit
    "2**31-images-raw": ("a", (2**31, 28, 28), False),
    "2**31-images-gz": ("a.gz", (2**31, 28, 28), True),
    # ~3.3 GB announced: under the limit, so it must be the chunked read that saves us
    "2**22-images-gz": ("a.gz", (2**22, 28, 28), True),
    "2**22-images-raw": ("a", (2**22, 28, 28), False),
    "max-uint32-dims": ("a.gz", (2**32 - 1,) * 4, True),
}


@pytest.mark.parametrize("case", sorted(ABSURD))
def test_absurd_dims_fail_fast_without_allocating(tmp_path, case):
    name, dims, compress = ABSURD[case]
    content = idx_bytes(0x08, dims, bytes(range(256)) * 4)  # ~1 KB of payload
    path = tmp_path / f"{case}-{name}"
    path.write_bytes(_gz(content) if compress else content)
    assert path.stat().st_size < 2048
    exc, elapsed, peak = _measure(lambda: read_idx(path))
    assert str(path) in str(exc)
    assert elapsed < 1.0
    assert peak < 4 * 2**20, f"peak allocation {peak:,} bytes"


# --------------------------------------------------------------------------- checksums


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
def test_read_idx_verified_md5_is_of_decompressed_bytes(tmp_path, compress):
    arr = sample_array("int32", (5, 3, 2), seed=3)
    path = write_idx(tmp_path / "x.idx", arr, compress=compress)
    content = read_idx_verified(path)
    raw = gzip.decompress(path.read_bytes()) if compress else path.read_bytes()
    assert content.md5 == hashlib.md5(raw).hexdigest()
    assert content.compressed is compress
    assert_same(content.array, arr)


def test_md5_independent_of_compression_level(tmp_path):
    raw = write_idx(tmp_path / "x", sample_array("uint8", (10, 9)), compress=False).read_bytes()
    fast = tmp_path / "fast.gz"
    fast.write_bytes(gzip.compress(raw, compresslevel=1, mtime=1))
    best = tmp_path / "best.gz"
    best.write_bytes(gzip.compress(raw, compresslevel=9, mtime=2))
    assert fast.read_bytes() != best.read_bytes()
    expected = hashlib.md5(raw).hexdigest()
    assert read_idx_verified(fast).md5 == expected == read_idx_verified(best).md5
    assert read_idx_verified(tmp_path / "x").md5 == expected


def test_md5_differs_when_one_byte_differs(tmp_path):
    arr = sample_array("uint8", (10, 9))
    a = read_idx_verified(write_idx(tmp_path / "a.gz", arr)).md5
    arr2 = arr.copy()
    arr2[5, 5] ^= 1
    b = read_idx_verified(write_idx(tmp_path / "b.gz", arr2)).md5
    assert a != b


def test_path_accepts_str(tmp_path):
    arr = sample_array("uint8", (3,))
    write_idx(str(tmp_path / "s.gz"), arr)
    assert_same(read_idx(str(tmp_path / "s.gz")), arr)
    assert isinstance(write_idx(str(tmp_path / "t"), arr), Path)
