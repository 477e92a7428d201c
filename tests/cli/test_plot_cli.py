"""``shallownet plot losses``, run in-process through ``main`` and once for real."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import shallownet.plots.losses
from shallownet.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error(err: str) -> None:
    assert err.startswith("shallownet: error: ")
    assert err.count("shallownet: error:") == 1
    assert "Traceback" not in err


def test_plot_losses_png(capsys, tmp_path):
    path = tmp_path / "l.png"
    code, out, err = run(capsys, "plot", "losses", "--out", str(path))
    assert code == 0, err
    assert f"wrote {path}" in out
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 20_000  # a real three-panel figure, not an empty canvas
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.png"]  # no temporary left


def test_plot_losses_svg_and_pdf_in_a_new_directory(capsys, tmp_path):
    svg = tmp_path / "figs" / "l.svg"
    code, _, err = run(capsys, "plot", "losses", "--out", str(svg), "--delta", "0.5",
                       "--range", "4")
    assert code == 0, err
    text = svg.read_text()
    assert "<svg" in text and "</svg>" in text
    pdf = tmp_path / "l.PDF"
    assert run(capsys, "plot", "losses", "--out", str(pdf))[0] == 0
    assert pdf.read_bytes().startswith(b"%PDF")


def test_options_reach_the_figure(capsys, tmp_path, monkeypatch):
    calls = []
    original = shallownet.plots.losses.plot_regression_losses

    def spy(limit, *, delta):
        calls.append((limit, delta))
        return original(limit, delta=delta)

    monkeypatch.setattr(shallownet.plots.losses, "plot_regression_losses", spy)
    assert run(capsys, "plot", "losses", "--out", str(tmp_path / "a.png"))[0] == 0
    assert run(capsys, "plot", "losses", "--out", str(tmp_path / "b.png"),
               "--delta", "0.25", "--range", "6")[0] == 0
    assert calls == [(3.0, 1.0), (6.0, 0.25)]


def test_default_output_is_losses_png_in_the_working_directory(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "plot", "losses")
    assert code == 0, err
    assert (tmp_path / "losses.png").read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("option", ["--delta", "--range"])
@pytest.mark.parametrize("value", ["0", "-1", "abc", "inf", "nan"])
def test_bad_numbers_are_usage_errors(capsys, tmp_path, option, value):
    out = tmp_path / "l.png"
    with pytest.raises(SystemExit) as exc:
        main(["plot", "losses", "--out", str(out), f"{option}={value}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert option in err
    assert "Traceback" not in err
    assert not out.exists()


def test_plot_needs_a_figure_name(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plot"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["plot", "histogram"])
    assert exc.value.code == 2
    assert "histogram" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["l.jpg", "l", "l.png.txt"])
def test_bad_suffix_is_one_error(capsys, tmp_path, name):
    out = tmp_path / name
    code, stdout, err = run(capsys, "plot", "losses", "--out", str(out))
    assert code == 1
    assert stdout == ""
    assert_one_error(err)
    assert ".png, .svg or .pdf" in err
    assert repr(name) in err
    assert list(tmp_path.iterdir()) == []


def test_unwritable_path_is_one_error(capsys, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("not a directory")
    out = blocker / "l.png"
    code, stdout, err = run(capsys, "plot", "losses", "--out", str(out))
    assert code == 1
    assert stdout == ""
    assert_one_error(err)
    assert "cannot write the figure" in err
    assert str(out) in err
    assert blocker.read_text() == "not a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into read-only directories")
def test_read_only_directory_is_one_error(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = run(capsys, "plot", "losses", "--out", str(locked / "l.png"))
    finally:
        locked.chmod(0o700)
    assert code == 1
    assert_one_error(err)
    assert list(locked.iterdir()) == []


def test_python_m_shallownet_plot_losses(tmp_path):
    out = tmp_path / "l.png"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-m", "shallownet", "plot", "losses", "--out", str(out),
         "--delta", "0.5", "--range", "4"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    assert out.read_bytes().startswith(PNG_SIGNATURE)

