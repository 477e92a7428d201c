"""Fuzzing the CSV dataset reader.

Fuzzed: ``read_csv_dataset`` on arbitrary bytes and text, and on tables that
look numeric (cells drawn from integers, floats written every way Python's
``float`` reads them, extremes beyond float32, nan and inf, empty cells,
quotes, stray text; ragged rows; any of the delimiters and line endings; an
optional header; a BOM or another encoding), each with random reader options
(label column, header, delimiter, task); ``load_csv`` on the same tables with
random split options; ``read_csv_dataset`` on any path name.

Property: the result has one target per row of the file (every non-blank
line but the header), finite float32 features, integer class indices in
range or finite float32 regression targets, and a split that keeps every
example; otherwise a :class:`~shallownet.errors.CSVFormatError` naming the
file, or a :class:`~shallownet.errors.UsageError` for options that do not
fit the file. Never another exception, a hang or a huge allocation.
"""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from shallownet.data.tabular import load_csv, read_csv_dataset
from shallownet.errors import CSVFormatError, UsageError
from tests.fuzz.harness import (
    check_any_path,
    corpus,
    fuzz_settings,
    path_names,
    result_or_own_error,
)

#: Cells that are numbers for Python's ``float`` or nearly: extremes, spellings, lookalikes.
ODD_NUMBERS = ("1e308", "-1e308", "3.4e38", "3.5e38", "-1e39", "1e-320", "nan", "NaN", "inf",
               "-Infinity", "0x10", "1_000", "+.5", ".", "-", "1e", "1e5000", "١٢", " 7 ",
               "\u00a05", "0.0", "-0", "2", "1" * 400, "9" * 131_073)
NUMBERS = st.one_of(
    st.integers(-3, 3).map(str),
    st.integers().map(str),
    st.floats().map(repr),
    st.floats(width=32).map(str),
    st.sampled_from(ODD_NUMBERS),
)
#: Valid cells, extremes of float32 favoured.
FINITE = st.one_of(st.integers(-3, 3).map(str),
                   st.floats(width=32, allow_nan=False, allow_infinity=False).map(str),
                   st.sampled_from(["3.4e38", "-3.4e38", "1e-40", "-1e-45", "1e38"]))
CELLS = st.one_of(NUMBERS, NUMBERS, NUMBERS, st.just(""), st.text(max_size=6),
                  st.sampled_from(['"1"', '"1,2"', '"', "'", '"3\n4"', "\\", "\x00"]))
DELIMITERS = (",", ";", "\t", " ", "|")
OPTIONS = st.fixed_dictionaries({}, optional={
    "label_column": st.one_of(st.integers(-6, 6), st.sampled_from(["y", "x0", "target", ""]),
                              st.text(max_size=4)),
    "task": st.sampled_from(["auto", "classification", "regression"]),
    "header": st.sampled_from([True, False, "auto"]),
    "delimiter": st.sampled_from([None, *DELIMITERS]),
})
SPLIT = st.fixed_dictionaries({}, optional={
    "test_fraction": st.floats(0.01, 0.99),
    "standardize": st.booleans(),
    "seed": st.integers(0, 2**32),
})


@st.composite
def csv_tables(draw) -> bytes:
    """A table of mostly numeric cells (some drawn from a few values, so they repeat), maybe
    ragged, with any delimiter, line ending and encoding."""
    delimiter = draw(st.sampled_from([*DELIMITERS, "  ", ", "]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\n \n"]))
    width = draw(st.integers(1, 5))
    few = st.sampled_from(draw(st.lists(FINITE, min_size=1, max_size=3)))  # repeated values
    row = st.integers(0, 7).flatmap(lambda n: st.lists(CELLS, min_size=n, max_size=n))
    clean = st.lists(st.one_of(few, FINITE), min_size=width, max_size=width)
    mixed = st.one_of(st.lists(CELLS, min_size=width, max_size=width),
                      st.lists(NUMBERS, min_size=width, max_size=width), clean, row)
    rows = draw(st.lists(st.one_of(clean, mixed) if draw(st.booleans()) else clean,
                         max_size=12))
    if draw(st.booleans()):
        rows.insert(0, draw(st.lists(st.one_of(st.text(max_size=5), st.just("y")),
                                     min_size=width, max_size=width)))
    text = newline.join(delimiter.join(cells) for cells in rows)
    if draw(st.booleans()):
        text += newline
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16",
                                     "latin-1"]))
    return text.encode(encoding, errors="replace")


def check_dataset(data, path, lines: list[str], options: dict) -> None:
    """The invariants of a TabularData read from ``lines`` with ``options``."""
    n = len(data.features)
    rows = sum(1 for line in lines if line.strip())
    assert n == rows - data.has_header >= 1
    assert data.features.dtype == torch.float32 and data.features.ndim == 2
    assert data.features.shape[1] == len(data.feature_names) >= 1
    assert torch.isfinite(data.features).all()
    assert len(data.targets) == n
    assert data.task in ("classification", "regression")
    if options.get("task", "auto") != "auto":
        assert data.task == options["task"]
    if data.task == "classification":
        assert data.targets.dtype == torch.int64 and data.targets.shape == (n,)
        assert len(set(data.classes)) == len(data.classes) >= 1
        assert int(data.targets.min()) >= 0 and int(data.targets.max()) < len(data.classes)
    else:
        assert data.classes is None
        assert data.targets.dtype == torch.float32 and data.targets.shape == (n, 1)
        assert torch.isfinite(data.targets).all()
    assert data.path == path


def check_error(error: Exception, path) -> None:
    assert isinstance(error, CSVFormatError | UsageError), repr(error)
    if isinstance(error, CSVFormatError):
        assert str(path) in str(error)


def lines_of(content: bytes) -> list[str]:
    return content.decode("utf-8-sig").splitlines()


def check_read(path, content: bytes, options: dict) -> None:
    """The property for ``read_csv_dataset(path, **options)`` on ``content``."""
    path.write_bytes(content)
    outcome = result_or_own_error(lambda: read_csv_dataset(path, **options))
    if isinstance(outcome, Exception):
        check_error(outcome, path)
    else:
        check_dataset(outcome, path, lines_of(content), options)


def check_split(path, content: bytes, options: dict, split: dict) -> None:
    """The property for ``load_csv(path, **split, **options)`` on ``content``."""
    path.write_bytes(content)
    outcome = result_or_own_error(lambda: load_csv(path, **split, **options))
    if isinstance(outcome, Exception):
        check_error(outcome, path)
        return
    rows = sum(1 for line in lines_of(content) if line.strip())
    assert len(outcome.train) + len(outcome.test) == rows - outcome.train.has_header
    assert len(outcome.train) >= 1 and len(outcome.test) >= 1
    for part in (outcome.train, outcome.test):
        assert len(part.features) == len(part.targets)
        assert torch.isfinite(part.features).all()
    assert (outcome.scaler is not None) == split.get("standardize", True)


@fuzz_settings()
@given(content=st.one_of(st.binary(max_size=2000), st.text(max_size=500).map(str.encode)),
       options=OPTIONS)
def test_any_bytes_give_a_dataset_or_a_csv_format_error(tmp_path, content, options):
    check_read(tmp_path / "any.csv", content, options)


@fuzz_settings()
@given(content=csv_tables(), options=OPTIONS)
def test_numeric_looking_tables_give_a_dataset_or_a_csv_format_error(tmp_path, content, options):
    check_read(tmp_path / "table.csv", content, options)


@fuzz_settings()
@given(content=csv_tables(), options=OPTIONS, split=SPLIT)
def test_load_csv_gives_a_finite_split_or_an_own_error(tmp_path, content, options, split):
    check_split(tmp_path / "table.csv", content, options, split)


@fuzz_settings()
@given(name=path_names("data.csv"))
@example(name="a\x00b")  # once crashed
def test_any_path_gives_a_dataset_or_a_csv_format_error(tmp_path, name):
    (tmp_path / "data.csv").write_text("x,y\n1,0\n2,1\n")
    path = os.path.join(tmp_path, name)
    def check(data):
        assert data.features.tolist() == [[1.0], [2.0]]

    check_any_path(path, read_csv_dataset, CSVFormatError, check)


REPLAY_OPTIONS = ({}, {"header": False}, {"header": True}, {"task": "classification"},
                  {"task": "regression"}, {"label_column": 0}, {"delimiter": ","})


@pytest.mark.parametrize("path", corpus("csv"))
def test_csv_corpus_file_gives_a_dataset_or_a_csv_format_error(tmp_path, path):
    content = path.read_bytes()
    for options in REPLAY_OPTIONS:
        check_read(tmp_path / path.name, content, options)
        check_split(tmp_path / path.name, content, options, {})
