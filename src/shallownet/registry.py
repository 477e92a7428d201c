"""One table from a model's name and tier to the model, its loss, its optimiser and what it can do.

The trainer, the CLI and the scikit-learn estimators call :func:`build` and use
the returned :class:`ModelSetup`, and ask an entry's capabilities
(:class:`ModelEntry`: the data it needs, the training steps it has) and
:func:`check_compatible` whether it can train on some data; they never branch
on a model's name or tier. The book's epochs, batch sizes and learning rates
are in the table beside this one, :mod:`shallownet.defaults`.

>>> setup = build(ModelConfig(model="mlp", impl="scratch"), input_shape=(1, 28, 28),
...               num_outputs=10, seed=0)
>>> loss, logits = setup.train_step(X, y)      # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from shallownet import concise, scratch
from shallownet.defaults import DATA_KINDS, book_defaults
from shallownet.errors import Hint, UsageError
from shallownet.init import SCHEMES, initialize
from shallownet.scratch.models import mlp_has_hand_backward
from shallownet.typecheck import check_fields

__all__ = [
    "ModelConfig",
    "ModelEntry",
    "ModelSetup",
    "DataTraits",
    "Tier",
    "MODELS",
    "TIERS",
    "IMPLS",
    "OPTIMIZERS",
    "build",
    "build_optimizer",
    "check_compatible",
    "model_entry",
    "scratch_loss",
    "why_no_fused_step",
    "why_no_compiled_step",
]

OPTIMIZERS = ("sgd", "momentum", "adam")
TASKS = ("regression", "classification", "binary")


@dataclass(frozen=True)
class Tier:
    """One of the two implementations every model has."""

    name: str
    summary: str
    #: data-parallel runs wrap the model in ``DistributedDataParallel`` (torch.nn modules
    #: and torch.optim), rather than summing each gradient over the processes by hand
    ddp: bool


TIERS: dict[str, Tier] = {
    tier.name: tier
    for tier in (
        Tier("scratch", "the chapter's formulas with plain tensors", ddp=False),
        Tier("concise", "torch.nn / torch.optim", ddp=True),
    )
}
IMPLS = tuple(TIERS)


@dataclass(frozen=True)
class ModelConfig:
    """Everything that defines a model, its loss and its optimiser (saved with each run).

    ``None`` means "the model's own default"; :meth:`resolved` fills them in.
    """

    model: str = "softmax"  # linreg | softmax | mlp | logreg | lenet
    impl: str = "scratch"  # scratch (formulas) | concise (torch.nn / torch.optim)
    hidden: tuple[int, ...] = (256,)  # MLP hidden layer widths
    activation: str = "relu"  # MLP / LeNet activation: relu | sigmoid | tanh
    dropout: tuple[float, ...] = (0.0,)  # MLP dropout after each hidden layer (one value: all)
    log_softmax: bool = False  # MLP ends in LogSoftmax and trains with NLL loss
    pool: str = "max"  # LeNet pooling: max | avg
    channels: tuple[int, ...] = (6, 16)  # LeNet's two convolutions' output channels
    loss: str | None = None  # linreg: squared | l1 | huber; others use their own
    huber_delta: float = 1.0  # Huber loss threshold
    init: str | None = None  # normal | default | xavier | equal
    init_std: float = 0.01  # std of the normal initialisation
    init_value: float = 0.01  # the common weight of the equal initialisation
    backward: str = "autograd"  # autograd | hand (scratch linreg, softmax, 1-hidden MLP)
    optimizer: str = "sgd"  # sgd | momentum | adam
    lr: float | None = None  # learning rate
    momentum: float = 0.9  # for optimizer=momentum
    betas: tuple[float, float] = (0.9, 0.999)  # for optimizer=adam
    eps: float = 1e-8  # for optimizer=adam
    weight_decay: float = 0.0  # L2 penalty ½ wd ||W||² on weights (not biases)
    label_smoothing: float = 0.0  # cross-entropy against (1 - ε) onehot(y) + ε / q

    def resolved(self, kind: str | None = None) -> ModelConfig:
        """A copy with every default filled in and every value checked.

        The learning rate comes from :mod:`shallownet.defaults` for data of
        ``kind`` (``image``, ``table`` or ``synthetic``; default: the kind the
        model is shown on in the book, :attr:`ModelEntry.home`).
        """
        self = check_fields(self)  # types first: the checks below compare numbers
        entry = model_entry(self.model)
        if self.impl not in IMPLS:
            raise UsageError(f"unknown implementation {self.impl!r}; choose "
                             f"{' or '.join(IMPLS)}.")
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(
                f"unknown optimiser {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}."
            )
        loss = self.loss or entry.default_loss(self)
        if loss not in entry.losses(self):
            raise UsageError(
                f"model {self.model!r} trains with {' or '.join(entry.losses(self))}, "
                f"not {loss!r}."
            )
        if kind is not None and kind not in DATA_KINDS:
            raise UsageError(f"unknown data kind {kind!r}; choose one of {', '.join(DATA_KINDS)}.")
        lr = self.lr if self.lr is not None else book_defaults(
            self.model, kind if kind in entry.kinds else entry.home, self.optimizer).lr
        cfg = dataclasses.replace(
            self,
            hidden=tuple(int(h) for h in self.hidden),
            channels=tuple(int(c) for c in self.channels),
            dropout=tuple(float(p) for p in self.dropout),
            betas=tuple(float(b) for b in self.betas),
            loss=loss,
            init=self.init or entry.default_init,
            lr=float(lr),
        )
        cfg._check()
        return cfg

    def _check(self) -> None:
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise UsageError(f"the learning rate must be a positive number, not {self.lr}.")
        if self.init not in SCHEMES:
            raise UsageError(
                f"unknown initialisation {self.init!r}; choose one of {', '.join(SCHEMES)}."
            )
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise UsageError(f"weight decay must be 0 or more, not {self.weight_decay}.")
        if not 0 <= self.momentum < 1:
            raise UsageError(f"momentum must lie in [0, 1), not {self.momentum}.")
        if not all(0 <= p < 1 for p in self.dropout):
            raise UsageError(f"dropout probabilities must lie in [0, 1), not {self.dropout}.")
        if any(h < 1 for h in self.hidden):
            raise UsageError(f"hidden layer widths must be positive, not {self.hidden}.")
        if not 0 <= self.label_smoothing < 1:
            raise UsageError(f"label smoothing must lie in [0, 1), not {self.label_smoothing}.")
        if self.label_smoothing and self.loss != "cross_entropy":
            raise UsageError(f"label smoothing softens the targets of cross-entropy; {self.model} "
                             f"trains with {self.loss}.", hints=[Hint("label_smoothing", 0.0)])
        if not (math.isfinite(self.huber_delta) and self.huber_delta > 0):
            raise UsageError(f"the Huber loss needs delta > 0, not {self.huber_delta}.")
        if not all(0 <= b < 1 for b in self.betas) or len(self.betas) != 2:
            raise UsageError(f"Adam's betas must be two numbers in [0, 1), not {self.betas}.")
        if not (math.isfinite(self.eps) and self.eps >= 0):
            raise UsageError(f"Adam's eps must be 0 or more, not {self.eps}.")
        if not (math.isfinite(self.init_std) and self.init_std > 0):
            raise UsageError(f"the initial weights' std must be positive, not {self.init_std}.")
        if not math.isfinite(self.init_value):
            raise UsageError(f"the equal initial weight must be finite, not {self.init_value}.")
        if self.backward not in ("autograd", "hand"):
            raise UsageError(f"backward must be autograd or hand, not {self.backward!r}.")
        if self.backward == "hand":
            if TIERS[self.impl].ddp:  # a torch.nn model: autograd is its backward
                hint = Hint("backward", "autograd")
                raise UsageError(
                    f"backprop by hand belongs to the scratch tier, not {self.impl}: use "
                    f"{Hint('impl', 'scratch')}, or {hint}.", hints=[Hint("impl", "scratch"), hint]
                )
            if not model_entry(self.model).hand_backward(self):
                raise UsageError(
                    "backprop by hand is written for linreg (squared loss), softmax and an "
                    "MLP with one hidden layer, no dropout and no log-softmax output; "
                    f"{self.model!r} as configured needs autograd."
                )


@dataclass(frozen=True)
class ModelEntry:
    """How to build one named model in each tier, and what it needs and can do.

    Attributes
    ----------
    task : {"regression", "classification", "binary"}
        What it predicts: a number, one of several classes, or one of two
        (binary: the data must have exactly two classes).
    kinds : tuple of str
        The kinds of data it trains on (``image``, ``table``, ``synthetic``).
    home : str
        The kind of data the book shows it on (whose defaults it takes when
        no data is known).
    options : tuple of str
        The :class:`ModelConfig` fields that shape this model beyond the
        common ones (a run's header names them).
    fused_step : bool
        Has a fused step (closed-form gradient, no autograd) when trained
        with cross-entropy and plain SGD (see :func:`why_no_fused_step`).
    compiled_step : bool
        Has the compiled C++ step (:mod:`shallownet.training.kernel`).
    hand_backward : callable
        Whether the scratch tier has its gradient written by hand for a config.
    """

    name: str
    task: str
    summary: str
    scratch: Callable[[ModelConfig, tuple[int, ...], int], nn.Module]
    concise: Callable[[ModelConfig, tuple[int, ...], int], nn.Module]
    kinds: tuple[str, ...] = ("image", "table")
    home: str = "image"
    options: tuple[str, ...] = ()
    default_init: str = "normal"
    losses: Callable[[ModelConfig], tuple[str, ...]] = lambda cfg: ("cross_entropy",)
    hand_backward: Callable[[ModelConfig], bool] = lambda cfg: False
    fused_step: bool = False
    compiled_step: bool = False

    def default_loss(self, cfg: ModelConfig) -> str:
        return self.losses(cfg)[0]

    @property
    def needs_images(self) -> bool:
        return self.kinds == ("image",)


def _features(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        ModelEntry(
            "linreg", "regression", "linear regression y = Xw + b",
            scratch=lambda c, s, q: scratch.LinearRegression(_features(s)),
            concise=lambda c, s, q: concise.linear_regression(_features(s)),
            kinds=("synthetic", "table"), home="synthetic", options=("loss",),
            losses=lambda c: ("squared", "l1", "huber"),
            hand_backward=lambda c: c.loss == "squared",
        ),
        ModelEntry(
            "softmax", "classification", "softmax regression O = XW + b",
            scratch=lambda c, s, q: scratch.SoftmaxRegression(_features(s), q),
            concise=lambda c, s, q: concise.softmax_regression(_features(s), q),
            hand_backward=lambda c: True,
            fused_step=True, compiled_step=True,
        ),
        ModelEntry(
            "mlp", "classification", "multilayer perceptron (hidden layers, dropout)",
            scratch=lambda c, s, q: scratch.MLP(
                _features(s), q, c.hidden, activation=c.activation, dropout=c.dropout,
                log_softmax=c.log_softmax,
            ),
            concise=lambda c, s, q: concise.mlp(
                _features(s), q, c.hidden, activation=c.activation, dropout=c.dropout,
                log_softmax=c.log_softmax,
            ),
            options=("hidden", "activation", "dropout", "log_softmax"),
            losses=lambda c: ("nll",) if c.log_softmax else ("cross_entropy",),
            hand_backward=lambda c: mlp_has_hand_backward(c.hidden, c.dropout, c.log_softmax),
            fused_step=True,
        ),
        ModelEntry(
            "logreg", "binary", "binary logistic regression P(y=1) = sigmoid(Xw + b)",
            scratch=lambda c, s, q: scratch.LogisticRegression(_features(s)),
            concise=lambda c, s, q: concise.logistic_regression(_features(s)),
            kinds=("table",), home="table",
            losses=lambda c: ("bce",),
        ),
        ModelEntry(
            "lenet", "classification", "LeNet-5 convolutional network",
            scratch=lambda c, s, q: scratch.LeNet(s, q, activation=c.activation, pool=c.pool,
                                                  channels=c.channels),
            concise=lambda c, s, q: concise.lenet(s, q, activation=c.activation, pool=c.pool,
                                                  channels=c.channels),
            kinds=("image",), options=("activation", "pool", "channels"),
            default_init="xavier",
        ),
    )
}


def model_entry(name: str) -> ModelEntry:
    """The registry's entry of the model called ``name`` (a :class:`UsageError` if none)."""
    if name not in MODELS:
        raise UsageError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}.")
    return MODELS[name]


# --------------------------------------------------------------------------- steps


def why_no_fused_step(cfg: ModelConfig) -> str | None:
    """Why ``cfg`` has no fused step (None when it has one).

    The fused step (:mod:`shallownet.training.fused`) is the closed-form
    gradient of cross-entropy on logits through a stack of linear layers,
    applied in place with plain SGD or by the model's optimiser.
    """
    if not model_entry(cfg.model).fused_step:
        return f"{cfg.model} has no closed-form step"
    if (cfg.loss or model_entry(cfg.model).default_loss(cfg)) != "cross_entropy":
        return "the loss is not cross-entropy on logits"
    if any(cfg.dropout) and "dropout" in model_entry(cfg.model).options:
        return "the model uses dropout"
    if cfg.backward == "hand":
        return "the gradients are asked for by hand (backward='hand')"
    return None


def why_no_compiled_step(cfg: ModelConfig) -> str | None:
    """Why ``cfg`` has no compiled step (None when it may have one: the machine decides the
    rest, see :func:`shallownet.training.kernel.why_no_kernel`)."""
    if not model_entry(cfg.model).compiled_step:
        names = [name for name, e in MODELS.items() if e.compiled_step]
        return f"the compiled step trains {' and '.join(names)} only, not {cfg.model}"
    if cfg.label_smoothing:
        return "the compiled step computes plain cross-entropy, without label smoothing"
    if cfg.optimizer != "sgd":
        return f"the compiled step updates with plain SGD, not {cfg.optimizer}"
    return why_no_fused_step(cfg)  # it computes the fused step's formulas


# --------------------------------------------------------------------------- data


#: data kind -> (what a model trains on, what a dataset of the kind is)
_KINDS = {"image": ("images", "an image dataset"),
          "table": ("tables of features", "a table of features"),
          "synthetic": ("the synthetic data", "the synthetic regression data y = Xw + b + noise")}


@dataclass(frozen=True)
class DataTraits:
    """What the compatibility check needs to know of a dataset.

    ``kind`` is known from the dataset's name; ``task`` and ``num_classes``
    once it is loaded (None before).
    """

    name: str
    kind: str  # image | table | synthetic
    task: str | None = None  # classification | regression
    num_classes: int | None = None
    classes: tuple[str, ...] | None = None


def _models_that_fit(data: DataTraits, task: str) -> tuple[str, list[Hint]]:
    """`` Use model='softmax' (or mlp, lenet).`` for the models that can train on ``data``
    (those of ``task`` first), and its hint; nothing when none can."""
    fits = [n for n, e in MODELS.items() if data.kind in e.kinds
            and (data.task is None or (e.task == "regression") == (data.task == "regression"))
            and (e.task != "binary" or data.num_classes in (None, 2))]
    if not fits:
        return "", []
    fits.sort(key=lambda n: MODELS[n].task != task)
    hint = Hint("model", fits[0])
    others = f" (or {', '.join(fits[1:])})" if len(fits) > 1 else ""
    return f" Use {hint}{others}.", [hint]


def check_compatible(config: ModelConfig, data: DataTraits) -> None:
    """Refuse a model that cannot train on the data: the one compatibility check.

    Called before the data loads (only its kind is known) and after. A
    regression model needs a continuous target, a classifier class labels, a
    binary model two classes, a model of images images.
    """
    model = model_entry(config.model)
    name = data.name
    advice, hints = _models_that_fit(data, model.task)
    if data.kind not in model.kinds:
        allowed = " or ".join(_KINDS[kind][0] for kind in model.kinds)
        raise UsageError(f"{model.name} ({model.summary}) trains on {allowed}, but the dataset "
                         f"{name} is {_KINDS[data.kind][1]}.{advice}", hints=hints)
    if data.task is None:
        return
    if model.task == "regression" and data.task != "regression":
        hints.append(Hint("task", "regression"))
        raise UsageError(f"{model.name} fits a number per example, but the target of {name} "
                         f"has {data.num_classes} classes.{advice} Or read the target as a "
                         f"number with {hints[-1]}.", hints=hints)
    if model.task != "regression" and data.task == "regression":
        hints.append(Hint("task", "classification"))
        raise UsageError(f"{model.name} is a classifier, but the target of {name} is a "
                         f"continuous value.{advice} Or read whole-number targets as class "
                         f"labels with {hints[-1]}.", hints=hints)
    if model.task == "binary" and data.num_classes != 2:
        classes = f" ({', '.join(data.classes)})" if data.classes else ""
        raise UsageError(f"{model.name} separates two classes, but {name} has "
                         f"{data.num_classes}{classes}.{advice}", hints=hints)


def scratch_loss(name: str, *, huber_delta: float = 1.0,
                 label_smoothing: float = 0.0) -> Callable:
    """The scratch loss function called ``name`` (one value per example)."""
    losses = {
        "squared": scratch.squared_loss,
        "l1": scratch.l1_loss,
        "huber": lambda y_hat, y: scratch.huber_loss(y_hat, y, huber_delta),
        "cross_entropy": (scratch.cross_entropy if not label_smoothing else
                          lambda o, y: scratch.cross_entropy(o, y, label_smoothing)),
        "nll": scratch.nll_loss,
        "bce": scratch.binary_cross_entropy,
    }
    if name not in losses:
        raise UsageError(f"unknown loss {name!r}; choose one of {', '.join(losses)}.")
    return losses[name]


#: impl -> the function giving its loss by name (and huber_delta, label_smoothing)
_LOSSES = {"scratch": scratch_loss, "concise": concise.make_loss}


def build_optimizer(cfg: ModelConfig, model: nn.Module):
    """The optimiser of ``cfg`` over ``model``'s parameters, weight decay on weights only.

    As in the book, biases are not decayed: parameters with one dimension
    form a group with ``weight_decay = 0``.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    momentum = cfg.momentum if cfg.optimizer == "momentum" else 0.0
    sgd, adam = _OPTIMIZERS[cfg.impl]
    if cfg.optimizer == "adam":
        return adam(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
    return sgd(groups, lr=cfg.lr, momentum=momentum)


#: impl -> (SGD class, Adam class): the scratch tier's or torch.optim's
_OPTIMIZERS = {"scratch": (scratch.SGD, scratch.Adam),
               "concise": (torch.optim.SGD, torch.optim.Adam)}


@dataclass
class ModelSetup:
    """A model ready to train: the model, its per-example loss, its optimiser and its task.

    Attributes
    ----------
    config : ModelConfig
        Resolved: no ``None`` left.
    model : nn.Module
    loss : callable (outputs, targets) -> Tensor of per-example losses
    optimizer : object with ``step()``, ``zero_grad()``, ``state_dict()``
    task : {"regression", "classification", "binary"}
    input_shape : tuple of int
        Shape of one example, e.g. (1, 28, 28).
    num_outputs : int
    hand : bool
        The gradients come from the scratch tier's chain rule
        (``model.hand_backward``), not from autograd.
    """

    config: ModelConfig
    model: nn.Module
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    optimizer: object
    task: str
    input_shape: tuple[int, ...]
    num_outputs: int
    hand: bool = field(default=False, repr=False)

    @property
    def entry(self) -> ModelEntry:
        return MODELS[self.config.model]

    @property
    def tier(self) -> Tier:
        return TIERS[self.config.impl]

    def forward_backward(self, X: torch.Tensor, y: torch.Tensor):
        """Forward pass and the gradients of the batch's mean loss (by autograd or by hand).

        Returns (per-example losses, outputs), both detached.
        """
        if self.hand:
            losses, outputs = self.model.hand_backward(X, y)
            return losses, outputs
        outputs = self.model(X)
        losses = self.loss(outputs, y)
        losses.mean().backward()
        return losses.detach(), outputs.detach()

    def train_step(self, X: torch.Tensor, y: torch.Tensor):
        """One minibatch step: zero the gradients, forward, backward, update.

        Returns (per-example losses, outputs), detached, for the metrics.
        """
        self.optimizer.zero_grad()
        result = self.forward_backward(X, y)
        self.optimizer.step()
        return result

    def predict_labels(self, outputs: torch.Tensor) -> torch.Tensor:
        """Class predictions from model outputs: argmax for classes, ``logit > 0`` for binary."""
        if self.task == "classification":
            return outputs.argmax(dim=1)
        if self.task == "binary":
            return (outputs > 0).to(torch.int64)
        raise UsageError("a regression model predicts values, not class labels.")

    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        """Class probabilities (n, classes) from model outputs (logits or log-probabilities)."""
        if self.task == "classification":
            return torch.softmax(outputs, dim=1)  # also right for log-probabilities
        if self.task == "binary":
            p = torch.sigmoid(outputs)
            return torch.stack([1 - p, p], dim=1)
        raise UsageError("a regression model has no class probabilities.")


def build(
    config: ModelConfig,
    *,
    input_shape: Sequence[int],
    num_outputs: int,
    seed: int | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> ModelSetup:
    """Build the model, loss and optimiser that ``config`` names.

    Parameters
    ----------
    config : ModelConfig
    input_shape : sequence of int
        Shape of one example: (channels, height, width) for images, (d,) for features.
    num_outputs : int
        Number of classes (2 for logreg), or 1 for regression.
    seed : int, optional
        Seed of the initialisation; the same seed gives the scratch and the
        concise model the same initial weights.
    device, dtype
        Where and in what precision the parameters live.
    """
    cfg = config.resolved()
    input_shape = tuple(int(s) for s in input_shape)
    if not input_shape or any(s < 1 for s in input_shape):
        raise UsageError(f"input_shape must be positive sizes, not {input_shape}.")
    num_outputs = _check_outputs(MODELS[cfg.model], num_outputs)
    model = getattr(MODELS[cfg.model], cfg.impl)(cfg, input_shape, num_outputs)
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    initialize(model, cfg.init, std=cfg.init_std, value=cfg.init_value, generator=generator)
    model = model.to(device=device, dtype=dtype)
    loss = _LOSSES[cfg.impl](cfg.loss, huber_delta=cfg.huber_delta,
                             label_smoothing=cfg.label_smoothing)
    return ModelSetup(
        config=cfg,
        model=model,
        loss=loss,
        optimizer=build_optimizer(cfg, model),
        task=MODELS[cfg.model].task,
        input_shape=input_shape,
        num_outputs=num_outputs,
        hand=cfg.backward == "hand",
    )


def _check_outputs(entry: ModelEntry, num_outputs: int) -> int:
    if entry.task == "regression":
        if num_outputs != 1:
            raise UsageError(f"{entry.name} predicts one value per example, not {num_outputs}.")
        return 1
    if entry.task == "binary":
        if num_outputs != 2:
            others = [n for n, e in MODELS.items() if e.task == "classification"
                      and "table" in e.kinds]
            raise UsageError(
                f"{entry.name} separates two classes, but the data has {num_outputs}: use "
                f"{Hint('model', others[0])} (or {', '.join(others[1:])}) for more.",
                hints=[Hint("model", others[0])],
            )
        return 2
    if not (isinstance(num_outputs, numbers.Integral) and num_outputs >= 2):
        raise UsageError(f"a classifier needs at least 2 classes, not {num_outputs!r}.")
    return int(num_outputs)
