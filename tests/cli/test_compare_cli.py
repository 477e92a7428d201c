"""``shallownet compare RUN_DIR...``, end to end on runs trained here through the CLI.

Synthetic linear regression with three learning rates and softmax regression on a tiny IDX
dataset with two (of different lengths) are trained once per module, in-process; one real
``python -m shallownet compare`` checks the exit code and the ``--json`` line; the learner's
exploration on the real Fashion-MNIST is marked ``realdata``.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import shallownet.plots.save
from shallownet.compare import compare_runs
from tests.cli.clitools import assert_one_error, last_json, run, run_quietly
from tests.conftest import requires_real_data, write_tiny_dataset

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The default figure: three panels of 3.9 in plus 1.6 in of legend, 3.6 in high, at 120 dpi.
THREE_PANELS_PX = (round((3 * 3.9 + 1.6) * 120), round(3.6 * 120))


def last_row(run_dir: Path) -> dict:
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))[-1]


def table_rows(out: str) -> dict[str, list[str]]:
    """The printed table, label -> its cells (cells are separated by two or more spaces)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("run "))
    rows = {}
    for line in lines[start + 1:]:
        if line.startswith(("wrote ", "{")):
            break
        cells = [c.strip() for c in line.split("  ") if c.strip()]
        rows[cells[0]] = cells[1:]
    return rows


def legend_of(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    write_tiny_dataset(root / "tiny", n_train=60, n_test=20)
    rng_rows = "".join(f"{i % 7 / 7:.3f},{(i * 3) % 5 / 5:.3f},{i % 2}\n" for i in range(40))
    (root / "two.csv").write_text("a,b,label\n" + rng_rows)
    synthetic = ["--data", "synthetic-linear", "--num-examples", 200]
    image = ["--data-dir", root / "tiny", "--no-verify"]
    recipes = {
        "lr-0.01": [*synthetic, "--lr", 0.01],
        "lr-0.03": [*synthetic, "--lr", 0.03],
        "lr-0.3": [*synthetic, "--lr", 0.3],
        "soft-a": [*image, "--lr", 0.1, "--epochs", 2],
        "soft-b": [*image, "--lr", 0.5, "--epochs", 3],
        "folds": ["--data", root / "two.csv", "--epochs", 1, "--folds", 2],
    }
    paths = {"root": root}
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation is per test, not per module
        mp.setenv("SHALLOWNET_CACHE", str(root / "cache"))
        mp.delenv("SHALLOWNET_DATA", raising=False)
        for name, args in recipes.items():
            code, _, err = run_quietly("train", *args, "--out", root / name, "-q", "--no-plots")
            assert code == 0, err
            paths[name] = root / name
    return paths


# --------------------------------------------------------------------------- comparing


def test_compare_three_learning_rates(capsys, runs, tmp_path, monkeypatch):
    drawn = []
    save = shallownet.plots.save.save_figure

    def spy(fig, path, **kwargs):
        drawn.append(fig)
        return save(fig, path, **kwargs)

    monkeypatch.setattr(shallownet.plots.save, "save_figure", spy)
    names = ["lr-0.01", "lr-0.03", "lr-0.3"]
    out_png = tmp_path / "cmp.png"
    code, out, err = run(capsys, "compare", *(runs[n] for n in names), "--out", out_png)
    assert code == 0, err
    assert out.splitlines()[0] == "linreg (scratch) on synthetic-linear, varying lr"
    assert f"wrote {out_png}" in out

    # the figure: a real PNG of the expected size, its legend the labels
    assert out_png.read_bytes().startswith(PNG_SIGNATURE)
    with Image.open(out_png) as image:
        image.verify()
    with Image.open(out_png) as image:
        assert image.size == THREE_PANELS_PX
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cmp.png"]  # no temporary left
    labels = ["lr 0.01", "lr 0.03", "lr 0.3"]
    assert legend_of(drawn[0]) == labels
    assert [ax.get_title() for ax in drawn[0].get_axes()] == [
        "train loss", "test loss", "parameter error"]

    # the table: one row per run with the last epoch of its metrics.csv; no accuracy columns
    header = next(line for line in out.splitlines() if line.startswith("run "))
    assert header.split("  ")[0] == "run"
    assert "acc" not in header
    rows = table_rows(out)
    assert list(rows) == labels
    for label, name in zip(labels, names, strict=True):
        last = last_row(runs[name])
        epochs, train_loss, test_loss, w_error, b_error, seconds, directory = rows[label]
        assert epochs == last["epoch"] == "3"
        for text, key in ((train_loss, "train_loss"), (test_loss, "test_loss"),
                          (w_error, "w_error"), (b_error, "b_error")):
            assert float(text) == pytest.approx(float(last[key]), rel=1e-3, abs=1e-4), key
        assert float(seconds) >= 0
        assert directory == str(runs[name])

    # the API gives the same labels
    assert compare_runs(runs[n] for n in names).labels == labels


def test_json_has_the_final_figures(capsys, runs, tmp_path):
    names = ["soft-a", "soft-b"]
    code, out, err = run(capsys, "compare", *(runs[n] for n in names), "--out",
                         tmp_path / "c.png", "--json")
    assert code == 0, err
    report = last_json(out)
    assert report["varied"] == ["lr", "epochs"]
    assert report["task"] == "classification"
    assert report["figure"] == str(tmp_path / "c.png")
    assert [r["label"] for r in report["runs"]] == ["lr 0.1, epochs 2", "lr 0.5, epochs 3"]
    for row, name in zip(report["runs"], names, strict=True):
        last = last_row(runs[name])
        assert row["run_dir"] == str(runs[name])
        assert row["epochs"] == row["planned_epochs"] == int(last["epoch"])
        assert row["complete"] is True
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
            assert row[key] == float(last[key]), key
        with open(runs[name] / "metrics.csv", newline="") as f:
            total = sum(float(r["seconds"]) for r in csv.DictReader(f))
        assert row["seconds"] == pytest.approx(total)
    # the human table came first, with the accuracy columns
    rows = table_rows(out)
    assert rows["lr 0.5, epochs 3"][0] == "3"
    assert float(rows["lr 0.5, epochs 3"][4]) == pytest.approx(
        float(last_row(runs["soft-b"])["test_acc"]), abs=5e-5)


def test_runs_of_different_lengths_and_one_in_progress(capsys, runs, tmp_path, monkeypatch):
    drawn = []
    save = shallownet.plots.save.save_figure
    monkeypatch.setattr(shallownet.plots.save, "save_figure",
                        lambda fig, path, **kw: drawn.append(fig) or save(fig, path, **kw))
    going = tmp_path / "going"
    shutil.copytree(runs["soft-b"], going)
    (going / "metrics.json").unlink()  # written only at the end
    lines = (going / "metrics.csv").read_text().splitlines()
    (going / "metrics.csv").write_text("\n".join(lines[:2]) + "\n")  # header and epoch 1
    code, out, err = run(capsys, "compare", runs["soft-a"], going, "--out", tmp_path / "c.svg")
    assert code == 0, err
    assert "<svg" in (tmp_path / "c.svg").read_text()
    rows = table_rows(out)
    assert rows["lr 0.1, epochs 2"][0] == "2"
    assert rows["lr 0.5, epochs 3"][0] == "1/3"
    lengths = [len(line.get_xdata()) for line in drawn[0].get_axes()[0].get_lines()]
    assert lengths == [2, 1]


def test_same_settings_are_labelled_by_directory_and_figure_goes_to_the_cwd(
        capsys, runs, tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(runs["lr-0.03"], copy)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "compare", runs["lr-0.03"], copy, "--title", "twice")
    assert code == 0, err
    assert "wrote compare.png" in out
    assert (tmp_path / "compare.png").read_bytes().startswith(PNG_SIGNATURE)
    assert list(table_rows(out)) == ["lr-0.03", "copy"]
    assert "same settings" in out.splitlines()[0]


def test_a_real_process_exits_0_and_ends_with_json(runs, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-m", "shallownet", "compare", runs["lr-0.01"], runs["lr-0.3"],
         "--out", tmp_path / "c.pdf", "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert [r["label"] for r in last_json(proc.stdout)["runs"]] == ["lr 0.01", "lr 0.3"]
    assert (tmp_path / "c.pdf").read_bytes().startswith(b"%PDF")


# --------------------------------------------------------------------------- errors


def test_one_run_is_a_usage_error(capsys, runs, tmp_path):
    code, out, err = run(capsys, "compare", runs["lr-0.01"], "--out", tmp_path / "c.png")
    assert code == 2
    assert "two or more run directories" in err and str(runs["lr-0.01"]) in err
    assert "Traceback" not in err
    assert not (tmp_path / "c.png").exists()


def test_a_figure_format_is_checked_first(capsys, runs, tmp_path):
    code, _, err = run(capsys, "compare", runs["lr-0.01"], runs["lr-0.3"], "--out",
                       tmp_path / "c.jpg")
    assert code == 2
    assert "must end in .png, .svg or .pdf" in err


@pytest.mark.parametrize("make, expected", [
    (lambda root, runs: root / "missing", "missing is not a run directory"),
    (lambda root, runs: runs["lr-0.3"] / "config.json", "is a file, not a run directory"),
    (lambda root, runs: runs["folds"], "folds is a 2-fold cross-validation run"),
    (lambda root, runs: runs["soft-a"], "cannot compare regression runs"),
    (lambda root, runs: runs["lr-0.01"], "is given twice"),
])
def test_bad_run_directories(capsys, runs, tmp_path, make, expected):
    bad = make(tmp_path, runs)
    code, out, err = run(capsys, "compare", runs["lr-0.01"], bad, "--out", tmp_path / "c.png")
    assert code == 1
    assert_one_error(err)
    assert expected in err
    assert not (tmp_path / "c.png").exists()


def test_a_run_stopped_before_its_first_epoch(capsys, runs, tmp_path):
    stopped = tmp_path / "stopped"
    shutil.copytree(runs["lr-0.03"], stopped)
    (stopped / "metrics.json").unlink()
    header = (stopped / "metrics.csv").read_text().splitlines()[0]
    (stopped / "metrics.csv").write_text(header + "\n")
    code, _, err = run(capsys, "compare", runs["lr-0.01"], stopped, "--out", tmp_path / "c.png")
    assert code == 1
    assert_one_error(err)
    assert f"{stopped} has no finished epoch yet" in err
    assert f"shallownet train --resume {stopped}" in err


def test_an_unwritable_figure_path(capsys, runs, tmp_path):
    (tmp_path / "file").write_text("x")
    code, _, err = run(capsys, "compare", runs["lr-0.01"], runs["lr-0.3"], "--out",
                       tmp_path / "file" / "c.png")
    assert code == 1
    assert_one_error(err)
    assert "c.png" in err


# --------------------------------------------------------------------------- the real data


@requires_real_data
@pytest.mark.realdata
def test_learning_rates_on_fashion_mnist(capsys, tmp_path):
    """The chapter's exploration, shortened: softmax regression with lr 0.01, 0.1 and 1."""
    dirs = []
    for lr in ("0.01", "0.1", "1"):
        out = tmp_path / f"lr-{lr}"
        code, _, err = run(capsys, "train", "--lr", lr, "--max-train", 2000, "--max-test", 500,
                           "--epochs", 2, "--out", out, "-q", "--no-plots")
        assert code == 0, err
        dirs.append(out)
    code, out, err = run(capsys, "compare", *dirs, "--out", tmp_path / "lr.png", "--json")
    assert code == 0, err
    assert out.splitlines()[0] == "softmax (scratch) on fashion-mnist, varying lr"
    report = last_json(out)
    assert [r["label"] for r in report["runs"]] == ["lr 0.01", "lr 0.1", "lr 1"]
    for row, run_dir in zip(report["runs"], dirs, strict=True):
        assert row["test_acc"] == float(last_row(run_dir)["test_acc"])
        assert 0.1 < row["test_acc"] <= 1
    with Image.open(tmp_path / "lr.png") as image:
        assert image.size == THREE_PANELS_PX
    assert legend_of(compare_runs(dirs).plot()) == ["lr 0.01", "lr 0.1", "lr 1"]
