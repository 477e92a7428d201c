"""``shallownet.compare``: labels from config differences, the table, errors, and the figure.

Run directories are written here with :class:`RunDir` (config and metrics, no training), so
every figure in them is known exactly.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from shallownet.compare import (
    compare_runs,
    describe_setting,
    format_value,
    label_runs,
    read_run,
)
from shallownet.errors import RunConfigError, UsageError
from shallownet.plots.compare import plot_comparison
from shallownet.registry import ModelConfig
from shallownet.training.config import RunConfig, TrainSettings
from shallownet.training.data import DataSpec
from shallownet.training.rundir import RunDir

CLASSIFIER_COLUMNS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds")
SYNTHETIC_COLUMNS = ("epoch", "train_loss", "test_loss", "seconds", "w_error", "b_error")


def config(*, lr=None, batch_size=256, epochs=3, seed=0, model="softmax", data="fashion-mnist",
           **model_options) -> RunConfig:
    return RunConfig(
        model=ModelConfig(model=model, lr=lr, **model_options),
        data=DataSpec(name=data, seed=seed),
        train=TrainSettings(epochs=epochs, batch_size=batch_size, seed=seed),
    ).resolved()


def classifier_history(epochs: int, *, start: float = 2.0) -> list[dict]:
    return [{"epoch": e, "train_loss": start / e, "train_acc": 0.5 + 0.04 * e,
             "test_loss": start / e + 0.05, "test_acc": 0.48 + 0.04 * e, "seconds": 0.25}
            for e in range(1, epochs + 1)]


def regression_history(epochs: int) -> list[dict]:
    return [{"epoch": e, "train_loss": 10.0 ** -e, "test_loss": 2 * 10.0 ** -e,
             "seconds": 0.5, "w_error": 10.0 ** -e, "b_error": 3 * 10.0 ** -e}
            for e in range(1, epochs + 1)]


def make_run(path, cfg: RunConfig, history: list[dict], *, complete: bool = True,
             columns=CLASSIFIER_COLUMNS, folds: int | None = None):
    """A run directory as ``shallownet train`` leaves it (finished, or after len(history))."""
    run_dir = RunDir(path).create()
    extra = {"folds": folds} if folds else {}
    run_dir.write_config({**cfg.to_dict(), **extra}, {"name": cfg.data.name})
    summary = None
    if complete:
        summary = {"final": {"epochs": len(history), **{k: v for k, v in history[-1].items()
                                                      if k != "epoch"}}}
    run_dir.write_metrics(history, summary, columns=columns)
    return path


@pytest.fixture
def lr_runs(tmp_path):
    """Softmax runs with lr 0.01, 0.1 and 1 (float32-rounded 0.1 as a config might hold it)."""
    return [make_run(tmp_path / name, config(lr=lr), classifier_history(3, start=s))
            for name, lr, s in (("a", 0.01, 2.0), ("b", 0.10000000149011612, 1.0),
                                ("c", 1.0, 3.0))]


# --------------------------------------------------------------------------- values and labels


@pytest.mark.parametrize("value, text", [
    (0.1, "0.1"), (0.10000000149011612, "0.1"), (1.0, "1"), (0.0001, "0.0001"),
    (1e-8, "1e-8"), (3e-05, "3e-5"), (2.5e12, "2.5e12"), (256, "256"), ((128, 64), "128,64"),
    ([0.2, 0.5], "0.2,0.5"), (None, "none"), (True, "yes"), (False, "no"), ("adam", "adam"),
])
def test_format_value(value, text):
    assert format_value(value) == text


def test_format_value_precise_tells_close_floats_apart():
    assert format_value(0.1000001) == "0.1"
    assert format_value(0.1000001, precise=True) == "0.1000001"
    assert format_value(1.0, precise=True) == "1"


@pytest.mark.parametrize("section, key, value, text", [
    ("model", "lr", 0.1, "lr 0.1"),
    ("train", "batch_size", 64, "batch 64"),
    ("train", "epochs", 10, "epochs 10"),
    ("train", "seed", 3, "seed 3"),
    ("model", "model", "mlp", "mlp"),
    ("model", "impl", "concise", "concise"),
    ("model", "optimizer", "adam", "adam"),
    ("model", "hidden", (128, 64), "hidden 128,64"),
    ("model", "weight_decay", 0.001, "weight decay 0.001"),
    ("model", "loss", "cross_entropy", "cross-entropy loss"),
    ("model", "init", "xavier", "xavier init"),
    ("model", "backward", "hand", "backprop by hand"),
    ("model", "log_softmax", True, "log-softmax"),
    ("data", "name", "/home/me/data/diabetes.csv", "diabetes"),
    ("data", "name", "fashion-mnist", "fashion-mnist"),
    ("data", "normalize", False, "not normalized"),
    ("data", "max_train", None, "max train all"),
    ("data", "max_train", 2000, "max train 2000"),
    ("data", "data_dir", "/srv/copies/fmnist", "data dir fmnist"),
    ("train", "step", "kernel", "kernel step"),
    ("train", "a_future_key", 7, "a future key 7"),
])
def test_describe_setting(section, key, value, text):
    assert describe_setting(section, key, value) == text


def test_labels_name_the_one_setting_that_differs():
    configs = [config(lr=lr) for lr in (0.01, 0.1, 1.0)]
    assert label_runs(configs, ["a", "b", "c"]) == ["lr 0.01", "lr 0.1", "lr 1"]


def test_labels_join_several_differences_in_config_order():
    configs = [config(lr=0.1, batch_size=64), config(lr=0.1, batch_size=256),
               config(lr=0.5, batch_size=64)]
    assert label_runs(configs, ["a", "b", "c"]) == [
        "lr 0.1, batch 64", "lr 0.1, batch 256", "lr 0.5, batch 64"]


def test_labels_fall_back_to_the_names_when_nothing_differs():
    assert label_runs([config(), config()], ["run-1", "run-2"]) == ["run-1", "run-2"]


def test_labels_of_models_and_their_defaults():
    # the model's default lr differs too (softmax 0.1, linreg 0.03) and shows once resolved
    configs = [config(model="softmax"), config(model="mlp")]
    assert label_runs(configs, ["a", "b"]) == ["softmax", "mlp"]


def test_a_seed_given_with_seed_is_shown_once():
    assert label_runs([config(seed=0), config(seed=1)], ["a", "b"]) == ["seed 0", "seed 1"]
    cfg = config(seed=1)
    other = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, seed=5))
    assert label_runs([cfg, other], ["a", "b"]) == ["data seed 1", "data seed 5"]


def test_close_values_get_the_digits_that_tell_them_apart():
    configs = [config(lr=0.1), config(lr=0.1000001), config(lr=0.2)]
    assert label_runs(configs, ["a", "b", "c"]) == ["lr 0.1", "lr 0.1000001", "lr 0.2"]


def test_equal_labels_get_the_run_name():
    configs = [dataclasses.replace(config(), data=DataSpec(data_dir=d).resolved())
               for d in ("/x/fmnist", "/y/fmnist")]
    assert label_runs(configs, ["a", "b"]) == ["data dir fmnist (a)", "data dir fmnist (b)"]


# --------------------------------------------------------------------------- compare_runs


def test_compare_runs_labels_title_and_order(lr_runs):
    comparison = compare_runs(lr_runs)
    assert comparison.labels == ["lr 0.01", "lr 0.1", "lr 1"]
    assert comparison.varied == ("lr",)
    assert comparison.task == "classification"
    assert comparison.title == "softmax (scratch) on fashion-mnist, varying lr"
    assert [r.path for r in comparison.runs] == lr_runs
    assert compare_runs(lr_runs[::-1]).labels == ["lr 1", "lr 0.1", "lr 0.01"]


def test_the_table_holds_each_runs_last_epoch(lr_runs):
    comparison = compare_runs(lr_runs)
    lines = comparison.table().splitlines()
    assert lines[0].split() == ["run", "epochs", "train", "loss", "train", "acc", "test", "loss",
                                "test", "acc", "seconds", "directory"]
    assert len(lines) == 4
    for line, path in zip(lines[1:], lr_runs, strict=True):
        last = classifier_history(3, start={"a": 2.0, "b": 1.0, "c": 3.0}[path.name])[-1]
        cells = line.split("  ")
        cells = [c.strip() for c in cells if c.strip()]
        assert cells[1] == "3"
        assert [float(c) for c in cells[2:6]] == pytest.approx(
            [last["train_loss"], last["train_acc"], last["test_loss"], last["test_acc"]],
            abs=5e-5)
        assert float(cells[6]) == pytest.approx(0.75)  # the seconds of all three epochs
        assert cells[7] == str(path)
    # the columns line up: numbers end under the end of their header
    end = lines[0].index("epochs") + len("epochs") - 1
    test_acc_end = lines[0].index("test acc") + len("test acc") - 1
    for line in lines[1:]:
        assert line[end] == "3" and line[end + 1] == " "
        assert line[test_acc_end] != " " and line[test_acc_end + 1] == " "


def test_rows_and_to_dict_are_json_ready(lr_runs):
    comparison = compare_runs(lr_runs)
    report = json.loads(json.dumps(comparison.to_dict()))
    assert report["varied"] == ["lr"]
    assert report["title"] == comparison.title
    run = report["runs"][1]
    last = classifier_history(3, start=1.0)[-1]
    assert run == {"run_dir": str(lr_runs[1]), "label": "lr 0.1", "epochs": 3,
                   "planned_epochs": 3, "complete": True, "train_loss": last["train_loss"],
                   "train_acc": last["train_acc"], "test_loss": last["test_loss"],
                   "test_acc": last["test_acc"], "seconds": 0.75}


def test_regression_runs_have_errors_and_no_accuracy(tmp_path):
    runs = [make_run(tmp_path / f"r{i}", config(model="linreg", data="synthetic-linear", lr=lr,
                                                batch_size=10),
                     regression_history(3), columns=SYNTHETIC_COLUMNS)
            for i, lr in enumerate((0.03, 0.3))]
    comparison = compare_runs(runs)
    assert comparison.task == "regression"
    assert comparison.labels == ["lr 0.03", "lr 0.3"]
    assert comparison.title == "linreg (scratch) on synthetic-linear, varying lr"
    assert comparison.columns() == ["train_loss", "test_loss", "w_error", "b_error", "seconds"]
    header, first, _ = comparison.table().splitlines()
    assert "acc" not in header
    assert "w error" in header and "b error" in header
    assert "1.000e-03" in first.split()  # train loss 1e-3 needs the exponent
    assert "3.000e-03" in first.split()  # b error


def test_a_run_in_progress_shows_done_and_planned_epochs(tmp_path):
    done = make_run(tmp_path / "done", config(epochs=3), classifier_history(3))
    going = make_run(tmp_path / "going", config(epochs=10), classifier_history(2),
                     complete=False)
    comparison = compare_runs([done, going])
    assert comparison.labels == ["epochs 3", "epochs 10"]
    run = comparison.runs[1]
    assert (run.epochs, run.planned_epochs, run.complete) == (2, 10, False)
    assert comparison.table().splitlines()[2].split()[2] == "2/10"
    assert len(comparison.histories()["epochs 10"]) == 2


def test_a_resumed_run_counts_the_epochs_it_trained(tmp_path):
    a = make_run(tmp_path / "a", config(epochs=3), classifier_history(3))
    b = make_run(tmp_path / "b", config(epochs=3), classifier_history(5))  # resumed --epochs 5
    comparison = compare_runs([a, b])
    assert comparison.labels == ["epochs 3", "epochs 5"]
    assert comparison.runs[1].planned_epochs == 5


def test_missing_figures_read_as_a_dash(tmp_path):
    history = classifier_history(2)
    history[-1]["test_acc"] = None
    a = make_run(tmp_path / "a", config(lr=0.1), history)
    b = make_run(tmp_path / "b", config(lr=0.2), classifier_history(2))
    comparison = compare_runs([a, b])
    assert comparison.table().splitlines()[1].split()[6] == "-"
    assert comparison.rows()[0]["test_acc"] is None


def test_identical_settings_are_labelled_by_directory(tmp_path):
    a = make_run(tmp_path / "x" / "run", config(), classifier_history(2))
    b = make_run(tmp_path / "y" / "run", config(), classifier_history(2))
    c = make_run(tmp_path / "other", config(), classifier_history(2))
    comparison = compare_runs([a, b, c])
    assert comparison.labels == [str(a), str(b), "other"]
    assert comparison.varied == ()
    assert comparison.title.endswith("same settings")
    assert "directory" not in comparison.table().splitlines()[0]


def test_one_run_is_allowed_in_python(lr_runs):
    comparison = compare_runs(lr_runs[:1])
    assert comparison.labels == ["a"]


# --------------------------------------------------------------------------- errors


def test_no_run_is_an_error():
    with pytest.raises(UsageError, match="no run directory"):
        compare_runs([])


def test_the_same_run_twice_is_an_error(lr_runs):
    with pytest.raises(UsageError, match="given twice"):
        compare_runs([lr_runs[0], lr_runs[1], lr_runs[0]])
    with pytest.raises(UsageError, match="given twice"):
        compare_runs([lr_runs[0], lr_runs[0].parent / "." / "a"])


def test_not_a_run_directory(tmp_path, lr_runs):
    with pytest.raises(RunConfigError, match="nowhere is not a run directory"):
        compare_runs([lr_runs[0], tmp_path / "nowhere"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunConfigError, match="empty is not a run directory: it has no config"):
        compare_runs([lr_runs[0], tmp_path / "empty"])
    with pytest.raises(RunConfigError, match=r"config.json is a file, not a run directory. "
                                             r"Give its directory"):
        compare_runs([lr_runs[0], lr_runs[1] / "config.json"])


def test_a_cross_validation_run_is_refused(tmp_path, lr_runs):
    cv = make_run(tmp_path / "cv", config(), classifier_history(2), folds=3)
    with pytest.raises(RunConfigError, match="cv is a 3-fold cross-validation run"):
        compare_runs([lr_runs[0], cv])


@pytest.mark.parametrize("csv_text", [None, "epoch,train_loss,train_acc,test_loss,test_acc\n"])
def test_a_run_without_a_finished_epoch_is_refused(tmp_path, lr_runs, csv_text):
    run_dir = RunDir(tmp_path / "new").create()
    run_dir.write_config(config().to_dict(), {})
    if csv_text is not None:
        run_dir.metrics_csv.write_text(csv_text)
    with pytest.raises(RunConfigError, match="new has no finished epoch yet") as info:
        compare_runs([lr_runs[0], run_dir.path])
    assert f"resume_run({str(run_dir.path)!r})" in str(info.value)


@pytest.mark.parametrize("csv_text, message", [
    ("epoch,train_loss\n1,abc\n", r"line 2: train_loss is 'abc', not a number"),
    ("epoch,train_loss\n1,0.5\nx,0.4\n", r"line 3: epoch is 'x', not a whole number"),
    ("epoch,train_loss\n0,0.5\n", r"line 2: epoch is '0'"),
    ("epoch,train_loss\n2,0.5\n1,0.4\n", r"epoch 1 follows epoch 2"),
    ("train_loss,test_loss\n0.5,0.4\n", r"has no epoch column"),
    (b"epoch\n\xff\xfe\n", r"cannot read"),
])
def test_a_damaged_metrics_file_is_refused(tmp_path, csv_text, message):
    run_dir = RunDir(tmp_path / "bad").create()
    run_dir.write_config(config().to_dict(), {})
    if isinstance(csv_text, bytes):
        run_dir.metrics_csv.write_bytes(csv_text)
    else:
        run_dir.metrics_csv.write_text(csv_text)
    with pytest.raises(RunConfigError, match=message):
        read_run(run_dir.path)


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "does not hold a JSON object"),
    ('{"model": {"lr": "fast"}}', r"model.lr must be"),
    ('{"model": {"model": "resnet"}}', "resnet"),
    ("{not json", "cannot read"),
])
def test_a_bad_config_is_refused(tmp_path, text, message):
    path = tmp_path / "bad"
    path.mkdir()
    (path / "config.json").write_text(text)
    with pytest.raises(RunConfigError, match=message):
        read_run(path)


def test_regression_and_classification_runs_do_not_mix(tmp_path, lr_runs):
    reg = make_run(tmp_path / "reg", config(model="linreg", data="synthetic-linear"),
                   regression_history(2), columns=SYNTHETIC_COLUMNS)
    with pytest.raises(UsageError, match=r"cannot compare regression runs \(.*reg\) with "
                                         r"classification runs"):
        compare_runs([lr_runs[0], reg])


# --------------------------------------------------------------------------- the figure


def legend_texts(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_the_figure_has_three_panels_and_a_legend_of_the_labels(lr_runs):
    comparison = compare_runs(lr_runs)
    fig = comparison.plot()
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["train loss", "test loss", "test accuracy"]
    assert legend_texts(fig) == ["lr 0.01", "lr 0.1", "lr 1"]
    assert fig._suptitle.get_text() == "softmax (scratch) on fashion-mnist, varying lr"
    # one colour per run, the same in every panel, in the legend's order
    legend_colors = [h.get_color() for h in fig.legends[0].legend_handles]
    assert len(set(legend_colors)) == 3
    for ax in axes:
        assert [line.get_color() for line in ax.get_lines()] == legend_colors
    # the curves are the runs' metrics
    train, test, acc = ([line.get_ydata() for line in ax.get_lines()] for ax in axes)
    assert list(train[2]) == pytest.approx([3.0, 1.5, 1.0])
    assert list(acc[0]) == pytest.approx([0.52, 0.56, 0.60])
    # losses spanning more than a factor 3 are drawn on a shared log axis; accuracy within [0, 1]
    assert axes[0].get_yscale() == axes[1].get_yscale() == "log"
    assert axes[0].get_ylim() == axes[1].get_ylim()
    lo, hi = axes[2].get_ylim()
    assert 0 <= lo < 0.52 and 0.60 < hi <= 1
    assert comparison.plot(title="mine")._suptitle.get_text() == "mine"


def test_close_losses_stay_on_a_linear_axis():
    histories = {label: [{"epoch": e, "train_loss": 1.0 / e + 1 + k, "test_loss": 1.0,
                          "test_acc": 0.5} for e in (1, 2)] for k, label in enumerate("ab")}
    fig = plot_comparison(histories)
    assert fig.get_axes()[0].get_yscale() == "linear"
    assert "log" not in fig.get_axes()[0].get_ylabel()


def test_runs_of_different_lengths_share_the_epoch_axis():
    histories = {"short": classifier_history(2), "long": classifier_history(12)}
    fig = plot_comparison(histories, title="t")
    for ax in fig.get_axes():
        short, long = ax.get_lines()
        assert list(short.get_xdata()) == [1, 2]
        assert list(long.get_xdata()) == list(range(1, 13))
        lo, hi = ax.get_xlim()
        assert lo < 1 and 12 < hi < 13


def test_regression_figure_draws_parameter_errors(tmp_path):
    fig = plot_comparison({"lr 0.03": regression_history(3), "lr 0.3": regression_history(2)})
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["train loss", "test loss", "parameter error"]
    errors = axes[2]
    assert errors.get_yscale() == "log"
    assert [line.get_linestyle() for line in errors.get_lines()] == ["-", "--", "-", "--"]
    assert [t.get_text() for t in errors.get_legend().get_texts()] == ["w error", "b error"]
    assert legend_texts(fig) == ["lr 0.03", "lr 0.3"]


def test_regression_without_parameter_errors_has_two_panels():
    history = [{"epoch": 1, "train_loss": 0.5, "test_loss": 0.6}]
    fig = plot_comparison({"a": history, "b": history})
    assert [ax.get_title() for ax in fig.get_axes()] == ["train loss", "test loss"]


@pytest.mark.parametrize("histories, message", [
    ({}, "no run to plot"),
    ({"a": []}, "run 'a': history is empty"),
    ({"a": [{"epoch": 1, "train_loss": 0.5}],
      "b": [{"epoch": 1, "train_loss": 0.5, "test_acc": 0.4}]}, "runs 'a' have no accuracy"),
    ({"a": [{"epoch": 1, "test_acc": 1.5}]}, "accuracies must be fractions"),
    ({"a": [{"epoch": 1, "seconds": 1.0}]}, "no loss, accuracy or parameter error"),
])
def test_plot_comparison_errors(histories, message):
    with pytest.raises(UsageError, match=message):
        plot_comparison(histories)


def test_nan_values_are_left_out_of_the_curves():
    history = classifier_history(3)
    history[1]["test_loss"] = math.nan
    fig = plot_comparison({"a": history, "b": classifier_history(3)})
    assert list(fig.get_axes()[1].get_lines()[0].get_xdata()) == [1, 3]
