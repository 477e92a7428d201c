"""The book's data helpers: in-memory minibatches shuffled by torch's global RNG, Fashion-MNIST."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from shallownet import d2l
from shallownet.d2l import data as d2l_data
from shallownet.data import catalog, locate_dataset, read_idx
from shallownet.data.catalog import FASHION_MNIST
from shallownet.errors import DatasetNotFoundError, UsageError
from tests.conftest import SYSTEM_FASHION_MNIST, requires_real_data, write_tiny_dataset


def realdata(test):
    """Needs the real Fashion-MNIST files (skipped without them, except in CI)."""
    return requires_real_data(pytest.mark.realdata(test))


def indexed(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Features whose rows encode their index, and the index as the label."""
    y = torch.arange(n)
    return torch.stack([y.float(), -y.float()], dim=1), y


def labels_of_a_pass(loader) -> list[int]:
    out = []
    for X, y in loader:
        assert torch.equal(X[:, 0], y.float())  # features stay with their labels
        out += y.tolist()
    return out


# --------------------------------------------------------------------------- load_array


def test_load_array_visits_every_example_once_per_pass():
    loader = d2l.load_array(indexed(23), 5)
    for _ in range(3):
        assert sorted(labels_of_a_pass(loader)) == list(range(23))
    assert [len(y) for _, y in loader] == [5, 5, 5, 5, 3]


def test_load_array_reshuffles_on_every_pass():
    loader = d2l.load_array(indexed(50), 10)
    passes = [labels_of_a_pass(loader) for _ in range(3)]
    assert passes[0] != passes[1] != passes[2]
    assert passes[0] != list(range(50))


def test_load_array_order_follows_torch_manual_seed():
    loader = d2l.load_array(indexed(50), 10)
    torch.manual_seed(3)
    first = [labels_of_a_pass(loader) for _ in range(2)]
    torch.manual_seed(3)
    assert [labels_of_a_pass(loader) for _ in range(2)] == first
    torch.manual_seed(3)
    assert labels_of_a_pass(d2l.load_array(indexed(50), 10)) == first[0]


def test_load_array_keeps_the_order_when_not_training():
    loader = d2l.load_array(indexed(12), 5, is_train=False)
    assert labels_of_a_pass(loader) == list(range(12))
    assert labels_of_a_pass(loader) == list(range(12))


def test_load_array_has_a_tensor_dataset_and_a_batch_count():
    X, y = indexed(23)
    loader = d2l.load_array((X, y), 5)
    assert isinstance(loader.dataset, TensorDataset)
    assert len(loader.dataset) == 23
    assert torch.equal(loader.dataset[4][0], X[4]) and int(loader.dataset[4][1]) == 4
    assert len(loader) == 5 and loader.batch_size == 5
    assert len(d2l.load_array((X, y), 23)) == 1


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_load_array_refuses_a_bad_batch_size(batch_size):
    with pytest.raises(UsageError, match="batch_size"):
        d2l.load_array(indexed(10), batch_size)


def test_a_torch_dataloader_over_the_dataset_with_the_book_workers():
    assert d2l.get_dataloader_workers() == 0
    loader = d2l.load_array(indexed(10), 4)
    batches = list(DataLoader(loader.dataset, batch_size=4, shuffle=True,
                              num_workers=d2l.get_dataloader_workers()))
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == list(range(10))


# --------------------------------------------------------------------------- synthetic_data


def test_synthetic_data_shapes_and_relation():
    true_w, true_b = torch.tensor([2, -3.4]), 4.2
    features, labels = d2l.synthetic_data(true_w, true_b, 1000)
    assert features.shape == (1000, 2) and labels.shape == (1000, 1)
    residual = labels - (features @ true_w + true_b).reshape(-1, 1)
    assert residual.abs().max() < 0.1 and 0.005 < residual.std() < 0.02


def test_synthetic_data_takes_w_as_a_column():
    w = torch.tensor([[2.0], [-3.4], [1.0]])
    features, labels = d2l.synthetic_data(w, 0.5, 20)
    assert features.shape == (20, 3) and labels.shape == (20, 1)
    torch.testing.assert_close(labels, features @ w + 0.5, atol=0.1, rtol=0)


def test_synthetic_data_follows_torch_manual_seed():
    torch.manual_seed(7)
    first = d2l.synthetic_data(torch.tensor([1.0, 2.0]), 0.0, 5)
    torch.manual_seed(7)
    again = d2l.synthetic_data(torch.tensor([1.0, 2.0]), 0.0, 5)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))


def test_get_fashion_mnist_labels_of_a_tensor():
    assert d2l.get_fashion_mnist_labels(torch.tensor([0, 9, 3])) == [
        "t-shirt", "ankle boot", "dress"]
    with pytest.raises(UsageError):
        d2l.get_fashion_mnist_labels(torch.tensor([10]))


# --------------------------------------------------------------------------- Fashion-MNIST, tiny


@pytest.fixture
def tiny_fashion_mnist(tmp_path, monkeypatch):
    """load_data_fashion_mnist over a tiny random dataset (30 train, 10 test images)."""
    files = write_tiny_dataset(tmp_path / "tiny")
    raw = locate_dataset(FASHION_MNIST, data_dir=tmp_path / "tiny", verify=False,
                         download_missing=False)
    monkeypatch.setattr(d2l_data, "fashion_mnist_arrays", lambda root=None: raw)
    return {key: read_idx(path) for key, path in files.items()}


def test_fashion_mnist_batches_are_the_stored_images_over_255(tiny_fashion_mnist):
    train_iter, test_iter = d2l.load_data_fashion_mnist(4)
    X, y = next(iter(test_iter))
    assert X.dtype == torch.float32 and y.dtype == torch.int64
    expected = torch.from_numpy(tiny_fashion_mnist["test_images"][:4]).float()[:, None] / 255
    torch.testing.assert_close(X, expected)
    assert y.tolist() == tiny_fashion_mnist["test_labels"][:4].tolist()
    assert [len(y) for _, y in train_iter] == [4] * 7 + [2]
    assert len(train_iter) == 8 and len(test_iter) == 3


def test_fashion_mnist_dataset_items_match_the_batches(tiny_fashion_mnist):
    for resize in (None, 14, (20, 12)):
        _, test_iter = d2l.load_data_fashion_mnist(10, resize=resize)
        X, y = next(iter(test_iter))
        for i in (0, 9):
            image, label = test_iter.dataset[i]
            assert isinstance(label, int) and label == int(y[i])
            torch.testing.assert_close(image, X[i])


# --------------------------------------------------------------------------- Fashion-MNIST, real


@realdata
def test_fashion_mnist_batch_types_shapes_and_counts():
    train_iter, test_iter = d2l.load_data_fashion_mnist(256)
    X, y = next(iter(train_iter))
    assert X.dtype == torch.float32 and X.shape == (256, 1, 28, 28)
    assert y.dtype == torch.int64 and y.shape == (256,)
    assert X.min() >= 0 and X.max() <= 1 and X.max() > 0.9
    assert len(train_iter) == 235 and len(test_iter) == 40
    assert len(train_iter.dataset) == 60000 and len(test_iter.dataset) == 10000


@realdata
def test_fashion_mnist_train_pass_covers_every_example_with_a_short_last_batch():
    train_iter, _ = d2l.load_data_fashion_mnist(256)
    sizes, counts = [], torch.zeros(10, dtype=torch.int64)
    for _, y in train_iter:
        sizes.append(len(y))
        counts += torch.bincount(y, minlength=10)
    assert sizes == [256] * 234 + [96]
    assert counts.tolist() == [6000] * 10


@realdata
def test_fashion_mnist_test_loader_is_not_shuffled_and_train_is():
    train_iter, test_iter = d2l.load_data_fashion_mnist(256)
    first = [y for _, y in test_iter]
    second = [y for _, y in test_iter]
    assert [len(y) for y in first] == [256] * 39 + [16]
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert not torch.equal(next(iter(train_iter))[1], next(iter(train_iter))[1])


@realdata
def test_fashion_mnist_train_order_follows_torch_manual_seed():
    train_iter, _ = d2l.load_data_fashion_mnist(256)
    torch.manual_seed(0)
    first = next(iter(train_iter))
    torch.manual_seed(0)
    again = next(iter(d2l.load_data_fashion_mnist(256)[0]))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])


@realdata
def test_fashion_mnist_resized():
    train_iter, test_iter = d2l.load_data_fashion_mnist(32, resize=64)
    X, y = next(iter(train_iter))
    assert X.shape == (32, 1, 64, 64) and X.dtype == torch.float32 and y.shape == (32,)
    assert X.min() >= 0 and X.max() <= 1
    image, label = test_iter.dataset[0]
    assert image.shape == (1, 64, 64) and isinstance(label, int)
    torch.testing.assert_close(image, next(iter(test_iter))[0][0])
    X, _ = next(iter(d2l.load_data_fashion_mnist(8, resize=(32, 48))[1]))
    assert X.shape == (8, 1, 32, 48)


@realdata
def test_fashion_mnist_dataset_item_is_the_first_test_example():
    _, test_iter = d2l.load_data_fashion_mnist(256)
    image, label = test_iter.dataset[0]
    assert isinstance(image, torch.Tensor) and image.shape == (1, 28, 28)
    assert image.dtype == torch.float32 and isinstance(label, int)
    X, y = next(iter(test_iter))
    assert torch.equal(image, X[0]) and label == int(y[0])
    assert d2l.get_fashion_mnist_labels(y[:2]) == ["ankle boot", "pullover"]


@realdata
@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_fashion_mnist_refuses_a_bad_batch_size(batch_size):
    with pytest.raises(UsageError, match="batch_size"):
        d2l.load_data_fashion_mnist(batch_size)


@realdata
def test_a_torch_dataloader_over_the_fashion_mnist_dataset():
    train_iter, _ = d2l.load_data_fashion_mnist(256)
    loader = DataLoader(train_iter.dataset, batch_size=64, shuffle=True,
                        num_workers=d2l.get_dataloader_workers())
    X, y = next(iter(loader))
    assert X.shape == (64, 1, 28, 28) and X.dtype == torch.float32
    assert y.shape == (64,) and y.dtype == torch.int64


# --------------------------------------------------------------------------- also_in, ../data


@pytest.fixture
def book_copy(tmp_path, monkeypatch):
    """The real files in ``tmp/data/FashionMNIST/raw`` (torchvision's layout, the book's root),
    an empty cache, and no system copies."""
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for path in SYSTEM_FASHION_MNIST.glob("*.gz"):
        shutil.copy(path, raw / path.name)
    monkeypatch.setenv("SHALLOWNET_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setitem(catalog.CATALOG, "fashion-mnist",
                        dataclasses.replace(FASHION_MNIST, system_dirs=()))
    return tmp_path / "data"


@realdata
def test_locate_dataset_also_looks_in_named_directories(book_copy):
    found = locate_dataset("fashion-mnist", also_in=[book_copy], download_missing=False)
    assert found.source == "local" and found.verified
    assert found.train_images.shape == (60000, 28, 28)
    with pytest.raises(DatasetNotFoundError, match="local copy"):
        locate_dataset("fashion-mnist", also_in=[book_copy / "elsewhere"],
                       download_missing=False)


@realdata
def test_the_book_data_directory_is_used(book_copy, monkeypatch):
    (book_copy.parent / "notebooks").mkdir()
    monkeypatch.chdir(book_copy.parent / "notebooks")  # the book's root="../data"
    monkeypatch.setattr("shallownet.data.locate._download_into", no_network)
    found = d2l_data.fashion_mnist_arrays.__wrapped__()
    assert found.source == "local"
    assert found.directory.resolve() == (book_copy / "FashionMNIST" / "raw").resolve()


def no_network(*args, **kwargs):
    raise AssertionError("tried to download")


@pytest.fixture
def tiny_book_copy(tmp_path, monkeypatch):
    """A tiny random dataset (not the published files) in the book's layout; no system copies."""
    write_tiny_dataset(tmp_path / "data" / "FashionMNIST" / "raw")
    monkeypatch.setitem(catalog.CATALOG, "fashion-mnist",
                        dataclasses.replace(FASHION_MNIST, system_dirs=()))
    return tmp_path / "data"


def test_also_in_finds_a_copy_in_the_books_layout(tiny_book_copy):
    found = locate_dataset("fashion-mnist", also_in=[tiny_book_copy], download_missing=False,
                           verify=False)
    assert found.source == "local"
    assert found.train_images.shape == (30, 28, 28) and found.test_labels.shape == (10,)


def test_also_in_skips_a_bad_copy_with_a_warning(tiny_book_copy):
    with pytest.warns(UserWarning, match="ignoring a bad local copy"), \
            pytest.raises(DatasetNotFoundError, match="local copy"):
        locate_dataset("fashion-mnist", also_in=[tiny_book_copy], download_missing=False)
