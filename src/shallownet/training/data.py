"""The dataset a run trains on, named as on the command line, as in-memory tensors.

A dataset is named ``fashion-mnist``, ``mnist``, ``synthetic-linear`` or by
the path of a CSV file. Whatever it is, a run gets a :class:`TrainingData`:
train and test tensors, the task, the class names, the shape of one example.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from shallownet.data.catalog import CATALOG
from shallownet.data.image_datasets import load_image_dataset
from shallownet.data.synthetic import TRUE_B, TRUE_W, synthetic_data
from shallownet.data.tabular import TARGET_TRANSFORMS, read_csv_dataset, train_test_split
from shallownet.errors import Hint, UsageError
from shallownet.registry import DataTraits
from shallownet.runtime import TEST_DATA, TRAIN_DATA, VALIDATION, derive_seed
from shallownet.typecheck import check_fields

__all__ = ["DataSpec", "TrainingData", "load_training_data", "data_kind", "IMAGE_DATASETS"]

IMAGE_DATASETS = tuple(CATALOG)
SYNTHETIC = "synthetic-linear"


@dataclass(frozen=True)
class DataSpec:
    """What to load: the dataset's name and how to prepare it (saved with each run).

    Attributes
    ----------
    name : str
        ``fashion-mnist``, ``mnist``, ``synthetic-linear`` or a path to a ``.csv`` file.
    data_dir : str, optional
        Directory of the image dataset (else the usual search order).
    resize : int, optional
        Image height and width after resizing.
    normalize : bool
        Standardise images with the training set's mean and std.
    num_examples, noise : int, float
        Synthetic data: examples in each of the train and test sets, noise std.
    test_fraction : float
        CSV: the share of rows held out for testing.
    label_column : int or str
        CSV: the target column (index or header name), the last by default.
    task : {"auto", "classification", "regression"}
        CSV: what the target is (``auto`` guesses from its values).
    standardize : bool
        CSV: standardise features with the training part's mean and std
        (one-hot columns are left as they are; a missing number becomes 0 after it).
    categorical : bool
        CSV: read the file as it comes: text columns one-hot encoded (a missing
        value its own category), empty numeric cells missing
        (:func:`~shallownet.data.tabular.read_csv_dataset`).
    drop_columns : tuple of str
        CSV: header names of columns to leave out (an ``Id``).
    target_transform : {"none", "log"}
        CSV: ``log`` trains a regression on ``log(y)``.
    verify : bool
        Images: require the files' checksums to match the published data
        (``False`` trusts your own IDX files in ``data_dir``).
    max_train, max_test : int, optional
        Use only the first ``max_train`` training and ``max_test`` test examples
        (quick experiments).
    val_fraction : float
        Hold out this share of the training set, drawn at random from ``seed``,
        and evaluate on it instead of the test set (named ``val_...`` in the
        figures): for choosing settings without looking at the test set.
    seed : int
        Seed of the synthetic data and of the CSV split.
    """

    name: str = "fashion-mnist"
    data_dir: str | None = None
    resize: int | None = None
    normalize: bool = False
    num_examples: int = 1000
    noise: float = 0.01
    test_fraction: float = 0.2
    label_column: int | str = -1
    task: str = "auto"
    standardize: bool = True
    categorical: bool = False
    drop_columns: tuple[str, ...] = ()
    target_transform: str = "none"
    verify: bool = True
    max_train: int | None = None
    max_test: int | None = None
    val_fraction: float = 0.0
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def resolved(self) -> DataSpec:
        """A copy with a CSV path and ``data_dir`` made absolute, so a run's config still
        finds its data from any working directory. Every field's type is checked."""
        self = check_fields(self)
        if self.target_transform not in TARGET_TRANSFORMS:
            raise UsageError(f"target_transform must be one of {', '.join(TARGET_TRANSFORMS)}, "
                             f"not {self.target_transform!r}.", hints=[Hint("target_transform")])
        changes = {}
        if isinstance(self.name, str) and data_kind(self.name) == "table":
            changes["name"] = str(Path(self.name).expanduser().absolute())
        if isinstance(self.data_dir, str):
            changes["data_dir"] = str(Path(self.data_dir).expanduser().absolute())
        return dataclasses.replace(self, **changes)

    def traits(self) -> DataTraits:
        """What is known of the data before it loads: its name and kind."""
        return DataTraits(name=self.name, kind=data_kind(self.name))


@dataclass
class TrainingData:
    """Train and test tensors and what they mean.

    Attributes
    ----------
    train_X, train_y, test_X, test_y : Tensor
        Features (n, *input_shape); targets int64 (n,) for classes or float (n, 1).
    task : {"classification", "regression"}
    classes : tuple of str, or None
        Text label of each class index.
    input_shape : tuple of int
        Shape of one example, e.g. (1, 28, 28) or (8,).
    true_w, true_b : Tensor, float or None
        The parameters that generated synthetic data.
    mean, std : float or None
        The normalisation applied to images (needed to predict new ones).
    categorical_columns : tuple of int
        CSV: the features that are one-hot indicators (not standardised).
    target_transform : {"none", "log"}
        CSV: ``log`` when the targets are ``log(y)``: predictions in the file's
        units are ``exp`` of the model's outputs (:meth:`original_units`).
    """

    name: str
    train_X: torch.Tensor
    train_y: torch.Tensor
    test_X: torch.Tensor
    test_y: torch.Tensor
    task: str
    classes: tuple[str, ...] | None
    true_w: torch.Tensor | None = None
    true_b: float | None = None
    mean: float | None = None
    std: float | None = None
    details: dict = field(default_factory=dict)
    eval_name: str = "test"  # what the held-out examples are: test, or val(idation)
    categorical_columns: tuple[int, ...] = ()  # CSV: features that are one-hot indicators
    target_transform: str = "none"  # CSV: "log" when the targets are log(y)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train_X.shape[1:])

    @property
    def num_outputs(self) -> int:
        """Number of classes, or 1 for regression."""
        return len(self.classes) if self.classes is not None else 1

    def original_units(self, values: torch.Tensor) -> torch.Tensor:
        """Targets or regression outputs in the file's units (``exp`` under a log transform)."""
        return values.exp() if self.target_transform == "log" else values

    @property
    def is_image(self) -> bool:
        return self.train_X.ndim == 4

    @property
    def background(self) -> float:
        """The value of an empty pixel: 0, or ``-mean / std`` for standardised images."""
        return -self.mean / self.std if self.mean is not None else 0.0

    @property
    def kind(self) -> str:
        """``synthetic`` (generated from known w and b), ``image`` or ``table``."""
        if self.true_w is not None:
            return "synthetic"
        return "image" if self.is_image else "table"

    def traits(self) -> DataTraits:
        """What the registry's compatibility check needs to know of this data."""
        return DataTraits(name=self.name, kind=self.kind, task=self.task,
                          num_classes=None if self.classes is None else len(self.classes),
                          classes=self.classes)


def data_kind(name: str) -> str:
    """``image``, ``synthetic`` or ``table`` (a CSV file), judged from the name alone
    (no file read)."""
    if name in IMAGE_DATASETS:
        return "image"
    if name == SYNTHETIC:
        return "synthetic"
    if name.lower().endswith(".csv") or Path(name).is_file():
        return "table"
    raise UsageError(
        f"unknown dataset {name!r}; choose one of {', '.join((*IMAGE_DATASETS, SYNTHETIC))}, "
        "or give the path of a .csv file."
    )


def load_training_data(spec: DataSpec, *, progress: bool | None = None,
                       keep_missing: bool = False) -> TrainingData:
    """Load (or generate) the dataset ``spec`` names.

    ``keep_missing=True`` leaves a CSV file's missing numbers NaN when ``spec``
    does not standardise (for cross-validation, which standardises fold by fold)."""
    kind = data_kind(spec.name)
    for name in ("max_train", "max_test"):
        value = getattr(spec, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 1):
            raise UsageError(f"{name} must be a positive whole number, not {value!r}.",
                             hints=[Hint(name)])
    if not (isinstance(spec.val_fraction, int | float) and 0 <= spec.val_fraction < 1):
        raise UsageError(f"val_fraction is a share of the training set in [0, 1), not "
                         f"{spec.val_fraction!r}.", hints=[Hint("val_fraction")])
    loaded = (_csv_data(spec, progress, keep_missing=keep_missing) if kind == "table"
              else _LOADERS[kind](spec, progress))
    data = _limited(loaded, spec.max_train, spec.max_test)
    return _validation(data, spec.val_fraction, spec.seed) if spec.val_fraction else data


def _validation(data: TrainingData, fraction: float, seed: int) -> TrainingData:
    """``data`` with a random ``fraction`` of its training set held out in place of the test
    set (which is dropped: settings chosen on the result never saw it)."""
    n = len(data.train_X)
    k = round(n * fraction)
    if not 0 < k < n:
        raise UsageError(f"val_fraction={fraction:g} of {n} training examples leaves "
                         f"{k} to validate on and {n - k} to train on; both need at least one.",
                         hints=[Hint("val_fraction")])
    order = torch.randperm(n, generator=torch.Generator().manual_seed(
        derive_seed(seed, VALIDATION)))
    val, train = order[:k].sort().values, order[k:].sort().values
    return dataclasses.replace(
        data, train_X=data.train_X[train], train_y=data.train_y[train],
        test_X=data.train_X[val], test_y=data.train_y[val], eval_name="val",
        details={**data.details, "validation": f"{k} of the {n} training examples"})


def _limited(data: TrainingData, max_train: int | None, max_test: int | None) -> TrainingData:
    """Keep the first ``max_train`` / ``max_test`` examples (copies, so the rest is freed)."""
    if max_train is not None and max_train < len(data.train_X):
        data.train_X, data.train_y = data.train_X[:max_train].clone(), data.train_y[:max_train]
    if max_test is not None and max_test < len(data.test_X):
        data.test_X, data.test_y = data.test_X[:max_test].clone(), data.test_y[:max_test]
    return data


def _image_data(spec: DataSpec, progress) -> TrainingData:
    data = load_image_dataset(
        spec.name, data_dir=spec.data_dir, resize=spec.resize, normalize=spec.normalize,
        verify=spec.verify, progress=progress,
    )
    return TrainingData(
        name=spec.name,
        train_X=data.train_images, train_y=data.train_labels,
        test_X=data.test_images, test_y=data.test_labels,
        task="classification", classes=tuple(data.classes),
        mean=data.mean, std=data.std,
        details={"directory": str(data.directory), "source": data.source,
                 "verified": data.verified},
    )


def _synthetic_data(spec: DataSpec, progress=None) -> TrainingData:
    if not isinstance(spec.num_examples, int) or spec.num_examples < 1:
        raise UsageError(f"num_examples must be a positive integer, not {spec.num_examples}.",
                         hints=[Hint("num_examples")])
    if not (math.isfinite(spec.noise) and spec.noise >= 0):
        raise UsageError(f"noise is a standard deviation, 0 or more, not {spec.noise}.",
                         hints=[Hint("noise")])
    w = torch.tensor(TRUE_W)
    train = synthetic_data(w, TRUE_B, spec.num_examples, noise=spec.noise,
                           seed=derive_seed(spec.seed, TRAIN_DATA))
    test = synthetic_data(w, TRUE_B, spec.num_examples, noise=spec.noise,
                          seed=derive_seed(spec.seed, TEST_DATA))
    return TrainingData(
        name=SYNTHETIC, train_X=train[0], train_y=train[1], test_X=test[0], test_y=test[1],
        task="regression", classes=None, true_w=w, true_b=TRUE_B,
        details={"formula": "y = X w + b + N(0, noise^2)", "w": list(TRUE_W), "b": TRUE_B,
                 "noise": spec.noise},
    )


def _csv_data(spec: DataSpec, progress=None, *, keep_missing: bool = False) -> TrainingData:
    path = Path(os.path.expanduser(spec.name))
    data = read_csv_dataset(path, label_column=spec.label_column, task=spec.task,
                            categorical=spec.categorical, drop_columns=spec.drop_columns,
                            target_transform=spec.target_transform)
    split = train_test_split(data, test_fraction=spec.test_fraction, seed=spec.seed,
                             standardize=spec.standardize, keep_missing=keep_missing)
    return TrainingData(
        name=str(path),
        train_X=split.train.features, train_y=split.train.targets,
        test_X=split.test.features, test_y=split.test.targets,
        task=data.task, classes=data.classes,
        details={"features": list(data.feature_names), "target": data.target_name,
                 "rows": len(data),
                 **({"target_transform": data.target_transform}
                    if data.target_transform != "none" else {})},
        categorical_columns=data.categorical_columns, target_transform=data.target_transform,
    )


#: data kind -> its loader
_LOADERS = {"image": _image_data, "synthetic": _synthetic_data, "table": _csv_data}
