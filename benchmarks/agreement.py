"""How closely the scratch tier agrees with torch: a table for the record.

For every scratch activation and loss, the largest absolute difference from
its ``torch.nn.functional`` counterpart, in value and in gradient, over a set
of ordinary and extreme inputs (logits of ±1e4, probabilities of exactly 0
and 1, a batch of one, one class dominating); then hand-written backprop
against autograd, and each scratch model against its concise twin after a
few optimiser steps from the same seed.

    python benchmarks/agreement.py [--dtype float32|float64] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math

import torch
import torch.nn.functional as F

from shallownet import scratch
from shallownet.registry import MODELS, ModelConfig, build


def _inputs(dtype):
    """Named logits batches (n, q): ordinary, ±1e4, a batch of one, one class dominating."""
    g = torch.Generator().manual_seed(0)
    return {
        "ordinary": torch.randn(64, 10, generator=g, dtype=dtype) * 3,
        "±1e4": torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]],
                             dtype=dtype),
        "batch of one": torch.randn(1, 10, generator=g, dtype=dtype),
        "dominating": torch.tensor([[50.0] + [0.0] * 9, [0.0] * 9 + [-50.0]], dtype=dtype),
    }


def _compare(ours, theirs, *tensors):
    """(max |value diff|, max |grad diff|, all finite) of two functions of ``tensors``."""
    a = [t.clone().requires_grad_(True) for t in tensors]
    b = [t.clone().requires_grad_(True) for t in tensors]
    va, vb = ours(*a), theirs(*b)
    va.sum().backward()
    vb.sum().backward()
    dv = (va - vb).abs().max().item()
    dg = max((x.grad - y.grad).abs().max().item() for x, y in zip(a, b, strict=True))
    finite = bool(torch.isfinite(va).all()) and all(bool(torch.isfinite(x.grad).all()) for x in a)
    return dv, dg, finite


def function_rows(dtype):
    rows = []
    inputs = _inputs(dtype)

    def add(name, ours, theirs, make_args):
        worst_v = worst_g = 0.0
        finite = True
        for case in inputs.values():
            dv, dg, ok = _compare(ours, theirs, *make_args(case))
            worst_v, worst_g, finite = max(worst_v, dv), max(worst_g, dg), finite and ok
        rows.append({"function": name, "value": worst_v, "gradient": worst_g, "finite": finite})

    def _labels_for(o):
        return torch.arange(len(o)) % o.shape[1]  # every class in turn

    add("relu", scratch.relu, F.relu, lambda c: (c,))
    add("sigmoid", scratch.sigmoid, torch.sigmoid, lambda c: (c,))
    add("tanh", scratch.tanh, torch.tanh, lambda c: (c,))
    add("softmax", lambda o: scratch.softmax(o, 1), lambda o: torch.softmax(o, 1),
        lambda c: (c,))
    add("log_softmax", lambda o: scratch.log_softmax(o, 1), lambda o: torch.log_softmax(o, 1),
        lambda c: (c,))
    add("cross_entropy", lambda o: scratch.cross_entropy(o, _labels_for(o)),
        lambda o: F.cross_entropy(o, _labels_for(o), reduction="none"), lambda c: (c,))
    add("nll_loss", lambda o: scratch.nll_loss(o, _labels_for(o)),
        lambda o: F.nll_loss(o, _labels_for(o), reduction="none"),
        lambda c: (torch.log_softmax(c, 1),))
    # probabilities: strictly inside (0, 1) for gradients, exact 0/1 for values below
    add("cross_entropy_from_probs", lambda p: scratch.cross_entropy_from_probs(p, _labels_for(p)),
        lambda p: F.nll_loss(torch.log(p), _labels_for(p), reduction="none"),
        lambda c: (torch.softmax(c / 1e3, 1).clamp(1e-6, 1),))
    def reg(fn_ours, fn_torch):
        return (lambda o: fn_ours(o, _target(o)), lambda o: fn_torch(o, _target(o)))

    def _target(o):
        return torch.linspace(-3, 3, o.numel(), dtype=o.dtype).reshape(o.shape)

    add("squared_loss", *reg(scratch.squared_loss,
                             lambda a, b: F.mse_loss(a, b, reduction="none") / 2), lambda c: (c,))
    add("l1_loss", *reg(scratch.l1_loss, lambda a, b: F.l1_loss(a, b, reduction="none")),
        lambda c: (c,))
    add("huber_loss (δ=1)", *reg(scratch.huber_loss,
                                 lambda a, b: F.huber_loss(a, b, reduction="none")),
        lambda c: (c,))

    def bits(o):
        return (torch.arange(o.numel()) % 2).to(o.dtype).reshape(o.shape)

    add("binary_cross_entropy", lambda z: scratch.binary_cross_entropy(z, bits(z)),
        lambda z: F.binary_cross_entropy_with_logits(z, bits(z), reduction="none"),
        lambda c: (c,))
    add("binary_cross_entropy_from_probs",
        lambda p: scratch.binary_cross_entropy_from_probs(p, bits(p)),
        lambda p: F.binary_cross_entropy(p, bits(p), reduction="none"),
        lambda c: (torch.sigmoid(c / 1e3).clamp(1e-6, 1 - 1e-6),))
    # values at exactly 0 and 1
    p = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=dtype)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=dtype)
    dv = (scratch.binary_cross_entropy_from_probs(p, y)
          - F.binary_cross_entropy(p, y, reduction="none")).abs().max().item()
    rows.append({"function": "binary_cross_entropy_from_probs at p = 0, 1", "value": dv,
                 "gradient": float("nan"), "finite": True})
    return rows


def backprop_rows():
    torch.manual_seed(0)
    X = torch.randn(32, 1, 28, 28, dtype=torch.float64)
    y = torch.randint(0, 10, (32,))
    rows = []
    for name, kw, target in (
        ("linreg", {"model": "linreg"}, torch.randn(32, 1, dtype=torch.float64)),
        ("softmax", {"model": "softmax"}, y),
        ("mlp relu", {"model": "mlp"}, y),
        ("mlp sigmoid", {"model": "mlp", "activation": "sigmoid"}, y),
        ("mlp tanh", {"model": "mlp", "activation": "tanh"}, y),
    ):
        outs = 1 if name == "linreg" else 10
        grads = []
        for backward in ("autograd", "hand"):
            s = build(ModelConfig(**kw, backward=backward, init="default"), input_shape=(1, 28, 28),
                      num_outputs=outs, seed=0, dtype=torch.float64)
            s.forward_backward(X, target)
            grads.append([p.grad for p in s.model.parameters()])
        diff = max((a - b).abs().max().item() for a, b in zip(*grads, strict=True))
        rows.append({"model": name, "gradient": diff})
    return rows


def model_rows(steps: int = 5):
    torch.manual_seed(0)
    X = torch.randn(16, 1, 28, 28, dtype=torch.float64)
    y = torch.randint(0, 10, (16,))
    rows = []
    for name in MODELS:
        for optimizer in ("sgd", "momentum", "adam"):
            outs = {"linreg": 1, "logreg": 2}.get(name, 10)
            target = {"linreg": torch.randn(16, 1, dtype=torch.float64), "logreg": y % 2}.get(
                name, y)
            results = []
            for impl in ("scratch", "concise"):
                s = build(ModelConfig(model=name, impl=impl, optimizer=optimizer,
                                      weight_decay=1e-3), input_shape=(1, 28, 28),
                          num_outputs=outs, seed=0, dtype=torch.float64)
                for _ in range(steps):
                    s.train_step(X, target)
                results.append(torch.cat([p.detach().reshape(-1) for p in _ordered(s.model)]))
            rows.append({"model": name, "optimizer": optimizer,
                         "weights": (results[0] - results[1]).abs().max().item()})
    return rows


def _ordered(model):
    """Parameters in torch's layout (scratch Linear W is stored transposed)."""
    from shallownet.init import weight_layers
    from shallownet.scratch import Linear

    for layer in weight_layers(model):
        if isinstance(layer, Linear):
            yield layer.W.T
            yield layer.b
        else:
            yield layer.weight
            yield layer.bias


def _fmt(x):
    return "—" if isinstance(x, float) and math.isnan(x) else f"{x:.1e}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the tables as JSON here")
    args = parser.parse_args(argv)
    report = {}
    for dtype in (torch.float32, torch.float64):
        rows = function_rows(dtype)
        report[str(dtype)] = rows
        print(f"\n### Scratch vs torch.nn.functional, {str(dtype).split('.')[1]}")
        print("| function | max abs diff, value | max abs diff, gradient | all finite |")
        print("| --- | --- | --- | --- |")
        for r in rows:
            print(f"| {r['function']} | {_fmt(r['value'])} | {_fmt(r['gradient'])} | "
                  f"{'yes' if r['finite'] else 'NO'} |")
    report["backprop"] = backprop_rows()
    print("\n### Backprop by hand vs autograd, float64 (max abs diff of any gradient)")
    print("| model | gradient |\n| --- | --- |")
    for r in report["backprop"]:
        print(f"| {r['model']} | {_fmt(r['gradient'])} |")
    report["models"] = model_rows()
    print("\n### Scratch vs concise model, same seed, 5 steps, weight decay 1e-3, float64")
    print("| model | optimiser | max abs diff of weights |\n| --- | --- | --- |")
    for r in report["models"]:
        print(f"| {r['model']} | {r['optimizer']} | {_fmt(r['weights'])} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
