"""The current edition's two small building blocks: ``add_to_class`` and ``HyperParameters``.

The book (the ``d2l`` 1.0 package) grows its classes a method at a time,
``@d2l.add_to_class(Module)`` on a function defined in a later cell, and
records constructor arguments as attributes with ``save_hyperparameters()``.
"""

from __future__ import annotations

import inspect

__all__ = ["add_to_class", "HyperParameters"]


def add_to_class(Class):
    """A decorator that sets the function it decorates as an attribute (a method) of ``Class``.

    ``@add_to_class(A)`` over ``def do(self): ...`` makes ``A().do()`` work,
    for instances made before as well as after. As in the book, the decorated
    name itself is bound to ``None`` in the defining scope.
    """

    def wrapper(obj):
        setattr(Class, obj.__name__, obj)

    return wrapper


class HyperParameters:
    """A base class whose ``save_hyperparameters`` stores the caller's arguments as attributes."""

    def save_hyperparameters(self, ignore=()):
        """Set ``self.<name> = value`` for every local variable of the calling function.

        Called at the top of ``__init__``, that is every argument. ``self``,
        names starting with ``_`` and names in ``ignore`` are left out; the
        saved pairs are also kept as the dict ``self.hparams`` (replacing the
        one a base class's ``__init__`` saved).
        """
        frame = inspect.currentframe().f_back
        try:
            local_vars = dict(frame.f_locals)
        finally:
            del frame  # no reference cycle through the frame
        skip = {"self", *([ignore] if isinstance(ignore, str) else ignore)}
        self.hparams = {k: v for k, v in local_vars.items()
                        if k not in skip and not k.startswith("_")}
        for k, v in self.hparams.items():
            setattr(self, k, v)
