"""``train --tensorboard``: the event files, read back with TensorBoard's own reader.

Every figure is compared with what the run directory holds: the scalars with
``metrics.csv`` (as float32, exactly), the images with the PNG files, the
hyper-parameters with ``config.json``; resumed and killed runs show each epoch once.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shallownet.errors import OutputError
from shallownet.registry import ModelConfig
from shallownet.training.checkpoint import load_checkpoint
from shallownet.training.config import RunConfig, TrainSettings
from shallownet.training.data import DataSpec
from shallownet.training.run import resume_run, train_run
from shallownet.training.tensorboard import SCALAR_TAGS, TensorBoardLog, flat_hparams
from tests.cli.clitools import assert_one_error, last_json, run
from tests.conftest import SYSTEM_FASHION_MNIST, requires_real_data, write_tiny_dataset

if not os.environ.get("CI"):  # CI installs the dev extra: there a missing tensorboard fails
    pytest.importorskip("tensorboard")

ROOT = Path(__file__).resolve().parents[2]
#: metrics.csv column -> TensorBoard tag, as the module's docstring promises.
TAGS = {"train_loss": "loss/train", "test_loss": "loss/test", "train_acc": "accuracy/train",
        "test_acc": "accuracy/test", "w_error": "error/w", "b_error": "error/b",
        "val_loss": "loss/val", "val_acc": "accuracy/val", "seconds": "time/epoch_seconds",
        "train_log_rmse": "log_rmse/train", "test_log_rmse": "log_rmse/test",
        "val_log_rmse": "log_rmse/val"}
FINAL = {"final/seconds", "final/samples_per_second"}
QUIET = {"log": False, "plots": False, "progress": False}
SYNTHETIC = ["--data", "synthetic-linear", "--num-examples", 100, "-q"]


# --------------------------------------------------------------------------- readers


def read_log(run_dir: Path):
    """TensorBoard's EventAccumulator over ``run_dir/tensorboard``, keeping every event."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sizes = dict.fromkeys(("scalars", "images", "tensors", "histograms",
                           "compressedHistograms", "audio"), 0)
    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance=sizes)
    acc.Reload()
    return acc


def steps(acc, tag: str) -> list[int]:
    return [e.step for e in acc.Scalars(tag)]


def metrics(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def assert_scalars_are_metrics_csv(acc, run_dir: Path) -> None:
    """Each column of metrics.csv is one tag, with one value per epoch at steps 1..epochs."""
    rows = metrics(run_dir)
    epochs = [int(r["epoch"]) for r in rows]
    assert epochs == list(range(1, len(rows) + 1))
    columns = [c for c in rows[0] if c != "epoch"]
    for column in columns:
        events = acc.Scalars(TAGS[column])
        assert [e.step for e in events] == epochs, column
        assert [e.value for e in events] == [float(np.float32(r[column])) for r in rows], column
    assert set(acc.Tags()["scalars"]) == {TAGS[c] for c in columns} | FINAL


def read_hparams(acc) -> tuple[dict, object]:
    """The hparams plugin's session start values ``{name: value}`` and its end info."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = acc.PluginTagToContent("hparams")
    assert acc.SummaryMetadata("_hparams_/session_start_info").plugin_data.plugin_name == \
        "hparams"
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]).session_start_info
    end = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_end_info"]).session_end_info
    values = {k: getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}
    return values, end


def event_files(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "tensorboard").iterdir())


def synthetic(epochs: int, *, tensorboard: bool = True) -> RunConfig:
    return RunConfig(model=ModelConfig(model="linreg"),
                     data=DataSpec(name="synthetic-linear", num_examples=100),
                     train=TrainSettings(epochs=epochs, batch_size=10, device="cpu",
                                         tensorboard=tensorboard))


def environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("idx") / "tiny"
    write_tiny_dataset(directory, n_train=40, n_test=30)
    return directory


# --------------------------------------------------------------------------- what is written


def test_the_tags_are_the_documented_ones():
    assert SCALAR_TAGS == TAGS


def test_each_epoch_of_metrics_csv_is_a_scalar_at_its_step(capsys, tmp_path):
    code, out, err = run(capsys, "train", *SYNTHETIC, "--epochs", 3, "--tensorboard",
                         "--out", tmp_path / "r", "--json")
    assert code == 0, err
    assert "warning" not in err
    acc = read_log(tmp_path / "r")
    assert_scalars_are_metrics_csv(acc, tmp_path / "r")
    assert {TAGS[c] for c in ("w_error", "b_error")} <= set(acc.Tags()["scalars"])
    summary = last_json(out)
    (seconds,) = acc.Scalars("final/seconds")
    assert (seconds.step, seconds.value) == (3, float(np.float32(summary["seconds"])))
    (rate,) = acc.Scalars("final/samples_per_second")
    assert rate.value == float(np.float32(summary["samples_per_second"]))
    # a regression: the curves, no confusion matrix and no gallery
    assert acc.Tags()["images"] == ["figures/curves"]
    (curves,) = acc.Images("figures/curves")
    assert curves.step == 3
    assert curves.encoded_image_string == (tmp_path / "r" / "curves.png").read_bytes()
    assert json.loads((tmp_path / "r" / "config.json").read_text())["train"]["tensorboard"]


def assert_figures_are_the_pngs(acc, run_dir: Path, epochs: int) -> None:
    assert sorted(acc.Tags()["images"]) == ["figures/confusion", "figures/curves",
                                            "figures/gallery"]
    for name in ("curves", "confusion", "gallery"):
        (image,) = acc.Images(f"figures/{name}")
        png = (run_dir / f"{name}.png").read_bytes()
        assert image.step == epochs
        assert image.encoded_image_string == png, name
        decoded = Image.open(io.BytesIO(image.encoded_image_string))
        assert decoded.format == "PNG"
        assert decoded.size == Image.open(run_dir / f"{name}.png").size == \
            (image.width, image.height), name


def test_an_image_classifier_logs_accuracy_and_its_figures(capsys, tmp_path, idx_dir):
    out_dir = tmp_path / "img"
    code, _, err = run(capsys, "train", "--model", "mlp", "--hidden", "32,16", "--lr", 0.2,
                       "--batch-size", 8, "--data-dir", idx_dir, "--no-verify", "--epochs", 2,
                       "--tensorboard", "--out", out_dir, "-q")
    assert code == 0, err
    acc = read_log(out_dir)
    assert_scalars_are_metrics_csv(acc, out_dir)
    assert {"accuracy/train", "accuracy/test"} <= set(acc.Tags()["scalars"])
    assert_figures_are_the_pngs(acc, out_dir, 2)

    hparams, end = read_hparams(acc)
    assert hparams["model.model"] == "mlp"
    assert hparams["model.impl"] == "scratch"
    assert hparams["model.lr"] == 0.2
    assert hparams["model.hidden"] == "32,16"
    assert hparams["train.batch_size"] == 8
    assert hparams["train.epochs"] == 2
    assert hparams["train.step"] == "fused"
    assert hparams["data.name"] == "fashion-mnist"
    assert hparams["data.verify"] is False
    assert "train.tensorboard" not in hparams
    assert "data.max_train" not in hparams  # unset values are left out
    config = json.loads((out_dir / "config.json").read_text())
    for key, value in hparams.items():
        section, name = key.split(".")
        saved = config[section][name]
        assert value == (",".join(map(str, saved)) if isinstance(saved, list) else saved), key
    from tensorboard.plugins.hparams import api_pb2

    assert end.status == api_pb2.STATUS_SUCCESS
    # no Experiment summary: TensorBoard lines up the runs of every model by itself
    assert "_hparams_/experiment" not in acc.PluginTagToContent("hparams")


@pytest.mark.realdata
@requires_real_data
def test_real_fashion_mnist_run(capsys, tmp_path):
    out_dir = tmp_path / "fm"
    code, out, err = run(capsys, "train", "--data-dir", SYSTEM_FASHION_MNIST, "--max-train",
                         1000, "--max-test", 200, "--epochs", 3, "--tensorboard", "--out",
                         out_dir, "-q", "--json")
    assert code == 0, err
    acc = read_log(out_dir)
    assert_scalars_are_metrics_csv(acc, out_dir)
    assert_figures_are_the_pngs(acc, out_dir, 3)
    (test_acc,) = [e for e in acc.Scalars("accuracy/test") if e.step == 3]
    assert test_acc.value == float(np.float32(last_json(out)["test_acc"]))
    hparams, _ = read_hparams(acc)
    assert (hparams["model.model"], hparams["model.lr"], hparams["train.batch_size"]) == \
        ("softmax", 0.1, 256)
    assert (hparams["data.max_train"], hparams["data.max_test"]) == (1000, 200)


def test_no_plots_logs_no_figures(capsys, tmp_path):
    code, _, err = run(capsys, "train", *SYNTHETIC, "--epochs", 2, "--tensorboard", "--no-plots",
                       "--out", tmp_path / "r")
    assert code == 0, err
    acc = read_log(tmp_path / "r")
    assert acc.Tags()["images"] == []
    assert_scalars_are_metrics_csv(acc, tmp_path / "r")


def test_without_the_flag_nothing_is_logged(capsys, tmp_path):
    code, _, err = run(capsys, "train", *SYNTHETIC, "--epochs", 1, "--out", tmp_path / "r")
    assert code == 0, err
    assert not (tmp_path / "r" / "tensorboard").exists()
    assert json.loads((tmp_path / "r" / "config.json").read_text())["train"]["tensorboard"] \
        is False


# --------------------------------------------------------------------------- resume


def test_a_resumed_run_shows_each_epoch_once(capsys, tmp_path):
    out_dir = tmp_path / "r"
    code, _, err = run(capsys, "train", *SYNTHETIC, "--epochs", 2, "--tensorboard",
                       "--out", out_dir)
    assert code == 0, err
    assert steps(read_log(out_dir), "loss/train") == [1, 2]
    code, out, err = run(capsys, "train", "--resume", out_dir, "--epochs", 4, "-q")
    assert code == 0, err
    assert "warning" not in err

    acc = read_log(out_dir)
    assert_scalars_are_metrics_csv(acc, out_dir)  # 1..4, each once
    assert [e.step for e in acc.Images("figures/curves")] == [4]  # the first end's, purged
    assert [e.step for e in acc.Scalars("final/seconds")] == [4]
    assert read_hparams(acc)[0]["train.epochs"] == 4  # the hparams of the latest end
    files = event_files(out_dir)
    assert len(files) == 3 and sum(f.endswith(".hparams") for f in files) == 1


def test_an_interruption_between_checkpoint_and_log_loses_no_epoch(tmp_path, monkeypatch):
    out_dir = tmp_path / "r"
    write = TensorBoardLog.epoch

    def interrupted_at_2(self, record):
        if record["epoch"] == 2:  # its checkpoint is saved, its scalars not yet written
            raise KeyboardInterrupt
        write(self, record)

    monkeypatch.setattr(TensorBoardLog, "epoch", interrupted_at_2)
    with pytest.raises(KeyboardInterrupt):
        train_run(synthetic(5), out_dir, **QUIET)
    monkeypatch.undo()
    assert load_checkpoint(out_dir / "checkpoint.pt")["epoch"] == 2
    assert steps(read_log(out_dir), "loss/train") == [1]  # flushed and closed on the way out

    resume_run(out_dir, epochs=3, **QUIET)
    assert_scalars_are_metrics_csv(read_log(out_dir), out_dir)


def test_turned_on_at_resume_the_log_gets_the_whole_history(capsys, tmp_path):
    out_dir = tmp_path / "r"
    code, _, err = run(capsys, "train", *SYNTHETIC, "--epochs", 2, "--out", out_dir)
    assert code == 0, err
    code, _, err = run(capsys, "train", "--resume", out_dir, "--epochs", 3, "--tensorboard",
                       "-q")
    assert code == 0, err
    assert_scalars_are_metrics_csv(read_log(out_dir), out_dir)
    assert load_checkpoint(out_dir / "checkpoint.pt")["config"]["train"]["tensorboard"] is True


def test_killed_then_interrupted_runs_resume_to_one_step_each(capsys, tmp_path):
    """SIGKILL at any moment loses at most the epoch being logged; Ctrl-C none; resuming
    shows every epoch once. No warning reaches stderr."""
    out_dir = tmp_path / "long"
    argv = [sys.executable, "-m", "shallownet", "train"]

    def start(*args):
        return subprocess.Popen(
            [*argv, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=environment(),
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def stop_after(proc, rows: int, signum) -> str:
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                path = out_dir / "metrics.csv"
                if path.exists() and len(path.read_text().splitlines()) > rows:
                    break
                time.sleep(0.02)
            proc.send_signal(signum)
            return proc.communicate(timeout=60)[1]
        finally:
            proc.kill()

    proc = start(*SYNTHETIC, "--no-plots", "--epochs", 100000, "--tensorboard", "--out", out_dir)
    stop_after(proc, 3, signal.SIGKILL)
    killed_at = load_checkpoint(out_dir / "checkpoint.pt")["epoch"]
    logged = steps(read_log(out_dir), "loss/train")
    assert logged in (list(range(1, killed_at)), list(range(1, killed_at + 1)))

    proc = start("--resume", out_dir, "-q", "--no-plots")
    err = stop_after(proc, killed_at + 2, signal.SIGINT)
    assert proc.returncode == 130, err
    assert "warning" not in err and "Traceback" not in err
    stopped_at = load_checkpoint(out_dir / "checkpoint.pt")["epoch"]
    assert steps(read_log(out_dir), "loss/train") == list(range(1, stopped_at + 1))

    code, _, err = run(capsys, "train", "--resume", out_dir, "--epochs", stopped_at + 1, "-q")
    assert code == 0, err
    assert err == ""  # no warning of tensorboard, protobuf or matplotlib
    assert_scalars_are_metrics_csv(read_log(out_dir), out_dir)


def test_only_rank_0_of_a_distributed_run_writes(tmp_path):
    out_dir = tmp_path / "d"
    done = subprocess.run(
        [sys.executable, "-m", "shallownet", "train", *map(str, SYNTHETIC), "--epochs", "3",
         "--nproc", "2", "--tensorboard", "--no-plots", "--out", str(out_dir)],
        capture_output=True, text=True, timeout=240, env=environment(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    files = event_files(out_dir)
    assert len(files) == 2 and files[1].endswith(".hparams"), files
    assert_scalars_are_metrics_csv(read_log(out_dir), out_dir)


# --------------------------------------------------------------------------- failures, pieces


def test_an_unwritable_log_directory_is_one_error(capsys, tmp_path):
    out_dir = tmp_path / "r"
    out_dir.mkdir()
    (out_dir / "tensorboard").write_text("in the way")
    code, _, err = run(capsys, "train", *SYNTHETIC, "--epochs", 1, "--tensorboard",
                       "--out", out_dir)
    assert code == 1
    assert_one_error(err)
    assert "TensorBoard log" in err and str(out_dir / "tensorboard") in err
    assert f"--resume {out_dir}" in err and "--no-tensorboard" in err
    code, _, err = run(capsys, "train", "--resume", out_dir, "--no-tensorboard", "-q")
    assert code == 0, err


def test_the_log_writes_numbers_only_and_closes_once(tmp_path):
    log = TensorBoardLog(tmp_path / "tensorboard", synthetic(2))
    log.epoch({"epoch": 1, "train_loss": 0.5, "note": "text", "flag": True,
               "test_loss": float("nan")})
    log.close()
    log.close()
    acc = read_log(tmp_path)
    assert acc.Tags()["scalars"] == ["loss/train"]
    assert [(e.step, e.value) for e in acc.Scalars("loss/train")] == [(1, 0.5)]


def test_a_write_error_is_an_output_error_unless_another_is_under_way(tmp_path):
    def disk_full():
        raise OSError(28, "No space left on device")

    for name, failure in (("a", ValueError("under way")), ("b", None)):
        log = TensorBoardLog(tmp_path / name, synthetic(2))
        close, log._writer.close = log._writer.close, disk_full
        expected = ValueError if failure else OutputError
        with pytest.raises(expected, match="under way" if failure else "No space left"), log:
            if failure:
                raise failure
        close()

    log = TensorBoardLog(tmp_path / "c", synthetic(2))
    (tmp_path / "gallery.png").write_bytes(b"not a png")
    with pytest.raises(OutputError, match="not a PNG"):
        log.figures({"gallery": tmp_path / "gallery.png"}, step=1)
    with pytest.raises(OutputError, match="cannot write the TensorBoard log"):
        log.figures({"gallery": tmp_path / "absent.png"}, step=1)
    log.close()


def test_flat_hparams_keeps_types_and_leaves_out_unset_fields():
    config = RunConfig(model=ModelConfig(model="mlp", hidden=(128, 64), dropout=(0.2, 0.5)),
                       train=TrainSettings(tensorboard=True)).resolved()
    flat = flat_hparams(config)
    assert flat["model.hidden"] == "128,64" and flat["model.dropout"] == "0.2,0.5"
    assert flat["model.log_softmax"] is False and flat["train.epochs"] == 10
    assert flat["model.lr"] == 0.1 and flat["data.name"] == "fashion-mnist"
    assert "data.data_dir" not in flat and "train.tensorboard" not in flat
    assert all(isinstance(v, bool | int | float | str) for v in flat.values())
