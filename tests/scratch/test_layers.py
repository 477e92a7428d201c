"""Fully connected layers and dropout: the formulas, and torch's own layers as the reference."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from shallownet.errors import UsageError
from shallownet.scratch import Dropout, Flatten, Linear, dropout_layer, linreg

F64 = torch.float64
TOL = {"rtol": 1e-12, "atol": 1e-12}


def randn(*shape, seed: int = 0, dtype=F64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


# --------------------------------------------------------------------------------------------
# linreg and Linear
# --------------------------------------------------------------------------------------------


def test_linreg_is_xw_plus_b():
    X, w, b = randn(5, 3, seed=1), randn(3, 2, seed=2), randn(2, seed=3)
    expected = torch.stack([
        torch.stack([sum(X[i, k] * w[k, j] for k in range(3)) + b[j] for j in range(2)])
        for i in range(5)
    ])
    torch.testing.assert_close(linreg(X, w, b), expected, **TOL)
    # The book's single-output form: w (d, 1), b a scalar.
    w1, b1 = randn(3, 1, seed=4), torch.tensor(4.2, dtype=F64)
    out = linreg(X, w1, b1)
    assert out.shape == (5, 1)
    torch.testing.assert_close(out, X @ w1 + 4.2, **TOL)


def test_linear_stores_w_as_inputs_by_outputs(seed):
    layer = Linear(4, 3)
    assert layer.W.shape == (4, 3)
    assert layer.b.shape == (3,)
    assert (layer.num_inputs, layer.num_outputs) == (4, 3)
    assert dict(layer.named_parameters()).keys() == {"W", "b"}
    assert torch.equal(layer.b.detach(), torch.zeros(3))
    assert layer.W.dtype == torch.float32
    assert Linear(2, 5, dtype=F64).W.dtype == F64


def test_linear_initial_weights_are_normal_with_std_001(seed):
    W = Linear(200, 100).W.detach()
    assert abs(W.mean().item()) < 1e-3
    assert 0.0095 < W.std().item() < 0.0105


def test_linear_forward_is_xw_plus_b_and_nn_linear_with_the_transpose(seed):
    layer = Linear(4, 3, dtype=F64)
    with torch.no_grad():
        layer.b.copy_(randn(3, seed=5))
    X = randn(6, 4, seed=6)
    out = layer(X)
    assert out.shape == (6, 3)
    torch.testing.assert_close(out, X @ layer.W + layer.b, **TOL)
    ref = nn.Linear(4, 3, dtype=F64)
    with torch.no_grad():
        ref.weight.copy_(layer.W.T)
        ref.bias.copy_(layer.b)
    torch.testing.assert_close(out, ref(X), **TOL)
    out.sum().backward()
    torch.testing.assert_close(layer.W.grad, X.T @ torch.ones(6, 3, dtype=F64), **TOL)
    torch.testing.assert_close(layer.b.grad, torch.full((3,), 6.0, dtype=F64), **TOL)


def test_linear_repr():
    assert repr(Linear(784, 10)) == "Linear(num_inputs=784, num_outputs=10)"


@pytest.mark.parametrize(
    ("args", "match"),
    [((0, 3), "num_inputs"), ((3, 0), "num_outputs"), ((-1, 3), "num_inputs"),
     ((2.0, 3), "num_inputs"), ((3, True), "num_outputs")],
)
def test_linear_refuses_bad_sizes(args, match):
    with pytest.raises(UsageError, match=match):
        Linear(*args)


def test_flatten_keeps_the_batch_dimension():
    X = torch.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)
    out = Flatten()(X)
    assert out.shape == (2, 60)
    assert torch.equal(out, nn.Flatten()(X))
    assert torch.equal(out[1], X[1].reshape(-1))
    assert Flatten()(torch.zeros(1, 1, 28, 28)).shape == (1, 784)
    assert Flatten()(torch.zeros(7, 3)).shape == (7, 3)
    assert list(Flatten().parameters()) == []


# --------------------------------------------------------------------------------------------
# dropout_layer and Dropout
# --------------------------------------------------------------------------------------------


def test_dropout_p0_is_identity_and_p1_is_zeros():
    X = randn(4, 5, seed=7)
    assert torch.equal(dropout_layer(X, 0.0), X)
    assert torch.equal(dropout_layer(X, 0), X)
    out = dropout_layer(X, 1.0)
    assert torch.equal(out, torch.zeros_like(X))
    assert out.dtype == X.dtype


def test_dropout_p1_does_not_consume_random_numbers():
    torch.manual_seed(3)
    dropout_layer(torch.ones(100), 1.0)
    dropout_layer(torch.ones(100), 0.0)
    after = torch.rand(3)
    torch.manual_seed(3)
    assert torch.equal(torch.rand(3), after)


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.8])
def test_dropout_zeroes_about_p_and_scales_the_rest(p):
    torch.manual_seed(1234)
    X = torch.rand(200, 500, dtype=F64) + 0.5  # no zeros of its own
    out = dropout_layer(X, p)
    assert out.shape == X.shape
    dropped = out == 0
    # 100 000 Bernoulli draws: the standard deviation of the fraction is <= 0.0016.
    assert abs(dropped.double().mean().item() - p) < 0.01
    torch.testing.assert_close(out[~dropped], X[~dropped] / (1 - p), **TOL)
    # Inverted dropout keeps the expectation: E[out / X] = 1 (sd of the mean <= 0.007).
    assert abs((out / X).mean().item() - 1) < 0.03
    assert abs(out.mean().item() - X.mean().item()) < 0.03


def test_dropout_expectation_over_many_draws():
    torch.manual_seed(5)
    X = randn(3, 4, seed=8)
    mean = torch.stack([dropout_layer(X, 0.5) for _ in range(4000)]).mean(dim=0)
    torch.testing.assert_close(mean, X, rtol=0, atol=0.12)


def test_dropout_does_not_modify_its_input_and_masks_the_gradient():
    torch.manual_seed(6)
    X = randn(50, 40, seed=9).requires_grad_(True)
    before = X.detach().clone()
    out = dropout_layer(X, 0.4)
    assert torch.equal(X.detach(), before)
    out.sum().backward()
    expected = (out.detach() != 0).to(F64) / (1 - 0.4)
    torch.testing.assert_close(X.grad, expected, **TOL)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.75])
@pytest.mark.parametrize("shape", [(7,), (32, 17), (4, 3, 5, 6)])
def test_dropout_equals_torch_from_the_same_seed(dtype, p, shape):
    X = randn(*shape, seed=10, dtype=dtype)
    torch.manual_seed(42)
    got = dropout_layer(X, p)
    torch.manual_seed(42)
    expected = F.dropout(X, p, training=True)
    assert torch.equal(got, expected)
    # ... and the global generator is left in the same state.
    after_ours = torch.rand(1)
    torch.manual_seed(42)
    F.dropout(X, p, training=True)
    assert torch.equal(torch.rand(1), after_ours)


def test_dropout_module_equals_nn_dropout_in_train_mode_and_is_identity_in_eval():
    X = randn(16, 20, seed=11)
    ours, theirs = Dropout(0.3), nn.Dropout(0.3)
    assert ours.training
    for step in range(3):
        torch.manual_seed(step)
        got = ours(X)
        torch.manual_seed(step)
        assert torch.equal(got, theirs(X))
        assert not torch.equal(got, X)
    ours.eval()
    assert ours(X) is X
    torch.manual_seed(0)
    assert torch.equal(ours(X), theirs.eval()(X))
    ours.train()
    assert (ours(X) == 0).any()


def test_dropout_module_repr_default_and_no_parameters():
    assert Dropout().p == 0.5
    assert repr(Dropout(0.2)) == "Dropout(p=0.2)"
    assert list(Dropout().parameters()) == []


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), float("inf"), -1])
def test_invalid_dropout_probability_is_a_usage_error(p):
    X = torch.ones(3)
    with pytest.raises(UsageError, match="dropout probability"):
        dropout_layer(X, p)
    with pytest.raises(UsageError, match="dropout probability"):
        Dropout(p)
