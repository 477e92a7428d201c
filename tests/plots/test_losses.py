"""The regression-loss figure: curves with closed-form gradients, three panels of three lines."""

from __future__ import annotations

import math

import pytest
import torch
from matplotlib.figure import Figure

from shallownet.errors import UsageError
from shallownet.plots import loss_curves, plot_regression_losses

KEYS = {"residual", "loss", "gradient", "likelihood"}


def by_kind(curves: dict) -> dict[str, dict[str, torch.Tensor]]:
    """The three curves keyed squared / l1 / huber (their names are figure titles)."""
    names = list(curves)
    assert len(names) == 3
    assert names[0].startswith("squared")
    assert names[1].startswith("L1")
    assert names[2].startswith("Huber")
    return dict(zip(("squared", "l1", "huber"), curves.values(), strict=True))


@pytest.mark.parametrize(("limit", "delta", "num"), [(3.0, 1.0, 601), (5.0, 0.5, 101),
                                                     (2.0, 3.0, 41)])
def test_curves_match_the_closed_forms(limit, delta, num):
    c = by_kind(loss_curves(limit, delta=delta, num=num))
    for curve in c.values():
        assert set(curve) == KEYS
        for values in curve.values():
            assert values.shape == (num,)
            assert values.dtype == torch.float64
            assert not values.requires_grad
    r = c["squared"]["residual"]
    torch.testing.assert_close(r, torch.linspace(-limit, limit, num, dtype=torch.float64))
    for curve in c.values():
        assert torch.equal(curve["residual"], r)
        torch.testing.assert_close(curve["likelihood"], torch.exp(-curve["loss"]),
                                   rtol=0, atol=1e-15)

    torch.testing.assert_close(c["squared"]["loss"], r**2 / 2, rtol=0, atol=1e-15)
    torch.testing.assert_close(c["squared"]["gradient"], r, rtol=0, atol=1e-15)
    torch.testing.assert_close(c["l1"]["loss"], r.abs(), rtol=0, atol=1e-15)
    torch.testing.assert_close(c["l1"]["gradient"], torch.sign(r), rtol=0, atol=0)
    huber = torch.where(r.abs() <= delta, r**2 / 2, delta * (r.abs() - delta / 2))
    torch.testing.assert_close(c["huber"]["loss"], huber, rtol=0, atol=1e-15)
    torch.testing.assert_close(c["huber"]["gradient"], r.clamp(-delta, delta), rtol=0,
                               atol=1e-15)
    if delta < limit:  # the Huber gradient saturates at ±delta
        assert c["huber"]["gradient"].max().item() == pytest.approx(delta)
        assert c["huber"]["gradient"].min().item() == pytest.approx(-delta)


def test_delta_is_in_the_huber_name():
    assert list(loss_curves(delta=0.5))[2].startswith("Huber, δ = 0.5")
    assert list(loss_curves(delta=2))[2].startswith("Huber, δ = 2")


def test_likelihood_is_one_at_zero_residual_and_falls_away():
    c = by_kind(loss_curves(3.0, num=7))  # grid -3, -2, ..., 3: 0 is on it
    for curve in c.values():
        r = curve["residual"]
        assert r[3].item() == 0.0
        assert curve["likelihood"][3].item() == 1.0
        assert curve["loss"][3].item() == 0.0
        assert curve["gradient"][3].item() == 0.0
        assert (curve["likelihood"][r != 0] < 1).all()
        assert curve["likelihood"].argmax().item() == 3
    # The default grid's middle point is 0 up to rounding.
    for curve in loss_curves().values():
        middle = curve["residual"].abs().argmin()
        assert curve["residual"][middle].abs().item() < 1e-12
        assert curve["likelihood"][middle].item() == pytest.approx(1.0, abs=1e-12)
    # Squared loss (Gaussian) drops faster than L1 (Laplace) far out: exp(-4.5) < exp(-3).
    assert c["squared"]["likelihood"][0].item() == pytest.approx(math.exp(-4.5))
    assert c["l1"]["likelihood"][0].item() == pytest.approx(math.exp(-3))


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0.0,), {}, "limit and delta must be positive"),
        ((-1.0,), {}, "limit and delta must be positive"),
        ((math.nan,), {}, "limit and delta must be positive"),
        ((3.0,), {"delta": 0.0}, "limit and delta must be positive"),
        ((3.0,), {"delta": -0.5}, "limit and delta must be positive"),
        ((3.0,), {"num": 2}, "at least 3 points, not 2"),
        ((3.0,), {"num": 0}, "at least 3 points"),
    ],
)
def test_bad_arguments_are_usage_errors(args, kwargs, match):
    with pytest.raises(UsageError, match=match):
        loss_curves(*args, **kwargs)


def labelled_lines(ax):
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_plot_has_three_panels_of_three_lines():
    fig = plot_regression_losses()
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3
    curves = loss_curves()
    for ax, (name, curve) in zip(fig.axes, curves.items(), strict=True):
        assert ax.get_title() == name
        assert ax.get_xlabel()
        lines = labelled_lines(ax)
        assert len(lines) == 3
        assert [line.get_label().split()[0] for line in lines] == \
            ["loss", "gradient", "likelihood"]
        for line, key in zip(lines, ("loss", "gradient", "likelihood"), strict=True):
            torch.testing.assert_close(torch.as_tensor(line.get_ydata(), dtype=torch.float64),
                                       curve[key])
        assert ax.get_xlim() == (-3.0, 3.0)
    legend = fig.axes[0].get_legend()
    assert legend is not None
    assert len(legend.get_texts()) == 3
    assert fig._suptitle is not None and "Regression losses" in fig._suptitle.get_text()


def test_plot_limit_and_delta_reach_the_figure():
    fig = plot_regression_losses(5.0, delta=0.5)
    assert fig.axes[0].get_xlim() == (-5.0, 5.0)
    assert "δ = 0.5" in fig.axes[2].get_title()
    gradient = labelled_lines(fig.axes[2])[1].get_ydata()
    assert max(gradient) == pytest.approx(0.5)


def test_plot_draws_on_given_axes():
    fig = Figure()
    axes = fig.subplots(1, 3)
    returned = plot_regression_losses(axes=axes)
    assert returned is fig
    assert len(fig.axes) == 3
    assert all(len(labelled_lines(ax)) == 3 for ax in axes)


def test_plot_rejects_bad_arguments():
    with pytest.raises(UsageError):
        plot_regression_losses(-1.0)
    with pytest.raises(UsageError):
        plot_regression_losses(delta=0)
