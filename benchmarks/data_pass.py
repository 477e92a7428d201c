"""One pass over the Fashion-MNIST training set at batch 256: in-memory vs per-sample loading.

Measured side by side in one run (run by hand, not by CI)::

    python benchmarks/data_pass.py [--repeats 3] [--json out.json]

* ``in-memory``: :class:`shallownet.data.ArrayLoader` over tensors prepared once
  (float32 in [0, 1]), a fresh shuffled order, one gather per batch.
* ``per-sample, W workers``: what the book's loader does — a ``Dataset`` that
  holds the stored uint8 images and converts one image on each access
  (PIL image -> float tensor / 255, like ``transforms.ToTensor``), fed through
  ``torch.utils.data.DataLoader(batch_size=256, shuffle=True, num_workers=W)``.
  The time includes starting the workers, as every epoch of the book does.

It also reports the peak resident memory of a process that only imports
torch, and of one that loads the dataset with :func:`load_fashion_mnist`.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from shallownet.data import ArrayLoader, load_fashion_mnist, locate_dataset

BATCH = 256


class PerSampleFashionMNIST(Dataset):
    """Stored uint8 images, converted to a (1, 28, 28) float tensor on each access."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        img = Image.fromarray(self.images[i], mode="L")
        x = torch.from_numpy(np.array(img, dtype=np.uint8)).to(torch.float32).div(255.0)
        return x.unsqueeze(0), int(self.labels[i])


def time_pass(make_iter) -> float:
    """Seconds to draw every batch of one epoch (creating the iterator included)."""
    start = time.perf_counter()
    n = 0
    for _X, y in make_iter():
        n += len(y)
    elapsed = time.perf_counter() - start
    assert n == 60_000, n
    return elapsed


def peak_rss_mib(code: str) -> float:
    """Peak resident memory (MiB) of a fresh Python process running ``code``."""
    # VmHWM, not ru_maxrss: the latter survives exec and would report this parent's peak.
    probe = "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\n{probe}"], capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1]) / 1024  # KiB -> MiB


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="passes per variant (best kept)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 4])
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="This DataLoader will create")

    raw = locate_dataset("fashion-mnist", download_missing=False)
    data = load_fashion_mnist(download=False)
    loader = ArrayLoader(data.train_images, data.train_labels, batch_size=BATCH, shuffle=True)
    per_sample = PerSampleFashionMNIST(raw.train_images, raw.train_labels)

    variants = {"in-memory": lambda: iter(loader)}
    for w in args.workers:
        variants[f"per-sample DataLoader, {w} workers"] = (
            lambda w=w: iter(DataLoader(per_sample, batch_size=BATCH, shuffle=True, num_workers=w))
        )
    results = {}
    for name, make_iter in variants.items():
        # The in-memory pass is cheap: more repeats make its best time less noisy.
        repeats = args.repeats * (10 if name == "in-memory" else 1)
        times = [time_pass(make_iter) for _ in range(repeats)]
        results[name] = {"best_s": min(times), "median_s": statistics.median(times)}
        print(f"  {name:<36} best {min(times):8.3f} s   median {statistics.median(times):8.3f} s",
              file=sys.stderr)

    best_dl = min(v["best_s"] for k, v in results.items() if k != "in-memory")
    speedup = best_dl / results["in-memory"]["best_s"]
    rss_torch = peak_rss_mib("import torch")
    rss_loaded = peak_rss_mib("from shallownet.data import load_fashion_mnist\n"
                              "d = load_fashion_mnist(download=False)")
    report = {
        "benchmark": "fashion-mnist train pass, batch 256",
        "machine": {"cpus": torch.get_num_threads(), "python": platform.python_version(),
                    "torch": torch.__version__},
        "results": results,
        "speedup_vs_best_dataloader": speedup,
        "peak_rss_mib": {"import_torch": rss_torch, "load_fashion_mnist": rss_loaded},
    }
    print(f"\nin-memory pass is {speedup:.0f}x faster than the best per-sample DataLoader "
          "(target >= 50x)")
    print(f"peak RSS: {rss_torch:.0f} MiB importing torch, {rss_loaded:.0f} MiB after loading "
          f"Fashion-MNIST (+{rss_loaded - rss_torch:.0f} MiB)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
