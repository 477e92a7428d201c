"""Numerical stability and initialisation (D2L 5.4) as numbers: what each figure draws.

Every function computes its curves for real (autograd on a grid, products of
random matrices, a deep MLP's backward pass on Fashion-MNIST, an epoch of
training) and returns plain float64 tensors, so the figures of
:mod:`shallownet.plots.stability` and the tests read the same numbers.

- :func:`activation_curves`: ReLU, sigmoid and tanh with their derivatives
  (sigmoid' = σ(1 − σ) ≤ ¼ vanishes at both ends; ReLU' is 0 or 1);
- :func:`matrix_product_norms`: ‖M₁M₂⋯M_k‖ for random Gaussian matrices,
  growing or shrinking geometrically with the number of factors k;
- :func:`layer_gradient_norms`: ‖∂L/∂W_l‖ of every layer of a deep MLP at
  initialisation, for each initialisation and activation;
- :func:`symmetry_spread`: how far a one-hidden-layer MLP's hidden units drift
  apart while training, from an ``equal`` start (never) and from a random one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from shallownet.errors import UsageError
from shallownet.init import SCHEMES, weight_layers, weight_of
from shallownet.scratch.activations import ACTIVATIONS, get_activation

__all__ = [
    "ACTIVATION_NAMES",
    "INIT_SCHEMES",
    "activation_curves",
    "fashion_mnist_batch",
    "layer_gradient_norms",
    "gradient_norms_by_init",
    "matrix_product_norms",
    "symmetry_spread",
]

#: Fashion-MNIST's classes: the MLPs' outputs.
NUM_CLASSES = 10
#: The hidden-layer activations, in the order the figures draw them.
ACTIVATION_NAMES = tuple(ACTIVATIONS)
#: The random initialisations compared layer by layer (``equal`` is the symmetry figure's).
INIT_SCHEMES = tuple(s for s in SCHEMES if s != "equal")


def activation_curves(
    names: Sequence[str] = ACTIVATION_NAMES, *, limit: float = 8.0, num: int = 161
) -> dict[str, dict[str, torch.Tensor]]:
    """Each activation f and its derivative f'(x) by autograd on a grid of ``num`` points.

    The grid runs from -limit to limit (0 on it when ``num`` is odd). The
    closed forms: ReLU'(x) = 1 if x > 0 else 0; sigmoid'(x) = σ(x)(1 − σ(x)),
    at most ¼ (at 0) and below 10⁻³ once |x| > 7; tanh'(x) = 1 − tanh²(x).

    Returns
    -------
    dict name -> {"x", "value", "derivative"}, float64 tensors of shape (num,)
    """
    if not (math.isfinite(limit) and limit > 0):
        raise UsageError(f"limit must be a positive number, not {limit}.")
    if num < 3:
        raise UsageError(f"need at least 3 points, not {num}.")
    curves = {}
    for name in names:
        f = get_activation(name)
        x = torch.linspace(-limit, limit, num, dtype=torch.float64, requires_grad=True)
        y = f(x)
        (dy,) = torch.autograd.grad(y.sum(), x)
        curves[name] = {"x": x.detach(), "value": y.detach(), "derivative": dy}
    return curves


def matrix_product_norms(
    num_factors: int = 100,
    *,
    size: int = 4,
    scales: Sequence[float] = (1.0, 0.5),
    seed: int = 0,
) -> dict[float, torch.Tensor]:
    """‖M₁M₂⋯M_k‖_F for k = 0 … num_factors, with M_i ~ N(0, scale²) entries of size×size.

    The book's example (5.4.1.2): one 4×4 Gaussian matrix multiplied by 100
    more. For every scale the same standard normal draws Z_i are used,
    M_i = scale·Z_i, so the products differ exactly by scale^k:
    ‖∏M_i‖ = scale^k ‖∏Z_i‖. The norm grows like e^{λk} with λ ≈ 0.56 for
    4×4 N(0, 1) matrices (about 10²⁴ after 100 factors) and shrinks once
    scale < e^{−λ} ≈ 0.57. k = 0 is the identity (norm √size).

    Returns
    -------
    dict scale -> float64 tensor of shape (num_factors + 1,)
    """
    if num_factors < 1 or size < 1:
        raise UsageError(f"need at least one factor of size 1 or more, not {num_factors} "
                         f"factors of size {size}.")
    if not scales or not all(math.isfinite(s) and s > 0 for s in scales):
        raise UsageError(f"scales must be positive numbers, not {tuple(scales)}.")
    generator = torch.Generator().manual_seed(seed)
    Z = torch.randn(num_factors, size, size, dtype=torch.float64, generator=generator)
    norms = {}
    for scale in scales:
        M = torch.eye(size, dtype=torch.float64)
        values = [torch.linalg.matrix_norm(M)]
        for k in range(num_factors):
            M = M @ (scale * Z[k])
            values.append(torch.linalg.matrix_norm(M))
        norms[float(scale)] = torch.stack(values)
    return norms


def fashion_mnist_batch(
    size: int = 256, *, offset: int = 0, data_dir=None, download: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """``size`` real Fashion-MNIST training images from ``offset`` on, as the book loads them.

    Returns (X, y): X float32 (size, 1, 28, 28) with values x / 255 in [0, 1], y int64.
    The dataset is found (or fetched) as :func:`shallownet.data.load_fashion_mnist` does.
    """
    from shallownet.data import load_fashion_mnist

    data = load_fashion_mnist(data_dir=data_dir, download=download)
    if size < 1 or offset < 0 or offset + size > len(data.train_images):
        raise UsageError(f"the training set has {len(data.train_images)} images; cannot take "
                         f"{size} from {offset} on.")
    return (data.train_images[offset:offset + size].clone(),
            data.train_labels[offset:offset + size].clone())


def _mlp_setup(hidden: Sequence[int], activation: str, init: str, seed: int,
               input_shape: Sequence[int], num_outputs: int, lr: float = 0.1):
    from shallownet.registry import ModelConfig, build

    config = ModelConfig(model="mlp", impl="concise", hidden=tuple(hidden),
                         activation=activation, init=init, lr=lr)
    return build(config, input_shape=input_shape, num_outputs=num_outputs, seed=seed)


def layer_gradient_norms(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    init: str,
    activation: str,
    depth: int = 10,
    width: int = 256,
    seed: int = 0,
) -> torch.Tensor:
    """‖∂L/∂W_l‖_F of every dense layer l = 1 … depth + 1 of a deep MLP, at initialisation.

    The MLP (the registry's ``mlp``, concise tier) has ``depth`` hidden
    layers of ``width`` units with ``activation``, initialised with ``init``
    (:func:`shallownet.init.initialize`, seeded), and L is the mean
    cross-entropy of the batch (X, y). By the chain rule
    ∂L/∂W_l = δ_l h_{l−1}ᵀ with δ_l = f′(z_l) ⊙ W_{l+1}ᵀ δ_{l+1}: each layer
    down multiplies the signal by W_{l+1}ᵀ and f′, so a factor below 1 per
    layer (sigmoid′ ≤ ¼ with small weights) vanishes geometrically, one
    above 1 explodes, and Kaiming's N(0, 2/n_in) keeps ReLU's level.

    Returns
    -------
    float64 tensor of shape (depth + 1,): the first hidden layer first, the output layer last
    """
    if depth < 1 or width < 1:
        raise UsageError(f"need at least one hidden layer of one unit, not {depth} of {width}.")
    setup = _mlp_setup((width,) * depth, activation, init, seed, tuple(X.shape[1:]),
                       NUM_CLASSES)
    from shallownet.training.gradients import layer_norms

    return torch.tensor([row["grad_norm"] for row in layer_norms(setup, X, y)],
                        dtype=torch.float64)


def gradient_norms_by_init(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    inits: Sequence[str] = INIT_SCHEMES,
    activations: Sequence[str] = ACTIVATION_NAMES,
    depth: int = 10,
    width: int = 256,
    seed: int = 0,
) -> dict[str, dict[str, torch.Tensor]]:
    """:func:`layer_gradient_norms` for every activation × initialisation, on the same batch.

    Returns
    -------
    dict activation -> dict init -> float64 tensor of shape (depth + 1,)
    """
    return {a: {i: layer_gradient_norms(X, y, init=i, activation=a, depth=depth, width=width,
                                        seed=seed) for i in inits}
            for a in activations}


def symmetry_spread(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    init: str,
    hidden: int = 64,
    activation: str = "relu",
    batch_size: int = 64,
    epochs: int = 1,
    lr: float = 0.1,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Train a one-hidden-layer MLP on (X, y) and follow how different its hidden units are.

    Unit j's incoming weights are w_j (row j of the first layer's weight, in
    torch's layout). The spread is max_j ‖w_j − w̄‖₂, with w̄ the mean over
    the units. With ``equal`` initialisation every unit computes the same
    h_j and receives the same gradient ∂L/∂w_j = Σ_k W2[k, j] δ_k f′(z_j) x,
    so the w_j stay identical (spread 0) however long plain SGD runs: the
    symmetry problem. A random start breaks the tie.

    The model is the registry's ``mlp`` (concise tier), trained with its
    minibatch SGD for ``epochs`` passes over (X, y) in order, ``batch_size``
    at a time.

    Returns
    -------
    dict with "step" (0 … steps, int64), "spread" (float64, one per step, the
    start included) and "weights" (the first layer's final weights, (hidden, d))
    """
    if hidden < 2:
        raise UsageError(f"the symmetry needs at least 2 hidden units, not {hidden}.")
    if batch_size < 1 or epochs < 1:
        raise UsageError(f"need a batch size and epochs of at least 1, not {batch_size} "
                         f"and {epochs}.")
    setup = _mlp_setup((hidden,), activation, init, seed, tuple(X.shape[1:]),
                       NUM_CLASSES, lr=lr)
    first, _ = weight_of(weight_layers(setup.model)[0])

    def spread() -> torch.Tensor:
        W = first.detach().double()
        return torch.linalg.vector_norm(W - W.mean(dim=0), dim=1).max()

    spreads = [spread()]
    for _ in range(epochs):
        for start in range(0, len(X), batch_size):
            setup.train_step(X[start:start + batch_size], y[start:start + batch_size])
            spreads.append(spread())
    return {"step": torch.arange(len(spreads)), "spread": torch.stack(spreads),
            "weights": first.detach().double().clone()}
