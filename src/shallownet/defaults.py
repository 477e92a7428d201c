"""The book's training defaults: epochs, batch size and learning rate for each case.

One table, beside the registry (:mod:`shallownet.registry`), keyed by model,
data kind and optimiser. :meth:`shallownet.training.RunConfig.resolved`,
:class:`shallownet.training.Trainer`, the scikit-learn estimators and
``shallownet train`` all fill what is not given from it, so the same case
trains with the same numbers whichever way it is started.

Data kinds: ``image`` (Fashion-MNIST, MNIST), ``table`` (a CSV file, or the
arrays given to a scikit-learn estimator) and ``synthetic`` (the chapter's
``y = Xw + b + noise``).

>>> book_defaults("softmax", "image", "sgd")
Defaults(epochs=10, batch_size=256, lr=0.1)
>>> book_defaults("linreg", "synthetic", "sgd")
Defaults(epochs=3, batch_size=10, lr=0.03)
"""

from __future__ import annotations

from typing import NamedTuple

from shallownet.errors import UsageError

__all__ = ["Defaults", "BOOK_DEFAULTS", "DATA_KINDS", "DEFAULT_MODELS", "book_defaults",
           "defaults_sentence"]

DATA_KINDS = ("image", "table", "synthetic")

#: The model trained when none is named: the book's first model for each kind of data.
DEFAULT_MODELS = {"image": "softmax", "table": "softmax", "synthetic": "linreg"}


class Defaults(NamedTuple):
    """What a case trains with unless told otherwise."""

    epochs: int
    batch_size: int
    lr: float


#: (model, data kind) -> (epochs, batch size, lr with sgd or momentum, lr with adam).
#: Linear regression on the synthetic data is section 3.2's (3 epochs of batch 10,
#: lr 0.03); Fashion-MNIST is sections 3.6, 4.2 and 6.6's (10 epochs of batch 256,
#: lr 0.1); a table trains in smaller batches of 32; Adam starts at its usual 0.001.
_TABLE: dict[tuple[str, str], tuple[int, int, float, float]] = {
    # model      data kind       epochs  batch   sgd lr  adam lr
    ("linreg", "synthetic"):    (3,      10,     0.03,   0.001),
    ("linreg", "table"):        (10,     32,     0.03,   0.001),
    ("softmax", "image"):       (10,     256,    0.1,    0.001),
    ("softmax", "table"):       (10,     32,     0.1,    0.001),
    ("mlp", "image"):           (10,     256,    0.1,    0.001),
    ("mlp", "table"):           (10,     32,     0.1,    0.001),
    ("logreg", "table"):        (10,     32,     0.1,    0.001),
    ("lenet", "image"):         (10,     256,    0.1,    0.001),
}

#: The table with the optimiser spelled out: (model, data kind, optimiser) -> Defaults.
BOOK_DEFAULTS: dict[tuple[str, str, str], Defaults] = {
    (model, kind, optimizer): Defaults(epochs, batch, adam_lr if optimizer == "adam" else lr)
    for (model, kind), (epochs, batch, lr, adam_lr) in _TABLE.items()
    for optimizer in ("sgd", "momentum", "adam")
}


def book_defaults(model: str, kind: str, optimizer: str = "sgd") -> Defaults:
    """The epochs, batch size and learning rate ``model`` trains with on ``kind`` data.

    A model that cannot train on that kind of data (``linreg`` on images) has
    no row; :func:`shallownet.registry.check_compatible` says why.
    """
    try:
        return BOOK_DEFAULTS[model, kind, optimizer]
    except KeyError:
        raise UsageError(
            f"no defaults for model {model!r} on {kind} data with the {optimizer!r} optimiser: "
            "that model does not train on that kind of data."
        ) from None


_KIND_WORDS = {"image": "images (Fashion-MNIST, MNIST)", "table": "a CSV table",
               "synthetic": "synthetic-linear"}


def defaults_sentence() -> str:
    """The table in one sentence, as ``shallownet train --help`` and the README give it.

    For each data kind: the numbers most of its models train with, then the
    models that differ; then the learning rate with Adam.
    """
    parts = []
    for kind in DATA_KINDS:
        rows = {model: numbers for (model, k), numbers in _TABLE.items() if k == kind}
        common = max(set(rows.values()), key=list(rows.values()).count)
        epochs, batch, lr, _ = common
        text = f"on {_KIND_WORDS[kind]} {epochs} epochs of batch {batch}, lr {lr:g}"
        others = [f"{model} {_differences(numbers, common)}" for model, numbers in rows.items()
                  if numbers != common]
        parts.append(text + (f" ({'; '.join(others)})" if others else ""))
    adam = {numbers[3] for numbers in _TABLE.values()}
    adam_text = f"lr {adam.pop():g}" if len(adam) == 1 else "its own lr"
    return f"Defaults follow the book: {'; '.join(parts)}; with Adam {adam_text}."


def _differences(numbers: tuple, common: tuple) -> str:
    names = ("epochs", "batch", "lr")
    return ", ".join(f"{name} {value:g}" for name, value, usual in
                     zip(names, numbers[:3], common[:3], strict=True) if value != usual)
