"""Epoch time of data-parallel training on this machine: 1 process against N, and threads.

    python benchmarks/distributed_scaling.py [--models softmax,mlp] [--epochs 3]

Runs ``shallownet train`` on Fashion-MNIST (the book's settings) in fresh
processes, for each model:

* 1 process, 2 threads: the default (fused) step;
* 1 process, 1 thread (``OMP_NUM_THREADS=1``), the default step;
* 2 processes x 1 thread (``--nproc 2``): torch.distributed, gloo, autograd;

and prints the median epoch time after the first epoch (from each run's
metrics.csv) and the round-trip time of one gloo all_reduce between the two
processes, which bounds how fast a step can be.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ALLREDUCE = """
import time, torch, torch.distributed as dist
from shallownet.training.distributed import from_environment
group = from_environment()
t = torch.zeros(7850)
for _ in range(20): dist.all_reduce(t)
start = time.perf_counter()
for _ in range(200): dist.all_reduce(t)
if group.is_main: print((time.perf_counter() - start) / 200)
"""


def epoch_seconds(model: str, epochs: int, *, nproc: int, threads: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        command = [sys.executable, "-m", "shallownet", "train", "--model", model, "--epochs",
                   str(epochs), "--nproc", str(nproc), "--out", str(out), "--no-plots", "-q"]
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
        with open(out / "metrics.csv", newline="") as f:
            seconds = [float(r["seconds"]) for r in csv.DictReader(f)]
    return statistics.median(seconds[1:] or seconds)


def allreduce_seconds() -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(ALLREDUCE)
    try:
        done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                               "--nproc-per-node=2", f.name], check=True, capture_output=True,
                              text=True)
    finally:
        os.unlink(f.name)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="softmax,mlp")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for model in args.models.split(","):
        for label, nproc, threads in (("1 process x 2 threads (fused step)", 1, 2),
                                      ("1 process x 1 thread (fused step)", 1, 1),
                                      ("2 processes x 1 thread (gloo, autograd)", 2, 1)):
            rows.append((model, label, epoch_seconds(model, args.epochs, nproc=nproc,
                                                     threads=threads)))
    print("| model | processes x threads | seconds per epoch |")
    print("| --- | --- | --- |")
    for model, label, seconds in rows:
        print(f"| {model} | {label} | {seconds:.3f} |")
    print(f"\none gloo all_reduce of 7,850 floats between 2 local processes: "
          f"{allreduce_seconds() * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
