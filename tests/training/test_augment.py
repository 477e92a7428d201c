"""Batch augmentation: shifts and flips of whole batches, reproducible, images only."""

from __future__ import annotations

import pytest
import torch

from shallownet.errors import UsageError
from shallownet.training.augment import make_augmentation, random_crop, random_flip
from tests.training.test_trainer import blobs, make_setup, make_trainer


def test_a_crop_shifts_each_image_by_at_most_pad_pixels_and_fills_the_border():
    torch.manual_seed(0)
    X = torch.zeros(200, 1, 8, 8)
    X[:, 0, 3, 4] = 1.0  # one bright pixel
    out = random_crop(X, pad=2, fill=-1.0)
    assert out.shape == X.shape
    for image in out:
        (y, x), = (image[0] == 1.0).nonzero().tolist()
        assert abs(y - 3) <= 2 and abs(x - 4) <= 2
    shifts = {tuple((image[0] == 1.0).nonzero()[0].tolist()) for image in out}
    assert len(shifts) == 25  # every shift in [-2, 2]² occurs among 200 images
    assert bool((out == -1.0).any())  # the uncovered border is the fill value


def test_a_crop_keeps_channels_together():
    torch.manual_seed(1)
    X = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6)
    out = random_crop(X, pad=1)
    for c in range(1, 3):  # channel c is channel 0 plus a constant, where not padded
        inside = out[:, 0] != 0
        difference = (out[:, c] - out[:, 0])[inside]
        assert torch.equal(difference, torch.full_like(difference, c * 36.0))


def test_a_flip_mirrors_about_half_of_the_images():
    torch.manual_seed(0)
    X = torch.randn(1000, 1, 4, 5)
    out = random_flip(X)
    flipped = torch.tensor([torch.equal(o, x.flip(-1)) for o, x in zip(out, X, strict=True)])
    kept = torch.tensor([torch.equal(o, x) for o, x in zip(out, X, strict=True)])
    assert bool((flipped ^ kept).all())
    assert 400 < int(flipped.sum()) < 600


def test_the_same_seed_gives_the_same_augmented_batches():
    augment = make_augmentation(("crop", "flip"))
    X = torch.randn(32, 1, 10, 10)
    torch.manual_seed(3)
    a = augment(X)
    torch.manual_seed(3)
    assert torch.equal(a, augment(X))


def test_unknown_augmentations_and_non_images_are_refused():
    with pytest.raises(UsageError, match="unknown augmentation 'rotate'"):
        make_augmentation(("crop", "rotate"))
    assert make_augmentation(()) is None
    with pytest.raises(UsageError, match="transforms images"):
        make_augmentation(("flip",))(torch.randn(4, 12))


def test_augmented_training_is_reproducible_and_differs_from_plain():
    data = blobs()
    runs = [make_trainer(epochs=2, augment=augment).fit(make_setup(data), data)
            for augment in (("crop", "flip"), ("crop", "flip"), ())]
    strip = [[{k: v for k, v in r.items() if k != "seconds"} for r in h] for h in runs]
    assert strip[0] == strip[1] and strip[0] != strip[2]


def test_the_compiled_step_refuses_augmented_batches():
    data = blobs()
    with pytest.raises(UsageError, match="without augmentation"):
        make_trainer(epochs=1, step="kernel", augment=("flip",)).fit(make_setup(data), data)
