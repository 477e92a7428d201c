"""The edition's section code runs as plain scripts (Agg backend) with ``shallownet.d2lzh``.

Each script in ``examples/d2lzh/`` runs in a fresh ``python`` process, as a
learner would run it, with a non-interactive matplotlib backend and
``SHALLOWNET_QUICK=1``: it must finish, print its per-epoch lines in the
edition's format, learn, and write its figures to files, saying where. The
processes of the selected sections are started together (as many at a time
as there are CPUs) when the first test needs one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.d2lzh.sections import (
    SECTIONS,
    SEEDING,
    Section,
    check_printed,
    run_env,
    selected_sections,
    unexpected_stderr,
)

pytestmark = pytest.mark.realdata

#: Seeds the generators, then runs the script as ``python SCRIPT`` would.
RUNNER = (f"{SEEDING}; import runpy, sys; sys.argv = sys.argv[1:]; "
          "runpy.run_path(sys.argv[0], run_name='__main__')")


def run_section(section: Section, directory, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", RUNNER, str(section.path)], cwd=directory, env=env,
        capture_output=True, text=True, timeout=600,
    )


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    """``{script: (future of the finished process, its working directory)}``, all started."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        started: dict[str, tuple[Future, object]] = {}
        for section in selected_sections(request):
            directory = tmp_path_factory.mktemp(section.stem)
            env = {**run_env(directory), "MPLBACKEND": "Agg"}
            started[section.script] = (pool.submit(run_section, section, directory, env),
                                       directory)
        yield started


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.stem)
def test_section_runs_as_a_script(section, runs):
    future, directory = runs[section.script]
    proc = future.result()
    assert proc.returncode == 0, proc.stderr
    check_printed(section, proc.stdout)
    assert "Traceback" not in proc.stderr
    assert "Warning" not in unexpected_stderr(proc.stderr), proc.stderr

    written = sorted((directory / "figures").glob("*.png")) if section.figures else []
    expected = [f"{section.stem}-{i}-{kind}.png" for i, kind in enumerate(section.figures, 1)]
    assert [p.name for p in written] == expected, proc.stderr
    for name in expected:
        assert f"d2l: figure written to {directory / 'figures' / name}" in proc.stderr
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    if not section.figures:
        assert not (directory / "figures").exists(), proc.stderr
