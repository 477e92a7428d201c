"""The edition's model pieces: linear regression's parts, its layers and ``corr2d``.

- ``linreg(X, w, b) = X w + b``; ``squared_loss(ŷ, y) = (ŷ − y)² / 2`` per
  example (summed by the caller, as the edition's ``l.sum()``);
- ``sgd(params, lr, batch_size)``: ``p ← p − lr · ∇p / batch_size``, the step of
  the mean loss when ``∇p`` is that of the summed loss. As in the edition,
  the gradients are left as they are (the caller zeroes them);
- ``FlattenLayer`` (B, ...) → (B, −1); ``GlobalAvgPool2d`` (B, C, H, W) → (B, C, 1, 1);
  ``Residual``: ResNet's block, ``relu(bn(conv(relu(bn(conv(X))))) + X')``
  with ``X'`` a 1 × 1 convolution of ``X`` when ``use_1x1conv``;
- ``corr2d(X, K)``: ``Y[i, j] = Σ_{a,b} X[i + a, j + b] K[a, b]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from shallownet.errors import UsageError
from shallownet.scratch.layers import linreg
from shallownet.scratch.losses import squared_loss

__all__ = ["linreg", "squared_loss", "sgd", "FlattenLayer", "GlobalAvgPool2d", "Residual",
           "corr2d"]


def sgd(params, lr, batch_size) -> None:
    """Minibatch SGD: ``p ← p − lr · p.grad / batch_size`` for each ``p`` in ``params``.

    The gradients are kept (the edition's ``train_ch3`` and sections zero them
    before the next ``backward``).
    """
    params = list(params)
    for i, param in enumerate(params):
        if param.grad is None:
            raise UsageError(
                f"parameter {i} (shape {tuple(param.shape)}) has no gradient: create it with "
                "requires_grad=True and call backward() on the loss before sgd().")
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size


class FlattenLayer(nn.Module):
    """(batch, *) → (batch, product of *): each example as one row."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)


class GlobalAvgPool2d(nn.Module):
    """(B, C, H, W) → (B, C, 1, 1): the mean over each channel's whole map."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(x, 1)


class Residual(nn.Module):
    """ResNet's residual block (two 3 × 3 convolutions with batch normalisation).

    ``use_1x1conv`` adds a 1 × 1 convolution (with ``stride``) on the shortcut,
    needed when the block changes the channels or the size.
    """

    def __init__(self, in_channels, out_channels, use_1x1conv=False, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.conv3 = (nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride)
                      if use_1x1conv else None)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3 is not None:
            X = self.conv3(X)
        return F.relu(Y + X)


def corr2d(X, K) -> torch.Tensor:
    """The 2-D cross-correlation of ``X`` (h, w) with the kernel ``K`` (kh, kw): (h−kh+1, w−kw+1).

    Computed as one product over all windows (differentiable in ``X`` and ``K``)
    instead of the edition's loop over output pixels; the result is float32
    unless ``X`` and ``K`` are both of another floating type.
    """
    X, K = torch.as_tensor(X), torch.as_tensor(K)
    if X.ndim != 2 or K.ndim != 2:
        raise UsageError(f"corr2d takes a 2-D input and a 2-D kernel, not shapes "
                         f"{tuple(X.shape)} and {tuple(K.shape)}.")
    h, w = K.shape
    if h > X.shape[0] or w > X.shape[1]:
        raise UsageError(f"the kernel {tuple(K.shape)} is larger than the input "
                         f"{tuple(X.shape)}.")
    dtype = torch.promote_types(X.dtype, K.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    windows = X.to(dtype).unfold(0, h, 1).unfold(1, w, 1)  # (h', w', kh, kw)
    return (windows * K.to(dtype)).sum(dim=(-2, -1))
