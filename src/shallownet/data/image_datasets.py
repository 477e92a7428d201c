"""Fashion-MNIST and MNIST as float tensors, ready for training.

Images become float32 in [0, 1] of shape (N, 1, H, W) (``x / 255``); labels
int64. Optional resizing (bilinear) and normalisation ``(x - mean) / std``.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from shallownet.data.catalog import ImageDatasetSpec
from shallownet.data.iterator import ArrayLoader
from shallownet.data.locate import RawImageData, locate_dataset
from shallownet.errors import UsageError

__all__ = [
    "ImageData",
    "images_to_tensor",
    "scale_images",
    "load_image_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "load_data_fashion_mnist",
]


@dataclass(frozen=True)
class ImageData:
    """Train and test splits of an image-classification dataset as tensors.

    Attributes
    ----------
    train_images, test_images : Tensor of shape (N, 1, H, W), float32
    train_labels, test_labels : Tensor of shape (N,), int64
    classes : tuple of str
        Text label of each class index.
    name, directory, source, verified
        Dataset name, where its files were found, how (``explicit``, ``cache``,
        ``system``, ``download``) and whether their checksums were verified.
    mean, std : float or None
        The normalisation applied, if any.
    """

    name: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: tuple[str, ...]
    directory: Path
    source: str
    verified: bool
    mean: float | None = None
    std: float | None = None

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of one image, (channels, height, width)."""
        return tuple(self.train_images.shape[1:])


def images_to_tensor(
    images: np.ndarray, *, resize: int | Sequence[int] | None = None, chunk: int = 8192
) -> torch.Tensor:
    """uint8 images (N, H, W) -> float32 tensor (N, 1, H', W') with values ``x / 255`` in [0, 1].

    ``resize`` (int or (height, width)) resizes bilinearly with antialiasing,
    ``chunk`` images at a time to bound the temporary memory.
    """
    x = torch.from_numpy(np.ascontiguousarray(images))
    if resize is None:
        return scale_images(x)
    size = size_pair(resize)
    out = torch.empty((len(x), 1, *size), dtype=torch.float32)
    for start in range(0, len(x), chunk):
        out[start : start + chunk] = scale_images(x[start : start + chunk], size)
    return out


def scale_images(x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """uint8 images (N, H, W) -> float32 (N, 1, H', W'): ``x / 255``, resized to ``size``.

    Resizing is bilinear with antialiasing (what an image library does when
    shrinking), clamped back into [0, 1].
    """
    out = x.unsqueeze(1).to(torch.float32).div_(255.0)
    if size is None or tuple(out.shape[-2:]) == tuple(size):
        return out
    return F.interpolate(
        out, size=size, mode="bilinear", align_corners=False, antialias=True
    ).clamp_(0.0, 1.0)


def size_pair(value: int | Sequence[int], *, name: str = "resize") -> tuple[int, int]:
    """``value`` (a positive int, or (height, width)) as (height, width); else a UsageError."""

    def ok(v) -> bool:
        return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) and v > 0

    if ok(value):
        return int(value), int(value)
    is_pair = isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
    if is_pair and all(ok(v) for v in value):
        return int(value[0]), int(value[1])
    raise UsageError(f"{name} must be a positive int or (height, width), not {value!r}.")


def load_image_dataset(
    name: str | ImageDatasetSpec,
    *,
    data_dir: str | os.PathLike | None = None,
    resize: int | Sequence[int] | None = None,
    normalize: bool | tuple[float, float] = False,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
    verify: bool = True,
    progress: bool | None = None,
) -> ImageData:
    """Load an IDX image dataset, finding or fetching it as :mod:`~shallownet.data.locate` says.

    Parameters
    ----------
    name : {"fashion-mnist", "mnist"} or ImageDatasetSpec
    data_dir : path-like, optional
        Directory to use (or refuse); else ``$SHALLOWNET_DATA``, the cache, system copies.
    resize : int or (int, int), optional
        Output height and width.
    normalize : bool or (mean, std), default False
        ``True`` standardises with the training set's mean and std; a pair uses those.
    download, mirrors, verify, progress
        See :func:`~shallownet.data.locate.locate_dataset`.

    Returns
    -------
    ImageData
    """
    raw = locate_dataset(
        name, data_dir=data_dir, download_missing=download, mirrors=mirrors,
        verify=verify, progress=progress,
    )
    return from_raw(raw, resize=resize, normalize=normalize)


def from_raw(
    raw: RawImageData,
    *,
    resize: int | Sequence[int] | None = None,
    normalize: bool | tuple[float, float] = False,
) -> ImageData:
    """Convert the stored arrays of :class:`RawImageData` to training tensors."""
    train_x = images_to_tensor(raw.train_images, resize=resize)
    test_x = images_to_tensor(raw.test_images, resize=resize)
    mean = std = None
    if normalize is True:
        mean, std = float(train_x.mean()), float(train_x.std())
    elif normalize:
        mean, std = (float(v) for v in normalize)
    if mean is not None:
        if not std > 0:
            raise UsageError(f"normalisation std must be positive, not {std}.")
        train_x.sub_(mean).div_(std)
        test_x.sub_(mean).div_(std)
    return ImageData(
        name=raw.spec.name,
        train_images=train_x,
        train_labels=torch.from_numpy(raw.train_labels.astype(np.int64)),
        test_images=test_x,
        test_labels=torch.from_numpy(raw.test_labels.astype(np.int64)),
        classes=raw.spec.classes,
        directory=raw.directory,
        source=raw.source,
        verified=raw.verified,
        mean=mean,
        std=std,
    )


def load_fashion_mnist(**kwargs) -> ImageData:
    """Fashion-MNIST (60,000 train / 10,000 test, 28x28); keywords as :func:`load_image_dataset`."""
    return load_image_dataset("fashion-mnist", **kwargs)


def load_mnist(**kwargs) -> ImageData:
    """MNIST (60,000 train / 10,000 test, 28x28); keywords as :func:`load_image_dataset`."""
    return load_image_dataset("mnist", **kwargs)


def load_data_fashion_mnist(
    batch_size: int,
    resize: int | Sequence[int] | None = None,
    *,
    seed: int = 0,
    device: str | torch.device | None = None,
    **kwargs,
) -> tuple[ArrayLoader, ArrayLoader]:
    """The book's loader: ``(train_iter, test_iter)`` over Fashion-MNIST, in memory.

    ``train_iter`` is shuffled every epoch; ``test_iter`` is not. Batches are
    ``X`` float32 (B, 1, 28, 28) (or resized) and ``y`` int64 (B,).
    """
    data = load_fashion_mnist(resize=resize, **kwargs)
    train = ArrayLoader(data.train_images, data.train_labels, batch_size=batch_size,
                        shuffle=True, seed=seed, device=device)
    test = ArrayLoader(data.test_images, data.test_labels, batch_size=batch_size,
                       shuffle=False, device=device)
    return train, test
