"""The scratch losses against ``torch.nn.functional``, values and gradients.

Hypothesis draws float64 logits anywhere in [-1e4, 1e4], probabilities
anywhere in [0, 1] (exact 0 and 1 included) and regression outputs and
targets; fixed cases cover a batch of one, one class dominating and the
float32 differences the docstrings promise. Every loss is unreduced: one
value per example, compared element by element.
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

from shallownet.errors import UsageError
from shallownet.scratch import (
    binary_cross_entropy,
    binary_cross_entropy_from_probs,
    cross_entropy,
    cross_entropy_from_probs,
    cross_entropy_grad,
    huber_loss,
    l1_loss,
    log_softmax,
    nll_loss,
    softmax,
    squared_loss,
)

F32, F64 = torch.float32, torch.float64
TOL = {F64: {"rtol": 1e-12, "atol": 1e-12}, F32: {"rtol": 1e-5, "atol": 1e-6}}
SETTINGS = settings(max_examples=40, deadline=None)
#: float32's smallest normal number: the floor of the guarded log there.
F32_CAP = -math.log(torch.finfo(F32).tiny)  # 87.3365...

LOGITS = st.one_of(
    st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
    st.sampled_from([1e4, -1e4, 0.0, -0.0, 50.0, -50.0]),
)
PROBS = st.one_of(
    st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 1.0, 0.5, 1e-300, 1e-50, 1 - 1e-16]),
)
VALUES = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
DELTAS = st.one_of(st.sampled_from([1.0, 0.5, 2.0]), st.floats(1e-3, 1e3))


def tensors(shape, elements, dtype=np.float64):
    return hnp.arrays(dtype, shape, elements=elements).map(torch.from_numpy)


@st.composite
def scores_and_labels(draw, elements=LOGITS, max_rows=6, max_classes=6):
    n = draw(st.integers(1, max_rows), label="n")
    q = draw(st.integers(1, max_classes), label="q")
    scores = draw(tensors((n, q), elements), label="scores")
    labels = draw(tensors((n,), st.integers(0, q - 1), dtype=np.int64), label="labels")
    return scores, labels


@st.composite
def pairs(draw, first=VALUES, second=VALUES):
    """Two float64 tensors of one shape (1 to 2 dims)."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=6), label="shape")
    return draw(tensors(shape, first), label="first"), draw(tensors(shape, second), label="second")


def upstream(shape, dtype) -> torch.Tensor:
    """A fixed random upstream gradient (weights on the per-example losses)."""
    g = torch.Generator().manual_seed(1)
    return torch.rand(shape, generator=g, dtype=F64).add(0.5).to(dtype)


def value_and_grad(fn, X: torch.Tensor, *rest) -> tuple[torch.Tensor, torch.Tensor]:
    X = X.detach().clone().requires_grad_(True)
    out = fn(X, *rest)
    (grad,) = torch.autograd.grad((out * upstream(out.shape, out.dtype)).sum(), X)
    return out.detach(), grad


def assert_matches(ours, theirs, X, *rest, grad=True, scale=1.0):
    """``ours(X, *rest)`` equals ``theirs(X, *rest)`` in value (and gradient in X), finitely."""
    tol = TOL[X.dtype]
    if grad:
        out, g = value_and_grad(ours, X, *rest)
        ref, ref_g = value_and_grad(theirs, X, *rest)
        assert torch.isfinite(g[torch.isfinite(ref_g)]).all(), (X, g, ref_g)
        torch.testing.assert_close(g, ref_g, rtol=tol["rtol"], atol=tol["atol"] * scale)
    else:
        out, ref = ours(X, *rest), theirs(X, *rest)
    assert out.dtype == X.dtype
    assert torch.isfinite(out[torch.isfinite(ref)]).all(), (X, out, ref)
    torch.testing.assert_close(out, ref, rtol=tol["rtol"], atol=tol["atol"] * scale)


def magnitude(*ts: torch.Tensor) -> float:
    return max(1.0, *(t.abs().max().item() for t in ts))


# torch references, unreduced
def torch_ce(logits, y):
    return F.cross_entropy(logits, y, reduction="none")


def torch_nll(log_probs, y):
    return F.nll_loss(log_probs, y, reduction="none")


def torch_nll_of_log(p, y):
    return F.nll_loss(torch.log(p), y, reduction="none")


def torch_nll_of_clamped_log(p, y):
    """torch's own guard (as in ``BCELoss``): the log clamped at -100."""
    return F.nll_loss(torch.log(p).clamp(min=-100), y, reduction="none")


def torch_bce_logits(z, y):
    return F.binary_cross_entropy_with_logits(z, y, reduction="none")


def torch_bce(p, y):
    return F.binary_cross_entropy(p, y, reduction="none")


def torch_half_mse(y_hat, y):
    return F.mse_loss(y_hat, y, reduction="none") / 2


def torch_l1(y_hat, y):
    return F.l1_loss(y_hat, y, reduction="none")


# --------------------------------------------------------------------------- classification


@SETTINGS
@given(case=scores_and_labels())
def test_cross_entropy_matches_torch(case):
    logits, y = case
    out = cross_entropy(logits, y)
    assert out.shape == (logits.shape[0],)
    assert (out >= 0).all()
    assert_matches(cross_entropy, torch_ce, logits, y, scale=magnitude(logits))


@SETTINGS
@given(case=scores_and_labels())
def test_cross_entropy_grad_is_autograds_gradient_of_each_examples_loss(case):
    """∂l_i/∂o_i = softmax(o_i) - onehot(y_i): the sum's gradient, since l_i depends on o_i only."""
    logits, y = case
    o = logits.clone().requires_grad_(True)
    cross_entropy(o, y).sum().backward()
    G = cross_entropy_grad(logits, y)
    assert G.shape == logits.shape and not G.requires_grad
    torch.testing.assert_close(G, o.grad, **TOL[logits.dtype])
    torch.testing.assert_close(G.sum(dim=1), torch.zeros(len(y), dtype=logits.dtype),
                               rtol=0, atol=1e-9)  # each row sums to 1 - 1


@SETTINGS
@given(case=scores_and_labels(elements=st.floats(-50, 50)), eps=st.floats(0.0, 0.9))
def test_label_smoothing_matches_torch_value_and_gradient(case, eps):
    logits, y = case
    ours = cross_entropy(logits, y, eps)
    theirs = F.cross_entropy(logits, y, reduction="none", label_smoothing=eps)
    torch.testing.assert_close(ours, theirs, **TOL[logits.dtype])
    o = logits.clone().requires_grad_(True)
    F.cross_entropy(o, y, reduction="sum", label_smoothing=eps).backward()
    torch.testing.assert_close(cross_entropy_grad(logits, y, smoothing=eps), o.grad,
                               **TOL[logits.dtype])


def test_smoothing_leaves_padding_columns_alone():
    logits = torch.tensor([[2.0, -1.0, 0.5, float("-inf")]])
    G = cross_entropy_grad(logits, torch.tensor([1]), smoothing=0.3, num_classes=3)
    assert G[0, 3] == 0
    expected = cross_entropy_grad(logits[:, :3], torch.tensor([1]), smoothing=0.3)
    torch.testing.assert_close(G[:, :3], expected)


def test_cross_entropy_grad_of_padding_at_minus_infinity_is_exactly_zero():
    logits = torch.tensor([[2.0, -1.0, float("-inf"), float("-inf")]])
    G = cross_entropy_grad(logits, torch.tensor([0]))
    assert torch.equal(G[:, 2:], torch.zeros(1, 2))
    torch.testing.assert_close(G[:, :2], torch.softmax(logits[:, :2], 1) - torch.tensor([[1., 0]]))


@SETTINGS
@given(case=scores_and_labels(elements=st.floats(-20, 20)))
def test_cross_entropy_on_ordinary_logits_is_minus_log_softmax(case):
    logits, y = case
    expected = -torch.log(torch.softmax(logits, dim=1))[torch.arange(len(y)), y]
    torch.testing.assert_close(cross_entropy(logits, y), expected, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(case=scores_and_labels())
def test_nll_loss_matches_torch(case):
    logits, y = case
    log_probs = torch.log_softmax(logits, dim=1)
    assert_matches(nll_loss, torch_nll, log_probs, y, scale=magnitude(log_probs))
    # nll of log_softmax is cross-entropy
    torch.testing.assert_close(
        nll_loss(log_softmax(logits, dim=1), y), torch_ce(logits, y), **TOL[F64]
    )


@SETTINGS
@given(case=scores_and_labels(elements=PROBS))
def test_cross_entropy_from_probs_matches_torch_log_clamped_at_minus_100(case):
    """``-log max(p, e^-100)`` is torch's ``-max(log p, -100)`` for every p in [0, 1]."""
    p, y = case
    out = cross_entropy_from_probs(p, y)
    assert torch.isfinite(out).all() and (out >= 0).all() and (out <= 100 + 1e-12).all()
    assert_matches(
        cross_entropy_from_probs, torch_nll_of_clamped_log, p, y, grad=False, scale=100.0
    )


@SETTINGS
@given(case=scores_and_labels(elements=st.floats(math.exp(-100), 1.0)))
def test_cross_entropy_from_probs_is_nll_of_log_where_p_is_positive(case):
    p, y = case
    assert_matches(cross_entropy_from_probs, torch_nll_of_log, p, y, grad=False, scale=100.0)


@SETTINGS
@given(case=scores_and_labels(elements=st.floats(1e-6, 1.0)))
def test_cross_entropy_from_probs_gradient_matches_torch(case):
    p, y = case
    out, g = value_and_grad(cross_entropy_from_probs, p, y)
    ref, ref_g = value_and_grad(torch_nll_of_log, p, y)
    torch.testing.assert_close(out, ref, **TOL[F64])
    torch.testing.assert_close(g, ref_g, rtol=1e-12, atol=0)


@SETTINGS
@given(case=scores_and_labels(elements=st.floats(-20, 20)))
def test_cross_entropy_from_probs_of_softmax_is_cross_entropy(case):
    logits, y = case
    torch.testing.assert_close(
        cross_entropy_from_probs(softmax(logits), y),
        cross_entropy(logits, y),
        rtol=1e-9,
        atol=1e-12,
    )


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_cross_entropy_from_probs_at_exactly_zero_and_one(dtype):
    p = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=dtype, requires_grad=True)
    y = torch.tensor([0, 0])
    out = cross_entropy_from_probs(p, y)
    cap = 100.0 if dtype == F64 else F32_CAP
    torch.testing.assert_close(out, torch.tensor([cap, 0.0], dtype=dtype), rtol=1e-6, atol=0)
    # torch's unguarded -log 0 is inf; ours is finite, with a finite gradient
    assert torch.isinf(torch_nll_of_log(p.detach(), y)[0])
    out.sum().backward()
    assert torch.isfinite(p.grad).all()
    torch.testing.assert_close(p.grad[1], torch.tensor([-1.0, 0.0], dtype=dtype))  # -1/p at p = 1


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize(
    "row", [[1e4, -1e4, 0.0], [1e4, 1e4, 1e4], [-1e4, -1e4, -1e4], [-1e4, 0.0, 1e4]]
)
def test_cross_entropy_stable_on_extreme_logits(dtype, row):
    logits = torch.tensor([row] * 3, dtype=dtype)
    y = torch.tensor([0, 1, 2])
    out, g = value_and_grad(cross_entropy, logits, y)
    assert torch.isfinite(out).all() and torch.isfinite(g).all()
    assert_matches(cross_entropy, torch_ce, logits, y, scale=1e4)
    # the naive route through softmax then log is not finite here (unless the row is uniform)
    naive = -torch.log(torch.softmax(logits, dim=1))[torch.arange(3), y]
    if len(set(row)) > 1:
        assert torch.isinf(naive).any()
    else:
        torch.testing.assert_close(out, torch.full_like(out, math.log(3)))


def test_cross_entropy_extreme_values_exactly():
    logits = torch.tensor([[1e4, -1e4, 0.0]] * 3, dtype=F64)
    out = cross_entropy(logits, torch.tensor([0, 1, 2]))
    torch.testing.assert_close(out, torch.tensor([0.0, 2e4, 1e4], dtype=F64), rtol=1e-15, atol=0)


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_batch_of_one(dtype):
    logits = torch.tensor([[0.5, -1.5, 2.5, 0.0]], dtype=dtype)
    y = torch.tensor([2])
    assert cross_entropy(logits, y).shape == (1,)
    assert_matches(cross_entropy, torch_ce, logits, y)
    assert_matches(nll_loss, torch_nll, torch.log_softmax(logits, dim=1), y)
    probs = torch.softmax(logits, dim=1)
    assert_matches(cross_entropy_from_probs, torch_nll_of_log, probs, y)
    # one example with one class: the loss is 0
    one = torch.tensor([[3.0]], dtype=dtype)
    torch.testing.assert_close(cross_entropy(one, torch.tensor([0])), torch.zeros(1, dtype=dtype))
    # a scalar label for one example
    assert_matches(cross_entropy, lambda z, t: torch_ce(z, t.reshape(1)), logits, torch.tensor(2))
    # binary and regression losses on one example, (1, 1) outputs against (1,) targets
    z = torch.tensor([[1e4]], dtype=dtype)
    t = torch.tensor([0.0], dtype=dtype)
    assert binary_cross_entropy(z, t).shape == (1, 1)
    assert_matches(binary_cross_entropy, lambda a, b: torch_bce_logits(a, b.reshape(1, 1)), z, t)
    for ours, theirs in [(squared_loss, torch_half_mse), (l1_loss, torch_l1)]:
        assert ours(z, t).shape == (1, 1)
        assert_matches(ours, lambda a, b, f=theirs: f(a, b.reshape(1, 1)), z, t, scale=1e8)


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("q", [2, 10])
def test_one_class_dominating(dtype, q):
    n = 4
    logits = torch.zeros(n, q, dtype=dtype)
    logits[:, 0] = 50.0
    y = torch.tensor([0, 1, q - 1, 0])
    assert_matches(cross_entropy, torch_ce, logits, y, scale=50.0)
    out = cross_entropy(logits, y)
    # the dominant class costs ~ (q - 1) e^-50; any other ~ 50
    assert (out[[0, 3]] >= 0).all() and (out[[0, 3]] <= q * math.exp(-50)).all()
    torch.testing.assert_close(out[[1, 2]], torch.full((2,), 50.0, dtype=dtype), rtol=1e-7, atol=0)
    # the gradient is softmax - one_hot: ~0 on the dominant row, ~ -1/+1 on the others
    _, g = value_and_grad(cross_entropy, logits, y)
    w = upstream((n,), dtype).reshape(n, 1)
    expected = (torch.softmax(logits, dim=1) - F.one_hot(y, q).to(dtype)) * w
    torch.testing.assert_close(g, expected, **TOL[dtype])
    # from probabilities: the dominant probability rounds to 1 in float32 but stays finite
    probs = torch.softmax(logits, dim=1)
    assert_matches(cross_entropy_from_probs, torch_nll_of_log, probs, y, scale=50.0)


@pytest.mark.parametrize("fn", [cross_entropy, nll_loss, cross_entropy_from_probs])
def test_int32_labels_are_accepted(fn):
    scores = torch.rand(3, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    y = torch.tensor([0, 3, 1])
    torch.testing.assert_close(fn(scores, y.int()), fn(scores, y), rtol=0, atol=0)


CLASSIFICATION = [cross_entropy, nll_loss, cross_entropy_from_probs]
CLASSIFICATION_IDS = ["cross_entropy", "nll_loss", "cross_entropy_from_probs"]


@pytest.mark.parametrize("fn", CLASSIFICATION, ids=CLASSIFICATION_IDS)
@pytest.mark.parametrize("labels", [[0.0, 1.0, 2.0], [True, False, True]], ids=["float", "bool"])
def test_non_integer_labels_raise(fn, labels):
    with pytest.raises(UsageError, match="integers"):
        fn(torch.rand(3, 4), torch.tensor(labels))


@pytest.mark.parametrize("fn", CLASSIFICATION, ids=CLASSIFICATION_IDS)
@pytest.mark.parametrize("count", [2, 4, 0])
def test_wrong_label_count_raises(fn, count):
    with pytest.raises(UsageError, match="one label per row"):
        fn(torch.rand(3, 4), torch.zeros(count, dtype=torch.int64))


@pytest.mark.parametrize(
    ("fn", "shape"),
    [
        (nll_loss, (4,)),
        (nll_loss, ()),
        (nll_loss, (3, 4, 2)),
        (cross_entropy_from_probs, (4,)),
        (cross_entropy_from_probs, (3, 4, 2)),
        (cross_entropy, (3, 4, 2)),
        (cross_entropy, (4,)),
        (cross_entropy, ()),
    ],
    ids=["nll-1d", "nll-0d", "nll-3d", "probs-1d", "probs-3d", "ce-3d", "ce-1d", "ce-0d"],
)
def test_scores_not_2d_raise(fn, shape):
    n = shape[0] if shape else 1
    with pytest.raises(UsageError, match="shape"):
        fn(torch.rand(shape), torch.zeros(n, dtype=torch.int64))


# --------------------------------------------------------------------------- binary


@SETTINGS
@given(case=pairs(first=LOGITS, second=st.sampled_from([0.0, 1.0])))
def test_binary_cross_entropy_matches_torch(case):
    z, y = case
    out = binary_cross_entropy(z, y)
    assert out.shape == z.shape and (out >= 0).all()
    assert_matches(binary_cross_entropy, torch_bce_logits, z, y, scale=magnitude(z))


@SETTINGS
@given(case=pairs(first=LOGITS, second=st.floats(0.0, 1.0)))
def test_binary_cross_entropy_soft_labels_match_torch(case):
    z, y = case
    assert_matches(binary_cross_entropy, torch_bce_logits, z, y, scale=magnitude(z))


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_binary_cross_entropy_at_plus_minus_1e4(dtype):
    z = torch.tensor([1e4, 1e4, -1e4, -1e4, 0.0, 0.0], dtype=dtype)
    y = torch.tensor([1, 0, 1, 0, 1, 0])  # integer labels are cast
    out, g = value_and_grad(binary_cross_entropy, z, y)
    assert torch.isfinite(out).all() and torch.isfinite(g).all()
    expected = torch.tensor([0.0, 1e4, 1e4, 0.0, math.log(2), math.log(2)], dtype=dtype)
    torch.testing.assert_close(out, expected, **TOL[dtype])
    assert_matches(binary_cross_entropy, torch_bce_logits, z, y.to(dtype), scale=1e4)
    # the gradient is sigmoid(z) - y, including 1/2 - y at the kink z = 0
    w = upstream(z.shape, dtype)
    sig_minus_y = torch.tensor([0.0, 1.0, -1.0, 0.0, -0.5, 0.5], dtype=dtype)
    torch.testing.assert_close(g, sig_minus_y * w, **TOL[dtype])


@pytest.mark.parametrize("z", [5.0, 40.0, 700.0])
def test_binary_cross_entropy_of_a_confident_right_answer_keeps_its_digits(z):
    """``log(1 + e^-|z|)`` through ``log1p``: ~e^-|z|, not 0, for either label (float64).

    (torch's own formula rounds the y = 0, z < 0 side to 0 once e^-|z| < 2^-53.)
    """
    out = binary_cross_entropy(torch.tensor([z, -z], dtype=F64), torch.tensor([1.0, 0.0]))
    expected = math.log1p(math.exp(-z))
    torch.testing.assert_close(out, torch.full((2,), expected, dtype=F64), rtol=1e-12, atol=0)
    assert (out > 0).all()


def test_binary_cross_entropy_reshapes_targets():
    z = torch.tensor([[2.0], [-1.0], [0.5]], dtype=F64)
    y = torch.tensor([1.0, 0.0, 1.0], dtype=F64)
    out = binary_cross_entropy(z, y)
    assert out.shape == (3, 1)  # not (3, 3)
    torch.testing.assert_close(out, torch_bce_logits(z, y.reshape(3, 1)), **TOL[F64])


@SETTINGS
@given(case=pairs(first=PROBS, second=st.sampled_from([0.0, 1.0])))
def test_binary_cross_entropy_from_probs_matches_torch(case):
    """Equal to torch's ``BCELoss`` for every p in [0, 1], exact 0 and 1 included (float64)."""
    p, y = case
    out = binary_cross_entropy_from_probs(p, y)
    assert torch.isfinite(out).all() and (out >= 0).all()
    assert_matches(binary_cross_entropy_from_probs, torch_bce, p, y, grad=False, scale=100.0)


@SETTINGS
@given(case=pairs(first=st.floats(1e-6, 1 - 1e-6), second=st.floats(0.0, 1.0)))
def test_binary_cross_entropy_from_probs_values_and_gradients_inside(case):
    p, y = case
    out, g = value_and_grad(binary_cross_entropy_from_probs, p, y)
    ref, ref_g = value_and_grad(torch_bce, p, y)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g, ref_g, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_binary_cross_entropy_from_probs_at_exactly_zero_and_one(dtype):
    p = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=dtype)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=dtype)
    out, g = value_and_grad(binary_cross_entropy_from_probs, p, y)
    ref = torch_bce(p, y)
    torch.testing.assert_close(ref, torch.tensor([100.0, 100.0, 0.0, 0.0], dtype=dtype))
    assert torch.isfinite(out).all() and torch.isfinite(g).all()
    if dtype == F64:
        torch.testing.assert_close(out, ref, rtol=1e-15, atol=0)
    else:
        # documented difference: float32's floor is its smallest normal number, so the
        # cap is -log(1.17549435e-38) = 87.34, not torch's 100
        expected = torch.tensor([F32_CAP, F32_CAP, 0.0, 0.0], dtype=dtype)
        torch.testing.assert_close(out, expected, rtol=1e-6, atol=0)
        assert (out[:2] < ref[:2] - 12).all()
    # where the true slope is finite (p = y) it is the slope of -log(1 - p) or -log p:
    # +1 at p = 0 and -1 at p = 1 (torch's (p - y) / max(p (1 - p), 1e-12) gives 0 there)
    w = upstream(p.shape, dtype)
    torch.testing.assert_close(g[2:], torch.tensor([1.0, -1.0], dtype=dtype) * w[2:])


def test_binary_cross_entropy_from_probs_reshapes_targets():
    p = torch.tensor([[0.9], [0.2], [0.5]], dtype=F64)
    y = torch.tensor([1, 0, 0])
    out = binary_cross_entropy_from_probs(p, y)
    assert out.shape == (3, 1)
    torch.testing.assert_close(out, torch_bce(p, y.reshape(3, 1).to(F64)), **TOL[F64])


# --------------------------------------------------------------------------- regression


@SETTINGS
@given(case=pairs())
def test_squared_loss_is_half_mse(case):
    y_hat, y = case
    assert_matches(squared_loss, torch_half_mse, y_hat, y, scale=magnitude(y_hat, y) ** 2)
    torch.testing.assert_close(squared_loss(y_hat, y), (y_hat - y) ** 2 / 2, rtol=0, atol=0)


@SETTINGS
@given(case=pairs())
def test_l1_loss_matches_torch(case):
    y_hat, y = case
    assert_matches(l1_loss, torch_l1, y_hat, y, scale=magnitude(y_hat, y))


@SETTINGS
@given(case=pairs(), delta=DELTAS)
def test_huber_loss_matches_torch(case, delta):
    y_hat, y = case
    assert_matches(
        lambda a, b: huber_loss(a, b, delta),
        lambda a, b: F.huber_loss(a, b, reduction="none", delta=delta),
        y_hat,
        y,
        scale=magnitude(y_hat, y) * max(1.0, delta),
    )


@pytest.mark.parametrize("delta", [0.1, 0.5, 1.0, 1.5, 10.0])
def test_huber_loss_at_and_around_delta(delta):
    d = torch.tensor([0.0, 0.3, 1.0, -1.0, 2.0, -7.5, 1e4], dtype=F64) * delta
    d = torch.cat([d, torch.tensor([delta, -delta, delta * (1 + 1e-9)], dtype=F64)])
    y_hat = torch.full_like(d, 3.0) + d
    y = torch.full_like(d, 3.0)
    assert_matches(
        lambda a, b: huber_loss(a, b, delta),
        lambda a, b: F.huber_loss(a, b, reduction="none", delta=delta),
        y_hat,
        y,
        scale=1e4 * delta**2,
    )


def test_huber_loss_is_the_books_form_with_delta_one():
    d = torch.tensor([-5.0, -1.5, -1.0, -0.5, 0.0, 0.25, 1.0, 1.0001, 3.0, 1e4], dtype=F64)
    out = huber_loss(d, torch.zeros_like(d))
    a = d.abs()
    book = torch.where(a > 1, a - 0.5, d**2 / 2)
    torch.testing.assert_close(out, book, rtol=1e-15, atol=0)
    torch.testing.assert_close(out[-1], torch.tensor(1e4 - 0.5, dtype=F64), rtol=0, atol=0)
    torch.testing.assert_close(huber_loss(d, torch.zeros_like(d), 1.0), out, rtol=0, atol=0)
    # linear beyond 1: the gradient there is sign(d), inside it is d
    _, g = value_and_grad(huber_loss, d, torch.zeros_like(d))
    expected = torch.where(a > 1, torch.sign(d), d) * upstream(d.shape, F64)
    torch.testing.assert_close(g, expected, **TOL[F64])


@pytest.mark.parametrize("delta", [0.0, -1.0, float("nan")])
def test_huber_loss_needs_positive_delta(delta):
    with pytest.raises(UsageError, match="delta"):
        huber_loss(torch.zeros(2), torch.zeros(2), delta)


REGRESSION = [
    (squared_loss, torch_half_mse),
    (l1_loss, torch_l1),
    (huber_loss, lambda a, b: F.huber_loss(a, b, reduction="none")),
    (binary_cross_entropy, torch_bce_logits),
    (binary_cross_entropy_from_probs, torch_bce),
]
REGRESSION_IDS = ["squared", "l1", "huber", "bce", "bce_from_probs"]


@pytest.mark.parametrize(("ours", "theirs"), REGRESSION, ids=REGRESSION_IDS)
@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_targets_of_shape_n_are_reshaped_to_n_1_not_broadcast(ours, theirs, dtype):
    g = torch.Generator().manual_seed(0)
    y_hat = torch.rand(5, 1, generator=g, dtype=F64).to(dtype)
    y = (torch.rand(5, generator=g, dtype=F64) > 0.5).to(dtype)
    out = ours(y_hat, y)
    assert out.shape == (5, 1)
    assert_matches(ours, theirs, y_hat, y.reshape(5, 1))
    torch.testing.assert_close(out, theirs(y_hat, y.reshape(5, 1)), **TOL[dtype])
    # and (n, 1) targets against (n,) outputs come back as (n,)
    assert ours(y_hat.reshape(5), y.reshape(5, 1)).shape == (5,)


@pytest.mark.parametrize(("ours", "theirs"), REGRESSION, ids=REGRESSION_IDS)
def test_targets_cast_to_output_dtype(ours, theirs):
    y_hat = torch.tensor([0.25, 0.5, 0.75], dtype=F64)
    y = torch.tensor([1, 0, 1])  # int64 targets
    out = ours(y_hat, y)
    assert out.dtype == F64
    torch.testing.assert_close(out, theirs(y_hat, y.to(F64)), **TOL[F64])


@pytest.mark.parametrize("ours", [r[0] for r in REGRESSION], ids=REGRESSION_IDS)
@pytest.mark.parametrize(
    ("out_shape", "target_shape"), [((5, 1), (4,)), ((5,), (6,)), ((2, 3), (5,))]
)
def test_mismatched_element_counts_raise(ours, out_shape, target_shape):
    with pytest.raises(UsageError, match="one target per output"):
        ours(torch.rand(out_shape), torch.rand(target_shape))


@pytest.mark.parametrize(
    ("fn", "make_args"),
    [
        (squared_loss, lambda g: (torch.randn(6, 1, generator=g), torch.randn(6, generator=g))),
        (l1_loss, lambda g: (torch.randn(6, generator=g) + 3, torch.randn(6, generator=g) - 3)),
        (huber_loss, lambda g: (torch.randn(6, generator=g) * 3, torch.randn(6, generator=g))),
        (
            lambda a, b: huber_loss(a, b, 0.3),
            lambda g: (torch.randn(6, generator=g) * 3, torch.randn(6, generator=g)),
        ),
        (
            binary_cross_entropy,
            lambda g: (torch.randn(6, generator=g) * 3, torch.rand(6, generator=g)),
        ),
        (
            binary_cross_entropy_from_probs,
            lambda g: (torch.rand(6, generator=g) * 0.9 + 0.05, torch.rand(6, generator=g)),
        ),
    ],
    ids=["squared", "l1", "huber", "huber-0.3", "bce", "bce_from_probs"],
)
def test_gradcheck_elementwise_losses(fn, make_args):
    """Gradients in both the outputs and (real-valued) targets."""
    a, b = make_args(torch.Generator().manual_seed(0))
    args = (a.to(F64).requires_grad_(True), b.to(F64).requires_grad_(True))
    assert torch.autograd.gradcheck(fn, args)


@pytest.mark.parametrize(
    ("fn", "make_scores"),
    [
        (cross_entropy, lambda g: torch.randn(4, 5, generator=g) * 3),
        (nll_loss, lambda g: torch.randn(4, 5, generator=g)),
        (cross_entropy_from_probs, lambda g: torch.rand(4, 5, generator=g) * 0.9 + 0.05),
    ],
    ids=CLASSIFICATION_IDS,
)
def test_gradcheck_classification_losses(fn, make_scores):
    scores = make_scores(torch.Generator().manual_seed(0)).to(F64).requires_grad_(True)
    y = torch.tensor([0, 4, 2, 2])
    assert torch.autograd.gradcheck(lambda s: fn(s, y), (scores,))
