"""The book's download helpers against a real HTTP server on 127.0.0.1 (section 4.10's data).

Every test points ``d2l.DATA_HUB`` at the local server, keeps its files in
``tmp_path``, and runs with a guard that fails any connection to another host.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import random
import socket
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from shallownet import d2l
from shallownet.errors import (
    ChecksumError,
    DataError,
    DownloadError,
    ShallownetError,
    UsageError,
)
from tests.httpserver import serving

#: The module (``shallownet.d2l.download`` is the function, as ``d2l.download`` is in the book).
d2l_download = sys.modules["shallownet.d2l.download"]

BOOK_TRAIN_SHA1 = "585e9cc93e70b39160e7921475f9bcd7d31219ce"
BOOK_TEST_SHA1 = "fa19780a7b011d9b009e8bff8e99922a8ee2eb90"
COLUMNS = ["Id", "MSSubClass", "MSZoning", "LotFrontage", "LotArea", "Street", "YrSold",
           "SaleCondition", "SalePrice"]


def house_csv(n: int = 40, *, seed: int = 0, price: bool = True) -> bytes:
    """A small CSV shaped like the Kaggle house-price files (every 4th LotFrontage missing)."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS if price else COLUMNS[:-1])
    for i in range(1, n + 1):
        row = [i, rng.choice([20, 50, 60, 120]), rng.choice(["RL", "RM", "FV"]),
               "" if i % 4 == 0 else rng.randint(40, 120), rng.randint(5000, 20000),
               "Pave", rng.randint(2006, 2010), rng.choice(["Normal", "Abnorml"])]
        if price:
            row.append(rng.randint(80_000, 400_000))
        writer.writerow(row)
    return out.getvalue().encode()


TRAIN = house_csv(seed=1)
TEST = house_csv(seed=2, price=False)


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def contents(directory: Path) -> list[str]:
    """Every name in ``directory``, hidden ``.part`` files included."""
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


@pytest.fixture(autouse=True)
def local_only(monkeypatch):
    """Fail any connection to a host other than 127.0.0.1; make retries immediate."""
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        assert address[0] == "127.0.0.1", f"the tests tried to contact {address}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    monkeypatch.setattr(d2l_download, "_BACKOFF", 0.0)
    monkeypatch.setattr(d2l_download, "_TIMEOUT", 5.0)


@pytest.fixture
def hub():
    """An empty ``DATA_HUB`` (the same dict object), restored after the test."""
    saved = dict(d2l.DATA_HUB)
    d2l.DATA_HUB.clear()
    yield d2l.DATA_HUB
    d2l.DATA_HUB.clear()
    d2l.DATA_HUB.update(saved)


@pytest.fixture
def server(monkeypatch):
    with serving(monkeypatch) as srv:
        yield srv


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "data"


def register(server, hub, name: str, path: str, body: bytes, mode: str = "ok", **kw) -> str:
    url = server.add(path, body, mode, **kw)
    hub[name] = (url, sha1(body))
    return url


# --------------------------------------------------------------------------- the book's names


def test_the_names_and_the_books_entries():
    assert d2l.DATA_HUB is d2l_download.DATA_HUB
    assert d2l.DATA_URL == "http://d2l-data.s3-accelerate.amazonaws.com/"
    assert d2l.DATA_HUB["kaggle_house_train"] == (
        d2l.DATA_URL + "kaggle_house_pred_train.csv", BOOK_TRAIN_SHA1)
    assert d2l.DATA_HUB["kaggle_house_test"] == (
        d2l.DATA_URL + "kaggle_house_pred_test.csv", BOOK_TEST_SHA1)
    for name in ("DATA_HUB", "DATA_URL", "download", "download_extract", "download_all"):
        assert name in d2l.__all__


def test_the_books_section_runs_against_the_local_server(server, hub, monkeypatch, tmp_path,
                                                           capsys):
    """Section 4.10's cells, with DATA_URL pointed at the server and ``../data`` in tmp_path."""
    server.add("/kaggle_house_pred_train.csv", TRAIN)
    server.add("/kaggle_house_pred_test.csv", TEST)
    monkeypatch.setattr(d2l, "DATA_URL", server.url("/"))
    work = tmp_path / "notebooks"
    work.mkdir()
    monkeypatch.chdir(work)

    d2l.DATA_HUB["kaggle_house_train"] = (
        d2l.DATA_URL + "kaggle_house_pred_train.csv", sha1(TRAIN))
    d2l.DATA_HUB["kaggle_house_test"] = (
        d2l.DATA_URL + "kaggle_house_pred_test.csv", sha1(TEST))
    train_path = d2l.download("kaggle_house_train")
    test_path = d2l.download("kaggle_house_test")

    assert train_path == os.path.join("..", "data", "kaggle_house_pred_train.csv")
    assert test_path == os.path.join("..", "data", "kaggle_house_pred_test.csv")
    assert (tmp_path / "data" / "kaggle_house_pred_train.csv").read_bytes() == TRAIN
    with open(train_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 40 and list(rows[0]) == COLUMNS
    assert sum(r["LotFrontage"] == "" for r in rows) == 10
    with open(test_path, newline="") as f:
        assert "SalePrice" not in next(csv.reader(f))
    assert "Downloading" in capsys.readouterr().out


# --------------------------------------------------------------------------- download


def test_download_fetches_verifies_and_returns_the_path(server, hub, cache):
    url = register(server, hub, "train", "/files/kaggle_house_pred_train.csv", TRAIN)
    path = d2l.download("train", cache_dir=cache)
    assert isinstance(path, str)
    assert path == os.path.join(cache, "kaggle_house_pred_train.csv")
    assert Path(path).read_bytes() == TRAIN
    assert sha1(Path(path).read_bytes()) == hub["train"][1]
    assert contents(cache) == ["kaggle_house_pred_train.csv"]  # no .part left over
    assert server.hits[url.removeprefix(server.base)] == 1


def test_a_verified_copy_is_used_without_any_network_access(server, hub, cache, monkeypatch):
    register(server, hub, "train", "/kaggle_house_pred_train.csv", TRAIN)
    first = d2l.download("train", cache_dir=cache)
    assert server.total_hits == 1
    assert d2l.download("train", cache_dir=cache) == first
    assert server.total_hits == 1

    server.stop()  # offline: neither the server nor any socket is needed

    def no_network(*args, **kwargs):
        raise AssertionError("a verified copy must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    assert d2l.download("train", cache_dir=cache) == first
    assert Path(first).read_bytes() == TRAIN


def test_a_cached_file_with_the_wrong_sha1_is_downloaded_again(server, hub, cache):
    register(server, hub, "train", "/kaggle_house_pred_train.csv", TRAIN)
    cache.mkdir()
    stale = cache / "kaggle_house_pred_train.csv"
    stale.write_bytes(TRAIN[: len(TRAIN) // 2])  # e.g. the book's unchecked, cut-off download
    with pytest.warns(UserWarning, match="SHA-1.*downloading it again"):
        path = d2l.download("train", cache_dir=cache)
    assert Path(path).read_bytes() == TRAIN
    assert server.total_hits == 1
    assert contents(cache) == ["kaggle_house_pred_train.csv"]


def test_a_transient_server_error_is_retried(server, hub, cache):
    register(server, hub, "train", "/t.csv", TRAIN, "fail-then-ok", failures=2)
    assert Path(d2l.download("train", cache_dir=cache)).read_bytes() == TRAIN
    assert server.hits["/t.csv"] == 3
    assert contents(cache) == ["t.csv"]


def test_a_corrupt_body_raises_a_checksum_error_and_leaves_nothing(server, hub, cache):
    url = register(server, hub, "train", "/kaggle_house_pred_train.csv", TRAIN, "corrupt")
    corrupt = bytes(b ^ 0xA5 for b in TRAIN)
    with pytest.raises(ChecksumError) as excinfo:
        d2l.download("train", cache_dir=cache)
    message = str(excinfo.value)
    for part in ("'train'", url, sha1(TRAIN), sha1(corrupt), "run it again"):
        assert part in message
    assert isinstance(excinfo.value, ShallownetError)
    assert contents(cache) == []
    assert server.total_hits == 1  # a mismatch is not retried


@pytest.mark.parametrize(("mode", "reason", "hits"), [
    ("truncate", "short read|connection broke", d2l_download._RETRIES),
    ("missing", "HTTP 404", 1),
    ("always-500", "HTTP 500", d2l_download._RETRIES),
])
def test_a_failed_download_names_the_url_and_leaves_nothing(server, hub, cache, mode, reason,
                                                            hits):
    path = "/kaggle_house_pred_train.csv"
    if mode == "missing":
        hub["train"] = (server.url(path), sha1(TRAIN))
    else:
        register(server, hub, "train", path, TRAIN, mode)
    with pytest.raises(DownloadError, match=reason) as excinfo:
        d2l.download("train", cache_dir=cache)
    message = str(excinfo.value)
    assert server.url(path) in message and "'train'" in message
    assert "SHALLOWNET_DATA" not in message  # the d2l advice, not the dataset layer's
    assert contents(cache) == []
    assert server.hits[path] == hits


def test_a_refused_connection_names_the_url_and_leaves_nothing(hub, cache):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/kaggle_house_pred_train.csv"
    hub["train"] = (url, sha1(TRAIN))
    with pytest.raises(DownloadError, match="connection failed") as excinfo:
        d2l.download("train", cache_dir=cache)
    assert url in str(excinfo.value)
    assert contents(cache) == []


def test_a_failed_download_leaves_a_stale_copy_as_it_was(server, hub, cache):
    hub["train"] = (server.url("/gone.csv"), sha1(TRAIN))
    cache.mkdir()
    (cache / "gone.csv").write_bytes(b"old")
    with pytest.warns(UserWarning), pytest.raises(DownloadError):
        d2l.download("train", cache_dir=cache)
    assert contents(cache) == ["gone.csv"]
    assert (cache / "gone.csv").read_bytes() == b"old"


def test_an_unknown_name_lists_the_known_ones(server, hub, cache):
    register(server, hub, "kaggle_house_train", "/a.csv", TRAIN)
    register(server, hub, "kaggle_house_test", "/b.csv", TEST)
    with pytest.raises(KeyError) as excinfo:
        d2l.download("kaggle_house_tran", cache_dir=cache)
    error = excinfo.value
    assert isinstance(error, AssertionError)  # the book's `assert name in DATA_HUB`
    assert isinstance(error, ShallownetError)
    assert str(error).startswith("'kaggle_house_tran' is not in d2l.DATA_HUB")
    assert "'kaggle_house_test', 'kaggle_house_train'" in str(error)
    assert server.total_hits == 0 and not cache.exists()


@pytest.mark.parametrize("entry", [
    "http://127.0.0.1/x.csv",
    ("http://127.0.0.1/x.csv",),
    ("http://127.0.0.1/x.csv", "d41d8cd98f00b204e9800998ecf8427e"),  # an MD5, not a SHA-1
    ("http://127.0.0.1/", "0" * 40),  # names no file
])
def test_a_malformed_entry_is_a_usage_error(hub, cache, entry):
    hub["bad"] = entry
    with pytest.raises(UsageError, match=r"DATA_HUB\['bad'\]"):
        d2l.download("bad", cache_dir=cache)
    assert not cache.exists()


def test_an_upper_case_sha1_is_accepted(server, hub, cache):
    url = server.add("/u.csv", TRAIN)
    hub["u"] = (url, sha1(TRAIN).upper())
    assert Path(d2l.download("u", cache_dir=cache)).read_bytes() == TRAIN


# --------------------------------------------------------------------------- download_extract


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes], *, links: dict[str, str] | None = None,
              mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


HOUSE = {"house/train.csv": TRAIN, "house/test.csv": TEST}


@pytest.mark.parametrize(("filename", "body"), [
    ("house.zip", zip_bytes(HOUSE)),
    ("house.tar.gz", tar_bytes(HOUSE)),
    ("house.tgz", tar_bytes(HOUSE)),
    ("house.tar", tar_bytes(HOUSE, mode="w")),
])
def test_download_extract_unpacks_beside_the_archive(server, hub, cache, filename, body):
    register(server, hub, "house", f"/{filename}", body)
    folder = d2l.download_extract("house", cache_dir=cache)
    assert folder == os.path.join(cache, "house")  # the whole suffix removed
    assert (cache / "house" / "train.csv").read_bytes() == TRAIN
    assert (cache / "house" / "test.csv").read_bytes() == TEST
    assert d2l.download_extract("house", "house", cache_dir=cache) == os.path.join(cache, "house")
    assert server.total_hits == 1  # the second call found the archive verified
    assert contents(cache) == sorted([filename, "house"])


def test_download_extract_uses_the_books_cache_dir_by_default(server, hub, tmp_path,
                                                               monkeypatch):
    register(server, hub, "house", "/house.zip", zip_bytes(HOUSE))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert d2l.download_extract("house") == os.path.join("..", "data", "house")
    assert (tmp_path / "data" / "house" / "train.csv").read_bytes() == TRAIN


@pytest.mark.parametrize(("filename", "body", "bad"), [
    ("evil.zip", zip_bytes({"ok.csv": TRAIN, "../evil.txt": b"x"}), "../evil.txt"),
    ("evil.tar.gz", tar_bytes({"ok.csv": TRAIN, "../evil.txt": b"x"}), "../evil.txt"),
    ("evil.tgz", tar_bytes({"ok.csv": TRAIN, "a/../../evil.txt": b"x"}), "a/../../evil.txt"),
    ("abs.tar", tar_bytes({"ok.csv": TRAIN, "/tmp/shallownet-evil.txt": b"x"}, mode="w"),
     "/tmp/shallownet-evil.txt"),
    ("link.tar.gz", tar_bytes({"ok.csv": TRAIN}, links={"up": "../../outside"}), "up"),
])
def test_download_extract_refuses_a_member_outside_the_folder(server, hub, cache, tmp_path,
                                                               filename, body, bad):
    register(server, hub, "evil", f"/{filename}", body)
    with pytest.raises(DataError, match="refusing to extract") as excinfo:
        d2l.download_extract("evil", cache_dir=cache)
    assert repr(bad) in str(excinfo.value)
    assert contents(cache) == [filename]  # nothing extracted, not even the good member
    assert contents(tmp_path) == ["data"]
    assert not Path("/tmp/shallownet-evil.txt").exists()


def test_download_extract_refuses_a_file_that_is_not_an_archive(server, hub, cache):
    register(server, hub, "csv", "/kaggle_house_pred_train.csv", TRAIN)
    with pytest.raises(UsageError, match="not a zip or tar archive"):
        d2l.download_extract("csv", cache_dir=cache)
    assert server.total_hits == 0  # refused before downloading


def test_download_extract_reports_an_invalid_archive(server, hub, cache):
    register(server, hub, "broken", "/broken.zip", b"not a zip file at all")
    with pytest.raises(DataError, match="cannot be extracted as a zip archive"):
        d2l.download_extract("broken", cache_dir=cache)


# --------------------------------------------------------------------------- download_all


def test_download_all_downloads_every_entry_once(server, hub, cache):
    register(server, hub, "kaggle_house_train", "/kaggle_house_pred_train.csv", TRAIN)
    register(server, hub, "kaggle_house_test", "/kaggle_house_pred_test.csv", TEST)
    register(server, hub, "house", "/house.zip", zip_bytes(HOUSE))
    assert d2l.download_all(cache_dir=cache) is None
    assert contents(cache) == ["house.zip", "kaggle_house_pred_test.csv",
                               "kaggle_house_pred_train.csv"]
    assert server.total_hits == 3
    d2l.download_all(cache_dir=cache)
    assert server.total_hits == 3  # all verified in the cache


def test_download_all_uses_the_books_cache_dir_by_default(server, hub, tmp_path, monkeypatch):
    register(server, hub, "kaggle_house_train", "/kaggle_house_pred_train.csv", TRAIN)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    d2l.download_all()
    assert (tmp_path / "data" / "kaggle_house_pred_train.csv").read_bytes() == TRAIN


def test_download_all_tries_every_entry_and_reports_each_failure(server, hub, cache):
    register(server, hub, "a", "/a.csv", TRAIN)
    hub["missing"] = (server.url("/missing.csv"), sha1(TRAIN))
    register(server, hub, "bad", "/bad.csv", TEST, "corrupt")
    register(server, hub, "z", "/z.csv", TEST)
    with pytest.raises(DownloadError, match="2 of 4 files") as excinfo:
        d2l.download_all(cache_dir=cache)
    message = str(excinfo.value)
    assert "missing: " in message and "HTTP 404" in message
    assert "bad: " in message and sha1(TEST) in message
    assert contents(cache) == ["a.csv", "z.csv"]


# --------------------------------------------------------------------------- the current edition


def test_the_current_editions_call_with_a_url_folder_and_sha1(server, hub, cache, capsys):
    """5.7's call: ``d2l.download(DATA_URL + 'kaggle_house_pred_train.csv', root, sha1_hash=H)``."""
    url = server.add("/kaggle_house_pred_train.csv", TRAIN)
    path = d2l.download(url, str(cache), sha1_hash=sha1(TRAIN))
    assert path == os.path.join(str(cache), "kaggle_house_pred_train.csv")
    assert Path(path).read_bytes() == TRAIN
    assert capsys.readouterr().out.startswith(f"Downloading {path} from {url}")
    server.stop()  # a verified copy needs no network
    assert d2l.download(url, folder=str(cache), sha1_hash=sha1(TRAIN).upper()) == path


def test_a_url_with_the_wrong_sha1_leaves_nothing(server, hub, cache):
    url = server.add("/x.csv", TRAIN)
    with pytest.raises(ChecksumError, match="but sha1_hash expects " + "0" * 40):
        d2l.download(url, str(cache), sha1_hash="0" * 40)
    assert contents(cache) == []
    with pytest.raises(UsageError, match="is not a SHA-1"):
        d2l.download(url, str(cache), sha1_hash="abc")


def test_a_url_without_a_sha1_is_downloaded_once(server, hub, cache):
    url = server.add("/x.csv", TRAIN)
    path = d2l.download(url, str(cache))
    assert Path(path).read_bytes() == TRAIN
    server.stop()
    assert d2l.download(url, str(cache)) == path


def test_a_name_is_still_looked_up_in_the_hub(server, hub, cache):
    register(server, hub, "house", "/house.csv", TRAIN)
    assert Path(d2l.download("house", folder=str(cache))).read_bytes() == TRAIN


def test_extract_unpacks_beside_or_into_a_folder(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("inner/x.txt", "x")
    d2l.extract(str(archive))
    assert (tmp_path / "inner" / "x.txt").read_text() == "x"
    d2l.extract(str(archive), str(tmp_path / "elsewhere"))
    assert (tmp_path / "elsewhere" / "inner" / "x.txt").is_file()
    bad = tmp_path / "b.tar"
    with tarfile.open(bad, "w") as t:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        t.addfile(info, io.BytesIO(b"e"))
    with pytest.raises(DataError, match=r"d2l.extract\(.*refusing to extract"):
        d2l.extract(str(bad))
    assert not (tmp_path.parent / "escape.txt").exists()
