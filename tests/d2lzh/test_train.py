"""The edition's loops: argument order, summed losses, its printed lines, and the fixed traps."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from shallownet import d2lzh as d2l
from shallownet.d2l import load_array
from shallownet.errors import TrainingDiverged, UsageError

CH3_LINE = re.compile(r"^epoch (\d+), loss (\d+\.\d{4}), train acc (\d\.\d{3}), test acc "
                      r"(\d\.\d{3})$")
CH5_LINE = re.compile(r"^epoch (\d+), loss (\d+\.\d{4}), train acc (\d\.\d{3}), test acc "
                      r"(\d\.\d{3}), time (\d+\.\d) sec$")


def blobs(n=120, d=4, classes=3, seed=0):
    """Separable classes: each class's points around its own centre."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    X = torch.randn(n, d, generator=g) * 0.3 + torch.eye(classes, d)[y] * 3
    return X, y


def loaders(batch_size=20, **kwargs):
    X, y = blobs(**kwargs)
    return load_array((X, y), batch_size), load_array((X, y), batch_size, is_train=False)


def scratch_softmax(d=4, q=3):
    W = torch.zeros(d, q, requires_grad=True)
    b = torch.zeros(q, requires_grad=True)

    def net(X):
        return torch.softmax(X.reshape(-1, d) @ W + b, dim=1)

    return net, [W, b]


def cross_entropy(y_hat, y):
    return -torch.log(y_hat.gather(1, y.view(-1, 1)))


# --------------------------------------------------------------------------- train_ch3


def test_train_ch3_prints_the_editions_line_per_epoch(capsys):
    torch.manual_seed(0)
    train_iter, test_iter = loaders()
    net, params = scratch_softmax()
    d2l.train_ch3(net, train_iter, test_iter, cross_entropy, 3, 20, params, 0.1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(CH3_LINE.match(line) for line in lines), lines
    first, last = (CH3_LINE.match(line).groups() for line in (lines[0], lines[-1]))
    assert float(last[1]) < float(first[1]) and float(last[3]) > 0.9


def test_train_ch3_steps_with_sgd_on_the_summed_loss_over_the_batch_size():
    """One batch: the parameters move by lr · ∇(Σ loss) / batch_size, as the edition's sgd."""
    X, y = blobs(n=20)
    batch = [(X, y)]
    net, params = scratch_softmax()
    reference, ref_params = scratch_softmax()
    cross_entropy(reference(X), y).sum().backward()
    expected = [p.detach() - 0.5 * p.grad / 32 for p in ref_params]  # batch_size as given
    d2l.train_ch3(net, batch, batch, cross_entropy, 1, 32, params, 0.5)
    for p, e in zip(params, expected, strict=True):
        assert torch.allclose(p.detach(), e, atol=1e-6)


def test_train_ch3_zeroes_the_gradients_before_each_backward():
    """Two epochs of one batch equal two hand-made steps (no gradient carried over)."""
    X, y = blobs(n=20)
    net, params = scratch_softmax()
    reference, ref_params = scratch_softmax()
    for _ in range(2):
        for p in ref_params:
            p.grad = None
        cross_entropy(reference(X), y).sum().backward()
        d2l.sgd(ref_params, 0.5, 20)
    d2l.train_ch3(net, [(X, y)], [(X, y)], cross_entropy, 2, 20, params, 0.5)
    for p, e in zip(params, ref_params, strict=True):
        assert torch.allclose(p.detach(), e.detach(), atol=1e-6)


def test_train_ch3_with_an_optimizer_steps_on_the_loss_as_summed():
    """3.7: ``optimizer=`` with ``nn.CrossEntropyLoss()``: the mean's gradient, as the edition."""
    torch.manual_seed(0)
    X, y = blobs(n=20)
    net, twin = nn.Linear(4, 3), nn.Linear(4, 3)
    twin.load_state_dict(net.state_dict())
    loss = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    twin_optimizer = torch.optim.SGD(twin.parameters(), lr=0.1)
    loss(twin(X), y).sum().backward()
    twin_optimizer.step()
    d2l.train_ch3(net, [(X, y)], [(X, y)], loss, 1, 20, None, None, optimizer)
    assert torch.allclose(net.weight, twin.weight) and torch.allclose(net.bias, twin.bias)


def test_a_loss_that_averages_its_batch_prints_the_mean_per_example(capsys):
    """The edition printed ~1/batch of it (loss 0.0031); here both reductions print the same."""
    printed = []
    for loss in (nn.CrossEntropyLoss(), nn.CrossEntropyLoss(reduction="none")):
        torch.manual_seed(0)
        net = nn.Linear(4, 3)
        X, y = blobs(n=40)
        before = nn.CrossEntropyLoss()(net(X), y).item()
        # lr 0 leaves the net as it was: the printed loss is the loss of these weights
        optimizer = torch.optim.SGD(net.parameters(), lr=0.0)
        d2l.train_ch3(net, [(X[:20], y[:20]), (X[20:], y[20:])], [(X, y)], loss, 1, 20,
                      optimizer=optimizer)
        printed.append(float(CH3_LINE.match(capsys.readouterr().out.strip()).group(2)))
    assert printed[0] == printed[1] == pytest.approx(before, abs=1e-4)


def test_train_ch3_needs_params_and_lr_or_an_optimizer():
    net, params = scratch_softmax()
    with pytest.raises(UsageError, match="params= and lr="):
        d2l.train_ch3(net, [], [], cross_entropy, 1, 20, params)
    with pytest.raises(UsageError, match="num_epochs must be a positive integer"):
        d2l.train_ch3(net, [], [], cross_entropy, 0, 20, params, 0.1)


def test_a_diverging_loss_stops_with_advice():
    X, y = blobs(n=40)
    net = nn.Linear(4, 3)
    with torch.no_grad():
        net.weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match=r"epoch 1: training diverged\. Lower the "
                                               r"learning rate \(lr 0\.5\)"):
        d2l.train_ch3(net, [(X, y)], [(X, y)], nn.CrossEntropyLoss(), 2, 40, list(
            net.parameters()), 0.5)


# --------------------------------------------------------------------------- evaluate_accuracy


class ModeRecorder(nn.Module):
    """A classifier that records whether it ran in training mode."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.modes = []

    def forward(self, X):
        self.modes.append(self.training)
        return self.linear(X)


def test_evaluate_accuracy_takes_the_data_first_and_counts_correct_predictions():
    X, y = blobs(n=30)
    scores = torch.nn.functional.one_hot(y, 3).float()
    scores[:6] = scores[:6].roll(1, dims=1)  # 6 of 30 wrong
    assert d2l.evaluate_accuracy([(X, y)], lambda X: scores) == pytest.approx(24 / 30)


@pytest.mark.parametrize("training", [True, False])
def test_evaluate_accuracy_runs_in_eval_mode_and_restores_the_mode(training):
    net = ModeRecorder().train(training)
    d2l.evaluate_accuracy([blobs(n=10)], net)
    assert net.modes == [False] and net.training is training


def test_a_function_with_is_training_is_called_with_false():
    seen = []

    def net(X, is_training=True):
        seen.append(is_training)
        return torch.zeros(len(X), 3)

    d2l.evaluate_accuracy([blobs(n=9)], net)
    assert seen == [False]


def test_a_local_variable_named_is_training_is_not_taken_for_a_parameter():
    def net(X):
        is_training = True  # the edition looked in co_varnames and passed is_training=False
        return torch.zeros(len(X), 3) if is_training else None

    assert d2l.evaluate_accuracy([blobs(n=9)], net) == pytest.approx(3 / 9)


def test_evaluate_accuracy_on_no_batches_says_so():
    with pytest.raises(UsageError, match="gave no batches"):
        d2l.evaluate_accuracy([], nn.Linear(4, 3))


# --------------------------------------------------------------------------- train_ch5


def test_train_ch5_prints_the_device_and_a_timed_line_per_epoch(capsys):
    torch.manual_seed(0)
    train_iter, test_iter = loaders()
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    d2l.train_ch5(net, train_iter, test_iter, 20, optimizer, torch.device("cpu"), 3)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "training on  cpu"  # print("training on ", device): two spaces
    assert len(lines) == 4 and all(CH5_LINE.match(line) for line in lines[1:]), lines
    assert float(CH5_LINE.match(lines[-1]).group(4)) > 0.7  # above chance (1/3)
    assert net.training  # left in training mode, as the edition leaves it


def test_train_ch5_prints_the_mean_loss_per_example(capsys):
    X, y = blobs(n=40)
    net = nn.Linear(4, 3)
    before = nn.CrossEntropyLoss()(net(X), y).item()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0)
    d2l.train_ch5(net, [(X[:20], y[:20]), (X[20:], y[20:])], [(X, y)], 20, optimizer, "cpu", 1)
    line = capsys.readouterr().out.splitlines()[1]
    assert float(CH5_LINE.match(line).group(2)) == pytest.approx(before, abs=1e-4)
