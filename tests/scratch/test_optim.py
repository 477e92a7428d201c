"""The scratch optimisers against their update rules and against ``torch.optim``.

Everything runs in float64 so that agreement can be asked to ~1e-12: the
scratch and torch implementations differ only in the order of a few
floating-point operations.
"""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch
from torch import nn

from shallownet.errors import UsageError
from shallownet.scratch import SGD, Adam, linreg, sgd, squared_loss

F64 = torch.float64
SHAPES = ((4, 3), (3,), (3, 2), (2,))
TOL = {"rtol": 1e-12, "atol": 1e-12}


def make_params(seed: int = 0, shapes=SHAPES) -> list[nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [nn.Parameter(torch.randn(s, generator=g, dtype=F64)) for s in shapes]


def twin(params) -> list[nn.Parameter]:
    """Independent copies with the same values."""
    return [nn.Parameter(p.detach().clone()) for p in params]


def grad_sequence(steps: int, seed: int = 1, shapes=SHAPES) -> list[list[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(s, generator=g, dtype=F64) for s in shapes] for _ in range(steps)]


def set_grads(params, grads) -> None:
    for p, grad in zip(params, grads, strict=True):
        p.grad = None if grad is None else grad.clone()


def assert_same(got, expected, **tol) -> None:
    tol = tol or TOL
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a.detach(), b.detach(), **tol)


def total_change(params, start) -> float:
    pairs = zip(params, start, strict=True)
    return sum(float((p.detach() - s.detach()).abs().sum()) for p, s in pairs)


# --------------------------------------------------------------------------------------------
# The book's sgd(params, lr, batch_size)
# --------------------------------------------------------------------------------------------


def test_book_sgd_on_summed_loss_equals_torch_sgd_on_mean_loss():
    """``sgd`` takes gradients of the SUMMED batch loss and divides by ``batch_size``;
    ``torch.optim.SGD`` takes gradients of the MEAN loss. Same steps, batch after batch."""
    g = torch.Generator().manual_seed(0)
    d, lr = 3, 0.05
    true_w = torch.tensor([[2.0], [-3.4], [0.5]], dtype=F64)
    w = torch.randn(d, 1, generator=g, dtype=F64).mul_(0.01).requires_grad_()
    b = torch.zeros(1, dtype=F64, requires_grad=True)
    w_t, b_t = twin([w, b])
    reference = torch.optim.SGD([w_t, b_t], lr=lr)
    start = [w.detach().clone(), b.detach().clone()]

    for batch_size in (4, 7, 1, 10, 3, 16, 2):
        X = torch.randn(batch_size, d, generator=g, dtype=F64)
        y = X @ true_w + 4.2 + 0.01 * torch.randn(batch_size, 1, generator=g, dtype=F64)

        squared_loss(linreg(X, w, b), y).sum().backward()  # the book: summed loss
        sgd([w, b], lr, batch_size)

        reference.zero_grad()
        squared_loss(linreg(X, w_t, b_t), y).mean().backward()  # torch: mean loss
        reference.step()

        assert_same([w, b], [w_t, b_t])
    assert total_change([w, b], start) > 0.1  # the steps were not empty


def test_book_sgd_with_mean_loss_gradients_would_take_steps_batch_size_times_too_small():
    """The convention matters: feeding ``sgd`` the mean-loss gradient is a different step."""
    X = torch.arange(8, dtype=F64).reshape(4, 2)
    y = torch.ones(4, 1, dtype=F64)
    w = torch.zeros(2, 1, dtype=F64, requires_grad=True)
    b = torch.zeros(1, dtype=F64, requires_grad=True)
    squared_loss(linreg(X, w, b), y).mean().backward()
    mean_grad = w.grad.clone()
    sgd([w, b], 0.1, 4)
    torch.testing.assert_close(w.detach(), -0.1 * mean_grad / 4, **TOL)
    assert not torch.allclose(w.detach(), -0.1 * mean_grad)


def test_book_sgd_zeroes_the_gradients_in_place():
    w = torch.ones(3, dtype=F64, requires_grad=True)
    w.grad = torch.tensor([1.0, 2.0, 3.0], dtype=F64)
    grad = w.grad
    sgd([w], lr=0.5, batch_size=2)
    torch.testing.assert_close(w.detach(), torch.tensor([0.75, 0.5, 0.25], dtype=F64), **TOL)
    assert w.grad is grad  # the same tensor, zeroed (the book's grad.zero_())
    assert torch.equal(w.grad, torch.zeros(3, dtype=F64))


# --------------------------------------------------------------------------------------------
# SGD and Adam against torch.optim, with identical gradients
# --------------------------------------------------------------------------------------------

OPTIMISERS = {
    "sgd": (lambda ps: SGD(ps, 0.1), lambda ps: torch.optim.SGD(ps, lr=0.1)),
    "sgd-momentum": (
        lambda ps: SGD(ps, 0.05, momentum=0.9),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9),
    ),
    "sgd-weight-decay": (
        lambda ps: SGD(ps, 0.1, weight_decay=0.3),
        lambda ps: torch.optim.SGD(ps, lr=0.1, weight_decay=0.3),
    ),
    "sgd-momentum-weight-decay": (
        lambda ps: SGD(ps, 0.05, momentum=0.5, weight_decay=0.1),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.5, weight_decay=0.1),
    ),
    "adam-default": (lambda ps: Adam(ps), lambda ps: torch.optim.Adam(ps)),
    "adam-custom": (
        lambda ps: Adam(ps, 0.02, betas=(0.5, 0.99), eps=1e-3),
        lambda ps: torch.optim.Adam(ps, lr=0.02, betas=(0.5, 0.99), eps=1e-3),
    ),
    "adam-weight-decay": (
        lambda ps: Adam(ps, 0.01, weight_decay=0.2),
        lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.2),
    ),
    "adam-custom-weight-decay": (
        lambda ps: Adam(ps, 0.03, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.05),
        lambda ps: torch.optim.Adam(ps, lr=0.03, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.05),
    ),
    "adam-zero-betas": (
        lambda ps: Adam(ps, 0.01, betas=(0.0, 0.0), eps=0.0),
        lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.0, 0.0), eps=0.0),
    ),
}


def run_both(make_scratch, make_torch, *, steps=20, grads=None, each_step=None, params=None):
    """Step a scratch and a torch optimiser over twin parameters with the same gradients,
    comparing the parameters after every step; return (scratch params, torch params)."""
    params = params if params is not None else make_params()
    ours, theirs = twin(params), twin(params)
    opt, ref = make_scratch(ours), make_torch(theirs)
    grads = grads if grads is not None else grad_sequence(steps)
    for t, step_grads in enumerate(grads):
        if each_step is not None:
            each_step(t, opt, ref)
        set_grads(ours, step_grads)
        set_grads(theirs, step_grads)
        opt.step()
        ref.step()
        assert_same(ours, theirs)
    return ours, theirs, opt, ref


@pytest.mark.parametrize("name", list(OPTIMISERS))
def test_trajectory_matches_torch_optim(name):
    make_scratch, make_torch = OPTIMISERS[name]
    start = make_params()
    ours, _, _, _ = run_both(make_scratch, make_torch, params=start)
    assert total_change(ours, start) > 1e-2


@pytest.mark.parametrize("name", ["sgd-momentum", "adam-custom-weight-decay"])
def test_trajectory_matches_torch_optim_with_gradients_from_a_model(name):
    """Gradients computed from each copy's own parameters: a small tanh network."""
    make_scratch, make_torch = OPTIMISERS[name]
    g = torch.Generator().manual_seed(3)
    X = torch.randn(32, 4, generator=g, dtype=F64)
    y = torch.randn(32, 2, generator=g, dtype=F64)

    def loss(ps):
        W1, b1, W2, b2 = ps
        return ((torch.tanh(X @ W1 + b1) @ W2 + b2 - y) ** 2).mean()

    ours, theirs = twin(make_params()), twin(make_params())
    opt, ref = make_scratch(ours), make_torch(theirs)
    first = loss(ours).item()
    for _ in range(25):
        for o, ps in ((opt, ours), (ref, theirs)):
            o.zero_grad()
            loss(ps).backward()
            o.step()
        assert_same(ours, theirs, rtol=1e-10, atol=1e-12)
    assert loss(ours).item() < first


def weight_bias_groups(params, decay: float):
    """The registry's layout: weights (ndim > 1) decayed, biases not."""
    return [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": decay},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0},
    ]


def halve_lr_at_10(t, opt, ref):
    if t == 10:
        for group in (*opt.param_groups, *ref.param_groups):
            group["lr"] *= 0.5


GROUPED = {
    "sgd-momentum": (
        lambda gs: SGD(gs, 0.05, momentum=0.9),
        lambda gs: torch.optim.SGD(gs, lr=0.05, momentum=0.9),
    ),
    "sgd": (lambda gs: SGD(gs, 0.1), lambda gs: torch.optim.SGD(gs, lr=0.1)),
    "adam": (
        lambda gs: Adam(gs, 0.02, betas=(0.8, 0.95)),
        lambda gs: torch.optim.Adam(gs, lr=0.02, betas=(0.8, 0.95)),
    ),
}


@pytest.mark.parametrize("name", list(GROUPED))
def test_parameter_groups_and_a_learning_rate_changed_mid_run_match_torch(name):
    make_scratch, make_torch = GROUPED[name]
    start = make_params()
    ours, _, opt, ref = run_both(
        lambda ps: make_scratch(weight_bias_groups(ps, 0.4)),
        lambda ps: make_torch(weight_bias_groups(ps, 0.4)),
        each_step=halve_lr_at_10,
        params=start,
    )
    assert [len(g["params"]) for g in opt.param_groups] == [2, 2]
    assert [g["weight_decay"] for g in opt.param_groups] == [0.4, 0]
    assert opt.param_groups[0]["lr"] == ref.param_groups[0]["lr"] != opt.defaults["lr"]
    assert total_change(ours, start) > 1e-2


def test_weight_decay_of_a_group_really_acts_only_on_that_group():
    """With zero gradients only the decayed group moves: p <- (1 - lr wd) p."""
    params = make_params()
    start = [p.detach().clone() for p in params]
    opt = SGD(weight_bias_groups(params, 0.5), 0.1)
    set_grads(params, [torch.zeros_like(p) for p in params])
    opt.step()
    for p, s in zip(params, start, strict=True):
        expected = s * (1 - 0.1 * 0.5) if p.ndim > 1 else s
        torch.testing.assert_close(p.detach(), expected, **TOL)


def test_a_group_can_override_the_learning_rate_and_other_defaults():
    start = make_params()
    groups = lambda ps: [  # noqa: E731
        {"params": ps[:2], "lr": 0.3, "momentum": 0.0},
        {"params": ps[2:]},
    ]
    _, _, opt, _ = run_both(
        lambda ps: SGD(groups(ps), 0.05, momentum=0.9),
        lambda ps: torch.optim.SGD(groups(ps), lr=0.05, momentum=0.9),
        params=start,
    )
    assert opt.param_groups[0]["lr"] == 0.3 and opt.param_groups[1]["lr"] == 0.05
    assert opt.param_groups[1]["momentum"] == 0.9


# --------------------------------------------------------------------------------------------
# zero_grad, missing gradients
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, 0.1, momentum=0.9), lambda ps: Adam(ps)])
def test_zero_grad_sets_every_gradient_to_none(make):
    params = make_params()
    opt = make(weight_bias_groups(params, 0.1))
    set_grads(params, grad_sequence(1)[0])
    opt.step()
    assert all(p.grad is not None for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, 0.1, momentum=0.9), lambda ps: Adam(ps)])
def test_step_skips_parameters_without_gradient(make):
    params = make_params()
    opt = make(params)
    frozen = params[1].detach().clone()
    grads = grad_sequence(1)[0]
    grads[1] = None
    set_grads(params, grads)
    opt.step()
    assert torch.equal(params[1].detach(), frozen)
    assert not torch.equal(params[0].detach(), make_params()[0].detach())
    assert sorted(opt.state_dict()["state"]) == [0, 2, 3]  # no state for the skipped one


@pytest.mark.parametrize("name", ["sgd-momentum-weight-decay", "adam-custom-weight-decay"])
def test_intermittent_gradients_match_torch(name):
    """A parameter with a gradient only every other step keeps its own step count/buffer."""
    grads = grad_sequence(20)
    for t, step_grads in enumerate(grads):
        if t % 2:
            step_grads[1] = None
        if t < 5:
            step_grads[3] = None
    run_both(*OPTIMISERS[name], grads=grads)


# --------------------------------------------------------------------------------------------
# state_dict / load_state_dict
# --------------------------------------------------------------------------------------------

STATEFUL = {
    "sgd-momentum": (
        lambda gs, lr=0.05: SGD(gs, lr, momentum=0.9, weight_decay=0.01),
        lambda gs: torch.optim.SGD(gs, lr=0.05, momentum=0.9, weight_decay=0.01),
        {"momentum_buffer"},
    ),
    "adam": (
        lambda gs, lr=0.02: Adam(gs, lr, betas=(0.7, 0.9), weight_decay=0.01),
        lambda gs: torch.optim.Adam(gs, lr=0.02, betas=(0.7, 0.9), weight_decay=0.01),
        {"step", "exp_avg", "exp_avg_sq"},
    ),
}


def only_plain_types(obj) -> bool:
    if isinstance(obj, dict):
        return all(only_plain_types(k) and only_plain_types(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return all(only_plain_types(v) for v in obj)
    return isinstance(obj, (torch.Tensor, int, float, str, bool, type(None)))


def save_and_load(state_dict):
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("name", list(STATEFUL))
def test_state_dict_has_torch_layout_and_values(name):
    make_scratch, make_torch, keys = STATEFUL[name]
    _, _, opt, ref = run_both(
        lambda ps: make_scratch(weight_bias_groups(ps, 0.1)),
        lambda ps: make_torch(weight_bias_groups(ps, 0.1)),
        steps=5,
    )
    ours, theirs = opt.state_dict(), ref.state_dict()
    assert only_plain_types(ours)
    assert [g["params"] for g in ours["param_groups"]] == [[0, 1], [2, 3]]
    assert [g["params"] for g in ours["param_groups"]] == [
        g["params"] for g in theirs["param_groups"]
    ]
    assert sorted(ours["state"]) == sorted(theirs["state"]) == [0, 1, 2, 3]
    for i, state in ours["state"].items():
        assert set(state) == keys
        for key, value in state.items():
            torch.testing.assert_close(
                torch.as_tensor(value, dtype=F64),
                torch.as_tensor(theirs["state"][i][key], dtype=F64),
                **TOL,
            )
    for mine, torchs in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        for key in ("lr", "weight_decay", "momentum", "betas", "eps"):
            if key in mine:
                assert mine[key] == torchs[key]


@pytest.mark.parametrize("via", ["torch.save", "deepcopy"])
@pytest.mark.parametrize("name", list(STATEFUL))
def test_an_optimiser_restored_from_its_state_dict_continues_exactly(name, via):
    make_scratch, _, _ = STATEFUL[name]
    params = make_params()
    grads = grad_sequence(14)
    opt = make_scratch(weight_bias_groups(params, 0.1))
    for step_grads in grads[:7]:
        set_grads(params, step_grads)
        opt.step()
    opt.param_groups[0]["lr"] = 0.03  # a hyper-parameter changed before saving travels too

    saved = opt.state_dict()
    saved = save_and_load(saved) if via == "torch.save" else copy.deepcopy(saved)
    restored_params = twin(params)
    restored = make_scratch(weight_bias_groups(restored_params, 0.1), lr=0.5)
    restored.load_state_dict(saved)
    assert [g["lr"] for g in restored.param_groups] == [g["lr"] for g in opt.param_groups]
    assert all(any(k is p for p in restored_params) for k in restored.state)

    for step_grads in grads[7:]:
        set_grads(params, step_grads)
        set_grads(restored_params, step_grads)
        opt.step()
        restored.step()
        assert_same(restored_params, params, rtol=0, atol=0)


@pytest.mark.parametrize("name", list(STATEFUL))
def test_a_fresh_optimiser_differs_from_a_restored_one(name):
    """Control for the test above: without the saved state the continuation differs."""
    make_scratch, _, _ = STATEFUL[name]
    params = make_params()
    grads = grad_sequence(8)
    opt = make_scratch(params)
    for step_grads in grads[:4]:
        set_grads(params, step_grads)
        opt.step()
    fresh_params = twin(params)
    fresh = make_scratch(fresh_params)
    for step_grads in grads[4:]:
        set_grads(params, step_grads)
        set_grads(fresh_params, step_grads)
        opt.step()
        fresh.step()
    assert not torch.allclose(fresh_params[0].detach(), params[0].detach())


@pytest.mark.parametrize("name", list(STATEFUL))
def test_load_state_dict_refuses_a_different_parameter_layout(name):
    make_scratch, _, _ = STATEFUL[name]
    params = make_params()
    opt = make_scratch(weight_bias_groups(params, 0.1))
    set_grads(params, grad_sequence(1)[0])
    opt.step()
    saved = opt.state_dict()

    one_group = make_scratch(make_params())  # same 4 parameters, but in one group
    with pytest.raises(UsageError):
        one_group.load_state_dict(saved)
    fewer = make_params(shapes=((4, 3), (3,), (3, 2)))
    with pytest.raises(UsageError):
        make_scratch(weight_bias_groups(fewer, 0.1)).load_state_dict(saved)
    more = make_params(shapes=(*SHAPES, (5,)))
    with pytest.raises(UsageError):
        make_scratch(weight_bias_groups(more, 0.1)).load_state_dict(saved)


# --------------------------------------------------------------------------------------------
# Invalid hyper-parameters
# --------------------------------------------------------------------------------------------

BAD_LR = [0, 0.0, -0.1, math.nan, math.inf, -math.inf, "0.1", None]


@pytest.mark.parametrize("lr", BAD_LR)
@pytest.mark.parametrize("cls", [SGD, Adam])
def test_a_bad_learning_rate_is_refused(cls, lr):
    with pytest.raises(UsageError):
        cls(make_params(), lr)


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_a_bad_learning_rate_in_a_group_is_refused(cls):
    params = make_params()
    with pytest.raises(UsageError):
        cls([{"params": params[:2]}, {"params": params[2:], "lr": -1.0}], 0.1)


@pytest.mark.parametrize("wd", [-1e-4, -1.0, math.nan])
@pytest.mark.parametrize("cls", [SGD, Adam])
def test_negative_weight_decay_is_refused(cls, wd):
    with pytest.raises(UsageError):
        cls(make_params(), 0.1, weight_decay=wd)
    with pytest.raises(UsageError):
        cls(weight_bias_groups(make_params(), wd), 0.1)


@pytest.mark.parametrize("momentum", [-0.1, 1.0, 1.5, math.nan])
def test_momentum_outside_zero_one_is_refused(momentum):
    with pytest.raises(UsageError):
        SGD(make_params(), 0.1, momentum=momentum)
    with pytest.raises(UsageError):
        SGD([{"params": make_params(), "momentum": momentum}], 0.1)


@pytest.mark.parametrize(
    "betas", [(1.0, 0.999), (0.9, 1.0), (-0.1, 0.999), (0.9, -0.5), (1.5, 0.5), (math.nan, 0.9)]
)
def test_adam_betas_outside_zero_one_are_refused(betas):
    with pytest.raises(UsageError):
        Adam(make_params(), 0.01, betas=betas)


@pytest.mark.parametrize("eps", [-1e-8, -1.0, math.nan])
def test_adam_negative_eps_is_refused(eps):
    with pytest.raises(UsageError):
        Adam(make_params(), 0.01, eps=eps)


@pytest.mark.parametrize("empty", [[], (), iter(())], ids=["list", "tuple", "iterator"])
@pytest.mark.parametrize("cls", [SGD, Adam])
def test_no_parameters_is_refused(cls, empty):
    with pytest.raises(UsageError):
        cls(empty, 0.1)


def test_boundary_values_are_accepted():
    SGD(make_params(), 1e-12, momentum=0.0, weight_decay=0.0)
    SGD(make_params(), 10, momentum=0.999)  # an int learning rate is a number too
    Adam(make_params(), 0.1, betas=(0.0, 0.0), eps=0.0, weight_decay=0.0)
    Adam(make_params(), 0.1, betas=[0.99, 0.9999])  # any pair


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_a_parameter_in_two_groups_is_refused(cls):
    params = make_params()
    with pytest.raises(ValueError):  # torch's behaviour
        torch.optim.SGD([{"params": params[:2]}, {"params": params[1:]}], lr=0.1)
    with pytest.raises(UsageError):
        cls([{"params": params[:2]}, {"params": params[1:]}], 0.1)
    with pytest.raises(UsageError):
        cls([params[0], params[0]], 0.1)


def test_learning_rates_of_any_real_type_are_accepted_but_not_booleans():
    import numpy as np

    SGD(make_params(), np.float32(0.1))
    with pytest.raises(UsageError):
        SGD(make_params(), True)
