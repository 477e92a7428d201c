"""Dive-into-DL-PyTorch 5.2: padding and strides (PyTorch only; no d2lzh helper is used)."""

# %%
# Imports.
import torch
from torch import nn


# %%
# Apply a convolutional layer to a 2-D input: add batch and channel dimensions of size 1
# before, drop them after.
def comp_conv2d(conv2d, X):
    X = X.view((1, 1) + X.shape)
    Y = conv2d(X)
    return Y.view(Y.shape[2:])


# A 3 x 3 kernel with one row/column of padding on each side keeps 8 x 8 as 8 x 8.
conv2d = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=3, padding=1)

X = torch.rand(8, 8)
print(comp_conv2d(conv2d, X).shape)

# %%
# A 5 x 3 kernel with padding (2, 1) keeps the shape too.
conv2d = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=(5, 3), padding=(2, 1))
print(comp_conv2d(conv2d, X).shape)

# %%
# Stride 2 halves the height and width.
conv2d = nn.Conv2d(1, 1, kernel_size=3, padding=1, stride=2)
print(comp_conv2d(conv2d, X).shape)

# %%
# Different kernel sizes, paddings and strides along the two axes.
conv2d = nn.Conv2d(1, 1, kernel_size=(3, 5), padding=(0, 1), stride=(3, 4))
print(comp_conv2d(conv2d, X).shape)
