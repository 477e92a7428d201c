"""The book's code for sections 3.2-4.3 runs unchanged as plain scripts (Agg backend).

Each script in ``examples/d2l/`` runs in a fresh ``python`` process, as a
learner would run it, with a non-interactive matplotlib backend: it must
finish, print its per-epoch lines, reach the book's accuracy and write its
figures to files, saying where.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.d2l.book import SECTIONS, Section, check_printed

pytestmark = pytest.mark.realdata

#: Seeds torch's global generator, then runs the script as ``python SCRIPT`` would.
RUNNER = (
    "import runpy, sys, torch; torch.manual_seed(0); sys.argv = sys.argv[1:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def run_section(section: Section, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "SHALLOWNET_FIGURES": str(tmp_path / "figures")}
    return subprocess.run(
        [sys.executable, "-c", RUNNER, str(section.path)], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=600,
    )


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.stem)
def test_book_section_runs_as_a_script(section, tmp_path):
    proc = run_section(section, tmp_path)
    assert proc.returncode == 0, proc.stderr
    check_printed(section, proc.stdout)
    assert "Traceback" not in proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr  # no book check failed, nothing odd

    written = sorted((tmp_path / "figures").glob("*.png")) if section.figures else []
    expected = [f"{section.stem}-{i}-{kind}.png" for i, kind in enumerate(section.figures, 1)]
    assert [p.name for p in written] == expected, proc.stderr
    for name in expected:
        assert f"d2l: figure written to {tmp_path / 'figures' / name}" in proc.stderr
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000

