"""A confusion-matrix heatmap: counts, row percentages and per-class accuracy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from shallownet.errors import UsageError

__all__ = ["plot_confusion_matrix"]


def _as_matrix(matrix) -> np.ndarray:
    if isinstance(matrix, torch.Tensor):
        matrix = matrix.detach().cpu().numpy()
    try:
        array = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise UsageError("the confusion matrix must be a tensor or array of counts.") from None
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise UsageError(
            f"the confusion matrix must be square (k, k), not of shape {tuple(array.shape)}."
        )
    if not np.isfinite(array).all() or (array < 0).any():
        raise UsageError("the confusion matrix must hold finite counts >= 0.")
    return array


#: Below this relative luminance white text contrasts more than black (WCAG ratios equal).
_WHITE_OR_BLACK = (1.05 * 0.05) ** 0.5 - 0.05


def _luminance(rgba) -> float:
    """WCAG relative luminance of an sRGB colour."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3]]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _count_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


def _percent_text(fraction: float) -> str:
    """Whole percent, but "<1%" rather than "0%" for a share that is not zero."""
    text = f"{fraction:.0%}"
    return "<1%" if text == "0%" and fraction > 0 else text


def plot_confusion_matrix(
    matrix: torch.Tensor | np.ndarray,
    classes: Sequence[str],
    *,
    normalize: bool = True,
    title: str | None = None,
):
    """Heatmap of a confusion matrix, rows the true class and columns the predicted one.

    Parameters
    ----------
    matrix : Tensor or ndarray of shape (k, k)
        ``matrix[i, j]`` counts the examples of true class i predicted as j.
    classes : sequence of k str
        Class names, in label order.
    normalize : bool
        Colour each cell by its share of the row (the true class) and print that
        percentage under the count; otherwise colour by the count itself.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib Figure
        The heatmap axes first, then its colourbar. Each cell's text starts with
        its count; each y tick label is ``"name (acc%)"``, the class's accuracy
        (diagonal over row sum; ``"n/a"`` for a class with no example). The axes
        title gives the overall accuracy.

    Raises
    ------
    UsageError
        A matrix that is not square, not finite or negative, or whose size is
        not ``len(classes)``.
    """
    from matplotlib.figure import Figure

    counts = _as_matrix(matrix)
    k = counts.shape[0]
    if len(classes) != k:
        raise UsageError(
            f"{len(classes)} class names for a {k} x {k} confusion matrix; give one per row."
        )
    if k == 0:
        raise UsageError("the confusion matrix is empty (0 classes).")

    row_sums = counts.sum(axis=1)
    has_rows = row_sums > 0
    fractions = np.divide(counts, row_sums[:, None], out=np.zeros_like(counts),
                          where=has_rows[:, None])
    accuracy = np.diagonal(fractions)
    total = counts.sum()

    width = min(8.0, 4.2 + 0.4 * k)
    fig = Figure(figsize=(width, width - 1.0), layout="constrained")
    ax = fig.add_subplot()
    values = fractions if normalize else counts
    vmax = 1.0 if normalize else max(float(counts.max()), 1.0)
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    colorbar = fig.colorbar(image, ax=ax, shrink=0.85, pad=0.02)
    colorbar.set_label("share of the true class" if normalize else "count")
    if normalize:
        colorbar.ax.yaxis.set_major_formatter("{x:.0%}")

    fontsize = float(np.clip(80 / k, 5.5, 12))
    for i in range(k):
        for j in range(k):
            text = _count_text(counts[i, j])
            if normalize and counts[i, j] > 0:
                text += f"\n{_percent_text(fractions[i, j])}"
            dark = _luminance(image.cmap(image.norm(values[i, j]))) < _WHITE_OR_BLACK
            color = "white" if dark else ("0.55" if counts[i, j] == 0 else "black")
            ax.text(j, i, text, ha="center", va="center", fontsize=fontsize, color=color,
                    linespacing=1.1)

    ax.set_xticks(range(k), labels=[str(c) for c in classes], rotation=40, ha="right",
                  rotation_mode="anchor")
    ax.set_yticks(range(k), labels=[
        f"{name} ({acc:.0%})" if has else f"{name} (n/a)"
        for name, acc, has in zip(classes, accuracy, has_rows, strict=True)
    ])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xticks(np.arange(k + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(k + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (per-class accuracy)")
    if total > 0:
        overall = np.trace(counts) / total
        examples = f"{int(total):,}" if float(total).is_integer() else f"{total:.4g}"
        ax.set_title(f"overall accuracy {overall:.1%} of {examples} examples",
                     fontsize="medium")
    if title:
        fig.suptitle(title)
    return fig
