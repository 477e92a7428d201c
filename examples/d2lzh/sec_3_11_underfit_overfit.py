"""Dive-into-DL-PyTorch 3.11: model selection, underfitting and overfitting, with shallownet's
d2lzh helpers."""

# %%
# Imports: the edition's helper package is replaced by shallownet's.
import numpy as np
import torch

from shallownet import d2lzh as d2l

# %%
# 100 training and 100 test examples of y = 1.2x - 3.4x^2 + 5.6x^3 + 5 + noise (std 0.01).
n_train, n_test, true_w, true_b = 100, 100, [1.2, -3.4, 5.6], 5
features = torch.randn((n_train + n_test, 1))
poly_features = torch.cat((features, torch.pow(features, 2), torch.pow(features, 3)), 1)
labels = (true_w[0] * poly_features[:, 0] + true_w[1] * poly_features[:, 1]
          + true_w[2] * poly_features[:, 2] + true_b)
labels += torch.tensor(np.random.normal(0, 0.01, size=labels.size()), dtype=torch.float)

# %%
# The first two examples: x, (x, x^2, x^3) and y.
print(features[:2], poly_features[:2], labels[:2])

# %%
# Fit a linear layer on the given features for 100 epochs (SGD, lr 0.01, batches of
# up to 10), print the last losses and the parameters, and plot both loss curves on
# a log scale with d2l.semilogy.
num_epochs, loss = 100, torch.nn.MSELoss()


def fit_and_plot(train_features, test_features, train_labels, test_labels):
    net = torch.nn.Linear(train_features.shape[-1], 1)
    # nn.Linear comes initialised already.

    batch_size = min(10, train_labels.shape[0])
    dataset = torch.utils.data.TensorDataset(train_features, train_labels)
    train_iter = torch.utils.data.DataLoader(dataset, batch_size, shuffle=True)

    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    train_ls, test_ls = [], []
    for _ in range(num_epochs):
        for X, y in train_iter:
            l = loss(net(X), y.view(-1, 1))  # noqa: E741 - the edition's name
            optimizer.zero_grad()
            l.backward()
            optimizer.step()
        train_labels = train_labels.view(-1, 1)
        test_labels = test_labels.view(-1, 1)
        train_ls.append(loss(net(train_features), train_labels).item())
        test_ls.append(loss(net(test_features), test_labels).item())
    print('final epoch: train loss', train_ls[-1], 'test loss', test_ls[-1])
    d2l.semilogy(range(1, num_epochs + 1), train_ls, 'epochs', 'loss',
                 range(1, num_epochs + 1), test_ls, ['train', 'test'])
    print('weight:', net.weight.data,
          '\nbias:', net.bias.data)


# %%
# A cubic fit, the order of the data: both losses get low (normal fit).
fit_and_plot(poly_features[:n_train, :], poly_features[n_train:, :],
             labels[:n_train], labels[n_train:])

# %%
# A linear fit: the training loss stays high (underfitting).
fit_and_plot(features[:n_train, :], features[n_train:, :], labels[:n_train],
             labels[n_train:])

# %%
# A cubic fit on two training examples only: the test loss stays high (overfitting).
fit_and_plot(poly_features[0:2, :], poly_features[n_train:, :], labels[0:2],
             labels[n_train:])
