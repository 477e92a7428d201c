"""The numerical-stability figures, checked by the numbers they draw (shallownet.stability)."""

from __future__ import annotations

import math

import pytest
import torch
from matplotlib.figure import Figure

from shallownet.errors import UsageError
from shallownet.plots.stability import (
    plot_activations,
    plot_layer_gradients,
    plot_matrix_products,
    plot_symmetry,
    plot_vanishing_gradients,
)
from shallownet.stability import (
    ACTIVATION_NAMES,
    INIT_SCHEMES,
    activation_curves,
    fashion_mnist_batch,
    layer_gradient_norms,
    matrix_product_norms,
    symmetry_spread,
)
from tests.conftest import requires_real_data


def realdata(test):
    return requires_real_data(pytest.mark.realdata(test))


@pytest.fixture(scope="module")
def batch():
    """The first 512 Fashion-MNIST training images, as the book loads them."""
    return fashion_mnist_batch(512, download=False)


def labelled_lines(ax):
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


# --------------------------------------------------------------------------- activations


def test_activation_derivatives_match_the_closed_forms():
    curves = activation_curves(limit=8.0, num=161)
    assert list(curves) == ["relu", "sigmoid", "tanh"] == list(ACTIVATION_NAMES)
    x = torch.linspace(-8, 8, 161, dtype=torch.float64)
    for c in curves.values():
        torch.testing.assert_close(c["x"], x)
        assert all(v.dtype == torch.float64 and not v.requires_grad for v in c.values())
    relu, sig, tanh = curves["relu"], curves["sigmoid"], curves["tanh"]
    torch.testing.assert_close(relu["value"], x.clamp_min(0))
    torch.testing.assert_close(relu["derivative"], (x > 0).double(), rtol=0, atol=0)
    s = 1 / (1 + torch.exp(-x))
    torch.testing.assert_close(sig["value"], s)
    torch.testing.assert_close(sig["derivative"], s * (1 - s))
    torch.testing.assert_close(tanh["value"], torch.tanh(x))
    torch.testing.assert_close(tanh["derivative"], 1 - torch.tanh(x) ** 2)
    # The sigmoid's gradient peaks at 1/4 at 0 and vanishes at both ends.
    assert sig["derivative"].max().item() == pytest.approx(0.25)
    assert sig["derivative"][80].item() == pytest.approx(0.25)
    assert sig["derivative"][0].item() < 1e-3 and sig["derivative"][-1].item() < 1e-3


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"limit": 0.0}, "limit must be a positive"), ({"limit": math.inf}, "limit must be"),
    ({"num": 2}, "at least 3 points"), ({"names": ("swish",)}, "unknown activation"),
])
def test_activation_curves_refuse_bad_arguments(kwargs, match):
    with pytest.raises(UsageError, match=match):
        activation_curves(**kwargs)


def test_plot_activations_draws_each_function_and_derivative(close_figures):
    fig = plot_activations(6.0)
    close_figures.append(fig)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    curves = activation_curves(limit=6.0)
    for ax, (name, c) in zip(fig.axes, curves.items(), strict=True):
        assert ax.get_title() == name
        value, derivative = labelled_lines(ax)
        torch.testing.assert_close(torch.as_tensor(value.get_ydata()), c["value"])
        torch.testing.assert_close(torch.as_tensor(derivative.get_ydata()), c["derivative"])
        assert "′" in derivative.get_label()
        assert ax.get_legend() is not None
        assert ax.get_xlim() == (-6.0, 6.0)


def test_plot_vanishing_gradients_sigmoid_against_relu_on_a_log_axis(close_figures):
    fig = plot_vanishing_gradients()
    close_figures.append(fig)
    linear, log = fig.axes
    assert linear.get_yscale() == "linear" and log.get_yscale() == "log"
    sigma_prime, relu_prime = labelled_lines(log)
    y = torch.as_tensor(sigma_prime.get_ydata())
    assert y.max().item() == pytest.approx(0.25)
    assert y[0].item() < 1e-3 and y[-1].item() < 1e-3  # vanished at both ends
    assert set(relu_prime.get_ydata().tolist()) == {1.0}
    assert len(labelled_lines(linear)) == 3


# --------------------------------------------------------------------------- matrix products


def test_product_of_100_gaussian_matrices_explodes_and_a_smaller_scale_vanishes():
    norms = matrix_product_norms(100, size=4, scales=(1.0, 0.5), seed=0)
    big, small = norms[1.0], norms[0.5]
    assert big.shape == small.shape == (101,)
    assert big[0].item() == pytest.approx(2.0)  # the identity: sqrt(4)
    assert big[-1].item() > 1e10
    assert small[-1].item() < 1e-3
    # The same draws at every scale: the norms differ by exactly scale^k.
    k = torch.arange(101, dtype=torch.float64)
    torch.testing.assert_close(small, big * 0.5**k, rtol=1e-10, atol=0)
    # The first factor alone is one N(0, 1) matrix.
    Z = torch.randn(100, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(big[1], torch.linalg.matrix_norm(Z[0]))
    torch.testing.assert_close(big[3], torch.linalg.matrix_norm(Z[0] @ Z[1] @ Z[2]))


def test_matrix_products_other_seeds_explode_too():
    for seed in range(1, 4):
        assert matrix_product_norms(100, scales=(1.0,), seed=seed)[1.0][-1] > 1e10


@pytest.mark.parametrize("kwargs", [{"num_factors": 0}, {"size": 0}, {"scales": ()},
                                    {"scales": (0.0,)}, {"scales": (math.nan,)}])
def test_matrix_products_refuse_bad_arguments(kwargs):
    with pytest.raises(UsageError):
        matrix_product_norms(**kwargs)


def test_plot_matrix_products_draws_the_norms_on_a_log_axis(close_figures):
    fig = plot_matrix_products(50, scales=(1.0, 0.25), seed=2)
    close_figures.append(fig)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    lines = labelled_lines(ax)
    norms = matrix_product_norms(50, scales=(1.0, 0.25), seed=2)
    for line, values in zip(lines, norms.values(), strict=True):
        torch.testing.assert_close(torch.as_tensor(line.get_ydata()), values)
        assert line.get_xdata().tolist() == list(range(51))
    assert "N(0, 1²)" in lines[0].get_label() and "N(0, 0.25²)" in lines[1].get_label()
    assert ax.get_legend() is not None and "factors" in ax.get_xlabel()


# --------------------------------------------------------------------------- deep MLP


@realdata
def test_sigmoid_with_the_books_init_vanishes_and_kaiming_relu_stays_level(batch):
    X, y = batch[0][:128], batch[1][:128]
    sigmoid = layer_gradient_norms(X, y, init="normal", activation="sigmoid", depth=10)
    assert sigmoid.shape == (11,) and sigmoid.dtype == torch.float64
    assert sigmoid[0].item() * 1e4 <= sigmoid[-1].item()
    assert (sigmoid[1:] > sigmoid[:-1]).all()  # smaller at every layer down
    kaiming = layer_gradient_norms(X, y, init="kaiming", activation="relu", depth=10)
    assert kaiming.max().item() <= 10 * kaiming.min().item()
    assert 0.1 <= (kaiming[0] / kaiming[-1]).item() <= 10


@realdata
def test_layer_gradient_norms_are_the_autograd_gradients(batch):
    from shallownet.concise import mlp
    from shallownet.init import initialize

    X, y = batch[0][:32], batch[1][:32]
    norms = layer_gradient_norms(X, y, init="xavier", activation="tanh", depth=3, width=16,
                                 seed=5)
    model = initialize(mlp(784, 10, (16,) * 3, activation="tanh"), "xavier",
                       generator=torch.Generator().manual_seed(5))
    torch.nn.functional.cross_entropy(model(X), y).backward()
    expected = [m.weight.grad.double().norm() for m in model if isinstance(m, torch.nn.Linear)]
    torch.testing.assert_close(norms, torch.stack(expected))
    assert set(INIT_SCHEMES) == {"normal", "default", "xavier", "kaiming"}


def test_plot_layer_gradients_one_panel_per_activation_one_line_per_init(close_figures):
    norms = {a: {i: torch.logspace(-k - 1, 0, 4, dtype=torch.float64)
                 for k, i in enumerate(INIT_SCHEMES)} for a in ACTIVATION_NAMES}
    fig = plot_layer_gradients(norms)
    close_figures.append(fig)
    assert [ax.get_title() for ax in fig.axes] == list(ACTIVATION_NAMES)
    for ax in fig.axes:
        assert ax.get_yscale() == "log"
        lines = labelled_lines(ax)
        assert [line.get_label().split()[0] for line in lines] == list(INIT_SCHEMES)
        for line, values in zip(lines, norms[ax.get_title()].values(), strict=True):
            assert line.get_xdata().tolist() == [1, 2, 3, 4]
            torch.testing.assert_close(torch.as_tensor(line.get_ydata()), values)
    assert len(fig.legends) == 1 and len(fig.legends[0].get_texts()) == 4


def test_layer_gradient_norms_refuse_an_empty_network():
    X, y = torch.rand(4, 1, 28, 28), torch.arange(4)
    with pytest.raises(UsageError, match="at least one hidden layer"):
        layer_gradient_norms(X, y, init="normal", activation="relu", depth=0)


# --------------------------------------------------------------------------- symmetry


@realdata
def test_equal_init_keeps_hidden_units_identical_a_random_start_does_not(batch):
    X, y = batch
    equal = symmetry_spread(X, y, init="equal", hidden=32, batch_size=64)
    normal = symmetry_spread(X, y, init="normal", hidden=32, batch_size=64)
    assert equal["step"].tolist() == list(range(9))  # 512 / 64 steps, the start included
    assert equal["spread"].max().item() < 1e-6
    W = equal["weights"]
    assert W.shape == (32, 784)
    torch.testing.assert_close(W, W[:1].expand_as(W), rtol=0, atol=1e-6)
    assert not torch.allclose(W, torch.full_like(W, 0.01))  # it did learn, all units alike
    assert normal["spread"].min().item() > 0.1
    assert torch.linalg.matrix_rank(normal["weights"]).item() == 32


def test_symmetry_spread_refuses_a_single_unit():
    X, y = torch.rand(4, 1, 28, 28), torch.arange(4)
    with pytest.raises(UsageError, match="at least 2 hidden units"):
        symmetry_spread(X, y, init="equal", hidden=1)


def test_plot_symmetry_draws_the_spreads_and_the_weights(close_figures):
    runs = {"equal": {"step": torch.arange(3), "spread": torch.zeros(3, dtype=torch.float64),
                      "weights": torch.ones(8, 784, dtype=torch.float64)},
            "normal": {"step": torch.arange(3),
                       "spread": torch.tensor([0.3, 0.31, 0.35], dtype=torch.float64),
                       "weights": torch.randn(8, 784, dtype=torch.float64)}}
    fig = plot_symmetry(runs, units=4)
    close_figures.append(fig)
    spread_ax = fig.axes[0]
    lines = labelled_lines(spread_ax)
    assert [line.get_label().split()[0] for line in lines] == ["equal", "normal"]
    assert lines[0].get_ydata().tolist() == [0, 0, 0]
    assert lines[1].get_ydata().tolist() == [0.3, 0.31, 0.35]
    images = [ax for ax in fig.axes[1:] if ax.get_images()]
    assert len(images) == 8
    assert images[0].get_images()[0].get_array().shape == (28, 28)
