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
    "FashionMNIST",
    "synthetic_data",
    "load_array",
    "load_data_fashion_mnist",
    "get_fashion_mnist_labels",
    "get_dataloader_workers",
    "image_loaders",
]

#: Where the book's ``load_data_fashion_mnist`` keeps the data (``root="../data"``): an
#: existing copy there is used after shallownet's own places.
BOOK_DATA_DIR = "../data"


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


class FashionMNIST(Dataset):
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


@functools.lru_cache(maxsize=1)
def _fashion_mnist() -> RawImageData:
    """The stored arrays, found (and verified) once per process."""
    return locate_dataset("fashion-mnist", also_in=[BOOK_DATA_DIR])


def load_data_fashion_mnist(batch_size, resize=None) -> tuple[BookLoader, BookLoader]:
    """``(train_iter, test_iter)`` over Fashion-MNIST: ``X`` float32 (B, 1, 28, 28), ``y`` int64.

    ``resize`` (an int or (height, width)) gives (B, 1, resize, resize)
    instead, resized bilinearly with antialiasing a batch at a time. The
    training loader is reshuffled on every pass; the test loader is not.
    The data is found offline where :func:`~shallownet.data.locate.locate_dataset`
    looks (then in the book's ``../data``), and downloaded with checksums
    only when no copy exists.
    """
    return image_loaders(_fashion_mnist(), batch_size, resize)


def image_loaders(raw: RawImageData, batch_size, resize=None, *,
                  limit: tuple[int, int] | None = None,
                  loader: type[BookLoader] = BookLoader) -> tuple[BookLoader, BookLoader]:
    """``(train_iter, test_iter)`` over the images of ``raw``, as :func:`load_data_fashion_mnist`
    describes; ``limit`` keeps only the first (train, test) examples of each split; the
    loaders are of class ``loader``."""
    size = None if resize is None else size_pair(resize)

    def to_float(batch):
        images, labels = batch
        return scale_images(images, size), labels

    loaders = []
    splits = ((raw.train_images, raw.train_labels, True), (raw.test_images, raw.test_labels, False))
    for k, (images, labels, shuffle) in enumerate(splits):
        if limit is not None:
            images, labels = images[:limit[k]], labels[:limit[k]]
        images = torch.from_numpy(np.ascontiguousarray(images))
        labels = torch.from_numpy(labels.astype(np.int64))
        loaders.append(loader(images, labels, batch_size=batch_size, shuffle=shuffle,
                              transform=to_float, dataset=FashionMNIST(images, labels, size)))
    return loaders[0], loaders[1]
