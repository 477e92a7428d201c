"""The concise builders: the book's ``nn.Sequential`` layouts, layer by layer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shallownet import concise
from shallownet.errors import UsageError


def kinds(net: nn.Sequential) -> list[type]:
    return [type(layer) for layer in net]


def linear_sizes(net: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in net.modules() if isinstance(m, nn.Linear)]


def test_linear_regression_is_flatten_then_one_output():
    net = concise.linear_regression(5)
    assert isinstance(net, nn.Sequential)
    assert kinds(net) == [nn.Flatten, nn.Linear]
    assert linear_sizes(net) == [(5, 1)]
    assert net(torch.randn(7, 5)).shape == (7, 1)


def test_softmax_regression_defaults_to_fashion_mnist():
    net = concise.softmax_regression()
    assert kinds(net) == [nn.Flatten, nn.Linear]
    assert linear_sizes(net) == [(784, 10)]
    assert net(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    assert linear_sizes(concise.softmax_regression(20, 4)) == [(20, 4)]


def test_mlp_default_is_one_hidden_layer_without_dropout():
    net = concise.mlp()
    assert kinds(net) == [nn.Flatten, nn.Linear, nn.ReLU, nn.Linear]
    assert linear_sizes(net) == [(784, 256), (256, 10)]
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_mlp_784_128_64_10_with_log_softmax():
    net = concise.mlp(784, 10, (128, 64), log_softmax=True)
    assert kinds(net) == [nn.Flatten, nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear,
                          nn.LogSoftmax]
    assert linear_sizes(net) == [(784, 128), (128, 64), (64, 10)]
    assert net[-1].dim == 1
    out = net(torch.randn(4, 1, 28, 28, dtype=torch.float32))
    assert out.shape == (4, 10)
    torch.testing.assert_close(out.exp().sum(dim=1), torch.ones(4))
    assert not any(isinstance(m, nn.Dropout) for m in net)


@pytest.mark.parametrize(
    ("dropout", "expected"),
    [
        (0.0, []),
        ((0.0,), []),
        (0.5, [0.5, 0.5]),
        ((0.2,), [0.2, 0.2]),
        ((0.2, 0.5), [0.2, 0.5]),
        ((0.0, 0.5), [0.5]),
        ((0.3, 0.0), [0.3]),
    ],
)
def test_mlp_has_dropout_layers_only_where_p_is_positive(dropout, expected):
    net = concise.mlp(12, 3, (8, 6), dropout=dropout)
    assert [m.p for m in net if isinstance(m, nn.Dropout)] == expected
    # Each dropout follows the activation of its hidden layer.
    layers = list(net)
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.Dropout):
            assert isinstance(layers[i - 1], nn.ReLU)
            assert isinstance(layers[i - 2], nn.Linear)


def test_mlp_dropout_placement_with_two_rates():
    net = concise.mlp(12, 3, (8, 6), dropout=(0.2, 0.5))
    assert kinds(net) == [nn.Flatten, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU,
                          nn.Dropout, nn.Linear]


@pytest.mark.parametrize(("name", "layer"), [("relu", nn.ReLU), ("sigmoid", nn.Sigmoid),
                                             ("tanh", nn.Tanh)])
def test_activations(name, layer):
    assert kinds(concise.mlp(6, 2, (4, 3), activation=name))[2::2][:2] == [layer, layer]
    lenet = concise.lenet(activation=name)
    assert sum(isinstance(m, layer) for m in lenet) == 4


def test_logistic_regression_outputs_one_logit_per_example():
    net = concise.logistic_regression(8)
    assert linear_sizes(net) == [(8, 1)]
    out = net(torch.randn(6, 8))
    assert out.shape == (6,)
    assert net(torch.randn(1, 8)).shape == (1,)


@pytest.mark.parametrize(("pool", "layer"), [("max", nn.MaxPool2d), ("avg", nn.AvgPool2d)])
def test_lenet_layout_for_28x28(pool, layer):
    net = concise.lenet((1, 28, 28), 10, pool=pool)
    assert kinds(net) == [
        nn.Conv2d, nn.ReLU, layer, nn.Conv2d, nn.ReLU, layer, nn.Flatten,
        nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear,
    ]
    conv1, conv2 = (m for m in net if isinstance(m, nn.Conv2d))
    assert (conv1.in_channels, conv1.out_channels, conv1.kernel_size, conv1.padding) == \
        (1, 6, (5, 5), (2, 2))
    assert (conv2.in_channels, conv2.out_channels, conv2.kernel_size, conv2.padding) == \
        (6, 16, (5, 5), (0, 0))
    for p in (m for m in net if isinstance(m, layer)):
        assert p.kernel_size in (2, (2, 2)) and p.stride in (2, (2, 2))
    assert linear_sizes(net) == [(16 * 5 * 5, 120), (120, 84), (84, 10)]
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize(
    ("shape", "flat"),
    [((3, 32, 32), 16 * 6 * 6), ((1, 28, 36), 16 * 5 * 7), ((1, 12, 12), 16 * 1 * 1)],
)
def test_lenet_flatten_size_follows_the_input(shape, flat):
    net = concise.lenet(shape, 7)
    conv1 = net[0]
    assert conv1.in_channels == shape[0]
    assert linear_sizes(net) == [(flat, 120), (120, 84), (84, 7)]
    assert net(torch.randn(2, *shape)).shape == (2, 7)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: concise.mlp(activation="gelu"), "unknown activation 'gelu'"),
        (lambda: concise.lenet(activation="gelu"), "unknown activation 'gelu'"),
        (lambda: concise.lenet(pool="min"), "unknown pooling 'min'"),
        (lambda: concise.mlp(784, 10, ()), "at least one hidden layer"),
        (lambda: concise.mlp(784, 10, (8, 6), dropout=(0.1, 0.2, 0.3)), "3 dropout rates"),
        (lambda: concise.lenet((1, 8, 8)), "at least 12 x 12"),
        (lambda: concise.lenet((28, 28)), "channels, height, width"),
    ],
)
def test_bad_arguments_are_usage_errors(build, match):
    with pytest.raises(UsageError, match=match):
        build()
