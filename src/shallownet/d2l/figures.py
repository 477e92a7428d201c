"""Where the book's figures go: a notebook cell, a window, or a file.

The book draws with matplotlib and relies on Jupyter to show the result.
Here every figure goes where the code runs:

- **notebook** (a Jupyter kernel, or IPython with the inline backend): as in
  the book, the cell shows it;
- **window** (a script or IDE with a GUI backend): the window opens without
  blocking and redraws as the figure changes; at the end of a script, open
  windows are kept until closed;
- **file** (a non-interactive backend such as Agg, e.g. over SSH or in CI):
  the figure is written to ``$SHALLOWNET_FIGURES`` (default ``./figures``, see
  :func:`~shallownet.plots.save.figures_dir`) as ``<script>-<n>-<kind>.png``
  and the path is printed once on stderr;
  figures drawn straight with ``d2l.plt`` are written when the script calls
  ``d2l.plt.show()`` or exits.
"""

from __future__ import annotations

import atexit
import itertools
import sys
import time
import types
import weakref
from pathlib import Path

from shallownet.plots.image_grid import displayable
from shallownet.plots.notebook import in_notebook
from shallownet.plots.save import figures_dir, save_figure

__all__ = [
    "output_mode",
    "on_exit",
    "figure_format",
    "publish",
    "rendered",
    "use_svg_display",
    "set_figsize",
    "set_axes",
    "plot",
    "show_images",
    "plt",
]

#: Backends that cannot show anything: figures go to files.
_FILE_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}

_state = {"format": "png", "exit_hook": False}
#: Called at exit before the figures are written (a board draws what it has not drawn yet).
_exit_callbacks: list = []


def _pyplot():
    import matplotlib.pyplot as pyplot

    if not _state["exit_hook"]:
        # Registered after pyplot's own exit hook (which closes every figure), so it runs first.
        atexit.register(_at_exit)
        _state["exit_hook"] = True
    return pyplot


def _backend() -> str:
    import matplotlib

    _pyplot()
    return matplotlib.get_backend().lower()


def output_mode() -> str:
    """``"notebook"``, ``"window"`` or ``"file"``: where figures are shown now (see the module)."""
    backend = _backend()
    if in_notebook() or ("inline" in backend and "IPython" in sys.modules):
        return "notebook"
    return "file" if backend in _FILE_BACKENDS else "window"


def figure_format() -> str:
    """``"svg"`` after :func:`use_svg_display`, else ``"png"`` (for notebook output)."""
    return _state["format"]


def use_svg_display() -> None:
    """Show notebook figures as SVG, as the book does (figures written to files stay PNG)."""
    _state["format"] = "svg"
    if in_notebook():
        try:
            from matplotlib_inline.backend_inline import set_matplotlib_formats
        except ImportError:  # an old kernel without matplotlib-inline: keep its default
            return
        set_matplotlib_formats("svg")


class _FigureFiles:
    """The files figures are written to in file mode, and when each was last written.

    A figure redrawn often (an Animator) is rewritten only when the time since
    its last write is ten times what a write costs, so writing stays a small
    part of the run; the latest state is written at exit in any case.
    """

    def __init__(self) -> None:
        self.paths: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.timing: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.pending: weakref.WeakSet = weakref.WeakSet()
        self.count = itertools.count(1)

    def path_for(self, fig, kind: str) -> Path:
        if fig not in self.paths:
            name = f"{_script_name()}-{next(self.count)}-{kind}.png"
            self.paths[fig] = figures_dir() / name
        return self.paths[fig]

    def write(self, fig, kind: str, *, throttle: bool = False) -> Path:
        path = self.path_for(fig, kind)
        first = fig not in self.timing
        if throttle and not first:
            last, cost = self.timing[fig]
            if time.perf_counter() - last < 10 * cost:
                self.pending.add(fig)
                return path
        start = time.perf_counter()
        save_figure(fig, path, bbox_inches="tight")  # the book's small figures cut labels off
        fig.stale = False  # saving leaves it marked as changed; only later drawing should
        self.timing[fig] = (time.perf_counter(), time.perf_counter() - start)
        self.pending.discard(fig)
        if first:
            print(f"d2l: figure written to {path}", file=sys.stderr, flush=True)
        return path

    def flush(self, figures) -> None:
        """Write every figure in ``figures`` that is new, pending or changed since written."""
        for fig in figures:
            if fig not in self.timing or fig in self.pending or fig.stale:
                self.write(fig, "figure")


_files = _FigureFiles()
#: Figures whose window was opened.
_windows: weakref.WeakSet = weakref.WeakSet()


def _script_name() -> str:
    name = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] not in ("", "-", "-c", "-m") else ""
    return name or "python"


def _open_figures() -> list:
    pyplot = _pyplot()
    return [pyplot.figure(num) for num in pyplot.get_fignums()]


def publish(fig, kind: str, *, throttle: bool = False) -> None:
    """Show ``fig`` (a pyplot figure) where the code runs, after it was drawn or changed.

    In a notebook the cell shows pyplot figures by itself (or, with a
    non-inline backend such as Agg, the figure is displayed as an image); in
    a window it redraws without blocking; in file mode it is written (and
    ``throttle`` lets a figure that changes often skip writes, see
    :class:`_FigureFiles`).
    """
    mode = output_mode()
    if mode == "file":
        _files.write(fig, kind, throttle=throttle)
    elif mode == "window":
        if fig not in _windows:  # open it once; later redraws leave the focus alone
            _windows.add(fig)
            _pyplot().show(block=False)
        fig.canvas.draw_idle()
        fig.canvas.flush_events()
    elif _backend() in _FILE_BACKENDS:  # a kernel told to use Agg: the cell shows nothing
        from IPython.display import display

        display(rendered(fig))


def rendered(fig):
    """``fig`` as an IPython display object: SVG after :func:`use_svg_display`, else PNG."""
    import io

    from IPython.display import SVG, Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format=figure_format(), bbox_inches="tight")
    if figure_format() == "svg":
        return SVG(data=buffer.getvalue().decode("utf-8"))
    return Image(data=buffer.getvalue(), format="png")


def on_exit(callback) -> None:
    """Call ``callback()`` at exit, before the open figures are written or kept."""
    _pyplot()
    _exit_callbacks.append(callback)


def _at_exit() -> None:
    """File mode: write what is unwritten. Window mode: keep open windows until closed."""
    try:
        for callback in _exit_callbacks:
            callback()
        mode = output_mode()
        figures = _open_figures()
        if mode == "file":
            _files.flush(figures)
        elif mode == "window" and figures and not (sys.flags.interactive or hasattr(sys, "ps1")):
            print("d2l: close the figure windows to finish.", file=sys.stderr, flush=True)
            _pyplot().show()
    except Exception as exc:  # never turn a finished script into a failed one at exit
        print(f"d2l: could not keep the figures: {exc}", file=sys.stderr)


class _Pyplot(types.ModuleType):
    """``matplotlib.pyplot`` itself, except that ``show()`` in file mode writes the figures.

    A script ending in ``d2l.plt.show()`` therefore leaves its figures in
    files on a machine without a display, instead of matplotlib's warning
    that the Agg backend cannot show them.
    """

    def __getattr__(self, name: str):
        return getattr(_pyplot(), name)

    def __dir__(self):
        return dir(_pyplot())

    def show(self, *args, **kwargs):
        """Show the open figures (file mode: write each to its file, then close them all)."""
        pyplot = _pyplot()
        if output_mode() != "file":
            return pyplot.show(*args, **kwargs)
        _files.flush(_open_figures())
        pyplot.close("all")
        return None


plt = _Pyplot("matplotlib.pyplot",
              "matplotlib.pyplot; show() writes files when no window can open.")


def set_figsize(figsize=(3.5, 2.5)) -> None:
    """Make new figures ``figsize`` inches (width, height), and SVG in a notebook."""
    use_svg_display()
    _pyplot().rcParams["figure.figsize"] = figsize


def set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend) -> None:
    """Label, scale and bound ``axes``; add a legend when given; draw a grid."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    axes.set_xlim(xlim)
    axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid()


def _values(data):
    """Tensors (even ones that need grad, or on a GPU) as arrays matplotlib takes."""
    import torch

    if isinstance(data, torch.Tensor):
        return data.detach().cpu().numpy()
    return data


def _has_one_axis(data) -> bool:
    return (hasattr(data, "ndim") and data.ndim == 1) or (
        isinstance(data, list) and len(data) > 0 and not hasattr(data[0], "__len__")
    )


def plot(X, Y=None, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
         xscale="linear", yscale="linear", fmts=("-", "m--", "g-.", "r:"),
         figsize=(3.5, 2.5), axes=None):
    """Plot one or more curves: ``Y`` against ``X`` (or ``X`` against its index).

    ``X`` and ``Y`` are each one series (a 1-d tensor, array or list) or a
    list of series; the formats in ``fmts`` are used in turn (cycling when
    there are more curves than formats). Without ``axes`` outside a notebook,
    each call draws a figure of its own and shows it (see the module).
    """
    if legend is None:
        legend = []
    set_figsize(figsize)
    pyplot = _pyplot()
    own_figure = axes is None
    if own_figure:
        current = pyplot.gcf() if pyplot.get_fignums() else None
        if output_mode() == "notebook" or (current is not None and not current.axes):
            axes = pyplot.gca()
        else:
            axes = pyplot.figure(figsize=figsize).gca()
    X = [_values(x) for x in X] if isinstance(X, (list, tuple)) else _values(X)
    if Y is not None:
        Y = [_values(y) for y in Y] if isinstance(Y, (list, tuple)) else _values(Y)
    if _has_one_axis(X):
        X = [X]
    if Y is None:
        X, Y = [[]] * len(X), X
    elif _has_one_axis(Y):
        Y = [Y]
    if len(X) != len(Y):
        X = X * len(Y)
    axes.cla()
    for x, y, fmt in zip(X, Y, itertools.cycle(fmts)):
        if len(x):
            axes.plot(x, y, fmt)
        else:
            axes.plot(y, fmt)
    set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend)
    if own_figure:
        publish(axes.figure, "plot")


def show_images(imgs, num_rows, num_cols, titles=None, scale=1.5):
    """Draw ``imgs`` in a ``num_rows x num_cols`` grid, titled by ``titles``; return the axes.

    Images may be tensors (also on a GPU or needing grad), arrays or PIL
    images, (H, W), (1, H, W), (3, H, W) or (H, W, 3).
    """
    figsize = (num_cols * scale, num_rows * scale)
    _, axes = _pyplot().subplots(num_rows, num_cols, figsize=figsize, squeeze=False)
    axes = axes.flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs, strict=False)):
        ax.imshow(displayable(img))
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles and i < len(titles):
            ax.set_title(titles[i])
    publish(axes[0].figure, "images")
    return axes
