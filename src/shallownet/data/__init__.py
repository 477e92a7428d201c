"""Data: IDX files, Fashion-MNIST/MNIST, CSV, users' image files, synthetic data, minibatches."""

from shallownet.data.catalog import (
    CATALOG,
    FASHION_MNIST_LABELS,
    ImageDatasetSpec,
    get_fashion_mnist_labels,
    get_spec,
)
from shallownet.data.download import decompressed_md5, download
from shallownet.data.idx import read_idx, write_idx
from shallownet.data.image_datasets import (
    ImageData,
    images_to_tensor,
    load_data_fashion_mnist,
    load_fashion_mnist,
    load_image_dataset,
    load_mnist,
)
from shallownet.data.imagefile import load_image_file, load_image_files
from shallownet.data.iterator import ArrayLoader, data_iter, load_array
from shallownet.data.locate import fetch_dataset, locate_dataset, user_cache_dir
from shallownet.data.synthetic import TRUE_B, TRUE_W, synthetic_data
from shallownet.data.tabular import (
    Standardizer,
    TabularData,
    TabularSplit,
    load_csv,
    read_csv_dataset,
    train_test_split,
)

__all__ = [
    "CATALOG",
    "FASHION_MNIST_LABELS",
    "TRUE_B",
    "TRUE_W",
    "ArrayLoader",
    "ImageData",
    "ImageDatasetSpec",
    "Standardizer",
    "TabularData",
    "TabularSplit",
    "data_iter",
    "decompressed_md5",
    "download",
    "fetch_dataset",
    "get_fashion_mnist_labels",
    "get_spec",
    "images_to_tensor",
    "load_array",
    "load_csv",
    "load_data_fashion_mnist",
    "load_fashion_mnist",
    "load_image_dataset",
    "load_image_file",
    "load_image_files",
    "load_mnist",
    "locate_dataset",
    "read_csv_dataset",
    "read_idx",
    "synthetic_data",
    "train_test_split",
    "user_cache_dir",
    "write_idx",
]
