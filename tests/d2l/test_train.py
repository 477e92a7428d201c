"""The book's training and evaluation loops (train_ch3, train_ch6) and their helpers."""

from __future__ import annotations

import re
import warnings

import pytest
import torch
from torch import nn

from shallownet import d2l
from shallownet.d2l import devices
from shallownet.errors import TrainingDiverged, UsageError
from tests.d2l.conftest import SCRIPT, written

#: The line train_ch3 and train_ch6 print per epoch.
EPOCH_LINE = re.compile(
    r"^epoch +(\d+)/(\d+) +train loss [\d.]+ +train acc [\d.]+ +test acc [\d.]+ +\([\d.]+ s\)$"
)


def classification(n: int = 40, d: int = 4, q: int = 3, *, seed: int = 0,
                   dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Random features and labels (nothing to learn)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randint(0, q, (n,), generator=g)


def separable(n: int = 200, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes split by the sign of feature 0, far apart: learnt in an epoch or two."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 2, generator=g)
    y = (X[:, 0] > 0).long()
    X[:, 0] = torch.where(y == 1, 1.0, -1.0) * (3 + X[:, 0].abs())
    return X, y


def softmax_net(d: int = 4, q: int = 3, *, seed: int = 0) -> nn.Module:
    """The concise softmax regression in float64 (exact comparisons), fixed initial weights."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(d, q)).double()


def parameters(net: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def assert_same(first: list[torch.Tensor], second: list[torch.Tensor]) -> None:
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def stdout_lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


# --------------------------------------------------------------------------- accuracy, Accumulator


def test_accuracy_of_scores_is_a_float_count():
    y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    y = torch.tensor([0, 2])
    correct = d2l.accuracy(y_hat, y)
    assert type(correct) is float and correct == 1.0
    assert d2l.accuracy(y_hat, y) / len(y) == 0.5  # the book's rate


def test_accuracy_of_label_vectors():
    assert d2l.accuracy(torch.tensor([0, 2, 1, 1]), torch.tensor([0, 2, 2, 1])) == 3.0


def test_accumulator_adds_resets_and_indexes():
    metric = d2l.Accumulator(3)
    metric.add(1, 2.5, torch.tensor(3))
    metric.add(torch.tensor(1.5), 0.5, 1)
    assert metric[0] == 2.5 and metric[1] == 3.0 and metric[2] == 4.0
    assert all(type(v) is float for v in metric.data)
    assert metric[0] / metric[2] == 0.625
    metric.reset()
    assert metric.data == [0.0, 0.0, 0.0]


def test_accumulator_add_with_the_wrong_number_of_values_is_explained():
    metric = d2l.Accumulator(2)
    with pytest.raises(UsageError, match=r"keeps 2 sums but add\(\) got 3 values"):
        metric.add(1, 2, 3)
    with pytest.raises(UsageError, match=r"keeps 2 sums but add\(\) got 1 values"):
        metric.add(1)


# --------------------------------------------------------------------------- evaluate_accuracy


def identity_classifier() -> nn.Module:
    """Predicts the index of the largest of two features, with a dropout that eval mode skips."""
    linear = nn.Linear(2, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.eye(2))
        linear.bias.zero_()
    return nn.Sequential(nn.Dropout(0.99), linear)


HAND_MADE = [  # predictions: 1, 0, 0 | 1, 1  -> 3 of 5 correct
    (torch.tensor([[0.0, 1.0], [2.0, 1.0], [5.0, -1.0]]), torch.tensor([1, 0, 1])),
    (torch.tensor([[0.0, 3.0], [1.0, 2.0]]), torch.tensor([1, 0])),
]


def test_evaluate_accuracy_in_eval_mode_on_a_hand_made_loader():
    net = identity_classifier()
    net.train()
    assert d2l.evaluate_accuracy(net, HAND_MADE) == pytest.approx(3 / 5)
    assert not net.training


def test_evaluate_accuracy_of_a_plain_function():
    assert d2l.evaluate_accuracy(lambda X: X, HAND_MADE) == pytest.approx(3 / 5)


def test_evaluate_accuracy_of_no_batches_is_an_error():
    with pytest.raises(UsageError, match="no batches"):
        d2l.evaluate_accuracy(lambda X: X, [])


def test_evaluate_accuracy_gpu_uses_the_nets_device_by_default():
    seen = []

    class Recorder(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = identity_classifier()

        def forward(self, X):
            seen.append((X.device, self.training))
            return self.linear(X)

    net = Recorder()
    assert d2l.evaluate_accuracy_gpu(net, HAND_MADE) == pytest.approx(3 / 5)
    device = next(net.parameters()).device
    assert seen == [(device, False)] * 2
    assert d2l.evaluate_accuracy_gpu(net, HAND_MADE, device=torch.device("cpu")) == 0.6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_evaluate_accuracy_gpu_moves_cpu_batches_to_the_nets_gpu():
    net = identity_classifier().to("cuda")
    assert d2l.evaluate_accuracy_gpu(net, HAND_MADE) == pytest.approx(3 / 5)
    assert d2l.evaluate_accuracy(net, HAND_MADE) == pytest.approx(3 / 5)


# --------------------------------------------------------------------------- train_epoch_ch3


def one_epoch(loss, *, custom: bool, lr: float = 0.5):
    """One epoch of the float64 softmax net, in a fixed order; (net's parameters, result)."""
    net = softmax_net()
    train_iter = d2l.load_array(classification(), 8, is_train=False)
    if custom:
        def updater(batch_size):
            return d2l.sgd(net.parameters(), lr, batch_size)
    else:
        updater = torch.optim.SGD(net.parameters(), lr=lr)
    result = d2l.train_epoch_ch3(net, train_iter, loss, updater)
    return parameters(net), result


def book_epoch(lr: float = 0.5):
    """The book's train_epoch_ch3 loop, written out, with a torch optimiser."""
    net = softmax_net()
    loss = nn.CrossEntropyLoss(reduction="none")
    updater = torch.optim.SGD(net.parameters(), lr=lr)
    metric = d2l.Accumulator(3)
    for X, y in d2l.load_array(classification(), 8, is_train=False):
        y_hat = net(X)
        loss_values = loss(y_hat, y)
        updater.zero_grad()
        loss_values.mean().backward()
        updater.step()
        metric.add(float(loss_values.sum().detach()), d2l.accuracy(y_hat, y), y.numel())
    return parameters(net), (metric[0] / metric[2], metric[1] / metric[2])


def test_train_epoch_ch3_gives_the_books_result():
    params, (train_loss, train_acc) = one_epoch(nn.CrossEntropyLoss(reduction="none"),
                                                custom=False)
    book_params, (book_loss, book_acc) = book_epoch()
    assert_same(params, book_params)
    assert train_loss == pytest.approx(book_loss, rel=1e-12)
    assert train_acc == book_acc


def test_train_epoch_ch3_optimiser_and_custom_updater_agree():
    loss = nn.CrossEntropyLoss(reduction="none")
    by_optimiser, result_optimiser = one_epoch(loss, custom=False)
    by_updater, result_updater = one_epoch(loss, custom=True)
    assert_same(by_optimiser, by_updater)
    assert result_optimiser == pytest.approx(result_updater, rel=1e-12)
    assert by_optimiser[0].dtype == torch.float64
    assert not torch.equal(by_optimiser[0], parameters(softmax_net())[1])  # it did train


@pytest.mark.parametrize("custom", [False, True], ids=["optimiser", "custom-updater"])
def test_a_mean_reduced_loss_trains_like_the_books_summed_loss(custom):
    summed_params, (summed_loss, summed_acc) = one_epoch(
        nn.CrossEntropyLoss(reduction="none"), custom=custom)
    mean_params, (mean_loss, mean_acc) = one_epoch(nn.CrossEntropyLoss(), custom=custom)
    assert_same(mean_params, summed_params)
    assert mean_loss == pytest.approx(summed_loss, rel=1e-12)
    assert mean_acc == summed_acc
    assert 0.5 < mean_loss < 3  # a per-example loss, not one batch's worth of it


def test_a_sum_reduced_loss_with_a_custom_updater_trains_like_the_book():
    summed_params, (summed_loss, _) = one_epoch(nn.CrossEntropyLoss(reduction="none"),
                                                custom=True)
    sum_params, (sum_loss, _) = one_epoch(nn.CrossEntropyLoss(reduction="sum"), custom=True)
    assert sum_loss == pytest.approx(summed_loss, rel=1e-12)
    assert_same(sum_params, summed_params)


def test_train_epoch_ch3_with_the_books_scratch_model():
    X, y = classification(dtype=torch.float32)
    W = torch.normal(0, 0.01, size=(4, 3), requires_grad=True)
    b = torch.zeros(3, requires_grad=True)

    def net(X):
        return torch.softmax(X.reshape((-1, W.shape[0])) @ W + b, dim=1)

    def cross_entropy(y_hat, y):
        return -torch.log(y_hat[range(len(y_hat)), y])

    before = W.detach().clone()
    train_loss, train_acc = d2l.train_epoch_ch3(
        net, d2l.load_array((X, y), 8), cross_entropy, lambda n: d2l.sgd([W, b], 0.1, n))
    assert train_loss == pytest.approx(torch.log(torch.tensor(3.0)).item(), abs=0.1)
    assert 0 <= train_acc <= 1
    assert not torch.equal(W.detach(), before)


# --------------------------------------------------------------------------- train_ch3


def loaders(data, test_data=None, batch_size=10):
    test_data = data if test_data is None else test_data
    return d2l.load_array(data, batch_size), d2l.load_array(test_data, batch_size, is_train=False)


def test_train_ch3_prints_a_line_per_epoch_and_returns_none(capsys, figure_files):
    net = softmax_net()
    train_iter, test_iter = loaders(classification())
    with pytest.warns(d2l.BookCheckWarning):
        result = d2l.train_ch3(net, train_iter, test_iter, nn.CrossEntropyLoss(reduction="none"),
                               2, torch.optim.SGD(net.parameters(), lr=0.1))
    assert result is None
    lines = stdout_lines(capsys)
    assert len(lines) == 2
    assert [EPOCH_LINE.match(line).groups() for line in lines] == [("1", "2"), ("2", "2")]
    assert written(figure_files) == [f"{SCRIPT}-1-animator.png"]


def test_train_ch3_runs_under_the_thread_policy_and_puts_the_count_back(monkeypatch, capsys):
    before = torch.get_num_threads()
    wanted = 2 if before == 1 else 1
    monkeypatch.setenv("SHALLOWNET_THREADS", str(wanted))  # fixes the policy's count
    seen = []
    net = softmax_net()
    net.register_forward_pre_hook(lambda module, args: seen.append(torch.get_num_threads()))
    train_iter, test_iter = loaders(classification())
    with pytest.warns(d2l.BookCheckWarning):
        d2l.train_ch3(net, train_iter, test_iter, nn.CrossEntropyLoss(reduction="none"), 2,
                      torch.optim.SGD(net.parameters(), lr=0.1))
    assert len(seen) == 2 * 8 and set(seen) == {wanted}  # 4 training + 4 test batches an epoch
    assert torch.get_num_threads() == before


def test_train_ch3_below_the_books_checks_warns_and_says_why(capsys):
    net = softmax_net()
    train_iter, test_iter = loaders(classification())
    with pytest.warns(d2l.BookCheckWarning, match="after 1 epochs the train loss") as record:
        d2l.train_ch3(net, train_iter, test_iter, nn.CrossEntropyLoss(reduction="none"), 1,
                      torch.optim.SGD(net.parameters(), lr=0.1))
    (book_check,) = [w for w in record if w.category is d2l.BookCheckWarning]
    message = str(book_check.message)
    assert "train accuracy" in message and "test accuracy" in message
    assert "not above 0.7" in message and "10 epochs at lr 0.1" in message
    assert book_check.filename == __file__  # points at the caller's train_ch3 line
    assert len(stdout_lines(capsys)) == 1


def test_train_ch3_that_meets_the_books_checks_does_not_warn(capsys):
    net = nn.Sequential(nn.Flatten(), nn.Linear(2, 2))
    train_iter, test_iter = loaders(separable(), separable(100, seed=1), batch_size=20)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        d2l.train_ch3(net, train_iter, test_iter, nn.CrossEntropyLoss(reduction="none"), 3,
                      torch.optim.SGD(net.parameters(), lr=0.5))
    assert [w for w in record if issubclass(w.category, d2l.BookCheckWarning)] == []
    *_, last = stdout_lines(capsys)
    assert EPOCH_LINE.match(last).groups() == ("3", "3")


def test_train_ch3_stops_when_the_books_scratch_softmax_diverges(capsys):
    X, y = classification(200, 4, 3, dtype=torch.float32)
    W = torch.normal(0, 0.01, size=(4, 3), requires_grad=True)
    b = torch.zeros(3, requires_grad=True)

    def softmax(X):
        X_exp = torch.exp(X)
        return X_exp / X_exp.sum(1, keepdim=True)

    def net(X):
        return softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)

    def cross_entropy(y_hat, y):
        return -torch.log(y_hat[range(len(y_hat)), y])

    train_iter, test_iter = loaders((X, y))
    with pytest.raises(TrainingDiverged, match="in epoch 1: training diverged") as info:
        d2l.train_ch3(net, train_iter, test_iter, cross_entropy, 3,
                      lambda batch_size: d2l.sgd([W, b], 1e30, batch_size))
    assert info.value.epoch == 1
    assert "logits" in str(info.value)
    assert stdout_lines(capsys) == []


def test_train_ch3_stops_on_a_nan_loss_and_names_the_epoch_and_lr():
    net = softmax_net()
    train_iter, test_iter = loaders(classification())
    calls = []

    def loss(y_hat, y):  # fine in epoch 1, nan from epoch 2 on
        calls.append(len(y))
        values = nn.functional.cross_entropy(y_hat, y, reduction="none")
        return values * float("nan") if sum(calls) > 40 else values

    with pytest.raises(TrainingDiverged, match=r"became nan in epoch 2") as info:
        d2l.train_ch3(net, train_iter, test_iter, loss, 5,
                      torch.optim.SGD(net.parameters(), lr=0.1))
    assert info.value.epoch == 2
    assert "(lr 0.1)" in str(info.value)


@pytest.mark.parametrize("num_epochs", [0, -1, 1.5])
def test_train_ch3_and_train_ch6_need_a_positive_number_of_epochs(num_epochs):
    net = softmax_net()
    train_iter, test_iter = loaders(classification())
    updater = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(UsageError, match="num_epochs"):
        d2l.train_ch3(net, train_iter, test_iter, nn.CrossEntropyLoss(), num_epochs, updater)
    with pytest.raises(UsageError, match="num_epochs"):
        d2l.train_ch6(net, train_iter, test_iter, num_epochs, 0.1, torch.device("cpu"))


# --------------------------------------------------------------------------- evaluate_loss


def test_evaluate_loss_is_the_same_for_summed_and_mean_reduced_losses():
    torch.manual_seed(0)
    X = torch.randn(23, 2, dtype=torch.float64)
    y = X @ torch.tensor([2.0, -1.0], dtype=torch.float64) + 0.1 * torch.randn(23,
                                                                             dtype=torch.float64)
    net = nn.Linear(2, 1).double()
    data_iter = d2l.load_array((X, y), 5, is_train=False)  # batches 5, 5, 5, 5, 3
    with torch.no_grad():
        expected = float(((net(X) - y.reshape(-1, 1)) ** 2).mean())
    by_none = d2l.evaluate_loss(net, data_iter, nn.MSELoss(reduction="none"))
    by_mean = d2l.evaluate_loss(net, data_iter, nn.MSELoss())
    assert by_none == pytest.approx(expected, rel=1e-12)
    assert by_mean == pytest.approx(expected, rel=1e-12)
    assert d2l.evaluate_loss(net, data_iter, d2l.squared_loss) == pytest.approx(expected / 2)


# --------------------------------------------------------------------------- predict_ch3


class ModeRecorder(nn.Module):
    """A 28x28 -> 10 classifier that records whether it ran in training mode."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
        self.modes = []

    def forward(self, X):
        self.modes.append(self.training)
        return self.net(X)


def fake_fashion_mnist(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.rand(n, 1, 28, 28), torch.arange(n) % 10


@pytest.mark.parametrize("training", [True, False], ids=["train-mode", "eval-mode"])
def test_predict_ch3_draws_labelled_images_and_keeps_the_mode(figure_files, training):
    net = ModeRecorder()
    net.train(training)
    X, y = fake_fashion_mnist()
    d2l.predict_ch3(net, d2l.load_array((X, y), 8, is_train=False))
    assert net.training is training and net.modes == [False]
    assert written(figure_files) == [f"{SCRIPT}-1-images.png"]
    predicted = d2l.get_fashion_mnist_labels(net.net(X).argmax(dim=1))
    axes = d2l.plt.gcf().axes
    assert len(axes) == 6
    expected = [f"{t}\n{p}" for t, p in zip(d2l.get_fashion_mnist_labels(y), predicted,
                                               strict=False)][:6]
    assert [ax.get_title() for ax in axes] == expected
    assert axes[0].get_images()[0].get_array().shape == (28, 28)


def test_predict_ch3_of_a_plain_function_with_n():
    X, y = fake_fashion_mnist()
    d2l.predict_ch3(lambda X: torch.zeros(len(X), 10), d2l.load_array((X, y), 8), n=3)
    assert [ax.get_title().split("\n")[1] for ax in d2l.plt.gcf().axes] == ["t-shirt"] * 3


def test_predict_ch3_on_flattened_images_as_the_book_does():
    X, y = fake_fashion_mnist()
    flat = d2l.load_array((X.reshape(len(X), -1), y), 8, is_train=False)
    d2l.predict_ch3(lambda X: torch.zeros(len(X), 10), flat, n=3)
    assert d2l.plt.gcf().axes[0].get_images()[0].get_array().shape == (28, 28)


# --------------------------------------------------------------------------- train_ch6


def tiny_lenet() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, kernel_size=5, padding=2), nn.Sigmoid(),
                         nn.AvgPool2d(kernel_size=4, stride=4), nn.Flatten(),
                         nn.Linear(4 * 7 * 7, 10))


def random_images(n: int, test: int = 128):
    """Loaders of ``n`` random 28x28 training images and ``test`` test images, 10 classes."""
    torch.manual_seed(0)
    X, y = torch.rand(n, 1, 28, 28), torch.randint(0, 10, (n,))
    Xt, yt = torch.rand(test, 1, 28, 28), torch.randint(0, 10, (test,))
    return d2l.load_array((X, y), 64), d2l.load_array((Xt, yt), 64, is_train=False)


def test_train_ch6_prints_what_the_book_prints(capsys, figure_files):
    net = tiny_lenet()
    train_iter, test_iter = random_images(512)
    assert d2l.train_ch6(net, train_iter, test_iter, 1, 0.9, torch.device("cpu")) is None
    lines = stdout_lines(capsys)
    assert len(lines) == 4, lines
    assert lines[0] == "training on cpu"
    assert EPOCH_LINE.match(lines[1]).groups() == ("1", "1")
    assert re.fullmatch(r"loss [\d.]+, train acc [\d.]+, test acc [\d.]+", lines[2])
    assert re.fullmatch(r"[\d.]+ examples/sec on cpu", lines[3])
    assert written(figure_files) == [f"{SCRIPT}-1-animator.png"]
    assert not net.training


def test_one_epoch_of_train_ch6_warns_nothing():
    train_iter, test_iter = random_images(64, test=64)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        d2l.train_ch6(tiny_lenet(), train_iter, test_iter, 1, 0.9, torch.device("cpu"))
    assert [str(w.message) for w in record] == []


# --------------------------------------------------------------------------- devices, sgd


@pytest.mark.skipif(torch.cuda.is_available() or devices.mps_available(),
                    reason="this machine has a GPU")
def test_try_gpu_and_try_all_gpus_give_the_cpu_here():
    assert d2l.try_gpu() == torch.device("cpu")
    assert d2l.try_gpu(1) == torch.device("cpu")
    assert d2l.try_all_gpus() == [torch.device("cpu")]


def test_try_gpu_and_try_all_gpus_with_cuda_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert d2l.try_gpu() == torch.device("cuda:0")
    assert d2l.try_gpu(1) == torch.device("cuda:1")
    assert d2l.try_gpu(2) == torch.device("cpu")
    assert d2l.try_all_gpus() == [torch.device("cuda:0"), torch.device("cuda:1")]


def test_try_gpu_and_try_all_gpus_with_an_apple_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(devices, "mps_available", lambda: True)
    assert d2l.try_gpu() == torch.device("mps")
    assert d2l.try_gpu(1) == torch.device("cpu")
    assert d2l.try_all_gpus() == [torch.device("mps")]


def test_sgd_on_a_parameter_without_gradient_is_explained():
    w = torch.zeros(2, 3, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    (w.sum() * 2).backward()
    with pytest.raises(UsageError, match=r"parameter 1 \(shape \(3,\)\) has no gradient"):
        d2l.sgd([w, b], 0.1, 1)
    assert torch.equal(w.detach(), torch.zeros(2, 3))  # nothing was updated


def test_sgd_steps_and_zeroes_the_gradient():
    w = torch.ones(2, requires_grad=True)
    (3 * w.sum()).backward()
    d2l.sgd([w], 0.5, 3)
    assert w.detach().tolist() == [0.5, 0.5] and w.grad.tolist() == [0.0, 0.0]
