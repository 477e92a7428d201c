"""Fake ``IPython`` modules for the plot tests: a Jupyter kernel, or a terminal, without one."""

from __future__ import annotations

import sys
import types


class ZMQInteractiveShell:
    """Named like the Jupyter kernel's shell."""


class TerminalInteractiveShell:
    """Named like the terminal IPython's shell."""


def fake_ipython(monkeypatch, shell=None) -> types.SimpleNamespace:
    """Install fake ``IPython`` and ``IPython.display`` modules; return what they record."""
    record = types.SimpleNamespace(displayed=[], updates=[], handles=[])

    class Image:
        def __init__(self, data=None, format=None):
            self.data, self.format = data, format

    class Handle:
        def update(self, obj):
            record.updates.append(obj)

    def display(obj, display_id=None):
        record.displayed.append((obj, display_id))
        handle = Handle()
        record.handles.append(handle)
        return handle if display_id else None

    display_module = types.ModuleType("IPython.display")
    display_module.display, display_module.Image = display, Image
    ipython = types.ModuleType("IPython")
    ipython.display = display_module
    ipython.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display_module)
    return record
