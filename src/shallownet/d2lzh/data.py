"""The edition's data helpers: ``data_iter`` and Fashion-MNIST with its ``root=``.

``load_data_fashion_mnist(batch_size, resize=None, root='~/Datasets/FashionMNIST')``
looks for the data in this order, and downloads only when no copy exists:

1. ``root`` itself: the four IDX files (``.gz`` or not) in it, or in
   torchvision's layout under it (``root/FashionMNIST/raw``), as the edition's
   ``torchvision.datasets.FashionMNIST(root=root)`` left them;
2. shallownet's usual places (the user cache, the Debian copy in
   ``/usr/share/datasets``, ``../data``), so that a course's path such as
   ``/home/kesci/input/FashionMNIST2065``, which exists only on its servers,
   still runs;
3. a verified download into ``root`` (into the user cache when ``root``
   cannot be created).

The loaders are shallownet's in-memory ones (:mod:`shallownet.d2l.data`): no
worker processes, a batch gathered and scaled in one operation.
``SHALLOWNET_QUICK=1`` keeps the first 2,048 training and 512 test images,
to run a section's code in seconds (tests, a first try).
"""

from __future__ import annotations

import functools
import os
import random
import warnings
from pathlib import Path

import torch

from shallownet.d2l.data import (
    BOOK_DATA_DIR,
    QUICK_ENV,
    QUICK_EXAMPLES,
    BookLoader,
    image_loaders,
    quick_limit,
    say_quick,
)
from shallownet.data.catalog import get_fashion_mnist_labels, get_spec
from shallownet.data.locate import RawImageData, fetch_dataset, find_files, locate_dataset
from shallownet.errors import DatasetNotFoundError, UsageError

__all__ = ["EditionLoader", "data_iter", "load_data_fashion_mnist", "get_fashion_mnist_labels",
           "QUICK_ENV", "QUICK_EXAMPLES", "quick_limit"]

#: The edition's default ``root``.
DEFAULT_ROOT = "~/Datasets/FashionMNIST"


class EditionLoader(BookLoader):
    """The in-memory loader, whose iterators also have the ``.next()`` of PyTorch 1.x's
    ``DataLoader`` iterators, which the edition calls (``iter(test_iter).next()``)."""

    def __iter__(self) -> _Batches:
        return _Batches(super().__iter__())


class _Batches:
    """An iterator over batches with ``next()`` besides ``__next__``."""

    def __init__(self, batches) -> None:
        self._batches = batches

    def __iter__(self) -> _Batches:
        return self

    def __next__(self):
        return next(self._batches)

    def next(self):
        """The next batch, as ``next(it)`` (PyTorch 1.x's spelling)."""
        return next(self._batches)


def data_iter(batch_size, features, labels):
    """Minibatches ``(X, y)`` of ``batch_size`` rows of ``features`` and ``labels``, in a random
    order drawn from Python's ``random`` (seed it with ``random.seed``); the last may be shorter.
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise UsageError(f"batch_size must be a positive integer, not {batch_size!r}.")
    num_examples = len(features)
    if len(labels) != num_examples:
        raise UsageError(f"features has {num_examples} rows but labels has {len(labels)}: "
                         "give one label per example.")
    indices = list(range(num_examples))
    random.shuffle(indices)
    for i in range(0, num_examples, batch_size):
        j = torch.tensor(indices[i:i + batch_size], dtype=torch.long)
        yield features.index_select(0, j), labels.index_select(0, j)


@functools.lru_cache(maxsize=4)
def _fashion_mnist(root: str) -> RawImageData:
    """The stored arrays, found (verified) once per process and ``root`` (see the module)."""
    spec = get_spec("fashion-mnist")
    where = Path(root).expanduser()
    if where.is_dir() and find_files(spec, where) is not None:
        return locate_dataset(spec, data_dir=where, download_missing=False)
    try:
        return locate_dataset(spec, download_missing=False, also_in=[BOOK_DATA_DIR])
    except DatasetNotFoundError:
        pass
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        warnings.warn(f"cannot create root={root!r} ({exc.strerror}): downloading Fashion-MNIST "
                      "into shallownet's user cache instead.", stacklevel=3)
        return locate_dataset(spec)
    return fetch_dataset(spec, data_dir=where)


def load_data_fashion_mnist(batch_size, resize=None, root=DEFAULT_ROOT) -> tuple[EditionLoader,
                                                                                   EditionLoader]:
    """``(train_iter, test_iter)`` over Fashion-MNIST: ``X`` float32 (B, 1, 28, 28) in [0, 1]
    (``x / 255``), ``y`` int64; (B, 1, resize, resize) with ``resize``, resized bilinearly.

    The training loader is reshuffled on every pass (torch's global generator);
    the test loader is not; ``iter(test_iter).next()`` works, as in PyTorch 1.x. ``root`` is
    looked in first (see the module).
    """
    raw = _fashion_mnist(os.fspath(root))
    limit = quick_limit()
    if limit is not None:
        say_quick("d2lzh", limit)
    return image_loaders(raw, batch_size, resize, limit=limit, loader=EditionLoader)
