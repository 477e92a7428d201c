"""``shallownet evaluate RUN_DIR`` and ``shallownet predict RUN_DIR IMAGE...``, end to end.

Runs are trained once per module on tiny data (IDX files and CSVs written here), in-process;
two real ``python -m shallownet`` runs check exit codes and the ``--json`` contract.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from shallownet.cli import main
from shallownet.data import read_idx
from shallownet.data.catalog import FASHION_MNIST_LABELS
from shallownet.registry import build
from shallownet.training.checkpoint import load_checkpoint, restore_model
from shallownet.training.config import RunConfig
from shallownet.training.data import load_training_data
from tests.cli.clitools import assert_one_error, last_json, run
from tests.conftest import SYSTEM_FASHION_MNIST, requires_real_data, write_tiny_dataset

# --------------------------------------------------------------------------- helpers








def last_metrics(run_dir: Path) -> dict:
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))[-1]


def parse_predictions(out: str, files: list[Path]) -> list[list[tuple[str, float]]]:
    """The human lines of predict: ``FILE  class p  class p ...`` (fields split on 2 spaces)."""
    lines = [line for line in out.splitlines() if not line.startswith("{")]
    assert len(lines) == len(files), out
    ranked = []
    for line, path in zip(lines, files, strict=True):
        fields = line.split("  ")
        assert fields[0] == str(path)
        pairs = []
        for field in fields[1:]:
            name, p = field.rsplit(" ", 1)
            pairs.append((name, float(p)))
        ranked.append(pairs)
    return ranked


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Trained once per module: softmax, lenet and a normalised MLP on tiny IDX data; linreg on
    synthetic-linear and on a regression CSV; softmax on a 3-class CSV; a 3-fold CV run."""
    root = tmp_path_factory.mktemp("runs")
    idx = write_tiny_dataset(root / "tiny")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    (root / "three.csv").write_text("x1,x2,kind\n" + "".join(
        f"{a + 3 * (i % 3):.5f},{b:.5f},{i % 3}\n" for i, (a, b) in enumerate(X)))
    (root / "reg.csv").write_text("x1,x2,y\n" + "".join(
        f"{a:.5f},{b:.5f},{2 * a - b + 0.5:.5f}\n" for a, b in X))
    image = ["--data-dir", root / "tiny", "--no-verify"]
    recipes = {
        "softmax": [*image, "--epochs", 2],
        "lenet": [*image, "--model", "lenet", "--impl", "concise", "--epochs", 1],
        "normalised": [*image, "--model", "mlp", "--hidden", 16, "--normalize", "--epochs", 2],
        "synthetic": ["--data", "synthetic-linear", "--num-examples", 200],
        "regression": ["--data", root / "reg.csv", "--model", "linreg", "--epochs", 3],
        "three": ["--data", root / "three.csv", "--epochs", 3],
        "folds": ["--data", root / "three.csv", "--epochs", 1, "--folds", 3],
    }
    paths = {"idx": idx, "root": root}
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation is per test, not per module
        mp.setenv("SHALLOWNET_CACHE", str(root / "cache"))
        mp.delenv("SHALLOWNET_DATA", raising=False)
        for name, args in recipes.items():
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(["train", *map(str, args), "--out", str(root / name), "-q",
                             "--no-plots"])
            assert code == 0, err.getvalue()
            paths[name] = root / name
    return paths


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, Path]:
    """A grey 28x28 PNG, a large RGB 300x200 PNG and JPEG (dark object on white), a fake PNG."""
    root = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(1)
    grey = root / "grey.png"
    Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8), "L").save(grey)
    big = np.full((200, 300, 3), 255, np.uint8)
    big[40:170, 110:190] = (40, 30, 20)
    Image.fromarray(big, "RGB").save(root / "big.png")
    Image.fromarray(big, "RGB").save(root / "big.jpg", quality=90)
    (root / "x.png").write_text("this is not a picture\n")
    return {"grey": grey, "big_png": root / "big.png", "big_jpg": root / "big.jpg",
            "text": root / "x.png"}


# --------------------------------------------------------------------------- evaluate


@pytest.mark.parametrize("name", ["softmax", "lenet", "three", "normalised"])
def test_evaluate_a_classifier_reproduces_the_last_metrics(capsys, runs, name):
    run_dir = runs[name]
    last = last_metrics(run_dir)
    code, out, err = run(capsys, "evaluate", run_dir)
    assert code == 0, err
    assert "Traceback" not in err
    assert f"checkpoint of epoch {last['epoch']}" in out
    assert f"test loss {float(last['test_loss']):.4f}" in out
    assert f"test acc {float(last['test_acc']):.4f}" in out
    assert "per-class accuracy" in out
    recorded = json.loads((run_dir / "metrics.json").read_text())
    for cls, acc in zip(recorded["classes"], recorded["per_class_acc"], strict=True):
        assert any(line.split() == [*cls.split(), f"{acc:.3f}"] for line in out.splitlines()), cls
    with pytest.raises(json.JSONDecodeError):
        last_json(out)  # no JSON without --json

    code, out, err = run(capsys, "evaluate", run_dir, "--json")
    assert code == 0, err
    report = last_json(out)
    assert report["epoch"] == int(last["epoch"])
    assert report["test_loss"] == pytest.approx(float(last["test_loss"]), abs=5e-5)
    assert report["test_acc"] == pytest.approx(float(last["test_acc"]), abs=5e-5)
    assert list(report["per_class_acc"]) == recorded["classes"]
    assert list(report["per_class_acc"].values()) == pytest.approx(recorded["per_class_acc"])
    assert all(0 <= a <= 1 for a in report["per_class_acc"].values())
    assert report["n"] == json.loads((run_dir / "config.json").read_text())["dataset"][
        "test_examples"]


def test_evaluate_a_synthetic_regression(capsys, runs):
    last = last_metrics(runs["synthetic"])
    code, out, err = run(capsys, "evaluate", runs["synthetic"], "--json")
    assert code == 0, err
    assert f"test loss {float(last['test_loss']):.4f}" in out
    assert f"w error {float(last['w_error']):.2e}" in out
    assert "per-class" not in out and "test acc" not in out
    report = last_json(out)
    assert report["test_loss"] == pytest.approx(float(last["test_loss"]), abs=5e-5)
    assert report["w_error"] == pytest.approx(float(last["w_error"]), rel=1e-4, abs=1e-7)
    assert report["b_error"] == pytest.approx(float(last["b_error"]), rel=1e-4, abs=1e-7)
    assert "test_acc" not in report and "per_class_acc" not in report
    assert report["epoch"] == 3


def test_evaluate_a_csv_regression(capsys, runs):
    last = last_metrics(runs["regression"])
    code, out, err = run(capsys, "evaluate", runs["regression"], "--json")
    assert code == 0, err
    report = last_json(out)
    assert report["test_loss"] == pytest.approx(float(last["test_loss"]), abs=5e-5)
    assert "test_acc" not in report


def test_evaluate_a_corrupt_checkpoint(capsys, runs, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(runs["softmax"], run_dir)
    (run_dir / "checkpoint.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    code, out, err = run(capsys, "evaluate", run_dir)
    assert code == 1
    assert out == ""
    assert_one_error(err)
    assert str(run_dir / "checkpoint.pt") in err
    assert "damaged" in err
    assert "weights_only" not in err  # no advice to load it unsafely


def test_evaluate_a_checkpoint_of_someone_else(capsys, runs, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(runs["softmax"], run_dir)
    torch.save({"weights": torch.zeros(3)}, run_dir / "checkpoint.pt")
    code, _, err = run(capsys, "evaluate", run_dir)
    assert code == 1
    assert_one_error(err)
    assert "not a shallownet checkpoint" in err


class RunsCode:
    """Unpickling an instance calls ``Path.touch`` on the marker: code from the file runs."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("command", ["evaluate", "predict", "resume"])
def test_a_checkpoint_crafted_to_run_code_is_refused_and_the_code_never_runs(
        capsys, runs, pictures, tmp_path, command):
    run_dir, marker = tmp_path / "copy", tmp_path / "pwned"
    shutil.copytree(runs["softmax"], run_dir)
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    state["history"] = [RunsCode(marker)]  # the payload sits inside an otherwise good file
    torch.save(state, run_dir / "checkpoint.pt")
    argv = {"evaluate": ["evaluate", run_dir],
            "predict": ["predict", run_dir, pictures["grey"]],
            "resume": ["train", "--resume", run_dir, "--epochs", 3, "-q"]}[command]
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert_one_error(err)
    assert "refused for safety" in err
    assert not marker.exists()
    torch.load(run_dir / "checkpoint.pt", weights_only=False)  # the payload is real:
    assert marker.exists()  # loading it unsafely runs it


def test_a_checkpoint_with_weights_of_another_model_names_what_differs(capsys, runs, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(runs["normalised"], run_dir)  # an MLP with 16 hidden units
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    softmax = torch.load(runs["softmax"] / "checkpoint.pt", weights_only=True)
    state["model"] = softmax["model"]
    torch.save(state, run_dir / "checkpoint.pt")
    code, _, err = run(capsys, "evaluate", run_dir)
    assert code == 1
    assert_one_error(err)
    assert "do not fit this model" in err
    for name in state["model"]:
        assert name in err  # each parameter that differs is named
    own = torch.load(runs["normalised"] / "checkpoint.pt", weights_only=True)["model"]
    assert all(name in err for name in own if name not in state["model"])


def test_a_checkpoint_with_a_parameter_of_another_shape_names_both_shapes(capsys, runs,
                                                                          tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(runs["normalised"], run_dir)
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    name, weight = next((k, v) for k, v in state["model"].items() if v.ndim == 2)
    state["model"][name] = torch.zeros(weight.shape[0], weight.shape[1] + 1)
    torch.save(state, run_dir / "checkpoint.pt")
    code, _, err = run(capsys, "evaluate", run_dir)
    assert code == 1
    assert_one_error(err)
    bigger = (weight.shape[0], weight.shape[1] + 1)
    assert f"{name} {bigger} vs {tuple(weight.shape)}" in err


def test_evaluate_a_directory_that_is_not_a_run(capsys, runs):
    code, out, err = run(capsys, "evaluate", runs["root"] / "tiny")
    assert code == 1
    assert out == ""
    assert_one_error(err)
    assert "no checkpoint" in err


def test_evaluate_a_missing_directory(capsys, tmp_path):
    code, _, err = run(capsys, "evaluate", tmp_path / "absent")
    assert code == 1
    assert_one_error(err)
    assert "no such directory" in err


def test_evaluate_a_cross_validation_run_is_refused_cleanly(capsys, runs):
    code, _, err = run(capsys, "evaluate", runs["folds"])
    assert code == 1
    assert_one_error(err)
    assert "cross-validation run" in err and "keeps no model" in err


def test_evaluate_from_another_working_directory(capsys, tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "three.csv").write_text("a,b,k\n" + "".join(
        f"{i % 7},{i % 5},{i % 3}\n" for i in range(30)))
    monkeypatch.chdir(project)
    code, _, err = run(capsys, "train", "--data", "three.csv", "--epochs", 1, "--out", "r",
                       "-q", "--no-plots")
    assert code == 0, err
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "evaluate", project / "r")
    assert code == 0, err


# --------------------------------------------------------------------------- predict


def test_predict_ranks_classes_for_each_file(capsys, runs, pictures):
    files = [pictures["grey"], pictures["big_png"], pictures["big_jpg"]]
    code, out, err = run(capsys, "predict", runs["softmax"], *files)
    assert code == 0, err
    assert "Traceback" not in err
    for ranked in parse_predictions(out, files):
        assert len(ranked) == 3
        names = [name for name, _ in ranked]
        assert len(set(names)) == 3 and set(names) <= set(FASHION_MNIST_LABELS)
        probs = [p for _, p in ranked]
        assert all(0 <= p <= 1 for p in probs)
        assert probs == sorted(probs, reverse=True)


def test_predict_top_ten_is_a_distribution(capsys, runs, pictures):
    files = [pictures["grey"], pictures["big_jpg"]]
    code, out, err = run(capsys, "predict", runs["softmax"], *files, "--top", 10, "--json")
    assert code == 0, err
    ranked = parse_predictions(out, files)
    report = last_json(out)
    assert [p["file"] for p in report["predictions"]] == [str(f) for f in files]
    for human, item in zip(ranked, report["predictions"], strict=True):
        assert sorted(name for name, _ in human) == sorted(FASHION_MNIST_LABELS)
        assert sum(p for _, p in human) == pytest.approx(1, abs=0.006)  # printed to 3 decimals
        probs = [entry["p"] for entry in item["top"]]
        assert sum(probs) == pytest.approx(1, abs=1e-5)
        assert probs == sorted(probs, reverse=True)
        assert all(0 <= p <= 1 for p in probs)
        assert [entry["class"] for entry in item["top"]] == [name for name, _ in human]
        assert [round(p, 3) for p in probs] == pytest.approx([p for _, p in human], abs=1e-3)


def test_predict_top_larger_than_the_classes_shows_them_all(capsys, runs, pictures):
    code, out, err = run(capsys, "predict", runs["softmax"], pictures["grey"], "--top", 50,
                         "--json")
    assert code == 0, err
    assert len(last_json(out)["predictions"][0]["top"]) == 10


def test_predict_with_a_lenet_run(capsys, runs, pictures):
    code, out, err = run(capsys, "predict", runs["lenet"], pictures["big_png"], "--top", 2)
    assert code == 0, err
    assert len(parse_predictions(out, [pictures["big_png"]])[0]) == 2


def _model_probabilities(run_dir: Path, X: torch.Tensor) -> torch.Tensor:
    state = load_checkpoint(run_dir / "checkpoint.pt")
    saved = dict(state["config"])
    facts = saved.pop("dataset")
    saved.pop("shallownet", None)
    config = RunConfig.from_dict(saved)
    setup = build(config.model, input_shape=facts["input_shape"],
                  num_outputs=len(facts["classes"]))
    restore_model(setup.model, state["model"])
    setup.model.eval()
    with torch.no_grad():
        return setup.probabilities(setup.model(X))


@pytest.mark.parametrize("name", ["softmax", "normalised"])
def test_predict_of_a_test_image_equals_the_models_output(capsys, runs, tmp_path, name):
    """A 28x28 PNG of test image k goes through exactly the run's preprocessing."""
    images = read_idx(runs["idx"]["test_images"])
    files = []
    for k in range(3):
        files.append(tmp_path / f"test{k}.png")
        Image.fromarray(np.asarray(images[k]), "L").save(files[-1])
    code, out, err = run(capsys, "predict", runs[name], *files, "--invert", "no", "--top", 10,
                         "--json")
    assert code == 0, err
    config = json.loads((runs[name] / "config.json").read_text())
    data = load_training_data(RunConfig.from_dict(
        {k: config[k] for k in ("model", "data", "train")}).data)
    expected = _model_probabilities(runs[name], data.test_X[:3])
    classes = config["dataset"]["classes"]
    for item, p in zip(last_json(out)["predictions"], expected, strict=True):
        got = {entry["class"]: entry["p"] for entry in item["top"]}
        assert [got[c] for c in classes] == pytest.approx(p.tolist(), abs=1e-5)


def test_predict_invert_options(capsys, runs, pictures):
    def top10(*extra) -> dict:
        code, out, err = run(capsys, "predict", runs["softmax"], pictures["big_png"], "--top",
                             10, "--json", *extra)
        assert code == 0, err
        return {e["class"]: e["p"] for e in last_json(out)["predictions"][0]["top"]}

    auto, yes, no = top10(), top10("--invert", "yes"), top10("--invert", "no")
    assert auto == yes  # a white background is inverted
    assert auto != no


def test_predict_a_text_file_named_png(capsys, runs, pictures):
    code, out, err = run(capsys, "predict", runs["softmax"], pictures["grey"], pictures["text"])
    assert code == 1
    assert out == ""
    assert_one_error(err)
    assert str(pictures["text"]) in err


def test_predict_a_missing_file(capsys, runs, tmp_path):
    code, _, err = run(capsys, "predict", runs["softmax"], tmp_path / "nothere.png")
    assert code == 1
    assert_one_error(err)
    assert "nothere.png" in err


@pytest.mark.parametrize("name", ["synthetic", "three", "folds"])
def test_predict_with_a_run_that_does_not_classify_images(capsys, runs, pictures, name):
    code, out, err = run(capsys, "predict", runs[name], pictures["grey"])
    assert code == 1
    assert out == ""
    assert_one_error(err)


@pytest.mark.parametrize("top", ["0", "-1"])
def test_predict_top_must_be_positive(capsys, runs, pictures, top):
    code, out, err = run(capsys, "predict", runs["softmax"], pictures["grey"], "--top", top)
    assert code in (1, 2)
    assert out == ""
    assert "--top" in err and "Traceback" not in err


def test_predict_needs_an_image(capsys, runs):
    code, _, err = run(capsys, "predict", runs["softmax"])
    assert code == 2
    assert "IMAGE" in err


# --------------------------------------------------------------------------- real processes


def _process(cwd: Path, *argv) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shallownet", *map(str, argv)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_process_evaluate_and_predict_json(tmp_path, runs, pictures):
    done = _process(tmp_path, "evaluate", runs["softmax"], "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert report["test_acc"] == pytest.approx(float(last_metrics(runs["softmax"])["test_acc"]))
    assert not any(line.lstrip().startswith("{") for line in lines[:-1])
    assert lines[0].startswith("softmax (scratch) on fashion-mnist")

    done = _process(tmp_path, "predict", runs["softmax"], pictures["big_jpg"], pictures["text"],
                    "--json")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr and str(pictures["text"]) in done.stderr


# --------------------------------------------------------------------------- real data


@requires_real_data
@pytest.mark.realdata
def test_real_fashion_mnist_ankle_boot_photo(capsys, tmp_path):
    """Softmax after one epoch on 6,000 real images knows test image 0 (an ankle boot), also
    as a large inverted RGB picture (dark boot on white), the way a user would photograph it."""
    run_dir = tmp_path / "real"
    code, out, err = run(capsys, "train", "--epochs", 1, "--max-train", 6000, "--max-test", 1000,
                         "--out", run_dir, "-q", "--no-plots", "--json")
    assert code == 0, err
    assert last_json(out)["test_acc"] > 0.6

    images = read_idx(SYSTEM_FASHION_MNIST / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(SYSTEM_FASHION_MNIST / "t10k-labels-idx1-ubyte.gz")
    assert int(labels[0]) == 9 and FASHION_MNIST_LABELS[9] == "ankle boot"
    boot = np.asarray(images[0])
    small, large = tmp_path / "boot28.png", tmp_path / "boot_photo.png"
    Image.fromarray(boot, "L").save(small)
    photo = Image.fromarray(255 - boot, "L").resize((280, 280), Image.NEAREST).convert("RGB")
    photo.save(large)

    code, out, err = run(capsys, "predict", run_dir, small, large, "--top", 10, "--json")
    assert code == 0, err
    ranked = [[(e["class"], e["p"]) for e in item["top"]]
              for item in last_json(out)["predictions"]]
    for ranking in ranked:
        assert ranking[0][0] == "ankle boot"
        assert ranking[0][1] > ranking[1][1] + 0.1  # a clear first, not a coin toss
    as_28, as_photo = (dict(r) for r in ranked)
    assert all(math.isclose(as_28[c], as_photo[c], abs_tol=0.05) for c in FASHION_MNIST_LABELS)
