"""The study: its database, the record that keeps one space per study, taking trials."""

from __future__ import annotations

import importlib.util
import socket

import optuna
import pytest

from shallownet.errors import UsageError
from shallownet.tune.study import (
    INTERRUPTED,
    Outcome,
    StopFlag,
    counted_trials,
    describe,
    fail_stale,
    make_pruner,
    make_sampler,
    open_storage,
    open_study,
    run_trials,
    sqlite_path,
)

RECORD = describe({"lr": "log:0.001:1"}, {"train": {"epochs": 3}}, "val_acc", "maximize",
                  {"val_fraction": 0.2})


def storage_in(tmp_path):
    return open_storage(f"sqlite:///{tmp_path / 'study.db'}")


def study_in(tmp_path, record=RECORD, name="s"):
    return open_study(storage_in(tmp_path), name, record, sampler=make_sampler("random", 0),
                      pruner=make_pruner("none"))


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sqlite_path():
    assert str(sqlite_path("sqlite:////tmp/a/study.db")) == "/tmp/a/study.db"
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("postgresql://u@h/db") is None


def test_an_sqlite_file_in_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(UsageError, match="the directory .* does not exist"):
        open_storage(f"sqlite:///{tmp_path / 'nowhere' / 'study.db'}")


def test_a_url_that_is_not_a_database_url_is_refused():
    with pytest.raises(UsageError, match="is not a database URL Optuna can use"):
        open_storage("study.db")


@pytest.mark.skipif(importlib.util.find_spec("pymysql") is None, reason="PyMySQL not installed")
def test_a_database_that_cannot_be_reached_is_refused_and_its_password_not_shown():
    url = f"mysql+pymysql://tuner:secret@127.0.0.1:{closed_port()}/studies"
    with pytest.raises(UsageError, match="cannot reach the study database") as caught:
        open_storage(url)
    assert "secret" not in str(caught.value) and "tuner:***@127.0.0.1" in str(caught.value)
    assert "Connection refused" in str(caught.value)


@pytest.mark.skipif(importlib.util.find_spec("cx_Oracle") is not None
                    or importlib.util.find_spec("oracledb") is not None,
                    reason="an Oracle driver is installed")
def test_a_database_whose_driver_is_missing_names_the_package_to_install():
    with pytest.raises(UsageError, match=r"its driver is not installed \(pip install "):
        open_storage(f"oracle://tuner@127.0.0.1:{closed_port()}/studies")


def test_a_study_is_created_once_and_joined_with_the_same_record(tmp_path):
    first = study_in(tmp_path)
    again = study_in(tmp_path)
    assert again._study_id == first._study_id
    assert again.user_attrs["shallownet"] == RECORD


def test_joining_a_study_of_another_space_is_refused_naming_each_difference(tmp_path):
    study_in(tmp_path)
    other = describe({"lr": "log:0.01:1", "dropout": "float:0:0.5"}, {"train": {"epochs": 5}},
                     "val_acc", "maximize", {"folds": 3})
    with pytest.raises(UsageError) as caught:
        study_in(tmp_path, other)
    message = str(caught.value)
    assert "lr is log:0.001:1 in the study, log:0.01:1 here" in message
    assert "dropout is not searched in the study, float:0:0.5 here" in message
    assert "scoring: {'val_fraction': 0.2} in the study, {'folds': 3} here" in message
    assert "train.epochs is 3 in the study, 5 here" in message


def test_a_study_not_made_by_shallownet_is_refused(tmp_path):
    storage = storage_in(tmp_path)
    optuna.create_study(study_name="foreign", storage=storage)
    with pytest.raises(UsageError, match="was not created by shallownet tune"):
        open_study(storage, "foreign", RECORD, sampler=make_sampler("random", 0),
                   pruner=make_pruner("none"), wait=0.3)


@pytest.mark.parametrize("factory, name", [(make_sampler, "annealing"), (make_pruner, "hyperband")])
def test_unknown_samplers_and_pruners_are_refused(factory, name):
    with pytest.raises(UsageError, match=f"unknown .* {name!r}"):
        factory(name, 0) if factory is make_sampler else factory(name)


def test_trials_stop_at_the_target_the_study_holds(tmp_path):
    study = study_in(tmp_path)
    seen = []

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-3, 1, log=True)
        return Outcome("complete", -abs(lr - 0.1), {"seconds": 0.0})

    ran = run_trials(study, objective, target=4, deadline=None, stop=StopFlag(),
                     on_trial=seen.append)
    assert ran == 4 and [t.number for t in seen] == [0, 1, 2, 3]
    ran = run_trials(study, objective, target=6, deadline=None, stop=StopFlag())
    assert ran == 2 and counted_trials(study) == 6  # a larger target continues the study


def test_pruned_and_failed_outcomes_are_recorded_as_such(tmp_path):
    study = study_in(tmp_path)
    outcomes = iter([Outcome("pruned"), Outcome("fail", attrs={"error": "diverged: nan"}),
                     Outcome("complete", 0.5)])
    run_trials(study, lambda trial: next(outcomes), target=3, deadline=None, stop=StopFlag())
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL,
                      optuna.trial.TrialState.COMPLETE]
    assert study.trials[1].user_attrs["error"] == "diverged: nan"
    assert counted_trials(study) == 3  # a diverged trial is one of the study's results


def test_an_interrupted_trial_is_marked_and_does_not_count(tmp_path):
    study = study_in(tmp_path)

    def objective(trial):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_trials(study, objective, target=3, deadline=None, stop=StopFlag())
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.FAIL and trial.user_attrs[INTERRUPTED]
    assert counted_trials(study) == 0


def test_a_stop_ends_the_search_after_the_current_trial(tmp_path):
    study = study_in(tmp_path)
    stop = StopFlag()

    def objective(trial):
        stop.stop()  # as a first Ctrl-C during this trial would
        return Outcome("complete", 1.0)

    assert run_trials(study, objective, target=10, deadline=None, stop=stop) == 1
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE


def test_no_trial_starts_after_the_deadline(tmp_path):
    study = study_in(tmp_path)
    assert run_trials(study, lambda t: Outcome("complete", 1.0), target=None, deadline=0.0,
                      stop=StopFlag()) == 0


def test_trials_left_running_by_a_dead_process_are_marked_interrupted(tmp_path):
    study = study_in(tmp_path)
    study.ask()  # its process died before telling
    assert counted_trials(study) == 1
    assert fail_stale(study) == 1
    assert counted_trials(study) == 0
    assert study.trials[0].user_attrs[INTERRUPTED]
