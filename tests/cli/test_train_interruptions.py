"""Interrupted runs, as real processes: SIGKILL at a random moment, SIGTERM, Ctrl-C.

The property: however a run is stopped, every file in its directory is
complete, and continuing it (``--resume``, or the same command again if it
was stopped before its directory held anything) ends with exactly the figures
and weights of a run that was never stopped (same seed, on the CPU).

``SHALLOWNET_KILL_TRIALS`` sets how many SIGKILL trials run (default 4); the
kill moments are drawn at random over the length of an uninterrupted run.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch
from PIL import Image

from shallownet.training.checkpoint import load_checkpoint
from tests.training.conftest import classification_arrays, write_csv

KILL_TRIALS = int(os.environ.get("SHALLOWNET_KILL_TRIALS", "4"))
EPOCHS = 60
TIMEOUT = 180


@pytest.fixture(scope="module")
def blobs(tmp_path_factory) -> Path:
    """A 4-class CSV of 3000 rows: an MLP epoch of it takes tens of milliseconds."""
    X, y = classification_arrays(3000, classes=4, d=12, seed=3)
    return write_csv(tmp_path_factory.mktemp("data") / "blobs.csv", X, y)


def command(data: Path, out: Path, *extra) -> list[str]:
    """An MLP with dropout (so the random stream must resume exactly too), plots included."""
    return [sys.executable, "-m", "shallownet", "train", "--data", str(data), "--model", "mlp",
            "--hidden", "64", "--dropout", "0.2", "--batch-size", "32", "--epochs", str(EPOCHS),
            "--out", str(out), "-q", *map(str, extra)]


def environment() -> dict[str, str]:
    # one thread each: a second BLAS thread only spins on a machine shared with other tests
    return {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def finish(argv: list[str]) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT,
                          env=environment())
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


@pytest.fixture(scope="module")
def reference(blobs, tmp_path_factory) -> tuple[Path, float]:
    """A run that was never stopped, and how long it took from start to exit."""
    out = tmp_path_factory.mktemp("reference") / "run"
    start = time.monotonic()
    finish(command(blobs, out))
    return out, time.monotonic() - start


def figures(run: Path) -> list[dict]:
    """metrics.csv without the wall-clock column."""
    with open(run / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def final(run: Path) -> dict:
    saved = json.loads((run / "metrics.json").read_text())
    drop = {"seconds", "samples_per_second"}
    return {**{k: v for k, v in saved["final"].items() if k not in drop},
            "confusion_matrix": saved["confusion_matrix"]}


def assert_same_run(run: Path, reference: Path) -> None:
    assert figures(run) == figures(reference)
    assert final(run) == final(reference)
    ours, theirs = load_checkpoint(run / "checkpoint.pt"), load_checkpoint(
        reference / "checkpoint.pt")
    assert ours["epoch"] == theirs["epoch"] == EPOCHS
    assert ours["model"].keys() == theirs["model"].keys()
    for name, tensor in theirs["model"].items():
        assert torch.equal(ours["model"][name], tensor), name
    for name in ("curves.png", "curves.svg", "confusion.png"):
        assert (run / name).is_file(), name


def assert_every_file_complete(run: Path) -> str:
    """Each file a run writes is whole or absent; returns where the run was stopped."""
    if not run.exists():
        return "before its directory existed"
    if (run / "config.json").exists():
        json.loads((run / "config.json").read_text())
    epoch = None
    if (run / "checkpoint.pt").exists():
        epoch = load_checkpoint(run / "checkpoint.pt")["epoch"]
    if (run / "metrics.csv").exists():
        with open(run / "metrics.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1))
    if (run / "metrics.json").exists():
        json.loads((run / "metrics.json").read_text())
    for name in ("curves.png", "confusion.png"):
        if (run / name).exists():
            with Image.open(run / name) as image:
                image.load()
    if (run / "curves.svg").exists():
        ET.parse(run / "curves.svg")
    if epoch is None:
        return "before its first checkpoint" if (run / "config.json").exists() else \
            "before its config"
    if (run / "curves.png").exists() or epoch == EPOCHS:
        return f"after its last epoch ({epoch})"
    return f"after epoch {epoch}"


def continue_run(data: Path, run: Path) -> subprocess.CompletedProcess:
    """What a user does next: resume the run, or start it again if nothing of it was saved."""
    if (run / "config.json").exists() or (run / "checkpoint.pt").exists():
        return finish([sys.executable, "-m", "shallownet", "train", "--resume", str(run), "-q"])
    return finish(command(data, run))


def test_sigkill_at_a_random_moment_then_resume_equals_an_uninterrupted_run(
        blobs, reference, tmp_path):
    reference_run, duration = reference
    rng = random.Random()
    outcomes = []
    for trial in range(KILL_TRIALS):
        run = tmp_path / f"trial-{trial}" / "run"
        run.parent.mkdir()
        kill_at = rng.uniform(0.2, duration)
        proc = subprocess.Popen(command(blobs, run), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=environment())
        try:
            time.sleep(kill_at)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            proc.kill()
        where = assert_every_file_complete(run)
        outcomes.append(f"killed at {kill_at:.2f} s of {duration:.2f} s, {where}")
        continue_run(blobs, run)
        assert not list(run.glob(".*.tmp")), outcomes[-1]  # resume clears what the kill left
        try:
            assert_same_run(run, reference_run)
        except AssertionError as exc:
            raise AssertionError(f"trial {trial} ({outcomes[-1]}) differs: {exc}") from exc
    print("\n".join(outcomes))


def test_a_run_stopped_before_its_first_checkpoint_starts_again_on_resume(
        blobs, reference, tmp_path):
    run = tmp_path / "run"
    finish(command(blobs, run, "--epochs", 1, "--no-plots"))  # then undo all but its config
    for name in ("checkpoint.pt", "metrics.csv", "metrics.json"):
        (run / name).unlink()
    (run / ".checkpoint.pt.abc123.tmp").write_bytes(b"half a checkpoint")
    config = json.loads((run / "config.json").read_text())
    config["train"]["epochs"] = EPOCHS  # as the interrupted command had asked
    (run / "config.json").write_text(json.dumps(config))

    done = finish([sys.executable, "-m", "shallownet", "train", "--resume", str(run), "-q"])
    assert f"restarting {run} from epoch 0" in done.stdout
    assert not (run / ".checkpoint.pt.abc123.tmp").exists()
    assert_same_run(run, reference[0])


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_keep_a_checkpoint_and_print_the_resume_command(
        blobs, reference, tmp_path, signum, status):
    run = tmp_path / "run"
    proc = subprocess.Popen(command(blobs, run), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=environment(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:  # stop it once three epochs are on disk
            metrics = run / "metrics.csv"
            if metrics.exists() and len(metrics.read_text().splitlines()) >= 4:
                break
            time.sleep(0.01)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == status, err
    assert "Traceback" not in err
    saved = load_checkpoint(run / "checkpoint.pt")["epoch"]
    assert 3 <= saved < EPOCHS
    assert f"interrupted; the checkpoint of epoch {saved} is saved" in err
    assert f"shallownet train --resume {run}" in err
    assert len(figures(run)) == saved  # the metrics agree with the checkpoint
    assert not list(run.glob(".*.tmp"))

    finish([sys.executable, "-m", "shallownet", "train", "--resume", str(run), "-q"])
    assert_same_run(run, reference[0])
