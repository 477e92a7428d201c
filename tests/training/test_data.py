"""A run's dataset by name: synthetic-linear, a CSV file, or an IDX image dataset."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from shallownet.data.catalog import FASHION_MNIST_LABELS
from shallownet.data.synthetic import TRUE_B, TRUE_W
from shallownet.errors import ChecksumError, DatasetNotFoundError, UsageError
from shallownet.training.data import DataSpec, TrainingData, data_kind, load_training_data
from tests.conftest import write_tiny_dataset
from tests.training.conftest import classification_arrays, write_csv

# -- data_kind -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kind"), [
    ("fashion-mnist", "image"), ("mnist", "image"), ("synthetic-linear", "synthetic"),
    ("data.csv", "table"), ("DIR/Data.CSV", "table"), ("/no/such/file.csv", "table"),
])
def test_data_kind(name, kind):
    assert data_kind(name) == kind


def test_data_kind_of_an_existing_file_without_csv_suffix(tmp_path):
    path = tmp_path / "table.txt"
    path.write_text("1,2\n")
    assert data_kind(str(path)) == "table"


@pytest.mark.parametrize("name", ["cifar-10", "Fashion-MNIST-x", "", "synthetic"])
def test_data_kind_of_an_unknown_name_is_a_usage_error(name):
    with pytest.raises(UsageError, match="unknown dataset"):
        data_kind(name)


def test_load_training_data_of_an_unknown_name_is_a_usage_error():
    with pytest.raises(UsageError, match="fashion-mnist, mnist, synthetic-linear"):
        load_training_data(DataSpec(name="imagenet"))


# -- synthetic-linear --------------------------------------------------------------------------


def test_synthetic_linear_data():
    data = load_training_data(DataSpec(name="synthetic-linear"))
    assert isinstance(data, TrainingData)
    assert data.train_X.shape == (1000, 2) and data.test_X.shape == (1000, 2)
    assert data.train_y.shape == (1000, 1) and data.test_y.shape == (1000, 1)
    assert data.task == "regression" and data.classes is None
    assert data.num_outputs == 1 and data.input_shape == (2,) and not data.is_image
    assert data.true_w.tolist() == pytest.approx(list(TRUE_W))
    assert data.true_b == TRUE_B
    # y = X w + b + small noise
    residual = data.train_y.reshape(-1) - (data.train_X @ data.true_w + data.true_b)
    assert float(residual.abs().max()) < 0.1
    assert 0.005 < float(residual.std()) < 0.02


def test_synthetic_options():
    data = load_training_data(DataSpec(name="synthetic-linear", num_examples=37, noise=0.0))
    assert len(data.train_X) == 37 and len(data.test_X) == 37
    torch.testing.assert_close(data.train_y.reshape(-1), data.train_X @ data.true_w + TRUE_B)


def test_same_seed_same_data_and_train_differs_from_test():
    a = load_training_data(DataSpec(name="synthetic-linear", num_examples=50, seed=1))
    b = load_training_data(DataSpec(name="synthetic-linear", num_examples=50, seed=1))
    c = load_training_data(DataSpec(name="synthetic-linear", num_examples=50, seed=2))
    assert torch.equal(a.train_X, b.train_X) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_X, a.test_X)
    assert not torch.equal(a.train_X, c.train_X)


@pytest.mark.parametrize("changes", [{"num_examples": 0}, {"noise": -1.0},
                                     {"noise": float("nan")}])
def test_bad_synthetic_options_are_usage_errors(changes):
    with pytest.raises(UsageError):
        load_training_data(DataSpec(name="synthetic-linear", **changes))


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_classification_with_a_header(classification_csv):
    data = load_training_data(DataSpec(name=str(classification_csv)))
    assert data.task == "classification"
    assert data.classes == ("0", "1", "2")
    assert len(data.train_X) == 160 and len(data.test_X) == 40  # test_fraction 0.2
    assert data.input_shape == (4,)
    assert data.train_y.dtype == torch.int64 and data.train_y.shape == (160,)
    assert data.details["features"] == ["f0", "f1", "f2", "f3"]
    assert data.details["target"] == "target"
    assert data.details["rows"] == 200
    assert data.name == str(classification_csv)


def test_csv_regression_target(regression_csv):
    data = load_training_data(DataSpec(name=str(regression_csv)))
    assert data.task == "regression" and data.classes is None
    assert data.train_y.shape == (96, 1) and data.train_y.dtype == torch.float32
    assert data.num_outputs == 1
    assert data.true_w is None


def test_csv_task_and_label_column_options(classification_csv):
    data = load_training_data(DataSpec(name=str(classification_csv), task="regression"))
    assert data.task == "regression"
    by_name = load_training_data(DataSpec(name=str(classification_csv), label_column="f0",
                                          standardize=False))
    assert by_name.details["target"] == "f0"
    assert by_name.task == "regression"  # f0 is continuous
    assert by_name.details["features"] == ["f1", "f2", "f3", "target"]


def test_csv_split_is_seeded(classification_csv):
    a = load_training_data(DataSpec(name=str(classification_csv), seed=0))
    b = load_training_data(DataSpec(name=str(classification_csv), seed=0))
    c = load_training_data(DataSpec(name=str(classification_csv), seed=1))
    assert torch.equal(a.train_X, b.train_X)
    assert not torch.equal(a.train_y, c.train_y)


def test_standardisation_uses_the_training_statistics_only(tmp_path):
    X, y = classification_arrays(200, offset=1000.0)
    X[:, 1] *= 50
    path = write_csv(tmp_path / "offset.csv", X, y)
    raw = load_training_data(DataSpec(name=str(path), standardize=False))
    data = load_training_data(DataSpec(name=str(path)))

    train_mean, train_std = raw.train_X.mean(0), raw.train_X.std(0, correction=0)
    torch.testing.assert_close(data.train_X.mean(0), torch.zeros(4), atol=1e-4, rtol=0)
    torch.testing.assert_close(data.train_X.std(0, correction=0), torch.ones(4),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(data.test_X, (raw.test_X - train_mean) / train_std,
                               atol=1e-4, rtol=1e-4)
    # the test part is not standardised with its own statistics
    assert float(data.test_X.mean(0).abs().max()) > 1e-3
    assert torch.equal(raw.train_y, data.train_y)


def test_without_standardisation_features_are_as_in_the_file(tmp_path):
    X, y = classification_arrays(50, offset=1000.0)
    path = write_csv(tmp_path / "raw.csv", X, y)
    data = load_training_data(DataSpec(name=str(path), standardize=False))
    assert float(data.train_X[:, 0].mean()) > 900


def test_csv_path_with_a_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    X, y = classification_arrays(30)
    write_csv(tmp_path / "home.csv", X, y)
    data = load_training_data(DataSpec(name="~/home.csv"))
    assert data.name == str(tmp_path / "home.csv")


# -- limits -------------------------------------------------------------------------------------


def test_max_train_and_max_test_keep_the_first_examples(classification_csv):
    full = load_training_data(DataSpec(name=str(classification_csv)))
    small = load_training_data(DataSpec(name=str(classification_csv), max_train=25, max_test=7))
    assert len(small.train_X) == len(small.train_y) == 25
    assert len(small.test_X) == len(small.test_y) == 7
    assert torch.equal(small.train_X, full.train_X[:25])
    assert torch.equal(small.test_y, full.test_y[:7])


def test_limits_larger_than_the_data_change_nothing():
    data = load_training_data(DataSpec(name="synthetic-linear", num_examples=20, max_train=1000,
                                       max_test=20))
    assert len(data.train_X) == 20 and len(data.test_X) == 20


@pytest.mark.parametrize("name", ["max_train", "max_test"])
@pytest.mark.parametrize("value", [0, -1, 2.5, True, "10"])
def test_bad_limits_are_usage_errors(name, value):
    with pytest.raises(UsageError, match=f"{name} must be a positive whole number"):
        load_training_data(DataSpec(name="synthetic-linear", num_examples=5, **{name: value}))


# -- image datasets ----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "classes"), [("fashion-mnist", FASHION_MNIST_LABELS),
                                               ("mnist", tuple(str(d) for d in range(10)))])
def test_image_data_from_a_directory_of_idx_files(tmp_path, name, classes):
    write_tiny_dataset(tmp_path / "idx", n_train=30, n_test=10)
    data = load_training_data(DataSpec(name=name, data_dir=str(tmp_path / "idx"), verify=False))
    assert data.name == name
    assert data.task == "classification"
    assert data.classes == classes
    assert data.train_X.shape == (30, 1, 28, 28) and data.test_X.shape == (10, 1, 28, 28)
    assert data.train_X.dtype == torch.float32
    assert float(data.train_X.min()) >= 0 and float(data.train_X.max()) <= 1
    assert data.train_y.tolist() == [i % 10 for i in range(30)]
    assert data.is_image and data.input_shape == (1, 28, 28) and data.num_outputs == 10
    assert data.details["directory"] == str(tmp_path / "idx")
    assert data.details["source"] == "explicit"
    assert data.details["verified"] is False
    assert data.mean is None and data.std is None


@pytest.mark.parametrize("name", ["fashion-mnist", "mnist"])
def test_image_data_is_verified_by_default(tmp_path, name):
    write_tiny_dataset(tmp_path / "idx")
    with pytest.raises(ChecksumError, match="MD5"):
        load_training_data(DataSpec(name=name, data_dir=str(tmp_path / "idx")))


def test_image_options_resize_normalize_and_limits(tmp_path):
    write_tiny_dataset(tmp_path / "idx", n_train=30, n_test=10)
    spec = DataSpec(name="fashion-mnist", data_dir=str(tmp_path / "idx"), verify=False,
                    resize=14, normalize=True, max_train=12, max_test=4)
    data = load_training_data(spec)
    assert data.train_X.shape == (12, 1, 14, 14) and data.test_X.shape == (4, 1, 14, 14)
    assert data.mean is not None and data.std > 0
    full = load_training_data(dataclasses.replace(spec, max_train=None, max_test=None))
    # normalised with the statistics of the whole training set, before the limit
    assert float(full.train_X.mean()) == pytest.approx(0.0, abs=1e-5)
    assert data.mean == full.mean and data.std == full.std


def test_a_missing_image_directory_is_not_silently_replaced(tmp_path, monkeypatch):
    """An explicit --data-dir without the files would download; refuse the network here."""
    def no_network(*args, **kwargs):
        raise DatasetNotFoundError("network disabled in tests")

    monkeypatch.setattr("shallownet.data.locate._download_into", no_network)
    with pytest.raises(DatasetNotFoundError):
        load_training_data(DataSpec(name="mnist", data_dir=str(tmp_path / "empty")))


def test_data_spec_to_dict():
    d = DataSpec(name="x.csv", label_column="y").to_dict()
    assert d["name"] == "x.csv" and d["label_column"] == "y"
    assert set(d) == {f.name for f in dataclasses.fields(DataSpec)}
    assert np.isclose(d["test_fraction"], 0.2)


# -- a validation split instead of the test set ----------------------------------------------


def test_a_validation_split_holds_out_part_of_the_training_set():
    whole = load_training_data(DataSpec(name="synthetic-linear", num_examples=60))
    split = load_training_data(DataSpec(name="synthetic-linear", num_examples=60,
                                        val_fraction=0.25))
    assert split.eval_name == "val" and whole.eval_name == "test"
    assert (len(split.train_X), len(split.test_X)) == (45, 15)
    rows = {tuple(x.tolist()) for x in whole.train_X}
    held = {tuple(x.tolist()) for x in split.test_X}
    kept = {tuple(x.tolist()) for x in split.train_X}
    assert held <= rows and kept <= rows and not held & kept  # nothing of the test set
    again = load_training_data(DataSpec(name="synthetic-linear", num_examples=60,
                                        val_fraction=0.25))
    assert torch.equal(again.test_X, split.test_X)  # the seed draws the same split


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_an_impossible_validation_share_is_refused(fraction):
    with pytest.raises(UsageError, match="val_fraction"):
        load_training_data(DataSpec(name="synthetic-linear", num_examples=10,
                                    val_fraction=fraction))


def test_a_validation_share_too_small_to_hold_an_example_is_refused():
    with pytest.raises(UsageError, match="leaves 0 to validate on"):
        load_training_data(DataSpec(name="synthetic-linear", num_examples=10,
                                    val_fraction=0.01))
