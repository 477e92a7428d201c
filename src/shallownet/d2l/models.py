"""The current edition's models of the linear, MLP and LeNet chapters.

Each is the book's class: its constructor arguments (saved as attributes),
its network in ``self.net`` (or its own parameters) and, where the book
gives it, its loss and optimiser. Layers are lazy (``nn.LazyLinear``,
``nn.LazyConv2d``), as in the book: input sizes are fixed by the first batch.
"""

from __future__ import annotations

import torch
from torch import nn

from shallownet.d2l.module import Classifier, Module
from shallownet.d2l.trainer import SGD

__all__ = ["LinearRegressionScratch", "LinearRegression", "SoftmaxRegression", "MLP",
           "DropoutMLP", "LeNet", "init_cnn"]


class LinearRegressionScratch(Module):
    """Linear regression from scratch: o = X w + b, w ~ N(0, sigma^2) (num_inputs, 1), b = 0.

    Loss: the batch mean of (y_hat - y)^2 / 2; optimiser: :class:`~shallownet.d2l.trainer.SGD`.
    ``w`` and ``b`` are plain tensors that require grad, as in the book.
    """

    def __init__(self, num_inputs, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.w = torch.normal(0, sigma, (num_inputs, 1), requires_grad=True)
        self.b = torch.zeros(1, requires_grad=True)

    def forward(self, X):
        """X w + b."""
        return torch.matmul(X, self.w) + self.b

    def loss(self, y_hat, y):
        """mean((y_hat - y)^2 / 2)."""
        return ((y_hat - y) ** 2 / 2).mean()

    def configure_optimizers(self):
        """SGD from scratch over ``[w, b]``."""
        return SGD([self.w, self.b], self.lr)


class _NormalLazyLinear(nn.LazyLinear):
    """A lazy linear layer whose weight starts N(0, 0.01^2) and bias 0 once its input is known.

    (The book sets ``weight.data.normal_(0, 0.01)`` on a ``LazyLinear`` before
    its first input; the weight then has no elements, so the call does nothing
    and PyTorch's default initialisation decides. Here the book's stated
    initialisation is what the layer gets.) It becomes an ``nn.Linear``.
    """

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            nn.init.normal_(self.weight, 0, 0.01)
            nn.init.zeros_(self.bias)


class LinearRegression(Module):
    """Linear regression: a lazy linear layer, mean squared error, ``torch.optim.SGD``.

    The loss is ``nn.MSELoss()``: the batch mean of (y_hat - y)^2 (without the
    1/2 of :class:`LinearRegressionScratch`).
    """

    def __init__(self, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = _NormalLazyLinear(1)

    def forward(self, X):
        """The layer's output."""
        return self.net(X)

    def loss(self, y_hat, y):
        """mean((y_hat - y)^2)."""
        return nn.MSELoss()(y_hat, y)

    def configure_optimizers(self):
        """``torch.optim.SGD`` over the layer's parameters at ``lr``."""
        return torch.optim.SGD(self.parameters(), self.lr)

    def get_w_b(self):
        """``(weight, bias)`` of the layer: (1, num_inputs) and (1,)."""
        return (self.net.weight.data, self.net.bias.data)


class SoftmaxRegression(Classifier):
    """Softmax regression: flatten, then one lazy linear layer of ``num_outputs`` scores."""

    def __init__(self, num_outputs, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(num_outputs))

    def forward(self, X):
        """The scores (logits) of ``X``; the loss applies the softmax."""
        return self.net(X)


class MLP(Classifier):
    """A multilayer perceptron: flatten, ``num_hiddens`` ReLU units, ``num_outputs`` scores."""

    def __init__(self, num_outputs, num_hiddens, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(num_hiddens), nn.ReLU(),
                                 nn.LazyLinear(num_outputs))


class DropoutMLP(Classifier):
    """Two hidden ReLU layers, each followed by dropout (``dropout_1``, ``dropout_2``)."""

    def __init__(self, num_outputs, num_hiddens_1, num_hiddens_2, dropout_1, dropout_2, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Flatten(), nn.LazyLinear(num_hiddens_1), nn.ReLU(), nn.Dropout(dropout_1),
            nn.LazyLinear(num_hiddens_2), nn.ReLU(), nn.Dropout(dropout_2),
            nn.LazyLinear(num_outputs))


def init_cnn(module):
    """Xavier-uniform weights for ``nn.Linear`` and ``nn.Conv2d`` layers (use with ``apply``)."""
    if type(module) in (nn.Linear, nn.Conv2d):
        nn.init.xavier_uniform_(module.weight)


class LeNet(Classifier):
    """LeNet-5: two sigmoid convolutions with average pooling, then 120, 84, ``num_classes`` units.

    Input (B, 1, 28, 28); the first convolution pads by 2, so the second
    sees 14 x 14 and the first dense layer gets 16 x 5 x 5 = 400 features.
    """

    def __init__(self, lr=0.1, num_classes=10):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(),
            nn.LazyLinear(120), nn.Sigmoid(),
            nn.LazyLinear(84), nn.Sigmoid(),
            nn.LazyLinear(num_classes))
