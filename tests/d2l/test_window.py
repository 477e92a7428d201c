"""With a GUI backend, figures go to windows that redraw without blocking and stay open at exit.

A recording backend (``tests/d2l/window_backend.py``) stands for the GUI,
in a subprocess, so the at-exit behaviour runs for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import atexit, json
from tests.d2l import window_backend
# Registered first, so it runs last: after shallownet's own exit hook.
atexit.register(lambda: print("EVENTS " + json.dumps(window_backend.EVENTS)))
from shallownet import d2l
from shallownet.d2l.figures import output_mode

print("MODE", output_mode())
animator = d2l.Animator(xlabel="epoch", legend=["loss"])
for epoch in range(1, 4):
    animator.add(epoch, 1.0 / epoch)
print("AFTER_ADD " + json.dumps(window_backend.EVENTS))
"""


def run(tmp_path, script: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "module://tests.d2l.window_backend",
           "PYTHONPATH": str(ROOT), "SHALLOWNET_FIGURES": str(tmp_path / "figures")}
    return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def events(stdout: str, tag: str) -> list[str]:
    line = next(line for line in stdout.splitlines() if line.startswith(tag + " "))
    return json.loads(line[len(tag) + 1:])


def test_animator_redraws_a_window_without_blocking_and_keeps_it_open_at_exit(tmp_path):
    proc = run(tmp_path, SCRIPT)
    assert proc.returncode == 0, proc.stderr
    assert "MODE window" in proc.stdout
    during = events(proc.stdout, "AFTER_ADD")
    assert during.count("draw_idle") == 3 and during.count("flush_events") == 3
    assert during.count("show") == 1  # opened once, then redrawn
    assert "mainloop" not in during  # never blocked while training
    at_exit = events(proc.stdout, "EVENTS")[len(during):]
    assert at_exit[-1] == "mainloop"  # the script's end waits for the window to be closed
    assert "d2l: close the figure windows to finish." in proc.stderr
    assert not (tmp_path / "figures").exists()  # windows, not files


def test_a_script_that_shows_its_figures_itself_is_not_held_at_exit(tmp_path):
    script = SCRIPT + "d2l.plt.show()\nd2l.plt.close('all')\n"
    proc = run(tmp_path, script)
    assert proc.returncode == 0, proc.stderr
    assert events(proc.stdout, "EVENTS").count("mainloop") == 1  # the script's own show()
    assert "close the figure windows" not in proc.stderr
