"""Minibatches from tensors that already live in memory, on the target device.

Instead of a ``DataLoader`` that converts one example at a time, the whole
dataset is a few tensors; an epoch draws one random permutation and gathers
each batch with a single indexing operation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
from torch.utils.data import TensorDataset

from shallownet.errors import UsageError
from shallownet.runtime import SHUFFLE, derive_seed

__all__ = ["ArrayLoader", "load_array", "data_iter"]


class ArrayLoader:
    """Iterate over minibatches of equally long tensors.

    Every epoch (each call of ``iter``) visits each example exactly once. When
    shuffling, epoch ``e`` uses the permutation drawn from a generator seeded
    with ``(seed, e)``: the same seed gives the same batches, and the order
    differs from one epoch to the next. With ``seed=None`` the order comes
    from torch's global generator instead, as a ``DataLoader``'s does, so
    ``torch.manual_seed`` decides it.

    Parameters
    ----------
    *tensors : Tensor
        Tensors with the same first dimension ``n`` (e.g. ``X`` and ``y``).
    batch_size : int
        Examples per batch.
    shuffle : bool, default True
        Draw a new random order every epoch.
    drop_last : bool, default False
        Drop the last batch when it has fewer than ``batch_size`` examples.
    seed : int or None, default 0
        Seed of the shuffling generator; None draws from torch's global one.
    device : str or torch.device, optional
        Move the tensors there once, up front.
    transform : callable, optional
        Applied to each batch's tuple of tensors (e.g. to turn stored uint8
        images into floats a batch at a time, keeping a quarter of the memory).

    Examples
    --------
    >>> X, y = torch.randn(10, 3), torch.arange(10)
    >>> [len(xb) for xb, yb in ArrayLoader(X, y, batch_size=4)]
    [4, 4, 2]
    """

    def __init__(
        self,
        *tensors: torch.Tensor,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int | None = 0,
        device: str | torch.device | None = None,
        transform: Callable[[tuple[torch.Tensor, ...]], tuple[torch.Tensor, ...]] | None = None,
    ) -> None:
        if not tensors:
            raise UsageError("ArrayLoader needs at least one tensor.")
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            sizes = ", ".join(str(len(t)) for t in tensors)
            raise UsageError(f"ArrayLoader tensors differ in length ({sizes}); they must match.")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise UsageError(f"batch_size must be a positive integer, not {batch_size!r}.")
        self.tensors = tuple(t.to(device) if device is not None else t for t in tensors)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.transform = transform
        self.epoch = 0
        self.last_order: torch.Tensor | None = None

    @property
    def num_examples(self) -> int:
        """Examples in the dataset (``n``)."""
        return len(self.tensors[0])

    def __len__(self) -> int:
        """Batches per epoch."""
        n, b = self.num_examples, self.batch_size
        return n // b if self.drop_last else math.ceil(n / b)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration use the order of ``epoch`` (e.g. when resuming)."""
        self.epoch = epoch

    def order(self, epoch: int) -> torch.Tensor | None:
        """The permutation of epoch ``epoch`` (None when not shuffling)."""
        if not self.shuffle:
            return None
        if self.seed is None:
            return torch.randperm(self.num_examples).to(self.tensors[0].device)
        g = torch.Generator().manual_seed(derive_seed(self.seed, SHUFFLE, epoch))
        return torch.randperm(self.num_examples, generator=g).to(self.tensors[0].device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        for rows in self._batches():
            if isinstance(rows, slice):
                batch = tuple(t[rows] for t in self.tensors)
            else:
                batch = tuple(t.index_select(0, rows) for t in self.tensors)
            yield batch if self.transform is None else self.transform(batch)

    def rows(self) -> Iterator[torch.Tensor]:
        """One pass as the row indices of each batch (what ``iter`` would gather), as int64.

        For consumers that read the rows straight from ``tensors`` themselves;
        the epoch order and ``last_order`` are those of ``iter``.
        """
        for rows in self._batches():
            if isinstance(rows, slice):
                yield torch.arange(rows.start, rows.stop, device=self.tensors[0].device)
            else:
                yield rows

    def _batches(self) -> Iterator[slice | torch.Tensor]:
        """One pass: each batch's rows, as a slice (unshuffled) or a slice of the permutation."""
        perm = self.order(self.epoch)
        self.last_order = perm  # the order of the latest pass (None: unshuffled)
        self.epoch += 1
        n, b = self.num_examples, self.batch_size
        stop = n - n % b if self.drop_last else n
        for start in range(0, stop, b):
            if perm is None:
                yield slice(start, min(start + b, n))
            else:
                yield perm[start : start + b]

    def as_dataset(self) -> TensorDataset:
        """The same tensors as a ``torch.utils.data.Dataset``, to feed a ``DataLoader``."""
        return TensorDataset(*self.tensors)


def load_array(
    data_arrays: tuple[torch.Tensor, ...], batch_size: int, is_train: bool = True, *, seed: int = 0
) -> ArrayLoader:
    """The book's ``load_array``: batches of ``data_arrays``, shuffled when ``is_train``."""
    return ArrayLoader(*data_arrays, batch_size=batch_size, shuffle=is_train, seed=seed)


def data_iter(
    batch_size: int, features: torch.Tensor, labels: torch.Tensor, *, seed: int | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The book's from-scratch ``data_iter``: one shuffled pass of ``(X, y)`` minibatches."""
    g = torch.Generator()
    if seed is None:
        g.seed()
    else:
        g.manual_seed(seed)
    indices = torch.randperm(len(features), generator=g)
    for i in range(0, len(features), batch_size):
        batch = indices[i : i + batch_size]
        yield features[batch], labels[batch]
