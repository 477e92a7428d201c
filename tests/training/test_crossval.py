"""K-fold cross-validation: the folds, and a cross-validated run on a small CSV file."""

from __future__ import annotations

import csv
import json
import statistics

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from shallownet.errors import RunConfigError, UsageError
from shallownet.registry import ModelConfig
from shallownet.training import crossval
from shallownet.training.config import RunConfig, TrainSettings
from shallownet.training.crossval import check_folds, cross_validate, kfold_indices
from shallownet.training.data import DataSpec, load_training_data
from shallownet.training.run import evaluate_run, resume_run
from tests.training.conftest import classification_arrays, write_csv

# -- kfold_indices -------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(k=st.integers(2, 10), extra=st.integers(0, 40), seed=st.integers(0, 2**32))
def test_validation_folds_partition_the_indices(k, extra, seed):
    n = k + extra
    folds = kfold_indices(n, k, seed=seed)
    assert len(folds) == k
    validation = torch.cat([val for _, val in folds])
    assert sorted(validation.tolist()) == list(range(n))  # each index exactly once
    sizes = [len(val) for _, val in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, val in folds:
        assert train.dtype == torch.int64
        assert set(train.tolist()).isdisjoint(val.tolist())
        assert sorted([*train.tolist(), *val.tolist()]) == list(range(n))


def test_folds_are_deterministic_per_seed_and_shuffled():
    a, b, c = (kfold_indices(50, 5, seed=s) for s in (1, 1, 2))
    for (ta, va), (tb, vb) in zip(a, b, strict=True):
        assert torch.equal(ta, tb) and torch.equal(va, vb)
    assert any(not torch.equal(va, vc) for (_, va), (_, vc) in zip(a, c, strict=True))
    assert torch.cat([v for _, v in a]).tolist() != list(range(50))


@pytest.mark.parametrize("k", [1, 0, -2, 2.0, True, "3"])
def test_fewer_than_two_folds_or_not_a_whole_number_is_refused(k):
    with pytest.raises(UsageError, match="folds must be a whole number") as info:
        kfold_indices(10, k)
    assert [str(h) for h in info.value.hints] == ["folds"]
    with pytest.raises(UsageError):
        check_folds(k)


def test_fewer_examples_than_folds_is_refused():
    with pytest.raises(UsageError, match="3 training examples cannot be split into 4 folds"):
        kfold_indices(3, 4)
    assert len(kfold_indices(4, 4)) == 4


# -- cross_validate ------------------------------------------------------------------------------


def config_for(path, **train) -> RunConfig:
    return RunConfig(model=ModelConfig(model="softmax"), data=DataSpec(name=str(path)),
                     train=TrainSettings(**{"epochs": 3, "batch_size": 16, "device": "cpu",
                                            **train}))


def test_cross_validate_a_csv_classifier(classification_csv, tmp_path):
    out = tmp_path / "cv"
    lines = []
    summary = cross_validate(config_for(classification_csv), 3, out, log=lines.append,
                             plots=False, progress=False)

    assert summary["folds"] == 3 and summary["epochs"] == 3
    assert summary["model"] == "softmax" and summary["impl"] == "scratch"
    assert summary["run_dir"] == str(out)
    accs, losses = summary["fold_val_acc"], summary["fold_val_loss"]
    assert len(accs) == 3 and len(losses) == 3
    assert summary["val_acc_mean"] == statistics.fmean(accs)
    assert summary["val_acc_std"] == statistics.stdev(accs)
    assert summary["val_loss_mean"] == statistics.fmean(losses)
    assert summary["val_loss_std"] == statistics.stdev(losses)
    assert min(accs) > 0.9  # well-separated blobs
    assert summary["seconds"] > 0 and summary["samples_per_second"] > 0
    assert len(lines) == 9 and lines[0].startswith("fold 1/3  epoch 1/3")

    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9
    assert [(int(r["fold"]), int(r["epoch"])) for r in rows] == [
        (k, e) for k in (1, 2, 3) for e in (1, 2, 3)]
    assert {"val_loss", "val_acc", "train_loss", "train_acc"} <= set(rows[0])
    assert "test_loss" not in rows[0]
    # the summary's per-fold figures are the last epoch of each fold
    assert [float(r["val_acc"]) for r in rows if r["epoch"] == "3"] == accs

    stored = json.loads((out / "metrics.json").read_text())
    assert len(stored["history"]) == 9
    assert stored["final"]["fold_val_acc"] == accs
    config = json.loads((out / "config.json").read_text())
    assert config["folds"] == 3
    assert not (out / "checkpoint.pt").exists()
    assert not (out / "curves.png").exists()


def fold_data_seen(monkeypatch) -> list:
    """A list that receives the TrainingData of every fold ``Trainer.fit`` is called with."""
    seen = []
    real_fit = crossval.Trainer.fit

    def spy(self, setup, data, **kwargs):
        seen.append(data)
        return real_fit(self, setup, data, **kwargs)

    monkeypatch.setattr(crossval.Trainer, "fit", spy)
    return seen


def test_cross_validation_is_reproducible(classification_csv, tmp_path):
    config = config_for(classification_csv, epochs=1)
    a = cross_validate(config, 2, tmp_path / "a", log=False, plots=False, progress=False)
    b = cross_validate(config, 2, tmp_path / "b", log=False, plots=False, progress=False)
    assert a["fold_val_loss"] == b["fold_val_loss"]


def test_cross_validate_never_uses_the_test_set(classification_csv, tmp_path, monkeypatch):
    seen = fold_data_seen(monkeypatch)
    config = config_for(classification_csv, epochs=1)
    cross_validate(config, 4, tmp_path / "cv", log=False, plots=False, progress=False)
    full = load_training_data(config.data)
    assert len(seen) == 4
    assert sum(len(d.test_X) for d in seen) == len(full.train_X)  # 160, not 200
    for d in seen:
        assert len(d.train_X) + len(d.test_X) == len(full.train_X)


def test_each_fold_is_standardised_with_its_own_training_rows(tmp_path, monkeypatch):
    X, y = classification_arrays(150, offset=500.0)
    X[:, 2] = X[:, 2] * 30 - 80
    path = write_csv(tmp_path / "offset.csv", X, y)
    seen = fold_data_seen(monkeypatch)
    config = config_for(path, epochs=1, seed=4)
    cross_validate(config, 3, tmp_path / "cv", log=False, plots=False, progress=False)

    raw = load_training_data(DataSpec(name=str(path), standardize=False))
    folds = kfold_indices(len(raw.train_X), 3, seed=4)
    assert len(seen) == 3
    for fold, (train_idx, val_idx) in zip(seen, folds, strict=True):
        train_raw, val_raw = raw.train_X[train_idx], raw.train_X[val_idx]
        mean, std = train_raw.mean(0), train_raw.std(0, correction=0)
        torch.testing.assert_close(fold.train_X, (train_raw - mean) / std, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(fold.test_X, (val_raw - mean) / std, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(fold.train_X.mean(0), torch.zeros(4), atol=1e-4, rtol=0)
        assert torch.equal(fold.train_y, raw.train_y[train_idx])
        assert torch.equal(fold.test_y, raw.train_y[val_idx])
        # not the whole training set's statistics, nor the validation part's own
        whole = raw.train_X.mean(0)
        assert not torch.allclose(fold.test_X, (val_raw - whole) / std, atol=1e-4)
        assert float(fold.test_X.mean(0).abs().max()) > 1e-3


def test_cross_validating_regression_reports_parameter_errors(tmp_path):
    config = RunConfig(model=ModelConfig(model="linreg"),
                       data=DataSpec(name="synthetic-linear", num_examples=60),
                       train=TrainSettings(epochs=2, batch_size=10, device="cpu"))
    summary = cross_validate(config, 2, tmp_path / "cv", log=False, plots=False, progress=False)
    assert len(summary["fold_val_loss"]) == 2
    assert "fold_val_acc" not in summary
    assert len(summary["fold_w_error"]) == 2
    assert summary["w_error_mean"] == statistics.fmean(summary["fold_w_error"])


def test_cross_validate_refuses_bad_folds_before_creating_a_directory(classification_csv,
                                                                      tmp_path):
    with pytest.raises(UsageError, match="folds must be"):
        cross_validate(config_for(classification_csv), 1, tmp_path / "cv", log=False,
                       plots=False)
    assert not (tmp_path / "cv").exists()


def test_cross_validate_with_more_folds_than_examples(tmp_path):
    X, y = classification_arrays(10)
    path = write_csv(tmp_path / "tiny.csv", X, y)
    with pytest.raises(UsageError, match="cannot be split into 9 folds"):
        cross_validate(config_for(path), 9, tmp_path / "cv", log=False, plots=False)
    assert not (tmp_path / "cv").exists()


def test_an_incompatible_model_leaves_no_directory(classification_csv, tmp_path):
    config = RunConfig(model=ModelConfig(model="logreg"),
                       data=DataSpec(name=str(classification_csv)),
                       train=TrainSettings(epochs=1, device="cpu"))
    with pytest.raises(UsageError, match="logreg separates two classes"):
        cross_validate(config, 3, tmp_path / "cv", log=False, plots=False)
    assert not (tmp_path / "cv").exists()


def test_a_cross_validation_run_has_no_model_to_evaluate_or_resume(classification_csv,
                                                                    tmp_path):
    cross_validate(config_for(classification_csv, epochs=1), 2, tmp_path / "cv", log=False,
                   plots=False, progress=False)
    for action in (evaluate_run, resume_run):
        with pytest.raises(RunConfigError, match="2-fold cross-validation run"):
            action(tmp_path / "cv")
