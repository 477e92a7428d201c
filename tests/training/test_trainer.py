"""The trainer: epochs of minibatch SGD on small synthetic tensors, and what it records."""

from __future__ import annotations

import copy
import math
import warnings

import pytest
import torch

from shallownet.data.iterator import ArrayLoader
from shallownet.errors import TrainingDiverged, UsageError
from shallownet.registry import ModelConfig, build
from shallownet.training.callbacks import Callback
from shallownet.training.data import TrainingData
from shallownet.training.evaluation import estimated_w_b
from shallownet.training.printing import format_epoch
from shallownet.training.trainer import Trainer

CLASSIFIER_KEYS = {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"}
REGRESSION_KEYS = {"epoch", "train_loss", "test_loss", "w_error", "b_error", "seconds"}
TRUE_W = (2.0, -3.4, 1.5)
TRUE_B = 4.2


def blobs(n_train: int = 150, n_test: int = 60, *, seed: int = 0, spread: float = 1.0,
          labels: str = "blobs") -> TrainingData:
    """3 classes of 64 features shaped (n, 1, 8, 8): Gaussian blobs (or random labels)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(3, 64, generator=g)

    def part(n):
        y = torch.arange(n) % 3
        X = centres[y] + spread * torch.randn(n, 64, generator=g)
        if labels == "random":
            y = torch.randint(0, 3, (n,), generator=g)
        return X.reshape(n, 1, 8, 8), y

    train_X, train_y = part(n_train)
    test_X, test_y = part(n_test)
    return TrainingData(name="blobs", train_X=train_X, train_y=train_y, test_X=test_X,
                        test_y=test_y, task="classification", classes=("a", "b", "c"))


def linear(n_train: int = 200, n_test: int = 50, *, seed: int = 0,
           noise: float = 0.01) -> TrainingData:
    """y = X w + b + noise with known w (3 features) and b."""
    g = torch.Generator().manual_seed(seed)
    w = torch.tensor(TRUE_W)

    def part(n):
        X = torch.randn(n, 3, generator=g)
        return X, (X @ w + TRUE_B + noise * torch.randn(n, generator=g)).reshape(-1, 1)

    train_X, train_y = part(n_train)
    test_X, test_y = part(n_test)
    return TrainingData(name="linear", train_X=train_X, train_y=train_y, test_X=test_X,
                        test_y=test_y, task="regression", classes=None, true_w=w,
                        true_b=TRUE_B)


def make_setup(data: TrainingData, model: str = "softmax", *, seed: int = 0, **config):
    return build(ModelConfig(model=model, **config), input_shape=data.input_shape,
                 num_outputs=data.num_outputs, seed=seed)


def make_trainer(epochs: int = 3, batch_size: int = 16, **options) -> Trainer:
    options = {"seed": 0, "device": "cpu", "log": False, "progress": False,
               "live_plot": False, **options}
    return Trainer(epochs, batch_size, **options)


class OnEpochEnd(Callback):
    """Calls ``f(epoch, history)`` after each epoch."""

    def __init__(self, f):
        self.f = f

    def on_epoch_end(self, trainer, setup, history):
        self.f(len(history), history)


def without_seconds(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


def weights(setup):
    return {k: v.detach().clone() for k, v in setup.model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# -- what fit records ----------------------------------------------------------------------


def test_classifier_history_has_one_record_per_epoch():
    data = blobs()
    history = make_trainer(epochs=3).fit(make_setup(data), data)
    assert [r["epoch"] for r in history] == [1, 2, 3]
    for record in history:
        assert set(record) == CLASSIFIER_KEYS
        assert all(isinstance(record[k], float) for k in CLASSIFIER_KEYS - {"epoch"})
        assert record["seconds"] >= 0
        assert 0 <= record["train_acc"] <= 1 and 0 <= record["test_acc"] <= 1


def test_regression_history_has_parameter_errors_and_no_accuracy():
    data = linear()
    history = make_trainer(epochs=2, batch_size=10).fit(make_setup(data, "linreg"), data)
    assert len(history) == 2
    for record in history:
        assert set(record) == REGRESSION_KEYS


def test_regression_without_known_parameters_has_no_parameter_errors():
    data = linear()
    data.true_w, data.true_b = None, None
    history = make_trainer(epochs=1, batch_size=10).fit(make_setup(data, "linreg"), data)
    assert set(history[0]) == {"epoch", "train_loss", "test_loss", "seconds"}


def test_loss_goes_down_and_separable_blobs_are_learnt():
    data = blobs()
    history = make_trainer(epochs=5).fit(make_setup(data), data)
    losses = [r["train_loss"] for r in history]
    assert losses[-1] < losses[0] / 2
    assert history[-1]["train_acc"] >= 0.98
    assert history[-1]["test_acc"] >= 0.98


def test_linear_regression_recovers_w_and_b():
    data = linear()
    setup = make_setup(data, "linreg", lr=0.1)
    history = make_trainer(epochs=5, batch_size=10).fit(setup, data)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["w_error"] < 0.05 and history[-1]["b_error"] < 0.05
    assert history[-1]["w_error"] < history[0]["w_error"]
    # the recorded errors are those of the final weights
    w, b = estimated_w_b(setup.model)
    assert history[-1]["w_error"] == pytest.approx(
        float(torch.linalg.vector_norm(w - torch.tensor(TRUE_W))), rel=1e-6)
    assert history[-1]["b_error"] == pytest.approx(abs(float(b[0]) - TRUE_B), rel=1e-6)


def test_train_figures_are_the_mean_over_one_epochs_batches():
    """Replay epoch 1 by hand with the loader's order: the same losses, accuracy and weights."""
    data = blobs(n_train=70)  # 70 = 4 full batches of 16 and one of 6
    setup, twin = make_setup(data, lr=0.5), make_setup(data, lr=0.5)
    history = make_trainer(epochs=1, batch_size=16, seed=5, step="autograd").fit(setup, data)

    loader = ArrayLoader(data.train_X, data.train_y, batch_size=16, seed=5)
    loader.set_epoch(0)
    total, correct = 0.0, 0
    for X, y in loader:
        losses, outputs = twin.train_step(X, y)
        total += float(losses.double().sum())
        correct += int((outputs.argmax(1) == y).sum())
    assert history[0]["train_loss"] == pytest.approx(total / 70, rel=1e-9)
    assert history[0]["train_acc"] == correct / 70
    assert_same_weights(weights(setup), weights(twin))


# -- determinism and resuming ----------------------------------------------------------------


@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_same_seed_gives_the_same_history_and_weights(model):
    data = blobs()
    config = {"hidden": (16,), "dropout": (0.3,)} if model == "mlp" else {}
    runs = []
    for _ in range(2):
        setup = make_setup(data, model, **config)
        history = make_trainer(epochs=3, seed=4).fit(setup, data)
        runs.append((without_seconds(history), weights(setup)))
    assert runs[0][0] == runs[1][0]
    assert_same_weights(runs[0][1], runs[1][1])


def test_a_different_seed_gives_a_different_run():
    data = blobs()
    a, b = make_setup(data), make_setup(data)
    history_a = make_trainer(epochs=2, seed=0).fit(a, data)
    history_b = make_trainer(epochs=2, seed=1).fit(b, data)
    assert without_seconds(history_a) != without_seconds(history_b)
    assert not torch.equal(weights(a)["linear.W"], weights(b)["linear.W"])


def test_dropout_masks_change_with_the_seed():
    data = blobs()
    config = {"hidden": (16,), "dropout": (0.5,)}
    histories = []
    for seed in (0, 1):
        setup = make_setup(data, "mlp", **config)
        histories.append(without_seconds(make_trainer(epochs=1, seed=seed).fit(setup, data)))
    assert histories[0] != histories[1]


RESUME_CASES = {
    "scratch-momentum": ("softmax", {"impl": "scratch", "optimizer": "momentum"}),
    "scratch-adam": ("softmax", {"impl": "scratch", "optimizer": "adam"}),
    "concise-momentum": ("softmax", {"impl": "concise", "optimizer": "momentum"}),
    "concise-adam": ("softmax", {"impl": "concise", "optimizer": "adam"}),
    "scratch-mlp-dropout": ("mlp", {"impl": "scratch", "hidden": (16,), "dropout": (0.5,),
                                    "optimizer": "momentum"}),
    "concise-mlp-dropout": ("mlp", {"impl": "concise", "hidden": (16,), "dropout": (0.5,),
                                    "optimizer": "adam"}),
    # plain SGD: the fused step (training/fused.py)
    "fused-softmax-scratch": ("softmax", {}),
    "fused-softmax-concise": ("softmax", {"impl": "concise", "weight_decay": 0.01}),
    "fused-mlp-scratch": ("mlp", {"hidden": (16,)}),
    "fused-mlp-concise": ("mlp", {"impl": "concise", "hidden": (16, 8), "activation": "sigmoid"}),
}


@pytest.mark.parametrize("case", RESUME_CASES)
def test_resuming_from_a_state_dict_equals_training_straight_through(case):
    model, config = RESUME_CASES[case]
    data = blobs()
    straight = make_setup(data, model, **config)
    full = make_trainer(epochs=4, seed=2).fit(straight, data)

    first = make_setup(data, model, **config)
    partial = make_trainer(epochs=2, seed=2).fit(first, data)
    saved_model = copy.deepcopy(first.model.state_dict())
    saved_optimizer = copy.deepcopy(first.optimizer.state_dict())
    del first

    resumed = make_setup(data, model, seed=99, **config)  # other initial weights: overwritten
    resumed.model.load_state_dict(saved_model)
    resumed.optimizer.load_state_dict(saved_optimizer)
    calls = []
    history = make_trainer(epochs=4, seed=2).fit(
        resumed, data, history=copy.deepcopy(partial),
        callbacks=[OnEpochEnd(lambda epoch, h: calls.append(epoch))])

    assert calls == [3, 4]
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    assert without_seconds(history) == without_seconds(full)
    assert_same_weights(weights(resumed), weights(straight))


def test_resuming_without_the_optimizer_state_is_detectably_different():
    """Control for the test above: momentum matters, so the comparison can fail."""
    data = blobs()
    config = {"optimizer": "momentum"}
    straight = make_setup(data, **config)
    full = make_trainer(epochs=3, seed=2).fit(straight, data)
    first = make_setup(data, **config)
    partial = make_trainer(epochs=2, seed=2).fit(first, data)
    resumed = make_setup(data, **config)
    resumed.model.load_state_dict(copy.deepcopy(first.model.state_dict()))
    history = make_trainer(epochs=3, seed=2).fit(resumed, data, history=partial)
    assert without_seconds(history) != without_seconds(full)


def test_fit_does_not_change_the_history_it_is_given():
    data = blobs()
    given = [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "test_loss": 1.0,
              "test_acc": 0.5, "seconds": 0.0}]
    snapshot = copy.deepcopy(given)
    history = make_trainer(epochs=2).fit(make_setup(data), data, history=given)
    assert given == snapshot
    assert len(history) == 2 and history[0] == snapshot[0]


def test_zero_epochs_or_a_complete_history_trains_nothing():
    data = blobs()
    setup = make_setup(data)
    before = weights(setup)
    assert make_trainer(epochs=0).fit(setup, data) == []
    done = [{"epoch": e, "seconds": 0.0} for e in (1, 2)]
    assert make_trainer(epochs=2).fit(setup, data, history=done) == done
    assert_same_weights(before, weights(setup))


# -- evaluate and predict ---------------------------------------------------------------------


def test_evaluate_equals_a_hand_computation():
    data = blobs()
    setup = make_setup(data)
    make_trainer(epochs=1).fit(setup, data)
    trainer = make_trainer()
    result = trainer.evaluate(setup, data.test_X, data.test_y)

    with torch.no_grad():
        outputs = setup.model(data.test_X)
        loss = float(setup.loss(outputs, data.test_y).double().mean())
        acc = float((outputs.argmax(1) == data.test_y).double().mean())
    assert set(result) == {"loss", "acc", "n"}
    assert result["n"] == len(data.test_y)
    assert result["loss"] == pytest.approx(loss, rel=1e-6)
    assert result["acc"] == pytest.approx(acc)


def test_evaluate_regression_has_no_accuracy():
    data = linear()
    setup = make_setup(data, "linreg")
    result = make_trainer().evaluate(setup, data.test_X, data.test_y)
    with torch.no_grad():
        expected = float(((setup.model(data.test_X) - data.test_y) ** 2 / 2).double().mean())
    assert set(result) == {"loss", "n"}
    assert result["loss"] == pytest.approx(expected, rel=1e-6)


def test_evaluate_uses_eval_mode_and_restores_the_mode():
    data = blobs()
    setup = make_setup(data, "mlp", hidden=(32,), dropout=(0.5,))
    trainer = make_trainer()
    setup.model.train()
    first = trainer.evaluate(setup, data.test_X, data.test_y)
    second = trainer.evaluate(setup, data.test_X, data.test_y)
    assert first == second  # no dropout while evaluating
    assert setup.model.training
    assert all(m.training for m in setup.model.modules())

    setup.model.eval()
    with torch.no_grad():
        outputs = setup.model(data.test_X)
    assert first["loss"] == pytest.approx(float(setup.loss(outputs, data.test_y).double().mean()),
                                          rel=1e-6)
    trainer.evaluate(setup, data.test_X, data.test_y)
    assert not setup.model.training  # a model in eval mode stays there


def test_evaluate_and_predict_build_no_autograd_graph():
    data = blobs()
    setup = make_setup(data)
    seen = []
    setup.model.register_forward_hook(
        lambda module, inputs, output: seen.append((torch.is_grad_enabled(),
                                                    output.requires_grad)))
    trainer = make_trainer()
    outputs = trainer.predict(setup, data.test_X)
    trainer.evaluate(setup, data.test_X, data.test_y)
    assert seen == [(False, False), (False, False)]
    assert outputs.grad_fn is None and not outputs.requires_grad
    assert all(p.grad is None for p in setup.model.parameters())


def test_predict_in_batches_that_do_not_divide_n():
    data = blobs(n_test=23)
    setup = make_setup(data)
    sizes = []
    setup.model.register_forward_hook(lambda m, inputs, o: sizes.append(len(inputs[0])))
    outputs = make_trainer(eval_batch_size=7).predict(setup, data.test_X)
    assert sizes == [7, 7, 7, 2]
    assert outputs.shape == (23, 3)
    with torch.no_grad():
        expected = setup.model(data.test_X)
    torch.testing.assert_close(outputs, expected, rtol=1e-6, atol=1e-6)


def test_predict_of_no_examples_is_a_usage_error():
    data = blobs()
    with pytest.raises(UsageError, match="no examples"):
        make_trainer().predict(make_setup(data), data.test_X[:0])


# -- tiers and backprop by hand -----------------------------------------------------------------


def test_scratch_and_concise_softmax_follow_the_same_history():
    data = blobs()
    histories = [
        without_seconds(make_trainer(epochs=3).fit(make_setup(data, impl=impl), data))
        for impl in ("scratch", "concise")
    ]
    for a, b in zip(*histories, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], abs=1e-5), key


@pytest.mark.parametrize(("model", "make_data"), [("softmax", blobs), ("linreg", linear)])
def test_backprop_by_hand_trains_like_autograd(model, make_data):
    data = make_data()
    hand = make_trainer(epochs=3, batch_size=10).fit(
        make_setup(data, model, backward="hand"), data)
    auto = make_trainer(epochs=3, batch_size=10).fit(make_setup(data, model), data)
    assert hand[-1]["train_loss"] < hand[0]["train_loss"]
    for a, b in zip(without_seconds(hand), without_seconds(auto), strict=True):
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-5), key


def test_mlp_backprop_by_hand_learns_the_blobs():
    data = blobs()
    history = make_trainer(epochs=4).fit(
        make_setup(data, "mlp", hidden=(16,), backward="hand"), data)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["test_acc"] >= 0.95


# -- divergence ------------------------------------------------------------------------------


def first_bad_step(setup, data, *, batch_size: int, seed: int, epochs: int):
    """Replay training step by step; (epoch, step) of the first non-finite batch loss."""
    loader = ArrayLoader(data.train_X, data.train_y, batch_size=batch_size, seed=seed)
    for epoch in range(1, epochs + 1):
        loader.set_epoch(epoch - 1)
        for step, (X, y) in enumerate(loader, start=1):
            losses, _ = setup.train_step(X, y)
            if not math.isfinite(float(losses.double().sum())):
                return epoch, step
    return None


@pytest.mark.parametrize("check_every", [1, 3, 50])
def test_a_huge_learning_rate_raises_training_diverged(check_every):
    data = linear()
    expected = first_bad_step(make_setup(data, "linreg", lr=1e6), data, batch_size=10, seed=0,
                              epochs=3)
    assert expected is not None and expected[1] > 1  # it did diverge, after a good step
    epoch, step = expected

    setup = make_setup(data, "linreg", lr=1e6)
    with pytest.raises(TrainingDiverged) as info:
        make_trainer(epochs=3, batch_size=10, check_every=check_every).fit(setup, data)
    error = info.value
    assert (error.epoch, error.step) == (epoch, step)
    message = str(error)
    assert f"epoch {epoch}" in message
    assert f"step {step} of 20" in message
    assert "learning rate" in message
    assert "lr = 1e+06" in message and "lr=100000" in message
    assert [str(h) for h in error.hints] == ["lr=100000"]


def nan_data(kind: str, row: int) -> TrainingData:
    data = blobs() if kind == "classification" else linear()
    data.train_X = data.train_X.clone()
    data.train_X.view(len(data.train_X), -1)[row, 1] = math.nan
    return data


@pytest.mark.parametrize("kind", ["classification", "regression"])
@pytest.mark.parametrize("row", [0, 57, 149])
def test_a_nan_feature_diverges_at_the_step_of_its_batch(kind, row):
    data = nan_data(kind, row)
    batch_size, seed = 16, 7
    order = ArrayLoader(data.train_X, data.train_y, batch_size=batch_size, seed=seed).order(0)
    step = int((order == row).nonzero()[0, 0]) // batch_size + 1

    model = "softmax" if kind == "classification" else "linreg"
    with pytest.raises(TrainingDiverged) as info:
        make_trainer(epochs=2, batch_size=batch_size, seed=seed, check_every=4).fit(
            make_setup(data, model), data)
    assert (info.value.epoch, info.value.step) == (1, step)
    assert f"step {step} of {math.ceil(len(data.train_X) / batch_size)}" in str(info.value)


def test_divergence_in_a_resumed_epoch_counts_from_that_epoch():
    data = nan_data("classification", 42)
    batch_size, seed = 16, 3
    order = ArrayLoader(data.train_X, data.train_y, batch_size=batch_size, seed=seed).order(2)
    step = int((order == 42).nonzero()[0, 0]) // batch_size + 1
    done = [{"epoch": 1, "seconds": 0.0}, {"epoch": 2, "seconds": 0.0}]
    with pytest.raises(TrainingDiverged) as info:
        make_trainer(epochs=3, batch_size=batch_size, seed=seed).fit(make_setup(data), data,
                                                                     history=done)
    assert (info.value.epoch, info.value.step) == (3, step)


def test_a_growing_loss_warns():
    data = blobs(n_train=128, labels="random")
    with pytest.warns(UserWarning, match=r"training loss grew .* during epoch 1.*learning rate"):
        history = make_trainer(epochs=1).fit(make_setup(data, lr=1e4), data)
    assert math.isfinite(history[0]["train_loss"])


def test_a_normal_run_does_not_warn():
    data = blobs()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_trainer(epochs=3).fit(make_setup(data), data)
    assert not [w for w in caught if "training loss grew" in str(w.message)]


def test_an_epoch_that_ends_with_exploded_weights_is_not_recorded_as_good():
    data = linear(n_train=50)
    saved = []
    with pytest.raises(TrainingDiverged) as info:
        # one step per epoch: its loss is finite, the update it makes is not survivable
        make_trainer(epochs=3, batch_size=50).fit(
            make_setup(data, "linreg", lr=1e25), data,
            callbacks=[OnEpochEnd(lambda epoch, history: saved.append(history[-1]))])
    assert all(math.isfinite(r["test_loss"]) for r in saved), saved
    assert info.value.epoch == 1


def test_an_empty_training_set_is_a_usage_error():
    data = blobs()
    data.train_X, data.train_y = data.train_X[:0], data.train_y[:0]
    with pytest.raises(UsageError):
        make_trainer(epochs=1).fit(make_setup(data), data)


# -- callbacks, names, logging ------------------------------------------------------------------


def test_a_callback_runs_once_per_epoch_with_the_growing_history():
    data = blobs()
    calls = []
    history = make_trainer(epochs=3).fit(
        make_setup(data), data,
        callbacks=[OnEpochEnd(lambda epoch, h: calls.append((epoch, [r["epoch"] for r in h])))])
    assert calls == [(1, [1]), (2, [1, 2]), (3, [1, 2, 3])]
    assert len(history) == 3


def test_eval_name_renames_the_held_out_figures():
    data = blobs()
    history = make_trainer(epochs=1).fit(make_setup(data), data, eval_name="val")
    assert set(history[0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc",
                               "seconds"}


def test_log_gets_one_formatted_line_per_epoch():
    data = blobs()
    lines = []
    history = make_trainer(epochs=2, log=lines.append).fit(make_setup(data), data)
    assert lines == [format_epoch(r, 2) for r in history]


def test_log_false_prints_nothing_and_default_prints(capsys):
    data = blobs(n_train=20, n_test=5)
    make_trainer(epochs=1, log=False).fit(make_setup(data), data)
    assert capsys.readouterr().out == ""
    make_trainer(epochs=1, log=None).fit(make_setup(data), data)
    assert capsys.readouterr().out.startswith("epoch 1/1  train loss ")


def test_the_default_live_plot_draws_nothing_outside_jupyter():
    data = blobs(n_train=20, n_test=5)
    history = make_trainer(epochs=2, live_plot=None).fit(make_setup(data), data)
    assert len(history) == 2


# -- refusals --------------------------------------------------------------------------------


def test_a_model_for_another_input_shape_is_refused():
    data = blobs()
    setup = build(ModelConfig(model="softmax"), input_shape=(64,), num_outputs=3, seed=0)
    with pytest.raises(UsageError, match=r"\(64,\).*\(1, 8, 8\)"):
        make_trainer().fit(setup, data)


@pytest.mark.parametrize(("model", "make_data", "shape"),
                         [("linreg", blobs, (1, 8, 8)), ("softmax", linear, (3,))])
def test_a_model_for_another_task_is_refused(model, make_data, shape):
    data = make_data()
    setup = build(ModelConfig(model=model), input_shape=shape,
                  num_outputs=1 if model == "linreg" else 3, seed=0)
    with pytest.raises(UsageError, match="dataset"):
        make_trainer().fit(setup, data)


@pytest.mark.parametrize(("args", "options", "match"), [
    ((-1,), {}, "epochs"),
    ((1.5,), {}, "epochs"),
    ((True,), {}, "epochs"),
    ((3, 0), {}, "batch_size"),
    ((3, "8"), {}, "batch_size"),
    ((3, 8), {"seed": "x"}, "seed"),
    ((3, 8), {"seed": 1.0}, "seed"),
    ((3, 8), {"seed": True}, "seed"),
    ((3, 8), {"check_every": 0}, "check_every"),
    ((3, 8), {"eval_batch_size": 0}, "eval_batch_size"),
    ((3, 8), {"device": "gpu"}, "device"),
])
def test_trainer_arguments_are_checked(args, options, match):
    with pytest.raises(UsageError, match=match):
        Trainer(*args, **options)


def test_zero_epochs_is_allowed():
    assert Trainer(0, 8, device="cpu").epochs == 0
