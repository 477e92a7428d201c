"""D2L 4.1: multilayer perceptrons (activation functions), with shallownet's d2l helpers."""

# %%
# Imports: the helpers come from shallownet instead of the book's d2l package.
import torch

from shallownet import d2l

# %%
# ReLU: keeps positive inputs, maps negative ones to 0.
x = torch.arange(-8.0, 8.0, 0.1, requires_grad=True)
y = torch.relu(x)
d2l.plot(x.detach(), y.detach(), "x", "relu(x)", figsize=(5, 2.5))

# %%
# Its derivative: 0 for negative inputs, 1 for positive ones.
y.backward(torch.ones_like(x), retain_graph=True)
d2l.plot(x.detach(), x.grad, "x", "grad of relu", figsize=(5, 2.5))

# %%
# Sigmoid: squashes any input into (0, 1).
y = torch.sigmoid(x)
d2l.plot(x.detach(), y.detach(), "x", "sigmoid(x)", figsize=(5, 2.5))

# %%
# Its derivative, largest (0.25) at 0. Gradients accumulate, so reset x.grad first.
x.grad.data.zero_()
y.backward(torch.ones_like(x), retain_graph=True)
d2l.plot(x.detach(), x.grad, "x", "grad of sigmoid", figsize=(5, 2.5))

# %%
# Tanh: squashes any input into (-1, 1), symmetric about the origin.
y = torch.tanh(x)
d2l.plot(x.detach(), y.detach(), "x", "tanh(x)", figsize=(5, 2.5))

# %%
# Its derivative, largest (1) at 0, after resetting the accumulated gradient.
x.grad.data.zero_()
y.backward(torch.ones_like(x), retain_graph=True)
d2l.plot(x.detach(), x.grad, "x", "grad of tanh", figsize=(5, 2.5))
