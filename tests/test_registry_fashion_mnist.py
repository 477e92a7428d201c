"""On the real Fashion-MNIST: the three ways to train a model follow one trajectory.

Scratch with autograd, scratch with hand-written backprop and concise, built
from the same seed and fed the same batches for one epoch in float32, end
with the same test accuracy and logits equal to float32 rounding.
"""

from __future__ import annotations

import pytest
import torch

from shallownet.data import load_data_fashion_mnist
from shallownet.registry import ModelConfig, build
from tests.conftest import requires_real_data

pytestmark = [requires_real_data, pytest.mark.realdata]


@pytest.fixture(scope="module")
def loaders():
    return load_data_fashion_mnist(256, seed=0)


def _one_epoch(loaders, **config):
    train, test = loaders
    setup = build(ModelConfig(**config), input_shape=(1, 28, 28), num_outputs=10, seed=0)
    train.set_epoch(0)  # the same shuffled order for every run
    for X, y in train:
        setup.train_step(X, y)
    setup.model.eval()
    with torch.inference_mode():
        logits = torch.cat([setup.model(X) for X, _ in test])
    labels = torch.cat([y for _, y in test])
    accuracy = (setup.predict_labels(logits) == labels).double().mean().item()
    return logits, accuracy


@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_scratch_hand_and_concise_agree_after_an_epoch(loaders, model):
    ref_logits, ref_acc = _one_epoch(loaders, model=model, impl="scratch")
    assert ref_acc > 0.70  # one epoch at the book's settings learns
    for config in ({"impl": "scratch", "backward": "hand"}, {"impl": "concise"}):
        logits, acc = _one_epoch(loaders, model=model, **config)
        assert abs(acc - ref_acc) <= 2e-4, config  # at most 2 of 10,000 predictions differ
        torch.testing.assert_close(logits, ref_logits, rtol=0, atol=1e-4)
