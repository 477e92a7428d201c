"""D2L 3.5: the Fashion-MNIST image classification data set, with shallownet's d2l helpers."""

# %%
# Imports: the helpers come from shallownet instead of the book's d2l package.
import torch

from shallownet import d2l

# %%
# Draw figures as SVG where the output can show it.
d2l.use_svg_display()

# %%
# The two splits as torch Datasets. The book builds them with
# torchvision.datasets.FashionMNIST(root="../data", transform=ToTensor(), download=True);
# torchvision is not available here, so they are taken from the loaders that
# d2l.load_data_fashion_mnist returns. Each `.dataset` behaves like torchvision's:
# item i is (float32 tensor of shape (1, 28, 28) with values in [0, 1], int label).
train_loader, test_loader = d2l.load_data_fashion_mnist(256)
mnist_train = train_loader.dataset
mnist_test = test_loader.dataset

# %%
# 60,000 training and 10,000 test images.
print(len(mnist_train), len(mnist_test))

# %%
# Each image has one channel of 28 x 28 pixels.
print(mnist_train[0][0].shape)

# %%
# The first 18 training images with their text labels.
X, y = next(iter(torch.utils.data.DataLoader(mnist_train, batch_size=18)))
d2l.show_images(X.reshape(18, 28, 28), 2, 9, titles=d2l.get_fashion_mnist_labels(y))

# %%
# A shuffling minibatch reader built with PyTorch's own DataLoader, as in the book.
batch_size = 256

train_iter = torch.utils.data.DataLoader(
    mnist_train, batch_size, shuffle=True, num_workers=d2l.get_dataloader_workers()
)

# %%
# How long one pass over the training set takes with that DataLoader.
timer = d2l.Timer()
for X, y in train_iter:  # noqa: B007 - only the reading is timed
    continue
print(f"{timer.stop():.2f} sec")

# %%
# The same pass over the in-memory loader that d2l.load_data_fashion_mnist returns
# (not in the book: it shows what the helper gains over item-by-item loading).
train_iter = d2l.load_data_fashion_mnist(batch_size)[0]
timer = d2l.Timer()
for X, y in train_iter:  # noqa: B007 - only the reading is timed
    continue
print(f"{timer.stop():.2f} sec")

# %%
# Loading with resizing: images scaled up to 64 x 64, in batches of 32.
train_iter, test_iter = d2l.load_data_fashion_mnist(32, resize=64)
for X, y in train_iter:
    print(X.shape, X.dtype, y.shape, y.dtype)
    break
