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
    "check_args",
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
        raise ValueError(f"{name} must be at least {lo}, not {v!r}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} must be at most {hi}, not {v!r}")
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


#: Argument names :func:`check_args` knows, by kind.
_PFN_NAMES = frozenset({"pfn", "buddy_pfn", "page"})
_RANGE_NAMES = frozenset({"start_pfn", "end_pfn", "start", "end"})
_ORDER_NAMES = frozenset({"order"})
_MT_NAMES = frozenset({"migratetype", "mt", "start_type", "start_migratetype"})
_COUNT_NAMES = frozenset({"count", "nr_pages"})
_BOOL_NAMES = frozenset({"cold", "bulk", "trace", "only_stealable"})


_zone_mod: Any = None


def _zone_module() -> Any:
    global _zone_mod
    if _zone_mod is None:
        from . import zone as _z  # zone imports this module: import it on first use
        _zone_mod = _z
    return _zone_mod


def check_args(zone: Any, **args: Any) -> tuple:
    """Check a model function's arguments by their names; return them converted, in order.

    The one helper the model's public functions share (the names are the
    kernel's): ``zone`` must be a :class:`~contig.zone.Zone`;

    * ``pfn``, ``buddy_pfn``, ``page``: an int PFN the zone spans;
    * ``start_pfn``, ``end_pfn``, ``start``, ``end``: an int PFN in
      ``[0, MAX_PFN]`` (a range may reach past the zone, as the aligned
      isolation range does);
    * ``order``: an int in ``0 .. max_order-1``;
    * ``migratetype``, ``mt``, ``start_type``: an int (or MigrateType) in 0..5,
      returned as a MigrateType;
    * ``count``, ``nr_pages``: an int >= 0;
    * ``cold``, ``bulk``, ``trace``, ``only_stealable``: a bool.

    Plain Python ints in range take a fast path (the model's own calls,
    page by page, pay well under a microsecond per argument).

    :raises ArgTypeError: a value of the wrong type (both a TypeError and a ValueError).
    :raises ValueError: a value out of range; the message names the argument and the value.
    """
    zm = _zone_module()
    if zone.__class__ is not zm.Zone and not isinstance(zone, zm.Zone):
        raise ArgTypeError(f"zone must be a Zone, not {zone!r} ({type(zone).__name__})")
    out = []
    for name, v in args.items():
        t = v.__class__
        if name in _PFN_NAMES:
            if t is int and zone.start_pfn <= v < zone.start_pfn + zone.spanned_pages:
                out.append(v)
            else:
                out.append(zone.start_pfn + zone.off(v, name))
        elif name in _RANGE_NAMES:
            if t is int and 0 <= v <= MAX_PFN:
                out.append(v)
            else:
                out.append(check_int(name, v, lo=0, hi=MAX_PFN, what="an int PFN"))
        elif name in _ORDER_NAMES:
            if t is int and 0 <= v < zone.geometry.max_order:
                out.append(v)
            else:
                out.append(check_int(name, v, lo=0, hi=zone.geometry.max_order - 1))
        elif name in _MT_NAMES:
            if (t is int or t is zm.MigrateType) and 0 <= v < zm.NR_MIGRATETYPES:
                out.append(_MTYPES[v])
            else:
                out.append(_MTYPES[check_int(name, v, lo=0, hi=zm.NR_MIGRATETYPES - 1,
                                             what="a MigrateType")])
        elif name in _COUNT_NAMES:
            if t is int and 0 <= v <= MAX_PFN:
                out.append(v)
            else:
                out.append(check_int(name, v, lo=0, hi=MAX_PFN))
        elif name in _BOOL_NAMES:
            out.append(v if t is bool else check_bool(name, v))
        else:  # a programming error in the model, not bad input
            raise AssertionError(f"check_args does not know the argument {name!r}")
    return tuple(out)


class _MTypes:
    """MigrateType by value, filled on first use (zone imports this module)."""

    def __getitem__(self, v: int) -> Any:
        global _MTYPES
        _MTYPES = tuple(_zone_module().MigrateType)
        return _MTYPES[v]


_MTYPES: Any = _MTypes()
