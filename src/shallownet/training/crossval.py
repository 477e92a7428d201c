"""K-fold cross-validation: how well a configuration generalises, with its spread.

The training set is shuffled once (from the seed) and cut into K folds of
(nearly) equal size; fold k trains a fresh model on the other K − 1 folds and
scores it on fold k. The test set is never touched. Features of a CSV dataset
are standardised with the statistics of each fold's training part only.
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
from collections.abc import Callable, Sequence

import torch

from shallownet.data.tabular import Standardizer
from shallownet.errors import Hint, UsageError
from shallownet.registry import build, check_compatible
from shallownet.runtime import FOLD_RUN, FOLDS, derive_seed, resolve_device
from shallownet.training.callbacks import Callback
from shallownet.training.config import RunConfig
from shallownet.training.data import TrainingData, load_training_data
from shallownet.training.printing import line_printer
from shallownet.training.run import dataset_facts, with_step
from shallownet.training.rundir import RunDir, default_run_path
from shallownet.training.trainer import Trainer

__all__ = ["check_folds", "kfold_indices", "cross_validate", "load_fold_data", "train_fold"]


def check_folds(k) -> None:
    """Refuse a fold count below 2 (or not a whole number)."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise UsageError(f"folds must be a whole number of at least 2, not {k!r}.",
                         hints=[Hint("folds")])


def kfold_indices(n: int, k: int, *, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``k`` pairs (train indices, validation indices) covering ``range(n)``; folds disjoint."""
    check_folds(k)
    if n < k:
        raise UsageError(f"{n} training examples cannot be split into {k} folds.")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(derive_seed(seed, FOLDS)))
    folds = torch.tensor_split(perm, k)
    return [(torch.cat([f for j, f in enumerate(folds) if j != i]), folds[i])
            for i in range(k)]


def cross_validate(
    config: RunConfig,
    folds: int,
    out: str | os.PathLike | None = None,
    *,
    progress: bool | None = None,
    log: Callable[[str], None] | bool | None = None,
    plots: bool = True,
) -> dict:
    """Run K-fold cross-validation of ``config``; write the run directory; return the summary.

    The summary has ``folds``, per-fold ``fold_val_loss`` (and ``fold_val_acc``),
    their ``val_loss_mean``/``val_loss_std`` (and accuracy; with
    ``metric="log-rmse"``, ``fold_train_log_rmse``, ``fold_val_log_rmse`` and
    their means and stds, each fold's pair printed as the chapter's table and
    then their averages), ``seconds`` and
    ``samples_per_second``. The std is the sample standard deviation (K − 1).
    """
    config = with_step(config.resolved())
    check_folds(folds)
    device = resolve_device(config.train.device)
    run_dir = RunDir(out or default_run_path(config.model.model, config.model.impl,
                                             config.data.name)).check_new()
    data, standardize = load_fold_data(config, progress=progress)
    splits = kfold_indices(len(data.train_X), folds, seed=config.train.seed)
    run_dir.create().write_config({**config.to_dict(), "folds": folds}, dataset_facts(data))
    emit = line_printer(log)

    records, scores, examples = [], [], 0
    for k, split in enumerate(splits, start=1):
        examples += config.train.epochs * len(split[0])
        history = train_fold(config, data, split, k, standardize=standardize, device=device,
                             progress=progress,
                             log=lambda line, k=k: emit(f"fold {k}/{folds}  {line}"))
        records += [{"fold": k, **r} for r in history]
        scores.append(history[-1])
        run_dir.write_metrics(records)
        if "val_log_rmse" in history[-1]:  # the chapter's table, fold by fold
            emit(f"fold {k}, train log rmse {history[-1]['train_log_rmse']:.6f}, "
                 f"valid log rmse {history[-1]['val_log_rmse']:.6f}")

    summary = _summary(config, data, folds, scores, records, examples)
    if "val_log_rmse_mean" in summary:
        emit(f"{folds}-fold validation: avg train log rmse: "
             f"{summary['train_log_rmse_mean']:.6f}, avg valid log rmse: "
             f"{summary['val_log_rmse_mean']:.6f}")
    run_dir.write_metrics(records, {"final": summary})
    if plots:
        _draw(run_dir, records, config, folds)
    return {**summary, "run_dir": str(run_dir.path)}


def load_fold_data(config: RunConfig, *, progress: bool | None = None
                   ) -> tuple[TrainingData, bool]:
    """The training data the folds of ``config`` are cut from, and whether each fold
    standardises its features itself (a CSV dataset: with its training part's statistics)."""
    standardize = config.data.traits().kind == "table" and config.data.standardize
    spec = dataclasses.replace(config.data, standardize=False) if standardize else config.data
    data = load_training_data(spec, progress=progress, keep_missing=standardize)
    check_compatible(config.model, data.traits())
    return data, standardize


def train_fold(
    config: RunConfig,
    data: TrainingData,
    split: tuple[torch.Tensor, torch.Tensor],
    k: int,
    *,
    standardize: bool = False,
    device=None,
    progress: bool | None = None,
    log: Callable[[str], None] | bool | None = False,
    callbacks: Sequence[Callback] = (),
) -> list[dict]:
    """Train fold ``k`` (1-based) of ``config`` on the rows ``split[0]`` of ``data``'s
    training set and score it on the rows ``split[1]``; return its history (``val_`` figures).

    Fold k's model starts from the run's seed and its batches and dropout from
    a seed of its own (``derive_seed(seed, FOLD_RUN, k)``): the same fold of the
    same settings gives the same figures wherever it is trained.
    """
    train_idx, val_idx = split
    fold = _fold_data(data, train_idx, val_idx, standardize)
    device = resolve_device(config.train.device) if device is None else device
    setup = build(config.model, input_shape=fold.input_shape, num_outputs=fold.num_outputs,
                  seed=config.train.seed, device=device)
    own = dataclasses.replace(config.train, seed=derive_seed(config.train.seed, FOLD_RUN, k))
    trainer = Trainer.from_config(dataclasses.replace(config, train=own), progress=progress,
                                  live_plot=False, log=log)
    return trainer.fit(setup, fold, eval_name="val", callbacks=callbacks)


def _fold_data(data: TrainingData, train_idx, val_idx, standardize: bool) -> TrainingData:
    train_X, val_X = data.train_X[train_idx], data.train_X[val_idx]
    if standardize:
        scaler = Standardizer(skip=data.categorical_columns).fit(train_X)
        train_X, val_X = scaler.transform(train_X), scaler.transform(val_X)
    return dataclasses.replace(
        data, train_X=train_X, train_y=data.train_y[train_idx],
        test_X=val_X, test_y=data.train_y[val_idx],
    )


def _summary(config: RunConfig, data: TrainingData, folds: int, scores: list[dict],
             records: list[dict], examples: int) -> dict:
    seconds = sum(r["seconds"] for r in records)
    summary = {"model": config.model.model, "impl": config.model.impl, "data": data.name,
               "step": config.train.step, "epochs": config.train.epochs, "folds": folds}
    for key in ("val_loss", "val_acc", "train_log_rmse", "val_log_rmse", "w_error", "b_error"):
        values = [s[key] for s in scores if key in s]
        if len(values) == folds:
            summary[f"fold_{key}"] = values
            summary[f"{key}_mean"] = statistics.fmean(values)
            summary[f"{key}_std"] = statistics.stdev(values)
    summary["seconds"] = seconds
    summary["samples_per_second"] = (
        examples / seconds if seconds > 0 else math.nan
    )
    return summary


def _draw(run_dir: RunDir, records: list[dict], config: RunConfig, folds: int) -> None:
    import matplotlib.pyplot as plt

    from shallownet.plots.save import save_figure
    from shallownet.plots.training import plot_training_curves

    epochs = sorted({r["epoch"] for r in records})
    mean_history = []
    for epoch in epochs:
        rows = [r for r in records if r["epoch"] == epoch]
        keys = [k for k in rows[0] if k not in ("fold", "epoch")]
        mean_history.append({"epoch": epoch, **{k: statistics.fmean(r[k] for r in rows)
                                                 for k in keys}})
    fig = plot_training_curves(mean_history, total_epochs=config.train.epochs,
                               title=f"{config.model.model} ({config.model.impl}): "
                                     f"mean of {folds} folds")
    save_figure(fig, run_dir.curves_png)
    save_figure(fig, run_dir.curves_svg)
    plt.close(fig)
