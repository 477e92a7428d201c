"""Dive-into-DL-PyTorch 3.9: a multilayer perceptron from scratch, with shallownet's d2lzh
helpers."""

# %%
# Imports: the edition's helper package is replaced by shallownet's.
import numpy as np
import torch

from shallownet import d2lzh as d2l

# %%
# Fashion-MNIST in minibatches of 256.
batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)

# %%
# One hidden layer of 256 units between the 784 inputs and the 10 outputs.
num_inputs, num_outputs, num_hiddens = 784, 10, 256

W1 = torch.tensor(np.random.normal(0, 0.01, (num_inputs, num_hiddens)), dtype=torch.float)
b1 = torch.zeros(num_hiddens, dtype=torch.float)
W2 = torch.tensor(np.random.normal(0, 0.01, (num_hiddens, num_outputs)), dtype=torch.float)
b2 = torch.zeros(num_outputs, dtype=torch.float)

params = [W1, b1, W2, b2]
for param in params:
    param.requires_grad_(requires_grad=True)


# %%
# ReLU written with an element-wise maximum against 0.
def relu(X):
    return torch.max(input=X, other=torch.tensor(0.0))


# %%
# The model: flatten, hidden layer with ReLU, output layer.
def net(X):
    X = X.view((-1, num_inputs))
    H = relu(torch.matmul(X, W1) + b1)
    return torch.matmul(H, W2) + b2


# %%
# PyTorch's cross-entropy (softmax included), averaged over the batch.
loss = torch.nn.CrossEntropyLoss()

# %%
# Train 5 epochs. The loss is already a batch mean and d2l.sgd divides by batch_size
# once more, hence the learning rate of 100.
num_epochs, lr = 5, 100.0
d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, batch_size, params, lr)
