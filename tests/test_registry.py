"""The registry: one config -> model, loss and optimiser, in the scratch and the concise tier.

The central claim: built from the same seed, the two tiers (and backprop by
hand) follow the same training trajectory, step after step, in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from shallownet import scratch
from shallownet.errors import UsageError
from shallownet.registry import (
    IMPLS,
    MODELS,
    OPTIMIZERS,
    ModelConfig,
    ModelSetup,
    build,
)

SEED = 3
ATOL = 1e-10
STEPS = 3

#: model -> (input shape of one example, num_outputs, batch size)
SHAPES = {
    "linreg": ((8,), 1, 8),
    "softmax": ((1, 28, 28), 10, 8),
    "mlp": ((1, 28, 28), 10, 8),
    "logreg": ((8,), 2, 8),
    "lenet": ((1, 28, 28), 10, 4),
}


def make_batch(model: str, *, seed: int = 0, dtype=torch.float64):
    """A fixed batch (X, y) fitting ``model``'s task."""
    shape, q, n = SHAPES[model]
    g = torch.Generator().manual_seed(seed)
    X = torch.randn((n, *shape), generator=g, dtype=dtype)
    if model == "linreg":
        y = torch.randn((n, 1), generator=g, dtype=dtype) * 2 + 1
    elif model == "logreg":
        y = torch.tensor([0, 1] * (n // 2), dtype=torch.int64)
    else:
        y = torch.arange(n, dtype=torch.int64) % q
    return X, y


def make_setup(model: str, *, seed: int | None = SEED, dtype=torch.float64, **config):
    shape, q, _ = SHAPES[model]
    return build(ModelConfig(model=model, **config), input_shape=shape, num_outputs=q,
                 seed=seed, dtype=dtype)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


def trajectory(setup: ModelSetup, X, y, *, steps: int = STEPS, mask_seed: int = 1234):
    """(initial eval outputs, [(losses, outputs) per train_step], final eval outputs)."""
    setup.model.eval()
    with torch.no_grad():
        initial = setup.model(X)
    setup.model.train()
    torch.manual_seed(mask_seed)  # the same dropout masks for every run
    history = [setup.train_step(X, y) for _ in range(steps)]
    setup.model.eval()
    with torch.no_grad():
        final = setup.model(X)
    setup.model.train()
    return initial, history, final


def assert_same_trajectory(a, b, *, atol: float = ATOL) -> None:
    initial_a, history_a, final_a = a
    initial_b, history_b, final_b = b
    assert max_diff(initial_a, initial_b) < atol
    for (loss_a, out_a), (loss_b, out_b) in zip(history_a, history_b, strict=True):
        assert max_diff(loss_a, loss_b) < atol
        assert max_diff(out_a, out_b) < atol
    assert max_diff(final_a, final_b) < atol
    # Not a tautology: training moved the model.
    assert max_diff(initial_a, final_a) > 1e-6


def tiers_agree(model: str, **config):
    X, y = make_batch(model)
    runs = {
        impl: trajectory(make_setup(model, impl=impl, **config), X, y) for impl in IMPLS
    }
    assert_same_trajectory(runs["scratch"], runs["concise"])
    return runs


# ------------------------------------------------------------- scratch == concise


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("model", list(MODELS))
def test_scratch_and_concise_follow_the_same_trajectory(model, optimizer, weight_decay):
    runs = tiers_agree(model, optimizer=optimizer, weight_decay=weight_decay)
    losses, outputs = runs["scratch"][1][0]
    n = SHAPES[model][2]
    expected_outputs = {"linreg": (n, 1), "logreg": (n,)}.get(model, (n, 10))
    assert outputs.shape == expected_outputs
    assert losses.shape == ((n, 1) if model == "linreg" else (n,))
    assert not losses.requires_grad and not outputs.requires_grad


def test_every_model_is_covered():
    assert set(SHAPES) == set(MODELS)
    assert set(OPTIMIZERS) == {"sgd", "momentum", "adam"}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize(
    "config",
    [
        {"dropout": (0.5,)},
        {"hidden": (32, 16), "dropout": (0.3, 0.5), "weight_decay": 0.1},
        {"hidden": (128, 64), "log_softmax": True},
        {"hidden": (64,), "activation": "sigmoid", "init": "default"},
        {"hidden": (64,), "activation": "tanh", "init": "xavier"},
    ],
    ids=["dropout", "two-hidden-dropout", "log-softmax-128-64", "sigmoid", "tanh"],
)
def test_mlp_variants_agree_across_tiers(config, optimizer):
    runs = tiers_agree("mlp", optimizer=optimizer, **config)
    if any(config.get("dropout", ())):
        # Dropout really dropped: at the first step the weights are the initial
        # ones, so only the masks separate the training outputs from eval ones.
        initial, history, _ = runs["scratch"]
        assert max_diff(history[0][1], initial) > 1e-6


def test_mlp_log_softmax_trains_with_nll_on_log_probabilities():
    setup = make_setup("mlp", hidden=(128, 64), log_softmax=True, impl="concise")
    assert setup.config.loss == "nll"
    X, y = make_batch("mlp")
    _, outputs = setup.train_step(X, y)
    assert max_diff(outputs.exp().sum(dim=1), torch.ones(len(y), dtype=outputs.dtype)) < 1e-12


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize(
    "config",
    [{"loss": "l1"}, {"loss": "huber"}, {"loss": "huber", "huber_delta": 0.5}],
    ids=["l1", "huber", "huber-0.5"],
)
def test_linreg_losses_agree_across_tiers(config, optimizer):
    runs = tiers_agree("linreg", optimizer=optimizer, **config)
    initial, history, _ = runs["concise"]
    X, y = make_batch("linreg")
    r = initial - y
    delta = config.get("huber_delta", 1.0)
    expected = r.abs() if config["loss"] == "l1" else torch.where(
        r.abs() <= delta, r**2 / 2, delta * (r.abs() - delta / 2)
    )
    assert max_diff(history[0][0], expected) < 1e-12  # the loss is the one asked for


@pytest.mark.parametrize("config", [{"pool": "avg", "activation": "sigmoid"},
                                    {"init": "default"}], ids=["book-lenet", "default-init"])
def test_lenet_variants_agree_across_tiers(config):
    tiers_agree("lenet", **config)


# ------------------------------------------------------------- backprop by hand


HAND_CASES = [
    ("linreg", {}),
    ("softmax", {}),
    ("mlp", {"hidden": (32,)}),
    ("mlp", {"hidden": (32,), "activation": "sigmoid"}),
    ("mlp", {"hidden": (32,), "activation": "tanh"}),
]


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize(("model", "config"), HAND_CASES,
                         ids=[f"{m}-{c.get('activation', '')}" for m, c in HAND_CASES])
def test_hand_backward_follows_the_autograd_trajectory(model, config, optimizer, weight_decay,
                                                       monkeypatch):
    X, y = make_batch(model)
    common = {"impl": "scratch", "optimizer": optimizer, "weight_decay": weight_decay, **config}
    auto = trajectory(make_setup(model, backward="autograd", **common), X, y)
    hand_setup = make_setup(model, backward="hand", **common)

    calls = []
    original = hand_setup.model.hand_backward

    def counting(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(hand_setup.model, "hand_backward", counting)
    hand = trajectory(hand_setup, X, y)
    assert len(calls) == STEPS  # the gradients really came from the chain rule
    assert_same_trajectory(auto, hand)


@pytest.mark.parametrize(
    ("model", "config"),
    [
        ("softmax", {"impl": "concise"}),
        ("linreg", {"impl": "concise"}),
        ("lenet", {}),
        ("logreg", {}),
        ("mlp", {"hidden": (32, 16)}),
        ("mlp", {"dropout": (0.5,)}),
        ("mlp", {"log_softmax": True}),
        ("linreg", {"loss": "l1"}),
        ("linreg", {"loss": "huber"}),
    ],
)
def test_hand_backward_where_it_is_not_written_is_a_usage_error(model, config):
    cfg = ModelConfig(model=model, backward="hand", **config)
    with pytest.raises(UsageError, match="backprop by hand"):
        cfg.resolved()
    with pytest.raises(UsageError, match="backprop by hand"):
        make_setup(model, backward="hand", **config)


def test_unknown_backward_is_a_usage_error():
    with pytest.raises(UsageError, match="backward must be autograd or hand, not 'manual'"):
        ModelConfig(backward="manual").resolved()


# ------------------------------------------------------------- defaults and checks


@pytest.mark.parametrize(
    ("config", "lr", "init", "loss"),
    [
        ({"model": "softmax"}, 0.1, "normal", "cross_entropy"),
        ({"model": "linreg"}, 0.03, "normal", "squared"),
        ({"model": "mlp"}, 0.1, "normal", "cross_entropy"),
        ({"model": "mlp", "log_softmax": True}, 0.1, "normal", "nll"),
        ({"model": "logreg"}, 0.1, "normal", "bce"),
        ({"model": "lenet"}, 0.1, "xavier", "cross_entropy"),
        ({"model": "softmax", "optimizer": "adam"}, 1e-3, "normal", "cross_entropy"),
        ({"model": "linreg", "optimizer": "adam"}, 1e-3, "normal", "squared"),
        ({"model": "lenet", "optimizer": "momentum"}, 0.1, "xavier", "cross_entropy"),
        ({"model": "softmax", "lr": 0.5}, 0.5, "normal", "cross_entropy"),
        ({"model": "linreg", "lr": 0.2, "optimizer": "adam"}, 0.2, "normal", "squared"),
        ({"model": "lenet", "init": "default"}, 0.1, "default", "cross_entropy"),
        ({"model": "linreg", "loss": "huber"}, 0.03, "normal", "huber"),
    ],
)
def test_resolved_fills_in_the_defaults(config, lr, init, loss):
    cfg = ModelConfig(**config).resolved()
    assert cfg.lr == lr
    assert cfg.init == init
    assert cfg.loss == loss
    assert cfg.resolved() == cfg  # idempotent
    assert all(getattr(cfg, f) is not None for f in ("lr", "init", "loss"))


def test_resolved_normalises_sequences_to_tuples():
    cfg = ModelConfig(model="mlp", hidden=[128, 64], dropout=[0.5], betas=[0.8, 0.9]).resolved()
    assert cfg.hidden == (128, 64)
    assert cfg.dropout == (0.5,)
    assert cfg.betas == (0.8, 0.9)
    assert isinstance(cfg.lr, float)


def test_build_returns_the_resolved_config_and_task():
    setup = make_setup("linreg", optimizer="adam")
    assert setup.config == ModelConfig(model="linreg", optimizer="adam").resolved()
    assert setup.task == "regression"
    assert setup.input_shape == (8,)
    assert setup.num_outputs == 1
    assert make_setup("logreg").task == "binary"
    assert make_setup("softmax").task == "classification"


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"model": "resnet"}, "unknown model 'resnet'"),
        ({"impl": "keras"}, "unknown implementation 'keras'"),
        ({"optimizer": "rmsprop"}, "unknown optimiser 'rmsprop'"),
        ({"init": "he"}, "unknown initialisation 'he'"),
        ({"model": "linreg", "loss": "cross_entropy"},
         "'linreg' trains with squared or l1 or huber, not 'cross_entropy'"),
        ({"model": "softmax", "loss": "squared"}, "trains with cross_entropy, not 'squared'"),
        ({"model": "mlp", "loss": "nll"}, "not 'nll'"),
        ({"model": "mlp", "log_softmax": True, "loss": "cross_entropy"},
         "trains with nll, not 'cross_entropy'"),
        ({"model": "logreg", "loss": "hinge"}, "not 'hinge'"),
        ({"lr": 0.0}, "learning rate must be a positive number, not 0.0"),
        ({"lr": -0.1}, "learning rate must be a positive number, not -0.1"),
        ({"lr": math.nan}, "learning rate must be a positive number, not nan"),
        ({"lr": math.inf}, "learning rate must be a positive number, not inf"),
        ({"weight_decay": -0.1}, "weight decay must be 0 or more, not -0.1"),
        ({"weight_decay": math.nan}, "weight decay must be 0 or more, not nan"),
        ({"model": "mlp", "dropout": (1.0,)}, "dropout probabilities must lie in"),
        ({"model": "mlp", "dropout": (1.5,)}, "dropout probabilities must lie in"),
        ({"model": "mlp", "dropout": (-0.1,)}, "dropout probabilities must lie in"),
        ({"optimizer": "momentum", "momentum": 1.0}, "momentum must lie in \\[0, 1\\), not 1.0"),
        ({"momentum": -0.5}, "momentum must lie in"),
        ({"model": "mlp", "hidden": (0,)}, "hidden layer widths must be positive, not \\(0,\\)"),
        ({"model": "mlp", "hidden": (64, 0)}, "hidden layer widths must be positive"),
    ],
)
def test_bad_config_values_are_usage_errors_naming_the_problem(config, match):
    with pytest.raises(UsageError, match=match):
        ModelConfig(**config).resolved()
    model = config.get("model", "softmax")
    if model in SHAPES:
        with pytest.raises(UsageError, match=match):
            make_setup(**{"model": model, **{k: v for k, v in config.items() if k != "model"}})


@pytest.mark.parametrize(
    ("model", "num_outputs", "match"),
    [
        ("logreg", 10, "logreg separates two classes, but the data has 10"),
        ("logreg", 1, "logreg separates two classes, but the data has 1"),
        ("linreg", 2, "linreg predicts one value per example, not 2"),
        ("linreg", 10, "linreg predicts one value per example, not 10"),
        ("softmax", 1, "a classifier needs at least 2 classes, not 1"),
        ("mlp", 1, "a classifier needs at least 2 classes, not 1"),
        ("lenet", 1, "a classifier needs at least 2 classes, not 1"),
        ("softmax", 0, "a classifier needs at least 2 classes, not 0"),
    ],
)
def test_wrong_number_of_outputs_is_a_usage_error(model, num_outputs, match):
    shape = SHAPES[model][0]
    with pytest.raises(UsageError, match=match):
        build(ModelConfig(model=model), input_shape=shape, num_outputs=num_outputs, seed=0)


@pytest.mark.parametrize("shape", [(), (0,), (1, 0, 28)])
def test_bad_input_shape_is_a_usage_error(shape):
    with pytest.raises(UsageError, match="input_shape must be positive sizes"):
        build(ModelConfig(model="softmax"), input_shape=shape, num_outputs=10, seed=0)


def test_numpy_integer_number_of_classes_is_accepted():
    setup = build(ModelConfig(model="softmax"), input_shape=(1, 28, 28),
                  num_outputs=np.int64(10), seed=0)
    assert setup.num_outputs == 10


@pytest.mark.parametrize("impl", ["scratch", "concise"])
@pytest.mark.parametrize("bad", [{"betas": (1.0, 0.999)}, {"eps": -1.0}, {"betas": (0.9,)}],
                         ids=["beta1=1", "eps<0", "one beta"])
def test_bad_adam_hyperparameters_are_usage_errors_in_both_tiers(impl, bad):
    with pytest.raises(UsageError):
        make_setup("softmax", impl=impl, optimizer="adam", **bad)


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_bad_huber_delta_is_rejected_when_building(impl):
    with pytest.raises(UsageError, match="delta > 0"):
        make_setup("linreg", impl=impl, loss="huber", huber_delta=0.0)


@pytest.mark.parametrize("bad", [{"init_std": 0.0}, {"init_std": float("nan")},
                                 {"init_value": float("inf")}])
def test_bad_initialisation_settings_are_rejected_when_building(bad):
    with pytest.raises(UsageError, match="initial weight"):
        make_setup("softmax", impl="scratch", **bad)


# ------------------------------------------------------------- optimisers and weight decay


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("impl", IMPLS)
def test_optimizer_kinds_and_hyperparameters(impl, optimizer):
    setup = make_setup("mlp", impl=impl, optimizer=optimizer, hidden=(16,))
    opt = setup.optimizer
    expected = {
        ("scratch", "sgd"): scratch.SGD, ("scratch", "momentum"): scratch.SGD,
        ("scratch", "adam"): scratch.Adam, ("concise", "sgd"): torch.optim.SGD,
        ("concise", "momentum"): torch.optim.SGD, ("concise", "adam"): torch.optim.Adam,
    }[impl, optimizer]
    assert type(opt) is expected
    for group in opt.param_groups:
        assert group["lr"] == setup.config.lr
        if optimizer != "adam":
            assert group["momentum"] == (0.9 if optimizer == "momentum" else 0.0)
        else:
            assert tuple(group["betas"]) == (0.9, 0.999)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("model", list(MODELS))
def test_weight_decay_groups_hold_weights_only(model, impl, optimizer):
    setup = make_setup(model, impl=impl, optimizer=optimizer, weight_decay=0.25)
    seen = []
    for group in setup.optimizer.param_groups:
        for p in group["params"]:
            assert group["weight_decay"] == (0.25 if p.ndim > 1 else 0.0), p.shape
            seen.append(p)
    params = list(setup.model.parameters())
    assert len(seen) == len(params)
    assert {id(p) for p in seen} == {id(p) for p in params}
    assert any(p.ndim > 1 for p in seen) and any(p.ndim == 1 for p in seen)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("model", ["linreg", "mlp", "lenet", "logreg"])
def test_a_step_with_weight_decay_shrinks_weights_and_leaves_biases(model, impl):
    wd, lr = 0.5, 0.1
    X, y = make_batch(model)
    plain = make_setup(model, impl=impl, lr=lr, init="default")
    decayed = make_setup(model, impl=impl, lr=lr, init="default", weight_decay=wd)
    before = {k: v.clone() for k, v in decayed.model.state_dict().items()}
    plain.train_step(X, y)
    decayed.train_step(X, y)
    after_plain = dict(plain.model.named_parameters())
    shrunk = 0.0
    for name, p in decayed.model.named_parameters():
        if p.ndim > 1:
            expected = after_plain[name] - lr * wd * before[name]
            assert max_diff(p.detach(), expected.detach()) < 1e-12, name
            shrunk = max(shrunk, max_diff(p.detach(), after_plain[name].detach()))
        else:
            assert torch.equal(p.detach(), after_plain[name].detach()), name
    assert shrunk > 1e-4  # the decay really acted


# ------------------------------------------------------------- predictions


def test_predict_labels_and_probabilities_for_classes():
    setup = make_setup("softmax")
    logits = torch.tensor([[0.1, 2.0, 0.3], [5.0, 1.0, 0.0], [-1.0, -2.0, -0.5]])
    assert setup.predict_labels(logits).tolist() == [1, 0, 2]
    p = setup.probabilities(logits)
    assert p.shape == (3, 3)
    assert max_diff(p.sum(dim=1), torch.ones(3)) < 1e-6
    assert max_diff(p, torch.softmax(logits, dim=1)) < 1e-7
    assert p.argmax(dim=1).tolist() == [1, 0, 2]


def test_probabilities_from_log_softmax_outputs_are_the_probabilities():
    setup = make_setup("mlp", log_softmax=True)
    logits = torch.randn(5, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    p = setup.probabilities(torch.log_softmax(logits, dim=1))
    assert max_diff(p, torch.softmax(logits, dim=1)) < 1e-12
    assert setup.predict_labels(torch.log_softmax(logits, dim=1)).tolist() == \
        logits.argmax(dim=1).tolist()


def test_predict_labels_and_probabilities_for_binary():
    setup = make_setup("logreg")
    logits = torch.tensor([-3.0, -0.1, 0.0, 0.2, 4.0])
    labels = setup.predict_labels(logits)
    assert labels.tolist() == [0, 0, 0, 1, 1]
    assert labels.dtype == torch.int64
    p = setup.probabilities(logits)
    assert p.shape == (5, 2)
    assert max_diff(p.sum(dim=1), torch.ones(5)) < 1e-6
    assert max_diff(p[:, 1], torch.sigmoid(logits)) < 1e-7
    assert p[2].tolist() == [0.5, 0.5]


def test_regression_has_no_labels_or_probabilities():
    setup = make_setup("linreg")
    outputs = torch.zeros(4, 1)
    with pytest.raises(UsageError, match="predicts values, not class labels"):
        setup.predict_labels(outputs)
    with pytest.raises(UsageError, match="no class probabilities"):
        setup.probabilities(outputs)


@pytest.mark.parametrize("impl", IMPLS)
def test_logreg_learns_a_separable_batch(impl):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 8, generator=g, dtype=torch.float64)
    y = (X[:, 0] + X[:, 1] > 0).to(torch.int64)
    setup = make_setup("logreg", impl=impl, lr=1.0)
    for _ in range(50):
        _, logits = setup.train_step(X, y)
    with torch.no_grad():
        accuracy = (setup.predict_labels(setup.model(X)) == y).double().mean().item()
    assert accuracy > 0.9


# ------------------------------------------------------------- train_step


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
@pytest.mark.parametrize("impl", IMPLS)
def test_train_step_zeroes_gradients_between_steps(impl, optimizer):
    X, y = make_batch("mlp")
    config = {"impl": impl, "hidden": (16,), "optimizer": optimizer}
    stepped = make_setup("mlp", **config)
    manual = make_setup("mlp", **config)
    for _ in range(2):
        stepped.train_step(X, y)

    lr, mu = manual.config.lr, (0.9 if optimizer == "momentum" else 0.0)
    params = list(manual.model.parameters())
    buffers = [None] * len(params)
    for _ in range(2):
        for p in params:
            p.grad = None
        manual.loss(manual.model(X), y).mean().backward()
        with torch.no_grad():
            for i, p in enumerate(params):
                buffers[i] = p.grad.clone() if buffers[i] is None else mu * buffers[i] + p.grad
                p -= lr * buffers[i]
    for (name, a), b in zip(stepped.model.named_parameters(), params, strict=True):
        assert max_diff(a.detach(), b.detach()) < 1e-12, name


def test_forward_backward_leaves_gradients_and_train_step_applies_them():
    X, y = make_batch("softmax")
    setup = make_setup("softmax", impl="concise")
    before = [p.detach().clone() for p in setup.model.parameters()]
    losses, outputs = setup.forward_backward(X, y)
    assert all(p.grad is not None for p in setup.model.parameters())
    assert not losses.requires_grad and not outputs.requires_grad
    for p, b in zip(setup.model.parameters(), before, strict=True):
        assert torch.equal(p.detach(), b)  # forward_backward does not step
    setup.train_step(X, y)
    assert any(not torch.equal(p.detach(), b)
               for p, b in zip(setup.model.parameters(), before, strict=True))


# ------------------------------------------------------------- seeds and dtypes


def _weights(setup: ModelSetup) -> list[torch.Tensor]:
    return [p.detach().clone() for p in setup.model.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("model", list(MODELS))
def test_same_seed_same_weights_different_seed_different_weights(model, impl):
    torch.manual_seed(1)
    a = _weights(make_setup(model, impl=impl, seed=5))
    torch.manual_seed(2)  # the global RNG does not matter when a seed is given
    b = _weights(make_setup(model, impl=impl, seed=5))
    c = _weights(make_setup(model, impl=impl, seed=6))
    assert _same(a, b)
    assert not _same(a, c)


def test_scratch_and_concise_start_with_the_same_weights():
    s = make_setup("mlp", impl="scratch", hidden=(16,), seed=9)
    c = make_setup("mlp", impl="concise", hidden=(16,), seed=9)
    concise_linears = [m for m in c.model if isinstance(m, torch.nn.Linear)]
    scratch_linears = [*s.model.hidden, s.model.output]
    for sl, cl in zip(scratch_linears, concise_linears, strict=True):
        assert torch.equal(sl.W.T, cl.weight)
        assert torch.equal(sl.b, cl.bias)
    assert sl.W.abs().max() > 0


@pytest.mark.parametrize("impl", IMPLS)
def test_seed_none_uses_the_global_rng(impl):
    torch.manual_seed(123)
    a = _weights(make_setup("mlp", impl=impl, hidden=(16,), seed=None))
    torch.manual_seed(123)
    b = _weights(make_setup("mlp", impl=impl, hidden=(16,), seed=None))
    c = _weights(make_setup("mlp", impl=impl, hidden=(16,), seed=None))  # RNG moved on
    assert _same(a, b)
    assert not _same(b, c)


@pytest.mark.parametrize("impl", IMPLS)
def test_dtype(impl):
    assert all(p.dtype == torch.float32 for p in make_setup("lenet", impl=impl,
                                                            dtype=torch.float32).model.parameters())
    assert all(p.dtype == torch.float64 for p in make_setup("lenet", impl=impl,
                                                            dtype=torch.float64).model.parameters())
