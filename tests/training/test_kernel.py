"""The compiled softmax-regression step: the formulas, exactly its chunking, the trainer's use.

The first test that needs the kernel builds it (about 40 s, once per machine:
torch's extension cache keeps it).
"""

from __future__ import annotations

import copy
import dataclasses
import warnings

import pytest
import torch

from shallownet.data.iterator import ArrayLoader
from shallownet.errors import ShallownetError, TrainingDiverged, UsageError
from shallownet.registry import ModelConfig, build
from shallownet.scratch.losses import cross_entropy_grad
from shallownet.training import kernel as kernel_module
from shallownet.training.config import RunConfig, TrainSettings
from shallownet.training.kernel import KernelStep, KernelUnavailable, load_kernel, why_no_kernel
from shallownet.training.run import with_step
from tests.training.test_trainer import (
    assert_same_weights,
    blobs,
    make_setup,
    make_trainer,
    weights,
    without_seconds,
)


def softmax_setup(num_inputs: int = 20, num_outputs: int = 10, *, impl: str = "concise",
                  seed: int = 0, **config):
    setup = build(ModelConfig(model="softmax", impl=impl, **config), input_shape=(num_inputs,),
                  num_outputs=num_outputs, seed=seed)
    with torch.no_grad():  # weights big enough that the softmax is not uniform
        for p in setup.model.parameters():
            p.normal_(0, 0.3, generator=torch.Generator().manual_seed(seed + 1))
    return setup


def params(setup) -> tuple[torch.Tensor, torch.Tensor]:
    """(W as (out, in), b) of a softmax setup, copied, in float64."""
    state = list(setup.model.state_dict().items())
    (wname, W), (_, b) = state
    W = W.T if "W" in wname.split(".")[-1] else W  # the scratch Linear keeps (in, out)
    return W.double().clone(), b.double().clone()


def reference_step(W, b, X, y, *, lr, wd=0.0):
    """One SGD step of mean cross-entropy in float64, from the formulas:
    o = x Wᵀ + b, g = softmax(o) - onehot(y) (the scratch tier's ``cross_entropy_grad``),
    W <- (1 - lr wd) W - lr/n gᵀ X, b -= lr/n Σ g."""
    X = X.double().reshape(len(X), -1)
    logits = X @ W.T + b
    G = cross_entropy_grad(logits, y)
    n = len(X)
    return logits, (1 - lr * wd) * W - lr / n * G.T @ X, b - lr / n * G.sum(0)


@pytest.mark.parametrize("num_outputs", [2, 3, 8, 9, 10, 16, 17, 32])
@pytest.mark.parametrize("n", [1, 5, 6, 7, 128, 129, 300])
def test_a_kernel_step_is_the_formulas_to_float32_rounding(num_outputs, n):
    setup = softmax_setup(37, num_outputs)
    W, b = params(setup)
    g = torch.Generator().manual_seed(n)
    X = torch.randn(n, 37, generator=g)
    y = torch.randint(0, num_outputs, (n,), generator=g)
    out = torch.empty(n, num_outputs)
    step = KernelStep(setup)
    step.train(X, y, out)
    step.end_epoch()
    logits, W1, b1 = reference_step(W, b, X, y, lr=0.1)
    W2, b2 = params(setup)
    torch.testing.assert_close(out.double(), logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(W2, W1, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(b2, b1, rtol=1e-5, atol=1e-6)
    assert not torch.equal(W2, W)  # it trained


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_weight_decay_and_many_steps_follow_the_formulas(impl):
    setup = softmax_setup(784, 10, impl=impl, lr=0.5, weight_decay=0.01)
    W, b = params(setup)
    g = torch.Generator().manual_seed(0)
    X = torch.rand(1000, 784, generator=g)
    y = torch.randint(0, 10, (1000,), generator=g)
    step = KernelStep(setup)
    out = torch.empty(256, 10)
    for start in range(0, 1000, 256):
        Xb, yb = X[start:start + 256], y[start:start + 256]
        step.train(Xb, yb, out[: len(yb)])
        _, W, b = reference_step(W, b, Xb, yb, lr=0.5, wd=0.01)
    step.end_epoch()
    W2, b2 = params(setup)
    torch.testing.assert_close(W2, W, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(b2, b, rtol=1e-4, atol=1e-5)


def test_rows_of_bound_data_train_exactly_as_the_gathered_batch():
    g = torch.Generator().manual_seed(3)
    X = torch.rand(500, 1, 8, 8, generator=g)
    y = torch.randint(0, 10, (500,), generator=g)
    rows = torch.randperm(500, generator=g)[:200]
    gathered, by_rows = softmax_setup(64), softmax_setup(64)
    out1, out2 = torch.empty(200, 10), torch.empty(200, 10)
    step = KernelStep(gathered)
    step.train(X[rows], y[rows], out1)
    step.end_epoch()
    step = KernelStep(by_rows)
    step.bind(X, y)
    assert torch.equal(step(rows, out2), rows)
    step.end_epoch()
    assert torch.equal(out1, out2)
    assert_same_weights(weights(gathered), weights(by_rows))


def test_the_result_does_not_depend_on_the_number_of_threads():
    g = torch.Generator().manual_seed(4)
    X, y = torch.rand(700, 50, generator=g), torch.randint(0, 10, (700,), generator=g)
    results = []
    threads = torch.get_num_threads()
    try:
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            setup = softmax_setup(50)
            out = torch.empty(700, 10)
            step = KernelStep(setup)
            step.train(X, y, out)
            step.end_epoch()
            results.append((out, weights(setup)))
    finally:
        torch.set_num_threads(threads)
    for out, w in results[1:]:
        assert torch.equal(out, results[0][0])
        assert_same_weights(w, results[0][1])


def test_the_padding_stays_zero_and_load_store_exchange_the_weights():
    setup = softmax_setup(30, 10)
    step = KernelStep(setup)
    assert step.padded_W.shape == (30, 16) and step.padded_b.shape == (16,)
    g = torch.Generator().manual_seed(5)
    for _ in range(3):
        step.train(torch.randn(64, 30, generator=g), torch.randint(0, 10, (64,), generator=g),
                   torch.empty(64, 10))
    assert torch.count_nonzero(step.padded_W[:, 10:]) == 0
    assert torch.count_nonzero(step.padded_b[10:]) == 0
    before = weights(setup)
    step.end_epoch()
    assert not torch.equal(weights(setup)["1.weight"], before["1.weight"])
    with torch.no_grad():
        setup.model[1].weight.fill_(0.5)
    step.begin_epoch()
    assert torch.equal(step.padded_W[:, :10], torch.full((30, 10), 0.5))


@pytest.mark.parametrize(("labels", "rows", "message"), [
    ([0, 10], None, r"label is outside the classes \[0, 10\)"),
    ([0, -1], None, r"label is outside the classes \[0, 10\)"),
    ([0, 1], [0, 9], "row index is outside the data"),
    ([0, 1], [-1, 0], "row index is outside the data"),
])
def test_a_bad_label_or_row_is_refused_and_changes_nothing(labels, rows, message):
    setup = softmax_setup(12)
    before = weights(setup)
    step = KernelStep(setup)
    X, y = torch.rand(2, 12), torch.tensor(labels)
    with pytest.raises(ShallownetError, match=message):
        if rows is None:
            step.train(X, y, torch.empty(2, 10))
        else:
            step.bind(X, y)
            step(torch.tensor(rows), torch.empty(2, 10))
    step.end_epoch()
    assert_same_weights(weights(setup), before)


NO_KERNEL = {
    "mlp": ({"model": "mlp", "hidden": (8,)}, {}, "trains softmax only, not mlp"),
    "momentum": ({"optimizer": "momentum"}, {}, "plain SGD, not momentum"),
    "hand": ({"backward": "hand"}, {}, "by hand"),
    "float64": ({}, {"dtype": torch.float64}, "float32 weights, not torch.float64"),
    "many classes": ({}, {"num_outputs": 33}, "at most 32 classes, not 33"),
}


@pytest.mark.parametrize("case", NO_KERNEL)
def test_setups_the_kernel_does_not_train(case):
    config, build_options, reason = NO_KERNEL[case]
    config = {"model": "softmax", **config}
    options = {"input_shape": (12,), "num_outputs": 10, "seed": 0, **build_options}
    setup = build(ModelConfig(**config), **options)
    assert reason in why_no_kernel(setup)
    with pytest.raises(KernelUnavailable, match=reason):
        KernelStep(setup)


def test_the_kernel_runs_on_the_cpu_only():
    assert why_no_kernel(softmax_setup(), "cuda") == "the compiled step runs on the CPU, not cuda"
    assert why_no_kernel(softmax_setup(), "cpu") is None


# -- the trainer ---------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_kernel_and_fused_trainers_record_the_same_history(impl):
    data = blobs(n_train=300)
    kernel = make_trainer(epochs=3, step="kernel")
    a = kernel.fit(make_setup(data, impl=impl, weight_decay=0.01), data)
    fused = make_trainer(epochs=3)
    b = fused.fit(make_setup(data, impl=impl, weight_decay=0.01), data)
    assert (kernel.step_choice.name, fused.step_choice.name) == ("kernel", "fused")
    for x, y in zip(without_seconds(a), without_seconds(b), strict=True):
        assert x.keys() == y.keys()
        for key in x:
            assert x[key] == pytest.approx(y[key], rel=1e-4, abs=1e-5), key


def test_resuming_a_kernel_run_equals_training_straight_through():
    data = blobs()
    straight = make_setup(data)
    full = make_trainer(epochs=4, seed=2, step="kernel").fit(straight, data)
    first = make_setup(data)
    partial = make_trainer(epochs=2, seed=2, step="kernel").fit(first, data)
    resumed = make_setup(data, seed=99)
    resumed.model.load_state_dict(copy.deepcopy(first.model.state_dict()))
    history = make_trainer(epochs=4, seed=2, step="kernel").fit(resumed, data,
                                                               history=copy.deepcopy(partial))
    assert without_seconds(history) == without_seconds(full)
    assert_same_weights(weights(resumed), weights(straight))


def test_a_kernel_run_diverges_like_the_others():
    data = blobs()
    trainer = make_trainer(epochs=3, step="kernel")
    with pytest.raises(TrainingDiverged, match="learning rate"):
        trainer.fit(make_setup(data, lr=1e38), data)
    assert trainer.step_choice.name == "kernel"


def test_a_model_the_kernel_cannot_train_is_an_error_not_a_fallback():
    data = blobs()
    trainer = make_trainer(epochs=1, step="kernel")
    with pytest.raises(UsageError, match="the kernel step cannot train this model: the "
                       "compiled step trains softmax only, not mlp"):
        trainer.fit(make_setup(data, "mlp", hidden=(8,)), data)


def test_without_ninja_the_kernel_is_unavailable_before_any_data(monkeypatch):
    from torch.utils import cpp_extension

    monkeypatch.setattr(kernel_module, "_module", None)
    monkeypatch.setattr(kernel_module, "_failure", None)
    monkeypatch.setattr(cpp_extension, "is_ninja_available", lambda: False)
    with pytest.raises(KernelUnavailable, match=r"needs ninja \(pip install ninja\)"):
        load_kernel()
    data = blobs()
    with pytest.raises(KernelUnavailable, match="needs ninja"):
        make_trainer(epochs=1, step="kernel").fit(make_setup(data), data)
    # a run refuses it while choosing its step, before its data loads
    with pytest.raises(KernelUnavailable, match="needs ninja"):
        with_step(RunConfig(train=TrainSettings(step="kernel")).resolved())


def test_a_build_is_announced_once_and_a_cached_one_is_not(monkeypatch):
    monkeypatch.setattr(kernel_module, "_module", None)
    monkeypatch.setattr(kernel_module, "_failure", None)
    said = []
    load_kernel(said.append)  # built by an earlier test or now: either way in the cache
    monkeypatch.setattr(kernel_module, "_module", None)
    load_kernel(said.append)
    assert len(said) <= 1  # announced only if this test built it
    assert all("once; it takes about a minute" in line for line in said)


def test_array_loader_rows_are_the_batches_iteration_gathers():
    X, y = torch.arange(23.0).reshape(23, 1), torch.arange(23)
    for shuffle in (True, False):
        loader = ArrayLoader(X, y, batch_size=5, shuffle=shuffle, seed=7)
        rows = list(loader.rows())
        order = loader.last_order
        loader.set_epoch(0)
        gathered = list(loader)
        assert [len(r) for r in rows] == [5, 5, 5, 5, 3]
        assert all(r.dtype == torch.int64 for r in rows)
        for r, (Xb, yb) in zip(rows, gathered, strict=True):
            assert torch.equal(y[r], yb) and torch.equal(X[r], Xb)
        if shuffle:
            assert torch.equal(torch.cat(rows), order)
        else:
            assert order is None and torch.equal(torch.cat(rows), torch.arange(23))


# -- the run settings ----------------------------------------------------------------------


def test_the_step_is_saved_with_the_run():
    config = RunConfig(train=TrainSettings(step="kernel")).resolved()
    assert config.to_dict()["train"]["step"] == "kernel"
    assert RunConfig.from_dict(config.to_dict()).train.step == "kernel"
    assert RunConfig.from_dict({"train": {"kernel": True}}).train.step == "kernel"  # old runs


def test_uint8_labels_train_with_the_kernel():
    data = blobs()
    data = dataclasses.replace(data, train_y=data.train_y.to(torch.uint8),
                               test_y=data.test_y.to(torch.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trainer = make_trainer(epochs=1, step="kernel")
        history = trainer.fit(make_setup(blobs()), data)
    reference = make_trainer(epochs=1).fit(make_setup(blobs()), blobs())
    assert trainer.step_choice.name == "kernel"
    assert history[0]["train_loss"] == pytest.approx(reference[0]["train_loss"], rel=1e-4)
