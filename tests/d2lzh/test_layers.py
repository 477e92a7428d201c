"""The edition's model pieces: linear regression's parts, sgd, the layers and corr2d."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from shallownet import d2lzh as d2l
from shallownet.errors import UsageError
from shallownet.scratch.conv import corr2d as loop_corr2d  # the definition, pixel by pixel


def test_linreg_and_the_squared_loss_per_example():
    X, w, b = torch.randn(5, 3), torch.randn(3, 1), torch.randn(1)
    y_hat = d2l.linreg(X, w, b)
    assert torch.allclose(y_hat, X @ w + b)
    y = torch.randn(5)  # a flat label vector is reshaped like y_hat, as the edition's view
    assert torch.allclose(d2l.squared_loss(y_hat, y), (y_hat - y.reshape(5, 1)) ** 2 / 2)
    assert d2l.squared_loss(y_hat, y).shape == (5, 1)  # not summed: the caller sums


def test_sgd_steps_by_lr_times_the_gradient_over_the_batch_and_keeps_the_gradient():
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    (w * torch.tensor([3.0, 4.0])).sum().backward()
    d2l.sgd([w], lr=0.5, batch_size=10)
    assert torch.allclose(w.detach(), torch.tensor([1.0 - 0.5 * 3 / 10, -2.0 - 0.5 * 4 / 10]))
    assert torch.equal(w.grad, torch.tensor([3.0, 4.0]))  # the edition zeroes it elsewhere


def test_sgd_without_a_gradient_says_what_to_do():
    with pytest.raises(UsageError, match="requires_grad=True and call backward"):
        d2l.sgd([torch.zeros(2, requires_grad=True)], 0.1, 1)


def test_flatten_layer_takes_non_contiguous_batches():
    x = torch.arange(2 * 3 * 4.0).reshape(2, 3, 4).transpose(1, 2)
    assert torch.equal(d2l.FlattenLayer()(x), x.reshape(2, -1))


def test_global_average_pooling_is_the_mean_of_each_channel():
    x = torch.randn(2, 3, 5, 7)
    out = d2l.GlobalAvgPool2d()(x)
    assert out.shape == (2, 3, 1, 1)
    assert torch.allclose(out[..., 0, 0], x.mean(dim=(2, 3)), atol=1e-6)


def test_residual_block_shapes_and_formula():
    torch.manual_seed(0)
    block = d2l.Residual(3, 3)
    x = torch.randn(4, 3, 6, 6)
    expected = F.relu(block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x))))) + x)
    assert torch.allclose(block(x), expected)
    assert block.conv3 is None
    down = d2l.Residual(3, 6, use_1x1conv=True, stride=2)
    assert isinstance(down.conv3, nn.Conv2d) and down(x).shape == (4, 6, 3, 3)


def test_corr2d_is_the_cross_correlation_of_the_definition():
    X = torch.tensor([[0.0, 1, 2], [3, 4, 5], [6, 7, 8]])
    K = torch.tensor([[0.0, 1], [2, 3]])
    assert torch.equal(d2l.corr2d(X, K), torch.tensor([[19.0, 25], [37, 43]]))
    X, K = torch.randn(6, 8), torch.randn(2, 3)
    assert torch.allclose(d2l.corr2d(X, K), loop_corr2d(X, K), atol=1e-5)


def test_corr2d_learns_a_kernel_as_5_1_does():
    X = torch.ones(6, 8)
    X[:, 2:6] = 0
    Y = d2l.corr2d(X, torch.tensor([[1.0, -1.0]]))  # the edges
    K = torch.randn(1, 2, requires_grad=True)
    for _ in range(40):
        loss = ((d2l.corr2d(X, K) - Y) ** 2).sum()
        loss.backward()
        with torch.no_grad():
            K -= 0.01 * K.grad
            K.grad.zero_()
    assert torch.allclose(K.detach(), torch.tensor([[1.0, -1.0]]), atol=0.05)


def test_corr2d_refuses_what_it_cannot_correlate():
    with pytest.raises(UsageError, match="larger than the input"):
        d2l.corr2d(torch.ones(2, 2), torch.ones(3, 3))
    with pytest.raises(UsageError, match="2-D"):
        d2l.corr2d(torch.ones(1, 2, 2), torch.ones(1, 1))
