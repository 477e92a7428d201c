"""The edition's figures: ``show_fashion_mnist`` and ``semilogy``, shown where the code runs.

The edition leaves ``plt.show()`` out and counts on a notebook to show the
figure, so a script shows nothing. Here, as in :mod:`shallownet.d2l.figures`,
each figure appears in the notebook cell, in a window (a GUI backend), or in
a PNG file whose path is printed (a backend such as Agg). ``use_svg_display``
and ``set_figsize`` are ``shallownet.d2l``'s: the edition's
``display.set_matplotlib_formats`` is gone from IPython 8.
"""

from __future__ import annotations

from shallownet.d2l.figures import (
    _pyplot,
    _values,
    output_mode,
    plt,
    publish,
    set_figsize,
    use_svg_display,
)
from shallownet.plots.image_grid import displayable

__all__ = ["set_figsize", "use_svg_display", "plt", "show_fashion_mnist", "semilogy"]


def show_fashion_mnist(images, labels):
    """Draw ``images`` in one row, each titled by its entry of ``labels``; axes hidden.

    Images may be tensors (1, 28, 28), (28, 28) or (784,), arrays or PIL images.
    """
    images = list(images)
    use_svg_display()
    _, figs = _pyplot().subplots(1, len(images), figsize=(12, 12), squeeze=False)
    figs = figs[0]
    for f, img, lbl in zip(figs, images, labels, strict=False):
        f.imshow(_square(img))
        f.set_title(lbl)
        f.axes.get_xaxis().set_visible(False)
        f.axes.get_yaxis().set_visible(False)
    publish(figs[0].figure, "images")


def _square(img):
    """An image as ``imshow`` takes it; a flattened square one, (784,) or (1, 784), as (28, 28)."""
    import math

    values = displayable(img)
    if values.ndim == 1 or (values.ndim == 2 and values.shape[0] == 1 and values.shape[1] > 1):
        side = math.isqrt(values.size)
        if side * side == values.size:
            return values.reshape(side, side)
    return values


def semilogy(x_vals, y_vals, x_label, y_label, x2_vals=None, y2_vals=None, legend=None,
             figsize=(3.5, 2.5)):
    """Plot ``y_vals`` against ``x_vals`` on a log y axis; with ``x2_vals`` and ``y2_vals``, a
    second, dotted curve and the ``legend``.

    Values may be lists, arrays or tensors (also ones that need grad). Outside
    a notebook each call draws a figure of its own.
    """
    set_figsize(figsize)
    pyplot = _pyplot()
    current = pyplot.gcf() if pyplot.get_fignums() else None
    if output_mode() == "notebook" or (current is not None and not current.axes):
        axes = pyplot.gca()
    else:
        axes = pyplot.figure(figsize=figsize).gca()
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.semilogy(_values(x_vals), _values(y_vals))
    if x2_vals is not None and y2_vals is not None:
        axes.semilogy(_values(x2_vals), _values(y2_vals), linestyle=":")
        axes.legend(legend)
    publish(axes.figure, "semilogy")
