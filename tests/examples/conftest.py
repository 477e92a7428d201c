"""The example notebooks' execution times, printed at the end of the test run."""

from __future__ import annotations

#: Notebook file name -> seconds its cells took in a Jupyter kernel (kernel start included).
NOTEBOOK_SECONDS: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter):
    if not NOTEBOOK_SECONDS:
        return
    terminalreporter.section("example notebooks executed in a Jupyter kernel")
    for name, seconds in sorted(NOTEBOOK_SECONDS.items()):
        terminalreporter.write_line(f"{seconds:6.1f} s  examples/{name}")
    total = sum(NOTEBOOK_SECONDS.values())
    terminalreporter.write_line(f"{total:6.1f} s  in all ({len(NOTEBOOK_SECONDS)} notebooks)")
