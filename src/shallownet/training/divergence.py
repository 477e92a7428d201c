"""Training that stops being finite, or is about to: the error that says why, and the watch.

The epoch loop checks every ``check_every`` steps that the loss is finite and
raises :func:`diverged` at the first step that is not. After each epoch the
:class:`DivergenceWatch` callback checks the weights and the held-out loss
(the epoch's last update may have blown them up after its loss was computed)
and warns when the loss grew a hundredfold within the epoch.
"""

from __future__ import annotations

import math
import warnings

import torch

from shallownet.errors import Hint, TrainingDiverged
from shallownet.registry import ModelSetup
from shallownet.training.callbacks import Callback

__all__ = ["DivergenceWatch", "diverged", "GROWTH_WARNING"]

#: the growth of the mean loss from an epoch's first batch to its last that gets a warning
GROWTH_WARNING = 100


def diverged(setup: ModelSetup, epoch: int, step: int, steps: int, what: str) -> TrainingDiverged:
    """The error for a run that stopped being finite at ``step`` of ``epoch``: what, and why."""
    lr = setup.config.lr
    hint = Hint("lr", lr / 10)
    return TrainingDiverged(
        f"training diverged at epoch {epoch}, step {step} of {steps}: {what}. The likely cause "
        f"is a learning rate too large for this model (lr = {lr:g}); try a smaller one, e.g. "
        f"{hint}" + (" (or standardised features)." if setup.task != "classification" else "."),
        epoch=epoch, step=step, hints=[hint],
    )


class DivergenceWatch(Callback):
    """After each epoch: stop when the weights or the held-out loss are not finite; warn when
    the mean loss of the epoch's last batch is :data:`GROWTH_WARNING` times its first's."""

    def on_epoch_end(self, trainer, setup: ModelSetup, history: list[dict]) -> None:
        record = history[-1]
        held_out = record[f"{trainer.eval_name}_loss"]
        finite = math.isfinite(held_out) and all(
            bool(torch.isfinite(p).all()) for p in setup.model.parameters())
        stats = trainer.epoch_stats
        if not finite:
            raise diverged(setup, record["epoch"], stats["steps"], stats["steps"],
                           "after the last update the weights or the held-out loss are no "
                           "longer finite")
        first, last = stats.get("first_batch_loss"), stats.get("last_batch_loss")
        if first is not None and last is not None and last > GROWTH_WARNING * max(first, 1e-3):
            warnings.warn(
                f"the training loss grew from {first:.3g} to {last:.3g} during epoch "
                f"{record['epoch']}; the learning rate ({setup.config.lr:g}) is probably too "
                "large.", stacklevel=2,
            )
