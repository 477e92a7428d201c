"""Dive-into-DL-PyTorch 3.13: dropout, with shallownet's d2lzh helpers."""

# %%
# Imports: the edition's helper package is replaced by shallownet's.
import numpy as np
import torch
import torch.nn as nn

from shallownet import d2lzh as d2l


# %%
# Inverted dropout: zero each element with probability drop_prob and scale the rest by
# 1 / (1 - drop_prob), which keeps the expected value.
def dropout(X, drop_prob):
    X = X.float()
    assert 0 <= drop_prob <= 1
    keep_prob = 1 - drop_prob
    # Nothing is kept.
    if keep_prob == 0:
        return torch.zeros_like(X)
    mask = (torch.rand(X.shape) < keep_prob).float()

    return mask * X / keep_prob


# %%
# Drop probabilities 0, 0.5 and 1 on a small matrix.
X = torch.arange(16).view(2, 8)
print(dropout(X, 0))

# %%
print(dropout(X, 0.5))

# %%
print(dropout(X, 1.0))

# %%
# An MLP with two hidden layers of 256 units each.
num_inputs, num_outputs, num_hiddens1, num_hiddens2 = 784, 10, 256, 256

W1 = torch.tensor(np.random.normal(0, 0.01, size=(num_inputs, num_hiddens1)), dtype=torch.float,
                  requires_grad=True)
b1 = torch.zeros(num_hiddens1, requires_grad=True)
W2 = torch.tensor(np.random.normal(0, 0.01, size=(num_hiddens1, num_hiddens2)), dtype=torch.float,
                  requires_grad=True)
b2 = torch.zeros(num_hiddens2, requires_grad=True)
W3 = torch.tensor(np.random.normal(0, 0.01, size=(num_hiddens2, num_outputs)), dtype=torch.float,
                  requires_grad=True)
b3 = torch.zeros(num_outputs, requires_grad=True)

params = [W1, b1, W2, b2, W3, b3]

# %%
# Dropout after each hidden activation, only when is_training: less (0.2) near the
# input, more (0.5) after the second layer. d2l.evaluate_accuracy passes
# is_training=False.
drop_prob1, drop_prob2 = 0.2, 0.5


def net(X, is_training=True):
    X = X.view(-1, num_inputs)
    H1 = (torch.matmul(X, W1) + b1).relu()
    if is_training:
        H1 = dropout(H1, drop_prob1)
    H2 = (torch.matmul(H1, W2) + b2).relu()
    if is_training:
        H2 = dropout(H2, drop_prob2)
    return torch.matmul(H2, W3) + b3


# %%
# Train the scratch model 5 epochs with d2l.sgd (lr 100 for the reason given in 3.9).
num_epochs, lr, batch_size = 5, 100.0, 256
loss = torch.nn.CrossEntropyLoss()
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)
d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, batch_size, params, lr)

# %%
# Concise: nn.Dropout layers, active in training mode only (evaluation uses eval mode).
net = nn.Sequential(
        d2l.FlattenLayer(),
        nn.Linear(num_inputs, num_hiddens1),
        nn.ReLU(),
        nn.Dropout(drop_prob1),
        nn.Linear(num_hiddens1, num_hiddens2),
        nn.ReLU(),
        nn.Dropout(drop_prob2),
        nn.Linear(num_hiddens2, 10)
        )

for param in net.parameters():
    nn.init.normal_(param, mean=0, std=0.01)

# %%
# Train it with PyTorch's SGD, lr 0.5.
optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, batch_size, None, None, optimizer)
