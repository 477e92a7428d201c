"""Metrics: correct counts, accuracy, confusion matrix, per-class accuracy and the timer."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from shallownet.errors import UsageError
from shallownet.metrics import (
    Timer,
    accuracy,
    confusion_matrix,
    count_correct,
    per_class_accuracy,
)

# -- count_correct / accuracy -------------------------------------------------------------


def test_count_correct_takes_the_argmax_of_scores():
    scores = torch.tensor([[0.1, 0.9, 0.0],   # 1
                           [2.0, -1.0, 0.5],  # 0
                           [0.0, 0.2, 0.3],   # 2
                           [5.0, 6.0, 7.0]])  # 2
    y = torch.tensor([1, 0, 1, 2])
    result = count_correct(scores, y)
    assert result.ndim == 0
    assert result.dtype == torch.int64
    assert int(result) == 3
    assert accuracy(scores, y) == pytest.approx(0.75)


def test_count_correct_accepts_predicted_labels():
    predicted = torch.tensor([0, 1, 2, 2, 1])
    y = torch.tensor([0, 1, 1, 2, 0])
    assert int(count_correct(predicted, y)) == 3
    assert accuracy(predicted, y) == pytest.approx(3 / 5)


def test_count_correct_accepts_labels_of_shape_n_by_1():
    scores = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert int(count_correct(scores, torch.tensor([[0], [1], [1]]))) == 2


def test_count_correct_compares_float_labels_to_integer_predictions():
    scores = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert int(count_correct(scores, torch.tensor([0.0, 1.0]))) == 2


@pytest.mark.parametrize("fn", [count_correct, accuracy])
def test_mismatched_lengths_are_a_usage_error(fn):
    scores = torch.zeros(4, 3)
    with pytest.raises(UsageError, match="4 predictions but 3 labels"):
        fn(scores, torch.tensor([0, 1, 2]))


def test_accuracy_of_zero_examples_is_a_usage_error():
    with pytest.raises(UsageError, match="zero examples"):
        accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64))


def test_count_correct_of_zero_examples_is_zero():
    assert int(count_correct(torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64))) == 0


def test_accuracy_is_a_python_float_between_0_and_1():
    scores = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 4, (50,), generator=torch.Generator().manual_seed(1))
    acc = accuracy(scores, y)
    assert isinstance(acc, float)
    assert acc == pytest.approx(float((scores.argmax(1) == y).double().mean()))


# -- confusion matrix ------------------------------------------------------------------------


def brute_force_confusion(predicted, target, k):
    matrix = [[0] * k for _ in range(k)]
    for p, t in zip(predicted, target, strict=True):
        matrix[t][p] += 1
    return matrix


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(1, 7),
    pairs=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=60),
)
def test_confusion_matrix_equals_a_double_loop(k, pairs):
    pairs = [(p % k, t % k) for p, t in pairs]
    predicted = [p for p, _ in pairs]
    target = [t for _, t in pairs]
    matrix = confusion_matrix(torch.tensor(predicted, dtype=torch.int64),
                              torch.tensor(target, dtype=torch.int64), k)
    assert matrix.shape == (k, k)
    assert matrix.dtype == torch.int64
    assert matrix.tolist() == brute_force_confusion(predicted, target, k)
    assert int(matrix.sum()) == len(pairs)


def test_confusion_matrix_rows_are_true_classes():
    matrix = confusion_matrix(torch.tensor([1, 1, 0]), torch.tensor([0, 0, 0]), 2)
    assert matrix.tolist() == [[1, 2], [0, 0]]


def test_confusion_matrix_of_random_data_on_a_larger_scale():
    g = torch.Generator().manual_seed(5)
    predicted = torch.randint(0, 10, (500,), generator=g)
    target = torch.randint(0, 10, (500,), generator=g)
    expected = brute_force_confusion(predicted.tolist(), target.tolist(), 10)
    assert confusion_matrix(predicted, target, 10).tolist() == expected


@pytest.mark.parametrize(
    ("predicted", "target", "bad"),
    [([0, 3], [0, 1], "predicted class 3"),
     ([0, 1], [0, 5], "target class 5"),
     ([-1, 1], [0, 1], "predicted class -1"),
     ([0, 1], [-2, 1], "target class -2")],
)
def test_classes_outside_the_range_are_a_usage_error(predicted, target, bad):
    with pytest.raises(UsageError, match=f"{bad} is outside 0..2"):
        confusion_matrix(torch.tensor(predicted), torch.tensor(target), 3)


def test_confusion_matrix_refuses_mismatched_lengths_and_no_classes():
    with pytest.raises(UsageError, match="3 predictions but 2 labels"):
        confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 1]), 2)
    with pytest.raises(UsageError, match="positive"):
        confusion_matrix(torch.tensor([0]), torch.tensor([0]), 0)


def test_confusion_matrix_of_no_examples_is_zeros():
    matrix = confusion_matrix(torch.zeros(0, dtype=torch.int64),
                              torch.zeros(0, dtype=torch.int64), 3)
    assert matrix.tolist() == [[0] * 3] * 3


# -- per-class accuracy ----------------------------------------------------------------------


def test_per_class_accuracy_is_the_recall_of_each_row():
    matrix = torch.tensor([[3, 1, 0],
                           [0, 0, 0],   # a class with no examples
                           [2, 2, 4]])
    acc = per_class_accuracy(matrix)
    assert acc.dtype == torch.float64
    assert acc[0].item() == pytest.approx(3 / 4)
    assert math.isnan(acc[1].item())
    assert acc[2].item() == pytest.approx(4 / 8)


def test_per_class_accuracy_matches_the_accuracy_of_each_class():
    g = torch.Generator().manual_seed(2)
    predicted = torch.randint(0, 4, (200,), generator=g)
    target = torch.randint(0, 4, (200,), generator=g)
    acc = per_class_accuracy(confusion_matrix(predicted, target, 4))
    for c in range(4):
        mask = target == c
        assert acc[c].item() == pytest.approx(float((predicted[mask] == c).double().mean()))


def test_per_class_accuracy_accepts_a_nested_list():
    assert per_class_accuracy([[1, 1], [0, 2]]).tolist() == [0.5, 1.0]


# -- Timer -----------------------------------------------------------------------------------


def test_timer_records_each_lap():
    timer = Timer()
    assert timer.times == []
    assert timer.avg() == 0.0
    assert timer.sum() == 0.0
    assert timer.cumsum() == []
    laps = []
    for _ in range(4):
        timer.start()
        sum(range(1000))
        laps.append(timer.stop())
    assert timer.times == laps
    assert all(t >= 0 for t in laps)


def test_timer_sum_avg_and_cumsum_are_consistent():
    timer = Timer()
    timer.times = [0.5, 0.25, 1.0]  # known laps: the arithmetic, not the clock
    assert timer.sum() == pytest.approx(1.75)
    assert timer.avg() == pytest.approx(1.75 / 3)
    assert timer.cumsum() == pytest.approx([0.5, 0.75, 1.75])


def test_timer_cumsum_ends_at_the_sum_of_measured_laps():
    timer = Timer()
    for _ in range(3):
        timer.start()
        timer.stop()
    assert len(timer.cumsum()) == 3
    assert timer.cumsum()[-1] == pytest.approx(timer.sum())
    assert timer.avg() == pytest.approx(timer.sum() / 3)
    assert timer.cumsum() == sorted(timer.cumsum())


def test_timer_starts_on_creation():
    timer = Timer()
    lap = timer.stop()  # no explicit start(): measured from construction
    assert lap >= 0
    assert timer.times == [lap]
