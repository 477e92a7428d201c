"""CSV datasets: parsing, task detection, precise errors, standardisation and splitting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shallownet import ShallownetError
from shallownet.data import (
    Standardizer,
    TabularData,
    TabularSplit,
    load_csv,
    read_csv_dataset,
    train_test_split,
)
from shallownet.errors import CSVFormatError, DataError, UsageError


def write(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- good files


def test_no_header_label_last_classification(tmp_path):
    path = write(tmp_path, "1.5,2,0\n3,4.25,1\n5,6,0\n7,8,2\n")
    data = read_csv_dataset(path)
    assert isinstance(data, TabularData)
    assert data.has_header is False
    assert data.path == path
    assert len(data) == 4
    assert data.features.dtype == torch.float32
    assert data.features.shape == (4, 2)
    torch.testing.assert_close(
        data.features, torch.tensor([[1.5, 2], [3, 4.25], [5, 6], [7, 8]])
    )
    assert data.task == "classification"
    assert data.targets.dtype == torch.int64
    assert data.targets.shape == (4,)
    assert data.targets.tolist() == [0, 1, 0, 2]
    assert data.classes == ("0", "1", "2")
    assert data.feature_names == ("x0", "x1")
    assert data.target_name == "x2"


def test_header_is_detected_and_names_are_used(tmp_path):
    path = write(tmp_path, "height,weight,label\n1,2,0\n3,4,1\n")
    data = read_csv_dataset(path)
    assert data.has_header is True
    assert len(data) == 2  # the header is not a data row
    assert data.feature_names == ("height", "weight")
    assert data.target_name == "label"
    torch.testing.assert_close(data.features, torch.tensor([[1.0, 2.0], [3.0, 4.0]]))


def test_header_can_be_forced_on_and_off(tmp_path):
    path = write(tmp_path, "10,20,30\n1,2,0\n3,4,1\n")
    assert len(read_csv_dataset(path)) == 3  # all numeric: no header by default
    forced = read_csv_dataset(path, header=True)
    assert len(forced) == 2
    assert forced.feature_names == ("10", "20")
    text_header = write(tmp_path, "a,b,y\n1,2,0\n", name="h.csv")
    with pytest.raises(CSVFormatError, match="line 1"):
        read_csv_dataset(text_header, header=False)


def test_utf8_bom_is_not_part_of_the_first_name(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("a,b,y\n1,2,0\n3,4,1\n".encode("utf-8-sig"))
    data = read_csv_dataset(path, label_column="a")
    assert data.target_name == "a"
    assert data.feature_names == ("b", "y")


def test_class_labels_are_mapped_to_0_to_k_minus_1(tmp_path):
    path = write(tmp_path, "0.1,7\n0.2,-3\n0.3,12\n0.4,7\n0.5,-3\n")
    data = read_csv_dataset(path)
    assert data.task == "classification"
    assert data.classes == ("-3", "7", "12")  # sorted original values
    assert data.targets.tolist() == [1, 0, 2, 1, 0]
    # the original values come back through classes
    assert [int(data.classes[i]) for i in data.targets] == [7, -3, 12, 7, -3]


def test_label_column_by_index(tmp_path):
    path = write(tmp_path, "0,1.5,2.5\n1,3.5,4.5\n1,5.5,6.5\n")
    first = read_csv_dataset(path, label_column=0)
    assert first.targets.tolist() == [0, 1, 1]
    assert first.task == "classification"
    torch.testing.assert_close(first.features, torch.tensor([[1.5, 2.5], [3.5, 4.5], [5.5, 6.5]]))
    assert first.feature_names == ("x1", "x2")
    middle = read_csv_dataset(path, label_column=-2, task="regression")
    torch.testing.assert_close(middle.targets, torch.tensor([[1.5], [3.5], [5.5]]))
    torch.testing.assert_close(middle.features, torch.tensor([[0, 2.5], [1, 4.5], [1, 6.5]]))


def test_label_column_by_name(tmp_path):
    path = write(tmp_path, "kind,a,b\n2,0.5,1.5\n4,2.5,3.5\n")
    data = read_csv_dataset(path, label_column="kind")
    assert data.target_name == "kind"
    assert data.feature_names == ("a", "b")
    assert data.classes == ("2", "4")
    assert data.targets.tolist() == [0, 1]
    torch.testing.assert_close(data.features, torch.tensor([[0.5, 1.5], [2.5, 3.5]]))


@pytest.mark.parametrize("label_column", ["nope", 3, -4])
def test_bad_label_column_is_a_usage_error(tmp_path, label_column):
    path = write(tmp_path, "a,b,c\n1,2,0\n")
    with pytest.raises(UsageError):
        read_csv_dataset(path, label_column=label_column)


def test_label_column_name_needs_a_header(tmp_path):
    path = write(tmp_path, "1,2,0\n3,4,1\n")
    with pytest.raises(UsageError, match="no header"):
        read_csv_dataset(path, label_column="x2")


def test_auto_task_regression_for_fractional_targets(tmp_path):
    path = write(tmp_path, "1,0.5\n2,1.25\n3,-2.75\n")
    data = read_csv_dataset(path)
    assert data.task == "regression"
    assert data.classes is None
    assert data.targets.dtype == torch.float32
    assert data.targets.shape == (3, 1)
    torch.testing.assert_close(data.targets, torch.tensor([[0.5], [1.25], [-2.75]]))


def test_auto_task_boundary_at_twenty_distinct_integers(tmp_path):
    twenty = write(tmp_path, "".join(f"{i},{i % 20}\n" for i in range(40)), name="20.csv")
    twenty_one = write(tmp_path, "".join(f"{i},{i % 21}\n" for i in range(42)), name="21.csv")
    assert read_csv_dataset(twenty).task == "classification"
    assert len(read_csv_dataset(twenty).classes) == 20
    many = read_csv_dataset(twenty_one)
    assert many.task == "regression"
    assert many.targets.shape == (42, 1)


def test_task_can_be_forced(tmp_path):
    integers = write(tmp_path, "1,0\n2,1\n3,1\n", name="int.csv")
    reg = read_csv_dataset(integers, task="regression")
    assert reg.task == "regression"
    assert reg.targets.dtype == torch.float32
    assert reg.targets.shape == (3, 1)
    assert reg.classes is None
    torch.testing.assert_close(reg.targets, torch.tensor([[0.0], [1.0], [1.0]]))

    many = write(tmp_path, "".join(f"{i},{i}\n" for i in range(30)), name="many.csv")
    cls = read_csv_dataset(many, task="classification")
    assert cls.task == "classification"
    assert cls.targets.dtype == torch.int64
    assert len(cls.classes) == 30

    fractional = write(tmp_path, "1,0.5\n2,1\n", name="frac.csv")
    with pytest.raises(CSVFormatError, match="non-integer"):
        read_csv_dataset(fractional, task="classification")
    with pytest.raises(UsageError):
        read_csv_dataset(integers, task="clustering")


def test_diabetes_style_file(tmp_path):
    rng = np.random.default_rng(1)
    features = rng.uniform(-1, 1, size=(60, 8))
    labels = rng.integers(0, 2, size=60)
    lines = [
        ",".join(f"{v:.6f}" for v in row) + f",{y}"
        for row, y in zip(features, labels, strict=True)
    ]
    path = write(tmp_path, "\n".join(lines) + "\n", name="diabetes.csv")
    data = read_csv_dataset(path)
    assert data.has_header is False
    assert data.features.shape == (60, 8)
    assert float(data.features.min()) >= -1 and float(data.features.max()) <= 1
    np.testing.assert_allclose(data.features.numpy(), features, atol=1e-6)
    assert data.task == "classification"
    assert data.classes == ("0", "1")
    assert data.targets.tolist() == labels.tolist()


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab_delimiters(tmp_path, sep):
    text = sep.join(["a", "b", "y"]) + "\n" + "\n".join(
        sep.join(row) for row in [["1.5", "2", "0"], ["3", "-4.5", "1"]]
    ) + "\n"
    data = read_csv_dataset(write(tmp_path, text))
    assert data.feature_names == ("a", "b")
    torch.testing.assert_close(data.features, torch.tensor([[1.5, 2.0], [3.0, -4.5]]))
    assert data.targets.tolist() == [0, 1]


def test_explicit_delimiter(tmp_path):
    path = write(tmp_path, "1|2|0\n3|4|1\n")
    data = read_csv_dataset(path, delimiter="|")
    assert data.features.shape == (2, 2)
    with pytest.raises(CSVFormatError):  # sniffed as ",": a single column
        read_csv_dataset(path)


def test_space_delimited_with_repeated_spaces(tmp_path):
    data = read_csv_dataset(write(tmp_path, "1   2 0\n 3 4   1\n"))
    torch.testing.assert_close(data.features, torch.tensor([[1.0, 2.0], [3.0, 4.0]]))


def test_blank_lines_are_ignored(tmp_path):
    data = read_csv_dataset(write(tmp_path, "a,b,y\n1,2,0\n\n3,4,1\n\n   \n\n"))
    assert len(data) == 2
    torch.testing.assert_close(data.features, torch.tensor([[1.0, 2.0], [3.0, 4.0]]))


def test_crlf_line_endings(tmp_path):
    path = tmp_path / "crlf.csv"
    path.write_bytes(b"a,b,y\r\n1,2,0\r\n3,4,1\r\n")
    data = read_csv_dataset(path)
    assert data.target_name == "y"
    assert data.targets.tolist() == [0, 1]


# --------------------------------------------------------------------------- errors


def test_csv_format_error_is_a_shallownet_error():
    assert issubclass(CSVFormatError, DataError)
    assert issubclass(CSVFormatError, ShallownetError)


def test_ragged_row_names_its_line(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,0\n3,4\n5,6,1\n")
    with pytest.raises(CSVFormatError, match=r"line 3\b") as exc:
        read_csv_dataset(path)
    assert "2 fields, expected 3" in str(exc.value)
    assert str(path) in str(exc.value)


def test_line_numbers_count_blank_lines(tmp_path):
    path = write(tmp_path, "1,2,0\n\n\n3,4,1,9\n")
    with pytest.raises(CSVFormatError, match=r"line 4\b"):
        read_csv_dataset(path)


def test_non_numeric_cell_names_line_and_column(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,0\n3,abc,1\n")
    with pytest.raises(CSVFormatError) as exc:
        read_csv_dataset(path)
    message = str(exc.value)
    assert "line 3" in message
    assert "column 2" in message
    assert "(b)" in message
    assert "'abc'" in message


def test_empty_cell_is_reported(tmp_path):
    path = write(tmp_path, "1,2,0\n3,,1\n")
    with pytest.raises(CSVFormatError, match=r"line 2, column 2.*empty cell"):
        read_csv_dataset(path)


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_non_finite_cells_are_rejected(tmp_path, bad):
    path = write(tmp_path, f"a,b,y\n1,2,0\n3,{bad},1\n")
    with pytest.raises(CSVFormatError, match=r"line 3, column 2") as exc:
        read_csv_dataset(path)
    assert "finite" in str(exc.value)


def test_non_finite_cell_in_first_row_is_an_error_not_a_header(tmp_path):
    path = write(tmp_path, "1,nan,0\n2,3,1\n4,5,0\n")
    with pytest.raises(CSVFormatError, match=r"line 1, column 2"):
        read_csv_dataset(path)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(tmp_path, text):
    with pytest.raises(CSVFormatError, match="empty"):
        read_csv_dataset(write(tmp_path, text))


def test_header_only_file(tmp_path):
    with pytest.raises(CSVFormatError, match=r"header \(line 1\) but no data rows"):
        read_csv_dataset(write(tmp_path, "a,b,y\n"))


@pytest.mark.parametrize("text", ["1\n2\n3\n", "y\n1\n2\n"])
def test_single_column_file(tmp_path, text):
    with pytest.raises(CSVFormatError, match="1 column per row") as exc:
        read_csv_dataset(write(tmp_path, text))
    assert "line 1" in str(exc.value)


def test_non_utf8_bytes(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"a,b,y\n1,2,0\n3,\xe9\xff,1\n")
    with pytest.raises(CSVFormatError, match="not UTF-8"):
        read_csv_dataset(path)


def test_missing_file(tmp_path):
    with pytest.raises(CSVFormatError, match="cannot read"):
        read_csv_dataset(tmp_path / "absent.csv")


# --------------------------------------------------------------------------- Standardizer


def test_standardizer_fits_train_and_applies_train_stats_to_test():
    g = torch.Generator().manual_seed(0)
    train = torch.randn(200, 3, generator=g) * torch.tensor([1.0, 5.0, 0.1]) + torch.tensor(
        [10.0, -3.0, 0.5]
    )
    test = torch.randn(50, 3, generator=g) * 3 + 100  # very different statistics
    scaler = Standardizer().fit(train)
    z_train = scaler.transform(train)
    torch.testing.assert_close(z_train.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(z_train.std(0, correction=0), torch.ones(3), atol=1e-5, rtol=0)
    z_test = scaler.transform(test)
    expected = (test - train.mean(0)) / train.std(0, correction=0)
    torch.testing.assert_close(z_test, expected)
    # not standardised with its own statistics
    assert float(z_test.mean(0).abs().min()) > 1.0
    torch.testing.assert_close(Standardizer().fit_transform(train), z_train)


def test_standardizer_constant_column_maps_to_zero():
    X = torch.tensor([[1.0, 7.0], [2.0, 7.0], [3.0, 7.0]])
    scaler = Standardizer().fit(X)
    z = scaler.transform(X)
    assert not torch.isnan(z).any()
    assert torch.equal(z[:, 1], torch.zeros(3))
    assert float(scaler.std_[1]) == 1.0
    torch.testing.assert_close(z[:, 0], torch.tensor([-1.2247449, 0.0, 1.2247449]))
    other = scaler.transform(torch.tensor([[2.0, 9.0]]))
    torch.testing.assert_close(other, torch.tensor([[0.0, 2.0]]))


def test_standardizer_usage_errors():
    with pytest.raises(UsageError):
        Standardizer().transform(torch.ones(2, 2))
    with pytest.raises(UsageError):
        Standardizer().fit(torch.empty(0, 3))


# --------------------------------------------------------------------------- splitting


def indexed_dataset(tmp_path, n: int = 50, *, constant_column: bool = False):
    """A regression CSV whose target is the row index, so split rows can be identified."""
    rng = np.random.default_rng(3)
    feats = rng.exponential(scale=[1.0, 10.0, 100.0], size=(n, 3))
    if constant_column:
        feats[:, 1] = 4.0
    lines = ["f0,f1,f2,row"] + [
        ",".join(f"{v:.6f}" for v in row) + f",{i}" for i, row in enumerate(feats)
    ]
    return write(tmp_path, "\n".join(lines) + "\n", name="indexed.csv")


def rows_of(part: TabularData) -> list[int]:
    return [int(v) for v in part.targets.reshape(-1).tolist()]


def test_split_is_disjoint_and_covering(tmp_path):
    path = indexed_dataset(tmp_path)
    data = read_csv_dataset(path)
    assert data.task == "regression"
    split = train_test_split(data, test_fraction=0.2, seed=0)
    assert isinstance(split, TabularSplit)
    assert split.scaler is None
    train_rows, test_rows = rows_of(split.train), rows_of(split.test)
    assert len(test_rows) == 10 and len(train_rows) == 40
    assert set(train_rows).isdisjoint(test_rows)
    assert sorted(train_rows + test_rows) == list(range(50))
    # features travel with their targets
    for part in (split.train, split.test):
        idx = torch.tensor(rows_of(part))
        torch.testing.assert_close(part.features, data.features[idx])
    assert split.train.feature_names == data.feature_names
    assert split.test.task == "regression"


def test_split_is_deterministic_by_seed(tmp_path):
    path = indexed_dataset(tmp_path)
    data = read_csv_dataset(path)
    a = train_test_split(data, seed=7)
    b = train_test_split(data, seed=7)
    c = train_test_split(data, seed=8)
    assert rows_of(a.test) == rows_of(b.test)
    assert rows_of(a.train) == rows_of(b.train)
    assert rows_of(a.test) != rows_of(c.test)
    # shuffled: the test part is not simply the first or last rows
    assert sorted(rows_of(a.test)) not in (list(range(10)), list(range(40, 50)))


def test_split_standardises_with_train_statistics_only(tmp_path):
    path = indexed_dataset(tmp_path)
    data = read_csv_dataset(path)
    split = train_test_split(data, seed=0, standardize=True)
    train_rows, test_rows = rows_of(split.train), rows_of(split.test)
    raw_train, raw_test = data.features[train_rows], data.features[test_rows]

    torch.testing.assert_close(split.train.features.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        split.train.features.std(0, correction=0), torch.ones(3), atol=1e-5, rtol=0
    )
    train_mean, train_std = raw_train.mean(0), raw_train.std(0, correction=0)
    torch.testing.assert_close(split.scaler.mean_, train_mean)
    torch.testing.assert_close(split.scaler.std_, train_std)
    torch.testing.assert_close(split.test.features, (raw_test - train_mean) / train_std)

    own = (raw_test - raw_test.mean(0)) / raw_test.std(0, correction=0)
    assert not torch.allclose(split.test.features, own, atol=1e-3)
    # the test part's statistics really differ from the training part's
    assert not torch.allclose(raw_test.mean(0), train_mean, rtol=0.05)


def test_split_with_constant_column_has_no_nan(tmp_path):
    path = indexed_dataset(tmp_path, constant_column=True)
    split = train_test_split(read_csv_dataset(path), standardize=True)
    for part in (split.train, split.test):
        assert torch.isfinite(part.features).all()
        assert torch.equal(part.features[:, 1], torch.zeros(len(part)))


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_rejects_bad_fraction(tmp_path, fraction):
    path = indexed_dataset(tmp_path)
    with pytest.raises(UsageError):
        train_test_split(read_csv_dataset(path), test_fraction=fraction)


def test_split_rejects_too_few_examples(tmp_path):
    data = read_csv_dataset(write(tmp_path, "1,0\n"))
    with pytest.raises(UsageError, match="too few"):
        train_test_split(data)


def test_load_csv_reads_splits_and_standardises(tmp_path):
    path = indexed_dataset(tmp_path)
    raw = read_csv_dataset(path).features
    split = load_csv(path, test_fraction=0.3, seed=5)
    assert isinstance(split, TabularSplit)
    assert split.scaler is not None
    assert len(split.test) == 15 and len(split.train) == 35
    torch.testing.assert_close(split.train.features.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    expected = train_test_split(read_csv_dataset(path), test_fraction=0.3, seed=5,
                                standardize=True)
    assert rows_of(split.test) == rows_of(expected.test)
    torch.testing.assert_close(split.test.features, expected.test.features)

    plain = load_csv(path, standardize=False, seed=5, test_fraction=0.3)
    assert plain.scaler is None
    torch.testing.assert_close(plain.train.features, raw[rows_of(plain.train)])


def test_load_csv_passes_read_options(tmp_path):
    path = write(tmp_path, "y;a;b\n" + "".join(f"{i % 2};{i};{2 * i}\n" for i in range(10)))
    split = load_csv(path, label_column="y", standardize=False, seed=1)
    assert split.train.task == "classification"
    assert split.train.feature_names == ("a", "b")
    assert torch.equal(split.train.features[:, 1], 2 * split.train.features[:, 0])
    assert torch.equal(split.train.targets, split.train.features[:, 0].long() % 2)
    with pytest.raises(CSVFormatError):
        load_csv(write(tmp_path, "a,b\n", name="empty.csv"))
