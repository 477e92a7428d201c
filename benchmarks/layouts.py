"""How fast BLAS multiplies the skinny products of softmax regression, by memory layout.

    python benchmarks/layouts.py [--threads N]

A batch X (256, 784) times weights with 10 outputs, the forward product
``X Wᵀ`` and the weight-gradient product ``Gᵀ X``, in the layouts a model can
store them: the book's W (784, 10) row by row, torch's (10, 784) (the same
memory as W column by column), and padded to 16 outputs. Best of several
timings, in useful GFLOP/s (10 outputs' worth of work) and as a ratio to the
book's layout, measured side by side.
"""

from __future__ import annotations

import argparse
import time

import torch


def best_seconds(fn, reps: int = 200, rounds: int = 7) -> float:
    for _ in range(10):
        fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - start) / reps)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n, d, q = 256, 784, 10
    X = torch.randn(n, d)
    G = torch.randn(n, q)
    G16 = torch.cat([G, torch.zeros(n, 6)], 1)
    W_book = torch.randn(d, q)  # (in, out), row by row: the book's
    W_torch = torch.randn(q, d)  # (out, in): nn.Linear's, = the book's W column by column
    W_pad = torch.randn(16, d)
    cases = {
        "forward  X @ W, W (784, 10) row-major (book)": lambda: X @ W_book,
        "forward  X @ Wᵀ, W (10, 784) row-major (torch, scratch)": lambda: X @ W_torch.T,
        "forward  X @ Wᵀ, W padded to (16, 784)": lambda: X @ W_pad.T,
        "gradient Xᵀ @ G -> (784, 10) (book)": lambda: X.T @ G,
        "gradient Gᵀ @ X -> (10, 784) (torch, scratch)": lambda: G.T @ X,
        "gradient Gᵀ @ X, padded to (16, 784)": lambda: G16.T @ X,
    }
    flops = 2 * n * d * q
    print(f"{torch.get_num_threads()} threads; useful work {flops / 1e6:.1f} MFLOP per product\n")
    print("| product | µs | useful GFLOP/s | vs book |")
    print("| --- | --- | --- | --- |")
    base = {}
    for name, fn in cases.items():
        seconds = best_seconds(fn)
        kind = name.split()[0]
        base.setdefault(kind, seconds)
        print(f"| {name} | {seconds * 1e6:.0f} | {flops / seconds / 1e9:.1f} | "
              f"{base[kind] / seconds:.2f}× |")


if __name__ == "__main__":
    main()
