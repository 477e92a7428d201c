"""The documentation: the site builds with no warning, and the README's links and commands work.

The site (``mkdocs.yml``, ``docs/``, the API reference generated from the
docstrings) is built with ``mkdocs build --strict``: a broken link, a missing
page or a reference mkdocstrings cannot resolve fails the build. The README
is the first ten minutes: short, with links that lead somewhere, commands
the parser accepts, Python that compiles, and the sentence that says what
``--step auto`` picks, in the words of ``--help``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from shallownet.cli import build_parser, parse
from shallownet.training.steps import AUTO_RULE

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_README_LINES = 300

#: ```lang blocks whose lines are commands: in ``console`` blocks only the ``$ `` lines
SHELL_BLOCKS = {"bash", "sh", "shell", "console", ""}


def readme() -> str:
    return README.read_text(encoding="utf-8")


def code_blocks(text: str) -> list[tuple[str, str]]:
    """The fenced code blocks of a Markdown text: (language, body)."""
    return [(m.group(1).strip().lower(), m.group(2))
            for m in re.finditer(r"^```([^\n]*)\n(.*?)^```\s*$", text, flags=re.M | re.S)]


def shallownet_commands(text: str) -> list[list[str]]:
    """The argument lists of every ``shallownet`` command line in ``text``'s shell blocks.

    A line may hold several commands (``&&``, ``;``, ``|``); ``.venv/bin/shallownet`` and
    ``python -m shallownet`` count; ``--help`` lines are left out.
    """
    commands = []
    for language, body in code_blocks(text):
        if language not in SHELL_BLOCKS:
            continue
        for line in body.replace("\\\n", " ").splitlines():  # continued lines as one
            if language == "console":
                if not line.startswith("$ "):
                    continue  # output
                line = line[2:]
            for part in re.split(r"&&|\|\||;|\|", line):
                words = shlex.split(part, comments=True)
                if words[:2] in (["python", "-m"], [".venv/bin/python", "-m"]):
                    words = words[2:]
                if words and Path(words[0]).name == "shallownet" and "--help" not in words:
                    commands.append(words[1:])
    return commands


# --------------------------------------------------------------------------- the site


def test_the_site_builds_strictly_without_a_warning(tmp_path):
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI installs the docs tools (the dev extra): mkdocs must be importable")
        pytest.skip("mkdocs is a docs extra: pip install -e '.[docs]'")
    mkdocs = Path(sys.executable).with_name("mkdocs")
    command = [str(mkdocs)] if mkdocs.exists() else [sys.executable, "-m", "mkdocs"]
    result = subprocess.run(
        [*command, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output, output
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "api" / "training" / "index.html").is_file()


# --------------------------------------------------------------------------- the README


def test_the_readme_is_short():
    lines = readme().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines"


def test_every_relative_link_of_the_readme_leads_to_a_file():
    text = readme()
    targets = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)
    assert targets
    broken = []
    for target in targets:
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a URL, or an anchor of the README itself
        if not (ROOT / target.split("#")[0]).exists():
            broken.append(target)
    assert not broken, f"README.md links to missing files: {broken}"


def test_every_shallownet_command_of_the_readme_parses():
    commands = shallownet_commands(readme())
    assert len(commands) >= 10
    refused = []
    for argv in commands:
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr):
                parse(argv)  # as the command does: tune takes train's options too
        except SystemExit:
            refused.append(f"shallownet {shlex.join(argv)}: {stderr.getvalue().strip()}")
    assert not refused, "\n".join(refused)


def test_the_readme_shows_every_command():
    shown = {argv[0] for argv in shallownet_commands(readme())}
    shown |= {f"data {argv[1]}" for argv in shallownet_commands(readme()) if argv[0] == "data"}
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) <= shown
    assert {"data info", "data fetch", "data show"} <= shown


def test_every_python_block_of_the_readme_compiles():
    blocks = [body for language, body in code_blocks(readme()) if language == "python"]
    assert blocks
    for number, body in enumerate(blocks, start=1):
        compile(body, f"README.md, python block {number}", "exec")


def test_the_readme_says_what_auto_picks_in_the_words_of_the_help():
    assert " ".join(AUTO_RULE.split()) in " ".join(readme().split())


def test_the_command_finder_reads_shell_and_console_blocks():
    text = ("```console\n$ shallownet train --lr 1  # the book's lr\noutput line\n```\n"
            "```bash\nbash setup.sh && .venv/bin/shallownet evaluate runs/a\n"
            "python -m shallownet data info \\\n    mnist\nshallownet train --help\n```\n"
            "```python\nshallownet = 1\n```\n")
    assert shallownet_commands(text) == [["train", "--lr", "1"], ["evaluate", "runs/a"],
                                         ["data", "info", "mnist"]]
