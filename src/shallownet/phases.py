"""Where a command's time goes: named phases, summed, written where ``$SHALLOWNET_PHASES`` says.

The benchmark's whole-command column (``shallownet bench``) runs
``shallownet train`` with ``SHALLOWNET_PHASES=FILE`` and reads back how long
the data, training, evaluation, checkpoints and figures took, and when the
command's own work began and ended (the rest of the wall time is Python's
start-up with torch's import, and the process's exit). Nothing is recorded
to a file unless the variable is set; the bookkeeping costs microseconds.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["PHASES_ENV", "phase", "add", "mark", "write"]

PHASES_ENV = "SHALLOWNET_PHASES"
_seconds: dict[str, float] = {}
_marks: dict[str, float] = {}


def add(name: str, seconds: float) -> None:
    """Count ``seconds`` more in the phase ``name``."""
    _seconds[name] = _seconds.get(name, 0.0) + seconds


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Count the time the block takes in the phase ``name``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        add(name, time.perf_counter() - start)


def mark(name: str) -> None:
    """Note the wall-clock time (``time.time()``) of an event, e.g. ``main_start``."""
    _marks[name] = time.time()


def write() -> None:
    """Write the phases and marks to ``$SHALLOWNET_PHASES`` (if set) as JSON."""
    path = os.environ.get(PHASES_ENV)
    if not path:
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"seconds": _seconds, "marks": _marks}, f)
    except OSError:
        pass
