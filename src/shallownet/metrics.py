"""Figures of a trained model: accuracy, confusion matrix, per-class accuracy, a timer.

Counting functions return 0-dim tensors on the data's device, so a training
loop can add them up without waiting for the device after every batch; call
``float()`` once at the end.
"""

from __future__ import annotations

import time

import torch

from shallownet.errors import UsageError

__all__ = [
    "count_correct",
    "accuracy",
    "confusion_matrix",
    "per_class_accuracy",
    "log_rmse",
    "METRICS",
    "Timer",
]

#: Extra per-epoch figures a regression run can report (``--metric``): the log-RMSE of the
#: book's house-price experiment.
METRICS = ("log-rmse",)


def _labels(y_hat: torch.Tensor) -> torch.Tensor:
    """Predicted classes: ``argmax`` over the last axis of scores, or the labels themselves."""
    if y_hat.ndim > 1 and y_hat.shape[1] > 1:
        return y_hat.argmax(dim=1)
    return y_hat.reshape(-1)


def count_correct(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Number of examples with ``argmax(y_hat_i) == y_i``, as a 0-dim int64 tensor.

    ``y_hat`` is (n, q) scores (logits, probabilities or log-probabilities)
    or (n,) predicted labels; ``y`` is (n,) true labels.
    """
    predicted = _labels(y_hat)
    y = y.reshape(-1)
    if predicted.shape != y.shape:
        raise UsageError(
            f"{len(predicted)} predictions but {len(y)} labels: they must match one to one."
        )
    return (predicted == y.to(predicted.dtype)).sum()


def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of correct predictions, ``(1/n) Σ 1[argmax(y_hat_i) = y_i]``."""
    n = y.numel()
    if n == 0:
        raise UsageError("accuracy of zero examples is undefined.")
    return float(count_correct(y_hat, y)) / n


def confusion_matrix(
    predicted: torch.Tensor, target: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """``C[i, j]`` = examples of true class ``i`` predicted as class ``j`` (int64, (k, k)).

    Computed with one ``bincount`` of ``i * k + j``.
    """
    k = int(num_classes)
    if k < 1:
        raise UsageError(f"num_classes must be positive, not {num_classes}.")
    predicted, target = predicted.reshape(-1).long(), target.reshape(-1).long()
    if predicted.shape != target.shape:
        raise UsageError(
            f"{len(predicted)} predictions but {len(target)} labels: they must match one to one."
        )
    for name, t in (("predicted", predicted), ("target", target)):
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= k):
            bad = int(t.min()) if int(t.min()) < 0 else int(t.max())
            raise UsageError(f"{name} class {bad} is outside 0..{k - 1}.")
    counts = torch.bincount(target * k + predicted, minlength=k * k)
    return counts.reshape(k, k).cpu()


def per_class_accuracy(matrix: torch.Tensor) -> torch.Tensor:
    """Recall of each class, ``C[i, i] / Σ_j C[i, j]`` (nan for a class with no examples)."""
    matrix = torch.as_tensor(matrix)
    totals = matrix.sum(dim=1).to(torch.float64)
    correct = matrix.diagonal().to(torch.float64)
    return torch.where(totals > 0, correct / totals.clamp(min=1), torch.nan)


def log_rmse(y_hat: torch.Tensor, y: torch.Tensor, *, log_space: bool = False) -> float:
    """The house-price experiment's error, ``sqrt(mean((log(clamp(ŷ, 1, inf)) − log y)²))``.

    ``y_hat`` and ``y`` are (n,) or (n, 1) predictions and targets in their own
    units (``y`` positive); with ``log_space=True`` both are already logs (a
    model trained on ``log(y)``): then ``log(clamp(ŷ, 1))`` is ``max(log ŷ, 0)``.
    Computed in float64.
    """
    y_hat = y_hat.detach().reshape(-1).double()
    y = y.detach().reshape(-1).to(y_hat.device).double()
    if y_hat.shape != y.shape:
        raise UsageError(
            f"{len(y_hat)} predictions but {len(y)} targets: they must match one to one."
        )
    if len(y) == 0:
        raise UsageError("log-RMSE of zero examples is undefined.")
    if log_space:
        predicted, actual = y_hat.clamp(min=0.0), y
    else:
        if bool((y <= 0).any()):
            raise UsageError("log-RMSE needs positive targets (it takes log y); this data has "
                             "targets of 0 or less.")
        predicted, actual = y_hat.clamp(min=1.0).log(), y.log()
    return float(((predicted - actual) ** 2).mean().sqrt())


class Timer:
    """Wall-clock stopwatch: ``start()``, ``stop()`` (returns and records the lap), ``sum()``.

    >>> t = Timer(); _ = t.stop(); len(t.times)
    1
    """

    def __init__(self) -> None:
        self.times: list[float] = []
        self.start()

    def start(self) -> None:
        """Start a lap."""
        self._begin = time.perf_counter()

    def stop(self) -> float:
        """End the lap; return its seconds."""
        self.times.append(time.perf_counter() - self._begin)
        return self.times[-1]

    def avg(self) -> float:
        """Mean lap time."""
        return sum(self.times) / len(self.times) if self.times else 0.0

    def sum(self) -> float:
        """Total of the laps."""
        return sum(self.times)

    def cumsum(self) -> list[float]:
        """Running totals of the laps."""
        out, total = [], 0.0
        for t in self.times:
            total += t
            out.append(total)
        return out
