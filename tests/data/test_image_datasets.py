"""Image datasets as float tensors: tiny on-the-fly datasets, and the real Fashion-MNIST."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shallownet.data import (
    FASHION_MNIST_LABELS,
    ArrayLoader,
    ImageData,
    get_fashion_mnist_labels,
    get_spec,
    images_to_tensor,
    load_data_fashion_mnist,
    load_fashion_mnist,
    load_image_dataset,
    read_idx,
    write_idx,
)
from shallownet.data.catalog import FASHION_MNIST
from shallownet.errors import ChecksumError, UsageError
from tests.conftest import requires_real_data, spec_for

BOOK_LABELS = [
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
]  # fmt: skip


def raw_arrays(files) -> dict[str, np.ndarray]:
    return {key: read_idx(path) for key, path in files.items()}


# --------------------------------------------------------------------------- tiny datasets


def test_tiny_dataset_as_float_tensors(tiny_dataset):
    directory, files, spec = tiny_dataset
    raw = raw_arrays(files)
    data = load_image_dataset(spec, data_dir=directory, download=False)
    assert isinstance(data, ImageData)
    assert data.name == "fashion-mnist"
    assert data.source == "explicit"
    assert data.verified is True
    assert data.directory == directory
    assert data.classes == FASHION_MNIST_LABELS
    assert data.mean is None and data.std is None
    assert data.image_shape == (1, 28, 28)
    for split, n in (("train", 30), ("test", 10)):
        images = getattr(data, f"{split}_images")
        labels = getattr(data, f"{split}_labels")
        assert images.dtype == torch.float32
        assert images.shape == (n, 1, 28, 28)
        assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
        expected = torch.from_numpy(raw[f"{split}_images"].astype(np.float32) / 255.0)
        torch.testing.assert_close(images[:, 0], expected, rtol=0, atol=1e-7)
        assert labels.dtype == torch.int64
        assert labels.shape == (n,)
        assert labels.tolist() == raw[f"{split}_labels"].tolist()
        assert labels.tolist() == [i % 10 for i in range(n)]


def test_wrong_checksums_are_refused_unless_verify_is_off(tiny_dataset):
    directory, _, _ = tiny_dataset
    with pytest.raises(ChecksumError, match="does not match"):
        load_image_dataset("fashion-mnist", data_dir=directory, download=False)
    data = load_image_dataset("fashion-mnist", data_dir=directory, download=False, verify=False)
    assert data.verified is False
    assert data.train_images.shape == (30, 1, 28, 28)


@pytest.mark.parametrize(("resize", "shape"), [(14, (14, 14)), ((20, 24), (20, 24)),
                                               ([32, 16], (32, 16))])
def test_resize(tiny_dataset, resize, shape):
    directory, _, spec = tiny_dataset
    data = load_image_dataset(spec, data_dir=directory, resize=resize, download=False)
    assert data.train_images.shape == (30, 1, *shape)
    assert data.test_images.shape == (10, 1, *shape)
    assert data.image_shape == (1, *shape)
    for images in (data.train_images, data.test_images):
        assert images.dtype == torch.float32
        assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    # resizing keeps the overall brightness
    plain = load_image_dataset(spec, data_dir=directory, download=False)
    assert abs(float(data.train_images.mean()) - float(plain.train_images.mean())) < 0.01


def test_resize_to_the_same_size_is_the_identity(tiny_dataset):
    directory, _, spec = tiny_dataset
    plain = load_image_dataset(spec, data_dir=directory, download=False)
    same = load_image_dataset(spec, data_dir=directory, resize=28, download=False)
    torch.testing.assert_close(same.train_images, plain.train_images, atol=1e-6, rtol=0)


def test_images_to_tensor_resizes_in_chunks():
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    whole = images_to_tensor(images, resize=14)
    chunked = images_to_tensor(images, resize=14, chunk=3)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=0)
    constant = images_to_tensor(np.full((2, 28, 28), 255, dtype=np.uint8), resize=(10, 12))
    torch.testing.assert_close(constant, torch.ones(2, 1, 10, 12))


@pytest.mark.parametrize(
    "resize",
    [0, -3, (28,), (1, 2, 3), (14.0, 14), "14", (0, 5), 2.5, True, (True, 14)],
    ids=repr,
)
def test_bad_resize_raises_usage_error(tiny_dataset, resize):
    directory, _, spec = tiny_dataset
    with pytest.raises(UsageError, match="resize"):
        load_image_dataset(spec, data_dir=directory, resize=resize, download=False)


def write_two_tone_dataset(directory):
    """Train images spread over 0..255, test images much darker: their statistics differ."""
    rng = np.random.default_rng(5)
    arrays = {
        "train_images": rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(40) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 60, (12, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(12) % 10).astype(np.uint8),
    }
    directory.mkdir()
    files = {
        key: write_idx(directory / f"{FASHION_MNIST.files[key].name}.gz", array)
        for key, array in arrays.items()
    }
    return files, arrays


def test_normalize_uses_training_statistics(tmp_path):
    directory = tmp_path / "two-tone"
    files, arrays = write_two_tone_dataset(directory)
    data = load_image_dataset(spec_for(files), data_dir=directory, normalize=True,
                              download=False)
    train = torch.from_numpy(arrays["train_images"].astype(np.float32) / 255).unsqueeze(1)
    test = torch.from_numpy(arrays["test_images"].astype(np.float32) / 255).unsqueeze(1)
    assert abs(float(data.train_images.mean())) < 1e-5
    assert abs(float(data.train_images.std()) - 1.0) < 1e-4
    assert data.mean == pytest.approx(float(train.mean()), abs=1e-6)
    assert data.std == pytest.approx(float(train.std()), abs=1e-6)
    expected = (test - float(train.mean())) / float(train.std())
    torch.testing.assert_close(data.test_images, expected, atol=1e-5, rtol=0)
    # the test split was not standardised with its own statistics
    assert float(data.test_images.mean()) < -1.0


def test_normalize_with_a_given_pair(tiny_dataset):
    directory, files, spec = tiny_dataset
    raw = raw_arrays(files)
    data = load_image_dataset(spec, data_dir=directory, normalize=(0.5, 0.5), download=False)
    assert (data.mean, data.std) == (0.5, 0.5)
    expected = torch.from_numpy(raw["test_images"].astype(np.float32) / 255 * 2 - 1)
    torch.testing.assert_close(data.test_images[:, 0], expected, atol=1e-6, rtol=0)
    assert float(data.train_images.min()) >= -1.0 and float(data.train_images.max()) <= 1.0
    assert float(data.train_images.min()) < -0.9  # really shifted, not left in [0, 1]


@pytest.mark.parametrize("pair", [(0.5, 0.0), (0.5, -1.0)])
def test_normalize_rejects_non_positive_std(tiny_dataset, pair):
    directory, _, spec = tiny_dataset
    with pytest.raises(UsageError, match="std"):
        load_image_dataset(spec, data_dir=directory, normalize=pair, download=False)


# --------------------------------------------------------------------------- catalog helpers


def test_fashion_mnist_labels_from_tensor_and_list():
    assert list(FASHION_MNIST_LABELS) == BOOK_LABELS
    assert get_fashion_mnist_labels(torch.arange(10)) == BOOK_LABELS
    assert get_fashion_mnist_labels(list(range(10))) == BOOK_LABELS
    assert get_fashion_mnist_labels([9, 0, 5]) == ["ankle boot", "t-shirt", "sandal"]
    assert get_fashion_mnist_labels(torch.tensor([[1], [8]])) == ["trouser", "bag"]
    assert get_fashion_mnist_labels(np.array([3, 3])) == ["dress", "dress"]
    assert get_fashion_mnist_labels([]) == []


@pytest.mark.parametrize("bad", [-1, 10])
def test_fashion_mnist_labels_out_of_range(bad):
    with pytest.raises(UsageError):
        get_fashion_mnist_labels([bad])


@pytest.mark.parametrize(
    ("name", "expected"),
    [("fashion-mnist", "fashion-mnist"), ("Fashion_MNIST", "fashion-mnist"),
     ("fashionmnist", "fashion-mnist"), ("FashionMNIST", "fashion-mnist"),
     ("  fashion-mnist ", "fashion-mnist"), ("MNIST", "mnist"), ("mnist", "mnist")],
)
def test_get_spec_aliases(name, expected):
    assert get_spec(name).name == expected


def test_get_spec_passes_a_spec_through(tiny_dataset):
    _, _, spec = tiny_dataset
    assert get_spec(spec) is spec


@pytest.mark.parametrize("name", ["cifar10", "fashion mnist", ""])
def test_get_spec_unknown_name(name):
    with pytest.raises(UsageError, match="unknown image dataset") as exc:
        get_spec(name)
    assert "fashion-mnist" in str(exc.value) and "mnist" in str(exc.value)


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def real_fashion_mnist(tmp_path_factory):
    """The real Fashion-MNIST, loaded once for the module with an empty user cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SHALLOWNET_CACHE", str(tmp_path_factory.mktemp("module-cache")))
        mp.delenv("SHALLOWNET_DATA", raising=False)
        return load_fashion_mnist(download=False)


@requires_real_data
def test_real_fashion_mnist_sizes_and_classes(real_fashion_mnist):
    data = real_fashion_mnist
    assert data.name == "fashion-mnist"
    assert data.train_images.shape == (60_000, 1, 28, 28)
    assert data.test_images.shape == (10_000, 1, 28, 28)
    assert data.train_labels.shape == (60_000,) and data.test_labels.shape == (10_000,)
    assert data.train_images.dtype == torch.float32
    assert data.train_labels.dtype == torch.int64
    assert torch.bincount(data.train_labels, minlength=10).tolist() == [6000] * 10
    assert torch.bincount(data.test_labels, minlength=10).tolist() == [1000] * 10
    assert data.classes == tuple(BOOK_LABELS)


@requires_real_data
def test_real_fashion_mnist_values_and_provenance(real_fashion_mnist):
    data = real_fashion_mnist
    for images in (data.train_images, data.test_images):
        assert float(images.min()) == 0.0
        assert float(images.max()) == 1.0
    assert data.verified is True
    assert data.source == "system"
    assert str(data.directory).startswith("/usr/share/datasets/fashion-mnist")


@requires_real_data
def test_real_load_data_fashion_mnist(real_fashion_mnist):
    train_iter, test_iter = load_data_fashion_mnist(256, download=False)
    assert isinstance(train_iter, ArrayLoader) and isinstance(test_iter, ArrayLoader)
    assert len(train_iter) == 235
    assert len(test_iter) == 40
    X, y = next(iter(train_iter))
    assert X.dtype == torch.float32 and X.shape == (256, 1, 28, 28)
    assert y.dtype == torch.int64 and y.shape == (256,)

    train_batches = list(train_iter)
    assert len(train_batches) == 235
    assert len(train_batches[-1][1]) == 60_000 - 234 * 256
    all_train = torch.cat([yb for _, yb in train_batches])
    assert torch.bincount(all_train, minlength=10).tolist() == [6000] * 10
    assert not torch.equal(train_batches[0][1], real_fashion_mnist.train_labels[:256])

    test_batches = list(test_iter)
    assert len(test_batches) == 40
    assert len(test_batches[-1][1]) == 10_000 - 39 * 256
    # the test iterator is not shuffled
    assert torch.equal(test_batches[0][0], real_fashion_mnist.test_images[:256])
    assert torch.equal(torch.cat([yb for _, yb in test_batches]), real_fashion_mnist.test_labels)


@requires_real_data
def test_real_load_data_fashion_mnist_resized():
    train_iter, test_iter = load_data_fashion_mnist(256, resize=32, download=False)
    X, y = next(iter(train_iter))
    assert X.shape == (256, 1, 32, 32) and X.dtype == torch.float32
    assert y.shape == (256,) and y.dtype == torch.int64
    Xt, _ = next(iter(test_iter))
    assert Xt.shape == (256, 1, 32, 32)
    assert float(X.min()) >= 0.0 and float(X.max()) <= 1.0
