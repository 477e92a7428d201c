"""``shallownet train``: one experiment of the chapter, from the command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import warnings
from pathlib import Path

from shallownet.cli.arguments import (
    choice_list,
    fraction,
    int_at_least,
    int_list,
    non_negative_float,
    number,
    positive_float,
)
from shallownet.defaults import DEFAULT_MODELS, defaults_sentence
from shallownet.errors import ShallownetError, UsageError
from shallownet.init import SCHEMES
from shallownet.interrupts import terminate_as_interrupt
from shallownet.jsonutil import json_safe
from shallownet.metrics import METRICS
from shallownet.registry import IMPLS, MODELS, OPTIMIZERS, ModelConfig
from shallownet.runtime import DEVICES, PRECISIONS, resolve_device
from shallownet.threads import THREADS_ENV
from shallownet.training.augment import AUGMENTATIONS
from shallownet.training.config import RunConfig, TrainSettings
from shallownet.training.data import IMAGE_DATASETS, SYNTHETIC, DataSpec, data_kind
from shallownet.training.rundir import RunDir
from shallownet.training.schedules import SCHEDULES
from shallownet.training.steps import AUTO_RULE, STEPS, StepChoice, choose_step
from shallownet.training.visdom import DEFAULT_URL as VISDOM_URL

__all__ = ["register", "run_train"]

#: What may go with --resume; every other option is the run's own, taken from its checkpoint.
_FREE_ON_RESUME = ("resume", "epochs", "device", "json", "quiet", "no_plots", "nproc",
                   "tensorboard", "threads", "visdom")


def register(commands) -> None:
    """Add ``train`` to ``commands``."""
    p = commands.add_parser(
        "train", help="train a model and write its run directory",
        description="Train a model of the chapter: softmax regression on Fashion-MNIST unless "
        f"told otherwise. {defaults_sentence()} The step that trains: {AUTO_RULE}.",
        formatter_class=_DefaultsFormatter,
    )
    what = p.add_argument_group("what to train")
    defaults = "; ".join(f"{model} on {kind} data" for kind, model in DEFAULT_MODELS.items())
    what.add_argument("--model", choices=tuple(MODELS), default=None,
                      help=f"model (default {defaults})")
    what.add_argument("--impl", choices=IMPLS, default="scratch",
                      help="scratch: the chapter's formulas; concise: torch.nn / torch.optim")
    what.add_argument("--data", default="fashion-mnist", metavar="DATA",
                      help=f"{', '.join((*IMAGE_DATASETS, SYNTHETIC))}, or PATH.csv")
    what.add_argument("--recipe", metavar="NAME",
                      help="start from a recipe's settings (shallownet recipes lists them); "
                      "options given beside it override them")
    how = p.add_argument_group("training")
    how.add_argument("--epochs", type=int_at_least(1), help="epochs (default: the book's, "
                     "above)")
    how.add_argument("--batch-size", type=int_at_least(1), help="examples per minibatch "
                     "(default: the book's, above)")
    how.add_argument("--lr", type=positive_float, help="learning rate (default: the book's, "
                     "above)")
    how.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    how.add_argument("--momentum", type=float, default=0.9, help="for --optimizer momentum")
    how.add_argument("--weight-decay", type=non_negative_float, default=0.0,
                     help="L2 penalty on weights (not biases)")
    how.add_argument("--seed", type=int_at_least(0), default=0,
                     help="same seed, same numbers (on the CPU)")
    how.add_argument("--device", choices=DEVICES, default=None, help="default auto")
    how.add_argument("--step", choices=STEPS, default="auto",
                     help="the training step: autograd (the model's own backward and "
                     "optimiser: with --impl scratch the chapter's functions), fused "
                     "(closed-form gradient, no autograd), kernel (softmax regression, compiled "
                     "for this CPU on first use: about a minute, needs a C++ compiler and "
                     f"ninja); {AUTO_RULE} (default auto)")
    how.add_argument("--kernel", dest="step", action="store_const", const="kernel",
                     help="the same as --step kernel")
    how.add_argument("--schedule", choices=SCHEDULES, default="constant",
                     help="learning-rate schedule over the run, peaking at --lr: cosine decays "
                     "to 0, onecycle warms up for 30%% of the run then decays")
    how.add_argument("--warmup", type=fraction, metavar="SHARE",
                     help="share of the run spent warming the rate up from lr/25 (default 0; "
                     "onecycle 0.3)")
    how.add_argument("--precision", choices=PRECISIONS, default="float32",
                     help="bfloat16: take the matrix products in bfloat16 (mixed precision; "
                     "faster where the hardware has it: a CPU with AVX-512 BF16 or AMX, an "
                     "Ampere or later GPU); auto: bfloat16 where it has it, else float32")
    how.add_argument("--threads", metavar="N|auto",
                     help="threads for torch's operations; auto (the default) takes the cores "
                     "other processes leave free and follows them while training "
                     f"(or set {THREADS_ENV})")
    how.add_argument("--augment", type=choice_list(AUGMENTATIONS), default=(),
                     metavar="crop,flip", help="augment each training batch of images: crop "
                     "(random shifts of up to 2 pixels), flip (mirror half of them)")
    how.add_argument("--nproc", type=int_at_least(1), default=1, metavar="N",
                     help="data-parallel training in N local worker processes "
                     "(torch.distributed, gloo on the CPU, nccl on CUDA); under torchrun the "
                     "processes come from torchrun instead (default 1)")
    how.add_argument("--folds", type=int_at_least(2), metavar="K",
                     help="K-fold cross-validation on the training set instead of one run")
    model = p.add_argument_group("model options")
    model.add_argument("--hidden", type=int_list, help="MLP hidden widths, e.g. 256 or 128,64 "
                       "(default 256)")
    model.add_argument("--activation", choices=("relu", "sigmoid", "tanh"), default="relu")
    model.add_argument("--dropout", type=_float_list, help="MLP dropout after each hidden "
                       "layer, e.g. 0.2 or 0.2,0.5 (default 0)")
    model.add_argument("--log-softmax", action="store_true",
                       help="MLP ends in LogSoftmax and trains with NLL loss")
    model.add_argument("--pool", choices=("max", "avg"), default="max", help="LeNet pooling")
    model.add_argument("--channels", type=int_list, metavar="C1,C2",
                       help="LeNet's two convolutions' output channels (default 6,16)")
    model.add_argument("--loss", choices=("squared", "l1", "huber"), help="linreg loss "
                       "(default squared)")
    model.add_argument("--huber-delta", type=positive_float, default=1.0)
    model.add_argument("--label-smoothing", type=fraction, default=0.0, metavar="EPS",
                       help="cross-entropy against (1 - EPS) onehot + EPS / classes")
    model.add_argument("--init", choices=SCHEMES,
                       help="weight initialisation (default normal; xavier for lenet)")
    model.add_argument("--init-std", type=positive_float, default=0.01,
                       help="std of the normal initialisation")
    model.add_argument("--backward", choices=("autograd", "hand"), default="autograd",
                       help="hand: scratch gradients from the chain rule")
    data = p.add_argument_group("data options")
    data.add_argument("--data-dir", type=Path, help="directory holding the image dataset")
    data.add_argument("--no-verify", action="store_true",
                      help="trust the IDX files in --data-dir without checking their MD5 "
                      "(your own data in the dataset's layout)")
    data.add_argument("--max-train", type=int_at_least(1), metavar="N",
                      help="use only the first N training examples (quick runs)")
    data.add_argument("--max-test", type=int_at_least(1), metavar="N",
                      help="use only the first N test examples")
    data.add_argument("--resize", type=int_at_least(1), help="resize images to N x N")
    data.add_argument("--normalize", action="store_true",
                      help="standardise images with the training set's mean and std")
    data.add_argument("--num-examples", type=int_at_least(1), default=1000,
                      help="synthetic-linear: examples in each of train and test")
    data.add_argument("--noise", type=non_negative_float, default=0.01,
                      help="synthetic-linear: noise std")
    data.add_argument("--test-fraction", type=float, default=0.2, help="CSV: share held out")
    data.add_argument("--val-fraction", type=fraction, default=0.0, metavar="SHARE",
                      help="hold out this share of the training set and report val_ figures "
                      "on it instead of the test set (to choose settings honestly)")
    data.add_argument("--label-column", default="-1",
                      help="CSV: target column, an index or a header name")
    data.add_argument("--task", choices=("auto", "classification", "regression"),
                      default="auto", help="CSV: what the target is")
    data.add_argument("--no-standardize", action="store_true",
                      help="CSV: keep features unscaled")
    data.add_argument("--categorical", action="store_true",
                      help="CSV: take the file as it comes: text columns one-hot encoded (a "
                      "missing value its own category), empty or NA numbers missing (0 after "
                      "standardising)")
    data.add_argument("--drop-columns", type=_names, default=(), metavar="NAME[,NAME...]",
                      help="CSV: leave out these columns (an Id)")
    data.add_argument("--target-transform", choices=("none", "log"), default="none",
                      help="CSV: log trains a regression on log(y) (targets must be > 0)")
    how.add_argument("--metric", choices=METRICS, default=None,
                     help="an extra per-epoch figure of a regression: log-rmse, "
                     "sqrt(mean((log(clamp(y_hat, 1)) - log y)^2)) (with --folds: each fold's "
                     "train and valid log rmse and their means)")
    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, metavar="DIR",
                     help="run directory (default runs/MODEL-IMPL-DATA-TIME)")
    out.add_argument("--resume", type=Path, metavar="RUN_DIR",
                     help="continue that run from its checkpoint (with --epochs: up to N)")
    out.add_argument("--json", action="store_true", help="end stdout with one JSON line")
    out.add_argument("-q", "--quiet", action="store_true",
                     help="no progress bar and no per-epoch lines")
    out.add_argument("--no-plots", action="store_true", help="write no figures")
    out.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=None,
                     help="also write TensorBoard event files into RUN_DIR/tensorboard (per-epoch "
                     "scalars, figures, hyper-parameters; see them with tensorboard --logdir "
                     "runs); saved with the run, so --resume goes on logging unless given "
                     "--no-tensorboard; needs pip install 'shallownet[tensorboard]'")
    out.add_argument("--visdom", nargs="?", const=VISDOM_URL, default=None, metavar="URL",
                     help="also send the per-epoch curves, live, to the visdom server at URL "
                     f"(default {VISDOM_URL}; start one with python -m visdom.server), one "
                     "window per group of curves in the env named after the run directory; "
                     "an unreachable server gives one warning and training goes on; saved "
                     "with the run (--resume sends the whole history again unless given "
                     "--no-visdom); needs pip install 'shallownet[visdom]'")
    out.add_argument("--no-visdom", dest="visdom", action="store_const", const=False,
                     help="with --resume: stop sending the curves to visdom")
    out.add_argument("--watch-gradients", action="store_true",
                     help="each epoch (and at the start), every layer's gradient and weight "
                     "norms on a probe batch: in metrics.csv, RUN_DIR/gradients.csv and "
                     "gradients.png (TensorBoard histograms with --tensorboard); a warning "
                     "names a layer whose gradients vanish or explode")
    p.set_defaults(handler=run_train, train_parser=p)


class _DefaultsFormatter(argparse.HelpFormatter):
    """Show an option's default unless its help already says it or it has none."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" not in text and action.default not in (None, False, argparse.SUPPRESS):
            text += f" (default {action.default})"
        return text


def _float_list(text: str) -> tuple[float, ...]:
    values = tuple(number(part) for part in text.replace(" ", ",").split(",") if part)
    if not all(0 <= v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"dropout probabilities lie in [0, 1), not {text}")
    return values


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _label_column(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


def _with_recipe(args):
    """``args`` with the recipe's settings where the command line gave none of its own."""
    from shallownet.recipes import SECTIONS, recipe

    chosen = recipe(args.recipe)
    given = _given_options(args)
    args = argparse.Namespace(**vars(args))
    for section in SECTIONS:
        for key, value in chosen.settings.get(section, {}).items():
            if key not in given:
                setattr(args, key, value)
    return args


def _given_options(args) -> set[str]:
    """The destinations of the options the command line gave (a default is not given)."""
    unset = object()
    parser = args.train_parser
    seen = argparse.Namespace(**{a.dest: unset for a in parser._actions})
    argv = getattr(args, "argv", None) or []
    parser.parse_args(argv[argv.index("train") + 1:] if "train" in argv else [], namespace=seen)
    return {name for name, value in vars(seen).items() if value is not unset}


def config_from_args(args, *, resolve: bool = True) -> RunConfig:
    """The :class:`RunConfig` the command line asks for (a recipe's settings or the book's
    defaults filled in; with ``resolve=False``, left for :meth:`RunConfig.resolved` to fill)."""
    if args.recipe:
        args = _with_recipe(args)
    model = args.model or DEFAULT_MODELS[data_kind(args.data)]
    model_cfg = ModelConfig(
        model=model, impl=args.impl,
        hidden=args.hidden or (256,), activation=args.activation,
        dropout=args.dropout or (0.0,), log_softmax=args.log_softmax, pool=args.pool,
        channels=args.channels or (6, 16),
        loss=args.loss, huber_delta=args.huber_delta, init=args.init, init_std=args.init_std,
        backward=args.backward, optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
        weight_decay=args.weight_decay, label_smoothing=args.label_smoothing,
    )
    data = DataSpec(
        name=args.data, data_dir=str(args.data_dir) if args.data_dir else None,
        resize=args.resize, normalize=args.normalize, num_examples=args.num_examples,
        noise=args.noise, test_fraction=args.test_fraction,
        label_column=_label_column(args.label_column), task=args.task,
        standardize=not args.no_standardize, verify=not args.no_verify,
        categorical=args.categorical, drop_columns=args.drop_columns,
        target_transform=args.target_transform,
        max_train=args.max_train, max_test=args.max_test, seed=args.seed,
        val_fraction=args.val_fraction,
    )
    train = TrainSettings(
        epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
        device=args.device or "auto", step=args.step, schedule=args.schedule,
        warmup=args.warmup, augment=args.augment, precision=args.precision,
        tensorboard=bool(args.tensorboard), watch_gradients=args.watch_gradients,
        visdom=args.visdom or None,
        metric=args.metric,
        recipe=args.recipe,
    )
    config = RunConfig(model=model_cfg, data=data, train=train)
    return config.resolved() if resolve else config


def run_train(args) -> int:
    from shallownet.cli.launch import launch
    from shallownet.training.distributed import from_environment, in_distributed_launch, leave

    if args.threads is not None:  # read by the thread policy (shallownet.threads)
        from shallownet.threads import ThreadPolicy

        os.environ[THREADS_ENV] = args.threads
        ThreadPolicy()  # refuses a count that is not auto or a whole number, now

    if in_distributed_launch():  # one of the workers that --nproc or torchrun started
        group = from_environment(resolve_device(args.device or "auto"))
        try:
            _check_distributable(args, group.world_size)
            if group.is_main:
                return _run_train(args, group)
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")  # rank 0 says it once
                return _run_train(args, group)
        finally:
            leave()
    if args.nproc > 1:
        _check_distributable(args, args.nproc)
        if args.resume is None:  # refuse what the workers would refuse, before starting them
            config = config_from_args(args)
            choose_step(config.model, config.train.step, world_size=args.nproc,
                        device=resolve_device(config.train.device))
            if args.out is not None:
                RunDir(args.out).check_new()
        argv = args.argv[args.argv.index("train") + 1:]
        return launch(_without_nproc(argv), args.nproc)
    with terminate_as_interrupt():  # `kill PID` keeps the checkpoint and says how to resume
        return _run_train(args, None)


def _check_distributable(args, world_size: int) -> None:
    if world_size > 1 and args.folds:
        raise UsageError("--folds trains its folds one after another in one process; leave out "
                         "--nproc (or --folds).")
    if args.tensorboard:  # refused before the workers start, not by each of them
        from shallownet.training.tensorboard import require_tensorboard

        require_tensorboard()
    if args.visdom:
        from shallownet.training.visdom import require_visdom

        require_visdom()


def _without_nproc(argv: list[str]) -> list[str]:
    """``argv`` less its ``--nproc N`` / ``--nproc=N``."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def _run_train(args, group) -> int:
    from shallownet.training.crossval import cross_validate
    from shallownet.training.run import resume_run, train_run

    log = False if args.quiet else None
    progress = False if args.quiet else None
    plots = not args.no_plots
    if args.resume is not None:
        defaults = vars(args.train_parser.parse_args([]))
        given = [name for name, default in defaults.items()
                 if name not in _FREE_ON_RESUME and getattr(args, name) != default]
        if given:
            flags = ", ".join("--" + g.replace("_", "-") for g in given)
            raise UsageError(
                f"--resume continues a run with its own settings; {flags} cannot change. "
                "Only --epochs, --device, --nproc, --json, --quiet, --no-plots and "
                "--[no-]tensorboard and --[no-]visdom go with --resume."
            )
        step, run_dir = _saved_step(args.resume), RunDir(args.resume)
        if run_dir.checkpoint.is_file():
            print(f"resuming {args.resume}" + step + _workers(group), flush=True)
        elif run_dir.config.is_file():
            print(f"restarting {args.resume} from epoch 0: it was stopped before its first "
                  "checkpoint" + step + _workers(group), flush=True)
        resume_run(args.resume, epochs=args.epochs, device=args.device, progress=progress,
                   log=log, plots=plots, group=group, tensorboard=args.tensorboard,
                   visdom=args.visdom,
                   on_result=lambda result: _report(result.summary, result.run_dir, args.json))
        return 0
    config = config_from_args(args)
    world = 1 if group is None else group.world_size
    choice = choose_step(config.model, config.train.step, world_size=world,
                         device=resolve_device(config.train.device),
                         augment=bool(config.train.augment), precision=config.train.precision)
    if args.folds and args.tensorboard:
        raise UsageError("--tensorboard logs the epochs of one run; --folds trains K models "
                         "and keeps none. Leave out --tensorboard (or --folds).")
    if args.folds and args.visdom:
        raise UsageError("--visdom draws the epochs of one run; --folds trains K models "
                         "and keeps none. Leave out --visdom (or --folds).")
    if args.folds and args.watch_gradients:
        raise UsageError("--watch-gradients follows the layers of one run; --folds trains K "
                         "models and keeps none. Leave out --watch-gradients (or --folds).")
    if args.folds:
        print(_header(config, choice, f"{args.folds}-fold cross-validation"), flush=True)
        summary = cross_validate(config, args.folds, args.out, progress=progress, log=log,
                                 plots=plots)
        run_dir = summary.pop("run_dir")
        return _report(summary, run_dir, args.json)
    print(_header(config, choice, "training") + _workers(group), flush=True)
    train_run(config, args.out, progress=progress, log=log, plots=plots, group=group,
              on_result=lambda result: _report(result.summary, result.run_dir, args.json))
    return 0


def _workers(group) -> str:
    return "" if group is None else f", {group.world_size} processes (torch.distributed)"


def _saved_step(path: Path) -> str:
    """``, step NAME`` as the run in ``path`` saved it ('' where it cannot be read: resuming
    then says why)."""
    try:
        step = RunDir(path).read_config()["train"]["step"]
    except (ShallownetError, KeyError, TypeError):
        return ""
    return f", step {step}" if isinstance(step, str) else ""


def _header(config: RunConfig, choice: StepChoice, what: str) -> str:
    """``training mlp (scratch, hidden 256) on fashion-mnist: 10 epochs, ..., step fused (...)``."""
    m, t = config.model, config.train
    options = [f"{name.replace('_', ' ')} {_setting(getattr(m, name))}"
               for name in MODELS[m.model].options if name in _HEADER_OPTIONS]
    epochs = f"{t.epochs} epoch{'s' if t.epochs != 1 else ''}"
    recipe = f" with recipe {t.recipe}" if t.recipe else ""
    return (f"{what} {m.model} ({', '.join([m.impl, *options])}) on {config.data.name}{recipe}: "
            f"{epochs}, batch {t.batch_size}, {m.optimizer} lr {m.lr:g}, seed {t.seed}, "
            f"device {resolve_device(t.device)}, step {choice}")


#: the model options a header names (the others have their own words or are rarely changed)
_HEADER_OPTIONS = ("hidden", "channels")


def _setting(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _report(summary: dict, run_dir, as_json: bool) -> int:
    parts = [f"{k.replace('_', ' ')} {summary[k]:.4f}" for k in
             ("train_loss", "train_acc", "test_loss", "test_acc", "val_loss", "val_acc",
              "val_loss_mean", "val_acc_mean", "train_log_rmse", "test_log_rmse",
              "val_log_rmse", "train_log_rmse_mean", "val_log_rmse_mean")
             if isinstance(summary.get(k), float)]
    for key in ("w_error", "b_error"):
        if isinstance(summary.get(key), float):
            parts.append(f"{key.replace('_', ' ')} {summary[key]:.2e}")
    if "val_acc_std" in summary:
        parts.append(f"val acc std {summary['val_acc_std']:.4f}")
    elif "val_loss_std" in summary:
        parts.append(f"val loss std {summary['val_loss_std']:.4f}")
    rate = summary.get("samples_per_second")
    speed = f", {rate:,.0f} examples/s" if isinstance(rate, float) and math.isfinite(rate) else ""
    print("final  " + "  ".join(parts), flush=True)
    print(f"time   {summary['seconds']:.1f} s training and evaluation{speed}", flush=True)
    print(f"run    {run_dir}", flush=True)
    if as_json:
        print(json.dumps(json_safe({**summary, "run_dir": str(run_dir)})), flush=True)
    sys.stdout.flush()
    return 0
