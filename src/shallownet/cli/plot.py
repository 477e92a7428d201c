"""``shallownet plot losses``."""

from __future__ import annotations

from pathlib import Path

from shallownet.cli.arguments import positive_float
from shallownet.errors import UsageError

__all__ = ["register"]


def register(commands) -> None:
    """Add the ``plot`` command and its sub-commands to ``commands``."""
    plot = commands.add_parser("plot", help="draw the chapter's figures")
    sub = plot.add_subparsers(dest="plot_command", metavar="FIGURE")
    sub.required = True
    losses = sub.add_parser(
        "losses",
        help="squared, L1 and Huber loss against ŷ−y, each with its gradient and exp(−l)",
    )
    losses.add_argument("--out", type=Path, default=Path("losses.png"),
                        help="image path; .png, .svg or .pdf (default losses.png)")
    losses.add_argument("--delta", type=positive_float, default=1.0,
                        help="Huber threshold δ (default 1, the book's)")
    losses.add_argument("--range", dest="limit", type=positive_float, default=3.0,
                        help="plot ŷ−y from −RANGE to RANGE (default 3)")
    losses.set_defaults(handler=run_losses)


def run_losses(args) -> int:
    from shallownet.plots.losses import plot_regression_losses
    from shallownet.plots.save import save_figure

    if args.out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UsageError(f"--out must end in .png, .svg or .pdf, not {args.out.name!r}.")
    fig = plot_regression_losses(args.limit, delta=args.delta)
    save_figure(fig, args.out)
    print(f"wrote {args.out}")
    return 0
