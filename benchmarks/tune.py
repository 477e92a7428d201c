"""Tuning the 784-hidden-10 MLP on Fashion-MNIST for a time budget, with 1 and 2 workers.

    python benchmarks/tune.py [--budget 10m] [--workers 1,2] [--json FILE] [--no-sklearn]
    python benchmarks/tune.py --budget 20s --max-train 5000 --max-test 2000   # a quick look

For each worker count, one search (``shallownet.tune.tune``, TPE sampler,
median pruner, seed 0) of :data:`SPACE`, scored on a validation split of
the training set (a sixth); then its best retrained on the whole training
set and scored on the test set once. The table gives the trials that
completed, were pruned or failed; the search's seconds (from the call to
the last trial's end: loading the data, starting the workers, the trials)
and the trials finished a minute over them; the best validation accuracy;
the retrained best's test accuracy and training seconds. Beside them, in
the same invocation on the same data: the book's MLP (784-256-10, SGD at lr
0.1, batch 256, 10 epochs) trained once, and scikit-learn's
``MLPClassifier`` on the same pixels in [0, 1], ``fit`` timed.

The budget says when the last trial may start, not when the search ends:
a search runs over it by up to one trial, then retrains. Two workers are
two processes on one study, each given its share of the cores
(``SHALLOWNET_THREADS``). ``--json`` also keeps each search's wall seconds
(the retraining included) and its trials' span (first start to last end).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from datetime import datetime
from pathlib import Path

import torch

from shallownet.bench.references import SKLEARN_REFERENCES
from shallownet.registry import ModelConfig, build
from shallownet.training import DataSpec, RunConfig, Trainer, TrainSettings, load_training_data
from shallownet.tune import parse_param, tune
from shallownet.tune.search import parse_duration

#: option -> distribution (``shallownet tune``'s notation); epochs come from --epochs
SPACE = {
    "lr": "log:1e-4:0.5",
    "hidden": "choice:128,256,512,1024",
    "layers": "int:1:2",
    "dropout": "float:0:0.5",
    "optimizer": "choice:sgd,momentum,adam",
    "weight_decay": "choice:0,1e-5,1e-4,1e-3",
    "batch_size": "choice:64,128,256,512",
}
BOOK = "the book's MLP (784-256-10, SGD lr 0.1, batch 256)"


def search(workers: int, base: RunConfig, space: dict, budget: str, out: Path) -> dict:
    """One search with ``workers`` processes; its row of the table."""
    called, start = datetime.now(), time.perf_counter()  # Optuna's trial times: local, naive
    result = tune(space, base, time_budget=budget, workers=workers, out=out, seed=0,
                  progress=False, log=False, plots=False)
    wall = time.perf_counter() - start
    trials = result.study.get_trials(deepcopy=False)
    ends = [t.datetime_complete for t in trials if t.datetime_complete is not None]
    searched = (max(ends) - called).total_seconds() if ends else None
    counts = result.summary["trials"]
    done = counts.get("complete", 0) + counts.get("pruned", 0)
    row = {"run": f"tune, {workers} worker{'s' * (workers > 1)}", "workers": workers,
           "complete": counts.get("complete", 0), "pruned": counts.get("pruned", 0),
           "failed": sum(n for state, n in counts.items() if state not in ("complete", "pruned")),
           "search_seconds": searched, "trials_span_seconds": _span(trials),
           "wall_seconds": wall,
           "trials_per_minute": 60 * done / searched if searched else None,
           "best_val_acc": result.summary.get("best_val_acc"),
           "best_params": result.summary.get("best_params"),
           "test_acc": None, "train_seconds": None, "tune_dir": str(result.tune_dir)}
    if result.best_run is not None:
        row["test_acc"] = result.best_run.summary["test_acc"]
        row["train_seconds"] = result.best_run.summary["seconds"]
        row["step"] = result.best_run.summary.get("step")
    return row


def _span(trials) -> float | None:
    """Seconds from the first trial's start to the last finished trial's end."""
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    ends = [t.datetime_complete for t in trials if t.datetime_complete is not None]
    return (max(ends) - min(starts)).total_seconds() if starts and ends else None


def book(base: RunConfig) -> dict:
    """The book's settings trained once, as ``shallownet train`` would."""
    config = base.resolved()
    data = load_training_data(config.data)
    setup = build(config.model, input_shape=data.input_shape, num_outputs=data.num_outputs,
                  seed=config.train.seed)
    trainer = Trainer.from_config(config, log=False, progress=False, live_plot=False)
    history = trainer.fit(setup, data)
    return {"run": f"{BOOK}, {config.train.epochs} epochs", "test_acc": history[-1]["test_acc"],
            "train_seconds": sum(r["seconds"] for r in history), "step": trainer.step_choice.name}


def sklearn_rows(spec: DataSpec) -> list[dict]:
    """scikit-learn's MLPClassifier references of ``bench --against sklearn`` on the same
    images (pixels in [0, 1]), ``fit`` timed."""
    from sklearn.neural_network import MLPClassifier

    data = load_training_data(spec)
    X, y = data.train_X.reshape(len(data.train_X), -1).numpy(), data.train_y.numpy()
    X_test, y_test = data.test_X.reshape(len(data.test_X), -1).numpy(), data.test_y.numpy()
    references = {name: MLPClassifier(**kwargs, random_state=0)
                  for name, (path, kwargs) in SKLEARN_REFERENCES.items()
                  if path.endswith(".MLPClassifier")}
    rows = []
    for name, estimator in references.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "did not converge": the references as they are used
            start = time.perf_counter()
            estimator.fit(X, y)
            seconds = time.perf_counter() - start
        rows.append({"run": name, "test_acc": float(estimator.score(X_test, y_test)),
                     "train_seconds": seconds, "iterations": estimator.n_iter_})
        _print_row(rows[-1])
    return rows


HEADER = ("| run | complete | pruned | failed | search s | trials a minute | best val acc "
          "| test acc | training s | best options |")


def _print_row(row: dict) -> None:
    def cell(key, spec):
        value = row.get(key)
        return "-" if value is None else format(value, spec)

    params = row.get("best_params")
    options = ", ".join(f"{k.replace('_', '-')} {v:.3g}" if isinstance(v, float)
                        else f"{k.replace('_', '-')} {v}" for k, v in params.items()) \
        if params else "-"
    print(f"| {row['run']} | {cell('complete', 'd')} | {cell('pruned', 'd')} | "
          f"{cell('failed', 'd')} | {cell('search_seconds', '.1f')} | "
          f"{cell('trials_per_minute', '.1f')} | "
          f"{cell('best_val_acc', '.4f')} | {cell('test_acc', '.4f')} | "
          f"{cell('train_seconds', '.1f')} | {options} |", flush=True)


def _workers(text: str) -> list[int]:
    try:
        counts = [int(w) for w in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of counts, e.g. 1,2") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("worker counts are whole numbers of at least 1")
    return counts


def _budget(text: str) -> str:
    try:
        parse_duration(text)
    except ValueError as exc:  # UsageError: says how to write one
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _epochs(text: str) -> int | str:
    """A whole number of epochs, or a distribution of them (``int:5:15``)."""
    if ":" in text:
        try:
            parse_param("epochs", text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number of epochs nor a "
                                         "distribution like int:5:15") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=_budget, default="10m",
                        help="each search's time budget, e.g. 20s, 10m (default 10m)")
    parser.add_argument("--workers", type=_workers, default=[1, 2],
                        help="worker counts, one search each (default 1,2)")
    parser.add_argument("--epochs", type=_epochs, default=10,
                        help="every trial's epochs (default 10, the book's), or a range "
                        "searched, e.g. int:5:15")
    parser.add_argument("--max-train", type=int, help="train on this many images only")
    parser.add_argument("--max-test", type=int, help="test on this many images only")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (default auto)")
    parser.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn's rows")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the tune directories in DIR (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()

    spec = DataSpec(name="fashion-mnist", max_train=args.max_train, max_test=args.max_test)
    space = dict(SPACE)
    epochs = args.epochs if isinstance(args.epochs, int) else None  # None: searched
    if epochs is None:
        space["epochs"] = args.epochs
    base = RunConfig(ModelConfig(model="mlp"), spec, TrainSettings(epochs=epochs,
                                                                 device=args.device))
    with tempfile.TemporaryDirectory(prefix="shallownet-tune-bench-") as tmp:
        root = args.keep or Path(tmp)
        print(f"searching {', '.join(f'{k} {v}' for k, v in space.items())}; a budget of "
              f"{args.budget} a search; {os.cpu_count()} cores; tune directories in {root}",
              file=sys.stderr, flush=True)
        print(HEADER)
        print("|" + " --- |" * (HEADER.count("|") - 1), flush=True)
        rows = []
        for workers in args.workers:
            out = root / f"workers-{workers}-{time.strftime('%Y%m%d-%H%M%S')}"
            rows.append(search(workers, base, space, args.budget, out))
            _print_row(rows[-1])
            if args.keep is None:
                del rows[-1]["tune_dir"]  # removed with the temporary directory
    book_config = dataclasses.replace(base, train=dataclasses.replace(
        base.train, epochs=epochs if epochs is not None else 10))
    rows.append(book(book_config))
    _print_row(rows[-1])
    if not args.no_sklearn:
        rows += sklearn_rows(spec)
    if args.json:
        settings = {"budget": args.budget, "workers": args.workers, "space": space,
                    "epochs": epochs, "max_train": args.max_train, "max_test": args.max_test,
                    "device": args.device, "cores": os.cpu_count(), "torch": torch.__version__,
                    "python": platform.python_version(), "machine": platform.processor()
                    or platform.machine()}
        args.json.write_text(json.dumps({"settings": settings, "rows": rows}, indent=2,
                                        default=str))


if __name__ == "__main__":
    main()
