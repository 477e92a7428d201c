"""The helpers of *Dive-into-DL-PyTorch* (``d2lzh_pytorch``, the course's ``d2lzh1981``).

Code written for the Chinese PyTorch edition of the book runs with its import
line changed to::

    from shallownet import d2lzh as d2l

for the edition's chapters 3 (deep-learning basics) and 5 (CNNs). Names,
signatures, defaults and printed lines are the edition's; where its
behaviour is a trap, it is fixed (docs/d2lzh.md lists each difference):

- data is loaded in memory, without worker processes, from ``root=`` or,
  when ``root`` holds no copy (a course's server path), from where shallownet
  finds it offline (:mod:`shallownet.d2lzh.data`);
- figures appear in a notebook cell, a window, or a file whose path is
  printed (:mod:`shallownet.d2lzh.figures`);
- evaluation runs in eval mode and restores the mode; the printed loss is a
  mean per example whatever the loss's reduction; a diverging loss stops
  training with advice (:mod:`shallownet.d2lzh.train`).

The English edition's helpers are :mod:`shallownet.d2l`: the two share names
(``train_ch3``, ``evaluate_accuracy``) with other signatures.
"""

from __future__ import annotations

from shallownet.d2lzh.data import data_iter, get_fashion_mnist_labels, load_data_fashion_mnist
from shallownet.d2lzh.figures import plt, semilogy, set_figsize, show_fashion_mnist, use_svg_display
from shallownet.d2lzh.layers import (
    FlattenLayer,
    GlobalAvgPool2d,
    Residual,
    corr2d,
    linreg,
    sgd,
    squared_loss,
)
from shallownet.d2lzh.train import evaluate_accuracy, train_ch3, train_ch5

__all__ = [
    "set_figsize", "use_svg_display", "plt", "data_iter", "linreg", "squared_loss", "sgd",
    "get_fashion_mnist_labels", "show_fashion_mnist", "load_data_fashion_mnist",
    "evaluate_accuracy", "train_ch3", "FlattenLayer", "semilogy", "corr2d", "train_ch5",
    "GlobalAvgPool2d", "Residual",
]  # fmt: skip
