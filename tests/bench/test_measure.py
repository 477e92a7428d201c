"""Each benchmark measurement, in this process and as the worker the suite starts."""

from __future__ import annotations

import json

import pytest
import torch

from shallownet.bench.measure import PerSampleImages, main, measure, peak_rss
from shallownet.errors import ShallownetError
from tests.conftest import write_tiny_dataset


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bench-data")
    write_tiny_dataset(directory, n_train=512, n_test=128)
    return str(directory)


def spec(tiny_dir, kind="run", **changes):
    return {"kind": kind, "model": "softmax", "impl": "concise", "epochs": 2,
            "batch_size": 64, "data": "fashion-mnist", "data_dir": tiny_dir, "verify": False,
            "seed": 0, "workers": 0, **changes}


def test_peak_rss_is_bytes_of_this_process():
    before = peak_rss()
    assert isinstance(before, int) and before > 10 * 2**20  # python + torch
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
    assert peak_rss() >= before
    del block


@pytest.mark.parametrize(("model", "impl"), [("softmax", "scratch"), ("mlp", "concise")])
def test_run_reports_time_accuracy_and_memory(tiny_dir, model, impl):
    result = measure(spec(tiny_dir, model=model, impl=impl))
    assert result["step"] == "fused"
    assert result["n_train"] == 512 and result["n_test"] == 128
    assert (result["num_inputs"], result["num_outputs"]) == (784, 10)
    assert len(result["epoch_seconds"]) == 2
    assert 0 < sum(result["epoch_seconds"]) <= result["seconds"]
    assert 0 <= result["test_acc"] <= 1 and 0 <= result["train_acc"] <= 1
    assert result["peak_rss"] > 0 and result["threads"] >= 1


def test_run_through_autograd_and_on_repeated_data(tiny_dir):
    result = measure(spec(tiny_dir, step="autograd", scale=3, threads=1))
    assert result["step"] == "autograd" and result["threads"] == 1
    assert result["n_train"] == 3 * 512 and result["n_test"] == 3 * 128


def test_every_step_reaches_the_same_accuracy(tiny_dir):
    runs = [measure(spec(tiny_dir, epochs=3, step=step))
            for step in ("kernel", "fused", "autograd")]
    assert [r["step"] for r in runs] == ["kernel", "fused", "autograd"]
    for other in runs[1:]:
        assert runs[0]["test_acc"] == pytest.approx(other["test_acc"], abs=1 / 128)
        assert runs[0]["train_loss"] == pytest.approx(other["train_loss"], rel=1e-4)


def test_kernel_run_of_a_model_it_cannot_train_is_an_error(tiny_dir):
    with pytest.raises(ShallownetError, match="the compiled step trains softmax only, not mlp"):
        measure(spec(tiny_dir, model="mlp", step="kernel"))


@pytest.mark.parametrize("workers", [0, 2])
def test_per_sample_pipeline_trains_the_same_model(tiny_dir, workers):
    result = measure(spec(tiny_dir, "per_sample", workers=workers))
    assert result["workers"] == workers and result["epochs"] == 2
    assert result["n_train"] == 512 and result["seconds"] > 0
    assert 0 <= result["test_acc"] <= 1 and result["train_loss"] > 0


def test_per_sample_dataset_converts_one_stored_image_when_read():
    images = torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8).reshape(1, 1, 2, 2)
    dataset = PerSampleImages(images, torch.tensor([7]))
    X, y = dataset[0]
    assert len(dataset) == 1 and y == 7 and isinstance(y, int)
    assert X.dtype == torch.float32 and X.shape == (1, 2, 2)
    assert torch.equal(X, torch.tensor([[[0.0, 1.0], [0.2, 0.4]]]))
    assert images.dtype == torch.uint8  # stored as bytes; converted per read


def test_machine_measures_matmul_rate_and_bandwidth():
    result = measure({"kind": "machine", "device": "cpu"})
    assert result["matmul"]["flops_per_second"] > 1e8
    assert result["bandwidth"]["bytes_per_second"] > 1e8
    assert result["device"] == "cpu" and result["torch"] == torch.__version__


def test_worker_marks_a_compiled_step_that_cannot_run(tiny_dir, capsys):
    assert main([json.dumps(spec(tiny_dir, model="mlp", step="kernel"))]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["unavailable"] is True and "trains softmax only" in result["error"]
    assert main([json.dumps(spec(tiny_dir, data_dir=tiny_dir + "/missing"))]) == 0
    assert json.loads(capsys.readouterr().out)["unavailable"] is False


def test_worker_prints_one_json_line(tiny_dir, capsys):
    assert main([json.dumps(spec(tiny_dir, epochs=1))]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and json.loads(out[0])["step"] == "fused"
