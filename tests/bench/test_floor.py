"""The arithmetic floor: operation and byte counts from the formulas, measured rates."""

from __future__ import annotations

import pytest

from shallownet.bench.floor import (
    floor_seconds,
    layer_widths,
    measure_bandwidth,
    measure_matmul_rate,
    work,
)
from shallownet.registry import ModelConfig, build


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_layer_widths_are_read_off_the_built_model(impl):
    def widths(model, **options):
        setup = build(ModelConfig(model=model, impl=impl, **options), input_shape=(1, 28, 28),
                      num_outputs=10, seed=0)
        return layer_widths(setup.model)

    assert widths("softmax") == (784, 10)
    assert widths("mlp") == (784, 256, 10)
    assert widths("mlp", hidden=(128, 64)) == (784, 128, 64, 10)
    with pytest.raises(ValueError, match="stack of linear layers"):
        widths("lenet")


def test_softmax_work_is_forward_and_weight_gradient_only():
    # no hidden layer: no activation gradient (the input's is not needed)
    w = work((784, 10), n_train=60_000, n_test=10_000, epochs=10)
    assert w["flops_per_test_example"] == 2 * 784 * 10
    assert w["flops_per_train_example"] == 2 * (2 * 784 * 10)
    assert w["flops"] == 10 * (60_000 * 31_360 + 10_000 * 15_680)
    assert w["input_bytes"] == 10 * 70_000 * 784 * 4


def test_mlp_work_adds_the_hidden_activation_gradient():
    w = work((784, 256, 10), n_train=100, n_test=7, epochs=3)
    forward = 2 * 784 * 256 + 2 * 256 * 10
    assert w["flops_per_train_example"] == 2 * forward + 2 * 256 * 10
    assert w["flops"] == 3 * (100 * (2 * forward + 5120) + 7 * forward)
    assert work((784, 256, 10), n_train=1, n_test=0, epochs=1, itemsize=1)["input_bytes"] == 784


def test_floor_is_the_larger_of_compute_and_memory_time():
    done = {"flops": 1e12, "input_bytes": 1e9}
    f = floor_seconds(done, flops_per_second=1e11, bytes_per_second=1e10)
    assert f == {"seconds": 10.0, "compute_seconds": 10.0, "memory_seconds": 0.1,
                 "bound": "compute"}
    f = floor_seconds(done, flops_per_second=1e14, bytes_per_second=1e8)
    assert f["seconds"] == 10.0 and f["bound"] == "memory" and f["compute_seconds"] == 0.01


def test_measured_rates_are_positive_and_plausible():
    rate = measure_matmul_rate(sizes=(64, 128), repeats=2)
    assert set(rate["by_size"]) == {"64", "128"}
    assert rate["flops_per_second"] == max(rate["by_size"].values())
    assert 1e8 < rate["flops_per_second"] < 1e14  # between a slow CPU and a fast GPU
    bandwidth = measure_bandwidth(mebibytes=8, repeats=2)
    assert 1e8 < bandwidth["bytes_per_second"] < 1e13
    assert bandwidth["mebibytes"] == 8
