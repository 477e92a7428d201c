"""Synthetic linear-regression data, the book's first dataset."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from shallownet.errors import UsageError

__all__ = ["TRUE_W", "TRUE_B", "synthetic_data"]

#: The book's true weights and bias.
TRUE_W = (2.0, -3.4)
TRUE_B = 4.2


def synthetic_data(
    w: Sequence[float] | torch.Tensor = TRUE_W,
    b: float = TRUE_B,
    num_examples: int = 1000,
    *,
    noise: float = 0.01,
    seed: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate ``y = X w + b + eps`` with ``X ~ N(0, 1)`` and ``eps ~ N(0, noise**2)``.

    Parameters
    ----------
    w : sequence of float or Tensor of shape (d,), default (2, -3.4)
    b : float, default 4.2
    num_examples : int, default 1000
    noise : float, default 0.01
        Standard deviation of the Gaussian noise.
    seed : int, optional
        Seed of a private generator (the global one when None).

    Returns
    -------
    X : Tensor of shape (num_examples, d)
    y : Tensor of shape (num_examples, 1)
    """
    w = torch.as_tensor(w, dtype=dtype).reshape(-1)
    if not isinstance(num_examples, int) or num_examples < 1:
        raise UsageError(f"num_examples must be a positive integer, not {num_examples!r}.")
    if noise < 0:
        raise UsageError(f"noise is a standard deviation and cannot be negative ({noise}).")
    g = None if seed is None else torch.Generator().manual_seed(seed)
    X = torch.normal(0.0, 1.0, (num_examples, len(w)), generator=g, dtype=dtype)
    y = X @ w + b
    y += torch.normal(0.0, noise, y.shape, generator=g, dtype=dtype)
    return X, y.reshape(-1, 1)
