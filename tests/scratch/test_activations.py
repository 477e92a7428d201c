"""The scratch activations and softmax against torch, values and gradients.

Hypothesis draws float64 inputs anywhere in [-1e4, 1e4] (ordinary values and
logits far past the point where a naive ``exp`` overflows); fixed cases cover
exact zeros, ±1e4, all-equal huge rows, a batch of one and one class
dominating, in float32 and float64. Gradients are compared through a random
upstream gradient (not ``.sum()``, whose softmax gradient is identically 0).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from shallownet.scratch import ACTIVATIONS, log_softmax, relu, sigmoid, softmax, tanh

F32, F64 = torch.float32, torch.float64
TOL = {F64: {"rtol": 1e-12, "atol": 1e-12}, F32: {"rtol": 1e-5, "atol": 1e-6}}
SETTINGS = settings(max_examples=40, deadline=None)

#: Any finite logit up to ±1e4, with the bounds, zero and a dominating 50 drawn often.
LOGITS = st.one_of(
    st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
    st.sampled_from([1e4, -1e4, 0.0, -0.0, 50.0, -50.0, 1.0]),
)
ORDINARY = st.floats(-20, 20, allow_nan=False, allow_infinity=False)

ELEMENTWISE = [(relu, F.relu), (sigmoid, torch.sigmoid), (tanh, torch.tanh)]
ELEMENTWISE_IDS = ["relu", "sigmoid", "tanh"]
ROWWISE = [(softmax, torch.softmax), (log_softmax, torch.log_softmax)]
ROWWISE_IDS = ["softmax", "log_softmax"]

EXTREME_ROWS = [
    [1e4, -1e4, 0.0],
    [1e4, 1e4, 1e4],
    [-1e4, -1e4, -1e4],
    [-1e4, 1e4, 1e4],
    [0.0, -1e4, -1e4],
]


def arrays(elements=LOGITS, min_dims=1, max_dims=3, max_side=5):
    return hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side),
        elements=elements,
    ).map(torch.from_numpy)


def upstream(shape, dtype) -> torch.Tensor:
    """A fixed random upstream gradient: exercises the whole Jacobian, not one sum of it."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(
        dtype
    )


def value_and_grad(fn, X: torch.Tensor, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    X = X.detach().clone().requires_grad_(True)
    out = fn(X, **kwargs)
    (grad,) = torch.autograd.grad((out * upstream(out.shape, out.dtype)).sum(), X)
    return out.detach(), grad


def assert_matches(ours, theirs, X: torch.Tensor, **kwargs) -> None:
    """Values and gradients of ``ours`` equal torch's, and finite wherever torch's are."""
    out, grad = value_and_grad(ours, X, **kwargs)
    ref_out, ref_grad = value_and_grad(theirs, X, **kwargs)
    tol = TOL[X.dtype]
    scale = max(1.0, X.abs().max().item())  # an absolute error relative to the inputs' size
    assert out.dtype == X.dtype and out.shape == X.shape
    assert torch.isfinite(out[torch.isfinite(ref_out)]).all(), (X, out, ref_out)
    assert torch.isfinite(grad[torch.isfinite(ref_grad)]).all(), (X, grad, ref_grad)
    torch.testing.assert_close(out, ref_out, rtol=tol["rtol"], atol=tol["atol"] * scale)
    torch.testing.assert_close(grad, ref_grad, **tol)


# --------------------------------------------------------------------------- elementwise


@pytest.mark.parametrize(("ours", "theirs"), ELEMENTWISE, ids=ELEMENTWISE_IDS)
@SETTINGS
@given(X=arrays())
def test_elementwise_matches_torch(ours, theirs, X):
    assert_matches(ours, theirs, X)


@pytest.mark.parametrize(("ours", "theirs"), ELEMENTWISE, ids=ELEMENTWISE_IDS)
@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_elementwise_at_extremes(ours, theirs, dtype):
    X = torch.tensor([-1e4, -800.0, -50.0, -1.0, -0.0, 0.0, 1.0, 50.0, 800.0, 1e4], dtype=dtype)
    assert_matches(ours, theirs, X)
    out, grad = value_and_grad(ours, X)
    assert torch.isfinite(out).all() and torch.isfinite(grad).all()


def test_relu_gradient_at_zero_is_zero_as_in_torch():
    X = torch.tensor([-1.0, -0.0, 0.0, 1e-300, 1.0], dtype=F64, requires_grad=True)
    relu(X).sum().backward()
    torch.testing.assert_close(X.grad, torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0], dtype=F64))
    Y = X.detach().clone().requires_grad_(True)
    F.relu(Y).sum().backward()
    torch.testing.assert_close(X.grad, Y.grad, rtol=0, atol=0)


def test_sigmoid_and_tanh_gradients_at_zero_take_the_true_slope():
    X = torch.zeros(3, dtype=F64, requires_grad=True)
    (g_sig,) = torch.autograd.grad(sigmoid(X).sum(), X)
    (g_tanh,) = torch.autograd.grad(tanh(X).sum(), X)
    torch.testing.assert_close(g_sig, torch.full((3,), 0.25, dtype=F64), rtol=0, atol=1e-15)
    torch.testing.assert_close(g_tanh, torch.ones(3, dtype=F64), rtol=0, atol=1e-15)


@SETTINGS
@given(X=arrays())
def test_sigmoid_and_tanh_symmetries(X):
    torch.testing.assert_close(tanh(-X), -tanh(X), rtol=0, atol=0)
    torch.testing.assert_close(sigmoid(X) + sigmoid(-X), torch.ones_like(X), rtol=0, atol=1e-15)
    assert ((sigmoid(X) >= 0) & (sigmoid(X) <= 1)).all()
    assert ((tanh(X) >= -1) & (tanh(X) <= 1)).all()


@pytest.mark.parametrize(
    ("dtype", "x"),
    [(F32, 1e-5), (F32, 1e-8), (F64, 1e-20)],
    ids=["f32-1e-5", "f32-1e-8", "f64-1e-20"],
)
def test_tanh_keeps_relative_accuracy_near_zero(dtype, x):
    X = torch.tensor([x, -x], dtype=dtype)
    torch.testing.assert_close(tanh(X), torch.tanh(X), rtol=TOL[dtype]["rtol"], atol=0)


def test_activations_registry():
    assert set(ACTIVATIONS) == {"relu", "sigmoid", "tanh"}
    assert ACTIVATIONS["relu"] is relu
    assert ACTIVATIONS["sigmoid"] is sigmoid
    assert ACTIVATIONS["tanh"] is tanh


@pytest.mark.parametrize("fn", [relu, sigmoid, tanh, softmax, log_softmax])
def test_gradcheck(fn):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(4, 5, generator=g, dtype=F64) * 3
    X = X + torch.sign(X) * 0.1  # keep clear of relu's kink at 0
    assert torch.autograd.gradcheck(fn, (X.requires_grad_(True),))


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("fn", [softmax, log_softmax], ids=ROWWISE_IDS)
def test_gradcheck_along_each_dim(fn, dim):
    X = torch.randn(3, 4, generator=torch.Generator().manual_seed(2), dtype=F64) * 5
    assert torch.autograd.gradcheck(lambda t: fn(t, dim=dim), (X.requires_grad_(True),))


# --------------------------------------------------------------------------- softmax


@pytest.mark.parametrize(("ours", "theirs"), ROWWISE, ids=ROWWISE_IDS)
@SETTINGS
@given(X=arrays(min_dims=1, max_dims=3), data=st.data())
def test_rowwise_matches_torch(ours, theirs, X, data):
    dim = data.draw(st.integers(-X.ndim, X.ndim - 1), label="dim")
    assert_matches(ours, theirs, X, dim=dim)


@pytest.mark.parametrize(("ours", "theirs"), ROWWISE, ids=ROWWISE_IDS)
@SETTINGS
@given(X=arrays(elements=ORDINARY, min_dims=2, max_dims=2))
def test_rowwise_default_dim_is_last_and_ordinary_values(ours, theirs, X):
    torch.testing.assert_close(ours(X), theirs(X, dim=-1), **TOL[F64])
    torch.testing.assert_close(ours(X), ours(X, dim=1), rtol=0, atol=0)
    assert_matches(ours, theirs, X, dim=0)
    assert_matches(ours, theirs, X, dim=1)


@SETTINGS
@given(X=arrays(min_dims=2, max_dims=2))
def test_softmax_rows_are_distributions_and_log_softmax_is_their_log(X):
    P = softmax(X)
    assert ((P >= 0) & (P <= 1)).all()
    torch.testing.assert_close(P.sum(dim=1), torch.ones(X.shape[0], dtype=F64), rtol=0, atol=1e-12)
    L = log_softmax(X)
    assert torch.isfinite(L).all() and (L <= 0).all()
    torch.testing.assert_close(torch.exp(L), P, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize(("ours", "theirs"), ROWWISE, ids=ROWWISE_IDS)
@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_rowwise_stable_on_extreme_logits(ours, theirs, dtype, dim):
    X = torch.tensor(EXTREME_ROWS, dtype=dtype)
    if dim == 0:
        X = X.T.contiguous()
    assert_matches(ours, theirs, X, dim=dim)
    out, grad = value_and_grad(ours, X, dim=dim)
    assert torch.isfinite(out).all() and torch.isfinite(grad).all()


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_naive_log_of_softmax_is_minus_inf_but_log_softmax_is_finite(dtype):
    X = torch.tensor([[1e4, -1e4, 0.0]], dtype=dtype)
    naive = torch.log(softmax(X))
    assert torch.isneginf(naive).any()  # the input really is extreme enough
    out = log_softmax(X)
    expected = torch.tensor([[0.0, -2e4, -1e4]], dtype=dtype)
    torch.testing.assert_close(out, expected, rtol=TOL[dtype]["rtol"], atol=0)
    torch.testing.assert_close(out, torch.log_softmax(X, dim=-1), **TOL[dtype])


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("big", [1e4, -1e4, 1e30])
def test_all_equal_huge_logits_give_uniform(dtype, big):
    X = torch.full((2, 4), big, dtype=dtype)
    with torch.no_grad():
        naive = torch.exp(X) / torch.exp(X).sum(dim=1, keepdim=True)
    assert not torch.isfinite(naive).all()  # the unshifted formula breaks down here
    torch.testing.assert_close(softmax(X), torch.full_like(X, 0.25), rtol=0, atol=1e-7)
    torch.testing.assert_close(
        log_softmax(X), torch.full_like(X, -math.log(4)), rtol=TOL[dtype]["rtol"], atol=0
    )
    assert_matches(softmax, torch.softmax, X, dim=1)
    assert_matches(log_softmax, torch.log_softmax, X, dim=1)


@pytest.mark.parametrize(("ours", "theirs"), ROWWISE, ids=ROWWISE_IDS)
@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_batch_of_one(ours, theirs, dtype):
    for X in (
        torch.tensor([[0.3, -1.2, 2.0]], dtype=dtype),
        torch.tensor([[7.0]], dtype=dtype),  # one class: softmax 1, log_softmax 0
        torch.tensor([[1e4, -1e4]], dtype=dtype),
    ):
        assert_matches(ours, theirs, X, dim=-1)
        assert_matches(ours, theirs, X, dim=0)
    one = torch.tensor([[7.0]], dtype=dtype)
    torch.testing.assert_close(softmax(one), torch.ones_like(one), rtol=0, atol=0)
    torch.testing.assert_close(log_softmax(one), torch.zeros_like(one), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("q", [2, 10])
def test_one_class_dominating(dtype, q):
    X = torch.zeros(3, q, dtype=dtype)
    X[torch.arange(3), torch.tensor([0, q - 1, 1])] = 50.0
    assert_matches(softmax, torch.softmax, X, dim=1)
    assert_matches(log_softmax, torch.log_softmax, X, dim=1)
    P, L = softmax(X), log_softmax(X)
    dominant = X == 50.0
    tiny = math.exp(-50)
    torch.testing.assert_close(P[dominant], torch.ones(3, dtype=dtype), rtol=0, atol=q * tiny)
    torch.testing.assert_close(
        P[~dominant], torch.full((3 * (q - 1),), tiny, dtype=dtype), rtol=1e-5, atol=0
    )
    torch.testing.assert_close(
        L[~dominant], torch.full((3 * (q - 1),), -50.0, dtype=dtype), rtol=1e-6, atol=0
    )
