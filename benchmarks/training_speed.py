"""The full training benchmark (what ``shallownet bench`` runs), its results kept as JSON.

    python benchmarks/training_speed.py [--json training_speed.json] [shallownet bench options]

Softmax regression and the 784-256-10 MLP, scratch and concise, 10 epochs of
Fashion-MNIST at the book's settings; the per-sample pipeline and the
arithmetic floor measured in the same run; 1x, 2x and 4x the data. About five
minutes on 2 cores: run it on a quiet machine (the ratios suffer otherwise).
"""

from __future__ import annotations

import sys

from shallownet.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--json" not in argv:
        argv += ["--json", "training_speed.json"]
    sys.exit(main(["bench", *argv]))
