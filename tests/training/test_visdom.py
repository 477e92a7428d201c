"""``TrainSettings(visdom=URL)`` / :class:`VisdomCurves`: the curves, read back from a real server.

Each test that needs a server starts its own visdom server on 127.0.0.1 (bound
there only, ``-bind_local``), on a free port, with its data in ``tmp_path``,
and stops it afterwards. The server is started through
``visdom.server.run_server.main``: ``python -m visdom.server`` first downloads
the web page's scripts from the internet, which the API does not need and an
offline machine cannot do.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from shallownet.errors import UsageError
from shallownet.registry import ModelConfig
from shallownet.training.callbacks import Callback
from shallownet.training.config import RunConfig, TrainSettings
from shallownet.training.data import DataSpec
from shallownet.training.run import resume_run, train_run
from shallownet.training.visdom import (
    DEFAULT_URL,
    VisdomCurves,
    VisdomWarning,
    curve_of,
    parse_url,
    require_visdom,
)
from tests.conftest import write_tiny_dataset

if not os.environ.get("CI"):  # CI installs the dev extra: there a missing visdom fails
    pytest.importorskip("visdom")

QUIET = {"log": False, "plots": False, "progress": False}
_SERVER = "import sys; from visdom.server.run_server import main; sys.argv[0] = 'visdom'; main()"


# --------------------------------------------------------------------------- the server


class Server:
    """A visdom server of this test, on 127.0.0.1:``port``."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(directory / "server.log", "w")  # noqa: SIM115 (closed by stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, "-port", str(self.port), "--hostname", "127.0.0.1",
             "-bind_local", "-env_path", str(directory / "env"), "-logging_level", "WARNING"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not self.answers():
            if self.proc.poll() is not None:
                raise RuntimeError("the visdom server stopped: "
                                   + (directory / "server.log").read_text())
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the visdom server did not answer within 60 s")
            time.sleep(0.1)

    def answers(self) -> bool:
        import requests

        try:
            return requests.post(f"{self.url}/win_exists", timeout=1,
                                 data=json.dumps({"win": "", "eid": "main"})).ok
        except requests.RequestException:
            return False

    def window(self, env: str, win: str) -> dict:
        """The window as the server holds it (its lines: ``content.data``)."""
        import requests

        answer = requests.post(f"{self.url}/win_data", timeout=5,
                               data=json.dumps({"eid": env, "win": win}))
        answer.raise_for_status()
        return json.loads(answer.text)

    def lines(self, env: str, win: str) -> dict[str, tuple[list[float], list[float]]]:
        return {line["name"]: (line["x"], line["y"])
                for line in self.window(env, win)["content"]["data"]}

    def windows(self, env: str) -> set[str]:
        import requests

        answer = requests.post(f"{self.url}/win_data", timeout=5,
                               data=json.dumps({"eid": env, "win": None}))
        answer.raise_for_status()
        return set(json.loads(answer.text))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def visdom_server(tmp_path):
    server = Server(tmp_path)
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- helpers


def metrics(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def assert_windows_are_metrics_csv(server: Server, run_dir: Path) -> None:
    """Each column of metrics.csv is a line of its window: x the epochs, y its figures."""
    rows = metrics(run_dir)
    env = run_dir.resolve().name
    epochs = [float(r["epoch"]) for r in rows]
    assert epochs == [float(e) for e in range(1, len(rows) + 1)]
    columns = [c for c in rows[0] if c != "epoch"]
    for column in columns:
        window, line = curve_of(column)
        shown = server.window(env, window)
        assert shown["title"] == f"{env}: {window}"
        xs, ys = server.lines(env, window)[line]
        assert xs == epochs, column
        assert ys == [float(r[column]) for r in rows], column


def image_config(data_dir: Path, epochs: int, url: str | None) -> RunConfig:
    return RunConfig(model=ModelConfig(model="softmax"),
                     data=DataSpec(name="fashion-mnist", data_dir=str(data_dir), verify=False),
                     train=TrainSettings(epochs=epochs, batch_size=10, device="cpu",
                                         visdom=url))


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("idx") / "tiny"
    write_tiny_dataset(directory, n_train=40, n_test=30)
    return directory


# --------------------------------------------------------------------------- the curves


def test_keys_are_grouped_into_windows():
    assert curve_of("train_loss") == ("loss", "train")
    assert curve_of("test_acc") == ("acc", "test")
    assert curve_of("val_log_rmse") == ("log_rmse", "val")
    assert curve_of("w_error") == ("error", "w")
    assert curve_of("grad_norm/layer2") == ("grad_norm", "layer2")
    assert curve_of("seconds") == ("seconds", "seconds")


def test_urls():
    assert parse_url(DEFAULT_URL) == ("http://localhost", 8097, "/")
    assert parse_url("127.0.0.1:9000") == ("http://127.0.0.1", 9000, "/")
    assert parse_url("https://example.org/visdom/") == ("https://example.org", 8097, "/visdom")
    for bad in ("", "ftp://host", "http://", "http://host:port"):
        with pytest.raises(UsageError):
            parse_url(bad)
    with pytest.raises(UsageError):
        TrainSettings(visdom="ftp://host").check()


def test_each_epoch_of_metrics_csv_arrives_on_the_server(tmp_path, idx_dir, visdom_server):
    run_dir = tmp_path / "run-a"
    with warnings.catch_warnings():
        warnings.simplefilter("error", VisdomWarning)
        result = train_run(image_config(idx_dir, 2, visdom_server.url), run_dir, **QUIET)
    assert len(result.history) == 2
    assert_windows_are_metrics_csv(visdom_server, run_dir)
    assert {"loss", "acc", "seconds"} <= visdom_server.windows("run-a")
    assert result.config.train.visdom == visdom_server.url  # saved with the run
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["train"]["visdom"] == visdom_server.url


def test_extra_keys_such_as_gradient_norms_get_a_window_of_their_own(tmp_path, idx_dir,
                                                                     visdom_server):
    config = image_config(idx_dir, 2, visdom_server.url)
    config = RunConfig(model=ModelConfig(model="mlp", hidden=(8,)), data=config.data,
                       train=TrainSettings(epochs=2, batch_size=10, device="cpu",
                                           visdom=visdom_server.url, watch_gradients=True))
    run_dir = tmp_path / "run-g"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a gradient warning of the tiny model is not ours
        train_run(config, run_dir, **QUIET)
    lines = visdom_server.lines("run-g", "grad_norm")
    assert {"layer1", "layer2"} <= set(lines)
    rows = metrics(run_dir)
    assert lines["layer1"] == ([1.0, 2.0], [float(r["grad_norm/layer1"]) for r in rows])
    assert_windows_are_metrics_csv(visdom_server, run_dir)


def test_a_resumed_run_sends_its_whole_history_again(tmp_path, idx_dir, visdom_server):
    run_dir = tmp_path / "run-r"
    train_run(image_config(idx_dir, 2, visdom_server.url), run_dir, **QUIET)
    resume_run(run_dir, epochs=4, **QUIET)  # the saved URL
    assert_windows_are_metrics_csv(visdom_server, run_dir)
    xs, _ = visdom_server.lines("run-r", "loss")["train"]
    assert xs == [1.0, 2.0, 3.0, 4.0]  # each epoch once


def test_turned_on_at_resume_the_server_gets_the_whole_history(tmp_path, idx_dir,
                                                               visdom_server):
    run_dir = tmp_path / "run-on"
    train_run(image_config(idx_dir, 2, None), run_dir, **QUIET)
    resume_run(run_dir, epochs=3, visdom=visdom_server.url, **QUIET)
    assert_windows_are_metrics_csv(visdom_server, run_dir)
    off = resume_run(run_dir, epochs=4, visdom=False, **QUIET)
    assert off.config.train.visdom is None
    xs, _ = visdom_server.lines("run-on", "loss")["train"]
    assert xs == [1.0, 2.0, 3.0]  # nothing sent once turned off


# --------------------------------------------------------------------------- no server


def test_an_unreachable_server_is_one_warning_and_the_run_goes_on(tmp_path, idx_dir):
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    with pytest.warns(VisdomWarning) as caught:
        result = train_run(image_config(idx_dir, 3, url), tmp_path / "run", **QUIET)
    ours = [w for w in caught if issubclass(w.category, VisdomWarning)]
    assert len(ours) == 1
    text = str(ours[0].message)
    assert url in text and "python -m visdom.server" in text
    assert len(result.history) == 3
    assert [int(r["epoch"]) for r in metrics(tmp_path / "run")] == [1, 2, 3]
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


def test_a_server_that_dies_mid_run_is_one_warning(tmp_path, idx_dir, visdom_server):
    class KillAfterEpoch1(Callback):  # runs after the visdom callback of the epoch
        def on_epoch_end(self, trainer, setup, history):
            if len(history) == 1:
                visdom_server.stop()

    run_dir = tmp_path / "run-k"
    with pytest.warns(VisdomWarning) as caught:
        result = train_run(image_config(idx_dir, 3, visdom_server.url), run_dir,
                           callbacks=[KillAfterEpoch1()], **QUIET)
    ours = [w for w in caught if issubclass(w.category, VisdomWarning)]
    assert len(ours) == 1 and visdom_server.url in str(ours[0].message)
    assert len(result.history) == 3
    assert [int(r["epoch"]) for r in metrics(run_dir)] == [1, 2, 3]


def test_the_callback_gives_up_quietly_after_its_warning(visdom_server):
    curves = VisdomCurves(visdom_server.url, env="api")
    history = [{"epoch": 1, "train_loss": 1.0, "test_loss": 2.0, "grad_norm/layer1": 0.5}]
    curves.on_train_begin(None, None, [])
    curves.on_epoch_end(None, None, history)
    assert visdom_server.lines("api", "loss") == {"train": ([1.0], [1.0]),
                                                  "test": ([1.0], [2.0])}
    assert visdom_server.lines("api", "grad_norm") == {"layer1": ([1.0], [0.5])}
    visdom_server.stop()
    history.append({"epoch": 2, "train_loss": 0.5, "test_loss": 1.5})
    with pytest.warns(VisdomWarning):
        curves.on_epoch_end(None, None, history)
    assert curves.failed and curves.sent == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curves.on_epoch_end(None, None, history)  # no second warning


# --------------------------------------------------------------------------- no visdom


def test_without_the_package_the_run_is_refused_before_it_starts(tmp_path, idx_dir,
                                                                 monkeypatch):
    monkeypatch.setitem(sys.modules, "visdom", None)
    with pytest.raises(UsageError, match=r"pip install 'shallownet\[visdom\]'"):
        require_visdom()
    with pytest.raises(UsageError, match="visdom"):
        train_run(image_config(idx_dir, 1, DEFAULT_URL), tmp_path / "run", **QUIET)
    assert not (tmp_path / "run").exists()  # refused before the run directory
