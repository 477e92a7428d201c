"""Figures: image grids, loss and training curves, prediction galleries and confusion matrices.

Every plotting function returns its figure, never shows it; :func:`show` puts
one in a notebook cell, or in a PNG file when run as a script.
"""

from shallownet.plots.confusion import plot_confusion_matrix
from shallownet.plots.gallery import plot_prediction_gallery
from shallownet.plots.image_grid import show_images
from shallownet.plots.losses import loss_curves, plot_regression_losses
from shallownet.plots.notebook import in_notebook
from shallownet.plots.save import figures_dir, save_figure
from shallownet.plots.show import show
from shallownet.plots.training import LivePlot, plot_training_curves

__all__ = [
    "LivePlot",
    "figures_dir",
    "in_notebook",
    "loss_curves",
    "plot_confusion_matrix",
    "plot_prediction_gallery",
    "plot_regression_losses",
    "plot_training_curves",
    "save_figure",
    "show",
    "show_images",
]
