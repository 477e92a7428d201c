"""In-memory minibatches (ArrayLoader, load_array, data_iter) and the synthetic dataset."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from shallownet.data import (
    TRUE_B,
    TRUE_W,
    ArrayLoader,
    data_iter,
    load_array,
    synthetic_data,
)
from shallownet.errors import UsageError


def indexed(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Features whose rows encode their index, and the index itself as the label."""
    y = torch.arange(n)
    X = torch.stack([y.float(), 10.0 * y], dim=1)
    return X, y


def epoch_labels(loader) -> list[list[int]]:
    """The label batches of one pass, checking that features stay aligned with labels."""
    batches = []
    for X, y in loader:
        assert torch.equal(X[:, 0], y.float())
        assert torch.equal(X[:, 1], 10.0 * y)
        batches.append(y.tolist())
    return batches


def flat(batches: list[list[int]]) -> list[int]:
    return [i for b in batches for i in b]


# --------------------------------------------------------------------------- ArrayLoader


@pytest.mark.parametrize("shuffle", [True, False])
def test_each_example_exactly_once_per_epoch(shuffle):
    loader = ArrayLoader(*indexed(103), batch_size=10, shuffle=shuffle)
    for _ in range(3):
        order = flat(epoch_labels(loader))
        assert len(order) == 103
        assert sorted(order) == list(range(103))
        if not shuffle:
            assert order == list(range(103))


def test_shuffled_order_is_not_the_identity():
    order = flat(epoch_labels(ArrayLoader(*indexed(100), batch_size=7)))
    assert order != list(range(100))


def test_batch_sizes_keep_the_last_partial_batch():
    loader = ArrayLoader(*indexed(23), batch_size=5)
    sizes = [len(y) for y in epoch_labels(loader)]
    assert sizes == [5, 5, 5, 5, 3]
    assert len(loader) == 5
    assert loader.num_examples == 23


def test_drop_last_drops_the_partial_batch():
    loader = ArrayLoader(*indexed(23), batch_size=5, drop_last=True)
    batches = epoch_labels(loader)
    assert [len(b) for b in batches] == [5, 5, 5, 5]
    assert len(loader) == 4
    order = flat(batches)
    assert len(set(order)) == 20  # no repeats among what is kept
    unshuffled = ArrayLoader(*indexed(23), batch_size=5, drop_last=True, shuffle=False)
    assert flat(epoch_labels(unshuffled)) == list(range(20))


@pytest.mark.parametrize(
    ("n", "batch_size", "drop_last", "expected"),
    [(10, 5, False, 2), (10, 5, True, 2), (11, 5, False, 3), (11, 5, True, 2),
     (4, 5, False, 1), (4, 5, True, 0), (1, 1, False, 1), (0, 3, False, 0)],
)
def test_len(n, batch_size, drop_last, expected):
    loader = ArrayLoader(torch.arange(n), batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == expected
    assert sum(1 for _ in loader) == expected


def test_single_tensor_batches_are_tuples():
    batches = list(ArrayLoader(torch.arange(5), batch_size=2, shuffle=False))
    assert all(isinstance(b, tuple) and len(b) == 1 for b in batches)
    assert [b[0].tolist() for b in batches] == [[0, 1], [2, 3], [4]]


def test_three_tensors_stay_aligned():
    a = torch.arange(12)
    loader = ArrayLoader(a, a * 2, a.reshape(12, 1).expand(12, 3) + 0, batch_size=5)
    for x, y, z in loader:
        assert torch.equal(y, 2 * x)
        assert torch.equal(z, x.reshape(-1, 1).expand(-1, 3))


def test_same_seed_gives_identical_batches_for_several_epochs():
    a = ArrayLoader(*indexed(57), batch_size=8, seed=123)
    b = ArrayLoader(*indexed(57), batch_size=8, seed=123)
    for _ in range(4):
        assert epoch_labels(a) == epoch_labels(b)


def test_order_differs_from_one_epoch_to_the_next():
    loader = ArrayLoader(*indexed(64), batch_size=8, seed=0)
    orders = [flat(epoch_labels(loader)) for _ in range(4)]
    assert len({tuple(o) for o in orders}) == 4


def test_different_seed_gives_different_order():
    a = flat(epoch_labels(ArrayLoader(*indexed(64), batch_size=8, seed=0)))
    b = flat(epoch_labels(ArrayLoader(*indexed(64), batch_size=8, seed=1)))
    assert sorted(a) == sorted(b)
    assert a != b


def test_order_does_not_depend_on_the_global_rng():
    torch.manual_seed(0)
    a = flat(epoch_labels(ArrayLoader(*indexed(40), batch_size=8, seed=5)))
    torch.manual_seed(999)
    b = flat(epoch_labels(ArrayLoader(*indexed(40), batch_size=8, seed=5)))
    assert a == b


def test_set_epoch_reproduces_an_epochs_order():
    loader = ArrayLoader(*indexed(50), batch_size=6, seed=9)
    epochs = [epoch_labels(loader) for _ in range(3)]
    resumed = ArrayLoader(*indexed(50), batch_size=6, seed=9)
    resumed.set_epoch(2)
    assert epoch_labels(resumed) == epochs[2]
    loader.set_epoch(1)
    assert epoch_labels(loader) == epochs[1]
    assert epoch_labels(loader) == epochs[2]  # and carries on from there
    assert flat(epochs[0]) == loader.order(0).tolist()


def test_order_is_none_without_shuffle():
    loader = ArrayLoader(torch.arange(5), batch_size=2, shuffle=False)
    assert loader.order(0) is None


def test_device_cpu():
    X, y = indexed(20)
    loader = ArrayLoader(X, y, batch_size=6, device="cpu")
    assert all(t.device.type == "cpu" for t in loader.tensors)
    batches = list(loader)
    assert all(xb.device.type == "cpu" and yb.device.type == "cpu" for xb, yb in batches)
    assert sorted(torch.cat([yb for _, yb in batches]).tolist()) == list(range(20))
    moved = ArrayLoader(X, y, batch_size=6, device=torch.device("cpu"), seed=0)
    assert epoch_labels(moved) == epoch_labels(ArrayLoader(X, y, batch_size=6, seed=0))


def test_mismatched_lengths_raise_usage_error():
    with pytest.raises(UsageError, match="10, 9"):
        ArrayLoader(torch.zeros(10, 2), torch.zeros(9), batch_size=2)
    with pytest.raises(UsageError):
        ArrayLoader(batch_size=2)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "4", None])
def test_bad_batch_size_raises_usage_error(batch_size):
    with pytest.raises(UsageError, match="batch_size"):
        ArrayLoader(torch.zeros(10), batch_size=batch_size)


def test_usage_error_is_a_value_error():
    with pytest.raises(ValueError):
        ArrayLoader(torch.zeros(3), batch_size=0)


def test_as_dataset_feeds_a_torch_dataloader():
    X, y = indexed(30)
    loader = ArrayLoader(X, y, batch_size=7)
    dataset = loader.as_dataset()
    assert len(dataset) == 30
    xs, ys = zip(*DataLoader(dataset, batch_size=7, shuffle=False), strict=True)
    assert [len(b) for b in ys] == [7, 7, 7, 7, 2]
    assert torch.equal(torch.cat(xs), X)
    assert torch.equal(torch.cat(ys), y)
    shuffled = torch.cat([b for _, b in DataLoader(dataset, batch_size=7, shuffle=True)])
    assert sorted(shuffled.tolist()) == list(range(30))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 40),
    batch_size=st.integers(1, 12),
    drop_last=st.booleans(),
    shuffle=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_property_exactly_once_and_batch_sizes(n, batch_size, drop_last, shuffle, seed):
    loader = ArrayLoader(torch.arange(n), batch_size=batch_size, drop_last=drop_last,
                         shuffle=shuffle, seed=seed)
    for _ in range(2):
        batches = [b.tolist() for (b,) in loader]
        sizes = [len(b) for b in batches]
        order = flat(batches)
        assert len(batches) == len(loader)
        assert len(order) == len(set(order))  # never twice
        if drop_last:
            assert sizes == [batch_size] * (n // batch_size)
            assert set(order) <= set(range(n))
        else:
            assert len(batches) == math.ceil(n / batch_size)
            assert all(s == batch_size for s in sizes[:-1])
            if sizes:
                assert sizes[-1] == (n % batch_size or batch_size)
            assert sorted(order) == list(range(n))
        if not shuffle:
            assert order == list(range(len(order)))


# --------------------------------------------------------------------------- book versions


def test_load_array_visits_each_example_once():
    X, y = indexed(25)
    train = load_array((X, y), 4)
    assert isinstance(train, ArrayLoader)
    order = flat(epoch_labels(train))
    assert sorted(order) == list(range(25))
    assert order != list(range(25))
    test = load_array((X, y), 4, is_train=False)
    assert flat(epoch_labels(test)) == list(range(25))
    again = load_array((X, y), 4, seed=0)
    assert flat(epoch_labels(again)) == order


def test_data_iter_visits_each_example_once():
    X, y = indexed(23)
    batches = [(xb, yb) for xb, yb in data_iter(5, X, y, seed=0)]
    assert [len(yb) for _, yb in batches] == [5, 5, 5, 5, 3]
    for xb, yb in batches:
        assert torch.equal(xb[:, 0], yb.float())
    order = torch.cat([yb for _, yb in batches]).tolist()
    assert sorted(order) == list(range(23))
    assert order != list(range(23))
    same = torch.cat([yb for _, yb in data_iter(5, X, y, seed=0)]).tolist()
    other = torch.cat([yb for _, yb in data_iter(5, X, y, seed=1)]).tolist()
    assert same == order
    assert other != order
    unseeded = torch.cat([yb for _, yb in data_iter(5, X, y)]).tolist()
    assert sorted(unseeded) == list(range(23))


# --------------------------------------------------------------------------- synthetic data


def test_synthetic_shapes_and_defaults():
    assert TRUE_W == (2.0, -3.4)
    assert TRUE_B == 4.2
    X, y = synthetic_data(seed=0)
    assert X.shape == (1000, 2)
    assert y.shape == (1000, 1)
    assert X.dtype == y.dtype == torch.float32
    # X ~ N(0, 1)
    assert abs(float(X.mean())) < 0.1
    assert abs(float(X.std()) - 1.0) < 0.1
    # the noise has standard deviation 0.01 around the true line
    residual = y - (X @ torch.tensor(TRUE_W) + TRUE_B).reshape(-1, 1)
    assert 0.008 < float(residual.std()) < 0.012
    assert abs(float(residual.mean())) < 0.002


def test_synthetic_seed_determinism():
    X1, y1 = synthetic_data(seed=42)
    X2, y2 = synthetic_data(seed=42)
    X3, _ = synthetic_data(seed=43)
    assert torch.equal(X1, X2) and torch.equal(y1, y2)
    assert not torch.equal(X1, X3)
    torch.manual_seed(0)
    G1 = synthetic_data()[0]
    torch.manual_seed(0)
    G2 = synthetic_data()[0]
    assert torch.equal(G1, G2)


def test_least_squares_recovers_the_true_parameters():
    X, y = synthetic_data(seed=0)
    design = torch.cat([X, torch.ones(len(X), 1)], dim=1).double()
    solution = torch.linalg.lstsq(design, y.double()).solution.reshape(-1)
    w_hat, b_hat = solution[:2], solution[2]
    torch.testing.assert_close(w_hat, torch.tensor([2.0, -3.4], dtype=torch.float64),
                               atol=0.01, rtol=0)
    assert abs(float(b_hat) - 4.2) < 0.01


def test_noise_zero_gives_exact_targets():
    w = torch.tensor([1.5, -0.5, 3.0])
    X, y = synthetic_data(w, -1.0, 50, noise=0.0, seed=1)
    assert X.shape == (50, 3) and y.shape == (50, 1)
    torch.testing.assert_close(y, (X @ w - 1.0).reshape(-1, 1), rtol=0, atol=0)


def test_synthetic_dtype_and_errors():
    X, y = synthetic_data(num_examples=10, seed=0, dtype=torch.float64)
    assert X.dtype == y.dtype == torch.float64
    with pytest.raises(UsageError):
        synthetic_data(num_examples=0)
    with pytest.raises(UsageError):
        synthetic_data(num_examples=2.5)
    with pytest.raises(UsageError):
        synthetic_data(noise=-0.1)
