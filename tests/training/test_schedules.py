"""Learning-rate schedules: their curves, and the trainer following them step by step."""

from __future__ import annotations

import pytest
import torch

from shallownet.errors import UsageError
from shallownet.training.callbacks import Callback
from shallownet.training.schedules import SCHEDULES, make_schedule
from tests.training.test_trainer import blobs, make_setup, make_trainer


def test_constant_is_the_base_rate_and_does_not_vary():
    s = make_schedule("constant", 0.1, 100)
    assert [s(t) for t in (0, 50, 99)] == [0.1, 0.1, 0.1] and not s.varies


def test_cosine_falls_from_the_peak_to_zero():
    s = make_schedule("cosine", 0.2, 100)
    assert s(0) == pytest.approx(0.2) and s(50) == pytest.approx(0.1) and s(100) == 0.0
    rates = [s(t) for t in range(101)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_onecycle_climbs_for_30_percent_then_falls():
    s = make_schedule("onecycle", 1.0, 1000)
    assert s(0) == pytest.approx(1 / 25)
    assert s(150) == pytest.approx(1 / 25 + (1 - 1 / 25) * 0.5)
    assert s(300) == pytest.approx(1.0)
    assert s(650) == pytest.approx(0.5) and s(1000) == 0.0
    assert max(s(t) for t in range(1001)) == pytest.approx(1.0)


def test_a_warmup_goes_in_front_of_any_schedule():
    s = make_schedule("constant", 0.5, 100, warmup=0.1)
    assert s.varies and s(0) == pytest.approx(0.02) and s(10) == 0.5 and s(99) == 0.5
    c = make_schedule("cosine", 0.5, 100, warmup=0.2)
    assert c(20) == pytest.approx(0.5) and c(60) == pytest.approx(0.25)


@pytest.mark.parametrize(("kind", "warmup", "message"), [
    ("linear", None, "unknown schedule 'linear'"),
    ("cosine", 1.0, r"warmup is a share of the run in \[0, 1\)"),
    ("cosine", -0.1, "warmup is a share"),
])
def test_bad_schedules_are_refused(kind, warmup, message):
    with pytest.raises(UsageError, match=message):
        make_schedule(kind, 0.1, 10, warmup=warmup)


@pytest.mark.parametrize("step", ["autograd", "fused"])
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_the_trainer_sets_every_steps_rate(step, schedule, monkeypatch):
    data = blobs(n_train=64)  # 4 batches of 16 an epoch
    setup = make_setup(data, lr=0.4)
    trainer = make_trainer(epochs=2, batch_size=16, step=step, schedule=schedule)
    seen = []
    from shallownet.training import steps as steps_module

    made = steps_module.make_step

    def recording(choice, setup, **kw):
        made_step = made(choice, setup, **kw)
        original = made_step.set_lr
        made_step.set_lr = lambda lr: (seen.append(lr), original(lr))
        return made_step

    monkeypatch.setattr("shallownet.training.trainer.make_step", recording)
    trainer.fit(setup, data)
    expected = [make_schedule(schedule, 0.4, 8)(t) for t in range(8)]
    if schedule == "constant":
        assert seen == []  # nothing to change
    else:
        assert seen == pytest.approx(expected)


def test_fused_and_autograd_follow_the_same_schedule_to_the_same_weights():
    data = blobs(labels="random")
    results = []
    for step in ("fused", "autograd"):
        setup = make_setup(data, "mlp", hidden=(8,), lr=0.5, weight_decay=0.01)
        history = make_trainer(epochs=3, step=step, schedule="onecycle").fit(setup, data)
        results.append((history[-1]["train_loss"], setup.model.state_dict()))
    (a, wa), (b, wb) = results
    assert a == pytest.approx(b, rel=1e-5)
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-4, atol=1e-6)


class StopAfter(Callback):
    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, trainer, setup, history):
        trainer.stop_training = len(history) >= self.epochs


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_a_run_stopped_and_continued_follows_the_same_curve(schedule):
    """Cut after 2 of 4 planned epochs, then continued: the rates, hence the figures and
    weights, are those of the run straight through."""
    data = blobs()
    straight_setup = make_setup(data, "mlp", hidden=(8,), optimizer="momentum")
    straight = make_trainer(epochs=4, schedule=schedule).fit(straight_setup, data)
    setup = make_setup(data, "mlp", hidden=(8,), optimizer="momentum")
    part = make_trainer(epochs=4, schedule=schedule).fit(setup, data, callbacks=[StopAfter(2)])
    assert len(part) == 2
    rest = make_trainer(epochs=4, schedule=schedule).fit(setup, data, history=part)
    strip = [[{k: v for k, v in r.items() if k != "seconds"} for r in h] for h in (straight, rest)]
    assert strip[0] == strip[1]
    for k, v in straight_setup.model.state_dict().items():
        assert torch.equal(v, setup.model.state_dict()[k]), k
