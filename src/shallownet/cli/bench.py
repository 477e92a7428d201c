"""``shallownet bench``: how fast training runs here, against the per-sample pipeline and the
arithmetic floor, measured side by side in one run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shallownet.bench.suite import STEPS
from shallownet.cli.arguments import choice_list, int_at_least, int_list
from shallownet.data.catalog import CATALOG
from shallownet.registry import IMPLS
from shallownet.runtime import DEVICES

__all__ = ["register", "run"]

QUICK = {"epochs": 1, "max_train": 4096, "max_test": 1024, "scales": (1, 2), "workers": 2,
         "recipe_epochs": 1}


def register(commands) -> None:
    """Add ``bench`` to ``commands``."""
    p = commands.add_parser(
        "bench", help="measure training speed against the per-sample pipeline and the floor",
        description="Train softmax regression and the 784-256-10 MLP (scratch and concise) at "
        "the book's settings and measure seconds, samples/s, test accuracy and peak memory; in "
        "the same run, the same models fed by a per-sample DataLoader and the arithmetic floor "
        "of the work on this machine (its FLOPs at the best measured matmul rate, or its input "
        "bytes at the measured memory bandwidth). Each measurement runs in a fresh process. "
        "Takes about 6 minutes on 2 cores; --quick takes seconds.",
    )
    p.add_argument("--models", type=choice_list(("softmax", "mlp")), default=("softmax", "mlp"),
                   help="comma-separated: softmax, mlp (default both)")
    p.add_argument("--impls", type=choice_list(IMPLS), default=IMPLS,
                   help="comma-separated: scratch, concise (default both)")
    p.add_argument("--steps", type=choice_list(STEPS), default=STEPS,
                   help="training steps to time: kernel (the compiled softmax step, built on "
                   "first use), fused, autograd; for each model the first that applies is its "
                   "main run, which the targets and the scaling use (default "
                   "kernel,fused,autograd)")
    p.add_argument("--epochs", type=int_at_least(1), default=10, help="default 10")
    p.add_argument("--batch-size", type=int_at_least(1), default=256, help="default 256")
    p.add_argument("--scales", type=int_list, default=(1, 2, 4), metavar="K,...",
                   help="run again on the data repeated K times, for the growth exponent "
                   "(default 1,2,4)")
    p.add_argument("--no-per-sample", dest="per_sample", action="store_false",
                   help="skip the per-sample pipeline (about 2.5 s an epoch)")
    p.add_argument("--workers", type=int_at_least(0), default=4,
                   help="DataLoader worker processes of the per-sample pipeline (default 4)")
    p.add_argument("--data", choices=tuple(CATALOG), default="fashion-mnist")
    p.add_argument("--data-dir", type=Path, help="directory holding the dataset")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="skip the dataset's checksum check")
    p.add_argument("--max-train", type=int_at_least(1), metavar="N",
                   help="use only the first N training examples")
    p.add_argument("--max-test", type=int_at_least(1), metavar="N",
                   help="use only the first N test examples")
    p.add_argument("--threads", type=int_at_least(1), help="torch threads (default: torch's)")
    p.add_argument("--device", choices=DEVICES, default="cpu", help="default cpu")
    p.add_argument("--repeats", type=int_at_least(1), default=1,
                   help="take each measurement's fastest of N fresh runs (default 1)")
    p.add_argument("--quick", action="store_true",
                   help="a tiny setting that proves the benchmark works: 1 epoch, 4096 "
                   "training examples, 1x and 2x the data, 2 workers")
    p.add_argument("--against", type=choice_list(("sklearn",)), default=(), metavar="sklearn",
                   help="also train every recipe (shallownet recipes) and scikit-learn's "
                   "LogisticRegression(), MLPClassifier((256,), max_iter=10) and "
                   "MLPClassifier((256,), early_stopping=True) on the same data, and report "
                   "each recipe's time to each reference's test accuracy (needs the sklearn "
                   "extra; about 2 minutes more)")
    p.add_argument("--no-whole", dest="whole", action="store_false",
                   help="skip timing the whole shallownet train command")
    p.add_argument("--no-load", dest="under_load", action="store_false",
                   help="skip running each main run again beside busy processes")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from shallownet.atomic import write_json
    from shallownet.bench import BenchOptions, format_report, run_bench

    settings = {
        "models": args.models, "impls": args.impls, "steps": args.steps, "epochs": args.epochs,
        "batch_size": args.batch_size, "scales": tuple(dict.fromkeys((1, *args.scales))),
        "per_sample": args.per_sample, "workers": args.workers, "data": args.data,
        "data_dir": str(args.data_dir) if args.data_dir else None, "verify": args.verify,
        "max_train": args.max_train, "max_test": args.max_test, "threads": args.threads,
        "device": args.device, "repeats": args.repeats, "against": args.against,
        "whole": args.whole, "under_load": args.under_load,
    }
    if args.quick:
        settings.update(QUICK)
    report = run_bench(BenchOptions(**settings),
                       say=lambda line: print(f"shallownet bench: {line}", file=sys.stderr,
                                              flush=True))
    print(format_report(report))
    if args.json:
        write_json(args.json, report, what="benchmark results")
        print(f"\nwrote {args.json}")
    return 0
