"""Dive-into-DL-PyTorch 5.3: multiple input and output channels, with shallownet's d2lzh
helpers."""

# %%
# Imports: the edition's helper package is replaced by shallownet's.
import torch

from shallownet import d2lzh as d2l


# %%
# Several input channels: cross-correlate channel by channel and add the results.
def corr2d_multi_in(X, K):
    res = d2l.corr2d(X[0, :, :], K[0, :, :])
    for i in range(1, X.shape[0]):
        res += d2l.corr2d(X[i, :, :], K[i, :, :])
    return res


# %%
# Two input channels.
X = torch.tensor([[[0, 1, 2], [3, 4, 5], [6, 7, 8]],
              [[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
K = torch.tensor([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])

print(corr2d_multi_in(X, K))


# %%
# Several output channels: one multi-input kernel per output channel, results stacked.
def corr2d_multi_in_out(X, K):
    return torch.stack([corr2d_multi_in(X, k) for k in K])


# %%
# A kernel with 3 output channels: K, K + 1 and K + 2.
K = torch.stack([K, K + 1, K + 2])
print(K.shape)

# %%
# Three output channels; the first is the result above.
print(corr2d_multi_in_out(X, K))


# %%
# A 1 x 1 convolution is a matrix product over the channels at each pixel.
def corr2d_multi_in_out_1x1(X, K):
    c_i, h, w = X.shape
    c_o = K.shape[0]
    X = X.view(c_i, h * w)
    K = K.view(c_o, c_i)
    Y = torch.mm(K, X)
    return Y.view(c_o, h, w)


# %%
# Both ways agree on a 1 x 1 kernel.
X = torch.rand(3, 3, 3)
K = torch.rand(2, 3, 1, 1)

Y1 = corr2d_multi_in_out_1x1(X, K)
Y2 = corr2d_multi_in_out(X, K)

print((Y1 - Y2).norm().item() < 1e-6)
