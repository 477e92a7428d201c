"""Callbacks: the hooks around the epochs, a user's own early stopping, files written together."""

from __future__ import annotations

import os
import signal

import pytest

from shallownet.errors import TrainingDiverged
from shallownet.registry import ModelConfig
from shallownet.training import Callback, RunConfig, TrainSettings, resume_run, train_run
from shallownet.training.callbacks import PrintLog, Together
from shallownet.training.data import DataSpec
from shallownet.training.printing import format_epoch
from shallownet.training.rundir import RunDir
from tests.training.test_trainer import blobs, linear, make_setup, make_trainer


class EarlyStopping(Callback):
    """The module docstring's example: stop when the test loss has not improved for
    ``patience`` epochs."""

    def __init__(self, patience=2):
        self.patience, self.best, self.waited = patience, float("inf"), 0

    def on_epoch_end(self, trainer, setup, history):
        loss = history[-1]["test_loss"]
        self.best, self.waited = (loss, 0) if loss < self.best else (self.best, self.waited + 1)
        if self.waited >= self.patience:
            trainer.stop_training = True


class Recorder(Callback):
    """Every hook call, in order, with the epochs the history holds then."""

    def __init__(self, calls, name="r"):
        self.calls, self.name = calls, name

    def on_train_begin(self, trainer, setup, history):
        self.calls.append((self.name, "begin", len(history)))

    def on_epoch_end(self, trainer, setup, history):
        self.calls.append((self.name, "epoch", len(history)))

    def on_train_end(self, trainer, setup, history):
        self.calls.append((self.name, "end", len(history)))


def test_hooks_run_in_order_for_each_callback():
    calls = []
    data = blobs()
    make_trainer(epochs=2).fit(make_setup(data), data,
                               callbacks=[Recorder(calls, "a"), Recorder(calls, "b")])
    assert calls == [("a", "begin", 0), ("b", "begin", 0), ("a", "epoch", 1), ("b", "epoch", 1),
                     ("a", "epoch", 2), ("b", "epoch", 2), ("a", "end", 2), ("b", "end", 2)]


def test_a_resumed_history_is_seen_by_on_train_begin():
    calls = []
    data = blobs()
    setup = make_setup(data)
    history = make_trainer(epochs=1).fit(setup, data)
    make_trainer(epochs=3).fit(setup, data, history=history, callbacks=[Recorder(calls)])
    assert calls == [("r", "begin", 1), ("r", "epoch", 2), ("r", "epoch", 3), ("r", "end", 3)]


def test_on_train_end_runs_when_training_diverges():
    calls = []
    data = linear()
    with pytest.raises(TrainingDiverged):
        make_trainer(epochs=3, batch_size=10).fit(make_setup(data, "linreg", lr=1e6), data,
                                                  callbacks=[Recorder(calls)])
    assert calls[0] == ("r", "begin", 0) and calls[-1][:2] == ("r", "end")


def test_a_users_early_stopping_ends_training_after_the_epoch_that_asks():
    data = blobs(labels="random")  # nothing to learn: the test loss soon stops improving
    trainer = make_trainer(epochs=30, batch_size=16)
    stop = EarlyStopping(patience=2)
    history = trainer.fit(make_setup(data, lr=0.5), data, callbacks=[stop])
    assert 3 <= len(history) < 30
    losses = [r["test_loss"] for r in history]
    best = losses.index(min(losses)) + 1
    assert len(history) == best + 2  # two epochs without improvement, then it stopped
    assert trainer.stop_training


def test_early_stopping_in_a_run_directory_keeps_what_it_trained(tmp_path):
    config = RunConfig(ModelConfig(model="linreg", lr=0.5),
                       DataSpec("synthetic-linear", num_examples=100, noise=1.0),
                       TrainSettings(epochs=40, batch_size=10))
    result = train_run(config, tmp_path / "run", callbacks=[EarlyStopping(patience=1)],
                       log=False, progress=False, plots=False)
    done = len(result.history)
    assert done < 40
    run_dir = RunDir(tmp_path / "run")
    assert run_dir.load_checkpoint()["epoch"] == done
    assert len(run_dir.read_metrics()[1]) == done
    assert result.summary["epochs"] == done
    # the run can go on later, without the callback, up to its configured epochs
    resumed = resume_run(tmp_path / "run", log=False, progress=False, plots=False)
    assert len(resumed.history) == 40


def test_print_log_sends_the_epoch_line_to_its_sink():
    lines = []
    data = blobs()
    history = make_trainer(epochs=2).fit(make_setup(data), data, callbacks=[PrintLog(lines.append)])
    assert lines == [format_epoch(r, 2) for r in history]


def test_together_holds_ctrl_c_until_every_callback_has_run():
    calls = []

    class Interrupting(Callback):
        def on_epoch_end(self, trainer, setup, history):
            os.kill(os.getpid(), signal.SIGINT)  # arrives while the group is being written
            calls.append("first")

    data = blobs()
    with pytest.raises(KeyboardInterrupt):
        make_trainer(epochs=3).fit(make_setup(data), data,
                                   callbacks=[Together([Interrupting(), Recorder(calls)])])
    # the second callback ran before Ctrl-C landed; the end hooks ran after it
    assert calls == [("r", "begin", 0), "first", ("r", "epoch", 1), ("r", "end", 1)]
