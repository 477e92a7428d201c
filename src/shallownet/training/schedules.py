"""Learning-rate schedules: the rate of every step, as a function of how far training has got.

With ``t`` the step's index over the whole run (0 at the first step of epoch
1, ``T`` steps in all), ``p = t / T`` and the base rate ``lr``:

``constant``   lr
``cosine``     lr · ½ (1 + cos(π p))                         (from lr down to 0)
``onecycle``   lr · (f + (1 − f) · p / w)        for p < w   (a warm-up from f·lr)
               lr · ½ (1 + cos(π (p − w) / (1 − w)))  after  (down to 0)

``warmup`` (a share ``w`` of the run, default 0) adds a linear warm-up from
``lr / 25`` to ``lr`` in front of ``constant`` and ``cosine`` too; for
``onecycle`` it defaults to 0.3 (Smith's one-cycle policy: a short climb to
the peak rate, then a long descent). The rate depends only on ``t`` and
``T``, so a resumed run continues on the same curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shallownet.errors import Hint, UsageError

__all__ = ["SCHEDULES", "Schedule", "make_schedule"]

SCHEDULES = ("constant", "cosine", "onecycle")
_START = 1 / 25  # the warm-up starts at this share of the peak rate
_ONECYCLE_WARMUP = 0.3


@dataclass(frozen=True)
class Schedule:
    """The learning rate of each step of a run of ``total_steps`` steps."""

    kind: str
    lr: float
    total_steps: int
    warmup: float = 0.0  # share of the run spent warming up

    def __call__(self, t: int) -> float:
        """The rate of step ``t`` (0-based over the whole run)."""
        p = min(max(t / max(self.total_steps, 1), 0.0), 1.0)
        w = self.warmup
        if p < w:
            return self.lr * (_START + (1 - _START) * p / w)
        if self.kind == "constant":
            return self.lr
        q = (p - w) / (1 - w) if w < 1 else 1.0
        return self.lr * 0.5 * (1 + math.cos(math.pi * q))

    @property
    def varies(self) -> bool:
        """Whether the rate ever differs from ``lr`` (a constant schedule without warm-up does
        not: the trainer then leaves the step's rate alone)."""
        return self.kind != "constant" or self.warmup > 0


def make_schedule(kind: str, lr: float, total_steps: int, *,
                  warmup: float | None = None) -> Schedule:
    """The :class:`Schedule` ``kind`` (one of :data:`SCHEDULES`) peaking at ``lr``.

    ``warmup`` is the share of the run spent warming up (None: 0.3 for
    ``onecycle``, else 0).
    """
    if kind not in SCHEDULES:
        raise UsageError(f"unknown schedule {kind!r}; choose one of {', '.join(SCHEDULES)}.",
                         hints=[Hint("schedule")])
    if warmup is None:
        warmup = _ONECYCLE_WARMUP if kind == "onecycle" else 0.0
    if not (isinstance(warmup, int | float) and 0 <= warmup < 1):
        raise UsageError(f"warmup is a share of the run in [0, 1), not {warmup!r}.",
                         hints=[Hint("warmup")])
    return Schedule(kind, float(lr), int(total_steps), float(warmup))
