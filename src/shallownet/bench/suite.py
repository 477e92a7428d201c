"""The training benchmark: shallownet's runs side by side with two comparators, as ratios.

For each model (softmax regression, the 784-256-10 MLP) and tier (scratch,
concise) it measures, each in a fresh process:

* shallownet's run with each training step asked for (the compiled softmax
  step, the fused step, autograd), 1x the data; the first that applies to
  the model is its main run, which the targets and the scaling use;
* the per-sample pipeline (:mod:`shallownet.bench.measure`) on the same model;
* the run at 2x and 4x the data, for the growth exponent of time in N;

and before and after them, the machine's float32 matmul rate and memory
bandwidth, whose best values give each model's arithmetic floor
(:mod:`shallownet.bench.floor`). Each run
is then a ratio to both comparators, and the targets are checked. With
``repeats`` > 1 every measurement is the fastest of that many.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from shallownet.bench.floor import floor_seconds, work
from shallownet.bench.frontier import frontier, time_to_accuracy
from shallownet.bench.process import busy, startup_floor, whole_command
from shallownet.bench.references import SKLEARN_REFERENCES
from shallownet.errors import ShallownetError, UsageError
from shallownet.recipes import RECIPES
from shallownet.registry import IMPLS, ModelConfig
from shallownet.training.kernel import KernelUnavailable
from shallownet.training.steps import choose_step

__all__ = ["BenchOptions", "run_bench", "growth_exponent", "check_targets", "TARGETS"]

GIB = 2**30

#: model -> (at least this many times faster than per-sample, at most this many times the
#: floor, peak resident memory below this many bytes or None)
TARGETS = {"softmax": (30.0, 2.5, GIB), "mlp": (5.0, 1.2, None)}
UNDER_LOAD = 2.5  # a main run beside busy processes: at most this many times its quiet time
WHOLE_COMMAND = 2.0  # the default command: at most this many times python -c "import torch"
#: (model, reference, the most the recipe's time to its accuracy may be, as a share of its fit)
AGAINST = [("mlp", "MLPClassifier((256,), max_iter=10)", 1 / 5),
           ("softmax", "LogisticRegression()", 1 / 20)]
#: (model, test accuracy, within the time of this reference (or these seconds))
REACH = [("mlp", 0.900, "MLPClassifier((256,), max_iter=10)"), ("lenet", 0.920, 60.0)]
SCRATCH_OVER_CONCISE = 1.3  # time of the first tier of IMPLS over the second's
ACCURACY_TOLERANCE = 0.01  # |test acc (main step) - test acc (another step)|
STEPS = ("kernel", "fused", "autograd")
EXPONENT_RANGE = (0.9, 1.1)


@dataclass(frozen=True)
class BenchOptions:
    """What to measure; the defaults are the book's settings on the full Fashion-MNIST."""

    models: tuple[str, ...] = ("softmax", "mlp")
    impls: tuple[str, ...] = ("scratch", "concise")
    steps: tuple[str, ...] = ("kernel", "fused", "autograd")
    epochs: int = 10
    batch_size: int = 256
    scales: tuple[int, ...] = (1, 2, 4)
    per_sample: bool = True
    workers: int = 4
    data: str = "fashion-mnist"
    data_dir: str | None = None
    verify: bool = True
    max_train: int | None = None
    max_test: int | None = None
    seed: int = 0
    threads: int | None = None
    device: str = "cpu"
    repeats: int = 1  # each measurement's best of this many (fresh processes)
    against: tuple[str, ...] = ()  # "sklearn": recipes against scikit-learn's references
    recipe_epochs: int | None = None  # recipes' epochs (None: their own)
    whole: bool = True  # the whole command against the start-up floor
    under_load: bool = True  # each main run again, with a busy process per core but one

    def spec(self, kind: str, **extra) -> dict:
        keys = ("epochs", "batch_size", "workers", "data", "data_dir", "verify", "max_train",
                "max_test", "seed", "threads", "device")
        return {"kind": kind, **{k: getattr(self, k) for k in keys}, **extra}


def _measure(spec: dict) -> dict:
    """Run one spec in a fresh interpreter; its JSON result."""
    done = subprocess.run([sys.executable, "-m", "shallownet.bench.measure", json.dumps(spec)],
                          capture_output=True, text=True)
    what = " ".join(str(spec[k]) for k in ("kind", "model", "impl") if k in spec)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-8:])
        raise ShallownetError(f"the benchmark's measurement ({what}) failed:\n{tail}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "error" in result:
        if result.get("unavailable"):
            raise KernelUnavailable(result["error"])
        raise ShallownetError(f"the benchmark's measurement ({what}): {result['error']}")
    return result


def growth_exponent(points: list[tuple[float, float]]) -> float | None:
    """The least-squares slope k of log t = k log N + c over (N, t) points: t grows as N^k."""
    if len({n for n, _ in points}) < 2:
        return None
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return (sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
            / sum((x - mx) ** 2 for x in xs))


def run_bench(options: BenchOptions, *, say: Callable[[str], None] = lambda line: None,
              measure: Callable[[dict], dict] = _measure) -> dict:
    """Measure everything ``options`` names; the results, ratios and target checks as a dict."""
    def best(spec: dict) -> dict:
        """The fastest of ``options.repeats`` measurements, with every one's seconds."""
        results = [measure(spec) for _ in range(options.repeats)]
        fastest = min(results, key=lambda r: r["seconds"])
        return {**fastest, "all_seconds": [r["seconds"] for r in results]}

    say("measuring the machine: float32 matmul rate and memory bandwidth")
    machine = measure(options.spec("machine"))
    runs, per_sample, scaling, skipped = [], [], [], []
    for model in options.models:
        for impl in options.impls:
            main = None
            for step in (s for s in options.steps if _has_step(model, impl, s)):
                say(f"{model} {impl}: shallownet, {step} step, {options.epochs} epochs")
                try:
                    result = best(options.spec("run", model=model, impl=impl, step=step))
                except KernelUnavailable as exc:
                    say(f"  skipped: {exc}")  # no compiler here, say: the rest still runs
                    skipped.append({"model": model, "impl": impl, "step": step,
                                    "why": str(exc)})
                    continue
                runs.append({"model": model, "impl": impl, "scale": 1, "main": main is None,
                             **result})
                main = main or step
            if options.per_sample:
                say(f"{model} {impl}: per-sample pipeline, {options.workers} workers")
                result = best(options.spec("per_sample", model=model, impl=impl))
                per_sample.append({"model": model, "impl": impl, **result})
            if main is None:
                continue
            points = [(r["n_train"], r["seconds"]) for r in runs
                      if (r["model"], r["impl"], r["step"]) == (model, impl, main)]
            for scale in (s for s in options.scales if s != 1):
                say(f"{model} {impl}: shallownet, {main} step, {scale}x the data")
                result = best(options.spec("run", model=model, impl=impl, scale=scale,
                                           step=main))
                points.append((result["n_train"], result["seconds"]))
            scaling.append({"model": model, "impl": impl, "step": main,
                            "points": [{"n_train": n, "seconds": t} for n, t in points],
                            "exponent": growth_exponent(points)})
    if options.under_load:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        for run in [r for r in runs if r["main"]]:
            say(f"{run['model']} {run['impl']}: {run['step']} step with {cores - 1} busy "
                f"process(es) beside it")
            with busy(cores - 1):
                loaded = best(options.spec("run", model=run["model"], impl=run["impl"],
                                           step=run["step"]))
            run["under_load_seconds"] = loaded["seconds"]
            run["under_load_ratio"] = loaded["seconds"] / run["seconds"]
    whole = None
    if options.whole:
        say("the whole command (shallownet train) against python -c 'import torch'")
        whole = {"floor": startup_floor(), **whole_command(_command_argv(options))}
        whole["times_floor"] = whole["wall"] / whole["floor"]
    frontier_rows, references, recipes = [], [], []
    if "sklearn" in options.against:
        for name in SKLEARN_REFERENCES:
            say(f"scikit-learn: {name}")
            references.append(measure(options.spec("sklearn", reference=name)))
        for name in RECIPES:
            say(f"recipe {name}")
            recipes.append(measure(options.spec("recipe", recipe=name,
                                                recipe_epochs=options.recipe_epochs)))
        frontier_rows = frontier(references, recipes)
    say("measuring the machine again (the best rates of the two count)")
    machine = _best_machine(machine, measure(options.spec("machine")))
    floors = _floors(options, machine, runs)
    _add_ratios(runs, per_sample, floors)
    report = {"options": dataclasses.asdict(options), "machine": machine, "floors": floors,
              "runs": runs, "per_sample": per_sample, "scaling": scaling, "skipped": skipped,
              "whole": whole, "references": references, "recipes": recipes,
              "frontier": frontier_rows}
    report["targets"] = check_targets(report)
    return report


def _command_argv(options: BenchOptions) -> list[str]:
    """The default ``shallownet train`` on the benchmark's data."""
    argv = ["--data", options.data]
    if options.data_dir:
        argv += ["--data-dir", options.data_dir]
    if not options.verify:
        argv.append("--no-verify")
    for flag, value in (("--max-train", options.max_train), ("--max-test", options.max_test)):
        if value:
            argv += [flag, str(value)]
    return argv


def _best_machine(first: dict, second: dict) -> dict:
    """The machine with the higher matmul rate and bandwidth of two measurements (a shared
    machine's neighbours slow one down now and then; the floor takes the best measured)."""
    best = dict(first)
    for key, rate in (("matmul", "flops_per_second"), ("bandwidth", "bytes_per_second")):
        best[key] = max(first[key], second[key], key=lambda m, rate=rate: m[rate])
        best[key]["measured"] = [first[key][rate], second[key][rate]]
    return best


def _floors(options: BenchOptions, machine: dict, runs: list[dict]) -> dict:
    floors = {}
    for run in runs:
        if run["model"] in floors:
            continue
        widths = run["widths"]
        done = work(widths, n_train=run["n_train"], n_test=run["n_test"], epochs=options.epochs)
        floors[run["model"]] = {
            "widths": list(widths), **done,
            **floor_seconds(done, machine["matmul"]["flops_per_second"],
                            machine["bandwidth"]["bytes_per_second"]),
        }
    return floors


def _add_ratios(runs: list[dict], per_sample: list[dict], floors: dict) -> None:
    baseline = {(p["model"], p["impl"]): p for p in per_sample}
    for run in runs:
        run["samples_per_second"] = run["n_train"] * len(run["epoch_seconds"]) / run["seconds"]
        run["times_floor"] = run["seconds"] / floors[run["model"]]["seconds"]
        slow = baseline.get((run["model"], run["impl"]))
        run["faster_than_per_sample"] = slow["seconds"] / run["seconds"] if slow else None
    for p in per_sample:
        p["samples_per_second"] = p["n_train"] * p["epochs"] / p["seconds"]


def _check_frontier(report: dict, check) -> None:
    """The accuracy-per-second targets, from the recipes' curves and the references."""
    refs = {r["reference"]: r for r in report.get("references", [])}
    recipes = report.get("recipes", [])
    for model, name, share in AGAINST:
        if name not in refs:
            continue
        best = min((row["ratio"] for row in report["frontier"] if row["reference"] == name
                    and row["ratio"] is not None and _model(recipes, row["recipe"]) == model),
                   default=None)
        check(f"a {model} recipe's time to {name}'s accuracy / its time",
              math.inf if best is None else best, f"{share:.2g}",
              best is not None and best <= share)
    for model, accuracy, within in REACH:
        limit = refs[within]["seconds"] if isinstance(within, str) and within in refs else within
        if not isinstance(limit, float | int) or not recipes:
            continue
        reached = [time_to_accuracy(r["curve"], accuracy) for r in recipes if r["model"] == model]
        best = min((point["seconds"] for point in reached if point), default=None)
        check(f"a {model} recipe's seconds to test accuracy {accuracy:.3f}",
              math.inf if best is None else best, f"{limit:.1f}",
              best is not None and best <= limit)


def _model(recipes: list[dict], name: str) -> str | None:
    return next((r["model"] for r in recipes if r["recipe"] == name), None)


def _has_step(model: str, impl: str, step: str) -> bool:
    """Whether the registry's ``model`` has the training step ``step`` (on the CPU)."""
    try:
        choose_step(ModelConfig(model=model, impl=impl), step)
    except UsageError:
        return False
    return True


def check_targets(report: dict) -> list[dict]:
    """Each target of the benchmark with the measured value and whether it is met."""
    checks = []

    def check(name: str, value, limit, met: bool) -> None:
        checks.append({"target": name, "value": value, "limit": limit, "met": bool(met)})

    runs = report["runs"]
    for r in (r for r in runs if r["main"]):
        at_least, at_most, peak_rss = TARGETS.get(r["model"], (None, None, None))
        label = f"{r['model']} {r['impl']}"
        if at_least is not None and r["faster_than_per_sample"] is not None:
            check(f"{label}: times faster than per-sample", r["faster_than_per_sample"],
                  at_least, r["faster_than_per_sample"] >= at_least)
        if at_most is not None:
            check(f"{label}: times the arithmetic floor", r["times_floor"], at_most,
                  r["times_floor"] <= at_most)
        if peak_rss is not None and r["peak_rss"] is not None:
            check(f"{label}: peak resident memory (GiB)", r["peak_rss"] / GIB,
                  peak_rss / GIB, r["peak_rss"] < peak_rss)
        twin = [o for o in runs if (o["model"], o["impl"]) == (r["model"], r["impl"])
                and o is not r]
        for other in twin:
            diff = abs(r["test_acc"] - other["test_acc"])
            check(f"{label}: test accuracy {r['step']} vs {other['step']} (difference)", diff,
                  ACCURACY_TOLERANCE, diff <= ACCURACY_TOLERANCE)
    by_key = {(r["model"], r["impl"], r["step"]): r for r in runs}
    first, second = IMPLS
    for (model, impl, step), r in by_key.items():
        other = by_key.get((model, second, step))
        if impl == first and other is not None:
            ratio = r["seconds"] / other["seconds"]
            check(f"{model} {step}: {first} time / {second} time", ratio, SCRATCH_OVER_CONCISE,
                  ratio <= SCRATCH_OVER_CONCISE)
    for r in (r for r in runs if "under_load_ratio" in r):
        check(f"{r['model']} {r['impl']}: time beside busy processes / quiet time",
              r["under_load_ratio"], UNDER_LOAD, r["under_load_ratio"] <= UNDER_LOAD)
    whole = report.get("whole")
    if whole:
        check("shallownet train: wall time / python -c 'import torch'", whole["times_floor"],
              WHOLE_COMMAND, whole["times_floor"] <= WHOLE_COMMAND)
    _check_frontier(report, check)
    for s in report["scaling"]:
        if s["exponent"] is not None:
            low, high = EXPONENT_RANGE
            check(f"{s['model']} {s['impl']}: growth exponent of time in N", s["exponent"],
                  f"{low}-{high}", low <= s["exponent"] <= high)
    return checks
