"""Helpers shared by the end-to-end CLI tests: run ``main`` and read what it printed."""

from __future__ import annotations

import contextlib
import io
import json

from shallownet.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    """``main(argv)`` -> (exit status, stdout, stderr); argparse's SystemExit becomes a status."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def run_quietly(*argv) -> tuple[int, str, str]:
    """``main`` without capsys (for module-scoped fixtures)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def last_json(out: str) -> dict:
    """The JSON object on the last line of stdout."""
    return json.loads(out.strip().splitlines()[-1])


def assert_one_error(err: str) -> None:
    """One paragraph: a single ``shallownet: error:`` line (plus continuation lines), no trace."""
    assert err.startswith("shallownet: error: "), err
    assert err.count("shallownet: error:") == 1, err
    assert "Traceback" not in err
    assert "\n\n" not in err.strip()
