"""The current edition's ``ProgressBoard``: curves of points, each the mean of ``every_n`` values.

The book's board redraws the whole figure and re-displays it in Jupyter on
every averaged point (several times per epoch), which dominates a short
run, and outside Jupyter shows nothing. This one keeps the same points
(``board.data``) and draws them where the code runs (a notebook cell, a
window, or a PNG file whose path is printed; see
:mod:`shallownet.d2l.figures`), but at most once per :data:`MIN_INTERVAL`
seconds, and never more often than every ten times what one drawing costs.
What is not drawn yet is drawn by :meth:`ProgressBoard.flush`, which
``Trainer.fit`` calls at its end, and otherwise after the notebook cell or
at the script's exit: the final figure shows every point.
"""

from __future__ import annotations

import collections
import itertools
import time
import weakref

from shallownet.d2l.animator import as_float
from shallownet.d2l.figures import (
    _pyplot,
    on_exit,
    output_mode,
    publish,
    rendered,
    use_svg_display,
)
from shallownet.d2l.hyperparameters import HyperParameters

__all__ = ["Point", "ProgressBoard", "MIN_INTERVAL"]

#: A point of a curve: the mean x and mean y of ``every_n`` values given to ``draw``.
Point = collections.namedtuple("Point", ["x", "y"])

#: Seconds between two drawings of one board, at least.
MIN_INTERVAL = 0.5

#: The clock the throttle reads (replaced in tests).
clock = time.perf_counter

#: Boards with points not drawn yet.
_pending: weakref.WeakSet = weakref.WeakSet()
_hooks = {"cell": False, "exit": False}


def flush_all() -> None:
    """Draw every board that has points not drawn yet."""
    for board in list(_pending):
        board.flush()


def _flush_after_cells() -> None:
    """In IPython, draw what a cell left undrawn when the cell ends; at exit, in any case."""
    if not _hooks["exit"]:
        on_exit(flush_all)
        _hooks["exit"] = True
    if _hooks["cell"]:
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.events.register("post_run_cell", lambda *args: flush_all())
        _hooks["cell"] = True


class ProgressBoard(HyperParameters):
    """Plot data points in animation: :meth:`draw` adds a point, the figure follows.

    The book's arguments and attributes: ``xlabel``, ``ylabel``, ``xlim``,
    ``ylim``, ``xscale``, ``yscale``, line styles ``ls`` and ``colors`` (used
    in turn, so more than four curves are all drawn), an optional ``fig`` and
    ``axes`` to draw in, ``figsize`` in inches, and ``display`` (False:
    record the points, draw nothing). ``data`` maps each label to its list
    of :data:`Point`; ``raw_points`` holds the values not yet averaged.
    ``renders`` counts the drawings made.
    """

    def __init__(self, xlabel=None, ylabel=None, xlim=None, ylim=None, xscale="linear",
                 yscale="linear", ls=("-", "--", "-.", ":"), colors=("C0", "C1", "C2", "C3"),
                 fig=None, axes=None, figsize=(3.5, 2.5), display=True):
        self.save_hyperparameters()
        self.raw_points: collections.OrderedDict[str, list[Point]] = collections.OrderedDict()
        self.data: collections.OrderedDict[str, list[Point]] = collections.OrderedDict()
        self.renders = 0
        self._last_render: float | None = None
        self._render_cost = 0.0
        self._handle = None

    def draw(self, x, y, label, every_n=1) -> None:
        """Add ``(x, y)`` to curve ``label``; every ``every_n`` values become one point, their mean.

        ``x`` and ``y`` may be numbers, 0-d arrays or 0-d tensors (on any
        device, with or without grad). ``every_n`` below 1 counts as 1.
        """
        every_n = max(1, int(every_n))
        points = self.raw_points.setdefault(label, [])
        line = self.data.setdefault(label, [])
        points.append(Point(as_float(x), as_float(y)))
        if len(points) < every_n:
            return
        line.append(Point(sum(p.x for p in points) / len(points),
                          sum(p.y for p in points) / len(points)))
        points.clear()
        if not self.display:
            return
        _pending.add(self)
        _flush_after_cells()
        now = clock()
        if self._last_render is None or now - self._last_render >= max(MIN_INTERVAL,
                                                                        10 * self._render_cost):
            self.flush()

    def flush(self) -> None:
        """Draw the points not drawn yet (nothing when every point is drawn)."""
        if self not in _pending:
            return
        _pending.discard(self)
        start = clock()
        self._render()
        self.renders += 1
        self._last_render = clock()
        self._render_cost = self._last_render - start

    def _figure_and_axes(self):
        if self.axes is not None:
            return self.axes.figure, self.axes
        if self.fig is None:
            use_svg_display()
            if output_mode() == "notebook":
                # Not registered with pyplot: the cell does not show it again at its end.
                from matplotlib.figure import Figure

                self.fig = Figure(figsize=self.figsize)
            else:
                self.fig = _pyplot().figure(figsize=self.figsize)
        axes = self.fig.axes[0] if self.fig.axes else self.fig.add_subplot()
        return self.fig, axes

    def _render(self) -> None:
        fig, axes = self._figure_and_axes()
        axes.cla()
        styles = zip(itertools.cycle(self.ls), itertools.cycle(self.colors))
        for (label, line), (ls, color) in zip(self.data.items(), styles, strict=False):
            axes.plot([p.x for p in line], [p.y for p in line], linestyle=ls, color=color,
                      label=label)
        if self.xlim:
            axes.set_xlim(self.xlim)
        if self.ylim:
            axes.set_ylim(self.ylim)
        axes.set_xlabel(self.xlabel)
        axes.set_ylabel(self.ylabel)
        axes.set_xscale(self.xscale)
        axes.set_yscale(self.yscale)
        if self.data:
            axes.legend()
        if output_mode() != "notebook":
            publish(fig, "board")
            return
        from IPython.display import display

        image = rendered(fig)
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
