"""Interruptions a run survives: Ctrl-C and SIGTERM stop it between writes, never inside one.

* :func:`terminate_as_interrupt` makes SIGTERM (``kill PID``, a batch
  scheduler's stop, a container shutdown) raise :class:`Terminated`, a
  :class:`KeyboardInterrupt`, so it takes the same path as Ctrl-C: the run
  keeps its last checkpoint and says how to resume.
* :func:`deferred_interrupts` holds SIGINT and SIGTERM back while a group of
  files that belong together (a checkpoint and its metrics) is written, and
  delivers them once the group is complete.

Both only act in the main thread (where Python runs signal handlers);
elsewhere they do nothing.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Terminated", "terminate_as_interrupt", "deferred_interrupts"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; handled like Ctrl-C, reported with exit status 143 (128 + 15)."""

    exit_status = 128 + signal.SIGTERM


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise_terminated(signum, frame):
    raise Terminated()


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (unless SIGTERM is ignored)."""
    if not _in_main_thread() or signal.getsignal(signal.SIGTERM) in (signal.SIG_IGN, None):
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then deliver the first that came.

    The block itself is never cut short by them; an exception inside it still
    propagates (the held signal is then delivered after it, as usual).
    """
    if not _in_main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    for signum in _SIGNALS:
        current = signal.getsignal(signum)
        if current is not None and current is not signal.SIG_IGN:  # None: not set from Python
            previous[signum] = signal.signal(signum, lambda n, f: received.append(n))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            _deliver(received[0], previous[received[0]])


def _deliver(signum: int, handler) -> None:
    if callable(handler):
        handler(signum, None)
    elif handler is signal.SIG_DFL:
        os.kill(os.getpid(), signum)  # the default action, e.g. SIGTERM ends the process
