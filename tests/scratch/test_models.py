"""The scratch models: output shapes, argument checks, and equality with their concise twins."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from shallownet import concise
from shallownet.errors import UsageError
from shallownet.init import initialize
from shallownet.scratch import (
    MLP,
    AvgPool2d,
    Conv2d,
    Dropout,
    LeNet,
    Linear,
    LinearRegression,
    LogisticRegression,
    MaxPool2d,
    SoftmaxRegression,
)

F64 = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-10}


def randn(*shape, seed: int = 0, dtype=F64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


def xavier(model: nn.Module, seed: int = 0) -> nn.Module:
    return initialize(model, "xavier", generator=torch.Generator().manual_seed(seed))


def default_init(model: nn.Module, seed: int = 0) -> nn.Module:
    """torch's default scheme: random biases too, so bias mix-ups show."""
    return initialize(model, "default", generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------------------------
# Output shapes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 5])
def test_output_shapes(seed, n):
    assert LinearRegression(3)(torch.randn(n, 3)).shape == (n, 1)
    assert SoftmaxRegression()(torch.randn(n, 1, 28, 28)).shape == (n, 10)
    assert SoftmaxRegression(20, 4)(torch.randn(n, 20)).shape == (n, 4)
    assert MLP()(torch.randn(n, 1, 28, 28)).shape == (n, 10)
    assert MLP(784, 10, (256,))(torch.randn(n, 784)).shape == (n, 10)
    assert MLP(784, 10, (128, 64))(torch.randn(n, 1, 28, 28)).shape == (n, 10)
    assert LogisticRegression(6)(torch.randn(n, 6)).shape == (n,)
    assert LogisticRegression(6)(torch.randn(n, 2, 3)).shape == (n,)
    assert LeNet()(torch.randn(n, 1, 28, 28)).shape == (n, 10)
    assert LeNet((3, 32, 32), 7)(torch.randn(n, 3, 32, 32)).shape == (n, 7)
    assert LeNet((2, 13, 17), pool="avg")(torch.randn(n, 2, 13, 17)).shape == (n, 10)


def test_layer_sizes(seed):
    mlp = MLP(784, 10, (128, 64))
    assert [(m.num_inputs, m.num_outputs) for m in mlp.modules() if isinstance(m, Linear)] == [
        (784, 128), (128, 64), (64, 10)
    ]
    assert MLP().hidden[0].W.shape == (784, 256)
    assert SoftmaxRegression().linear.W.shape == (784, 10)
    lenet = LeNet()
    assert lenet.conv1.weight.shape == (6, 1, 5, 5)
    assert lenet.conv2.weight.shape == (16, 6, 5, 5)
    assert lenet.fc1.W.shape == (16 * 5 * 5, 120)
    assert lenet.fc3.W.shape == (84, 10)
    assert LeNet((3, 32, 32)).fc1.W.shape == (16 * 6 * 6, 120)
    assert isinstance(lenet.pool1, MaxPool2d)
    assert isinstance(LeNet(pool="avg").pool2, AvgPool2d)
    assert sum(isinstance(m, Conv2d) for m in lenet.modules()) == 2


def test_dtype_argument_reaches_every_parameter():
    for model in (LinearRegression(3, dtype=F64), SoftmaxRegression(4, 2, dtype=F64),
                  MLP(4, 2, (3, 3), dtype=F64), LogisticRegression(3, dtype=F64),
                  LeNet((1, 12, 12), dtype=F64)):
        assert {p.dtype for p in model.parameters()} == {F64}


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((1, 11, 28), "at least 12 x 12"),
        ((1, 28, 11), "at least 12 x 12"),
        ((3, 8, 8), "at least 12 x 12"),
        ((28, 28), "channels, height, width"),
        ((1, 1, 28, 28), "channels, height, width"),
        ((0, 28, 28), "channels"),
    ],
)
def test_lenet_refuses_bad_input_shapes(shape, match):
    with pytest.raises(UsageError, match=match):
        LeNet(shape)


def test_lenet_smallest_input_is_12x12(seed):
    assert LeNet((1, 12, 12))(torch.randn(2, 1, 12, 12)).shape == (2, 10)
    assert LeNet((1, 12, 12)).fc1.W.shape == (16, 120)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: LeNet(activation="gelu"), "unknown activation"),
        (lambda: LeNet(pool="min"), "unknown pooling"),
        (lambda: MLP(4, 2, ()), "at least one hidden layer"),
        (lambda: MLP(4, 2, (3,), activation="softplus"), "unknown activation"),
        (lambda: MLP(4, 2, (3, 3, 3), dropout=(0.1, 0.2)), "2 dropout rates for 3 hidden"),
        (lambda: MLP(4, 2, (3,), dropout=1.5), "dropout probability"),
        (lambda: MLP(0, 2, (3,)), "num_inputs"),
        (lambda: SoftmaxRegression(4, 0), "num_outputs"),
    ],
)
def test_bad_model_arguments_are_usage_errors(build, match):
    with pytest.raises(UsageError, match=match):
        build()


def test_mlp_dropout_rates_per_layer():
    assert [d.p for d in MLP(4, 2, (3, 3), dropout=0.2).dropouts] == [0.2, 0.2]
    assert [d.p for d in MLP(4, 2, (3, 3), dropout=(0.1, 0.4)).dropouts] == [0.1, 0.4]
    assert [d.p for d in MLP(4, 2, (3, 3), dropout=(0.3,)).dropouts] == [0.3, 0.3]
    assert [d.p for d in MLP(4, 2, (3, 3)).dropouts] == [0.0, 0.0]


# --------------------------------------------------------------------------------------------
# Scratch models equal their concise twins
# --------------------------------------------------------------------------------------------

TWINS = [
    ("linreg", lambda: LinearRegression(12, dtype=F64), lambda: concise.linear_regression(12),
     (6, 3, 4)),
    ("softmax", lambda: SoftmaxRegression(12, 5, dtype=F64),
     lambda: concise.softmax_regression(12, 5), (6, 1, 3, 4)),
    ("mlp-256", lambda: MLP(12, 5, (256,), dtype=F64), lambda: concise.mlp(12, 5, (256,)),
     (6, 12)),
    ("mlp-128-64-sigmoid",
     lambda: MLP(12, 5, (128, 64), activation="sigmoid", dtype=F64),
     lambda: concise.mlp(12, 5, (128, 64), activation="sigmoid"), (6, 3, 4)),
    ("mlp-tanh-logsoftmax",
     lambda: MLP(12, 5, (16, 8), activation="tanh", log_softmax=True, dtype=F64),
     lambda: concise.mlp(12, 5, (16, 8), activation="tanh", log_softmax=True), (6, 12)),
    ("mlp-dropout-eval", lambda: MLP(12, 5, (16,), dropout=0.5, dtype=F64),
     lambda: concise.mlp(12, 5, (16,), dropout=0.5), (6, 12)),
    ("logistic", lambda: LogisticRegression(12, dtype=F64),
     lambda: concise.logistic_regression(12), (6, 12)),
    ("lenet", lambda: LeNet(dtype=F64), lambda: concise.lenet(), (3, 1, 28, 28)),
    ("lenet-avg-sigmoid-rgb",
     lambda: LeNet((3, 32, 32), 4, activation="sigmoid", pool="avg", dtype=F64),
     lambda: concise.lenet((3, 32, 32), 4, activation="sigmoid", pool="avg"), (2, 3, 32, 32)),
    ("lenet-odd", lambda: LeNet((2, 13, 17), dtype=F64), lambda: concise.lenet((2, 13, 17)),
     (2, 2, 13, 17)),
]


@pytest.mark.parametrize(("scratch", "twin", "x_shape"), [t[1:] for t in TWINS],
                         ids=[t[0] for t in TWINS])
@pytest.mark.parametrize("init", [xavier, default_init], ids=["xavier", "default"])
def test_scratch_model_equals_concise_twin_from_the_same_init(scratch, twin, x_shape, init):
    ours, theirs = init(scratch()).eval(), init(twin().double()).eval()
    X = randn(*x_shape, seed=1)
    got, expected = ours(X), theirs(X)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, **TOL)
    assert got.std() > 0  # not a degenerate all-equal output
    # The same parameters, in the same order, once the scratch (in, out) layout is transposed.
    mine = [p.detach() for p in ours.parameters()]
    torch_layout = [
        p.T if isinstance(m, Linear) and name == "W" else p
        for m in ours.modules() for name, p in m.named_parameters(recurse=False)
    ]
    assert len(mine) == len(torch_layout) == len(list(theirs.parameters()))
    for a, b in zip(torch_layout, theirs.parameters(), strict=True):
        assert torch.equal(a.detach(), b.detach())


def copy_concise_into_scratch(scratch: nn.Module, concise_net: nn.Module) -> None:
    """Copy by hand: a scratch Linear's W is nn.Linear's weight transposed; convs share layout."""
    layers = [m for m in concise_net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    mine = [m for m in scratch.modules() if isinstance(m, (Linear, Conv2d))]
    assert len(layers) == len(mine)
    with torch.no_grad():
        for ours, theirs in zip(mine, layers, strict=True):
            if isinstance(ours, Linear):
                ours.W.copy_(theirs.weight.T)
                ours.b.copy_(theirs.bias)
            else:
                ours.weight.copy_(theirs.weight)
                ours.bias.copy_(theirs.bias)


@pytest.mark.parametrize(("scratch", "twin", "x_shape"), [t[1:] for t in TWINS],
                         ids=[t[0] for t in TWINS])
def test_scratch_model_equals_concise_twin_after_copying_weights(seed, scratch, twin, x_shape):
    theirs = twin().double().eval()  # torch's own default init
    ours = scratch().eval()
    copy_concise_into_scratch(ours, theirs)
    X = randn(*x_shape, seed=2)
    torch.testing.assert_close(ours(X), theirs(X), **TOL)
    # Gradients too: the same loss through both gives the same (transposed) gradients.
    ours(X).square().sum().backward()
    theirs(X).square().sum().backward()
    for m, t in zip(
        [m for m in ours.modules() if isinstance(m, (Linear, Conv2d))],
        [m for m in theirs.modules() if isinstance(m, (nn.Linear, nn.Conv2d))],
        strict=True,
    ):
        weight_grad = m.W.grad.T if isinstance(m, Linear) else m.weight.grad
        bias_grad = m.b.grad if isinstance(m, Linear) else m.bias.grad
        torch.testing.assert_close(weight_grad, t.weight.grad, **TOL)
        torch.testing.assert_close(bias_grad, t.bias.grad, **TOL)


def test_mlp_dropout_in_train_mode_equals_concise_from_the_same_seed():
    ours = xavier(MLP(12, 5, (16, 8), dropout=(0.3, 0.6), dtype=F64)).train()
    theirs = xavier(concise.mlp(12, 5, (16, 8), dropout=(0.3, 0.6)).double()).train()
    X = randn(10, 12, seed=3)
    torch.manual_seed(7)
    got = ours(X)
    torch.manual_seed(7)
    torch.testing.assert_close(got, theirs(X), **TOL)


# --------------------------------------------------------------------------------------------
# Behaviour
# --------------------------------------------------------------------------------------------


def test_mlp_log_softmax_rows_logsumexp_to_zero(seed):
    model = xavier(MLP(20, 7, (32,), log_softmax=True, dtype=F64))
    X = 50 * randn(9, 20, seed=4)  # large logits: a naive log(softmax) would hit log 0
    out = model(X)
    assert (out <= 0).all()
    assert torch.isfinite(out).all()
    torch.testing.assert_close(torch.logsumexp(out, dim=1), torch.zeros(9, dtype=F64), **TOL)
    logits = MLP(20, 7, (32,), dtype=F64)
    logits.load_state_dict(model.state_dict())
    torch.testing.assert_close(out, torch.log_softmax(logits(X), dim=1), **TOL)


def test_mlp_dropout_only_in_train_mode():
    model = xavier(MLP(12, 4, (64,), dropout=0.5, dtype=F64))
    X = randn(8, 12, seed=5)
    assert model.training
    torch.manual_seed(0)
    train_a = model(X)
    train_b = model(X)
    assert not torch.equal(train_a, train_b)  # a fresh mask per call
    model.eval()
    assert all(not d.training for d in model.dropouts)
    eval_a, eval_b = model(X), model(X)
    assert torch.equal(eval_a, eval_b)
    no_dropout = MLP(12, 4, (64,), dtype=F64)
    no_dropout.load_state_dict(model.state_dict())
    torch.testing.assert_close(eval_a, no_dropout(X), **TOL)
    assert not torch.allclose(train_a, eval_a)
    assert isinstance(model.dropouts[0], Dropout)


def test_mlp_without_dropout_is_deterministic_in_train_mode(seed):
    model = MLP(12, 4, (16, 8), dtype=F64)
    X = randn(5, 12, seed=6)
    assert torch.equal(model(X), model(X))


@pytest.mark.parametrize(
    ("build", "x_shape"),
    [
        (lambda: LinearRegression(5), (4, 5)),
        (lambda: SoftmaxRegression(5, 3), (4, 5)),
        (lambda: MLP(5, 3, (8, 4), dropout=0.2), (4, 5)),
        (lambda: LogisticRegression(5), (4, 5)),
        (lambda: LeNet((1, 16, 16), 3, pool="avg"), (4, 1, 16, 16)),
    ],
    ids=["linreg", "softmax", "mlp", "logistic", "lenet"],
)
def test_state_dict_round_trip(build, x_shape):
    torch.manual_seed(0)
    model = default_init(build(), seed=1).eval()
    X = randn(*x_shape, seed=7, dtype=torch.float32)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    fresh = default_init(build(), seed=2).eval()
    assert not torch.equal(fresh(X), model(X))  # different weights before loading
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(fresh(X), model(X))
    assert model.state_dict().keys() == fresh.state_dict().keys()


def test_state_dict_keys_follow_the_book_names(seed):
    assert set(LinearRegression(3).state_dict()) == {"linear.W", "linear.b"}
    assert set(MLP(4, 2, (3,)).state_dict()) == {
        "hidden.0.W", "hidden.0.b", "output.W", "output.b"
    }
    assert {"conv1.weight", "conv1.bias", "fc3.W", "fc3.b"} <= set(LeNet().state_dict())
