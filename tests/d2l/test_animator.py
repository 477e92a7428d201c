"""The book's Animator outside a notebook: points as floats, every curve drawn, a PNG file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import matplotlib.pyplot as pyplot
import numpy as np
import pytest
import torch

from shallownet import d2l
from shallownet.d2l import figures
from shallownet.plots.save import FIGURES_ENV
from tests.d2l.conftest import PNG_MAGIC, SCRIPT, figure_lines, written


def curves(animator) -> list[tuple[list[float], list[float]]]:
    """The (x, y) data of the lines drawn on the animator's axes."""
    return [(list(line.get_xdata()), list(line.get_ydata()))
            for line in animator.axes[0].get_lines()]


def test_add_with_scalars_grows_one_curve():
    animator = d2l.Animator(xlabel="epoch", legend=["loss"])
    animator.add(1, 0.5)
    animator.add(2, 0.25)
    assert animator.X == [[1.0, 2.0]] and animator.Y == [[0.5, 0.25]]
    assert curves(animator) == [([1.0, 2.0], [0.5, 0.25])]
    assert animator.axes[0].get_xlabel() == "epoch"


def test_add_with_several_curves_and_0d_tensors():
    animator = d2l.Animator(legend=["train loss", "train acc", "test acc"])
    animator.add(torch.tensor(1), (torch.tensor(0.875), torch.tensor(0.5), np.float64(0.55)))
    animator.add(2, [torch.tensor(0.75, requires_grad=True), 0.7, np.array(0.625)])
    assert animator.X == [[1.0, 2.0]] * 3
    assert animator.Y == [[0.875, 0.75], [0.5, 0.7], [0.55, 0.625]]
    assert curves(animator) == [([1.0, 2.0], [0.875, 0.75]), ([1.0, 2.0], [0.5, 0.7]),
                                ([1.0, 2.0], [0.55, 0.625])]


def test_x_and_y_hold_plain_floats():
    animator = d2l.Animator()
    animator.add(torch.tensor(1.0), (torch.tensor(0.5, dtype=torch.float64), np.int64(1)))
    for values in animator.X + animator.Y:
        assert all(type(v) is float for v in values)
    assert animator.Y == [[0.5], [1.0]]


def test_add_a_1d_tensor_of_values():
    animator = d2l.Animator()
    animator.add(1, torch.tensor([0.25, 0.5]))
    assert animator.Y == [[0.25], [0.5]]


def test_none_skips_a_curve_for_that_point():
    animator = d2l.Animator(legend=["train loss", "train acc", "test acc"])
    animator.add(0.5, (1.2, 0.4, None))
    animator.add(1.0, (0.8, 0.6, None))
    animator.add(1, (None, None, 0.65))
    assert animator.X == [[0.5, 1.0], [0.5, 1.0], [1.0]]
    assert animator.Y == [[1.2, 0.8], [0.4, 0.6], [0.65]]
    assert [len(x) for x, _ in curves(animator)] == [2, 2, 1]


def test_x_given_per_curve():
    animator = d2l.Animator()
    animator.add([1, 10], [0.5, 5.0])
    animator.add([2, None], [0.25, 6.0])  # a None x skips the second curve too
    assert animator.X == [[1.0, 2.0], [10.0]]
    assert animator.Y == [[0.5, 0.25], [5.0]]


def test_more_curves_than_formats_are_all_drawn():
    animator = d2l.Animator(fmts=("-", "r:"))
    animator.add(1, [1, 2, 3, 4, 5])
    animator.add(2, [2, 3, 4, 5, 6])
    lines = animator.axes[0].get_lines()
    assert len(lines) == 5
    assert [line.get_linestyle() for line in lines] == ["-", ":", "-", ":", "-"]


def test_axes_are_configured_on_every_add():
    animator = d2l.Animator(xlabel="epoch", ylabel="value", xlim=[1, 10], ylim=[0.3, 0.9],
                            yscale="log", legend=["a", "b"], nrows=1, ncols=2)
    animator.add(1, (0.5, 0.6))
    animator.add(2, (0.4, 0.7))
    ax = animator.axes[0]
    assert len(animator.axes) == 2
    assert ax.get_xlim() == (1, 10) and ax.get_ylim() == pytest.approx((0.3, 0.9))
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_yscale()) == ("epoch", "value", "log")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


# --------------------------------------------------------------------------- file mode


def test_the_figure_file_is_written_on_the_first_add(figure_files, capsys):
    animator = d2l.Animator(legend=["loss"])
    assert written(figure_files) == []
    animator.add(1, 0.5)
    path = figure_files / f"{SCRIPT}-1-animator.png"
    assert written(figure_files) == [path.name]
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert figure_lines(capsys.readouterr().err) == [f"d2l: figure written to {path}"]


def slow_writes(animator) -> None:
    """Make the last write of ``animator``'s figure look an hour long, so the next is deferred."""
    last, _ = figures._files.timing[animator.fig]
    figures._files.timing[animator.fig] = (last, 3600.0)


def test_writes_that_come_too_fast_are_deferred_until_show(figure_files, capsys):
    animator = d2l.Animator(legend=["loss"])
    animator.add(1, 0.5)
    path = figure_files / f"{SCRIPT}-1-animator.png"
    first = path.read_bytes()
    slow_writes(animator)
    animator.add(2, 0.25)
    assert path.read_bytes() == first
    assert animator.fig in figures._files.pending
    d2l.plt.show()
    assert path.read_bytes() != first
    assert animator.fig not in figures._files.pending
    assert written(figure_files) == [path.name]
    assert len(figure_lines(capsys.readouterr().err)) == 1  # the path is printed once


def test_a_deferred_write_is_made_by_a_flush(figure_files):
    animator = d2l.Animator()
    animator.add(1, 0.5)
    slow_writes(animator)
    animator.add(2, 0.25)
    path = figure_files / f"{SCRIPT}-1-animator.png"
    before = path.read_bytes()
    figures._files.flush([animator.fig])
    assert path.read_bytes() != before
    assert not figures._files.pending


def test_a_burst_of_adds_writes_the_file_far_fewer_times(monkeypatch):
    saves = []
    save = figures.save_figure
    monkeypatch.setattr(figures, "save_figure",
                        lambda fig, path, **kw: saves.append(path) or save(fig, path, **kw))
    animator = d2l.Animator()
    for i in range(20):
        animator.add(i, 1 / (i + 1))
    assert 1 <= len(saves) <= 10
    assert saves[0].name == f"{SCRIPT}-1-animator.png"


AT_EXIT = """
import time

from shallownet import d2l
from shallownet.d2l import figures
from shallownet.plots.save import save_figure

animator = d2l.Animator(legend=["loss"])
for i in range(30):
    animator.add(i, 1 / (i + 1))
pending = animator.fig in figures._files.pending
# The state at exit, rendered as the at-exit write renders it.
save_figure(animator.fig, "final.png", bbox_inches="tight")
print("pending" if pending else "written")
"""


def test_the_final_state_is_written_at_exit(tmp_path):
    script = tmp_path / "anim.py"
    script.write_text(textwrap.dedent(AT_EXIT), encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg", FIGURES_ENV: str(tmp_path / "out")}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "pending\n"  # 30 quick adds: the last ones were deferred
    path = tmp_path / "out" / "anim-1-animator.png"
    assert figure_lines(proc.stderr) == [f"d2l: figure written to {path}"]
    assert path.read_bytes() == (tmp_path / "final.png").read_bytes()


def test_an_animator_figure_is_its_own(figure_files):
    d2l.plot(torch.arange(3.0))
    animator = d2l.Animator()
    animator.add(1, 1.0)
    assert len(pyplot.get_fignums()) == 2
    assert written(figure_files) == [f"{SCRIPT}-1-plot.png", f"{SCRIPT}-2-animator.png"]


def test_in_a_kernel_the_animator_shows_one_output_updated_in_place(monkeypatch, figure_files):
    pytest.importorskip("matplotlib_inline")
    display_module = pytest.importorskip("IPython.display")
    shown = []

    class Handle:
        def update(self, obj):
            shown.append(("update", obj))

    def display(obj, display_id=False):
        shown.append(("display", obj))
        assert display_id is True
        return Handle()

    monkeypatch.setattr(figures, "in_notebook", lambda: True)
    monkeypatch.setattr(display_module, "display", display)
    monkeypatch.setattr("matplotlib_inline.backend_inline.set_matplotlib_formats",
                        lambda *formats: None)
    animator = d2l.Animator(legend=["loss"])
    animator.add(1, 0.5)
    animator.add(2, 0.25)
    assert [kind for kind, _ in shown] == ["display", "update"]
    assert all(isinstance(obj, display_module.SVG) for _, obj in shown)  # as the book: SVG
    assert pyplot.get_fignums() == []  # not a pyplot figure: the cell does not show it again
    assert written(figure_files) == []
