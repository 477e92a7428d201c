"""Activation functions and softmax, written from their formulas.

Each is stable for any finite input: no overflow in ``exp``, and gradients
that stay finite where the true gradient is finite.
"""

from __future__ import annotations

import torch

from shallownet.errors import UsageError

__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "ACTIVATIONS", "get_activation"]


def relu(X: torch.Tensor) -> torch.Tensor:
    """``ReLU(x) = max(x, 0)``, elementwise (gradient 0 at x = 0, as in torch)."""
    return torch.where(X > 0, X, 0.0)


def _positive_part(X: torch.Tensor) -> torch.Tensor:
    """``|x|`` whose gradient at 0 is +1, so ``where(x >= 0, f(|x|), ...)`` differentiates right."""
    return torch.where(X >= 0, X, -X)


def sigmoid(X: torch.Tensor) -> torch.Tensor:
    """``sigmoid(x) = 1 / (1 + exp(-x))``, elementwise.

    Computed with ``e = exp(-|x|) <= 1`` as ``1 / (1 + e)`` for x >= 0 and
    ``e / (1 + e)`` for x < 0, so ``exp`` never overflows.
    """
    e = torch.exp(-_positive_part(X))
    return torch.where(X >= 0, 1 / (1 + e), e / (1 + e))


def tanh(X: torch.Tensor) -> torch.Tensor:
    """``tanh(x) = (1 - exp(-2x)) / (1 + exp(-2x))``, elementwise, odd: ``tanh(-x) = -tanh(x)``.

    The formula is applied to ``|x|`` (where ``exp(-2|x|) <= 1``) and the sign
    restored; ``1 - e`` is computed as ``-expm1(-2|x|)`` so that small x keep
    their digits (``1 - exp(-2e-8)`` would round to 0 in float32).
    """
    m = torch.expm1(-2 * _positive_part(X))  # e - 1, with e = exp(-2|x|)
    t = -m / (2 + m)  # (1 - e) / (1 + e)
    return torch.where(X >= 0, t, -t)


def softmax(X: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``softmax(o)_j = exp(o_j) / sum_k exp(o_k)`` along ``dim`` (rows by default).

    The row maximum is subtracted first; softmax is unchanged by a shift and
    ``exp`` then never overflows.
    """
    shifted = X - X.detach().amax(dim=dim, keepdim=True)
    X_exp = torch.exp(shifted)
    partition = X_exp.sum(dim=dim, keepdim=True)
    return X_exp / partition  # broadcast over the row


def log_softmax(X: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``log softmax(o)_j = o_j - log sum_k exp(o_k)`` along ``dim``.

    Computed as ``(o_j - m) - log sum_k exp(o_k - m)`` with ``m = max_k o_k``,
    so it is finite for any finite logits (the naive ``log(softmax(o))`` is
    ``log 0 = -inf`` once a probability underflows).
    """
    shifted = X - X.detach().amax(dim=dim, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


#: Hidden-layer activations by the names the CLI and registry use.
ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh}


def get_activation(name: str):
    """The activation called ``name``; a usage error naming the choices otherwise."""
    if name not in ACTIVATIONS:
        raise UsageError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}."
        )
    return ACTIVATIONS[name]
