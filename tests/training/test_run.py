"""Runs: train into a run directory, refuse misfits, resume, evaluate, predict, diverge."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from shallownet.errors import (
    CheckpointError,
    CSVFormatError,
    OutputError,
    RunConfigError,
    TrainingDiverged,
    UsageError,
)
from shallownet.registry import ModelConfig, build
from shallownet.training.checkpoint import FORMAT, load_checkpoint
from shallownet.training.config import RunConfig, TrainSettings
from shallownet.training.data import DataSpec
from shallownet.training.run import (
    evaluate_run,
    predict_images,
    resume_run,
    train_run,
    with_step,
)
from tests.conftest import write_tiny_dataset

QUIET = {"log": False, "plots": False, "progress": False}
REGRESSION_SUMMARY = {"model", "impl", "data", "step", "epochs", "train_loss", "test_loss",
                      "w_error", "b_error", "seconds", "samples_per_second"}


def synthetic(epochs: int = 2, **model) -> RunConfig:
    return RunConfig(model=ModelConfig(model="linreg", **model),
                     data=DataSpec(name="synthetic-linear", num_examples=100),
                     train=TrainSettings(epochs=epochs, batch_size=10, device="cpu"))


def csv_config(path, model: str = "softmax", epochs: int = 2, **options) -> RunConfig:
    return RunConfig(model=ModelConfig(model=model, **options), data=DataSpec(name=str(path)),
                     train=TrainSettings(epochs=epochs, batch_size=16, device="cpu"))


def without_seconds(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# -- train_run ----------------------------------------------------------------------------------


def test_train_run_writes_a_complete_run_directory(tmp_path):
    out = tmp_path / "run"
    result = train_run(synthetic(), out, **QUIET)

    assert result.run_dir.path == out
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.json",
                                                    "metrics.csv", "metrics.json"]
    assert [r["epoch"] for r in result.history] == [1, 2]
    assert set(result.summary) == REGRESSION_SUMMARY
    last = result.history[-1]
    for key in ("train_loss", "test_loss", "w_error", "b_error"):
        assert result.summary[key] == last[key]
    assert result.summary["epochs"] == 2
    assert result.summary["data"] == "synthetic-linear"
    assert result.summary["seconds"] == pytest.approx(sum(r["seconds"] for r in result.history))
    assert result.summary["samples_per_second"] == pytest.approx(
        2 * 100 / result.summary["seconds"])
    assert result.config == with_step(synthetic().resolved())
    assert result.config.train.step == result.summary["step"] == "autograd"  # what auto took

    config = json.loads((out / "config.json").read_text())
    assert RunConfig.from_dict({k: config[k] for k in ("model", "data", "train")}) == \
        result.config
    assert config["dataset"]["input_shape"] == [2]
    assert config["dataset"]["task"] == "regression"
    assert config["dataset"]["train_examples"] == 100

    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["train_loss"]) for r in rows] == [r["train_loss"] for r in result.history]
    stored = json.loads((out / "metrics.json").read_text())
    assert stored["history"] == result.history
    assert stored["final"]["w_error"] == result.summary["w_error"]

    state = load_checkpoint(out / "checkpoint.pt")
    assert state["format"] == FORMAT and state["epoch"] == 2
    assert state["history"] == result.history
    assert state["config"]["dataset"] == config["dataset"]


def test_train_run_of_a_classifier_reports_the_confusion_matrix(classification_csv, tmp_path):
    result = train_run(csv_config(classification_csv, epochs=3), tmp_path / "run", **QUIET)
    assert {"train_acc", "test_acc"} <= set(result.summary)
    assert "w_error" not in result.summary
    stored = json.loads((tmp_path / "run" / "metrics.json").read_text())
    matrix = np.array(stored["confusion_matrix"])
    assert stored["classes"] == ["0", "1", "2"]
    assert matrix.shape == (3, 3) and matrix.sum() == 40
    assert np.trace(matrix) / 40 == pytest.approx(result.summary["test_acc"])
    assert stored["per_class_acc"] == pytest.approx(list(np.diag(matrix) / matrix.sum(1)))


def test_train_run_defaults_to_a_directory_under_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = train_run(synthetic(epochs=1), **QUIET)
    path = result.run_dir.path
    assert path.parent.resolve() == (tmp_path / "runs").resolve()
    assert path.name.startswith("linreg-scratch-synthetic-linear-")
    assert (path / "checkpoint.pt").is_file()


def test_train_run_refuses_a_directory_holding_a_run(tmp_path):
    train_run(synthetic(epochs=1), tmp_path / "run", **QUIET)
    with pytest.raises(OutputError, match="already holds a run"):
        train_run(synthetic(epochs=1), tmp_path / "run", **QUIET)


def test_train_run_logs_one_line_per_epoch(tmp_path):
    lines = []
    train_run(synthetic(epochs=2), tmp_path / "run", log=lines.append, plots=False,
              progress=False)
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"]


def test_an_image_run_with_plots(tmp_path):
    write_tiny_dataset(tmp_path / "idx", n_train=40, n_test=30)
    config = RunConfig(model=ModelConfig(model="softmax"),
                       data=DataSpec(name="fashion-mnist", data_dir=str(tmp_path / "idx"),
                                     verify=False, normalize=True),
                       train=TrainSettings(epochs=1, batch_size=16, device="cpu"))
    result = train_run(config, tmp_path / "run", log=False, plots=True, progress=False,
                       live_plot=False)
    names = {p.name for p in result.run_dir.path.iterdir()}
    assert {"curves.png", "curves.svg", "confusion.png", "gallery.png"} <= names
    facts = json.loads((tmp_path / "run" / "config.json").read_text())["dataset"]
    assert facts["input_shape"] == [1, 28, 28]
    assert facts["mean"] is not None and facts["std"] > 0
    assert facts["classes"][0] == "t-shirt"


# -- check_compatible -----------------------------------------------------------------------------


def incompatible_case(case: str, classification_csv, regression_csv) -> RunConfig:
    cases = {
        "linreg-on-images": ("linreg", "fashion-mnist"),
        "logreg-on-synthetic": ("logreg", "synthetic-linear"),
        "lenet-on-csv": ("lenet", str(classification_csv)),
        "logreg-on-3-classes": ("logreg", str(classification_csv)),
        "softmax-on-regression": ("softmax", str(regression_csv)),
    }
    model, data = cases[case]
    return RunConfig(model=ModelConfig(model=model), data=DataSpec(name=data),
                     train=TrainSettings(epochs=1, device="cpu"))


MESSAGES = {
    "linreg-on-images": "linreg .* trains on the synthetic data or tables of features, but the "
                        "dataset fashion-mnist is an image dataset",
    "logreg-on-synthetic": "is the synthetic regression data",
    "lenet-on-csv": "lenet .* trains on images, but the dataset .* is a table of features",
    "logreg-on-3-classes": "separates two classes, but .* has 3",
    "softmax-on-regression": "is a classifier",
}
BEFORE_LOADING = ["linreg-on-images", "logreg-on-synthetic", "lenet-on-csv"]
AFTER_LOADING = ["logreg-on-3-classes", "softmax-on-regression"]


@pytest.mark.parametrize("case", MESSAGES)
def test_incompatible_model_and_data_are_refused(case, classification_csv, regression_csv,
                                                 tmp_path):
    config = incompatible_case(case, classification_csv, regression_csv)
    with pytest.raises(UsageError, match=MESSAGES[case]):
        train_run(config, tmp_path / "run", **QUIET)


@pytest.mark.parametrize("case", BEFORE_LOADING)
def test_refused_without_loading_the_data_or_creating_a_directory(
        case, classification_csv, regression_csv, tmp_path, monkeypatch):
    def no_loading(*args, **kwargs):
        raise AssertionError("the data should not be loaded for a refused run")

    monkeypatch.setattr("shallownet.training.run.load_training_data", no_loading)
    with pytest.raises(UsageError, match=MESSAGES[case]):
        train_run(incompatible_case(case, classification_csv, regression_csv),
                  tmp_path / "run", **QUIET)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("case", AFTER_LOADING)
def test_refused_after_loading_without_creating_a_directory(case, classification_csv,
                                                            regression_csv, tmp_path):
    with pytest.raises(UsageError, match=MESSAGES[case]):
        train_run(incompatible_case(case, classification_csv, regression_csv),
                  tmp_path / "run", **QUIET)
    assert not (tmp_path / "run").exists()


def test_a_data_error_leaves_no_directory(tmp_path):
    config = csv_config(tmp_path / "missing.csv")
    with pytest.raises(CSVFormatError, match="missing.csv"):
        train_run(config, tmp_path / "run", **QUIET)
    assert not (tmp_path / "run").exists()


def test_a_relative_csv_path_is_stored_absolute(classification_csv, tmp_path, monkeypatch):
    monkeypatch.chdir(classification_csv.parent)
    result = train_run(csv_config(classification_csv.name, epochs=1), tmp_path / "run",
                       **QUIET)
    assert result.config.data.name == str(classification_csv)
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert stored["data"]["name"] == str(classification_csv)
    # the run still finds its data from another working directory
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    figures = evaluate_run(tmp_path / "run")
    assert figures["test_acc"] == figures["recorded_test_acc"]


def test_compatible_pairs_pass(binary_csv, regression_csv):
    for model, data in (("logreg", binary_csv), ("linreg", regression_csv), ("lenet", "mnist")):
        config = RunConfig(model=ModelConfig(model=model), data=DataSpec(name=str(data)))
        assert config.resolved().model.model == model


def test_logreg_trains_on_a_binary_csv(binary_csv, tmp_path):
    result = train_run(csv_config(binary_csv, model="logreg", epochs=3), tmp_path / "run",
                       **QUIET)
    assert result.summary["test_acc"] >= 0.9


# -- resume_run -----------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_resuming_equals_an_uninterrupted_run(tmp_path, optimizer):
    straight = train_run(synthetic(epochs=3, optimizer=optimizer), tmp_path / "straight",
                         **QUIET)
    train_run(synthetic(epochs=1, optimizer=optimizer), tmp_path / "resumed", **QUIET)
    lines = []
    resumed = resume_run(tmp_path / "resumed", epochs=3, log=lines.append, plots=False,
                         progress=False)

    assert len(lines) == 2  # only epochs 2 and 3 were trained
    assert without_seconds(resumed.history) == without_seconds(straight.history)
    assert resumed.config.train.epochs == 3
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    assert a["epoch"] == b["epoch"] == 3
    assert_same_weights(a["model"], b["model"])
    assert without_seconds(b["history"]) == without_seconds(a["history"])
    stored = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert [r["epoch"] for r in stored["history"]] == [1, 2, 3]


def test_resuming_a_classifier_with_dropout(classification_csv, tmp_path):
    options = {"model": "mlp", "hidden": (8,), "dropout": (0.5,), "optimizer": "momentum"}
    straight = train_run(csv_config(classification_csv, epochs=3, **options),
                         tmp_path / "straight", **QUIET)
    train_run(csv_config(classification_csv, epochs=1, **options), tmp_path / "resumed",
              **QUIET)
    resumed = resume_run(tmp_path / "resumed", epochs=3, **QUIET)
    assert without_seconds(resumed.history) == without_seconds(straight.history)


def test_resume_cannot_go_back(tmp_path):
    train_run(synthetic(epochs=2), tmp_path / "run", **QUIET)
    with pytest.raises(UsageError, match="already trained 2 epochs.*Give epochs=3 or more"):
        resume_run(tmp_path / "run", epochs=1, **QUIET)
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["epoch"] == 2


def test_resume_to_the_epochs_already_done_trains_nothing(tmp_path):
    first = train_run(synthetic(epochs=2), tmp_path / "run", **QUIET)
    before = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    lines = []
    again = resume_run(tmp_path / "run", log=lines.append, plots=False, progress=False)
    assert lines == []
    assert again.history == first.history
    after = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert_same_weights(before["model"], after["model"])


def test_resume_of_a_missing_directory_or_checkpoint(tmp_path):
    with pytest.raises(RunConfigError, match="not a run directory"):
        resume_run(tmp_path / "nowhere", **QUIET)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint"):
        resume_run(tmp_path / "empty", **QUIET)


def stopped_before_its_first_checkpoint(run: Path) -> None:
    """What a run directory holds if the process died between config.json and checkpoint.pt."""
    for name in ("checkpoint.pt", "metrics.csv", "metrics.json"):
        (run / name).unlink()
    (run / ".checkpoint.pt.x1y2z3.tmp").write_bytes(b"the start of a checkpoint")


def test_a_run_stopped_before_its_first_checkpoint_starts_again_on_resume(tmp_path):
    straight = train_run(synthetic(epochs=2), tmp_path / "straight", **QUIET)
    train_run(synthetic(epochs=2), tmp_path / "stopped", **QUIET)
    stopped_before_its_first_checkpoint(tmp_path / "stopped")

    again = resume_run(tmp_path / "stopped", **QUIET)
    assert without_seconds(again.history) == without_seconds(straight.history)
    assert_same_weights(load_checkpoint(tmp_path / "stopped" / "checkpoint.pt")["model"],
                        load_checkpoint(tmp_path / "straight" / "checkpoint.pt")["model"])
    assert not list((tmp_path / "stopped").glob(".*.tmp"))  # the killed write's leftovers


def test_evaluating_a_run_stopped_before_its_first_checkpoint_says_how_to_resume(tmp_path):
    train_run(synthetic(epochs=1), tmp_path / "run", **QUIET)
    stopped_before_its_first_checkpoint(tmp_path / "run")
    with pytest.raises(CheckpointError, match="stopped before its first checkpoint.*resume_run"):
        evaluate_run(tmp_path / "run")


def test_resume_clears_the_temporaries_of_writes_a_kill_cut_short(tmp_path):
    train_run(synthetic(epochs=1), tmp_path / "run", **QUIET)
    for name in (".metrics.csv.abc.tmp", ".checkpoint.pt.def.tmp", ".curves.png.g.tmp"):
        (tmp_path / "run" / name).write_bytes(b"partial")
    resume_run(tmp_path / "run", epochs=2, **QUIET)
    assert sorted(p.name for p in (tmp_path / "run").glob(".*")) == []


def test_starting_again_in_a_directory_a_kill_left_empty_clears_its_temporaries(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".config.json.k1l2.tmp").write_text('{"model": ')  # killed mid-write
    train_run(synthetic(epochs=1), tmp_path / "run", **QUIET)
    assert not list((tmp_path / "run").glob(".*"))


def _first_tensor_state(state):
    entry = next(iter(state["optimizer"]["state"].values()))
    return entry, next(k for k, v in entry.items() if isinstance(v, torch.Tensor) and v.ndim)


def _set_hyper(key, value):
    def damage(state):
        state["optimizer"]["param_groups"][0][key] = value
    return damage


def _set_moment(make):
    def damage(state):
        entry, name = _first_tensor_state(state)
        entry[name] = make(entry[name])
    return damage


def _set_step(value):
    def damage(state):
        entry = next(iter(state["optimizer"]["state"].values()))
        entry["step"] = value
    return damage


_OPTIMIZER_DAMAGE = {
    "lr None": _set_hyper("lr", None),
    "lr inf": _set_hyper("lr", math.inf),
    "lr a string": _set_hyper("lr", "0.1"),
    "betas too short": _set_hyper("betas", (0.9,)),
    "a moment of another shape": _set_moment(lambda t: torch.zeros(t.numel() + 1)),
    "a sparse moment": _set_moment(lambda t: t.to_sparse()),
    "a float64 moment": _set_moment(lambda t: t.double()),
    "a nan moment": _set_moment(lambda t: torch.full_like(t, math.nan)),
    "a nan step": _set_step(torch.tensor(math.nan)),
    "a step that is a list": _set_step([1]),
}


@pytest.mark.parametrize("impl", ["scratch", "concise"])
@pytest.mark.parametrize("damage", _OPTIMIZER_DAMAGE, ids=str)
def test_resume_refuses_a_damaged_optimizer_state_and_names_it(tmp_path, impl, damage):
    train_run(synthetic(epochs=1, optimizer="adam", impl=impl), tmp_path / "run", **QUIET)
    path = tmp_path / "run" / "checkpoint.pt"
    state = load_checkpoint(path)
    _OPTIMIZER_DAMAGE[damage](state)
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=f"optimiser state in {path} is damaged"):
        resume_run(tmp_path / "run", epochs=2, **QUIET)


@pytest.mark.parametrize("impl", ["scratch", "concise"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_every_optimizer_state_a_run_saves_passes_the_check(tmp_path, impl, optimizer):
    train_run(synthetic(epochs=1, optimizer=optimizer, impl=impl), tmp_path / "run", **QUIET)
    resume_run(tmp_path / "run", epochs=2, **QUIET)
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["epoch"] == 2


def test_resume_refuses_an_optimizer_state_of_another_optimizer(tmp_path):
    train_run(synthetic(epochs=1, optimizer="adam"), tmp_path / "run", **QUIET)
    path = tmp_path / "run" / "checkpoint.pt"
    state = load_checkpoint(path)
    state["optimizer"]["param_groups"] = state["optimizer"]["param_groups"] * 2
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="optimiser state"):
        resume_run(tmp_path / "run", epochs=2, **QUIET)


# -- evaluate_run ---------------------------------------------------------------------------------


def test_evaluate_run_reproduces_the_recorded_regression_figures(tmp_path):
    result = train_run(synthetic(epochs=2), tmp_path / "run", **QUIET)
    figures = evaluate_run(tmp_path / "run", progress=False)
    assert figures["epoch"] == 2
    assert figures["model"] == "linreg" and figures["data"] == "synthetic-linear"
    assert figures["n"] == 100
    assert figures["test_loss"] == pytest.approx(figures["recorded_test_loss"], rel=1e-12)
    assert figures["recorded_test_loss"] == result.history[-1]["test_loss"]
    assert figures["w_error"] == pytest.approx(result.history[-1]["w_error"], rel=1e-12)
    assert "test_acc" not in figures


def test_evaluate_run_reproduces_the_recorded_accuracy(classification_csv, tmp_path):
    result = train_run(csv_config(classification_csv, epochs=2), tmp_path / "run", **QUIET)
    figures = evaluate_run(tmp_path / "run")
    assert figures["test_acc"] == figures["recorded_test_acc"] == result.summary["test_acc"]
    assert figures["test_loss"] == pytest.approx(figures["recorded_test_loss"], rel=1e-12)
    assert set(figures["per_class_acc"]) == {"0", "1", "2"}
    stored = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert list(figures["per_class_acc"].values()) == pytest.approx(stored["per_class_acc"])


# -- predict_images ---------------------------------------------------------------------------


def test_predict_images_refuses_a_run_that_is_not_on_images(tmp_path):
    train_run(synthetic(epochs=1), tmp_path / "run", **QUIET)
    with pytest.raises(UsageError, match="greyscale images.*synthetic-linear"):
        predict_images(tmp_path / "run", [tmp_path / "any.png"])


@pytest.mark.parametrize(("paths", "top"), [([], 3), (["x.png"], 0), (["x.png"], True)])
def test_predict_images_checks_its_arguments(tmp_path, paths, top):
    with pytest.raises(UsageError):
        predict_images(tmp_path / "run", paths, top=top)


def test_predict_images_of_an_image_run(tmp_path):
    from PIL import Image

    write_tiny_dataset(tmp_path / "idx", n_train=20, n_test=10)
    config = RunConfig(model=ModelConfig(model="softmax"),
                       data=DataSpec(name="mnist", data_dir=str(tmp_path / "idx"), verify=False),
                       train=TrainSettings(epochs=1, batch_size=8, device="cpu"))
    train_run(config, tmp_path / "run", **QUIET)
    image = tmp_path / "digit.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40), dtype=np.uint8)).save(
        image)
    [prediction] = predict_images(tmp_path / "run", [image], top=3)
    assert prediction["file"] == str(image)
    labels = [label for label, _ in prediction["top"]]
    probabilities = [p for _, p in prediction["top"]]
    assert len(labels) == 3 and set(labels) <= {str(d) for d in range(10)}
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1 + 1e-6


# -- divergence ---------------------------------------------------------------------------------


def test_a_diverging_run_keeps_the_last_good_checkpoint(tmp_path):
    config = synthetic(epochs=2, lr=1e6)
    out = tmp_path / "run"
    with pytest.raises(TrainingDiverged) as info:
        train_run(config, out, **QUIET)
    error = info.value
    assert error.epoch == 1 and error.step >= 1
    message = str(error)
    assert str(out / "checkpoint.pt") in message
    assert "last good epoch (0)" in message
    assert "learning rate" in message

    state = load_checkpoint(out / "checkpoint.pt")
    assert state["epoch"] == 0 and state["history"] == []
    initial = build(config.model, input_shape=(2,), num_outputs=1, seed=config.train.seed)
    assert_same_weights(state["model"], initial.model.state_dict())
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_the_epoch_0_checkpoint_of_a_diverged_run_can_be_evaluated(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(TrainingDiverged):
        train_run(synthetic(epochs=2, lr=1e6), out, **QUIET)
    figures = evaluate_run(out)
    assert figures["epoch"] == 0
    assert "recorded_test_loss" not in figures


def test_the_last_good_checkpoint_of_a_diverged_run_is_good(tmp_path):
    config = dataclasses.replace(synthetic(epochs=3, lr=1e25),
                                 train=TrainSettings(epochs=3, batch_size=100, device="cpu"))
    out = tmp_path / "run"
    with pytest.raises(TrainingDiverged):
        train_run(config, out, **QUIET)
    state = load_checkpoint(out / "checkpoint.pt")
    assert all(torch.isfinite(v).all() and v.abs().max() < 1e6
               for v in state["model"].values()), state["model"]
    assert all(math.isfinite(r["test_loss"]) for r in state["history"]), state["history"]


def test_resume_run_can_change_the_device_setting(tmp_path):
    train_run(synthetic(epochs=1), tmp_path / "run", **QUIET)
    result = resume_run(tmp_path / "run", epochs=2, device="cpu", **QUIET)
    assert result.config.train.device == "cpu"
    assert dataclasses.asdict(result.config.train)["epochs"] == 2
