"""The library's messages in the command line's words.

Library errors name Python parameters and calls (``lr=0.01``, ``data_dir``,
``resume_run('runs/a')``) and carry them as :class:`~shallownet.errors.Hint`
objects; here, and only here, each becomes the flag or command a terminal
user types (``--lr 0.01``, ``--data-dir``, ``shallownet train --resume runs/a``).
"""

from __future__ import annotations

import re
import shlex

from shallownet.errors import Hint, Placeholder, ShallownetError

__all__ = ["for_the_command_line", "flag", "interrupted_message"]

#: Python calls a message may advise -> the command that does the same: the command's words,
#: then its positional arguments; keyword arguments become their flags.
COMMANDS = {
    "resume_run": "shallownet train --resume",
    "fetch_dataset": "shallownet data fetch",
    "resume_tune": "shallownet tune --resume",
}


def flag(hint: Hint) -> str:
    """The command-line spelling of one hint: ``--lr 0.01``, ``--no-tensorboard``, ``--out``,
    ``shallownet train --resume runs/a``."""
    if hint.is_call:
        if hint.name not in COMMANDS:
            return str(hint)
        words = [COMMANDS[hint.name], *(_word(a) for a in hint.args)]
        words += [flag(Hint(k, v)) for k, v in hint.kwargs.items()]
        return " ".join(words)
    name = "--" + hint.name.replace("_", "-")
    if not hint.has_value:
        return name
    if isinstance(hint.value, bool) or hint.value is None:  # None: a setting turned off
        return name if hint.value else "--no-" + name[2:]
    return f"{name} {_word(hint.value)}"


def _word(value) -> str:
    """One value as a shell word: ``0.01``, ``128,64``, a quoted path, a placeholder as is."""
    if isinstance(value, Placeholder):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return ",".join(map(str, value))
    return shlex.quote(str(value))


def for_the_command_line(exc: ShallownetError) -> str:
    """``str(exc)`` with each of its hints spelled as a flag or command."""
    text = str(exc)
    for hint in getattr(exc, "hints", ()):
        python = str(hint)
        if hint.has_value or hint.is_call:
            text = text.replace(python, flag(hint))
        else:  # a bare name: only where it stands as a word of its own
            text = re.sub(rf"(?<![\w.-]){re.escape(python)}(?![\w(=])(?!\.\w)", flag(hint),
                          text)
    return text


def interrupted_message(exc: KeyboardInterrupt) -> str:
    """What to print when a run was interrupted: what is kept, and the command that resumes."""
    run_dir, state = getattr(exc, "run_dir", None), getattr(exc, "state", None)
    if run_dir is None:
        return "shallownet: interrupted."
    resume = getattr(exc, "resume", None) or Hint.call("resume_run", run_dir)
    return f"shallownet: interrupted; {state}. Resume with:\n  {flag(resume)}"
