"""The prediction gallery: one tile per image, wrong predictions red, framed and corrected."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from matplotlib.colors import same_color

from shallownet.data import FASHION_MNIST_LABELS
from shallownet.errors import UsageError
from shallownet.plots import plot_prediction_gallery, save_figure
from shallownet.plots.gallery import CORRECT_COLOR, WRONG_COLOR

WRONG = {1: 9, 6: 0, 11: 2, 14: 6}  # image index -> predicted class



def labels(n: int = 16) -> tuple[list[str], list[str]]:
    true = [FASHION_MNIST_LABELS[i % 10] for i in range(n)]
    predicted = [FASHION_MNIST_LABELS[WRONG[i]] if i in WRONG else t
                 for i, t in enumerate(true)]
    return true, predicted


def test_wrong_predictions_are_red_framed_and_show_the_truth(seed, close_figures):
    true, predicted = labels()
    fig = plot_prediction_gallery(torch.randn(16, 1, 28, 28), true, predicted, title="preds")
    close_figures.append(fig)
    assert len(fig.axes) == 16
    assert fig._suptitle.get_text() == "preds"
    for i, ax in enumerate(fig.axes):
        title = ax.title
        if i in WRONG:
            assert title.get_text() == f"{predicted[i]}\ntrue: {true[i]}"
            assert same_color(title.get_color(), WRONG_COLOR)
            for spine in ax.spines.values():
                assert spine.get_visible()
                assert same_color(spine.get_edgecolor(), WRONG_COLOR)
                assert spine.get_linewidth() >= 2
        else:
            assert title.get_text() == true[i]
            assert same_color(title.get_color(), CORRECT_COLOR)
            assert not any(spine.get_visible() for spine in ax.spines.values())
        assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    red = [i for i, ax in enumerate(fig.axes) if same_color(ax.title.get_color(), WRONG_COLOR)]
    assert red == sorted(WRONG)


def test_each_image_is_stretched_over_its_own_range(close_figures):
    images = np.stack([np.linspace(-0.42, 2.8, 28 * 28).reshape(28, 28),   # normalised data
                       np.linspace(0.0, 0.1, 28 * 28).reshape(28, 28)])   # a faint image
    fig = plot_prediction_gallery(images, ["a", "b"], ["a", "b"])
    close_figures.append(fig)
    assert len(fig.axes) == 2  # two images: two columns, not eight
    (first,), (second,) = fig.axes[0].images, fig.axes[1].images
    assert first.get_clim() == pytest.approx((-0.42, 2.8))
    assert second.get_clim() == pytest.approx((0.0, 0.1))
    np.testing.assert_array_equal(first.get_array(), images[0])
    assert first.get_cmap().name == "gray"


def test_a_constant_or_nan_image_draws_without_warnings(close_figures):
    images = torch.zeros(3, 8, 8)
    images[1] = 0.5
    images[2] = float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_prediction_gallery(images, ["x"] * 3, ["x", "y", "x"])
        close_figures.append(fig)
        fig.canvas.draw()
    low, high = fig.axes[1].images[0].get_clim()
    assert low < 0.5 < high


def test_the_grid_fills_rows_and_blanks_the_rest(close_figures):
    true, predicted = labels(10)
    fig = plot_prediction_gallery(torch.rand(10, 28, 28), true, predicted, ncols=4)
    close_figures.append(fig)
    assert len(fig.axes) == 12
    assert [ax.axison for ax in fig.axes] == [True] * 10 + [False] * 2
    assert [ax.get_title() for ax in fig.axes[10:]] == ["", ""]


def test_max_images_shows_the_first_ones(close_figures):
    true, predicted = labels()
    fig = plot_prediction_gallery(torch.rand(16, 1, 28, 28), true, predicted, max_images=5)
    close_figures.append(fig)
    shown = [ax for ax in fig.axes if ax.axison]
    assert len(shown) == 5
    assert [ax.get_title().split("\n")[0] for ax in shown] == predicted[:5]
    fig = plot_prediction_gallery(torch.rand(3, 1, 4, 4), ["a"] * 3, ["a"] * 3, max_images=50)
    close_figures.append(fig)
    assert len(fig.axes) == 3


@pytest.mark.parametrize(
    ("shape", "n_true", "n_pred", "kwargs", "match"),
    [
        ((4, 1, 8, 8), 3, 4, {}, "4 images, 3 true labels, 4 predicted labels"),
        ((4, 8, 8), 4, 5, {}, "5 predicted labels"),
        ((4, 3, 8, 8), 4, 4, {}, r"not \(4, 3, 8, 8\)"),
        ((8, 8), 8, 8, {}, r"not \(8, 8\)"),
        ((0, 8, 8), 0, 0, {}, "no image to show"),
        ((4, 8, 8), 4, 4, {"ncols": 0}, "ncols must be an integer >= 1, not 0"),
        ((4, 8, 8), 4, 4, {"ncols": 2.5}, "ncols must be"),
        ((4, 8, 8), 4, 4, {"max_images": 0}, "max_images must be"),
    ],
)
def test_bad_arguments_are_usage_errors(shape, n_true, n_pred, kwargs, match):
    with pytest.raises(UsageError, match=match):
        plot_prediction_gallery(torch.rand(shape), ["a"] * n_true, ["a"] * n_pred, **kwargs)


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_saves_as_png_and_svg(tmp_path, suffix, close_figures):
    true, predicted = labels(4)
    fig = plot_prediction_gallery(torch.rand(4, 1, 28, 28), true, predicted, title="saved")
    close_figures.append(fig)
    data = save_figure(fig, tmp_path / f"gallery{suffix}").read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data
