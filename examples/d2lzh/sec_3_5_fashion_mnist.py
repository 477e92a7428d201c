"""Dive-into-DL-PyTorch 3.5: the Fashion-MNIST image classification data set, with shallownet's
d2lzh helpers."""

# %%
# Imports: the edition's helper package is replaced by shallownet's.
import sys
import time

import torch

from shallownet import d2lzh as d2l

# %%
# The two splits as Datasets. The edition builds them with
# torchvision.datasets.FashionMNIST(root='~/Datasets/FashionMNIST', train=..., download=True,
# transform=transforms.ToTensor()); torchvision is not needed here: the loaders of
# d2l.load_data_fashion_mnist carry the same Datasets as `.dataset` (item i is a float32
# tensor (1, 28, 28) in [0, 1] and its label).
train_loader, test_loader = d2l.load_data_fashion_mnist(256)
mnist_train = train_loader.dataset
mnist_test = test_loader.dataset

# %%
# Their type and sizes: 60,000 training and 10,000 test images.
print(type(mnist_train))
print(len(mnist_train), len(mnist_test))

# %%
# One example: a 1 x 28 x 28 image (channel, height, width) and its label.
feature, label = mnist_train[0]
print(feature.shape, label)

# %%
# The first ten training images with their text labels.
X, y = [], []
for i in range(10):
    X.append(mnist_train[i][0])
    y.append(mnist_train[i][1])
d2l.show_fashion_mnist(X, d2l.get_fashion_mnist_labels(y))

# %%
# Minibatches of 256 with PyTorch's DataLoader and 4 worker processes (none on Windows).
batch_size = 256
if sys.platform.startswith('win'):
    num_workers = 0
else:
    num_workers = 4
train_iter = torch.utils.data.DataLoader(mnist_train, batch_size=batch_size, shuffle=True,
                                         num_workers=num_workers)
test_iter = torch.utils.data.DataLoader(mnist_test, batch_size=batch_size, shuffle=False,
                                        num_workers=num_workers)

# %%
# Time one pass over the training data.
start = time.time()
for X, y in train_iter:  # noqa: B007 - only the reading is timed
    continue
print('%.2f sec' % (time.time() - start))  # noqa: UP031
