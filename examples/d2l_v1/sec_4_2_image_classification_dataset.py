"""D2L (current edition) 4.2: the image classification dataset (Fashion-MNIST).

``d2l.FashionMNIST`` is a data module: its ``train`` and ``val`` splits hold
(image, label) items, ``get_dataloader`` gives minibatches, ``text_labels``
names the classes and ``visualize`` draws a batch.
"""

# %%
# Imports. `from shallownet import d2l` stands in for `from d2l import torch as d2l`.
import time

from shallownet import d2l

d2l.use_svg_display()

# %%
# The data module, with the 28 x 28 images scaled up to 32 x 32. (The book builds the
# class itself on torchvision's FashionMNIST; d2l.FashionMNIST reads the same files.)
data = d2l.FashionMNIST(resize=(32, 32))
print(len(data.train), len(data.val))

# %%
# One item: a single-channel 32 x 32 image (and its label).
print(data.train[0][0].shape)

# %%
# Class names of a few labels.
print(data.text_labels([0, 1, 2, 9]))

# %%
# One minibatch of the default 64 images from the training loader.
X, y = next(iter(data.train_dataloader()))
print(X.shape, X.dtype, y.shape, y.dtype)

# %%
# How long one pass over the training set takes.
tic = time.time()
for X, y in data.train_dataloader():  # noqa: B007 - only the reading is timed
    continue
print(f"{time.time() - tic:.2f} sec")

# %%
# The first eight validation images, titled with their class names.
batch = next(iter(data.val_dataloader()))
data.visualize(batch)
