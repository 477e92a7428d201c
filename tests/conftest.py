"""Shared fixtures: an isolated environment, a fixed seed, tiny IDX datasets written on the fly."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from shallownet.data import write_idx
from shallownet.data.catalog import FASHION_MNIST, ImageDatasetSpec
from shallownet.data.download import decompressed_md5

SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """Every test gets an empty user cache and no SHALLOWNET_DATA from the caller."""
    monkeypatch.setenv("SHALLOWNET_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("SHALLOWNET_DATA", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # auto takes the fused step, whether or not an earlier test built the compiled one
    # (tests of the compiled step under auto lift this)
    monkeypatch.setenv("SHALLOWNET_AUTO_KERNEL", "0")


@pytest.fixture
def seed():
    torch.manual_seed(0)
    return 0


def write_tiny_dataset(
    directory: Path, *, n_train: int = 30, n_test: int = 10, size: int = 28,
    num_classes: int = 10, compress: bool = True, seed: int = 0,
) -> dict[str, Path]:
    """Write the four IDX files of a small random image dataset; return their paths by key."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % num_classes).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % num_classes).astype(np.uint8),
    }
    names = {k: f.name for k, f in FASHION_MNIST.files.items()}
    return {k: write_idx(directory / f"{names[k]}{suffix}", a) for k, a in arrays.items()}


def spec_for(files: dict[str, Path], base: ImageDatasetSpec = FASHION_MNIST,
             **changes) -> ImageDatasetSpec:
    """A copy of ``base`` whose checksums are those of ``files`` (and no system dirs)."""
    replaced = {
        key: dataclasses.replace(getattr(base, key), md5=decompressed_md5(path))
        for key, path in files.items()
    }
    changes.setdefault("system_dirs", ())
    return dataclasses.replace(base, **replaced, **changes)


@pytest.fixture
def tiny_dataset(tmp_path):
    """(directory, files, spec): a tiny Fashion-MNIST-shaped dataset and a spec that verifies it."""
    directory = tmp_path / "tiny"
    files = write_tiny_dataset(directory)
    return directory, files, spec_for(files)


#: Real-data tests: skipped on a machine without the Debian package, but never in CI,
#: which installs it (a missing copy there must fail, not pass silently).
requires_real_data = pytest.mark.skipif(
    not (SYSTEM_FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file()
    and not os.environ.get("CI"),
    reason="real Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)
