"""Backpropagation by hand against autograd, in float64 where they must agree to ~1e-12."""

from __future__ import annotations

import copy

import pytest
import torch

from shallownet.errors import UsageError
from shallownet.scratch import (
    MLP,
    SGD,
    Linear,
    LinearRegression,
    SoftmaxRegression,
    cross_entropy,
    linear_regression_backward,
    mlp_backward,
    relu,
    sigmoid,
    softmax,
    softmax_regression_backward,
    squared_loss,
    tanh,
)
from shallownet.scratch.backprop import ACTIVATION_GRADIENTS

F64 = torch.float64
TOL = {"rtol": 1e-12, "atol": 1e-12}
PHI = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh}


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=gen(seed), dtype=F64)


def labels(n: int, q: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, q, (n,), generator=gen(seed))


def linear(d: int, q: int, seed: int, scale: float = 1.0) -> Linear:
    """A float64 scratch layer with non-trivial weights and biases."""
    layer = Linear(d, q, dtype=F64)
    with torch.no_grad():
        layer.W.copy_(scale * randn(d, q, seed=seed))
        layer.b.copy_(scale * randn(q, seed=seed + 1000))
    return layer


def grads(*layers: Linear) -> list[torch.Tensor]:
    return [p.grad.clone() for layer in layers for p in (layer.W, layer.b)]


def assert_all_close(got, expected, **tol) -> None:
    tol = tol or TOL
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, **tol)


# --------------------------------------------------------------------------------------------
# Linear regression
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 17])
@pytest.mark.parametrize("y_shape", ["flat", "column"])
def test_linear_regression_backward_equals_autograd(n, y_shape):
    X = randn(n, 5, seed=1)
    y = randn(n, seed=2) if y_shape == "flat" else randn(n, 1, seed=2)
    hand = linear(5, 1, seed=3)
    auto = copy.deepcopy(hand)
    losses, y_hat = linear_regression_backward(X, y, hand)
    expected_out = auto(X)
    expected_losses = squared_loss(expected_out, y)
    expected_losses.mean().backward()
    assert losses.shape == (n, 1) and y_hat.shape == (n, 1)
    torch.testing.assert_close(losses, expected_losses.detach(), **TOL)
    torch.testing.assert_close(y_hat, expected_out.detach(), **TOL)
    assert_all_close(grads(hand), grads(auto))
    # The formulas themselves: dL/dw = X^T r / n, dL/db = mean(r).
    r = (expected_out - y.reshape(n, 1)).detach()
    torch.testing.assert_close(hand.W.grad, X.T @ r / n, **TOL)
    torch.testing.assert_close(hand.b.grad, r.mean(dim=0), **TOL)


def test_linear_regression_backward_with_several_outputs():
    X, Y = randn(8, 4, seed=4), randn(8, 3, seed=5)
    hand = linear(4, 3, seed=6)
    auto = copy.deepcopy(hand)
    linear_regression_backward(X, Y, hand)
    squared_loss(auto(X), Y).mean(dim=0).sum().backward()  # mean over examples, per output
    assert_all_close(grads(hand), grads(auto))


# --------------------------------------------------------------------------------------------
# Softmax regression
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "d", "q"), [(1, 3, 2), (10, 6, 4), (33, 20, 10)])
def test_softmax_regression_backward_equals_autograd(n, d, q):
    X, y = randn(n, d, seed=7), labels(n, q, seed=8)
    hand = linear(d, q, seed=9)
    auto = copy.deepcopy(hand)
    losses, O = softmax_regression_backward(X, y, hand)
    expected_O = auto(X)
    expected_losses = cross_entropy(expected_O, y)
    expected_losses.mean().backward()
    assert losses.shape == (n,) and O.shape == (n, q)
    torch.testing.assert_close(losses, expected_losses.detach(), **TOL)
    torch.testing.assert_close(O, expected_O.detach(), **TOL)
    assert_all_close(grads(hand), grads(auto))
    # dL/dO = (softmax(O) - onehot(y)) / n
    G = (softmax(O, dim=1) - torch.nn.functional.one_hot(y, q).to(F64)) / n
    torch.testing.assert_close(hand.W.grad, X.T @ G, **TOL)
    torch.testing.assert_close(hand.b.grad, G.sum(dim=0), **TOL)


def test_softmax_regression_backward_with_extreme_logits():
    X, y = randn(6, 3, seed=10), labels(6, 5, seed=11)
    hand = linear(3, 5, seed=12, scale=300.0)  # logits in the thousands: exp would overflow
    auto = copy.deepcopy(hand)
    losses, _ = softmax_regression_backward(X, y, hand)
    cross_entropy(auto(X), y).mean().backward()
    assert torch.isfinite(losses).all()
    assert all(torch.isfinite(g).all() for g in grads(hand))
    assert_all_close(grads(hand), grads(auto), rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------------------------
# MLP with one hidden layer
# --------------------------------------------------------------------------------------------


def mlp_autograd(X, y, hidden: Linear, output: Linear, activation: str):
    O = output(PHI[activation](hidden(X)))
    losses = cross_entropy(O, y)
    losses.mean().backward()
    return losses.detach(), O.detach()


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize(("n", "d", "h", "q"), [(1, 4, 3, 2), (16, 12, 8, 5)])
def test_mlp_backward_equals_autograd(activation, n, d, h, q):
    X, y = randn(n, d, seed=13), labels(n, q, seed=14)
    hidden, output = linear(d, h, seed=15), linear(h, q, seed=16)
    auto_hidden, auto_output = copy.deepcopy(hidden), copy.deepcopy(output)
    losses, O = mlp_backward(X, y, hidden, output, activation)
    expected_losses, expected_O = mlp_autograd(X, y, auto_hidden, auto_output, activation)
    torch.testing.assert_close(losses, expected_losses, **TOL)
    torch.testing.assert_close(O, expected_O, **TOL)
    assert_all_close(grads(hidden, output), grads(auto_hidden, auto_output))
    assert all(g.abs().sum() > 0 for g in grads(hidden, output))  # not a trivial zero


def test_mlp_backward_default_activation_is_relu():
    X, y = randn(5, 4, seed=17), labels(5, 3, seed=18)
    hidden, output = linear(4, 6, seed=19), linear(6, 3, seed=20)
    auto_hidden, auto_output = copy.deepcopy(hidden), copy.deepcopy(output)
    mlp_backward(X, y, hidden, output)
    mlp_autograd(X, y, auto_hidden, auto_output, "relu")
    assert_all_close(grads(hidden, output), grads(auto_hidden, auto_output))


def test_mlp_backward_relu_at_exactly_zero_follows_autograd():
    # A dead hidden unit (zero weights and bias): Z = 0 exactly, where relu'(0) = 0.
    X, y = randn(7, 4, seed=21), labels(7, 3, seed=22)
    hidden, output = linear(4, 5, seed=23), linear(5, 3, seed=24)
    with torch.no_grad():
        hidden.W[:, 2] = 0
        hidden.b[2] = 0
    auto_hidden, auto_output = copy.deepcopy(hidden), copy.deepcopy(output)
    mlp_backward(X, y, hidden, output, "relu")
    mlp_autograd(X, y, auto_hidden, auto_output, "relu")
    assert_all_close(grads(hidden, output), grads(auto_hidden, auto_output))
    assert torch.equal(hidden.W.grad[:, 2], torch.zeros(4, dtype=F64))


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activation_derivatives_equal_autograd(name):
    phi, phi_grad = ACTIVATION_GRADIENTS[name]
    Z = torch.linspace(-6, 6, 121, dtype=F64).requires_grad_(True)  # includes 0 exactly
    H = phi(Z)
    (expected,) = torch.autograd.grad(H.sum(), Z)
    torch.testing.assert_close(phi_grad(Z.detach(), H.detach()), expected, **TOL)


def test_unknown_activation_is_a_usage_error():
    X, y = randn(3, 2, seed=25), labels(3, 2, seed=26)
    hidden, output = linear(2, 3, seed=27), linear(3, 2, seed=28)
    with pytest.raises(UsageError, match="no hand-written gradient for activation 'gelu'"):
        mlp_backward(X, y, hidden, output, "gelu")
    assert hidden.W.grad is None and output.W.grad is None


# --------------------------------------------------------------------------------------------
# Accumulation, no graph, no side effects
# --------------------------------------------------------------------------------------------


def run_hand(kind: str, layers, X, y):
    if kind == "linear":
        return linear_regression_backward(X, y, *layers)
    if kind == "softmax":
        return softmax_regression_backward(X, y, *layers)
    return mlp_backward(X, y, *layers, "tanh")


def run_auto(kind: str, layers, X, y):
    if kind == "linear":
        squared_loss(layers[0](X), y).mean().backward()
    elif kind == "softmax":
        cross_entropy(layers[0](X), y).mean().backward()
    else:
        mlp_autograd(X, y, *layers, "tanh")


def make_case(kind: str):
    X = randn(9, 4, seed=29)
    if kind == "linear":
        return X, randn(9, seed=30), [linear(4, 1, seed=31)]
    if kind == "softmax":
        return X, labels(9, 3, seed=32), [linear(4, 3, seed=33)]
    return X, labels(9, 3, seed=34), [linear(4, 6, seed=35), linear(6, 3, seed=36)]


@pytest.mark.parametrize("kind", ["linear", "softmax", "mlp"])
def test_gradients_accumulate_like_autograd(kind):
    X, y, hand = make_case(kind)
    auto = copy.deepcopy(hand)
    for layer in (*hand, *auto):  # a gradient already there, e.g. from another batch
        for i, p in enumerate((layer.W, layer.b)):
            p.grad = torch.full_like(p, 0.25 * (i + 1))
    start = grads(*hand)
    run_hand(kind, hand, X, y)
    run_hand(kind, hand, X, y)
    run_auto(kind, auto, X, y)
    run_auto(kind, auto, X, y)
    assert_all_close(grads(*hand), grads(*auto))
    # Twice the fresh gradient on top of the start.
    fresh = make_case(kind)[2]
    run_hand(kind, fresh, X, y)
    assert_all_close(grads(*hand), [s + 2 * g for s, g in zip(start, grads(*fresh), strict=True)])


@pytest.mark.parametrize("kind", ["linear", "softmax", "mlp"])
def test_hand_backward_builds_no_graph_and_leaves_parameters_alone(kind):
    X, y, hand = make_case(kind)
    before = [p.detach().clone() for layer in hand for p in layer.parameters()]
    losses, out = run_hand(kind, hand, X, y)
    assert not losses.requires_grad and not out.requires_grad
    assert losses.grad_fn is None and out.grad_fn is None
    after = [p.detach() for layer in hand for p in layer.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert all(not p.grad.requires_grad for layer in hand for p in layer.parameters())


# --------------------------------------------------------------------------------------------
# The models' hand_backward
# --------------------------------------------------------------------------------------------


def model_grads(model) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize(
    ("build", "loss", "make_y"),
    [
        (lambda: LinearRegression(12, dtype=F64), squared_loss, lambda n: randn(n, seed=40)),
        (lambda: SoftmaxRegression(12, 4, dtype=F64), cross_entropy,
         lambda n: labels(n, 4, seed=41)),
        (lambda: MLP(12, 4, (7,), dtype=F64), cross_entropy, lambda n: labels(n, 4, seed=42)),
        (lambda: MLP(12, 4, (7,), activation="sigmoid", dtype=F64), cross_entropy,
         lambda n: labels(n, 4, seed=43)),
        (lambda: MLP(12, 4, (7,), activation="tanh", dropout=(0.0,), dtype=F64), cross_entropy,
         lambda n: labels(n, 4, seed=44)),
    ],
    ids=["linreg", "softmax", "mlp-relu", "mlp-sigmoid", "mlp-tanh"],
)
def test_model_hand_backward_equals_autograd(build, loss, make_y):
    torch.manual_seed(0)
    hand = build()
    for i, p in enumerate(hand.parameters()):  # larger than N(0, 0.01²) so every path matters
        with torch.no_grad():
            p.copy_(randn(*p.shape, seed=50 + i))
    auto = copy.deepcopy(hand)
    X = randn(10, 3, 2, 2, seed=45)  # images: the models flatten them
    y = make_y(10)
    losses, out = hand.hand_backward(X, y)
    expected_out = auto(X)
    expected_losses = loss(expected_out, y)
    expected_losses.mean().backward()
    torch.testing.assert_close(out, expected_out.detach(), **TOL)
    torch.testing.assert_close(losses, expected_losses.detach(), **TOL)
    assert_all_close(model_grads(hand), model_grads(auto))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hidden": (8, 6)},
        {"hidden": (8,), "dropout": 0.5},
        {"hidden": (8, 6), "dropout": (0.0, 0.0)},
        {"hidden": (8,), "log_softmax": True},
    ],
)
def test_mlp_hand_backward_only_for_one_hidden_layer_no_dropout_logits(kwargs):
    model = MLP(5, 3, **kwargs, dtype=F64)
    assert not model.has_hand_backward
    with pytest.raises(UsageError, match="use autograd"):
        model.hand_backward(randn(4, 5, seed=46), labels(4, 3, seed=47))
    assert all(p.grad is None for p in model.parameters())
    assert MLP(5, 3, (8,)).has_hand_backward


def test_mlp_with_unknown_activation_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown activation 'gelu'"):
        MLP(5, 3, (8,), activation="gelu")


# --------------------------------------------------------------------------------------------
# A short training run: hand gradients follow autograd's trajectory
# --------------------------------------------------------------------------------------------


def test_softmax_regression_training_with_hand_gradients_follows_autograd():
    torch.manual_seed(0)
    X = randn(64, 1, 4, 5, seed=60)
    y = labels(64, 3, seed=61)
    hand = SoftmaxRegression(20, 3, dtype=F64)
    auto = copy.deepcopy(hand)
    opt_hand = SGD(hand.parameters(), lr=0.5)
    opt_auto = SGD(auto.parameters(), lr=0.5)
    losses_hand, losses_auto = [], []
    for step in range(20):
        batch = slice(16 * (step % 4), 16 * (step % 4 + 1))
        opt_hand.zero_grad()
        losses, _ = hand.hand_backward(X[batch], y[batch])
        opt_hand.step()
        losses_hand.append(losses.mean().item())

        opt_auto.zero_grad()
        loss = cross_entropy(auto(X[batch]), y[batch]).mean()
        loss.backward()
        opt_auto.step()
        losses_auto.append(loss.item())
        for a, b in zip(hand.parameters(), auto.parameters(), strict=True):
            torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-10, atol=1e-12)
    assert losses_hand == pytest.approx(losses_auto, rel=1e-10)
    assert losses_hand[-1] < losses_hand[0] - 0.1  # it does learn
    assert not torch.equal(hand.linear.W.detach(), torch.zeros_like(hand.linear.W))
