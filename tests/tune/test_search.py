"""``tune``: a search on real data, end to end, with the test set kept out of it."""

from __future__ import annotations

import csv
import json

import optuna
import pytest
import torch

import shallownet.training.data as training_data
import shallownet.tune.search as search_module
from shallownet.compare import read_run
from shallownet.errors import UsageError
from shallownet.training.config import RunConfig
from shallownet.training.crossval import cross_validate
from shallownet.tune import resume_tune, tune
from tests.conftest import requires_real_data
from tests.tune.conftest import small_mlp

pytestmark = requires_real_data


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """Ten random trials over a range of learning rates wide enough that some are hopeless."""
    out = tmp_path_factory.mktemp("tune") / "search"
    result = tune({"lr": "log:1e-4:0.5", "hidden": "choice:32,64"}, small_mlp(epochs=5),
                  trials=10, sampler="random", seed=3, out=out, progress=False, log=False)
    return result


def test_a_search_finishes_and_retrains_the_best_on_the_whole_training_set(searched):
    study, summary = searched.study, searched.summary
    assert len(study.trials) == 10
    best = study.best_trial
    assert summary["best_trial"] == best.number
    assert summary["best_val_acc"] == best.value
    assert summary["best_params"] == {"lr": best.params["lr"],
                                      "hidden": int(best.params["hidden"])}
    run = searched.best_run
    assert run is not None and run.run_dir.path == searched.tune_dir / "best"
    config = json.loads((run.run_dir.path / "config.json").read_text())
    assert config["model"]["lr"] == best.params["lr"]
    assert config["model"]["hidden"] == [int(best.params["hidden"])]
    assert config["data"].get("val_fraction") in (None, 0, 0.0)  # the whole training set
    assert summary["final_test_acc"] == run.summary["test_acc"]
    assert 0.5 < summary["final_test_acc"] <= 1
    on_disk = json.loads((searched.tune_dir / "summary.json").read_text())
    assert on_disk["final_test_acc"] == summary["final_test_acc"]


def test_pruning_stops_at_least_one_hopeless_trial(searched):
    pruned = [t for t in searched.study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, [t.state for t in searched.study.trials]
    assert all(t.last_step < 5 for t in pruned)  # stopped before the last epoch
    assert searched.summary["trials"]["pruned"] == len(pruned)


def test_the_tune_directory_holds_the_report_and_figures(searched):
    d = searched.tune_dir
    with (d / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["number"]) for r in rows] == list(range(10))
    assert {r["state"] for r in rows} <= {"complete", "pruned"}
    assert {"lr", "hidden", "val_acc", "seconds", "last_step", "last_val_acc"} <= set(rows[0])
    pruned = [r for r in rows if r["state"] == "pruned"]
    assert pruned and all(r["val_acc"] == "" and float(r["last_val_acc"]) >= 0 for r in pruned)
    for name in ("history.png", "slice.png", "parallel.png", "importances.png"):
        assert (d / name).stat().st_size > 5000, name
    assert json.loads((d / "tune.json").read_text())["space"] == \
        {"lr": "log:0.0001:0.5", "hidden": "choice:32,64"}


def test_compare_takes_the_search_for_its_retrained_best(searched, tmp_path):
    run = read_run(searched.tune_dir)
    assert run.path == searched.tune_dir / "best"
    assert run.label == "search/best"
    assert run.final()["test_acc"] == searched.summary["final_test_acc"]


class _Poisoned(torch.Tensor):
    """A test split that raises when anything computes with it while ``armed``."""

    armed = True

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if cls.armed:
            raise AssertionError(f"the test set was read during the search ({func})")
        return super().__torch_function__(func, types, args, kwargs or {})


@pytest.fixture
def poisoned_test_set(monkeypatch):
    """Fashion-MNIST whose test images and labels raise if read before the retrain."""
    load = training_data._LOADERS["image"]

    def poisoned(spec, progress):
        data = load(spec, progress)
        data.test_X = data.test_X.as_subclass(_Poisoned)
        data.test_y = data.test_y.as_subclass(_Poisoned)
        return data

    def retrain(*args, **kwargs):
        monkeypatch.setattr(_Poisoned, "armed", False)
        return train_run(*args, **kwargs)

    train_run = search_module.train_run
    monkeypatch.setitem(training_data._LOADERS, "image", poisoned)
    monkeypatch.setattr(search_module, "train_run", retrain)
    monkeypatch.setattr(_Poisoned, "armed", True)


@pytest.mark.parametrize("scoring", [{}, {"folds": 3}], ids=["split", "folds"])
def test_the_search_never_reads_the_test_set(poisoned_test_set, tmp_path, scoring):
    result = tune({"lr": "log:0.05:0.5"}, small_mlp(epochs=3, max_test=None), trials=3,
                  sampler="random", pruner="none", out=tmp_path / "t", progress=False,
                  log=False, **scoring)
    assert [t.state for t in result.study.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    assert not _Poisoned.armed  # the retrain, and only it, lifted the poison
    assert 0.2 < result.summary["final_test_acc"] <= 1  # chance is 0.1


def test_k_fold_scoring_is_the_figure_train_folds_reports(tmp_path):
    config = small_mlp(epochs=2, max_train=900)
    result = tune({"lr": "choice:0.2"}, config, trials=1, folds=3, out=tmp_path / "t",
                  retrain=False, progress=False, log=False)
    (trial,) = result.study.trials
    lr_config = RunConfig.from_dict({**config.to_dict(),
                                     "model": {**config.to_dict()["model"], "lr": 0.2}})
    folds = cross_validate(lr_config, 3, tmp_path / "cv", progress=False, log=False,
                           plots=False)
    assert trial.value == folds["val_acc_mean"]
    assert trial.user_attrs["fold_values"] == folds["fold_val_acc"]
    assert result.summary["best_val_acc_std"] == folds["val_acc_std"]
    assert result.best_run is None and not (tmp_path / "t" / "best").exists()


def test_a_grid_search_tries_every_point_once(tmp_path):
    result = tune({"lr": "choice:0.05,0.2", "batch_size": "choice:64,256"},
                  small_mlp(epochs=1), sampler="grid", out=tmp_path / "g", retrain=False,
                  plots=False, progress=False, log=False)
    points = sorted((t.params["lr"], t.params["batch_size"]) for t in result.study.trials)
    assert points == [("0.05", "256"), ("0.05", "64"), ("0.2", "256"), ("0.2", "64")]


def test_resume_continues_the_same_study(tmp_path):
    out = tmp_path / "r"
    first = tune({"lr": "log:0.01:0.5"}, small_mlp(epochs=1), trials=2, sampler="random",
                 out=out, retrain=False, plots=False, progress=False, log=False)
    values = [t.value for t in first.study.trials]
    lines = []
    again = resume_tune(out, trials=4, retrain=False, plots=False, progress=False,
                        log=lines.append)
    assert again.study._study_id == first.study._study_id
    assert [t.number for t in again.study.trials] == [0, 1, 2, 3]
    assert [line.split()[1] for line in lines if line.startswith("trial ")] == ["2", "3"]
    # the first two trials are the same records, not re-run
    assert [t.value for t in again.study.trials[:2]] == values


def test_a_regression_search_minimises_the_validation_loss_and_records_divergence(tmp_path):
    base = RunConfig.from_dict({"model": {"model": "linreg"},
                                "data": {"name": "synthetic-linear", "num_examples": 300}})
    result = tune({"lr": "choice:0.03,1000"}, base, sampler="grid", pruner="none",
                  out=tmp_path / "lin", plots=False, progress=False, log=False)
    assert result.summary["metric"] == "val_loss" and result.summary["direction"] == "minimize"
    states = {t.params["lr"]: t for t in result.study.trials}
    assert states["1000"].state == optuna.trial.TrialState.FAIL
    assert states["1000"].user_attrs["error"].startswith("diverged")
    assert result.summary["trials"] == {"complete": 1, "diverged": 1}
    assert result.summary["best_params"] == {"lr": 0.03}
    assert "final_test_loss" in result.summary


def test_bad_settings_are_refused_before_the_directory_is_made(tmp_path):
    out = tmp_path / "never"
    with pytest.raises(UsageError, match="say when the search ends"):
        tune({"lr": "log:0.01:0.5"}, small_mlp(), out=out)
    with pytest.raises(UsageError, match="validation share"):
        tune({"lr": "log:0.01:0.5"}, small_mlp(), trials=2, val_fraction=1.5, out=out)
    with pytest.raises(UsageError, match=r"dropout='float:0:1': with 1, dropout"):
        tune({"dropout": "float:0:1"}, small_mlp(), trials=2, out=out)
    with pytest.raises(UsageError, match="is not a duration"):
        tune({"lr": "log:0.01:0.5"}, small_mlp(), time_budget="soon", out=out)
    assert not out.exists()


def test_a_directory_that_holds_a_search_is_not_overwritten(searched):
    with pytest.raises(Exception, match="already holds a search"):
        tune({"lr": "log:0.01:0.5"}, small_mlp(), trials=2, out=searched.tune_dir)


def test_resuming_draws_new_trials_not_the_ones_already_in_the_study(tmp_path):
    out = tmp_path / "r"
    tune({"lr": "log:0.01:0.5"}, small_mlp(epochs=1), trials=3, sampler="random", out=out,
         retrain=False, plots=False, progress=False, log=False)
    again = resume_tune(out, trials=6, retrain=False, plots=False, progress=False, log=False)
    drawn = [t.params["lr"] for t in again.study.trials]
    assert len(set(drawn)) == 6


def test_the_seed_draws_the_validation_split_too(tmp_path):
    tune({"lr": "log:0.01:0.5"}, small_mlp(epochs=1), trials=1, seed=3, out=tmp_path / "s",
         retrain=False, plots=False, progress=False, log=False)
    settings = json.loads((tmp_path / "s" / "tune.json").read_text())
    assert settings["base"]["data"]["seed"] == 3 and settings["base"]["train"]["seed"] == 3


def test_a_resume_that_finds_the_same_best_keeps_its_retrained_run(tmp_path):
    out = tmp_path / "k"
    first = tune({"lr": "choice:0.3,0.001"}, small_mlp(epochs=2), sampler="grid", out=out,
                 plots=False, progress=False, log=False)
    written = (out / "best" / "config.json").stat().st_mtime_ns
    lines = []
    again = resume_tune(out, plots=False, progress=False, log=lines.append)
    assert again.best_run is None
    assert f"trial {first.summary['best_trial']} is still the best" in lines[-1]
    assert (out / "best" / "config.json").stat().st_mtime_ns == written
    assert again.summary["final_test_acc"] == first.summary["final_test_acc"]
    assert again.summary["best_run"] == first.summary["best_run"]


def test_a_search_that_cannot_start_leaves_no_directory(tmp_path):
    base = RunConfig.from_dict({"data": {"name": str(tmp_path / "missing.csv")}})
    with pytest.raises(Exception, match="missing.csv"):
        tune({"lr": "log:0.01:0.5"}, base, trials=2, out=tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_an_option_the_model_does_not_have_is_not_searched(tmp_path):
    with pytest.raises(UsageError, match="channels does not change mlp"):
        tune({"channels": "choice:6/16,16/32"}, small_mlp(), trials=2, out=tmp_path / "t")
