"""Training curves per epoch, drawn once or live in a notebook (the book's ``Animator``)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

from shallownet.errors import UsageError
from shallownet.plots.notebook import in_notebook, png_image

__all__ = ["plot_training_curves", "LivePlot"]

#: Panels in drawing order: (title, y label, which metric keys go there).
_PANELS = (
    ("loss", "loss", lambda key: key.endswith("_loss")),
    ("accuracy", "accuracy", lambda key: key.endswith("_acc")),
    ("log RMSE", "log RMSE", lambda key: key.endswith("_log_rmse")),
    ("parameter error", "error of the estimate", lambda key: key.endswith("_error")),
)
#: One colour per split, the same in every panel; test (and validation) curves are dashed.
_SPLIT_STYLE = {"train": ("C0", "-"), "valid": ("C2", "--"), "val": ("C2", "--"),
                "test": ("C1", "--")}
_ERROR_COLORS = ("C2", "C3", "C4", "C5")
#: Draw a marker on every point up to this many points per curve.
_MAX_MARKED_POINTS = 30


def _split(key: str) -> str:
    return key.split("_", 1)[0]


def _as_float(value, key: str, epoch) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(
            f"history value {key!r} at epoch {epoch} is {value!r}, not a number."
        ) from None


def _series(history: Sequence[Mapping]) -> tuple[list[int], dict[str, list[float]]]:
    """The epochs and, per metric key, its value per record (nan where missing)."""
    if isinstance(history, Mapping) or not isinstance(history, Sequence):
        raise UsageError(
            f"history must be a list of per-epoch dicts, not {type(history).__name__}."
        )
    if len(history) == 0:
        raise UsageError("history is empty: there is no epoch to plot.")
    epochs: list[int] = []
    for i, record in enumerate(history):
        if not isinstance(record, Mapping):
            raise UsageError(f"history[{i}] is a {type(record).__name__}, not a dict.")
        epoch = record.get("epoch")
        if (not isinstance(epoch, numbers.Integral) or isinstance(epoch, bool)
                or epoch < 1):
            raise UsageError(
                f"history[{i}] needs an 'epoch' that is an integer >= 1, not {epoch!r}."
            )
        epochs.append(int(epoch))
    keys = [key for key in dict.fromkeys(k for record in history for k in record)
            if isinstance(key, str) and any(match(key) for _, _, match in _PANELS)]
    series = {
        key: [_as_float(record.get(key), key, record["epoch"]) for record in history]
        for key in keys
    }
    return epochs, series


def _finite(epochs: list[int], values: list[float], *, positive: bool = False):
    points = [(e, v) for e, v in zip(epochs, values, strict=True)
              if math.isfinite(v) and (v > 0 or not positive)]
    return [e for e, _ in points], [v for _, v in points]


def _ordered(keys: list[str]) -> list[str]:
    rank = {"train": 0, "valid": 1, "val": 1, "test": 2}
    return sorted(keys, key=lambda key: rank.get(_split(key), 3))


def plot_training_curves(
    history: Sequence[Mapping],
    *,
    total_epochs: int | None = None,
    title: str | None = None,
):
    """Loss, accuracy and parameter-error curves against the epoch, one panel each.

    Parameters
    ----------
    history : list of dict
        One record per epoch with an ``"epoch"`` (int, from 1) and float metrics.
        Keys ending in ``_loss`` go to the "loss" panel, ``_acc`` to "accuracy"
        and ``_error`` (``w_error``, ``b_error``) to "parameter error"; other
        keys (``"seconds"``...) are ignored. A value may be missing, None or nan
        (no test split, evaluation every few epochs): the curve joins the epochs
        that have one. A panel appears only if one of its curves has a value.
    total_epochs : int, optional
        Right end of the epoch axis (the planned run length, for live plots);
        default the last epoch in ``history``.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib Figure
        Train curves solid, test curves dashed. The loss axis is logarithmic
        when every loss is positive and they span more than a factor of 50; the
        parameter-error axis always is (non-positive errors are left out).

    Raises
    ------
    UsageError
        An empty history, a record without an integer epoch, a non-numeric
        metric, an accuracy outside [0, 1], no metric to plot, or a
        ``total_epochs`` before the last epoch.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs, series = _series(history)
    last = max(epochs)
    if total_epochs is not None:
        if (not isinstance(total_epochs, numbers.Integral) or isinstance(total_epochs, bool)
                or total_epochs < 1):
            raise UsageError(f"total_epochs must be an integer >= 1, not {total_epochs!r}.")
        if total_epochs < last:
            raise UsageError(
                f"total_epochs={total_epochs} is before the last epoch in history ({last})."
            )
        last = int(total_epochs)

    panels = []
    for name, ylabel, match in _PANELS:
        positive = name == "parameter error"
        curves = {}
        for key in _ordered([k for k in series if match(k)]):
            xs, ys = _finite(epochs, series[key], positive=positive)
            if xs:
                curves[key] = (xs, ys)
        if curves:
            panels.append((name, ylabel, curves))
    if not panels:
        found = sorted({k for record in history for k in record if isinstance(k, str)})
        raise UsageError(
            "history has no metric to plot: expected keys ending in _loss, _acc or _error "
            f"with a value (found {found})."
        )
    for name, _, curves in panels:
        for key, (xs, ys) in curves.items():
            bad = [(x, y) for x, y in zip(xs, ys, strict=True) if not 0 <= y <= 1]
            if name == "accuracy" and bad:
                raise UsageError(
                    f"{key} at epoch {bad[0][0]} is {bad[0][1]:g}; accuracies must be "
                    "fractions in [0, 1]."
                )

    fig = Figure(figsize=(4.6 * len(panels), 3.7), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    pad = max(last - 1, 1) * 0.03
    for ax, (name, ylabel, curves) in zip(axes, panels, strict=True):
        for i, (key, (xs, ys)) in enumerate(curves.items()):
            if name == "parameter error":
                color, style = _ERROR_COLORS[i % len(_ERROR_COLORS)], "-"
            else:
                color, style = _SPLIT_STYLE.get(_split(key), (f"C{3 + i % 7}", "-."))
            ax.plot(xs, ys, color=color, linestyle=style, linewidth=1.8,
                    marker="o" if len(xs) <= _MAX_MARKED_POINTS else None, markersize=4,
                    label=key.replace("_", " "))
        values = [y for _, ys in curves.values() for y in ys]
        if name == "parameter error" or (
                name == "loss" and min(values) > 0 and max(values) / min(values) > 50):
            ax.set_yscale("log")
        if name == "accuracy":
            ax.set_ylim(max(0.0, min(values) - 0.05), 1.0)
        ax.set_xlim(1 - pad, last + pad)
        if last <= 12:
            ax.set_xticks(range(1, last + 1))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(loc="best", fontsize="small", framealpha=0.85)
    if title:
        fig.suptitle(title)
    return fig


class LivePlot:
    """Training curves that redraw in place in a notebook cell, one update per epoch.

    Each :meth:`update` renders :func:`plot_training_curves` to a PNG and shows
    it in the cell's single output, replacing the previous one (a display
    handle, not ``clear_output``, so the cell does not flicker or grow). The
    figure is never registered with pyplot, so nothing is shown twice at the
    end of the cell and nothing accumulates in memory.

    Parameters
    ----------
    total_epochs : int, optional
        The planned number of epochs: the epoch axis keeps this length from the
        first update on.
    title : str, optional
        Figure title.
    enabled : bool, optional
        None (default) draws only inside a Jupyter kernel
        (:func:`~shallownet.plots.notebook.in_notebook`);
        a disabled LivePlot ignores every call, so scripts can create one freely.

    Examples
    --------
    >>> live = LivePlot(total_epochs=10, title="softmax regression")
    >>> history = []
    >>> for epoch in range(1, 11):  # doctest: +SKIP
    ...     history.append({"epoch": epoch, **train_one_epoch()})
    ...     live.update(history)
    >>> live.close()
    """

    def __init__(self, total_epochs: int | None = None, title: str | None = None, *,
                 enabled: bool | None = None, dpi: int = 90):
        self.total_epochs = total_epochs
        self.title = title
        self.dpi = dpi
        self.enabled = in_notebook() if enabled is None else bool(enabled)
        self._handle = None

    def update(self, history: Sequence[Mapping]) -> None:
        """Redraw the curves for ``history`` (ignored when disabled, closed or empty)."""
        if not self.enabled or len(history) == 0:
            return
        from IPython.display import display

        fig = plot_training_curves(history, total_epochs=self.total_epochs, title=self.title)
        image = png_image(fig, self.dpi)
        fig.clear()
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)

    def close(self) -> None:
        """Stop updating; the last drawing stays in the cell's output."""
        self.enabled = False
        self._handle = None

    def __enter__(self) -> LivePlot:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
