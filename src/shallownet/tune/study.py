"""The study: Optuna's record of a search, in a database several processes can share.

A tune directory keeps its study in ``study.db`` (SQLite, through Optuna's
RDB storage); ``storage`` may name any database Optuna supports instead
(``sqlite:///path``, ``postgresql://...``, ``mysql://...``), so processes on
one machine or several work on one study.

The study records what it searches (:func:`describe`): the space, the fixed
settings, the metric and how trials are scored. A process that joins a study
with anything else is refused, naming what differs (:func:`open_study`).

Trials are taken one at a time (:func:`run_trials`): a process asks for a
trial only while the study holds fewer than its target, counted under a file
lock when the study is an SQLite file, so several processes on one file stop
at exactly the target with every trial recorded once.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from shallownet.errors import Hint, ShallownetError, UsageError

__all__ = ["open_storage", "open_study", "describe", "run_trials", "StopFlag", "Outcome",
           "counted_trials", "sqlite_path", "fail_stale", "SAMPLERS", "PRUNERS",
           "make_sampler", "make_pruner", "optuna_module"]

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "halving", "none")
#: the study's user attribute that holds :func:`describe`'s record
_RECORD = "shallownet"
#: a trial stopped by a second Ctrl-C or a dead process: not one of the study's results
INTERRUPTED = "interrupted"


def optuna_module():
    """``optuna``, with its INFO chatter off; a clear error where it is not installed."""
    try:
        with warnings.catch_warnings():  # tqdm.auto, which Optuna imports, in a notebook
            warnings.filterwarnings("ignore", message="IProgress not found")
            import optuna
    except ModuleNotFoundError:
        raise UsageError("searching needs Optuna: pip install 'shallownet[tune]'.") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def sqlite_path(url: str) -> Path | None:
    """The file of an ``sqlite:///`` URL (None for other databases or in-memory SQLite)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url[len(prefix):] in ("", ":memory:"):
        return None
    return Path(url[len(prefix):])


def open_storage(url: str):
    """Optuna's RDB storage at ``url``; a :class:`~shallownet.errors.UsageError` that says
    why when the database cannot be reached or its driver is missing."""
    optuna = optuna_module()
    import sqlalchemy.exc

    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise UsageError(f"cannot open the study database {url}: the directory {path.parent} "
                         "does not exist.")
    engine = {"connect_args": {"timeout": 60}} if path is not None else {"pool_pre_ping": True}
    # processes that open a new database at once would each create Optuna's tables: on one
    # machine a file lock beside an SQLite file orders them; elsewhere the loser tries again
    lock = FileLock(str(path) + ".lock") if path is not None else contextlib.nullcontext()
    try:
        with lock:
            for attempt in range(3):
                try:
                    return optuna.storages.RDBStorage(url, engine_kwargs=engine)
                except sqlalchemy.exc.IntegrityError:
                    if attempt == 2:
                        raise
                    time.sleep(0.5 * (attempt + 1))
    except ImportError as exc:  # Optuna re-raises the driver's ModuleNotFoundError bare
        dialect, _, named = url.split(":", 1)[0].partition("+")
        driver = exc.name or _DRIVERS.get(named or dialect, "the database's Python driver")
        raise UsageError(f"cannot open the study database {_safe(url)}: its driver is not "
                         f"installed (pip install {driver}).") from None
    except sqlalchemy.exc.ArgumentError as exc:
        raise UsageError(f"{_safe(url)} is not a database URL Optuna can use ({exc}); write "
                         "e.g. sqlite:///study.db or postgresql://user@host/db.") from None
    except (sqlalchemy.exc.SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise UsageError(f"cannot reach the study database {_safe(url)}: {reason}. Nothing "
                         "was searched.") from None


#: a database URL's dialect or driver (``mysql+pymysql``) -> the package that provides it
_DRIVERS = {"postgresql": "psycopg2-binary", "psycopg2": "psycopg2-binary",
            "psycopg": "psycopg", "mysql": "mysqlclient", "mysqldb": "mysqlclient",
            "pymysql": "PyMySQL", "mysqlconnector": "mysql-connector-python",
            "mariadb": "mysqlclient", "oracle": "oracledb", "mssql": "pyodbc"}


def _safe(url: str) -> str:
    """``url`` without its password."""
    head, at, tail = url.rpartition("@")
    if not at or "://" not in head:
        return url
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':')[0]}:***@{tail}" if ":" in user else url


def describe(space_texts: dict, fixed: dict, metric: str, direction: str, scoring: dict) -> dict:
    """What a study searches, recorded with it and compared whenever a process joins it."""
    record = {"space": space_texts, "fixed": fixed, "metric": metric, "direction": direction,
              "scoring": scoring}
    return json.loads(json.dumps(record))  # as the database keeps it: tuples become lists


def open_study(storage, name: str, record: dict, *, sampler, pruner, create: bool = True,
               wait: float = 10.0):
    """The study ``name`` in ``storage``, created with ``record`` if it does not exist
    (and ``create``); an existing study must have been created with the same record
    (one that has none yet gets ``wait`` seconds: its creator writes it just after)."""
    optuna = optuna_module()
    try:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler,
                                  pruner=pruner)
    except KeyError:
        if not create:
            raise UsageError(f"there is no study {name!r} in that database.") from None
        try:
            study = optuna.create_study(study_name=name, storage=storage, sampler=sampler,
                                        pruner=pruner, direction=record["direction"])
        except optuna.exceptions.DuplicatedStudyError:  # another process created it first
            study = optuna.load_study(study_name=name, storage=storage, sampler=sampler,
                                      pruner=pruner)
        else:
            study.set_user_attr(_RECORD, record)
            return study
    recorded = _wait_for_record(study, wait)
    differences = _differences(recorded, record)
    if differences:
        options = set(recorded.get("space", {})) | set(record.get("space", {}))
        raise UsageError(f"the study {name!r} was created to search something else, so these "
                         f"trials cannot join it: " + "; ".join(differences) + ". Give the "
                         "study's own settings, or another study name.",
                         hints=[Hint(o) for o in sorted(options)])
    return study


def _wait_for_record(study, seconds: float = 10.0) -> dict:
    """The study's record (a process that has just created it writes it a moment later)."""
    deadline = time.monotonic() + seconds
    while True:
        record = study.user_attrs.get(_RECORD)
        if isinstance(record, dict):
            return record
        if time.monotonic() > deadline:
            raise UsageError(f"the study {study.study_name!r} was not created by shallownet "
                             "tune (it records no search space).")
        time.sleep(0.1)


def _differences(recorded: dict, wanted: dict) -> list[str]:
    lines = []
    old, new = recorded.get("space", {}), wanted.get("space", {})
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            lines.append(f"{name} is {old.get(name, 'not searched')} in the study, "
                         f"{new.get(name, 'not searched')} here")
    for key in ("metric", "direction", "scoring"):
        if recorded.get(key) != wanted.get(key):
            lines.append(f"{key}: {recorded.get(key)} in the study, {wanted.get(key)} here")
    old, new = _flat(recorded.get("fixed", {})), _flat(wanted.get("fixed", {}))
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            lines.append(f"{key} is {old.get(key)} in the study, {new.get(key)} here")
    return lines


def _flat(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def make_sampler(name: str, seed: int):
    """Optuna's sampler for ``--sampler`` (a grid's points are queued in the study instead,
    so that several processes share them: its sampler only serves them)."""
    optuna = optuna_module()
    if name not in SAMPLERS:
        raise UsageError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}.")
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(name: str):
    """Optuna's pruner for ``--pruner``: the median rule (a trial stops when its figure is
    worse than the median of earlier trials at the same epoch, once 3 trials have finished,
    from the second epoch on), successive halving, or none."""
    optuna = optuna_module()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise UsageError(f"unknown pruner {name!r}; choose one of {', '.join(PRUNERS)}.")


def counted_trials(study) -> int:
    """The trials that count towards a study's size: finished, running, or failed by the
    settings (diverged); not those cut short by an interruption, nor queued grid points."""
    optuna = optuna_module()
    states = optuna.trial.TrialState
    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.state in (states.COMPLETE, states.PRUNED, states.RUNNING)
               or (t.state == states.FAIL and not t.user_attrs.get(INTERRUPTED)))


def fail_stale(study) -> int:
    """Mark the study's running trials as interrupted (their processes are gone); how many."""
    optuna = optuna_module()
    stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for trial in stale:
        study._storage.set_trial_user_attr(trial._trial_id, INTERRUPTED, True)
        study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    return len(stale)


@dataclass
class Outcome:
    """How a trial ended: ``state`` (complete, pruned, fail), its value, what to record."""

    state: str
    value: float | None = None
    attrs: dict | None = None


class StopFlag:
    """Ctrl-C (and SIGTERM) ask the search to stop once the current trial is recorded;
    a second one stops at once. Installed around :func:`run_trials` in the main thread."""

    def __init__(self) -> None:
        self.stopped = False
        self.signals = 0
        self.on_stop: Callable[[], None] | None = None

    def stop(self) -> None:
        self.stopped = True

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopFlag]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum, frame):
            self.signals += 1
            if self.signals > 1:
                raise KeyboardInterrupt
            self.stopped = True
            if self.on_stop is not None:
                self.on_stop()

        for s in previous:
            signal.signal(s, handler)
        try:
            yield self
        finally:
            for s, h in previous.items():
                signal.signal(s, h if h is not None else signal.SIG_DFL)


def run_trials(
    study,
    objective: Callable[[object], Outcome],
    *,
    target: int | None,
    deadline: float | None,
    stop: StopFlag,
    lock_path: Path | None = None,
    on_trial: Callable[[object], None] | None = None,
) -> int:
    """Ask for trials and run them until the study holds ``target`` trials, the wall clock
    passes ``deadline`` (``time.time()``; no trial starts after it), or ``stop`` is set.

    ``objective(trial)`` trains and returns an :class:`Outcome`; a KeyboardInterrupt
    inside it marks the trial interrupted (it does not count) and goes on up.
    Returns the number of trials this process ran.
    """
    optuna = optuna_module()
    states = {"complete": optuna.trial.TrialState.COMPLETE,
              "pruned": optuna.trial.TrialState.PRUNED, "fail": optuna.trial.TrialState.FAIL}
    lock = FileLock(str(lock_path)) if lock_path is not None else contextlib.nullcontext()
    ran = 0
    while not stop.stopped:
        if deadline is not None and time.time() >= deadline:
            break
        with lock:
            if target is not None and counted_trials(study) >= target:
                break
            if _grid_done(study):
                break
            trial = study.ask()
        try:
            outcome = objective(trial)
        except KeyboardInterrupt:
            study._storage.set_trial_user_attr(trial._trial_id, INTERRUPTED, True)
            study.tell(trial, state=states["fail"])
            raise
        except ShallownetError as exc:
            trial.set_user_attr("error", str(exc))
            study.tell(trial, state=states["fail"])
            raise
        for key, value in (outcome.attrs or {}).items():
            trial.set_user_attr(key, value)
        if outcome.state == "complete":
            frozen = study.tell(trial, outcome.value)
        else:
            frozen = study.tell(trial, state=states[outcome.state])
        ran += 1
        if on_trial is not None:
            on_trial(frozen)
    return ran


def _grid_done(study) -> bool:
    """A grid search is done when none of its queued points is left."""
    if "grid" not in study.user_attrs:
        return False
    optuna = optuna_module()
    return not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))


def finite(value) -> float | None:
    return value if isinstance(value, float) and math.isfinite(value) else None
