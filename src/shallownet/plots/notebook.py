"""Jupyter: whether the code runs in a notebook kernel, and a figure as an image a cell shows."""

from __future__ import annotations

import io
import sys

__all__ = ["in_notebook", "png_image"]


def in_notebook() -> bool:
    """True only inside a Jupyter kernel (IPython's ``ZMQInteractiveShell``).

    False in a terminal IPython, a script or tests, and when IPython is not
    installed. A kernel has always imported IPython already, so this never
    imports it.
    """
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if get_ipython is None:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def png_image(fig, dpi: int):
    """``fig`` rendered as a PNG, as an IPython ``Image`` a notebook cell displays."""
    from IPython.display import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return Image(data=buffer.getvalue(), format="png")
