"""Downloads from a real local HTTP server: verification, retries, mirrors, the dataset layer."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
from pathlib import Path

import numpy as np
import pytest

from shallownet.data import decompressed_md5, download, fetch_dataset, locate_dataset, read_idx
from shallownet.data.catalog import MNIST
from shallownet.data.locate import LOCK_NAME
from shallownet.errors import ChecksumError, DataError, DownloadError, ShallownetError
from tests.conftest import spec_for, write_tiny_dataset
from tests.httpserver import LocalServer, serving

RAW = bytes([0, 0, 8, 1]) + (600).to_bytes(4, "big") + bytes(i % 7 for i in range(600))
RAW_MD5 = hashlib.md5(RAW).hexdigest()
GOOD_GZ = gzip.compress(RAW, compresslevel=9, mtime=0)


@pytest.fixture
def server(monkeypatch):
    with serving(monkeypatch) as srv:
        yield srv


def get(urls, dest, *, md5=RAW_MD5, retries=3):
    return download(urls, dest, md5=md5, retries=retries, backoff=0, timeout=5, progress=False)


def assert_dir_empty(directory: Path) -> None:
    """Nothing in ``directory`` but (for the dataset layer) its empty lock file."""
    leftovers = sorted(p.name for p in directory.iterdir()) if directory.exists() else []
    if LOCK_NAME in leftovers:
        assert (directory / LOCK_NAME).stat().st_size == 0
        leftovers.remove(LOCK_NAME)
    assert leftovers == [], f"left behind: {leftovers}"


# --------------------------------------------------------------------------- download()


def test_good_file_lands_and_verifies(server, tmp_path):
    url = server.add("/good.gz", GOOD_GZ)
    dest = tmp_path / "new" / "sub" / "file.gz"
    assert get([url], dest) == dest
    assert dest.read_bytes() == GOOD_GZ
    assert decompressed_md5(dest) == RAW_MD5
    assert sorted(p.name for p in dest.parent.iterdir()) == ["file.gz"]  # no .part left over
    assert server.hits["/good.gz"] == 1


def test_md5_none_skips_the_check(server, tmp_path):
    url = server.add("/any.bin", b"not even gzip")
    dest = tmp_path / "any.bin"
    get([url], dest, md5=None)
    assert dest.read_bytes() == b"not even gzip"


@pytest.mark.parametrize(
    ("mode", "reason", "expected_hits"),
    [
        ("corrupt", "corrupt download|checksum mismatch", 1),  # permanent: no retry
        ("truncate", "short read|connection broke", 3),  # transient: retried
        ("missing", "HTTP 404", 1),  # 4xx: permanent
        ("always-500", "HTTP 500", 3),
    ],
)
def test_failed_download_raises_and_leaves_nothing(server, tmp_path, mode, reason, expected_hits):
    url = server.url("/f.gz") if mode == "missing" else server.add("/f.gz", GOOD_GZ, mode)
    dest = tmp_path / "out" / "file.gz"
    with pytest.raises(DownloadError, match=reason) as excinfo:
        get([url], dest, retries=3)
    assert isinstance(excinfo.value, ShallownetError)
    assert isinstance(excinfo.value, DataError)
    assert url in str(excinfo.value)
    assert not dest.exists()
    assert_dir_empty(dest.parent)
    assert server.hits["/f.gz"] == expected_hits


def test_corrupt_non_gzip_content_also_refused(server, tmp_path):
    url = server.add("/plain", RAW, "corrupt")  # wrong raw bytes, not gzip at all
    dest = tmp_path / "out" / "plain"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        get([url], dest)
    assert_dir_empty(dest.parent)


def test_failed_download_keeps_an_existing_destination(server, tmp_path):
    url = server.add("/f.gz", GOOD_GZ, "corrupt")
    dest = tmp_path / "file.gz"
    dest.write_bytes(b"previous content")
    with pytest.raises(DownloadError):
        get([url], dest)
    assert dest.read_bytes() == b"previous content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.gz"]


def test_mirror_fallback(server, tmp_path):
    missing = server.url("/mirror-a/f.gz")
    good = server.add("/mirror-b/f.gz", GOOD_GZ)
    dest = tmp_path / "f.gz"
    get([missing, good], dest)
    assert decompressed_md5(dest) == RAW_MD5
    assert server.hits["/mirror-a/f.gz"] == 1
    assert server.hits["/mirror-b/f.gz"] == 1


def test_fallback_past_a_corrupt_and_a_truncated_mirror(server, tmp_path):
    urls = [
        server.add("/a/f.gz", GOOD_GZ, "corrupt"),
        server.add("/b/f.gz", GOOD_GZ, "truncate"),
        server.add("/c/f.gz", GOOD_GZ),
    ]
    dest = tmp_path / "f.gz"
    get(urls, dest, retries=2)
    assert dest.read_bytes() == GOOD_GZ
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.gz"]


def test_first_good_mirror_wins(server, tmp_path):
    first = server.add("/a/f.gz", GOOD_GZ)
    second = server.add("/b/f.gz", GOOD_GZ)
    get([first, second], tmp_path / "f.gz")
    assert server.hits["/a/f.gz"] == 1
    assert server.hits["/b/f.gz"] == 0


def test_retry_after_500(server, tmp_path):
    url = server.add("/flaky.gz", GOOD_GZ, "fail-then-ok", failures=1)
    dest = tmp_path / "flaky.gz"
    get([url], dest, retries=3)
    assert dest.read_bytes() == GOOD_GZ
    assert server.hits["/flaky.gz"] == 2


def test_retries_are_bounded(server, tmp_path):
    url = server.add("/flaky.gz", GOOD_GZ, "fail-then-ok", failures=2)
    with pytest.raises(DownloadError, match=r"after 2 attempts"):
        get([url], tmp_path / "flaky.gz", retries=2)
    assert server.hits["/flaky.gz"] == 2
    get([url], tmp_path / "flaky.gz", retries=2)  # the third request succeeds
    assert server.hits["/flaky.gz"] == 3


def test_md5_checked_on_decompressed_bytes(server, tmp_path):
    recompressed = gzip.compress(RAW, compresslevel=1, mtime=12345)
    assert recompressed != GOOD_GZ
    url = server.add("/re.gz", recompressed)
    dest = tmp_path / "re.gz"
    get([url], dest)
    assert dest.read_bytes() == recompressed
    # an uncompressed copy of the same bytes is the same data too
    plain = server.add("/plain", RAW)
    get([plain], tmp_path / "plain")
    assert (tmp_path / "plain").read_bytes() == RAW


def test_md5_of_compressed_bytes_is_not_accepted(server, tmp_path):
    url = server.add("/good.gz", GOOD_GZ)
    dest = tmp_path / "good.gz"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        get([url], dest, md5=hashlib.md5(GOOD_GZ).hexdigest())
    assert_dir_empty(tmp_path)


def test_error_message_lists_every_url_tried(server, tmp_path):
    urls = [
        server.url("/m1/f.gz"),
        server.add("/m2/f.gz", GOOD_GZ, "corrupt"),
        server.add("/m3/f.gz", GOOD_GZ, "truncate"),
        server.add("/m4/f.gz", GOOD_GZ, "always-500"),
    ]
    with pytest.raises(DownloadError) as excinfo:
        get(urls, tmp_path / "f.gz", retries=1)
    message = str(excinfo.value)
    for url in urls:
        assert url in message
    assert "HTTP 404" in message and "HTTP 500" in message
    assert "f.gz" in message
    assert_dir_empty(tmp_path)


def test_no_urls(tmp_path):
    with pytest.raises(DownloadError, match="no mirror"):
        get([], tmp_path / "f.gz")


def test_unsupported_scheme_is_refused(tmp_path):
    source = tmp_path / "src.gz"
    source.write_bytes(GOOD_GZ)
    url = source.as_uri()
    with pytest.raises(DownloadError, match="unsupported URL scheme") as excinfo:
        get([url], tmp_path / "out" / "f.gz")
    assert url in str(excinfo.value)
    assert_dir_empty(tmp_path / "out")


def test_connection_refused_is_a_download_error(tmp_path):
    # a port that was just free on 127.0.0.1: nobody listens there any more
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = srv.server_address[1]
    srv.server_close()
    url = f"http://127.0.0.1:{port}/f.gz"
    with pytest.raises(DownloadError, match="connection failed") as excinfo:
        get([url], tmp_path / "out" / "f.gz", retries=2)
    assert url in str(excinfo.value)
    assert_dir_empty(tmp_path / "out")


# --------------------------------------------------------------------------- decompressed_md5


def test_decompressed_md5_raw_and_gzip(tmp_path):
    raw = tmp_path / "raw"
    raw.write_bytes(RAW)
    levels = []
    for level in (1, 6, 9):
        p = tmp_path / f"l{level}.gz"
        p.write_bytes(gzip.compress(RAW, compresslevel=level, mtime=level))
        levels.append(decompressed_md5(p))
    assert decompressed_md5(raw) == RAW_MD5
    assert levels == [RAW_MD5] * 3
    other = tmp_path / "other"
    other.write_bytes(RAW[:-1] + b"\x01")
    assert decompressed_md5(other) != RAW_MD5


def test_decompressed_md5_empty_file(tmp_path):
    p = tmp_path / "empty"
    p.write_bytes(b"")
    assert decompressed_md5(p) == hashlib.md5(b"").hexdigest()


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_decompressed_md5_corrupt_gzip(tmp_path, damage):
    data = bytearray(gzip.compress(os.urandom(20000), mtime=0))
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        mid = len(data) // 2
        data[mid : mid + 16] = bytes(b ^ 0xFF for b in data[mid : mid + 16])
    p = tmp_path / "bad.gz"
    p.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="not valid gzip") as excinfo:
        decompressed_md5(p)
    assert str(p) in str(excinfo.value)


# --------------------------------------------------------------------------- the dataset layer


def serve_dataset(server: LocalServer, files: dict[str, Path], prefix: str) -> str:
    for path in files.values():
        server.add(f"{prefix}/{path.name}", path.read_bytes())
    return server.url(prefix + "/")


def data_files(directory: Path) -> list[str]:
    """The files in ``directory`` less the lock file that downloads take turns through."""
    names = sorted(p.name for p in directory.iterdir())
    assert set(names) - {LOCK_NAME} == {n for n in names if not n.startswith(".")}
    return [n for n in names if not n.startswith(".")]


def assert_arrays_match(result, files):
    for key, path in files.items():
        np.testing.assert_array_equal(getattr(result, key), read_idx(path))


@pytest.mark.parametrize("base", ["fashion-mnist", "mnist"])
def test_locate_downloads_into_cache_then_uses_it(server, tmp_path, base):
    files = write_tiny_dataset(tmp_path / "src", seed=7)
    spec = spec_for(files, base=MNIST) if base == "mnist" else spec_for(files)
    assert spec.name == base
    mirror = serve_dataset(server, files, "/mirror")
    cache = Path(os.environ["SHALLOWNET_CACHE"]) / spec.name
    assert not cache.exists()

    first = locate_dataset(spec, mirrors=[mirror], progress=False)
    assert first.source == "download"
    assert first.verified is True
    assert first.directory == cache
    assert data_files(cache) == sorted(p.name for p in files.values())
    assert first.train_images.shape == (30, 28, 28)
    assert_arrays_match(first, files)
    assert server.total_hits == 4

    second = locate_dataset(spec, mirrors=[mirror], progress=False)
    assert second.source == "cache"
    assert second.verified is True
    assert second.directory == cache
    assert_arrays_match(second, files)
    assert server.total_hits == 4  # the server was not contacted again


def test_locate_mirror_fallback_for_a_dataset(server, tmp_path):
    files = write_tiny_dataset(tmp_path / "src")
    spec = spec_for(files)
    dead = server.url("/dead/")
    good = serve_dataset(server, files, "/good")
    result = locate_dataset(spec, mirrors=[dead, good], progress=False)
    assert result.source == "download"
    assert sum(n for p, n in server.hits.items() if p.startswith("/dead/")) == 4


def test_locate_uses_the_specs_own_mirrors(server, tmp_path):
    files = write_tiny_dataset(tmp_path / "src")
    spec = spec_for(files, mirrors=(serve_dataset(server, files, "/spec-mirror"),))
    assert locate_dataset(spec, progress=False).source == "download"
    assert server.total_hits == 4


def test_locate_download_with_wrong_checksums_fails_cleanly(server, tmp_path):
    files = write_tiny_dataset(tmp_path / "src")
    other = write_tiny_dataset(tmp_path / "other", seed=99)
    spec = spec_for(other)  # checksums of different data
    mirror = serve_dataset(server, files, "/mirror")
    with pytest.raises(DownloadError, match="checksum mismatch"):
        locate_dataset(spec, mirrors=[mirror], progress=False)
    cache = Path(os.environ["SHALLOWNET_CACHE"]) / spec.name
    assert_dir_empty(cache)


def test_locate_download_into_explicit_dir(server, tmp_path):
    files = write_tiny_dataset(tmp_path / "src")
    spec = spec_for(files)
    mirror = serve_dataset(server, files, "/mirror")
    explicit = tmp_path / "explicit"
    result = locate_dataset(spec, data_dir=explicit, mirrors=[mirror], progress=False)
    assert result.source == "download"
    assert result.directory == explicit / spec.name
    assert len(data_files(explicit / spec.name)) == 4
    again = locate_dataset(spec, data_dir=explicit, mirrors=[mirror], progress=False)
    assert again.source == "explicit"
    assert server.total_hits == 4


def test_bad_cache_copy_is_replaced_by_a_download(server, tmp_path):
    files = write_tiny_dataset(tmp_path / "src")
    spec = spec_for(files)
    mirror = serve_dataset(server, files, "/mirror")
    cache = Path(os.environ["SHALLOWNET_CACHE"]) / spec.name
    cached = write_tiny_dataset(cache)
    bad = cached["train_labels"]
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"\x01\x02\x03"))
    with pytest.warns(UserWarning, match="bad copy in the cache"):
        result = locate_dataset(spec, mirrors=[mirror], progress=False)
    assert result.source == "download"
    assert result.verified is True
    assert_arrays_match(result, files)


@pytest.mark.parametrize("base", ["fashion-mnist", "mnist"])
def test_fetch_dataset_into_data_dir(server, tmp_path, base):
    files = write_tiny_dataset(tmp_path / "src", n_train=12, n_test=4)
    spec = spec_for(files, base=MNIST) if base == "mnist" else spec_for(files)
    mirror = serve_dataset(server, files, "/mirror")
    data_dir = tmp_path / "dir"

    result = fetch_dataset(spec, data_dir=data_dir, mirrors=[mirror], progress=False)
    target = data_dir / spec.name
    assert result.source == "download"
    assert result.verified is True
    assert result.directory == target
    assert data_files(target) == sorted(p.name for p in files.values())
    assert_arrays_match(result, files)
    assert server.total_hits == 4
    cache = Path(os.environ["SHALLOWNET_CACHE"])
    assert list(cache.iterdir()) == []  # nothing went to the cache

    again = fetch_dataset(spec, data_dir=data_dir, mirrors=[mirror], progress=False)
    assert again.source == "explicit"
    assert server.total_hits == 4

    forced = fetch_dataset(spec, data_dir=data_dir, mirrors=[mirror], force=True, progress=False)
    assert forced.source == "download"
    assert server.total_hits == 8


def test_fetch_dataset_into_cache_by_default(server, tmp_path):
    files = write_tiny_dataset(tmp_path / "src")
    spec = spec_for(files, base=MNIST)
    mirror = serve_dataset(server, files, "/mirror")
    result = fetch_dataset(spec, mirrors=[mirror], progress=False)
    assert result.directory == Path(os.environ["SHALLOWNET_CACHE"]) / "mnist"
    assert fetch_dataset(spec, mirrors=[mirror], progress=False).source == "cache"
    assert server.total_hits == 4


def test_fetch_dataset_refuses_a_file_as_data_dir(server, tmp_path):
    files = write_tiny_dataset(tmp_path / "src")
    spec = spec_for(files)
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(DataError, match="is a file"):
        fetch_dataset(spec, data_dir=not_a_dir, mirrors=[serve_dataset(server, files, "/m")])
    assert server.total_hits == 0


def test_fetch_dataset_replaces_a_bad_copy(server, tmp_path):
    files = write_tiny_dataset(tmp_path / "src")
    spec = spec_for(files)
    mirror = serve_dataset(server, files, "/mirror")
    target = tmp_path / "data" / spec.name
    bad = write_tiny_dataset(target, seed=1)  # well-formed IDX, wrong checksums
    with pytest.warns(UserWarning, match="replacing a bad copy"):
        result = fetch_dataset(spec, data_dir=tmp_path / "data", mirrors=[mirror], progress=False)
    assert result.verified is True
    assert_arrays_match(result, files)
    assert all(decompressed_md5(p) == spec.files[k].md5 for k, p in bad.items())
