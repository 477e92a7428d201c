"""Fixtures of the ``shallownet.d2l`` tests: file-mode figures in ``tmp_path``, all closed after."""

from __future__ import annotations

import sys

import matplotlib
import pytest

from shallownet.d2l import figures
from shallownet.plots.save import FIGURES_ENV

#: The script name the figure files are named after in these tests.
SCRIPT = "lesson"


@pytest.fixture(autouse=True)
def figure_files(tmp_path, monkeypatch):
    """Agg (file mode), figures written to ``tmp_path/figures`` as ``lesson-<n>-<kind>.png``.

    Numbering starts at 1 in every test, and the module's state (format, figure size, the
    at-exit hook, which would write figures left open into ./figures) is restored.
    Returns the directory the figures go to (created by the first write).
    """
    matplotlib.use("Agg")
    directory = tmp_path / "figures"
    monkeypatch.setenv(FIGURES_ENV, str(directory))
    monkeypatch.setattr(sys, "argv", [f"/somewhere/{SCRIPT}.py"])
    monkeypatch.setattr(figures, "_files", figures._FigureFiles())
    monkeypatch.setitem(figures._state, "format", "png")
    monkeypatch.setitem(figures._state, "exit_hook", True)  # at exit: tested in a subprocess
    monkeypatch.setitem(matplotlib.rcParams, "figure.figsize",
                        matplotlib.rcParams["figure.figsize"])
    yield directory
    import matplotlib.pyplot as plt

    plt.close("all")


def written(directory) -> list[str]:
    """Names of the PNG files in ``directory``, sorted."""
    return sorted(p.name for p in directory.glob("*.png")) if directory.exists() else []


def figure_lines(stderr: str) -> list[str]:
    """The lines saying where a figure was written."""
    return [line for line in stderr.splitlines() if line.startswith("d2l: figure written to ")]


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
