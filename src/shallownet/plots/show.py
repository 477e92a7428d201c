"""Show a figure where the code runs: in the notebook cell, or as a file from a script.

The plotting functions of :mod:`shallownet.plots` return a matplotlib
``Figure`` that pyplot does not manage (nothing piles up in memory, nothing
is shown twice). :func:`show` puts one in front of the reader:

- in a Jupyter kernel the cell displays it as a PNG;
- anywhere else (a script, a terminal, CI) it is written to
  ``$SHALLOWNET_FIGURES/NAME.png`` (default ``./figures``, see
  :func:`~shallownet.plots.save.figures_dir`) and the path is printed, so a
  script gives the same figures as its notebook.
"""

from __future__ import annotations

import re
from pathlib import Path

from shallownet.errors import UsageError
from shallownet.plots.notebook import in_notebook, png_image
from shallownet.plots.save import figures_dir, save_figure

__all__ = ["show"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def show(fig, name: str, *, dpi: int = 100) -> Path | None:
    """Display ``fig`` in a notebook, or write it to ``NAME.png`` and print the path.

    Parameters
    ----------
    fig : matplotlib Figure
    name : str
        File name without suffix (letters, digits, ``.``, ``_``, ``-``), e.g.
        ``"softmax-curves"``.
    dpi : int
        Resolution of the PNG.

    Returns
    -------
    Path or None
        The file written, or None when the notebook cell shows the figure.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UsageError(f"a figure name is letters, digits, '.', '_' and '-', not {name!r}.")
    if in_notebook():
        from IPython.display import display

        display(png_image(fig, dpi))
        return None
    path = figures_dir() / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path, dpi=dpi)
    print(f"figure: {path}")
    return path
