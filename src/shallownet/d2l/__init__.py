"""The book's ``d2l`` helpers for the linear-networks, MLP and LeNet chapters.

Code written for ``from d2l import torch as d2l`` runs with that line
changed to::

    from shallownet import d2l

in Jupyter, in a plain ``python`` script and in an IDE, on current Python
and torch. Names and signatures are the book's; where the book's behaviour
is a trap, the behaviour is fixed (each difference is listed in docs/d2l.md,
"The book's code"):

- figures appear in a notebook cell, a window, or a file whose path is
  printed (:mod:`shallownet.d2l.figures`), and the ``Animator`` redraws live
  in all three;
- data is loaded in memory, without worker processes, from wherever
  shallownet finds it offline (:mod:`shallownet.d2l.data`);
- ``train_ch3`` prints a line per epoch, stops on a diverging loss, and its
  final sanity checks are warnings that explain themselves
  (:mod:`shallownet.d2l.train`).
"""

from __future__ import annotations

from shallownet.d2l.aliases import *  # noqa: F403
from shallownet.d2l.aliases import __all__ as _aliases
from shallownet.d2l.animator import Animator
from shallownet.d2l.board import ProgressBoard
from shallownet.d2l.data import (
    get_dataloader_workers,
    get_fashion_mnist_labels,
    load_array,
    load_data_fashion_mnist,
    synthetic_data,
)
from shallownet.d2l.datamodule import DataModule, FashionMNIST, SyntheticRegressionData
from shallownet.d2l.devices import cpu, gpu, num_gpus, try_all_gpus, try_gpu
from shallownet.d2l.download import (
    DATA_HUB,
    DATA_URL,
    download,
    download_all,
    download_extract,
    extract,
)
from shallownet.d2l.figures import plot, plt, set_axes, set_figsize, show_images, use_svg_display
from shallownet.d2l.hyperparameters import HyperParameters, add_to_class
from shallownet.d2l.models import (
    MLP,
    DropoutMLP,
    LeNet,
    LinearRegression,
    LinearRegressionScratch,
    SoftmaxRegression,
    init_cnn,
)
from shallownet.d2l.module import Classifier, Module
from shallownet.d2l.train import (
    Accumulator,
    BookCheckWarning,
    accuracy,
    evaluate_accuracy,
    evaluate_accuracy_gpu,
    evaluate_loss,
    predict_ch3,
    train_ch3,
    train_ch6,
    train_epoch_ch3,
)
from shallownet.d2l.trainer import SGD, Trainer
from shallownet.metrics import Timer
from shallownet.scratch.layers import linreg
from shallownet.scratch.losses import squared_loss
from shallownet.scratch.optim import sgd

__all__ = [
    "synthetic_data", "load_array", "linreg", "squared_loss", "sgd",
    "load_data_fashion_mnist", "get_fashion_mnist_labels", "show_images",
    "get_dataloader_workers", "Timer", "Accumulator", "Animator", "accuracy",
    "evaluate_accuracy", "train_epoch_ch3", "train_ch3", "predict_ch3", "evaluate_loss",
    "use_svg_display", "set_figsize", "set_axes", "plot", "plt", "try_gpu", "try_all_gpus",
    "train_ch6", "evaluate_accuracy_gpu", "BookCheckWarning", "DATA_HUB", "DATA_URL",
    "download", "download_extract", "download_all", "extract",
    # the current edition's object API (d2l 1.0)
    "add_to_class", "HyperParameters", "ProgressBoard", "Module", "DataModule", "Trainer",
    "SyntheticRegressionData", "LinearRegressionScratch", "LinearRegression", "SGD",
    "Classifier", "FashionMNIST", "SoftmaxRegression", "MLP", "DropoutMLP", "LeNet", "init_cnn",
    "cpu", "gpu", "num_gpus", *_aliases,
]  # fmt: skip
