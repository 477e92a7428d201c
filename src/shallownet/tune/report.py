"""What a search leaves: one line per trial, ``trials.csv``, the figures, the live history.

Figures are Optuna's own matplotlib visualisations, saved as PNG in the tune
directory: ``history.png`` (each trial's figure and the best so far),
``importances.png`` (fANOVA importance of each option; needs two finished
trials and scikit-learn), ``slice.png`` (figure against each option's value)
and, for two options or more, ``parallel.png`` (parallel coordinates).
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

from shallownet.atomic import write_text
from shallownet.plots.notebook import in_notebook, png_image
from shallownet.tune.study import INTERRUPTED, optuna_module

__all__ = ["trial_line", "write_trials_csv", "draw_figures", "LiveHistory", "FIGURES"]

#: file name -> what it shows
FIGURES = {
    "history.png": "each trial's figure and the best so far",
    "importances.png": "how much each option mattered (fANOVA)",
    "slice.png": "the figure against each option's value",
    "parallel.png": "parallel coordinates of the options and the figure",
}


def _state(trial) -> str:
    name = trial.state.name.lower()
    if name == "fail" and trial.user_attrs.get(INTERRUPTED):
        return "interrupted"
    if name == "fail" and str(trial.user_attrs.get("error", "")).startswith("diverged"):
        return "diverged"
    return name


def trial_line(trial, metric: str) -> str:
    """``trial 3  lr 0.0412  hidden 256  val_acc 0.8612  4.1 s``; a pruned trial says when
    (``pruned after epoch 2 (val_acc 0.6011)``, with folds ``in fold 2, epoch 3``)."""
    params = "  ".join(f"{name.replace('_', '-')} {_fmt(value)}"
                       for name, value in trial.params.items())
    seconds = trial.user_attrs.get("seconds")
    took = f"  {seconds:.1f} s" if isinstance(seconds, float) else ""
    state = _state(trial)
    if state == "complete":
        figure = f"{metric} {trial.value:.4f}"
        std = trial.user_attrs.get("std")
        if isinstance(std, float):
            figure += f" ± {std:.4f}"
    elif state == "pruned" and trial.last_step is not None:
        figure = f"pruned {_when(trial)} ({metric} " \
                 f"{trial.intermediate_values[trial.last_step]:.4f})"
    else:
        figure = state
    return f"trial {trial.number:<3d} {params}  {figure}{took}"


def _when(trial) -> str:
    """When a pruned trial stopped: after which epoch (of which fold, when scored by folds)."""
    step, epochs = trial.last_step, trial.user_attrs.get("epochs")
    if "folds_done" in trial.user_attrs and isinstance(epochs, int) and epochs > 0:
        return f"in fold {(step - 1) // epochs + 1}, after epoch {(step - 1) % epochs + 1}"
    return f"after epoch {step}"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def trial_rows(trials: Sequence, metric: str) -> list[dict]:
    """One dict per trial: number, state, its figure (a finished trial's; a pruned trial's
    last reported figure goes in ``last_METRIC`` beside ``last_step``), each option,
    the spread over folds, seconds, error."""
    names = []
    for trial in trials:
        names += [n for n in trial.params if n not in names]
    rows = []
    for trial in trials:
        rows.append({
            "number": trial.number, "state": _state(trial),
            metric: trial.value if trial.state.name == "COMPLETE" else "",
            **{name: trial.params.get(name, "") for name in names},
            "std": trial.user_attrs.get("std", ""),
            "seconds": trial.user_attrs.get("seconds", ""),
            "last_step": trial.last_step if trial.last_step is not None else "",
            f"last_{metric}": trial.intermediate_values[trial.last_step]
            if trial.last_step is not None else "",
            "error": trial.user_attrs.get("error", ""),
        })
    return rows


def write_trials_csv(path: Path, trials: Sequence, metric: str) -> None:
    """``trials.csv``: :func:`trial_rows`, written atomically."""
    rows = trial_rows([t for t in trials if t.state.name != "WAITING"], metric)
    buffer = io.StringIO()
    columns = list(rows[0]) if rows else ["number", "state", metric]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def draw_figures(study, directory: Path, metric: str) -> dict[str, str]:
    """Write the study's figures into ``directory``; return, for each figure left out,
    why (too few finished trials, one option only, ...)."""
    optuna = optuna_module()
    import matplotlib.pyplot as plt

    from shallownet.plots.save import save_figure

    vis = optuna.visualization.matplotlib
    done = [t for t in study.get_trials(deepcopy=False)
            if t.state == optuna.trial.TrialState.COMPLETE]
    names = {name for t in done for name in t.params}
    skipped = {}
    plans = {"history.png": lambda: vis.plot_optimization_history(study, target_name=metric),
             "slice.png": lambda: vis.plot_slice(study, target_name=metric)}
    if len(done) < 2:
        skipped["importances.png"] = "needs two finished trials"
    else:
        plans["importances.png"] = lambda: vis.plot_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0),
            target_name=metric)
    if len(names) < 2:
        skipped["parallel.png"] = "needs two searched options"
    else:
        plans["parallel.png"] = lambda: vis.plot_parallel_coordinate(study, target_name=metric)
    if not done:
        return {**{name: "no finished trial" for name in FIGURES}}
    for name, plan in plans.items():
        try:
            with warnings.catch_warnings():  # e.g. a slice of an option with one value
                warnings.simplefilter("ignore", UserWarning)
                axes = plan()
        except (ValueError, RuntimeError, ImportError) as exc:
            skipped[name] = str(exc).splitlines()[0]
            continue
        first = axes.flat[0] if hasattr(axes, "flat") else axes
        fig = first.figure
        save_figure(fig, directory / name, bbox_inches="tight")
        plt.close(fig)
    return skipped


class LiveHistory:
    """The optimisation history, redrawn in place in a notebook cell as trials finish
    (nothing outside Jupyter unless ``enabled``)."""

    def __init__(self, study, metric: str, *, enabled: bool | None = None) -> None:
        self.study, self.metric = study, metric
        self.enabled = in_notebook() if enabled is None else bool(enabled)
        self._handle = None
        self.updates = 0

    def update(self, trial=None) -> None:
        if not self.enabled:
            return
        optuna = optuna_module()
        if not any(t.state == optuna.trial.TrialState.COMPLETE
                   for t in self.study.get_trials(deepcopy=False)):
            return
        import matplotlib.pyplot as plt
        from IPython.display import display

        ax = optuna.visualization.matplotlib.plot_optimization_history(
            self.study, target_name=self.metric)
        image = png_image(ax.figure, 90)
        plt.close(ax.figure)
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
        self.updates += 1


def best_summary(study, metric: str, space=None) -> dict:
    """The best trial's number, parameters (typed by ``space`` when given: a width
    ``256``, widths ``[512, 256]``), figure and its spread over folds."""
    optuna = optuna_module()
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not done:
        return {}
    best = study.best_trial
    params = dict(best.params) if space is None else \
        {name: _plain(value) for name, value in space.values(best.params).items()}
    out = {"best_trial": best.number, "best_params": params,
           f"best_{metric}": best.value}
    if "fold_values" in best.user_attrs:
        out[f"best_{metric}_folds"] = best.user_attrs["fold_values"]
        out[f"best_{metric}_std"] = best.user_attrs["std"]
    return out


def _plain(value):
    """A JSON value for an option's value: a one-width tuple is its width, a tuple a list."""
    if isinstance(value, tuple):
        return value[0] if len(value) == 1 and isinstance(value[0], int) else list(value)
    return value


def counts(study) -> dict:
    """How many trials ended each way."""
    tally: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        if trial.state.name == "WAITING":
            continue
        state = _state(trial)
        tally[state] = tally.get(state, 0) + 1
    return tally


def finite_or_none(value):
    return value if isinstance(value, float) and math.isfinite(value) else None
