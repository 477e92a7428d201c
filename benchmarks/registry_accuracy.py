"""Test accuracy after N epochs on Fashion-MNIST for registry models, with a bare loop.

Until ``shallownet train`` exists this is how the README's accuracy table is
measured; each run builds its model with seed 0 and sees the same batches.

    python benchmarks/registry_accuracy.py [--epochs 10] [--quick]
"""

from __future__ import annotations

import argparse
import time

import torch

from shallownet.data import load_data_fashion_mnist
from shallownet.registry import ModelConfig, build

RUNS = [
    {"model": "softmax"},
    {"model": "softmax", "backward": "hand"},
    {"model": "softmax", "impl": "concise"},
    {"model": "mlp"},
    {"model": "mlp", "backward": "hand"},
    {"model": "mlp", "impl": "concise"},
    {"model": "mlp", "optimizer": "adam"},
    {"model": "mlp", "impl": "concise", "optimizer": "adam"},
    {"model": "mlp", "impl": "concise", "dropout": (0.2,)},
    {"model": "mlp", "impl": "concise", "hidden": (128, 64), "log_softmax": True},
]


def run(config: dict, train, test, epochs: int) -> tuple[float, float]:
    setup = build(ModelConfig(**config), input_shape=(1, 28, 28), num_outputs=10, seed=0)
    start = time.perf_counter()
    for epoch in range(epochs):
        train.set_epoch(epoch)
        setup.model.train()
        for X, y in train:
            setup.train_step(X, y)
    setup.model.eval()
    correct = 0
    with torch.inference_mode():
        for X, y in test:
            correct += (setup.predict_labels(setup.model(X)) == y).sum().item()
    return correct / test.num_examples, time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="softmax and MLP with SGD only")
    args = parser.parse_args(argv)
    train, test = load_data_fashion_mnist(256, seed=0)
    runs = [RUNS[0], RUNS[3]] if args.quick else RUNS
    print(f"| config ({args.epochs} epochs, batch 256) | test accuracy | seconds |")
    print("| --- | --- | --- |")
    for config in runs:
        acc, seconds = run(config, train, test, args.epochs)
        label = ", ".join(f"{k}={v}" for k, v in config.items())
        print(f"| {label} | {acc:.4f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
