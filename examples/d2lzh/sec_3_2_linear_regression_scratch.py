"""Dive-into-DL-PyTorch 3.2: linear regression from scratch, with shallownet's d2lzh helpers."""

# %%
# Imports: the edition's helper package is replaced by shallownet's.
import numpy as np
import torch

from shallownet import d2lzh as d2l

# %%
# 1000 examples with 2 features; labels from w = [2, -3.4], b = 4.2 plus noise of std 0.01.
num_inputs = 2
num_examples = 1000
true_w = [2, -3.4]
true_b = 4.2
features = torch.randn(num_examples, num_inputs,
                       dtype=torch.float32)
labels = true_w[0] * features[:, 0] + true_w[1] * features[:, 1] + true_b
labels += torch.tensor(np.random.normal(0, 0.01, size=labels.size()),
                       dtype=torch.float32)

# %%
# The first example.
print(features[0], labels[0])

# %%
# Scatter plot of the second feature against the label.
d2l.set_figsize()
d2l.plt.scatter(features[:, 1].numpy(), labels.numpy(), 1)

# %%
# Read one shuffled minibatch of 10 examples (d2l.data_iter is the edition's generator).
batch_size = 10

for X, y in d2l.data_iter(batch_size, features, labels):
    print(X, y)
    break

# %%
# Weights drawn from N(0, 0.01^2), bias zero; both need gradients.
w = torch.tensor(np.random.normal(0, 0.01, (num_inputs, 1)), dtype=torch.float32)
b = torch.zeros(1, dtype=torch.float32)

w.requires_grad_(requires_grad=True)
b.requires_grad_(requires_grad=True)

# %%
# Model, loss and optimiser are the edition's helpers: d2l.linreg, d2l.squared_loss, d2l.sgd.
lr = 0.03
num_epochs = 3
net = d2l.linreg
loss = d2l.squared_loss

for epoch in range(num_epochs):
    for X, y in d2l.data_iter(batch_size, features, labels):
        l = loss(net(X, w, b), y).sum()  # noqa: E741 - the edition's name; summed to a scalar
        l.backward()
        d2l.sgd([w, b], lr, batch_size)

        # sgd leaves the gradients in place: reset them for the next minibatch.
        w.grad.data.zero_()
        b.grad.data.zero_()
    train_l = loss(net(features, w, b), labels)
    print('epoch %d, loss %f' % (epoch + 1, train_l.mean().item()))  # noqa: UP031

# %%
# The learned parameters next to the true ones.
print(true_w, '\n', w)
print(true_b, '\n', b)
