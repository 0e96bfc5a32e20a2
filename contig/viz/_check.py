"""Argument checks shared by the drawings and the apps.

One rule for the whole package (the project's rule for bad input): a value
of the wrong type raises TypeError, a value out of its range ValueError,
and the message names the argument and the value.  Nothing is truncated or
coerced silently: ``2.7`` is not a PFN, ``"5"`` is not a count, ``True`` is
not 1.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..argcheck import check_bool as check_bool  # the views use the model's rule
from ..argcheck import check_int as _check_int


def check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as a Python int: ints and numpy integers only (no bool, float or str).

    The model's one rule (:func:`contig.argcheck.check_int`): a wrong type is an
    ArgTypeError (a TypeError), a value out of bounds a ValueError, both naming
    ``name`` and the value.
    """
    return _check_int(name, value, lo=lo, hi=hi, what="an integer")


def check_real(name: str, value: Any, *, positive: bool = True) -> float:
    """A finite real number (no bool, no str), positive unless told otherwise."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, not {value!r} ({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v) or (positive and v <= 0):
        raise ValueError(f"{name} must be a finite{' positive' if positive else ''} number, "
                         f"not {value!r}")
    return v


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = tuple(choices)
    # no str(): a non-string never matches a string choice by accident
    if not any(value is c or (type(value) is type(c) and value == c) for c in choices):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, not {value!r}")
    return value


def check_figsize(value: Any) -> tuple[float, float]:
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise TypeError(f"figsize must be (width, height) in inches, not {value!r}")
    return (check_real("figsize width", value[0]), check_real("figsize height", value[1]))
