"""The scratch tier: every function and model of the chapter written from its formula.

Names follow the book where it has one (``softmax``, ``cross_entropy``,
``squared_loss``, ``linreg``, ``sgd``, ``relu``, ``dropout_layer``,
``corr2d``). Losses return one value per example; the caller reduces.
"""

from shallownet.scratch.activations import ACTIVATIONS, log_softmax, relu, sigmoid, softmax, tanh
from shallownet.scratch.backprop import (
    linear_regression_backward,
    mlp_backward,
    softmax_regression_backward,
)
from shallownet.scratch.conv import (
    AvgPool2d,
    Conv2d,
    MaxPool2d,
    avg_pool2d,
    conv2d,
    corr2d,
    max_pool2d,
    output_size,
)
from shallownet.scratch.layers import Dropout, Flatten, Linear, dropout_layer, linreg
from shallownet.scratch.losses import (
    binary_cross_entropy,
    binary_cross_entropy_from_probs,
    cross_entropy,
    cross_entropy_from_probs,
    cross_entropy_grad,
    huber_loss,
    l1_loss,
    nll_loss,
    squared_loss,
)
from shallownet.scratch.models import (
    MLP,
    LeNet,
    LinearRegression,
    LogisticRegression,
    SoftmaxRegression,
)
from shallownet.scratch.optim import SGD, Adam, Optimizer, sgd

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "SGD",
    "Adam",
    "AvgPool2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "LeNet",
    "Linear",
    "LinearRegression",
    "LogisticRegression",
    "MaxPool2d",
    "Optimizer",
    "SoftmaxRegression",
    "avg_pool2d",
    "binary_cross_entropy",
    "binary_cross_entropy_from_probs",
    "conv2d",
    "corr2d",
    "cross_entropy",
    "cross_entropy_from_probs",
    "cross_entropy_grad",
    "dropout_layer",
    "huber_loss",
    "l1_loss",
    "linear_regression_backward",
    "linreg",
    "log_softmax",
    "max_pool2d",
    "mlp_backward",
    "nll_loss",
    "output_size",
    "relu",
    "sgd",
    "sigmoid",
    "softmax",
    "softmax_regression_backward",
    "squared_loss",
    "tanh",
]
