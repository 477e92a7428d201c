"""The current edition's models: ``Module`` (the base class) and ``Classifier``.

A model is an ``nn.Module`` that also knows its loss (``loss``), one
training and one validation step, its optimiser (``configure_optimizers``)
and how to plot a value on its :class:`~shallownet.d2l.board.ProgressBoard`
(``plot``). A :class:`~shallownet.d2l.trainer.Trainer` drives it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from shallownet.d2l.board import ProgressBoard
from shallownet.d2l.hyperparameters import HyperParameters
from shallownet.errors import UsageError

__all__ = ["Module", "Classifier"]


class Module(nn.Module, HyperParameters):
    """The base class of models (the book's ``d2l.Module``).

    ``plot_train_per_epoch`` and ``plot_valid_per_epoch`` say how many points
    per epoch the training and validation curves get: each point is the mean
    of that many batches' values (see :meth:`plot`).
    """

    def __init__(self, plot_train_per_epoch=2, plot_valid_per_epoch=1):
        super().__init__()
        self.save_hyperparameters()
        self.board = ProgressBoard()

    def loss(self, y_hat, y):
        """The loss of predictions ``y_hat`` against targets ``y`` (a subclass defines it)."""
        raise NotImplementedError(f"{type(self).__name__} defines no loss(self, y_hat, y): "
                                  "define it, or derive from d2l.Classifier.")

    def forward(self, X):
        """``self.net(X)``: a subclass sets ``self.net`` or defines its own ``forward``."""
        if not hasattr(self, "net"):
            raise NotImplementedError(f"{type(self).__name__} has no self.net: set self.net to "
                                      "a network in __init__, or define forward(self, X).")
        return self.net(X)

    def plot(self, key, value, train):
        """Add ``value`` to the board's curve ``train_<key>`` or ``val_<key>``.

        Training values are at x = (batches done) / (batches per epoch) and
        are averaged over ``num_train_batches / plot_train_per_epoch``
        batches; validation values are at x = epoch + 1, averaged over
        ``num_val_batches / plot_valid_per_epoch`` batches.
        """
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            raise UsageError("plot() places points by the trainer's batch counts: train the "
                             "model with d2l.Trainer(max_epochs=...).fit(model, data) first.")
        self.board.xlabel = "epoch"
        if train:
            x = trainer.train_batch_idx / trainer.num_train_batches
            n = trainer.num_train_batches / self.plot_train_per_epoch
        else:
            x = trainer.epoch + 1
            n = trainer.num_val_batches / self.plot_valid_per_epoch
        self.board.draw(x, value, ("train_" if train else "val_") + key, every_n=int(n))

    def training_step(self, batch):
        """The loss on ``batch`` (inputs..., targets), plotted as ``train_loss``; returned."""
        loss = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", loss, train=True)
        return loss

    def validation_step(self, batch):
        """The loss on a validation ``batch``, plotted as ``val_loss``."""
        self.plot("loss", self.loss(self(*batch[:-1]), batch[-1]), train=False)

    def configure_optimizers(self):
        """Minibatch SGD over the parameters at learning rate ``self.lr``."""
        return torch.optim.SGD(self.parameters(), lr=self.lr)

    def apply_init(self, inputs, init=None):
        """Run ``inputs`` through the model once (giving lazy layers their shapes), then
        ``self.net.apply(init)``."""
        self.forward(*inputs)
        if init is not None:
            self.net.apply(init)


class Classifier(Module):
    """The base class of classification models: cross-entropy loss, accuracy on validation."""

    def validation_step(self, batch):
        """Plot ``val_loss`` and ``val_acc`` of a validation ``batch``."""
        Y_hat = self(*batch[:-1])
        self.plot("loss", self.loss(Y_hat, batch[-1]), train=False)
        self.plot("acc", self.accuracy(Y_hat, batch[-1]), train=False)

    def accuracy(self, Y_hat, Y, averaged=True):
        """The fraction of rows whose largest score is the label (per row when not ``averaged``)."""
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        preds = Y_hat.argmax(dim=1).type(Y.dtype)
        compare = (preds == Y.reshape(-1)).type(torch.float32)
        return compare.mean() if averaged else compare

    def loss(self, Y_hat, Y, averaged=True):
        """Cross-entropy from scores: mean over the batch, or per example when not ``averaged``.

        l = -log softmax(o)_y = log sum_j exp(o_j) - o_y, computed stably.
        """
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        Y = Y.reshape((-1,))
        return F.cross_entropy(Y_hat, Y, reduction="mean" if averaged else "none")

    def layer_summary(self, X_shape):
        """Print each layer of ``self.net`` with the shape of its output for input ``X_shape``."""
        X = torch.randn(*X_shape)
        for layer in self.net:
            X = layer(X)
            print(layer.__class__.__name__, "output shape:\t", X.shape)
