"""show(): a figure in the notebook cell, or a PNG file (and its path) from a script."""

from __future__ import annotations

import importlib

import pytest
from matplotlib.figure import Figure
from PIL import Image

from shallownet import ShallownetError
from shallownet.plots import show

show_module = importlib.import_module("shallownet.plots.show")


def figure() -> Figure:
    fig = Figure(figsize=(3, 2))
    fig.subplots().plot([0, 1], [1, 0])
    return fig


def test_outside_a_notebook_writes_a_png_and_prints_its_path(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHALLOWNET_FIGURES", str(tmp_path / "out"))
    path = show(figure(), "curves", dpi=50)
    assert path == tmp_path / "out" / "curves.png"
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (150, 100)
    assert capsys.readouterr().out == f"figure: {path}\n"


def test_default_directory_is_figures_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("SHALLOWNET_FIGURES", raising=False)
    monkeypatch.chdir(tmp_path)
    assert show(figure(), "a-1.b_c").resolve() == tmp_path / "figures" / "a-1.b_c.png"


def test_in_a_notebook_the_cell_displays_it(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(show_module, "in_notebook", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    monkeypatch.chdir(tmp_path)
    assert show(figure(), "curves") is None
    assert len(shown) == 1 and shown[0].data.startswith(b"\x89PNG")
    assert not (tmp_path / "figures").exists()


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "with space", 3])
def test_a_name_that_is_not_a_plain_file_name_is_refused(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ShallownetError, match="figure name"):
        show(figure(), name)
    assert not (tmp_path / "figures").exists()
