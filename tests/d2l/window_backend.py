"""A matplotlib backend standing for a GUI: it records what a window would be asked to do.

Selected with ``MPLBACKEND=module://tests.d2l.window_backend``; ``EVENTS``
lists ``show``, ``draw_idle``, ``flush_events`` and ``mainloop`` (the
blocking part of ``plt.show()``) in order.
"""

from __future__ import annotations

from matplotlib.backend_bases import FigureManagerBase, _Backend
from matplotlib.backends.backend_agg import FigureCanvasAgg

EVENTS: list[str] = []


class FigureManagerWindow(FigureManagerBase):
    def show(self):
        EVENTS.append("show")


class FigureCanvasWindow(FigureCanvasAgg):
    manager_class = FigureManagerWindow

    def draw_idle(self, *args, **kwargs):
        EVENTS.append("draw_idle")
        super().draw_idle(*args, **kwargs)

    def flush_events(self):
        EVENTS.append("flush_events")


@_Backend.export
class _BackendWindow(_Backend):
    FigureCanvas = FigureCanvasWindow
    FigureManager = FigureManagerWindow

    @staticmethod
    def mainloop():
        EVENTS.append("mainloop")
