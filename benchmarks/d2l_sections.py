"""Run the book-section scripts in examples/d2l/ for several seeds; report accuracy and time.

    python benchmarks/d2l_sections.py [--seeds 0 1 2 3 4] [SCRIPT ...]

Each run is a fresh ``python`` process with the Agg backend (figures go to a
temporary directory), seeded with ``torch.manual_seed(seed)`` before the
script starts, exactly as the tests run them. Prints one row per script: the
last epoch's test accuracy per seed, their mean and min, and the mean wall
time of a run (process start, data loading and figures included).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "d2l"
TRAINING = ("sec_3_6_softmax_regression_scratch.py", "sec_3_7_softmax_regression_concise.py",
            "sec_4_2_mlp_scratch.py", "sec_4_3_mlp_concise.py")
RUNNER = ("import runpy, sys, torch; torch.manual_seed(int(sys.argv[1])); "
          "sys.argv = sys.argv[2:]; runpy.run_path(sys.argv[0], run_name='__main__')")
TEST_ACC = re.compile(r"test acc ([\d.]+)")


def run(script: Path, seed: int) -> tuple[float | None, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MPLBACKEND": "Agg", "SHALLOWNET_FIGURES": tmp}
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", RUNNER, str(seed), str(script)],
                              cwd=tmp, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{script.name} (seed {seed}) failed:\n{proc.stderr}")
    found = TEST_ACC.findall(proc.stdout)
    return (float(found[-1]) if found else None), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("scripts", nargs="*", default=list(TRAINING))
    args = parser.parse_args()
    print("| script | test acc per seed | mean | min | seconds per run |")
    print("| --- | --- | --- | --- | --- |")
    for name in args.scripts:
        results = [run(EXAMPLES / name, seed) for seed in args.seeds]
        accs = [a for a, _ in results if a is not None]
        per_seed = " ".join(f"{a:.3f}" for a in accs) or "–"
        mean = f"{statistics.mean(accs):.3f}" if accs else "–"
        low = f"{min(accs):.3f}" if accs else "–"
        seconds = statistics.mean(s for _, s in results)
        print(f"| {name} | {per_seed} | {mean} | {low} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
