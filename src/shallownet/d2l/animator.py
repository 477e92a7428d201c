"""The book's ``Animator``: curves that grow one point at a time while training runs."""

from __future__ import annotations

import itertools

from shallownet.d2l.figures import (
    _pyplot,
    output_mode,
    publish,
    rendered,
    set_axes,
    use_svg_display,
)

__all__ = ["Animator"]


def _is_scalar(value) -> bool:
    """A number, including 0-d tensors and arrays (which have ``__len__`` but no length)."""
    return not hasattr(value, "__len__") or getattr(value, "ndim", None) == 0


def as_float(value) -> float:
    """A plain float from a number, a 0-d array, or a 0-d tensor (any device, grad or not)."""
    return float(value.item()) if hasattr(value, "item") else float(value)


class Animator:
    """Plot data incrementally: each :meth:`add` appends one point per curve and redraws.

    Same signature and attributes (``fig``, ``axes``, ``X``, ``Y``) as the
    book's. Where the book redraws only inside Jupyter, this one redraws in
    place in a notebook cell (one output, updated), in a window when a GUI
    backend is available, and otherwise in a PNG file whose path it prints
    (see :mod:`shallownet.d2l.figures`). More curves than ``fmts`` reuse the
    formats in turn instead of going undrawn, and values may be tensors.

    Parameters
    ----------
    xlabel, ylabel : str, optional
    legend : list of str, optional
        One label per curve.
    xlim, ylim : (float, float), optional
    xscale, yscale : {"linear", "log", ...}
    fmts : sequence of str
        matplotlib format strings, one per curve.
    nrows, ncols : int
        Subplots; the curves go to the first.
    figsize : (float, float)
        Inches.
    """

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
                 xscale="linear", yscale="linear", fmts=("-", "m--", "g-.", "r:"),
                 nrows=1, ncols=1, figsize=(3.5, 2.5)):
        if legend is None:
            legend = []
        use_svg_display()
        self._mode = output_mode()
        if self._mode == "notebook":
            # Not registered with pyplot, so the cell does not show it a second time at its end.
            from matplotlib.figure import Figure

            self.fig = Figure(figsize=figsize)
            axes = self.fig.subplots(nrows, ncols, squeeze=False)
        else:
            self.fig, axes = _pyplot().subplots(nrows, ncols, figsize=figsize, squeeze=False)
        self.axes = list(axes.flat)
        self.config_axes = lambda: set_axes(
            self.axes[0], xlabel, ylabel, xlim, ylim, xscale, yscale, legend)
        self.X, self.Y, self.fmts = None, None, fmts
        self._handle = None

    def add(self, x, y) -> None:
        """Append point ``(x, y_i)`` to curve ``i`` (``None`` skips a curve) and redraw.

        ``y`` is one value or one per curve; ``x`` is one value for all curves
        or one per curve.
        """
        if _is_scalar(y):
            y = [y]
        n = len(y)
        if _is_scalar(x):
            x = [x] * n
        if not self.X:
            self.X = [[] for _ in range(n)]
        if not self.Y:
            self.Y = [[] for _ in range(n)]
        for i, (a, b) in enumerate(zip(x, y, strict=False)):
            if a is not None and b is not None:
                self.X[i].append(as_float(a))
                self.Y[i].append(as_float(b))
        self.axes[0].cla()
        for xs, ys, fmt in zip(self.X, self.Y, itertools.cycle(self.fmts)):
            self.axes[0].plot(xs, ys, fmt)
        self.config_axes()
        self._show()

    def _show(self) -> None:
        if self._mode != "notebook":
            publish(self.fig, "animator", throttle=True)
            return
        from IPython.display import display

        image = rendered(self.fig)
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
