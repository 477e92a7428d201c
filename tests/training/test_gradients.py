"""``--watch-gradients``: each layer's gradient and weight norms per epoch, and the warnings."""

from __future__ import annotations

import re
import warnings

import pytest
import torch

from shallownet.registry import ModelConfig, build
from shallownet.training.config import RunConfig, TrainSettings
from shallownet.training.data import DataSpec
from shallownet.training.gradients import (
    GradientWarning,
    layer_norms,
    read_gradients,
)
from shallownet.training.run import resume_run, train_run
from tests.conftest import requires_real_data

QUIET = {"log": False, "progress": False}
DEEP = (64,) * 8


def config(epochs=2, hidden=(32,), **model) -> RunConfig:
    return RunConfig(model=ModelConfig(model="mlp", hidden=hidden, **model),
                     data=DataSpec(name="fashion-mnist", max_train=1024, max_test=256),
                     train=TrainSettings(epochs=epochs, device="cpu", watch_gradients=True))


def gradient_warnings(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, GradientWarning)]


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_layer_norms_are_the_norms_of_the_mean_losss_gradients(impl):
    torch.manual_seed(0)
    setup = build(ModelConfig(model="mlp", impl=impl, hidden=(16, 8), dropout=(0.5, 0.5)),
                  input_shape=(1, 4, 4), num_outputs=3)
    X, y = torch.randn(20, 1, 4, 4), torch.randint(0, 3, (20,))
    rows = layer_norms(setup, X, y)
    assert [r["layer"] for r in rows] == ["layer1", "layer2", "layer3"]
    assert [r["shape"] for r in rows] == ["16x16", "8x16", "3x8"]  # torch's (out, in)
    setup.model.eval()  # the probe runs without dropout
    params = [p for p in setup.model.parameters() if p.ndim == 2]
    grads = torch.autograd.grad(setup.loss(setup.model(X), y).mean(), params)
    for row, W, g in zip(rows, params, grads, strict=True):
        assert row["grad_norm"] == pytest.approx(float(g.norm()), rel=1e-5)
        assert row["weight_norm"] == pytest.approx(float(W.detach().norm()), rel=1e-6)


@requires_real_data
def test_a_watched_run_records_every_layer_from_epoch_0(tmp_path):
    result = train_run(config(epochs=2), tmp_path / "run", plots=True, **QUIET)
    rows = read_gradients(tmp_path / "run" / "gradients.csv")
    assert [(r["epoch"], r["layer"]) for r in rows] == [
        (e, layer) for e in (0, 1, 2) for layer in ("layer1", "layer2")]
    assert all(r["grad_norm"] > 0 and r["weight_norm"] > 0 for r in rows)
    last = result.history[-1]
    assert last["grad_norm/layer1"] == rows[-2]["grad_norm"]
    assert last["weight_norm/layer2"] == rows[-1]["weight_norm"]
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"grad_norm/layer1", "grad_norm/layer2", "weight_norm/layer1"} <= set(header)
    assert (tmp_path / "run" / "gradients.png").read_bytes()[:4] == b"\x89PNG"


@requires_real_data
def test_resume_keeps_the_earlier_epochs_rows(tmp_path):
    train_run(config(epochs=1), tmp_path / "run", plots=False, **QUIET)
    resume_run(tmp_path / "run", epochs=3, plots=False, **QUIET)
    rows = read_gradients(tmp_path / "run" / "gradients.csv")
    assert sorted({r["epoch"] for r in rows}) == [0, 1, 2, 3]
    assert len(rows) == 4 * 2


@requires_real_data
def test_vanishing_gradients_of_a_deep_sigmoid_net_are_named_once(tmp_path):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        train_run(config(epochs=2, hidden=DEEP, activation="sigmoid"), tmp_path / "run",
                  plots=False, **QUIET)
    found = gradient_warnings(record)
    assert found[0].startswith("at initialisation the gradients of")
    assert "have vanished" in found[0] and "layer1 (64x784)" in found[0]
    named = [name for w in found for name in re.findall(r"\b(layer\d+) \(", w)]
    assert len(named) == len(set(named))  # each layer once, however many epochs it stays
    assert "layer9" not in named  # the output layer still learns
    rows = read_gradients(tmp_path / "run" / "gradients.csv")
    first, last = (r["grad_norm"] for r in rows if r["epoch"] == 0 and r["layer"] in
                   ("layer1", "layer9"))
    assert first < 1e-4 * last


@requires_real_data
def test_kaiming_relu_keeps_the_layers_level_and_silent(tmp_path):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        train_run(config(epochs=1, hidden=DEEP, init="kaiming"), tmp_path / "run",
                  plots=False, **QUIET)
    assert gradient_warnings(record) == []
    at_start = [r["grad_norm"] for r in read_gradients(tmp_path / "run" / "gradients.csv")
                if r["epoch"] == 0]
    assert max(at_start) < 10 * min(at_start)


@requires_real_data
def test_gradients_that_explode_in_training_are_named(tmp_path):
    with warnings.catch_warnings(record=True) as record, pytest.raises(Exception):  # noqa: B017
        warnings.simplefilter("always")
        train_run(config(epochs=3, hidden=DEEP, init="default", lr=50.0), tmp_path / "run",
                  plots=False, **QUIET)
    found = gradient_warnings(record)
    assert any("have exploded" in w or "has exploded" in w for w in found), found


def test_watch_gradients_must_be_a_flag():
    from shallownet.errors import UsageError

    with pytest.raises(UsageError, match="watch_gradients must be true or false"):
        TrainSettings(watch_gradients="yes").check()
