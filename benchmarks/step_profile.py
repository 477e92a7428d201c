"""Where a training epoch's time goes, by kind of operation (torch's profiler).

    python benchmarks/step_profile.py [--model softmax|mlp] [--impl scratch|concise]
                                      [--step kernel|fused|autograd] [--epochs 3]

Trains on Fashion-MNIST with shallownet's Trainer (after one warm-up epoch)
and sums the profiler's self CPU time of each operation into: gathering the
batch, the matrix products, the other tensor operations, and the rest (Python,
the loop: the unprofiled wall time not spent in an operation). The compiled
step (``--step kernel``) is one call the profiler does not see: its time is
in the rest.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

from torch.profiler import ProfilerActivity, profile

from shallownet.registry import ModelConfig, build
from shallownet.training import DataSpec, Trainer
from shallownet.training.data import load_training_data

KINDS = {
    "gather the batch (index_select)": ("aten::index_select",),
    "matrix products (addmm, mm)": ("aten::addmm", "aten::addmm_", "aten::mm"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("softmax", "mlp"), default="softmax")
    parser.add_argument("--impl", choices=("scratch", "concise"), default="concise")
    parser.add_argument("--step", choices=("kernel", "fused", "autograd"), default="fused")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    data = load_training_data(DataSpec(name="fashion-mnist"))
    setup = build(ModelConfig(model=args.model, impl=args.impl), input_shape=data.input_shape,
                  num_outputs=data.num_outputs, seed=0)
    options = {"seed": 0, "device": "cpu", "progress": False, "log": False,
               "live_plot": False, "step": args.step}
    Trainer(1, 256, **options).fit(setup, data)  # warm up
    trainer = Trainer(1 + args.epochs, 256, **options)
    start = time.perf_counter()
    trainer.fit(setup, data, history=[{}])
    wall = (time.perf_counter() - start) / args.epochs  # unprofiled
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer.fit(setup, data, history=[{}])
    totals = defaultdict(float)
    for event in prof.key_averages():
        kind = next((k for k, names in KINDS.items() if event.key in names), "other operations")
        totals[kind] += event.self_cpu_time_total / 1e6 / args.epochs
    totals["Python and the loop (the rest of the wall time)"] = wall - sum(totals.values())
    print(f"{args.model} {args.impl}, {trainer.step_choice.name} step: {wall * 1000:.0f} ms per "
          "epoch (training and the test pass); operations timed by the profiler in a second "
          "run\n")
    print("| where | ms per epoch | share |")
    print("| --- | --- | --- |")
    for kind, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"| {kind} | {seconds * 1000:.1f} | {seconds / wall:.0%} |")


if __name__ == "__main__":
    main()
