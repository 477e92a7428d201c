"""D2L 4.2: a multilayer perceptron from scratch, with shallownet's d2l helpers."""

# %%
# Imports: the helpers come from shallownet instead of the book's d2l package.
import torch
from torch import nn

from shallownet import d2l

# %%
# Fashion-MNIST in minibatches of 256.
batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)

# %%
# Parameters of a network with one hidden layer of 256 units.
num_inputs, num_outputs, num_hiddens = 784, 10, 256

W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens, requires_grad=True) * 0.01)
b1 = nn.Parameter(torch.zeros(num_hiddens, requires_grad=True))
W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs, requires_grad=True) * 0.01)
b2 = nn.Parameter(torch.zeros(num_outputs, requires_grad=True))

params = [W1, b1, W2, b2]


# %%
# ReLU written by hand: the element-wise maximum of X and 0.
def relu(X):
    a = torch.zeros_like(X)
    return torch.max(X, a)


# %%
# The model: flatten, hidden layer with ReLU, output layer (@ is matrix product).
def net(X):
    X = X.reshape((-1, num_inputs))
    H = relu(X @ W1 + b1)
    return H @ W2 + b2


# %%
# PyTorch's cross-entropy, which takes raw scores, one value per example.
loss = nn.CrossEntropyLoss(reduction="none")

# %%
# Train for 10 epochs with SGD at learning rate 0.1.
num_epochs, lr = 10, 0.1
updater = torch.optim.SGD(params, lr=lr)
d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, updater)

# %%
# Predictions on a few test images.
d2l.predict_ch3(net, test_iter)
