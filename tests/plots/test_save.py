"""Figures as files: where they go ($SHALLOWNET_FIGURES, else ./figures), written atomically."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

from shallownet.plots import figures_dir, save_figure
from shallownet.plots.save import DEFAULT_FIGURES, FIGURES_ENV


def test_the_variable_is_shallownet_figures_and_the_default_is_figures():
    assert FIGURES_ENV == "SHALLOWNET_FIGURES"
    assert DEFAULT_FIGURES == "figures"


def test_figures_dir_is_the_variable_when_set(tmp_path, monkeypatch):
    monkeypatch.setenv(FIGURES_ENV, str(tmp_path / "out"))
    assert figures_dir() == tmp_path / "out"
    assert not (tmp_path / "out").exists()  # named, not created


@pytest.mark.parametrize("value", [None, ""])
def test_figures_dir_unset_or_empty_is_figures_in_the_working_directory(value, monkeypatch):
    if value is None:
        monkeypatch.delenv(FIGURES_ENV, raising=False)
    else:
        monkeypatch.setenv(FIGURES_ENV, value)
    assert figures_dir() == Path("figures")


def test_save_figure_writes_the_format_of_the_suffix_and_leaves_no_temporary(tmp_path):
    fig = Figure(figsize=(2, 1))
    fig.subplots().plot([0, 1], [1, 0])
    png = save_figure(fig, tmp_path / "new" / "f.png", dpi=50)
    svg = save_figure(fig, tmp_path / "new" / "f.svg")
    assert png.read_bytes().startswith(b"\x89PNG") and b"<svg" in svg.read_bytes()
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["f.png", "f.svg"]
