"""Recipes: named training presets that reach a good model fast.

Each recipe is a set of ordinary ``shallownet train`` settings (every one of
them an option of its own: ``--schedule``, ``--label-smoothing``,
``--augment``, ...), the accuracy it reaches and the time it takes on the
reference machine, and the validation figure that chose it. A recipe's
settings were chosen on a validation split of the training set (``--val-fraction
1/6``: 50,000 images to train, 10,000 to validate), never on the test set; the
test set is scored once per epoch, as the book does, and nothing a recipe
does while it trains reads it.

>>> RECIPES["mlp-fast"].config().train.schedule
'onecycle'
>>> train_run(RECIPES["mlp-fast"].config(), "runs/fast")   # doctest: +SKIP

``shallownet train --recipe NAME`` starts from a recipe; options given beside
it override its settings. ``shallownet recipes`` lists them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from shallownet.errors import Hint, UsageError
from shallownet.registry import ModelConfig
from shallownet.training.config import RunConfig, TrainSettings
from shallownet.training.data import DataSpec

__all__ = ["Recipe", "RECIPES", "recipe", "SECTIONS"]

#: Measured by ``python benchmarks/recipes.py`` on a 2-core AMD EPYC (AVX-512 BF16),
#: torch 2.13, seed 0: the last epoch's test accuracy, and training plus evaluation seconds.
TEST_ACC = {"softmax-fast": 0.8431, "mlp-fast": 0.8866, "mlp-best": 0.9030, "lenet-fast": 0.9246}
SECONDS = {"softmax-fast": 0.40, "mlp-fast": 1.76, "mlp-best": 7.67, "lenet-fast": 68.7}

#: the sections of a run config a recipe's settings fill, by the config class they build
SECTIONS = {"model": ModelConfig, "data": DataSpec, "train": TrainSettings}


@dataclass(frozen=True)
class Recipe:
    """A named set of training settings and what they reached.

    How each was chosen: on the validation split, the settings with the best
    validation accuracy whose training fits the time the recipe is for (a
    twentieth of ``LogisticRegression()``'s fit for ``softmax-fast``, a fifth of
    ``MLPClassifier((256,), max_iter=10)``'s for ``mlp-fast``, that fit's time
    for ``mlp-best``, a minute for ``lenet-fast``), among the candidates tried.

    Attributes
    ----------
    name, summary : str
    settings : dict
        ``{"model": {...}, "data": {...}, "train": {...}}``: the fields of
        :class:`~shallownet.registry.ModelConfig`, :class:`~shallownet.training.DataSpec`
        and :class:`~shallownet.training.TrainSettings` it sets.
    test_acc : float
        The test accuracy of its last epoch on Fashion-MNIST (seed 0).
    seconds : float
        Its training and evaluation time on the reference machine (2 cores).
    val_acc : float
        The validation accuracy (``--val-fraction 1/6``) that chose it.
    why : str
        What each setting buys, in a sentence.
    """

    name: str
    summary: str
    settings: dict = field(default_factory=dict)
    test_acc: float = 0.0
    seconds: float = 0.0
    val_acc: float = 0.0
    why: str = ""

    def config(self, *, data: DataSpec | None = None, **train: object) -> RunConfig:
        """The recipe's :class:`~shallownet.training.RunConfig` on ``data`` (default:
        Fashion-MNIST with the recipe's data settings), ``train`` overriding its training
        settings (``seed``, ``device``, ``epochs`` ...)."""
        sections = {name: kind(**self.settings.get(name, {}))
                    for name, kind in SECTIONS.items()}
        if data is not None:
            sections["data"] = dataclasses.replace(data, **self.settings.get("data", {}))
        sections["train"] = dataclasses.replace(sections["train"], recipe=self.name, **train)
        return RunConfig(**sections)

    @property
    def model(self) -> str:
        return self.settings.get("model", {}).get("model", ModelConfig().model)

    def describe(self) -> str:
        """Its settings as ``shallownet train`` options: ``--model mlp --optimizer adam ...``."""
        words = []
        for section in SECTIONS:
            for key, value in self.settings.get(section, {}).items():
                flag = "--" + key.replace("_", "-")
                if value is True:
                    words.append(flag)
                elif isinstance(value, tuple | list):
                    words.append(f"{flag} {','.join(map(str, value))}")
                else:
                    words.append(f"{flag} {value:g}" if isinstance(value, float)
                                 else f"{flag} {value}")
        return " ".join(words)


_FAST_MLP = {"model": "mlp", "init": "xavier", "optimizer": "momentum", "lr": 0.1,
             "label_smoothing": 0.1}

RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe(
        "softmax-fast", "softmax regression within 0.002 of LogisticRegression's accuracy, in "
        "under half a second",
        {"model": {"model": "softmax", "lr": 0.1}, "data": {"normalize": True},
         "train": {"epochs": 6, "batch_size": 128, "schedule": "cosine"}},
        test_acc=TEST_ACC["softmax-fast"], seconds=SECONDS["softmax-fast"], val_acc=0.8597,
        why="standardised pixels make the problem well conditioned, batches of 128 and a "
            "cosine decay of the book's rate settle in 6 epochs where the book's 10 still "
            "swing; plain SGD keeps the compiled step"),
    Recipe(
        "mlp-fast", "the 784-256-10 MLP past MLPClassifier's accuracy in under 2 seconds",
        {"model": dict(_FAST_MLP), "data": {"normalize": True},
         "train": {"epochs": 5, "batch_size": 256, "schedule": "onecycle",
                   "precision": "auto"}},
        test_acc=TEST_ACC["mlp-fast"], seconds=SECONDS["mlp-fast"], val_acc=0.8971,
        why="standardised pixels and Xavier initialisation start it well, momentum with a "
            "one-cycle schedule (warm-up to lr 0.1, then down to 0) converges in 5 epochs, "
            "label smoothing 0.1 keeps it calibrated, bfloat16 products halve the time where "
            "the CPU has them"),
    Recipe(
        "mlp-best", "a wider two-layer MLP (512-256) for the best accuracy of the chapter's "
        "models in seconds",
        {"model": {**_FAST_MLP, "hidden": (512, 256)}, "data": {"normalize": True},
         "train": {"epochs": 10, "batch_size": 256, "schedule": "onecycle",
                   "precision": "auto"}},
        test_acc=TEST_ACC["mlp-best"], seconds=SECONDS["mlp-best"], val_acc=0.9094,
        why="the fast MLP's settings with two wider hidden layers and 10 epochs: more "
            "capacity, the same one-cycle descent"),
    Recipe(
        "lenet-fast", "a wider LeNet (16 and 32 channels): over 0.92 test accuracy within a "
        "minute",
        {"model": {"model": "lenet", "impl": "concise", "channels": (16, 32),
                   "optimizer": "adam", "lr": 0.003, "label_smoothing": 0.1},
         "data": {"normalize": True},
         "train": {"epochs": 9, "batch_size": 128, "schedule": "onecycle",
                   "precision": "auto"}},
        test_acc=TEST_ACC["lenet-fast"], seconds=SECONDS["lenet-fast"], val_acc=0.9233,
        why="ReLU, max pooling and Xavier as in the registry's LeNet, 16 and 32 channels "
            "instead of 6 and 16, Adam at 0.003 with a one-cycle schedule and label "
            "smoothing; bfloat16 convolutions where the CPU has them; augmentation (crops, "
            "flips) did not pay in 9 epochs on the validation split"),
)}


def recipe(name: str) -> Recipe:
    """The recipe called ``name`` (a :class:`UsageError` naming the others if there is none)."""
    if name not in RECIPES:
        raise UsageError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}.",
                         hints=[Hint("recipe")])
    return RECIPES[name]
