"""Fuzzing run configs: a run directory's ``config.json`` and ``RunConfig.from_dict``.

Fuzzed: ``RunDir.read_config`` then ``RunConfig.from_dict`` (with the
``shallownet`` and ``dataset`` keys set aside, as a run does) on arbitrary
bytes and on JSON-looking text (deep nesting, long numbers, NaN, a BOM); on
any JSON value; and on valid configs (from ``RunConfig(...).to_dict()``) with
one key replaced by any JSON value or an edge value (paths a home directory
cannot be found for, names too long for the file system, NUL bytes, 2**63,
1e308), removed, or added. ``_load_run`` (what ``train --resume`` reads from a
run stopped before its first checkpoint) is fuzzed the same way; and
``read_config`` on any run directory path.

Property: a config that loads is resolved and checked: written back to JSON
and read again it is the same config. Anything else is a
:class:`~shallownet.errors.RunConfigError` (or, for the run's dataset facts,
a :class:`~shallownet.errors.CheckpointError`) naming the file; never another
exception, a hang or a huge allocation.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from shallownet.errors import CheckpointError, RunConfigError
from shallownet.registry import ModelConfig
from shallownet.training.config import RunConfig, TrainSettings
from shallownet.training.data import DataSpec
from shallownet.training.run import _load_run
from shallownet.training.rundir import RunDir
from tests.fuzz.harness import (
    check_any_path,
    corpus,
    fuzz_settings,
    path_names,
    result_or_own_error,
)

VALID = [
    RunConfig(),
    RunConfig(model=ModelConfig(model="linreg", loss="huber"),
              data=DataSpec(name="synthetic-linear", num_examples=100),
              train=TrainSettings(epochs=3, batch_size=10, device="cpu")),
    RunConfig(model=ModelConfig(model="mlp", impl="concise", hidden=(8, 4), dropout=(0.1, 0.2),
                                optimizer="adam", weight_decay=1e-4),
              data=DataSpec(name="data/iris.csv", label_column="species", task="classification"),
              train=TrainSettings(epochs=2, batch_size=16, seed=3)),
    RunConfig(model=ModelConfig(model="lenet", pool="avg", optimizer="momentum"),
              data=DataSpec(name="mnist", data_dir="~/datasets", resize=32, max_train=100)),
]
DATASET = {"name": "synthetic-linear", "task": "regression", "classes": None,
           "input_shape": [2], "train_examples": 100, "test_examples": 100}

#: Strings and numbers that have broken path handling or range checks elsewhere.
EDGE_STRINGS = ("", "~", "~nosuchuser/data", "~nosuchuser/x.csv", "a" * 300,
                "a" * 300 + ".csv", "a\x00b.csv", "/", ".", "..", "fashion-mnist",
                "synthetic-linear", "x.csv", "softmax", "concise", "adam", "auto", "cpu",
                "cuda:99", "hand", "\udcff")
EDGE_NUMBERS = (0, 1, -1, 2**31, 2**63, -(2**63), 10**30, 0.0, -0.0, 0.5, 1.0, 1e-320, 1e308,
                -1e308, 0.999999)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=10), st.sampled_from(EDGE_STRINGS),
                    st.sampled_from(EDGE_NUMBERS))
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
KEYS = sorted({k for c in VALID for section in c.to_dict().values() for k in section})


def replacements(old) -> st.SearchStrategy:
    """Values to put in place of ``old``: mostly of its own kind (edge values first), or any."""
    if isinstance(old, bool):
        alike = st.booleans()
    elif isinstance(old, int | float):
        alike = st.one_of(st.sampled_from(EDGE_NUMBERS), st.integers(), st.floats())
    elif isinstance(old, list):
        alike = st.lists(st.one_of(st.sampled_from(EDGE_NUMBERS), st.floats()), max_size=4)
    else:  # strings, and None standing for a string or a number
        alike = st.one_of(st.sampled_from(EDGE_STRINGS), st.text(max_size=10),
                          st.sampled_from(EDGE_NUMBERS))
    return st.one_of(alike, alike, JSON_VALUES)


@st.composite
def mutated_configs(draw) -> dict:
    """A valid config dict with one value replaced, one key removed or one key added (the key
    may be an integer: a checkpoint's config is not JSON, it holds any pickled dict)."""
    d = json.loads(json.dumps(draw(st.sampled_from(VALID)).to_dict()))
    section = draw(st.sampled_from(["model", "data", "train", "model", "data", "train", None]))
    target = d if section is None else d[section]
    key = draw(st.one_of(st.sampled_from(sorted(target)), st.sampled_from(sorted(target)),
                         st.sampled_from(KEYS), st.text(max_size=8), st.integers(-1, 3)))
    if draw(st.integers(0, 5)) == 0:
        target.pop(key, None)
    else:
        target[key] = draw(replacements(target.get(key)))
    return d


JSONISH_TEXT = st.one_of(
    st.integers(1, 50_000).map(lambda n: "[" * n + "]" * (n % 7)),
    st.integers(1, 50_000).map(lambda n: '{"model": ' * n),
    st.integers(1, 10_000).map(lambda n: '{"train": {"epochs": ' + "9" * n + "}}"),
    st.sampled_from(['{"train": {"epochs": 1e999}}', '{"model": {"lr": NaN}}',
                     '{"model": {"lr": -Infinity}}', "\ufeff{}", "{}", "null", '"x"',
                     '{"model": {"hidden": [1e999]}}', '{"data": {"name": "\\u0000"}}',
                     '{"data": {"name": "\\ud800"}}']),
)


def config_bytes(value) -> bytes:
    """``value`` as the JSON a run writes (NaN allowed: Python's json writes it)."""
    return json.dumps(value).encode()


def check_config(config, path) -> None:
    """A loaded config is resolved, and survives being written as JSON and read back."""
    assert isinstance(config, RunConfig)
    assert config.resolved() == config
    again = json.loads(json.dumps(config.to_dict(), allow_nan=False))
    assert RunConfig.from_dict(again, source=str(path)) == config


def read_and_parse(run_dir) -> RunConfig:
    """config.json -> RunConfig, as a run reads it."""
    saved = RunDir(run_dir).read_config()
    if not isinstance(saved, dict):
        return RunConfig.from_dict(saved, source=str(RunDir(run_dir).config))
    saved = dict(saved)
    saved.pop("dataset", None)
    saved.pop("shallownet", None)
    return RunConfig.from_dict(saved, source=str(RunDir(run_dir).config))


def check_file(tmp_path, content: bytes) -> None:
    """The property for a run directory whose config.json holds ``content``."""
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    (run_dir / "config.json").write_bytes(content)
    outcome = result_or_own_error(lambda: read_and_parse(run_dir), label="config.json")
    if isinstance(outcome, Exception):
        assert isinstance(outcome, RunConfigError), repr(outcome)
        assert str(run_dir) in str(outcome)
    else:
        check_config(outcome, run_dir)
    outcome = result_or_own_error(lambda: _load_run(RunDir(run_dir), fresh=True),
                                  label="_load_run")
    if isinstance(outcome, Exception):
        assert isinstance(outcome, RunConfigError | CheckpointError), repr(outcome)
        assert str(run_dir) in str(outcome)
    else:
        state, config, facts = outcome
        assert state is None and isinstance(facts, dict)
        assert isinstance(facts["input_shape"], list)
        check_config(config, run_dir)


def check_dict(d) -> None:
    """The property for ``RunConfig.from_dict(d)`` on an object never written to a file."""
    outcome = result_or_own_error(lambda: RunConfig.from_dict(d, source="fuzzed.json"),
                                  label="from_dict")
    if isinstance(outcome, Exception):
        assert isinstance(outcome, RunConfigError), repr(outcome)
        assert "fuzzed.json" in str(outcome)
    else:
        check_config(outcome, "fuzzed.json")


@fuzz_settings()
@given(content=st.one_of(st.binary(max_size=1000), JSONISH_TEXT.map(str.encode)))
def test_any_config_file_bytes_give_a_config_or_a_run_config_error(tmp_path, content):
    check_file(tmp_path, content)


@fuzz_settings()
@given(value=JSON_VALUES)
def test_any_json_value_gives_a_config_or_a_run_config_error(tmp_path, value):
    check_dict(value)
    check_file(tmp_path, config_bytes(value))


@fuzz_settings()
@given(d=mutated_configs(), facts=st.one_of(st.just(DATASET), JSON_VALUES))
def test_mutated_configs_give_a_config_or_a_run_config_error(tmp_path, d, facts):
    check_dict(d)
    check_file(tmp_path, config_bytes({"shallownet": "0.1.0", **d, "dataset": facts}))


@fuzz_settings()
@given(name=path_names("run"))
@example(name="a" * 300)  # once crashed
def test_any_run_directory_path_gives_a_config_or_a_run_config_error(tmp_path, name):
    (tmp_path / "run").mkdir(exist_ok=True)
    (tmp_path / "run" / "config.json").write_text(json.dumps(VALID[1].to_dict()))
    path = os.path.join(tmp_path, name)
    def check(config):
        assert config == VALID[1].resolved()

    check_any_path(path, read_and_parse, RunConfigError, check, label="config.json")


@pytest.mark.parametrize("path", corpus("config"))
def test_config_corpus_file_gives_a_config_or_a_run_config_error(tmp_path, path):
    content = path.read_bytes()
    check_file(tmp_path, content)
    try:
        value = json.loads(content)
    except (ValueError, RecursionError):  # not JSON: the file test above is the whole story
        return
    check_dict(value)
