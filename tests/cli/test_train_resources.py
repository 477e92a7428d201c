"""Resources, from the command line: an output place that is read-only or full fails before
the data is loaded, with one clear error line; a disk that fills during a real training
process stops it with the last good checkpoint kept and the command to resume it.

Real file systems (a tmpfs mounted for the test, see :mod:`tests.filesystems`), no mocks.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from shallownet.training.checkpoint import load_checkpoint
from tests.cli.clitools import assert_one_error, run
from tests.filesystems import PAGE, fill, read_only_directory, small_filesystem

NOT_WRITABLE = r"(Read-only file system|Permission denied)"
FULL = "No space left on device"
#: Nothing listens on port 9 here: a download is refused at once (no network needed).
CLOSED_MIRROR = "http://127.0.0.1:9/"


@pytest.fixture
def empty_data_dir(tmp_path, monkeypatch):
    """An empty --data-dir for fashion-mnist: loading from it would try to download (into
    it) and fail with a download error. Still empty afterwards: the data was never reached."""
    monkeypatch.setenv("SHALLOWNET_MIRRORS", CLOSED_MIRROR)
    directory = tmp_path / "empty-data"
    directory.mkdir()
    return directory


def fashion(data_dir) -> list[str]:
    return ["train", "--data", "fashion-mnist", "--data-dir", str(data_dir), "-q"]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob(".*.tmp"))


def metrics_rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def without_seconds(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def shallownet(*argv, cwd=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shallownet", *map(str, argv)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def test_the_data_of_these_tests_fails_to_load_with_another_error(capsys, tmp_path,
                                                                  empty_data_dir):
    """The premise: with a writable --out, this data fails as a download, not as output."""
    code, _, err = run(capsys, *fashion(empty_data_dir), "--out", tmp_path / "run")
    assert code == 1
    assert_one_error(err)
    assert "could not download" in err
    assert "cannot write" not in err
    assert any(empty_data_dir.iterdir())  # the download began in it


# -- read-only ------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["run", "existing", "existing/a/b"],
                         ids=["parent-read-only", "out-read-only", "ancestor-read-only"])
def test_a_read_only_out_fails_before_the_data_is_loaded(capsys, tmp_path, empty_data_dir,
                                                         where):
    with read_only_directory(tmp_path / "ro", subdirs=["existing"]) as ro:
        out = ro / where
        code, stdout, err = run(capsys, *fashion(empty_data_dir), "--out", out)
    assert code == 1
    assert_one_error(err)
    assert re.search(NOT_WRITABLE, err), err
    assert f"cannot write the run directory {out}:" in err
    assert "Choose another run directory (--out)" in err
    assert "Fashion-MNIST" not in err and "download" not in err
    assert list(empty_data_dir.iterdir()) == []  # the data was never looked for
    assert "final" not in stdout


def test_the_default_runs_directory_in_a_read_only_cwd_fails_before_the_data(tmp_path,
                                                                             empty_data_dir):
    """A real process started in a read-only directory, without --out: runs/... is refused."""
    with read_only_directory(tmp_path / "ro") as ro:
        done = shallownet(*fashion(empty_data_dir), cwd=ro)
        assert not (ro / "runs").exists()
    assert done.returncode == 1, done.stderr
    assert_one_error(done.stderr)
    assert re.search(NOT_WRITABLE, done.stderr), done.stderr
    assert re.search(r"cannot write the run directory runs/softmax-scratch-fashion-mnist-\d{8}-"
                     rf"\d{{6}}: {re.escape(str(ro))} is not writable", done.stderr), done.stderr
    assert list(empty_data_dir.iterdir()) == []


# -- full from the start --------------------------------------------------------------------


def test_a_full_disk_fails_before_the_data_is_loaded_and_writes_nothing(capsys, tmp_path,
                                                                        empty_data_dir):
    with small_filesystem(tmp_path / "fs", 64 * PAGE) as fs:
        fill(fs)
        out = fs / "run"
        code, _, err = run(capsys, *fashion(empty_data_dir), "--out", out)
        assert sorted(p.name for p in fs.iterdir()) == [".filler"]  # no run dir, no .tmp
    assert code == 1
    assert_one_error(err)
    assert f"cannot write the run directory {out}: {fs} is not writable ({FULL})" in err
    assert list(empty_data_dir.iterdir()) == []


def test_no_room_for_the_first_checkpoint_fails_at_it_and_restarts_from_config(capsys,
                                                                                tmp_path):
    """One page free: the probe and config.json fit, the epoch-0 checkpoint does not."""
    with small_filesystem(tmp_path / "fs", 64 * PAGE) as fs:
        filler = fill(fs, leave=PAGE)
        out = fs / "run"
        code, _, err = run(capsys, "train", "--data", "synthetic-linear", "--epochs", "2",
                           "--out", out, "-q", "--no-plots")
        assert code == 1
        assert_one_error(err)
        assert f"cannot write the checkpoint {out / 'checkpoint.pt'}: {FULL}" in err
        assert "stopped before its first checkpoint" in err
        assert f"shallownet train --resume {out}" in err
        assert leftovers(fs) == []
        assert sorted(p.name for p in out.iterdir()) == ["config.json"]

        filler.unlink()  # with room again, the run starts again from epoch 0
        code, stdout, err = run(capsys, "train", "--resume", out, "-q", "--no-plots")
        assert code == 0, err
        assert f"restarting {out} from epoch 0" in stdout
        assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 2


# -- full during a run ----------------------------------------------------------------------


def test_a_disk_that_fills_during_a_run_keeps_the_last_checkpoint_and_resumes_exactly(
        tmp_path):
    with small_filesystem(tmp_path / "fs", 1024 * PAGE) as fs:
        out = fs / "run"
        proc = subprocess.Popen(
            [sys.executable, "-m", "shallownet", "train", "--data", "synthetic-linear",
             "--epochs", "100000", "--out", str(out), "-q", "--no-plots"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            deadline = time.monotonic() + 90
            metrics = out / "metrics.csv"
            while time.monotonic() < deadline and proc.poll() is None:  # two epochs on disk
                if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
                    break
                time.sleep(0.02)
            assert proc.poll() is None, proc.communicate()
            assert len(metrics.read_text().splitlines()) >= 3, "no 2 epochs within 90 s"
            filler = fill(fs)
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                fill(fs)  # take up what the run frees by replacing its files, until it stops
                time.sleep(0.01)
            _, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
            proc.wait()
        assert proc.returncode == 1, err
        assert_one_error(err)
        assert FULL in err
        found = re.search(r"The checkpoint of epoch (\d+) is kept in (\S+); once the problem is "
                          r"fixed, continue with shallownet train --resume (\S+)", err)
        assert found, err
        kept = int(found[1])
        assert found[2] == str(out / "checkpoint.pt") and found[3] == str(out)
        state = load_checkpoint(out / "checkpoint.pt")
        assert state["epoch"] == kept >= 2
        assert leftovers(fs) == []
        rows = metrics_rows(out)  # complete: one row per epoch it holds, all parsed
        assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1))
        assert len(rows) in (kept - 1, kept)  # the metrics after the checkpoint may not fit
        for row, record in zip(rows, state["history"], strict=False):
            assert float(row["train_loss"]) == record["train_loss"]

        filler.unlink()
        target = kept + 2
        resumed = shallownet("train", "--resume", out, "--epochs", target, "-q", "--no-plots")
        assert resumed.returncode == 0, resumed.stderr
        reference_dir = tmp_path / "reference"
        reference = shallownet("train", "--data", "synthetic-linear", "--epochs", target,
                               "--out", reference_dir, "-q", "--no-plots")
        assert reference.returncode == 0, reference.stderr
        after, whole = load_checkpoint(out / "checkpoint.pt"), load_checkpoint(
            reference_dir / "checkpoint.pt")
        assert after["epoch"] == whole["epoch"] == target
        assert without_seconds(metrics_rows(out)) == without_seconds(metrics_rows(reference_dir))
        assert after["model"].keys() == whole["model"].keys()
        for key in whole["model"]:
            assert torch.equal(after["model"][key], whole["model"][key]), key
        assert leftovers(fs) == []


# -- the final figures ----------------------------------------------------------------------


def _pages(path: Path) -> int:
    return -(-path.stat().st_size // PAGE)


def test_no_room_for_the_figures_names_the_figure_and_keeps_checkpoint_and_metrics(
        capsys, tmp_path):
    """A disk with room for the run's checkpoint and metrics but not for its figures."""
    argv = ["train", "--data", "synthetic-linear", "--epochs", "3", "-q"]
    code, _, err = run(capsys, *argv, "--out", tmp_path / "measure")
    assert code == 0, err
    measured = tmp_path / "measure"
    figures = {"curves.png", "curves.svg"}
    files = [p for p in measured.iterdir() if p.name not in figures]
    # at most one temporary file beside the others at any time, as large as its target
    needed = sum(map(_pages, files)) + max(map(_pages, files)) + 2
    smallest_figure = min(_pages(measured / name) for name in figures)
    assert smallest_figure > 4, "the figures are too small to tell them from the slack"

    with small_filesystem(tmp_path / "fs", (needed + 64) * PAGE) as fs:
        filler = fill(fs, leave=needed * PAGE)
        out = fs / "run"
        code, _, err = run(capsys, *argv, "--out", out)
        assert code == 1
        assert_one_error(err)
        assert re.search(rf"cannot write the figure {re.escape(str(out))}/curves\.(png|svg): "
                         rf"{FULL}", err), err
        assert "Training is complete" in err
        assert f"shallownet train --resume {out}" in err
        state = load_checkpoint(out / "checkpoint.pt")
        assert state["epoch"] == 3
        rows = metrics_rows(out)
        assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
        assert "final" in (out / "metrics.json").read_text()
        assert leftovers(fs) == []

        filler.unlink()  # with room again, resuming the finished run draws its figures
        code, _, err = run(capsys, "train", "--resume", out, "-q")
        assert code == 0, err
        assert figures <= {p.name for p in out.iterdir()}
        assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 3
        assert without_seconds(metrics_rows(out)) == without_seconds(rows)
