"""The whole command against its start-up floor, and runs beside busy processes.

``whole_command`` times ``shallownet train`` (the default run) as a user
starts it — a fresh interpreter, through its exit — and, in the same run,
the floor any such command has: ``python -c "import torch"``. The command
reports where its time went (:mod:`shallownet.phases`): what is left of the
wall time before its work began is Python's start-up and the imports, and
after its work ended, the process's exit.

``busy(n)`` runs ``n`` plain CPU loops beside a measurement: the user's
browser tab or test run, made repeatable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from shallownet.errors import ShallownetError

__all__ = ["busy", "startup_floor", "whole_command"]


@contextmanager
def busy(count: int) -> Iterator[None]:
    """Run ``count`` busy processes (each an endless loop on one core) around the block."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
             for _ in range(max(0, count))]
    try:
        if loops:
            time.sleep(0.5)  # let them take their cores
        yield
    finally:
        for loop in loops:
            loop.kill()
        for loop in loops:
            loop.wait()


def startup_floor(repeats: int = 3) -> float:
    """The best wall time of ``python -c "import torch"`` over ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        best = min(best, time.perf_counter() - start)
    return best


def whole_command(argv: Sequence[str], repeats: int = 1) -> dict:
    """Time ``python -m shallownet train ARGV`` from start to exit (its best of ``repeats``),
    with its phases: ``startup`` (interpreter and imports), the work's own phases
    (``data``, ``training``, ``evaluation``, ``checkpoints``, ``figures``), ``other`` (the
    rest of its work: configs, metrics files, printing) and ``exit``."""
    best = None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="shallownet-bench-") as tmp:
            phases_file = Path(tmp) / "phases.json"
            env = {**os.environ, "SHALLOWNET_PHASES": str(phases_file)}
            start_wall = time.time()
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "shallownet", "train", *argv, "--out",
                                   str(Path(tmp) / "run"), "-q"],
                                  capture_output=True, text=True, env=env)
            wall = time.perf_counter() - start
            if done.returncode != 0:
                tail = "\n".join(done.stderr.strip().splitlines()[-6:])
                raise ShallownetError(f"the timed command failed:\n{tail}")
            recorded = json.loads(phases_file.read_text())
        marks, seconds = recorded["marks"], recorded["seconds"]
        work = marks["main_end"] - marks["main_start"]
        phases = {"startup": marks["main_start"] - start_wall, **seconds}
        phases["other"] = max(0.0, work - sum(seconds.values()))
        phases["exit"] = max(0.0, wall - (marks["main_end"] - start_wall))
        result = {"argv": list(argv), "wall": wall, "phases": phases}
        if best is None or wall < best["wall"]:
            best = result
    return best
