"""Backpropagation by hand: gradients from the chain rule, no autograd.

Each function runs the forward pass, stores the gradient of the *mean*
loss over the batch in every parameter's ``.grad`` (adding to what is
there, as autograd does) and returns the per-example losses and the
outputs, so it can replace ``loss.mean().backward()`` in a training step.

The one identity that does most of the work: for softmax followed by
cross-entropy, ``∂l/∂o = softmax(o) - onehot(y)``
(:func:`shallownet.scratch.losses.cross_entropy_grad`).
"""

from __future__ import annotations

import torch

from shallownet.errors import UsageError
from shallownet.scratch.activations import relu, sigmoid, tanh
from shallownet.scratch.layers import Linear
from shallownet.scratch.losses import cross_entropy, cross_entropy_grad, squared_loss

__all__ = [
    "linear_regression_backward",
    "softmax_regression_backward",
    "mlp_backward",
    "ACTIVATION_GRADIENTS",
]


def _relu_grad(Z: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    """``relu'(z) = 1 if z > 0 else 0``."""
    return (Z > 0).to(Z.dtype)


def _sigmoid_grad(Z: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    """``sigmoid'(z) = s (1 - s)`` with ``s = sigmoid(z)``."""
    return H * (1 - H)


def _tanh_grad(Z: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    """``tanh'(z) = 1 - tanh(z)²``."""
    return 1 - H * H


#: name -> (activation, its derivative given (pre-activation Z, activation H)).
ACTIVATION_GRADIENTS = {
    "relu": (relu, _relu_grad),
    "sigmoid": (sigmoid, _sigmoid_grad),
    "tanh": (tanh, _tanh_grad),
}


def _accumulate(param: torch.Tensor, grad: torch.Tensor) -> None:
    param.grad = grad if param.grad is None else param.grad + grad


def linear_regression_backward(X: torch.Tensor, y: torch.Tensor, layer: Linear):
    """Squared loss of ``ŷ = X w + b``; with ``r = ŷ - y`` and n examples::

        ∂L/∂w = Xᵀ r / n        ∂L/∂b = sum(r) / n        (L = mean of ½ r²)

    Returns (per-example losses (n, 1), ŷ (n, 1)).
    """
    with torch.no_grad():
        y_hat = X @ layer.W + layer.b
        r = y_hat - y.reshape(y_hat.shape).to(y_hat.dtype)  # ∂l/∂ŷ for each example
        n = X.shape[0]
        _accumulate(layer.W, X.T @ r / n)
        _accumulate(layer.b, r.sum(dim=0) / n)
        return squared_loss(y_hat, y), y_hat


def _softmax_grad(O: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``∂L/∂O = (softmax(O) - onehot(y)) / n`` for the mean cross-entropy L of n rows."""
    return cross_entropy_grad(O, y) / O.shape[0]


def softmax_regression_backward(X: torch.Tensor, y: torch.Tensor, layer: Linear):
    """Cross-entropy of ``O = X W + b``, with ``G = (softmax(O) - onehot(y)) / n``::

        ∂L/∂W = Xᵀ G            ∂L/∂b = column sums of G

    Returns (per-example losses (n,), logits O (n, q)).
    """
    with torch.no_grad():
        O = X @ layer.W + layer.b
        G = _softmax_grad(O, y)
        _accumulate(layer.W, X.T @ G)
        _accumulate(layer.b, G.sum(dim=0))
        return cross_entropy(O, y), O


def mlp_backward(
    X: torch.Tensor,
    y: torch.Tensor,
    hidden: Linear,
    output: Linear,
    activation: str = "relu",
):
    """One hidden layer, ``H = φ(X W1 + b1)``, ``O = H W2 + b2``, cross-entropy loss::

        G2 = (softmax(O) - onehot(y)) / n              ∂L/∂O
        ∂L/∂W2 = Hᵀ G2        ∂L/∂b2 = column sums of G2
        G1 = (G2 W2ᵀ) ⊙ φ'(Z)                          ∂L/∂Z, Z = X W1 + b1
        ∂L/∂W1 = Xᵀ G1        ∂L/∂b1 = column sums of G1

    Returns (per-example losses (n,), logits O (n, q)).
    """
    if activation not in ACTIVATION_GRADIENTS:
        raise UsageError(
            f"no hand-written gradient for activation {activation!r}; "
            f"choose one of {', '.join(ACTIVATION_GRADIENTS)}."
        )
    phi, phi_grad = ACTIVATION_GRADIENTS[activation]
    with torch.no_grad():
        Z = X @ hidden.W + hidden.b
        H = phi(Z)
        O = H @ output.W + output.b
        G2 = _softmax_grad(O, y)
        G1 = (G2 @ output.W.T) * phi_grad(Z, H)
        _accumulate(output.W, H.T @ G2)
        _accumulate(output.b, G2.sum(dim=0))
        _accumulate(hidden.W, X.T @ G1)
        _accumulate(hidden.b, G1.sum(dim=0))
        return cross_entropy(O, y), O
