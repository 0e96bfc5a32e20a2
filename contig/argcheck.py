"""Checking the arguments of the model's public functions: one rule, one place.

Every public entry point of the model (``Zone.from_map``, ``alloc_contig_range``,
``free_contig_range``, ``set_pcp``, ``set_pageblock_migratetype`` ...) checks
its arguments with these helpers *before* it changes anything, so a refused
call leaves the zone untouched.  The rule:

* a value of the wrong type (a float, a string, a bool where an integer is
  wanted, a string where a bool is wanted) raises :class:`ArgTypeError`,
  which is both a ``TypeError`` and a ``ValueError``: the public contract
  (design notes, section 2) promises ``ValueError`` for argument errors, and
  ``TypeError`` is what Python code expects for a wrong type, so either
  ``except`` clause catches it;
* a value of the right type but outside what is allowed (a PFN outside the
  zone, a negative count, a migratetype the function does not take) raises a
  plain ``ValueError``;
* the message names the argument and shows the value (``repr``).

Integers may be Python ints or numpy integers; they are converted to Python
ints at once, so numpy's fixed-width arithmetic (a ``uint8`` PFN wrapping at
256) never reaches the model.  ``bool`` (and ``numpy.bool_``) is refused
where an integer is wanted, and an integral float such as ``1.0`` is refused
too: silently truncating a float hides a caller's mistake.

PFNs are limited to :data:`MAX_PFN` (2^52: a 64-bit physical address space
in 4 KiB pages), so the model's int64 arithmetic can never overflow.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "MAX_PFN",
    "ArgTypeError",
    "check_bool",
    "check_int",
    "check_int_list",
]

#: One past the largest PFN the model accepts: 2^64 bytes of physical address space / 4 KiB.
MAX_PFN = 1 << 52


class ArgTypeError(TypeError, ValueError):
    """An argument of the wrong type; both a TypeError and a ValueError (see the module docstring)."""


def _is_int(value: Any) -> bool:
    return (isinstance(value, int | np.integer)
            and not isinstance(value, bool | np.bool_))


def check_int(name: str, value: Any, *, lo: int | None = None, hi: int | None = None,
              what: str = "an int") -> int:
    """Return ``value`` as a Python int, or raise naming ``name`` and the value.

    ``lo`` and ``hi`` are inclusive bounds (None: unbounded).

    :raises ArgTypeError: not an integer (bool and float included).
    :raises ValueError: below ``lo`` or above ``hi``.
    """
    if not _is_int(value):
        raise ArgTypeError(f"{name} must be {what}, not {value!r} ({type(value).__name__})")
    v = int(value)
    if lo is not None and v < lo:
        raise ValueError(f"{name} must be >= {lo}, not {v!r}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} must be <= {hi}, not {v!r}")
    return v


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool (or numpy bool), else raise :class:`ArgTypeError`."""
    if not isinstance(value, bool | np.bool_):
        raise ArgTypeError(f"{name} must be True or False, not {value!r} ({type(value).__name__})")
    return bool(value)


def check_int_list(name: str, values: Any, *, lo: int | None = None,
                   hi: int | None = None) -> list[int]:
    """Return the integers of the iterable ``values`` as Python ints, each checked like :func:`check_int`.

    A string (or bytes) is refused as a whole: it iterates as characters.
    """
    if isinstance(values, str | bytes | bytearray) or not isinstance(values, Iterable):
        raise ArgTypeError(f"{name} must be an iterable of ints, not {values!r}")
    out = []
    for v in values:
        if not _is_int(v):
            raise ArgTypeError(f"{name} must hold only ints, not {v!r} ({type(v).__name__})")
        v = int(v)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ValueError(f"{name} holds {v!r}, outside [{lo}, {hi}]")
        out.append(v)
    return out
