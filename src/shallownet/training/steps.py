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
AUTO_RULE = ("auto picks the fastest step that gives the same figures: fused where the model "
             "has it (softmax regression and MLPs without dropout, cross-entropy, plain SGD), "
             "else autograd; the compiled kernel step is used only when asked for, since it "
             "is built for the CPU on first use")


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
                world_size: int = 1) -> StepChoice:
    """The step that trains ``cfg`` when ``requested`` (one of :data:`STEPS`) is asked for.

    ``auto`` follows :data:`AUTO_RULE`. A step named explicitly that cannot
    serve (``fused`` with Adam, ``kernel`` on an MLP or a GPU, anything but
    autograd in a data-parallel run) is a :class:`UsageError`: nothing falls
    back silently. Whether the compiled step builds on this machine is
    checked when it is made (:func:`make_step`).
    """
    if requested not in STEPS:
        raise UsageError(f"unknown step {requested!r}; choose one of {', '.join(STEPS)}.")
    why_not = {"fused": why_no_fused_step(cfg), "kernel": _why_no_kernel(cfg, device)}
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
        if why_not["fused"] is None:
            return StepChoice("fused", "auto: closed-form gradient, no autograd")
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
        return StepChoice("fused", "closed-form gradient, no autograd")
    return StepChoice("kernel", "compiled C++ step for this CPU")


_OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "SGD with momentum", "adam": "Adam"}


def _autograd_words(cfg: ModelConfig) -> str:
    """What the autograd step runs for ``cfg``: whose loss and optimiser, which gradients."""
    backward = "the chain rule by hand" if cfg.backward == "hand" else "autograd"
    optimizer = _OPTIMIZER_NAMES.get(cfg.optimizer, cfg.optimizer)
    whose = ("torch.nn's {} loss and torch.optim's {}" if TIERS[cfg.impl].ddp
             else "the scratch tier's {} loss and {}")
    return f"{whose.format(cfg.loss, optimizer)}, gradients by {backward}"


def _why_no_kernel(cfg: ModelConfig, device) -> str | None:
    reason = why_no_compiled_step(cfg)
    if reason is None and torch.device(device).type != "cpu":
        reason = f"the compiled step runs on the CPU, not {torch.device(device).type}"
    return reason


def make_step(choice: StepChoice | str, setup: ModelSetup, *, group=None) -> Step:
    """The :class:`Step` object of ``choice`` for ``setup`` (in ``group``'s run, if any)."""
    name = choice.name if isinstance(choice, StepChoice) else choice
    if group is not None and group.world_size > 1:
        from shallownet.training.distributed import DistributedStep

        return DistributedStep(setup, group)
    if name == "fused":
        from shallownet.training.fused import FusedStep

        return FusedStep(setup)
    if name == "kernel":
        from shallownet.training.kernel import KernelStep

        return KernelStep(setup)
    return AutogradStep(setup)


class GatheringStep:
    """Base of the steps that train on gathered batches: ``train(X, y, out)`` does the work.

    ``__call__(rows, out)`` gathers the rows ``rows`` of the bound tensors with
    one ``index_select`` each and hands them to :meth:`train`.
    """

    name = "?"

    def bind(self, X: torch.Tensor, y: torch.Tensor) -> None:
        self._X, self._y = X, y

    def begin_epoch(self) -> None:
        """Nothing to do: the step works on the model's own parameters."""

    def end_epoch(self) -> None:
        """Nothing to do: the step works on the model's own parameters."""

    def __call__(self, rows: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        X, y = self._X.index_select(0, rows), self._y.index_select(0, rows)
        self.train(X, y, out[: len(rows)])
        return rows

    def train(self, X: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> None:
        raise NotImplementedError


class AutogradStep(GatheringStep):
    """The model's own step: ``setup.train_step`` (zero_grad, forward, backward, step)."""

    name = "autograd"

    def __init__(self, setup: ModelSetup) -> None:
        self.setup = setup

    def train(self, X: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> None:
        out.copy_(self.setup.train_step(X, y)[1])
