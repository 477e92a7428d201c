"""``shallownet tune``: search the options of ``train`` with Optuna, honestly.

Every option of ``shallownet train`` may be given: fixed (``--epochs 10``) or
as a distribution (``--lr log:1e-3:1``), which makes it part of the search
space (:mod:`shallownet.tune.space`).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from shallownet.cli.arguments import fraction, int_at_least
from shallownet.errors import Hint, UsageError
from shallownet.jsonutil import json_safe

__all__ = ["register", "run_tune", "split_options"]

#: options of train a search does not take, and why
_REFUSED = {
    "nproc": "a search trains one trial at a time in each process; use --workers N",
    "tensorboard": "a search keeps no per-trial logs; its figures are in the tune directory",
    "threads": "each worker takes the cores left to it",
}


def register(commands) -> None:
    """Add ``tune`` to ``commands``."""
    from shallownet.tune.space import DISTRIBUTIONS, TUNABLE

    forms = {"float": "float:LOW:HIGH[:STEP]", "log": "log:LOW:HIGH",
             "int": "int:LOW:HIGH[:STEP]", "logint": "logint:LOW:HIGH", "choice": "choice:A,B,..."}
    space_help = "\n".join(f"  {forms[name]:<22} {words}"
                           for name, words in DISTRIBUTIONS.items())
    options = textwrap.fill(", ".join("--" + name.replace("_", "-") for name in TUNABLE), 77,
                            initial_indent="  ", subsequent_indent="  ")
    p = commands.add_parser(
        "tune", help="search training options with Optuna; retrain the best",
        formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False,
        description=textwrap.fill(
            "Search options of shallownet train with Optuna. Give any option of train: fixed "
            "(--epochs 10), or as a distribution (--lr log:1e-3:1), which puts it in the "
            "search. Each trial is scored on a validation split of the training set (or by "
            "--folds K); the best is retrained on the whole training set and scored on the "
            "test set once, into TUNE_DIR/best.", 79),
        epilog=f"distributions:\n{space_help}\n  a choice's list value is written with /: "
        f"--hidden choice:256,512/256\n\noptions a search can vary:\n{options}\n  "
        "(--layers N: hidden layers, each --hidden wide)\n\nexample:\n  shallownet tune "
        "--model mlp --epochs 10 --lr log:1e-3:0.5 --hidden choice:128,256,512 \\\n"
        "      --dropout float:0:0.5 --optimizer choice:sgd,adam --trials 30",
    )
    p.add_argument("--space", type=Path, metavar="FILE",
                   help="a TOML or JSON file of options: distributions are searched, plain "
                   "values fixed")
    when = p.add_argument_group("how long")
    when.add_argument("--trials", type=int_at_least(1), metavar="N",
                      help="stop when the study holds N trials (a grid: its size)")
    when.add_argument("--time-budget", metavar="DURATION",
                      help="start no trial after this long, e.g. 90s, 10m, 1h30m")
    how = p.add_argument_group("how to search")
    how.add_argument("--sampler", choices=("tpe", "random", "grid"), default="tpe",
                     help="tpe: Optuna's default, learns from finished trials; grid: every "
                     "combination (default tpe)")
    how.add_argument("--pruner", choices=("median", "halving", "none"), default="median",
                     help="stop hopeless trials early: median stops a trial below the median "
                     "of earlier ones at the same epoch (default median)")
    how.add_argument("--seed", type=int_at_least(0), default=0,
                     help="seeds the sampler and every trial's training (default 0)")
    score = how.add_mutually_exclusive_group()
    score.add_argument("--val-fraction", type=fraction, default=None, metavar="SHARE",
                       help="score trials on this share of the training set (default 1/6)")
    score.add_argument("--folds", type=int_at_least(2), metavar="K",
                       help="score trials by K-fold cross-validation on the training set")
    where = p.add_argument_group("where")
    where.add_argument("--out", type=Path, metavar="DIR",
                       help="tune directory (default runs/tune-MODEL-DATA-TIME)")
    where.add_argument("--resume", type=Path, metavar="DIR",
                       help="continue the search in DIR with its own space and settings")
    where.add_argument("--storage", metavar="URL",
                       help="the study's database (default sqlite:///DIR/study.db): "
                       "processes on other machines join with the same URL, space and "
                       "--study-name (postgresql://..., mysql://..., sqlite:///...)")
    where.add_argument("--study-name", metavar="NAME",
                       help="the study's name in --storage (default: the directory's name)")
    where.add_argument("--workers", type=int_at_least(1), default=1, metavar="N",
                       help="N local processes share the study (default 1)")
    out = p.add_argument_group("output")
    out.add_argument("--no-retrain", action="store_true",
                     help="search only: do not retrain the best (e.g. on a helper machine)")
    out.add_argument("--json", action="store_true", help="end stdout with the summary as JSON")
    out.add_argument("-q", "--quiet", action="store_true",
                     help="no progress bar and no per-trial lines")
    out.add_argument("--no-plots", action="store_true", help="draw no figures")
    p.add_argument("--join", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--worker-index", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    p.set_defaults(handler=run_tune, takes_train_options=True)


def split_options(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """The train options in ``words``: ``--name DIST`` pairs (the space) and the rest (fixed).

    ``--lr log:1e-3:1`` and ``--lr=log:1e-3:1`` are searched; ``--epochs 10``
    and ``--normalize`` are kept as they are for train's own parser.
    """
    from shallownet.tune.space import TUNABLE, is_distribution

    space, fixed, i = {}, [], 0
    while i < len(words):
        word = words[i]
        name, eq, value = word.partition("=")
        if not eq and word.startswith("--") and i + 1 < len(words):
            name, value = word, words[i + 1]
        searched = name.startswith("--") and name[2:].replace("-", "_") in TUNABLE
        if searched and ":" in value:  # a distribution, or a mistyped one (lin:0:1)
            space[_key(name, space)] = value
            i += 1 if eq else 2
            continue
        if name.startswith("--") and is_distribution(value):  # an option no search varies
            space[_key(name, space)] = value
            i += 1 if eq else 2
            continue
        fixed.append(word)
        i += 1
    return space, fixed


def _key(flag: str, space: dict) -> str:
    name = flag[2:].replace("-", "_")
    if name in space:
        raise UsageError(f"{flag} is searched twice; give it one distribution.")
    return name


def _file_options(path: Path) -> tuple[dict[str, str], list[str]]:
    from shallownet.tune.space import read_space_file

    space, values = read_space_file(path)
    fixed = []
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            fixed.append(flag)
        elif value is False:
            continue
        else:
            words = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            fixed += [flag, words]
    return space, fixed


def _base_config(fixed: list[str]):
    """The settings every trial shares: train's parser reads the fixed options."""
    from shallownet.cli import build_parser
    from shallownet.cli.train import config_from_args

    parser = build_parser()
    train = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)) \
        .choices["train"]
    train.prog = "shallownet tune"
    args = train.parse_args(fixed)
    for name, why in _REFUSED.items():
        value = getattr(args, name, None)
        if value is not None and value is not False and not (name == "nproc" and value == 1):
            raise UsageError(f"--{name.replace('_', '-')} does not go with tune: {why}.")
    args.argv = ["train", *fixed]
    return config_from_args(args, resolve=False)


def run_tune(args) -> int:
    from shallownet.tune.objective import DEFAULT_VAL_FRACTION
    from shallownet.tune.search import join_tune, resume_tune, tune

    if args.join is not None:  # a worker process that --workers started
        join_tune(args.join, trials=args.trials, deadline=args.deadline,
                  index=args.worker_index)
        return 0
    space, fixed = split_options(args.extra)
    if args.space is not None:
        from_file, fixed_file = _file_options(args.space)
        for name in set(from_file) & set(space):
            raise UsageError(f"--{name.replace('_', '-')} is searched both in {args.space} "
                             "and on the command line; give it once.")
        space, fixed = {**from_file, **space}, fixed_file + fixed
    log = False if args.quiet else None
    progress = False if args.quiet else None
    common = dict(trials=args.trials, time_budget=args.time_budget, workers=args.workers,
                  retrain=not args.no_retrain, progress=progress, log=log,
                  plots=not args.no_plots)
    if args.resume is not None:
        _check_resume(args, space, fixed)
        result = resume_tune(args.resume, **common)
    else:
        base = _base_config(fixed)
        from shallownet.tune.space import SearchSpace

        result = tune(SearchSpace(space), base, sampler=args.sampler, pruner=args.pruner,
                      seed=args.seed,
                      val_fraction=DEFAULT_VAL_FRACTION if args.val_fraction is None
                      else args.val_fraction,
                      folds=args.folds, out=args.out, storage=args.storage,
                      study_name=args.study_name, **common)
    return _report(result, args.json)


def _check_resume(args, space: dict, fixed: list[str]) -> None:
    from shallownet.tune.search import TuneDir
    from shallownet.tune.space import SearchSpace

    settings = TuneDir(args.resume).read()
    if space:
        differences = SearchSpace(space).differences(settings["space"])
        if differences:
            names = sorted(set(space) | set(settings["space"]))
            raise UsageError(f"{args.resume} searches another space; --resume continues it "
                             "as it was: " + "; ".join(differences) + ". Leave the space out, "
                             "or start a new search with --out.",
                             hints=[Hint(n) for n in names])
    defaults = {"sampler": "tpe", "pruner": "median", "seed": 0, "val_fraction": None,
                "folds": None, "out": None, "storage": None, "study_name": None}
    changed = [name for name, value in defaults.items() if getattr(args, name) != value]
    if fixed or changed:
        flags = ", ".join([*("--" + c.replace("_", "-") for c in changed),
                           *(w for w in fixed if w.startswith("-"))])
        raise UsageError(f"--resume continues a search with its own settings; {flags} cannot "
                         "change. Only --trials, --time-budget, --workers, --no-retrain, "
                         "--json, --quiet and --no-plots go with --resume.")


def _report(result, as_json: bool) -> int:
    summary = result.summary
    metric = summary.get("metric", "val_acc")
    counts = ", ".join(f"{n} {state}" for state, n in summary.get("trials", {}).items())
    print(f"trials {counts or 'none'}", flush=True)
    if "best_trial" in summary:
        params = "  ".join(f"{k.replace('_', '-')} {_fmt(v)}"
                           for k, v in summary["best_params"].items())
        figure = f"{metric} {summary[f'best_{metric}']:.4f}"
        if f"best_{metric}_std" in summary:
            figure += f" ± {summary[f'best_{metric}_std']:.4f} over folds"
        print(f"best   trial {summary['best_trial']}  {params}  {figure}", flush=True)
    finals = [f"{k[6:].replace('_', ' ')} {v:.4f}" for k, v in summary.items()
              if k.startswith("final_test_") and isinstance(v, float)]
    if finals:
        print(f"test   {'  '.join(finals)}  (the retrained best; the search never saw the "
              "test set)", flush=True)
    if "best_run" in summary:
        print(f"run    {summary['best_run']}", flush=True)
    print(f"tune   {result.tune_dir}", flush=True)
    if as_json:
        print(json.dumps(json_safe(summary)), flush=True)
    sys.stdout.flush()
    return 0


def _fmt(value) -> str:
    """An option's value as the command line writes it: ``0.01``, ``512/256``, ``none``."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "/".join(map(str, value)) if value else "none"
    return str(value)
