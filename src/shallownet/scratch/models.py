"""The chapter's models, built from the scratch layers and functions.

Every model takes a batch ``X`` of any shape (n, ...) and flattens what it
needs; classifiers return logits (unnormalised scores), and the loss or
``softmax`` turns them into probabilities. Models that have a hand-written
backward pass expose it as ``hand_backward(X, y)`` (see
:mod:`shallownet.scratch.backprop`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from shallownet.errors import UsageError
from shallownet.scratch import backprop
from shallownet.scratch.activations import get_activation, log_softmax
from shallownet.scratch.conv import AvgPool2d, Conv2d, MaxPool2d, output_size
from shallownet.scratch.layers import Dropout, Flatten, Linear, _check_positive

__all__ = [
    "LinearRegression",
    "SoftmaxRegression",
    "MLP",
    "LogisticRegression",
    "LeNet",
    "check_pooling",
    "dropout_rates",
    "mlp_has_hand_backward",
]


def _flatten(X: torch.Tensor) -> torch.Tensor:
    return X.reshape(X.shape[0], -1)  # (n, ...) -> (n, features)


class LinearRegression(nn.Module):
    """``ŷ = X w + b``: X (n, d) -> ŷ (n, 1), trained with the squared loss."""

    def __init__(self, num_inputs: int, *, dtype=None, device=None):
        super().__init__()
        self.linear = Linear(num_inputs, 1, dtype=dtype, device=device)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.linear(_flatten(X))

    def hand_backward(self, X: torch.Tensor, y: torch.Tensor):
        """Gradients of the mean squared loss by the chain rule; returns (losses, ŷ)."""
        return backprop.linear_regression_backward(_flatten(X), y, self.linear)


class SoftmaxRegression(nn.Module):
    """``O = X W + b``: X (n, d) -> logits (n, q); ``softmax(O)`` gives the class probabilities."""

    def __init__(self, num_inputs: int = 784, num_outputs: int = 10, *, dtype=None, device=None):
        super().__init__()
        self.linear = Linear(num_inputs, num_outputs, dtype=dtype, device=device)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.linear(_flatten(X))

    def hand_backward(self, X: torch.Tensor, y: torch.Tensor):
        """Gradients of the mean cross-entropy by the chain rule; returns (losses, logits)."""
        return backprop.softmax_regression_backward(_flatten(X), y, self.linear)


def dropout_rates(dropout: float | Sequence[float], num_hidden_layers: int) -> tuple[float, ...]:
    """One dropout probability per hidden layer: a single value applies to all."""
    if isinstance(dropout, (int, float)):
        return (float(dropout),) * num_hidden_layers
    rates = tuple(float(p) for p in dropout)
    if len(rates) == 0:
        return (0.0,) * num_hidden_layers
    if len(rates) == 1:
        return rates * num_hidden_layers
    if len(rates) != num_hidden_layers:
        raise UsageError(
            f"{len(rates)} dropout rates for {num_hidden_layers} hidden layers: "
            "give one rate, or one per hidden layer."
        )
    return rates


def mlp_has_hand_backward(
    hidden: Sequence[int], dropout: Sequence[float], log_softmax: bool
) -> bool:
    """Only one hidden layer, no dropout, logits out: the case written by hand."""
    return len(hidden) == 1 and not any(dropout) and not log_softmax


class MLP(nn.Module):
    """A multilayer perceptron::

        H_1 = φ(X W_1 + b_1),  ...,  H_L = φ(H_(L-1) W_L + b_L),  O = H_L W_o + b_o

    with dropout after each hidden activation while training, and
    ``log_softmax(O)`` as output when ``log_softmax=True`` (to train with NLL).

    Parameters
    ----------
    num_inputs, num_outputs : int
    hidden : sequence of int
        Hidden layer widths, e.g. (256,) or (128, 64).
    activation : {"relu", "sigmoid", "tanh"}
    dropout : float or sequence of float
        Dropout probability after each hidden layer (one value for all).
    log_softmax : bool
    """

    def __init__(
        self,
        num_inputs: int = 784,
        num_outputs: int = 10,
        hidden: Sequence[int] = (256,),
        *,
        activation: str = "relu",
        dropout: float | Sequence[float] = 0.0,
        log_softmax: bool = False,
        dtype=None,
        device=None,
    ):
        super().__init__()
        hidden = tuple(hidden)
        if not hidden:
            raise UsageError("an MLP needs at least one hidden layer (e.g. hidden=(256,)).")
        get_activation(activation)  # an unknown name fails here, not at the first batch
        self.activation = activation
        self.log_softmax = log_softmax
        sizes = (num_inputs, *hidden)
        self.hidden = nn.ModuleList(
            Linear(a, b, dtype=dtype, device=device)
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.dropouts = nn.ModuleList(Dropout(p) for p in dropout_rates(dropout, len(hidden)))
        self.output = Linear(hidden[-1], num_outputs, dtype=dtype, device=device)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        phi = get_activation(self.activation)
        H = _flatten(X)
        for layer, dropout in zip(self.hidden, self.dropouts, strict=True):
            H = dropout(phi(layer(H)))
        O = self.output(H)
        return log_softmax(O, dim=1) if self.log_softmax else O

    @property
    def has_hand_backward(self) -> bool:
        """Whether :func:`mlp_has_hand_backward` holds for this MLP."""
        return mlp_has_hand_backward(
            [layer.num_outputs for layer in self.hidden],
            [d.p for d in self.dropouts],
            self.log_softmax,
        )

    def hand_backward(self, X: torch.Tensor, y: torch.Tensor):
        """Gradients of the mean cross-entropy by the chain rule; returns (losses, logits)."""
        if not self.has_hand_backward:
            raise UsageError(
                "backprop by hand is written for an MLP with one hidden layer, no dropout and "
                "logits as output; use autograd for this one."
            )
        return backprop.mlp_backward(
            _flatten(X), y, self.hidden[0], self.output, self.activation
        )


class LogisticRegression(nn.Module):
    """Binary logistic regression: logit ``z = X w + b`` (n,); ``P(y = 1 | x) = sigmoid(z)``."""

    def __init__(self, num_inputs: int, *, dtype=None, device=None):
        super().__init__()
        self.linear = Linear(num_inputs, 1, dtype=dtype, device=device)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.linear(_flatten(X)).reshape(-1)


class LeNet(nn.Module):
    """A LeNet-5-style CNN (the book's layout), with convolution and pooling written out::

        conv 5x5, 6 channels, padding 2 -> φ -> pool 2x2 (stride 2)
        conv 5x5, 16 channels           -> φ -> pool 2x2 (stride 2)
        flatten -> dense 120 -> φ -> dense 84 -> φ -> dense num_outputs

    The book uses sigmoid and average pooling; ReLU and max pooling (the
    default here) train faster at the same learning rate.

    Parameters
    ----------
    input_shape : (channels, height, width)
        At least 12 x 12.
    num_outputs : int
    activation : {"relu", "sigmoid", "tanh"}
    pool : {"max", "avg"}
    channels : (int, int), default (6, 16)
        The two convolutions' output channels.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        num_outputs: int = 10,
        *,
        activation: str = "relu",
        pool: str = "max",
        channels: Sequence[int] = (6, 16),
        dtype=None,
        device=None,
    ):
        super().__init__()
        c, h, w = lenet_input(input_shape)
        c1, c2 = lenet_channels(channels)
        get_activation(activation)  # an unknown name fails here, not at the first batch
        self.activation = activation
        Pool = _pool_layer(pool)
        kw = {"dtype": dtype, "device": device}
        self.conv1 = Conv2d(c, c1, 5, padding=2, **kw)
        self.pool1 = Pool(2, 2)
        self.conv2 = Conv2d(c1, c2, 5, **kw)
        self.pool2 = Pool(2, 2)
        self.flatten = Flatten()
        self.fc1 = Linear(c2 * lenet_feature_size(h) * lenet_feature_size(w), 120, **kw)
        self.fc2 = Linear(120, 84, **kw)
        self.fc3 = Linear(84, num_outputs, **kw)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        phi = get_activation(self.activation)
        H = self.pool1(phi(self.conv1(X)))  # (n, 6, h/2, w/2)
        H = self.pool2(phi(self.conv2(H)))  # (n, 16, h/2/2 - 2, ...)
        H = self.flatten(H)
        H = phi(self.fc1(H))
        H = phi(self.fc2(H))
        return self.fc3(H)


def lenet_input(input_shape: Sequence[int]) -> tuple[int, int, int]:
    """Check a LeNet input shape (channels, height, width): at least 12 x 12."""
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise UsageError(
            f"LeNet needs image inputs (channels, height, width), not shape {shape}."
        )
    _check_positive(channels=shape[0], height=shape[1], width=shape[2])
    if min(shape[1:]) < 12:
        raise UsageError(f"LeNet needs images of at least 12 x 12 pixels, not {shape[1:]}.")
    return shape


def lenet_channels(channels: Sequence[int]) -> tuple[int, int]:
    """The two convolutions' output channels, checked: two positive whole numbers."""
    values = tuple(channels)
    if len(values) != 2 or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0
                                   for c in values):
        raise UsageError(f"LeNet's channels are two positive whole numbers (the book's 6, 16), "
                         f"not {values!r}.")
    return values


def lenet_feature_size(size: int) -> int:
    """Height (or width) after LeNet's two conv + pool stages."""
    size = output_size(size, 5, padding=2) // 2  # conv1 keeps the size, pool halves it
    return output_size(size, 5) // 2


def check_pooling(pool: str) -> str:
    """``pool`` if it is ``max`` or ``avg``; a usage error otherwise."""
    if pool not in ("max", "avg"):
        raise UsageError(f"unknown pooling {pool!r}; choose max or avg.")
    return pool


def _pool_layer(pool: str):
    return {"max": MaxPool2d, "avg": AvgPool2d}[check_pooling(pool)]
