"""Dive-into-DL-PyTorch 5.1: two-dimensional convolutional layers, with shallownet's d2lzh
helpers."""

# %%
# Imports: the edition's helper package is replaced by shallownet's.
import torch
from torch import nn

from shallownet import d2lzh as d2l

# %%
# Cross-correlation of a 3 x 3 input with a 2 x 2 kernel (d2l.corr2d is the edition's).
X = torch.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
K = torch.tensor([[0, 1], [2, 3]])
print(d2l.corr2d(X, K))


# %%
# A convolutional layer: a learnable kernel and a scalar bias around d2l.corr2d.
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super(Conv2D, self).__init__()  # noqa: UP008 - the edition's spelling
        self.weight = nn.Parameter(torch.randn(kernel_size))
        self.bias = nn.Parameter(torch.randn(1))

    def forward(self, x):
        return d2l.corr2d(x, self.weight) + self.bias


# %%
# Edge detection: a 6 x 8 image, white (1) except for its four black (0) middle columns.
X = torch.ones(6, 8)
X[:, 2:6] = 0
print(X)

# %%
# A 1 x 2 kernel that gives 0 where neighbours in a row are equal.
K = torch.tensor([[1, -1]])

# %%
# Edges show up as 1 (white to black) and -1 (black to white).
Y = d2l.corr2d(X, K)
print(Y)

# %%
# Learn that kernel back from X and Y: squared error, plain gradient descent, 20 steps.
conv2d = Conv2D(kernel_size=(1, 2))

step = 20
lr = 0.01
for i in range(step):
    Y_hat = conv2d(X)
    l = ((Y_hat - Y) ** 2).sum()  # noqa: E741 - the edition's name
    l.backward()

    # Step down the gradient.
    conv2d.weight.data -= lr * conv2d.weight.grad
    conv2d.bias.data -= lr * conv2d.bias.grad

    # Reset the gradients.
    conv2d.weight.grad.fill_(0)
    conv2d.bias.grad.fill_(0)
    if (i + 1) % 5 == 0:
        print('Step %d, loss %.3f' % (i + 1, l.item()))  # noqa: UP031

# %%
# The learned kernel is close to [1, -1], the bias close to 0.
print("weight: ", conv2d.weight.data)
print("bias: ", conv2d.bias.data)
