"""A trial: train one configuration and score it without the test set.

Two ways to score (:class:`Scoring`):

* a validation split: ``val_fraction`` of the training set, drawn from the
  seed, held out (the same split ``shallownet train --val-fraction`` makes);
  the trial's figure is the last epoch's validation figure;
* K-fold cross-validation (``folds``): fold k trains on the other K − 1 folds
  and scores on fold k (:func:`~shallownet.training.crossval.train_fold`, the
  code ``shallownet train --folds K`` runs); the figure is the mean over folds.

The figure is the validation accuracy for classifiers (higher is better) and
the validation loss for regression (lower is better). After every epoch the
trial reports it (with K folds, at step ``(k − 1) · epochs + epoch``) and
stops when the pruner finds it hopeless. A trial whose loss diverges fails
with the reason recorded; the search goes on.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass

from shallownet.errors import TrainingDiverged, UsageError
from shallownet.registry import build, check_compatible
from shallownet.runtime import resolve_device
from shallownet.training.callbacks import Callback
from shallownet.training.config import RunConfig
from shallownet.training.crossval import kfold_indices, load_fold_data, train_fold
from shallownet.training.data import TrainingData, load_training_data
from shallownet.training.run import with_step
from shallownet.training.trainer import Trainer
from shallownet.tune.space import SearchSpace
from shallownet.tune.study import Outcome

__all__ = ["Scoring", "Objective", "metric_for", "DEFAULT_VAL_FRACTION"]

DEFAULT_VAL_FRACTION = 1 / 6


@dataclass(frozen=True)
class Scoring:
    """How trials are scored: on a validation split (``val_fraction``) or by ``folds``."""

    val_fraction: float = DEFAULT_VAL_FRACTION
    folds: int | None = None

    def to_dict(self) -> dict:
        return {"folds": self.folds} if self.folds else {"val_fraction": self.val_fraction}

    def describe(self) -> str:
        if self.folds:
            return f"{self.folds}-fold cross-validation on the training set"
        return f"a validation split of {self.val_fraction:.3g} of the training set"

    def check(self) -> None:
        if self.folds is not None:
            from shallownet.training.crossval import check_folds

            check_folds(self.folds)
        elif not (isinstance(self.val_fraction, int | float) and 0 < self.val_fraction < 1):
            raise UsageError(f"the validation share must lie in (0, 1), not "
                             f"{self.val_fraction!r}.")


def metric_for(task: str) -> tuple[str, str]:
    """(metric, direction) a search optimises for data of ``task``."""
    return ("val_loss", "minimize") if task == "regression" else ("val_acc", "maximize")


class _Report(Callback):
    """Report each epoch's figure to the trial; stop training when the pruner says so
    (never at the trial's last step, where stopping saves nothing)."""

    def __init__(self, trial, metric: str, last: int, offset: int = 0) -> None:
        self.trial, self.metric, self.last, self.offset = trial, metric, last, offset
        self.pruned = False

    def on_epoch_end(self, trainer, setup, history: list[dict]) -> None:
        record = history[-1]
        step = self.offset + record["epoch"]
        self.trial.report(float(record[self.metric]), step)
        if step < self.last and self.trial.should_prune():
            self.pruned = trainer.stop_training = True


class Objective:
    """Train and score one trial of ``space`` over ``base`` (the data is loaded once, here).

    Calling it with an Optuna trial returns an :class:`~shallownet.tune.study.Outcome`.
    The test set is never part of what it loads: with a validation split the
    data's held-out part *is* the split, and K folds are cut from the training set.
    """

    def __init__(self, base: RunConfig, space: SearchSpace, scoring: Scoring, *,
                 progress: bool | None = False) -> None:
        self.base, self.space, self.scoring = base, space, scoring
        self.device = resolve_device(base.train.device)
        if scoring.folds:
            self.data, self.standardize = load_fold_data(base, progress=progress)
            self.splits = kfold_indices(len(self.data.train_X), scoring.folds,
                                        seed=base.train.seed)
        else:
            spec = dataclasses.replace(base.data, val_fraction=scoring.val_fraction)
            self.data: TrainingData = load_training_data(spec, progress=progress)
            check_compatible(base.model, self.data.traits())
        self.metric, self.direction = metric_for(self.data.task)

    def config(self, values: dict) -> RunConfig:
        """The run configuration of a trial's drawn ``values``."""
        return self.space.apply(self.base, values).resolved()

    def __call__(self, trial) -> Outcome:
        values = self.space.suggest(trial)
        config = with_step(self.config(values))
        check_compatible(config.model, self.data.traits())
        start = time.perf_counter()
        attrs = {"step": config.train.step, "epochs": config.train.epochs}
        try:
            if self.scoring.folds:
                outcome = self._folds(trial, config, attrs)
            else:
                outcome = self._split(trial, config, attrs)
        except TrainingDiverged as exc:
            outcome = Outcome("fail", attrs={**attrs, "error": f"diverged: {exc}"})
        outcome.attrs["seconds"] = time.perf_counter() - start
        return outcome

    def _split(self, trial, config: RunConfig, attrs: dict) -> Outcome:
        setup = build(config.model, input_shape=self.data.input_shape,
                      num_outputs=self.data.num_outputs, seed=config.train.seed,
                      device=self.device)
        trainer = Trainer.from_config(config, progress=False, log=False, live_plot=False)
        report = _Report(trial, self.metric, last=config.train.epochs)
        history = trainer.fit(setup, self.data, eval_name="val", callbacks=[report])
        attrs = {**attrs, "epochs_done": len(history)}
        if report.pruned:
            return Outcome("pruned", attrs=attrs)
        return Outcome("complete", float(history[-1][self.metric]), attrs)

    def _folds(self, trial, config: RunConfig, attrs: dict) -> Outcome:
        scores = []
        for k, split in enumerate(self.splits, start=1):
            report = _Report(trial, self.metric, last=len(self.splits) * config.train.epochs,
                             offset=(k - 1) * config.train.epochs)
            history = train_fold(config, self.data, split, k, standardize=self.standardize,
                                 device=self.device, progress=False, log=False,
                                 callbacks=[report])
            if report.pruned:
                return Outcome("pruned", attrs={**attrs, "folds_done": k - 1})
            scores.append(float(history[-1][self.metric]))
        return Outcome("complete", statistics.fmean(scores),
                       {**attrs, "fold_values": scores, "std": statistics.stdev(scores)})
