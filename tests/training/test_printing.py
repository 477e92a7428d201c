"""The epoch's line and the printers."""

from __future__ import annotations

import math

from shallownet.training.printing import format_epoch, line_printer


def test_format_epoch():
    record = {"epoch": 3, "train_loss": 0.512345, "train_acc": 0.83125, "test_loss": math.nan,
              "test_acc": None, "w_error": 0.00123, "b_error": math.inf, "seconds": 1.26}
    assert format_epoch(record, 10) == (
        "epoch  3/10  train loss 0.5123  train acc 0.831  test loss nan  "
        "w error 1.23e-03  b error inf  (1.3 s)"
    )
    assert format_epoch({"epoch": 1, "val_loss": 2.0, "seconds": 0.0}, 1) == (
        "epoch 1/1  val loss 2.0000  (0.0 s)"
    )


def test_line_printer(capsys):
    line_printer(None)("a")
    line_printer(True)("b")
    line_printer(False)("c")
    seen = []
    line_printer(seen.append)("d")
    assert capsys.readouterr().out == "a\nb\n"
    assert seen == ["d"]
