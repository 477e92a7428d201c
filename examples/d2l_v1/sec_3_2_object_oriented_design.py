"""D2L (current edition) 3.2: object-oriented design for implementation.

The three helpers the rest of the book builds on: ``add_to_class`` (grow a
class one cell at a time), ``HyperParameters.save_hyperparameters`` (store
the constructor's arguments as attributes) and ``ProgressBoard`` (a figure
that follows values as they come); then first sketches of ``Module``,
``DataModule`` and ``Trainer``, whose complete versions are ``d2l``'s.
"""

# %%
# Imports. `from shallownet import d2l` stands in for `from d2l import torch as d2l`.
import numpy as np

from shallownet import d2l


# %%
# A decorator that attaches the function it wraps to an existing class as a method.
def add_to_class(Class):
    """Attach the decorated function to ``Class`` under its own name."""

    def wrapper(obj):
        setattr(Class, obj.__name__, obj)

    return wrapper


# %%
# A small class, and an instance made before the class gets its method.
class A:
    def __init__(self):
        self.b = 1


a = A()


# %%
# Give A a method after the fact: the instance made earlier can call it too.
@add_to_class(A)
def do(self):
    print('Class attribute "b" is', self.b)


a.do()


# %%
# The base class's interface; its body comes later (d2l.HyperParameters has it).
class HyperParameters:
    """Base class of objects that keep their constructor arguments."""

    def save_hyperparameters(self, ignore=()):
        raise NotImplementedError


# %%
# save_hyperparameters turns the arguments of __init__ into attributes; ignore leaves some out.
class B(d2l.HyperParameters):
    def __init__(self, a, b, c):
        self.save_hyperparameters(ignore=["c"])
        print("self.a =", self.a, "self.b =", self.b)
        print("There is no self.c =", not hasattr(self, "c"))


b = B(a=1, b=2, c=3)


# %%
# The board's interface: where and how to draw; draw(x, y, label, every_n) adds a point.
class ProgressBoard(d2l.HyperParameters):
    """A figure whose curves grow point by point (d2l.ProgressBoard draws)."""

    def __init__(self, xlabel=None, ylabel=None, xlim=None, ylim=None, xscale="linear",
                 yscale="linear", ls=("-", "--", "-.", ":"), colors=("C0", "C1", "C2", "C3"),
                 fig=None, axes=None, figsize=(3.5, 2.5), display=True):
        self.save_hyperparameters()

    def draw(self, x, y, label, every_n=1):
        raise NotImplementedError


# %%
# A ProgressBoard with two curves: sin averaged over pairs of points, cos over tens.
board = d2l.ProgressBoard("x")
for x in np.arange(0, 10, 0.1):
    board.draw(x, np.sin(x), "sin", every_n=2)
    board.draw(x, np.cos(x), "cos", every_n=10)


# %%
# Models: an nn.Module that also knows its loss, its training and validation steps and its
# optimiser, and plots values on its board (x in epochs, each point a mean of n values).
class Module(d2l.nn_Module, d2l.HyperParameters):
    """Base class of models."""

    def __init__(self, plot_train_per_epoch=2, plot_valid_per_epoch=1):
        super().__init__()
        self.save_hyperparameters()
        self.board = ProgressBoard()

    def loss(self, y_hat, y):
        raise NotImplementedError

    def forward(self, X):
        assert hasattr(self, "net"), "no network: set self.net"
        return self.net(X)

    def plot(self, key, value, train):
        """Add one value to the curve train_<key> or val_<key>."""
        assert hasattr(self, "trainer"), "not attached to a trainer yet"
        self.board.xlabel = "epoch"
        if train:
            x = self.trainer.train_batch_idx / self.trainer.num_train_batches
            n = self.trainer.num_train_batches / self.plot_train_per_epoch
        else:
            x = self.trainer.epoch + 1
            n = self.trainer.num_val_batches / self.plot_valid_per_epoch
        self.board.draw(x, d2l.numpy(d2l.to(value, d2l.cpu())),
                        ("train_" if train else "val_") + key, every_n=int(n))

    def training_step(self, batch):
        l = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", l, train=True)
        return l

    def validation_step(self, batch):
        l = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", l, train=False)

    def configure_optimizers(self):
        raise NotImplementedError


# %%
# Data: a subclass prepares it in __init__ and hands out loaders through get_dataloader.
class DataModule(d2l.HyperParameters):
    """Base class of data."""

    def __init__(self, root="../data", num_workers=4):
        self.save_hyperparameters()

    def get_dataloader(self, train):
        raise NotImplementedError

    def train_dataloader(self):
        return self.get_dataloader(train=True)

    def val_dataloader(self):
        return self.get_dataloader(train=False)


# %%
# Training: fit links model and data, asks the model for its optimiser, then runs
# max_epochs epochs (fit_epoch is written in 3.4).
class Trainer(d2l.HyperParameters):
    """Base class for training models on data."""

    def __init__(self, max_epochs, num_gpus=0, gradient_clip_val=0):
        self.save_hyperparameters()
        assert num_gpus == 0, "no GPU support yet"

    def prepare_data(self, data):
        self.train_dataloader = data.train_dataloader()
        self.val_dataloader = data.val_dataloader()
        self.num_train_batches = len(self.train_dataloader)
        self.num_val_batches = len(self.val_dataloader) if self.val_dataloader is not None else 0

    def prepare_model(self, model):
        model.trainer = self
        model.board.xlim = [0, self.max_epochs]
        self.model = model

    def fit(self, model, data):
        self.prepare_data(data)
        self.prepare_model(model)
        self.optim = model.configure_optimizers()
        self.epoch = 0
        self.train_batch_idx = 0
        self.val_batch_idx = 0
        for self.epoch in range(self.max_epochs):  # noqa: B020 - the loop sets self.epoch
            self.fit_epoch()

    def fit_epoch(self):
        raise NotImplementedError
