"""A search space: which options of ``shallownet train`` a search varies, and over what.

Each tuned option has one distribution, written as on the command line::

    float:LOW:HIGH[:STEP]    uniform on [LOW, HIGH] (on a grid of STEP)
    log:LOW:HIGH             log-uniform on [LOW, HIGH], 0 < LOW (learning rates, decay)
    int:LOW:HIGH[:STEP]      whole numbers LOW, LOW + STEP, ..., HIGH
    logint:LOW:HIGH          whole numbers, log-uniform (widths, batch sizes)
    choice:A,B,C             one of the values; a value that is a list is written
                             with "/" (hidden layers 512/256, augment crop/flip)

A distribution must fit its option: a learning rate takes ``float``, ``log``
or ``choice``; epochs take ``int``, ``logint`` or ``choice``; an optimiser only
``choice``. :data:`TUNABLE` lists every option a search may vary.
``layers`` is the search's own option: the number of hidden layers, each
as wide as ``hidden``.

A :class:`SearchSpace` turns a trial's draws into settings of a
:class:`~shallownet.training.RunConfig` (:meth:`SearchSpace.apply`) and
checks, before any trial, that every value it can draw is one the registry
accepts (:meth:`SearchSpace.check`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shallownet.errors import Hint, UsageError
from shallownet.registry import model_entry
from shallownet.training.config import RunConfig

__all__ = ["Param", "SearchSpace", "TUNABLE", "DISTRIBUTIONS", "parse_param", "read_space_file",
           "is_distribution"]

#: distribution name -> what it draws
DISTRIBUTIONS = {
    "float": "a number, uniform on [LOW, HIGH]",
    "log": "a number, log-uniform on [LOW, HIGH]",
    "int": "a whole number, uniform on LOW..HIGH",
    "logint": "a whole number, log-uniform on LOW..HIGH",
    "choice": "one of the listed values",
}


@dataclass(frozen=True)
class _Option:
    """A tunable option: where it goes in a RunConfig and which values it takes."""

    section: str  # model | train | space (the search's own)
    field: str
    kind: str  # number | whole | name | widths | names
    help: str


#: option (as in ``shallownet train``, with underscores) -> where it goes and what it takes
TUNABLE: dict[str, _Option] = {
    "lr": _Option("model", "lr", "number", "the learning rate"),
    "momentum": _Option("model", "momentum", "number", "the momentum (of the momentum optimiser)"),
    "weight_decay": _Option("model", "weight_decay", "number", "the L2 penalty on weights"),
    "dropout": _Option("model", "dropout", "number", "dropout after every hidden layer"),
    "init_std": _Option("model", "init_std", "number", "the std of the normal initialisation"),
    "label_smoothing": _Option("model", "label_smoothing", "number", "label smoothing"),
    "warmup": _Option("train", "warmup", "number", "the share of the run warming up"),
    "epochs": _Option("train", "epochs", "whole", "the number of epochs"),
    "batch_size": _Option("train", "batch_size", "whole", "the minibatch size"),
    "hidden": _Option("model", "hidden", "widths", "the hidden width (or widths: 512/256)"),
    "layers": _Option("space", "layers", "whole", "the number of hidden layers"),
    "channels": _Option("model", "channels", "widths", "LeNet's channels (e.g. 6/16)"),
    "optimizer": _Option("model", "optimizer", "name", "the optimiser (sgd, momentum or adam)"),
    "activation": _Option("model", "activation", "name", "the activation (relu, sigmoid or tanh)"),
    "init": _Option("model", "init", "name", "the weight initialisation"),
    "pool": _Option("model", "pool", "name", "LeNet's pooling (max or avg)"),
    "schedule": _Option("train", "schedule", "name", "the schedule (constant, cosine or onecycle)"),
    "augment": _Option("train", "augment", "names", "the augmentation (crop, flip)"),
}

#: option kind -> the distributions that fit it
_FITS = {
    "number": ("float", "log", "choice"),
    "whole": ("int", "logint", "choice"),
    "widths": ("int", "logint", "choice"),
    "name": ("choice",),
    "names": ("choice",),
}


def is_distribution(text: str) -> bool:
    """Whether ``text`` is written as a distribution (``log:1e-3:1``, ``choice:a,b``)."""
    return isinstance(text, str) and text.split(":", 1)[0] in DISTRIBUTIONS and ":" in text


@dataclass(frozen=True)
class Param:
    """One tuned option and its distribution.

    ``values`` holds a ``choice``'s values (numbers, names, or tuples for lists);
    ``low``, ``high`` and ``step`` a range's.
    """

    name: str
    distribution: str
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    values: tuple = ()

    @property
    def text(self) -> str:
        """The distribution as it is written on the command line."""
        if self.distribution == "choice":
            return "choice:" + ",".join(_show(v) for v in self.values)
        parts = [self.distribution, _show(self.low), _show(self.high)]
        return ":".join(parts + ([_show(self.step)] if self.step is not None else []))

    def candidates(self) -> tuple:
        """Values to check before searching: every choice, or both ends of a range."""
        return self.values if self.distribution == "choice" else (self.low, self.high)

    def grid(self) -> tuple:
        """Every value this parameter takes, for a grid search (a range needs a step)."""
        if self.distribution == "choice":
            return self.values
        if self.distribution == "int":
            return tuple(range(self.low, self.high + 1, self.step or 1))
        if self.distribution == "float" and self.step is not None:
            count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
            return tuple(round(self.low + i * self.step, 12) for i in range(count))
        opt = Hint(self.name, self.text)
        raise UsageError(f"a grid search takes every value of each option; {opt} has "
                         f"infinitely many. Give it a step (float:LOW:HIGH:STEP) or a choice.",
                         hints=[opt])

    def suggest(self, trial):
        """Draw this parameter's value for an Optuna ``trial``."""
        if self.distribution == "choice":
            labels = [_show(v) for v in self.values]
            return self.values[labels.index(trial.suggest_categorical(self.name, labels))]
        if self.distribution in ("int", "logint"):
            return trial.suggest_int(self.name, self.low, self.high, step=self.step or 1,
                                     log=self.distribution == "logint")
        return trial.suggest_float(self.name, self.low, self.high, step=self.step,
                                   log=self.distribution == "log")

    def to_dict(self) -> dict:
        return {"distribution": self.distribution, "text": self.text}


def parse_param(name: str, text: str) -> Param:
    """The :class:`Param` ``text`` describes for the option ``name`` (``lr``, ``batch-size``).

    Raises :class:`~shallownet.errors.UsageError` for an option no search varies,
    a distribution that does not fit it, or a range that is empty or malformed.
    """
    name = name.replace("-", "_")
    option = TUNABLE.get(name)
    if option is None:
        hints = [Hint(name), *(Hint(n) for n in TUNABLE)]
        raise UsageError(f"{name} cannot be searched; the options a search varies are "
                         f"{', '.join(TUNABLE)}.", hints=hints)
    opt = Hint(name, text)
    if not is_distribution(text):
        raise UsageError(f"{opt} is not a distribution; write one of "
                         f"{', '.join(d + ':...' for d in DISTRIBUTIONS)} "
                         f"(e.g. {_example(option.kind)}).", hints=[opt])
    kind, _, rest = text.partition(":")
    fits = _FITS[option.kind]
    if kind not in fits:
        raise UsageError(f"{opt}: {option.help} takes {_kind_words(option.kind)}, so "
                         f"{kind}: does not fit it; use {' or '.join(f + ':' for f in fits)} "
                         f"(e.g. {_example(option.kind)}).", hints=[opt])
    if kind == "choice":
        return Param(name, kind, values=_choices(opt, option, rest))
    return _range(name, opt, kind, rest)


def _choices(opt: Hint, option: _Option, rest: str) -> tuple:
    words = [w.strip() for w in rest.split(",")]
    if not rest.strip() or any(not w for w in words):
        raise UsageError(f"{opt}: list the values, separated by commas "
                         f"(e.g. {_example(option.kind)}).", hints=[opt])
    values = tuple(_value(opt, option.kind, w) for w in words)
    if len(set(values)) != len(values):
        raise UsageError(f"{opt} lists a value twice.", hints=[opt])
    return values


def _value(opt: Hint, kind: str, word: str):
    if kind == "name":
        return word
    if kind == "names":
        return () if word == "none" else tuple(word.split("/"))
    try:
        if kind == "number":
            value = float(word)
            if not math.isfinite(value):
                raise ValueError
            return value
        if kind == "whole":
            return int(word)
        return tuple(int(part) for part in word.split("/"))  # widths
    except ValueError:
        raise UsageError(f"{opt}: {word!r} is not {_kind_words(kind, one=True)}.",
                         hints=[opt]) from None


def _range(name: str, opt: Hint, kind: str, rest: str) -> Param:
    parts = rest.split(":")
    whole = kind in ("int", "logint")
    usage = f"{kind}:LOW:HIGH" + ("[:STEP]" if kind in ("int", "float") else "")
    if len(parts) not in ((2, 3) if kind in ("int", "float") else (2,)):
        raise UsageError(f"{opt}: write {usage}.", hints=[opt])
    try:
        numbers = [int(p) if whole else float(p) for p in parts]
    except ValueError:
        raise UsageError(f"{opt}: LOW, HIGH and STEP are "
                         f"{'whole numbers' if whole else 'numbers'} ({usage}).",
                         hints=[opt]) from None
    if not all(math.isfinite(n) for n in numbers):
        raise UsageError(f"{opt}: the bounds must be finite.", hints=[opt])
    low, high = numbers[0], numbers[1]
    step = numbers[2] if len(numbers) == 3 else None
    if not low < high:
        raise UsageError(f"{opt} is an empty range: LOW ({low:g}) must be below HIGH "
                         f"({high:g}).", hints=[opt])
    if kind in ("log", "logint") and low <= 0:
        raise UsageError(f"{opt}: a log scale starts above 0, not at {low:g}.", hints=[opt])
    if step is not None and not 0 < step <= high - low:
        raise UsageError(f"{opt}: STEP must lie in (0, HIGH - LOW].", hints=[opt])
    return Param(name, kind, low=low, high=high, step=step)


class SearchSpace(Mapping):
    """The tuned options by name (a read-only mapping of :class:`Param`), in the order given."""

    def __init__(self, params: Mapping[str, str | Param] | None = None) -> None:
        parsed: dict[str, Param] = {}
        for name, value in (params or {}).items():
            param = value if isinstance(value, Param) else parse_param(name, value)
            if param.name in parsed:
                raise UsageError(f"{param.name} is given twice.", hints=[Hint(param.name)])
            parsed[param.name] = param
        if not parsed:
            hints = [Hint("lr", "log:1e-3:1"), Hint("hidden", "choice:128,256,512")]
            raise UsageError(f"the search space is empty: give at least one option as a "
                             f"distribution, e.g. {hints[0]} or {hints[1]}.", hints=hints)
        self._params = parsed

    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def __iter__(self):
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __repr__(self) -> str:
        return f"SearchSpace({self.texts()!r})"

    def texts(self) -> dict[str, str]:
        """Each option's distribution as written (what a study records of its space)."""
        return {name: p.text for name, p in self._params.items()}

    def differences(self, recorded: Mapping[str, str]) -> list[str]:
        """How this space differs from one a study recorded (empty when they are the same)."""
        mine = self.texts()
        lines = []
        for name in [*mine, *(n for n in recorded if n not in mine)]:
            if mine.get(name) != recorded.get(name):
                lines.append(f"{name}: {recorded.get(name, 'not searched')} in the "
                             f"study, {mine.get(name, 'not searched')} now")
        return lines

    def grid(self) -> dict[str, list[str]]:
        """Optuna's grid: every value of every option, as the labels trials record."""
        return {name: [_label(p, v) for v in p.grid()] for name, p in self._params.items()}

    def values(self, params: Mapping) -> dict:
        """The option values of a trial's recorded ``params`` (a choice records its label)."""
        out = {}
        for name, p in self._params.items():
            raw = params[name]
            out[name] = p.values[[_show(v) for v in p.values].index(raw)] \
                if p.distribution == "choice" else raw
        return out

    def suggest(self, trial) -> dict:
        """Draw every option's value for an Optuna ``trial``."""
        return {name: p.suggest(trial) for name, p in self._params.items()}

    def apply(self, base: RunConfig, values: Mapping) -> RunConfig:
        """``base`` with the drawn ``values`` put in (not yet resolved)."""
        model, train = {}, {}
        layers = values.get("layers")
        for name, value in values.items():
            option = TUNABLE[name]
            if name == "dropout":
                value = (float(value),)
            elif name == "hidden" and isinstance(value, int):
                value = (value,)
            elif name == "augment":
                value = tuple(value)
            if option.section == "model":
                model[option.field] = value
            elif option.section == "train":
                train[option.field] = value
        if layers is not None:
            hidden = model.get("hidden", base.model.hidden)
            if len(hidden) != 1:
                raise UsageError(f"layers repeats a single width; hidden gives "
                                 f"{'/'.join(map(str, hidden))}: give hidden one width.",
                                 hints=[Hint("layers"), Hint("hidden")])
            model["hidden"] = hidden * int(layers)
        return dataclasses.replace(base, model=dataclasses.replace(base.model, **model),
                                   train=dataclasses.replace(base.train, **train))

    def check(self, base: RunConfig) -> None:
        """Refuse, naming the option and the value, any value this space can draw that
        ``base`` with it would not accept (the registry's and the trainer's own rules)."""
        first = {name: p.candidates()[0] for name, p in self._params.items()}
        if "layers" in self._params and "hidden" not in self._params \
                and len(base.model.hidden) != 1:
            self.apply(base, {"layers": 1})  # the error that says what to do
        for name, param in self._params.items():
            for value in param.candidates():
                values = {**first, name: value}
                try:
                    config = self.apply(base, values).resolved()
                except UsageError as exc:
                    opt = Hint(name, param.text)
                    raise UsageError(f"{opt}: with {_show(value)}, {exc}",
                                     hints=[opt, *exc.hints]) from None
                _check_dependent(name, config)

    def to_dict(self) -> dict:
        return {name: p.to_dict() for name, p in self._params.items()}


def _check_dependent(name: str, config: RunConfig) -> None:
    """Refuse to search an option the model does not have (an MLP has no channels)."""
    from shallownet.registry import MODELS

    model = config.model.model
    own = model_entry(model).options
    if name == "layers" and "hidden" not in own:
        raise UsageError(f"layers repeats the hidden width of an MLP; {model} has "
                         "no hidden width.", hints=[Hint("layers")])
    option = TUNABLE[name]
    shaping = {field for entry in MODELS.values() for field in entry.options}
    if option.section == "model" and option.field in shaping and option.field not in own:
        having = [m for m, entry in MODELS.items() if option.field in entry.options]
        raise UsageError(f"{name} does not change {model}: searching it would train the same "
                         f"model under different names. It shapes {', '.join(having)}.",
                         hints=[Hint(name)])


def _label(param: Param, value) -> str | int | float:
    return _show(value) if param.distribution == "choice" else value


def read_space_file(path: str | os.PathLike) -> tuple[dict[str, str], dict[str, object]]:
    """The space and the fixed options in a TOML or JSON file.

    The file maps option names to a distribution string (searched) or a plain
    value (fixed, as if given to ``shallownet train``)::

        lr = "log:1e-3:1"
        hidden = "choice:128,256,512"
        epochs = 10
        optimizer = "adam"
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the search space {path}: {exc.strerror or exc}.") from None
    try:
        if path.suffix.lower() == ".json":
            table = json.loads(raw)
        else:
            table = _toml().loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid {'JSON' if path.suffix == '.json' else 'TOML'}: "
                         f"{exc}") from None
    if not isinstance(table, dict):
        raise UsageError(f"{path} must hold a table of options, not {type(table).__name__}.")
    space, fixed = {}, {}
    for key, value in table.items():
        name = str(key).replace("-", "_")
        if isinstance(value, str) and is_distribution(value):
            space[name] = value
        elif isinstance(value, str | int | float | bool | list):
            fixed[name] = value
        else:
            raise UsageError(f"{path}: {key} = {value!r} is neither a distribution nor a value.")
    return space, fixed


def _toml():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib


def _show(value) -> str:
    if isinstance(value, tuple):
        return "/".join(map(str, value)) if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _kind_words(kind: str, *, one: bool = False) -> str:
    words = {"number": "a number", "whole": "a whole number",
             "widths": "a width (a whole number; layers written 512/256)",
             "name": "a name", "names": "names"}[kind]
    return words if one else {"number": "numbers", "whole": "whole numbers",
                              "widths": "whole numbers (widths)", "name": "names from a list",
                              "names": "lists of names"}[kind]


def _example(kind: str) -> str:
    return {"number": "log:1e-4:1e-1 or float:0:0.5", "whole": "int:5:30",
            "widths": "choice:128,256,512/256", "name": "choice:sgd,adam",
            "names": "choice:none,crop,crop/flip"}[kind]
