"""The current edition's data: ``DataModule``, ``SyntheticRegressionData`` and ``FashionMNIST``.

A data module hands a :class:`~shallownet.d2l.trainer.Trainer` its training
and validation loaders. The book's loaders are ``torch.utils.data.DataLoader``
objects that collate one example at a time (Fashion-MNIST: a PIL image
converted by torchvision, in worker processes). Here every loader is an
in-memory :class:`~shallownet.d2l.data.BookLoader`: a batch is one indexing
operation on stored tensors (images stay uint8 until their batch is turned
into floats), with a ``DataLoader``'s interface: ``len()``, ``batch_size``,
``dataset``, a new order from torch's global generator on each pass.
"""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from shallownet.d2l.data import (
    BOOK_DATA_DIR,
    BookLoader,
    FashionMNISTImages,
    fashion_mnist_arrays,
    get_fashion_mnist_labels,
    image_loader,
    quick_limit,
    say_quick,
    split_tensors,
)
from shallownet.d2l.figures import show_images
from shallownet.d2l.hyperparameters import HyperParameters
from shallownet.data.image_datasets import size_pair

__all__ = ["DataModule", "SyntheticRegressionData", "FashionMNIST"]


class DataModule(HyperParameters):
    """The base class of data: ``get_dataloader(train)`` gives the loaders (a subclass defines it).

    ``root`` is where data is looked for (after shallownet's own places);
    ``num_workers`` is kept for the book's code and not used: loading here
    needs no worker processes.
    """

    def __init__(self, root=BOOK_DATA_DIR, num_workers=4):
        self.save_hyperparameters()

    def get_dataloader(self, train):
        """The training (``train=True``) or validation loader."""
        raise NotImplementedError(f"{type(self).__name__} defines no get_dataloader(self, "
                                  "train): define it, e.g. with self.get_tensorloader(...).")

    def train_dataloader(self):
        """``get_dataloader(train=True)``."""
        return self.get_dataloader(train=True)

    def val_dataloader(self):
        """``get_dataloader(train=False)``."""
        return self.get_dataloader(train=False)

    def get_tensorloader(self, tensors, train, indices=slice(0, None)):
        """Batches of ``self.batch_size`` rows ``indices`` of ``tensors``, shuffled when ``train``.

        The rows are taken once (``a[indices]``); each pass over a training
        loader draws a new order from torch's global generator.
        """
        tensors = tuple(a[indices] for a in tensors)
        return BookLoader(*tensors, batch_size=self.batch_size, shuffle=train,
                          dataset=TensorDataset(*tensors))


class SyntheticRegressionData(DataModule):
    """Data for linear regression: y = X w + b + noise, X ~ N(0, 1), noise ~ N(0, noise^2).

    ``num_train`` training rows come first, then ``num_val`` validation rows;
    ``X`` is (n, len(w)) and ``y`` is (n, 1).
    """

    def __init__(self, w, b, noise=0.01, num_train=1000, num_val=1000, batch_size=32):
        super().__init__()
        self.save_hyperparameters()
        n = num_train + num_val
        self.X = torch.randn(n, len(w))
        noise = torch.randn(n, 1) * noise
        self.y = torch.matmul(self.X, w.reshape((-1, 1))) + b + noise

    def get_dataloader(self, train):
        """The first ``num_train`` rows (shuffled) for training, the rest for validation."""
        i = slice(0, self.num_train) if train else slice(self.num_train, None)
        return self.get_tensorloader((self.X, self.y), train, i)


class FashionMNIST(DataModule):
    """Fashion-MNIST as a data module: 60,000 training and 10,000 validation images, 10 classes.

    Batches are ``X`` float32 (B, 1, *resize) with values ``x / 255`` in [0, 1]
    (resized bilinearly, with antialiasing, when ``resize`` is not 28 x 28)
    and ``y`` int64. ``train`` and ``val`` are the two splits as datasets of
    ``(image, label)`` items, as torchvision's are. The files are found
    offline where shallownet looks (then in ``root``), and downloaded with
    checksums only when no copy exists. Under ``SHALLOWNET_QUICK=1`` only the
    first 2,048 training and 512 validation images are used.

    (The book's older edition has no ``d2l.FashionMNIST``; its
    ``load_data_fashion_mnist`` loaders' ``.dataset`` are
    :class:`~shallownet.d2l.data.FashionMNISTImages`, the class of ``train``
    and ``val`` here.)
    """

    def __init__(self, batch_size=64, resize=(28, 28)):
        super().__init__()
        self.save_hyperparameters()
        size = size_pair(resize)
        limit = quick_limit()
        if limit is not None:
            say_quick("d2l", limit)
        raw = fashion_mnist_arrays(self.root)
        self.train = FashionMNISTImages(*split_tensors(raw, True, limit), size)
        self.val = FashionMNISTImages(*split_tensors(raw, False, limit), size)

    def text_labels(self, indices):
        """The class names of the labels ``indices`` (ints, or a tensor of them)."""
        return get_fashion_mnist_labels(indices)

    def get_dataloader(self, train):
        """Batches over ``train`` (reshuffled every pass) or ``val`` (in order)."""
        data = self.train if train else self.val
        return image_loader(data.images, data.labels, self.batch_size, shuffle=train,
                            size=data.size)

    def visualize(self, batch, nrows=1, ncols=8, labels=()):
        """Show the first ``nrows * ncols`` images of ``batch`` (X, y), titled by ``labels`` or
        by their class names."""
        X, y = batch
        if not labels:
            labels = self.text_labels(y)
        show_images(X.squeeze(1), nrows, ncols, titles=labels)
