"""Images with their predicted labels, wrong predictions in red and framed."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import torch

from shallownet.errors import UsageError

__all__ = ["plot_prediction_gallery", "CORRECT_COLOR", "WRONG_COLOR"]

#: Title colour of a correct prediction.
CORRECT_COLOR = "black"
#: Title and frame colour of a wrong prediction.
WRONG_COLOR = "#d62728"


def _as_images(images) -> np.ndarray:
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    try:
        array = np.asarray(images, dtype=np.float64)
    except (TypeError, ValueError):
        raise UsageError("images must be a tensor or array of shape (n, 1, h, w) or "
                         "(n, h, w).") from None
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 3:
        raise UsageError(
            f"images must have shape (n, 1, h, w) or (n, h, w), not {tuple(array.shape)}."
        )
    return array


def _display_range(img: np.ndarray) -> tuple[float, float]:
    """The image's own min and max, so normalised images display with full contrast."""
    finite = img[np.isfinite(img)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    return (low, high) if high > low else (low - 0.5, low + 0.5)


def _positive_int(value, name: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise UsageError(f"{name} must be an integer >= 1, not {value!r}.")
    return int(value)


def plot_prediction_gallery(
    images: torch.Tensor | np.ndarray,
    true_labels: Sequence[str],
    predicted_labels: Sequence[str],
    *,
    ncols: int = 8,
    max_images: int | None = None,
    title: str | None = None,
):
    """A grid of images, each titled with its prediction; wrong ones red, framed and corrected.

    Parameters
    ----------
    images : Tensor or ndarray of shape (n, 1, h, w) or (n, h, w)
        Any float scale (normalised data included): each image is stretched
        from its own minimum (black) to its maximum (white).
    true_labels, predicted_labels : sequence of str, length n
    ncols : int
        Images per row (fewer when there are fewer images).
    max_images : int, optional
        Show only the first ``max_images`` images.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib Figure
        One axes per image, in order, then blank ones filling the last row. A
        correct tile is titled with its label in :data:`CORRECT_COLOR`; a wrong
        one with the prediction over ``"true: X"`` in :data:`WRONG_COLOR`, with
        a frame of that colour.

    Raises
    ------
    UsageError
        Images of another shape, label sequences of another length, no image,
        or ``ncols``/``max_images`` not a positive integer.
    """
    from matplotlib.figure import Figure

    array = _as_images(images)
    n = array.shape[0]
    if len(true_labels) != n or len(predicted_labels) != n:
        raise UsageError(
            f"need one true and one predicted label per image: {n} images, "
            f"{len(true_labels)} true labels, {len(predicted_labels)} predicted labels."
        )
    if n == 0:
        raise UsageError("no image to show.")
    ncols = _positive_int(ncols, "ncols")
    shown = n if max_images is None else min(n, _positive_int(max_images, "max_images"))
    ncols = min(ncols, shown)
    nrows = math.ceil(shown / ncols)

    tile = 1.45
    fig = Figure(figsize=(ncols * tile, nrows * (tile + 0.42) + (0.4 if title else 0)),
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).reshape(-1)
    for i, ax in enumerate(axes):
        if i >= shown:
            ax.set_axis_off()
            continue
        img = array[i]
        low, high = _display_range(img)
        ax.imshow(img, cmap="gray", vmin=low, vmax=high, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        predicted, true = str(predicted_labels[i]), str(true_labels[i])
        if predicted == true:
            ax.set_title(predicted, fontsize=9, color=CORRECT_COLOR)
            for spine in ax.spines.values():
                spine.set_visible(False)
        else:
            ax.set_title(f"{predicted}\ntrue: {true}", fontsize=9, color=WRONG_COLOR,
                         fontweight="bold")
            for spine in ax.spines.values():
                spine.set_color(WRONG_COLOR)
                spine.set_linewidth(3)
    if title:
        fig.suptitle(title)
    return fig
