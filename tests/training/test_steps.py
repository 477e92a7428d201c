"""Which step trains, why, and proof that it is the one that runs.

``--impl scratch --step autograd`` must run the scratch tier's own functions;
the tests count the calls into them (and, for ``concise``, into ``torch.nn``
and ``torch.optim``) during a real ``shallownet train``.
"""

from __future__ import annotations

import json

import pytest
import torch

from shallownet import scratch
from shallownet.errors import UsageError
from shallownet.registry import ModelConfig, build
from shallownet.training.distributed import DistributedStep, Group
from shallownet.training.fused import FusedStep
from shallownet.training.kernel import KernelStep
from shallownet.training.steps import (
    AUTO_RULE,
    STEPS,
    AutogradStep,
    Step,
    StepChoice,
    choose_step,
    make_step,
)
from tests.cli.clitools import run
from tests.conftest import write_tiny_dataset

N_TRAIN, BATCH, EPOCHS = 96, 32, 2
STEPS_RUN = EPOCHS * N_TRAIN // BATCH  # 6 minibatch steps in all


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("steps") / "tiny"
    write_tiny_dataset(directory, n_train=N_TRAIN, n_test=20)
    return directory


# --------------------------------------------------------------------------- the choice


@pytest.mark.parametrize(("config", "requested", "name", "reason"), [
    ({}, "auto", "fused", "auto: closed-form gradient, no autograd"),
    ({"model": "mlp"}, "auto", "fused", "auto: closed-form gradient, no autograd"),
    ({"optimizer": "adam"}, "auto", "fused",
     "auto: closed-form gradient, no autograd, then the scratch tier's Adam"),
    ({"optimizer": "adam", "impl": "concise"}, "auto", "fused",
     "auto: closed-form gradient, no autograd, then torch.optim's Adam"),
    ({"model": "mlp", "dropout": (0.2,), "impl": "concise"}, "auto", "autograd",
     "auto: torch.nn's cross_entropy loss and torch.optim's SGD, gradients by autograd; no "
     "fused step: the model uses dropout"),
    ({"model": "lenet"}, "auto", "autograd", "no fused step: lenet has no closed-form step"),
    ({"model": "linreg"}, "auto", "autograd", "no fused step: linreg has no closed-form step"),
    ({"backward": "hand"}, "auto", "autograd",
     "gradients by the chain rule by hand; no fused step: the gradients are asked for by hand"),
    ({}, "autograd", "autograd", "the scratch tier's cross_entropy loss and SGD, gradients by "
                                 "autograd"),
    ({"impl": "concise", "optimizer": "momentum"}, "autograd", "autograd",
     "torch.nn's cross_entropy loss and torch.optim's SGD with momentum, gradients by autograd"),
    ({}, "fused", "fused", "closed-form gradient, no autograd"),
    ({}, "kernel", "kernel", "compiled C++ step for this CPU"),
])
def test_the_choice_and_its_reason(config, requested, name, reason):
    cfg = ModelConfig(**config).resolved()
    choice = choose_step(cfg, requested)
    assert choice == StepChoice(name, choice.reason)
    assert reason in choice.reason
    assert str(choice) == f"{name} ({choice.reason})"


@pytest.mark.parametrize(("config", "requested", "device", "world", "message"), [
    ({"model": "mlp", "dropout": (0.3,)}, "fused", "cpu", 1,
     "the fused step cannot train this model: the model uses dropout"),
    ({"optimizer": "adam"}, "kernel", "cpu", 1, "updates with plain SGD, not adam"),
    ({"label_smoothing": 0.1}, "kernel", "cpu", 1, "without label smoothing"),
    ({"model": "mlp"}, "kernel", "cpu", 1, "the compiled step trains softmax only, not mlp"),
    ({}, "kernel", "cuda", 1, "the compiled step runs on the CPU, not cuda"),
    ({"model": "lenet"}, "fused", "cpu", 1, "lenet has no closed-form step"),
    ({}, "fused", "cpu", 2, "the fused step trains in one process"),
    ({}, "kernel", "cpu", 4, "the kernel step trains in one process"),
    ({}, "compiled", "cpu", 1, "unknown step 'compiled'; choose one of auto, autograd, fused, "
                               "kernel"),
])
def test_a_step_that_cannot_serve_is_an_error_not_a_fallback(config, requested, device, world,
                                                             message):
    with pytest.raises(UsageError, match=message) as info:
        choose_step(ModelConfig(**config).resolved(), requested, device=device,
                    world_size=world)
    assert all(h.name == "step" for h in info.value.hints)


@pytest.mark.parametrize("requested", ["auto", "autograd"])
def test_a_data_parallel_run_trains_through_autograd(requested):
    for impl, sync in (("scratch", "summed with all_reduce"),
                       ("concise", "averaged by DistributedDataParallel")):
        choice = choose_step(ModelConfig(impl=impl).resolved(), requested, world_size=2)
        assert choice == ("autograd", f"data-parallel: gradients {sync}")


def test_the_auto_rule_names_what_auto_picks():
    assert set(STEPS) == {"auto", "autograd", "fused", "kernel"}
    assert "fused where the model has it" in AUTO_RULE and "else autograd" in AUTO_RULE


# --------------------------------------------------------------------------- one interface


def softmax_setup(**config):
    return build(ModelConfig(**config), input_shape=(12,), num_outputs=4, seed=0)


def test_every_step_implements_the_one_protocol():
    steps = [AutogradStep(softmax_setup()), FusedStep(softmax_setup()),
             KernelStep(softmax_setup()),
             DistributedStep.__new__(DistributedStep)]  # (joining a group needs torchrun)
    for step in steps:
        assert isinstance(step, Step), type(step).__name__
    assert [s.name for s in steps] == ["autograd", "fused", "kernel", "autograd"]


@pytest.mark.parametrize("name", ["autograd", "fused", "kernel"])
def test_each_step_trains_the_rows_it_is_given_and_writes_their_outputs(name):
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(50, 12, generator=g), torch.randint(0, 4, (50,), generator=g)
    setup = softmax_setup()
    with torch.no_grad():
        expected = setup.model(X[torch.tensor([3, 7, 11])])
    step = make_step(name, setup)
    assert step.name == name
    step.bind(X, y)
    step.begin_epoch()
    out = torch.full((10, 4), float("nan"))
    rows = torch.tensor([3, 7, 11])
    assert torch.equal(step(rows, out), rows)
    step.end_epoch()
    torch.testing.assert_close(out[:3], expected, rtol=1e-5, atol=1e-6)
    assert bool(out[3:].isnan().all())  # nothing past the rows it trained


def test_make_step_in_a_group_of_one_is_the_plain_step():
    assert isinstance(make_step("fused", softmax_setup(), group=Group(0, 1)), FusedStep)


# --------------------------------------------------------------------------- what runs


class Counter:
    """Wraps a function or method and counts its calls (and the rows of its tensor arguments)."""

    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.f(*args, **kwargs)


def count_calls(monkeypatch, owner, name) -> Counter:
    counter = Counter(getattr(owner, name))
    monkeypatch.setattr(owner, name, counter)
    return counter


def count_method_calls(monkeypatch, cls, name) -> Counter:
    original = getattr(cls, name)
    counter = Counter(original)

    def wrapper(self, *args, **kwargs):
        return counter(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, wrapper)
    return counter


def train(capsys, idx_dir, tmp_path, *options):
    code, out, err = run(capsys, "train", "--data-dir", idx_dir, "--no-verify",
                         "--epochs", EPOCHS, "--batch-size", BATCH, "--out", tmp_path / "run",
                         "--no-plots", "-q", "--json", *options)
    assert code == 0, err
    return out.splitlines()[0], json.loads(out.splitlines()[-1])


def test_scratch_autograd_runs_the_scratch_functions(capsys, idx_dir, tmp_path, monkeypatch):
    loss = count_calls(monkeypatch, scratch, "cross_entropy")
    step = count_method_calls(monkeypatch, scratch.SGD, "step")
    torch_step = count_method_calls(monkeypatch, torch.optim.SGD, "step")
    header, summary = train(capsys, idx_dir, tmp_path, "--impl", "scratch", "--step", "autograd")
    assert step.calls == STEPS_RUN  # every minibatch went through scratch.SGD.step
    assert loss.calls >= STEPS_RUN  # and through scratch.cross_entropy
    assert torch_step.calls == 0
    assert summary["step"] == "autograd"
    assert header.endswith("step autograd (the scratch tier's cross_entropy loss and SGD, "
                           "gradients by autograd)")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["step"] == "autograd"
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["final"]["step"] == "autograd"


def test_concise_autograd_runs_torch_nn_and_torch_optim(capsys, idx_dir, tmp_path,
                                                        monkeypatch):
    loss = count_calls(monkeypatch, torch.nn.functional, "cross_entropy")
    step = count_method_calls(monkeypatch, torch.optim.SGD, "step")
    scratch_loss = count_calls(monkeypatch, scratch, "cross_entropy")
    scratch_step = count_method_calls(monkeypatch, scratch.SGD, "step")
    _, summary = train(capsys, idx_dir, tmp_path, "--impl", "concise", "--step", "autograd")
    assert step.calls == STEPS_RUN and loss.calls >= STEPS_RUN
    assert scratch_loss.calls == scratch_step.calls == 0
    assert summary["step"] == "autograd"


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_the_fused_step_runs_no_optimiser_step(capsys, idx_dir, tmp_path, monkeypatch, impl):
    """The control: counting would see a difference if the wrong step ran."""
    steps = [count_method_calls(monkeypatch, scratch.SGD, "step"),
             count_method_calls(monkeypatch, torch.optim.SGD, "step")]
    header, summary = train(capsys, idx_dir, tmp_path, "--impl", impl)
    assert [s.calls for s in steps] == [0, 0]
    assert summary["step"] == "fused"
    assert header.endswith("step fused (auto: closed-form gradient, no autograd)")


def test_autograd_and_fused_give_the_same_figures(capsys, idx_dir, tmp_path):
    figures = {}
    for step in ("autograd", "fused"):
        _, summary = train(capsys, idx_dir, tmp_path / step, "--step", step, "--model", "mlp")
        figures[step] = summary
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert figures["autograd"][key] == pytest.approx(figures["fused"][key], rel=1e-5), key


def test_resume_keeps_the_step(capsys, idx_dir, tmp_path):
    train(capsys, idx_dir, tmp_path, "--step", "autograd")
    code, out, err = run(capsys, "train", "--resume", tmp_path / "run", "--epochs", EPOCHS + 1,
                         "-q", "--no-plots", "--json")
    assert code == 0, err
    assert out.splitlines()[0] == f"resuming {tmp_path / 'run'}, step autograd"
    assert json.loads(out.splitlines()[-1])["step"] == "autograd"
    code, out, err = run(capsys, "train", "--resume", tmp_path / "run", "--step", "fused")
    assert code == 1 and "--step cannot change" in err


def test_auto_takes_the_compiled_step_where_it_is_built(monkeypatch):
    from shallownet.training import kernel

    monkeypatch.delenv("SHALLOWNET_AUTO_KERNEL")
    cfg = ModelConfig().resolved()
    monkeypatch.setattr(kernel, "kernel_is_built", lambda: True)
    assert choose_step(cfg) == ("kernel", "auto: compiled C++ step for this CPU")
    assert choose_step(cfg, augment=True).name == "fused"
    assert choose_step(cfg, device="cuda").name == "fused"
    assert choose_step(ModelConfig(optimizer="momentum").resolved()).name == "fused"
    monkeypatch.setattr(kernel, "kernel_is_built", lambda: False)
    assert choose_step(cfg).name == "fused"
    monkeypatch.setattr(kernel, "kernel_is_built", lambda: True)
    monkeypatch.setenv("SHALLOWNET_AUTO_KERNEL", "0")
    assert choose_step(cfg).name == "fused"


def test_a_compiled_step_auto_chose_that_turns_out_not_to_fit_gives_way(monkeypatch):
    from shallownet.training import kernel

    monkeypatch.delenv("SHALLOWNET_AUTO_KERNEL")
    monkeypatch.setattr(kernel, "kernel_is_built", lambda: True)
    setup = build(ModelConfig(), input_shape=(6,), num_outputs=40, seed=0)  # > 32 classes
    g = torch.Generator().manual_seed(0)
    from shallownet.training.data import TrainingData

    data = TrainingData("forty", torch.randn(80, 6, generator=g), torch.arange(80) % 40,
                        torch.randn(40, 6, generator=g), torch.arange(40) % 40,
                        task="classification", classes=tuple(map(str, range(40))))
    from shallownet.training import Trainer

    trainer = Trainer(1, 16, log=False, progress=False)
    trainer.fit(setup, data)
    assert trainer.step_choice.name == "fused"
    assert "not the compiled step: the compiled step takes at most 32 classes" in \
        trainer.step_choice.reason
