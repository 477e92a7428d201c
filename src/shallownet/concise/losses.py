"""The chapter's losses from ``torch.nn``, unreduced (one value per example).

Regression losses reshape the targets to the outputs' shape first:
``MSELoss`` given outputs (n, 1) and targets (n,) would otherwise broadcast
to (n, n) and train on nonsense.
"""

from __future__ import annotations

import torch
from torch import nn

from shallownet.errors import UsageError

__all__ = ["HalfMSELoss", "RegressionLoss", "BinaryLoss", "make_loss", "LOSS_NAMES"]


class RegressionLoss(nn.Module):
    """Wrap a ``torch.nn`` regression loss so ``y`` takes ``ŷ``'s shape and dtype."""

    def __init__(self, loss: nn.Module):
        super().__init__()
        self.loss = loss

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss(y_hat, y.reshape(y_hat.shape).to(y_hat.dtype))


class HalfMSELoss(nn.MSELoss):
    """``½ (ŷ - y)²``: torch's ``MSELoss`` is ``(ŷ - y)²``, twice the book's squared loss.

    Halving it gives the scratch tier's loss, so both tiers train the same
    way at the same learning rate.
    """

    def __init__(self):
        super().__init__(reduction="none")

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return super().forward(y_hat, y) / 2


class BinaryLoss(nn.BCEWithLogitsLoss):
    """``BCEWithLogitsLoss`` unreduced, taking 0/1 labels of any dtype and shape (n,) or (n, 1)."""

    def __init__(self):
        super().__init__(reduction="none")

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return super().forward(logits, y.reshape(logits.shape).to(logits.dtype))


LOSS_NAMES = ("squared", "l1", "huber", "cross_entropy", "nll", "bce")


def make_loss(name: str, *, huber_delta: float = 1.0, label_smoothing: float = 0.0) -> nn.Module:
    """The ``torch.nn`` loss called ``name`` (see :data:`LOSS_NAMES`), with ``reduction='none'``
    (and, for cross-entropy, ``label_smoothing``)."""
    if name == "squared":
        return RegressionLoss(HalfMSELoss())
    if name == "l1":
        return RegressionLoss(nn.L1Loss(reduction="none"))
    if name == "huber":
        if not huber_delta > 0:
            raise UsageError(f"the Huber loss needs delta > 0, not {huber_delta}.")
        return RegressionLoss(nn.HuberLoss(reduction="none", delta=huber_delta))
    if name == "cross_entropy":
        return nn.CrossEntropyLoss(reduction="none", label_smoothing=label_smoothing)
    if name == "nll":
        return nn.NLLLoss(reduction="none")
    if name == "bce":
        return BinaryLoss()
    raise UsageError(f"unknown loss {name!r}; choose one of {', '.join(LOSS_NAMES)}.")
