"""``tune``: search a space of training options with Optuna, then retrain the best once.

The search::

    for each trial (until N trials, or the time budget, or Ctrl-C):
        draw the options from the sampler (TPE, random, or the next grid point)
        train on the training set less its validation part (or on K − 1 folds)
        report the validation figure each epoch; the pruner may stop the trial
    best = the trial with the best validation figure
    retrain best on the whole training set; score it on the test set, once

Only the last line reads the test set. The retrained model is an ordinary run
directory, ``TUNE_DIR/best``, which ``evaluate``, ``predict`` and ``compare``
take like any other.

A tune directory holds::

    tune.json        what is searched and how (the space, the fixed settings, the scoring)
    study.db         the Optuna study (SQLite), unless --storage names another database
    trials.csv       one row per trial
    summary.json     the best options, their validation figure (with its spread over
                     folds) and the retrained run's test figures
    history.png, importances.png, slice.png, parallel.png
    best/            the retrained run
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shallownet.atomic import write_json
from shallownet.errors import Hint, OutputError, UsageError
from shallownet.training.config import RunConfig
from shallownet.training.run import RunResult, train_run
from shallownet.training.rundir import RunDir, unused_path
from shallownet.tune import report
from shallownet.tune.objective import DEFAULT_VAL_FRACTION, Objective, Scoring
from shallownet.tune.space import SearchSpace
from shallownet.tune.study import (
    INTERRUPTED,
    StopFlag,
    counted_trials,
    describe,
    fail_stale,
    make_pruner,
    make_sampler,
    open_storage,
    open_study,
    optuna_module,
    run_trials,
)

__all__ = ["tune", "resume_tune", "join_tune", "TuneResult", "TuneDir", "parse_duration"]

Log = Callable[[str], None]


@dataclass
class TuneResult:
    """A search's outcome: the Optuna study, the run retrained now (None when retraining
    was off, no trial finished, or the best trial is one whose run ``TUNE_DIR/best``
    already holds: ``summary["best_run"]`` names it), the summary in ``summary.json``."""

    study: object
    best_run: RunResult | None
    summary: dict
    tune_dir: Path


class TuneDir:
    """The files of one tune directory."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.settings = self.path / "tune.json"
        self.database = self.path / "study.db"
        self.lock = self.path / "study.lock"
        self.best = self.path / "best"
        self.trials_csv = self.path / "trials.csv"
        self.summary_json = self.path / "summary.json"
        self.workers = self.path / "workers"

    def create(self) -> TuneDir:
        if self.settings.exists():
            resume = Hint.call("resume_tune", self.path)
            raise OutputError(f"{self.path} already holds a search. Continue it with {resume}, "
                              f"or give another directory as {Hint('out')}.",
                              hints=[resume, Hint("out")])
        if self.path.exists() and not self.path.is_dir():
            raise OutputError(f"{self.path} is a file, not a directory: give another "
                              f"directory as {Hint('out')}.", hints=[Hint("out")])
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {self.path}: {exc.strerror or exc}.") from exc
        return self

    def read(self) -> dict:
        try:
            settings = json.loads(self.settings.read_text())
        except FileNotFoundError:
            raise UsageError(f"{self.path} is not a tune directory (it has no tune.json).") \
                from None
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {self.settings}: {exc}") from None
        if not isinstance(settings, dict) or "space" not in settings:
            raise UsageError(f"{self.settings} is not a search's settings.")
        return settings


def default_tune_path(model: str, data: str, root: str | os.PathLike = "runs") -> Path:
    """``runs/tune-MODEL-DATA-YYYYmmdd-HHMMSS`` (``-2``, ... if taken)."""
    stem = Path(data).stem if data.lower().endswith(".csv") else data
    return unused_path(Path(root) / f"tune-{model}-{stem}-{time.strftime('%Y%m%d-%H%M%S')}")


def parse_duration(text: str | float | int | None) -> float | None:
    """Seconds in ``90``, ``90s``, ``10m``, ``1h30m`` or ``1.5h`` (None stays None)."""
    if text is None or isinstance(text, int | float):
        if text is not None and not text > 0:
            raise UsageError(f"a time budget is a positive duration, not {text!r}.")
        return None if text is None else float(text)
    units = {"s": 1, "m": 60, "h": 3600}
    total, number = 0.0, ""
    for char in text.strip().lower():
        if char.isdigit() or char == ".":
            number += char
        elif char in units and number:
            total, number = total + float(number) * units[char], ""
        else:
            raise UsageError(f"{text!r} is not a duration; write e.g. 90s, 10m or 1h30m.")
    if number:
        total += float(number)
    if not total > 0:
        raise UsageError(f"a time budget is a positive duration, not {text!r}.")
    return total


def tune(
    space: SearchSpace | Mapping[str, str],
    base: RunConfig | None = None,
    *,
    trials: int | None = None,
    time_budget: str | float | None = None,
    sampler: str = "tpe",
    pruner: str = "median",
    seed: int = 0,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    folds: int | None = None,
    out: str | os.PathLike | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    workers: int = 1,
    retrain: bool = True,
    progress: bool | None = None,
    log: Log | bool | None = None,
    plots: bool = True,
    live: bool | None = None,
) -> TuneResult:
    """Search ``space`` (option -> distribution, e.g. ``{"lr": "log:1e-3:1"}``) over the
    settings ``base`` (default: softmax regression on Fashion-MNIST), then retrain the best.

    Trials are scored on a validation split of ``val_fraction`` of the training
    set, or by ``folds``-fold cross-validation; never on the test set. The search
    stops after ``trials`` trials in the study or ``time_budget`` (seconds, or
    ``"10m"``), whichever comes first (at least one is needed). ``workers``
    processes share the study; ``storage`` (a database URL) lets processes
    elsewhere join it. ``live`` redraws the optimisation history as trials
    finish, and the retrained run's curves, in a notebook cell (default: in
    Jupyter only). Returns a :class:`TuneResult`.
    """
    optuna_module()
    space = space if isinstance(space, SearchSpace) else SearchSpace(space)
    scoring = Scoring(val_fraction=val_fraction, folds=folds)
    scoring.check()
    budget = parse_duration(time_budget)
    _check_amounts(trials, workers, budget, grid=sampler == "grid")
    base = base if base is not None else RunConfig()
    # the seed draws the validation split (and a table's test split) as well as the trials'
    # weights and batches, as train --seed does
    base = dataclasses.replace(base, train=dataclasses.replace(base.train, seed=seed),
                               data=dataclasses.replace(base.data.resolved(), seed=seed))
    base.resolved()  # the fixed settings' own errors, said plainly
    space.check(base)
    make_sampler(sampler, seed)  # refuse an unknown name before anything is written
    make_pruner(pruner)
    if sampler == "grid":
        space.grid()  # refuse a range without a step, now
    tune_dir = TuneDir(out or default_tune_path(base.model.model, base.data.name))
    if storage is not None:
        open_storage(storage)  # a database that cannot be reached: refused before the dir
    created = not tune_dir.path.exists()
    tune_dir.create()
    settings = {
        "space": space.texts(), "base": base.to_dict(), "scoring": scoring.to_dict(),
        "sampler": sampler, "pruner": pruner, "seed": seed, "storage": storage,
        "study_name": study_name or (tune_dir.path.name if storage else "tune"),
        "trials": trials,
    }
    write_json(tune_dir.settings, settings)
    try:
        opened = _open(settings, tune_dir, progress=progress)
    except BaseException:  # the data, or a study that refuses these trials: nothing to keep
        if created:
            import shutil

            shutil.rmtree(tune_dir.path, ignore_errors=True)
        else:
            tune_dir.settings.unlink(missing_ok=True)
        raise
    return _search(tune_dir, settings, opened, trials=trials, budget=budget, workers=workers,
                   retrain=retrain, progress=progress, log=log, plots=plots, live=live,
                   fresh=True)


def resume_tune(
    tune_dir: str | os.PathLike,
    *,
    trials: int | None = None,
    time_budget: str | float | None = None,
    workers: int = 1,
    retrain: bool = True,
    progress: bool | None = None,
    log: Log | bool | None = None,
    plots: bool = True,
    live: bool | None = None,
) -> TuneResult:
    """Continue the search in ``tune_dir`` (stopped by Ctrl-C, a budget, or finished: give
    more ``trials``) with its own space and settings; then retrain the best."""
    optuna_module()
    tune_dir = TuneDir(tune_dir)
    settings = tune_dir.read()
    budget = parse_duration(time_budget)
    if trials is None and budget is None:
        trials = settings.get("trials")  # the search's own target (a budget is not kept)
    _check_amounts(trials, workers, budget, grid=settings["sampler"] == "grid")
    settings = {**settings, "trials": trials}
    write_json(tune_dir.settings, settings)
    return _search(tune_dir, settings, _open(settings, tune_dir, progress=progress), trials=trials,
                   budget=budget, workers=workers,
                   retrain=retrain, progress=progress, log=log, plots=plots, live=live,
                   fresh=False)


def join_tune(tune_dir: str | os.PathLike, *, trials: int | None, deadline: float | None,
              index: int) -> int:
    """A worker process: run trials of the study in ``tune_dir`` until its target or
    ``deadline``; print nothing (the process that started it reports)."""
    tune_dir = TuneDir(tune_dir)
    settings = tune_dir.read()
    study, objective, _ = _open(settings, tune_dir, seed_offset=index)
    with StopFlag().installed() as stop:
        return run_trials(study, objective, target=trials, deadline=deadline, stop=stop,
                          lock_path=_lock(settings, tune_dir))


def _check_amounts(trials, workers, budget, *, grid: bool = False) -> None:
    if trials is not None and (not isinstance(trials, int) or isinstance(trials, bool)
                               or trials < 1):
        raise UsageError(f"trials must be a whole number of at least 1, not {trials!r}.",
                         hints=[Hint("trials")])
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise UsageError(f"workers must be a whole number of at least 1, not {workers!r}.",
                         hints=[Hint("workers")])
    if trials is None and budget is None and not grid:
        raise UsageError(f"say when the search ends: give {Hint('trials')} or "
                         f"{Hint('time_budget')} (or both).",
                         hints=[Hint("trials"), Hint("time_budget")])


def _lock(settings: dict, tune_dir: TuneDir) -> Path | None:
    from shallownet.tune.study import sqlite_path

    path = sqlite_path(_storage_url(settings, tune_dir))
    return None if path is None else path.with_name(path.name + ".lock")


def _storage_url(settings: dict, tune_dir: TuneDir) -> str:
    """The study's database: the one ``--storage`` named, else the directory's own file
    (found wherever the directory is now)."""
    return settings["storage"] or f"sqlite:///{tune_dir.database.absolute()}"


def _open(settings: dict, tune_dir: TuneDir, *, seed_offset: int = 0,
          progress: bool | None = False):
    """The study, the objective and the space of ``settings``."""
    from shallownet.runtime import derive_seed

    space = SearchSpace(settings["space"])
    base = RunConfig.from_dict(settings["base"], source="tune.json")
    scoring = Scoring(**settings["scoring"])
    objective = Objective(base, space, scoring, progress=progress)
    record = describe(space.texts(), settings["base"], objective.metric, objective.direction,
                      scoring.to_dict())
    storage = open_storage(_storage_url(settings, tune_dir))
    study = open_study(storage, settings["study_name"], record,
                       sampler=make_sampler(settings["sampler"], settings["seed"]),
                       pruner=make_pruner(settings["pruner"]))
    # A process that starts on a study with trials in it (a resumed search, a worker, a
    # process joining a shared database) draws from a stream of its own, or it would draw
    # the trials already there again. A fresh search keeps --seed's own stream.
    held = len(study.get_trials(deepcopy=False))
    shared = settings["storage"] is not None
    if held or seed_offset:
        keys = (seed_offset, held, os.getpid() if shared and not seed_offset else 0)
        study.sampler = make_sampler(settings["sampler"],
                                     derive_seed(settings["seed"], *keys) % 2**32)
    return study, objective, space


def _search(tune_dir: TuneDir, settings: dict, opened, *, trials, budget, workers, retrain,
            progress, log, plots, live, fresh: bool) -> TuneResult:
    from shallownet.training.printing import line_printer

    emit = line_printer(log)
    study, objective, space = opened
    earlier = _read_summary(tune_dir)
    lock = _lock(settings, tune_dir)
    if settings["sampler"] == "grid":
        _queue_grid(study, space, lock)
        size = study.user_attrs["grid"]
        trials = size if trials is None else min(trials, size)
    if not fresh and settings["storage"] is None:
        stale = fail_stale(study)  # this directory's own study: nobody else runs its trials
        if stale:
            emit(f"{stale} trial{'s' * (stale > 1)} left running by a stopped search "
                 "marked interrupted")
    metric = objective.metric
    deadline = time.time() + budget if budget is not None else None
    emit(f"searching {', '.join(space)} for {metric} ({objective.direction}) on "
         f"{settings['base']['data']['name']}, scored by {objective.scoring.describe()}; "
         f"{settings['sampler']} sampler, {_PRUNING[settings['pruner']]}, "
         f"{_ends(trials, budget)}; study {settings['study_name']} in "
         f"{_where(settings, tune_dir)}")
    held = counted_trials(study)
    if trials is not None and held >= trials and settings["sampler"] != "grid":
        emit(f"the study already holds {held} trials, its target is {trials}: nothing to "
             f"search (ask for more than {held} trials to search on)")
    bar = _Bar(trials, budget, held, enabled=progress)
    live_plot = report.LiveHistory(study, metric, enabled=live)

    def finished(trial) -> None:
        bar.write(report.trial_line(trial, metric), emit)
        bar.advance(counted_trials(study))
        live_plot.update(trial)

    stop = StopFlag()
    try:
        with stop.installed():
            if workers == 1:
                run_trials(study, objective, target=trials, deadline=deadline, stop=stop,
                           lock_path=lock, on_trial=finished)
            else:
                _run_workers(tune_dir, study, trials, deadline, workers, stop, finished)
    except KeyboardInterrupt as exc:
        _write_report(tune_dir, study, metric, plots, None, settings)
        exc.run_dir, exc.state = tune_dir.path, "the study keeps every finished trial"
        exc.resume = Hint.call("resume_tune", tune_dir.path)
        raise
    finally:
        bar.close()
    summary = _write_report(tune_dir, study, metric, plots, None, settings)
    if stop.stopped:
        interrupt = KeyboardInterrupt()
        interrupt.run_dir = tune_dir.path
        interrupt.state = (f"stopped after the current trial; the study keeps its "
                           f"{sum(summary['trials'].values())} trials")
        interrupt.resume = Hint.call("resume_tune", tune_dir.path)
        raise interrupt
    best_run = None
    if retrain and summary.get("best_trial") is not None \
            and earlier.get("best_run_trial") == summary["best_trial"] \
            and RunDir(tune_dir.best).read_final() is not None:
        emit(f"trial {summary['best_trial']} is still the best: its retrained run is "
             f"{tune_dir.best}")
        summary = _write_report(tune_dir, study, metric, False, None, settings,
                                kept=_retrained(earlier))
    elif retrain and summary.get("best_trial") is not None:
        best = study.best_trial
        config = objective.config(space.values(best.params))
        emit(f"retraining trial {best.number} on the whole training set into {tune_dir.best}; "
             "its test figures are the first the search sees, and choose nothing")
        if tune_dir.best.exists():
            import shutil

            shutil.rmtree(tune_dir.best)  # a retrain of an earlier, smaller search
        best_run = train_run(config, tune_dir.best, progress=progress, log=log, plots=plots,
                             live_plot=live)
        summary = _write_report(tune_dir, study, metric, plots, best_run, settings)
    elif summary.get("best_trial") is None:
        emit("no trial finished, so there is nothing to retrain")
    return TuneResult(study=study, best_run=best_run, summary=summary, tune_dir=tune_dir.path)


def _queue_grid(study, space: SearchSpace, lock: Path | None) -> None:
    """Queue every point of the grid in the study, once (the first process does it)."""
    import contextlib
    import itertools

    from filelock import FileLock

    with FileLock(str(lock)) if lock is not None else contextlib.nullcontext():
        study_attrs = study.user_attrs
        if "grid" in study_attrs:
            return
        grid = space.grid()
        names = list(grid)
        points = list(itertools.product(*grid.values()))
        for point in points:
            study.enqueue_trial(dict(zip(names, point, strict=True)), skip_if_exists=True)
        study.set_user_attr("grid", len(points))


def _run_workers(tune_dir: TuneDir, study, trials, deadline, workers: int, stop: StopFlag,
                 finished) -> None:
    """Start ``workers`` processes on the study; report their trials as they finish."""
    import signal

    tune_dir.workers.mkdir(exist_ok=True)
    env = {**os.environ, "SHALLOWNET_THREADS": str(max(1, (os.cpu_count() or 1) // workers))}
    procs = []
    for index in range(1, workers + 1):
        command = [sys.executable, "-m", "shallownet", "tune", "--join", str(tune_dir.path),
                   "--worker-index", str(index)]
        if trials is not None:
            command += ["--trials", str(trials)]
        if deadline is not None:
            command += ["--deadline", repr(deadline)]
        log_file = open(tune_dir.workers / f"worker-{index}.log", "w")  # noqa: SIM115
        # a session of their own: a Ctrl-C at the terminal reaches this process, which
        # passes it on once (a second one would stop their trials half-way)
        procs.append((subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=env,
                                       start_new_session=True), log_file))

    def forward():
        for proc, _ in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)

    stop.on_stop = forward
    seen = {t.number for t in study.get_trials(deepcopy=False)
            if t.state.is_finished()}
    try:
        while True:
            alive = [p for p, _ in procs if p.poll() is None]
            for trial in study.get_trials(deepcopy=False):
                if trial.state.is_finished() and trial.number not in seen \
                        and not trial.user_attrs.get(INTERRUPTED):
                    seen.add(trial.number)
                    finished(trial)
            if not alive:
                break
            time.sleep(0.3)
    except KeyboardInterrupt:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc, _ in procs:
            proc.wait()
        raise
    finally:
        for _, log_file in procs:
            log_file.close()
    failed = [(i, p.returncode) for i, (p, _) in enumerate(procs, start=1)
              if p.returncode not in (0, 130)]
    if failed:
        index, status = failed[0]
        text = (tune_dir.workers / f"worker-{index}.log").read_text().strip().splitlines()
        reason = text[-1] if text else f"exit status {status}"
        raise UsageError(f"worker {index} of {workers} stopped with exit status {status}: "
                         f"{reason} (its log: {tune_dir.workers / f'worker-{index}.log'}).")


def _read_summary(tune_dir: TuneDir) -> dict:
    """The directory's summary.json as it was (empty when there is none, or it is damaged)."""
    try:
        summary = json.loads(tune_dir.summary_json.read_text())
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def _retrained(summary: dict) -> dict:
    """What a summary says of its retrained run."""
    return {k: v for k, v in summary.items()
            if k in ("best_run", "best_run_trial") or k.startswith("final_")}


def _write_report(tune_dir: TuneDir, study, metric: str, plots: bool,
                  best_run: RunResult | None, settings: dict, kept: dict | None = None) -> dict:
    trials = study.get_trials(deepcopy=False)
    report.write_trials_csv(tune_dir.trials_csv, trials, metric)
    summary = {"tune_dir": str(tune_dir.path), "metric": metric,
               "direction": study.direction.name.lower(), "space": settings["space"],
               "scoring": settings["scoring"], "study_name": settings["study_name"],
               "storage": _where(settings, tune_dir), "trials": report.counts(study),
               **report.best_summary(study, metric, SearchSpace(settings["space"]))}
    summary.update(kept or {})
    if best_run is not None:
        summary["best_run"] = str(best_run.run_dir.path)
        summary["best_run_trial"] = summary["best_trial"]
        summary.update({f"final_{k}": v for k, v in best_run.summary.items()
                        if k.startswith(("test_", "train_")) and isinstance(v, float)})
        if isinstance(best_run.summary.get("seconds"), float):
            summary["final_seconds"] = best_run.summary["seconds"]  # the retrain's training
    if plots:
        summary["figures_left_out"] = report.draw_figures(study, tune_dir.path, metric)
    write_json(tune_dir.summary_json, summary)
    return summary


#: --pruner -> how the search line says it
_PRUNING = {"median": "median pruner", "halving": "successive-halving pruner",
            "none": "no pruning"}


def _ends(trials, budget) -> str:
    parts = ([f"{trials} trial{'s' * (trials != 1)}"] if trials is not None else []) + \
            ([f"a budget of {_duration(budget)}"] if budget is not None else [])
    return " or ".join(parts)


def _duration(seconds: float) -> str:
    if seconds >= 60:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    return f"{seconds:g} s"


def _where(settings: dict, tune_dir: TuneDir) -> str:
    """Where the study is, for people: the directory's own ``study.db`` as the directory
    was named, a file a ``sqlite:///`` URL names, or a URL with its password hidden."""
    from shallownet.tune.study import _safe, sqlite_path

    url = settings["storage"]
    if url is None:
        return str(tune_dir.database)
    path = sqlite_path(url)
    return str(path) if path is not None else _safe(url)


class _Bar:
    """A progress bar over the trials (or the budget's seconds), on a terminal."""

    def __init__(self, trials, budget, done: int, *, enabled: bool | None) -> None:
        self.bar = None
        if enabled is False or (enabled is None and not sys.stderr.isatty()):
            return
        from tqdm import tqdm

        if trials is not None:
            self.bar = tqdm(total=trials, initial=min(done, trials), unit="trial",
                            desc="search", leave=False)
        else:
            self.bar = tqdm(total=round(budget), unit="s", desc="budget", leave=False)
            self.start = time.time()

    def write(self, line: str, emit) -> None:
        if self.bar is None:
            emit(line)
        else:
            with self.bar.external_write_mode():
                emit(line)

    def advance(self, done: int) -> None:
        if self.bar is None:
            return
        if self.bar.unit == "trial":
            self.bar.n = min(done, self.bar.total)
        else:
            self.bar.n = min(round(time.time() - self.start), self.bar.total)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
