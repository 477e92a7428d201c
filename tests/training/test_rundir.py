"""Run directories: their names, creation, metrics files and config."""

from __future__ import annotations

import csv
import json
import math
import re

import pytest

from shallownet import __version__
from shallownet.errors import OutputError, RunConfigError
from shallownet.training.rundir import RunDir, default_run_path

HISTORY = [
    {"epoch": 1, "train_loss": 0.1 + 0.2, "train_acc": 1 / 3, "test_loss": 2.0 / 7,
     "test_acc": 0.5, "seconds": 1e-7},
    {"epoch": 2, "train_loss": 0.123456789012345678, "train_acc": 2 / 3,
     "test_loss": 1e-300, "test_acc": 0.75, "seconds": 12345.678901234567},
]


@pytest.fixture
def fixed_time(monkeypatch):
    monkeypatch.setattr("shallownet.training.rundir.time.strftime",
                        lambda fmt: "20260102-030405")


# -- default_run_path ---------------------------------------------------------------------------


def test_default_run_path_pattern(tmp_path):
    path = default_run_path("softmax", "scratch", "fashion-mnist", root=tmp_path)
    assert path.parent == tmp_path
    assert re.fullmatch(r"softmax-scratch-fashion-mnist-\d{8}-\d{6}", path.name), path.name
    assert not path.exists()


def test_default_run_path_root_defaults_to_runs():
    path = default_run_path("linreg", "concise", "synthetic-linear")
    assert path.parts[0] == "runs"


@pytest.mark.parametrize(("data", "stem"), [
    ("data/wine.csv", "wine"), ("/x/y/Heart.CSV", "Heart"), ("tables/data.txt", "data"),
    ("mnist", "mnist"), ("fashion-mnist", "fashion-mnist"),
    ("synthetic-linear", "synthetic-linear"),
])
def test_default_run_path_names_a_csv_by_its_stem(tmp_path, fixed_time, data, stem):
    path = default_run_path("mlp", "concise", data, root=tmp_path)
    assert path == tmp_path / f"mlp-concise-{stem}-20260102-030405"


def test_default_run_path_is_unique_when_the_path_exists(tmp_path, fixed_time):
    first = default_run_path("softmax", "scratch", "mnist", root=tmp_path)
    first.mkdir()
    second = default_run_path("softmax", "scratch", "mnist", root=tmp_path)
    assert second == tmp_path / "softmax-scratch-mnist-20260102-030405-2"
    second.write_text("a file also takes the name")
    third = default_run_path("softmax", "scratch", "mnist", root=tmp_path)
    assert third == tmp_path / "softmax-scratch-mnist-20260102-030405-3"


# -- create -------------------------------------------------------------------------------------


def test_create_makes_the_directory_and_its_parents(tmp_path):
    run = RunDir(tmp_path / "a" / "b" / "run").create()
    assert run.path.is_dir()
    assert str(run) == str(tmp_path / "a" / "b" / "run")


def test_create_accepts_an_existing_empty_directory(tmp_path):
    (tmp_path / "run").mkdir()
    assert RunDir(tmp_path / "run").create().path.is_dir()


@pytest.mark.parametrize("name", ["config.json", "checkpoint.pt"])
def test_create_refuses_a_directory_holding_a_run(tmp_path, name):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / name).write_text("{}")
    with pytest.raises(OutputError, match="already holds a run. Continue it with resume_run"):
        RunDir(tmp_path / "run").create()


@pytest.mark.parametrize("name", ["config.json", "checkpoint.pt"])
def test_check_new_refuses_a_run_without_creating_anything(tmp_path, name):
    assert RunDir(tmp_path / "fresh").check_new().path == tmp_path / "fresh"
    assert not (tmp_path / "fresh").exists()
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / name).write_text("{}")
    with pytest.raises(OutputError, match="already holds a run"):
        RunDir(tmp_path / "old").check_new()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        RunDir(tmp_path / "file").check_new()


def test_create_refuses_a_file(tmp_path):
    (tmp_path / "run").write_text("not a directory")
    with pytest.raises(OutputError, match="is a file"):
        RunDir(tmp_path / "run").create()
    assert (tmp_path / "run").read_text() == "not a directory"


def test_create_under_a_file_is_an_output_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot create the run directory"):
        RunDir(tmp_path / "file" / "run").create()


def test_paths_of_a_run_directory(tmp_path):
    run = RunDir(tmp_path)
    assert run.config == tmp_path / "config.json"
    assert run.metrics_csv == tmp_path / "metrics.csv"
    assert run.metrics_json == tmp_path / "metrics.json"
    assert run.checkpoint == tmp_path / "checkpoint.pt"
    assert run.curves_png.name == "curves.png" and run.curves_svg.name == "curves.svg"
    assert run.gallery.name == "gallery.png" and run.confusion.name == "confusion.png"


# -- metrics --------------------------------------------------------------------------------------


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_metrics_csv_columns_are_in_the_documented_order(tmp_path):
    run = RunDir(tmp_path).create()
    records = [{"seconds": 1.0, "zeta": 3, "test_acc": 0.5, "epoch": 1, "alpha": "a",
                "train_loss": 0.2, "fold": 2, "b_error": 0.1, "w_error": 0.3,
                "test_loss": 0.4, "train_acc": 0.6}]
    run.write_metrics(records)
    header = read_csv(run.metrics_csv)[0]
    assert header == ["fold", "epoch", "train_loss", "train_acc", "test_loss", "test_acc",
                      "w_error", "b_error", "seconds", "alpha", "zeta"]


def test_metrics_csv_values_round_trip_exactly(tmp_path):
    run = RunDir(tmp_path).create()
    run.write_metrics(HISTORY)
    rows = read_csv(run.metrics_csv)
    header, body = rows[0], rows[1:]
    assert header == ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"]
    assert len(body) == len(HISTORY)
    for record, row in zip(HISTORY, body, strict=True):
        values = dict(zip(header, row, strict=True))
        assert int(values["epoch"]) == record["epoch"]
        for key in header[1:]:
            assert float(values[key]) == record[key], key  # exact, not approximately


def test_metrics_csv_leaves_missing_and_none_values_empty(tmp_path):
    run = RunDir(tmp_path).create()
    run.write_metrics([{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": None,
                                                          "test_loss": math.nan}])
    rows = read_csv(run.metrics_csv)
    assert rows == [["epoch", "train_loss", "test_loss"], ["1", "0.5", ""], ["2", "", "nan"]]


def test_metrics_json_holds_the_history_and_the_summary(tmp_path):
    run = RunDir(tmp_path).create()
    summary = {"final": {"test_acc": 0.75, "samples_per_second": math.inf},
               "classes": ["a", "b"], "confusion_matrix": [[1, 0], [0, 1]]}
    run.write_metrics(HISTORY, summary)
    stored = json.loads(run.metrics_json.read_text())
    assert stored["history"] == HISTORY
    assert stored["final"] == {"test_acc": 0.75, "samples_per_second": None}
    assert stored["classes"] == ["a", "b"]
    assert stored["confusion_matrix"] == [[1, 0], [0, 1]]


def test_metrics_of_an_empty_history(tmp_path):
    run = RunDir(tmp_path).create()
    run.write_metrics([])
    assert json.loads(run.metrics_json.read_text()) == {"history": []}
    assert read_csv(run.metrics_csv) == [["epoch"]]


def test_columns_head_the_csv_before_the_first_epoch(tmp_path):
    run = RunDir(tmp_path).create()
    columns = ("seconds", "test_loss", "epoch", "train_loss", "w_error", "b_error")
    run.write_metrics([], columns=columns)
    assert read_csv(run.metrics_csv) == [["epoch", "train_loss", "test_loss", "w_error",
                                          "b_error", "seconds"]]
    run.write_metrics([{"epoch": 1, "train_loss": 0.5, "extra": 1}], columns=("epoch",))
    rows = read_csv(run.metrics_csv)
    assert rows == [["epoch", "train_loss", "extra"], ["1", "0.5", "1"]]


def test_writing_metrics_again_replaces_them_atomically(tmp_path):
    run = RunDir(tmp_path / "run").create()
    run.write_metrics(HISTORY[:1])
    run.write_metrics(HISTORY)
    assert len(read_csv(run.metrics_csv)) == 3
    assert sorted(p.name for p in run.path.iterdir()) == ["metrics.csv", "metrics.json"]


def test_validation_columns_follow_the_order_of_test_columns(tmp_path):
    run = RunDir(tmp_path).create()
    run.write_metrics([{"fold": 1, "epoch": 1, "train_loss": 0.5, "train_acc": 0.5,
                        "val_loss": 0.6, "val_acc": 0.4, "seconds": 0.1}])
    assert read_csv(run.metrics_csv)[0] == ["fold", "epoch", "train_loss", "train_acc",
                                            "val_loss", "val_acc", "seconds"]


# -- config -------------------------------------------------------------------------------------


def test_write_and_read_config(tmp_path):
    run = RunDir(tmp_path / "run").create()
    run.write_config({"model": {"model": "softmax"}, "train": {"epochs": 2}},
                     {"name": "mnist", "mean": math.nan})
    assert run.read_config() == {"shallownet": __version__, "model": {"model": "softmax"},
                                 "train": {"epochs": 2},
                                 "dataset": {"name": "mnist", "mean": None}}


def test_read_config_of_a_missing_directory(tmp_path):
    with pytest.raises(RunConfigError, match="no such directory"):
        RunDir(tmp_path / "nowhere").read_config()


def test_read_config_of_a_directory_without_config(tmp_path):
    with pytest.raises(RunConfigError, match="has no config.json"):
        RunDir(tmp_path).read_config()


@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe\x00garbage"])
def test_read_config_of_an_invalid_file(tmp_path, content):
    (tmp_path / "config.json").write_bytes(content)
    with pytest.raises(RunConfigError, match="cannot read .*config.json"):
        RunDir(tmp_path).read_config()


def test_read_config_of_a_directory_named_config_json(tmp_path):
    (tmp_path / "config.json").mkdir()
    with pytest.raises(RunConfigError):
        RunDir(tmp_path).read_config()
