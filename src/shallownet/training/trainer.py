"""Epochs of minibatch training for any registry model, with per-epoch figures.

The loop, for epoch e = 1..E::

    for X, y in batches of the shuffled training set:
        zero the gradients; o = model(X); backward on mean(loss(o, y)); optimiser step
    train_loss = mean of loss(o, y) over the epoch;  train_acc = share of argmax(o) == y
    test figures from the model in eval mode, under inference_mode

Softmax regression and MLPs with cross-entropy and plain SGD take a fused
step instead (:mod:`shallownet.training.fused`: the same formulas without
autograd); with ``kernel=True`` softmax regression takes the compiled step
(:mod:`shallownet.training.kernel`), which reads each batch's rows by index.
Each step's outputs ``o`` go into one tensor for the epoch on the device; the
losses and the accuracy are computed from it in a few large operations and
read once per epoch, and every ``check_every`` steps one read checks that the
loss is still finite. No step waits for the host.
"""

from __future__ import annotations

import bisect
import math
import sys
import warnings
from collections.abc import Callable

import torch
from tqdm import tqdm

from shallownet.data.iterator import ArrayLoader
from shallownet.errors import TrainingDiverged, UsageError
from shallownet.metrics import Timer, confusion_matrix
from shallownet.plots.training import LivePlot
from shallownet.registry import ModelSetup
from shallownet.runtime import DROPOUT, derive_seed, resolve_device
from shallownet.scratch.layers import Linear as ScratchLinear
from shallownet.training.data import TrainingData
from shallownet.training.distributed import DistributedStep, Group, shard, shard_sizes
from shallownet.training.fused import fused_step
from shallownet.training.kernel import KernelStep, KernelUnavailable, why_no_kernel

__all__ = ["Trainer", "estimated_w_b", "parameter_errors", "format_epoch", "line_printer"]

EpochCallback = Callable[[int, list[dict]], None]


class Trainer:
    """Train a :class:`~shallownet.registry.ModelSetup` on a :class:`TrainingData`.

    Parameters
    ----------
    epochs : int, default 10
        Epochs to train in total (a resumed run continues up to this number).
    batch_size : int, default 256
    seed : int, default 0
        Seeds the shuffling and, epoch by epoch, dropout: the same seed gives
        the same figures on the CPU, and a resumed run continues exactly.
    device : {"auto", "cpu", "cuda", "mps"} or torch.device, default "auto"
    progress : bool, optional
        A progress bar over each epoch's batches (default: when stderr is a terminal).
    live_plot : bool, optional
        Redraw the curves after every epoch in Jupyter (default: inside Jupyter only).
    log : callable, optional
        Called with one line of text per epoch (default: print to stdout).
        ``log=False`` prints nothing.
    check_every : int, default 50
        Steps between checks that the loss is finite.
    eval_batch_size : int, default 4096
        Examples per forward pass when evaluating or predicting.
    fused : bool, default True
        Train softmax regression and MLPs (cross-entropy, plain SGD) with a
        fused step (:mod:`shallownet.training.fused`); False trains every
        model through autograd and its optimiser.
    kernel : bool, default False
        Train softmax regression with the compiled step
        (:mod:`shallownet.training.kernel`), built for this CPU on first use.
        Where it cannot be used (another model, float64, no C++ compiler) a
        warning says why and the fused step trains instead.
    group : Group, optional
        This process's place in a data-parallel run
        (:mod:`shallownet.training.distributed`): each rank trains on its shard
        of every global batch of ``batch_size`` rows, through autograd, and the
        figures are all-reduced; only rank 0 logs, shows progress and plots.

    Examples
    --------
    >>> trainer = Trainer(epochs=10, batch_size=256, seed=0)   # doctest: +SKIP
    >>> history = trainer.fit(setup, data)                     # doctest: +SKIP
    >>> trainer.evaluate(setup, data.test_X, data.test_y)      # doctest: +SKIP
    {'loss': 0.51, 'acc': 0.83, 'n': 10000}
    """

    def __init__(
        self,
        epochs: int = 10,
        batch_size: int = 256,
        *,
        seed: int = 0,
        device: str | torch.device = "auto",
        progress: bool | None = None,
        live_plot: bool | None = None,
        log: Callable[[str], None] | bool | None = None,
        check_every: int = 50,
        eval_batch_size: int = 4096,
        fused: bool = True,
        kernel: bool = False,
        group: Group | None = None,
    ) -> None:
        _check_count("epochs", epochs, minimum=0)
        _check_count("batch_size", batch_size)
        _check_count("check_every", check_every)
        _check_count("eval_batch_size", eval_batch_size)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise UsageError(f"seed must be an integer, not {seed!r}.")
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed
        self.device = resolve_device(device)
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)
        self.live_plot = live_plot
        self.log = line_printer(log)
        self.check_every = check_every
        self.eval_batch_size = eval_batch_size
        self.fused = bool(fused)
        self.kernel = bool(kernel)
        self.group = group if group is not None and group.world_size > 1 else None
        if self.group is not None and not self.group.is_main:
            self.progress, self.live_plot, self.log = False, False, line_printer(False)
        self.step_kind: str | None = None  # kernel, fused, autograd or distributed (fit chose)
        self.timer = Timer()

    # -- training ---------------------------------------------------------------------------

    def fit(
        self,
        setup: ModelSetup,
        data: TrainingData,
        *,
        history: list[dict] | None = None,
        on_epoch_end: EpochCallback | None = None,
        eval_name: str = "test",
    ) -> list[dict]:
        """Train from epoch ``len(history) + 1`` to ``epochs``; return the full history.

        Each record has ``epoch``, ``train_loss``, ``test_loss``, ``seconds`` and,
        for classifiers, ``train_acc`` and ``test_acc``; for data generated from
        known ``w`` and ``b``, ``w_error`` = ‖ŵ − w‖₂ and ``b_error`` = |b̂ − b|.
        ``on_epoch_end(epoch, history)`` runs after each epoch (e.g. to save a
        checkpoint). ``eval_name`` names the held-out figures (``val`` in
        cross-validation). Raises :class:`TrainingDiverged` when the loss stops being finite.
        """
        _check_fits(setup, data)
        history = list(history or [])
        setup.model.to(self.device)
        loader = ArrayLoader(data.train_X, data.train_y, batch_size=self.batch_size,
                             shuffle=True, seed=self.seed, device=self.device)
        test_X, test_y = data.test_X.to(self.device), data.test_y.to(self.device)
        step = self._choose_step(setup)
        n = loader.num_examples  # the examples this process trains each epoch
        if self.group is not None:
            n = sum(shard_sizes(n, self.batch_size, self.group.rank, self.group.world_size))
        elif getattr(step, "gathers", False):
            step.bind(*loader.tensors)
        outputs = self._output_buffer(setup, loader, n)
        live = LivePlot(total_epochs=self.epochs, enabled=self.live_plot)
        try:
            for epoch in range(len(history) + 1, self.epochs + 1):
                self.timer.start()
                step.load()
                try:
                    figures = self._train_epoch(setup, loader, epoch, step, outputs)
                finally:
                    step.store()
                record = {"epoch": epoch, **figures}
                test = self.evaluate(setup, test_X, test_y)
                self._check_model_finite(setup, test["loss"], epoch, len(loader))
                record[f"{eval_name}_loss"] = test["loss"]
                if "acc" in test:
                    record[f"{eval_name}_acc"] = test["acc"]
                if data.true_w is not None:
                    record.update(parameter_errors(setup, data))
                record["seconds"] = self.timer.stop()
                history.append(record)
                self.log(format_epoch(record, self.epochs))
                live.update(history)
                if on_epoch_end is not None:
                    on_epoch_end(epoch, history)
        finally:
            live.close()
        return history

    def _choose_step(self, setup: ModelSetup):
        """``step(X, y, out)`` trains on one batch and writes its outputs to ``out``;
        ``step.load()`` and ``step.store()`` come before and after each epoch. A
        step with ``gathers`` set is bound to the data and trains on row indices."""
        if self.group is not None:
            self.step_kind = "distributed"
            return DistributedStep(setup, self.group)
        if self.kernel:
            reason = why_no_kernel(setup, self.device)
            if reason is None:
                try:
                    step = KernelStep(setup)
                    self.step_kind = "kernel"
                    return step
                except KernelUnavailable as exc:
                    reason = str(exc)
            warnings.warn(f"training without the compiled step: {reason}.", stacklevel=3)
        fused = fused_step(setup) if self.fused else None
        self.step_kind = "autograd" if fused is None else "fused"
        return _AutogradStep(setup) if fused is None else fused

    def _output_buffer(self, setup: ModelSetup, loader: ArrayLoader, n: int) -> torch.Tensor:
        """One tensor for an epoch's ``n`` outputs, shaped like the model's output."""
        sample = self.predict(setup, loader.tensors[0][:1])
        return sample.new_empty((n, *sample.shape[1:]))

    def _train_epoch(self, setup: ModelSetup, loader: ArrayLoader, epoch: int, step,
                     outputs: torch.Tensor) -> dict:
        setup.model.train()
        loader.set_epoch(epoch - 1)
        group = self.group
        keys = (DROPOUT, epoch) if group is None else (DROPOUT, epoch, group.rank)
        torch.manual_seed(derive_seed(self.seed, *keys))  # dropout masks of this epoch
        steps, n = len(loader), len(outputs)  # n: this process's examples of the epoch
        acc_dtype = torch.float32 if self.device.type == "mps" else torch.float64
        losses = torch.empty(n, dtype=acc_dtype, device=self.device)
        labels, local_rows, ends = None, [], []  # ends[k]: where step k+1's outputs end
        start = checked = 0
        gathers = getattr(step, "gathers", False)
        bar = tqdm(loader.rows() if gathers or group else loader, total=steps, unit="batch",
                   desc=f"epoch {epoch}/{self.epochs}", leave=False,
                   disable=not self.progress, file=sys.stderr)
        for i, batch in enumerate(bar):
            if group is not None:  # this rank's shard of the global batch
                rows = shard(batch, group.rank, group.world_size)
                local_rows.append(rows)
                stop = start + len(rows)
                X, y = (t.index_select(0, rows) for t in loader.tensors)
                step(X, y, outputs[start:stop], len(batch))
            elif gathers:
                stop = start + len(batch)
                step.rows(batch, outputs[start:stop])
            else:
                X, y = batch
                stop = start + len(y)
                step(X, y, outputs[start:stop])
            ends.append(stop)
            start = stop
            if (i + 1) % self.check_every == 0 or i + 1 == steps:
                if group is not None:
                    labels = loader.tensors[1].index_select(0, torch.cat(local_rows))
                elif labels is None:  # the epoch's order is drawn once iteration has begun
                    labels = _in_order(loader.tensors[1], loader.last_order)
                window = slice(checked, stop)
                with torch.inference_mode():
                    losses[window] = setup.loss(outputs[window], labels[window]).reshape(-1)
                self._check_finite(setup, losses, checked, stop, epoch, ends, steps)
                checked = stop
        totals = [losses.sum(), torch.tensor(0.0), torch.tensor(float(n))]
        if setup.task != "regression":
            with torch.inference_mode():
                totals[1] = (setup.predict_labels(outputs) == labels).sum()
        totals = self._sum_over_ranks(totals)
        figures = {"train_loss": totals[0] / totals[2]}
        if setup.task != "regression":
            figures["train_acc"] = totals[1] / totals[2]
        if group is None or group.is_main:
            first, last = ends[0], ends[-1] - (ends[-2] if len(ends) > 1 else 0)
            self._warn_if_exploding(losses, first, last, steps, epoch, setup.config.lr)
        return figures

    def _sum_over_ranks(self, values: list) -> list[float]:
        """The numbers ``values`` (tensors or floats) as floats, summed over the ranks."""
        totals = torch.tensor([float(v) for v in values], dtype=torch.float64)
        if self.group is not None:
            totals = self.group.sum(totals.to(self._collective_device)).cpu()
        return totals.tolist()

    def _check_finite(self, setup, losses, start: int, stop: int, epoch: int, ends: list[int],
                      steps: int) -> None:
        """Raise TrainingDiverged at the first step whose loss in ``losses[start:stop]`` is not
        finite (in a distributed run: on any rank, and every rank raises)."""
        bad = ~torch.isfinite(losses[start:stop])
        first = start + int(bad.nonzero()[0, 0]) if bool(bad.any()) else None
        local = bisect.bisect_right(ends, first) + 1 if first is not None else steps + 1
        step = local if self.group is None else self.group.min(local, self._collective_device)
        if step > steps:
            return
        what = (f"the loss became {float(losses[first])}" if local == step
                else "the loss stopped being finite (on another worker)")
        raise _diverged(setup, epoch, step, steps, what)

    @property
    def _collective_device(self) -> torch.device:
        """Where tensors for collectives live: CUDA for nccl, else the CPU (gloo)."""
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    def _warn_if_exploding(self, losses, first: int, last: int, steps: int, epoch: int,
                           lr: float) -> None:
        """Warn when the mean loss of the epoch's last batch is 100× that of its first batch
        (their first ``first`` and last ``last`` rows)."""
        if steps < 2 or first == 0 or last == 0:
            return
        first_mean = float(losses[:first].mean())
        last_mean = float(losses[len(losses) - last:].mean())
        if last_mean > 100 * max(first_mean, 1e-3):
            warnings.warn(
                f"the training loss grew from {first_mean:.3g} to {last_mean:.3g} during epoch "
                f"{epoch}; the learning rate ({lr:g}) is probably too large.", stacklevel=2,
            )

    def _check_model_finite(self, setup, held_out_loss: float, epoch: int, steps: int) -> None:
        """The epoch's last update may blow the weights up after its loss was computed."""
        finite = math.isfinite(held_out_loss) and all(
            bool(torch.isfinite(p).all()) for p in setup.model.parameters()
        )
        if not finite:
            raise _diverged(setup, epoch, steps, steps, "after the last update the weights or "
                            "the held-out loss are no longer finite")

    # -- evaluation -------------------------------------------------------------------------

    def predict(self, setup: ModelSetup, X: torch.Tensor) -> torch.Tensor:
        """The model's outputs for ``X`` (logits, or values for regression), in eval mode."""
        model = setup.model
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                parts = [
                    model(X[i : i + self.eval_batch_size].to(self.device))
                    for i in range(0, len(X), self.eval_batch_size)
                ]
        finally:
            model.train(was_training)
        if not parts:
            raise UsageError("nothing to predict: X has no examples.")
        return torch.cat(parts)

    def evaluate(self, setup: ModelSetup, X: torch.Tensor, y: torch.Tensor, *,
                 confusion: bool = False) -> dict:
        """Mean loss (``loss``) and, for classifiers, accuracy (``acc``) on ``(X, y)``.

        ``confusion=True`` adds the ``confusion_matrix`` of a classifier, from
        the same forward pass. In a distributed run each rank evaluates its
        shard and the sums are all-reduced: every rank returns the whole set's figures.
        """
        if self.group is None:
            return self._evaluate_part(setup, X, y, confusion=confusion)
        part = shard(torch.arange(len(X)), self.group.rank, self.group.world_size)
        sums = self._evaluate_part(setup, X[part], y[part], confusion=confusion, sums=True)
        keys = [k for k in ("loss", "correct", "n") if k in sums]
        totals = dict(zip(keys, self._sum_over_ranks([sums[k] for k in keys]), strict=True))
        result = {"loss": totals["loss"] / totals["n"], "n": int(totals["n"])}
        if "correct" in totals:
            result["acc"] = totals["correct"] / totals["n"]
        if "confusion_matrix" in sums:
            matrix = sums["confusion_matrix"].to(self._collective_device)
            result["confusion_matrix"] = self.group.sum(matrix).cpu()
        return result

    def _evaluate_part(self, setup: ModelSetup, X: torch.Tensor, y: torch.Tensor, *,
                       confusion: bool, sums: bool = False) -> dict:
        """The figures of ``(X, y)``: means, or with ``sums`` the loss sum and correct count
        (which an empty part has too: zeros)."""
        classifier = setup.task != "regression"
        if sums and len(y) == 0:
            part = {"loss": 0.0, "n": 0}
            if classifier:
                part["correct"] = 0
                if confusion:
                    part["confusion_matrix"] = torch.zeros(
                        (setup.num_outputs, setup.num_outputs), dtype=torch.int64)
            return part
        outputs = self.predict(setup, X)
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


class _AutogradStep:
    """A step through autograd and the model's optimiser (``setup.train_step``)."""

    def __init__(self, setup: ModelSetup) -> None:
        self.setup = setup

    def __call__(self, X: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return out.copy_(self.setup.train_step(X, y)[1])

    def load(self) -> None:
        """Nothing to do: the step works on the model's own parameters."""

    store = load


def _in_order(tensor: torch.Tensor, order: torch.Tensor | None) -> torch.Tensor:
    """``tensor`` in the order a loader visited it (as it is when it was not shuffled)."""
    return tensor if order is None else tensor.index_select(0, order)


def _diverged(setup: ModelSetup, epoch: int, step: int, steps: int, what: str):
    """The error for a run that stopped being finite at ``step`` of ``epoch``: what, and why."""
    lr = setup.config.lr
    return TrainingDiverged(
        f"training diverged at epoch {epoch}, step {step} of {steps}: {what}. The likely cause "
        f"is a learning rate too large for this model (lr = {lr:g}); try a smaller one, e.g. "
        f"--lr {lr / 10:g}"
        + (" (or standardised features)." if setup.task != "classification" else "."),
        epoch=epoch, step=step,
    )


def line_printer(log: Callable[[str], None] | bool | None) -> Callable[[str], None]:
    """The line printer ``log`` stands for: None or True print to stdout, False nothing."""
    if log is None or log is True:
        return lambda line: print(line, flush=True)
    return log or (lambda line: None)


def _check_count(name: str, value, *, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise UsageError(f"{name} must be an integer of at least {minimum}, not {value!r}.")


def _check_fits(setup: ModelSetup, data: TrainingData) -> None:
    for split, X in (("training", data.train_X), ("test", data.test_X)):
        if len(X) == 0:
            raise UsageError(f"the {split} set of {data.name} has no examples.")
    if tuple(setup.input_shape) != data.input_shape:
        raise UsageError(
            f"the model takes examples of shape {tuple(setup.input_shape)}, but {data.name} "
            f"has {data.input_shape}."
        )
    if (setup.task == "regression") != (data.task == "regression"):
        raise UsageError(
            f"model {setup.config.model!r} does {setup.task}, but {data.name} is a "
            f"{data.task} dataset."
        )


def estimated_w_b(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """The weights (d,) and bias (1,) of a model's (first) linear layer, in either tier."""
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            return module.weight.detach().reshape(-1), module.bias.detach().reshape(-1)
        if isinstance(module, ScratchLinear):
            return module.W.detach().reshape(-1), module.b.detach().reshape(-1)
    raise UsageError(f"{type(model).__name__} has no linear layer to read w and b from.")


def parameter_errors(setup: ModelSetup, data: TrainingData) -> dict:
    """``w_error`` = ‖ŵ − w‖₂ and ``b_error`` = |b̂ − b| against the data's true parameters."""
    w, b = estimated_w_b(setup.model)
    true_w = data.true_w.to(w.device, w.dtype)
    return {
        "w_error": float(torch.linalg.vector_norm(w - true_w)),
        "b_error": abs(float(b[0]) - data.true_b),
    }


_FORMATS = {"loss": ".4f", "acc": ".3f", "error": ".2e"}


def format_epoch(record: dict, epochs: int) -> str:
    """One line per epoch: ``epoch  3/10  train loss 0.5123  train acc 0.831 ...``."""
    width = len(str(epochs))
    parts = [f"epoch {record['epoch']:>{width}}/{epochs}"]
    for key, value in record.items():
        kind = key.rsplit("_", 1)[-1]
        if kind not in _FORMATS or value is None:
            continue
        text = f"{value:{_FORMATS[kind]}}" if math.isfinite(value) else str(value)
        parts.append(f"{key.replace('_', ' ')} {text}")
    parts.append(f"({record['seconds']:.1f} s)")
    return "  ".join(parts)
