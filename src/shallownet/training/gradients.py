"""Watching gradients while training: each layer's gradient and weight norms, every epoch.

At the start (epoch 0: the initialisation) and after every epoch, the
gradient of the mean loss on a fixed probe batch (the first
:data:`PROBE_EXAMPLES` training examples, dropout off) is computed for every
dense and convolution layer's weight ``W`` (biases aside):

- ``grad_norm/layerK``  = ‖∂L/∂W_K‖₂ (Frobenius norm) of layer K, counted from
  the input;
- ``weight_norm/layerK`` = ‖W_K‖₂.

The epoch's record gets both (so ``metrics.csv``, TensorBoard and visdom show
them); ``gradients.csv`` in the run directory keeps every epoch from 0 in long
form, and ``gradients.png`` draws them. A layer's gradients have

- **vanished** when ‖∂L/∂W‖ < :data:`VANISHED` · ‖W‖ (10⁻⁶): a step of any
  sensible learning rate changes the layer by less than a millionth, so it
  does not learn;
- **exploded** when ‖∂L/∂W‖ is not finite, or, after the first epoch, above
  :data:`EXPLODED` · ‖W‖ (10²): one step would move the layer far beyond its
  own size. (At initialisation the ratio is not used: small starting weights,
  such as the book's N(0, 0.01²), are small beside any useful gradient.)

Either is reported once per layer, as a :class:`GradientWarning` naming the
layer, its shape, the epoch and the ratio, with what to change.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from pathlib import Path

import torch

from shallownet.atomic import write_text
from shallownet.errors import Hint, HintedWarning
from shallownet.init import weight_layers, weight_of
from shallownet.training.callbacks import Callback

__all__ = ["GradientWatch", "GradientWarning", "layer_norms", "layer_gradients", "PROBE_EXAMPLES",
           "VANISHED", "EXPLODED", "read_gradients"]

#: Examples in the probe batch the gradients are measured on.
PROBE_EXAMPLES = 1024
#: ‖∂L/∂W‖ / ‖W‖ below this: the layer's gradients have vanished.
VANISHED = 1e-6
#: ‖∂L/∂W‖ / ‖W‖ above this (or not finite): they have exploded.
EXPLODED = 1e2
COLUMNS = ("epoch", "layer", "shape", "grad_norm", "weight_norm")


class GradientWarning(HintedWarning):
    """A layer's gradients vanished or exploded (see :mod:`shallownet.training.gradients`)."""


def layer_norms(setup, X: torch.Tensor, y: torch.Tensor) -> list[dict]:
    """Per weight layer, from the input: ``{"layer", "shape", "grad_norm", "weight_norm"}``,
    the gradient of ``setup``'s mean loss on ``(X, y)`` (eval mode, the mode restored)."""
    return [{k: v for k, v in row.items() if k not in ("grad", "weight")}
            for row in layer_gradients(setup, X, y)]


def layer_gradients(setup, X: torch.Tensor, y: torch.Tensor) -> list[dict]:
    """:func:`layer_norms`' rows with the tensors too: ``"weight"`` and ``"grad"``."""
    model = setup.model
    layers = [weight_of(layer) for layer in weight_layers(model)]
    weights = [weight for weight, _ in layers]
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            loss = setup.loss(model(X), y).mean()
            grads = torch.autograd.grad(loss, weights, allow_unused=True)
    finally:
        model.train(was_training)
    rows = []
    for k, ((weight, shape), grad) in enumerate(zip(layers, grads, strict=True), 1):
        grad = torch.zeros_like(weight) if grad is None else grad.detach()
        rows.append({"layer": f"layer{k}", "shape": "x".join(map(str, shape)),
                     "grad_norm": float(grad.norm()), "weight_norm": float(weight.detach().norm()),
                     "grad": grad, "weight": weight.detach()})
    return rows


class GradientWatch(Callback):
    """Record every layer's gradient and weight norms each epoch (and at epoch 0), write
    ``gradients.csv``/``gradients.png`` into ``run_dir`` (when given), and warn once per
    layer when its gradients vanish or explode. ``histograms``, a function of
    ``({name: tensor}, epoch)``, gets each layer's gradient and weights (TensorBoard).

    Place it before the callbacks that write the epoch's record (metrics, checkpoint):
    it adds ``grad_norm/layerK`` and ``weight_norm/layerK`` to ``history[-1]``.
    """

    def __init__(self, train_X: torch.Tensor, train_y: torch.Tensor, *,
                 run_dir=None, probe: int = PROBE_EXAMPLES, plots: bool = True,
                 histograms=None) -> None:
        self.X, self.y = train_X[:probe], train_y[:probe]
        self.run_dir, self.plots, self.histograms = run_dir, plots, histograms
        self.rows: list[dict] = []
        self.warned: set[tuple[str, str]] = set()

    @property
    def csv_path(self) -> Path | None:
        return None if self.run_dir is None else Path(self.run_dir.path) / "gradients.csv"

    def on_train_begin(self, trainer, setup, history: list[dict]) -> None:
        self.device = trainer.device
        if history and self.csv_path is not None and self.csv_path.exists():
            self.rows = [r for r in read_gradients(self.csv_path) if r["epoch"] <= len(history)]
        if not history:
            self.rows = []
            self._measure(setup, 0)
            self._write()

    def on_epoch_end(self, trainer, setup, history: list[dict]) -> None:
        epoch = history[-1]["epoch"]
        measured = self._measure(setup, epoch)
        for row in measured:
            history[-1][f"grad_norm/{row['layer']}"] = row["grad_norm"]
            history[-1][f"weight_norm/{row['layer']}"] = row["weight_norm"]
        self._write()

    def on_train_end(self, trainer, setup, history: list[dict]) -> None:
        if self.plots and self.run_dir is not None and self.rows:
            from shallownet.plots.gradients import plot_gradient_norms

            plot_gradient_norms(self.rows, Path(self.run_dir.path) / "gradients.png")

    def _measure(self, setup, epoch: int) -> list[dict]:
        X, y = self.X.to(self.device), self.y.to(self.device)
        rows = layer_gradients(setup, X, y)
        if self.histograms is not None:
            tensors = {f"{tag}/{row['layer']}": row[key] for row in rows
                       for tag, key in (("gradient", "grad"), ("weight", "weight"))}
            self.histograms(tensors, epoch)
        measured = [{"epoch": epoch, **{k: v for k, v in row.items() if k not in ("grad",
                                                                                   "weight")}}
                    for row in rows]
        self.rows = [r for r in self.rows if r["epoch"] != epoch] + measured
        self._check(measured)
        return measured

    def _check(self, rows: list[dict]) -> None:
        """One warning per kind for the layers that newly vanished or exploded."""
        found: dict[str, list[str]] = {"vanished": [], "exploded": []}
        for row in rows:
            grad, weight = row["grad_norm"], row["weight_norm"]
            ratio = grad / weight if weight > 0 else math.inf
            # at initialisation, small starting weights (the book's N(0, 0.01²)) make any
            # gradient large beside them: only a gradient that is not finite counts then
            exploded = not math.isfinite(grad) or (row["epoch"] > 0 and ratio > EXPLODED)
            kind = "exploded" if exploded else "vanished" if ratio < VANISHED else None
            if kind is not None and (row["layer"], kind) not in self.warned:
                self.warned.add((row["layer"], kind))
                found[kind].append(f"{row['layer']} ({row['shape']}) {ratio:.2g}")
        when = "at initialisation" if rows[0]["epoch"] == 0 else f"in epoch {rows[0]['epoch']}"
        for kind, layers in found.items():
            if not layers:
                continue
            relu, kaiming, xavier = (Hint("activation", "relu"), Hint("init", "kaiming"),
                                     Hint("init", "xavier"))
            bound, advice, hints = (
                (f"below {VANISHED:g}", f"so they hardly learn. With many layers, use {relu} "
                 f"with {kaiming} (or {xavier} for sigmoid and tanh) instead of small normal "
                 "weights", [relu, kaiming, xavier])
                if kind == "vanished" else
                (f"above {EXPLODED:g}", "so a step moves them far beyond their size. Lower "
                 f"the learning rate ({Hint('lr')}), or start from smaller weights ({xavier} "
                 f"or {kaiming})", [Hint("lr"), xavier, kaiming]))
            warnings.warn(GradientWarning(
                f"{when} the gradients of {len(layers)} layer{'s' * (len(layers) > 1)} "
                f"{'have' if len(layers) > 1 else 'has'} {kind} (‖∂L/∂W‖ / ‖W‖ {bound}): "
                f"{', '.join(layers)}; {advice}.", hints=hints), stacklevel=3)

    def _write(self) -> None:
        if self.csv_path is None:
            return
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: repr(v) if isinstance(v, float) else v
                             for k, v in row.items() if k in COLUMNS})
        write_text(self.csv_path, buffer.getvalue(), what="gradients file")


def read_gradients(path: str | Path) -> list[dict]:
    """The rows of a run's ``gradients.csv``: epoch (int), layer, shape, and the two norms."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{"epoch": int(r["epoch"]), "layer": r["layer"], "shape": r["shape"],
                 "grad_norm": float(r["grad_norm"]), "weight_norm": float(r["weight_norm"])}
                for r in csv.DictReader(f)]
