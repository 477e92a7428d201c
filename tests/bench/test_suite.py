"""The benchmark's arithmetic: growth exponents, ratios, target checks and the report."""

from __future__ import annotations

import math

import pytest

from shallownet.bench import BenchOptions, format_report
from shallownet.bench.suite import check_targets, growth_exponent, run_bench
from shallownet.training.kernel import KernelUnavailable


@pytest.mark.parametrize("k", [0.5, 1.0, 1.2, 2.0])
def test_growth_exponent_recovers_a_power_law(k):
    points = [(n, 0.3 * n**k) for n in (1000, 2000, 4000, 8000)]
    assert growth_exponent(points) == pytest.approx(k)


def test_growth_exponent_is_a_least_squares_fit():
    # log-log points (0, 0), (1, 1), (2, 3): slope 1.5
    points = [(1, 1.0), (math.e, math.e), (math.e**2, math.e**3)]
    assert growth_exponent(points) == pytest.approx(1.5)


def test_growth_exponent_needs_two_sizes():
    assert growth_exponent([(100, 1.0)]) is None
    assert growth_exponent([(100, 1.0), (100, 2.0)]) is None


def run(model, impl, step, seconds, *, acc=0.83, rss=500 * 2**20, per_sample=None, floor=1.0,
        main=True):
    return {"model": model, "impl": impl, "step": step, "main": main, "seconds": seconds,
            "test_acc": acc,
            "peak_rss": rss, "times_floor": seconds / floor, "n_train": 60_000,
            "faster_than_per_sample": None if per_sample is None else per_sample / seconds}


def report(runs, scaling=()):
    return {"runs": runs, "scaling": list(scaling)}


def by_name(checks):
    return {c["target"]: c for c in checks}


def test_targets_pass_and_fail_at_their_limits():
    checks = by_name(check_targets(report([
        run("softmax", "scratch", "fused", 1.0, per_sample=30.0, floor=0.4),     # 30×, 2.5×
        run("softmax", "concise", "fused", 1.0, per_sample=29.9, floor=0.39),    # just short
        run("mlp", "scratch", "fused", 1.2, per_sample=6.0, floor=1.0),          # 5×, 1.2×
        run("mlp", "concise", "fused", 1.0, per_sample=4.0, floor=0.8),          # 4×, 1.25×
    ])))
    assert checks["softmax scratch: times faster than per-sample"]["met"]
    assert checks["softmax scratch: times the arithmetic floor"]["met"]
    assert not checks["softmax concise: times faster than per-sample"]["met"]
    assert not checks["softmax concise: times the arithmetic floor"]["met"]
    assert checks["mlp scratch: times faster than per-sample"]["met"]
    assert checks["mlp scratch: times the arithmetic floor"]["met"]
    assert not checks["mlp concise: times faster than per-sample"]["met"]
    assert not checks["mlp concise: times the arithmetic floor"]["met"]
    assert checks["mlp fused: scratch time / concise time"]["value"] == pytest.approx(1.2)
    assert checks["mlp fused: scratch time / concise time"]["met"]
    assert checks["softmax fused: scratch time / concise time"]["met"]


def test_scratch_much_slower_than_concise_fails():
    checks = by_name(check_targets(report([
        run("softmax", "scratch", "autograd", 1.4), run("softmax", "concise", "autograd", 1.0),
    ])))
    assert not checks["softmax autograd: scratch time / concise time"]["met"]


def test_softmax_memory_and_accuracy_targets():
    checks = by_name(check_targets(report([
        run("softmax", "scratch", "fused", 1.0, rss=2**30, acc=0.830),
        run("softmax", "scratch", "autograd", 2.0, acc=0.815, main=False),
        run("mlp", "scratch", "fused", 1.0, rss=5 * 2**30),
    ])))
    assert not checks["softmax scratch: peak resident memory (GiB)"]["met"]  # under 1 GiB
    assert not any("mlp scratch: peak" in name for name in checks)  # softmax only
    accuracy = checks["softmax scratch: test accuracy fused vs autograd (difference)"]
    assert accuracy["value"] == pytest.approx(0.015) and not accuracy["met"]


def test_scaling_exponent_target():
    scaling = [{"model": "mlp", "impl": "concise", "exponent": 1.04},
               {"model": "mlp", "impl": "scratch", "exponent": 1.3},
               {"model": "softmax", "impl": "scratch", "exponent": None}]
    checks = by_name(check_targets(report([], scaling)))
    assert checks["mlp concise: growth exponent of time in N"]["met"]
    assert not checks["mlp scratch: growth exponent of time in N"]["met"]
    assert len(checks) == 2


def test_report_has_a_row_per_run_comparator_and_floor():
    runs = [dict(run("softmax", "concise", "fused", 0.5, per_sample=20.0, floor=0.1),
                 samples_per_second=1.2e6)]
    per_sample = [{"model": "softmax", "impl": "concise", "seconds": 20.0, "workers": 4,
                   "samples_per_second": 3e4, "test_acc": 0.84, "peak_rss": 800 * 2**20}]
    scaling = [{"model": "softmax", "impl": "concise", "step": "fused", "exponent": 1.02,
                "points": [{"n_train": 60_000, "seconds": 0.5},
                           {"n_train": 120_000, "seconds": 1.01}]}]
    full = {
        "options": {**BenchOptions().__dict__, "steps": ("fused",)},
        "machine": {"device": "cpu", "processor": "x86_64", "threads": 2, "torch": "2.13",
                    "matmul": {"flops_per_second": 1.8e11, "size": 2048},
                    "bandwidth": {"bytes_per_second": 4e10}},
        "floors": {"softmax": {"seconds": 0.1, "bound": "compute", "flops": 2.04e10}},
        "runs": runs, "per_sample": per_sample, "scaling": scaling,
    }
    full["targets"] = check_targets(full)
    text = format_report(full)
    assert "180 GFLOP/s" in text and "40.0 GB/s" in text
    assert "| softmax | concise | shallownet, fused step | 0.50 | 1,200,000 | 0.830 |" in text
    assert "40.0× | 5.0× |" in text  # 20 s / 0.5 s; 0.5 s / 0.1 s
    assert "per-sample DataLoader, 4 workers | 20.00 | 30,000 | 0.840 | 800 MiB | 1.0× | 200.0×" \
        in text
    assert "arithmetic floor (compute-bound, 20.4 GFLOP) | 0.100" in text
    assert "| softmax | concise | fused | 0.50 | 1.01 | 1.02 |" in text
    assert "| softmax concise: times faster than per-sample | 40 | 30.0 | yes |" in text


def fake_measure(calls, *, kernel_fails=False):
    """A stand-in worker: canned figures, each call recorded (the suite's logic, not timing)."""
    def measure(spec):
        calls.append(spec)
        if spec["kind"] == "machine":
            return {"device": "cpu", "processor": "x86_64", "threads": 2, "torch": "2.13",
                    "matmul": {"flops_per_second": 1e11, "size": 2048},
                    "bandwidth": {"bytes_per_second": 1e10}}
        if spec["kind"] == "per_sample":
            return {"seconds": 30.0, "n_train": 1000, "epochs": spec["epochs"], "workers": 4,
                    "test_acc": 0.8, "peak_rss": 1}
        if spec["kind"] == "sklearn":
            accuracy = {"LogisticRegression()": 0.84}.get(spec["reference"], 0.88)
            return {"reference": spec["reference"], "test_acc": accuracy, "seconds": 10.0}
        if spec["kind"] == "recipe":
            curve = [{"epoch": e, "test_acc": 0.80 + 0.03 * e, "seconds": 0.5 * e}
                     for e in range(1, 4)]
            model = "mlp" if "mlp" in spec["recipe"] else spec["recipe"].split("-")[0]
            return {"recipe": spec["recipe"], "model": model, "curve": curve,
                    "test_acc": curve[-1]["test_acc"], "seconds": 1.5, "step": "fused"}
        if spec["step"] == "kernel" and kernel_fails:
            raise KernelUnavailable("building the compiled step needs ninja")
        scale = spec.get("scale", 1)
        seconds = {"kernel": 0.5, "fused": 1.0, "autograd": 2.0}[spec["step"]] * scale
        return {"step": spec["step"], "seconds": seconds, "n_train": 1000 * scale,
                "n_test": 100, "num_inputs": 784, "num_outputs": 10,
                "widths": [784, 10] if spec["model"] == "softmax" else [784, 256, 10],
                "epoch_seconds": [seconds / spec["epochs"]] * spec["epochs"],
                "test_acc": 0.8, "peak_rss": 2**20}
    return measure


def test_each_model_runs_the_steps_that_apply_and_the_first_is_its_main_run():
    calls = []
    options = BenchOptions(impls=("concise",), scales=(1, 2), epochs=2, whole=False,
                           under_load=False)
    report = run_bench(options, measure=fake_measure(calls))
    steps = {(r["model"], r["step"]): r["main"] for r in report["runs"]}
    assert steps == {("softmax", "kernel"): True, ("softmax", "fused"): False,
                     ("softmax", "autograd"): False, ("mlp", "fused"): True,
                     ("mlp", "autograd"): False}  # the compiled step trains softmax only
    assert [(s["model"], s["step"]) for s in report["scaling"]] == [("softmax", "kernel"),
                                                                     ("mlp", "fused")]
    assert [c.get("step") for c in calls if c.get("scale") == 2] == ["kernel", "fused"]
    assert report["scaling"][0]["exponent"] == pytest.approx(1.0)
    assert report["runs"][0]["faster_than_per_sample"] == pytest.approx(60.0)
    assert report["skipped"] == []


def test_a_compiled_step_that_cannot_build_is_skipped_and_said():
    calls, said = [], []
    options = BenchOptions(models=("softmax",), impls=("scratch",), scales=(1,), epochs=1,
                           whole=False, under_load=False)
    report = run_bench(options, measure=fake_measure(calls, kernel_fails=True), say=said.append)
    assert [(r["step"], r["main"]) for r in report["runs"]] == [("fused", True),
                                                                 ("autograd", False)]
    assert report["skipped"] == [{"model": "softmax", "impl": "scratch", "step": "kernel",
                                  "why": "building the compiled step needs ninja"}]
    assert any("skipped: building the compiled step needs ninja" in line for line in said)
    assert "not measured: softmax scratch, kernel step: building the compiled step needs " \
        "ninja" in format_report(report)


def test_against_sklearn_under_load_and_the_whole_command(monkeypatch):
    """The suite's new parts, with a stand-in worker: the frontier from the recipes' curves,
    each main run again beside busy processes, the whole command beside its floor."""
    from contextlib import nullcontext

    from shallownet.bench import suite

    loads = []
    monkeypatch.setattr(suite, "busy", lambda n: loads.append(n) or nullcontext())
    monkeypatch.setattr(suite, "startup_floor", lambda: 1.5)
    monkeypatch.setattr(suite, "whole_command", lambda argv: {
        "argv": argv, "wall": 3.0, "phases": {"startup": 1.4, "training": 1.0, "exit": 0.6}})
    calls = []
    options = BenchOptions(models=("mlp",), impls=("concise",), scales=(1,), epochs=1,
                           against=("sklearn",), per_sample=False)
    report = run_bench(options, measure=fake_measure(calls))
    assert [c["reference"] for c in calls if c["kind"] == "sklearn"] == list(
        suite.SKLEARN_REFERENCES)
    assert {c["recipe"] for c in calls if c["kind"] == "recipe"} == set(suite.RECIPES)
    assert loads and report["runs"][0]["under_load_ratio"] == pytest.approx(1.0)
    assert report["whole"]["times_floor"] == pytest.approx(2.0)
    rows = {(f["reference"], f["recipe"]): f for f in report["frontier"]}
    reached = rows["LogisticRegression()", "mlp-fast"]
    assert (reached["epoch"], reached["seconds"]) == (2, 1.0)  # 0.86 >= 0.84 at epoch 2
    assert reached["ratio"] == pytest.approx(0.1)
    checks = by_name(report["targets"])
    assert checks["shallownet train: wall time / python -c 'import torch'"]["met"]
    assert checks["mlp concise: time beside busy processes / quiet time"]["met"]
    text = format_report(report)
    assert "Accuracy per second" in text and "The whole command" in text
