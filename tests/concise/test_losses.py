"""The concise losses: torch.nn, unreduced, equal to their scratch twins."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from shallownet import scratch
from shallownet.concise import LOSS_NAMES, make_loss
from shallownet.errors import UsageError

N = 7


def regression_batch(dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    y_hat = torch.randn(N, 1, generator=g, dtype=dtype) * 3
    y = torch.randn(N, generator=g, dtype=dtype)  # (n,) against (n, 1): the classic trap
    return y_hat, y


def test_loss_names():
    assert set(LOSS_NAMES) == {"squared", "l1", "huber", "cross_entropy", "nll", "bce"}
    for name in LOSS_NAMES:
        assert isinstance(make_loss(name), nn.Module)


def test_squared_is_half_of_mse_and_the_scratch_squared_loss():
    y_hat, y = regression_batch()
    out = make_loss("squared")(y_hat, y)
    assert out.shape == (N, 1)  # not (n, n)
    expected = nn.MSELoss(reduction="none")(y_hat, y.reshape(N, 1)) / 2
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-15)
    torch.testing.assert_close(out, scratch.squared_loss(y_hat, y), rtol=0, atol=1e-15)
    torch.testing.assert_close(out, (y_hat - y.reshape(N, 1)) ** 2 / 2, rtol=0, atol=1e-15)


def test_squared_gradient_is_the_residual():
    y_hat, y = regression_batch()
    y_hat.requires_grad_(True)
    (grad,) = torch.autograd.grad(make_loss("squared")(y_hat, y).sum(), y_hat)
    torch.testing.assert_close(grad, (y_hat - y.reshape(N, 1)).detach(), rtol=0, atol=1e-14)


def test_l1_equals_the_scratch_l1_loss():
    y_hat, y = regression_batch()
    out = make_loss("l1")(y_hat, y)
    assert out.shape == (N, 1)
    torch.testing.assert_close(out, scratch.l1_loss(y_hat, y), rtol=0, atol=1e-15)
    torch.testing.assert_close(out, (y_hat - y.reshape(N, 1)).abs(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("delta", [0.25, 1.0, 2.0])
def test_huber_equals_the_scratch_huber_loss(delta):
    y_hat, y = regression_batch()
    out = make_loss("huber", huber_delta=delta)(y_hat, y)
    assert out.shape == (N, 1)
    torch.testing.assert_close(out, scratch.huber_loss(y_hat, y, delta), rtol=0, atol=1e-14)
    r = (y_hat - y.reshape(N, 1)).abs()
    assert (r <= delta).any() and (r > delta).any()  # both branches are exercised


def test_huber_delta_matters():
    y_hat, y = regression_batch()
    assert not torch.allclose(make_loss("huber", huber_delta=0.5)(y_hat, y),
                              make_loss("huber", huber_delta=2.0)(y_hat, y))


@pytest.mark.parametrize("name", ["squared", "l1", "huber"])
@pytest.mark.parametrize("target_shape", [(N,), (N, 1)])
def test_regression_targets_take_the_outputs_shape_and_dtype(name, target_shape):
    y_hat, y = regression_batch()
    loss = make_loss(name)
    out = loss(y_hat, y.reshape(target_shape).to(torch.float32))
    assert out.shape == (N, 1)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, loss(y_hat, y), rtol=0, atol=1e-6)
    # integer targets are fine too
    assert loss(y_hat, torch.arange(N)).shape == (N, 1)


def test_cross_entropy_equals_scratch_unreduced():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(N, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (N,), generator=g)
    out = make_loss("cross_entropy")(logits, y)
    assert out.shape == (N,)
    torch.testing.assert_close(out, scratch.cross_entropy(logits, y), rtol=0, atol=1e-14)
    expected = -torch.log_softmax(logits, dim=1)[torch.arange(N), y]
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-14)


def test_nll_equals_scratch_unreduced():
    g = torch.Generator().manual_seed(2)
    log_probs = torch.log_softmax(torch.randn(N, 4, generator=g, dtype=torch.float64), dim=1)
    y = torch.randint(0, 4, (N,), generator=g)
    out = make_loss("nll")(log_probs, y)
    assert out.shape == (N,)
    torch.testing.assert_close(out, scratch.nll_loss(log_probs, y), rtol=0, atol=1e-15)
    torch.testing.assert_close(out, -log_probs[torch.arange(N), y], rtol=0, atol=1e-15)


@pytest.mark.parametrize("label_dtype", [torch.int64, torch.float32, torch.bool])
@pytest.mark.parametrize("label_shape", [(N,), (N, 1)])
def test_bce_takes_any_label_dtype_and_equals_scratch(label_dtype, label_shape):
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(N, generator=g, dtype=torch.float64) * 4
    y = torch.tensor([0, 1, 1, 0, 1, 0, 1])
    out = make_loss("bce")(logits, y.reshape(label_shape).to(label_dtype))
    assert out.shape == (N,)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, scratch.binary_cross_entropy(logits, y), rtol=0, atol=1e-14)
    p = torch.sigmoid(logits)
    expected = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


def test_bce_on_extreme_logits_is_finite():
    logits = torch.tensor([-1e4, 1e4, 0.0])
    out = make_loss("bce")(logits, torch.tensor([1, 0, 1]))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.tensor([1e4, 1e4, math.log(2)]))


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("mse", {}, "unknown loss 'mse'"),
        ("", {}, "unknown loss ''"),
        ("huber", {"huber_delta": 0.0}, "delta > 0, not 0.0"),
        ("huber", {"huber_delta": -1.0}, "delta > 0, not -1.0"),
        ("huber", {"huber_delta": math.nan}, "delta > 0, not nan"),
    ],
)
def test_bad_names_and_deltas_are_usage_errors(name, kwargs, match):
    with pytest.raises(UsageError, match=match):
        make_loss(name, **kwargs)
