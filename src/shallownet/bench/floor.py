"""The arithmetic floor of a training run: the least time this machine could take for its work.

For a stack of dense layers of widths ``d_0 -> d_1 -> ... -> d_L`` the work
per example is counted in floating-point operations (a multiply-add is 2)::

    forward                 F = Σ_l 2 d_(l-1) d_l
    weight gradients        F                          (∂L/∂W_l = G_lᵀ H_(l-1))
    hidden activation grads Σ_(l>=2) 2 d_(l-1) d_l     (∂L/∂H_(l-1) = G_l W_l; none for X)

so a run of E epochs over n training and m test examples (each epoch ends
with a test pass) must do ``E (n (2F + A) + m F)`` operations and read its
inputs, ``E (n + m) d_0`` numbers, once per epoch. Its floor is the larger of

    operations / the best float32 matmul rate measured here
    input bytes / the memory read bandwidth measured here

Biases, activations and the loss are left out: they are O(Σ d_l) per
example, under 1 % of the products here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import torch
from torch import nn

from shallownet.init import weight_layers
from shallownet.scratch.layers import Linear as ScratchLinear

__all__ = [
    "layer_widths",
    "work",
    "measure_matmul_rate",
    "measure_bandwidth",
    "floor_seconds",
]


def layer_widths(model: nn.Module) -> tuple[int, ...]:
    """``(d_0, ..., d_L)`` of a stack of linear layers (either tier): its inputs, then each
    layer's outputs. Softmax regression is ``(784, 10)``, the book's MLP ``(784, 256, 10)``."""
    layers = weight_layers(model)
    if not layers or not all(isinstance(m, nn.Linear | ScratchLinear) for m in layers):
        raise ValueError(f"no floor for {type(model).__name__}: the floor counts the products "
                         "of a stack of linear layers.")
    shapes = [tuple(m.weight.shape) if isinstance(m, nn.Linear) else tuple(m.W.T.shape)
              for m in layers]  # (out, in) either way
    return (shapes[0][1], *(out for out, _ in shapes))


def work(widths: Sequence[int], *, n_train: int, n_test: int, epochs: int,
         itemsize: int = 4) -> dict:
    """The operations and input bytes of ``epochs`` epochs (see the module's formulas)."""
    pairs = list(zip(widths[:-1], widths[1:], strict=True))
    forward = sum(2 * a * b for a, b in pairs)
    hidden_grads = sum(2 * a * b for a, b in pairs[1:])
    train_flops = n_train * (2 * forward + hidden_grads)
    test_flops = n_test * forward
    return {
        "flops": epochs * (train_flops + test_flops),
        "flops_per_train_example": 2 * forward + hidden_grads,
        "flops_per_test_example": forward,
        "input_bytes": epochs * (n_train + n_test) * widths[0] * itemsize,
    }


def _best_seconds(fn, repeats: int) -> float:
    fn()  # warm up: thread pool, caches, BLAS's buffers
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _sync(device: torch.device):
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def measure_matmul_rate(device: str | torch.device = "cpu", *,
                        sizes: Sequence[int] = (512, 1024, 2048), repeats: int = 5) -> dict:
    """The best float32 rate (FLOP/s) of square matrix products ``A @ B`` of the given sizes."""
    device = torch.device(device)
    sync = _sync(device)
    g = torch.Generator().manual_seed(0)
    rates = {}
    for n in sizes:
        A = torch.randn(n, n, generator=g).to(device)
        B = torch.randn(n, n, generator=g).to(device)
        reps = max(1, int(2e9 // (2 * n**3)))  # about 2 GFLOP per timing

        def products(A=A, B=B, reps=reps):
            for _ in range(reps):
                A @ B
            sync()

        rates[n] = reps * 2 * n**3 / _best_seconds(products, repeats)
    best = max(rates, key=rates.get)
    return {"flops_per_second": rates[best], "size": best,
            "by_size": {str(n): r for n, r in rates.items()}}


def measure_bandwidth(device: str | torch.device = "cpu", *, mebibytes: int = 256,
                      repeats: int = 5) -> dict:
    """Memory read bandwidth (bytes/s): the best time to sum a float32 tensor of ``mebibytes``."""
    device = torch.device(device)
    sync = _sync(device)
    x = torch.ones(mebibytes * 2**20 // 4, device=device)

    def read():
        x.sum()
        sync()

    return {"bytes_per_second": x.numel() * 4 / _best_seconds(read, repeats),
            "mebibytes": mebibytes}


def floor_seconds(work_done: dict, flops_per_second: float, bytes_per_second: float) -> dict:
    """The floor of ``work_done`` (from :func:`work`): compute time or read time, the larger."""
    compute = work_done["flops"] / flops_per_second
    memory = work_done["input_bytes"] / bytes_per_second
    return {"seconds": max(compute, memory), "compute_seconds": compute,
            "memory_seconds": memory, "bound": "compute" if compute >= memory else "memory"}
