"""Convolution and pooling, written out (padding and stride honoured).

For an input of height ``h``, kernel ``k``, padding ``p`` and stride ``s``
the output height is ``floor((h + 2p - k) / s) + 1`` (the same for widths).

The loops run over the ``k_h x k_w`` kernel offsets, not over output
pixels: each offset contributes one strided slice of the padded input, so
a 5x5 convolution is 25 tensor operations whatever the image size.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from shallownet.errors import UsageError
from shallownet.scratch.layers import _check_positive

__all__ = [
    "corr2d",
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "output_size",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
]


def output_size(size: int, kernel: int, padding: int = 0, stride: int = 1) -> int:
    """``floor((size + 2 padding - kernel) / stride) + 1``; an error if that is below 1."""
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise UsageError(
            f"a {kernel}-wide window with padding {padding} does not fit an input of size "
            f"{size}: use a larger input, more padding or a smaller kernel."
        )
    return out


def corr2d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """The book's 2-D cross-correlation of one channel: ``Y[i, j] = sum_(a,b) X[i+a, j+b] K[a, b]``.

    X (h, w), K (k_h, k_w) -> Y (h - k_h + 1, w - k_w + 1). Loops over output
    pixels, as the book does; :func:`conv2d` is the fast form.
    """
    k_h, k_w = K.shape
    Y = X.new_zeros((X.shape[0] - k_h + 1, X.shape[1] - k_w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i : i + k_h, j : j + k_w] * K).sum()
    return Y


def _batched(X: torch.Tensor, name: str) -> torch.Tensor:
    """``X`` as (n, c, h, w): one image (c, h, w) becomes a batch of one, as torch allows."""
    if X.ndim == 3:
        return X.unsqueeze(0)
    if X.ndim != 4:
        raise UsageError(
            f"{name} expects images (n, channels, height, width) or one image "
            f"(channels, height, width), got shape {tuple(X.shape)}."
        )
    return X


def _pad(X: torch.Tensor, padding: int, value: float = 0.0) -> torch.Tensor:
    """``X`` (n, c, h, w) with ``padding`` rows/columns of ``value`` on each side."""
    if padding == 0:
        return X
    n, c, h, w = X.shape
    out = X.new_full((n, c, h + 2 * padding, w + 2 * padding), value)
    out[:, :, padding : padding + h, padding : padding + w] = X
    return out


def _windows(X: torch.Tensor, k_h: int, k_w: int, stride: int) -> torch.Tensor:
    """Every k_h x k_w window of ``X`` (n, c, h, w) at ``stride``: (n, c, k_h*k_w, h_out, w_out).

    Entry ``[:, :, a*k_w + b, i, j]`` is ``X[:, :, i*stride + a, j*stride + b]``.
    """
    h_out = output_size(X.shape[2], k_h, 0, stride)
    w_out = output_size(X.shape[3], k_w, 0, stride)
    last_h, last_w = stride * (h_out - 1) + 1, stride * (w_out - 1) + 1
    slices = [
        X[:, :, a : a + last_h : stride, b : b + last_w : stride]
        for a in range(k_h)
        for b in range(k_w)
    ]
    return torch.stack(slices, dim=2)


def conv2d(
    X: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    stride: int = 1,
    padding: int = 0,
) -> torch.Tensor:
    """Multi-channel 2-D convolution (cross-correlation, as in deep learning)::

        Y[n, o, i, j] = b[o] + sum_(c, a, b) X_pad[n, c, i*s + a, j*s + b] W[o, c, a, b]

    Parameters
    ----------
    X : Tensor of shape (n, c_in, h, w), or (c_in, h, w) for one image
    weight : Tensor of shape (c_out, c_in, k_h, k_w)
    bias : Tensor of shape (c_out,), optional
    stride, padding : int

    Returns
    -------
    Tensor of shape (n, c_out, h_out, w_out)
    """
    c_out, c_in, k_h, k_w = weight.shape
    _check_positive(stride=stride)
    if not (isinstance(padding, numbers.Integral) and padding >= 0):
        raise UsageError(f"padding must be a whole number of pixels >= 0, not {padding!r}.")
    single = X.ndim == 3
    X = _batched(X, "conv2d")
    if X.shape[1] != c_in:
        raise UsageError(
            f"conv2d expects input (n, {c_in}, h, w) for a kernel with {c_in} input channels, "
            f"got {tuple(X.shape)}."
        )
    cols = _windows(_pad(X, padding), k_h, k_w, stride)  # (n, c_in, k_h*k_w, h_out, w_out)
    n, _, _, h_out, w_out = cols.shape
    cols = cols.reshape(n, c_in * k_h * k_w, h_out * w_out)
    Y = torch.matmul(weight.reshape(c_out, c_in * k_h * k_w), cols)  # (n, c_out, h_out*w_out)
    Y = Y.reshape(n, c_out, h_out, w_out)
    if bias is not None:
        Y = Y + bias.reshape(1, c_out, 1, 1)
    return Y[0] if single else Y


def max_pool2d(X: torch.Tensor, kernel_size: int, stride: int | None = None, padding: int = 0):
    """``Y[n, c, i, j] = max over the window at (i*s, j*s)`` of ``X`` padded with -inf.

    ``stride`` defaults to ``kernel_size`` (non-overlapping windows), as in torch.
    """
    return _pool2d(X, kernel_size, stride, padding, "max_pool2d", float("-inf"),
                   lambda windows: windows.max(dim=2).values)


def avg_pool2d(X: torch.Tensor, kernel_size: int, stride: int | None = None, padding: int = 0):
    """``Y[n, c, i, j] = mean over the window at (i*s, j*s)`` of ``X`` padded with zeros.

    Padded zeros count in the mean (torch's default ``count_include_pad=True``).
    """
    return _pool2d(X, kernel_size, stride, padding, "avg_pool2d", 0.0,
                   lambda windows: windows.mean(dim=2))


def _pool2d(X, kernel_size, stride, padding, name, fill, reduce):
    """Pad ``X`` with ``fill``, gather its windows and ``reduce`` them over the window axis."""
    stride = kernel_size if stride is None else stride
    _check_pool(kernel_size, stride, padding)
    single = X.ndim == 3
    windows = _windows(_pad(_batched(X, name), padding, fill), kernel_size, kernel_size, stride)
    Y = reduce(windows)  # (n, c, h_out, w_out)
    return Y[0] if single else Y


def _check_pool(kernel_size: int, stride: int, padding: int) -> None:
    _check_positive(kernel_size=kernel_size, stride=stride)
    if not 0 <= padding <= kernel_size // 2:
        raise UsageError(
            f"pooling padding must be between 0 and half the kernel ({kernel_size // 2}), "
            f"not {padding}."
        )


class Conv2d(nn.Module):
    """A convolution layer: :func:`conv2d` with its own ``weight`` (c_out, c_in, k, k) and ``bias``.

    Weights start as ``N(0, 0.01²)``, biases at zero (see :mod:`shallownet.init`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        padding: int = 0,
        dtype=None,
        device=None,
    ):
        super().__init__()
        _check_positive(
            in_channels=in_channels, out_channels=out_channels,
            kernel_size=kernel_size, stride=stride,
        )
        if padding < 0:
            raise UsageError(f"padding cannot be negative ({padding}).")
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = nn.Parameter(torch.normal(0.0, 0.01, shape, dtype=dtype, device=device))
        self.bias = nn.Parameter(torch.zeros(out_channels, dtype=dtype, device=device))
        self.stride = stride
        self.padding = padding

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return conv2d(X, self.weight, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, stride={self.stride}, padding={self.padding}"


class _Pool2d(nn.Module):
    _pool = None

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        _check_pool(self.kernel_size, self.stride, self.padding)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return type(self)._pool(X, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """:func:`max_pool2d` as a layer."""

    _pool = staticmethod(max_pool2d)


class AvgPool2d(_Pool2d):
    """:func:`avg_pool2d` as a layer."""

    _pool = staticmethod(avg_pool2d)
