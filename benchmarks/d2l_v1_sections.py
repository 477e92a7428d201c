"""Run the current edition's sections (examples/d2l_v1/) with shallownet and with the original d2l.

    python benchmarks/d2l_v1_sections.py [--original PYTHON] [--seeds 0,1,2] [--repeat N]
        [--busy] [--function-api] [--json PATH] [SCRIPT ...]

Each run is a whole script in a fresh process (start-up, imports, data
loading, training and figures), timed by its wall clock, with the Agg
backend, without ``SHALLOWNET_QUICK``, in a temporary working directory.
Python's, NumPy's and torch's generators are seeded before the script starts
(as benchmarks/d2lzh_sections.py does). A section "trains" when it fits a
model on ``d2l.FashionMNIST``; with ``--seeds`` the training sections run
once per seed, the others with the first seed only; ``--repeat`` repeats each
run, and a section's time is the median of all its runs.

- shallownet: the script as it is, with this interpreter; the accuracy of a
  fit is the ``val acc`` of its last printed epoch line.
- ``--original PYTHON``: an interpreter with the book's ``d2l`` package
  (1.0.3) and torchvision. The import line ``from shallownet import d2l``
  becomes ``from d2l import torch as d2l`` in a copy of the script, and
  ``d2l.Trainer.fit`` is wrapped to print, after each fit, the last point of
  the model's ``board.data["val_acc"]`` (the book prints nothing): the mean
  accuracy over the last validation batches of the last epoch, the end of
  the curve the book plots. Its ``FashionMNIST`` reads ``../data`` through
  torchvision: the working directory's ``../data/FashionMNIST/raw/`` gets the
  four IDX files, written from the copy shallownet finds, so nothing is
  downloaded. A section that fails there is reported with its error.
- ``--function-api``: the same models through the older function API
  (``d2l.train_ch3``: examples/d2l/ 3.7, softmax regression, and 4.3, an MLP
  with 256 hidden units; lr 0.1, 10 epochs, batches of 256), with
  shallownet, once per seed: the last epoch's test accuracy and the seconds.
- ``--busy``: one busy process (``python -c "while True: pass"``) beside
  every run, as on a user's machine that is doing something else.

Prints markdown tables; ``--json PATH`` writes the results as well.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from shallownet.bench.process import busy
from shallownet.data import locate_dataset, write_idx
from shallownet.data.catalog import FASHION_MNIST

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "d2l_v1"
FUNCTION_API = {"softmax regression": ROOT / "examples/d2l/sec_3_7_softmax_regression_concise.py",
                "MLP, 256 hidden units": ROOT / "examples/d2l/sec_4_3_mlp_concise.py"}
OURS_IMPORT = re.compile(r"^from shallownet import d2l$", re.M)
ORIGINAL_IMPORT = "from d2l import torch as d2l"
#: Put after the original's import line: one line per fit with the board's last val_acc.
REPORT_FITS = """
def _bench_fit(self, model, data, _fit=d2l.Trainer.fit):
    _fit(self, model, data)
    acc = getattr(model.board, "data", {}).get("val_acc")
    print(f"d2l-bench: fit done, val acc {acc[-1].y:.4f}" if acc else "d2l-bench: fit done",
          flush=True)


d2l.Trainer.fit = _bench_fit
"""
RUNNER = ("import random, sys, numpy, torch; s = int(sys.argv[1]); random.seed(s); "
          "numpy.random.seed(s); torch.manual_seed(s); sys.argv = sys.argv[2:]; "
          "import runpy; runpy.run_path(sys.argv[0], run_name='__main__')")
EPOCH = re.compile(r"^epoch\s+(\d+)/\d+\s.*?(?:(?:val|test) acc ([\d.]+))?\s+\([\d.]+ s\)$", re.M)
ORIGINAL_FIT = re.compile(r"^d2l-bench: fit done(?:, val acc ([\d.]+))?$", re.M)
TIMEOUT = 3600


def trains(script: Path) -> bool:
    text = script.read_text()
    return "d2l.FashionMNIST(" in text and ".fit(" in text


def last_accuracies(stdout: str) -> list[float]:
    """The last epoch's accuracy of each fit in shallownet's output (a fit starts at epoch 1)."""
    lines = EPOCH.findall(stdout)
    return [float(acc) for i, (_, acc) in enumerate(lines)
            if acc and (i + 1 == len(lines) or lines[i + 1][0] == "1")]


def original_accuracies(stdout: str) -> list[float]:
    return [float(acc) for acc in ORIGINAL_FIT.findall(stdout) if acc]


def as_original(script: Path, directory: Path) -> Path:
    """A copy of ``script`` in ``directory`` that imports the book's d2l and reports its fits."""
    text, count = OURS_IMPORT.subn(ORIGINAL_IMPORT + "\n" + REPORT_FITS, script.read_text(), 1)
    if not count:
        raise ValueError(f"{script.name} has no line 'from shallownet import d2l'")
    copy = directory / script.name
    copy.write_text(text)
    return copy


def prepare_book_data(work: Path) -> None:
    """``work/../data/FashionMNIST/raw/``: the four IDX files, where torchvision reads them."""
    raw = locate_dataset("fashion-mnist", download_missing=False)
    target = work.parent / "data" / "FashionMNIST" / "raw"
    target.mkdir(parents=True, exist_ok=True)
    for key, spec in FASHION_MNIST.files.items():
        write_idx(target / spec.name, getattr(raw, key), compress=False)


def run(python: str, script: Path, seed: int, work: Path, parse, loaded: bool) -> dict:
    """One run of ``script``: seconds, accuracies of its fits, or the error it ended with."""
    env = {**os.environ, "MPLBACKEND": "Agg", "SHALLOWNET_FIGURES": str(work / "figures")}
    env.pop("SHALLOWNET_QUICK", None)
    with busy(1) if loaded else nullcontext():
        start = time.perf_counter()
        try:
            proc = subprocess.run([python, "-c", RUNNER, str(seed), str(script)], cwd=work,
                                  env=env, capture_output=True, text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return {"seed": seed, "error": f"no end after {TIMEOUT} s"}
        seconds = time.perf_counter() - start
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return {"seed": seed, "error": lines[-1] if lines else f"exit status {proc.returncode}"}
    return {"seed": seed, "seconds": seconds, "acc": parse(proc.stdout)}


def summary(runs: list[dict]) -> dict:
    """Median seconds and, per fit, the mean accuracy over the runs (``error`` if one failed)."""
    failed = next((r["error"] for r in runs if "error" in r), None)
    if failed is not None:
        return {"runs": runs, "error": failed}
    fits = min(len(r["acc"]) for r in runs)
    return {"runs": runs, "seconds": statistics.median(r["seconds"] for r in runs),
            "mean_acc": [statistics.mean(r["acc"][i] for r in runs) for i in range(fits)]}


def fmt_acc(result: dict | None) -> str:
    if result is None:
        return "–"
    if "error" in result:
        return f"failed: {result['error'][:120]}"
    return "/".join(f"{a:.3f}" for a in result["mean_acc"]) or "–"


def fmt_seconds(result: dict | None) -> str:
    return "–" if result is None or "error" in result else f"{result['seconds']:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", metavar="PYTHON",
                        help="also run the sections with the book's d2l in this interpreter")
    parser.add_argument("--seeds", default="0", type=lambda s: [int(x) for x in s.split(",")],
                        help="comma-separated seeds for the training sections (default 0)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per seed (default 1)")
    parser.add_argument("--busy", action="store_true", help="a busy process beside each run")
    parser.add_argument("--function-api", action="store_true",
                        help="also train the same models with the older d2l.train_ch3")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    parser.add_argument("scripts", nargs="*", help="section scripts (default: all)")
    args = parser.parse_args()
    scripts = [EXAMPLES / s for s in args.scripts] or sorted(EXAMPLES.glob("sec_*.py"))
    results: dict = {"seeds": args.seeds, "repeat": args.repeat, "busy": args.busy,
                     "original": args.original, "load_before": os.getloadavg(),
                     "sections": [], "function_api": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        (work / "original").mkdir(parents=True)
        if args.original:
            prepare_book_data(work)
        print(f"Seconds per run (median) and the last epoch's val acc, mean over seeds "
              f"{','.join(map(str, args.seeds))} (one figure per fit)"
              + (", each run beside a busy process" if args.busy else "") + ":\n")
        print("| section | trains | shallownet s | original s | shallownet val acc "
              "| original val acc |")
        print("| --- | --- | --- | --- | --- | --- |")
        for script in scripts:
            seeds = args.seeds if trains(script) else args.seeds[:1]
            runs = [run(sys.executable, script, seed, work, last_accuracies, args.busy)
                    for seed in seeds for _ in range(args.repeat)]
            row = {"script": script.name, "trains": trains(script), "seeds": seeds,
                   "shallownet": summary(runs), "original": None}
            if args.original:
                copy = as_original(script, work / "original")
                runs = [run(args.original, copy, seed, work, original_accuracies, args.busy)
                        for seed in seeds for _ in range(args.repeat)]
                row["original"] = summary(runs)
            results["sections"].append(row)
            ours, original = row["shallownet"], row["original"]
            print(f"| {script.stem} | {'yes' if row['trains'] else 'no'} | {fmt_seconds(ours)} "
                  f"| {fmt_seconds(original)} | {fmt_acc(ours)} | {fmt_acc(original)} |",
                  flush=True)
        if args.function_api:
            print("\nThe same models through the older function API (d2l.train_ch3), "
                  "shallownet:\n")
            print("| model | script | test acc per seed | mean | seconds per run |")
            print("| --- | --- | --- | --- | --- |")
            for model, script in FUNCTION_API.items():
                runs = [run(sys.executable, script, seed, work, last_accuracies, args.busy)
                        for seed in args.seeds for _ in range(args.repeat)]
                result = {"model": model, "script": f"examples/d2l/{script.name}",
                          **summary(runs)}
                results["function_api"].append(result)
                per_seed = " ".join(fmt_acc({"mean_acc": r.get("acc", [])}) for r in runs)
                print(f"| {model} | {result['script']} | {per_seed} | {fmt_acc(result)} "
                      f"| {fmt_seconds(result)} |", flush=True)
    results["load_after"] = os.getloadavg()
    before, after = (" ".join(f"{x:.2f}" for x in results[k]) for k in ("load_before",
                                                                         "load_after"))
    print(f"\nLoad average (1, 5, 15 min) before: {before}; after: {after} "
          f"({os.cpu_count()} cores)")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
