"""The fused SGD step: autograd's training, a padded output layer, the trainer's choice.

The closed-form gradient it applies is the scratch tier's
(``scratch.cross_entropy_grad``), tested in ``tests/scratch/test_losses.py``.

Also the pieces it relies on: the scratch ``Linear``'s column-major ``W`` and
``ArrayLoader.last_order``.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from shallownet.data.iterator import ArrayLoader
from shallownet.errors import TrainingDiverged, UsageError
from shallownet.init import weight_layers
from shallownet.registry import ModelConfig, build, why_no_fused_step
from shallownet.scratch.layers import Linear
from shallownet.training.callbacks import Callback
from shallownet.training.data import TrainingData
from shallownet.training.fused import FusedGradientStep, FusedStep, fused_step
from tests.training.test_trainer import (
    assert_same_weights,
    blobs,
    first_bad_step,
    make_setup,
    make_trainer,
    weights,
)

F64 = torch.float64


def blobs64(**options) -> TrainingData:
    """The trainer tests' blobs with float64 features."""
    data = blobs(**options)
    return dataclasses.replace(data, train_X=data.train_X.to(F64), test_X=data.test_X.to(F64))


def setup64(model: str = "softmax", *, input_shape=(1, 8, 8), num_outputs: int = 3,
            seed: int = 0, **config):
    return build(ModelConfig(model=model, **config), input_shape=input_shape,
                 num_outputs=num_outputs, seed=seed, dtype=F64)


def batches(n: int = 70, *, batch_size: int = 16, num_outputs: int = 3, seed: int = 1,
            shape=(1, 8, 8)):
    """float64 batches of 16 examples and a last one of n % 16 (70: 16, 16, 16, 16, 6)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, *shape, generator=g, dtype=F64)
    y = torch.randint(0, num_outputs, (n,), generator=g)
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n, batch_size)]


def assert_close_weights(a: dict, b: dict, *, rtol: float = 1e-10, atol: float = 1e-13):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].shape == b[k].shape, k
        torch.testing.assert_close(a[k], b[k], rtol=rtol, atol=atol, msg=k)


def padded(step: FusedStep) -> tuple[torch.Tensor, torch.Tensor]:
    """The working copy of the output layer: (W in the (out, in) layout, b), padded."""
    return step.layers[-1]


# -- the fused step computes what autograd and SGD compute ------------------------------------

PARITY_CASES = [
    pytest.param("softmax", impl, None, None, wd, id=f"softmax-{impl}-wd{wd}")
    for impl in ("scratch", "concise") for wd in (0.0, 0.01)
] + [
    pytest.param("mlp", impl, act, hidden, wd,
                 id=f"mlp-{impl}-{act}-{'x'.join(map(str, hidden))}-wd{wd}")
    for impl in ("scratch", "concise")
    for act in ("relu", "sigmoid", "tanh")
    for hidden in ((256,), (32, 16))
    for wd in (0.0, 0.01)
]


@pytest.mark.parametrize(("model", "impl", "activation", "hidden", "weight_decay"),
                         PARITY_CASES)
def test_a_fused_step_equals_an_autograd_step(model, impl, activation, hidden, weight_decay):
    config = {"impl": impl, "lr": 0.5, "weight_decay": weight_decay}
    if model == "mlp":
        config.update(activation=activation, hidden=hidden)
    fused_setup, twin = setup64(model, **config), setup64(model, **config)
    initial = weights(fused_setup)
    assert_same_weights(initial, weights(twin))
    step = FusedStep(fused_setup)

    data = batches()
    assert [len(y) for _, y in data] == [16, 16, 16, 16, 6]
    for X, y in data:
        step.end_epoch()  # the model's output layer is stale between store() calls
        with torch.no_grad():
            before = fused_setup.model(X)
            twin_before = twin.model(X)
        torch.testing.assert_close(before, twin_before, rtol=1e-10, atol=1e-13)
        out = torch.full((len(y), 3), float("nan"), dtype=F64)
        step.train(X, y, out)
        _, twin_out = twin.train_step(X, y)
        torch.testing.assert_close(out, before, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(out, twin_out, rtol=1e-10, atol=1e-13)
    step.end_epoch()

    trained = weights(fused_setup)
    assert_close_weights(trained, weights(twin))
    for k in trained:  # the comparison is not of untouched weights
        assert not torch.allclose(trained[k], initial[k], rtol=1e-6, atol=1e-9), k


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_weight_decay_shrinks_weights_but_not_biases(impl):
    """A batch with zero gradient (X = 0, equal logits, one example per class): only decay acts."""
    setup = setup64("softmax", impl=impl, lr=0.5, weight_decay=0.1)
    layer = weight_layers(setup.model)[0]
    with torch.no_grad():
        (layer.b if impl == "scratch" else layer.bias).zero_()
    before = weights(setup)
    step = FusedStep(setup)
    step.train(torch.zeros(3, 1, 8, 8, dtype=F64), torch.tensor([0, 1, 2]),
               torch.empty(3, 3, dtype=F64))
    step.end_epoch()
    after = weights(setup)
    (w_key, b_key) = sorted(after, key=lambda k: after[k].ndim, reverse=True)
    assert after[w_key].ndim == 2
    torch.testing.assert_close(after[w_key], (1 - 0.5 * 0.1) * before[w_key], rtol=1e-15, atol=0)
    # the bias gradient is 1/3 + 1/3 + 1/3 - 1 = 0 up to rounding; no decay is added to it
    torch.testing.assert_close(after[b_key], torch.zeros(3, dtype=F64), rtol=0, atol=1e-15)


# -- the padded output layer ----------------------------------------------------------------


@pytest.mark.parametrize(("num_outputs", "width"), [(3, 16), (16, 16), (17, 32)])
@pytest.mark.parametrize("impl", ["scratch", "concise"])
@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_the_padding_stays_zero_weight_and_minus_infinite_bias(model, impl, num_outputs,
                                                               width):
    config = {"impl": impl, "lr": 0.5, "weight_decay": 0.01}
    if model == "mlp":
        config["hidden"] = (8,)
    setup = setup64(model, input_shape=(12,), num_outputs=num_outputs, **config)
    shapes = {k: v.shape for k, v in setup.model.state_dict().items()}
    step = FusedStep(setup)
    W, b = padded(step)
    assert W.shape[0] == b.shape[0] == width
    q = num_outputs

    for X, y in batches(200, num_outputs=q, shape=(12,)) * 3:  # 39 steps
        step.train(X, y, torch.empty(len(y), q, dtype=F64))
    assert bool(torch.isfinite(W[:q]).all()) and bool(torch.isfinite(b[:q]).all())
    assert bool((W[q:] == 0).all())
    assert bool((b[q:] == float("-inf")).all())

    step.end_epoch()
    assert {k: v.shape for k, v in setup.model.state_dict().items()} == shapes
    output = weight_layers(setup.model)[-1]
    if impl == "scratch":
        assert output.W.shape == (W.shape[1], q) and output.W.T.is_contiguous()
        assert torch.equal(output.W.T, W[:q])
        assert torch.equal(output.b, b[:q])
    else:
        assert output.weight.shape == (q, W.shape[1])
        assert torch.equal(output.weight, W[:q])
        assert torch.equal(output.bias, b[:q])


@pytest.mark.parametrize("impl", ["scratch", "concise"])
@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_load_picks_up_changes_to_the_models_parameters(model, impl):
    config = {"impl": impl, "lr": 0.1}
    if model == "mlp":
        config.update(hidden=(8,), activation="tanh")
    setup = setup64(model, **config)
    step = FusedStep(setup)
    X, y = batches()[0]
    for _ in range(3):
        step.train(X, y, torch.empty(16, 3, dtype=F64))
    step.end_epoch()

    g = torch.Generator().manual_seed(7)
    with torch.no_grad():  # new values for every parameter, the hidden layers' included
        for p in setup.model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=F64))
    step.begin_epoch()
    W, b = padded(step)
    output = weight_layers(setup.model)[-1]
    new_W = output.W.T if impl == "scratch" else output.weight
    new_b = output.b if impl == "scratch" else output.bias
    assert torch.equal(W[:3], new_W) and torch.equal(b[:3], new_b)
    assert bool((W[3:] == 0).all()) and bool((b[3:] == float("-inf")).all())

    with torch.no_grad():
        expected = setup.model(X)
    out = torch.empty(16, 3, dtype=F64)
    step.train(X, y, out)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-14)


# -- which setups have a fused step ----------------------------------------------------------

UNFUSED = {
    "dropout": (("mlp",), {"hidden": (8,), "dropout": (0.5,)}, "dropout"),
    "concise-dropout": (("mlp",), {"impl": "concise", "hidden": (8, 4),
                                   "dropout": (0.0, 0.2)}, "dropout"),
    "log_softmax": (("mlp",), {"hidden": (8,), "log_softmax": True}, "cross-entropy"),
    "hand": (("softmax",), {"backward": "hand"}, "by hand"),
    "hand-mlp": (("mlp",), {"hidden": (8,), "backward": "hand"}, "by hand"),
    "lenet": (("lenet", (1, 28, 28), 10), {}, "lenet"),
    "linreg": (("linreg", (3,), 1), {}, "linreg"),
    "logreg": (("logreg", (3,), 2), {}, "logreg"),
}


@pytest.mark.parametrize("case", UNFUSED)
def test_setups_without_a_fused_step(case):
    (model, *shape), config, reason = UNFUSED[case]
    input_shape, num_outputs = shape or ((1, 8, 8), 3)
    setup = build(ModelConfig(model=model, **config), input_shape=input_shape,
                  num_outputs=num_outputs, seed=0)
    why = why_no_fused_step(setup.config)
    assert isinstance(why, str) and reason in why
    with pytest.raises(UsageError, match="no fused step"):
        FusedStep(setup)


FUSED = {
    "softmax-scratch": ("softmax", {}),
    "softmax-concise": ("softmax", {"impl": "concise"}),
    "softmax-decay": ("softmax", {"weight_decay": 0.01}),
    "mlp-scratch": ("mlp", {"hidden": (8,)}),
    "mlp-concise-deep": ("mlp", {"impl": "concise", "hidden": (8, 4, 4), "activation": "sigmoid"}),
    "mlp-zero-dropout": ("mlp", {"hidden": (8, 4), "dropout": (0.0,)}),
    "momentum": ("softmax", {"optimizer": "momentum"}),
    "adam": ("softmax", {"optimizer": "adam"}),
    "concise-momentum-mlp": ("mlp", {"impl": "concise", "optimizer": "momentum", "hidden": (8,)}),
    "label-smoothing": ("mlp", {"hidden": (8,), "label_smoothing": 0.1}),
}


@pytest.mark.parametrize("case", FUSED)
def test_setups_with_a_fused_step(case):
    model, config = FUSED[case]
    setup = make_setup(blobs(n_train=10, n_test=5), model, **config)
    assert why_no_fused_step(setup.config) is None
    assert fused_step(setup).name == "fused"
    assert isinstance(fused_step(setup), FusedStep if setup.config.optimizer == "sgd"
                      else FusedGradientStep)


def test_a_model_that_is_not_the_registrys_stack_has_no_fused_step():
    setup = make_setup(blobs(n_train=10, n_test=5), "softmax")
    other = dataclasses.replace(setup, model=nn.Sequential(
        nn.Flatten(), nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 3)))
    with pytest.raises(UsageError, match="linear layers"):
        FusedStep(other)


# -- the trainer ------------------------------------------------------------------------------


def test_the_trainer_reports_which_step_it_took():
    data = blobs(n_train=40, n_test=10)
    trainer = make_trainer(epochs=1)
    assert trainer.step_choice is None
    trainer.fit(make_setup(data), data)
    assert trainer.step_choice.name == "fused"
    assert trainer.step_choice.reason == "auto: closed-form gradient, no autograd"

    trainer = make_trainer(epochs=1)
    trainer.fit(make_setup(data, "mlp", hidden=(8,), impl="concise"), data)
    assert trainer.step_choice.name == "fused"

    trainer = make_trainer(epochs=1, step="autograd")
    trainer.fit(make_setup(data), data)
    assert trainer.step_choice.name == "autograd"
    assert not trainer.step_choice.reason.startswith("auto")

    trainer = make_trainer(epochs=1)
    trainer.fit(make_setup(data, optimizer="momentum"), data)
    assert trainer.step_choice == ("fused", "auto: closed-form gradient, no autograd, then the "
                                            "scratch tier's SGD with momentum")

    trainer = make_trainer(epochs=1)
    trainer.fit(make_setup(data, "mlp", hidden=(8,), dropout=(0.3,)), data)
    assert trainer.step_choice.name == "autograd"


def test_a_fused_step_asked_for_where_there_is_none_is_an_error():
    data = blobs(n_train=40, n_test=10)
    trainer = make_trainer(epochs=1, step="fused")
    with pytest.raises(UsageError, match="the fused step cannot train this model: the "
                                         "model uses dropout"):
        trainer.fit(make_setup(data, "mlp", hidden=(8,), dropout=(0.5,)), data)


TRAINER_CASES = {
    "softmax-scratch": ("softmax", {"impl": "scratch"}),
    "softmax-concise-decay": ("softmax", {"impl": "concise", "weight_decay": 0.01}),
    "mlp-scratch-tanh": ("mlp", {"impl": "scratch", "hidden": (16, 8), "activation": "tanh"}),
    "mlp-concise-relu-decay": ("mlp", {"impl": "concise", "hidden": (32,), "weight_decay": 0.01}),
}


@pytest.mark.parametrize("case", TRAINER_CASES)
def test_fused_and_autograd_trainers_record_the_same_history(case):
    model, config = TRAINER_CASES[case]
    data = blobs64(labels="random")  # not separable: the loss stays well away from 0
    runs = []
    for step in ("fused", "autograd"):
        setup = setup64(model, lr=0.3, **config)
        trainer = make_trainer(epochs=3, batch_size=16, step=step, check_every=4)
        history = trainer.fit(setup, data)  # 150 = 9 batches of 16 and one of 6
        assert trainer.step_choice.name == step
        runs.append((history, weights(setup)))
    (fused_history, fused_weights), (auto_history, auto_weights) = runs
    assert [r["epoch"] for r in fused_history] == [1, 2, 3]
    for a, b in zip(fused_history, auto_history, strict=True):
        assert a.keys() == b.keys()
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
            assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-12), key
    assert_close_weights(fused_weights, auto_weights, rtol=1e-9, atol=1e-12)


def test_the_model_holds_the_trained_output_layer_when_each_epoch_ends():
    """A checkpoint written by a callback has the epoch's weights, not the stale ones."""
    data = blobs()
    snapshots = {}
    setup = make_setup(data, "mlp", hidden=(16,))

    class Snapshot(Callback):
        def on_epoch_end(self, trainer, setup, history):
            snapshots[len(history)] = weights(setup)

    make_trainer(epochs=3).fit(setup, data, callbacks=[Snapshot()])
    for epochs in (1, 2):
        shorter = make_setup(data, "mlp", hidden=(16,))
        make_trainer(epochs=epochs).fit(shorter, data)
        assert_same_weights(snapshots[epochs], weights(shorter))
    assert_same_weights(snapshots[3], weights(setup))
    assert not torch.equal(snapshots[1]["output.W"], snapshots[2]["output.W"])


@pytest.mark.parametrize("check_every", [1, 3, 50])
@pytest.mark.parametrize("lr", [1e3, 1e20])
def test_a_huge_learning_rate_still_raises_training_diverged(lr, check_every):
    data = blobs()
    config = {"hidden": (16,), "lr": lr}
    expected = first_bad_step(make_setup(data, "mlp", **config), data, batch_size=16, seed=0,
                              epochs=3)
    assert expected is not None and expected[1] > 1  # it diverges, after a good step

    trainer = make_trainer(epochs=3, batch_size=16, check_every=check_every)
    with pytest.raises(TrainingDiverged) as info:
        trainer.fit(make_setup(data, "mlp", **config), data)
    assert trainer.step_choice.name == "fused"
    assert (info.value.epoch, info.value.step) == expected
    assert "learning rate" in str(info.value)
    assert f"lr = {lr:g}" in str(info.value)


def test_softmax_regression_diverges_with_the_fused_step_too():
    data = blobs()
    trainer = make_trainer(epochs=3, batch_size=16)
    with pytest.raises(TrainingDiverged, match="learning rate"):
        trainer.fit(make_setup(data, "softmax", lr=1e38), data)
    assert trainer.step_choice.name == "fused"


def test_uint8_labels_train_with_the_fused_step_as_through_autograd():
    data = blobs()
    data = dataclasses.replace(data, train_y=data.train_y.to(torch.uint8),
                               test_y=data.test_y.to(torch.uint8))
    auto = make_trainer(epochs=1, step="autograd").fit(make_setup(data), data)
    fused = make_trainer(epochs=1).fit(make_setup(data), data)
    assert fused[0]["train_loss"] == pytest.approx(auto[0]["train_loss"], rel=1e-5)


# -- the scratch Linear keeps W column by column -----------------------------------------------


def test_scratch_linear_stores_w_column_major_with_the_books_shape():
    layer = Linear(5, 3)
    assert layer.W.shape == (5, 3) and layer.b.shape == (3,)
    assert layer.W.T.is_contiguous() and not layer.W.is_contiguous()
    assert (layer.num_inputs, layer.num_outputs) == (5, 3)
    assert Linear(5, 3, dtype=F64).W.T.is_contiguous()
    assert layer.double().W.T.is_contiguous()  # a conversion keeps the layout


def test_scratch_models_built_in_float64_keep_the_layout_through_training():
    setup = setup64("mlp", hidden=(16, 8), optimizer="momentum")  # the autograd path
    layers = weight_layers(setup.model)
    assert len(layers) == 3 and all(m.W.T.is_contiguous() for m in layers)
    for X, y in batches():
        setup.train_step(X, y)
    assert all(m.W.T.is_contiguous() for m in layers)
    assert all(m.W.grad.stride() == m.W.stride() for m in layers)


def test_the_gradient_of_w_has_ws_layout_and_value():
    torch.manual_seed(0)
    layer = Linear(6, 4, dtype=F64)
    X = torch.randn(5, 6, dtype=F64)
    out = X @ layer.W + layer.b
    (out ** 2).sum().backward()
    assert layer.W.grad.shape == layer.W.shape
    assert layer.W.grad.stride() == layer.W.stride()
    torch.testing.assert_close(layer.W.grad, X.T @ (2 * out.detach()), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(layer.b.grad, (2 * out.detach()).sum(0), rtol=1e-12, atol=1e-14)


def test_scratch_linear_state_dict_round_trips_through_a_file(tmp_path):
    torch.manual_seed(0)
    layer = Linear(7, 3)
    with torch.no_grad():
        layer.b.copy_(torch.tensor([0.1, -0.2, 0.3]))
    torch.save(layer.state_dict(), tmp_path / "linear.pt")
    fresh = Linear(7, 3)
    fresh.load_state_dict(torch.load(tmp_path / "linear.pt"))
    assert torch.equal(fresh.W, layer.W) and torch.equal(fresh.b, layer.b)
    assert fresh.W.T.is_contiguous()
    X = torch.randn(4, 7)
    assert torch.equal(fresh(X), layer(X))


def test_a_row_major_w_loads_into_the_scratch_linear():
    W = torch.arange(15, dtype=torch.float32).reshape(5, 3) / 10  # contiguous (in, out)
    b = torch.tensor([1.0, 2.0, 3.0])
    assert W.is_contiguous()
    layer = Linear(5, 3)
    layer.load_state_dict({"W": W, "b": b})
    assert torch.equal(layer.W, W) and torch.equal(layer.b, b)
    assert layer.W.T.is_contiguous()  # the layer keeps its own layout
    X = torch.randn(2, 5)
    torch.testing.assert_close(layer(X), X @ W + b)


# -- ArrayLoader.last_order ----------------------------------------------------------------


def test_last_order_is_none_before_iterating_and_without_shuffling():
    X, y = torch.randn(10, 2), torch.arange(10)
    loader = ArrayLoader(X, y, batch_size=4, shuffle=True, seed=3)
    assert loader.last_order is None
    unshuffled = ArrayLoader(X, y, batch_size=4, shuffle=False)
    assert unshuffled.last_order is None
    assert torch.equal(torch.cat([yb for _, yb in unshuffled]), y)
    assert unshuffled.last_order is None


@pytest.mark.parametrize("seed", [0, 5, None])
def test_last_order_is_the_order_of_the_latest_pass(seed):
    torch.manual_seed(0)
    X, y = torch.randn(23, 2), torch.arange(23) * 10
    loader = ArrayLoader(X, y, batch_size=5, shuffle=True, seed=seed)
    orders = []
    for _ in range(2):
        ys, xs = [], []
        for Xb, yb in loader:
            xs.append(Xb)
            ys.append(yb)
        order = loader.last_order
        assert order is not None and sorted(order.tolist()) == list(range(23))
        assert torch.equal(torch.cat(ys), y[order])
        assert torch.equal(torch.cat(xs), X[order])
        orders.append(order)
    assert not torch.equal(orders[0], orders[1])  # each epoch draws its own order
    if seed is not None:
        assert torch.equal(orders[0], loader.order(0))
        assert torch.equal(orders[1], loader.order(1))


def test_last_order_is_set_when_iteration_begins():
    X, y = torch.randn(12, 2), torch.arange(12)
    loader = ArrayLoader(X, y, batch_size=4, seed=1)
    batches_ = iter(loader)
    _, first = next(batches_)
    assert loader.last_order is not None
    assert torch.equal(first, y[loader.last_order[:4]])


# -- momentum, Adam and label smoothing: closed-form gradients, the model's optimiser ---------


@pytest.mark.parametrize("impl", ["scratch", "concise"])
@pytest.mark.parametrize(("optimizer", "extra"), [
    ("momentum", {}), ("adam", {}), ("adam", {"weight_decay": 0.01}),
    ("sgd", {"label_smoothing": 0.1}), ("adam", {"label_smoothing": 0.2}),
])
@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_fused_and_autograd_agree_with_any_optimiser(model, impl, optimizer, extra):
    config = {"impl": impl, "optimizer": optimizer, "lr": 0.05 if optimizer != "adam" else 0.01,
              **extra}
    if model == "mlp":
        config.update(hidden=(16, 8), activation="tanh")
    data = blobs64(labels="random")
    runs = []
    for step in ("fused", "autograd"):
        setup = setup64(model, **config)
        trainer = make_trainer(epochs=3, batch_size=16, step=step)
        history = trainer.fit(setup, data)
        assert trainer.step_choice.name == step
        runs.append((history, weights(setup), setup.optimizer.state_dict()))
    (fused_h, fused_w, fused_state), (auto_h, auto_w, auto_state) = runs
    for a, b in zip(fused_h, auto_h, strict=True):
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
            assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-12), key
    assert_close_weights(fused_w, auto_w, rtol=1e-9, atol=1e-12)
    # the moments a checkpoint saves are the same too (plain SGD has none)
    fused_state["state"] = {i: m for i, m in fused_state["state"].items() if m}
    auto_state["state"] = {i: m for i, m in auto_state["state"].items() if m}
    assert fused_state["state"].keys() == auto_state["state"].keys()
    for index, moments in fused_state["state"].items():
        for name, value in moments.items():
            torch.testing.assert_close(value, auto_state["state"][index][name],
                                       rtol=1e-9, atol=1e-12, msg=name)
