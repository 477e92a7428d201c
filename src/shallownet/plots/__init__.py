"""Figures: image grids (and, later, training curves). Every function returns its figure."""

from shallownet.plots.images import save_figure, show_images

__all__ = ["save_figure", "show_images"]
