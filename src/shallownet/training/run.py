"""Runs: train into a run directory, resume one, evaluate its checkpoint, predict with it.

These are what ``shallownet train | evaluate | predict`` call; each works the
same from Python. A run is a :class:`~shallownet.training.Trainer` with the
run directory's callbacks (:class:`~shallownet.training.rundir.Checkpoint`,
:class:`~shallownet.training.rundir.MetricsFiles`, TensorBoard), then its
final figures and pictures.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from shallownet.atomic import remove_temporaries
from shallownet.errors import (
    CheckpointError,
    Hint,
    OutputError,
    RunConfigError,
    TrainingDiverged,
    UsageError,
)
from shallownet.metrics import per_class_accuracy
from shallownet.phases import phase
from shallownet.registry import ModelSetup, build, check_compatible
from shallownet.runtime import resolve_device
from shallownet.training.callbacks import Callback, Together
from shallownet.training.checkpoint import check_optimizer_state, restore_model
from shallownet.training.config import RunConfig
from shallownet.training.data import TrainingData, load_training_data
from shallownet.training.distributed import Group
from shallownet.training.evaluation import evaluate, parameter_errors, predict
from shallownet.training.rundir import (
    FIGURE_COLUMNS,
    Checkpoint,
    MetricsFiles,
    RunDir,
    default_run_path,
    metric_columns,
    run_dir_of,
)
from shallownet.training.steps import choose_step
from shallownet.training.trainer import Trainer

__all__ = ["RunResult", "dataset_facts", "train_run", "resume_run", "evaluate_run",
           "predict_images", "GALLERY_SIZE"]

GALLERY_SIZE = 24
Log = Callable[[str], None]


@dataclass
class RunResult:
    """What a run produced: its directory, per-epoch history and final figures
    (``summary["step"]`` names the step that trained)."""

    run_dir: RunDir
    config: RunConfig
    history: list[dict]
    summary: dict


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


def with_step(config: RunConfig, group: Group | None = None) -> RunConfig:
    """``config`` with its step named: ``auto`` becomes the step it picks
    (:func:`~shallownet.training.steps.choose_step`), so the saved run records
    what trained and a resumed run trains the same way. A step that cannot
    serve is refused here, before any data loads (the compiled step is built
    now if it has to be)."""
    device = resolve_device(config.train.device)
    world = 1 if group is None else group.world_size
    choice = choose_step(config.model, config.train.step, device=device, world_size=world,
                         augment=bool(config.train.augment), precision=config.train.precision)
    if choice.name == "kernel":
        from shallownet.training.kernel import load_kernel

        load_kernel()  # KernelUnavailable (no compiler, no ninja) before the data
    return dataclasses.replace(config, train=dataclasses.replace(config.train, step=choice.name))


def train_run(
    config: RunConfig,
    out: str | os.PathLike | None = None,
    *,
    progress: bool | None = None,
    log: Log | bool | None = None,
    plots: bool = True,
    live_plot: bool | None = None,
    group: Group | None = None,
    callbacks: Sequence[Callback] = (),
    on_result: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Train ``config`` from scratch into the run directory ``out`` (default ``runs/...``).

    ``callbacks`` run after the run directory's own at the end of each epoch.
    ``on_result(result)`` is called once the final figures are known and saved,
    before the pictures are drawn (the command line prints its result then).
    In a distributed run (``group``) every rank trains its shard; rank 0
    chooses, creates and writes the run directory.
    """
    config = with_step(config.resolved(), group)
    if config.train.tensorboard:
        _require_tensorboard()  # before the run directory and the data
    if config.train.visdom:
        _require_visdom()
    device = resolve_device(config.train.device)
    main = group is None or group.is_main
    path = None
    if main:
        path = RunDir(out or default_run_path(config.model.model, config.model.impl,
                                              config.data.name)).check_new().path
    if group is not None:
        path = group.broadcast(path)
    run_dir = RunDir(path)
    with phase("data"):
        data = load_training_data(config.data, progress=progress if main else False)
    check_compatible(config.model, data.traits())
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
    run = _Run(run_dir, config, facts, setup, data, group, progress=progress, log=log,
               plots=plots, live_plot=live_plot, callbacks=callbacks, on_result=on_result)
    return run.train([])


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
    visdom: str | bool | None = None,
    callbacks: Sequence[Callback] = (),
    on_result: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Continue the run in ``run_dir`` from its checkpoint up to ``epochs`` (default: its own).

    With the same seed the result is exactly that of an uninterrupted run (in
    a distributed run, ``group``, every rank reads the checkpoint; rank 0 writes).
    The run keeps its step. ``tensorboard`` turns the TensorBoard log on or
    off from now on (default: as the run had it); so does ``visdom`` with
    the curves sent to a visdom server (a URL, True for the default server,
    False for none), which first gets the epochs already trained again.
    """
    run_dir = RunDir(run_dir)
    state, config, facts = _load_run(run_dir, fresh=True)
    main = group is None or group.is_main
    if main:
        remove_temporaries(run_dir.path)  # left by a process killed mid-write
    changes = {name: value for name, value in
               (("epochs", epochs), ("device", device), ("tensorboard", tensorboard))
               if value is not None}
    if visdom is not None:  # True: the default server; False: none from now on
        changes["visdom"] = _visdom_url(visdom)
    if changes:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, **changes))
        config = config.resolved()
    config = with_step(config, group)
    done = state["epoch"] if state is not None else 0
    if config.train.epochs < done:
        hint = Hint("epochs", done + 1)
        raise UsageError(
            f"{run_dir.path} has already trained {done} epochs; epochs="
            f"{config.train.epochs} would go back. Give {hint} or more.", hints=[hint]
        )
    if config.train.tensorboard:
        _require_tensorboard()  # before the data
    if config.train.visdom:
        _require_visdom()
    device = resolve_device(config.train.device)
    data = load_training_data(config.data, progress=progress if main else False)
    if state is None:  # stopped before its first checkpoint: start it again, same seed
        setup, history = _build(config, facts, device), []
    else:
        setup = _restore(state, config, facts, device, run_dir)
        history = state["history"][: state["epoch"]]
    run = _Run(run_dir, config, facts, setup, data, group, progress=progress, log=log,
               plots=plots, live_plot=live_plot, callbacks=callbacks, on_result=on_result)
    return run.train(history)


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
                f"how well its settings generalise and keeps no model. Train without "
                f"{Hint('folds')} to get a model to evaluate, resume or predict with.",
                hints=[Hint("folds")]
            )
        if not fresh:
            raise CheckpointError(
                f"{run_dir.path} has no checkpoint.pt: the run was stopped before its first "
                f"checkpoint. Resume it (it starts again from epoch 0) with "
                f"{_resume_hint(run_dir)}", hints=[_resume_hint(run_dir)]
            )
        source = str(run_dir.config)
        if not isinstance(saved, dict):
            raise RunConfigError(f"{source} does not hold a JSON object.")
        saved = dict(saved)
    else:
        state = run_dir.load_checkpoint()
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


def _require_visdom() -> None:
    from shallownet.training.visdom import require_visdom

    require_visdom()


def _visdom_url(visdom: str | bool) -> str | None:
    if visdom is True:
        from shallownet.training.visdom import DEFAULT_URL

        return DEFAULT_URL
    return visdom or None


def _resume_hint(run_dir: RunDir) -> Hint:
    return Hint.call("resume_run", run_dir.path)


@dataclass
class _Run:
    """One run being trained: where it writes, what it trains on, and with what."""

    run_dir: RunDir
    config: RunConfig
    facts: dict
    setup: ModelSetup
    data: TrainingData
    group: Group | None
    progress: bool | None = None
    log: Log | bool | None = None
    plots: bool = True
    live_plot: bool | None = None
    callbacks: Sequence[Callback] = ()
    on_result: Callable[[RunResult], None] | None = None

    @property
    def main(self) -> bool:
        """Only rank 0 writes."""
        return self.group is None or self.group.is_main

    def train(self, history: list[dict]) -> RunResult:
        """Train, with the run's TensorBoard log open around it when it has one (rank 0)."""
        if not (self.config.train.tensorboard and self.main):
            return self._fit(history, None)
        from shallownet.training.tensorboard import TensorBoardLog

        try:
            tb = TensorBoardLog(self.run_dir.tensorboard, self.config, history=history)
        except OutputError as exc:
            resume, off = _resume_hint(self.run_dir), Hint("tensorboard", False)
            raise OutputError(f"{exc} Once it is, continue with {resume} (add {off} to go on "
                              "without the log).", hints=[*exc.hints, resume, off]) from None
        except KeyboardInterrupt as exc:
            _interrupted(exc, self.run_dir, f"the checkpoint of epoch {len(history)} is saved"
                         if self.run_dir.checkpoint.exists() else "it starts again from epoch 0")
        with tb:  # flushed and closed however training ends
            return self._fit(history, tb)

    def _fit(self, history: list[dict], tb) -> RunResult:
        run_dir, setup, data, config = self.run_dir, self.setup, self.data, self.config
        plots = self.plots
        columns = metric_columns(setup.task, parameter_errors=data.true_w is not None,
                                 held_out=data.eval_name, metric=config.train.metric)
        checkpoint = Checkpoint(run_dir, {**config.to_dict(), "dataset": self.facts})
        files = [checkpoint, MetricsFiles(run_dir, columns)]
        if tb is not None:  # after the checkpoint: never an epoch it lacks
            from shallownet.training.tensorboard import TensorBoardEpochs

            files.append(TensorBoardEpochs(tb))
        own = [Together(files)] if self.main else []  # a checkpoint and its metrics agree
        if config.train.visdom and self.main:  # once the epoch is on disk
            from shallownet.training.visdom import VisdomCurves

            own.append(VisdomCurves(config.train.visdom,
                                    env=run_dir.path.resolve().name))
        if config.train.watch_gradients and self.main:  # before the record is written
            from shallownet.training.gradients import GradientWatch

            own.insert(0, GradientWatch(data.train_X, data.train_y, run_dir=run_dir,
                                        plots=plots,
                                        histograms=None if tb is None else tb.histograms))
        trainer = Trainer.from_config(config, progress=self.progress, log=self.log,
                                      live_plot=self.live_plot, group=self.group)
        if plots and self.main:
            from shallownet.plots.parallel import preload

            preload()  # matplotlib's import overlaps training
        try:
            history = trainer.fit(setup, data, history=history,
                                  callbacks=[*own, *self.callbacks], eval_name=data.eval_name)
        except TrainingDiverged as exc:
            raise TrainingDiverged(
                f"{exc} The checkpoint of the last good epoch ({exc.epoch - 1}) is kept in "
                f"{run_dir.checkpoint}.", epoch=exc.epoch, step=exc.step, hints=exc.hints,
            ) from None
        except OutputError as exc:
            if run_dir.checkpoint.exists():
                kept = (f"The checkpoint of epoch {checkpoint.saved_epoch} is kept in "
                        f"{run_dir.checkpoint}")
            elif run_dir.config.exists():
                kept = "The run stopped before its first checkpoint (resuming starts it again)"
            else:
                raise
            resume = _resume_hint(run_dir)
            raise OutputError(f"{exc} {kept}; once the problem is fixed, continue with "
                              f"{resume}", hints=[*exc.hints, resume]) from None
        except KeyboardInterrupt as exc:
            _interrupted(exc, run_dir, f"the checkpoint of epoch {checkpoint.saved_epoch} "
                                       "is saved")
        summary, report = _final_figures(trainer, setup, data, config, history)
        if not self.main:
            return RunResult(run_dir=run_dir, config=config, history=history, summary=summary)
        run_dir.write_metrics(history, {"final": summary, **report}, columns=columns)
        result = RunResult(run_dir=run_dir, config=config, history=history, summary=summary)
        if self.on_result is not None:
            self.on_result(result)  # before the pictures: nothing waits for them
        try:
            figures = _draw(run_dir, setup, data, history, report, config) if plots else {}
            if tb is not None:
                tb.figures(figures, step=len(history))
                tb.hparams(summary)
        except OutputError as exc:
            what = " and ".join(["draw the figures"] * bool(plots)
                                + ["log to TensorBoard"] * (tb is not None))
            resume = _resume_hint(run_dir)
            raise OutputError(
                f"{exc} Training is complete and its checkpoint and metrics are saved in "
                f"{run_dir.path}; to {what} once there is room, run {resume}",
                hints=[*exc.hints, resume],
            ) from None
        return result


def _interrupted(exc: KeyboardInterrupt, run_dir: RunDir, state: str):
    """Record on the interruption how to resume the run in ``run_dir``, then let it go on.

    The command line prints ``state`` and its resume command; Python (3.11 and
    later) shows the note in the traceback.
    """
    exc.run_dir, exc.state = run_dir.path, state
    if hasattr(exc, "add_note"):
        exc.add_note(f"shallownet: interrupted; {state}. Resume with "
                     f"{_resume_hint(run_dir)}")
    raise exc


def _final_figures(trainer: Trainer, setup: ModelSetup, data: TrainingData, config: RunConfig,
                   history: list[dict]) -> tuple[dict, dict]:
    last = history[-1] if history else {}
    seconds = sum(r["seconds"] for r in history)
    summary = {"model": config.model.model, "impl": config.model.impl, "data": data.name,
               "step": trainer.step_choice.name, "epochs": len(history)}
    for key in FIGURE_COLUMNS:
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


def _draw(run_dir: RunDir, setup, data: TrainingData, history, report,
          config: RunConfig) -> dict[str, Path]:
    """Draw the run's figures into its directory, at once where the system allows
    (:func:`~shallownet.plots.parallel.draw_all`); return the PNG files by name."""
    from shallownet.plots.confusion import plot_confusion_matrix
    from shallownet.plots.gallery import plot_prediction_gallery
    from shallownet.plots.parallel import draw_all
    from shallownet.plots.training import plot_training_curves

    title = f"{config.model.model} ({config.model.impl}) on {Path(data.name).name}"
    jobs, pngs = [], {}
    if history:
        jobs.append(lambda: _save(lambda: plot_training_curves(
            history, total_epochs=config.train.epochs, title=title),
            run_dir.curves_png, run_dir.curves_svg))
        pngs["curves"] = run_dir.curves_png
    if report:
        matrix = np.asarray(report["confusion_matrix"])
        jobs.append(lambda: _save(lambda: plot_confusion_matrix(
            matrix, data.classes, title=f"{title}: {data.eval_name} set"), run_dir.confusion))
        pngs["confusion"] = run_dir.confusion
    if report and data.is_image:
        images = data.test_X[:GALLERY_SIZE]
        predicted = setup.predict_labels(predict(setup, images)).cpu()
        shown = _displayable(images, data).cpu().numpy()  # arrays: the drawing needs no torch
        true = [data.classes[int(i)] for i in data.test_y[:len(images)]]
        guessed = [data.classes[int(i)] for i in predicted]
        jobs.append(lambda: _save(lambda: plot_prediction_gallery(
            shown, true, guessed, title=f"{title}: first {data.eval_name} images"),
            run_dir.gallery))
        pngs["gallery"] = run_dir.gallery
    with phase("figures"):
        draw_all(jobs)
    return pngs


def _save(draw, *paths: Path) -> None:
    """Draw a figure (``draw()``) and write it to each of ``paths``."""
    import matplotlib.pyplot as plt

    from shallownet.plots.save import save_figure

    fig = draw()
    try:
        for path in paths:
            save_figure(fig, path)
    finally:
        plt.close(fig)


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
    run_dir = run_dir_of(run_dir)
    state, config, facts = _load_run(run_dir)
    device = resolve_device(device or config.train.device)
    data = load_training_data(config.data, progress=progress)
    if list(data.input_shape) != facts["input_shape"]:
        raise RunConfigError(f"the dataset {data.name} now has examples of shape "
                             f"{data.input_shape}, but the run trained on {facts['input_shape']}.")
    setup = _restore(state, config, facts, device, run_dir)
    result = {"run_dir": str(run_dir.path), "model": config.model.model,
              "impl": config.model.impl, "data": data.name, "epoch": state["epoch"]}
    test = evaluate(setup, data.test_X, data.test_y, confusion=True)
    result["test_loss"] = test["loss"]
    if "acc" in test:
        result["test_acc"] = test["acc"]
        per_class = per_class_accuracy(test["confusion_matrix"]).tolist()
        result["per_class_acc"] = dict(zip(data.classes, per_class, strict=True))
    if data.true_w is not None:
        result.update(parameter_errors(setup, data.true_w, data.true_b))
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
        raise UsageError(f"top must be a positive whole number, not {top!r}.",
                         hints=[Hint("top")])
    if not paths:
        raise UsageError("give at least one image file to classify.")
    run_dir = run_dir_of(run_dir)
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
    probs = setup.probabilities(predict(setup, X)).cpu()
    classes = facts["classes"]
    k = min(top, len(classes))
    results = []
    for path, p in zip(paths, probs, strict=True):
        values, indices = p.topk(k)
        results.append({"file": str(path),
                        "top": [(classes[int(i)], float(v)) for v, i in
                                zip(values, indices, strict=True)]})
    return results
