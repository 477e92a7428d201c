"""``shallownet bench``: training speed measured against the per-sample pipeline and the
arithmetic floor, side by side in one run (see :mod:`shallownet.bench.suite`)."""

from shallownet.bench.report import format_report
from shallownet.bench.suite import BenchOptions, run_bench

__all__ = ["BenchOptions", "run_bench", "format_report"]
