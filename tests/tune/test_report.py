"""What a search prints and writes for each trial."""

from __future__ import annotations

import optuna

from shallownet.tune.report import trial_line, trial_rows

PRUNED = optuna.trial.TrialState.PRUNED


def finished(steps, *, state=None, value=None, **attrs):
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    trial.suggest_float("lr", 1e-3, 1, log=True)
    for step, figure in enumerate(steps, start=1):
        trial.report(figure, step)
    for key, attr in attrs.items():
        trial.set_user_attr(key, attr)
    study.tell(trial, value, state=state)
    return study.trials[0]


def test_a_finished_trial_shows_its_figure_spread_and_time():
    trial = finished([0.7, 0.8], value=0.8125, std=0.0123, seconds=2.5)
    line = trial_line(trial, "val_acc")
    assert line.startswith("trial 0   lr ") and line.endswith("val_acc 0.8125 ± 0.0123  2.5 s")


def test_a_pruned_trial_says_after_which_epoch_and_its_last_figure():
    trial = finished([0.3, 0.41], state=PRUNED, epochs=5, seconds=1.0)
    assert "pruned after epoch 2 (val_acc 0.4100)  1.0 s" in trial_line(trial, "val_acc")
    (row,) = trial_rows([trial], "val_acc")
    assert row["val_acc"] == "" and row["last_val_acc"] == 0.41 and row["last_step"] == 2


def test_a_trial_pruned_in_a_later_fold_names_the_fold():
    trial = finished([0.5, 0.6, 0.7, 0.2, 0.25], state=PRUNED, epochs=3, folds_done=1)
    assert "pruned in fold 2, after epoch 2 (val_acc 0.2500)" in trial_line(trial, "val_acc")


def test_a_diverged_trial_says_so():
    trial = finished([], state=optuna.trial.TrialState.FAIL, error="diverged: loss is nan")
    assert trial_line(trial, "val_loss").endswith("diverged")
    assert trial_rows([trial], "val_loss")[0]["error"] == "diverged: loss is nan"
