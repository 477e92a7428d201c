"""Several runs side by side: what differs in their configs, their final figures, their curves.

The exploration that follows the chapter — train with ``lr`` 0.01, 0.1 and 1,
then look at the three together::

    >>> comparison = compare_runs(["runs/a", "runs/b", "runs/c"])  # doctest: +SKIP
    >>> comparison.labels                                           # doctest: +SKIP
    ['lr 0.01', 'lr 0.1', 'lr 1']
    >>> print(comparison.table())                                   # doctest: +SKIP
    >>> fig = comparison.plot()                                     # doctest: +SKIP

Each run is labelled by the settings (model, data and training sections of
its ``config.json``) whose values differ across the runs, in short names
(``lr 0.1, batch 64``); runs whose settings are all the same are labelled by
their directory names. The figures come from ``metrics.csv``, so a run still
in progress is compared over the epochs it has finished.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from shallownet.errors import Hint, RunConfigError, UsageError
from shallownet.training.config import RunConfig
from shallownet.training.rundir import FIGURE_COLUMNS, run_dir_of

__all__ = ["ComparedRun", "Comparison", "compare_runs", "read_run", "format_value",
           "describe_setting", "setting_name", "varied_settings", "label_runs"]

#: The final figures of a run, in table order: a single run's (not cross-validation's).
FIGURES = tuple(c for c in FIGURE_COLUMNS if not c.startswith("val_"))
#: The per-epoch columns of ``metrics.csv`` a comparison reads (others are ignored).
METRICS = (*FIGURES, "seconds")


# --------------------------------------------------------------------------- values and names


def format_value(value, *, precise: bool = False) -> str:
    """A setting's value as a label shows it: ``0.1`` (not 0.10000000149), ``1e-4``, ``128,64``.

    Floats get 6 significant digits (``precise``: all the digits that tell them
    apart, Python's shortest round-trip form); whole floats lose their ``.0``;
    exponents lose their leading zeros. Tuples and lists are joined with commas,
    None is ``none`` and booleans are ``yes`` / ``no``.
    """
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = repr(value) if precise else f"{value:g}"
        if text.endswith(".0"):
            text = text[:-2]
        return re.sub(r"e([+-])0*(\d)", lambda m: "e" + m[1].replace("+", "") + m[2], text)
    if isinstance(value, list | tuple):
        return ",".join(format_value(v, precise=precise) for v in value)
    return str(value)


def _named(name: str) -> Callable[[object, bool], str]:
    return lambda value, precise: f"{name} {format_value(value, precise=precise)}"


def _bare(value, precise: bool) -> str:
    return format_value(value, precise=precise)


def _flag(on: str, off: str) -> Callable[[object, bool], str]:
    return lambda value, precise: on if value else off


def _then(word: str) -> Callable[[object, bool], str]:
    return lambda value, precise: f"{format_value(value, precise=precise)} {word}"


def _data_name(value, precise: bool) -> str:
    # fashion-mnist, synthetic-linear, or a CSV file's stem (its absolute path is too long)
    return Path(value).stem if isinstance(value, str) and value.lower().endswith(".csv") \
        else format_value(value)


def _data_dir(value, precise: bool) -> str:
    return "default data dir" if value is None else f"data dir {Path(value).name or value}"


def _loss(value, precise: bool) -> str:
    return f"{str(value).replace('_', '-')} loss"


def _backward(value, precise: bool) -> str:
    return "backprop by hand" if value == "hand" else str(value)


def _all_or(name: str) -> Callable[[object, bool], str]:
    return lambda value, precise: f"{name} {'all' if value is None else format_value(value)}"


#: (section, key) of a run config -> (short name, how a value reads in a label). Settings not
#: listed here (added later) read ``key value`` with the key's underscores as spaces.
SETTINGS: dict[tuple[str, str], tuple[str, Callable[[object, bool], str]]] = {
    ("model", "model"): ("model", _bare),
    ("model", "impl"): ("impl", _bare),
    ("model", "hidden"): ("hidden", _named("hidden")),
    ("model", "activation"): ("activation", _bare),
    ("model", "dropout"): ("dropout", _named("dropout")),
    ("model", "log_softmax"): ("log-softmax", _flag("log-softmax", "no log-softmax")),
    ("model", "pool"): ("pooling", _then("pool")),
    ("model", "loss"): ("loss", _loss),
    ("model", "huber_delta"): ("huber delta", _named("delta")),
    ("model", "init"): ("init", _then("init")),
    ("model", "init_std"): ("init std", _named("init std")),
    ("model", "init_value"): ("init value", _named("init value")),
    ("model", "backward"): ("backward", _backward),
    ("model", "optimizer"): ("optimizer", _bare),
    ("model", "lr"): ("lr", _named("lr")),
    ("model", "momentum"): ("momentum", _named("momentum")),
    ("model", "betas"): ("betas", _named("betas")),
    ("model", "eps"): ("eps", _named("eps")),
    ("model", "weight_decay"): ("weight decay", _named("weight decay")),
    ("data", "name"): ("data", _data_name),
    ("data", "data_dir"): ("data dir", _data_dir),
    ("data", "resize"): ("resize", _named("resize")),
    ("data", "normalize"): ("normalisation", _flag("normalized", "not normalized")),
    ("data", "num_examples"): ("examples", _named("examples")),
    ("data", "noise"): ("noise", _named("noise")),
    ("data", "test_fraction"): ("test fraction", _named("test fraction")),
    ("data", "label_column"): ("label column", _named("label column")),
    ("data", "task"): ("task", _bare),
    ("data", "standardize"): ("standardisation", _flag("standardized", "not standardized")),
    ("data", "verify"): ("verification", _flag("verified", "unverified")),
    ("data", "max_train"): ("max train", _all_or("max train")),
    ("data", "max_test"): ("max test", _all_or("max test")),
    ("data", "seed"): ("data seed", _named("data seed")),
    ("train", "epochs"): ("epochs", _named("epochs")),
    ("train", "batch_size"): ("batch", _named("batch")),
    ("train", "seed"): ("seed", _named("seed")),
    ("train", "device"): ("device", _bare),
    ("train", "step"): ("step", _then("step")),
}


#: Settings that change what a run writes, not what it learns: never a difference.
IGNORED = frozenset({("train", "tensorboard")})


def describe_setting(section: str, key: str, value, *, precise: bool = False) -> str:
    """One setting as a label shows it, e.g. ``("model", "lr", 0.1)`` -> ``"lr 0.1"``."""
    name, describe = SETTINGS.get((section, key), (key.replace("_", " "), None))
    if describe is None:
        return f"{name} {format_value(value, precise=precise)}"
    return describe(value, precise)


def setting_name(section: str, key: str) -> str:
    """The short name of a setting (``("train", "batch_size")`` -> ``"batch"``)."""
    return SETTINGS.get((section, key), (key.replace("_", " "), None))[0]


# --------------------------------------------------------------------------- labels


def _flatten(config: RunConfig) -> dict[tuple[str, str], object]:
    return {(section, key): value for section, values in config.to_dict().items()
            for key, value in values.items()}


def varied_settings(configs: Sequence[RunConfig]) -> list[tuple[str, str]]:
    """The (section, key) of every setting whose value differs across ``configs``, in config
    order (model, data, train). The data seed is left out where it follows the run's seed."""
    flat = [_flatten(c) for c in configs]
    keys = list(flat[0]) if flat else []
    varied = [k for k in keys
              if k not in IGNORED and any(f[k] != flat[0][k] for f in flat[1:])]
    seeds = (("data", "seed"), ("train", "seed"))
    if all(k in varied for k in seeds) and all(f[seeds[0]] == f[seeds[1]] for f in flat):
        varied.remove(("data", "seed"))  # the command line's seed sets both: show it once
    return varied


def label_runs(configs: Sequence[RunConfig], names: Sequence[str]) -> list[str]:
    """A label per run from the settings that differ (``lr 0.1, batch 64``), else ``names``.

    Values of one setting are written with just enough digits to tell them
    apart. Labels still equal after that (settings that differ only in what a
    label leaves out, e.g. two data directories of the same name) get the run's
    name appended in parentheses.
    """
    if len(configs) != len(names):
        raise UsageError(f"{len(configs)} configs but {len(names)} names.")
    varied = varied_settings(configs)
    if not varied:
        return list(names)
    flat = [_flatten(c) for c in configs]
    parts: list[list[str]] = [[] for _ in configs]
    for section, key in varied:
        values = [f[section, key] for f in flat]
        texts = [describe_setting(section, key, v) for v in values]
        if len(set(texts)) < len({repr(v) for v in values}):
            texts = [describe_setting(section, key, v, precise=True) for v in values]
        for part, text in zip(parts, texts, strict=True):
            part.append(text)
    labels = [", ".join(p) for p in parts]
    counts = {label: labels.count(label) for label in labels}
    return [f"{label} ({name})" if counts[label] > 1 else label
            for label, name in zip(labels, names, strict=True)]


# --------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class ComparedRun:
    """One run as a comparison reads it.

    Attributes
    ----------
    path : Path
        The run directory.
    config : RunConfig
        Its resolved configuration.
    task : {"classification", "regression"}
        Classification when ``metrics.csv`` has accuracy columns.
    history : tuple of dict
        One record per finished epoch (``metrics.csv``): ``epoch`` and the
        metrics of :data:`METRICS` it has, as floats (None where a cell is empty).
    planned_epochs : int
        The epochs the run was set to train.
    complete : bool
        Whether it finished (``metrics.json`` holds its final figures).
    label : str
        Its label in a :class:`Comparison` (the directory name until then).
    """

    path: Path
    config: RunConfig
    task: str
    history: tuple[dict, ...]
    planned_epochs: int
    complete: bool
    label: str = ""

    @property
    def epochs(self) -> int:
        """The last finished epoch."""
        return self.history[-1]["epoch"]

    def final(self) -> dict:
        """Its final figures: the last epoch's metrics and the training time of all epochs."""
        last = self.history[-1]
        figures = {k: last[k] for k in FIGURES if k in last}
        times = [r.get("seconds") for r in self.history]
        figures["seconds"] = sum(t for t in times if t is not None)
        return figures

    def to_dict(self) -> dict:
        """Its row of the table as JSON-ready values."""
        return {"run_dir": str(self.path), "label": self.label, "epochs": self.epochs,
                "planned_epochs": self.planned_epochs, "complete": self.complete,
                **self.final()}


def read_run(path: str | os.PathLike) -> ComparedRun:
    """Read the config and per-epoch metrics of the run directory ``path``.

    Raises
    ------
    RunConfigError
        ``path`` is not a run directory, its config or metrics cannot be read,
        it is a cross-validation run, or it has no finished epoch yet.
    """
    run_dir = run_dir_of(path)  # a search's directory: the run it retrained
    if run_dir.path.is_file():
        where = run_dir.path.parent if run_dir.path.name in ("config.json", "metrics.csv",
                                                             "metrics.json") else None
        hint = f" Give its directory, {where}." if where is not None else ""
        raise RunConfigError(f"{run_dir.path} is a file, not a run directory.{hint}")
    raw = run_dir.read_config()
    if not isinstance(raw, dict):
        raise RunConfigError(f"{run_dir.config} does not hold a JSON object.")
    if "folds" in raw:
        raise RunConfigError(
            f"{run_dir.path} is a {raw['folds']}-fold cross-validation run: its curves are "
            "per fold, on validation folds, and do not line up with a single run's. Compare "
            f"runs trained without {Hint('folds')} (its mean validation figures are in "
            f"{run_dir.metrics_json}).", hints=[Hint("folds")]
        )
    settings = {k: v for k, v in raw.items() if k in ("model", "data", "train")}
    config = RunConfig.from_dict(settings, source=str(run_dir.config))
    columns, history = run_dir.read_metrics()
    history = [{k: v for k, v in r.items() if k in METRICS or k == "epoch"} for r in history]
    if not history:
        resume = Hint.call("resume_run", run_dir.path)
        raise RunConfigError(
            f"{run_dir.path} has no finished epoch yet ({run_dir.metrics_csv.name} has no "
            f"rows): it stopped before its first epoch ended, or is still in it. Resume it with "
            f"{resume}, or compare it once an epoch is done.", hints=[resume]
        )
    task = "classification" if {"train_acc", "test_acc"} & set(columns) else "regression"
    final = run_dir.read_final()
    planned = max(config.train.epochs, history[-1]["epoch"])
    if final is not None and isinstance(final.get("epochs"), int):
        planned = max(planned, final["epochs"])  # resumed with more epochs than config.json
    if planned != config.train.epochs:
        config = dataclasses.replace(config,
                                     train=dataclasses.replace(config.train, epochs=planned))
    label = run_dir.path.name or str(run_dir.path)
    if label == "best" and (run_dir.path.parent / "tune.json").is_file():
        label = f"{run_dir.path.parent.name}/best"  # a search's retrained best
    return ComparedRun(path=run_dir.path, config=config, task=task, history=tuple(history),
                       planned_epochs=planned, complete=final is not None, label=label)


# --------------------------------------------------------------------------- the comparison


@dataclass(frozen=True)
class Comparison:
    """Runs labelled by what differs in their settings.

    Attributes
    ----------
    runs : tuple of ComparedRun
        In the order given, each with its ``label``.
    varied : tuple of str
        Short names of the settings that differ (``("lr",)``), in config order.
    task : {"classification", "regression"}
        What every run is.
    """

    runs: tuple[ComparedRun, ...]
    varied: tuple[str, ...]
    task: str

    @property
    def labels(self) -> list[str]:
        return [r.label for r in self.runs]

    @property
    def title(self) -> str:
        """What the runs share and what was varied, e.g.
        ``softmax (scratch) on fashion-mnist, varying lr``."""
        first = self.runs[0].config
        shared = {k: all(getattr(r.config.model, k) == getattr(first.model, k) for r in self.runs)
                  for k in ("model", "impl")}
        same_data = all(r.config.data.name == first.data.name for r in self.runs)
        if shared["model"] and shared["impl"]:
            subject = f"{first.model.model} ({first.model.impl})"
        elif shared["model"]:
            subject = first.model.model
        elif shared["impl"]:
            subject = f"{first.model.impl} models"
        else:
            subject = "models"
        if same_data:
            subject += f" on {_data_name(first.data.name, False)}"
        if not self.varied:
            return f"{subject}, same settings"
        names = list(self.varied)
        varying = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"{subject}, varying {varying}"

    def columns(self) -> list[str]:
        """The figures of the table: losses, accuracies (classifiers) or parameter errors
        (synthetic data), and seconds."""
        present = {k for r in self.runs for k, v in r.final().items() if v is not None}
        return [k for k in FIGURES if k in present] + ["seconds"]

    def rows(self) -> list[dict]:
        """One JSON-ready dict per run: run_dir, label, epochs, planned_epochs, complete,
        the final figures and seconds."""
        return [r.to_dict() for r in self.runs]

    def table(self) -> str:
        """The final figures as an aligned text table, one row per run.

        ``epochs`` reads ``3/10`` for a run that has not finished; a ``-`` is a
        figure the run's last epoch does not have. The run directory is the last
        column, unless the labels are the directories' names.
        """
        keys = self.columns()
        header = ["run", "epochs", *(k.replace("_", " ") for k in keys)]
        cells = [[r.label, str(r.epochs) if r.complete and r.epochs >= r.planned_epochs
                  else f"{r.epochs}/{r.planned_epochs}"] for r in self.runs]
        for key in keys:
            for row, text in zip(cells, _column([r.final().get(key) for r in self.runs], key),
                                 strict=True):
                row.append(text)
        if self.varied:
            header.append("directory")
            for row, r in zip(cells, self.runs, strict=True):
                row.append(str(r.path))
        widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]
        left = {0, len(header) - 1} if self.varied else {0}

        def line(row):
            return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()

        return "\n".join(line(row) for row in [header, *cells])

    def to_dict(self) -> dict:
        """``title``, ``varied``, ``task`` and ``runs`` (:meth:`rows`), for ``--json``."""
        return {"title": self.title, "varied": list(self.varied), "task": self.task,
                "runs": self.rows()}

    def histories(self) -> dict[str, list[dict]]:
        """Label -> per-epoch records, as :func:`shallownet.plots.compare.plot_comparison`
        takes them."""
        return {r.label: list(r.history) for r in self.runs}

    def plot(self, *, title: str | None = None):
        """The curves of every run on shared axes (a matplotlib Figure); see
        :func:`shallownet.plots.compare.plot_comparison`."""
        from shallownet.plots.compare import plot_comparison

        return plot_comparison(self.histories(), title=self.title if title is None else title)

    def __str__(self) -> str:
        return self.table()


def _column(values: list, key: str) -> list[str]:
    """One column of the table, all in one format."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if key.endswith("_acc"):
        spec = ".4f"
    elif key == "seconds":
        spec = ".1f" if all(v >= 10 for v in finite) else ".2f"
    elif key.endswith("_error") or any(v != 0 and not 1e-3 <= abs(v) < 1e5 for v in finite):
        spec = ".3e"
    else:
        spec = ".4f"
    return ["-" if v is None else format(v, spec) for v in values]


def compare_runs(paths: Iterable[str | os.PathLike]) -> Comparison:
    """Read the run directories ``paths`` and label each by what differs in their settings.

    Parameters
    ----------
    paths : iterable of str or path
        Run directories written by ``shallownet train`` (finished or still running).

    Returns
    -------
    Comparison
        ``runs`` in the order given, ``varied`` settings, ``labels``, ``table()``, ``plot()``.

    Raises
    ------
    UsageError
        No path, the same directory twice, or regression runs mixed with
        classification runs (their losses measure different things).
    RunConfigError
        A path that is not a run directory, a cross-validation run, a run with
        no finished epoch, or unreadable config or metrics.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise UsageError("no run directory to compare: give one or more.")
    seen: dict[Path, Path] = {}
    for path in paths:
        key = path.resolve() if path.exists() else path.absolute()
        if key in seen:
            both = "" if str(seen[key]) == str(path) else f" (as {seen[key]} and {path})"
            raise UsageError(f"{path} is given twice{both}; give each run directory once.")
        seen[key] = path
    runs = [read_run(path) for path in paths]
    tasks = {r.task for r in runs}
    if len(tasks) > 1:
        regression = ", ".join(str(r.path) for r in runs if r.task == "regression")
        classification = ", ".join(str(r.path) for r in runs if r.task == "classification")
        raise UsageError(
            f"cannot compare regression runs ({regression}) with classification runs "
            f"({classification}): a regression loss and a cross-entropy are not on one scale, "
            "and only classifiers have an accuracy. Compare each kind separately."
        )
    configs = [r.config for r in runs]
    labels = label_runs(configs, [_name(r.path, paths) for r in runs])
    varied = tuple(dict.fromkeys(setting_name(*k) for k in varied_settings(configs)))
    runs = tuple(dataclasses.replace(r, label=label)
                 for r, label in zip(runs, labels, strict=True))
    return Comparison(runs=runs, varied=varied, task=runs[0].task)


def _name(path: Path, paths: Sequence[Path]) -> str:
    """A run's directory name, or its path as given where another run has the same name."""
    name = path.name or str(path)
    return str(path) if sum(p.name == path.name for p in paths) > 1 else name
