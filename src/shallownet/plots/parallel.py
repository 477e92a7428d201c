"""Drawing several figures at once, and matplotlib imported while training still runs.

A run's figures (curves, confusion matrix, gallery) are independent; each
takes a few tenths of a second, mostly in matplotlib's rendering. Where
``os.fork`` exists, :func:`draw_all` draws all but the first in forked
child processes while the parent draws the first, so they take about as long
as the slowest instead of their sum. Each child only runs matplotlib on
plain arrays and writes its files atomically (a child killed half-way leaves
no half-written file); a child that fails is drawn again in the parent, where
its error is reported as usual.

:func:`preload` imports matplotlib in a background thread, so that the
import overlaps training instead of following it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence

__all__ = ["draw_all", "preload"]

_preloading: threading.Thread | None = None


def preload() -> None:
    """Start importing matplotlib (Agg) and shallownet's figure modules in the background."""
    global _preloading
    if _preloading is not None or "matplotlib.pyplot" in sys.modules:
        return

    def load() -> None:
        try:
            import matplotlib.pyplot  # noqa: F401

            import shallownet.plots.confusion  # noqa: F401
            import shallownet.plots.gallery  # noqa: F401
            import shallownet.plots.training  # noqa: F401
        except Exception:  # imported again, and reported, where the figures are drawn
            pass

    _preloading = threading.Thread(target=load, name="shallownet-preload", daemon=True)
    _preloading.start()


def _wait_for_preload() -> None:
    if _preloading is not None:
        _preloading.join()


def draw_all(jobs: Sequence[Callable[[], None]]) -> None:
    """Run every job (each draws and saves a figure); in parallel where the system forks."""
    _wait_for_preload()  # never fork while another thread holds the import lock
    jobs = list(jobs)
    if len(jobs) < 2 or not hasattr(os, "fork") or os.environ.get("SHALLOWNET_SERIAL_FIGURES"):
        for job in jobs:
            job()
        return
    children, failed = {}, []
    for job in jobs[1:]:
        try:
            pid = os.fork()
        except OSError:  # no room for a process: draw it here afterwards
            failed.append(job)
            continue
        if pid == 0:  # the child: draw, then leave at once (no atexit, no flushing of the
            status = 1  # parent's buffers, no torch thread pool)
            try:
                job()
                status = 0
            finally:
                os._exit(status)
        children[pid] = job
    try:
        jobs[0]()
    finally:
        for pid, job in children.items():
            _, status = os.waitpid(pid, 0)
            if status != 0:
                failed.append(job)
    for job in failed:  # drawn again here, where an error is raised as usual
        job()
