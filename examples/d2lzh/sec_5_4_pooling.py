"""Dive-into-DL-PyTorch 5.4: pooling (PyTorch only; no d2lzh helper is used)."""

# %%
# Imports.
import torch
from torch import nn


# %%
# Max or average pooling of a 2-D array with a pool_size window, stride 1, no padding.
def pool2d(X, pool_size, mode='max'):
    X = X.float()
    p_h, p_w = pool_size
    Y = torch.zeros(X.shape[0] - p_h + 1, X.shape[1] - p_w + 1)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            if mode == 'max':
                Y[i, j] = X[i: i + p_h, j: j + p_w].max()
            elif mode == 'avg':
                Y[i, j] = X[i: i + p_h, j: j + p_w].mean()
    return Y


# %%
# 2 x 2 max pooling of a 3 x 3 input.
X = torch.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
print(pool2d(X, (2, 2)))

# %%
# The same with average pooling.
print(pool2d(X, (2, 2), 'avg'))

# %%
# nn.MaxPool2d on a (batch 1, channel 1, 4, 4) input.
X = torch.arange(16, dtype=torch.float).view((1, 1, 4, 4))
print(X)

# %%
# By default the stride equals the window: one 3 x 3 window fits.
pool2d = nn.MaxPool2d(3)
print(pool2d(X))

# %%
# Padding and stride given explicitly.
pool2d = nn.MaxPool2d(3, padding=1, stride=2)
print(pool2d(X))

# %%
# A 2 x 4 window with different padding and stride per axis.
pool2d = nn.MaxPool2d((2, 4), padding=(1, 2), stride=(2, 3))
print(pool2d(X))

# %%
# Two channels: X and X + 1 joined along the channel dimension.
X = torch.cat((X, X + 1), dim=1)
print(X)

# %%
# Pooling works per channel: the output keeps 2 channels.
pool2d = nn.MaxPool2d(3, padding=1, stride=2)
print(pool2d(X))
