"""The current edition's ``Trainer`` and its from-scratch ``SGD``.

``Trainer(max_epochs).fit(model, data)`` asks ``data`` (a
:class:`~shallownet.d2l.datamodule.DataModule`) for its loaders and
``model`` (a :class:`~shallownet.d2l.module.Module`) for its optimiser, then
for each epoch runs ``model.training_step`` on every training batch
(zero the gradients, backpropagate, clip, step) and
``model.validation_step`` on every validation batch, without gradients.

Beyond the book: one line per epoch is printed with the mean of each curve's
new points on the model's board (``epoch 3/10  train loss 0.5123  val loss
0.5301  val acc 0.812  (1.1 s)``), a loss that becomes nan or inf stops
training with :class:`~shallownet.errors.TrainingDiverged`, and the board is
drawn once more when ``fit`` ends so that the figure shows every point.
On the CPU, torch gets the cores other processes leave free, looked at
again during the epoch (:mod:`shallownet.threads`), so that a busy machine
does not slow training several times over.
"""

from __future__ import annotations

import math
import time

import torch

from shallownet.d2l.devices import gpu
from shallownet.d2l.devices import num_gpus as _available_gpus
from shallownet.d2l.hyperparameters import HyperParameters
from shallownet.errors import Hint, TrainingDiverged, UsageError
from shallownet.runtime import mps_available
from shallownet.threads import adapting, keep_up
from shallownet.training.printing import format_epoch

__all__ = ["Trainer", "SGD"]


def _count(value, name: str, *, least: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        kind = "a positive" if least > 0 else "a non-negative"
        raise UsageError(f"{name} must be {kind} integer, not {value!r}.")
    return value


class Trainer(HyperParameters):
    """Train a ``Module`` on a ``DataModule`` for ``max_epochs`` epochs.

    ``num_gpus`` GPUs are asked for (the first is used; on a Mac without CUDA,
    ``num_gpus >= 1`` takes Apple's ``mps``); fewer are used when fewer exist,
    none on a CPU-only machine. ``gradient_clip_val > 0`` rescales the
    gradients whenever their joint L2 norm exceeds it (:meth:`clip_gradients`).
    """

    def __init__(self, max_epochs, num_gpus=0, gradient_clip_val=0):
        self.save_hyperparameters()
        _count(max_epochs, "max_epochs", least=0)
        _count(num_gpus, "num_gpus", least=0)
        self.gpus = [gpu(i) for i in range(min(num_gpus, _available_gpus()))]
        if num_gpus and not self.gpus and mps_available():
            self.gpus = [torch.device("mps")]

    def prepare_data(self, data):
        """Take the loaders from ``data`` and count their batches."""
        self.train_dataloader = data.train_dataloader()
        self.val_dataloader = data.val_dataloader()
        self.num_train_batches = len(self.train_dataloader)
        self.num_val_batches = (len(self.val_dataloader)
                                if self.val_dataloader is not None else 0)
        if self.num_train_batches == 0:
            raise UsageError(f"{type(data).__name__}'s training loader has no batches: "
                             "it needs at least one example.")

    def prepare_model(self, model):
        """Link ``model`` and this trainer, set the board's x range, move it to the GPU if any."""
        model.trainer = self
        model.board.xlim = [0, self.max_epochs]
        if self.gpus:
            model.to(self.gpus[0])
        self.model = model

    def fit(self, model, data):
        """Train ``model`` on ``data`` for ``max_epochs`` epochs (see the module)."""
        self.prepare_data(data)
        self.prepare_model(model)
        self.optim = model.configure_optimizers()
        self.epoch = 0
        self.train_batch_idx = 0
        self.val_batch_idx = 0
        try:
            with adapting():  # the thread count follows the load (shallownet.threads)
                for self.epoch in range(self.max_epochs):  # noqa: B020 (the book's loop)
                    before = {label: len(line) for label, line in model.board.data.items()}
                    start = time.perf_counter()
                    self.fit_epoch()
                    self._report(before, time.perf_counter() - start)
        finally:
            model.board.flush()

    def prepare_batch(self, batch):
        """``batch`` on the trainer's GPU when it has one, else as it is."""
        if self.gpus:
            batch = [a.to(self.gpus[0]) for a in batch]
        return batch

    def fit_epoch(self):
        """One pass over the training batches (with updates), then over the validation ones.

        Inside :meth:`fit`, ``keep_up`` lets the thread count follow the machine's load."""
        self.model.train()
        for batch in self.train_dataloader:
            keep_up()
            loss = self.model.training_step(self.prepare_batch(batch))
            self.optim.zero_grad()
            # As in the book, the update runs without autograd, so an optimiser written from
            # scratch may change its parameters in place.
            with torch.no_grad():
                loss.backward()
                if self.gradient_clip_val > 0:
                    self.clip_gradients(self.gradient_clip_val, self.model)
                self.optim.step()
            self.train_batch_idx += 1
        if self.val_dataloader is None:
            return
        self.model.eval()
        for batch in self.val_dataloader:
            keep_up()
            with torch.no_grad():
                self.model.validation_step(self.prepare_batch(batch))
            self.val_batch_idx += 1

    def clip_gradients(self, grad_clip_val, model):
        """Scale every gradient by ``grad_clip_val / ||g||`` when ``||g|| > grad_clip_val``.

        ``||g||`` is the L2 norm of all gradients of ``model`` together.
        Parameters without a gradient are left out.
        """
        grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
        if not grads:
            return
        norm = torch.sqrt(sum(torch.sum(g ** 2) for g in grads))
        if norm > grad_clip_val:
            torch._foreach_mul_(grads, grad_clip_val / norm)

    def _report(self, before: dict, seconds: float) -> None:
        """Print the epoch's line: the mean of each curve's points added in this epoch."""
        record = {"epoch": self.epoch + 1}
        for label, line in self.model.board.data.items():
            new = line[before.get(label, 0):]
            if new:
                record[label] = sum(p.y for p in new) / len(new)
        record["seconds"] = seconds
        print(format_epoch(record, self.max_epochs), flush=True)
        losses = {k: v for k, v in record.items() if k.endswith("loss")}
        bad = next(((k, v) for k, v in losses.items() if not math.isfinite(v)), None)
        if bad is not None:
            lr = getattr(self.model, "lr", None)
            raise TrainingDiverged(
                f"{bad[0].replace('_', ' ')} became {bad[1]} in epoch {self.epoch + 1}: "
                "training diverged. Lower the learning rate"
                + (f" (lr={lr:g})" if isinstance(lr, (int, float)) else "") + ".",
                epoch=self.epoch + 1, step=self.train_batch_idx,
                hints=[Hint("lr", lr / 10)] if isinstance(lr, (int, float)) else ())


class SGD(HyperParameters):
    """Minibatch stochastic gradient descent from scratch: ``p <- p - lr * p.grad``.

    The gradient is of a loss that is already the batch mean, so no division
    by the batch size here (unlike ``d2l.sgd``).
    """

    def __init__(self, params, lr):
        self.save_hyperparameters()
        self.params = list(params)  # a generator such as model.parameters() is read once

    def step(self):
        """Update each parameter in place."""
        with torch.no_grad():
            for param in self.params:
                param -= self.lr * param.grad

    def zero_grad(self):
        """Set each parameter's gradient to zero."""
        for param in self.params:
            if param.grad is not None:
                param.grad.zero_()
