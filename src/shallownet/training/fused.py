"""Fused training steps: forward pass, chain-rule gradient and SGD update in a few large ops.

For softmax regression and MLPs trained with cross-entropy and plain SGD the
gradient has a closed form, so a step needs no autograd graph, no ``.grad``
tensors and no optimiser loop. With ``H_0 = X`` (n rows), layers
``l = 1..L`` whose weights ``W_l`` are in torch's (out, in) layout::

    Z_l = H_(l-1) W_lᵀ + b_l       H_l = φ(Z_l) for l < L        O = Z_L
    G_L = softmax(O) - onehot(y)                     n ∂L/∂O, L the batch's mean loss
    G_(l-1) = (G_l W_l) ⊙ φ'(Z_(l-1))                taken before W_l changes
    W_l <- (1 - lr wd) W_l - (lr / n) G_lᵀ H_(l-1)    one in-place addmm_ per layer
    b_l <- b_l - (lr / n) Σ_rows G_l

These are the formulas autograd and ``SGD.step()`` evaluate (the two agree
to float rounding), in a third of the operations and with no per-step
Python work beyond one call per layer. A scratch ``Linear`` keeps ``W``
column by column, so ``W.T`` is the same (out, in) row-major matrix as
``nn.Linear.weight``, and both tiers are updated through the same view.

The trainer uses a fused step where :func:`fused_step` finds one (see
``Trainer(fused=...)``); otherwise, and with ``fused=False``, it trains
through autograd and the model's optimiser.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from shallownet.init import weight_layers
from shallownet.registry import ModelSetup
from shallownet.scratch.backprop import ACTIVATION_GRADIENTS
from shallownet.scratch.layers import Linear as ScratchLinear

__all__ = ["FusedStep", "fused_step", "why_not_fused"]

_FUSED_MODELS = ("softmax", "mlp")
_PAD = 16  # the output layer's width is padded to a multiple of this


#: name -> φ, as torch's one-kernel function; φ' comes from the scratch tier's
#: :data:`~shallownet.scratch.backprop.ACTIVATION_GRADIENTS`.
_ACTIVATIONS: dict[str, Callable] = {"relu": torch.relu, "sigmoid": torch.sigmoid,
                                     "tanh": torch.tanh}


def why_not_fused(setup: ModelSetup) -> str | None:
    """Why ``setup`` has no fused step (None when it has one)."""
    cfg = setup.config
    if cfg.model not in _FUSED_MODELS:
        return f"{cfg.model} is not softmax regression or an MLP"
    if cfg.loss != "cross_entropy" or cfg.log_softmax:
        return "the loss is not cross-entropy on logits"
    if cfg.optimizer != "sgd":
        return f"the optimiser is {cfg.optimizer}, not plain SGD"
    if any(cfg.dropout) and cfg.model == "mlp":
        return "the MLP uses dropout"
    if cfg.backward == "hand":
        return "the gradient is asked for by hand (--backward hand)"
    layers = weight_layers(setup.model)
    expected = 1 if cfg.model == "softmax" else len(cfg.hidden) + 1
    if len(layers) != expected or not all(
        isinstance(m, (nn.Linear, ScratchLinear)) for m in layers
    ):
        return "the model is not the registry's stack of linear layers"
    return None


class FusedStep:
    """One fused SGD step of a linear-layer stack: ``step(X, y, out)`` writes the logits to ``out``.

    The output layer trains in a padded copy: its q outputs are widened to a
    multiple of 16 by rows of zero weights with bias -inf, whose logits are
    -inf, whose softmax probabilities are exactly 0 and whose gradients are
    exactly 0, so they never change and never touch the real outputs. BLAS
    multiplies (n, 784) by (784, 16) faster than by (784, 10) (1.5× for the
    forward product, see ``benchmarks/layouts.py``). :meth:`load` copies the model's output
    layer in and :meth:`store` copies it back: the trainer calls them around
    each epoch. Hidden layers are updated in place.

    Parameters
    ----------
    setup : ModelSetup
        Softmax regression or an MLP, cross-entropy, plain SGD (see :func:`why_not_fused`).
    """

    def __init__(self, setup: ModelSetup) -> None:
        reason = why_not_fused(setup)
        if reason is not None:
            raise ValueError(f"no fused step: {reason}.")
        cfg = setup.config
        self.lr = cfg.lr
        self.decay = 1 - cfg.lr * cfg.weight_decay  # (1 - lr wd) W: SGD's weight decay
        self.activation = _ACTIVATIONS[cfg.activation]
        self.derivative = ACTIVATION_GRADIENTS[cfg.activation][1]  # (Z, H) -> φ'(Z)
        layers = [_weight_bias(m) for m in weight_layers(setup.model)]
        self.output = layers[-1]
        W, b = self.output
        q, width = W.shape[0], -(-W.shape[0] // _PAD) * _PAD
        padded_W = W.new_zeros((width, W.shape[1]))
        padded_b = b.new_full((width,), float("-inf"))
        self.layers = [*layers[:-1], (padded_W, padded_b)]
        self.q = q
        self.load()

    def load(self) -> None:
        """Copy the model's output layer into the padded working copy."""
        (W, b), (padded_W, padded_b) = self.output, self.layers[-1]
        with torch.no_grad():
            padded_W[: self.q].copy_(W)
            padded_b[: self.q].copy_(b)

    def store(self) -> None:
        """Copy the trained output layer back into the model."""
        (W, b), (padded_W, padded_b) = self.output, self.layers[-1]
        with torch.no_grad():
            W.copy_(padded_W[: self.q])
            b.copy_(padded_b[: self.q])

    @torch.no_grad()
    def __call__(self, X: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Train on the batch ``(X, y)``; return ``out``, which holds the batch's logits ``O``."""
        n = X.shape[0]
        H, Z = X.reshape(n, -1), None
        inputs, hidden = [], []  # H_(l-1) of each layer; Z_l of each hidden layer
        for W, b in self.layers:
            if Z is not None:
                hidden.append(Z)
                H = self.activation(Z)
            inputs.append(H)
            Z = torch.addmm(b, H, W.T)
        out.copy_(Z[:, : self.q])
        G = torch.softmax(Z, dim=1)  # the padding's probabilities are exactly 0
        G.scatter_add_(1, y.reshape(-1, 1).long(), G.new_full((1, 1), -1.0).expand(n, 1))
        alpha = -self.lr / n
        for i in range(len(self.layers) - 1, -1, -1):
            W, b = self.layers[i]
            G_below = (G @ W).mul_(self.derivative(hidden[i - 1], inputs[i])) if i else None
            W.addmm_(G.T, inputs[i], beta=self.decay, alpha=alpha)
            b.add_(G.sum(dim=0), alpha=alpha)
            G = G_below
        return out


def _weight_bias(layer: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(W in torch's (out, in) layout, b) as views sharing the parameters' memory."""
    if isinstance(layer, ScratchLinear):
        return layer.W.T, layer.b  # the scratch layer stores (in, out)
    return layer.weight, layer.bias


def fused_step(setup: ModelSetup) -> FusedStep | None:
    """The fused step of ``setup``, or None where it must train through autograd."""
    return FusedStep(setup) if why_not_fused(setup) is None else None
