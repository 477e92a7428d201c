"""A grid of images with their titles, as in the book's ``show_images``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["show_images", "displayable"]


def show_images(
    imgs: torch.Tensor | np.ndarray | Sequence,
    num_rows: int,
    num_cols: int,
    titles: Sequence[str] | None = None,
    scale: float = 1.5,
    *,
    title_colors: Sequence[str] | None = None,
):
    """Draw ``num_rows x num_cols`` images in a grid, each with its title.

    Parameters
    ----------
    imgs : Tensor or array of shape (N, H, W), (N, 1, H, W) or (N, H, W, 3), or a list of images
    num_rows, num_cols : int
    titles : sequence of str, optional
    scale : float
        Inches per image.
    title_colors : sequence of str, optional
        Colour of each title (e.g. red for wrong predictions).

    Returns
    -------
    (Figure, ndarray of Axes)
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(num_cols * scale, num_rows * scale * 1.15), layout="constrained")
    axes = fig.subplots(num_rows, num_cols, squeeze=False).reshape(-1)
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= len(imgs):
            continue
        img = displayable(imgs[i])
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        if titles is not None and i < len(titles):
            color = title_colors[i] if title_colors is not None else "black"
            ax.set_title(titles[i], fontsize=9, color=color)
    return fig, axes


def displayable(img) -> np.ndarray:
    """One image (tensor, array or PIL image) as an array ``imshow`` draws: (H, W) or (H, W, C).

    Tensors are detached and brought to the CPU; channels-first images
    (1 or 3, H, W) become channels-last, and a single channel is dropped.
    """
    if isinstance(img, torch.Tensor):
        img = img.detach().cpu().numpy()
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):
        img = np.moveaxis(img, 0, -1)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    return img

