"""Runs: train into a run directory, resume one, evaluate its checkpoint, predict with it.

These are what ``shallownet train | evaluate | predict`` call; each works the
same from Python.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from shallownet.atomic import remove_temporaries
from shallownet.errors import (
    CheckpointError,
    OutputError,
    RunConfigError,
    TrainingDiverged,
    UsageError,
)
from shallownet.interrupts import deferred_interrupts
from shallownet.metrics import per_class_accuracy
from shallownet.registry import MODELS, ModelSetup, build
from shallownet.runtime import resolve_device
from shallownet.training.checkpoint import (
    check_optimizer_state,
    load_checkpoint,
    restore_model,
    save_checkpoint,
)
from shallownet.training.config import RunConfig
from shallownet.training.data import TrainingData, data_kind, load_training_data
from shallownet.training.distributed import Group
from shallownet.training.rundir import RunDir, default_run_path
from shallownet.training.trainer import Trainer, parameter_errors

__all__ = ["RunResult", "check_compatible", "dataset_facts", "train_run", "resume_run",
           "evaluate_run", "predict_images", "GALLERY_SIZE"]

GALLERY_SIZE = 24
Log = Callable[[str], None]


@dataclass
class RunResult:
    """What a run produced: its directory, per-epoch history and final figures."""

    run_dir: RunDir
    config: RunConfig
    history: list[dict]
    summary: dict


def check_compatible(config: RunConfig, data: TrainingData | None = None) -> None:
    """Refuse a model that cannot train on the data (before loading it, and after).

    linreg needs a regression target; softmax, mlp and lenet class labels;
    logreg two classes; lenet images; only softmax has the compiled step.
    """
    model, name = config.model.model, config.data.name
    task = MODELS[model].task
    kind = data_kind(name)
    regression_data = kind == "synthetic" or (data is not None and data.task == "regression")
    if kind == "image" and task == "regression":
        raise UsageError(f"{model} fits a number per example; {name} has class labels. "
                         "Use --model softmax, mlp or lenet for images.")
    if kind == "image" and task == "binary":
        raise UsageError(f"logreg separates two classes, but {name} has 10. "
                         "Use --model softmax, mlp or lenet; logreg is for a CSV file with a "
                         "0/1 target.")
    if kind == "synthetic" and task != "regression":
        raise UsageError(f"synthetic-linear is a regression dataset (y = Xw + b + noise); "
                         f"train it with --model linreg, not {model}.")
    if model == "lenet" and kind != "image":
        raise UsageError(f"lenet is a convolutional network for images; {name} is not an image "
                         "dataset. Use --data fashion-mnist or mnist.")
    if config.train.kernel and model != "softmax":
        raise UsageError(f"--kernel is the compiled step of softmax regression; {model} trains "
                         "with the fused step or autograd. Leave out --kernel.")
    if data is None:
        return
    if task == "regression" and not regression_data:
        raise UsageError(f"{model} fits a number per example, but the target of {name} has "
                         f"{data.num_outputs} classes. Use --model softmax, mlp or logreg, or "
                         "--task regression.")
    if task != "regression" and regression_data:
        raise UsageError(f"{model} is a classifier, but the target of {name} is a continuous "
                         "value. Use --model linreg, or --task classification for integer "
                         "labels.")
    if task == "binary" and data.num_outputs != 2:
        raise UsageError(f"logreg separates two classes, but {name} has {data.num_outputs} "
                         f"({', '.join(data.classes or ())}). Use --model softmax or mlp.")


def dataset_facts(data: TrainingData) -> dict:
    """What a run must remember of its data: task, classes, input shape, normalisation."""
    return {
        "name": data.name, "task": data.task,
        "classes": list(data.classes) if data.classes is not None else None,
        "input_shape": list(data.input_shape),
        "train_examples": len(data.train_X), "test_examples": len(data.test_X),
        "mean": data.mean, "std": data.std, **data.details,
    }


def _build(config: RunConfig, data_facts: dict, device) -> ModelSetup:
    return build(config.model, input_shape=data_facts["input_shape"],
                 num_outputs=len(data_facts["classes"] or [None]),
                 seed=config.train.seed, device=device)


def train_run(
    config: RunConfig,
    out: str | os.PathLike | None = None,
    *,
    progress: bool | None = None,
    log: Log | bool | None = None,
    plots: bool = True,
    live_plot: bool | None = None,
    group: Group | None = None,
) -> RunResult:
    """Train ``config`` from scratch into the run directory ``out`` (default ``runs/...``).

    In a distributed run (``group``) every rank trains its shard; rank 0
    chooses, creates and writes the run directory.
    """
    config = config.resolved()
    check_compatible(config)
    if config.train.tensorboard:
        _require_tensorboard()  # before the run directory and the data
    device = resolve_device(config.train.device)
    main = group is None or group.is_main
    path = None
    if main:
        path = RunDir(out or default_run_path(config.model.model, config.model.impl,
                                              config.data.name)).check_new().path
    if group is not None:
        path = group.broadcast(path)
    run_dir = RunDir(path)
    data = load_training_data(config.data, progress=progress if main else False)
    check_compatible(config, data)
    facts = dataset_facts(data)
    if main:
        remove_temporaries(run_dir.create().path)  # of an earlier start killed mid-write
    try:
        if main:
            run_dir.write_config(config.to_dict(), facts)
        setup = _build(config, facts, device)
    except KeyboardInterrupt as exc:
        if run_dir.config.exists():
            _interrupted(exc, run_dir, "it starts again from epoch 0")
        raise
    return _train(run_dir, config, facts, setup, data, [], device=device, progress=progress,
                  log=log, plots=plots, live_plot=live_plot, group=group)


def resume_run(
    run_dir: str | os.PathLike,
    *,
    epochs: int | None = None,
    device: str | None = None,
    progress: bool | None = None,
    log: Log | bool | None = None,
    plots: bool = True,
    live_plot: bool | None = None,
    group: Group | None = None,
    tensorboard: bool | None = None,
) -> RunResult:
    """Continue the run in ``run_dir`` from its checkpoint up to ``epochs`` (default: its own).

    With the same seed the result is exactly that of an uninterrupted run (in
    a distributed run, ``group``, every rank reads the checkpoint; rank 0 writes).
    ``tensorboard`` turns the TensorBoard log on or off from now on (default:
    as the run had it).
    """
    run_dir = RunDir(run_dir)
    state, config, facts = _load_run(run_dir, fresh=True)
    main = group is None or group.is_main
    if main:
        remove_temporaries(run_dir.path)  # left by a process killed mid-write
    changes = {}
    if epochs is not None:
        changes["epochs"] = epochs
    if device is not None:
        changes["device"] = device
    if tensorboard is not None:
        changes["tensorboard"] = tensorboard
    if changes:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, **changes))
        config = config.resolved()
    done = state["epoch"] if state is not None else 0
    if config.train.epochs < done:
        raise UsageError(
            f"{run_dir.path} has already trained {done} epochs; --epochs "
            f"{config.train.epochs} would go back. Give --epochs {done + 1} or more."
        )
    if config.train.tensorboard:
        _require_tensorboard()  # before the data
    device = resolve_device(config.train.device)
    data = load_training_data(config.data, progress=progress if main else False)
    if state is None:  # stopped before its first checkpoint: start it again, same seed
        setup, history = _build(config, facts, device), []
    else:
        setup = _restore(state, config, facts, device, run_dir)
        history = state["history"][: state["epoch"]]
    return _train(run_dir, config, facts, setup, data, history, device=device,
                  progress=progress, log=log, plots=plots, live_plot=live_plot, group=group)


def _load_run(run_dir: RunDir, *, fresh: bool = False) -> tuple[dict | None, RunConfig, dict]:
    """The checkpoint's state, config and dataset facts.

    With ``fresh``, a run stopped before its first checkpoint was written (it
    has only ``config.json``) gives a state of None: it starts again.
    """
    if not run_dir.path.is_dir():
        raise RunConfigError(f"{run_dir.path} is not a run directory (no such directory).")
    state = None
    if not run_dir.checkpoint.exists() and run_dir.config.exists():
        saved = run_dir.read_config()
        if isinstance(saved, dict) and "folds" in saved:
            raise RunConfigError(
                f"{run_dir.path} is a {saved['folds']}-fold cross-validation run: it measures "
                "how well its settings generalise and keeps no model. Train without --folds "
                "to get a model to evaluate, resume or predict with."
            )
        if not fresh:
            raise CheckpointError(
                f"{run_dir.path} has no checkpoint.pt: the run was stopped before its first "
                "checkpoint. Resume it (it starts again from epoch 0) with "
                f"shallownet train --resume {shlex.quote(str(run_dir.path))}"
            )
        source = str(run_dir.config)
        if not isinstance(saved, dict):
            raise RunConfigError(f"{source} does not hold a JSON object.")
        saved = dict(saved)
    else:
        state = load_checkpoint(run_dir.checkpoint)
        source = f"the config in {run_dir.checkpoint}"
        saved = dict(state["config"])
    facts = saved.pop("dataset", None)
    saved.pop("shallownet", None)
    config = RunConfig.from_dict(saved, source=source)
    if not isinstance(facts, dict) or not isinstance(facts.get("input_shape"), list):
        raise CheckpointError(f"{source} lacks the dataset's facts (input shape, classes).")
    if state is None and not isinstance(facts.get("classes"), list | type(None)):
        raise RunConfigError(f"{source}: the dataset's classes must be a list or null.")
    return state, config, facts


def _restore(state: dict, config: RunConfig, facts: dict, device, run_dir: RunDir) -> ModelSetup:
    setup = _build(config, facts, device)
    restore_model(setup.model, state["model"], source=run_dir.checkpoint)
    try:
        check_optimizer_state(state["optimizer"], setup.optimizer, source=run_dir.checkpoint)
        setup.optimizer.load_state_dict(state["optimizer"])
    except (ValueError, KeyError, TypeError, IndexError, UsageError, RuntimeError) as exc:
        raise CheckpointError(
            f"the optimiser state in {run_dir.checkpoint} does not fit a "
            f"{config.model.optimizer} optimiser of this model: {exc}"
        ) from exc
    setup.model.to(device)
    return setup


def _require_tensorboard() -> None:
    from shallownet.training.tensorboard import require_tensorboard

    require_tensorboard()


def _train(run_dir: RunDir, config: RunConfig, facts: dict, setup: ModelSetup,
           data: TrainingData, history: list[dict], *, device, progress, log, plots,
           live_plot, group: Group | None = None) -> RunResult:
    """Train, with the run's TensorBoard log open around it when it has one (rank 0)."""
    options = {"device": device, "progress": progress, "log": log, "plots": plots,
               "live_plot": live_plot, "group": group}
    if not (config.train.tensorboard and (group is None or group.is_main)):
        return _fit(run_dir, config, facts, setup, data, history, tb=None, **options)
    from shallownet.training.tensorboard import TensorBoardLog

    try:
        tb = TensorBoardLog(run_dir.tensorboard, config, history=history)
    except OutputError as exc:
        raise OutputError(f"{exc} Once it is, continue with shallownet train --resume "
                          f"{shlex.quote(str(run_dir.path))} (add --no-tensorboard to go on "
                          "without the log).") from None
    except KeyboardInterrupt as exc:
        _interrupted(exc, run_dir, f"the checkpoint of epoch {len(history)} is saved"
                     if run_dir.checkpoint.exists() else "it starts again from epoch 0")
    with tb:  # flushed and closed however training ends
        return _fit(run_dir, config, facts, setup, data, history, tb=tb, **options)


def _fit(run_dir: RunDir, config: RunConfig, facts: dict, setup: ModelSetup,
         data: TrainingData, history: list[dict], *, tb, device, progress, log, plots,
         live_plot, group: Group | None = None) -> RunResult:
    main = group is None or group.is_main  # only rank 0 writes
    full = {**config.to_dict(), "dataset": facts}
    columns = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds")
    if setup.task == "regression":
        columns = ("epoch", "train_loss", "test_loss", "seconds")
        if data.true_w is not None:
            columns += ("w_error", "b_error")

    saved = [len(history)]

    def checkpoint(epoch: int, records: list[dict]) -> None:
        if not main:
            return
        with deferred_interrupts():  # Ctrl-C waits until the checkpoint and metrics agree
            save_checkpoint(run_dir.checkpoint, model=setup.model, optimizer=setup.optimizer,
                            config=full, epoch=epoch, history=records)
            saved[0] = epoch
            run_dir.write_metrics(records, columns=columns)
            if tb is not None and records:  # after the checkpoint: never an epoch it lacks
                tb.epoch(records[-1])

    trainer = Trainer(config.train.epochs, config.train.batch_size, seed=config.train.seed,
                      device=device, progress=progress, log=log, live_plot=live_plot,
                      kernel=config.train.kernel, group=group)
    try:
        if not history:
            checkpoint(0, [])  # a good checkpoint exists before the first step
        history = trainer.fit(setup, data, history=history, on_epoch_end=checkpoint)
    except TrainingDiverged as exc:
        done = exc.epoch - 1
        raise TrainingDiverged(
            f"{exc} The checkpoint of the last good epoch ({done}) is kept in "
            f"{run_dir.checkpoint}.", epoch=exc.epoch, step=exc.step,
        ) from None
    except OutputError as exc:
        if run_dir.checkpoint.exists():
            kept = f"The checkpoint of epoch {saved[0]} is kept in {run_dir.checkpoint}"
        elif run_dir.config.exists():
            kept = "The run stopped before its first checkpoint (resuming starts it again)"
        else:
            raise
        raise OutputError(f"{exc} {kept}; once the problem is fixed, continue with "
                          f"shallownet train --resume {shlex.quote(str(run_dir.path))}") from None
    except KeyboardInterrupt as exc:
        _interrupted(exc, run_dir, f"the checkpoint of epoch {saved[0]} is saved")
    summary, report = _final_figures(trainer, setup, data, config, history)
    if not main:
        return RunResult(run_dir=run_dir, config=config, history=history, summary=summary)
    run_dir.write_metrics(history, {"final": summary, **report}, columns=columns)
    try:
        figures = _draw(run_dir, setup, data, trainer, history, report, config) if plots else {}
        if tb is not None:
            tb.figures(figures, step=len(history))
            tb.hparams(summary)
    except OutputError as exc:
        what = " and ".join(["draw the figures"] * bool(plots)
                            + ["log to TensorBoard"] * (tb is not None))
        raise OutputError(
            f"{exc} Training is complete and its checkpoint and metrics are saved in "
            f"{run_dir.path}; to {what} once there is room, run "
            f"shallownet train --resume {shlex.quote(str(run_dir.path))}"
        ) from None
    return RunResult(run_dir=run_dir, config=config, history=history, summary=summary)


def _interrupted(exc: KeyboardInterrupt, run_dir: RunDir, state: str):
    """Say how to resume the run in ``run_dir``, then let the interruption go on."""
    print(f"shallownet: interrupted; {state}. Resume with:\n"
          f"  shallownet train --resume {shlex.quote(str(run_dir.path))}", file=sys.stderr)
    exc.reported = True
    raise exc


def _final_figures(trainer: Trainer, setup: ModelSetup, data: TrainingData, config: RunConfig,
                   history: list[dict]) -> tuple[dict, dict]:
    last = history[-1] if history else {}
    seconds = sum(r["seconds"] for r in history)
    summary = {"model": config.model.model, "impl": config.model.impl, "data": data.name,
               "epochs": len(history)}
    for key in ("train_loss", "train_acc", "test_loss", "test_acc", "w_error", "b_error"):
        if key in last:
            summary[key] = last[key]
    summary["seconds"] = seconds
    summary["samples_per_second"] = len(history) * len(data.train_X) / seconds if seconds else None
    report = {}
    if setup.task != "regression":
        matrix = trainer.evaluate(setup, data.test_X, data.test_y,
                                  confusion=True)["confusion_matrix"]
        report = {"classes": list(data.classes), "confusion_matrix": matrix.tolist(),
                  "per_class_acc": per_class_accuracy(matrix).tolist()}
    return summary, report


def _draw(run_dir: RunDir, setup, data: TrainingData, trainer: Trainer, history, report,
          config: RunConfig) -> dict[str, Path]:
    """Draw the run's figures into its directory; return the PNG files by name."""
    import matplotlib.pyplot as plt

    from shallownet.plots.confusion import plot_confusion_matrix
    from shallownet.plots.gallery import plot_prediction_gallery
    from shallownet.plots.images import save_figure
    from shallownet.plots.training import plot_training_curves

    title = f"{config.model.model} ({config.model.impl}) on {Path(data.name).name}"
    figures, pngs = [], {}
    if history:
        fig = plot_training_curves(history, total_epochs=config.train.epochs, title=title)
        figures.append(fig)
        pngs["curves"] = save_figure(fig, run_dir.curves_png)
        save_figure(fig, run_dir.curves_svg)
    if report:
        fig = plot_confusion_matrix(torch.tensor(report["confusion_matrix"]), data.classes,
                                    title=f"{title}: test set")
        figures.append(fig)
        pngs["confusion"] = save_figure(fig, run_dir.confusion)
    if report and data.is_image:
        images = data.test_X[:GALLERY_SIZE]
        predicted = setup.predict_labels(trainer.predict(setup, images)).cpu()
        fig = plot_prediction_gallery(
            _displayable(images, data), [data.classes[int(i)] for i in data.test_y[:len(images)]],
            [data.classes[int(i)] for i in predicted], title=f"{title}: first test images",
        )
        figures.append(fig)
        pngs["gallery"] = save_figure(fig, run_dir.gallery)
    for fig in figures:
        plt.close(fig)
    return pngs


def _displayable(images: torch.Tensor, data: TrainingData) -> torch.Tensor:
    if data.mean is not None:
        return images * data.std + data.mean
    return images


def evaluate_run(run_dir: str | os.PathLike, *, device: str | None = None,
                 progress: bool | None = None) -> dict:
    """Test figures of the checkpoint in ``run_dir``, recomputed from its weights.

    Returns ``test_loss``, ``test_acc`` (classifiers), per-class accuracy and
    the epoch, plus ``recorded_test_acc``/``recorded_test_loss``: what training
    recorded for that epoch.
    """
    run_dir = RunDir(run_dir)
    state, config, facts = _load_run(run_dir)
    device = resolve_device(device or config.train.device)
    data = load_training_data(config.data, progress=progress)
    if list(data.input_shape) != facts["input_shape"]:
        raise RunConfigError(f"the dataset {data.name} now has examples of shape "
                             f"{data.input_shape}, but the run trained on {facts['input_shape']}.")
    setup = _restore(state, config, facts, device, run_dir)
    trainer = Trainer(config.train.epochs, config.train.batch_size, seed=config.train.seed,
                      device=device, progress=False, log=False)
    result = {"run_dir": str(run_dir.path), "model": config.model.model,
              "impl": config.model.impl, "data": data.name, "epoch": state["epoch"]}
    test = trainer.evaluate(setup, data.test_X, data.test_y, confusion=True)
    result["test_loss"] = test["loss"]
    if "acc" in test:
        result["test_acc"] = test["acc"]
        per_class = per_class_accuracy(test["confusion_matrix"]).tolist()
        result["per_class_acc"] = dict(zip(data.classes, per_class, strict=True))
    if data.true_w is not None:
        result.update(parameter_errors(setup, data))
    history = state["history"]
    if state["epoch"] and len(history) >= state["epoch"]:
        recorded = history[state["epoch"] - 1]
        for key in ("test_loss", "test_acc"):
            if key in recorded:
                result[f"recorded_{key}"] = recorded[key]
    result["n"] = test["n"]
    return result


def predict_images(run_dir: str | os.PathLike, paths: Sequence[str | os.PathLike], *,
                   top: int = 3, invert: str | bool = "auto",
                   device: str | None = None) -> list[dict]:
    """Classify image files with the run's model: ``[{file, top: [(class, p), ...]}, ...]``.

    Each image is made greyscale, square and the model's size, and inverted
    when its background is light (the model learnt light objects on black).
    """
    from shallownet.data.imagefile import load_image_files

    if not isinstance(top, int) or isinstance(top, bool) or top < 1:
        raise UsageError(f"--top must be a positive whole number, not {top!r}.")
    if not paths:
        raise UsageError("give at least one image file to classify.")
    run_dir = RunDir(run_dir)
    state, config, facts = _load_run(run_dir)
    shape = facts["input_shape"]
    if len(shape) != 3 or shape[0] != 1 or not facts.get("classes"):
        raise UsageError(
            f"predict classifies greyscale images, but the run in {run_dir.path} was trained on "
            f"{facts.get('name')} (examples of shape {tuple(shape)}, task {facts.get('task')})."
        )
    device = resolve_device(device or config.train.device)
    setup = _restore(state, config, facts, device, run_dir)
    X = load_image_files(paths, size=tuple(shape[1:]), invert=invert,
                         mean=facts.get("mean"), std=facts.get("std"))
    trainer = Trainer(device=device, progress=False, log=False)
    probs = setup.probabilities(trainer.predict(setup, X)).cpu()
    classes = facts["classes"]
    k = min(top, len(classes))
    results = []
    for path, p in zip(paths, probs, strict=True):
        values, indices = p.topk(k)
        results.append({"file": str(path),
                        "top": [(classes[int(i)], float(v)) for v, i in
                                zip(values, indices, strict=True)]})
    return results
