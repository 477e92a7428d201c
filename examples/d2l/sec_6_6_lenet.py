"""D2L 6.6: convolutional neural networks (LeNet), with shallownet's d2l helpers."""

# %%
# Imports: the helpers come from shallownet instead of the book's d2l package.
import torch
from torch import nn

from shallownet import d2l

# %%
# LeNet-5: two convolution + sigmoid + average-pooling blocks, then three dense layers.
net = nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5, padding=2),
    nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Conv2d(6, 16, kernel_size=5),
    nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120),
    nn.Sigmoid(),
    nn.Linear(120, 84),
    nn.Sigmoid(),
    nn.Linear(84, 10),
)

# %%
# Push one 28 x 28 image through the layers and print the shape after each.
X = torch.rand(size=(1, 1, 28, 28), dtype=torch.float32)
for layer in net:
    X = layer(X)
    print(layer.__class__.__name__, "output shape: \t", X.shape)

# %%
# Fashion-MNIST in minibatches of 256.
batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size=batch_size)

# %%
# Train on the GPU when there is one (d2l.try_gpu falls back to the CPU).
lr, num_epochs = 0.9, 10
d2l.train_ch6(net, train_iter, test_iter, num_epochs, lr, d2l.try_gpu())
