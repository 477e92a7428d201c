"""The decoded-dataset cache: fast second loads, and never a stale or damaged array."""

from __future__ import annotations

import os

import numpy as np
import pytest

from shallownet.data import decoded
from shallownet.data.locate import locate_dataset, user_cache_dir
from shallownet.errors import DatasetNotFoundError
from tests.conftest import spec_for, write_tiny_dataset


@pytest.fixture
def dataset(tmp_path):
    files = write_tiny_dataset(tmp_path / "src", n_train=30, n_test=10)
    return spec_for(files, system_dirs=(str(tmp_path / "src"),)), files


def entries():
    root = user_cache_dir() / "decoded"
    return sorted(root.iterdir()) if root.is_dir() else []


def load(spec):
    return locate_dataset(spec, download_missing=False)


def same(a, b):
    for key in decoded.KEYS:
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))


def test_a_verified_read_is_cached_and_the_next_load_comes_from_the_cache(dataset,
                                                                          monkeypatch):
    spec, _ = dataset
    first = load(spec)
    assert first.verified and len(entries()) == 1
    assert sorted(p.name for p in entries()[0].iterdir()) == [
        "manifest.json", "test_images.npy", "test_labels.npy", "train_images.npy",
        "train_labels.npy"]

    def no_reading(*args, **kwargs):
        raise AssertionError("the IDX files were read again")

    monkeypatch.setattr("shallownet.data.locate._read_all", no_reading)
    second = load(spec)
    same(first, second)
    assert second.verified and second.source == first.source


def test_a_changed_source_is_read_and_verified_again(dataset, tmp_path):
    spec, files = dataset
    load(spec)
    old = entries()
    # the same content written again is a new file (new mtime and inode): a new key
    data = files["train_labels"].read_bytes()
    files["train_labels"].unlink()
    files["train_labels"].write_bytes(data)
    again = load(spec)
    assert len(entries()) == 1 and entries() != old  # the stale entry was removed
    np.testing.assert_array_equal(again.train_labels, np.arange(30) % 10)


def test_a_corrupted_source_is_still_refused(dataset):
    spec, files = dataset
    load(spec)
    raw = bytearray(files["test_labels"].read_bytes())
    raw[-1] ^= 0xFF
    files["test_labels"].write_bytes(bytes(raw))  # new mtime: read and checked again
    with pytest.warns(UserWarning, match="ignoring a bad system copy"), \
            pytest.raises(DatasetNotFoundError):
        load(spec)


@pytest.mark.parametrize("damage", ["flip", "truncate", "manifest"])
def test_a_damaged_cache_entry_is_ignored_and_rewritten(dataset, damage):
    spec, _ = dataset
    first = load(spec)
    entry = entries()[0]
    target = entry / ("manifest.json" if damage == "manifest" else "train_images.npy")
    raw = bytearray(target.read_bytes())
    if damage == "flip":
        raw[-5] ^= 0x01
    elif damage == "truncate":
        raw = raw[:-100]
    else:
        raw = b"{not json"
    target.write_bytes(bytes(raw))
    assert decoded.load(entry) is None
    again = load(spec)
    same(first, again)
    assert decoded.load(entry) is not None  # written anew


def test_an_unwritable_cache_costs_only_the_speed_up(dataset, tmp_path, monkeypatch):
    spec, _ = dataset
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache directory should be")
    monkeypatch.setenv("SHALLOWNET_CACHE", str(blocked))
    result = load(spec)
    np.testing.assert_array_equal(result.test_labels, np.arange(10) % 10)


def test_unverified_reads_are_not_cached(tmp_path):
    files = write_tiny_dataset(tmp_path / "mine")
    locate_dataset(spec_for(files), data_dir=tmp_path / "mine", verify=False)
    assert entries() == []


def test_the_cached_arrays_can_be_written_without_changing_the_file(dataset):
    spec, _ = dataset
    load(spec)
    cached = load(spec)
    cached.train_images[0, 0, 0] = 255 - cached.train_images[0, 0, 0]  # copy-on-write
    assert decoded.load(entries()[0]) is not None
    assert os.access(entries()[0] / "manifest.json", os.R_OK)
