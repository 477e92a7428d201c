"""Search spaces: the distribution syntax, the checks before any trial, and what a draw sets."""

from __future__ import annotations

import json

import optuna
import pytest

from shallownet.errors import UsageError
from shallownet.training.config import RunConfig
from shallownet.tune.space import SearchSpace, is_distribution, parse_param, read_space_file


def mlp() -> RunConfig:
    return RunConfig.from_dict({"model": {"model": "mlp"}})


@pytest.mark.parametrize("text, fields", [
    ("log:1e-3:1", {"distribution": "log", "low": 1e-3, "high": 1.0, "step": None}),
    ("float:0:0.5:0.1", {"distribution": "float", "low": 0.0, "high": 0.5, "step": 0.1}),
    ("choice:0.01,0.1", {"distribution": "choice", "values": (0.01, 0.1)}),
])
def test_a_learning_rate_takes_numbers(text, fields):
    param = parse_param("lr", text)
    for name, value in fields.items():
        assert getattr(param, name) == value
    assert parse_param("lr", param.text) == param  # the text it records reads back the same


def test_widths_and_lists_are_written_with_a_slash():
    assert parse_param("hidden", "choice:256,512/256").values == ((256,), (512, 256))
    assert parse_param("augment", "choice:none,crop,crop/flip").values == \
        ((), ("crop",), ("crop", "flip"))
    assert parse_param("batch-size", "logint:32:512").name == "batch_size"


@pytest.mark.parametrize("name, text, words", [
    ("foo", "log:1:2", "foo cannot be searched"),
    ("lr", "log:1:0.5", "empty range"),
    ("lr", "float:0.5:0.5", "empty range"),
    ("lr", "log:0:1", "a log scale starts above 0"),
    ("lr", "int:1:5", "int: does not fit it"),
    ("epochs", "float:1:5", "float: does not fit it"),
    ("optimizer", "float:0:1", "use choice:"),
    ("lr", "log:1e-3", "write log:LOW:HIGH"),
    ("lr", "float:a:b", "are numbers"),
    ("lr", "float:0:inf", "finite"),
    ("lr", "float:0:1:2", "STEP must lie in"),
    ("hidden", "choice:a,b", "is not a width"),
    ("lr", "choice:", "list the values"),
    ("lr", "choice:0.1,0.1", "lists a value twice"),
    ("lr", "0.1", "is not a distribution"),
])
def test_a_bad_distribution_is_refused_naming_the_option(name, text, words):
    with pytest.raises(UsageError, match=words):
        parse_param(name, text)


def test_an_empty_space_is_refused():
    with pytest.raises(UsageError, match="the search space is empty"):
        SearchSpace({})


def test_every_value_is_checked_against_the_registry_before_any_trial():
    SearchSpace({"dropout": "float:0:0.5", "hidden": "choice:64,128"}).check(mlp())
    with pytest.raises(UsageError, match=r"dropout='float:0:1\.5': with 1\.5, dropout"):
        SearchSpace({"dropout": "float:0:1.5"}).check(mlp())
    with pytest.raises(UsageError, match="layers repeats the hidden width of an MLP; softmax"):
        SearchSpace({"layers": "int:1:3"}).check(RunConfig())


def test_a_draw_sets_the_options_of_a_run():
    space = SearchSpace({"lr": "log:1e-3:1", "hidden": "choice:64,128", "layers": "int:1:3",
                         "schedule": "choice:constant,cosine", "epochs": "int:2:5"})
    config = space.apply(mlp(), {"lr": 0.05, "hidden": (64,), "layers": 3,
                                 "schedule": "cosine", "epochs": 4}).resolved()
    assert config.model.lr == 0.05
    assert config.model.hidden == (64, 64, 64)
    assert config.train.schedule == "cosine"
    assert config.train.epochs == 4


def test_an_optuna_trial_draws_from_each_distribution_within_its_bounds():
    space = SearchSpace({"lr": "log:1e-3:1", "hidden": "choice:64,512/256",
                         "batch_size": "logint:16:256", "dropout": "float:0:0.5:0.1"})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        values = space.suggest(trial)
        assert 1e-3 <= values["lr"] <= 1
        assert values["hidden"] in ((64,), (512, 256))
        assert 16 <= values["batch_size"] <= 256 and isinstance(values["batch_size"], int)
        assert round(values["dropout"] * 10) == pytest.approx(values["dropout"] * 10)
        assert space.values(trial.params) == values  # what the study records reads back
        study.tell(trial, 0.0)


def test_a_grid_takes_every_value_and_needs_a_step_for_a_range():
    space = SearchSpace({"lr": "float:0.1:0.3:0.1", "hidden": "choice:64,512/256",
                         "epochs": "int:2:4"})
    assert space.grid() == {"lr": [0.1, 0.2, 0.3], "hidden": ["64", "512/256"],
                            "epochs": [2, 3, 4]}
    with pytest.raises(UsageError, match="has infinitely many"):
        SearchSpace({"lr": "log:1e-3:1"}).grid()


def test_differences_name_each_option_that_changed():
    space = SearchSpace({"lr": "log:1e-3:1", "dropout": "float:0:0.5"})
    assert space.differences(space.texts()) == []
    lines = space.differences({"lr": "log:0.01:1", "hidden": "choice:64,128"})
    assert lines == ["lr: log:0.01:1 in the study, log:0.001:1 now",
                     "dropout: not searched in the study, float:0:0.5 now",
                     "hidden: choice:64,128 in the study, not searched now"]


def test_is_distribution():
    assert is_distribution("log:1e-3:1") and is_distribution("choice:a,b")
    assert not is_distribution("0.1") and not is_distribution("logistic") \
        and not is_distribution("runs/a:b")


def test_a_space_file_in_toml_or_json_holds_the_space_and_fixed_options(tmp_path):
    toml = tmp_path / "space.toml"
    toml.write_text('lr = "log:1e-3:1"\nhidden = "choice:128,256"\nepochs = 5\n'
                    'optimizer = "adam"\nnormalize = true\n')
    space, fixed = read_space_file(toml)
    assert space == {"lr": "log:1e-3:1", "hidden": "choice:128,256"}
    assert fixed == {"epochs": 5, "optimizer": "adam", "normalize": True}
    js = tmp_path / "space.json"
    js.write_text(json.dumps({"batch-size": "logint:32:256", "model": "mlp"}))
    assert read_space_file(js) == ({"batch_size": "logint:32:256"}, {"model": "mlp"})


@pytest.mark.parametrize("name, text, words", [
    ("bad.toml", "lr = ", "is not valid TOML"),
    ("bad.json", "[1, 2]", "must hold a table of options"),
    ("bad.json", "{", "is not valid JSON"),
    ("nested.toml", "[lr]\nlow = 1\n", "neither a distribution nor a value"),
])
def test_a_bad_space_file_is_refused(tmp_path, name, text, words):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UsageError, match=words):
        read_space_file(path)


def test_a_missing_space_file_is_refused(tmp_path):
    with pytest.raises(UsageError, match="cannot read the search space"):
        read_space_file(tmp_path / "nothing.toml")
