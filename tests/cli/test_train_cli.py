"""``shallownet train``, end to end: every model and tier on tiny data, defaults, reproducibility,
resume, cross-validation, divergence and misuse. In-process through ``main`` (fast), plus a
few real ``python -m shallownet`` runs for exit codes and the ``--json`` contract.
"""

from __future__ import annotations

import csv
import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from shallownet.cli import build_parser
from shallownet.cli.train import config_from_args
from shallownet.training.checkpoint import load_checkpoint
from tests.cli.clitools import assert_one_error, last_json, run
from tests.conftest import write_tiny_dataset

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = ("curves.png", "curves.svg", "confusion.png", "gallery.png")
CLASSIFIER_COLUMNS = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"]
SYNTHETIC_COLUMNS = ["epoch", "train_loss", "test_loss", "w_error", "b_error", "seconds"]
REGRESSION_COLUMNS = ["epoch", "train_loss", "test_loss", "seconds"]


# --------------------------------------------------------------------------- helpers










def read_metrics(run_dir: Path) -> tuple[list[str], list[dict]]:
    with open(run_dir / "metrics.csv", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def rows_without_seconds(run_dir: Path) -> list[dict]:
    _, rows = read_metrics(run_dir)
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def leftovers(root: Path, *names: str) -> list[Path]:
    """Run directories (default ``runs/`` or named ones) that a refused command left in root."""
    found = [root / "runs"] if (root / "runs").exists() else []
    return found + [root / n for n in names if (root / n).exists()]


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory) -> Path:
    """Tiny random IDX files (30 train, 10 test, 28x28) under both dataset names' layout."""
    directory = tmp_path_factory.mktemp("idx") / "tiny"
    write_tiny_dataset(directory)
    return directory


def _write_csvs(directory: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    paths = {k: directory / f"{k}.csv" for k in ("reg", "binary", "three")}
    with open(paths["reg"], "w") as f:
        f.write("a,b,c,y\n")
        for r in X:
            y = r @ np.array([1.5, -2.0, 0.5]) + 0.3 + 0.1 * rng.normal()
            f.write(",".join(f"{v:.5f}" for v in r) + f",{y:.5f}\n")
    with open(paths["binary"], "w") as f:
        f.write("x1,x2,label\n")
        for r in X:
            f.write(f"{r[0]:.5f},{r[1]:.5f},{int(r[0] + r[1] > 0)}\n")
    with open(paths["three"], "w") as f:
        f.write("x1,x2,kind\n")
        for i, r in enumerate(X):
            f.write(f"{r[0] + 3 * (i % 3):.5f},{r[1]:.5f},{i % 3}\n")
    return paths


@pytest.fixture(scope="module")
def csvs(tmp_path_factory) -> dict[str, Path]:
    """reg.csv (3 features, real target), binary.csv (0/1), three.csv (3 classes); headers."""
    return _write_csvs(tmp_path_factory.mktemp("csv"))


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --------------------------------------------------------------------------- 1. every model


def _image_cases():
    variants = [
        ("softmax", []),
        ("mlp", []),
        ("mlp", ["--hidden", "32,16"]),
        ("mlp", ["--dropout", "0.2"]),
        ("mlp", ["--log-softmax"]),
        ("mlp", ["--optimizer", "momentum"]),
        ("mlp", ["--optimizer", "adam"]),
        ("mlp", ["--weight-decay", "1e-3"]),
        ("lenet", []),
    ]
    for data in ("fashion-mnist", "mnist"):
        for impl in ("scratch", "concise"):
            for model, extra in variants:
                plots = (data, impl, model, extra) in (
                    ("fashion-mnist", "scratch", "softmax", []),
                    ("mnist", "concise", "lenet", []),
                )
                yield pytest.param(
                    "image", data, model, impl, extra, plots,
                    id=f"{data}-{model}-{impl}{''.join(extra).replace('--', '-')}",
                )
        for model in ("softmax", "mlp"):
            yield pytest.param("image", data, model, "scratch", ["--backward", "hand"], False,
                               id=f"{data}-{model}-scratch-backward-hand")


def _other_cases():
    for impl in ("scratch", "concise"):
        for loss in ("squared", "huber", "l1"):
            yield pytest.param("synthetic", "synthetic-linear", "linreg", impl,
                               ["--loss", loss], impl == "scratch" and loss == "squared",
                               id=f"synthetic-linreg-{impl}-{loss}")
        yield pytest.param("regression", "reg", "linreg", impl, [], impl == "concise",
                           id=f"csv-linreg-{impl}")
        yield pytest.param("binary", "binary", "logreg", impl, [], impl == "scratch",
                           id=f"csv-logreg-{impl}")
        for model in ("softmax", "mlp"):
            yield pytest.param("classes", "three", model, impl, [],
                               impl == "scratch" and model == "mlp",
                               id=f"csv-{model}-{impl}")
    yield pytest.param("synthetic", "synthetic-linear", "linreg", "scratch",
                       ["--backward", "hand"], False, id="synthetic-linreg-scratch-backward-hand")


#: What config.json must say for each option used above.
_OPTION_IN_CONFIG = {
    "--hidden": ("hidden", lambda v: [int(x) for x in v.split(",")]),
    "--dropout": ("dropout", lambda v: [float(v)]),
    "--optimizer": ("optimizer", str),
    "--weight-decay": ("weight_decay", float),
    "--backward": ("backward", str),
    "--loss": ("loss", str),
}


@pytest.mark.parametrize("kind, data, model, impl, extra, plots",
                         [*_image_cases(), *_other_cases()])
def test_every_model_trains_and_writes_its_run_directory(capsys, tmp_path, idx_dir, csvs, kind,
                                                         data, model, impl, extra, plots):
    epochs = 1 if model == "lenet" else 2
    out_dir = tmp_path / "run"
    args = ["train", "--model", model, "--impl", impl, "--epochs", epochs, "--out", out_dir,
            "--json", "-q", *extra]
    if kind == "image":
        args += ["--data", data, "--data-dir", idx_dir, "--no-verify"]
    elif kind == "synthetic":
        args += ["--data", data, "--num-examples", 200]
    else:
        args += ["--data", csvs[data]]
    if not plots:
        args.append("--no-plots")

    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert "Traceback" not in err
    summary = last_json(out)

    # the JSON line
    assert summary["model"] == model and summary["impl"] == impl
    assert summary["epochs"] == epochs
    assert Path(summary["run_dir"]) == out_dir
    assert summary["data"] == (data if kind in ("image", "synthetic") else str(csvs[data]))
    assert math.isfinite(summary["train_loss"]) and summary["train_loss"] >= 0
    assert math.isfinite(summary["test_loss"]) and summary["test_loss"] >= 0
    assert summary["seconds"] > 0
    assert summary["samples_per_second"] > 0
    classifier = kind in ("image", "binary", "classes")
    if classifier:
        assert 0 <= summary["train_acc"] <= 1 and 0 <= summary["test_acc"] <= 1
        assert "w_error" not in summary
        columns = CLASSIFIER_COLUMNS
    elif kind == "synthetic":
        assert summary["w_error"] >= 0 and summary["b_error"] >= 0
        assert "train_acc" not in summary and "test_acc" not in summary
        columns = SYNTHETIC_COLUMNS
    else:
        assert "train_acc" not in summary and "w_error" not in summary
        columns = REGRESSION_COLUMNS

    # the human lines before it
    header = out.splitlines()[0]
    assert header.startswith(f"training {model} ({impl}")
    assert f"{epochs} epoch{'s' if epochs != 1 else ''}," in header
    assert not [line for line in out.splitlines() if line.startswith("epoch ")]  # -q
    assert f"run    {out_dir}" in out

    # the run directory
    config = json.loads((out_dir / "config.json").read_text())
    assert config["model"]["model"] == model and config["model"]["impl"] == impl
    assert config["train"]["epochs"] == epochs
    if model == "mlp" and "--log-softmax" in extra:
        assert config["model"]["log_softmax"] is True and config["model"]["loss"] == "nll"
    for flag, (key, parse) in _OPTION_IN_CONFIG.items():
        if flag in extra:
            assert config["model"][key] == parse(extra[extra.index(flag) + 1])

    names, rows = read_metrics(out_dir)
    assert names == columns
    assert [int(r["epoch"]) for r in rows] == list(range(1, epochs + 1))
    last = rows[-1]
    for key in columns[1:-1]:
        assert float(last[key]) == summary[key], key

    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert len(metrics["history"]) == epochs
    assert metrics["final"] == {k: v for k, v in summary.items() if k != "run_dir"}
    if classifier:
        n_classes = {"image": 10, "binary": 2, "classes": 3}[kind]
        assert len(metrics["per_class_acc"]) == n_classes
        assert np.array(metrics["confusion_matrix"]).shape == (n_classes, n_classes)

    state = load_checkpoint(out_dir / "checkpoint.pt")
    assert state["epoch"] == epochs
    assert len(state["history"]) == epochs

    present = {name for name in FIGURES if (out_dir / name).exists()}
    if not plots:
        assert present == set()
        return
    expected = {"curves.png", "curves.svg"}
    if classifier:
        expected.add("confusion.png")
    if kind == "image":
        expected.add("gallery.png")
    assert present == expected
    for name in expected - {"curves.svg"}:
        assert (out_dir / name).read_bytes()[:8] == PNG_SIGNATURE, name
    svg = (out_dir / "curves.svg").read_text()
    assert "<svg" in svg and svg.rstrip().endswith("</svg>")


def test_per_epoch_lines_without_quiet(capsys, tmp_path, idx_dir):
    code, out, err = run(capsys, "train", "--data-dir", idx_dir, "--no-verify", "--epochs", 3,
                         "--out", tmp_path / "r", "--no-plots")
    assert code == 0, err
    epoch_lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/3", "2/3", "3/3"]
    assert all("train loss" in line and "test acc" in line for line in epoch_lines)


# --------------------------------------------------------------------------- 2. defaults


def test_defaults_are_the_books_softmax_on_fashion_mnist(capsys, in_tmp, idx_dir):
    args = build_parser().parse_args(["train"])
    config = config_from_args(args)
    assert config.model.model == "softmax" and config.model.impl == "scratch"
    assert config.data.name == "fashion-mnist"
    assert (config.train.epochs, config.train.batch_size, config.model.lr) == (10, 256, 0.1)

    code, out, err = run(capsys, "train", "--epochs", 1, "--max-train", 512, "--max-test", 128,
                         "--data-dir", idx_dir, "--no-verify", "--no-plots", "--json")
    assert code == 0, err
    header = out.splitlines()[0]
    assert header.startswith("training softmax (scratch) on fashion-mnist: 1 epoch, batch 256, "
                             "sgd lr 0.1, seed 0, device cpu")
    run_dir = Path(last_json(out)["run_dir"])
    assert run_dir.parent == Path("runs")  # relative to the working directory
    assert run_dir.name.startswith("softmax-scratch-fashion-mnist-")
    config = json.loads((in_tmp / run_dir / "config.json").read_text())
    assert config["model"]["model"] == "softmax"
    assert config["model"]["lr"] == 0.1
    assert config["train"]["batch_size"] == 256
    assert config["model"]["optimizer"] == "sgd"


def test_synthetic_linear_defaults_to_the_books_linear_regression(capsys, in_tmp):
    code, out, err = run(capsys, "train", "--data", "synthetic-linear", "--no-plots", "--json")
    assert code == 0, err
    assert out.splitlines()[0].startswith(
        "training linreg (scratch) on synthetic-linear: 3 epochs, batch 10, sgd lr 0.03")
    summary = last_json(out)
    assert summary["model"] == "linreg" and summary["epochs"] == 3
    config = json.loads((Path(summary["run_dir"]) / "config.json").read_text())
    assert config["train"]["batch_size"] == 10
    assert config["model"]["lr"] == 0.03
    assert config["model"]["loss"] == "squared"
    # the book recovers w = [2, -3.4], b = 4.2 almost exactly
    assert summary["w_error"] < 0.01 and summary["b_error"] < 0.01


def test_adam_defaults_to_lr_0_001_and_a_csv_to_batch_32(csvs):
    adam = config_from_args(build_parser().parse_args(["train", "--optimizer", "adam"]))
    assert adam.model.lr == 0.001
    table = config_from_args(build_parser().parse_args(["train", "--data", str(csvs["three"])]))
    assert (table.train.epochs, table.train.batch_size) == (10, 32)


def test_two_default_runs_in_the_same_second_get_two_directories(capsys, in_tmp):
    dirs = []
    for _ in range(2):
        code, out, err = run(capsys, "train", "--data", "synthetic-linear", "--epochs", 1,
                             "--num-examples", 50, "-q", "--no-plots", "--json")
        assert code == 0, err
        dirs.append(last_json(out)["run_dir"])
    assert dirs[0] != dirs[1]
    assert all((in_tmp / d / "checkpoint.pt").is_file() for d in dirs)


def test_default_run_directory_of_a_csv_without_csv_suffix_is_flat(capsys, in_tmp, csvs):
    table = in_tmp / "sub" / "three.txt"
    table.parent.mkdir()
    table.write_text(csvs["three"].read_text())
    code, out, err = run(capsys, "train", "--data", table, "--epochs", 1, "-q", "--no-plots",
                         "--json")
    assert code == 0, err
    run_dir = Path(last_json(out)["run_dir"])
    assert run_dir.parent == Path("runs"), run_dir


# --------------------------------------------------------------------------- 3. reproducibility


@pytest.mark.parametrize("extra", [
    ["--model", "mlp", "--hidden", "16", "--dropout", "0.3"],
    ["--model", "mlp", "--hidden", "16", "--impl", "concise", "--dropout", "0.3",
     "--optimizer", "adam"],
], ids=["scratch-dropout", "concise-dropout-adam"])
def test_same_command_same_numbers_other_seed_other_numbers(capsys, tmp_path, idx_dir, extra):
    def train(name: str, seed: int) -> list[dict]:
        code, _, err = run(capsys, "train", "--data-dir", idx_dir, "--no-verify", "--epochs", 2,
                           "--batch-size", 8, "--seed", seed, "--out", tmp_path / name, "-q",
                           "--no-plots", *extra)
        assert code == 0, err
        return rows_without_seconds(tmp_path / name)

    first, again, other = train("a", 0), train("b", 0), train("c", 1)
    assert first == again
    assert first != other


def test_same_command_same_numbers_on_csv(capsys, tmp_path, csvs):
    rows = []
    for name in ("a", "b"):
        code, _, err = run(capsys, "train", "--data", csvs["three"], "--model", "mlp", "--hidden",
                           8, "--epochs", 3, "--out", tmp_path / name, "-q", "--no-plots")
        assert code == 0, err
        rows.append(rows_without_seconds(tmp_path / name))
    assert rows[0] == rows[1]


# --------------------------------------------------------------------------- 4. resume


@pytest.mark.parametrize("extra", [
    ["--model", "mlp", "--hidden", "16", "--dropout", "0.2", "--optimizer", "momentum"],
    ["--model", "mlp", "--hidden", "16", "--impl", "concise", "--optimizer", "adam",
     "--weight-decay", "1e-3"],
    ["--model", "softmax"],
    ["--model", "softmax", "--impl", "concise", "--kernel"],
], ids=["scratch-mlp-momentum-dropout", "concise-mlp-adam", "scratch-softmax",
        "concise-softmax-compiled-step"])
def test_resume_continues_exactly(capsys, tmp_path, idx_dir, extra):
    common = ["--data-dir", idx_dir, "--no-verify", "--batch-size", 8, "-q", "--no-plots",
              *extra]
    code, _, err = run(capsys, "train", *common, "--epochs", 2, "--out", tmp_path / "part")
    assert code == 0, err
    code, out, err = run(capsys, "train", "--resume", tmp_path / "part", "--epochs", 4, "-q",
                         "--no-plots", "--json")
    assert code == 0, err
    assert out.startswith(f"resuming {tmp_path / 'part'}")
    resumed = last_json(out)
    code, out, err = run(capsys, "train", *common, "--epochs", 4, "--out", tmp_path / "whole",
                         "--json")
    assert code == 0, err
    whole = last_json(out)

    assert resumed["epochs"] == whole["epochs"] == 4
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert resumed[key] == whole[key], key
    assert rows_without_seconds(tmp_path / "part") == rows_without_seconds(tmp_path / "whole")
    assert load_checkpoint(tmp_path / "part" / "checkpoint.pt")["epoch"] == 4

    evaluated = []
    for name in ("part", "whole"):
        code, out, err = run(capsys, "evaluate", tmp_path / name, "--json")
        assert code == 0, err
        evaluated.append({k: v for k, v in last_json(out).items() if k != "run_dir"})
    assert evaluated[0] == evaluated[1]


def test_the_compiled_step_is_saved_with_the_run_and_said_in_the_header(capsys, tmp_path,
                                                                         idx_dir):
    code, out, err = run(capsys, "train", "--data-dir", idx_dir, "--no-verify", "--epochs", 1,
                         "--kernel", "--out", tmp_path / "k", "-q", "--no-plots")
    assert code == 0, err
    assert out.splitlines()[0].endswith(", step kernel (compiled C++ step for this CPU)")
    config = json.loads((tmp_path / "k" / "config.json").read_text())
    assert config["train"]["step"] == "kernel"
    code, out, err = run(capsys, "train", "--data-dir", idx_dir, "--no-verify", "--epochs", 1,
                         "--out", tmp_path / "f", "-q", "--no-plots")
    assert out.splitlines()[0].endswith(", step fused (auto: closed-form gradient, no autograd)")
    assert json.loads((tmp_path / "f" / "config.json").read_text())["train"]["step"] == "fused"


def test_resume_of_a_synthetic_run_continues_exactly(capsys, tmp_path):
    common = ["--data", "synthetic-linear", "--num-examples", 100, "-q", "--no-plots"]
    assert run(capsys, "train", *common, "--epochs", 1, "--out", tmp_path / "p")[0] == 0
    assert run(capsys, "train", "--resume", tmp_path / "p", "--epochs", 3, "-q",
               "--no-plots")[0] == 0
    assert run(capsys, "train", *common, "--epochs", 3, "--out", tmp_path / "w")[0] == 0
    assert rows_without_seconds(tmp_path / "p") == rows_without_seconds(tmp_path / "w")


@pytest.mark.parametrize("option, flag", [
    (["--lr", "1"], "--lr"),
    (["--model", "mlp"], "--model"),
    (["--data", "mnist"], "--data"),
    (["--batch-size", "5"], "--batch-size"),
    (["--hidden", "8"], "--hidden"),
    (["--optimizer", "adam"], "--optimizer"),
    (["--seed", "3"], "--seed"),
    (["--out", "elsewhere"], "--out"),
    (["--folds", "3"], "--folds"),
    (["--max-train", "5"], "--max-train"),
])
def test_resume_refuses_to_change_a_setting(capsys, in_tmp, idx_dir, option, flag):
    run_dir = in_tmp / "r"
    code, _, err = run(capsys, "train", "--data-dir", idx_dir, "--no-verify", "--epochs", 1,
                       "--out", run_dir, "-q", "--no-plots")
    assert code == 0, err
    before = (run_dir / "metrics.csv").read_text()
    code, out, err = run(capsys, "train", "--resume", run_dir, "--epochs", 2, *option)
    assert code == 1
    assert_one_error(err)
    assert flag in err and "--resume" in err
    assert (run_dir / "metrics.csv").read_text() == before
    assert load_checkpoint(run_dir / "checkpoint.pt")["epoch"] == 1
    assert not (in_tmp / "elsewhere").exists()


def test_resume_of_a_missing_directory(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--resume", tmp_path / "absent")
    assert code == 1
    assert_one_error(err)
    assert str(tmp_path / "absent") in err
    assert "no such directory" in err
    assert not (tmp_path / "absent").exists()


def test_resume_of_a_directory_without_checkpoint(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "train", "--resume", empty)
    assert code == 1
    assert_one_error(err)
    assert "no checkpoint" in err
    assert str(empty / "checkpoint.pt") in err
    assert list(empty.iterdir()) == []


# --------------------------------------------------------------------------- 5. cross-validation


@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_three_fold_cross_validation_on_a_csv(capsys, tmp_path, csvs, model):
    out_dir = tmp_path / "cv"
    code, out, err = run(capsys, "train", "--data", csvs["three"], "--model", model, "--folds", 3,
                         "--epochs", 2, "--out", out_dir, "--json", "-q", "--no-plots")
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"3-fold cross-validation {model}")
    summary = last_json(out)
    assert summary["folds"] == 3
    assert Path(summary["run_dir"]) == out_dir
    accs = summary["fold_val_acc"]
    assert len(accs) == 3 and all(0 <= a <= 1 for a in accs)
    assert summary["val_acc_mean"] == pytest.approx(float(np.mean(accs)))
    assert summary["val_acc_std"] == pytest.approx(float(np.std(accs, ddof=1)))
    assert len(summary["fold_val_loss"]) == 3
    assert summary["seconds"] > 0 and summary["samples_per_second"] > 0
    assert "val acc std" in out

    names, rows = read_metrics(out_dir)
    assert names[:2] == ["fold", "epoch"]
    assert set(names) == {"fold", "epoch", "train_loss", "train_acc", "val_loss", "val_acc",
                          "seconds"}
    assert [(int(r["fold"]), int(r["epoch"])) for r in rows] == [
        (k, e) for k in (1, 2, 3) for e in (1, 2)]
    last_of_fold = [float(r["val_acc"]) for r in rows if r["epoch"] == "2"]
    assert last_of_fold == accs
    config = json.loads((out_dir / "config.json").read_text())
    assert config["folds"] == 3


def test_more_folds_than_examples_is_one_error(capsys, in_tmp, csvs):
    code, _, err = run(capsys, "train", "--data", csvs["three"], "--folds", 100, "--out", "cv",
                       "-q", "--no-plots")
    assert code == 1
    assert_one_error(err)
    assert "100 folds" in err


def test_more_folds_than_examples_leaves_the_out_directory_usable(capsys, in_tmp, csvs):
    code, _, _ = run(capsys, "train", "--data", csvs["three"], "--folds", 100, "--out", "cv",
                     "-q", "--no-plots")
    assert code == 1
    code, _, err = run(capsys, "train", "--data", csvs["three"], "--folds", 3, "--out", "cv",
                       "--epochs", 1, "-q", "--no-plots")
    assert code == 0, err


# --------------------------------------------------------------------------- 6. divergence


def test_divergence_is_one_error_and_keeps_a_loadable_checkpoint(capsys, tmp_path):
    out_dir = tmp_path / "boom"
    code, out, err = run(capsys, "train", "--data", "synthetic-linear", "--lr", "1e6",
                         "--out", out_dir, "-q", "--no-plots")
    assert code == 1
    assert_one_error(err)
    assert "diverged" in err
    assert "epoch 1" in err
    assert "step " in err
    assert "learning rate" in err
    assert str(out_dir / "checkpoint.pt") in err
    assert load_checkpoint(out_dir / "checkpoint.pt")["epoch"] == 0
    header = (out_dir / "metrics.csv").read_text().splitlines()
    assert header == ["epoch,train_loss,test_loss,w_error,b_error,seconds"]  # no epoch done

    code, out, err = run(capsys, "evaluate", out_dir, "--json")
    assert code == 0, err
    report = last_json(out)
    assert report["epoch"] == 0
    assert math.isfinite(report["test_loss"])


def test_resume_refuses_to_go_back_in_epochs(capsys, tmp_path):
    out_dir = tmp_path / "three"
    code, _, err = run(capsys, "train", "--data", "synthetic-linear", "--epochs", 3,
                       "--out", out_dir, "-q", "--no-plots")
    assert code == 0, err
    code, out, err = run(capsys, "train", "--resume", out_dir, "--epochs", 2, "-q")
    assert code == 1
    assert_one_error(err)
    assert "already trained 3 epochs" in err and "--epochs 4" in err
    assert load_checkpoint(out_dir / "checkpoint.pt")["epoch"] == 3


# --------------------------------------------------------------------------- 7. misuse


@pytest.mark.parametrize("argv, code, needles", [
    (["--lr", "0"], 2, ["--lr", "greater than 0"]),
    (["--lr", "-1"], 2, ["--lr", "greater than 0"]),
    (["--lr", "nan"], 2, ["--lr", "finite"]),
    (["--lr", "inf"], 2, ["--lr", "finite"]),
    (["--batch-size", "0"], 2, ["--batch-size", "at least 1"]),
    (["--epochs", "0"], 2, ["--epochs", "at least 1"]),
    (["--epochs", "two"], 2, ["--epochs", "not a whole number"]),
    (["--model", "foo"], 2, ["--model", "linreg", "softmax", "mlp", "logreg", "lenet"]),
    (["--optimizer", "foo"], 2, ["--optimizer", "sgd", "momentum", "adam"]),
    (["--impl", "foo"], 2, ["--impl", "scratch", "concise"]),
    (["--hidden", "0"], 2, ["--hidden", "at least 1"]),
    (["--dropout", "1.5"], 2, ["--dropout", "[0, 1)"]),
    (["--weight-decay", "-1"], 2, ["--weight-decay", "0 or more"]),
    (["--device", "cuda"], 1, ["cuda", "cpu"]),
    (["--model", "logreg"], 1, ["logreg", "fashion-mnist", "softmax"]),
    (["--model", "linreg", "--data", "mnist"], 1, ["linreg", "mnist", "is an image dataset",
                                                   "Use --model softmax (or mlp, lenet)"]),
    (["--model", "lenet", "--data", "x.csv"], 1, ["lenet", "x.csv", "trains on images",
                                                  "Use --model softmax (or mlp, linreg, logreg)"]),
    (["--model", "softmax", "--data", "synthetic-linear"], 1, ["--model linreg"]),
    (["--data", "nothere"], 1, ["nothere", "fashion-mnist", "mnist", "synthetic-linear",
                                ".csv"]),
    (["--impl", "concise", "--backward", "hand"], 1, ["--impl scratch"]),
    (["--model", "mlp", "--hidden", "8,8", "--backward", "hand"], 1, ["autograd"]),
    (["--optimizer", "momentum", "--momentum", "1.5"], 1, ["momentum", "[0, 1)"]),
    (["--model", "mlp", "--kernel"], 1, ["the kernel step cannot train this model",
                                         "trains softmax only, not mlp", "--step autograd"]),
    (["--model", "mlp", "--dropout", "0.5", "--step", "fused"], 1,
     ["the fused step cannot train this model: the model uses dropout", "--step auto"]),
])
def test_misuse_is_refused_before_any_work(capsys, in_tmp, idx_dir, argv, code, needles):
    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    got, out, err = run(capsys, "train", "--data-dir", idx_dir, "--no-verify", "--out", "r",
                        "--epochs", 1, *argv)
    assert got == code, err
    assert "Traceback" not in err
    if code == 2:
        assert "usage" in err or "--help" in err
    else:
        assert_one_error(err)
        assert out == ""  # not even the header: nothing was started
    for needle in needles:
        assert needle in err, needle
    assert leftovers(in_tmp, "r") == []


def test_out_pointing_at_an_existing_run_is_refused(capsys, in_tmp, idx_dir):
    common = ["train", "--data-dir", idx_dir, "--no-verify", "--epochs", 1, "--out", "r", "-q",
              "--no-plots"]
    assert run(capsys, *common)[0] == 0
    before = {p.name: p.read_bytes() for p in (in_tmp / "r").iterdir()}
    code, out, err = run(capsys, *common, "--lr", "0.5")
    assert code == 1
    assert_one_error(err)
    assert "--resume" in err and "r" in err
    assert {p.name: p.read_bytes() for p in (in_tmp / "r").iterdir()} == before


def test_out_pointing_at_a_file_is_refused(capsys, in_tmp):
    (in_tmp / "taken").write_text("mine")
    code, _, err = run(capsys, "train", "--data", "synthetic-linear", "--out", "taken", "-q")
    assert code == 1
    assert_one_error(err)
    assert "taken" in err
    assert (in_tmp / "taken").read_text() == "mine"


_DATA_PROBLEMS = [
    pytest.param(["--data", "nothere.csv"], ["nothere.csv"], id="missing-csv"),
    pytest.param(["--model", "linreg", "--data", "{three}"], ["linreg", "classes"],
                 id="linreg-on-classes"),
    pytest.param(["--model", "softmax", "--data", "{reg}"], ["classifier", "--model linreg"],
                 id="softmax-on-regression"),
    pytest.param(["--model", "logreg", "--data", "{three}"], ["logreg", "3"],
                 id="logreg-on-three-classes"),
    pytest.param(["--data", "{three}", "--label-column", "zz"], ["zz", "kind"],
                 id="unknown-label-column"),
    pytest.param(["--data", "{three}", "--test-fraction", "1.5"], ["1.5"],
                 id="bad-test-fraction"),
]


def _fill(argv: list[str], csvs: dict[str, Path]) -> list[str]:
    return [a.format(**{k: str(v) for k, v in csvs.items()}) for a in argv]


@pytest.mark.parametrize("argv, needles", _DATA_PROBLEMS)
def test_data_problems_found_on_loading_are_one_error(capsys, in_tmp, csvs, argv, needles):
    code, _, err = run(capsys, "train", "--epochs", 1, "-q", "--no-plots", *_fill(argv, csvs))
    assert code == 1
    assert_one_error(err)
    for needle in needles:
        assert needle in err, needle


@pytest.mark.parametrize("argv, needles", _DATA_PROBLEMS)
def test_data_problems_found_on_loading_leave_no_run_directory(capsys, in_tmp, csvs, argv,
                                                               needles):
    code, _, _ = run(capsys, "train", "--epochs", 1, "-q", "--no-plots", *_fill(argv, csvs))
    assert code == 1
    assert leftovers(in_tmp) == []


# --------------------------------------------------------------------------- real processes


def _process(cwd: Path, *argv) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shallownet", *map(str, argv)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_process_json_is_the_last_line_after_human_text(tmp_path, idx_dir):
    done = _process(tmp_path, "train", "--model", "mlp", "--data-dir", idx_dir, "--no-verify",
                    "--epochs", 2, "--json", "--no-plots")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["model"] == "mlp" and summary["epochs"] == 2
    assert (tmp_path / summary["run_dir"] / "checkpoint.pt").is_file()
    human = lines[:-1]
    assert human[0].startswith("training mlp (scratch")
    assert sum(line.startswith("epoch ") for line in human) == 2
    assert not any(line.lstrip().startswith(("{", "[")) for line in human)
    assert "\x1b" not in done.stdout and "\r" not in done.stdout  # no progress bar in a pipe


def test_process_exit_codes_of_misuse_and_failure(tmp_path):
    usage = _process(tmp_path, "train", "--lr", "0")
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr and usage.stdout == ""
    failed = _process(tmp_path, "train", "--data", "synthetic-linear", "--lr", "1e6", "-q",
                      "--no-plots", "--json")
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert "diverged" in failed.stderr
    assert not failed.stdout.strip().splitlines()[-1].startswith("{")  # no JSON on failure


def test_ctrl_c_keeps_the_last_epoch_and_prints_the_resume_command(tmp_path):
    out_dir = tmp_path / "long"
    proc = subprocess.Popen(
        [sys.executable, "-m", "shallownet", "train", "--data", "synthetic-linear",
         "--epochs", "100000", "--out", str(out_dir), "-q", "--no-plots"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait for two complete epochs on disk
            metrics = out_dir / "metrics.csv"
            if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"shallownet train --resume {out_dir}" in err
    saved = load_checkpoint(out_dir / "checkpoint.pt")["epoch"]
    assert saved >= 2
    assert f"checkpoint of epoch {saved} is saved" in err
    code = subprocess.run(
        [sys.executable, "-m", "shallownet", "train", "--resume", str(out_dir), "--epochs",
         str(saved + 1), "-q", "--no-plots"], capture_output=True, text=True, timeout=60,
    ).returncode
    assert code == 0
    assert load_checkpoint(out_dir / "checkpoint.pt")["epoch"] == saved + 1


# --------------------------------------------------------------------------- --tensorboard


def _no_data_loading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the data was loaded before the error")

    monkeypatch.setattr("shallownet.training.run.load_training_data", refuse)


def test_tensorboard_missing_is_one_error_before_any_work(capsys, in_tmp, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed
    _no_data_loading(monkeypatch)
    code, out, err = run(capsys, "train", "--data", "synthetic-linear", "--tensorboard",
                         "--out", in_tmp / "r", "--json")
    assert code == 1
    assert_one_error(err)
    assert "pip install 'shallownet[tensorboard]'" in err and "--no-tensorboard" in err
    assert not out.strip().splitlines()[-1].startswith("{")
    assert leftovers(in_tmp, "r") == []


def test_tensorboard_missing_on_resume_is_one_error_before_any_work(capsys, in_tmp,
                                                                     monkeypatch):
    run_dir = in_tmp / "r"
    code, _, err = run(capsys, "train", "--data", "synthetic-linear", "--epochs", 1, "--out",
                       run_dir, "-q", "--no-plots")
    assert code == 0, err
    before = (run_dir / "metrics.csv").read_text()
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    _no_data_loading(monkeypatch)
    code, _, err = run(capsys, "train", "--resume", run_dir, "--epochs", 2, "--tensorboard")
    assert code == 1
    assert_one_error(err)
    assert "pip install 'shallownet[tensorboard]'" in err and "--no-tensorboard" in err
    assert (run_dir / "metrics.csv").read_text() == before
    assert load_checkpoint(run_dir / "checkpoint.pt")["epoch"] == 1
    assert not (run_dir / "tensorboard").exists()


def test_tensorboard_and_folds_are_refused_together(capsys, in_tmp, csvs):
    code, _, err = run(capsys, "train", "--data", csvs["three"], "--folds", 3, "--tensorboard")
    assert code == 1
    assert_one_error(err)
    assert "--tensorboard" in err and "--folds" in err
    assert leftovers(in_tmp) == []


def test_tensorboard_is_saved_with_the_run_and_resume_can_turn_it_off(capsys, in_tmp):
    pytest.importorskip("tensorboard")
    run_dir = in_tmp / "r"
    code, _, err = run(capsys, "train", "--data", "synthetic-linear", "--epochs", 1,
                       "--tensorboard", "--out", run_dir, "-q", "--no-plots")
    assert code == 0, err
    assert json.loads((run_dir / "config.json").read_text())["train"]["tensorboard"] is True
    files = sorted((run_dir / "tensorboard").iterdir())
    assert files
    sizes = [f.stat().st_size for f in files]
    code, _, err = run(capsys, "train", "--resume", run_dir, "--epochs", 2, "--no-tensorboard",
                       "-q", "--no-plots")
    assert code == 0, err
    assert sorted((run_dir / "tensorboard").iterdir()) == files  # nothing more logged
    assert [f.stat().st_size for f in files] == sizes
    state = load_checkpoint(run_dir / "checkpoint.pt")
    assert state["epoch"] == 2 and state["config"]["train"]["tensorboard"] is False
    help_text = run(capsys, "train", "--help")[1]
    assert "--tensorboard, --no-tensorboard" in help_text
    assert "pip install 'shallownet[tensorboard]'" in " ".join(help_text.split())
