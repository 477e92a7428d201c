"""Every model x impl at the book's settings through ``train_run``: a Markdown table.

Each row is one ``shallownet train`` run (seed 0, the book's epochs, batch
size and learning rate) without figures; the run directories go to a
temporary folder unless ``--out`` is given.

    python benchmarks/train_table.py [--quick] [--only softmax,mlp] [--out DIR] [--json F]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from shallownet.registry import ModelConfig
from shallownet.training import DataSpec, RunConfig, TrainSettings, train_run

ROWS = [
    ("linreg", {}, "synthetic-linear"),
    ("softmax", {}, "fashion-mnist"),
    ("softmax", {"backward": "hand"}, "fashion-mnist"),
    ("mlp", {}, "fashion-mnist"),
    ("mlp", {"backward": "hand"}, "fashion-mnist"),
    ("mlp", {"optimizer": "adam"}, "fashion-mnist"),
    ("mlp", {"dropout": (0.2,)}, "fashion-mnist"),
    ("mlp", {"hidden": (128, 64), "log_softmax": True}, "fashion-mnist"),
    ("lenet", {}, "fashion-mnist"),
]


def describe(model: str, options: dict) -> str:
    extras = [f"{k}={'/'.join(map(str, v)) if isinstance(v, tuple) else v}"
              for k, v in options.items()]
    return model + (f" ({', '.join(extras)})" if extras else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 epoch, 6,000 examples")
    parser.add_argument("--only", help="comma-separated model names")
    parser.add_argument("--out", type=Path, help="keep the run directories here")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    root = args.out or Path(tempfile.mkdtemp(prefix="train-table-"))
    rows = []
    print("| model | impl | step | data | epochs | train loss | train acc | test acc | seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for model, options, data in ROWS:
        if only and model not in only:
            continue
        for impl in ("scratch", "concise"):
            if options.get("backward") == "hand" and impl == "concise":
                continue
            spec = DataSpec(name=data, max_train=6000 if args.quick else None)
            config = RunConfig(ModelConfig(model=model, impl=impl, **options), spec,
                               TrainSettings(epochs=1 if args.quick else None))
            name = f"{model}-{impl}-{len(rows)}"
            result = train_run(config, root / name, progress=False, log=False, plots=False)
            s = result.summary
            rows.append({"name": describe(model, options), **s})
            acc = f"{s['train_acc']:.3f}" if "train_acc" in s else "—"
            test = f"{s['test_acc']:.3f}" if "test_acc" in s else (
                f"w err {s['w_error']:.1e}, b err {s['b_error']:.1e}")
            print(f"| {describe(model, options)} | {impl} | {s['step']} | {data} | {s['epochs']} | "
                  f"{s['train_loss']:.4f} | {acc} | {test} | {s['seconds']:.1f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
