"""Training steps: the one thing the epoch loop calls, and which one trains a run.

Every step implements :class:`Step`. The loop binds the training tensors once;
then, each epoch, it calls ``begin_epoch()``, the step once per batch of row
indices, and ``end_epoch()``. The steps:

``autograd``
    The model's own step (:meth:`shallownet.registry.ModelSetup.train_step`):
    forward, the loss, ``backward()`` (or, with ``backward="hand"``, the
    scratch tier's chain rule), and the optimiser's ``step()``. With
    ``impl="scratch"`` these are the scratch functions (``scratch.cross_entropy``,
    ``scratch.SGD``); with ``impl="concise"`` ``torch.nn`` and ``torch.optim``.
``fused``
    Softmax regression and MLPs trained with cross-entropy and plain SGD: the
    closed-form gradient, no autograd graph (:mod:`shallownet.training.fused`).
``kernel``
    Softmax regression: the same formulas in one compiled C++ function per
    batch (:mod:`shallownet.training.kernel`).

A data-parallel run (:mod:`shallownet.training.distributed`) trains through
the ``autograd`` step on each process's shard of every batch.
"""

from __future__ import annotations

import os
from typing import NamedTuple, Protocol, runtime_checkable

import torch

from shallownet.errors import Hint, UsageError
from shallownet.registry import (
    TIERS,
    ModelConfig,
    ModelSetup,
    why_no_compiled_step,
    why_no_fused_step,
)

__all__ = ["Step", "StepChoice", "GatheringStep", "AutogradStep", "STEPS", "AUTO_RULE",
           "choose_step", "make_step"]

#: What ``step=`` may name.
STEPS = ("auto", "autograd", "fused", "kernel")

#: What ``auto`` picks, in the words the README and ``--help`` share.
AUTO_RULE = ("auto picks the fastest step that gives the same figures: the compiled kernel "
             "step for softmax regression with plain SGD on the CPU where it is already built "
             "(scripts/setup.sh builds it, as does the first run that asks for it), else fused "
             "where the model has it (softmax regression and MLPs without dropout, trained "
             "with cross-entropy), else autograd")


@runtime_checkable
class Step(Protocol):
    """One minibatch update, and the epoch around it.

    Attributes
    ----------
    name : str
        ``autograd``, ``fused`` or ``kernel``.
    """

    name: str

    def bind(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """Train on rows of ``(X, y)`` from now on (the whole training set, on the device)."""

    def begin_epoch(self) -> None:
        """Before an epoch's first batch (e.g. copy weights into a working layout)."""

    def set_lr(self, lr: float) -> None:
        """Train the next batches at learning rate ``lr`` (a schedule's rate of the moment)."""

    def __call__(self, rows: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Train on the batch of bound rows ``rows`` (int64 indices).

        Writes the outputs (logits, or values for regression) of the rows this
        process trained into the first rows of ``out`` and returns those rows'
        indices: all of ``rows``, or this process's shard in a data-parallel run.
        """

    def end_epoch(self) -> None:
        """After an epoch's last batch (e.g. copy the trained weights back into the model)."""


class StepChoice(NamedTuple):
    """The step a run trains with, and why (the header's words)."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


def choose_step(cfg: ModelConfig, requested: str = "auto", *, device: torch.device | str = "cpu",
                world_size: int = 1, augment: bool = False,
                precision: str = "float32") -> StepChoice:
    """The step that trains ``cfg`` when ``requested`` (one of :data:`STEPS`) is asked for.

    ``auto`` follows :data:`AUTO_RULE`. A step named explicitly that cannot
    serve (``fused`` with Adam, ``kernel`` on an MLP or a GPU, anything but
    autograd in a data-parallel run) is a :class:`UsageError`: nothing falls
    back silently. Whether the compiled step builds on this machine is
    checked when it is made (:func:`make_step`). ``augment``: the batches are
    augmented (the compiled step reads rows as they are stored).
    """
    if requested not in STEPS:
        raise UsageError(f"unknown step {requested!r}; choose one of {', '.join(STEPS)}.")
    why_not = {"fused": why_no_fused_step(cfg), "kernel": _why_no_kernel(cfg, device)}
    if augment and why_not["kernel"] is None:
        why_not["kernel"] = "the compiled step reads the rows as stored, without augmentation"
    if precision != "float32" and why_not["kernel"] is None:
        why_not["kernel"] = "the compiled step computes in float32"
    if world_size > 1:
        if requested in why_not:
            hint = Hint("step", "autograd")
            raise UsageError(
                f"the {requested} step trains in one process; a data-parallel run trains "
                f"through autograd on each process's shard. Use {hint}, or one process.",
                hints=[hint])
        sync = ("averaged by DistributedDataParallel" if TIERS[cfg.impl].ddp
                else "summed with all_reduce")
        return StepChoice("autograd", f"data-parallel: gradients {sync}")
    if requested == "auto":
        if why_not["kernel"] is None and _kernel_is_built():
            return StepChoice("kernel", "auto: compiled C++ step for this CPU")
        if why_not["fused"] is None:
            return StepChoice("fused", "auto: " + _fused_words(cfg))
        return StepChoice("autograd", f"auto: {_autograd_words(cfg)}; no fused step: "
                                      f"{why_not['fused']}")
    if requested == "autograd":
        return StepChoice("autograd", _autograd_words(cfg))
    if why_not[requested] is not None:
        hint = Hint("step", "auto")
        raise UsageError(f"the {requested} step cannot train this model: {why_not[requested]}. "
                         f"Use {hint} or {Hint('step', 'autograd')}.",
                         hints=[hint, Hint("step", "autograd")])
    if requested == "fused":
        return StepChoice("fused", _fused_words(cfg))
    return StepChoice("kernel", "compiled C++ step for this CPU")


_OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "SGD with momentum", "adam": "Adam"}


def _fused_words(cfg: ModelConfig) -> str:
    """What the fused step runs for ``cfg``: in-place SGD, or the model's optimiser."""
    words = "closed-form gradient, no autograd"
    if cfg.optimizer == "sgd":
        return words
    whose = "torch.optim's" if TIERS[cfg.impl].ddp else "the scratch tier's"
    return f"{words}, then {whose} {_OPTIMIZER_NAMES.get(cfg.optimizer, cfg.optimizer)}"


def _autograd_words(cfg: ModelConfig) -> str:
    """What the autograd step runs for ``cfg``: whose loss and optimiser, which gradients."""
    backward = "the chain rule by hand" if cfg.backward == "hand" else "autograd"
    optimizer = _OPTIMIZER_NAMES.get(cfg.optimizer, cfg.optimizer)
    whose = ("torch.nn's {} loss and torch.optim's {}" if TIERS[cfg.impl].ddp
             else "the scratch tier's {} loss and {}")
    return f"{whose.format(cfg.loss, optimizer)}, gradients by {backward}"


#: set to 0 so that ``auto`` never takes the compiled step (the same step on every machine)
AUTO_KERNEL_ENV = "SHALLOWNET_AUTO_KERNEL"


def _kernel_is_built() -> bool:
    from shallownet.training.kernel import kernel_is_built

    return os.environ.get(AUTO_KERNEL_ENV, "1") != "0" and kernel_is_built()


def _why_no_kernel(cfg: ModelConfig, device) -> str | None:
    reason = why_no_compiled_step(cfg)
    if reason is None and torch.device(device).type != "cpu":
        reason = f"the compiled step runs on the CPU, not {torch.device(device).type}"
    return reason


def make_step(choice: StepChoice | str, setup: ModelSetup, *, group=None,
              precision: str = "float32") -> Step:
    """The :class:`Step` object of ``choice`` for ``setup`` (in ``group``'s run, if any);
    ``precision="bfloat16"`` takes its matrix products in bfloat16 (mixed precision)."""
    name = choice.name if isinstance(choice, StepChoice) else choice
    if group is not None and group.world_size > 1:
        from shallownet.training.distributed import DistributedStep

        return DistributedStep(setup, group)
    if name == "fused":
        from shallownet.training.fused import fused_step

        return fused_step(setup, precision=precision)
    if name == "kernel":
        from shallownet.training.kernel import KernelStep

        return KernelStep(setup)
    return AutogradStep(setup, precision=precision)


class GatheringStep:
    """Base of the steps that train on gathered batches: ``train(X, y, out)`` does the work.

    ``__call__(rows, out)`` gathers the rows ``rows`` of the bound tensors with
    one ``index_select`` each and hands them to :meth:`train`.
    """

    name = "?"

    augment = None  # a batch transform of X (data augmentation), set by the trainer

    def bind(self, X: torch.Tensor, y: torch.Tensor) -> None:
        self._X, self._y = X, y

    def set_lr(self, lr: float) -> None:
        """Set the rate of the optimiser's parameter groups."""
        for group in self.setup.optimizer.param_groups:
            group["lr"] = lr

    def begin_epoch(self) -> None:
        """Nothing to do: the step works on the model's own parameters."""

    def end_epoch(self) -> None:
        """Nothing to do: the step works on the model's own parameters."""

    def __call__(self, rows: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        X, y = self._X.index_select(0, rows), self._y.index_select(0, rows)
        if self.augment is not None:
            X = self.augment(X)
        self.train(X, y, out[: len(rows)])
        return rows

    def train(self, X: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> None:
        raise NotImplementedError


class AutogradStep(GatheringStep):
    """The model's own step: ``setup.train_step`` (zero_grad, forward, backward, step)."""

    name = "autograd"

    def __init__(self, setup: ModelSetup, *, precision: str = "float32") -> None:
        self.setup = setup
        self.low = None if precision == "float32" else torch.bfloat16

    def train(self, X: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> None:
        if self.low is None:
            out.copy_(self.setup.train_step(X, y)[1])
            return
        with torch.autocast(X.device.type, dtype=self.low):  # products in bfloat16
            out.copy_(self.setup.train_step(X, y)[1])
