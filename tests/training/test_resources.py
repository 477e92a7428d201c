"""Resources, from Python: a read-only or full output place fails before any work, with a
clear message; a disk that fills during a run keeps the last good checkpoint.

Real file systems (a tmpfs mounted for the test, see :mod:`tests.filesystems`), no mocks.
"""

from __future__ import annotations

import csv
import re

import pytest
import torch

from shallownet.errors import OutputError
from shallownet.registry import ModelConfig
from shallownet.training.checkpoint import load_checkpoint
from shallownet.training.config import RunConfig, TrainSettings
from shallownet.training.data import DataSpec, load_training_data
from shallownet.training.run import resume_run, train_run
from shallownet.training.rundir import RunDir
from tests.filesystems import PAGE, fill, read_only_directory, small_filesystem

QUIET = {"log": False, "plots": False, "progress": False}
NOT_WRITABLE = r"(Read-only file system|Permission denied)"
FULL = "No space left on device"


def synthetic(epochs: int = 2) -> RunConfig:
    return RunConfig(model=ModelConfig(model="linreg"),
                     data=DataSpec(name="synthetic-linear", num_examples=100),
                     train=TrainSettings(epochs=epochs, batch_size=10, device="cpu"))


def missing_csv(tmp_path) -> RunConfig:
    """A run whose data fails to load (no such file): reaching the data shows up as that error."""
    return RunConfig(model=ModelConfig(model="softmax"),
                     data=DataSpec(name=str(tmp_path / "no-such-data.csv")),
                     train=TrainSettings(epochs=1, batch_size=16, device="cpu"))


def leftovers(directory) -> list:
    """Temporary files a writer or the write probe left behind (``.NAME.*.tmp``)."""
    return sorted(p.name for p in directory.rglob(".*.tmp"))


def metrics_rows(run) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def without_seconds(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


def test_the_missing_csv_fails_to_load_with_another_error(tmp_path):
    """The premise of the 'before loading' tests: loading this data is an error of its own."""
    with pytest.raises(Exception) as info:
        load_training_data(missing_csv(tmp_path).resolved().data)
    assert not isinstance(info.value, OutputError)
    assert "no-such-data.csv" in str(info.value)


# -- read-only ------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["run", "existing", "existing/a/b"])
def test_check_writable_refuses_a_read_only_place_and_names_it(tmp_path, where):
    with read_only_directory(tmp_path / "ro", subdirs=["existing"]) as ro:
        target = ro / where
        with pytest.raises(OutputError, match=NOT_WRITABLE) as info:
            RunDir(target).check_writable()
        message = str(info.value)
        assert f"cannot write the run directory {target}" in message
        assert "Choose another run directory (out)" in message
        assert not target.exists() or not any(target.iterdir())


def test_train_run_refuses_a_read_only_out_before_loading_the_data(tmp_path):
    with read_only_directory(tmp_path / "ro") as ro:
        with pytest.raises(OutputError, match=NOT_WRITABLE) as info:
            train_run(missing_csv(tmp_path), ro / "run", **QUIET)
        assert str(ro / "run") in str(info.value)
        assert "no-such-data.csv" not in str(info.value)  # the data was never reached


# -- full ---------------------------------------------------------------------------------


def test_check_writable_refuses_a_full_disk_and_leaves_nothing(tmp_path):
    with small_filesystem(tmp_path / "fs", 64 * PAGE) as fs:
        fill(fs)
        (fs / "existing").mkdir()  # a directory takes no data pages: it can still be made
        for target in (fs / "run", fs / "existing", fs / "deep" / "er"):
            with pytest.raises(OutputError, match=FULL) as info:
                RunDir(target).check_writable()
            assert f"cannot write the run directory {target}" in str(info.value)
        assert leftovers(fs) == []
        assert sorted(p.name for p in fs.iterdir()) == [".filler", "existing"]


def test_check_writable_passes_with_one_page_free_and_leaves_nothing(tmp_path):
    with small_filesystem(tmp_path / "fs", 64 * PAGE) as fs:
        fill(fs, leave=PAGE)
        RunDir(fs / "run").check_writable()
        assert leftovers(fs) == []
        assert not (fs / "run").exists()


def test_train_run_refuses_a_full_disk_before_loading_the_data(tmp_path):
    with small_filesystem(tmp_path / "fs", 64 * PAGE) as fs:
        fill(fs)
        with pytest.raises(OutputError, match=FULL) as info:
            train_run(missing_csv(tmp_path), fs / "run", **QUIET)
        assert str(fs / "run") in str(info.value)
        assert not (fs / "run").exists()
        assert leftovers(fs) == []


def test_no_room_for_the_first_checkpoint_keeps_a_complete_config_to_restart_from(tmp_path):
    """Room for the probe and config.json, none for the epoch-0 checkpoint: it fails at that
    first checkpoint, leaves no partial file, and the run restarts from epoch 0 once freed."""
    config = synthetic(epochs=2)
    with small_filesystem(tmp_path / "fs", 64 * PAGE) as fs:
        filler = fill(fs, leave=PAGE)
        run = fs / "run"
        with pytest.raises(OutputError, match=FULL) as info:
            train_run(config, run, **QUIET)
        assert f"cannot write the checkpoint {run / 'checkpoint.pt'}" in str(info.value)
        assert leftovers(fs) == []
        assert sorted(p.name for p in run.iterdir()) == ["config.json"]
        assert RunDir(run).read_config()["train"]["epochs"] == 2  # complete JSON
        filler.unlink()
        resumed = resume_run(run, **QUIET)
        reference = train_run(config, tmp_path / "reference", **QUIET)
    assert without_seconds(resumed.history) == without_seconds(reference.history)


def test_a_disk_that_fills_during_training_keeps_the_last_checkpoint_and_resumes(tmp_path):
    """The disk fills while epoch 3 trains (its log line comes before its checkpoint): the
    checkpoint of epoch 2 is kept, and resuming gives exactly the uninterrupted run."""
    with small_filesystem(tmp_path / "fs", 256 * PAGE) as fs:
        run = fs / "run"
        filled = []

        def log(line: str) -> None:
            if re.match(r"epoch\s+3\b", line) and not filled:
                filled.append(fill(fs))

        with pytest.raises(OutputError, match=FULL) as info:
            train_run(synthetic(epochs=6), run, log=log, plots=False, progress=False)
        assert filled, "the log never reported epoch 3"
        message = str(info.value)
        assert f"The checkpoint of epoch 2 is kept in {run / 'checkpoint.pt'}" in message
        assert f"resume_run({str(run)!r})" in message
        state = load_checkpoint(run / "checkpoint.pt")
        assert state["epoch"] == 2 and len(state["history"]) == 2
        assert [int(r["epoch"]) for r in metrics_rows(run)] == [1, 2]
        assert leftovers(fs) == []

        filled[0].unlink()
        resume_run(run, epochs=4, **QUIET)
        resumed = load_checkpoint(run / "checkpoint.pt")
        train_run(synthetic(epochs=4), tmp_path / "reference", **QUIET)
        reference = load_checkpoint(tmp_path / "reference" / "checkpoint.pt")
    assert resumed["epoch"] == reference["epoch"] == 4
    assert without_seconds(resumed["history"]) == without_seconds(reference["history"])
    assert resumed["model"].keys() == reference["model"].keys()
    for key in reference["model"]:
        assert torch.equal(resumed["model"][key], reference["model"][key]), key
