"""D2L (current edition) 5.1: multilayer perceptrons (activation functions).

ReLU, sigmoid and tanh over [-8, 8), each followed by its derivative,
computed by autograd and drawn with ``d2l.plot``.
"""

# %%
# Imports. `from shallownet import d2l` stands in for `from d2l import torch as d2l`.
import torch

from shallownet import d2l

# %%
# ReLU: max(x, 0).
x = torch.arange(-8.0, 8.0, 0.1, requires_grad=True)
y = torch.relu(x)
d2l.plot(x.detach(), y.detach(), "x", "relu(x)", figsize=(5, 2.5))

# %%
# Its derivative: 0 left of the origin, 1 right of it. y is a vector, so backward is
# given a vector of ones (the gradient of y.sum()).
y.backward(torch.ones_like(x), retain_graph=True)
d2l.plot(x.detach(), x.grad, "x", "grad of relu", figsize=(5, 2.5))

# %%
# Sigmoid: 1 / (1 + exp(-x)), between 0 and 1.
y = torch.sigmoid(x)
d2l.plot(x.detach(), y.detach(), "x", "sigmoid(x)", figsize=(5, 2.5))

# %%
# Its derivative peaks at 0.25 at the origin. Gradients add up, so clear x.grad first.
x.grad.data.zero_()
y.backward(torch.ones_like(x), retain_graph=True)
d2l.plot(x.detach(), x.grad, "x", "grad of sigmoid", figsize=(5, 2.5))

# %%
# Tanh: between -1 and 1, point-symmetric about the origin.
y = torch.tanh(x)
d2l.plot(x.detach(), y.detach(), "x", "tanh(x)", figsize=(5, 2.5))

# %%
# Its derivative peaks at 1 at the origin.
x.grad.data.zero_()
y.backward(torch.ones_like(x), retain_graph=True)
d2l.plot(x.detach(), x.grad, "x", "grad of tanh", figsize=(5, 2.5))
