"""Weight initialisation: the same weights in both tiers, the right distributions, symmetry."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from shallownet import concise, scratch
from shallownet.errors import UsageError
from shallownet.init import SCHEMES, initialize, weight_layers

F64 = torch.float64


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def weight_and_bias(layer: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """A layer's weight in torch's layout (out, in, ...) and its bias."""
    if isinstance(layer, scratch.Linear):
        return layer.W.detach().T, layer.b.detach()
    return layer.weight.detach(), layer.bias.detach()


def fill_biases(model: nn.Module, value: float = 1.0) -> nn.Module:
    """Make every bias non-zero, so a test of 'biases are zeroed' can fail."""
    for layer in weight_layers(model):
        weight_and_bias(layer)[1].fill_(value)  # detached, but the same storage
    return model


#: (scratch model, concise model, input shape) builders; each pair is the same network.
PAIRS = {
    "mlp": (
        lambda: scratch.MLP(30, 5, (16, 8), dtype=F64),
        lambda: concise.mlp(30, 5, (16, 8)).double(),
        (4, 30),
    ),
    "mlp-dropout-sigmoid": (
        lambda: scratch.MLP(30, 5, (16,), activation="sigmoid", dropout=0.3, dtype=F64),
        lambda: concise.mlp(30, 5, (16,), activation="sigmoid", dropout=0.3).double(),
        (4, 30),
    ),
    "softmax_regression": (
        lambda: scratch.SoftmaxRegression(12, 4, dtype=F64),
        lambda: concise.softmax_regression(12, 4).double(),
        (4, 3, 4),
    ),
    "lenet": (
        lambda: scratch.LeNet((1, 16, 16), 5, dtype=F64),
        lambda: concise.lenet((1, 16, 16), 5).double(),
        (2, 1, 16, 16),
    ),
}


# --------------------------------------------------------------------------------------------
# Scratch and concise twins get the same weights from the same seed
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("pair", list(PAIRS))
def test_same_seed_gives_both_tiers_the_same_weights_and_outputs(pair, scheme):
    make_scratch, make_concise, shape = PAIRS[pair]
    ours, theirs = make_scratch().eval(), make_concise().eval()
    X = torch.randn(shape, generator=gen(99), dtype=F64)
    if scheme != "equal":  # control: before initialising, the twins differ
        assert not torch.allclose(ours(X), theirs(X))

    assert initialize(ours, scheme, std=0.1, value=0.02, generator=gen(7)) is ours
    assert initialize(theirs, scheme, std=0.1, value=0.02, generator=gen(7)) is theirs

    mine, torchs = weight_layers(ours), weight_layers(theirs)
    assert len(mine) == len(torchs) > 0
    for a, b in zip(mine, torchs, strict=True):
        (wa, ba), (wb, bb) = weight_and_bias(a), weight_and_bias(b)
        assert torch.equal(wa, wb)
        assert torch.equal(ba, bb)
        if isinstance(a, scratch.Linear):  # stored in the book's layout, (in, out)
            assert a.W.shape == (b.in_features, b.out_features)
            assert torch.equal(a.W.detach(), b.weight.detach().T)
    torch.testing.assert_close(ours(X), theirs(X), rtol=1e-10, atol=1e-12)


def test_scratch_linear_weight_is_the_transpose_of_nn_linear_weight_in_float32():
    ours = scratch.SoftmaxRegression(6, 4)
    theirs = concise.softmax_regression(6, 4)
    initialize(ours, "xavier", generator=gen(1))
    initialize(theirs, "xavier", generator=gen(1))
    assert ours.linear.W.dtype == torch.float32
    assert torch.equal(ours.linear.W.detach(), theirs[1].weight.detach().T)
    assert not torch.equal(ours.linear.W.detach(), theirs[1].weight.detach().reshape(6, 4))


@pytest.mark.parametrize("scheme", ["normal", "default", "xavier", "kaiming"])
def test_the_seed_decides_the_weights(scheme):
    def weights(generator):
        model = initialize(scratch.MLP(10, 3, (5,)), scheme, generator=generator)
        return torch.cat([weight_and_bias(layer)[0].flatten() for layer in weight_layers(model)])

    assert torch.equal(weights(gen(3)), weights(gen(3)))
    assert not torch.equal(weights(gen(3)), weights(gen(4)))
    torch.manual_seed(11)  # without a generator, the global one
    first = weights(None)
    torch.manual_seed(11)
    assert torch.equal(weights(None), first)


# --------------------------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------------------------

#: Independent statement of each layer's (fan_in, fan_out): conv counts channels x 5 x 5.
LENET_FANS = [(1 * 25, 6 * 25), (6 * 25, 16 * 25), (16 * 5 * 5, 120), (120, 84), (84, 10)]
MLP_FANS = [(784, 256), (256, 10)]

BIG_MODELS = {
    "scratch-mlp": (lambda: scratch.MLP(784, 10, (256,)), MLP_FANS),
    "concise-mlp": (lambda: concise.mlp(784, 10, (256,)), MLP_FANS),
    "scratch-lenet": (lambda: scratch.LeNet(), LENET_FANS),
    "concise-lenet": (lambda: concise.lenet(), LENET_FANS),
}


def layers_with_fans(name, scheme, **kw):
    make, fans = BIG_MODELS[name]
    model = initialize(fill_biases(make()), scheme, generator=gen(0), **kw)
    layers = weight_layers(model)
    assert len(layers) == len(fans)
    return [(*weight_and_bias(layer), fan_in, fan_out) for layer, (fan_in, fan_out)
            in zip(layers, fans, strict=True)]


@pytest.mark.parametrize("name", list(BIG_MODELS))
def test_normal_has_mean_zero_the_given_std_and_zero_biases(name):
    std = 0.05
    for W, b, _, _ in layers_with_fans(name, "normal", std=std):
        assert torch.equal(b, torch.zeros_like(b))
        if W.numel() >= 1000:
            assert abs(W.mean().item()) < 5 * std / math.sqrt(W.numel())  # 5 standard errors
            assert W.std().item() == pytest.approx(std, rel=0.1)
        else:  # a few hundred draws: still about the right size
            assert 0.5 * std < W.std().item() < 1.5 * std


@pytest.mark.parametrize("name", list(BIG_MODELS))
def test_normal_uses_the_book_std_by_default(name):
    for W, _, _, _ in layers_with_fans(name, "normal"):
        assert 0.005 < W.std().item() < 0.015


@pytest.mark.parametrize("name", list(BIG_MODELS))
def test_default_is_uniform_within_one_over_sqrt_fan_in_for_weights_and_biases(name):
    bias_fill = []
    for W, b, fan_in, _ in layers_with_fans(name, "default"):
        bound = 1 / math.sqrt(fan_in)
        assert W.abs().max().item() <= bound
        assert b.abs().max().item() <= bound
        assert W.abs().max().item() > 0.8 * bound  # the range is roughly filled
        if W.numel() >= 1000:
            assert W.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1)
            assert abs(W.mean().item()) < 0.1 * bound
        bias_fill.append(b.abs().max().item() / bound)
    assert max(bias_fill) > 0.8  # biases are drawn too, over the same range


@pytest.mark.parametrize("name", list(BIG_MODELS))
def test_xavier_is_uniform_within_its_bound_with_zero_biases(name):
    for W, b, fan_in, fan_out in layers_with_fans(name, "xavier"):
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert torch.equal(b, torch.zeros_like(b))
        assert W.abs().max().item() <= bound
        assert W.abs().max().item() > 0.8 * bound
        if W.numel() >= 1000:
            assert W.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1)


@pytest.mark.parametrize("name", list(BIG_MODELS))
def test_kaiming_is_normal_with_variance_two_over_fan_in_and_zero_biases(name):
    for W, b, fan_in, _ in layers_with_fans(name, "kaiming"):
        assert torch.equal(b, torch.zeros_like(b))
        if W.numel() >= 1000:
            assert W.mean().item() == pytest.approx(0, abs=0.1 * math.sqrt(2 / fan_in))
            assert W.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.1)


def test_kaiming_keeps_a_deep_relu_networks_activations_at_scale():
    """The reason for the scheme: after 20 ReLU layers of 512 the pre-activations keep the
    input's variance (within 2x); the book's N(0, 0.01²) shrinks it by orders of magnitude."""
    layers = [m for _ in range(20) for m in (nn.Linear(512, 512), nn.ReLU())][:-1]
    x = torch.randn(1024, 512, generator=gen(1))
    ratios = {}
    for scheme in ("kaiming", "normal"):
        net = initialize(nn.Sequential(*layers), scheme, generator=gen(0))
        with torch.no_grad():
            ratios[scheme] = net(x).var().item() / x.var().item()
    assert 0.5 < ratios["kaiming"] < 2
    assert ratios["normal"] < 1e-20


@pytest.mark.parametrize("name", list(BIG_MODELS))
def test_equal_sets_every_weight_to_the_value_and_biases_to_zero(name):
    for W, b, _, _ in layers_with_fans(name, "equal", value=0.3):
        assert torch.equal(W, torch.full_like(W, 0.3))
        assert torch.equal(b, torch.zeros_like(b))


def test_default_matches_the_bound_torch_itself_uses():
    """torch.nn's own default init never exceeds the 'default' bound, and fills it."""
    layer = nn.Conv2d(6, 16, 5)
    bound = 1 / math.sqrt(6 * 25)
    assert layer.weight.detach().abs().max().item() <= bound
    assert layer.weight.detach().abs().max().item() > 0.8 * bound


# --------------------------------------------------------------------------------------------
# Errors and layer order
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["he", "Normal", "", "xavier_uniform"])
def test_an_unknown_scheme_is_refused_and_nothing_changes(scheme):
    model = scratch.MLP(10, 3, (5,))
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(UsageError):
        initialize(model, scheme)
    assert all(torch.equal(a, b.detach()) for a, b in
               zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("std", [0, 0.0, -0.01, math.nan])
def test_a_non_positive_std_is_refused(std):
    with pytest.raises(UsageError):
        initialize(scratch.MLP(10, 3, (5,)), "normal", std=std)
    with pytest.raises(UsageError):
        initialize(concise.mlp(10, 3, (5,)), "normal", std=std)


@pytest.mark.parametrize(
    "model",
    [nn.Sequential(nn.Flatten(), nn.ReLU()), scratch.Flatten(), nn.Sequential(), nn.Identity()],
    ids=["sequential", "scratch-flatten", "empty", "identity"],
)
@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_model_without_layers_is_refused(model, scheme):
    assert weight_layers(model) == []
    with pytest.raises(UsageError):
        initialize(model, scheme)


def test_a_layer_without_bias_is_refused():
    with pytest.raises(UsageError):
        initialize(nn.Sequential(nn.Linear(4, 3, bias=False)), "normal")


def test_weight_layers_follow_the_definition_order():
    lenet = scratch.LeNet()
    assert weight_layers(lenet) == [lenet.conv1, lenet.conv2, lenet.fc1, lenet.fc2, lenet.fc3]
    c_lenet = concise.lenet()
    assert weight_layers(c_lenet) == [c_lenet[i] for i in (0, 3, 7, 9, 11)]
    mlp = scratch.MLP(10, 3, (6, 4), dropout=0.2)
    assert weight_layers(mlp) == [mlp.hidden[0], mlp.hidden[1], mlp.output]
    c_mlp = concise.mlp(10, 3, (6, 4), dropout=0.2)
    assert weight_layers(c_mlp) == [c_mlp[i] for i in (1, 4, 7)]

    class Backwards(nn.Module):  # defined in one order, used in the other
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(3 * 4 * 4, 2)
            self.middle = scratch.Conv2d(2, 3, 3)
            self.stem = nn.Conv2d(1, 2, 3)

        def forward(self, X):
            return self.head(self.middle(self.stem(X)).flatten(1))

    model = Backwards()
    assert weight_layers(model) == [model.head, model.middle, model.stem]
    assert model(torch.zeros(1, 1, 8, 8)).shape == (1, 2)


# --------------------------------------------------------------------------------------------
# The symmetry problem
# --------------------------------------------------------------------------------------------


def hidden_units(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per hidden unit (rows): incoming weights, bias, outgoing weights."""
    (W1, b1), (W2, _) = (weight_and_bias(layer) for layer in weight_layers(model))
    return W1, b1.reshape(-1, 1), W2.T


def train(model: nn.Module, steps: int = 10) -> nn.Module:
    g = gen(1)
    X = torch.randn(64, 20, generator=g, dtype=F64)
    y = torch.randint(0, 3, (64,), generator=g)
    optimizer = scratch.SGD(model.parameters(), 0.5)
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(model(X), y).backward()
        optimizer.step()
    return model


def min_distance_between_units(model: nn.Module) -> float:
    rows = torch.cat(hidden_units(model), dim=1)
    return min((a - b).abs().max().item() for a, b in itertools.combinations(rows, 2))


def symmetric_models(**kw):
    return {
        "scratch": scratch.MLP(20, 3, (8,), dtype=F64, **kw),
        "concise": concise.mlp(20, 3, (8,), **kw).double(),
    }


@pytest.mark.parametrize("tier", ["scratch", "concise"])
def test_equal_init_keeps_every_hidden_unit_identical_through_training(tier):
    model = initialize(symmetric_models()[tier], "equal", value=0.01)
    train(model)
    W_in, b, W_out = hidden_units(model)
    assert (W_in - 0.01).abs().max().item() > 1e-4  # training moved the weights...
    assert b.abs().max().item() > 1e-6
    for M in (W_in, b, W_out):  # ...but every hidden unit the same way
        torch.testing.assert_close(M, M[:1].expand_as(M), rtol=0, atol=1e-12)
    if tier == "scratch":  # in the book's layout: all columns of the hidden W are equal
        W = model.hidden[0].W.detach()
        torch.testing.assert_close(W, W[:, :1].expand_as(W), rtol=0, atol=1e-12)
    else:  # in torch's: all rows of the hidden nn.Linear weight are equal
        W = model[1].weight.detach()
        torch.testing.assert_close(W, W[:1].expand_as(W), rtol=0, atol=1e-12)


@pytest.mark.parametrize("tier", ["scratch", "concise"])
def test_random_init_gives_distinct_hidden_units(tier):
    model = train(initialize(symmetric_models()[tier], "normal", generator=gen(0)))
    assert min_distance_between_units(model) > 1e-3


def test_both_tiers_train_the_same_from_the_same_init():
    models = symmetric_models()
    for model in models.values():
        train(initialize(model, "normal", std=0.1, generator=gen(5)))
    for a, b in zip(*(hidden_units(m) for m in models.values()), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("tier", ["scratch", "concise"])
def test_dropout_breaks_the_symmetry(tier):
    torch.manual_seed(0)  # the dropout masks
    model = initialize(symmetric_models(dropout=0.5)[tier], "equal", value=0.01)
    train(model)
    assert min_distance_between_units(model) > 1e-6
