"""The numerical-stability chapter (D2L 5.4) in pictures, each drawn from real computation.

The numbers come from :mod:`shallownet.stability`; each function here returns
its figure (never shows it):

- :func:`plot_activations`: ReLU, sigmoid and tanh with their derivatives;
- :func:`plot_vanishing_gradients`: the sigmoid's gradient vanishing at both
  ends, against ReLU's;
- :func:`plot_matrix_products`: the norm of a product of random matrices
  exploding, or vanishing at a smaller scale, on a log axis;
- :func:`plot_layer_gradients`: a deep MLP's gradient norm layer by layer at
  initialisation, one line per initialisation, one panel per activation;
- :func:`plot_symmetry`: hidden units that stay identical from an ``equal``
  start, and drift apart from a random one.

:func:`gradient_figures` computes and draws the last four (what
``shallownet plot gradients`` writes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from shallownet.stability import (
    ACTIVATION_NAMES,
    INIT_SCHEMES,
    activation_curves,
    gradient_norms_by_init,
    matrix_product_norms,
    symmetry_spread,
)

__all__ = [
    "GRADIENT_FIGURES",
    "INIT_LABELS",
    "gradient_figures",
    "plot_activations",
    "plot_layer_gradients",
    "plot_matrix_products",
    "plot_symmetry",
    "plot_vanishing_gradients",
]

#: The figures of :func:`gradient_figures`, by the file names they get (without suffix).
GRADIENT_FIGURES = ("gradients-vanishing", "gradients-matrix-product", "gradients-deep-mlp",
                    "gradients-symmetry")

#: How the figures name each initialisation.
INIT_LABELS = {
    "normal": "normal  N(0, 0.01²)  (the book's)",
    "default": "default  U(±1/√n_in)  (PyTorch's)",
    "xavier": "xavier  U(±√(6/(n_in+n_out)))",
    "kaiming": "kaiming  N(0, 2/n_in)",
    "equal": "equal  (every weight 0.01)",
}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _np(values):
    """A tensor as a NumPy array (matplotlib's ``np.asarray(tensor)`` warns under NumPy 2)."""
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else values


def plot_activations(limit: float = 8.0, *, num: int = 161):
    """ReLU, sigmoid and tanh (solid) with their derivatives by autograd (dashed), one panel each.

    Returns
    -------
    matplotlib Figure
    """
    curves = activation_curves(limit=limit, num=num)
    fig = _figure(12, 3.8)
    axes = fig.subplots(1, len(curves), sharey=True)
    formulas = {"relu": ("ReLU(x) = max(x, 0)", "ReLU′(x) = 1 if x > 0 else 0"),
                "sigmoid": ("σ(x) = 1 / (1 + e⁻ˣ)", "σ′(x) = σ(x)(1 − σ(x))"),
                "tanh": ("tanh(x)", "tanh′(x) = 1 − tanh²(x)")}
    for ax, (name, c) in zip(axes, curves.items(), strict=True):
        value, derivative = formulas[name]
        ax.plot(_np(c["x"]), _np(c["value"]), color="C0", linewidth=2, label=value)
        ax.plot(_np(c["x"]), _np(c["derivative"]), color="C1", linestyle="--", linewidth=2,
                label=derivative)
        ax.axhline(0, color="0.7", linewidth=0.8)
        ax.axvline(0, color="0.7", linewidth=0.8)
        ax.set(title=name, xlabel="x", xlim=(-limit, limit), ylim=(-1.2, 2.2))
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize="small")
    fig.suptitle("Activation functions and their derivatives (by autograd)")
    return fig


def plot_vanishing_gradients(limit: float = 8.0, *, num: int = 321):
    """The sigmoid and its gradient against ReLU's gradient: linear (left) and log (right) axes.

    σ′ peaks at ¼ and falls like e^{−|x|} on both sides, so a unit pushed far
    from 0 barely passes a gradient; ReLU′ is exactly 1 for every x > 0.

    Returns
    -------
    matplotlib Figure
    """
    curves = activation_curves(("sigmoid", "relu"), limit=limit, num=num)
    sig, relu = curves["sigmoid"], curves["relu"]
    fig = _figure(11.5, 4)
    linear, log = fig.subplots(1, 2)
    linear.plot(_np(sig["x"]), _np(sig["value"]), color="C0", linewidth=2, label="sigmoid σ(x)")
    linear.plot(_np(sig["x"]), _np(sig["derivative"]), color="C1", linewidth=2,
                label="gradient of sigmoid σ′(x)")
    linear.plot(_np(relu["x"]), _np(relu["derivative"]), color="C2", linestyle="--", linewidth=2,
                label="gradient of ReLU")
    linear.set(title="the sigmoid saturates at both ends", xlabel="x", xlim=(-limit, limit),
               ylim=(-0.05, 1.15))
    linear.legend(loc="center left", fontsize="small")
    positive = relu["derivative"] > 0
    log.semilogy(_np(sig["x"]), _np(sig["derivative"]), color="C1", linewidth=2, label="σ′(x)")
    log.semilogy(_np(relu["x"][positive]), _np(relu["derivative"][positive]), color="C2",
                 linestyle="--", linewidth=2, label="ReLU′(x) = 1 for x > 0 (0 below)")
    log.axhline(0.25, color="0.5", linewidth=0.8, linestyle=":")
    log.annotate("σ′ ≤ ¼ everywhere", (-limit * 0.97, 0.25), xytext=(0, 4),
                 textcoords="offset points", fontsize="small", color="0.3")
    log.set(title="the same gradients on a log axis", xlabel="x", ylabel="gradient",
            xlim=(-limit, limit))
    log.legend(loc="lower center", fontsize="small")
    for ax in (linear, log):
        ax.grid(True, alpha=0.3)
    fig.suptitle("Vanishing gradients: the sigmoid's against ReLU's (autograd on a grid)")
    return fig


def plot_matrix_products(
    num_factors: int = 100, *, size: int = 4, scales: Sequence[float] = (1.0, 0.5),
    seed: int = 0,
):
    """‖M₁⋯M_k‖ of random ``size``×``size`` Gaussian matrices against k, on a log axis.

    Returns
    -------
    matplotlib Figure
    """
    norms = matrix_product_norms(num_factors, size=size, scales=scales, seed=seed)
    fig = _figure(7.5, 4.5)
    ax = fig.subplots()
    for i, (scale, values) in enumerate(norms.items()):
        k = torch.arange(len(values))
        ax.semilogy(_np(k), _np(values), color=f"C{3 if scale >= 1 else i}", linewidth=2,
                    label=f"entries N(0, {scale:g}²): ‖product‖ = {values[-1].item():.1e} "
                          f"after {num_factors}")
    ax.axhline(1, color="0.5", linewidth=0.8)
    ax.set(xlabel="number of factors k", ylabel=r"Frobenius norm $\|M_1 M_2 \cdots M_k\|$",
           xlim=(0, num_factors),
           title=f"Products of random {size}×{size} Gaussian matrices explode or vanish")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return fig


def plot_layer_gradients(norms: Mapping[str, Mapping[str, torch.Tensor]], *, title: str = ""):
    """One panel per activation: ‖∂L/∂W_l‖ against the layer l, one line per initialisation.

    Parameters
    ----------
    norms : dict activation -> dict init -> tensor of per-layer norms
        As :func:`shallownet.stability.gradient_norms_by_init` returns them.
    title : str
        The figure's title (a default naming the network when empty).

    Returns
    -------
    matplotlib Figure
    """
    fig = _figure(4.4 * len(norms) + 0.6, 4.6)
    axes = fig.subplots(1, len(norms), sharey=True, squeeze=False)[0]
    depth = 0
    for ax, (activation, by_init) in zip(axes, norms.items(), strict=True):
        for i, (init, values) in enumerate(by_init.items()):
            layers = torch.arange(1, len(values) + 1)
            depth = len(values)
            ax.semilogy(_np(layers), _np(values.clamp_min(1e-300)), marker="o", markersize=3,
                        color=f"C{i}", linewidth=1.8, label=INIT_LABELS.get(init, init))
        ax.set(title=activation, xlabel=f"layer (1: input side, {depth}: output)")
        ax.set_xticks(range(1, depth + 1))
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("‖∂L/∂W‖ at initialisation")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)),
               fontsize="small")
    fig.suptitle(title or f"Gradient norm per layer of an MLP with {depth - 1} hidden layers, "
                          "one batch of Fashion-MNIST")
    return fig


def plot_symmetry(runs: Mapping[str, Mapping[str, torch.Tensor]], *, units: int = 6):
    """Left: the spread max_j ‖w_j − w̄‖ of the hidden units' weights over the training steps,
    one line per initialisation; right: the first ``units`` units' weights after training,
    as 28×28 images, one row per initialisation.

    Parameters
    ----------
    runs : dict init -> result of :func:`shallownet.stability.symmetry_spread`

    Returns
    -------
    matplotlib Figure
    """
    fig = _figure(12, 1.9 * max(2, len(runs)) + 0.6)
    left, right = fig.subfigures(1, 2, width_ratios=(1, 1.35))
    ax = left.subplots()
    for i, (init, run) in enumerate(runs.items()):
        ax.plot(_np(run["step"]), _np(run["spread"]), color=f"C{i}", linewidth=2,
                label=f"{INIT_LABELS.get(init, init)}: {run['spread'][-1].item():.3g} at the end")
    ax.set(xlabel="SGD step", ylabel=r"spread: largest $\|w_j - \bar{w}\|$ over the units j",
           title="how different the hidden units are")
    ax.set_ylim(bottom=-0.02 * max(float(r["spread"].max()) for r in runs.values()) - 1e-3)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="center right", fontsize="small")
    grid = right.subplots(len(runs), units, squeeze=False)
    for row, (init, run) in zip(grid, runs.items(), strict=True):
        W = run["weights"][:units]
        side = int(round(W.shape[1] ** 0.5))
        images = W.reshape(len(W), side, -1) if side * side == W.shape[1] else W[:, None, :]
        low, high = float(images.min()), float(images.max())
        for j, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(images):
                ax.imshow(_np(images[j]), cmap="RdBu_r", vmin=low, vmax=high)
                ax.set_title(f"unit {j + 1}", fontsize="small")
        row[0].set_ylabel(init, fontsize="medium")
    right.suptitle("first hidden units' incoming weights after training", fontsize="medium")
    fig.suptitle("The symmetry problem: equal weights stay equal under SGD")
    return fig


def gradient_figures(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    depth: int = 10,
    width: int = 256,
    symmetry_images: int = 2000,
    symmetry_hidden: int = 64,
    inits: Sequence[str] = INIT_SCHEMES,
    activations: Sequence[str] = ACTIVATION_NAMES,
    seed: int = 0,
) -> dict[str, object]:
    """Compute and draw the four gradient figures, by the names of :data:`GRADIENT_FIGURES`.

    The deep MLP's gradients are taken on the first 256 examples of (X, y)
    (all of them when fewer); the symmetry runs train for one epoch on the
    first ``symmetry_images``.

    Returns
    -------
    dict name -> matplotlib Figure
    """
    batch_X, batch_y = X[:256], y[:256]
    norms = gradient_norms_by_init(batch_X, batch_y, inits=inits, activations=activations,
                                   depth=depth, width=width, seed=seed)
    train_X, train_y = X[:symmetry_images], y[:symmetry_images]
    runs = {init: symmetry_spread(train_X, train_y, init=init, hidden=symmetry_hidden,
                                  seed=seed) for init in ("equal", "normal")}
    return dict(zip(GRADIENT_FIGURES, (
        plot_vanishing_gradients(),
        plot_matrix_products(seed=seed),
        plot_layer_gradients(norms),
        plot_symmetry(runs),
    ), strict=True))
