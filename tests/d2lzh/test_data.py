"""The edition's data helpers: ``data_iter``, and Fashion-MNIST found from ``root=`` offline."""

from __future__ import annotations

import random
import shutil

import pytest
import torch

from shallownet import d2lzh as d2l
from shallownet.d2l.data import say_quick
from shallownet.d2lzh import data as d2lzh_data
from shallownet.data import catalog
from shallownet.errors import ChecksumError, UsageError
from tests.conftest import SYSTEM_FASHION_MNIST, requires_real_data, spec_for, write_tiny_dataset
from tests.httpserver import serving


def realdata(test):
    """Needs the real Fashion-MNIST files (skipped without them, except in CI)."""
    return requires_real_data(pytest.mark.realdata(test))


@pytest.fixture(autouse=True)
def fresh_lookup(monkeypatch, tmp_path):
    """Each test looks for the data anew, from a directory without ``../data``."""
    d2lzh_data._fashion_mnist.cache_clear()
    say_quick.cache_clear()
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.delenv(d2lzh_data.QUICK_ENV, raising=False)
    yield
    d2lzh_data._fashion_mnist.cache_clear()


def no_network(*args, **kwargs):
    raise AssertionError("tried to download")


# --------------------------------------------------------------------------- data_iter


def test_data_iter_visits_every_example_once_in_batches():
    features = torch.arange(23.0).reshape(23, 1)
    labels = torch.arange(23)
    batches = list(d2l.data_iter(5, features, labels))
    assert [len(y) for _, y in batches] == [5, 5, 5, 5, 3]
    seen = torch.cat([y for _, y in batches])
    assert sorted(seen.tolist()) == list(range(23)) and seen.tolist() != list(range(23))
    assert all(torch.equal(X[:, 0], y.float()) for X, y in batches)


def test_data_iter_order_follows_pythons_random_seed():
    features, labels = torch.randn(50, 2), torch.arange(50)
    random.seed(1)
    first = [y.tolist() for _, y in d2l.data_iter(10, features, labels)]
    random.seed(1)
    assert [y.tolist() for _, y in d2l.data_iter(10, features, labels)] == first


def test_data_iter_refuses_mismatched_data():
    with pytest.raises(UsageError, match="one label per example"):
        next(d2l.data_iter(2, torch.zeros(4, 1), torch.zeros(3)))
    with pytest.raises(UsageError, match="batch_size must be a positive integer"):
        next(d2l.data_iter(0, torch.zeros(4, 1), torch.zeros(4)))


# --------------------------------------------------------------------------- root=


@realdata
@pytest.mark.parametrize("layout", ["FashionMNIST/raw", "."])
def test_root_is_looked_in_first(tmp_path, monkeypatch, layout):
    """torchvision's layout under root (what the edition's download left), or the bare files."""
    root = tmp_path / "Datasets" / "FashionMNIST"
    (root / layout).mkdir(parents=True, exist_ok=True)
    for path in SYSTEM_FASHION_MNIST.glob("*.gz"):
        shutil.copy(path, root / layout / path.name)
    monkeypatch.setattr("shallownet.data.locate._download_into", no_network)
    found = d2lzh_data._fashion_mnist(str(root))
    assert found.directory.resolve() == (root / layout).resolve() and found.verified
    train_iter, test_iter = d2l.load_data_fashion_mnist(256, root=str(root))
    assert len(train_iter.dataset) == 60000 and len(test_iter.dataset) == 10000


def test_a_damaged_copy_in_root_is_reported_not_skipped(tmp_path, monkeypatch):
    write_tiny_dataset(tmp_path / "root" / "FashionMNIST" / "raw")  # not the published files
    monkeypatch.setattr("shallownet.data.locate._download_into", no_network)
    with pytest.raises(ChecksumError, match="does not match the published"):
        d2l.load_data_fashion_mnist(256, root=str(tmp_path / "root"))


@realdata
def test_a_course_server_path_runs_from_the_local_copy(tmp_path, monkeypatch):
    """root='/home/kesci/input/FashionMNIST2065' exists only on the course's servers."""
    root = tmp_path / "home" / "kesci" / "input" / "FashionMNIST2065"
    monkeypatch.setattr("shallownet.data.locate._download_into", no_network)
    train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size=256, root=str(root))
    X, y = next(iter(train_iter))
    assert X.shape == (256, 1, 28, 28) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert float(X.min()) >= 0 and float(X.max()) <= 1
    assert len(test_iter.dataset) == 10000
    assert not (tmp_path / "home").exists()  # nothing created where the course kept its data


def test_with_no_copy_anywhere_it_downloads_into_root(tmp_path, monkeypatch):
    files = write_tiny_dataset(tmp_path / "published")
    monkeypatch.setitem(catalog.CATALOG, "fashion-mnist", spec_for(files))
    with serving(monkeypatch) as server:
        monkeypatch.setenv("SHALLOWNET_MIRRORS", server.serve_files(files.values(), "/fm"))
        train_iter, test_iter = d2l.load_data_fashion_mnist(8, root=str(tmp_path / "root"))
    assert len(train_iter.dataset) == 30 and len(test_iter.dataset) == 10
    assert sorted(p.name for p in (tmp_path / "root").rglob("*.gz")) == sorted(
        p.name for p in files.values())


def test_a_root_that_cannot_be_made_downloads_into_the_cache_with_a_warning(tmp_path,
                                                                            monkeypatch):
    files = write_tiny_dataset(tmp_path / "published")
    monkeypatch.setitem(catalog.CATALOG, "fashion-mnist", spec_for(files))
    (tmp_path / "a-file").write_text("not a directory")
    with serving(monkeypatch) as server, \
            pytest.warns(UserWarning, match="cannot create root=.*user cache"):
        monkeypatch.setenv("SHALLOWNET_MIRRORS", server.serve_files(files.values(), "/fm"))
        train_iter, _ = d2l.load_data_fashion_mnist(8, root=str(tmp_path / "a-file" / "root"))
    assert len(train_iter.dataset) == 30


@realdata
def test_quick_mode_keeps_the_first_examples_and_says_so(monkeypatch, capsys):
    monkeypatch.setenv(d2lzh_data.QUICK_ENV, "1")
    train_iter, test_iter = d2l.load_data_fashion_mnist(256)
    assert (len(train_iter.dataset), len(test_iter.dataset)) == d2lzh_data.QUICK_EXAMPLES
    assert len(train_iter) == 8
    assert "SHALLOWNET_QUICK is set: training on the first 2048" in capsys.readouterr().err


@realdata
def test_resize_gives_larger_images():
    train_iter, _ = d2l.load_data_fashion_mnist(16, resize=32)
    X, _ = next(iter(train_iter))
    assert X.shape == (16, 1, 32, 32)


@realdata
def test_the_loaders_iterators_have_pytorch_1s_next():
    """3.6 takes its first test batch with ``iter(test_iter).next()``."""
    _, test_iter = d2l.load_data_fashion_mnist(256)
    X, y = iter(test_iter).next()
    first, _ = next(iter(test_iter))
    assert torch.equal(X, first) and y.shape == (256,)
    batches = iter(test_iter)
    assert iter(batches) is batches and sum(1 for _ in batches) == len(test_iter)
