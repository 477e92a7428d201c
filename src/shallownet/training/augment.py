"""Data augmentation for image batches, done on the whole batch in memory.

``crop``  pad each image by ``pad`` pixels of background on every side and cut
          a random window of the original size: a random shift of up to
          ``pad`` pixels in each direction;
``flip``  mirror a random half of the images left to right.

Each is one or two tensor operations on the gathered batch (no per-image
Python), drawing from torch's global generator, which the trainer seeds
epoch by epoch: the same seed gives the same augmented batches, and a
resumed run continues exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from shallownet.errors import Hint, UsageError

__all__ = ["AUGMENTATIONS", "random_crop", "random_flip", "make_augmentation"]

AUGMENTATIONS = ("crop", "flip")


def random_crop(X: torch.Tensor, pad: int = 2, fill: float = 0.0) -> torch.Tensor:
    """Each image of ``X`` (n, c, h, w) shifted by a random (dy, dx) in [-pad, pad]², the
    uncovered border filled with ``fill``."""
    n, c, h, w = X.shape
    padded = torch.nn.functional.pad(X, (pad, pad, pad, pad), value=fill)
    offsets = torch.randint(0, 2 * pad + 1, (2, n), device=X.device)
    rows = offsets[0][:, None] + torch.arange(h, device=X.device)  # (n, h)
    cols = offsets[1][:, None] + torch.arange(w, device=X.device)  # (n, w)
    images = torch.arange(n, device=X.device)[:, None, None]
    # (n, h, w, c) from one gather, back to (n, c, h, w)
    return padded.permute(0, 2, 3, 1)[images, rows[:, :, None], cols[:, None, :]].permute(
        0, 3, 1, 2).contiguous()


def random_flip(X: torch.Tensor) -> torch.Tensor:
    """Each image of ``X`` (n, c, h, w) mirrored left to right with probability ½."""
    flip = torch.rand(len(X), device=X.device) < 0.5
    return torch.where(flip[:, None, None, None], X.flip(-1), X)


def make_augmentation(names: Sequence[str], *, fill: float = 0.0,
                      pad: int = 2) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The batch transform applying ``names`` (of :data:`AUGMENTATIONS`) in order; None for none.

    ``fill`` is the background value (0 for images in [0, 1]; ``-mean / std``
    for standardised ones).
    """
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if unknown:
        raise UsageError(f"unknown augmentation {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(AUGMENTATIONS)}.", hints=[Hint("augment")])
    if not names:
        return None
    transforms = {"crop": lambda X: random_crop(X, pad, fill), "flip": random_flip}
    chosen = [transforms[name] for name in names]

    def augment(X: torch.Tensor) -> torch.Tensor:
        if X.ndim != 4:
            raise UsageError("augmentation transforms images (n, channels, height, width); "
                             f"this data has examples of shape {tuple(X.shape[1:])}.",
                             hints=[Hint("augment", ())])
        for transform in chosen:
            X = transform(X)
        return X

    return augment
