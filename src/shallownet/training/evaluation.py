"""Evaluation and prediction: plain functions of a model setup and data, in eval mode.

The loss is summed over all examples and divided by their number (an exact
average, not an average of batch averages); accuracy is a count of correct
predictions over the same number. Nothing here computes gradients.
"""

from __future__ import annotations

import torch

from shallownet.errors import UsageError
from shallownet.metrics import confusion_matrix
from shallownet.registry import ModelSetup
from shallownet.scratch.layers import Linear as ScratchLinear

__all__ = ["predict", "evaluate", "estimated_w_b", "parameter_errors", "EVAL_BATCH_SIZE"]

#: examples per forward pass when evaluating or predicting
EVAL_BATCH_SIZE = 4096


def _device_of(setup: ModelSetup) -> torch.device:
    """Where the model's parameters are (the CPU for a model without any)."""
    return next((p.device for p in setup.model.parameters()), torch.device("cpu"))


def predict(setup: ModelSetup, X: torch.Tensor, *, batch_size: int = EVAL_BATCH_SIZE,
            device: torch.device | str | None = None) -> torch.Tensor:
    """The model's outputs for ``X``: logits (n, q), or values (n, 1) for regression.

    Runs in eval mode (dropout off; the model's mode is restored afterwards)
    under ``torch.inference_mode``, ``batch_size`` examples at a time, on
    ``device`` (default: where the model is).
    """
    model = setup.model
    device = _device_of(setup) if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            parts = [model(X[i : i + batch_size].to(device))
                     for i in range(0, len(X), batch_size)]
    finally:
        model.train(was_training)
    if not parts:
        raise UsageError("nothing to predict: X has no examples.")
    return torch.cat(parts)


def evaluate(setup: ModelSetup, X: torch.Tensor, y: torch.Tensor, *, confusion: bool = False,
             sums: bool = False, batch_size: int = EVAL_BATCH_SIZE,
             device: torch.device | str | None = None) -> dict:
    """The figures of ``setup`` on ``(X, y)``.

    Returns ``loss`` = (1/n) Σ l_i, ``n`` and, for classifiers, ``acc`` = the
    share of correct predictions; ``confusion=True`` adds the classifier's
    ``confusion_matrix`` (from the same forward pass). With ``sums=True``
    ``loss`` is the sum Σ l_i and ``correct`` the count instead of the share
    (for adding up over the shards of a data-parallel run); an empty ``X`` then
    gives zeros.
    """
    classifier = setup.task != "regression"
    if sums and len(y) == 0:
        part = {"loss": 0.0, "n": 0}
        if classifier:
            part["correct"] = 0
            if confusion:
                part["confusion_matrix"] = torch.zeros(
                    (setup.num_outputs, setup.num_outputs), dtype=torch.int64)
        return part
    outputs = predict(setup, X, batch_size=batch_size, device=device)
    y = y.to(outputs.device)
    with torch.inference_mode():
        loss = float(setup.loss(outputs, y).sum(dtype=torch.float64))
    n = len(y)
    result = {"loss": loss if sums else loss / n, "n": n}
    if classifier:
        labels = setup.predict_labels(outputs)
        correct = int((labels == y).sum())
        result["correct" if sums else "acc"] = correct if sums else correct / n
        if confusion:
            result["confusion_matrix"] = confusion_matrix(labels.cpu(), y.cpu(),
                                                          setup.num_outputs)
    return result


def estimated_w_b(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """The weights (d,) and bias (1,) of a model's (first) linear layer, in either tier."""
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            return module.weight.detach().reshape(-1), module.bias.detach().reshape(-1)
        if isinstance(module, ScratchLinear):
            return module.W.detach().reshape(-1), module.b.detach().reshape(-1)
    raise UsageError(f"{type(model).__name__} has no linear layer to read w and b from.")


def parameter_errors(setup: ModelSetup, true_w: torch.Tensor, true_b: float) -> dict:
    """``w_error`` = ‖ŵ − w‖₂ and ``b_error`` = |b̂ − b|, against the data's true w and b."""
    w, b = estimated_w_b(setup.model)
    true_w = true_w.to(w.device, w.dtype)
    return {
        "w_error": float(torch.linalg.vector_norm(w - true_w)),
        "b_error": abs(float(b[0]) - true_b),
    }
