"""Fuzzing the IDX reader (raw and gzip), and the fuzz harness itself.

Fuzzed: ``read_idx_verified`` on arbitrary bytes (raw, and gzip-compressed),
on hand-built files whose header lies (any type code, rank, sizes small or
near 2**32, a payload of the announced length give or take a few bytes), on
mutated valid files, with several ``max_bytes`` limits, and on any path name.

Property: the reader returns exactly the array the (decompressed) bytes hold,
with the header's shape and type, within ``max_bytes``, and the MD5 of the
decompressed bytes, or raises an :class:`~shallownet.errors.IDXFormatError`
naming the file; never another exception, a hang or a huge allocation.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import threading
import time

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from shallownet.data.idx import IDX_DTYPES, MAX_PAYLOAD_BYTES, read_idx_verified
from shallownet.errors import CheckpointError, IDXFormatError
from tests.fuzz.harness import (
    CAP_WORKS,
    CORPUS,
    MAX_CORPUS_FILE,
    Hang,
    HugeAllocation,
    check_any_path,
    corpus,
    fuzz_settings,
    memory_cap,
    mutated,
    path_names,
    result_or_own_error,
)

GZIP_MAGIC = b"\x1f\x8b"
CODES = sorted(IDX_DTYPES)
#: Sizes a lying header announces: empty, tiny, and around 2**16, 2**31 and 2**32.
EXTREME_DIMS = (0, 1, 2, 255, 256, 65_535, 65_536, 2**31 - 1, 2**31, 2**32 - 1)
MAX_BYTES = st.sampled_from([MAX_PAYLOAD_BYTES, 0, 1, 64, 4096, 2**20, 2**40])
needs_cap = pytest.mark.skipif(not CAP_WORKS, reason="RLIMIT_AS is enforced on Linux only")


def check_idx(path, data: bytes, max_bytes: int) -> None:
    """The property: ``path`` (holding ``data``) reads as what it holds, or IDXFormatError."""
    path.write_bytes(data)
    outcome = result_or_own_error(lambda: read_idx_verified(path, max_bytes=max_bytes))
    if isinstance(outcome, Exception):
        assert isinstance(outcome, IDXFormatError), repr(outcome)
        assert str(path) in str(outcome)
        return
    compressed = data[:2] == GZIP_MAGIC
    assert outcome.compressed is compressed
    raw = gzip.decompress(data) if compressed else data
    assert raw[:2] == b"\0\0" and raw[2] in IDX_DTYPES and 1 <= raw[3] <= 8
    rank, dtype = raw[3], IDX_DTYPES[raw[2]]
    dims = struct.unpack(f">{rank}I", raw[4 : 4 + 4 * rank])
    payload = raw[4 + 4 * rank :]
    array = outcome.array
    assert array.shape == dims
    assert array.dtype == dtype.newbyteorder("=")
    assert len(payload) == math.prod(dims) * dtype.itemsize == array.nbytes <= max_bytes
    assert array.tobytes() == np.frombuffer(payload, dtype).astype(array.dtype).tobytes()
    assert outcome.md5 == hashlib.md5(raw).hexdigest()


def gzipped(data: bytes, level: int) -> bytes:
    return gzip.compress(data, compresslevel=level, mtime=0)


@st.composite
def lying_idx_files(draw) -> bytes:
    """An IDX file whose header may lie about anything, raw or gzip-compressed."""
    magic = draw(st.one_of(st.just(b"\0\0"), st.binary(min_size=0, max_size=2)))
    code = draw(st.one_of(st.sampled_from(CODES), st.integers(0, 255)))
    rank = draw(st.one_of(st.integers(1, 4), st.integers(0, 12), st.just(255)))
    n_dims = draw(st.one_of(st.just(rank), st.integers(0, min(rank, 12) + 1)))
    dims = draw(st.lists(st.one_of(st.integers(0, 6), st.sampled_from(EXTREME_DIMS)),
                         min_size=n_dims, max_size=n_dims))
    itemsize = IDX_DTYPES[code].itemsize if code in IDX_DTYPES else 1
    announced = math.prod(dims) * itemsize if n_dims == rank else 0
    length = draw(st.one_of(
        st.just(min(announced, 4096)),
        st.integers(max(0, min(announced, 4096) - 8), min(announced, 4096) + 8),
    ))
    payload = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).bytes(length)
    data = magic + bytes([code, rank]) + b"".join(d.to_bytes(4, "big") for d in dims) + payload
    if draw(st.booleans()):
        data = gzipped(data, draw(st.integers(0, 9)))
    return data


@st.composite
def valid_idx_files(draw) -> bytes:
    """A valid (uncompressed) IDX file of a small random array."""
    dtype = draw(st.sampled_from([np.dtype(d) for d in IDX_DTYPES.values()]))
    array = draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0,
                                                    max_side=5)))
    code = next(c for c, d in IDX_DTYPES.items() if d == dtype)
    return (bytes([0, 0, code, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
            + array.tobytes())


@st.composite
def mutated_idx_files(draw) -> bytes:
    """A valid IDX file, mutated before and/or after gzip compression."""
    data = draw(mutated(valid_idx_files()))
    if draw(st.booleans()):
        data = draw(mutated(st.just(gzipped(data, draw(st.integers(0, 9))))))
    return data


# --------------------------------------------------------------------------- fuzzing


@fuzz_settings()
@given(data=st.binary(max_size=4096), compress=st.booleans(), max_bytes=MAX_BYTES)
def test_any_bytes_give_an_array_or_an_idx_format_error(tmp_path, data, compress, max_bytes):
    check_idx(tmp_path / "any.idx", gzipped(data, 6) if compress else data, max_bytes)


@fuzz_settings()
@given(data=lying_idx_files(), max_bytes=MAX_BYTES)
def test_lying_headers_give_an_array_or_an_idx_format_error(tmp_path, data, max_bytes):
    check_idx(tmp_path / "lying-idx3-ubyte", data, max_bytes)


@fuzz_settings()
@given(data=mutated_idx_files(), max_bytes=MAX_BYTES)
def test_mutated_idx_files_give_an_array_or_an_idx_format_error(tmp_path, data, max_bytes):
    check_idx(tmp_path / "mutated-idx1-ubyte.gz", data, max_bytes)


@fuzz_settings()
@given(name=path_names("data-idx1-ubyte"))
@example(name="a\x00b")  # once crashed
@example(name="\ud800")  # once crashed
def test_any_path_gives_an_array_or_an_idx_format_error(tmp_path, name):
    array = np.arange(6, dtype=">i2").reshape(2, 3)
    data = bytes([0, 0, 0x0B, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + array.tobytes()
    (tmp_path / "data-idx1-ubyte").write_bytes(data)
    path = os.path.join(tmp_path, name)
    def check(content):
        assert np.array_equal(content.array, array)

    check_any_path(path, read_idx_verified, IDXFormatError, check)


@pytest.mark.parametrize("path", corpus("idx"))
def test_idx_corpus_file_gives_an_array_or_an_idx_format_error(tmp_path, path):
    for max_bytes in (MAX_PAYLOAD_BYTES, 64):
        check_idx(tmp_path / path.name, path.read_bytes(), max_bytes)


# --------------------------------------------------------------------------- the harness itself


@needs_cap
def test_memory_cap_turns_a_huge_allocation_into_a_memory_error():
    with memory_cap(), pytest.raises(MemoryError):
        bytearray(4 << 30)
    with memory_cap(), pytest.raises(MemoryError):
        np.ones(1 << 30, dtype=np.float64)


@needs_cap
def test_memory_cap_is_restored_after_the_block():
    import resource

    before = resource.getrlimit(resource.RLIMIT_AS)
    with memory_cap():
        assert resource.getrlimit(resource.RLIMIT_AS)[0] != before[0]
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    with pytest.raises(ZeroDivisionError), memory_cap():
        1 / 0  # noqa: B018 - an exception leaving the block
    assert resource.getrlimit(resource.RLIMIT_AS) == before


@needs_cap
def test_torch_and_threads_work_under_the_memory_cap():
    with memory_cap():
        x = torch.randn(512, 512)
        assert torch.isfinite(x @ x).all()  # intra-op threads
        box = []
        thread = threading.Thread(target=lambda: box.append(np.ones((256, 256)).sum()))
        thread.start()
        thread.join()
        assert box == [65536.0]


@needs_cap
def test_a_huge_allocation_fails_the_property_whoever_raises_it():
    with pytest.raises(HugeAllocation):
        result_or_own_error(lambda: bytearray(4 << 30))
    with pytest.raises(HugeAllocation):
        result_or_own_error(lambda: torch.empty(1 << 31))

    def wrapped():  # a parser that hides the failed allocation inside its own error
        try:
            bytearray(4 << 30)
        except MemoryError as exc:
            raise CheckpointError("cannot load the checkpoint") from exc

    with pytest.raises(HugeAllocation):
        result_or_own_error(wrapped)


def test_the_property_returns_results_and_own_errors_and_lets_other_errors_through():
    assert result_or_own_error(lambda: 42) == 42
    error = IDXFormatError("x.idx is empty")
    assert result_or_own_error(lambda: (_ for _ in ()).throw(error)) is error
    with pytest.raises(ValueError, match="invalid literal"):
        result_or_own_error(lambda: int("twelve"))


def test_a_parser_running_past_the_limit_is_a_hang():
    def spin():
        while True:
            time.sleep(0.001)

    with pytest.raises(Hang):
        result_or_own_error(spin, seconds=0.2)


def test_corpus_files_are_small():
    files = [p for p in CORPUS.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert path.stat().st_size < MAX_CORPUS_FILE, path
