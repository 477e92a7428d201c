"""Where the book's figures go outside a notebook: files under $SHALLOWNET_FIGURES (Agg)."""

from __future__ import annotations

import os
import subprocess
import sys

import matplotlib
import matplotlib.pyplot as pyplot
import numpy as np
import pytest
import torch
from matplotlib.lines import Line2D

from shallownet import d2l
from shallownet.d2l import figures
from shallownet.plots.save import FIGURES_ENV
from tests.d2l.conftest import PNG_MAGIC, SCRIPT, figure_lines, written


def test_output_mode_is_file_under_agg_outside_a_kernel():
    assert matplotlib.get_backend().lower() == "agg"
    assert figures.output_mode() == "file"


# --------------------------------------------------------------------------- show_images


def test_show_images_returns_the_flattened_axes(figure_files):
    axes = d2l.show_images(torch.rand(6, 28, 28), 2, 3)
    assert isinstance(axes, np.ndarray) and axes.shape == (6,)
    assert len(axes[0].figure.axes) == 6
    assert all(ax.get_images() for ax in axes)


def test_show_images_on_a_one_by_one_grid():
    axes = d2l.show_images([torch.rand(28, 28)], 1, 1, titles=["only"])
    assert axes.shape == (1,)
    assert axes[0].get_title() == "only"


def test_show_images_takes_tensors_that_require_grad():
    imgs = torch.rand(2, 8, 8, requires_grad=True)
    axes = d2l.show_images(imgs, 1, 2)
    np.testing.assert_allclose(axes[1].get_images()[0].get_array(), imgs[1].detach().numpy())


def test_show_images_takes_a_batch_with_a_channel_axis():
    imgs = torch.rand(4, 1, 12, 10)
    axes = d2l.show_images(imgs, 2, 2)
    for ax, img in zip(axes, imgs, strict=True):
        shown = ax.get_images()[0].get_array()
        assert shown.shape == (12, 10)
        np.testing.assert_allclose(shown, img[0].numpy())


def test_show_images_with_fewer_titles_than_images():
    axes = d2l.show_images(torch.rand(4, 5, 5), 1, 4, titles=["a", "b"])
    assert [ax.get_title() for ax in axes] == ["a", "b", "", ""]
    assert all(ax.get_images() for ax in axes)


def test_show_images_with_fewer_images_than_cells_leaves_the_rest_empty():
    axes = d2l.show_images(torch.rand(3, 5, 5), 2, 2)
    assert [len(ax.get_images()) for ax in axes] == [1, 1, 1, 0]


def test_show_images_writes_one_png_and_prints_its_path_once(figure_files, capsys):
    d2l.show_images(torch.rand(2, 28, 28), 1, 2, titles=["x", "y"])
    assert written(figure_files) == [f"{SCRIPT}-1-images.png"]
    path = figure_files / f"{SCRIPT}-1-images.png"
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert figure_lines(capsys.readouterr().err) == [f"d2l: figure written to {path}"]


def test_figures_are_numbered_in_the_order_they_are_drawn(figure_files):
    d2l.show_images(torch.rand(1, 4, 4), 1, 1)
    d2l.plot(torch.arange(3.0))
    d2l.show_images(torch.rand(1, 4, 4), 1, 1)
    assert written(figure_files) == [
        f"{SCRIPT}-1-images.png", f"{SCRIPT}-2-plot.png", f"{SCRIPT}-3-images.png"]


def test_figures_go_to_figures_in_the_working_directory_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv(FIGURES_ENV)
    monkeypatch.chdir(tmp_path)
    d2l.show_images(torch.rand(1, 4, 4), 1, 1)
    assert written(tmp_path / "figures") == [f"{SCRIPT}-1-images.png"]


def test_figures_of_python_c_are_named_python(figure_files, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["-c"])
    d2l.show_images(torch.rand(1, 4, 4), 1, 1)
    assert written(figure_files) == ["python-1-images.png"]


def test_figures_of_a_script_read_from_stdin_are_named_python(figure_files, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["-"])
    d2l.show_images(torch.rand(1, 4, 4), 1, 1)
    assert written(figure_files) == ["python-1-images.png"]


# --------------------------------------------------------------------------- plot


def test_plot_takes_a_1d_tensor_that_requires_grad(figure_files):
    x = torch.arange(-2.0, 2.0, 0.5, requires_grad=True)
    y = torch.relu(x)
    d2l.plot(x, y, "x", "relu(x)", figsize=(5, 2.5))
    ax = pyplot.gcf().axes[0]
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_xdata(), x.detach().numpy())
    np.testing.assert_allclose(line.get_ydata(), y.detach().numpy())
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "relu(x)")
    assert written(figure_files) == [f"{SCRIPT}-1-plot.png"]


def test_plot_draws_every_series_of_a_list_even_beyond_the_formats():
    x = np.arange(0, 3, 0.5)
    ys = [x * k for k in range(6)]  # six series, four default formats
    d2l.plot(x, ys, legend=[f"k={k}" for k in range(6)])
    ax = pyplot.gcf().axes[0]
    lines = [a for a in ax.get_children() if isinstance(a, Line2D) and a in ax.lines]
    assert len(lines) == 6
    for line, y in zip(lines, ys, strict=True):
        np.testing.assert_allclose(line.get_xdata(), x)
        np.testing.assert_allclose(line.get_ydata(), y)
    assert lines[4].get_linestyle() == lines[0].get_linestyle()  # formats reused in turn
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"k={k}" for k in range(6)]


def test_plot_with_tensors_that_require_grad_in_a_list_of_series():
    x = torch.linspace(0, 1, 5, requires_grad=True)
    d2l.plot(x, [x * 2, x**2])
    assert len(pyplot.gcf().axes[0].get_lines()) == 2


def test_plot_with_x_only_draws_it_against_its_index():
    d2l.plot([3.0, 1.0, 2.0])
    (line,) = pyplot.gcf().axes[0].get_lines()
    np.testing.assert_allclose(line.get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(line.get_ydata(), [3, 1, 2])


def test_plot_with_a_list_of_x_only_series():
    d2l.plot([torch.tensor([1.0, 2.0]), torch.tensor([5.0, 4.0, 3.0])])
    lines = pyplot.gcf().axes[0].get_lines()
    assert [list(line.get_ydata()) for line in lines] == [[1, 2], [5, 4, 3]]


def test_each_plot_call_without_axes_makes_its_own_figure_and_file(figure_files, capsys):
    d2l.plot(torch.arange(4.0), torch.arange(4.0) ** 2)
    d2l.plot(torch.arange(4.0), torch.arange(4.0) ** 3)
    assert len(pyplot.get_fignums()) == 2
    assert written(figure_files) == [f"{SCRIPT}-1-plot.png", f"{SCRIPT}-2-plot.png"]
    assert len(figure_lines(capsys.readouterr().err)) == 2


def test_plot_into_a_figure_just_opened_uses_it(figure_files):
    fig = d2l.plt.figure()
    d2l.plot(torch.arange(3.0))
    assert pyplot.get_fignums() == [fig.number]
    assert len(fig.axes) == 1
    assert written(figure_files) == [f"{SCRIPT}-1-plot.png"]


def test_plot_into_given_axes_writes_nothing_by_itself(figure_files, capsys):
    fig, ax = pyplot.subplots()
    d2l.plot(torch.arange(3.0), torch.arange(3.0), axes=ax, xlabel="x")
    assert len(ax.get_lines()) == 1 and ax.get_xlabel() == "x"
    assert pyplot.get_fignums() == [fig.number]
    assert written(figure_files) == []
    assert figure_lines(capsys.readouterr().err) == []


def test_set_figsize_sets_the_size_of_new_figures():
    d2l.set_figsize((4.5, 2.0))
    assert tuple(d2l.plt.rcParams["figure.figsize"]) == (4.5, 2.0)
    assert tuple(pyplot.figure().get_size_inches()) == (4.5, 2.0)


def test_set_axes_sets_labels_scales_limits_and_legend():
    _, ax = pyplot.subplots()
    ax.plot([1, 10, 100], [1, 2, 3])
    ax.plot([1, 10, 100], [3, 2, 1])
    d2l.set_axes(ax, "epoch", "loss", [1, 100], [0.5, 4], "log", "linear", ["train", "test"])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "loss")
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "linear")
    assert ax.get_xlim() == (1, 100) and ax.get_ylim() == (0.5, 4)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "test"]


def test_set_axes_without_a_legend_adds_none():
    _, ax = pyplot.subplots()
    ax.plot([1, 2])
    d2l.set_axes(ax, None, None, None, None, "linear", "linear", [])
    assert ax.get_legend() is None


def test_use_svg_display_outside_a_kernel_keeps_files_png(figure_files):
    assert figures.figure_format() == "png"
    d2l.use_svg_display()
    assert figures.figure_format() == "svg"
    d2l.show_images(torch.rand(1, 4, 4), 1, 1)
    assert written(figure_files) == [f"{SCRIPT}-1-images.png"]
    assert (figure_files / f"{SCRIPT}-1-images.png").read_bytes()[:8] == PNG_MAGIC


# --------------------------------------------------------------------------- d2l.plt


def test_plt_delegates_to_pyplot():
    assert d2l.plt.figure is pyplot.figure
    assert d2l.plt.rcParams is pyplot.rcParams
    assert d2l.plt.scatter is pyplot.scatter
    assert "scatter" in dir(d2l.plt)


def test_plt_show_writes_every_open_figure_and_closes_them(figure_files, capsys):
    d2l.set_figsize()
    d2l.plt.scatter([1, 2, 3], [3, 1, 2], 1)
    d2l.show_images(torch.rand(1, 4, 4), 1, 1)
    assert written(figure_files) == [f"{SCRIPT}-1-images.png"]  # the scatter not yet
    assert d2l.plt.show() is None
    assert written(figure_files) == [f"{SCRIPT}-1-images.png", f"{SCRIPT}-2-figure.png"]
    assert pyplot.get_fignums() == []
    assert len(figure_lines(capsys.readouterr().err)) == 2


def test_plt_show_rewrites_a_figure_changed_after_it_was_written(figure_files):
    d2l.plot(torch.arange(3.0))
    path = figure_files / f"{SCRIPT}-1-plot.png"
    before = path.read_bytes()
    d2l.plt.title("a title added afterwards, as the book does with d2l.plt")
    d2l.plt.show()
    assert path.read_bytes() != before
    assert written(figure_files) == [f"{SCRIPT}-1-plot.png"]


def test_plt_show_does_not_rewrite_unchanged_figures(figure_files, monkeypatch):
    d2l.plot(torch.arange(3.0))
    saved = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, path, **kw: saved.append(path))
    d2l.plt.show()
    assert saved == []


AT_EXIT = """
from shallownet import d2l

d2l.set_figsize()
d2l.plt.scatter([1, 2, 3], [3, 1, 2], 1)
d2l.plt.show()  # file mode: written now, and closed
d2l.plt.scatter([1, 2, 3], [2, 2, 1], 1)
print("done")
"""


def test_a_script_that_draws_with_plt_and_exits_leaves_its_figures_in_files(tmp_path):
    script = tmp_path / "scatter.py"
    script.write_text(AT_EXIT, encoding="utf-8")
    out = tmp_path / "out"
    env = {**os.environ, "MPLBACKEND": "Agg", FIGURES_ENV: str(out)}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "done\n"
    paths = [out / "scatter-1-figure.png", out / "scatter-2-figure.png"]  # show(), then exit
    assert written(out) == [p.name for p in paths]
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in paths)
    assert figure_lines(proc.stderr) == [f"d2l: figure written to {p}" for p in paths]
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr


def test_in_a_kernel_with_agg_a_figure_is_displayed_not_written(monkeypatch, figure_files):
    display_module = pytest.importorskip("IPython.display")
    shown = []
    monkeypatch.setattr(figures, "in_notebook", lambda: True)
    monkeypatch.setattr(display_module, "display", shown.append)
    assert figures.output_mode() == "notebook"
    d2l.show_images(torch.rand(2, 4, 4), 1, 2)
    assert len(shown) == 1 and isinstance(shown[0], display_module.Image)
    assert shown[0].data[:8] == PNG_MAGIC
    assert written(figure_files) == []
