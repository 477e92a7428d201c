"""The library's hints in the command line's words, and only there."""

from __future__ import annotations

from pathlib import Path

import pytest

from shallownet.cli.messages import flag, for_the_command_line, interrupted_message
from shallownet.errors import Hint, Placeholder, TrainingDiverged, UsageError
from tests.cli.clitools import run


@pytest.mark.parametrize(("hint", "python", "cli"), [
    (Hint("lr", 0.01), "lr=0.01", "--lr 0.01"),
    (Hint("lr", 1e-05), "lr=1e-05", "--lr 1e-05"),
    (Hint("batch_size", 32), "batch_size=32", "--batch-size 32"),
    (Hint("data_dir"), "data_dir", "--data-dir"),
    (Hint("data_dir", Placeholder("DIR")), "data_dir=DIR", "--data-dir DIR"),
    (Hint("model", "softmax"), "model='softmax'", "--model softmax"),
    (Hint("hidden", (128, 64)), "hidden=(128, 64)", "--hidden 128,64"),
    (Hint("tensorboard", False), "tensorboard=False", "--no-tensorboard"),
    (Hint("normalize", True), "normalize=True", "--normalize"),
    (Hint.call("resume_run", Path("runs/my run")), "resume_run('runs/my run')",
     "shallownet train --resume 'runs/my run'"),
    (Hint.call("fetch_dataset", "mnist", data_dir="/data"),
     "fetch_dataset('mnist', data_dir='/data')", "shallownet data fetch mnist --data-dir /data"),
    (Hint.call("something_else", 3), "something_else(3)", "something_else(3)"),
])
def test_a_hint_in_python_and_on_the_command_line(hint, python, cli):
    assert str(hint) == python
    assert flag(hint) == cli


def test_an_error_is_respelled_hint_by_hint():
    lr = Hint("lr", 0.01)
    exc = TrainingDiverged(f"diverged; try a smaller one, e.g. {lr}", epoch=1, step=2,
                           hints=[lr])
    assert for_the_command_line(exc) == "diverged; try a smaller one, e.g. --lr 0.01"
    assert str(exc) == "diverged; try a smaller one, e.g. lr=0.01"


def test_a_bare_name_is_respelled_only_where_it_stands_alone():
    exc = UsageError("top must be positive; the top_k of stop and top.x stay", hints=[Hint("top")])
    assert for_the_command_line(exc) == "--top must be positive; the top_k of stop and top.x stay"


def test_an_error_without_hints_is_unchanged():
    assert for_the_command_line(UsageError("lr=0.1 is fine")) == "lr=0.1 is fine"


def test_an_interruption_names_the_resume_command():
    exc = KeyboardInterrupt()
    assert interrupted_message(exc) == "shallownet: interrupted."
    exc.run_dir, exc.state = Path("runs/a"), "the checkpoint of epoch 3 is saved"
    assert interrupted_message(exc) == ("shallownet: interrupted; the checkpoint of epoch 3 is "
                                        "saved. Resume with:\n  shallownet train --resume runs/a")


def test_a_diverging_run_is_told_the_flag_to_change(capsys, tmp_path):
    code, out, err = run(capsys, "train", "--data", "synthetic-linear", "--lr", "1e6",
                         "--out", tmp_path / "r", "--no-plots", "-q")
    assert code == 1
    assert "try a smaller one, e.g. --lr 100000" in err and "lr=" not in err
