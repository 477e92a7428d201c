"""``shallownet data info | fetch | show``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from shallownet.cli.arguments import int_at_least
from shallownet.data.catalog import CATALOG, get_spec
from shallownet.data.image_datasets import from_raw
from shallownet.data.locate import fetch_dataset, locate_dataset
from shallownet.data.synthetic import TRUE_B, TRUE_W, synthetic_data
from shallownet.data.tabular import read_csv_dataset
from shallownet.errors import UsageError

__all__ = ["register"]

_SOURCES = {
    "explicit": "the directory you named",
    "cache": "user cache",
    "system": "system copy",
    "download": "downloaded now",
}


def register(commands) -> None:
    """Add the ``data`` command and its sub-commands to ``commands``."""
    data = commands.add_parser("data", help="inspect, fetch and show datasets")
    sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True
    names = ", ".join(CATALOG)

    info = sub.add_parser(
        "info", help="where a dataset is, whether it is verified, its shapes and classes"
    )
    info.add_argument("name", help=f"{names}, synthetic-linear, or a PATH.csv")
    _add_location_args(info)
    info.add_argument("--download", action="store_true", help="download it if not found")
    info.add_argument("--json", action="store_true", help="end stdout with one JSON line")
    info.set_defaults(handler=run_info)

    fetch = sub.add_parser("fetch", help="download and verify a dataset (if not already there)")
    fetch.add_argument("name", help=names)
    _add_location_args(fetch)
    fetch.add_argument("--force", action="store_true", help="download again even if present")
    fetch.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(handler=run_fetch)

    show = sub.add_parser("show", help="write a PNG grid of the first examples with their labels")
    show.add_argument("name", help=names)
    _add_location_args(show)
    show.add_argument("--split", choices=("train", "test"), default="train")
    show.add_argument("--rows", type=int_at_least(1), default=2, help="grid rows (default 2)")
    show.add_argument("--cols", type=int_at_least(1), default=9, help="grid columns (default 9)")
    show.add_argument("--out", type=Path, help="PNG path (default NAME-SPLIT.png)")
    show.set_defaults(handler=run_show)


def _add_location_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="directory holding the dataset (or to put it in)")
    p.add_argument("--mirror", action="append", metavar="URL",
                   help="base URL to download from instead of the defaults (repeatable)")


def run_info(args) -> int:
    start = time.perf_counter()
    name = args.name
    if name.lower().endswith(".csv") or Path(name).is_file():
        report = _csv_info(Path(name))
    elif name == "synthetic-linear":
        report = _synthetic_info()
    else:
        raw = locate_dataset(name, data_dir=args.data_dir, download_missing=args.download,
                             mirrors=args.mirror)
        report = _image_info(raw)
    report["seconds"] = round(time.perf_counter() - start, 3)
    for line in report.pop("_lines"):
        print(line)
    print(f"  load time   {report['seconds']:.2f} s")
    if args.json:
        print(json.dumps(report))
    return 0


def _image_info(raw) -> dict:
    data = from_raw(raw)
    spec = raw.spec
    per_class = {
        split: torch.bincount(labels, minlength=len(spec.classes)).tolist()
        for split, labels in (("train", data.train_labels), ("test", data.test_labels))
    }
    lo = min(float(data.train_images.min()), float(data.test_images.min()))
    hi = max(float(data.train_images.max()), float(data.test_images.max()))
    verified = "verified (MD5 of the decompressed bytes)" if raw.verified else "not verified"
    lines = [
        spec.title,
        f"  found in    {raw.directory} ({_SOURCES[raw.source]})",
        f"  checksums   {verified}",
    ]
    for split in ("train", "test"):
        x = getattr(data, f"{split}_images")
        shape = "x".join(str(s) for s in x.shape[1:])
        lines.append(f"  {split:<11} {len(x):,} images of {shape}, float32 in [{lo:.3f}, {hi:.3f}]")
    width = max(16, *(len(c) for c in spec.classes))
    lines.append(f"  {'examples per class':<{width + 2}} {'train':>7} {'test':>7}")
    for i, label in enumerate(spec.classes):
        lines.append(
            f"    {label:<{width}} {per_class['train'][i]:>7,} {per_class['test'][i]:>7,}"
        )
    return {
        "_lines": lines,
        "dataset": spec.name,
        "directory": str(raw.directory),
        "source": raw.source,
        "verified": raw.verified,
        "train_images": list(data.train_images.shape),
        "train_labels": list(data.train_labels.shape),
        "test_images": list(data.test_images.shape),
        "test_labels": list(data.test_labels.shape),
        "dtype": "float32",
        "value_range": [lo, hi],
        "classes": list(spec.classes),
        "per_class": per_class,
    }


def _csv_info(path: Path) -> dict:
    data = read_csv_dataset(path)
    lines = [
        f"CSV dataset {path}",
        f"  header      {'yes' if data.has_header else 'no'}",
        f"  examples    {len(data):,}",
        f"  features    {len(data.feature_names)} ({', '.join(data.feature_names[:8])}"
        f"{', ...' if len(data.feature_names) > 8 else ''})",
        f"  target      {data.target_name} ({data.task})",
    ]
    report = {
        "dataset": str(path),
        "examples": len(data),
        "features": list(data.feature_names),
        "target": data.target_name,
        "task": data.task,
        "has_header": data.has_header,
    }
    if data.classes is not None:
        counts = torch.bincount(data.targets, minlength=len(data.classes)).tolist()
        lines.append("  examples per class")
        lines += [f"    {c:<10} {n:>7,}" for c, n in zip(data.classes, counts, strict=True)]
        report["classes"] = list(data.classes)
        report["per_class"] = counts
    else:
        y = data.targets
        lines.append(f"  target range [{float(y.min()):g}, {float(y.max()):g}]")
        report["target_range"] = [float(y.min()), float(y.max())]
    report["_lines"] = lines
    return report


def _synthetic_info() -> dict:
    X, y = synthetic_data(seed=0)
    lines = [
        "synthetic linear regression: y = X w + b + noise",
        f"  w = {list(TRUE_W)}, b = {TRUE_B}, noise std 0.01",
        f"  examples    {len(X):,} (features {X.shape[1]})",
    ]
    return {
        "_lines": lines,
        "dataset": "synthetic-linear",
        "examples": len(X),
        "features": X.shape[1],
        "true_w": list(TRUE_W),
        "true_b": TRUE_B,
    }


def run_fetch(args) -> int:
    spec = get_spec(args.name)
    raw = fetch_dataset(spec, data_dir=args.data_dir, mirrors=args.mirror, force=args.force,
                        progress=False if args.quiet else None)
    how = "downloaded" if raw.source == "download" else "already present"
    print(f"{spec.title}: {how}, checksums verified, in {raw.directory}")
    return 0


def run_show(args) -> int:
    from shallownet.plots.image_grid import show_images
    from shallownet.plots.save import save_figure

    spec = get_spec(args.name)
    raw = locate_dataset(spec, data_dir=args.data_dir, mirrors=args.mirror)
    images = raw.train_images if args.split == "train" else raw.test_images
    labels = raw.train_labels if args.split == "train" else raw.test_labels
    n = args.rows * args.cols
    if n > len(images):
        raise UsageError(f"the {args.split} split has only {len(images)} images, not {n}.")
    titles = [spec.classes[int(i)] for i in labels[:n]]
    fig, _ = show_images(images[:n], args.rows, args.cols, titles=titles)
    fig.suptitle(f"{spec.title} ({args.split}), first {n} examples")
    out = args.out or Path(f"{spec.name}-{args.split}.png")
    path = save_figure(fig, out)
    print(f"wrote {path}", file=sys.stderr)
    print(path)
    return 0
