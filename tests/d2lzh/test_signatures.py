"""Every helper has the edition's name, parameters, defaults and order (``inspect.signature``)."""

from __future__ import annotations

import inspect

import pytest

from shallownet import d2lzh

#: The edition's signatures (d2lzh_pytorch/utils.py; evaluate_accuracy as 5.5 defines it).
EDITION = {
    "set_figsize": "figsize=(3.5, 2.5)",
    "use_svg_display": "",
    "data_iter": "batch_size, features, labels",
    "linreg": "X, w, b",
    "squared_loss": "y_hat, y",
    "sgd": "params, lr, batch_size",
    "get_fashion_mnist_labels": "labels",
    "show_fashion_mnist": "images, labels",
    "load_data_fashion_mnist": "batch_size, resize=None, root='~/Datasets/FashionMNIST'",
    "evaluate_accuracy": "data_iter, net, device=None",
    "train_ch3": "net, train_iter, test_iter, loss, num_epochs, batch_size, params=None, "
                 "lr=None, optimizer=None",
    "semilogy": "x_vals, y_vals, x_label, y_label, x2_vals=None, y2_vals=None, legend=None, "
                "figsize=(3.5, 2.5)",
    "corr2d": "X, K",
    "train_ch5": "net, train_iter, test_iter, batch_size, optimizer, device, num_epochs",
    "FlattenLayer": "",
    "GlobalAvgPool2d": "",
    "Residual": "in_channels, out_channels, use_1x1conv=False, stride=1",
}


def parameters(signature: inspect.Signature) -> list[tuple]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize("name", sorted(EDITION))
def test_each_helper_takes_the_editions_parameters(name):
    expected = inspect.signature(eval(f"lambda {EDITION[name]}: None"))  # noqa: S307
    assert parameters(inspect.signature(getattr(d2lzh, name))) == parameters(expected)


def test_the_package_exports_exactly_the_editions_helpers_and_plt():
    assert set(d2lzh.__all__) == set(EDITION) | {"plt"}
    assert d2lzh.plt.plot is __import__("matplotlib.pyplot").pyplot.plot


def test_the_drop_in_line_gives_the_same_module_both_ways():
    import shallownet.d2lzh as d2l
    from shallownet import d2lzh as d2l_too

    assert d2l is d2l_too and d2l.train_ch3 is d2lzh.train_ch3
