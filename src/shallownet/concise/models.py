"""The chapter's models with ``torch.nn`` layers, as the book's concise sections build them.

Each builder returns an ``nn.Sequential`` whose layers are defined in the
same order as its scratch twin, so :func:`shallownet.init.initialize` gives
both the same weights from the same seed.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from shallownet.errors import UsageError
from shallownet.scratch.activations import get_activation
from shallownet.scratch.models import (
    check_pooling,
    dropout_rates,
    lenet_channels,
    lenet_feature_size,
    lenet_input,
)

__all__ = [
    "linear_regression",
    "softmax_regression",
    "mlp",
    "logistic_regression",
    "lenet",
    "ACTIVATION_LAYERS",
]

#: Hidden-layer activations as ``torch.nn`` layers.
ACTIVATION_LAYERS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def _activation(name: str) -> nn.Module:
    get_activation(name)  # the same names, and the same error, as the scratch tier
    return ACTIVATION_LAYERS[name]()


def linear_regression(num_inputs: int) -> nn.Sequential:
    """``Flatten -> Linear(num_inputs, 1)``: ŷ of shape (n, 1)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, 1))


def softmax_regression(num_inputs: int = 784, num_outputs: int = 10) -> nn.Sequential:
    """``Flatten -> Linear(num_inputs, num_outputs)``: logits; the loss applies the softmax."""
    return nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs))


def mlp(
    num_inputs: int = 784,
    num_outputs: int = 10,
    hidden: Sequence[int] = (256,),
    *,
    activation: str = "relu",
    dropout: float | Sequence[float] = 0.0,
    log_softmax: bool = False,
) -> nn.Sequential:
    """``Flatten -> [Linear -> activation -> Dropout] per hidden layer -> Linear [-> LogSoftmax]``.

    ``mlp(784, 10, (128, 64), log_softmax=True)`` is the classic
    784-128-64-10 network trained with ``NLLLoss``.
    """
    hidden = tuple(hidden)
    if not hidden:
        raise UsageError("an MLP needs at least one hidden layer (e.g. hidden=(256,)).")
    layers: list[nn.Module] = [nn.Flatten()]
    sizes = (num_inputs, *hidden)
    for a, b, p in zip(sizes[:-1], hidden, dropout_rates(dropout, len(hidden)), strict=True):
        layers += [nn.Linear(a, b), _activation(activation)]
        if p > 0:
            layers.append(nn.Dropout(p))
    layers.append(nn.Linear(hidden[-1], num_outputs))
    if log_softmax:
        layers.append(nn.LogSoftmax(dim=1))
    return nn.Sequential(*layers)


def logistic_regression(num_inputs: int) -> nn.Sequential:
    """``Flatten -> Linear(num_inputs, 1) -> Flatten(0)``: one logit per example, shape (n,)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, 1), nn.Flatten(0))


def lenet(
    input_shape: Sequence[int] = (1, 28, 28),
    num_outputs: int = 10,
    *,
    activation: str = "relu",
    pool: str = "max",
    channels: Sequence[int] = (6, 16),
) -> nn.Sequential:
    """LeNet-5 from ``Conv2d`` and ``MaxPool2d`` (or ``AvgPool2d``), like the scratch one.

    ``channels`` are the two convolutions' output channels (the book's 6 and 16).
    """
    c, h, w = lenet_input(input_shape)
    c1, c2 = lenet_channels(channels)
    Pool = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}[check_pooling(pool)]
    return nn.Sequential(
        nn.Conv2d(c, c1, kernel_size=5, padding=2), _activation(activation),
        Pool(kernel_size=2, stride=2),
        nn.Conv2d(c1, c2, kernel_size=5), _activation(activation),
        Pool(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(c2 * lenet_feature_size(h) * lenet_feature_size(w), 120),
        _activation(activation),
        nn.Linear(120, 84), _activation(activation),
        nn.Linear(84, num_outputs),
    )
