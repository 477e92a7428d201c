"""The confusion-matrix heatmap: counts and row shares in the cells, per-class accuracy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from matplotlib.colors import same_color, to_rgb

from shallownet.data import FASHION_MNIST_LABELS
from shallownet.errors import UsageError
from shallownet.plots import plot_confusion_matrix, save_figure


def fashion_matrix() -> np.ndarray:
    """A plausible 10-class test-set matrix, 1000 examples per true class."""
    rng = np.random.default_rng(0)
    diagonal = np.array([830, 960, 740, 860, 780, 940, 560, 930, 950, 950])
    matrix = np.zeros((10, 10), dtype=np.int64)
    for i in range(10):
        others = [j for j in range(10) if j != i]
        matrix[i, others] = rng.multinomial(1000 - diagonal[i], np.full(9, 1 / 9))
        matrix[i, i] = diagonal[i]
    return matrix


def cell_texts(ax) -> dict[tuple[int, int], object]:
    """The annotation of each cell, keyed (row, column) from its position."""
    return {(round(t.get_position()[1]), round(t.get_position()[0])): t for t in ax.texts}


def tick_texts(labels) -> list[str]:
    return [label.get_text() for label in labels]


def test_each_cell_shows_its_count_and_row_share(close_figures):
    matrix = fashion_matrix()
    fig = plot_confusion_matrix(torch.as_tensor(matrix), FASHION_MNIST_LABELS, title="test")
    close_figures.append(fig)
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # the heatmap and its colourbar
    cells = cell_texts(ax)
    assert len(ax.texts) == len(cells) == 100
    for (i, j), text in cells.items():
        lines = text.get_text().split("\n")
        assert lines[0] == str(matrix[i, j])
        if matrix[i, j] == 0:
            assert lines == ["0"]
        else:
            percent = f"{matrix[i, j] / 1000:.0%}"
            assert lines[1] == ("<1%" if percent == "0%" else percent)
    assert cells[(0, 0)].get_text() == "830\n83%"
    assert cells[(6, 6)].get_text() == "560\n56%"
    np.testing.assert_allclose(ax.images[0].get_array(), matrix / 1000)
    assert ax.images[0].get_clim() == (0.0, 1.0)
    assert fig._suptitle.get_text() == "test"
    assert ax.get_title() == "overall accuracy 85.0% of 10,000 examples"


def test_per_class_accuracy_is_in_the_row_labels(close_figures):
    fig = plot_confusion_matrix(fashion_matrix(), FASHION_MNIST_LABELS)
    close_figures.append(fig)
    ax = fig.axes[0]
    assert tick_texts(ax.get_yticklabels()) == [
        "t-shirt (83%)", "trouser (96%)", "pullover (74%)", "dress (86%)", "coat (78%)",
        "sandal (94%)", "shirt (56%)", "sneaker (93%)", "bag (95%)", "ankle boot (95%)",
    ]
    assert tick_texts(ax.get_xticklabels()) == list(FASHION_MNIST_LABELS)
    assert all(label.get_rotation() > 0 for label in ax.get_xticklabels())
    assert "predicted" in ax.get_xlabel() and "true" in ax.get_ylabel()


def luminance(color) -> float:
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
              for c in to_rgb(color)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a, b) -> float:
    """WCAG contrast ratio, 1 (none) to 21 (black on white)."""
    high, low = sorted([luminance(a), luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("normalize", [True, False])
def test_text_colour_contrasts_with_the_cell(normalize, close_figures):
    matrix = fashion_matrix()
    matrix[0, 0], matrix[0, 1] = matrix[0, 0] + matrix[0, 1], 0
    fig = plot_confusion_matrix(matrix, FASHION_MNIST_LABELS, normalize=normalize)
    close_figures.append(fig)
    image = fig.axes[0].images[0]
    values = np.asarray(image.get_array())
    for (i, j), text in cell_texts(fig.axes[0]).items():
        cell = image.cmap(image.norm(values[i, j]))
        if matrix[i, j] > 0:
            assert contrast(text.get_color(), cell) >= 4.5, (i, j)  # WCAG AA
    cells = cell_texts(fig.axes[0])
    assert same_color(cells[(1, 1)].get_color(), "white")  # 96%: dark blue
    assert same_color(cells[(0, 1)].get_color(), "0.55")  # a zero, greyed on white


def test_counts_only_without_normalize(close_figures):
    matrix = fashion_matrix()
    fig = plot_confusion_matrix(matrix, FASHION_MNIST_LABELS, normalize=False)
    close_figures.append(fig)
    ax, colorbar = fig.axes
    for (i, j), text in cell_texts(ax).items():
        assert text.get_text() == str(matrix[i, j])
    assert ax.images[0].get_clim() == (0.0, 960.0)
    np.testing.assert_array_equal(ax.images[0].get_array(), matrix)
    assert colorbar.get_ylabel() == "count"
    assert tick_texts(ax.get_yticklabels())[6] == "shirt (56%)"


def test_empty_rows_give_no_nan_and_no_warning(close_figures):
    matrix = np.array([[90, 10], [0, 0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_confusion_matrix(matrix, ["negative", "positive"])
        close_figures.append(fig)
        fig.canvas.draw()
    ax = fig.axes[0]
    assert tick_texts(ax.get_yticklabels()) == ["negative (90%)", "positive (n/a)"]
    assert [t.get_text() for t in ax.texts] == ["90\n90%", "10\n10%", "0", "0"]
    assert not np.isnan(np.asarray(ax.images[0].get_array())).any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_confusion_matrix(np.zeros((3, 3)), ["a", "b", "c"])
        close_figures.append(fig)
        fig.canvas.draw()
    assert tick_texts(fig.axes[0].get_yticklabels()) == ["a (n/a)", "b (n/a)", "c (n/a)"]


def test_tensor_and_array_give_the_same_figure(close_figures):
    matrix = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    figures = [plot_confusion_matrix(m, ["a", "b", "c"])
               for m in (matrix, torch.as_tensor(matrix), matrix.astype(np.float32))]
    close_figures.extend(figures)
    texts = [[t.get_text() for t in fig.axes[0].texts] for fig in figures]
    assert texts[0] == texts[1] == texts[2]
    assert texts[0][:3] == ["5\n83%", "1\n17%", "0"]


def test_two_classes_use_a_larger_font_than_ten(close_figures):
    small = plot_confusion_matrix([[40, 2], [3, 55]], ["cat", "dog"])
    large = plot_confusion_matrix(fashion_matrix(), FASHION_MNIST_LABELS)
    close_figures.extend([small, large])
    assert small.axes[0].texts[0].get_fontsize() > large.axes[0].texts[0].get_fontsize() >= 7
    width, height = large.get_size_inches()
    assert 7 <= width <= 9 and 6 <= height <= 8


@pytest.mark.parametrize(
    ("matrix", "classes", "match"),
    [
        (np.zeros((2, 3)), ["a", "b"], r"square \(k, k\), not of shape \(2, 3\)"),
        (np.zeros(4), ["a"] * 4, r"not of shape \(4,\)"),
        (np.zeros((3, 3)), ["a", "b"], "2 class names for a 3 x 3 confusion matrix"),
        (np.zeros((0, 0)), [], "empty"),
        (np.array([[1, -1], [0, 2]]), ["a", "b"], "finite counts >= 0"),
        (np.array([[1, np.nan], [0, 2]]), ["a", "b"], "finite counts >= 0"),
        ([["x", "y"], ["z", "w"]], ["a", "b"], "tensor or array of counts"),
    ],
)
def test_bad_matrices_are_usage_errors(matrix, classes, match):
    with pytest.raises(UsageError, match=match):
        plot_confusion_matrix(matrix, classes)


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_saves_as_png_and_svg(tmp_path, suffix, close_figures):
    fig = plot_confusion_matrix(fashion_matrix(), FASHION_MNIST_LABELS, title="saved")
    close_figures.append(fig)
    data = save_figure(fig, tmp_path / f"confusion{suffix}").read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data
