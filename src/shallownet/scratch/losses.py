"""Loss functions, written from their formulas.

As in the book, every loss returns one value per example (no reduction);
the caller sums or averages.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from shallownet.errors import UsageError
from shallownet.scratch.activations import _positive_part, log_softmax, softmax

__all__ = [
    "squared_loss",
    "l1_loss",
    "huber_loss",
    "cross_entropy",
    "cross_entropy_grad",
    "cross_entropy_from_probs",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_from_probs",
]


def squared_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``l = ½ (ŷ - y)²``, elementwise; ``y`` is reshaped to ``ŷ``'s shape.

    The ½ makes the gradient simply ``ŷ - y``. (torch's ``MSELoss`` has no ½.)
    """
    return (y_hat - _like(y, y_hat)) ** 2 / 2


def l1_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``l = |ŷ - y|``, elementwise."""
    return torch.abs(y_hat - _like(y, y_hat))


def huber_loss(y_hat: torch.Tensor, y: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    """Huber's robust loss, elementwise, with ``d = ŷ - y``::

        l = ½ d²                 if |d| <= delta
        l = delta (|d| - ½ delta)  otherwise

    Quadratic near zero, linear (so outliers pull with a bounded force) far
    out. With ``delta = 1`` it is the book's form ``|d| - ½`` beyond 1.
    """
    if not delta > 0:
        raise UsageError(f"huber_loss needs delta > 0, not {delta}.")
    d = y_hat - _like(y, y_hat)
    a = torch.abs(d)
    return torch.where(a <= delta, d**2 / 2, delta * (a - delta / 2))


def cross_entropy(logits: torch.Tensor, y: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """``l = -log softmax(o)_y = log sum_k exp(o_k) - o_y`` per example.

    With label smoothing ε the target is ``(1 - ε) onehot(y) + ε / q`` instead of
    ``onehot(y)``: ``l = -(1 - ε) log p_y - (ε / q) Σ_k log p_k``, which keeps
    the model from pushing its logits apart without end (as
    ``torch.nn.CrossEntropyLoss(label_smoothing=ε)``).

    Parameters
    ----------
    logits : Tensor of shape (n, q)
        Unnormalised scores ``o``; any finite values.
    y : Tensor of shape (n,), int64
        Class indices.
    smoothing : float, default 0
        ε in [0, 1).

    Returns
    -------
    Tensor of shape (n,)
    """
    _check_labels(logits, y)
    log_p = log_softmax(logits, dim=1)
    loss = -_pick(log_p, y)
    if smoothing:
        loss = (1 - smoothing) * loss - smoothing * log_p.mean(dim=1)
    return loss


def cross_entropy_grad(logits: torch.Tensor, y: torch.Tensor, *, smoothing: float = 0.0,
                       num_classes: int | None = None,
                       softmax: Callable[..., torch.Tensor] = softmax) -> torch.Tensor:
    """The gradient of each example's cross-entropy: ``∂l/∂o = softmax(o) - onehot(y)``.

    From ``l = log sum_k exp(o_k) - o_y``: ``∂l/∂o_j = exp(o_j) / sum_k exp(o_k) - [j = y]``;
    with label smoothing ε (see :func:`cross_entropy`) the one-hot target becomes
    ``(1 - ε) onehot(y) + ε / q``.
    Row i is the gradient of example i's loss alone; the gradient of the
    batch's mean loss is this divided by n. The hand-written backward passes
    (:mod:`shallownet.scratch.backprop`), the fused training step
    (:mod:`shallownet.training.fused`) and, through the tests, the compiled
    step all take their gradient from here. Logits of ``-inf`` (padding)
    get probability and gradient exactly 0.

    Parameters
    ----------
    logits : Tensor of shape (n, q)
    y : Tensor of shape (n,), int64
    smoothing : float, default 0
        Label smoothing ε.
    num_classes : int, optional
        q, when only the first q columns are classes (the others padding at ``-inf``).
    softmax : callable, default :func:`~shallownet.scratch.activations.softmax`
        How ``softmax(o, dim=1)`` is computed: the fused step passes
        ``torch.softmax``, the same formula in one kernel.

    Returns
    -------
    Tensor of shape (n, q)
    """
    _check_labels(logits, y)
    G = softmax(logits, dim=1)
    minus_one = G.new_full((1, 1), -(1.0 - smoothing)).expand(len(G), 1)
    G.scatter_add_(1, y.reshape(-1, 1).long(), minus_one)  # subtract the one-hot rows
    if smoothing:
        q = G.shape[1] if num_classes is None else num_classes
        G[:, :q] -= smoothing / q
    return G


def nll_loss(log_probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``l = -log p_y``, per example, given log-probabilities (n, q) and labels (n,)."""
    _check_labels(log_probs, y)
    return -_pick(log_probs, y)


def cross_entropy_from_probs(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The book's ``l = -log ŷ_y`` from probabilities ``ŷ`` (n, q) and labels (n,).

    Guarded against ``log 0``: see :func:`_safe_log`. Prefer
    :func:`cross_entropy` on logits, which needs no guard.
    """
    _check_labels(y_hat, y)
    return -_safe_log(_pick(y_hat, y))


def binary_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``l = -[y log σ(z) + (1 - y) log(1 - σ(z))]`` from logits ``z``, elementwise.

    Rewritten as ``max(z, 0) - z y + log(1 + exp(-|z|))``, which is the same
    number but never overflows. ``y`` (0/1, any dtype) is reshaped to ``z``'s shape.
    At ``z = 0`` both kinks take their right-hand slope, so the gradient is
    ``1 - y - ½ = σ(0) - y``, as it must be.
    """
    y = _like(y, logits)
    positive = torch.where(logits >= 0, logits, 0.0)  # max(z, 0), slope 1 at 0
    return positive - logits * y + torch.log1p(torch.exp(-_positive_part(logits)))


def binary_cross_entropy_from_probs(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``l = -[y log p + (1 - y) log(1 - p)]`` from probabilities ``p``, elementwise.

    Guarded against ``log 0`` like :func:`cross_entropy_from_probs`.
    """
    y = _like(y, p)
    return -(y * _safe_log(p) + (1 - y) * _safe_log(1 - p))


def _pick(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``scores[i, y_i]`` for every row i: the entry of each example's true class, shape (n,)."""
    return scores.gather(1, y.reshape(-1, 1).long()).reshape(-1)


def _safe_log(p: torch.Tensor) -> torch.Tensor:
    """``log max(p, floor)``: ``floor = max(e^-100, smallest normal float)``.

    So ``-log`` is at most 100 (torch's ``BCELoss`` clamps its logs at -100
    too; in float32 the floor is 1.2e-38 and the cap 87.3) and the gradient
    ``1/p`` stays finite; below the floor the loss is flat (gradient 0).
    """
    floor = max(math.exp(-100), torch.finfo(p.dtype).tiny)
    return torch.log(torch.clamp(p, min=floor))


def _like(y: torch.Tensor, y_hat: torch.Tensor) -> torch.Tensor:
    """``y`` as ``y_hat``'s dtype and shape (targets are often (n,) against outputs (n, 1))."""
    y = torch.as_tensor(y, device=y_hat.device).to(y_hat.dtype)
    if y.numel() != y_hat.numel():
        raise UsageError(
            f"targets of shape {tuple(y.shape)} do not match outputs of shape "
            f"{tuple(y_hat.shape)}: they need one target per output."
        )
    return y.reshape(y_hat.shape)


def _check_labels(scores: torch.Tensor, y: torch.Tensor) -> None:
    """Shapes (n, q) and (n,) and an integer dtype; the range is torch's to check (no sync)."""
    if scores.ndim != 2:
        raise UsageError(f"expected scores of shape (n, classes), got {tuple(scores.shape)}.")
    if y.numel() != scores.shape[0]:
        raise UsageError(
            f"{y.numel()} labels for {scores.shape[0]} rows of scores: need one label per row."
        )
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise UsageError(f"class labels must be integers (int64), not {y.dtype}.")
