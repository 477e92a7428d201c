"""The curves of several runs on shared axes, one colour per run (``shallownet compare``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from shallownet.errors import UsageError
from shallownet.plots.training import _MAX_MARKED_POINTS, _finite, _series

__all__ = ["plot_comparison"]

#: Panels of a classifier comparison and of a regression one: (title, y label, metric keys).
_CLASSIFIER_PANELS = (("train loss", "loss", ("train_loss",)),
                      ("test loss", "loss", ("test_loss",)),
                      ("test accuracy", "accuracy", ("test_acc",)))
_REGRESSION_PANELS = (("train loss", "loss", ("train_loss",)),
                      ("test loss", "loss", ("test_loss",)),
                      ("parameter error", "error of the estimate", ("w_error", "b_error")))
#: Line style of each metric where one panel holds two per run.
_STYLES = {"w_error": "-", "b_error": "--"}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
#: A loss axis is logarithmic when its values span more than this factor.
_LOG_SPAN = 3.0


def plot_comparison(
    histories: Mapping[str, Sequence[Mapping]],
    *,
    title: str | None = None,
):
    """Train loss, test loss and test accuracy of several runs against the epoch.

    Parameters
    ----------
    histories : dict of str to list of dict
        Label of each run -> its per-epoch records (``"epoch"`` from 1 and
        metrics, as :func:`~shallownet.plots.training.plot_training_curves`
        takes them). Runs may have different numbers of epochs.
    title : str, optional
        Figure title (e.g. what was varied).

    Returns
    -------
    matplotlib Figure
        One panel per metric, the same colour and marker for a run in every
        panel, and one legend of the labels beside the panels. Classifiers get
        panels train loss, test loss and test accuracy; regression runs train
        loss, test loss and, on synthetic data, the error of the estimated w
        (solid) and b (dashed). The two loss panels share their y axis, which
        is logarithmic when the losses span more than a factor of 3 (a noisy
        large learning rate then does not flatten the other curves). A panel is
        left out when no run has a value for it.

    Raises
    ------
    UsageError
        No run, a malformed history, accuracies outside [0, 1], or regression
        runs (no accuracy) mixed with classifiers: their losses are not on
        one scale.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if not isinstance(histories, Mapping) or not histories:
        raise UsageError("histories must map each run's label to its per-epoch records; "
                         "there is no run to plot.")
    runs = {}
    for label, history in histories.items():
        try:
            runs[str(label)] = _series(history)
        except UsageError as exc:
            raise UsageError(f"run {label!r}: {exc}") from None
    classifier = {label: any(k.endswith("_acc") for k in series)
                  for label, (_, series) in runs.items()}
    if len(set(classifier.values())) > 1:
        regression = ", ".join(repr(k) for k, v in classifier.items() if not v)
        raise UsageError(f"runs {regression} have no accuracy: regression runs cannot share "
                         "axes with classifiers, their losses are not on one scale.")
    panels = []
    for name, ylabel, keys in (_CLASSIFIER_PANELS if any(classifier.values())
                               else _REGRESSION_PANELS):
        curves = {}
        for label, (epochs, series) in runs.items():
            for key in keys:
                xs, ys = _finite(epochs, series.get(key, [math.nan] * len(epochs)),
                                 positive=name == "parameter error")
                if xs:
                    curves[label, key] = (xs, ys)
        if curves:
            panels.append((name, ylabel, curves))
    if not panels:
        raise UsageError("the runs have no loss, accuracy or parameter error to plot.")
    for name, _, curves in panels:
        for (label, key), (xs, ys) in curves.items():
            bad = [(x, y) for x, y in zip(xs, ys, strict=True) if not 0 <= y <= 1]
            if name == "test accuracy" and bad:
                raise UsageError(f"run {label!r}: {key} at epoch {bad[0][0]} is {bad[0][1]:g}; "
                                 "accuracies must be fractions in [0, 1].")

    labels = list(runs)
    style = {label: (f"C{i % 10}", _MARKERS[i % len(_MARKERS)]) for i, label in enumerate(labels)}
    last = max(max(epochs) for epochs, _ in runs.values())
    marked = last <= _MAX_MARKED_POINTS

    fig = Figure(figsize=(3.9 * len(panels) + 1.6, 3.6), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False, sharex=True)[0]
    loss_axes = [ax for ax, (name, _, _) in zip(axes, panels, strict=True) if "loss" in name]
    for ax in loss_axes[1:]:
        ax.sharey(loss_axes[0])
    for ax, (name, ylabel, curves) in zip(axes, panels, strict=True):
        for (label, key), (xs, ys) in curves.items():
            color, marker = style[label]
            ax.plot(xs, ys, color=color, linestyle=_STYLES.get(key, "-"), linewidth=1.6,
                    marker=marker if marked else None, markersize=4, alpha=0.9)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
        if name == "parameter error":
            _log_axis(ax, *_span(curves))
            ax.set_ylabel(f"{ylabel} (log scale)")
            ax.legend(handles=[Line2D([], [], color="0.3", linestyle=_STYLES[k],
                                      label=k.replace("_", " ")) for k in ("w_error", "b_error")
                               if any(key == k for _, key in curves)],
                      loc="best", fontsize="small", framealpha=0.85)
        elif name == "test accuracy":
            lo, hi = _span(curves)
            pad = max(hi - lo, 0.02) * 0.08
            ax.set_ylim(max(0.0, lo - pad), min(1.0, hi + pad))
    if loss_axes:
        lo, hi = _span({k: v for (name, _, curves) in panels if "loss" in name
                        for k, v in curves.items()})
        if lo > 0 and hi / lo > _LOG_SPAN:
            _log_axis(loss_axes[0], lo, hi)
            for ax in loss_axes:
                ax.set_ylabel("loss (log scale)")
        for ax in loss_axes[1:]:
            ax.tick_params(labelleft=True)
    pad = max(last - 1, 1) * 0.03
    axes[0].set_xlim(1 - pad, last + pad)
    if last <= 12:
        axes[0].set_xticks(range(1, last + 1))
    else:
        from matplotlib.ticker import MaxNLocator

        axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    handles = [Line2D([], [], color=style[label][0], marker=style[label][1] if marked else None,
                      markersize=5, linewidth=1.6, label=label) for label in labels]
    fig.legend(handles=handles, loc="outside right center", frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def _span(curves: Mapping) -> tuple[float, float]:
    values = [y for _, ys in curves.values() for y in ys]
    return min(values), max(values)


def _log_axis(ax, lo: float, hi: float) -> None:
    """A log y axis with plain tick labels (0.5, 1, 2) where it spans under two decades."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    if lo > 0 and hi / lo < 100:
        subs = (1.0, 2.0, 3.0, 5.0) if hi / lo < 10 else (1.0, 2.0, 5.0)
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
