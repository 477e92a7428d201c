"""Fused training steps: forward pass, chain-rule gradient and SGD update in a few large ops.

For softmax regression and MLPs trained with cross-entropy and plain SGD the
gradient has a closed form, so a step needs no autograd graph, no ``.grad``
tensors and no optimiser loop. With ``H_0 = X`` (n rows), layers
``l = 1..L`` whose weights ``W_l`` are in torch's (out, in) layout::

    Z_l = H_(l-1) W_lᵀ + b_l       H_l = φ(Z_l) for l < L        O = Z_L
    G_L = softmax(O) - onehot(y)                     n ∂L/∂O, L the batch's mean loss
                                                     (scratch.cross_entropy_grad)
    G_(l-1) = (G_l W_l) ⊙ φ'(Z_(l-1))                taken before W_l changes
    W_l <- (1 - lr wd) W_l - (lr / n) G_lᵀ H_(l-1)    one in-place addmm_ per layer
    b_l <- b_l - (lr / n) Σ_rows G_l

These are the formulas autograd and ``SGD.step()`` evaluate (the two agree
to float rounding), in a third of the operations and with no per-step
Python work beyond one call per layer. A scratch ``Linear`` keeps ``W``
column by column, so ``W.T`` is the same (out, in) row-major matrix as
``nn.Linear.weight``, and both tiers are updated through the same view.

With momentum or Adam (:class:`FusedGradientStep`) the same closed-form
gradients ``(1/n) G_lᵀ H_(l-1)`` and ``(1/n) Σ_rows G_l`` are written into each
parameter's ``.grad`` and the model's own optimiser (the scratch tier's or
``torch.optim``'s, which keeps the moments a checkpoint saves) takes the step.

The trainer trains with it when the run's step is ``fused``
(:mod:`shallownet.training.steps`: ``auto`` picks it where the model has it,
:func:`shallownet.registry.why_no_fused_step`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from shallownet.errors import UsageError
from shallownet.init import weight_layers
from shallownet.registry import ModelSetup, why_no_fused_step
from shallownet.scratch.backprop import ACTIVATION_GRADIENTS
from shallownet.scratch.layers import Linear as ScratchLinear
from shallownet.scratch.losses import cross_entropy_grad
from shallownet.training.steps import GatheringStep

__all__ = ["FusedStep", "FusedGradientStep", "fused_step", "weight_bias"]

_PAD = 16  # the output layer's width is padded to a multiple of this


#: name -> φ, as torch's one-kernel function; φ' comes from the scratch tier's
#: :data:`~shallownet.scratch.backprop.ACTIVATION_GRADIENTS`, and the output gradient
#: from :func:`~shallownet.scratch.losses.cross_entropy_grad` (with ``torch.softmax``).
_ACTIVATIONS: dict[str, Callable] = {"relu": torch.relu, "sigmoid": torch.sigmoid,
                                     "tanh": torch.tanh}


def _check_fusable(setup: ModelSetup) -> list[nn.Module]:
    """The model's linear layers, or a :class:`UsageError` saying why it has no fused step."""
    reason = why_no_fused_step(setup.config)
    layers = weight_layers(setup.model)
    cfg = setup.config
    expected = len(cfg.hidden) + 1 if "hidden" in setup.entry.options else 1
    if reason is None and (len(layers) != expected or not all(
            isinstance(m, nn.Linear | ScratchLinear) for m in layers)):
        reason = "the model is not the registry's stack of linear layers"
    if reason is not None:
        raise UsageError(f"no fused step for this model: {reason}.")
    return layers


def fused_step(setup: ModelSetup, *, precision: str = "float32") -> GatheringStep:
    """The fused step of ``setup``: in-place SGD updates (:class:`FusedStep`) for plain SGD,
    closed-form gradients and the model's optimiser (:class:`FusedGradientStep`) otherwise.
    ``precision="bfloat16"`` takes the matrix products in bfloat16 (mixed precision)."""
    if setup.config.optimizer == "sgd":
        return FusedStep(setup, precision=precision)
    return FusedGradientStep(setup, precision=precision)


def _low_precision(precision: str) -> torch.dtype | None:
    """The dtype the products are taken in: None for float32, else bfloat16."""
    return None if precision == "float32" else torch.bfloat16


class FusedStep(GatheringStep):
    """One fused SGD step of a linear-layer stack (a :class:`~shallownet.training.steps.Step`).

    The output layer trains in a padded copy: its q outputs are widened to a
    multiple of 16 by rows of zero weights with bias -inf, whose logits are
    -inf, whose softmax probabilities are exactly 0 and whose gradients are
    exactly 0, so they never change and never touch the real outputs. BLAS
    multiplies (n, 784) by (784, 16) faster than by (784, 10) (1.5× for the
    forward product, see ``benchmarks/layouts.py``). :meth:`begin_epoch` copies the model's
    output layer in and :meth:`end_epoch` copies it back. Hidden layers are
    updated in place.

    Parameters
    ----------
    setup : ModelSetup
        Softmax regression or an MLP, cross-entropy, plain SGD
        (:func:`shallownet.registry.why_no_fused_step`).
    """

    name = "fused"

    def __init__(self, setup: ModelSetup, *, precision: str = "float32") -> None:
        layers = _check_fusable(setup)
        cfg = setup.config
        self.low = _low_precision(precision)
        if cfg.optimizer != "sgd":
            raise UsageError(f"FusedStep updates with plain SGD, not {cfg.optimizer}: use "
                             "FusedGradientStep.")
        self.smoothing = cfg.label_smoothing
        self.weight_decay = cfg.weight_decay
        self.set_lr(cfg.lr)
        self.activation = _ACTIVATIONS[cfg.activation]
        self.derivative = ACTIVATION_GRADIENTS[cfg.activation][1]  # (Z, H) -> φ'(Z)
        layers = [weight_bias(m) for m in layers]
        self.output = layers[-1]
        W, b = self.output
        q, width = W.shape[0], -(-W.shape[0] // _PAD) * _PAD
        padded_W = W.new_zeros((width, W.shape[1]))
        padded_b = b.new_full((width,), float("-inf"))
        self.layers = [*layers[:-1], (padded_W, padded_b)]
        self.q = q
        self.begin_epoch()

    def set_lr(self, lr: float) -> None:
        """Train the next steps at rate ``lr`` (a schedule's)."""
        self.lr = lr
        self.decay = 1 - lr * self.weight_decay  # (1 - lr wd) W: SGD's weight decay

    def begin_epoch(self) -> None:
        """Copy the model's output layer into the padded working copy."""
        (W, b), (padded_W, padded_b) = self.output, self.layers[-1]
        with torch.no_grad():
            padded_W[: self.q].copy_(W)
            padded_b[: self.q].copy_(b)

    def end_epoch(self) -> None:
        """Copy the trained output layer back into the model."""
        (W, b), (padded_W, padded_b) = self.output, self.layers[-1]
        with torch.no_grad():
            W.copy_(padded_W[: self.q])
            b.copy_(padded_b[: self.q])

    @torch.no_grad()
    def train(self, X: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> None:
        """Train on the batch ``(X, y)``; write its logits ``O`` to ``out``."""
        n = X.shape[0]
        Z, inputs, hidden = _forward(self.layers, X, self.activation, self.low)
        out.copy_(Z[:, : self.q])
        # the padding's probabilities and gradients are exactly 0
        G = cross_entropy_grad(Z, y, smoothing=self.smoothing, num_classes=self.q,
                               softmax=torch.softmax)
        alpha = -self.lr / n
        for i in range(len(self.layers) - 1, -1, -1):
            W, b = self.layers[i]
            G_below = self._below(G, W, hidden, inputs, i)
            if self.low is None:
                W.addmm_(G.T, inputs[i], beta=self.decay, alpha=alpha)
            else:
                W.mul_(self.decay).add_(_mm(G.T, inputs[i], self.low), alpha=alpha)
            b.add_(G.sum(dim=0), alpha=alpha)
            G = G_below

    def _below(self, G, W, hidden, inputs, i):
        """``G_(l-1) = (G_l W_l) ⊙ φ'(Z_(l-1))`` (None below the first layer)."""
        if not i:
            return None
        return _mm(G, W, self.low).mul_(self.derivative(hidden[i - 1], inputs[i]))


def _mm(a: torch.Tensor, b: torch.Tensor, low: torch.dtype | None) -> torch.Tensor:
    """``a @ b``; with ``low`` (bfloat16) the product is taken in that precision and returned
    as float32 (the operands keep their float32 copies: mixed precision)."""
    if low is None:
        return a @ b
    return (a.to(low) @ b.to(low)).float()


def _forward(layers, X: torch.Tensor, activation, low):
    """The logits ``Z_L`` of a stack of linear layers; the input ``H_(l-1)`` of each layer and
    ``Z_l`` of each hidden layer (for the backward pass)."""
    n = X.shape[0]
    H, Z = X.reshape(n, -1), None
    inputs, hidden = [], []
    for W, b in layers:
        if Z is not None:
            hidden.append(Z)
            H = activation(Z)
        inputs.append(H)
        Z = torch.addmm(b, H, W.T) if low is None else _mm(H, W.T, low).add_(b)
    return Z, inputs, hidden


class FusedGradientStep(GatheringStep):
    """Closed-form gradients, then the model's own optimiser (momentum, Adam).

    The forward pass and ``G_l`` are the fused step's; each parameter's
    ``.grad`` is set to its gradient of the batch's mean loss and
    ``setup.optimizer.step()`` updates it, so the moments live in the
    optimiser and a checkpoint saves them as with autograd.
    """

    name = "fused"

    def __init__(self, setup: ModelSetup, *, precision: str = "float32") -> None:
        layers = _check_fusable(setup)
        cfg = setup.config
        self.setup = setup
        self.smoothing = cfg.label_smoothing
        self.activation = _ACTIVATIONS[cfg.activation]
        self.derivative = ACTIVATION_GRADIENTS[cfg.activation][1]
        self.weights = [weight_bias(m) for m in layers]
        self.set_grads = [_grad_setter(m) for m in layers]
        self.low = _low_precision(precision)

    @torch.no_grad()
    def train(self, X: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> None:
        """Train on the batch ``(X, y)``; write its logits ``O`` to ``out``."""
        n = X.shape[0]
        Z, inputs, hidden = _forward(self.weights, X, self.activation, self.low)
        out.copy_(Z)
        G = cross_entropy_grad(Z, y, smoothing=self.smoothing, softmax=torch.softmax)
        for i in range(len(self.weights) - 1, -1, -1):
            G_below = self._below(G, self.weights[i][0], hidden, inputs, i)
            self.set_grads[i](_mm(G.T, inputs[i], self.low).div_(n), G.sum(dim=0).div_(n))
            G = G_below
        self.setup.optimizer.step()

    _below = FusedStep._below


def _grad_setter(layer: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """A function setting the layer's gradients from (dL/dW in the (out, in) layout, dL/db)."""
    if isinstance(layer, ScratchLinear):
        def set_grads(gW: torch.Tensor, gb: torch.Tensor) -> None:
            layer.W.grad, layer.b.grad = gW.T, gb  # the scratch W is (in, out), column-major
    else:
        def set_grads(gW: torch.Tensor, gb: torch.Tensor) -> None:
            layer.weight.grad, layer.bias.grad = gW, gb
    return set_grads


def weight_bias(layer: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(W in torch's (out, in) layout, b) as views sharing the parameters' memory."""
    if isinstance(layer, ScratchLinear):
        return layer.W.T, layer.b  # the scratch layer stores (in, out)
    return layer.weight, layer.bias
