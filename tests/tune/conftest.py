"""Settings shared by the search tests: small MLPs on a slice of the real Fashion-MNIST."""

from __future__ import annotations

from shallownet.training.config import RunConfig


def small_mlp(*, epochs: int = 4, max_train: int = 1200, max_test: int | None = 300,
              **model) -> RunConfig:
    """A 784-32-10 MLP on the first ``max_train`` training images (a fraction of a second
    per trial on two cores)."""
    return RunConfig.from_dict({
        "model": {"model": "mlp", "hidden": [32], **model},
        "data": {"name": "fashion-mnist", "max_train": max_train, "max_test": max_test},
        "train": {"epochs": epochs, "batch_size": 64},
    })
