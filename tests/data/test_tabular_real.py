"""CSV files as they come (``categorical=True``): one-hot categories with a NaN category,
missing numbers, dropped columns, a log target, the log-RMSE metric, and the config."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from shallownet.data.tabular import (
    Standardizer,
    load_csv,
    read_csv_dataset,
    train_test_split,
)
from shallownet.errors import CSVFormatError, UsageError
from shallownet.metrics import log_rmse
from shallownet.training.config import RunConfig, TrainSettings
from shallownet.training.data import DataSpec, load_training_data

HOUSES = """Id,MSZoning,LotFrontage,Street,SalePrice
1,RL,65,Pave,208500
2,RM,,Grvl,181500
3,,68,Pave,223500
4,RL,NA,,140000
5,FV,84,Pave,250000
"""


def write(tmp_path, text: str, name: str = "houses.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_categorical_columns_are_one_hot_with_a_nan_category(tmp_path):
    data = read_csv_dataset(write(tmp_path, HOUSES), categorical=True, drop_columns=["Id"],
                            task="regression")
    assert data.feature_names == ("LotFrontage", "MSZoning_FV", "MSZoning_RL", "MSZoning_RM",
                                  "MSZoning_nan", "Street_Grvl", "Street_Pave", "Street_nan")
    assert data.categorical_columns == tuple(range(1, 8))
    zoning = data.features[:, 1:5]
    assert zoning.tolist() == [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 1, 0, 0],
                               [1, 0, 0, 0]]
    assert data.features[:, 5:].sum(dim=1).tolist() == [1.0] * 5  # one category per row
    assert data.features[3, 7] == 1  # an empty Street is its own category
    assert data.task == "regression" and data.target_name == "SalePrice"


def test_missing_numbers_are_nan_then_zero_after_standardising(tmp_path):
    data = read_csv_dataset(write(tmp_path, HOUSES), categorical=True, drop_columns=["Id"])
    lot = data.features[:, 0]
    assert torch.isnan(lot[[1, 3]]).all()  # an empty cell and NA
    scaler = Standardizer(skip=data.categorical_columns).fit(data.features)
    z = scaler.transform(data.features)
    present = torch.tensor([65.0, 68.0, 84.0])
    expected = (present - present.mean()) / present.std(correction=0)
    assert torch.allclose(z[[0, 2, 4], 0], expected, atol=1e-6)
    assert z[[1, 3], 0].tolist() == [0.0, 0.0]
    assert torch.equal(z[:, 1:], data.features[:, 1:])  # one-hot columns untouched


def test_split_standardises_with_training_rows_only_and_fills_missing(tmp_path):
    data = read_csv_dataset(write(tmp_path, HOUSES), categorical=True, drop_columns=["Id"])
    split = train_test_split(data, test_fraction=0.4, seed=0, standardize=True)
    train_lot = data.features[[i for i in range(5) if any(
        torch.equal(data.targets[i], t) for t in split.train.targets)], 0]
    present = train_lot[~torch.isnan(train_lot)].double()
    assert split.scaler.mean_[0] == pytest.approx(float(present.mean()), rel=1e-6)
    for part in (split.train, split.test):
        assert torch.isfinite(part.features).all()
    unscaled = train_test_split(data, test_fraction=0.4, seed=0, standardize=False)
    assert torch.isfinite(unscaled.train.features).all()


def test_a_category_only_in_the_test_split_has_a_column_unused_in_training(tmp_path):
    rows = [f"{i},{'A' if i % 2 else 'B'},{i},{10 + i}" for i in range(1, 20)]
    rows.append("20,C,20,30")  # the only C
    path = write(tmp_path, "Id,kind,x,y\n" + "\n".join(rows) + "\n")
    data = read_csv_dataset(path, categorical=True, drop_columns=["Id"], task="regression")
    c = data.feature_names.index("kind_C")
    split = train_test_split(data, test_fraction=0.2, seed=0, standardize=True)
    in_test = bool((split.test.targets == 30).any())
    part, other = (split.test, split.train) if in_test else (split.train, split.test)
    assert part.features[:, c].sum() == 1
    assert other.features[:, c].sum() == 0
    assert torch.isfinite(split.train.features).all() and torch.isfinite(split.test.features).all()


def test_id_column_is_dropped_and_unknown_names_are_errors(tmp_path):
    path = write(tmp_path, HOUSES)
    data = read_csv_dataset(path, categorical=True, drop_columns=("Id",))
    assert "Id" not in data.feature_names
    with pytest.raises(UsageError, match="no column 'Idx' to drop"):
        read_csv_dataset(path, categorical=True, drop_columns=("Idx",))
    numeric = write(tmp_path, "a,b\n1,2\n3,4\n", name="nohead.csv")
    with pytest.raises(UsageError, match="no header"):
        read_csv_dataset(numeric, header=False, drop_columns=("a",))


def test_drop_columns_works_without_categorical_and_keeps_file_column_numbers(tmp_path):
    path = write(tmp_path, "Id,a,b,y\nx1,1,2,3\nx2,4,,6\n")
    with pytest.raises(CSVFormatError, match=r"line 3, column 3 \(b\)"):
        read_csv_dataset(path, drop_columns=["Id"])
    data = read_csv_dataset(write(tmp_path, "Id,a,y\nx1,1,3\nx2,4,6\n", "b.csv"),
                            drop_columns=["Id"], task="regression")
    assert data.feature_names == ("a",)


def test_log_target(tmp_path):
    data = read_csv_dataset(write(tmp_path, HOUSES), categorical=True, drop_columns=["Id"],
                            target_transform="log")
    assert data.target_transform == "log" and data.task == "regression"
    assert data.targets[0, 0].item() == pytest.approx(math.log(208500), rel=1e-6)


@pytest.mark.parametrize("bad", ["0", "-5"])
def test_log_target_refuses_non_positive_values_naming_the_row(tmp_path, bad):
    path = write(tmp_path, HOUSES.replace("140000", bad))
    with pytest.raises(CSVFormatError, match=r"line 5, column 5 \(SalePrice\).*not positive"):
        read_csv_dataset(path, categorical=True, drop_columns=["Id"], target_transform="log")
    with pytest.raises(UsageError, match="regression"):
        read_csv_dataset(path, categorical=True, task="classification", target_transform="log")


def test_missing_or_text_target_is_an_error_with_line_and_column(tmp_path):
    with pytest.raises(CSVFormatError, match=r"line 3, column 5 \(SalePrice\).*missing"):
        read_csv_dataset(write(tmp_path, HOUSES.replace("181500", "")), categorical=True)
    with pytest.raises(CSVFormatError, match=r"line 3, column 5"):
        read_csv_dataset(write(tmp_path, HOUSES.replace("181500", "cheap")), categorical=True)


def test_malformed_files_still_name_line_and_column_when_categorical(tmp_path):
    with pytest.raises(CSVFormatError, match=r"line 3: 3 fields, expected 5"):
        read_csv_dataset(write(tmp_path, HOUSES.replace("2,RM,,Grvl,181500", "2,RM,1")),
                         categorical=True)
    with pytest.raises(CSVFormatError, match=r"line 2\b"):
        read_csv_dataset(write(tmp_path, 'a,b,y\n1,"2,3\n'), categorical=True)
    with pytest.raises(CSVFormatError, match="empty"):
        read_csv_dataset(write(tmp_path, ""), categorical=True)
    with pytest.raises(CSVFormatError, match="no data rows"):
        read_csv_dataset(write(tmp_path, "a,b,y\n"), categorical=True)
    path = tmp_path / "latin.csv"
    path.write_bytes(b"a,b,y\n1,\xe9,2\n")
    with pytest.raises(CSVFormatError, match="not UTF-8"):
        read_csv_dataset(path, categorical=True)
    with pytest.raises(CSVFormatError, match=r"line 3, column 3 \(LotFrontage\)"):
        read_csv_dataset(write(tmp_path, HOUSES.replace("2,RM,,", "2,RM,inf,")),
                         categorical=True)


def test_log_rmse_against_a_hand_computation():
    y_hat = torch.tensor([[0.5], [100.0], [250.0]])
    y = torch.tensor([[2.0], [120.0], [200.0]])
    by_hand = math.sqrt(((math.log(1.0) - math.log(2.0)) ** 2
                         + (math.log(100.0) - math.log(120.0)) ** 2
                         + (math.log(250.0) - math.log(200.0)) ** 2) / 3)
    assert log_rmse(y_hat, y) == pytest.approx(by_hand, rel=1e-12)
    assert log_rmse(y_hat.log(), y.log(), log_space=True) == pytest.approx(by_hand, rel=1e-6)
    with pytest.raises(UsageError, match="positive"):
        log_rmse(y_hat, -y)


def test_load_csv_passes_the_new_options(tmp_path):
    split = load_csv(write(tmp_path, HOUSES), categorical=True, drop_columns=["Id"],
                     target_transform="log", test_fraction=0.4)
    assert split.train.target_transform == "log"
    assert torch.isfinite(split.train.features).all()


def test_data_spec_loads_and_the_config_round_trips(tmp_path):
    path = write(tmp_path, HOUSES)
    spec = DataSpec(name=str(path), categorical=True, drop_columns=["Id"],
                    target_transform="log", test_fraction=0.4)
    data = load_training_data(spec.resolved())
    assert data.target_transform == "log" and data.categorical_columns
    assert torch.allclose(data.original_units(data.train_y).log(), data.train_y)
    config = RunConfig(data=spec, train=TrainSettings(metric="log-rmse", epochs=1)).resolved()
    assert config.data.drop_columns == ("Id",)
    again = RunConfig.from_dict(config.to_dict())
    assert again == config
    with pytest.raises(UsageError, match="target_transform"):
        DataSpec(name=str(path), target_transform="sqrt").resolved()
    with pytest.raises(UsageError, match="unknown metric"):
        RunConfig(data=spec, train=TrainSettings(metric="rmse")).resolved()


def test_many_rows_stay_fast_and_finite(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["Id,z,x,y"]
    for i in range(2000):
        x = "" if i % 7 == 0 else round(rng.normal(), 3)
        lines.append(f"{i},{rng.choice(['a', 'b', ''])},{x},{rng.uniform(1, 9):.3f}")
    split = load_csv(write(tmp_path, "\n".join(lines) + "\n"), categorical=True,
                     drop_columns=["Id"], task="regression")
    assert split.train.features.shape[1] == 4
    assert torch.isfinite(split.train.features).all()
