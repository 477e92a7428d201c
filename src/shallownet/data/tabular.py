"""Numeric CSV datasets: feature columns and one target column (the last by default).

The header is detected (a first row with a non-numeric cell), every cell
must be a finite number, and every row must have the same number of fields;
anything else is a :class:`~shallownet.errors.CSVFormatError` naming the line.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from shallownet.errors import CSVFormatError, Hint, UsageError

__all__ = [
    "TabularData",
    "TabularSplit",
    "Standardizer",
    "read_csv_dataset",
    "train_test_split",
    "load_csv",
    "fill_missing",
    "TARGET_TRANSFORMS",
    "MISSING",
]

#: What ``target_transform`` may be: ``none``, or ``log`` (train on log(y)).
TARGET_TRANSFORMS = ("none", "log")

#: At most this many distinct integer targets make an "auto" task a classification.
MAX_AUTO_CLASSES = 20
#: Magnitudes from here on round to inf in float32, the features' type.
_FLOAT32_LIMIT = 2.0**128 - 2.0**103


@dataclass(frozen=True)
class TabularData:
    """A CSV dataset as tensors.

    Attributes
    ----------
    features : Tensor of shape (n, d), float32
    targets : Tensor of shape (n,) int64 (classification) or (n, 1) float32 (regression)
    task : {"classification", "regression"}
    feature_names : tuple of str
    target_name : str
    classes : tuple of str, or None
        For classification, the original target value of each class index.
    categorical_columns : tuple of int
        The features that are one-hot indicators (``categorical=True``): not standardised.
    target_transform : {"none", "log"}
        ``log``: ``targets`` are the log of the file's values.
    """

    features: torch.Tensor
    targets: torch.Tensor
    task: str
    feature_names: tuple[str, ...]
    target_name: str
    classes: tuple[str, ...] | None
    path: Path | None = None
    has_header: bool = False
    categorical_columns: tuple[int, ...] = ()  # features that are one-hot indicators
    target_transform: str = "none"  # "log": targets are log(y)

    def __len__(self) -> int:
        return len(self.features)


class Standardizer:
    """Feature standardisation ``(x - mean_) / std_``, fitted on training data only.

    Columns with zero spread keep ``std_ = 1`` so they map to zero, not to nan.
    Both steps compute in float64, so finite features near the float32 limit give
    finite results (a transformed value beyond ``X``'s range saturates at its limit).

    Missing values (NaN, from ``read_csv_dataset(..., categorical=True)``) are
    left out of the statistics and become 0 (the mean) after the transform, as
    in the book's house-price experiment. The columns ``skip`` (one-hot
    indicators) keep their values (``mean_`` 0, ``std_`` 1).
    """

    def __init__(self, skip: Sequence[int] = ()) -> None:
        self.skip = tuple(skip)

    def fit(self, X: torch.Tensor) -> Standardizer:
        """Compute per-column ``mean_`` and ``std_`` (population std) of ``X`` (n, d)."""
        if len(X) == 0:
            raise UsageError("cannot fit a Standardizer on zero examples.")
        wide = X.double()  # a float32 sum of values near 3.4e38 overflows
        if bool(torch.isnan(wide).any()):
            mean = torch.nanmean(wide, dim=0)
            std = torch.nanmean((wide - mean) ** 2, dim=0).sqrt()
            mean, std = torch.nan_to_num(mean, nan=0.0), torch.nan_to_num(std, nan=1.0)
        else:
            mean, std = wide.mean(dim=0), wide.std(dim=0, correction=0)
        self.mean_ = mean.to(X.dtype)
        std = std.to(X.dtype)
        self.std_ = torch.where(std > 0, std, torch.ones_like(std))
        if self.skip:
            self.mean_[list(self.skip)] = 0.0
            self.std_[list(self.skip)] = 1.0
        return self

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """``(X - mean_) / std_``, a missing value (NaN) 0."""
        if not hasattr(self, "mean_"):
            raise UsageError("Standardizer.transform called before fit.")
        z = (X.double() - self.mean_.double()) / self.std_.double()
        limit = torch.finfo(X.dtype).max
        return fill_missing(z.clamp(-limit, limit).to(X.dtype))

    def fit_transform(self, X: torch.Tensor) -> torch.Tensor:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)


def fill_missing(X: torch.Tensor, value: float = 0.0) -> torch.Tensor:
    """``X`` with every NaN (a missing value) replaced by ``value``."""
    return torch.where(torch.isnan(X), torch.full_like(X, value), X) if X.is_floating_point() \
        else X


@dataclass(frozen=True)
class TabularSplit:
    """Train and test parts of a :class:`TabularData`, and the standardiser fitted on train."""

    train: TabularData
    test: TabularData
    scaler: Standardizer | None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_cell(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if abs(value) < _FLOAT32_LIMIT else None  # nan fails too


def read_csv_dataset(
    path: str | os.PathLike,
    *,
    label_column: int | str = -1,
    task: str = "auto",
    header: bool | str = "auto",
    delimiter: str | None = None,
    categorical: bool = False,
    drop_columns: Sequence[str] = (),
    target_transform: str = "none",
) -> TabularData:
    """Read a numeric CSV file into features and targets.

    Parameters
    ----------
    path : path-like
    label_column : int or str, default -1
        Index (negative counts from the end) or header name of the target column.
    task : {"auto", "classification", "regression"}, default "auto"
        ``auto`` picks classification when every target is an integer and
        there are at most 20 distinct values, regression otherwise.
    header : bool or "auto", default "auto"
        ``auto``: the first row is a header when one of its cells is not a number.
    delimiter : str, optional
        Field separator; sniffed among ``,;\\t`` and space when None.
    categorical : bool, default False
        Read a CSV file as it comes: a feature column with text in it is
        categorical and one-hot encoded, a missing value (an empty cell, ``NA``,
        ``NaN``...) being its own category (the book's
        ``pd.get_dummies(..., dummy_na=True)``; the categories are the whole
        file's); a missing number is NaN (:class:`Standardizer` and
        :func:`train_test_split` fill it with 0 after standardising). ``False``:
        every cell must be a number.
    drop_columns : sequence of str, default ()
        Header names of columns to leave out (an ``Id``); an unknown name is an error.
    target_transform : {"none", "log"}, default "none"
        ``log``: the targets are ``log(y)`` (regression; a target of 0 or less
        is an error naming its line).

    Returns
    -------
    TabularData

    Raises
    ------
    CSVFormatError
        Empty file, no data rows, ragged rows, non-numeric or empty cells
        (the message names the line and column).
    """
    path = Path(path)
    if task not in ("auto", "classification", "regression"):
        raise UsageError(f"task must be auto, classification or regression, not {task!r}.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CSVFormatError(
            f"{path} is not UTF-8 text (byte {exc.start}); is it a CSV file?"
        ) from exc
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or exc
        raise CSVFormatError(f"cannot read CSV file {path}: {reason}.") from exc
    lines = text.splitlines()
    numbered = [(i, line) for i, line in enumerate(lines, 1) if line.strip()]
    if not numbered:
        raise CSVFormatError(f"{path} is empty: a CSV dataset needs at least one row of numbers.")
    if delimiter is None:
        delimiter = _sniff_delimiter(numbered[0][1])
    rows = []
    for lineno, line in numbered:  # one row per line: a quote cannot swallow the next lines
        try:
            fields = next(csv.reader([line], delimiter=delimiter))
        except csv.Error as exc:
            raise CSVFormatError(f"{path}, line {lineno}: {exc}; is it a CSV file?") from exc
        rows.append((lineno, [cell.strip() for cell in fields]))
    if delimiter == " ":
        rows = [(n, [c for c in cells if c]) for n, cells in rows]

    first_line, first = rows[0]
    has_header = header is True or (
        header == "auto" and not all(_is_number(c) for c in first)
    )
    width = len(first)
    names = tuple(first) if has_header else tuple(f"x{i}" for i in range(width))
    data_rows = rows[1:] if has_header else rows
    if not data_rows:
        raise CSVFormatError(f"{path} has a header (line {first_line}) but no data rows.")
    if width < 2:
        raise CSVFormatError(
            f"{path} has {width} column per row (line {first_line}); a dataset needs at "
            "least one feature column and one target column. Is the delimiter "
            f"{delimiter!r} right?"
        )

    file_columns = list(range(1, width + 1))  # each kept column's number in the file
    if drop_columns:
        names, data_rows, file_columns = _drop(drop_columns, names, data_rows, has_header,
                                               path, width, first_line)
        width = len(names)
        if width < 2:
            raise UsageError(f"{path}: dropping {', '.join(drop_columns)} leaves {width} "
                             "column; a dataset needs a feature column and a target column.")
    target_index = _column_index(label_column, names, has_header, path)
    if categorical:
        X, feature_names, one_hot, y = _mixed_table(path, names, data_rows, target_index,
                                                    file_columns)
    else:
        values = _numeric_table(path, names, data_rows, width, first_line, file_columns)
        y = values[:, target_index]
        X = np.delete(values, target_index, axis=1)
        feature_names = tuple(n for i, n in enumerate(names) if i != target_index)
        one_hot = ()
    if target_transform not in TARGET_TRANSFORMS:
        raise UsageError(f"target_transform must be one of {', '.join(TARGET_TRANSFORMS)}, "
                         f"not {target_transform!r}.")
    if target_transform == "log":
        if task == "classification":
            raise UsageError("target_transform='log' is for regression; a classification "
                             "target is a class label.")
        task = "regression"
        bad = np.flatnonzero(~(y > 0))
        if len(bad):
            lineno = data_rows[bad[0]][0]
            raise CSVFormatError(
                f"{path}, line {lineno}, column {file_columns[target_index]}"
                f" ({names[target_index]}): {y[bad[0]]:g} is not positive; the log target "
                "transform needs every target above 0."
            )
        y = np.log(y)
    if task == "auto":
        integral = bool(np.all(y == np.round(y)))
        task = (
            "classification"
            if integral and len(np.unique(y)) <= MAX_AUTO_CLASSES
            else "regression"
        )
    if task == "classification":
        if not np.all(y == np.round(y)):
            raise CSVFormatError(
                f"{path}: target column {names[target_index]!r} has non-integer values; "
                "use task='regression' or integer class labels."
            )
        uniques, codes = np.unique(y, return_inverse=True)
        targets = torch.from_numpy(codes.astype(np.int64).reshape(-1))
        classes = tuple(str(int(v)) for v in uniques)
    else:
        targets = torch.from_numpy(y.astype(np.float32).reshape(-1, 1))
        classes = None
    return TabularData(
        features=torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)),
        targets=targets,
        task=task,
        feature_names=feature_names,
        target_name=names[target_index],
        classes=classes,
        path=path,
        has_header=has_header,
        categorical_columns=one_hot,
        target_transform=target_transform,
    )


def _numeric_table(path: Path, names, data_rows, width: int, first_line: int,
                   file_columns) -> np.ndarray:
    values = np.empty((len(data_rows), width), dtype=np.float64)
    for r, (lineno, cells) in enumerate(data_rows):
        if len(cells) != width:
            raise CSVFormatError(
                f"{path}, line {lineno}: {len(cells)} fields, expected {width} "
                f"(as on line {first_line}). Every row needs the same number of columns."
            )
        for c, cell in enumerate(cells):
            value = _parse_cell(cell)
            if value is None:
                what = "an empty cell" if cell == "" else (
                    f"{cell!r} is not a finite number within the 32-bit float range "
                    "(at most about 3.4e38 in magnitude)"
                )
                raise CSVFormatError(
                    f"{path}, line {lineno}, column {file_columns[c]} ({names[c]}): {what}. "
                    "Every cell must be numeric; remove or fill that value (or read text "
                    "columns as categories and empty cells as missing: categorical=True).",
                    hints=[Hint("categorical", True)],
                )
            values[r, c] = value
    return values


def _drop(drop_columns, names, data_rows, has_header: bool, path: Path, width: int,
          first_line: int):
    """``names`` and ``data_rows`` without the columns named in ``drop_columns``."""
    if not has_header:
        raise UsageError(f"{path} has no header, so there are no column names to drop "
                         f"({', '.join(drop_columns)}).")
    unknown = [c for c in drop_columns if c not in names]
    if unknown:
        raise UsageError(f"{path} has no column {unknown[0]!r} to drop; columns: "
                         f"{', '.join(names)}.")
    keep = [i for i, n in enumerate(names) if n not in drop_columns]
    rows = []
    for lineno, cells in data_rows:
        if len(cells) != width:
            raise CSVFormatError(
                f"{path}, line {lineno}: {len(cells)} fields, expected {width} "
                f"(as on line {first_line}). Every row needs the same number of columns."
            )
        rows.append((lineno, [cells[i] for i in keep]))
    return tuple(names[i] for i in keep), rows, [i + 1 for i in keep]


#: Cells read as a missing value with ``categorical=True`` (pandas' usual spellings).
MISSING = frozenset({"", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "?"})


def _mixed_table(path: Path, names, data_rows, target_index: int, file_columns):
    """Features with text columns one-hot encoded (a missing value its own category, as the
    book's ``pd.get_dummies(..., dummy_na=True)``) and missing numbers NaN; the target."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise UsageError(f"reading {path} with its text columns needs pandas, and it cannot be "
                         f"imported ({exc}). Install it with pip install "
                         "'shallownet[tabular]'.") from exc

    width = len(names)
    for lineno, cells in data_rows:
        if len(cells) != width:
            raise CSVFormatError(
                f"{path}, line {lineno}: {len(cells)} fields, expected {width} "
                f"(as on line {data_rows[0][0]}). Every row needs the same number of columns."
            )
    columns = {}
    categorical = []
    seen: dict[str, int] = {}
    for c, name in enumerate(names):
        if name in seen:  # pandas needs distinct names: a repeated one gets .1, .2, ...
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        seen.setdefault(name, 0)
        cells = [cells[c] for _, cells in data_rows]
        present = [(r, cell) for r, cell in enumerate(cells) if cell not in MISSING]
        if c != target_index and not all(_is_number(cell) for _, cell in present):
            columns[name] = pd.Series([None if cell in MISSING else cell for cell in cells],
                                      dtype=object)
            categorical.append(name)
            continue
        values = np.full(len(cells), np.nan)
        for r, cell in present:
            value = _parse_cell(cell)
            if value is None:
                raise CSVFormatError(
                    f"{path}, line {data_rows[r][0]}, column {file_columns[c]} ({name}): "
                    f"{cell!r} is not a number, or not a finite one within the 32-bit float range. "
                    + ("The target must be a number." if c == target_index else
                       "A column of numbers takes numbers or an empty cell (missing).")
                )
            values[r] = value
        if c == target_index:
            missing = [r for r, cell in enumerate(cells) if cell in MISSING]
            if missing:
                raise CSVFormatError(
                    f"{path}, line {data_rows[missing[0]][0]}, column {file_columns[c]} "
                    f"({name}): the target is missing; remove that row or fill its target."
                )
        columns[name] = pd.Series(values, dtype=np.float64)
    frame = pd.DataFrame(columns)
    y = frame.pop(list(columns)[target_index]).to_numpy(dtype=np.float64)
    numeric = len(frame.columns) - len(categorical)
    if categorical:
        frame = pd.get_dummies(frame, columns=categorical, dummy_na=True, dtype=np.float64)
    feature_names = tuple(str(n) for n in frame.columns)
    one_hot = tuple(range(numeric, len(feature_names)))
    return frame.to_numpy(dtype=np.float64), feature_names, one_hot, y


def _sniff_delimiter(line: str) -> str:
    for candidate in (",", ";", "\t"):
        if candidate in line:
            return candidate
    return " " if " " in line.strip() else ","


def _column_index(label_column: int | str, names, has_header: bool, path: Path) -> int:
    width = len(names)
    if isinstance(label_column, str):
        if not has_header:
            raise UsageError(f"{path} has no header, so the label column must be an index.")
        if label_column not in names:
            raise UsageError(f"{path} has no column {label_column!r}; columns: {', '.join(names)}.")
        return names.index(label_column)
    if not -width <= label_column < width:
        raise UsageError(f"label column {label_column} is out of range for {width} columns.")
    return label_column % width


def _subset(data: TabularData, index: torch.Tensor, features: torch.Tensor) -> TabularData:
    return TabularData(
        features=features, targets=data.targets[index], task=data.task,
        feature_names=data.feature_names, target_name=data.target_name,
        classes=data.classes, path=data.path, has_header=data.has_header,
        categorical_columns=data.categorical_columns, target_transform=data.target_transform,
    )


def train_test_split(
    data: TabularData, *, test_fraction: float = 0.2, seed: int = 0, standardize: bool = False,
    keep_missing: bool = False,
) -> TabularSplit:
    """Shuffle with ``seed`` and split; standardise with statistics of the training part only
    (one-hot columns left as they are). Missing values (NaN) become 0: after standardising,
    or as they are without it; ``keep_missing=True`` (without ``standardize``) leaves them
    NaN for the caller to standardise (cross-validation, fold by fold)."""
    if not 0 < test_fraction < 1:
        raise UsageError(f"test_fraction must be between 0 and 1, not {test_fraction}.")
    n = len(data)
    n_test = max(1, round(n * test_fraction))
    if n - n_test < 1:
        raise UsageError(f"{n} examples are too few to split into train and test.")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    test_idx, train_idx = perm[:n_test], perm[n_test:]
    train_x, test_x = data.features[train_idx], data.features[test_idx]
    scaler = None
    if standardize:
        scaler = Standardizer(skip=data.categorical_columns).fit(train_x)
        train_x, test_x = scaler.transform(train_x), scaler.transform(test_x)
    elif not keep_missing:
        train_x, test_x = fill_missing(train_x), fill_missing(test_x)
    return TabularSplit(
        train=_subset(data, train_idx, train_x), test=_subset(data, test_idx, test_x), scaler=scaler
    )


def load_csv(
    path: str | os.PathLike,
    *,
    test_fraction: float = 0.2,
    standardize: bool = True,
    seed: int = 0,
    **read_kwargs,
) -> TabularSplit:
    """:func:`read_csv_dataset` then :func:`train_test_split` (standardised by default)."""
    data = read_csv_dataset(path, **read_kwargs)
    return train_test_split(data, test_fraction=test_fraction, seed=seed, standardize=standardize)
