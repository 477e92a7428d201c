"""``shallownet tune`` as a user runs it: output, bad input, Ctrl-C and --resume, workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest

from tests.cli.clitools import assert_one_error, last_json, run
from tests.conftest import requires_real_data

LINEAR = ["--data", "synthetic-linear", "--num-examples", "300", "--no-plots"]
TIMEOUT = 240
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def storage(path) -> str:
    return f"sqlite:///{path}"


def load(path, name="tune"):
    return optuna.load_study(study_name=name, storage=storage(path))


def test_a_search_prints_a_line_per_trial_then_the_best_and_its_test_figure(capsys, tmp_path):
    code, out, err = run(capsys, "tune", *LINEAR, "--lr", "log:0.01:0.1", "--epochs",
                         "int:2:3", "--trials", "3", "--out", tmp_path / "t", "--json")
    assert code == 0, err
    trial_lines = [line for line in out.splitlines() if line.startswith("trial ")]
    assert [line.split()[1] for line in trial_lines] == ["0", "1", "2"]
    assert all("lr " in line and "epochs " in line and "val_loss " in line
               for line in trial_lines)
    assert "retraining trial" in out
    summary = last_json(out)
    assert summary["trials"] == {"complete": 3}
    assert summary["best_run"] == str(tmp_path / "t" / "best")
    assert f"test   test loss {summary['final_test_loss']:.4f}" in out
    assert (tmp_path / "t" / "best" / "model.pt").is_file() or \
        any((tmp_path / "t" / "best").iterdir())


@pytest.mark.parametrize("argv, words", [
    (["--foo", "log:1:2"], "--foo cannot be searched"),
    (["--lr", "log:1:0.5"], "is an empty range"),
    (["--lr", "int:1:5"], "int: does not fit it"),
    (["--optimizer", "float:0:1"], "use choice:"),
    (["--lr", "0.1"], "the search space is empty"),
    (["--lr", "log:0.01:1", "--lr", "choice:0.1"], "--lr is searched twice"),
    (["--lr", "log:0.01:1", "--storage", "sqlite:///{tmp}/no/such/dir/s.db"],
     "does not exist"),
    (["--lr", "log:0.01:1", "--storage", "study.db"], "is not a database URL"),
    (["--lr", "log:0.01:1", "--nproc", "2"], "--nproc does not go with tune"),
    (["--lr", "log:0.01:1", "--model", "softmax"], "trains on images or tables"),
    (["--lr", "log:0.01:1", "--time-budget", "soon"], "is not a duration"),
    (["--lr", "log:0.01:1", "--sampler", "grid"], "has infinitely many"),
    (["--space", "{tmp}/missing.toml"], "cannot read the search space"),
])
def test_bad_input_is_one_clear_error_and_writes_nothing(capsys, tmp_path, argv, words):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    trials = [] if "--sampler" in argv else ["--trials", "2"]
    code, out, err = run(capsys, "tune", *LINEAR, *argv, *trials, "--out", tmp_path / "t")
    assert code == 1, (out, err)
    assert_one_error(err)
    assert words in err
    assert not (tmp_path / "t").exists()


def test_an_unknown_word_is_refused_by_the_parser(capsys, tmp_path):
    code, _, err = run(capsys, "tune", "--lr", "log:0.01:1", "--trials", "2", "stray")
    assert code == 2 and "unrecognized arguments: stray" in err


def test_a_space_file_and_the_command_line_make_one_search(capsys, tmp_path):
    space = tmp_path / "space.toml"
    space.write_text('lr = "choice:0.02,0.05"\nepochs = 2\n')
    code, out, err = run(capsys, "tune", *LINEAR, "--space", space, "--batch-size",
                         "choice:10,30", "--sampler", "grid", "--out", tmp_path / "t",
                         "--no-retrain", "-q", "--json")
    assert code == 0, err
    summary = last_json(out)
    assert summary["space"] == {"lr": "choice:0.02,0.05", "batch_size": "choice:10,30"}
    assert summary["trials"] == {"complete": 4}
    settings = json.loads((tmp_path / "t" / "tune.json").read_text())
    assert settings["base"]["train"]["epochs"] == 2


def test_resume_with_another_space_is_refused_naming_the_difference(capsys, tmp_path):
    out = tmp_path / "t"
    assert run(capsys, "tune", *LINEAR, "--lr", "log:0.01:0.1", "--trials", "2", "--out",
               out, "--no-retrain", "-q")[0] == 0
    before = (out / "study.db").read_bytes()
    code, _, err = run(capsys, "tune", "--resume", out, "--lr", "log:0.001:0.1",
                       "--trials", "4")
    assert code == 1
    assert_one_error(err)
    assert "--lr: log:0.01:0.1 in the study, log:0.001:0.1 now" in err
    code, _, err = run(capsys, "tune", "--resume", out, "--epochs", "5", "--trials", "4")
    assert code == 1 and "--epochs cannot change" in err
    assert (out / "study.db").read_bytes() == before  # nothing lost, nothing added


def test_a_second_search_into_the_same_directory_is_refused(capsys, tmp_path):
    out = tmp_path / "t"
    assert run(capsys, "tune", *LINEAR, "--lr", "log:0.01:0.1", "--trials", "1", "--out",
               out, "--no-retrain", "-q")[0] == 0
    code, _, err = run(capsys, "tune", *LINEAR, "--lr", "log:0.01:0.1", "--trials", "1",
                       "--out", out)
    assert code == 1 and "already holds a search" in err and f"--resume {out}" in err


def shallownet(*argv, **kwargs) -> list[str]:
    return [sys.executable, "-u", "-m", "shallownet", *map(str, argv)]


def environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


@requires_real_data
def test_ctrl_c_stops_after_the_current_trial_and_resume_continues_the_study(tmp_path):
    out = tmp_path / "t"
    argv = shallownet("tune", "--model", "mlp", "--hidden", "choice:32,64", "--lr",
                      "log:0.02:0.5", "--epochs", "3", "--max-train", "2000", "--max-test",
                      "300", "--trials", "1000", "--out", out, "--no-plots")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment())
    seen = []
    deadline = time.monotonic() + TIMEOUT
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("trial 2 "):
            proc.send_signal(signal.SIGINT)
            break
        assert time.monotonic() < deadline, seen
    rest, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"shallownet tune --resume {out}" in err
    assert "retraining" not in rest and not (out / "best").exists()
    held = [t for t in load(out / "study.db").trials if t.state.is_finished()]
    assert 3 <= len(held) <= 4  # the trial running at the signal was finished and kept
    assert (out / "trials.csv").read_text().count("\n") == len(held) + 1

    again = subprocess.run(shallownet("tune", "--resume", out, "--trials", len(held) + 2,
                                      "--no-plots", "--json"),
                           capture_output=True, text=True, timeout=TIMEOUT, env=environment())
    assert again.returncode == 0, again.stderr
    numbers = [int(line.split()[1]) for line in again.stdout.splitlines()
               if line.startswith("trial ")]
    assert numbers == [len(held), len(held) + 1]  # the same study, numbered on
    summary = last_json(again.stdout)
    assert sum(summary["trials"].values()) == len(held) + 2
    assert summary["best_run"] == str(out / "best") and "final_test_acc" in summary


def test_three_workers_record_every_trial_exactly_once(tmp_path):
    out = tmp_path / "t"
    done = subprocess.run(shallownet("tune", *LINEAR, "--lr", "log:0.005:0.1", "--epochs",
                                     "int:1:3", "--trials", "12", "--workers", "3",
                                     "--sampler", "random", "--out", out, "--no-retrain"),
                          capture_output=True, text=True, timeout=TIMEOUT, env=environment())
    assert done.returncode == 0, done.stderr
    trials = load(out / "study.db").trials
    assert [t.number for t in trials] == list(range(12))
    assert all(t.state in FINISHED for t in trials)
    printed = [int(line.split()[1]) for line in done.stdout.splitlines()
               if line.startswith("trial ")]
    assert sorted(printed) == list(range(12))  # each reported once, by the parent process
    logs = sorted((out / "workers").glob("worker-*.log"))
    assert len(logs) == 3


def test_processes_started_apart_share_one_study_file(tmp_path):
    shared = tmp_path / "shared.db"
    procs = [subprocess.Popen(shallownet("tune", *LINEAR, "--lr", "log:0.005:0.1", "--epochs",
                                         "int:1:3", "--trials", "10", "--storage",
                                         storage(shared), "--study-name", "lr", "--seed",
                                         0, "--out", tmp_path / f"p{i}", "--no-retrain",
                                         "-q", "--json"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=environment())
             for i in range(3)]
    summaries = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, stderr
        summaries.append(last_json(stdout))
    trials = load(shared, "lr").trials
    assert [t.number for t in trials] == list(range(10))  # none lost, none twice
    assert all(t.state in FINISHED for t in trials)
    best = min((t for t in trials if t.state == optuna.trial.TrialState.COMPLETE),
               key=lambda t: t.value)
    # each process reports the best it saw; the last to finish saw every trial
    assert best.number in {s["best_trial"] for s in summaries}
    assert min(s["best_val_loss"] for s in summaries) == best.value


@pytest.mark.parametrize("argv, words", [
    (["--lr", "lin:0:1"], "--lr lin:0:1 is not a distribution"),
    (["--lr", "log:0.01:1", "--tensorboard"], "--tensorboard does not go with tune"),
    (["--lr", "log:0.01:1", "--val-fraction", "0"], "validation share"),
])
def test_more_bad_input(capsys, tmp_path, argv, words):
    code, _, err = run(capsys, "tune", *LINEAR, *argv, "--trials", "2", "--out", tmp_path / "t")
    assert code == 1, err
    assert_one_error(err)
    assert words in err
    assert not (tmp_path / "t").exists()


def test_evaluate_and_compare_take_a_search_for_its_retrained_best(capsys, tmp_path):
    out = tmp_path / "t"
    assert run(capsys, "tune", *LINEAR, "--lr", "choice:0.03", "--trials", "1", "--out", out,
               "-q")[0] == 0
    code, stdout, err = run(capsys, "evaluate", out, "--json")
    assert code == 0, err
    assert last_json(stdout)["run_dir"] == str(out / "best")
    unfinished = tmp_path / "u"
    assert run(capsys, "tune", *LINEAR, "--lr", "choice:0.03", "--trials", "1", "--out",
               unfinished, "--no-retrain", "-q")[0] == 0
    code, _, err = run(capsys, "evaluate", unfinished)
    assert code == 1 and f"shallownet tune --resume {unfinished}" in err
