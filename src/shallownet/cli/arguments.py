"""Argument types shared by the sub-commands: each turns text into a checked number.

A bad value becomes argparse's error (exit status 2), naming the option.
"""

from __future__ import annotations

import argparse
import math

__all__ = ["int_at_least", "int_list", "choice_list", "number", "positive_float",
           "non_negative_float", "fraction"]


def int_at_least(minimum: int):
    """An argument type accepting whole numbers ``>= minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return parse


def int_list(text: str) -> tuple[int, ...]:
    """Whole numbers of at least 1, separated by commas or spaces: ``256`` or ``128,64``."""
    parse = int_at_least(1)
    return tuple(parse(part) for part in text.replace(" ", ",").split(",") if part)


def choice_list(choices: tuple[str, ...]):
    """An argument type accepting one or more of ``choices``, comma-separated."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        unknown = [name for name in names if name not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"{', '.join(map(repr, unknown)) or 'nothing'} given; choose from "
                f"{', '.join(choices)}"
            )
        return tuple(dict.fromkeys(names))  # in order, without repeats

    return parse


def number(text: str) -> float:
    """A finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, not {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number greater than 0."""
    value = number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number, 0 or more."""
    value = number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def fraction(text: str) -> float:
    """A share: a finite number in [0, 1)."""
    value = number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1), not {text}")
    return value
