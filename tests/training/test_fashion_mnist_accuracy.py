"""The book's accuracy on real Fashion-MNIST, through the real command line.

``shallownet train`` at the book's settings (batch 256, lr 0.1, 10 epochs):
softmax regression must reach test accuracy >= 0.81 (the book: about 0.82)
and the 784-256-10 MLP >= 0.83 (the book: about 0.85).

SGD at lr 0.1 moves the MLP's test accuracy by about ±0.02 from one epoch to
the next (0.82 to 0.85 over epochs 8-10 of one run), so a single run's last
epoch says little about the recipe. The MLP is therefore held to the *mean*
over three seeds >= 0.83, and every seed >= 0.81. Each number is exactly
reproducible on the CPU.
"""

from __future__ import annotations

import json
import statistics

import pytest

from shallownet.cli import main
from tests.conftest import requires_real_data

pytestmark = [requires_real_data, pytest.mark.realdata]


def train(capsys, tmp_path, *options: str) -> dict:
    out = tmp_path / "-".join(o.lstrip("-") for o in options)
    status = main(["train", *options, "--out", str(out), "--json", "-q", "--no-plots"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out.strip().splitlines()[-1])


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_softmax_regression_reaches_the_books_accuracy(capsys, tmp_path, impl):
    result = train(capsys, tmp_path, "--impl", impl)  # every other setting: the defaults
    assert (result["model"], result["epochs"]) == ("softmax", 10)
    assert result["test_acc"] >= 0.81, result
    assert 0.78 <= result["train_acc"] <= 0.9, result


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_mlp_reaches_the_books_accuracy(capsys, tmp_path, impl):
    results = [train(capsys, tmp_path, "--model", "mlp", "--impl", impl, "--seed", str(seed))
               for seed in (0, 1, 2)]
    accuracies = [r["test_acc"] for r in results]
    assert all(r["epochs"] == 10 for r in results)
    assert statistics.fmean(accuracies) >= 0.83, accuracies
    assert min(accuracies) >= 0.81, accuracies
