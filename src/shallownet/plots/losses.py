"""The regression losses side by side: each with its gradient and its likelihood exp(-l)."""

from __future__ import annotations

import torch

from shallownet.errors import UsageError
from shallownet.scratch.losses import huber_loss, l1_loss, squared_loss

__all__ = ["loss_curves", "plot_regression_losses"]


def loss_curves(
    limit: float = 3.0, *, delta: float = 1.0, num: int = 601
) -> dict[str, dict[str, torch.Tensor]]:
    """Loss, gradient ∂l/∂ŷ and likelihood ``exp(-l)`` of each regression loss on a grid of ŷ - y.

    The grid has ``num`` points (one more if ``num`` is even) from -limit to
    limit, with 0 exactly on it.

    The gradient comes from autograd through the scratch loss functions.

    Returns
    -------
    dict name -> {"residual", "loss", "gradient", "likelihood"}, each a float64 tensor
    """
    if not (limit > 0 and delta > 0):
        raise UsageError(f"limit and delta must be positive (got {limit} and {delta}).")
    if num < 3:
        raise UsageError(f"need at least 3 points, not {num}.")
    losses = {
        "squared ½(ŷ−y)²  (Gaussian noise)": squared_loss,
        "L1 |ŷ−y|  (Laplace noise)": l1_loss,
        f"Huber, δ = {delta:g}  (robust)": lambda y_hat, y: huber_loss(y_hat, y, delta),
    }
    curves = {}
    for name, fn in losses.items():
        half = num // 2  # an odd number of points, with 0 exactly in the middle
        residual = torch.arange(-half, half + 1, dtype=torch.float64) * (limit / half)
        y_hat = residual.requires_grad_(True)
        loss = fn(y_hat, torch.zeros_like(y_hat))
        (gradient,) = torch.autograd.grad(loss.sum(), y_hat)
        curves[name] = {
            "residual": y_hat.detach(),
            "loss": loss.detach(),
            "gradient": gradient,
            "likelihood": torch.exp(-loss.detach()),
        }
    return curves


def plot_regression_losses(limit: float = 3.0, *, delta: float = 1.0, axes=None):
    """One panel per loss (squared, L1, Huber), each showing l, ∂l/∂ŷ and exp(-l) against ŷ - y.

    Parameters
    ----------
    limit : float
        The residual axis runs from -limit to limit.
    delta : float
        The Huber threshold.
    axes : sequence of 3 matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Figure
    """
    curves = loss_curves(limit, delta=delta)
    if axes is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(13, 4.2), layout="constrained")
        axes = fig.subplots(1, 3, sharey=True)
    else:
        fig = axes[0].figure
    styles = {
        "loss": ("loss  l", "C0", "-"),
        "gradient": ("gradient  ∂l/∂ŷ", "C1", "--"),
        "likelihood": ("likelihood  exp(−l), unnormalised", "C2", ":"),
    }
    for ax, (name, c) in zip(axes, curves.items(), strict=True):
        for key, (label, color, style) in styles.items():
            ax.plot(c["residual"], c[key], color=color, linestyle=style, linewidth=2, label=label)
        ax.axhline(0, color="0.7", linewidth=0.8)
        ax.axvline(0, color="0.7", linewidth=0.8)
        ax.set_title(name)
        ax.set_xlabel("residual  ŷ − y")
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit * 0.5 - 0.5, max(2.5, limit * 0.9))
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="lower right", fontsize="small")
    fig.suptitle("Regression losses, their gradients and the likelihoods they imply")
    return fig
