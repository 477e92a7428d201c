"""in_notebook: only inside a Jupyter kernel; png_image: a figure as an image a cell shows."""

from __future__ import annotations

import io
import sys

from matplotlib.figure import Figure
from PIL import Image

from shallownet.plots.notebook import in_notebook, png_image
from tests.plots.ipython_fakes import TerminalInteractiveShell, ZMQInteractiveShell, fake_ipython


def test_in_notebook_only_in_a_jupyter_kernel(monkeypatch):
    assert in_notebook() is False  # pytest is no kernel
    fake_ipython(monkeypatch, shell=None)
    assert in_notebook() is False
    fake_ipython(monkeypatch, shell=TerminalInteractiveShell())
    assert in_notebook() is False
    fake_ipython(monkeypatch, shell=ZMQInteractiveShell())
    assert in_notebook() is True
    monkeypatch.setitem(sys.modules, "IPython", None)  # what a failed import leaves
    assert in_notebook() is False


def test_png_image_is_the_figure_as_a_png_at_its_dpi(monkeypatch):
    fake_ipython(monkeypatch, shell=ZMQInteractiveShell())
    fig = Figure(figsize=(2, 1))
    fig.subplots().plot([0, 1], [1, 0])
    image = png_image(fig, dpi=50)
    assert image.format == "png"
    assert image.data.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(image.data)) as png:
        assert png.format == "PNG" and png.size == (100, 50)
