"""Checkpoints: weights, optimiser state, config and epoch, written atomically, read safely."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

from shallownet.errors import CheckpointError
from shallownet.registry import ModelConfig, build
from shallownet.training.checkpoint import (
    FORMAT,
    load_checkpoint,
    restore_model,
    save_checkpoint,
)

CONFIG = {"model": {"model": "softmax"}, "data": {"name": "blobs"}, "train": {"epochs": 3},
          "dataset": {"input_shape": [1, 4, 4], "classes": ["a", "b", "c"]}}
HISTORY = [{"epoch": 1, "train_loss": 0.75, "test_acc": 0.5, "seconds": 0.25}]


def trained_setup(impl: str = "scratch", optimizer: str = "sgd", *, outputs: int = 3,
                  model: str = "softmax", steps: int = 3, seed: int = 0):
    setup = build(ModelConfig(model=model, impl=impl, optimizer=optimizer), input_shape=(1, 4, 4),
                  num_outputs=outputs, seed=seed)
    g = torch.Generator().manual_seed(1)
    X, y = torch.randn(12, 1, 4, 4, generator=g), torch.arange(12) % outputs
    for _ in range(steps):
        setup.train_step(X, y)
    return setup, (X, y)


def save(path, setup, *, epoch=1, history=HISTORY, config=CONFIG):
    return save_checkpoint(path, model=setup.model, optimizer=setup.optimizer, config=config,
                           epoch=epoch, history=history)


def valid_state(setup) -> dict:
    return {"format": FORMAT, "epoch": 1, "model": setup.model.state_dict(),
            "optimizer": setup.optimizer.state_dict(), "config": dict(CONFIG),
            "history": list(HISTORY)}


def assert_nested_equal(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b)
        for k in a:
            assert_nested_equal(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_nested_equal(x, y)
    else:
        assert a == b


# -- round trip ------------------------------------------------------------------------------


@pytest.mark.parametrize(("impl", "optimizer"),
                         [("scratch", "sgd"), ("scratch", "momentum"), ("scratch", "adam"),
                          ("concise", "momentum"), ("concise", "adam")])
def test_save_and_load_round_trip(tmp_path, impl, optimizer):
    setup, (X, y) = trained_setup(impl, optimizer)
    path = save(tmp_path / "checkpoint.pt", setup, epoch=7)
    assert path == tmp_path / "checkpoint.pt"
    state = load_checkpoint(path)

    assert state["format"] == FORMAT
    assert state["epoch"] == 7
    assert state["config"] == CONFIG
    assert state["history"] == HISTORY
    assert_nested_equal(state["model"], setup.model.state_dict())
    assert_nested_equal(state["optimizer"], setup.optimizer.state_dict())
    if optimizer != "sgd":
        assert state["optimizer"]["state"], "the optimiser's moments were not saved"

    # restored into a fresh model and optimiser, the next step is the same step
    restored, _ = trained_setup(impl, optimizer, steps=0, seed=5)
    restore_model(restored.model, state["model"])
    restored.optimizer.load_state_dict(state["optimizer"])
    setup.train_step(X, y)
    restored.train_step(X, y)
    assert_nested_equal(restored.model.state_dict(), setup.model.state_dict())


def test_saved_tensors_are_detached_copies_of_the_weights(tmp_path):
    setup, _ = trained_setup()
    state = load_checkpoint(save(tmp_path / "c.pt", setup))
    for tensor in state["model"].values():
        assert tensor.device.type == "cpu"
        assert not tensor.requires_grad


def test_save_is_atomic_and_replaces_the_old_checkpoint(tmp_path):
    setup, _ = trained_setup()
    path = tmp_path / "checkpoint.pt"
    save(path, setup, epoch=1)
    save(path, setup, epoch=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
    assert load_checkpoint(path)["epoch"] == 2


def test_a_failed_save_keeps_the_old_checkpoint_and_leaves_no_temporary(tmp_path):
    setup, _ = trained_setup()
    path = tmp_path / "checkpoint.pt"
    save(path, setup, epoch=1)
    with pytest.raises(Exception):  # noqa: B017 - whatever pickle raises for a lambda
        save(path, setup, epoch=2, config={"not": lambda: None})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
    assert load_checkpoint(path)["epoch"] == 1


# -- refusing unsafe files ---------------------------------------------------------------------


class Evil:
    """Unpickled, it creates ``marker`` (stands for any code an attacker would run)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class Custom:
    def __init__(self):
        self.value = 3


def test_the_evil_payload_really_runs_code_when_unpickled(tmp_path):
    """Control: with plain pickle the payload does create its marker file."""
    marker = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(Evil(marker))).close()
    assert marker.exists()


def test_a_checkpoint_that_would_run_code_is_refused_and_the_code_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    setup, _ = trained_setup()
    state = valid_state(setup)
    state["config"] = {"payload": Evil(marker)}
    path = tmp_path / "checkpoint.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="refused for safety"):
        load_checkpoint(path)
    assert not marker.exists()


def test_a_raw_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(pickle.dumps({"format": FORMAT, "x": Evil(marker)}, protocol=2))
    with pytest.raises(CheckpointError, match="refused for safety"):
        load_checkpoint(path)
    assert not marker.exists()


def test_a_custom_class_instance_is_refused_in_plain_text_without_unsafe_advice(tmp_path):
    setup, _ = trained_setup()
    state = valid_state(setup)
    state["history"] = [Custom()]
    path = tmp_path / "checkpoint.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=str(path)) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\x1b" not in message
    assert "weights_only=False" not in message and "two options" not in message
    assert message.endswith("(UnpicklingError)")


# -- refusing damaged files --------------------------------------------------------------------


def test_a_missing_file_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")


def test_a_directory_is_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("content", [b"", b"\x00" * 10, bytes(range(256)) * 4,
                                     b"not a checkpoint at all\n"])
def test_junk_bytes_are_a_checkpoint_error(tmp_path, content):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="cannot load the checkpoint"):
        load_checkpoint(path)


def test_random_bytes_are_a_checkpoint_error(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0),
                                   dtype=torch.uint8).numpy().tobytes())
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_a_truncated_checkpoint_is_a_checkpoint_error(tmp_path, fraction):
    setup, _ = trained_setup()
    path = save(tmp_path / "checkpoint.pt", setup)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


@pytest.mark.parametrize("content", [{"format": "shallownet-checkpoint/0"}, {"format": None},
                                     {}, [1, 2, 3], torch.zeros(3)])
def test_another_format_is_refused(tmp_path, content):
    path = tmp_path / "checkpoint.pt"
    if isinstance(content, dict) and content:
        setup, _ = trained_setup()
        content = {**valid_state(setup), **content}
    torch.save(content, path)
    with pytest.raises(CheckpointError, match="not a shallownet checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("key", ["epoch", "model", "optimizer", "config", "history"])
def test_a_missing_key_is_refused(tmp_path, key):
    setup, _ = trained_setup()
    state = valid_state(setup)
    del state[key]
    path = tmp_path / "checkpoint.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=f"'{key}' is missing or invalid"):
        load_checkpoint(path)


@pytest.mark.parametrize(("key", "value"), [("epoch", "1"), ("epoch", 1.0), ("epoch", True),
                                            ("model", [1]), ("history", {}), ("config", "x")])
def test_a_key_of_the_wrong_type_is_refused(tmp_path, key, value):
    setup, _ = trained_setup()
    state = {**valid_state(setup), key: value}
    path = tmp_path / "checkpoint.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=f"'{key}'"):
        load_checkpoint(path)


def test_a_negative_epoch_is_refused(tmp_path):
    setup, _ = trained_setup()
    path = tmp_path / "checkpoint.pt"
    torch.save({**valid_state(setup), "epoch": -1}, path)
    with pytest.raises(CheckpointError, match="epoch -1"):
        load_checkpoint(path)


# -- restore_model -----------------------------------------------------------------------------


def test_restore_model_into_another_shape_names_the_parameter_and_both_shapes():
    four, _ = trained_setup(outputs=4)
    three, _ = trained_setup(outputs=3, seed=9)
    before = copy.deepcopy(three.model.state_dict())
    with pytest.raises(CheckpointError) as info:
        restore_model(three.model, four.model.state_dict(), source="run/checkpoint.pt")
    message = str(info.value)
    assert "run/checkpoint.pt" in message
    assert "linear.W (16, 4) vs (16, 3)" in message
    assert "linear.b (4,) vs (3,)" in message
    assert_nested_equal(three.model.state_dict(), before)  # untouched


def test_restore_model_names_missing_and_unexpected_parameters():
    mlp, _ = trained_setup(model="mlp")
    softmax, _ = trained_setup()
    with pytest.raises(CheckpointError) as info:
        restore_model(softmax.model, mlp.model.state_dict())
    message = str(info.value)
    assert "missing linear.W, linear.b" in message
    assert "unexpected hidden.0.W, hidden.0.b, output.W, output.b" in message


def test_restore_model_refuses_values_that_are_not_tensors():
    setup, _ = trained_setup()
    weights = {**setup.model.state_dict(), "linear.b": [0.0, 0.0, 0.0]}
    with pytest.raises(CheckpointError, match="not tensors: linear.b"):
        restore_model(setup.model, weights)


def test_restore_model_loads_fitting_weights():
    source, _ = trained_setup()
    target, _ = trained_setup(seed=4, steps=0)
    restore_model(target.model, copy.deepcopy(source.model.state_dict()))
    assert_nested_equal(target.model.state_dict(), source.model.state_dict())
