"""``shallownet compare RUN_DIR RUN_DIR...``: several runs' curves on shared axes and a table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from shallownet.jsonutil import json_safe

__all__ = ["register"]

_FORMATS = (".png", ".svg", ".pdf")


def _figure_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in _FORMATS:
        raise argparse.ArgumentTypeError(f"must end in .png, .svg or .pdf, not {path.name!r}")
    return path


def register(commands) -> None:
    """Add ``compare`` to ``commands``."""
    cmp = commands.add_parser(
        "compare", help="draw several runs' curves on shared axes and tabulate their results",
        description="Compare two or more runs (e.g. the same model trained with --lr 0.01, 0.1 "
        "and 1): label each by the settings that differ in their configs (else by directory "
        "name), print a table of their final figures, and draw train loss, test loss and test "
        "accuracy (regression: parameter error) per epoch, one colour per run. Runs still "
        "training are compared over the epochs they have finished. Regression and "
        "classification runs cannot be mixed; cross-validation runs are not compared.",
    )
    cmp.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR",
                     help="run directories written by shallownet train (two or more)")
    cmp.add_argument("--out", type=_figure_path, default=Path("compare.png"), metavar="FILE",
                     help="figure path; .png, .svg or .pdf (default compare.png in the current "
                     "directory)")
    cmp.add_argument("--title", help="figure title (default: what the runs share and what "
                     "was varied)")
    cmp.add_argument("--json", action="store_true", help="end stdout with one JSON line")
    cmp.set_defaults(handler=run_compare, parser=cmp)


def run_compare(args) -> int:
    from shallownet.compare import compare_runs
    from shallownet.plots.save import save_figure

    if len(args.run_dirs) < 2:
        args.parser.error(
            f"compare needs two or more run directories, not one ({args.run_dirs[0]}); "
            f"a single run's curves are in its curves.png"
        )
    comparison = compare_runs(args.run_dirs)
    print(comparison.title)
    print(comparison.table())
    fig = comparison.plot(title=args.title)
    save_figure(fig, args.out)
    print(f"wrote {args.out}")
    if args.json:
        print(json.dumps(json_safe({**comparison.to_dict(), "figure": str(args.out)})))
    return 0
