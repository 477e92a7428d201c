"""shallownet: the linear-networks and MLP chapters of *Dive into Deep Learning*
as fast, tested software."""

from __future__ import annotations

from shallownet.errors import ShallownetError

__version__ = "0.1.0"

__all__ = ["ShallownetError", "__version__"]
