"""Where a dataset is looked for, in which order, and what is refused (downloads off)."""

from __future__ import annotations

import dataclasses
import gzip
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from shallownet.cli.messages import for_the_command_line
from shallownet.data import locate_dataset, read_idx, user_cache_dir, write_idx
from shallownet.data.catalog import FASHION_MNIST
from shallownet.errors import (
    ChecksumError,
    DataError,
    DatasetNotFoundError,
    IDXFormatError,
    ShallownetError,
)
from tests.conftest import spec_for, write_tiny_dataset

NAMES = [f.name for f in FASHION_MNIST.files.values()]


def cache_dir(spec) -> Path:
    return Path(os.environ["SHALLOWNET_CACHE"]) / spec.name


def locate(spec, **kwargs):
    kwargs.setdefault("download_missing", False)
    kwargs.setdefault("progress", False)
    return locate_dataset(spec, **kwargs)


@pytest.fixture
def places(tmp_path):
    """A tiny dataset written to an explicit dir, the cache and a system dir, and a spec for it.

    The spec's system_dirs point at two tmp directories (the first one empty).
    """
    explicit = tmp_path / "explicit"
    system_empty = tmp_path / "system-empty"
    system_empty.mkdir()
    system = tmp_path / "system" / "fashion-mnist"
    files = write_tiny_dataset(system)
    spec = spec_for(files, system_dirs=(str(system_empty), str(system)))
    return {
        "spec": spec,
        "files": files,
        "explicit": explicit,
        "system": system,
        "system_empty": system_empty,
    }


def copy_to(files: dict[str, Path], directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return {k: Path(shutil.copy(p, directory / p.name)) for k, p in files.items()}


def assert_matches(result, files):
    for key, path in files.items():
        np.testing.assert_array_equal(getattr(result, key), read_idx(path))


def test_user_cache_dir_follows_env(tmp_path, monkeypatch):
    assert user_cache_dir() == Path(os.environ["SHALLOWNET_CACHE"])
    monkeypatch.delenv("SHALLOWNET_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache_dir() == tmp_path / "xdg" / "shallownet"


# --------------------------------------------------------------------------- search order


def test_system_copy_used_when_nothing_else(places):
    result = locate(places["spec"])
    assert result.source == "system"
    assert result.directory == places["system"]
    assert result.verified is True
    assert_matches(result, places["files"])


def test_cache_beats_system(places):
    copy_to(places["files"], cache_dir(places["spec"]))
    result = locate(places["spec"])
    assert result.source == "cache"
    assert result.directory == cache_dir(places["spec"])


def test_explicit_beats_cache_and_system(places):
    copy_to(places["files"], cache_dir(places["spec"]))
    copy_to(places["files"], places["explicit"])
    result = locate(places["spec"], data_dir=places["explicit"])
    assert result.source == "explicit"
    assert result.directory == places["explicit"]
    assert_matches(result, places["files"])


def test_explicit_data_dir_as_str(places):
    copy_to(places["files"], places["explicit"])
    assert locate(places["spec"], data_dir=str(places["explicit"])).source == "explicit"


def test_shallownet_data_env_is_explicit(places, monkeypatch):
    copy_to(places["files"], cache_dir(places["spec"]))
    copy_to(places["files"], places["explicit"])
    monkeypatch.setenv("SHALLOWNET_DATA", str(places["explicit"]))
    result = locate(places["spec"])
    assert result.source == "explicit"
    assert result.directory == places["explicit"]


def test_data_dir_argument_beats_env(places, tmp_path, monkeypatch):
    copy_to(places["files"], places["explicit"])
    other = tmp_path / "other"
    copy_to(places["files"], other)
    monkeypatch.setenv("SHALLOWNET_DATA", str(other))
    assert locate(places["spec"], data_dir=places["explicit"]).directory == places["explicit"]


def test_empty_env_var_is_not_explicit(places, monkeypatch):
    monkeypatch.setenv("SHALLOWNET_DATA", "")
    assert locate(places["spec"]).source == "system"


def test_env_dir_without_files_is_not_skipped(places, tmp_path, monkeypatch):
    copy_to(places["files"], cache_dir(places["spec"]))
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("SHALLOWNET_DATA", str(empty))
    with pytest.raises(DatasetNotFoundError) as excinfo:
        locate(places["spec"])
    assert str(empty) in str(excinfo.value)


# --------------------------------------------------------------------------- explicit dir refused


def _bad_checksum(path: Path) -> None:
    arr = read_idx(path)
    arr.reshape(-1)[0] ^= 1
    write_idx(path, arr)  # valid IDX, different content


def _truncate(path: Path) -> None:
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-10], mtime=0))


@pytest.mark.parametrize(
    ("damage", "error"),
    [(_bad_checksum, ChecksumError), (_truncate, IDXFormatError)],
    ids=["bad-checksum", "truncated"],
)
@pytest.mark.parametrize("key", ["train_images", "test_labels"])
def test_corrupt_explicit_copy_is_refused_not_skipped(places, damage, error, key):
    copy_to(places["files"], cache_dir(places["spec"]))  # a good copy exists elsewhere
    explicit = copy_to(places["files"], places["explicit"])
    damage(explicit[key])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "ignoring ..." warning either
        with pytest.raises(error) as excinfo:
            locate(places["spec"], data_dir=places["explicit"], download_missing=True)
    assert str(explicit[key]) in str(excinfo.value)
    assert isinstance(excinfo.value, DataError)


def test_checksum_error_message_says_what_to_do(places):
    explicit = copy_to(places["files"], places["explicit"])
    _bad_checksum(explicit["train_labels"])
    with pytest.raises(ChecksumError, match=r"fetch_dataset\('fashion-mnist'\)") as excinfo:
        locate(places["spec"], data_dir=places["explicit"])
    assert places["spec"].train_labels.md5 in str(excinfo.value)
    assert "shallownet data fetch fashion-mnist" in for_the_command_line(excinfo.value)


def test_explicit_path_that_is_a_file(places, tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("hello")
    with pytest.raises(DataError, match="is a file") as excinfo:
        locate(places["spec"], data_dir=not_a_dir, download_missing=True)
    assert str(not_a_dir) in str(excinfo.value)


@pytest.mark.parametrize("exists", [True, False], ids=["empty-dir", "no-dir"])
def test_explicit_dir_without_files(places, tmp_path, exists):
    copy_to(places["files"], cache_dir(places["spec"]))
    explicit = tmp_path / "nothing-here"
    if exists:
        explicit.mkdir()
        # three of four files are not enough
        partial = dict(places["files"])
        partial.pop("test_labels")
        copy_to(partial, explicit)
    with pytest.raises(DatasetNotFoundError) as excinfo:
        locate(places["spec"], data_dir=explicit)
    message = str(excinfo.value)
    assert str(explicit) in message
    assert f"fetch_dataset('fashion-mnist', data_dir={str(explicit)!r})" in message
    assert (f"shallownet data fetch fashion-mnist --data-dir {explicit}"
            in for_the_command_line(excinfo.value))


# --------------------------------------------------------------------------- cache and system


def test_bad_cache_copy_skipped_with_warning_system_used(places):
    cached = copy_to(places["files"], cache_dir(places["spec"]))
    _truncate(cached["train_images"])
    with pytest.warns(UserWarning, match="bad copy in the cache") as record:
        result = locate(places["spec"])
    assert result.source == "system"
    assert result.directory == places["system"]
    assert any(str(cached["train_images"]) in str(w.message) for w in record)


def test_bad_checksum_in_cache_skipped_with_warning(places):
    cached = copy_to(places["files"], cache_dir(places["spec"]))
    _bad_checksum(cached["test_images"])
    with pytest.warns(UserWarning, match="bad copy in the cache"):
        assert locate(places["spec"]).source == "system"


def test_bad_system_copy_skipped_then_not_found(places):
    _bad_checksum(places["files"]["train_labels"])
    with (
        pytest.warns(UserWarning, match="bad system copy"),
        pytest.raises(DatasetNotFoundError),
    ):
        locate(places["spec"])


def test_second_system_dir_used_when_first_bad(tmp_path):
    first = tmp_path / "sys1"
    second = tmp_path / "sys2"
    files = write_tiny_dataset(second)
    bad = copy_to(files, first)
    _truncate(bad["test_images"])
    spec = spec_for(files, system_dirs=(str(first), str(second)))
    with pytest.warns(UserWarning, match="bad system copy"):
        result = locate(spec)
    assert result.source == "system"
    assert result.directory == second


def test_nothing_anywhere_names_places_and_ways(tmp_path):
    files = write_tiny_dataset(tmp_path / "src")
    sys_a, sys_b = tmp_path / "sys-a", tmp_path / "sys-b"
    spec = spec_for(files, system_dirs=(str(sys_a), str(sys_b)))
    with pytest.raises(DatasetNotFoundError) as excinfo:
        locate(spec)
    assert isinstance(excinfo.value, ShallownetError)
    message = str(excinfo.value)
    for place in (cache_dir(spec), sys_a, sys_b):
        assert str(place) in message
    assert "fetch_dataset('fashion-mnist')" in message and "data_dir=DIR" in message
    on_the_command_line = for_the_command_line(excinfo.value)
    assert "shallownet data fetch fashion-mnist" in on_the_command_line
    assert "--data-dir DIR" in on_the_command_line
    assert "apt-get install dataset-fashion-mnist" in message
    for name in NAMES:
        assert f"{name}.gz" in message


def test_no_debian_package_no_apt_hint(tmp_path):
    files = write_tiny_dataset(tmp_path / "src")
    spec = spec_for(files, debian_package=None)
    with pytest.raises(DatasetNotFoundError) as excinfo:
        locate(spec)
    assert "apt-get" not in str(excinfo.value)
    assert "data_dir=DIR" in str(excinfo.value)


# --------------------------------------------------------------------------- layouts


@pytest.mark.parametrize(
    "layout",
    ["", "fashion-mnist", "FashionMNIST/raw", "fashion"],
    ids=["flat", "named-subdir", "torchvision", "alias"],
)
@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
def test_layouts(tmp_path, layout, compress):
    root = tmp_path / "data"
    where = root / layout if layout else root
    files = write_tiny_dataset(where, compress=compress)
    spec = spec_for(files)
    result = locate(spec, data_dir=root)
    assert result.source == "explicit"
    assert result.directory == where
    assert result.verified is True
    assert_matches(result, files)


@pytest.mark.parametrize("layout", ["", "fashion-mnist", "FashionMNIST/raw"])
def test_layouts_in_system_dir(tmp_path, layout):
    root = tmp_path / "usr-share"
    files = write_tiny_dataset(root / layout if layout else root, compress=False)
    spec = spec_for(files, system_dirs=(str(root),))
    assert locate(spec).source == "system"


def test_layout_in_cache_subdir(tmp_path):
    files = write_tiny_dataset(tmp_path / "src")
    spec = spec_for(files)
    copy_to(files, cache_dir(spec) / "FashionMNIST" / "raw")
    result = locate(spec)
    assert result.source == "cache"
    assert result.directory == cache_dir(spec) / "FashionMNIST" / "raw"


def test_mixed_compressed_and_raw_files(tmp_path):
    files = write_tiny_dataset(tmp_path / "d")
    raw = tmp_path / "d" / NAMES[1]
    raw.write_bytes(gzip.decompress(files["train_labels"].read_bytes()))
    files["train_labels"].unlink()
    files["train_labels"] = raw
    assert locate(spec_for(files), data_dir=tmp_path / "d").source == "explicit"


# --------------------------------------------------------------------------- verify=False


def test_verify_false_accepts_unknown_checksums(tmp_path):
    files = write_tiny_dataset(tmp_path / "d", seed=3)
    spec = dataclasses.replace(FASHION_MNIST, system_dirs=())  # real checksums: will not match
    with pytest.raises(ChecksumError):
        locate(spec, data_dir=tmp_path / "d")
    result = locate(spec, data_dir=tmp_path / "d", verify=False)
    assert result.verified is False
    assert result.source == "explicit"
    assert_matches(result, files)


def test_verify_false_still_refuses_malformed_files(tmp_path):
    files = write_tiny_dataset(tmp_path / "d")
    _truncate(files["test_images"])
    spec = dataclasses.replace(FASHION_MNIST, system_dirs=())
    with pytest.raises(IDXFormatError):
        locate(spec, data_dir=tmp_path / "d", verify=False)


def test_locate_by_name(tmp_path):
    write_tiny_dataset(tmp_path / "d")
    result = locate("Fashion_MNIST", data_dir=tmp_path / "d", verify=False)
    assert result.spec is FASHION_MNIST
    assert result.train_images.dtype == np.uint8


# --------------------------------------------------------------------------- content checks


def test_labels_out_of_range(tmp_path):
    files = write_tiny_dataset(tmp_path / "d", num_classes=11)  # labels 0..10, 10 classes
    with pytest.raises(DataError, match="outside 0..9") as excinfo:
        locate(spec_for(files), data_dir=tmp_path / "d")
    assert str(files["train_labels"]) in str(excinfo.value)


def test_negative_labels(tmp_path):
    files = write_tiny_dataset(tmp_path / "d")
    write_idx(files["test_labels"], -np.ones(10, dtype=np.int8))
    with pytest.raises(DataError, match="outside"):
        locate(spec_for(files), data_dir=tmp_path / "d")


@pytest.mark.parametrize("split", ["train", "test"])
def test_images_labels_length_mismatch(tmp_path, split):
    files = write_tiny_dataset(tmp_path / "d", n_train=30, n_test=10)
    n = 30 if split == "train" else 10
    write_idx(files[f"{split}_labels"], np.zeros(n - 1, dtype=np.uint8))
    with pytest.raises(DataError, match="labels of shape") as excinfo:
        locate(spec_for(files), data_dir=tmp_path / "d")
    assert str(files[f"{split}_labels"]) in str(excinfo.value)


def test_labels_not_one_dimensional(tmp_path):
    files = write_tiny_dataset(tmp_path / "d", n_test=10)
    write_idx(files["test_labels"], np.zeros((10, 1), dtype=np.uint8))
    with pytest.raises(DataError, match="labels of shape"):
        locate(spec_for(files), data_dir=tmp_path / "d")


def test_images_not_three_dimensional(tmp_path):
    files = write_tiny_dataset(tmp_path / "d", n_train=30)
    write_idx(files["train_images"], np.zeros((30, 784), dtype=np.uint8))
    with pytest.raises(DataError, match="must be") as excinfo:
        locate(spec_for(files), data_dir=tmp_path / "d")
    assert str(files["train_images"]) in str(excinfo.value)


def test_bad_content_in_cache_is_skipped_too(tmp_path):
    src = write_tiny_dataset(tmp_path / "sys", num_classes=10)
    spec = spec_for(src, system_dirs=(str(tmp_path / "sys"),))
    cached = copy_to(src, cache_dir(spec))
    write_idx(cached["train_labels"], np.full(30, 12, dtype=np.uint8))
    with pytest.warns(UserWarning, match="outside 0..9"):
        result = locate(spec, verify=False)
    assert result.source == "system"
    assert result.verified is False
