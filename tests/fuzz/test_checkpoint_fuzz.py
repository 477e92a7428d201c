"""Fuzzing checkpoint files, alone and through the whole evaluate path.

Fuzzed: ``load_checkpoint`` and ``evaluate_run`` (checkpoint, config, model
rebuilt, weights restored, optimiser state loaded, test set evaluated) on a
run directory whose ``checkpoint.pt`` is

* arbitrary bytes;
* a real checkpoint (a torch zip archive, from tiny runs trained by the module
  fixture: linreg scratch/SGD and concise/momentum on synthetic data, an MLP
  with Adam and softmax concise/Adam on a small CSV file) with its bytes
  mutated, truncated or spliced;
* a real checkpoint's state with one entry replaced by a random value (a JSON
  value, a tensor of random shape, dtype, layout and values) or removed, saved
  with ``torch.save``: top-level entries, weights, optimiser state and
  parameter groups, history records, the run's model and training settings,
  and its dataset facts. Settings that size the model or the data (hidden
  widths, example counts, the dataset itself) are left alone: a checkpoint
  that asks for a bigger model or dataset than memory allows is a valid
  checkpoint of a run that was itself impossible.

``load_checkpoint`` is also given any path name.

Property: ``load_checkpoint`` returns a state with the documented entries of
the documented types, or raises a :class:`~shallownet.errors.CheckpointError`
naming the file; ``evaluate_run`` returns the figures of the checkpoint's
epoch, or raises a ``CheckpointError`` naming the run, a ``RunConfigError``,
or a ``UsageError``/``DataError`` from the settings it holds. Never another
exception, a hang or a huge allocation.
"""

from __future__ import annotations

import copy
import io
import math
import os

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from shallownet.errors import CheckpointError, DataError, RunConfigError, UsageError
from shallownet.registry import ModelConfig
from shallownet.training.checkpoint import FORMAT, load_checkpoint
from shallownet.training.config import RunConfig, TrainSettings
from shallownet.training.data import DataSpec
from shallownet.training.run import evaluate_run, train_run
from tests.fuzz.harness import (
    check_any_path,
    corpus,
    fuzz_settings,
    mutated,
    path_names,
    result_or_own_error,
)

QUIET = {"log": False, "plots": False, "progress": False}
DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32,
          torch.int8, torch.uint8, torch.bool, torch.complex64)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                    st.sampled_from([0, 1, -1, 2, 2**31, 2**63, 1e308, -0.0, "", "0", "w"]))
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.one_of(st.text(max_size=6), st.integers(-2, 4)), children, max_size=4),
    max_leaves=10,
)
#: Settings a damaged checkpoint may hold (not those that size the model or the data).
MODEL_KEYS = ("model", "impl", "activation", "dropout", "log_softmax", "pool", "loss",
              "huber_delta", "init", "init_std", "init_value", "backward", "optimizer", "lr",
              "momentum", "betas", "eps", "weight_decay")
TRAIN_KEYS = ("epochs", "batch_size", "seed", "device", "kernel")
NAMES = ("linreg", "softmax", "mlp", "logreg", "lenet", "scratch", "concise", "sgd", "momentum",
         "adam", "hand", "autograd", "cpu", "auto", "squared", "huber", "cross_entropy", "relu",
         "avg", "xavier", "equal")


@st.composite
def tensors(draw, shape=None) -> torch.Tensor:
    """A tensor of ``shape`` (or a random one), any dtype, layout and values."""
    if shape is None or draw(st.booleans()):
        shape = tuple(draw(st.lists(st.integers(0, 5), max_size=4)))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    t = torch.randn(shape, generator=g, dtype=torch.float64)
    values = draw(st.sampled_from(["normal", "zeros", "nan", "inf", "huge"]))
    if values == "zeros":
        t.zero_()
    elif values == "nan":
        t.fill_(math.nan)
    elif values == "inf":
        t.fill_(-math.inf)
    elif values == "huge":
        t.mul_(1e300)
    dtype = draw(st.sampled_from(DTYPES))
    t = t.to(dtype) if dtype.is_floating_point or dtype.is_complex else t.nan_to_num().clamp(
        -100, 100).to(dtype)
    layout = draw(st.sampled_from(["dense", "dense", "sparse", "transposed", "parameter"]))
    if layout == "sparse" and t.ndim:
        t = t.to_sparse()
    elif layout == "transposed" and t.ndim >= 2:
        t = t.transpose(0, 1)
    elif layout == "parameter" and (dtype.is_floating_point or dtype.is_complex):
        t = torch.nn.Parameter(t, requires_grad=draw(st.booleans()))
    return t


ANY = st.one_of(JSON_VALUES, tensors())


def replace_or_remove(draw, container, key, values: st.SearchStrategy) -> None:
    """Remove ``container[key]`` (one time in five) or set it to a value drawn from ``values``."""
    if draw(st.integers(0, 4)) == 0:
        if isinstance(container, dict):
            container.pop(key, None)
        elif isinstance(container, list) and container:
            container.pop(key % len(container))
    elif isinstance(container, dict):
        container[key] = draw(values)
    elif isinstance(container, list) and container:
        container[key % len(container)] = draw(values)


def pick(draw, container):
    """An existing key (index) of ``container``, or a new one."""
    keys = sorted(container, key=repr) if isinstance(container, dict) else list(
        range(len(container)))
    new = st.one_of(st.text(max_size=6), st.integers(-2, 8))
    return draw(st.one_of(st.sampled_from(keys), new) if keys else new)


@st.composite
def damaged_states(draw, states: dict) -> dict:
    """A copy of one of ``states`` with one entry replaced or removed."""
    state = copy.deepcopy(states[draw(st.sampled_from(sorted(states)))])
    where = draw(st.sampled_from(["top", "model", "model", "state", "state", "groups",
                                  "groups", "history", "settings", "facts"]))
    if where == "top":
        key = draw(st.one_of(st.sampled_from(sorted(state)), st.text(max_size=6)))
        replace_or_remove(draw, state, key, st.one_of(ANY, st.sampled_from([FORMAT, -1, 2**70])))
    elif where == "model":
        weights = state["model"]
        key = pick(draw, weights)
        old = weights.get(key)
        shape = old.shape if isinstance(old, torch.Tensor) else None
        replace_or_remove(draw, weights, key, st.one_of(tensors(shape), tensors(shape), ANY))
    elif where == "state":
        opt_state = state["optimizer"]["state"]
        if opt_state and draw(st.booleans()):
            entry = opt_state[draw(st.sampled_from(sorted(opt_state)))]
            key = pick(draw, entry)
            old = entry.get(key)
            shape = old.shape if isinstance(old, torch.Tensor) else None
            replace_or_remove(draw, entry, key, st.one_of(tensors(shape), ANY))
        elif draw(st.booleans()):
            replace_or_remove(draw, opt_state, pick(draw, opt_state), st.one_of(ANY, st.just({})))
        else:
            replace_or_remove(draw, state["optimizer"], "state", ANY)
    elif where == "groups":
        groups = state["optimizer"]["param_groups"]
        if draw(st.booleans()):
            group = groups[draw(st.integers(0, len(groups) - 1))]
            key = pick(draw, group)
            params = st.lists(st.integers(-2, 6), max_size=4)
            replace_or_remove(draw, group, key, st.one_of(ANY, params, SCALARS))
        elif draw(st.booleans()):
            replace_or_remove(draw, groups, draw(st.integers(0, 3)), ANY)
        else:
            replace_or_remove(draw, state["optimizer"], "param_groups", ANY)
    elif where == "history":
        history = state["history"]
        if history and draw(st.booleans()):
            replace_or_remove(draw, history, draw(st.integers(0, 3)), ANY)
        else:
            state["history"] = draw(st.lists(ANY, max_size=3))
    elif where == "settings":
        section, keys = draw(st.sampled_from([("model", MODEL_KEYS), ("train", TRAIN_KEYS)]))
        replace_or_remove(draw, state["config"][section], draw(st.sampled_from(keys)),
                          st.one_of(SCALARS, st.sampled_from(NAMES), JSON_VALUES))
    else:
        facts = state["config"].get("dataset")
        if isinstance(facts, dict) and draw(st.booleans()):
            key = draw(st.sampled_from(["input_shape", "classes", "task", "mean", "std", "name"]))
            shapes = st.lists(st.integers(-1, 6), max_size=4)
            replace_or_remove(draw, facts, key, st.one_of(shapes, JSON_VALUES))
        else:
            replace_or_remove(draw, state["config"], "dataset", JSON_VALUES)
    return state


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory) -> dict[str, bytes]:
    """The checkpoint bytes of four tiny trained runs (their CSV file stays in place)."""
    root = tmp_path_factory.mktemp("real-runs")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    table = root / "tiny.csv"
    np.savetxt(table, np.c_[X, X[:, 0] > 0], delimiter=",", fmt="%.4f")
    synthetic = DataSpec(name="synthetic-linear", num_examples=50)
    train = TrainSettings(epochs=1, batch_size=10, device="cpu")
    configs = {
        "linreg": RunConfig(model=ModelConfig(model="linreg"), data=synthetic, train=train),
        "linreg-momentum": RunConfig(
            model=ModelConfig(model="linreg", impl="concise", optimizer="momentum"),
            data=synthetic, train=train),
        "mlp-adam": RunConfig(model=ModelConfig(model="mlp", hidden=(4,), optimizer="adam"),
                              data=DataSpec(name=str(table)), train=train),
        "softmax-adam": RunConfig(
            model=ModelConfig(model="softmax", impl="concise", optimizer="adam"),
            data=DataSpec(name=str(table)), train=train),
    }
    out = {}
    for name, config in configs.items():
        result = train_run(config, root / name, **QUIET)
        out[name] = result.run_dir.checkpoint.read_bytes()
    return out


@pytest.fixture(scope="module")
def real_states(real_runs) -> dict[str, dict]:
    return {name: torch.load(io.BytesIO(data), weights_only=True)
            for name, data in real_runs.items()}


def check_state(state: dict) -> None:
    """What load_checkpoint promises of a state it returns."""
    assert state["format"] == FORMAT
    assert isinstance(state["epoch"], int) and not isinstance(state["epoch"], bool)
    assert state["epoch"] >= 0
    for key, kind in (("model", dict), ("optimizer", dict), ("config", dict), ("history", list)):
        assert isinstance(state[key], kind), key


def check_run(run_dir, content: bytes) -> None:
    """The property for a run directory whose checkpoint.pt holds ``content``."""
    run_dir.mkdir(exist_ok=True)
    path = run_dir / "checkpoint.pt"
    path.write_bytes(content)
    state = result_or_own_error(lambda: load_checkpoint(path), label="load_checkpoint")
    if isinstance(state, Exception):
        assert isinstance(state, CheckpointError), repr(state)
        assert str(path) in str(state)
    else:
        check_state(state)
    outcome = result_or_own_error(lambda: evaluate_run(run_dir), label="evaluate_run")
    if isinstance(outcome, Exception):
        assert isinstance(outcome, CheckpointError | RunConfigError | UsageError | DataError), (
            repr(outcome))
        if isinstance(outcome, CheckpointError):
            assert str(run_dir) in str(outcome)
        return
    assert not isinstance(state, Exception)
    assert outcome["epoch"] == state["epoch"]
    assert outcome["run_dir"] == str(run_dir)
    assert isinstance(outcome["test_loss"], float)
    assert outcome["n"] >= 1


def saved(state) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


@fuzz_settings()
@given(content=st.binary(max_size=4096))
def test_any_bytes_give_a_checkpoint_or_a_checkpoint_error(tmp_path, content):
    check_run(tmp_path / "run", content)


@fuzz_settings()
@given(data=st.data())
def test_mutated_checkpoint_files_give_figures_or_an_own_error(tmp_path, real_runs, data):
    seeds = st.sampled_from([real_runs[name] for name in sorted(real_runs)])
    content = data.draw(st.one_of(mutated(seeds), mutated(seeds, max_edits=1)), label="content")
    check_run(tmp_path / "run", content)


@fuzz_settings()
@given(data=st.data())
def test_damaged_checkpoint_states_give_figures_or_an_own_error(tmp_path, real_states, data):
    state = data.draw(damaged_states(real_states), label="state")
    check_run(tmp_path / "run", saved(state))


@fuzz_settings()
@given(name=path_names("checkpoint.pt"))
@example(name="a" * 300)  # once crashed
def test_any_path_gives_a_checkpoint_or_a_checkpoint_error(tmp_path, real_runs, name):
    (tmp_path / "checkpoint.pt").write_bytes(real_runs["linreg"])
    path = os.path.join(tmp_path, name)
    check_any_path(path, load_checkpoint, CheckpointError, check_state, label="load_checkpoint")


def test_real_checkpoints_evaluate(tmp_path, real_runs):
    for name, content in real_runs.items():  # the fuzzers' seeds are valid
        check_run(tmp_path / name, content)
        assert evaluate_run(tmp_path / name)["epoch"] == 1


@pytest.mark.parametrize("path", corpus("checkpoint"))
def test_checkpoint_corpus_file_gives_figures_or_an_own_error(tmp_path, path):
    check_run(tmp_path / "run", path.read_bytes())
