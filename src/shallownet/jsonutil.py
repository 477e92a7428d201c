"""JSON helpers: values made fit for strict JSON (``json.dumps`` would write NaN and Infinity)."""

from __future__ import annotations

__all__ = ["json_safe"]


def json_safe(obj):
    """``obj`` with every nan and inf float replaced by None (JSON has neither).

    Dicts, lists and tuples are walked (tuples become lists); anything else is
    returned as it is.
    """
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj
