"""Epochs of minibatch training for any registry model, with per-epoch figures.

The loop, for epoch e = 1..E::

    for each batch of rows of the shuffled training set:
        step(rows): train on them, write their outputs o to the epoch's output tensor
    train_loss = mean of loss(o, y) over the epoch;  train_acc = share of argmax(o) == y
    test figures from the model in eval mode, under inference_mode
    callbacks: the divergence watch, the epoch's line, the live plot, the caller's own

The step is a :class:`~shallownet.training.steps.Step` — ``autograd``, ``fused``
or ``kernel`` (:mod:`shallownet.training.steps`), ``auto`` by default — and the
loop is the same for each. Each step's outputs go into one tensor for the
epoch on the device; the losses and the accuracy are computed from it in a
few large operations and read once per epoch, and every ``check_every``
steps one read checks that the loss is still finite. No step waits for the host.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Callable, Sequence

import torch
from tqdm import tqdm

from shallownet.data.iterator import ArrayLoader
from shallownet.defaults import book_defaults
from shallownet.errors import Hint, UsageError
from shallownet.metrics import METRICS, Timer, log_rmse
from shallownet.phases import phase
from shallownet.registry import ModelSetup, check_compatible
from shallownet.runtime import DROPOUT, PRECISIONS, derive_seed, resolve_device, why_no_bfloat16
from shallownet.threads import ThreadPolicy
from shallownet.training.augment import make_augmentation
from shallownet.training.callbacks import Callback, LiveCurves, PrintLog
from shallownet.training.data import TrainingData
from shallownet.training.distributed import Group
from shallownet.training.divergence import DivergenceWatch, diverged
from shallownet.training.evaluation import EVAL_BATCH_SIZE, evaluate, parameter_errors, predict
from shallownet.training.kernel import KernelUnavailable
from shallownet.training.printing import line_printer
from shallownet.training.schedules import make_schedule
from shallownet.training.steps import STEPS, Step, StepChoice, choose_step, make_step

__all__ = ["Trainer"]


class Trainer:
    """Train a :class:`~shallownet.registry.ModelSetup` on a :class:`TrainingData`.

    Parameters
    ----------
    epochs : int, optional
        Epochs to train in total (a resumed run continues up to this number).
        Default: the book's for the model and data (:mod:`shallownet.defaults`).
    batch_size : int, optional
        Default: the book's for the model and data.
    seed : int, default 0
        Seeds the shuffling and, epoch by epoch, dropout: the same seed gives
        the same figures on the CPU, and a resumed run continues exactly.
    device : {"auto", "cpu", "cuda", "mps"} or torch.device, default "auto"
    step : {"auto", "autograd", "fused", "kernel"}, default "auto"
        The training step (:mod:`shallownet.training.steps`). ``auto`` follows
        :data:`~shallownet.training.steps.AUTO_RULE` (the compiled step where it
        is built and fits, else the fused step where the model has one, else
        autograd); a step named explicitly that cannot train the model is an error.
    schedule : {"constant", "cosine", "onecycle"}, default "constant"
        How the learning rate moves over the run (:mod:`shallownet.training.schedules`),
        peaking at the model's ``lr``; ``warmup`` is the share of the run
        spent warming up (None: the schedule's own).
    augment : sequence of {"crop", "flip"}, default ()
        Transforms of each training batch of images (:mod:`shallownet.training.augment`).
    precision : {"float32", "bfloat16", "auto"}, default "float32"
        ``bfloat16`` takes the matrix products in bfloat16 with float32 weights
        (mixed precision; an error where the hardware lacks it,
        :func:`~shallownet.runtime.why_no_bfloat16`); ``auto`` takes bfloat16
        where it can.
    threads : "auto" or int, default "auto"
        Threads for torch's operations: ``auto`` gives it the cores other
        processes leave free, looked at again while training
        (:mod:`shallownet.threads`); a number fixes it.
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
    metric : {"log-rmse"}, optional
        An extra per-epoch figure of a regression: ``log-rmse``
        (:func:`~shallownet.metrics.log_rmse`, the house-price experiment's
        error, in the data's own units) on the whole training set after each
        epoch (``train_log_rmse``, model in eval mode, as the book computes it)
        and on the held-out set (``test_log_rmse`` / ``val_log_rmse``).
    group : Group, optional
        This process's place in a data-parallel run
        (:mod:`shallownet.training.distributed`): each rank trains on its shard
        of every global batch of ``batch_size`` rows, through autograd, and the
        figures are all-reduced; only rank 0 logs, shows progress and plots.

    Attributes
    ----------
    step_choice : StepChoice
        After :meth:`fit`: the step that trained, and why.
    stop_training : bool
        Set by a callback to end training after the current epoch.

    Examples
    --------
    >>> trainer = Trainer(epochs=10, batch_size=256, seed=0)   # doctest: +SKIP
    >>> history = trainer.fit(setup, data)                     # doctest: +SKIP
    >>> trainer.step_choice.name                               # doctest: +SKIP
    'fused'
    >>> trainer.evaluate(setup, data.test_X, data.test_y)      # doctest: +SKIP
    {'loss': 0.51, 'acc': 0.83, 'n': 10000}
    """

    def __init__(
        self,
        epochs: int | None = None,
        batch_size: int | None = None,
        *,
        seed: int = 0,
        device: str | torch.device = "auto",
        step: str = "auto",
        schedule: str = "constant",
        warmup: float | None = None,
        augment: Sequence[str] = (),
        precision: str = "float32",
        threads: str | int = "auto",
        progress: bool | None = None,
        live_plot: bool | None = None,
        log: Callable[[str], None] | bool | None = None,
        check_every: int = 50,
        eval_batch_size: int = EVAL_BATCH_SIZE,
        group: Group | None = None,
        metric: str | None = None,
    ) -> None:
        if epochs is not None:
            _check_count("epochs", epochs, minimum=0)
        if batch_size is not None:
            _check_count("batch_size", batch_size)
        _check_count("check_every", check_every)
        _check_count("eval_batch_size", eval_batch_size)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise UsageError(f"seed must be an integer, not {seed!r}.")
        if step not in STEPS:
            raise UsageError(f"unknown step {step!r}; choose one of {', '.join(STEPS)}.")
        make_schedule(schedule, 1.0, 1, warmup=warmup)  # checked now, made at fit
        make_augmentation(augment)
        if metric is not None and metric not in METRICS:
            raise UsageError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}.")
        self.metric = metric
        self.epochs = epochs  # after fit: what it trained with
        self.batch_size = batch_size
        self._asked = (epochs, batch_size)  # None: the book's, for each fit's model and data
        self.seed = seed
        self.device = resolve_device(device)
        self.step = step
        self.schedule, self.warmup, self.augment = schedule, warmup, tuple(augment)
        if precision not in PRECISIONS:
            raise UsageError(f"unknown precision {precision!r}; choose one of "
                             f"{', '.join(PRECISIONS)}.")
        reason = why_no_bfloat16(self.device) if precision != "float32" else None
        if precision == "auto":
            precision = "float32" if reason else "bfloat16"
        elif reason is not None:
            raise UsageError(f"precision={precision!r} needs hardware bfloat16: {reason}.",
                             hints=[Hint("precision", "auto")])
        self.precision = precision  # float32 or bfloat16: what this trainer computes in
        self.threads = ThreadPolicy(threads)
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)
        self.live_plot = live_plot
        self.log = line_printer(log)
        self.check_every = check_every
        self.eval_batch_size = eval_batch_size
        self.group = group if group is not None and group.world_size > 1 else None
        if self.group is not None and not self.group.is_main:
            self.progress, self.live_plot, self.log = False, False, line_printer(False)
        self.step_choice: StepChoice | None = None
        self.stop_training = False
        self.eval_name = "test"
        self.epoch_stats: dict = {}
        self.timer = Timer()

    @classmethod
    def from_config(cls, config, **options) -> Trainer:
        """The trainer a :class:`~shallownet.training.RunConfig` describes (its defaults filled
        in); ``options`` are the other arguments (``progress``, ``log``, ``group``, ...)."""
        train = config.resolved().train
        return cls(train.epochs, train.batch_size, seed=train.seed, device=train.device,
                   step=train.step, schedule=train.schedule, warmup=train.warmup,
                   augment=train.augment, precision=train.precision,
                   metric=train.metric, **options)

    # -- training ---------------------------------------------------------------------------

    def fit(
        self,
        setup: ModelSetup,
        data: TrainingData,
        *,
        history: list[dict] | None = None,
        callbacks: Sequence[Callback] = (),
        eval_name: str = "test",
    ) -> list[dict]:
        """Train from epoch ``len(history) + 1`` to ``epochs``; return the full history.

        Each record has ``epoch``, ``train_loss``, ``test_loss``, ``seconds`` and,
        for classifiers, ``train_acc`` and ``test_acc``; for data generated from
        known ``w`` and ``b``, ``w_error`` = ‖ŵ − w‖₂ and ``b_error`` = |b̂ − b|.
        ``callbacks`` (:class:`~shallownet.training.callbacks.Callback`) run
        after the trainer's own at each hook. ``eval_name`` names the held-out
        figures (``val`` in cross-validation). Raises :class:`TrainingDiverged`
        when the loss stops being finite.
        """
        _check_fits(setup, data)
        if self.metric is not None:
            _check_metric(self.metric, setup, data, self.group)
        history = list(history or [])
        book = book_defaults(setup.config.model, data.kind, setup.config.optimizer)
        epochs, batch_size = (book[i] if asked is None else asked
                              for i, asked in enumerate(self._asked))
        self.epochs, self.batch_size = epochs, batch_size
        world = 1 if self.group is None else self.group.world_size
        self.step_choice = choose_step(setup.config, self.step, device=self.device,
                                       world_size=world, augment=bool(self.augment),
                                       precision=self.precision)
        setup.model.to(self.device)
        loader = ArrayLoader(data.train_X, data.train_y, batch_size=batch_size,
                             shuffle=True, seed=self.seed, device=self.device)
        step = self._make_step(setup)
        step.bind(*loader.tensors)
        if self.augment:
            step.augment = make_augmentation(self.augment, fill=data.background)
        self.lr_schedule = make_schedule(self.schedule, setup.config.lr, epochs * len(loader),
                                         warmup=self.warmup)
        test_X, test_y = data.test_X.to(self.device), data.test_y.to(self.device)
        outputs = self._output_buffer(setup, loader)
        callbacks = [DivergenceWatch(), PrintLog(self.log),
                     LiveCurves(enabled=self.live_plot), *callbacks]
        self.eval_name, self.stop_training = eval_name, False
        self.threads.start()
        try:
            for callback in callbacks:
                callback.on_train_begin(self, setup, history)
            for epoch in range(len(history) + 1, epochs + 1):
                if self.stop_training:
                    break
                self.timer.start()
                step.begin_epoch()
                try:
                    with phase("training"):
                        record = {"epoch": epoch,
                                  **self._train_epoch(setup, loader, epoch, step, outputs)}
                finally:
                    step.end_epoch()
                with phase("evaluation"):
                    test = self.evaluate(setup, test_X, test_y)
                record[f"{eval_name}_loss"] = test["loss"]
                if "acc" in test:
                    record[f"{eval_name}_acc"] = test["acc"]
                if self.metric == "log-rmse":
                    with phase("evaluation"):
                        record["train_log_rmse"] = self._log_rmse(setup, data, *loader.tensors)
                        record[f"{eval_name}_log_rmse"] = self._log_rmse(setup, data, test_X,
                                                                         test_y)
                if data.true_w is not None:
                    record.update(parameter_errors(setup, data.true_w, data.true_b))
                record["seconds"] = self.timer.stop()
                history.append(record)
                for callback in callbacks:
                    callback.on_epoch_end(self, setup, history)
        finally:
            self.threads.stop()
            for callback in callbacks:
                callback.on_train_end(self, setup, history)
        return history

    def _make_step(self, setup: ModelSetup) -> Step:
        """The step :attr:`step_choice` names; under ``auto``, a compiled step that turns out
        not to fit (more than 32 classes, float64) gives way to the fused step."""
        try:
            return make_step(self.step_choice, setup, group=self.group,
                             precision=self.precision)
        except KernelUnavailable as exc:
            if self.step != "auto":
                raise
            self.step_choice = StepChoice("fused", f"auto: closed-form gradient, no autograd "
                                                   f"(not the compiled step: {exc})")
            return make_step(self.step_choice, setup, group=self.group,
                             precision=self.precision)

    def _output_buffer(self, setup: ModelSetup, loader: ArrayLoader) -> torch.Tensor:
        """One tensor for an epoch's outputs (one row per training example), shaped like the
        model's output."""
        sample = self.predict(setup, loader.tensors[0][:1])
        return sample.new_empty((loader.num_examples, *sample.shape[1:]))

    def _train_epoch(self, setup: ModelSetup, loader: ArrayLoader, epoch: int, step,
                     outputs: torch.Tensor) -> dict:
        setup.model.train()
        loader.set_epoch(epoch - 1)
        group = self.group
        keys = (DROPOUT, epoch) if group is None else (DROPOUT, epoch, group.rank)
        torch.manual_seed(derive_seed(self.seed, *keys))  # dropout masks of this epoch
        steps = len(loader)
        acc_dtype = torch.float32 if self.device.type == "mps" else torch.float64
        losses = torch.empty(len(outputs), dtype=acc_dtype, device=self.device)
        labels = loader.tensors[1]
        trained, ends = [], []  # the rows each step trained; ends[k]: where step k+1's end
        pending = []  # the rows trained since the last check
        start = checked = 0
        bar = tqdm(loader.rows(), total=steps, unit="batch",
                   desc=f"epoch {epoch}/{self.epochs}", leave=False,
                   disable=not self.progress, file=sys.stderr)
        schedule, first_step = self.lr_schedule, (epoch - 1) * steps
        threads = self.threads
        for i, rows in enumerate(bar):
            threads.update()
            if schedule.varies:
                step.set_lr(schedule(first_step + i))
            mine = step(rows, outputs[start:])
            trained.append(mine)
            pending.append(mine)
            start += len(mine)
            ends.append(start)
            if (i + 1) % self.check_every == 0 or i + 1 == steps:
                window = slice(checked, start)
                targets = labels.index_select(0, torch.cat(pending))
                pending.clear()
                with torch.inference_mode():
                    losses[window] = setup.loss(outputs[window], targets).reshape(-1)
                self._check_finite(setup, losses, checked, start, epoch, ends, steps)
                checked = start
        n = start  # the examples this process trained
        order = torch.cat(trained)
        totals = [losses[:n].sum(), torch.tensor(0.0), torch.tensor(float(n))]
        if setup.task != "regression":
            with torch.inference_mode():
                totals[1] = (setup.predict_labels(outputs[:n]) ==
                             labels.index_select(0, order)).sum()
        totals = self._sum_over_ranks(totals)
        figures = {"train_loss": totals[0] / totals[2]}
        if setup.task != "regression":
            figures["train_acc"] = totals[1] / totals[2]
        self.epoch_stats = {"steps": steps}
        if (group is None or group.is_main) and steps > 1:
            first, last = ends[0], ends[-1] - ends[-2]
            if first and last:
                self.epoch_stats["first_batch_loss"] = float(losses[:first].mean())
                self.epoch_stats["last_batch_loss"] = float(losses[n - last:n].mean())
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
        raise diverged(setup, epoch, step, steps, what)

    @property
    def _collective_device(self) -> torch.device:
        """Where tensors for collectives live: CUDA for nccl, else the CPU (gloo)."""
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    # -- evaluation -------------------------------------------------------------------------

    def predict(self, setup: ModelSetup, X: torch.Tensor) -> torch.Tensor:
        """The model's outputs for ``X`` on the trainer's device
        (:func:`~shallownet.training.evaluation.predict`)."""
        return predict(setup, X, batch_size=self.eval_batch_size, device=self.device)

    def _log_rmse(self, setup: ModelSetup, data: TrainingData, X: torch.Tensor,
                  y: torch.Tensor) -> float:
        """The log-RMSE of the model's predictions for ``X`` against ``y``, in the data's own
        units (a model of ``log(y)`` is scored on ``exp`` of its outputs)."""
        return log_rmse(self.predict(setup, X), y, log_space=data.target_transform == "log")

    def evaluate(self, setup: ModelSetup, X: torch.Tensor, y: torch.Tensor, *,
                 confusion: bool = False) -> dict:
        """Mean loss (``loss``) and, for classifiers, accuracy (``acc``) on ``(X, y)``
        (:func:`~shallownet.training.evaluation.evaluate`).

        In a distributed run each rank evaluates its shard and the sums are
        all-reduced: every rank returns the whole set's figures.
        """
        options = {"confusion": confusion, "batch_size": self.eval_batch_size,
                   "device": self.device}
        if self.group is None:
            return evaluate(setup, X, y, **options)
        from shallownet.training.distributed import shard

        part = shard(torch.arange(len(X)), self.group.rank, self.group.world_size)
        sums = evaluate(setup, X[part], y[part], sums=True, **options)
        keys = [k for k in ("loss", "correct", "n") if k in sums]
        totals = dict(zip(keys, self._sum_over_ranks([sums[k] for k in keys]), strict=True))
        result = {"loss": totals["loss"] / totals["n"], "n": int(totals["n"])}
        if "correct" in totals:
            result["acc"] = totals["correct"] / totals["n"]
        if "confusion_matrix" in sums:
            matrix = sums["confusion_matrix"].to(self._collective_device)
            result["confusion_matrix"] = self.group.sum(matrix).cpu()
        return result


def _check_count(name: str, value, *, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise UsageError(f"{name} must be an integer of at least {minimum}, not {value!r}.")


def _check_metric(metric: str, setup: ModelSetup, data: TrainingData, group) -> None:
    """Refuse ``log-rmse`` where it means nothing: classes, targets of 0 or less, or across
    the workers of a data-parallel run."""
    if setup.task != "regression":
        raise UsageError(f"the {metric} metric scores a regression; {data.name} is a "
                         "classification task.", hints=[Hint("metric")])
    if group is not None:
        raise UsageError(f"the {metric} metric is computed in one process, not in a "
                         "data-parallel run.")
    if data.target_transform != "log":
        for split, y in (("training", data.train_y), (data.eval_name, data.test_y)):
            if bool((y <= 0).any()):
                raise UsageError(f"the {metric} metric takes log y, but the {split} targets of "
                                 f"{data.name} include values of 0 or less.",
                                 hints=[Hint("metric")])


def _check_fits(setup: ModelSetup, data: TrainingData) -> None:
    for split, X in (("training", data.train_X), ("test", data.test_X)):
        if len(X) == 0:
            raise UsageError(f"the {split} set of {data.name} has no examples.")
    if tuple(setup.input_shape) != data.input_shape:
        raise UsageError(
            f"the model takes examples of shape {tuple(setup.input_shape)}, but {data.name} "
            f"has {data.input_shape}."
        )
    check_compatible(setup.config, data.traits())
