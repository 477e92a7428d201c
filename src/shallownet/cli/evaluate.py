"""``shallownet evaluate RUN_DIR`` and ``shallownet predict RUN_DIR IMAGE...``."""

from __future__ import annotations

import json
from pathlib import Path

from shallownet.jsonutil import json_safe
from shallownet.runtime import DEVICES

__all__ = ["register"]


def register(commands) -> None:
    """Add ``evaluate`` and ``predict`` to ``commands``."""
    ev = commands.add_parser(
        "evaluate", help="recompute a run's test figures from its checkpoint",
        description="Load the checkpoint of RUN_DIR, rebuild its test set and report the test "
        "loss, accuracy and per-class accuracy.",
    )
    ev.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    ev.add_argument("--device", choices=DEVICES, help="default: the run's own")
    ev.add_argument("--json", action="store_true", help="end stdout with one JSON line")
    ev.set_defaults(handler=run_evaluate)

    pr = commands.add_parser(
        "predict", help="classify your own image files with a trained run",
        description="Classify PNG/JPEG files of any size or colour with the model of RUN_DIR. "
        "Each image is made greyscale and square, resized to the model's input, and inverted "
        "when its background is light (Fashion-MNIST objects are light on black).",
    )
    pr.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    pr.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    pr.add_argument("--top", type=int, default=3, help="classes to show per image (default 3)")
    pr.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                    help="invert grey levels: auto (when the background is light), yes, no")
    pr.add_argument("--device", choices=DEVICES, help="default: the run's own")
    pr.add_argument("--json", action="store_true", help="end stdout with one JSON line")
    pr.set_defaults(handler=run_predict)


def run_evaluate(args) -> int:
    from shallownet.training.run import evaluate_run

    result = evaluate_run(args.run_dir, device=args.device)
    print(f"{result['model']} ({result['impl']}) on {result['data']}, checkpoint of epoch "
          f"{result['epoch']}, {result['n']:,} test examples")
    line = f"  test loss {result['test_loss']:.4f}"
    if "test_acc" in result:
        line += f"  test acc {result['test_acc']:.4f}"
    if "recorded_test_acc" in result:
        line += f"  (training recorded {result['recorded_test_acc']:.4f})"
    print(line)
    for key in ("w_error", "b_error"):
        if key in result:
            print(f"  {key.replace('_', ' ')} {result[key]:.2e}")
    per_class = result.get("per_class_acc") or {}
    if per_class:
        width = max(len(c) for c in per_class)
        print("  per-class accuracy")
        for name, acc in per_class.items():
            print(f"    {name:<{width}}  {acc:.3f}")
    if args.json:
        print(json.dumps(json_safe(result)))
    return 0


def run_predict(args) -> int:
    from shallownet.training.run import predict_images

    invert = {"auto": "auto", "yes": True, "no": False}[args.invert]
    results = predict_images(args.run_dir, args.images, top=args.top, invert=invert,
                             device=args.device)
    for item in results:
        ranked = "  ".join(f"{name} {p:.3f}" for name, p in item["top"])
        print(f"{item['file']}  {ranked}")
    if args.json:
        print(json.dumps({"predictions": [
            {"file": r["file"], "top": [{"class": c, "p": p} for c, p in r["top"]]}
            for r in results
        ]}))
    return 0
