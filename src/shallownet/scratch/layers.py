"""Fully connected layers and dropout, written from their formulas.

Layers are ``torch.nn.Module`` subclasses only so that they hold parameters,
move between devices and save a ``state_dict``; every computation is spelt
out here with plain tensor operations.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from shallownet.errors import UsageError

__all__ = ["linreg", "Linear", "Flatten", "dropout_layer", "Dropout"]


def linreg(X: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The linear model ``ŷ = X w + b``: X (n, d), w (d, q), b (q,) -> (n, q)."""
    return torch.matmul(X, w) + b


class Linear(nn.Module):
    """A fully connected layer ``O = X W + b``, with ``W`` of shape (num_inputs, num_outputs).

    The book's layout (torch's ``nn.Linear`` stores the transpose). Weights
    start as ``N(0, 0.01²)``, biases at zero; see :mod:`shallownet.init` for
    other schemes.

    ``W`` is stored column by column (``W.T`` is contiguous), the memory
    layout of ``nn.Linear``'s weight: BLAS computes ``X @ W`` twice as fast
    this way when there are few outputs (784 -> 10), and autograd returns
    ``W.grad`` in the same layout. The shape, values and formula are the book's.
    """

    def __init__(self, num_inputs: int, num_outputs: int, *, dtype=None, device=None):
        super().__init__()
        _check_positive(num_inputs=num_inputs, num_outputs=num_outputs)
        self.W = nn.Parameter(
            torch.normal(0.0, 0.01, (num_outputs, num_inputs), dtype=dtype, device=device).T
        )
        self.b = nn.Parameter(torch.zeros(num_outputs, dtype=dtype, device=device))

    @property
    def num_inputs(self) -> int:
        return self.W.shape[0]

    @property
    def num_outputs(self) -> int:
        return self.W.shape[1]

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return linreg(X, self.W, self.b)

    def extra_repr(self) -> str:
        return f"num_inputs={self.num_inputs}, num_outputs={self.num_outputs}"


class Flatten(nn.Module):
    """``X.reshape(n, -1)``: each example becomes one row of features."""

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return X.reshape(X.shape[0], -1)


def dropout_layer(X: torch.Tensor, dropout: float) -> torch.Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by ``1/(1-p)``.

    ``h' = 0`` with probability p, else ``h / (1 - p)``, so ``E[h'] = h``.
    The mask is one Bernoulli(1 - p) draw per element, as torch's CPU
    dropout draws it, so the two agree exactly from the same seed.
    """
    _check_probability(dropout)
    if dropout == 1:
        return torch.zeros_like(X)
    if dropout == 0:
        return X
    keep = torch.empty_like(X).bernoulli_(1 - dropout)  # 1 = kept
    return X * keep.div_(1 - dropout)


class Dropout(nn.Module):
    """:func:`dropout_layer` while training; the identity in eval mode."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        _check_probability(p)
        self.p = p

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return dropout_layer(X, self.p) if self.training else X

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _check_probability(p: float) -> None:
    if not 0 <= p <= 1:
        raise UsageError(f"a dropout probability must lie in [0, 1], not {p}.")


def _check_positive(**sizes: int) -> None:
    for name, value in sizes.items():
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise UsageError(f"{name} must be a positive integer, not {value!r}.")
