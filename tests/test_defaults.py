"""One table of the book's defaults, and every way of training takes the same numbers from it.

For each case — linear regression on ``synthetic-linear``, a CSV table,
Fashion-MNIST — ``shallownet train``, ``train_run``, ``Trainer.from_config``, a
plain ``Trainer()`` and the scikit-learn estimators train with the same
epochs, batch size and learning rate. The estimators are given arrays: they
always see a table, and take the table's row.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shallownet.cli import build_parser
from shallownet.defaults import (
    BOOK_DEFAULTS,
    DATA_KINDS,
    DEFAULT_MODELS,
    book_defaults,
    defaults_sentence,
)
from shallownet.errors import UsageError
from shallownet.registry import MODELS, OPTIMIZERS, ModelConfig, build
from shallownet.sklearn import ShallowClassifier, ShallowRegressor
from shallownet.training import DataSpec, RunConfig, Trainer, load_training_data, train_run
from tests.cli.clitools import run
from tests.conftest import write_tiny_dataset

QUIET = {"log": False, "progress": False, "plots": False}


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("defaults") / "tiny"
    write_tiny_dataset(directory, n_train=40, n_test=10)
    return directory


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    path = tmp_path_factory.mktemp("csv") / "table.csv"
    path.write_text("a,b,c,label\n" + "".join(f"{a},{b},{c},{t}\n"
                                              for (a, b, c), t in zip(X, y, strict=True)))
    return path


def case_spec(case: str, idx_dir, csv_path) -> DataSpec:
    return {"synthetic": DataSpec("synthetic-linear", num_examples=50),
            "table": DataSpec(str(csv_path)),
            "image": DataSpec("fashion-mnist", data_dir=str(idx_dir), verify=False)}[case]


def cli_numbers(capsys, tmp_path, spec: DataSpec) -> tuple:
    argv = ["train", "--data", spec.name, "--out", tmp_path / "cli", "-q", "--no-plots"]
    if spec.data_dir:
        argv += ["--data-dir", spec.data_dir, "--no-verify"]
    if spec.name == "synthetic-linear":
        argv += ["--num-examples", spec.num_examples]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    saved = json.loads((tmp_path / "cli" / "config.json").read_text())
    rows = (tmp_path / "cli" / "metrics.csv").read_text().splitlines()[1:]
    return (len(rows), saved["train"]["batch_size"], saved["model"]["lr"]), saved


@pytest.mark.parametrize("case", ["synthetic", "table", "image"])
def test_every_way_of_training_takes_the_books_numbers(case, capsys, tmp_path, idx_dir,
                                                       csv_path):
    spec = case_spec(case, idx_dir, csv_path)
    model = DEFAULT_MODELS[case]
    expected = tuple(book_defaults(model, case))

    cli, saved = cli_numbers(capsys, tmp_path, spec)
    assert saved["model"]["model"] == model
    assert cli == expected

    result = train_run(RunConfig(data=spec, model=ModelConfig(model=model)), tmp_path / "lib",
                       **QUIET)
    assert (len(result.history), result.config.train.batch_size,
            result.config.model.lr) == expected

    config = RunConfig(data=spec, model=ModelConfig(model=model))
    trainer = Trainer.from_config(config, log=False, progress=False)
    assert (trainer.epochs, trainer.batch_size) == expected[:2]

    data = load_training_data(spec)
    setup = build(ModelConfig(model=model).resolved(case), input_shape=data.input_shape,
                  num_outputs=data.num_outputs, seed=0)
    plain = Trainer(log=False, progress=False)  # nothing given: the book's, at fit
    history = plain.fit(setup, data)
    assert (len(history), plain.batch_size, setup.config.lr) == expected


def test_the_estimators_train_as_the_command_line_does_on_the_same_table(capsys, tmp_path,
                                                                         csv_path):
    cli, _ = cli_numbers(capsys, tmp_path, DataSpec(str(csv_path)))
    table = np.loadtxt(csv_path, delimiter=",", skiprows=1)
    clf = ShallowClassifier(random_state=0).fit(table[:, :3], table[:, 3].astype(int))
    assert (clf.n_iter_, clf.batch_size_, clf.config_.lr) == cli
    reg = ShallowRegressor(random_state=0).fit(table[:, :2], table[:, 2])
    assert (reg.n_iter_, reg.batch_size_, reg.config_.lr) == tuple(book_defaults("linreg",
                                                                                 "table"))


@pytest.mark.parametrize("case", ["synthetic", "image"])
def test_the_estimators_see_a_table_whatever_the_arrays_came_from(case, idx_dir, csv_path):
    data = load_training_data(case_spec(case, idx_dir, csv_path))
    X = data.train_X.reshape(len(data.train_X), -1).numpy()
    if case == "synthetic":
        est = ShallowRegressor(random_state=0).fit(X, data.train_y.numpy().ravel())
        model = "linreg"
    else:
        est = ShallowClassifier(random_state=0).fit(X, data.train_y.numpy())
        model = "softmax"
    assert (est.n_iter_, est.batch_size_, est.config_.lr) == tuple(book_defaults(model,
                                                                                 "table"))


# --------------------------------------------------------------------------- the table


def test_the_table_has_a_row_for_every_model_on_every_kind_it_trains_on():
    for name, entry in MODELS.items():
        for kind in DATA_KINDS:
            for optimizer in OPTIMIZERS:
                has_row = (name, kind, optimizer) in BOOK_DEFAULTS
                assert has_row == (kind in entry.kinds), (name, kind, optimizer)


def test_a_model_on_data_it_cannot_train_on_has_no_defaults():
    with pytest.raises(UsageError, match="no defaults for model 'linreg' on image data"):
        book_defaults("linreg", "image")


def test_adam_starts_at_its_usual_rate():
    assert {d.lr for (m, k, o), d in BOOK_DEFAULTS.items() if o == "adam"} == {0.001}


def test_the_help_states_the_defaults_sentence():
    parser = build_parser()
    train = next(a for a in parser._subparsers._group_actions[0].choices.values()
                 if a.prog.endswith("train"))
    help_text = " ".join(train.format_help().split())
    assert " ".join(defaults_sentence().split()) in help_text


def test_the_readme_states_the_defaults_sentence():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert " ".join(defaults_sentence().split()) in " ".join(readme.split())


def test_the_sentence_says_what_the_table_holds():
    sentence = defaults_sentence()
    for kind, (epochs, batch, lr) in (("images", book_defaults("softmax", "image")),
                                      ("synthetic-linear", book_defaults("linreg", "synthetic")),
                                      ("CSV table", book_defaults("softmax", "table"))):
        assert f"{kind}" in sentence and f"{epochs} epochs of batch {batch}, lr {lr:g}" in sentence
    assert f"linreg lr {book_defaults('linreg', 'table').lr:g}" in sentence
