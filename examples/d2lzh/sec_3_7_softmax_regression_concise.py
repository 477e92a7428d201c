"""Dive-into-DL-PyTorch 3.7: concise softmax regression, with shallownet's d2lzh helpers."""

# %%
# Imports: the edition's helper package is replaced by shallownet's.
from collections import OrderedDict

import torch
from torch import nn
from torch.nn import init

from shallownet import d2lzh as d2l

# %%
# Fashion-MNIST in minibatches of 256, as in 3.6.
batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)

# %%
# One linear layer; a batch (batch_size, 1, 28, 28) is reshaped to (batch_size, 784) first.
num_inputs = 784
num_outputs = 10


class LinearNet(nn.Module):
    def __init__(self, num_inputs, num_outputs):
        super(LinearNet, self).__init__()  # noqa: UP008 - the edition's spelling
        self.linear = nn.Linear(num_inputs, num_outputs)

    def forward(self, x):
        y = self.linear(x.view(x.shape[0], -1))
        return y


net = LinearNet(num_inputs, num_outputs)

# %%
# The same model from two named layers; d2l.FlattenLayer does the reshaping.
net = nn.Sequential(
    OrderedDict([
        ('flatten', d2l.FlattenLayer()),
        ('linear', nn.Linear(num_inputs, num_outputs))
    ])
)

# %%
# Weights from N(0, 0.01^2), bias 0.
init.normal_(net.linear.weight, mean=0, std=0.01)
init.constant_(net.linear.bias, val=0)

# %%
# Softmax and cross-entropy in one numerically stable loss.
loss = nn.CrossEntropyLoss()

# %%
# PyTorch's minibatch SGD with learning rate 0.1.
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)

# %%
# Train with the loop of 3.6, stepping the optimizer this time.
num_epochs = 5
d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, batch_size, None, None, optimizer)
