"""The ``shallownet`` command line: ``main(argv) -> exit status``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Sequence

from shallownet import __version__, phases
from shallownet.cli import bench as bench_cmd
from shallownet.cli import compare as compare_cmd
from shallownet.cli import data as data_cmd
from shallownet.cli import evaluate as evaluate_cmd
from shallownet.cli import plot as plot_cmd
from shallownet.cli import recipes as recipes_cmd
from shallownet.cli import train as train_cmd
from shallownet.cli import tune as tune_cmd
from shallownet.cli.messages import for_the_command_line, interrupted_message
from shallownet.errors import ShallownetError

__all__ = ["main", "build_parser", "parse", "console"]


class _Parser(argparse.ArgumentParser):
    """Command-line mistakes in two lines: the error and where to look, not the whole usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\nSee '{self.prog} --help' for the options.\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = _Parser(
        prog="shallownet",
        description="The linear-networks and MLP chapters of Dive into Deep Learning, "
        "as one-command experiments.",
    )
    parser.add_argument("--version", action="version", version=f"shallownet {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    train_cmd.register(commands)
    evaluate_cmd.register(commands)
    data_cmd.register(commands)
    plot_cmd.register(commands)
    bench_cmd.register(commands)
    compare_cmd.register(commands)
    recipes_cmd.register(commands)
    tune_cmd.register(commands)
    return parser


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The parsed command line ``argv``; argparse's SystemExit for what it does not know.

    ``tune`` takes any option of ``train`` besides its own: those are left,
    as words, in ``args.extra`` for it to read.
    """
    parser = build_parser()
    argv = list(argv)
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "takes_train_options", False):
        parser.parse_args(argv)  # argparse's own message for what it does not know
    args.argv = argv  # e.g. for train --nproc, which starts workers with the same arguments
    args.extra = extra
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status (0 success, 1 error, 2 usage)."""
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            return args.handler(args)
    except ShallownetError as exc:
        print(f"shallownet: error: {for_the_command_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(interrupted_message(exc), file=sys.stderr)
        return getattr(exc, "exit_status", 130)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = for_the_command_line(message) if getattr(message, "hints", None) else message
    print(f"shallownet: warning: {text}", file=sys.stderr)


def console() -> None:
    """The ``shallownet`` command: :func:`main`, then leave the process at once.

    Everything a command writes is written, fsynced and closed before
    :func:`main` returns; what remains is Python tearing down torch's modules
    one by one, which takes about half a second. So the command flushes its
    output and ends the process there (``os._exit``), with main's exit status.
    """
    phases.mark("main_start")
    status = main()
    phases.mark("main_end")
    phases.write()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(status)
