"""`shallownet train` quiet and beside a busy process, under thread settings side by side.

    python benchmarks/threads_under_load.py [--model mlp]

Each variant runs the command twice: alone, and with one plain CPU loop
beside it; the table gives the training seconds and their ratio. Variants:
the thread policy (``auto``, the default), two threads fixed, one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = {"auto (the policy)": {}, "2 threads": {"SHALLOWNET_THREADS": "2"},
            "1 thread": {"SHALLOWNET_THREADS": "1"}}


def run(argv: list[str], env: dict, busy: int) -> float:
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    time.sleep(0.5 if busy else 0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run([sys.executable, "-m", "shallownet", "train", *argv,
                                   "--no-plots", "-q", "--json", "--out", str(Path(tmp) / "r")],
                                  capture_output=True, text=True, env={**os.environ, **env},
                                  check=True)
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    return json.loads(done.stdout.splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="softmax")
    args = parser.parse_args()
    print("| variant | quiet s | beside a busy process s | ratio |")
    print("| --- | --- | --- | --- |")
    for name, env in VARIANTS.items():
        quiet, busy = run(["--model", args.model], env, 0), run(["--model", args.model], env, 1)
        print(f"| {name} | {quiet:.2f} | {busy:.2f} | {busy / quiet:.1f}× |", flush=True)


if __name__ == "__main__":
    main()
