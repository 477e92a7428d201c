"""Check values against the type annotations of a dataclass's fields.

Run configurations come from JSON files a user may have edited; models and
data are configured from Python. Either way a wrong type is refused with the
field's name and what it should be, instead of failing later somewhere else.
"""

from __future__ import annotations

import dataclasses
import numbers
import types
import typing

from shallownet.errors import RunConfigError, UsageError

__all__ = ["check_fields", "typed"]


def check_fields(obj, error=UsageError):
    """``obj`` (a dataclass) with every field checked against its annotation (lists to tuples)."""
    hints = typing.get_type_hints(type(obj))
    values = {f.name: typed(getattr(obj, f.name), hints[f.name], f.name, error)
              for f in dataclasses.fields(obj)}
    return dataclasses.replace(obj, **values)


def typed(value, hint, where: str, error=RunConfigError):
    """``value`` if it is of type ``hint`` (JSON lists become tuples, ints floats), else ``error``.

    Understands ``bool``, ``int`` (not bool), ``float`` (an int is taken),
    ``str``, ``None``, unions and ``tuple[X, ...]`` / ``tuple[X, Y]``.
    """
    ok, result = _match(value, hint)
    if not ok:
        raise error(f"{where} must be {_describe(hint)}, not {value!r}.")
    return result


def _match(value, hint) -> tuple[bool, object]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for arm in args:
            ok, result = _match(value, arm)
            if ok:
                return True, result
        return False, None
    if hint is type(None):
        return value is None, None
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        return ok, (int(value) if ok else None)
    if hint is float:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        return ok, (float(value) if ok else None)  # ranges (and nan) are each field's check
    if hint is str:
        return isinstance(value, str), value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            return False, None
        arms = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(arms) != len(value):
            return False, None
        items = [_match(v, a) for v, a in zip(value, arms, strict=True)]
        return all(ok for ok, _ in items), tuple(r for _, r in items)
    return False, None


def _describe(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            plural = {int: "whole numbers", float: "numbers", str: "strings"}
            return f"a list of {plural.get(args[0], _describe(args[0]))}"
        return f"a list of {len(args)} values"
    names = {type(None): "null", bool: "true or false", int: "a whole number",
             float: "a number", str: "a string"}
    return names.get(hint, str(hint))
