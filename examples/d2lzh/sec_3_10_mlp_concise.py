"""Dive-into-DL-PyTorch 3.10: a concise multilayer perceptron, with shallownet's d2lzh
helpers."""

# %%
# Imports: the edition's helper package is replaced by shallownet's.
import torch
from torch import nn
from torch.nn import init

from shallownet import d2lzh as d2l

# %%
# Flatten, a hidden layer of 256 ReLU units, then 10 outputs; every parameter from
# N(0, 0.01^2).
num_inputs, num_outputs, num_hiddens = 784, 10, 256

net = nn.Sequential(
        d2l.FlattenLayer(),
        nn.Linear(num_inputs, num_hiddens),
        nn.ReLU(),
        nn.Linear(num_hiddens, num_outputs),
        )

for params in net.parameters():
    init.normal_(params, mean=0, std=0.01)

# %%
# Data, loss and PyTorch's SGD (lr 0.5), then 5 epochs with the loop of 3.6.
batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)
loss = torch.nn.CrossEntropyLoss()

optimizer = torch.optim.SGD(net.parameters(), lr=0.5)

num_epochs = 5
d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, batch_size, None, None, optimizer)
