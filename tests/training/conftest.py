"""Helpers shared by the training tests: small CSV datasets written into ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def write_csv(path: Path, X: np.ndarray, y: np.ndarray, *, header: bool = True) -> Path:
    """Write features ``X`` (n, d) and a last target column ``y`` (n,) as a CSV file."""
    lines = []
    if header:
        lines.append(",".join([*(f"f{i}" for i in range(X.shape[1])), "target"]))
    for row, target in zip(X, y, strict=True):
        lines.append(",".join([*(repr(float(v)) for v in row), _cell(target)]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _cell(value) -> str:
    value = value.item() if hasattr(value, "item") else value
    return str(value) if isinstance(value, int) else repr(float(value))


def classification_arrays(n: int = 200, *, classes: int = 3, d: int = 4, seed: int = 0,
                          offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs around well-separated centres; feature 0 shifted by ``offset``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (classes, d))
    y = np.arange(n) % classes
    X = centres[y] + rng.normal(0, 0.5, (n, d))
    X[:, 0] += offset
    return X, y


@pytest.fixture
def classification_csv(tmp_path):
    """A 200-row, 3-class CSV file with a header."""
    X, y = classification_arrays()
    return write_csv(tmp_path / "blobs.csv", X, y)


@pytest.fixture
def regression_csv(tmp_path):
    """A 120-row CSV file whose target is a continuous linear function of 3 features."""
    rng = np.random.default_rng(1)
    X = rng.normal(0, 1, (120, 3))
    y = X @ np.array([1.5, -2.0, 0.5]) + 0.3 + rng.normal(0, 0.1, 120)
    return write_csv(tmp_path / "reg.csv", X, y)


@pytest.fixture
def binary_csv(tmp_path):
    """A 100-row CSV file with a 0/1 target."""
    X, y = classification_arrays(100, classes=2, seed=2)
    return write_csv(tmp_path / "binary.csv", X, y)
