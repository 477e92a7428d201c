"""The concise tier: the same models and losses with ``torch.nn`` and ``torch.optim``."""

from shallownet.concise.losses import LOSS_NAMES, make_loss
from shallownet.concise.models import (
    lenet,
    linear_regression,
    logistic_regression,
    mlp,
    softmax_regression,
)

__all__ = [
    "LOSS_NAMES",
    "lenet",
    "linear_regression",
    "logistic_regression",
    "make_loss",
    "mlp",
    "softmax_regression",
]
