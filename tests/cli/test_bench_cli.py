"""``shallownet bench`` end to end: real worker processes, a tiny setting (CI runs only this)."""

from __future__ import annotations

import json

import pytest

from shallownet.bench.suite import growth_exponent
from tests.cli.clitools import assert_one_error, run
from tests.conftest import requires_real_data, write_tiny_dataset


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bench-data")
    write_tiny_dataset(directory, n_train=600, n_test=100)
    return directory


def test_bench_on_tiny_data_prints_the_tables_and_writes_json(capsys, tmp_path, tiny_dir):
    out_file = tmp_path / "bench.json"
    code, out, err = run(capsys, "bench", "--models", "softmax", "--impls", "concise",
                         "--epochs", "2", "--scales", "2", "--workers", "0",
                         "--data-dir", tiny_dir, "--no-verify", "--json", out_file)
    assert code == 0, err
    assert "shallownet bench: measuring the machine" in err
    assert "shallownet bench: softmax concise: per-sample pipeline, 0 workers" in err
    for step in ("kernel", "fused", "autograd"):
        assert f"| softmax | concise | shallownet, {step} step |" in out
    assert "| softmax | concise | per-sample DataLoader, 0 workers |" in out
    assert "arithmetic floor (" in out and "| softmax | concise | kernel |" in out
    assert f"wrote {out_file}" in out
    report = json.loads(out_file.read_text())
    assert [r["step"] for r in report["runs"]] == ["kernel", "fused", "autograd"]
    assert report["scaling"][0]["step"] == "kernel"
    assert [p["n_train"] for p in report["scaling"][0]["points"]] == [600, 1200]
    points = [(p["n_train"], p["seconds"]) for p in report["scaling"][0]["points"]]
    assert report["scaling"][0]["exponent"] == pytest.approx(growth_exponent(points))
    assert report["floors"]["softmax"]["widths"] == [784, 10]
    matmul = report["machine"]["matmul"]  # measured before and after; the best counts
    assert matmul["flops_per_second"] == max(matmul["measured"]) and len(matmul["measured"]) == 2
    main = report["runs"][0]
    assert main["faster_than_per_sample"] == pytest.approx(
        report["per_sample"][0]["seconds"] / main["seconds"])
    assert main["times_floor"] == pytest.approx(
        main["seconds"] / report["floors"]["softmax"]["seconds"])
    names = {t["target"] for t in report["targets"]}
    assert "softmax concise: times the arithmetic floor" in names
    assert "softmax concise: peak resident memory (GiB)" in names


def test_bench_without_comparators_or_scaling(capsys, tiny_dir):
    code, out, err = run(capsys, "bench", "--models", "mlp", "--impls", "scratch",
                         "--steps", "autograd", "--epochs", "1", "--scales", "1",
                         "--no-per-sample", "--repeats", "2", "--data-dir", tiny_dir,
                         "--no-verify", "--json", tiny_dir / "repeated.json")
    assert code == 0, err
    run_ = json.loads((tiny_dir / "repeated.json").read_text())["runs"][0]
    assert len(run_["all_seconds"]) == 2 and run_["seconds"] == min(run_["all_seconds"])
    assert "best of 2" in out
    assert "| mlp | scratch | shallownet, autograd step |" in out
    assert "per-sample DataLoader" not in out and "Scaling" not in out
    assert "| mlp scratch: times the arithmetic floor |" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--models", "lenet"], "argument --models: 'lenet' given; choose from softmax, mlp"),
    (["--impls", ""], "argument --impls: nothing given"),
    (["--steps", "fused,jit"], "argument --steps: 'jit' given"),
    (["--scales", "1,0"], "argument --scales: must be at least 1, not 0"),
    (["--epochs", "0"], "argument --epochs: must be at least 1"),
    (["--data", "cifar"], "argument --data: invalid choice"),
])
def test_bench_usage_errors(capsys, argv, message):
    code, out, err = run(capsys, "bench", *argv)
    assert code == 2 and message in err and out == ""


def test_bench_on_data_that_fails_its_checksum_is_one_clear_error(capsys, tiny_dir):
    code, out, err = run(capsys, "bench", "--quick", "--data-dir", tiny_dir)  # verified
    assert code == 1
    progress, error = err.split("shallownet: error: ")
    assert progress.splitlines() == ["shallownet bench: measuring the machine: float32 matmul "
                                     "rate and memory bandwidth",
                                     "shallownet bench: softmax scratch: shallownet, kernel "
                                     "step, 1 epochs"]
    assert_one_error("shallownet: error: " + error)
    assert error.startswith("the benchmark's measurement (run softmax scratch): ")
    assert "does not match the published Fashion-MNIST" in error


@requires_real_data
def test_bench_quick_on_fashion_mnist(capsys, tmp_path):
    """The tiny setting CI runs: every model, tier, step and comparator on the real data."""
    out_file = tmp_path / "bench.json"
    code, out, err = run(capsys, "bench", "--quick", "--json", out_file)
    assert code == 0, err
    report = json.loads(out_file.read_text())
    assert report["options"]["epochs"] == 1 and report["options"]["max_train"] == 4096
    assert len(report["runs"]) == 10 and len(report["per_sample"]) == 4
    assert [r["step"] for r in report["runs"] if r["main"]] == ["kernel", "kernel", "fused",
                                                                "fused"]
    assert {r["step"] for r in report["runs"]} == {"kernel", "fused", "autograd"}
    for r in report["runs"] + report["per_sample"]:
        assert r["n_train"] in (4096,) and r["test_acc"] > 0.2  # chance is 0.1
    for r in report["runs"]:
        assert r["faster_than_per_sample"] > 0 and r["times_floor"] > 0
    assert all(len(s["points"]) == 2 for s in report["scaling"])
    assert "Targets" in out
