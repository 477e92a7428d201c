"""The edition's figures appear outside Jupyter: written to files under Agg, one per call."""

from __future__ import annotations

import numpy as np
import torch

from shallownet import d2lzh as d2l
from tests.d2l.conftest import PNG_MAGIC, written


def test_show_fashion_mnist_draws_one_row_titled_by_the_labels(figure_files):
    images = torch.rand(4, 1, 28, 28)
    labels = d2l.get_fashion_mnist_labels([0, 1, 8, 9])
    d2l.show_fashion_mnist(images, labels)
    assert written(figure_files) == ["lesson-1-images.png"]
    assert (figure_files / "lesson-1-images.png").read_bytes()[:8] == PNG_MAGIC
    fig = d2l.plt.gcf()
    assert [ax.get_title() for ax in fig.axes] == ["t-shirt", "trouser", "bag", "ankle boot"]
    assert all(not ax.get_xaxis().get_visible() for ax in fig.axes)


def test_show_fashion_mnist_takes_flat_images_and_a_single_one(figure_files):
    d2l.show_fashion_mnist([torch.rand(784)], ["coat"])
    image = d2l.plt.gcf().axes[0].get_images()[0].get_array()
    assert image.shape == (28, 28)


def test_semilogy_draws_a_log_scale_and_a_dotted_second_curve_with_legend(figure_files):
    epochs = np.arange(1, 11)  # arrays: the edition's `if x2_vals and y2_vals` raised here
    d2l.semilogy(epochs, 1 / epochs, "epochs", "loss", epochs, torch.tensor(2 / epochs),
                 ["train", "test"])
    ax = d2l.plt.gcf().axes[0]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "epochs"
    assert [line.get_linestyle() for line in ax.get_lines()] == ["-", ":"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "test"]
    assert written(figure_files) == ["lesson-1-semilogy.png"]


def test_each_semilogy_call_outside_a_notebook_draws_its_own_figure(figure_files):
    """3.11 calls it once per experiment; the edition drew them all on one axes in a script."""
    for scale in (1, 2, 3):
        d2l.semilogy([1, 2, 3], [scale, scale / 2, scale / 4], "epochs", "loss")
    assert written(figure_files) == [f"lesson-{i}-semilogy.png" for i in (1, 2, 3)]
    assert all(len(d2l.plt.figure(n).axes[0].get_lines()) == 1
               for n in d2l.plt.get_fignums())


def test_set_figsize_sets_the_size_of_new_figures(figure_files):
    d2l.set_figsize((5, 2.5))
    assert tuple(d2l.plt.rcParams["figure.figsize"]) == (5, 2.5)
    d2l.use_svg_display()  # no IPython needed (the edition's call is gone from IPython 8)
