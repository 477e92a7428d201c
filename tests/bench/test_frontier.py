"""Accuracy per second: a recipe's time to a reference's accuracy, from its curve."""

from __future__ import annotations

import pytest

from shallownet.bench.frontier import frontier, time_to_accuracy

CURVE = [{"epoch": 1, "test_acc": 0.80, "seconds": 0.5},
         {"epoch": 2, "test_acc": 0.86, "seconds": 1.0},
         {"epoch": 3, "test_acc": 0.85, "seconds": 1.5},
         {"epoch": 4, "test_acc": 0.88, "seconds": 2.0}]


def test_the_first_epoch_at_or_above_the_accuracy_counts():
    assert time_to_accuracy(CURVE, 0.85)["epoch"] == 2
    assert time_to_accuracy(CURVE, 0.88)["seconds"] == 2.0
    assert time_to_accuracy(CURVE, 0.9) is None


def test_the_frontier_rows_give_the_ratio_of_the_times():
    refs = [{"reference": "LR", "test_acc": 0.86, "seconds": 10.0},
            {"reference": "MLP", "test_acc": 0.95, "seconds": 20.0}]
    rows = frontier(refs, [{"recipe": "fast", "curve": CURVE, "test_acc": 0.88,
                            "seconds": 2.0}])
    assert rows[0]["epoch"] == 2 and rows[0]["ratio"] == pytest.approx(0.1)
    assert rows[1]["epoch"] is None and rows[1]["ratio"] is None
    assert rows[1]["final_acc"] == 0.88
