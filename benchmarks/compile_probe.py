"""Does ``torch.compile`` pay for shallownet's fused step? Eager against compiled, one run.

    python benchmarks/compile_probe.py [--model softmax|mlp] [--epochs 3]

The fused training step (:mod:`shallownet.training.fused`) is run over
Fashion-MNIST in batches of 256 as it is, and compiled by ``torch.compile``
(inductor, which needs a C++ compiler); the table gives the compile time (the
first epoch's extra seconds) and the steady seconds per epoch of each.
"""

from __future__ import annotations

import argparse
import time

import torch

from shallownet.data.iterator import ArrayLoader
from shallownet.registry import ModelConfig, build
from shallownet.training import DataSpec
from shallownet.training.data import load_training_data
from shallownet.training.fused import FusedStep


def epochs(train, loader: ArrayLoader, out: torch.Tensor, count: int) -> list[float]:
    """Seconds of each of ``count`` epochs of ``train(X, y, out)`` (a step's batch update)."""
    times = []
    for _ in range(count):
        start, begin = 0, time.perf_counter()
        for X, y in loader:
            train(X, y, out[start : start + len(y)])
            start += len(y)
        times.append(time.perf_counter() - begin)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("softmax", "mlp"), default="softmax")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    data = load_training_data(DataSpec(name="fashion-mnist"))
    loader = ArrayLoader(data.train_X, data.train_y, batch_size=256, seed=0)
    out = torch.empty(len(data.train_y), data.num_outputs)
    print(f"{args.model}, fused step, {args.epochs} epochs after the first\n")
    print("| step | first epoch (s) | steady epoch (s) | vs eager |")
    print("| --- | --- | --- | --- |")
    steady = {}
    for name in ("eager", "torch.compile"):
        setup = build(ModelConfig(model=args.model, impl="concise"),
                      input_shape=data.input_shape, num_outputs=data.num_outputs, seed=0)
        train = FusedStep(setup).train
        if name == "torch.compile":
            train = torch.compile(train, dynamic=False)
        times = epochs(train, loader, out, 1 + args.epochs)
        steady[name] = min(times[1:])
        print(f"| {name} | {times[0]:.2f} | {steady[name]:.3f} | "
              f"{steady['eager'] / steady[name]:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
