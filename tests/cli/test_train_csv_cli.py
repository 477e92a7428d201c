"""``shallownet train --data FILE.csv`` on a file as it comes: --categorical, --drop-columns,
--target-transform log, --metric log-rmse, --folds K's table, --resume, malformed files."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tests.cli.clitools import assert_one_error, run

FAST = ("--model", "linreg", "--impl", "concise", "--optimizer", "adam", "--lr", "1",
        "--batch-size", "64", "--no-plots")


@pytest.fixture(scope="module")
def houses(tmp_path_factory):
    """A house-price-like table: Id, categorical columns with gaps, a numeric one with gaps."""
    rng = np.random.default_rng(0)
    lines = ["Id,MSZoning,LotFrontage,Street,OverallQual,SalePrice"]
    for i in range(120):
        zoning = rng.choice(["RL", "RM", "FV", ""])
        street = rng.choice(["Pave", "Grvl", "NA"])
        quality = int(rng.integers(1, 11))
        lot = rng.normal(70, 20)
        price = np.exp(11 + 0.12 * quality + 0.003 * lot + rng.normal(0, 0.1))
        lot_cell = "" if rng.random() < 0.15 else f"{lot:.0f}"
        lines.append(f"{i + 1},{zoning},{lot_cell},{street},{quality},{price:.0f}")
    path = tmp_path_factory.mktemp("houses") / "houses.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def options(path):
    return ("train", "--data", path, "--categorical", "--drop-columns", "Id",
            "--target-transform", "log", "--metric", "log-rmse", *FAST)


def test_train_reports_log_rmse_each_epoch_and_in_the_metrics_files(capsys, tmp_path, houses):
    code, out, err = run(capsys, *options(houses), "--epochs", "3", "--out", tmp_path / "r")
    assert code == 0, err
    epochs = [line for line in out.splitlines() if line.startswith("epoch")]
    assert len(epochs) == 3
    assert all("train log rmse" in line and "test log rmse" in line for line in epochs)
    assert "test log rmse" in out.splitlines()[-3]  # the final line
    with open(tmp_path / "r" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {"train_log_rmse", "test_log_rmse"} <= set(rows[0])
    final = json.loads((tmp_path / "r" / "metrics.json").read_text())["final"]
    assert final["test_log_rmse"] > 0
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["data"]["categorical"] is True
    assert config["data"]["drop_columns"] == ["Id"]
    assert config["data"]["target_transform"] == "log"
    assert config["train"]["metric"] == "log-rmse"


def test_resume_keeps_the_options(capsys, tmp_path, houses):
    run_dir = tmp_path / "r"
    assert run(capsys, *options(houses), "--epochs", "2", "--out", run_dir)[0] == 0
    code, out, err = run(capsys, "train", "--resume", run_dir, "--epochs", "3", "--no-plots")
    assert code == 0, err
    assert "epoch 3/3" in out and "test log rmse" in out
    code, _, err = run(capsys, "train", "--resume", run_dir, "--metric", "log-rmse")
    assert code != 0 and "--metric" in err


def test_folds_print_each_folds_train_and_valid_log_rmse_and_their_mean(capsys, tmp_path,
                                                                       houses):
    code, out, err = run(capsys, *options(houses), "--epochs", "20", "--folds", "3",
                         "--out", tmp_path / "cv")
    assert code == 0, err
    table = [line for line in out.splitlines() if line.startswith("fold ") and "," in line]
    assert [line.split(",")[0] for line in table] == ["fold 1", "fold 2", "fold 3"]
    assert all("train log rmse" in line and "valid log rmse" in line for line in table)
    assert "3-fold validation: avg train log rmse" in out
    final = json.loads((tmp_path / "cv" / "metrics.json").read_text())["final"]
    assert len(final["fold_val_log_rmse"]) == 3
    assert final["val_log_rmse_mean"] == pytest.approx(np.mean(final["fold_val_log_rmse"]))
    assert "val log rmse mean" in out


def test_unknown_drop_column_is_a_clear_error(capsys, houses):
    code, _, err = run(capsys, "train", "--data", houses, "--categorical",
                       "--drop-columns", "Id,Nope", *FAST)
    assert code == 1
    assert_one_error(err)
    assert "no column 'Nope' to drop" in err


def test_text_cells_without_categorical_name_line_column_and_the_flag(capsys, houses):
    code, _, err = run(capsys, "train", "--data", houses, *FAST)
    assert code == 1
    assert_one_error(err)
    assert "line 2, column 2 (MSZoning)" in err and "--categorical" in err


def test_non_positive_target_with_log_is_refused_with_its_row(capsys, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("Id,a,y\n1,x,10\n2,y,0\n3,x,12\n", encoding="utf-8")
    code, _, err = run(capsys, "train", "--data", path, "--categorical", "--drop-columns",
                       "Id", "--target-transform", "log", *FAST)
    assert code == 1
    assert_one_error(err)
    assert "line 3, column 3 (y)" in err and "not positive" in err


def test_log_rmse_on_a_classification_is_refused(capsys, tmp_path):
    path = tmp_path / "cls.csv"
    path.write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)), encoding="utf-8")
    code, _, err = run(capsys, "train", "--data", path, "--metric", "log-rmse", "--epochs", "1",
                       "--no-plots", "--out", tmp_path / "r")
    assert code == 1
    assert_one_error(err)
    assert "regression" in err


@pytest.mark.parametrize("text, where", [
    ('Id,a,y\n1,x,2\n2,"y,3\n', "line 3"),
    ("Id,a,y\n1,x,2\n2,y\n", "line 3"),
    ("", "empty"),
    ("Id,a,y\n", "no data rows"),
])
def test_malformed_files_exit_cleanly_with_categorical(capsys, tmp_path, text, where):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "train", "--data", path, "--categorical", *FAST)
    assert code == 1
    assert_one_error(err)
    assert where in err


def test_non_utf8_file_exits_cleanly(capsys, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"Id,a,y\n1,\xe9,2\n")
    code, _, err = run(capsys, "train", "--data", path, "--categorical", *FAST)
    assert code == 1
    assert_one_error(err)
    assert "not UTF-8" in err
