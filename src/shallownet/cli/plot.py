"""``shallownet plot losses``, ``plot activations`` and ``plot gradients``."""

from __future__ import annotations

from pathlib import Path

from shallownet.cli.arguments import int_at_least, positive_float
from shallownet.errors import UsageError

__all__ = ["register"]

FORMATS = ("png", "svg", "pdf")


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
    activations = sub.add_parser(
        "activations", help="ReLU, sigmoid and tanh, each with its derivative (by autograd)",
    )
    activations.add_argument("--out", type=Path, default=Path("activations.png"),
                             help="image path; .png, .svg or .pdf (default activations.png)")
    activations.add_argument("--range", dest="limit", type=positive_float, default=8.0,
                             help="plot x from −RANGE to RANGE (default 8)")
    activations.set_defaults(handler=run_activations)
    gradients = sub.add_parser(
        "gradients",
        help="vanishing and exploding gradients, initialisations and the symmetry problem "
             "(four figures, computed on Fashion-MNIST)",
    )
    gradients.add_argument("--out-dir", type=Path, default=Path("."),
                           help="directory for gradients-vanishing, gradients-matrix-product, "
                                "gradients-deep-mlp and gradients-symmetry (default: the "
                                "working directory)")
    gradients.add_argument("--format", choices=FORMATS, default="png",
                           help="image format of the four files (default png)")
    gradients.add_argument("--depth", type=int_at_least(1), default=10,
                           help="hidden layers of the deep MLP (default 10)")
    gradients.add_argument("--width", type=int_at_least(1), default=256,
                           help="units per hidden layer of the deep MLP (default 256)")
    gradients.add_argument("--symmetry-images", type=int_at_least(1), default=2000,
                           help="Fashion-MNIST training images of the symmetry figure's "
                                "epoch (default 2000)")
    gradients.add_argument("--seed", type=int_at_least(0), default=0,
                           help="seed of the random matrices and initialisations (default 0)")
    gradients.add_argument("--data-dir", type=Path,
                           help="directory holding Fashion-MNIST (default: found as train does)")
    gradients.set_defaults(handler=run_gradients)


def run_losses(args) -> int:
    from shallownet.plots.losses import plot_regression_losses
    from shallownet.plots.save import save_figure

    _check_suffix(args.out)
    fig = plot_regression_losses(args.limit, delta=args.delta)
    save_figure(fig, args.out)
    print(f"wrote {args.out}")
    return 0


def _check_suffix(out: Path) -> None:
    if out.suffix.lower().lstrip(".") not in FORMATS:
        raise UsageError(f"--out must end in .png, .svg or .pdf, not {out.name!r}.")


def run_activations(args) -> int:
    from shallownet.plots.save import save_figure
    from shallownet.plots.stability import plot_activations

    _check_suffix(args.out)
    save_figure(plot_activations(args.limit), args.out)
    print(f"wrote {args.out}")
    return 0


def run_gradients(args) -> int:
    from shallownet.plots.save import save_figure
    from shallownet.plots.stability import GRADIENT_FIGURES, gradient_figures
    from shallownet.stability import fashion_mnist_batch

    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise UsageError(f"cannot write the figures: --out-dir {args.out_dir} is not a "
                         "directory.")
    images = max(args.symmetry_images, 256)
    X, y = fashion_mnist_batch(min(images, 60_000), data_dir=args.data_dir)
    figures = gradient_figures(X, y, depth=args.depth, width=args.width,
                               symmetry_images=args.symmetry_images, seed=args.seed)
    for name in GRADIENT_FIGURES:
        path = args.out_dir / f"{name}.{args.format}"
        save_figure(figures[name], path)
        print(f"wrote {path}")
    return 0
