"""Figures: image grids and loss curves. Every function returns its figure, never shows it."""

from shallownet.plots.images import save_figure, show_images
from shallownet.plots.losses import loss_curves, plot_regression_losses

__all__ = ["loss_curves", "plot_regression_losses", "save_figure", "show_images"]
