"""What shallownet knows about each IDX image dataset: files, checksums, mirrors, labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from shallownet.errors import UsageError

__all__ = [
    "IDXFileSpec",
    "ImageDatasetSpec",
    "CATALOG",
    "FASHION_MNIST_LABELS",
    "get_spec",
    "get_fashion_mnist_labels",
]

#: The ten Fashion-MNIST classes, in label order.
FASHION_MNIST_LABELS: tuple[str, ...] = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)  # fmt: skip


@dataclass(frozen=True)
class IDXFileSpec:
    """One file of a dataset: its name without ``.gz`` and the MD5 of its decompressed bytes."""

    name: str
    md5: str


@dataclass(frozen=True)
class ImageDatasetSpec:
    """An IDX image-classification dataset with a train and a test split."""

    name: str
    title: str
    train_images: IDXFileSpec
    train_labels: IDXFileSpec
    test_images: IDXFileSpec
    test_labels: IDXFileSpec
    classes: tuple[str, ...]
    mirrors: tuple[str, ...]  # base URLs; a file's URL is base + name + ".gz"
    system_dirs: tuple[str, ...] = ()
    debian_package: str | None = None
    aliases: tuple[str, ...] = ()  # sub-directory names other tools use for it

    @property
    def files(self) -> dict[str, IDXFileSpec]:
        """The four files, keyed train_images, train_labels, test_images, test_labels."""
        return {
            "train_images": self.train_images,
            "train_labels": self.train_labels,
            "test_images": self.test_images,
            "test_labels": self.test_labels,
        }


FASHION_MNIST = ImageDatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    train_images=IDXFileSpec("train-images-idx3-ubyte", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    train_labels=IDXFileSpec("train-labels-idx1-ubyte", "9018921c3c673c538a1fc5bad174d6f9"),
    test_images=IDXFileSpec("t10k-images-idx3-ubyte", "8181f5470baa50b63fa0f6fddb340f0a"),
    test_labels=IDXFileSpec("t10k-labels-idx1-ubyte", "15d484375f8d13e6eb1aabb0c3f46965"),
    classes=FASHION_MNIST_LABELS,
    mirrors=(
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    debian_package="dataset-fashion-mnist",
    aliases=("FashionMNIST/raw", "fashion"),
)

MNIST = ImageDatasetSpec(
    name="mnist",
    title="MNIST",
    train_images=IDXFileSpec("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
    train_labels=IDXFileSpec("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"),
    test_images=IDXFileSpec("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
    test_labels=IDXFileSpec("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
    classes=tuple(str(d) for d in range(10)),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    system_dirs=("/usr/share/datasets/mnist",),
    aliases=("MNIST/raw",),
)

CATALOG: dict[str, ImageDatasetSpec] = {spec.name: spec for spec in (FASHION_MNIST, MNIST)}


def get_spec(name: str | ImageDatasetSpec) -> ImageDatasetSpec:
    """The spec of a dataset by name (case and ``_``/``-`` insensitive); a spec passes through."""
    if isinstance(name, ImageDatasetSpec):
        return name
    key = name.strip().lower().replace("_", "-")
    if key == "fashionmnist":
        key = "fashion-mnist"
    try:
        return CATALOG[key]
    except KeyError:
        known = ", ".join(CATALOG)
        raise UsageError(f"unknown image dataset {name!r}; known: {known}.") from None


def get_fashion_mnist_labels(labels: Sequence[int] | torch.Tensor) -> list[str]:
    """Text labels of Fashion-MNIST class indices (0 -> 't-shirt', ..., 9 -> 'ankle boot')."""
    if isinstance(labels, torch.Tensor):
        labels = labels.reshape(-1).tolist()
    labels = [int(i) for i in labels]
    bad = [i for i in labels if not 0 <= i < len(FASHION_MNIST_LABELS)]
    if bad:
        raise UsageError(f"Fashion-MNIST labels are 0 to 9; got {bad[:5]}.")
    return [FASHION_MNIST_LABELS[i] for i in labels]
