"""How many threads torch's operations use: the cores no other process is using.

On a quiet machine every core helps (torch's default: one thread per core).
On a busy one it is the opposite: each of the small operations of these
models is split over all the threads, and a thread whose core is taken by
another process (a browser, a test run, another notebook) holds every other
one up at the next barrier, so the run slows by several times. Measured on
2 cores with one busy process beside the run: the default softmax run took
5.3× its quiet time with two threads and 1.1× with one; the MLP 3.6× and 1.0×
(``python benchmarks/threads_under_load.py``).

:class:`ThreadPolicy` (``threads="auto"``, the default) therefore measures,
while training runs, how much of the machine other processes use — the
CPU time all processes spent (``/proc/stat``) less this process's own
(``os.times``) — and gives torch the cores that are left, at least one, at
most the cores this process may run on. It looks again every fraction of
a second, so a neighbour that starts or stops during a run is followed.
A number (``threads=2``, ``--threads 2``, ``SHALLOWNET_THREADS=2``) fixes
the count instead; so does ``OMP_NUM_THREADS`` set in the environment.
Where ``/proc/stat`` is missing (not Linux) the count stays torch's default.

Loops that are not :class:`~shallownet.training.Trainer`'s (the book's
``train_ch3``, ``d2l.Trainer``) run inside :func:`adapting` and call
:func:`keep_up` once a batch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from shallownet.errors import Hint, UsageError

__all__ = ["ThreadPolicy", "THREADS_ENV", "adapting", "keep_up", "other_load"]

THREADS_ENV = "SHALLOWNET_THREADS"
_INTERVAL = 0.1  # seconds between two looks at the machine


def _sample() -> tuple[float, float, float, float] | None:
    """(wall seconds, this process's CPU seconds, all CPUs' busy ticks, all CPUs' ticks)."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
    except OSError:
        return None
    ticks = [int(x) for x in fields[1:9]]  # user nice system idle iowait irq softirq steal
    idle = ticks[3] + ticks[4]
    times = os.times()
    return time.monotonic(), times.user + times.system, sum(ticks) - idle, sum(ticks)


def other_load(before, after) -> float | None:
    """The cores other processes kept busy between two samples (None if unknown)."""
    if before is None or after is None or after[3] <= before[3] or after[0] <= before[0]:
        return None
    machine = (after[2] - before[2]) / (after[3] - before[3]) * (os.cpu_count() or 1)
    mine = (after[1] - before[1]) / (after[0] - before[0])
    return max(0.0, machine - mine)


_START = _sample()  # taken when shallownet is imported: the first look covers start-up
_TORCH_THREADS = torch.get_num_threads()  # torch's own default, before any policy set one


class ThreadPolicy:
    """Sets ``torch.set_num_threads`` to the cores other processes leave free.

    Parameters
    ----------
    threads : "auto" or int, default "auto"
        ``auto`` adapts (see the module); a number is used as it is. The
        environment's ``SHALLOWNET_THREADS`` (a number or ``auto``) takes the
        place of ``auto``, and ``OMP_NUM_THREADS`` pins the count.
    """

    def __init__(self, threads: str | int = "auto") -> None:
        if threads == "auto":
            threads = os.environ.get(THREADS_ENV, "auto") or "auto"
            if threads == "auto" and os.environ.get("OMP_NUM_THREADS"):
                threads = torch.get_num_threads()
        if threads != "auto":
            try:
                threads = int(threads)
            except (TypeError, ValueError):
                threads = 0
            if threads < 1:
                raise UsageError(f"threads is 'auto' or a whole number of at least 1, not "
                                 f"{threads!r} ({THREADS_ENV}).", hints=[Hint("threads")])
        self.fixed = None if threads == "auto" else threads
        try:
            self.cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            self.cores = os.cpu_count() or 1
        self.most = min(self.cores, _TORCH_THREADS) if self.fixed is None else None
        self._last = _START
        self.history: list[int] = []  # every count set, in order

    def start(self) -> None:
        """Set the count for what comes (from the machine's load since the last look);
        :meth:`stop` puts back the count there was."""
        self._before = torch.get_num_threads()
        if self.fixed is not None:
            self._set(self.fixed)
            return
        self.update(force=True)

    def update(self, *, force: bool = False) -> None:
        """Look at the machine again (at most every 0.1 s) and set the count."""
        if self.fixed is not None or self.most is None or self._last is None:
            return
        if not force and time.monotonic() - self._last[0] < _INTERVAL:
            return
        now = _sample()
        if now is None:
            return
        others = other_load(self._last, now)
        self._last = now
        if others is None:
            return
        free = self.cores - others
        self._set(max(1, min(self.most, int(free + 0.5))))

    def stop(self) -> None:
        """Put back the thread count there was before :meth:`start`."""
        if getattr(self, "_before", None) and torch.get_num_threads() != self._before:
            torch.set_num_threads(self._before)

    def _set(self, count: int) -> None:
        if torch.get_num_threads() != count:
            torch.set_num_threads(count)
        if not self.history or self.history[-1] != count:
            self.history.append(count)


_active: ThreadPolicy | None = None  # the policy of the innermost adapting() block


@contextmanager
def adapting(threads: str | int = "auto") -> Iterator[ThreadPolicy]:
    """Run the block under a :class:`ThreadPolicy` (started here, stopped at the end).

    Inside a block that is already adapting, the outer block's policy serves.
    """
    global _active
    if _active is not None:
        yield _active
        return
    policy = ThreadPolicy(threads)
    policy.start()
    _active = policy
    try:
        yield policy
    finally:
        _active = None
        policy.stop()


def keep_up() -> None:
    """Let the active :func:`adapting` policy look at the machine again (cheap: at most every
    0.1 s it reads ``/proc/stat``); nothing outside such a block."""
    if _active is not None:
        _active.update()
