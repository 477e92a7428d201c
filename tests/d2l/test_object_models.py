"""The current edition's data modules and models: shapes, formulas, and the book's accuracy."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from shallownet import d2l
from shallownet.d2l.data import QUICK_ENV, FashionMNISTImages
from tests.conftest import requires_real_data
from tests.d2l.conftest import written

# --- SyntheticRegressionData, DataModule.get_tensorloader -------------------------------------

def test_synthetic_regression_data_is_xw_plus_b_plus_small_noise():
    torch.manual_seed(0)
    w, b = torch.tensor([2, -3.4]), 4.2
    data = d2l.SyntheticRegressionData(w, b, num_train=300, num_val=200, batch_size=7)
    assert data.X.shape == (500, 2) and data.y.shape == (500, 1)
    residual = data.y - (data.X @ w.reshape(-1, 1) + b)
    assert 0.005 < residual.std() < 0.02  # noise 0.01
    train, val = data.train_dataloader(), data.val_dataloader()
    assert (len(train), len(val), train.batch_size) == (math.ceil(300 / 7), math.ceil(200 / 7), 7)
    X, y = next(iter(val))
    assert torch.equal(X, data.X[300:307]) and torch.equal(y, data.y[300:307])  # in order
    assert len(train.dataset) == 300 and len(val.dataset) == 200


def test_a_training_loader_reshuffles_with_torchs_generator():
    data = d2l.SyntheticRegressionData(torch.tensor([1.0]), 0.0, num_train=50, batch_size=50)
    loader = data.train_dataloader()
    torch.manual_seed(1)
    first = next(iter(loader))[0]
    second = next(iter(loader))[0]
    torch.manual_seed(1)
    again = next(iter(loader))[0]
    assert torch.equal(first, again) and not torch.equal(first, second)
    assert sorted(first.flatten().tolist()) == sorted(data.X[:50].flatten().tolist())


def test_get_tensorloader_takes_the_rows_of_indices():
    class Rows(d2l.DataModule):
        def __init__(self):
            super().__init__()
            self.batch_size = 2

    loader = Rows().get_tensorloader((torch.arange(10), torch.arange(10) * 2), False,
                                     slice(4, 8))
    assert [b[0].tolist() for b in loader] == [[4, 5], [6, 7]]
    assert d2l.DataModule().hparams == {"root": "../data", "num_workers": 4}


# --- the regression models --------------------------------------------------------------------

def test_linear_regression_scratch_learns_w_and_b(capsys):
    torch.manual_seed(0)
    w, b = torch.tensor([2, -3.4]), 4.2
    data = d2l.SyntheticRegressionData(w=w, b=b)
    model = d2l.LinearRegressionScratch(2, lr=0.03)
    assert model.w.shape == (2, 1) and model.w.std() < 0.05 and torch.equal(model.b, torch.zeros(1))
    d2l.Trainer(max_epochs=3).fit(model, data)
    # the book prints errors of 0.14, -0.15 (w) and 0.21 (b) after these 3 epochs
    assert (w - model.w.reshape(w.shape)).abs().max() < 0.3
    assert abs(b - model.b.item()) < 0.3
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_the_scratch_loss_is_half_the_mean_square():
    model = d2l.LinearRegressionScratch(1, lr=0.1)
    assert model.loss(torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [1.0]])) == 1.25


def test_linear_regression_starts_as_the_book_says_and_learns():
    torch.manual_seed(0)
    model = d2l.LinearRegression(lr=0.03)
    model(torch.randn(4, 500))  # the lazy layer takes its shape, then its initial values
    weight, bias = model.get_w_b()
    assert weight.shape == (1, 500) and 0.008 < weight.std() < 0.012 and torch.all(bias == 0)
    assert isinstance(model.net, torch.nn.Linear)
    w, b = torch.tensor([2, -3.4]), 4.2
    data = d2l.SyntheticRegressionData(w=w, b=b)
    model = d2l.LinearRegression(lr=0.03)
    d2l.Trainer(max_epochs=3).fit(model, data)
    weight, bias = model.get_w_b()
    assert (w - weight.reshape(w.shape)).abs().max() < 0.05 and abs(b - bias.item()) < 0.05


# --- Classifier -------------------------------------------------------------------------------

def test_accuracy_and_loss_averaged_or_per_example():
    model = d2l.SoftmaxRegression(num_outputs=3, lr=0.1)
    Y_hat = torch.tensor([[0.1, 0.8, 0.1], [0.9, 0.05, 0.05], [0.2, 0.2, 0.6]])
    Y = torch.tensor([1, 2, 2])
    assert model.accuracy(Y_hat, Y) == pytest.approx(2 / 3)
    assert model.accuracy(Y_hat, Y, averaged=False).tolist() == [1.0, 0.0, 1.0]
    assert torch.allclose(model.loss(Y_hat, Y), F.cross_entropy(Y_hat, Y))
    per = model.loss(Y_hat, Y, averaged=False)
    assert per.shape == (3,) and torch.allclose(per, -torch.log_softmax(Y_hat, 1)[[0, 1, 2], Y])


def test_the_mlps_are_the_books_networks():
    mlp = d2l.MLP(num_outputs=10, num_hiddens=256, lr=0.1)
    dropout = d2l.DropoutMLP(num_outputs=10, num_hiddens_1=256, num_hiddens_2=128,
                             dropout_1=0.5, dropout_2=0.2, lr=0.1)
    X = torch.randn(5, 1, 28, 28)
    assert mlp(X).shape == (5, 10) and dropout(X).shape == (5, 10)
    assert [type(m).__name__ for m in mlp.net] == ["Flatten", "Linear", "ReLU", "Linear"]
    assert mlp.net[1].weight.shape == (256, 784)
    assert [m.p for m in dropout.net if isinstance(m, torch.nn.Dropout)] == [0.5, 0.2]
    dropout.eval()
    assert torch.equal(dropout(X), dropout(X))  # no dropout in evaluation


# --- FashionMNIST as a data module ------------------------------------------------------------

@requires_real_data
def test_fashion_mnist_splits_batches_and_labels(monkeypatch):
    monkeypatch.delenv(QUICK_ENV, raising=False)
    data = d2l.FashionMNIST(batch_size=256)
    assert (len(data.train), len(data.val)) == (60000, 10000)
    assert isinstance(data.train, FashionMNISTImages)
    image, label = data.train[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32 and label == 9
    assert image.min() >= 0 and image.max() <= 1
    loader = data.train_dataloader()
    assert len(loader) == math.ceil(60000 / 256) and loader.batch_size == 256
    X, y = next(iter(data.val_dataloader()))
    assert X.shape == (256, 1, 28, 28) and y.dtype == torch.int64
    assert torch.equal(X[0], data.val[0][0])
    assert data.text_labels(y[:3]) == ["ankle boot", "pullover", "trouser"]


@requires_real_data
def test_fashion_mnist_resizes(monkeypatch):
    monkeypatch.setenv(QUICK_ENV, "1")
    data = d2l.FashionMNIST(batch_size=32, resize=(32, 64))
    assert data.train[0][0].shape == (1, 32, 64)
    assert next(iter(data.train_dataloader()))[0].shape == (32, 1, 32, 64)
    assert (len(data.train), len(data.val)) == (2048, 512)


@requires_real_data
def test_visualize_draws_a_titled_row(monkeypatch, figure_files):
    monkeypatch.setenv(QUICK_ENV, "1")
    data = d2l.FashionMNIST()
    batch = next(iter(data.val_dataloader()))
    data.visualize(batch)
    (name,) = written(figure_files)
    assert name.endswith("-images.png")
    import matplotlib.pyplot as plt

    axes = plt.gcf().axes
    assert len(axes) == 8
    assert [a.get_title() for a in axes] == data.text_labels(batch[1][:8])
    data.visualize(batch, nrows=2, ncols=3, labels=["a", "b", "c", "d", "e", "f"])
    assert [a.get_title() for a in plt.gcf().axes] == ["a", "b", "c", "d", "e", "f"]


@requires_real_data
@pytest.mark.parametrize(("name", "make", "least"), [
    ("softmax", lambda: d2l.SoftmaxRegression(num_outputs=10, lr=0.1), 0.81),
    ("mlp", lambda: d2l.MLP(num_outputs=10, num_hiddens=256, lr=0.1), 0.83),
])
def test_the_books_accuracy_at_the_books_settings(name, make, least, monkeypatch, capsys):
    monkeypatch.delenv(QUICK_ENV, raising=False)
    torch.manual_seed(0)
    model = make()
    data = d2l.FashionMNIST(batch_size=256)
    d2l.Trainer(max_epochs=10).fit(model, data)
    final = model.board.data["val_acc"][-1].y
    assert final >= least, f"{name}: validation accuracy {final:.3f} after 10 epochs"
    assert len(model.board.data["val_acc"]) == 10
    assert len(model.board.data["train_loss"]) == 20
    assert f"val acc {final:.3f}" in capsys.readouterr().out.splitlines()[-1]
