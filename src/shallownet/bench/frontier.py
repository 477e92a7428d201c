"""Accuracy per second: how soon each recipe reaches each scikit-learn reference's accuracy.

A recipe's time to an accuracy ``a`` is the training and evaluation time of
its epochs up to the first whose test accuracy is at least ``a`` (from the
per-epoch test figures it records, as the book's loop does); a recipe that
never gets there has none. Its ratio to a reference is that time over the
seconds the reference's ``fit`` took, measured in the same run on the same
data and machine.
"""

from __future__ import annotations

__all__ = ["time_to_accuracy", "frontier"]


def time_to_accuracy(curve: list[dict], accuracy: float) -> dict | None:
    """The first point of ``curve`` (``epoch``, ``test_acc``, cumulative ``seconds``) at or
    above ``accuracy``; None if there is none."""
    return next((point for point in curve if point["test_acc"] >= accuracy), None)


def frontier(references: list[dict], recipes: list[dict]) -> list[dict]:
    """For each reference (``reference``, ``test_acc``, ``seconds``) and recipe (``recipe``,
    ``curve``): when the recipe reached the reference's accuracy, and the ratio of the times."""
    rows = []
    for ref in references:
        for rec in recipes:
            reached = time_to_accuracy(rec["curve"], ref["test_acc"])
            rows.append({
                "reference": ref["reference"], "reference_acc": ref["test_acc"],
                "reference_seconds": ref["seconds"], "recipe": rec["recipe"],
                "epoch": reached["epoch"] if reached else None,
                "seconds": reached["seconds"] if reached else None,
                "ratio": reached["seconds"] / ref["seconds"] if reached and ref["seconds"]
                else None,
                "final_acc": rec["test_acc"], "final_seconds": rec["seconds"],
            })
    return rows
