"""Training curves: panels chosen by the history's keys, their data and scales, and LivePlot."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from shallownet.errors import UsageError
from shallownet.plots import LivePlot, plot_training_curves, save_figure
from tests.plots.ipython_fakes import TerminalInteractiveShell, ZMQInteractiveShell, fake_ipython


def classification_history(epochs: int = 10) -> list[dict]:
    return [
        {"epoch": e, "train_loss": 0.8 - 0.035 * (e - 1), "test_loss": 0.82 - 0.03 * (e - 1),
         "train_acc": 0.70 + 0.014 * (e - 1), "test_acc": 0.69 + 0.013 * (e - 1),
         "seconds": 1.5}
        for e in range(1, epochs + 1)
    ]


REGRESSION = [
    {"epoch": 1, "train_loss": 4.2, "test_loss": 4.5, "w_error": 1e-1, "b_error": 2e-1},
    {"epoch": 2, "train_loss": 0.03, "test_loss": 0.035, "w_error": 3e-3, "b_error": 5e-3},
    {"epoch": 3, "train_loss": 5e-5, "test_loss": 6e-5, "w_error": 1e-4, "b_error": 2e-4},
]


def panels(fig) -> dict:
    return {ax.get_title(): ax for ax in fig.axes}


def line_data(ax) -> dict[str, tuple[list, list]]:
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
            for line in ax.get_lines()}


def test_classification_history_gives_loss_and_accuracy_panels(close_figures):
    history = classification_history()
    fig = plot_training_curves(history, title="softmax regression")
    close_figures.append(fig)
    assert isinstance(fig, Figure)
    assert list(panels(fig)) == ["loss", "accuracy"]
    loss, acc = fig.axes
    epochs = list(range(1, 11))
    assert line_data(loss) == {
        "train loss": (epochs, [r["train_loss"] for r in history]),
        "test loss": (epochs, [r["test_loss"] for r in history]),
    }
    assert line_data(acc) == {
        "train acc": (epochs, [r["train_acc"] for r in history]),
        "test acc": (epochs, [r["test_acc"] for r in history]),
    }
    for ax in fig.axes:
        train, test = ax.get_lines()
        assert train.get_linestyle() == "-"
        assert test.get_linestyle() == "--"
        assert ax.get_xlabel() == "epoch"
        assert ax.get_legend() is not None
        assert [t.get_text() for t in ax.get_legend().get_texts()] == \
            [line.get_label() for line in ax.get_lines()]
        left, right = ax.get_xlim()
        assert 0.5 < left <= 1 and 10 <= right < 10.5
        assert list(ax.get_xticks()) == epochs
        assert all(line.get_visible() for line in ax.get_xgridlines() + ax.get_ygridlines())
    assert loss.get_yscale() == "linear"  # 0.8 / 0.485 is no reason for a log axis
    assert acc.get_yscale() == "linear"
    assert acc.get_ylim() == pytest.approx((0.69 - 0.05, 1.0))
    assert fig._suptitle.get_text() == "softmax regression"


def test_regression_history_gives_log_loss_and_parameter_error_panels(close_figures):
    fig = plot_training_curves(REGRESSION)
    close_figures.append(fig)
    assert list(panels(fig)) == ["loss", "parameter error"]
    loss, error = fig.axes
    assert loss.get_yscale() == "log"  # 4.5 / 5e-5 spans five decades
    assert error.get_yscale() == "log"
    assert line_data(error) == {
        "w error": ([1, 2, 3], [1e-1, 3e-3, 1e-4]),
        "b error": ([1, 2, 3], [2e-1, 5e-3, 2e-4]),
    }
    assert [line.get_linestyle() for line in error.get_lines()] == ["-", "-"]
    assert list(error.get_xticks()) == [1, 2, 3]
    assert fig._suptitle is None


def test_loss_axis_is_linear_at_a_factor_of_fifty_or_with_a_zero(close_figures):
    fig = plot_training_curves([{"epoch": 1, "train_loss": 5.0}, {"epoch": 2, "train_loss": 0.1}])
    close_figures.append(fig)
    assert fig.axes[0].get_yscale() == "linear"  # exactly 50, not more
    fig = plot_training_curves([{"epoch": 1, "train_loss": 5.0}, {"epoch": 2, "train_loss": 0.0},
                                {"epoch": 3, "train_loss": 1e-6}])
    close_figures.append(fig)
    assert fig.axes[0].get_yscale() == "linear"


def test_only_the_panels_with_values_appear(close_figures):
    no_test = [{"epoch": e, "train_loss": 1.0 / e, "train_acc": 0.5 + e / 10,
                "test_loss": None, "test_acc": math.nan} for e in (1, 2, 3)]
    fig = plot_training_curves(no_test)
    close_figures.append(fig)
    assert list(panels(fig)) == ["loss", "accuracy"]
    assert [line.get_label() for ax in fig.axes for line in ax.get_lines()] == \
        ["train loss", "train acc"]

    errors_only = [{"epoch": 1, "w_error": 0.5}, {"epoch": 2, "w_error": 0.05, "seconds": 3.0}]
    fig = plot_training_curves(errors_only)
    close_figures.append(fig)
    assert list(panels(fig)) == ["parameter error"]
    assert line_data(fig.axes[0]) == {"w error": ([1, 2], [0.5, 0.05])}


def test_missing_values_are_skipped_and_the_curve_joins_the_rest(close_figures):
    history = [{"epoch": e, "train_loss": 1.0 / e} for e in range(1, 7)]
    for record in history[1::2]:
        record["test_loss"] = 2.0 / record["epoch"]  # evaluated every other epoch
    fig = plot_training_curves(history)
    close_figures.append(fig)
    assert line_data(fig.axes[0])["test loss"] == ([2, 4, 6], [1.0, 0.5, 2.0 / 6])


def test_a_single_epoch_is_drawn_as_visible_markers(close_figures):
    fig = plot_training_curves(classification_history(1))
    close_figures.append(fig)
    for ax in fig.axes:
        for line in ax.get_lines():
            assert len(line.get_xdata()) == 1
            assert line.get_marker() == "o"
        left, right = ax.get_xlim()
        assert left < 1 < right
    assert list(fig.axes[0].get_xticks()) == [1]


def test_long_runs_have_no_markers_and_integer_ticks(close_figures):
    fig = plot_training_curves([{"epoch": e, "train_loss": 1.0 / e} for e in range(1, 61)])
    close_figures.append(fig)
    ax = fig.axes[0]
    assert all(line.get_marker() in (None, "None", "") for line in ax.get_lines())
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 60]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_total_epochs_sets_the_axis_length(close_figures):
    fig = plot_training_curves(classification_history(3), total_epochs=10)
    close_figures.append(fig)
    for ax in fig.axes:
        assert 10 <= ax.get_xlim()[1] < 10.5
        assert list(ax.get_xticks()) == list(range(1, 11))
        assert all(len(line.get_xdata()) == 3 for line in ax.get_lines())


def test_accuracy_axis_zooms_but_never_below_zero(close_figures):
    history = [{"epoch": 1, "train_acc": 0.02}, {"epoch": 2, "train_acc": 0.3}]
    fig = plot_training_curves(history)
    close_figures.append(fig)
    assert fig.axes[0].get_ylim() == (0.0, 1.0)


@pytest.mark.parametrize(
    ("history", "kwargs", "match"),
    [
        ([], {}, "history is empty"),
        ({"epoch": 1, "train_loss": 1.0}, {}, "list of per-epoch dicts"),
        ([{"train_loss": 1.0}], {}, r"history\[0\] needs an 'epoch'"),
        ([{"epoch": 0, "train_loss": 1.0}], {}, "integer >= 1, not 0"),
        ([{"epoch": 1.5, "train_loss": 1.0}], {}, "integer >= 1"),
        ([{"epoch": 1, "train_loss": 1.0}, 3], {}, r"history\[1\] is a int"),
        ([{"epoch": 1, "train_loss": "low"}], {}, "'train_loss' at epoch 1 is 'low'"),
        ([{"epoch": 1, "seconds": 2.0}], {}, "no metric to plot"),
        ([{"epoch": 1, "test_loss": None}], {}, "no metric to plot"),
        ([{"epoch": 1, "train_acc": 84.0}], {}, "train_acc at epoch 1 is 84; accuracies"),
        ([{"epoch": 5, "train_loss": 1.0}], {"total_epochs": 3}, "before the last epoch"),
        ([{"epoch": 1, "train_loss": 1.0}], {"total_epochs": 0}, "total_epochs must be"),
    ],
)
def test_bad_histories_are_usage_errors(history, kwargs, match):
    with pytest.raises(UsageError, match=match):
        plot_training_curves(history, **kwargs)


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_saves_as_png_and_svg(tmp_path, suffix, close_figures):
    fig = plot_training_curves(REGRESSION, title="saved")
    close_figures.append(fig)
    path = save_figure(fig, tmp_path / f"curves{suffix}")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data


# --- LivePlot -------------------------------------------------------------------------


def test_liveplot_outside_a_notebook_does_nothing(monkeypatch):
    record = fake_ipython(monkeypatch, shell=TerminalInteractiveShell())
    live = LivePlot(total_epochs=5)
    assert live.enabled is False
    live.update(classification_history(2))
    live.update([{"epoch": 1, "seconds": 1.0}])  # would be an error if it drew
    live.close()
    assert record.displayed == [] and record.updates == []


def test_liveplot_is_enabled_in_a_kernel(monkeypatch):
    fake_ipython(monkeypatch, shell=ZMQInteractiveShell())
    assert LivePlot().enabled is True
    assert LivePlot(enabled=False).enabled is False


def test_liveplot_displays_once_then_updates_in_place(monkeypatch):
    record = fake_ipython(monkeypatch)
    figures_before = plt.get_fignums()
    history = classification_history(3)
    with LivePlot(total_epochs=3, title="live", enabled=True) as live:
        live.update([])  # nothing yet: nothing shown
        assert record.displayed == []
        for epoch in range(1, 4):
            live.update(history[:epoch])
    assert len(record.displayed) == 1
    shown, display_id = record.displayed[0]
    assert display_id is True
    assert len(record.updates) == 2
    for image in [shown, *record.updates]:
        assert image.format == "png"
        assert image.data.startswith(b"\x89PNG")
    assert record.updates[0].data != record.updates[1].data
    live.update(history)  # closed: ignored
    assert len(record.displayed) == 1 and len(record.updates) == 2
    assert plt.get_fignums() == figures_before  # nothing left behind for pyplot to show


def test_liveplot_draws_what_plot_training_curves_draws(monkeypatch):
    fake_ipython(monkeypatch)
    calls = []

    def spy(history, **kwargs):
        calls.append((len(history), kwargs))
        return Figure()

    monkeypatch.setattr("shallownet.plots.training.plot_training_curves", spy)
    live = LivePlot(7, "t", enabled=True)
    live.update(classification_history(2))
    assert calls == [(2, {"total_epochs": 7, "title": "t"})]


def test_liveplot_reports_a_bad_history(monkeypatch):
    fake_ipython(monkeypatch)
    with pytest.raises(UsageError, match="no metric to plot"):
        LivePlot(enabled=True).update([{"epoch": 1, "seconds": np.float64(1.0)}])
