"""Run configs: to and from JSON, refusing anything malformed; the book's settings."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from shallownet.errors import RunConfigError, UsageError
from shallownet.registry import ModelConfig
from shallownet.training.config import RunConfig, TrainSettings
from shallownet.training.data import DataSpec

CONFIGS = {
    "defaults": RunConfig(),
    "mlp": RunConfig(
        model=ModelConfig(model="mlp", impl="concise", hidden=(64, 32), dropout=(0.2, 0.5),
                          activation="tanh", optimizer="adam", betas=(0.8, 0.99), eps=1e-6,
                          weight_decay=1e-4, init="xavier"),
        data=DataSpec(name="mnist", data_dir="/data", resize=14, normalize=True, verify=False,
                      max_train=500, max_test=100, seed=3),
        train=TrainSettings(epochs=4, batch_size=64, seed=7, device="cpu"),
    ),
    "linreg": RunConfig(
        model=ModelConfig(model="linreg", loss="huber", huber_delta=0.5, lr=0.03,
                          backward="autograd", optimizer="momentum", momentum=0.5),
        data=DataSpec(name="synthetic-linear", num_examples=50, noise=0.1),
        train=TrainSettings(epochs=3, batch_size=10),
    ),
    "csv": RunConfig(
        model=ModelConfig(model="logreg", impl="scratch", init="equal", init_value=0.0),
        data=DataSpec(name="data/heart.csv", label_column="target", task="classification",
                      test_fraction=0.3, standardize=False),
        train=TrainSettings(epochs=2, batch_size=32),
    ),
    "lenet": RunConfig(model=ModelConfig(model="lenet", pool="avg", activation="sigmoid"),
                       train=TrainSettings(seed=0)),
    "hand": RunConfig(model=ModelConfig(model="mlp", hidden=(128,), backward="hand",
                                        log_softmax=False)),
}


def json_round_trip(config: RunConfig) -> RunConfig:
    return RunConfig.from_dict(json.loads(json.dumps(config.to_dict())))


def with_value(section: str, key: str, value) -> dict:
    d = json.loads(json.dumps(RunConfig().resolved().to_dict()))
    d[section][key] = value
    return d


# -- round trip -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONFIGS)
def test_json_round_trip_equals_the_resolved_config(name):
    config = CONFIGS[name]
    resolved = config.resolved()
    assert json_round_trip(config) == resolved
    assert json_round_trip(resolved) == resolved


def test_round_trip_keeps_tuples_as_tuples():
    back = json_round_trip(CONFIGS["mlp"])
    assert back.model.hidden == (64, 32) and isinstance(back.model.hidden, tuple)
    assert back.model.dropout == (0.2, 0.5) and isinstance(back.model.dropout, tuple)
    assert back.model.betas == (0.8, 0.99) and isinstance(back.model.betas, tuple)


def test_resolved_fills_in_the_model_defaults():
    resolved = RunConfig(model=ModelConfig(model="linreg"),
                         data=DataSpec("synthetic-linear")).resolved()
    assert resolved.model.loss == "squared"
    assert resolved.model.lr == 0.03
    assert resolved.model.init == "normal"
    assert RunConfig(model=ModelConfig(optimizer="adam")).resolved().model.lr == 1e-3


def test_from_dict_accepts_missing_sections_and_keys_as_defaults():
    assert RunConfig.from_dict({}) == RunConfig().resolved()
    config = RunConfig.from_dict({"train": {"epochs": 2}})
    assert config.train == TrainSettings(epochs=2, batch_size=256)
    assert config.model == ModelConfig().resolved()


def test_to_dict_is_plain_json():
    d = CONFIGS["mlp"].resolved().to_dict()
    assert set(d) == {"model", "data", "train"}
    assert json.loads(json.dumps(d, allow_nan=False))["model"]["hidden"] == [64, 32]


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [None, [], "config", 3])
def test_a_config_that_is_not_an_object_is_refused(d):
    with pytest.raises(RunConfigError, match="JSON object"):
        RunConfig.from_dict(d)


def test_unknown_sections_are_refused():
    with pytest.raises(RunConfigError, match="unknown section.*optimiser"):
        RunConfig.from_dict({"model": {}, "optimiser": {}})


@pytest.mark.parametrize("section", ["model", "data", "train"])
def test_unknown_keys_are_refused(section):
    with pytest.raises(RunConfigError, match=f"{section}: unknown key.*colour"):
        RunConfig.from_dict({section: {"colour": "blue"}})


@pytest.mark.parametrize("section", ["model", "data", "train"])
def test_a_section_that_is_not_an_object_is_refused(section):
    with pytest.raises(RunConfigError, match=f"{section} must be a JSON object"):
        RunConfig.from_dict({section: [1, 2]})


@pytest.mark.parametrize(("section", "key", "value"), [
    ("model", "lr", "fast"),
    ("model", "lr", [0.1]),
    ("model", "lr", True),
    ("model", "lr", {"value": 0.1}),
    ("model", "momentum", "0.5"),
    ("model", "weight_decay", "0"),
    ("model", "hidden", 256),
    ("model", "hidden", ["a"]),
    ("model", "hidden", [True]),
    ("model", "betas", "0.9"),
    ("model", "log_softmax", 1),
    ("model", "log_softmax", "false"),
    ("model", "model", 5),
    ("model", "model", "resnet"),
    ("train", "epochs", [3]),
    ("train", "epochs", "3"),
    ("train", "epochs", 3.0),
    ("train", "epochs", True),
    ("train", "batch_size", False),
    ("train", "seed", "1"),
    ("train", "device", 0),
    ("data", "normalize", "yes"),
    ("data", "verify", 0),
    ("data", "standardize", None),
])
def test_values_of_the_wrong_type_are_refused(section, key, value):
    with pytest.raises(RunConfigError, match="config"):
        RunConfig.from_dict(with_value(section, key, value))


@pytest.mark.parametrize(("section", "key"), [("model", "lr"), ("model", "eps"),
                                              ("model", "huber_delta"), ("data", "noise")])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(section, key, value):
    # json.loads accepts NaN and Infinity, so a config.json can hold them
    d = json.loads(json.dumps(with_value(section, key, value)))
    with pytest.raises(RunConfigError, match="finite"):
        RunConfig.from_dict(d)


@pytest.mark.parametrize("value", ["0.1", "1e-2"])
def test_a_string_learning_rate_is_refused(value):
    with pytest.raises(RunConfigError):
        RunConfig.from_dict(with_value("model", "lr", value))


@pytest.mark.parametrize(("key", "value"), [("name", 5), ("noise", "0.1"),
                                            ("num_examples", "100"), ("seed", "1"),
                                            ("test_fraction", "0.2"), ("max_train", 2.5)])
def test_data_values_of_the_wrong_type_are_refused(key, value):
    with pytest.raises(RunConfigError):
        RunConfig.from_dict(with_value("data", key, value))


def test_a_fractional_hidden_width_is_refused():
    with pytest.raises(RunConfigError):
        RunConfig.from_dict(with_value("model", "hidden", [1.5]))


@pytest.mark.parametrize(("section", "key", "value", "match"), [
    ("model", "lr", -1, "learning rate"),
    ("model", "lr", 0, "learning rate"),
    ("model", "momentum", 1.0, "momentum"),
    ("model", "dropout", [1.0], "dropout"),
    ("model", "hidden", [0], "hidden"),
    ("model", "init", "zeros", "initialisation"),
    ("model", "optimizer", "rmsprop", "optimiser"),
    ("model", "impl", "numpy", "implementation"),
    ("model", "loss", "squared", "trains with"),
    ("model", "backward", "hand-written", "backward"),
    ("train", "epochs", 0, "epochs"),
    ("train", "batch_size", -5, "batch_size"),
    ("train", "step", "compiled", "unknown step"),
    ("train", "seed", -1, "seed"),
])
def test_bad_values_are_refused(section, key, value, match):
    with pytest.raises(RunConfigError, match=match):
        RunConfig.from_dict(with_value(section, key, value))


def test_the_source_is_named_in_the_error():
    with pytest.raises(RunConfigError, match="runs/x/config.json"):
        RunConfig.from_dict(with_value("train", "epochs", 0), source="runs/x/config.json")


# -- the book's defaults --------------------------------------------------------------------


@pytest.mark.parametrize(("model", "data", "expected"), [
    ("linreg", "synthetic-linear", (3, 10, 0.03)),
    ("softmax", "data/wine.csv", (10, 32, 0.1)),
    ("logreg", "UPPER.CSV", (10, 32, 0.1)),
    ("linreg", "house.csv", (10, 32, 0.03)),
    ("softmax", "fashion-mnist", (10, 256, 0.1)),
    ("mlp", "mnist", (10, 256, 0.1)),
    ("lenet", "fashion-mnist", (10, 256, 0.1)),
])
def test_resolved_fills_epochs_batch_and_lr_from_the_book(model, data, expected):
    config = RunConfig(ModelConfig(model=model), DataSpec(data)).resolved()
    assert (config.train.epochs, config.train.batch_size, config.model.lr) == expected


def test_resolved_keeps_what_is_given():
    config = RunConfig(ModelConfig(model="linreg", lr=0.5), DataSpec("synthetic-linear"),
                       TrainSettings(epochs=7, batch_size=3)).resolved()
    assert (config.train.epochs, config.train.batch_size, config.model.lr) == (7, 3, 0.5)


def test_an_existing_csv_without_the_suffix_is_a_table(tmp_path):
    path = tmp_path / "table.txt"
    path.write_text("1,2\n3,4\n")
    config = RunConfig(ModelConfig(model="softmax"), DataSpec(str(path))).resolved()
    assert (config.train.epochs, config.train.batch_size) == (10, 32)


def test_an_unknown_dataset_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown dataset"):
        RunConfig(data=DataSpec("cifar-10")).resolved()


@pytest.mark.parametrize(("model", "data", "match"), [
    ("linreg", "fashion-mnist", "trains on the synthetic data or tables of features, but the "
                                "dataset fashion-mnist is an image dataset. Use model='softmax'"),
    ("softmax", "synthetic-linear", "is the synthetic regression data.*Use model='linreg'"),
    ("lenet", "data.csv", "lenet .* trains on images, but the dataset .* is a table"),
    ("logreg", "mnist", "logreg .* trains on tables of features, but .* is an image dataset"),
])
def test_resolved_refuses_a_model_for_another_kind_of_data(model, data, match):
    with pytest.raises(UsageError, match=match):
        RunConfig(ModelConfig(model=model), DataSpec(data)).resolved()


def test_a_config_saved_with_the_old_kernel_flag_reads_as_a_step():
    assert RunConfig.from_dict({"train": {"kernel": True}}).train.step == "kernel"
    assert RunConfig.from_dict({"train": {"kernel": False}}).train.step == "auto"
    with pytest.raises(RunConfigError, match="kernel must be true or false"):
        RunConfig.from_dict({"train": {"kernel": "yes"}})


# -- TrainSettings.check -------------------------------------------------------------------------


def test_train_settings_check_returns_itself():
    settings = TrainSettings(epochs=1, batch_size=1, seed=0, device="cpu")
    assert settings.check() is settings


@pytest.mark.parametrize(("changes", "match"), [
    ({"epochs": 0}, "epochs"),
    ({"epochs": -3}, "epochs"),
    ({"epochs": 2.0}, "epochs"),
    ({"epochs": True}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": "32"}, "batch_size"),
    ({"seed": -1}, "seed"),
    ({"seed": 0.5}, "seed"),
    ({"seed": False}, "seed"),
    ({"seed": 2**64}, "seed"),  # beyond what torch's generators take
    ({"device": None}, "device"),
    ({"device": 0}, "device"),
    ({"step": "fast"}, "unknown step"),
])
def test_train_settings_check_errors(changes, match):
    with pytest.raises(UsageError, match=match):
        dataclasses.replace(TrainSettings(), **changes).check()
