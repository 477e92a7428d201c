"""shallownet.sklearn: scikit-learn's own estimator checks, and the estimators in real use
(labels of any type, reproducibility, cross_val_score on a CSV file, GridSearchCV, Pipeline)."""

from __future__ import annotations

import doctest
import importlib
import os
import sys

import numpy as np
import pytest
import torch

if not os.environ.get("CI"):
    pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import shallownet.sklearn as shallow_sklearn  # noqa: E402
from shallownet.data.tabular import read_csv_dataset  # noqa: E402
from shallownet.errors import TrainingDiverged  # noqa: E402
from shallownet.sklearn import (  # noqa: E402
    ShallowClassifier,
    ShallowRegressor,
    expected_failed_checks,
)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The checks run hundreds of fits on tiny arrays; on a busy machine the threads' hand-offs
    cost more than the arithmetic, so this module trains on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- scikit-learn's conformance suite ---------------------------------------------------------

CHECKED = [
    ShallowClassifier(epochs=10),  # softmax regression, scratch tier, fused SGD
    ShallowClassifier("mlp", hidden=(16,), dropout=0.1, epochs=10),  # autograd + dropout
    ShallowClassifier("logreg", impl="concise", epochs=10),  # binary only (sigmoid + BCE)
    ShallowRegressor(epochs=10),
    ShallowRegressor("huber", impl="concise", optimizer="adam", lr=0.05, epochs=10),
]


@parametrize_with_checks(CHECKED, expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# -- data -------------------------------------------------------------------------------------


def blobs(n=240, classes=3, seed=0):
    X, y = make_blobs(n_samples=n, centers=classes, n_features=4, cluster_std=2.0,
                      random_state=seed)
    return X * [1.0, 10.0, 100.0, 0.1], y  # features on very different scales


def linear_problem(n=600, noise=1.0, seed=0):
    """``y = X w + b + N(0, noise²)`` with ``X ~ N(0, diag(scales²))``, and its true R²."""
    rng = np.random.default_rng(seed)
    scales = np.array([1.0, 5.0, 0.2, 50.0])
    w = np.array([2.0, -0.6, 10.0, 0.04])
    X = rng.normal(size=(n, 4)) * scales
    y = X @ w + 4.2 + rng.normal(scale=noise, size=n)
    signal = float(np.sum((w * scales) ** 2))
    return X, y, w, signal / (signal + noise**2)


def write_diabetes_csv(path, n=400, seed=0):
    """A headerless CSV like the PyTorch course's diabetes.csv: 8 feature columns scaled to
    about [-1, 1], then a 0/1 label drawn from a known logistic model."""
    rng = np.random.default_rng(seed)
    X = np.clip(rng.normal(scale=0.4, size=(n, 8)), -1, 1)
    w = np.array([3.0, -2.0, 1.5, 0.0, 2.5, -1.0, 0.5, 2.0])
    p = 1 / (1 + np.exp(-(X @ w + 0.6)))
    y = (rng.random(n) < p).astype(int)
    rows = [",".join([*(f"{v:.6f}" for v in x), str(t)]) for x, t in zip(X, y, strict=True)]
    path.write_text("\n".join(rows) + "\n")
    return path


# -- fit, predict, predict_proba --------------------------------------------------------------


@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_multiclass_outputs_have_the_right_shapes_and_agree(model):
    X, y = blobs(classes=4)
    # the book's normal(0, 0.01) start makes a small MLP slow to leave the origin: Xavier
    clf = ShallowClassifier(model, hidden=(16,), init="xavier", random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(proba >= 0)
    pred = clf.predict(X)
    assert pred.shape == (len(X),)
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    np.testing.assert_array_equal(clf.decision_function(X).argmax(axis=1), proba.argmax(axis=1))
    assert clf.score(X, y) > 0.9
    # the book's defaults for a table (shallownet.defaults), as shallownet train on a CSV file
    assert clf.n_features_in_ == 4 and clf.n_iter_ == 10 and len(clf.history_) == 10
    assert clf.batch_size_ == 32 and clf.config_.lr == 0.1


def test_string_labels_round_trip_in_classes_order():
    X, y = blobs(classes=3)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = ShallowClassifier(epochs=20, random_state=0).fit(X, names)
    np.testing.assert_array_equal(clf.classes_, ["setosa", "versicolor", "virginica"])
    pred = clf.predict(X)
    assert set(pred) <= set(clf.classes_) and pred.dtype == names.dtype
    assert np.mean(pred == names) > 0.9
    # column k of predict_proba is the probability of classes_[k]
    proba = clf.predict_proba(X)
    for k, name in enumerate(clf.classes_):
        assert proba[names == name, k].mean() > 0.8


def test_logreg_is_a_sigmoid_over_two_classes():
    X, y = blobs(classes=2)
    labels = np.where(y == 1, "yes", "no")
    clf = ShallowClassifier("logreg", random_state=0).fit(X, labels)
    assert clf.config_.model == "logreg" and clf.config_.loss == "bce"
    z = clf.decision_function(X)
    assert z.shape == (len(X),)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), np.where(z > 0, "yes", "no"))
    assert clf.score(X, labels) > 0.9


def test_logreg_refuses_three_classes_and_every_model_one_class():
    X, y = blobs(classes=3)
    with pytest.raises(ValueError, match="Only binary classification"):
        ShallowClassifier("logreg").fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        ShallowClassifier().fit(X, np.zeros(len(X)))


def test_regressor_recovers_the_generating_line():
    X, y, w, _ = linear_problem(noise=0.01)
    reg = ShallowRegressor(random_state=0).fit(X, y)
    np.testing.assert_allclose(reg.coef_, w, rtol=0.02)  # in the units of X and y
    assert reg.intercept_ == pytest.approx(4.2, abs=0.05)
    assert reg.score(X, y) > 0.99
    pred = reg.predict(X)
    assert pred.shape == (len(X),) and pred.dtype == np.float64
    # without any scaling, on features of unit scale, SGD still finds the line
    scales = X.std(axis=0)
    raw = ShallowRegressor(standardize=False, standardize_target=False, random_state=0)
    raw.fit(X / scales, y)
    assert (raw.y_mean_, raw.y_scale_, raw.scaler_) == (0.0, 1.0, None)
    np.testing.assert_allclose(raw.coef_, w * scales, rtol=0.02)
    assert raw.intercept_ == pytest.approx(4.2, abs=0.05)


@pytest.mark.filterwarnings("ignore:the training loss grew")
def test_regressor_losses_and_target_scaling():
    X, y, _, _ = linear_problem(noise=0.5)
    y = 1000 * y  # large units: the standardised target keeps the default lr usable
    for loss in ("squared", "l1", "huber"):
        assert ShallowRegressor(loss, random_state=0).fit(X, y).score(X, y) > 0.95
    with pytest.raises(TrainingDiverged, match="learning rate"):
        ShallowRegressor(lr=10.0, random_state=0).fit(X, y)


# -- parameters, reproducibility --------------------------------------------------------------


def test_same_random_state_same_model_and_torch_generator_left_alone():
    X, y = blobs()
    kwargs = dict(model="mlp", hidden=(8,), dropout=0.2, epochs=5)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = ShallowClassifier(random_state=7, **kwargs).fit(X, y).predict_proba(X)
    b = ShallowClassifier(random_state=7, **kwargs).fit(X, y).predict_proba(X)
    c = ShallowClassifier(random_state=8, **kwargs).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert torch.equal(torch.get_rng_state(), before)
    # random_state=None draws its seeds from numpy's global generator
    np.random.seed(5)
    d = ShallowClassifier(**kwargs).fit(X, y).predict_proba(X)
    e = ShallowClassifier(**kwargs).fit(X, y).predict_proba(X)
    np.random.seed(5)
    f = ShallowClassifier(**kwargs).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(d, f)
    assert not np.array_equal(d, e)


def test_get_set_params_and_clone():
    clf = ShallowClassifier("mlp", hidden=(32, 16), lr=0.05, random_state=3)
    params = clf.get_params()
    assert params["model"] == "mlp" and params["hidden"] == (32, 16) and params["lr"] == 0.05
    assert set(params) >= {"impl", "activation", "dropout", "optimizer", "weight_decay",
                           "epochs", "batch_size", "standardize", "validation_fraction",
                           "random_state", "device", "verbose"}
    assert clf.set_params(lr=0.2, epochs=3) is clf and clf.lr == 0.2 and clf.epochs == 3
    X, y = blobs()
    fitted = clf.fit(X, y)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "model_") and hasattr(fitted, "model_")
    np.testing.assert_array_equal(copy.fit(X, y).predict_proba(X), fitted.predict_proba(X))
    assert set(ShallowRegressor().get_params()) >= {"loss", "huber_delta", "standardize_target"}


@pytest.mark.parametrize(
    "estimator",
    [
        ShallowClassifier(model="lenet"),
        ShallowClassifier(model="linreg"),
        ShallowClassifier(impl="numpy"),
        ShallowClassifier("mlp", hidden=(0,)),
        ShallowClassifier("mlp", hidden="wide"),
        ShallowClassifier("mlp", dropout=1.0),
        ShallowClassifier("mlp", activation="gelu"),
        ShallowClassifier(optimizer="rmsprop"),
        ShallowClassifier(lr=-0.1),
        ShallowClassifier(lr=float("nan")),
        ShallowClassifier(weight_decay=-1.0),
        ShallowClassifier(init="zeros"),
        ShallowClassifier(epochs=0),
        ShallowClassifier(batch_size=2.5),
        ShallowClassifier(standardize="yes"),
        ShallowClassifier(validation_fraction=1.0),
        ShallowClassifier(random_state="seed"),
        ShallowClassifier(device="tpu"),
        ShallowRegressor(loss="hinge"),
        ShallowRegressor(huber_delta=0.0, loss="huber"),
        ShallowRegressor(standardize_target=None),
    ],
    ids=repr,
)
def test_invalid_parameters_raise_value_error_in_fit(estimator):
    X, y = blobs(n=30, classes=2)
    with pytest.raises(ValueError):
        estimator.fit(X, y)


def test_nan_inf_and_float32_overflow_are_value_errors():
    X, y = blobs(n=30, classes=2)
    for bad in (np.nan, np.inf):
        Xb = X.copy()
        Xb[3, 1] = bad
        with pytest.raises(ValueError):
            ShallowClassifier().fit(Xb, y)
    with pytest.raises(ValueError, match="float32"):
        ShallowClassifier(standardize=False).fit(X * 1e300, y)


def test_validation_fraction_reports_held_out_figures():
    X, y = blobs()
    clf = ShallowClassifier(validation_fraction=0.25, epochs=4, random_state=0).fit(X, y)
    assert [r["epoch"] for r in clf.history_] == [1, 2, 3, 4]
    assert {"train_loss", "train_acc", "val_loss", "val_acc"} <= set(clf.history_[-1])
    assert clf.history_[-1]["val_acc"] > 0.8
    default = ShallowClassifier(epochs=2, random_state=0).fit(X, y)
    assert {"train_eval_loss", "train_eval_acc"} <= set(default.history_[-1])


def test_verbose_prints_one_line_per_epoch(capsys):
    X, y = blobs(n=60)
    ShallowClassifier(epochs=3, verbose=True, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
    ShallowClassifier(epochs=3, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""


# -- in scikit-learn's tools ------------------------------------------------------------------


def test_cross_val_score_on_a_csv_file_matches_logistic_regression(tmp_path):
    data = read_csv_dataset(write_diabetes_csv(tmp_path / "diabetes.csv"))
    assert data.task == "classification" and data.features.shape == (400, 8)
    X, y = data.features.numpy(), data.targets.numpy()
    majority = max(np.mean(y), 1 - np.mean(y))

    scores = cross_val_score(ShallowClassifier("logreg", random_state=0), X, y, cv=5)
    reference = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()), X, y,
                                cv=5)
    assert scores.shape == (5,) and np.all(np.isfinite(scores))
    assert np.all(scores > majority)
    assert scores.mean() > majority + 0.1
    assert abs(scores.mean() - reference.mean()) < 0.03


def test_grid_search_picks_the_learning_rate_that_learns():
    X, y = blobs()
    grid = GridSearchCV(
        ShallowClassifier("mlp", init="xavier", epochs=10, random_state=0),
        {"lr": [1e-4, 0.1], "hidden": [(8,), (32,)]},
        cv=3,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert grid.best_params_["lr"] == 0.1
    assert grid.best_score_ > 0.9
    assert grid.best_estimator_.predict(X).shape == (len(X),)
    low = [s for p, s in zip(grid.cv_results_["params"], grid.cv_results_["mean_test_score"],
                             strict=True) if p["lr"] == 1e-4]
    assert max(low) < grid.best_score_ - 0.2  # a step of 1e-4 barely moves the weights


def test_pipeline_with_standard_scaler_reaches_the_true_r2():
    X, y, _, true_r2 = linear_problem(n=800, noise=1.2)
    assert 0.9 < true_r2 < 0.97  # a problem where R² > 0.9 is possible but not trivial
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    pipe = make_pipeline(StandardScaler(), ShallowRegressor(standardize=False, random_state=0))
    r2 = pipe.fit(X_train, y_train).score(X_test, y_test)
    assert r2 > 0.9
    assert r2 == pytest.approx(true_r2, abs=0.03)


# -- the module -------------------------------------------------------------------------------


def test_docstring_examples_hold():
    result = doctest.testmod(shallow_sklearn, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_import_without_scikit_learn_says_what_to_install(monkeypatch):
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)  # makes `import sklearn...` fail
    monkeypatch.delitem(sys.modules, "shallownet.sklearn")
    with pytest.raises(ImportError, match=r"pip install shallownet\[sklearn\]"):
        importlib.import_module("shallownet.sklearn")
