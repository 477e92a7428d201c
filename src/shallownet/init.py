"""Weight initialisation for scratch and concise models alike.

Schemes (``b`` are biases, ``n_in``/``n_out`` a layer's fan-in/fan-out; for a
convolution they count ``channels x kernel area``):

``normal``   W ~ N(0, std²), b = 0 — the book's choice, std = 0.01.
``default``  W, b ~ U(-1/sqrt(n_in), 1/sqrt(n_in)) — what ``torch.nn`` does by default.
``xavier``   W ~ U(-a, a), a = sqrt(6 / (n_in + n_out)), b = 0 (Glorot & Bengio, 2010).
``kaiming``  W ~ N(0, 2 / n_in), b = 0 (He et al., 2015): keeps the variance of a ReLU
             layer's output equal to its input's, so deep ReLU networks neither
             vanish nor explode at the start.
``equal``    W = value everywhere, b = 0 — every hidden unit computes the same
             thing and receives the same gradient, so they never become
             different: the symmetry problem.

Weights are drawn in torch's layout (out, in, ...) and stored transposed in
the scratch ``Linear`` (in, out), so a scratch and a concise model
initialised from the same seed start with exactly the same weights.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from shallownet.errors import UsageError
from shallownet.scratch.conv import Conv2d as ScratchConv2d
from shallownet.scratch.layers import Linear as ScratchLinear

__all__ = ["SCHEMES", "initialize", "weight_layers", "weight_of"]

SCHEMES = ("normal", "default", "xavier", "kaiming", "equal")

_LAYER_TYPES = (nn.Linear, nn.Conv2d, ScratchLinear, ScratchConv2d)


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """The model's dense and convolution layers, in the order they were defined."""
    return [m for m in model.modules() if isinstance(m, _LAYER_TYPES)]


@torch.no_grad()
def initialize(
    model: nn.Module,
    scheme: str = "normal",
    *,
    std: float = 0.01,
    value: float = 0.01,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Re-initialise every dense and convolution layer of ``model`` in place; return it.

    Parameters
    ----------
    model : nn.Module
        A scratch or concise model.
    scheme : {"normal", "default", "xavier", "kaiming", "equal"}
    std : float
        Standard deviation for ``normal``.
    value : float
        The common weight for ``equal``.
    generator : torch.Generator, optional
        Source of randomness (the global one when None).
    """
    if scheme not in SCHEMES:
        raise UsageError(f"unknown initialisation {scheme!r}; choose one of {', '.join(SCHEMES)}.")
    if scheme == "normal" and not std > 0:
        raise UsageError(f"the standard deviation of the normal initialisation must be > 0, "
                         f"not {std}.")
    if scheme == "equal" and not math.isfinite(value):
        raise UsageError(f"the common weight of the equal initialisation must be finite, "
                         f"not {value}.")
    layers = weight_layers(model)
    if not layers:
        raise UsageError("the model has no dense or convolution layer to initialise.")
    for layer in layers:
        weight, bias, transposed = _weight_and_bias(layer)
        shape = weight.T.shape if transposed else weight.shape  # torch's (out, in, ...)
        fan_in, fan_out = _fans(shape)
        W = torch.empty(shape, dtype=weight.dtype, device=weight.device)
        b = torch.zeros_like(bias)
        if scheme == "normal":
            W.normal_(0.0, std, generator=generator)
        elif scheme == "default":
            bound = 1 / math.sqrt(fan_in)
            W.uniform_(-bound, bound, generator=generator)
            b.uniform_(-bound, bound, generator=generator)
        elif scheme == "xavier":
            bound = math.sqrt(6 / (fan_in + fan_out))
            W.uniform_(-bound, bound, generator=generator)
        elif scheme == "kaiming":
            W.normal_(0.0, math.sqrt(2 / fan_in), generator=generator)
        else:
            W.fill_(value)
        weight.copy_(W.T if transposed else W)
        bias.copy_(b)
    return model


def weight_of(layer: nn.Module) -> tuple[torch.Tensor, tuple[int, ...]]:
    """A dense or convolution layer's weight tensor, and its shape in torch's layout
    (out, in, ...): the scratch ``Linear`` stores it transposed, (in, out)."""
    weight, _, transposed = _weight_and_bias(layer)
    return weight, tuple(weight.T.shape if transposed else weight.shape)


def _weight_and_bias(layer: nn.Module) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(weight, bias, whether the weight is stored transposed, i.e. (in, out))."""
    if isinstance(layer, ScratchLinear):
        return layer.W, layer.b, True
    if layer.bias is None:
        raise UsageError(f"{type(layer).__name__} without a bias is not supported here.")
    return layer.weight, layer.bias, False


def _fans(shape: torch.Size) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel)."""
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive
