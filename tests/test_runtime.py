"""Devices and seeds: ``--device auto|cpu|cuda|mps``, derived seeds, seeding everything."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shallownet.errors import UsageError
from shallownet.runtime import derive_seed, resolve_device, seed_everything

HAS_CUDA = torch.cuda.is_available()
HAS_MPS = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
cpu_only = pytest.mark.skipif(HAS_CUDA or HAS_MPS, reason="this machine has an accelerator")


# -- resolve_device --------------------------------------------------------------------------


@cpu_only
def test_auto_is_the_cpu_without_an_accelerator():
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device() == torch.device("cpu")


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
def test_auto_prefers_cuda():
    assert resolve_device("auto").type == "cuda"


def test_cpu_by_name_and_as_a_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert isinstance(resolve_device("cpu"), torch.device)


@cpu_only
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3", torch.device("cuda")])
def test_cuda_without_a_gpu_says_what_is_available(name):
    with pytest.raises(UsageError, match="no CUDA GPU") as info:
        resolve_device(name)
    message = str(info.value)
    assert "Available: cpu" in message
    assert str(name) in message


@cpu_only
def test_mps_without_apple_silicon_says_what_is_available():
    with pytest.raises(UsageError, match="MPS") as info:
        resolve_device("mps")
    assert "Available: cpu" in str(info.value)


@pytest.mark.parametrize("name", ["gpu", "tpu", "", "cpu0", "xla", "cuda:x", "auto:1"])
def test_nonsense_is_a_usage_error_listing_the_choices(name):
    with pytest.raises(UsageError, match="auto, cpu, cuda, mps"):
        resolve_device(name)


# -- derive_seed -----------------------------------------------------------------------------


def test_derive_seed_is_deterministic():
    assert derive_seed(0, 1, 2) == derive_seed(0, 1, 2)
    assert derive_seed(123) == derive_seed(123)
    assert isinstance(derive_seed(5, 1), int)


def test_derive_seed_differs_across_keys_and_seeds():
    key_tuples = [(), (1,), (2,), (0, 1), (1, 1), (1, 2), (2, 1), (3, 4, 5), (4, 1), (4, 2)]
    seeds = {derive_seed(s, *keys) for s in range(5) for keys in key_tuples}
    assert len(seeds) == 5 * len(key_tuples)


@pytest.mark.parametrize(("a", "b"), [((0,), (0, 0)), ((7,), (7, 0)), ((3, 1), (3, 1, 0)),
                                      ((2**32 + 5, 7), (5, 1, 7))])
def test_derive_seed_streams_of_different_key_tuples_differ(a, b):
    assert derive_seed(*a) != derive_seed(*b)


def test_derive_seed_lies_in_63_bits():
    values = [derive_seed(s, k) for s in (0, 1, 2**40, 2**64 - 1, -1, -(2**70)) for k in range(20)]
    assert all(0 <= v < 2**63 for v in values)
    # the values use the high bits too (not a small-range hash)
    assert max(values) > 2**60


def test_derive_seed_usable_by_torch_and_numpy():
    s = derive_seed(7, 3)
    torch.Generator().manual_seed(s)
    np.random.default_rng(s)


# -- seed_everything -------------------------------------------------------------------------


def test_seed_everything_makes_torch_and_numpy_repeat():
    seed_everything(42)
    a, na = torch.rand(5), np.random.rand(3)
    seed_everything(42)
    b, nb = torch.rand(5), np.random.rand(3)
    seed_everything(43)
    c = torch.rand(5)
    assert torch.equal(a, b)
    np.testing.assert_array_equal(na, nb)
    assert not torch.equal(a, c)


def test_seed_everything_accepts_a_large_seed():
    seed_everything(2**40 + 5)
    a = np.random.rand(2)
    seed_everything(2**40 + 5)
    np.testing.assert_array_equal(a, np.random.rand(2))
