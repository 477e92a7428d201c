"""Dive-into-DL-PyTorch 3.12: weight decay, with shallownet's d2lzh helpers."""

# %%
# Imports: the edition's helper package is replaced by shallownet's.
import numpy as np
import torch
import torch.nn as nn

from shallownet import d2lzh as d2l

# %%
# High-dimensional linear regression: 200 features, only 20 training examples,
# y = 0.05 + 0.01 * sum(x) + noise (std 0.01).
n_train, n_test, num_inputs = 20, 100, 200
true_w, true_b = torch.ones(num_inputs, 1) * 0.01, 0.05

features = torch.randn((n_train + n_test, num_inputs))
labels = torch.matmul(features, true_w) + true_b
labels += torch.tensor(np.random.normal(0, 0.01, size=labels.size()), dtype=torch.float)
train_features, test_features = features[:n_train, :], features[n_train:, :]
train_labels, test_labels = labels[:n_train], labels[n_train:]


# %%
# From scratch: fresh parameters, weights from N(0, 1), bias 0.
def init_params():
    w = torch.randn((num_inputs, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    return [w, b]


# %%
# The L2 penalty on the weights: half the sum of their squares.
def l2_penalty(w):
    return (w**2).sum() / 2


# %%
# Train with the penalty times lambd added to d2l.squared_loss, step with d2l.sgd, and plot
# the training and test losses per epoch with d2l.semilogy.
batch_size, num_epochs, lr = 1, 100, 0.003
net, loss = d2l.linreg, d2l.squared_loss

dataset = torch.utils.data.TensorDataset(train_features, train_labels)
train_iter = torch.utils.data.DataLoader(dataset, batch_size, shuffle=True)


def fit_and_plot(lambd):
    w, b = init_params()
    train_ls, test_ls = [], []
    for _ in range(num_epochs):
        for X, y in train_iter:
            # The penalty joins the loss.
            l = loss(net(X, w, b), y) + lambd * l2_penalty(w)  # noqa: E741 - the edition's name
            l = l.sum()  # noqa: E741

            if w.grad is not None:
                w.grad.data.zero_()
                b.grad.data.zero_()
            l.backward()
            d2l.sgd([w, b], lr, batch_size)
        train_ls.append(loss(net(train_features, w, b), train_labels).mean().item())
        test_ls.append(loss(net(test_features, w, b), test_labels).mean().item())
    d2l.semilogy(range(1, num_epochs + 1), train_ls, 'epochs', 'loss',
                 range(1, num_epochs + 1), test_ls, ['train', 'test'])
    print('L2 norm of w:', w.norm().item())


# %%
# No weight decay: the training loss falls far below the test loss (overfitting).
fit_and_plot(lambd=0)

# %%
# With weight decay: the gap shrinks and the weights stay small.
fit_and_plot(lambd=3)


# %%
# Concise: the optimizer's weight_decay, applied to the weight only (two optimizers).
def fit_and_plot_pytorch(wd):
    net = nn.Linear(num_inputs, 1)
    nn.init.normal_(net.weight, mean=0, std=1)
    nn.init.normal_(net.bias, mean=0, std=1)
    optimizer_w = torch.optim.SGD(params=[net.weight], lr=lr, weight_decay=wd)  # decayed
    optimizer_b = torch.optim.SGD(params=[net.bias], lr=lr)  # not decayed

    train_ls, test_ls = [], []
    for _ in range(num_epochs):
        for X, y in train_iter:
            l = loss(net(X), y).mean()  # noqa: E741 - the edition's name
            optimizer_w.zero_grad()
            optimizer_b.zero_grad()

            l.backward()

            # Each optimizer steps its own parameter.
            optimizer_w.step()
            optimizer_b.step()
        train_ls.append(loss(net(train_features), train_labels).mean().item())
        test_ls.append(loss(net(test_features), test_labels).mean().item())
    d2l.semilogy(range(1, num_epochs + 1), train_ls, 'epochs', 'loss',
                 range(1, num_epochs + 1), test_ls, ['train', 'test'])
    print('L2 norm of w:', net.weight.data.norm().item())


# %%
# No weight decay.
fit_and_plot_pytorch(0)

# %%
# Weight decay 3 on the weight.
fit_and_plot_pytorch(3)
