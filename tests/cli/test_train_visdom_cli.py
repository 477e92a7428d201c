"""``shallownet train --visdom [URL]``: the curves on a real visdom server, read back.

The server is the one of :mod:`tests.training.test_visdom` (127.0.0.1, a free
port, its data in ``tmp_path``).
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from shallownet.cli import parse
from shallownet.training import visdom as visdom_module
from shallownet.training.visdom import DEFAULT_URL
from tests.cli.clitools import assert_one_error, run
from tests.conftest import requires_real_data
from tests.training.test_visdom import Server, assert_windows_are_metrics_csv, free_port, metrics

if not os.environ.get("CI"):  # CI installs the dev extra: there a missing visdom fails
    pytest.importorskip("visdom")

TINY = ("--max-train", "500", "--max-test", "200", "--epochs", "2", "-q", "--no-plots")

pytestmark = requires_real_data


@pytest.fixture
def visdom_server(tmp_path):
    server = Server(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def warning_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("shallownet: warning:")]


def test_the_flag_alone_means_the_local_server():
    assert parse(["train", "--visdom"]).visdom == DEFAULT_URL
    assert parse(["train", "--visdom", "http://127.0.0.1:9"]).visdom == "http://127.0.0.1:9"
    assert parse(["train"]).visdom is None


def test_the_curves_arrive_on_the_server(capsys, tmp_path, visdom_server):
    run_dir = tmp_path / "fmnist-run"
    code, out, err = run(capsys, "train", *TINY, "--visdom", visdom_server.url,
                         "--out", run_dir)
    assert code == 0, err
    assert warning_lines(err) == []
    assert_windows_are_metrics_csv(visdom_server, run_dir)
    assert visdom_server.windows("fmnist-run") == {"loss", "acc", "seconds"}
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["train"]["visdom"] == visdom_server.url


def test_gradient_norms_get_their_window(capsys, tmp_path, visdom_server):
    run_dir = tmp_path / "grads"
    code, _, err = run(capsys, "train", *TINY, "--model", "mlp", "--watch-gradients",
                       "--visdom", visdom_server.url, "--out", run_dir)
    assert code == 0, err
    assert "grad_norm" in visdom_server.windows("grads")
    assert_windows_are_metrics_csv(visdom_server, run_dir)


def test_an_unreachable_server_is_one_warning(capsys, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err = run(capsys, "train", *TINY, "--epochs", "3", "--visdom", url,
                         "--out", tmp_path / "run")
    assert code == 0, err
    lines = warning_lines(err)
    assert len(lines) == 1, err
    assert url in lines[0] and "python -m visdom.server" in lines[0]
    assert "Traceback" not in err
    assert [int(r["epoch"]) for r in metrics(tmp_path / "run")] == [1, 2, 3]


def test_a_server_killed_mid_run_is_one_warning(capsys, tmp_path, visdom_server, monkeypatch):
    sent = visdom_module.VisdomCurves.on_epoch_end

    def then_kill(self, trainer, setup, history):
        sent(self, trainer, setup, history)
        if len(history) == 1:
            visdom_server.stop()

    monkeypatch.setattr(visdom_module.VisdomCurves, "on_epoch_end", then_kill)
    code, _, err = run(capsys, "train", *TINY, "--epochs", "3", "--visdom", visdom_server.url,
                       "--out", tmp_path / "run")
    assert code == 0, err
    lines = warning_lines(err)
    assert len(lines) == 1 and visdom_server.url in lines[0], err
    assert [int(r["epoch"]) for r in metrics(tmp_path / "run")] == [1, 2, 3]


def test_resume_sends_the_whole_history(capsys, tmp_path, visdom_server):
    run_dir = tmp_path / "resumed"
    code, _, err = run(capsys, "train", *TINY, "--out", run_dir)
    assert code == 0, err
    code, _, err = run(capsys, "train", "--resume", run_dir, "--epochs", "3", "-q",
                       "--no-plots", "--visdom", visdom_server.url)
    assert code == 0, err
    assert_windows_are_metrics_csv(visdom_server, run_dir)
    assert visdom_server.lines("resumed", "loss")["train"][0] == [1.0, 2.0, 3.0]
    code, _, err = run(capsys, "train", "--resume", run_dir, "--epochs", "4", "-q",
                       "--no-plots", "--no-visdom")
    assert code == 0, err
    assert json.loads((run_dir / "config.json").read_text())["train"]["visdom"] is None
    assert visdom_server.lines("resumed", "loss")["train"][0] == [1.0, 2.0, 3.0]


def test_without_visdom_installed_the_flag_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "visdom", None)
    code, out, err = run(capsys, "train", *TINY, "--visdom", "--out", tmp_path / "run")
    assert code == 1
    assert_one_error(err)
    assert "pip install 'shallownet[visdom]'" in err
    assert not (tmp_path / "run").exists()


def test_visdom_does_not_go_with_folds(capsys, tmp_path):
    code, _, err = run(capsys, "train", *TINY, "--visdom", "--folds", "3",
                       "--out", tmp_path / "run")
    assert code == 1 and "--visdom draws the epochs of one run" in err


def test_a_bad_url_is_refused(capsys, tmp_path):
    code, _, err = run(capsys, "train", *TINY, "--visdom", "ftp://host",
                       "--out", tmp_path / "run")
    assert code == 1
    assert_one_error(err)
    assert "visdom URL" in err
