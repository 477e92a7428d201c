"""What training prints: one line per epoch, through a printer the caller chooses."""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["format_epoch", "line_printer"]

_FORMATS = {"loss": ".4f", "acc": ".3f", "error": ".2e", "rmse": ".4f"}


def line_printer(log: Callable[[str], None] | bool | None) -> Callable[[str], None]:
    """The line printer ``log`` stands for: None or True print to stdout, False nothing."""
    if log is None or log is True:
        return lambda line: print(line, flush=True)
    return log or (lambda line: None)


def format_epoch(record: dict, epochs: int) -> str:
    """One line per epoch: ``epoch  3/10  train loss 0.5123  train acc 0.831 ...``."""
    width = len(str(epochs))
    parts = [f"epoch {record['epoch']:>{width}}/{epochs}"]
    for key, value in record.items():
        kind = key.rsplit("_", 1)[-1]
        if kind not in _FORMATS or value is None:
            continue
        text = f"{value:{_FORMATS[kind]}}" if math.isfinite(value) else str(value)
        parts.append(f"{key.replace('_', ' ')} {text}")
    parts.append(f"({record['seconds']:.1f} s)")
    return "  ".join(parts)
