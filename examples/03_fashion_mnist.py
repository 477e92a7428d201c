# %% [markdown]
# # The image classification dataset (D2L 3.5)
#
# Fashion-MNIST: 60,000 training and 10,000 test images of clothing, 28 x 28
# grey levels, in 10 classes. The files are in the IDX format: a 4-byte magic
# number (two zero bytes, a type code, the number of dimensions), the size of
# each dimension as a big-endian 32-bit integer, then the values. We read one
# by hand, then load the whole dataset with shallownet.

# %%
import gzip
import hashlib
import time

import numpy as np
import torch

from shallownet.data import (
    CATALOG,
    get_fashion_mnist_labels,
    load_data_fashion_mnist,
    load_fashion_mnist,
    read_idx,
)
from shallownet.plots import show, show_images

# %% tags=["parameters"]
batch_size = 256

# %% [markdown]
# ## Loading: shallownet finds the files (a system copy, the cache or a verified download)

# %%
data = load_fashion_mnist()
print(f"found in {data.directory} ({data.source}), checksums verified: {data.verified}")
print("train", tuple(data.train_images.shape), data.train_images.dtype,
      " test", tuple(data.test_images.shape))
print("values from", float(data.train_images.min()), "to", float(data.train_images.max()))

# %% [markdown]
# ## Reading an IDX file by hand

# %%
spec = CATALOG["fashion-mnist"].files["test_labels"]
path = data.directory / f"{spec.name}.gz"
raw = gzip.decompress(path.read_bytes())
zero, type_code, ndim = raw[0:2], raw[2], raw[3]
assert zero == b"\x00\x00"
sizes = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
labels = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(sizes)
print(f"{path.name}: type 0x{type_code:02x} (unsigned byte), {ndim} dimension(s), sizes {sizes}")
print("MD5 of the decompressed bytes:", hashlib.md5(raw).hexdigest(), " expected:", spec.md5)

# The library's reader gives the same array, and checks the header against the file's length.
assert np.array_equal(read_idx(path), labels)
assert torch.equal(torch.from_numpy(labels.astype(np.int64)), data.test_labels)

# %% [markdown]
# ## The classes

# %%
counts = torch.bincount(data.train_labels, minlength=10)
for name, count in zip(get_fashion_mnist_labels(range(10)), counts.tolist(), strict=True):
    print(f"{name:12s} {count:6,d}")

# %%
images, targets = data.train_images[:18], data.train_labels[:18]
fig, _ = show_images(images.reshape(18, 28, 28), 2, 9, titles=get_fashion_mnist_labels(targets))
show(fig, "03-fashion-mnist")

# %% [markdown]
# ## Minibatches
#
# `load_data_fashion_mnist` is the book's loader. The images are already in
# memory as one float tensor, so a pass over the training set costs only a
# shuffle and a copy per batch: no worker processes, no decoding. (Its
# `resize=64` argument gives the larger images later chapters train CNNs on.)

# %%
train_iter, test_iter = load_data_fashion_mnist(batch_size)
X, y = next(iter(train_iter))
print(X.shape, X.dtype, y.shape, y.dtype)

start = time.perf_counter()
for _X, _y in train_iter:
    pass
print(f"one pass over the training set: {time.perf_counter() - start:.2f} s")
