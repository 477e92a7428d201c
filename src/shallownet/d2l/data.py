"""The book's data helpers: synthetic regression data, minibatches, Fashion-MNIST.

Everything is in memory. The book's ``DataLoader`` converts one image at a
time in 4 worker processes (which crash on some systems); here a batch is
gathered with one indexing operation and converted from the stored uint8
images in one go, in the main process. Shuffling draws from torch's global
generator, as a ``DataLoader`` does, so ``torch.manual_seed`` makes runs
repeat.
"""

from __future__ import annotations

import functools
import os
import sys

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from shallownet.data.catalog import FASHION_MNIST_LABELS, get_fashion_mnist_labels
from shallownet.data.image_datasets import scale_images, size_pair
from shallownet.data.iterator import ArrayLoader
from shallownet.data.locate import RawImageData, locate_dataset
from shallownet.data.synthetic import synthetic_data

__all__ = [
    "BookLoader",
    "FashionMNISTImages",
    "synthetic_data",
    "load_array",
    "load_data_fashion_mnist",
    "get_fashion_mnist_labels",
    "get_dataloader_workers",
    "image_loader",
    "image_loaders",
    "QUICK_ENV",
    "QUICK_EXAMPLES",
    "quick_limit",
]

#: Where the book's ``load_data_fashion_mnist`` keeps the data (``root="../data"``): an
#: existing copy there is used after shallownet's own places.
BOOK_DATA_DIR = "../data"
#: Set to 1 (or yes, true) to train and test on the first examples only.
QUICK_ENV = "SHALLOWNET_QUICK"
#: (training, test) examples kept under ``SHALLOWNET_QUICK``.
QUICK_EXAMPLES = (2048, 512)


def quick_limit() -> tuple[int, int] | None:
    """``QUICK_EXAMPLES`` when ``SHALLOWNET_QUICK`` is set to a true value, else None."""
    value = os.environ.get(QUICK_ENV, "").strip().lower()
    if value in ("", "0", "no", "false", "off"):
        return None
    return QUICK_EXAMPLES


@functools.cache
def say_quick(package: str, limit: tuple[int, int]) -> None:
    """Say once per process that ``SHALLOWNET_QUICK`` shortened the data."""
    print(f"{package}: {QUICK_ENV} is set: training on the first {limit[0]} and testing on the "
          f"first {limit[1]} images", file=sys.stderr, flush=True)


class BookLoader(ArrayLoader):
    """An in-memory :class:`~shallownet.data.iterator.ArrayLoader` that also has ``.dataset``.

    Like a ``DataLoader``: ``len()`` is the number of batches, ``.batch_size``
    and ``.dataset`` are there, and each iteration over a shuffled loader
    draws a new order from torch's global generator.
    """

    def __init__(self, *tensors: torch.Tensor, dataset: Dataset, **kwargs) -> None:
        super().__init__(*tensors, seed=None, **kwargs)
        self.dataset = dataset


def load_array(data_arrays, batch_size, is_train=True) -> BookLoader:
    """Minibatches of the tensors in ``data_arrays``, reshuffled every pass when ``is_train``."""
    return BookLoader(*data_arrays, batch_size=batch_size, shuffle=is_train,
                      dataset=TensorDataset(*data_arrays))


def get_dataloader_workers() -> int:
    """0: the book used 4 worker processes; loading here needs none (kept for old code).

    Code that passes this to its own ``torch.utils.data.DataLoader`` then
    loads in the main process, which works everywhere.
    """
    return 0


class FashionMNISTImages(Dataset):
    """One split of Fashion-MNIST as a ``Dataset``, item by item as torchvision gives it.

    Item ``i`` is ``(image, label)``: a float32 tensor (1, H, W) with values
    ``x / 255`` in [0, 1] (resized when ``size`` is given) and an int.
    """

    classes = FASHION_MNIST_LABELS

    def __init__(self, images: torch.Tensor, labels: torch.Tensor,
                 size: tuple[int, int] | None = None) -> None:
        self.images, self.labels, self.size = images, labels, size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return scale_images(self.images[index][None], self.size)[0], int(self.labels[index])


@functools.lru_cache(maxsize=4)
def fashion_mnist_arrays(root: str = BOOK_DATA_DIR) -> RawImageData:
    """The stored arrays, found (and verified) once per process: shallownet's places, then
    ``root``."""
    return locate_dataset("fashion-mnist", also_in=[root])


def load_data_fashion_mnist(batch_size, resize=None) -> tuple[BookLoader, BookLoader]:
    """``(train_iter, test_iter)`` over Fashion-MNIST: ``X`` float32 (B, 1, 28, 28), ``y`` int64.

    ``resize`` (an int or (height, width)) gives (B, 1, resize, resize)
    instead, resized bilinearly with antialiasing a batch at a time. The
    training loader is reshuffled on every pass; the test loader is not.
    The data is found offline where :func:`~shallownet.data.locate.locate_dataset`
    looks (then in the book's ``../data``), and downloaded with checksums
    only when no copy exists.
    """
    return image_loaders(fashion_mnist_arrays(), batch_size, resize)


def image_loader(images: torch.Tensor, labels: torch.Tensor, batch_size, shuffle: bool,
                 size: tuple[int, int] | None = None,
                 loader: type[BookLoader] = BookLoader) -> BookLoader:
    """Batches of stored uint8 ``images`` (N, H, W) as float32 (B, 1, H', W') in [0, 1] with int64
    ``labels``, resized to ``size`` a batch at a time; ``.dataset`` gives the same items one by
    one (:class:`FashionMNISTImages`)."""

    def to_float(batch):
        batch_images, batch_labels = batch
        return scale_images(batch_images, size), batch_labels

    return loader(images, labels, batch_size=batch_size, shuffle=shuffle, transform=to_float,
                  dataset=FashionMNISTImages(images, labels, size))


def split_tensors(raw: RawImageData, train: bool,
                  limit: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The (uint8 images, int64 labels) tensors of one split of ``raw``, the first ``limit[0]``
    (training) or ``limit[1]`` (test) only when ``limit`` is given. No copy is made."""
    images, labels = ((raw.train_images, raw.train_labels) if train
                      else (raw.test_images, raw.test_labels))
    if limit is not None:
        keep = limit[0 if train else 1]
        images, labels = images[:keep], labels[:keep]
    return (torch.from_numpy(np.ascontiguousarray(images)),
            torch.from_numpy(labels.astype(np.int64)))


def image_loaders(raw: RawImageData, batch_size, resize=None, *,
                  limit: tuple[int, int] | None = None,
                  loader: type[BookLoader] = BookLoader) -> tuple[BookLoader, BookLoader]:
    """``(train_iter, test_iter)`` over the images of ``raw``, as :func:`load_data_fashion_mnist`
    describes; ``limit`` keeps only the first (train, test) examples of each split; the
    loaders are of class ``loader``."""
    size = None if resize is None else size_pair(resize)
    train = image_loader(*split_tensors(raw, True, limit), batch_size, True, size, loader)
    test = image_loader(*split_tensors(raw, False, limit), batch_size, False, size, loader)
    return train, test
