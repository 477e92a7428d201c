"""``shallownet plot activations`` and ``shallownet plot gradients``, run in-process."""

from __future__ import annotations

import os

import pytest

import shallownet.plots.stability
from shallownet.cli import main
from tests.cli.test_plot_cli import PNG_SIGNATURE, assert_one_error, run
from tests.conftest import requires_real_data

#: Small settings that still run every computation: a 3-hidden-layer MLP of 32 units.
SMALL = ("--depth", "3", "--width", "32", "--symmetry-images", "256")
GRADIENT_FILES = ["gradients-deep-mlp", "gradients-matrix-product", "gradients-symmetry",
                  "gradients-vanishing"]


def realdata(test):
    return requires_real_data(pytest.mark.realdata(test))


# --------------------------------------------------------------------------- activations


@pytest.mark.parametrize(("name", "check"), [
    ("a.png", lambda data: data.startswith(PNG_SIGNATURE) and len(data) > 20_000),
    ("a.svg", lambda data: b"<svg" in data and b"</svg>" in data),
    ("a.PDF", lambda data: data.startswith(b"%PDF")),
])
def test_plot_activations_writes_png_svg_and_pdf(capsys, tmp_path, name, check):
    path = tmp_path / "figs" / name
    code, out, err = run(capsys, "plot", "activations", "--out", str(path))
    assert code == 0, err
    assert out == f"wrote {path}\n"
    assert check(path.read_bytes())
    assert sorted(p.name for p in path.parent.iterdir()) == [name]  # no temporary left


def test_plot_activations_default_is_activations_png(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = []
    original = shallownet.plots.stability.plot_activations
    monkeypatch.setattr(shallownet.plots.stability, "plot_activations",
                        lambda limit: calls.append(limit) or original(limit))
    assert run(capsys, "plot", "activations")[0] == 0
    assert (tmp_path / "activations.png").read_bytes().startswith(PNG_SIGNATURE)
    assert run(capsys, "plot", "activations", "--out", "b.png", "--range", "4")[0] == 0
    assert calls == [8.0, 4.0]


@pytest.mark.parametrize("name", ["a.jpg", "a", "a.png.txt"])
def test_plot_activations_bad_suffix_is_one_error(capsys, tmp_path, name):
    code, stdout, err = run(capsys, "plot", "activations", "--out", str(tmp_path / name))
    assert code == 1
    assert stdout == ""
    assert_one_error(err)
    assert ".png, .svg or .pdf" in err and repr(name) in err
    assert list(tmp_path.iterdir()) == []


def test_plot_activations_unwritable_path_is_one_error(capsys, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("not a directory")
    out = blocker / "a.png"
    code, stdout, err = run(capsys, "plot", "activations", "--out", str(out))
    assert code == 1
    assert stdout == ""
    assert_one_error(err)
    assert "cannot write the figure" in err and str(out) in err
    assert blocker.read_text() == "not a directory"


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan"])
def test_plot_activations_bad_range_is_a_usage_error(capsys, tmp_path, value):
    with pytest.raises(SystemExit) as exc:
        main(["plot", "activations", "--out", str(tmp_path / "a.png"), f"--range={value}"])
    assert exc.value.code == 2
    assert "--range" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- gradients


@realdata
def test_plot_gradients_writes_four_pngs(capsys, tmp_path):
    out_dir = tmp_path / "new" / "figs"
    code, out, err = run(capsys, "plot", "gradients", "--out-dir", str(out_dir), *SMALL)
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == [f"{n}.png" for n in GRADIENT_FILES]
    for name in GRADIENT_FILES:
        path = out_dir / f"{name}.png"
        assert f"wrote {path}\n" in out
        assert path.read_bytes().startswith(PNG_SIGNATURE)
        assert path.stat().st_size > 20_000


@realdata
def test_plot_gradients_svg_and_the_options_reach_the_figures(capsys, tmp_path, monkeypatch):
    fmt, magic = "svg", b"<?xml"
    seen = {}
    original = shallownet.plots.stability.gradient_figures

    def spy(X, y, **kwargs):
        seen.update(kwargs, images=len(X))
        return original(X, y, **kwargs)

    monkeypatch.setattr(shallownet.plots.stability, "gradient_figures", spy)
    code, _, err = run(capsys, "plot", "gradients", "--out-dir", str(tmp_path), "--format",
                       fmt, *SMALL, "--seed", "3")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{n}.{fmt}" for n in GRADIENT_FILES]
    assert all(p.read_bytes().startswith(magic) for p in tmp_path.iterdir())
    assert seen == {"depth": 3, "width": 32, "symmetry_images": 256, "seed": 3, "images": 256}


def test_plot_gradients_out_dir_that_is_a_file_is_one_error(capsys, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("not a directory")
    code, stdout, err = run(capsys, "plot", "gradients", "--out-dir", str(blocker), *SMALL)
    assert code == 1
    assert stdout == ""
    assert_one_error(err)
    assert "cannot write the figures" in err and str(blocker) in err
    assert blocker.read_text() == "not a directory"


@realdata
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into read-only directories")
def test_plot_gradients_read_only_directory_is_one_error(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = run(capsys, "plot", "gradients", "--out-dir", str(locked), *SMALL)
    finally:
        locked.chmod(0o700)
    assert code == 1
    assert_one_error(err)
    assert "cannot write the figure" in err
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("argv", [("--format", "jpg"), ("--depth", "0"), ("--width", "x"),
                                  ("--symmetry-images", "-5"), ("--seed", "-1")])
def test_plot_gradients_bad_options_are_usage_errors(capsys, tmp_path, argv):
    with pytest.raises(SystemExit) as exc:
        main(["plot", "gradients", "--out-dir", str(tmp_path / "o"), *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert argv[0] in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []

