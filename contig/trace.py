"""What each stage did: events for narration, stepping and exact replay.

Modelled on kernel tracepoints (one flat record per decision, printed as one
line, like ``TP_printk``) and on SimPy's ``step()`` (a numbered event log that
replays deterministically).  An :class:`Event` names the kernel function that
acted, the PFN range it touched, one plain sentence of *why*, a few flat
fields, and (privately) the exact change it made to the zone: the slots of
the per-PFN arrays and list links that changed, the pageblock types and the
counters.  Storing diffs, not whole maps, keeps a 1M-PFN trace small.

``Trace.zone_at(k)`` rebuilds the zone as it was right after event ``k`` by
replaying the diffs onto a copy of the initial zone; replaying every event
gives back the final zone exactly (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .zone import _PFN_ARRAYS, Zone

__all__ = ["Event", "Recorder", "Trace", "ZoneDiff", "emit", "stage"]


@dataclass(frozen=True)
class ZoneDiff:
    """The change one event made: new values at the slots and ranges that changed."""

    slots: np.ndarray                     # slot indices changed one by one (PFN indices, sentinels)
    pfn_values: dict[str, np.ndarray]     # per-PFN array -> values at slots < N
    links: dict[str, np.ndarray]          # next/prev -> values at all slots
    ranges: tuple                         # ((lo, hi, {array: values}), ...) PFN index ranges
    pb: np.ndarray | None                 # pageblock types if they changed
    nr_free: np.ndarray
    scalars: tuple

    def apply(self, z: Zone) -> None:
        n = z.spanned_pages
        for lo, hi, vals in self.ranges:
            for a, v in vals.items():
                getattr(z, a)[lo:hi] = v
        pfn_slots = self.slots[self.slots < n]
        for a, v in self.pfn_values.items():
            getattr(z, a)[pfn_slots] = v
        for a, v in self.links.items():
            getattr(z, a)[self.slots] = v
        if self.pb is not None:
            z.pb[:] = self.pb
        z.nr_free[:] = self.nr_free
        z.set_scalars(self.scalars)

    def pfns_changed(self, z: Zone) -> np.ndarray:
        """Absolute PFNs whose page state changed (list-only changes included)."""
        parts = [self.slots[self.slots < z.spanned_pages]]
        parts += [np.arange(lo, hi) for lo, hi, _ in self.ranges]
        return z.start_pfn + np.unique(np.concatenate(parts))


@dataclass(frozen=True)
class Event:
    """One step of the algorithm, named after the kernel function that acted.

    ``str(event)`` is one tracepoint-style line, e.g.
    ``test_pages_isolated start_pfn=0x3f0 end_pfn=0x400 ret=fail``.
    """

    seq: int
    func: str
    start_pfn: int | None
    end_pfn: int | None
    why: str
    stage: str
    fields: dict[str, Any] = field(default_factory=dict)
    diff: ZoneDiff | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        parts = [self.func]
        if self.start_pfn is not None:
            parts.append(f"start_pfn={self.start_pfn:#x}")
        if self.end_pfn is not None:
            parts.append(f"end_pfn={self.end_pfn:#x}")
        for k, v in self.fields.items():
            if isinstance(v, dict | list | tuple) and len(v) > 8:
                v = f"<{len(v)} items>"
            elif isinstance(v, bool):
                v = int(v)
            elif isinstance(v, int) and k.endswith("pfn"):
                v = f"{v:#x}"
            parts.append(f"{k}={v}")
        return " ".join(parts)

    def narrate(self) -> str:
        """``func: why`` for the narrated trace."""
        return f"{self.func}: {self.why}"

    @property
    def source(self):
        """The v4.4 source this event models (:func:`contig.source.where`)."""
        from .source import where
        return where(self.func)


class Trace(list):
    """The recorded events of one run, plus the zone they started from.

    A list of :class:`Event`; ``zone_at(k)`` replays the first ``k+1`` events
    (``k = -1`` gives the initial zone).
    """

    def __init__(self, initial: Zone, events: list[Event] | None = None):
        super().__init__(events or [])
        self.initial = initial
        self._cache: tuple[int, Zone] | None = None

    def zone_at(self, k: int) -> Zone:
        """The zone as it was right after event ``k`` (a new Zone each call)."""
        if k >= len(self) or k < -1:
            raise ValueError(f"event index {k} is outside -1..{len(self) - 1}")
        if self._cache is not None and self._cache[0] <= k:
            start, z = self._cache[0], self._cache[1].copy()
        else:
            start, z = -1, self.initial.copy()
        for ev in self[start + 1: k + 1]:
            if ev.diff is not None:
                ev.diff.apply(z)
        self._cache = (k, z.copy())
        return z

    def final(self) -> Zone:
        """The zone after the last event."""
        return self.zone_at(len(self) - 1)

    def narrate(self) -> str:
        """Every event's ``func: why``, numbered, one per line."""
        return "\n".join(f"{e.seq:4d} [{e.stage}] {e.narrate()}" for e in self)

    def by_func(self, func: str) -> list[Event]:
        return [e for e in self if e.func == func]


class Recorder:
    """Attach to a zone to record events with diffs; detach to stop.

    ``only``: keep just the events of these functions, with their fields and no
    diffs (no copy of the zone, no change tracking): what a call with
    ``trace=False`` still needs for its result (the PFN that stopped it).
    """

    def __init__(self, z: Zone, only: frozenset[str] | None = None):
        self.zone = z
        self.only = only
        self.stage = ""
        z.recorder = self
        if only is not None:
            self.trace: Trace | list[Event] = []
            return
        self.trace = Trace(z.copy())
        self._last_pb = z.pb.copy()
        z._tracking = True
        z._t = []
        z._ta = []
        z._tr = []

    def detach(self) -> Trace | list[Event]:
        self.zone.recorder = None
        if self.only is not None:
            return self.trace
        self.zone._tracking = False
        self.zone._t = []
        self.zone._ta = []
        self.zone._tr = []
        return self.trace

    def emit(self, func: str, start_pfn: int | None, end_pfn: int | None, why: str,
             fields: dict[str, Any]) -> Event | None:
        if self.only is not None:
            if func not in self.only:
                return None
            ev = Event(len(self.trace), func, start_pfn, end_pfn, why, self.stage, fields)
            self.trace.append(ev)
            return ev
        z = self.zone
        slots, ranges = z.take_changes()
        n = z.spanned_pages
        pb = None
        if z._pb_dirty:
            z._pb_dirty = False
            if not np.array_equal(z.pb, self._last_pb):
                pb = z.pb.copy()
                self._last_pb = pb
        if slots.size:
            pfn_slots = slots[slots < n]
            pfn_values = {a: getattr(z, a)[pfn_slots] for a in _PFN_ARRAYS}
            links = {"next": z.next[slots], "prev": z.prev[slots]}
        else:
            pfn_values, links = _EMPTY_VALUES, _EMPTY_LINKS
        diff = ZoneDiff(
            slots=slots, pfn_values=pfn_values, links=links,
            ranges=tuple((lo, hi, {a: getattr(z, a)[lo:hi].copy() for a in _PFN_ARRAYS})
                         for lo, hi in ranges),
            pb=pb, nr_free=z.nr_free.copy(), scalars=z.scalars())
        ev = Event(len(self.trace), func, start_pfn, end_pfn, why, self.stage, fields, diff)
        self.trace.append(ev)
        return ev


_EMPTY_VALUES: dict[str, np.ndarray] = {}
_EMPTY_LINKS: dict[str, np.ndarray] = {}


#: The events whose fields a result needs even when the call is not traced (the PFN that
#: stopped isolation, the test, or the grab): recorded without diffs then.
RESULT_EVENTS = frozenset({"set_migratetype_isolate", "test_pages_isolated",
                           "isolate_freepages_range"})


def emit(z: Zone, func: str, start_pfn: int | None = None, end_pfn: int | None = None,
         why: str = "", **fields: Any) -> Event | None:
    """Record an event if the zone is being traced; otherwise do nothing."""
    rec = z.recorder
    if rec is None:
        return None
    return rec.emit(func, start_pfn, end_pfn, why, fields)


def stage(z: Zone, name: str) -> None:
    """Name the stage the following events belong to."""
    if z.recorder is not None:
        z.recorder.stage = name
