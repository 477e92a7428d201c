"""One measurement of the benchmark, run in a fresh process so that its peak memory is its own.

``python -m shallownet.bench.measure SPEC_JSON`` prints one JSON line. A spec's
``kind`` is

``run``
    shallownet's training (:class:`~shallownet.training.Trainer`) of a model
    on the data repeated ``scale`` times, with the ``step`` named: ``kernel``
    (the compiled softmax step, loaded or built before the clock starts),
    ``fused`` or ``autograd``;
``per_sample``
    the same model trained the way the book's loader feeds it: a ``Dataset``
    that turns each stored uint8 image into a float tensor when it is read,
    ``torch.utils.data.DataLoader`` with ``workers`` processes, shuffled, and
    the book's loop (figures read after every batch);
``machine``
    the best float32 matmul rate and the memory read bandwidth.

Every timed span covers all epochs, each with its test-set pass; loading the
data and starting processes are reported apart.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time

import torch
from torch.utils.data import DataLoader, Dataset

from shallownet.bench.floor import layer_widths, measure_bandwidth, measure_matmul_rate
from shallownet.bench.references import SKLEARN_REFERENCES
from shallownet.errors import ShallownetError
from shallownet.registry import ModelConfig, build
from shallownet.runtime import resolve_device
from shallownet.threads import THREADS_ENV
from shallownet.training.data import DataSpec, TrainingData, load_training_data
from shallownet.training.kernel import KernelUnavailable, load_kernel, why_no_kernel
from shallownet.training.trainer import Trainer

__all__ = ["PerSampleImages", "peak_rss", "measure", "main"]


def peak_rss() -> int | None:
    """This process's peak resident memory in bytes (VmHWM on Linux; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS counts bytes, Linux KiB


class PerSampleImages(Dataset):
    """Stored uint8 images; item ``i`` is converted to a float tensor in [0, 1] when read.

    What ``torchvision``'s ``ToTensor`` does for the book's ``FashionMNIST``
    (without its PIL round trip, so this comparator is, if anything, fast).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.images[i].to(torch.float32).div(255), int(self.labels[i])


def _load(spec: dict) -> tuple[TrainingData, float]:
    start = time.perf_counter()
    data = load_training_data(DataSpec(
        name=spec.get("data", "fashion-mnist"), data_dir=spec.get("data_dir"),
        max_train=spec.get("max_train"), max_test=spec.get("max_test"),
        verify=spec.get("verify", True),
    ))
    scale = spec.get("scale", 1)
    if scale > 1:  # the same data, repeated
        data.train_X = data.train_X.repeat(scale, *([1] * (data.train_X.ndim - 1)))
        data.train_y = data.train_y.repeat(scale)
        data.test_X = data.test_X.repeat(scale, *([1] * (data.test_X.ndim - 1)))
        data.test_y = data.test_y.repeat(scale)
    return data, time.perf_counter() - start


def _setup(spec: dict, data: TrainingData, device):
    config = ModelConfig(model=spec["model"], impl=spec["impl"],
                         hidden=tuple(spec.get("hidden", (256,))))
    return build(config, input_shape=data.input_shape, num_outputs=data.num_outputs,
                 seed=spec.get("seed", 0), device=device)


def _run(spec: dict) -> dict:
    device = resolve_device(spec.get("device", "cpu"))
    data, load_seconds = _load(spec)
    setup = _setup(spec, data, device)
    step = spec.get("step", "fused")
    if step == "kernel":  # what cannot be used is an error here, not a fallback
        reason = why_no_kernel(setup, device)
        if reason is not None:
            raise KernelUnavailable(reason)
        load_kernel()  # built or loaded outside the timed span, as imports are
    trainer = Trainer(spec["epochs"], spec["batch_size"], seed=spec.get("seed", 0),
                      device=device, step=step, progress=False, log=False, live_plot=False)
    start = time.perf_counter()
    history = trainer.fit(setup, data)
    seconds = time.perf_counter() - start
    last = history[-1]
    return {"step": trainer.step_choice.name, "seconds": seconds,
            "load_seconds": load_seconds, "widths": list(layer_widths(setup.model)),
            "n_train": len(data.train_y), "n_test": len(data.test_y),
            "num_inputs": math.prod(data.input_shape), "num_outputs": data.num_outputs,
            "epoch_seconds": [r["seconds"] for r in history],
            "train_loss": last["train_loss"], "train_acc": last["train_acc"],
            "test_acc": last["test_acc"]}


def _per_sample(spec: dict) -> dict:
    device = resolve_device(spec.get("device", "cpu"))
    data, load_seconds = _load(spec)
    setup = _setup(spec, data, device)
    torch.manual_seed(spec.get("seed", 0))
    as_uint8 = lambda X: (X * 255).round().to(torch.uint8)  # the stored bytes  # noqa: E731
    workers = spec.get("workers", 4)
    train = DataLoader(PerSampleImages(as_uint8(data.train_X), data.train_y),
                       batch_size=spec["batch_size"], shuffle=True, num_workers=workers)
    test = DataLoader(PerSampleImages(as_uint8(data.test_X), data.test_y),
                      batch_size=spec["batch_size"], shuffle=False, num_workers=workers)
    model = setup.model
    start = time.perf_counter()
    for _ in range(spec["epochs"]):
        model.train()
        total, correct, seen = 0.0, 0, 0
        for X, y in train:
            X, y = X.to(device), y.to(device)
            losses, outputs = setup.train_step(X, y)
            total += float(losses.sum())  # the book reads its figures after every batch
            correct += int((outputs.argmax(dim=1) == y).sum())
            seen += len(y)
        model.eval()
        test_correct = 0
        with torch.no_grad():
            for X, y in test:
                X, y = X.to(device), y.to(device)
                test_correct += int((model(X).argmax(dim=1) == y).sum())
    seconds = time.perf_counter() - start
    return {"step": "autograd", "seconds": seconds, "load_seconds": load_seconds,
            "n_train": len(data.train_y), "n_test": len(data.test_y), "workers": workers,
            "epochs": spec["epochs"],
            "train_loss": total / seen, "train_acc": correct / seen,
            "test_acc": test_correct / len(data.test_y)}


def _machine(spec: dict) -> dict:
    device = resolve_device(spec.get("device", "cpu"))
    return {"device": str(device), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
            "matmul": measure_matmul_rate(device), "bandwidth": measure_bandwidth(device)}


def _sklearn(spec: dict) -> dict:
    """Fit a scikit-learn reference on the same data (flattened, in [0, 1]); its test accuracy
    and the seconds ``fit`` took."""
    import importlib
    import warnings

    data, load_seconds = _load(spec)
    path, kwargs = SKLEARN_REFERENCES[spec["reference"]]
    module, name = path.rsplit(".", 1)
    try:
        estimator = getattr(importlib.import_module(module), name)(
            **kwargs, **({"random_state": spec.get("seed", 0)} if "MLP" in name else {}))
    except ImportError as exc:
        raise ShallownetError(f"the scikit-learn comparison needs scikit-learn: pip install "
                              f"'shallownet[sklearn]' ({exc}).") from exc
    X = data.train_X.reshape(len(data.train_X), -1).numpy()
    X_test = data.test_X.reshape(len(data.test_X), -1).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LogisticRegression's "failed to converge" at 100 steps
        start = time.perf_counter()
        estimator.fit(X, data.train_y.numpy())
        seconds = time.perf_counter() - start
    return {"reference": spec["reference"], "seconds": seconds, "load_seconds": load_seconds,
            "test_acc": float(estimator.score(X_test, data.test_y.numpy())),
            "n_train": len(X), "n_test": len(X_test)}


def _recipe(spec: dict) -> dict:
    """Train a recipe (its settings, on the spec's data); its test figures epoch by epoch."""
    from shallownet.recipes import recipe

    chosen = recipe(spec["recipe"])
    changes = {"seed": spec.get("seed", 0)}
    if spec.get("recipe_epochs"):
        changes["epochs"] = spec["recipe_epochs"]
    config = chosen.config(data=DataSpec(
        name=spec.get("data", "fashion-mnist"), data_dir=spec.get("data_dir"),
        max_train=spec.get("max_train"), max_test=spec.get("max_test"),
        verify=spec.get("verify", True)), **changes).resolved()
    start = time.perf_counter()
    data = load_training_data(config.data)
    load_seconds = time.perf_counter() - start
    setup = build(config.model, input_shape=data.input_shape, num_outputs=data.num_outputs,
                  seed=config.train.seed, device=resolve_device(spec.get("device", "cpu")))
    trainer = Trainer.from_config(config, progress=False, log=False, live_plot=False)
    history = trainer.fit(setup, data)
    elapsed = 0.0
    curve = []
    for record in history:
        elapsed += record["seconds"]
        curve.append({"epoch": record["epoch"], "test_acc": record["test_acc"],
                      "seconds": elapsed})
    return {"recipe": chosen.name, "model": chosen.model, "step": trainer.step_choice.name,
            "seconds": elapsed, "load_seconds": load_seconds, "curve": curve,
            "test_acc": history[-1]["test_acc"]}


_KINDS = {"run": _run, "per_sample": _per_sample, "machine": _machine, "sklearn": _sklearn,
          "recipe": _recipe}


def measure(spec: dict) -> dict:
    """Carry out ``spec`` in this process; the result includes its ``peak_rss`` in bytes."""
    threads = spec.get("threads")
    if threads:
        os.environ[THREADS_ENV] = str(threads)  # the trainer's thread policy follows it
        torch.set_num_threads(threads)
    result = _KINDS[spec["kind"]](spec)
    result["threads"] = torch.get_num_threads()
    result["peak_rss"] = peak_rss()
    return result


def main(argv: list[str] | None = None) -> int:
    """Print the result of the spec ``argv[0]`` as one JSON line; ``{"error": ...,
    "unavailable": ...}`` for a shallownet error (a missing dataset, say), which the suite
    reports as it is; ``unavailable`` is true when it is the compiled step that cannot run."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        result = measure(json.loads(argv[0]))
    except ShallownetError as exc:
        result = {"error": str(exc), "unavailable": isinstance(exc, KernelUnavailable)}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
