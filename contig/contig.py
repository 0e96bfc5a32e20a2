"""``alloc_contig_range()`` and ``free_contig_range()`` as Linux v4.4 runs them.

Models ``alloc_contig_range()``, ``__alloc_contig_migrate_range()`` and
``free_contig_range()``, mm/page_alloc.c, Linux v4.4 (the three-argument
form ``alloc_contig_range(start, end, migratetype)``).

The plan, stage by stage (each stage is a function named after the kernel
function and emits trace events):

1. round the request out to ``[pfn_max_align_down(start), pfn_max_align_up(end))``
   so no free block can straddle the isolation boundary;
2. ``start_isolate_page_range()``: every pageblock becomes MIGRATE_ISOLATE
   (or the call fails with -EBUSY, nothing left isolated);
3. ``__alloc_contig_migrate_range()``: empty ``[start, end)`` (not the
   padding) in batches of 32: clean page cache is dropped, the rest
   migrated; a positive result (some pages would not move) still counts as
   success here;
4. ``lru_add_drain_all()`` and ``drain_all_pages()``;
5. the ``outer_start`` search for a free block at or below ``start``
   (which in v4.4 may not even cover ``start``);
6. ``test_pages_isolated(outer_start, end)``, and the "PFNs busy" line;
7. ``isolate_freepages_range(outer_start, end)``: take every page;
8. ``free_contig_range()`` of the head ``[outer_start, start)`` and the
   tail ``[end, outer_end)``;
9. ``undo_isolate_page_range()``, on success and on failure alike.

Simplifications (see also the module docstrings of :mod:`contig.zone`,
:mod:`contig.pcp`, :mod:`contig.migrate`, :mod:`contig.isolation`): one zone
and one CPU, no watermarks, reclaim or compaction for migration targets, no
concurrent allocations, no notifiers or hwpoison.  A fatal signal is
delivered only where the caller asks for it (``fatal_signal_at``).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .argcheck import MAX_PFN, ArgTypeError, check_bool, check_int, check_int_list
from .isolation import start_isolate_page_range, test_pages_isolated, undo_isolate_page_range
from .migrate import (
    CompactControl,
    _migrate_range_bulk,
    isolate_freepages_range,
    isolate_migratepages_range,
    migrate_pages,
    putback_movable_pages,
    reclaim_clean_pages_from_list,
)
from .pcp import __free_page, drain_all_pages, lru_add_drain_all
from .trace import RESULT_EVENTS, Event, Recorder, Trace, emit, stage
from .zone import PG_TAIL, MigrateType, Zone

__all__ = [
    "ContigResult",
    "__alloc_contig_migrate_range",
    "alloc_contig_range",
    "errname",
    "free_contig_range",
]

EBUSY, ENOMEM, EINTR = errno.EBUSY, errno.ENOMEM, errno.EINTR


def errname(ret: int) -> str:
    """``0`` or ``-EBUSY`` style name of a return value."""
    if ret == 0:
        return "0"
    if ret < 0 and -ret in errno.errorcode:
        return "-" + errno.errorcode[-ret]
    return str(ret)


@dataclass
class ContigResult:
    """What ``alloc_contig_range()`` returned and what it did.

    ``ret`` is 0 or a negative errno; ``isolate_start``/``isolate_end`` the
    aligned range; ``outer_start``/``outer_end`` None when not reached;
    ``migrated`` maps source PFN to destination PFN; ``log`` holds the
    kernel's printk lines; ``events`` is the :class:`~contig.trace.Trace`.
    """

    ret: int
    start: int
    end: int
    isolate_start: int
    isolate_end: int
    outer_start: int | None = None
    outer_end: int | None = None
    migrated: dict[int, int] = field(default_factory=dict)
    reclaimed: list[int] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    events: Trace | list[Event] = field(default_factory=list)
    failed_stage: str | None = None
    busy_pfn: int | None = None
    skipped: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.ret == 0

    @property
    def trace(self) -> Trace | list[Event]:
        return self.events

    def summary(self) -> str:
        """One line: the call, its return value, and the ranges."""
        s = (f"alloc_contig_range({self.start}, {self.end}) = {errname(self.ret)}; "
             f"isolated [{self.isolate_start}, {self.isolate_end})")
        if self.outer_start is not None:
            s += f"; outer_start {self.outer_start}"
        if self.outer_end is not None:
            s += f"; outer_end {self.outer_end}"
        s += f"; {len(self.migrated)} migrated, {len(self.reclaimed)} dropped"
        if self.failed_stage:
            s += f"; failed in {self.failed_stage}"
        return s


# ---------------------------------------------------------------- stage 3
def __alloc_contig_migrate_range(cc: CompactControl, start: int, end: int,
                                 fatal_signal_at: int | None = None) -> int:
    """Empty ``[start, end)`` of movable pages; 0, -EBUSY, -ENOMEM or -EINTR.

    Models __alloc_contig_migrate_range(), mm/page_alloc.c, Linux v4.4:
    lru_add_drain_all() first (migrate_prep()); then, while pages remain to
    scan or to migrate: stop with -EINTR on a fatal signal; take a new batch
    of up to 32 pages if the list is empty (and reset the tries), else count
    a retry, giving up at the 5th with the last negative result or -EBUSY;
    drop clean page cache; migrate_pages().  A positive result (pages that
    failed for good and went back to the LRU) is success here.

    ``fatal_signal_at=n`` makes a fatal signal pending at the n-th check of
    the loop (1 = before the first batch); the model's only signal source.
    """
    z = cc.zone
    held: list[tuple] = []

    def note(func, lo, hi, why, **fields):
        # in bulk mode the stage is recorded once, at its end
        if cc.bulk:
            if func != "isolate_migratepages_range" and func != "migrate_pages":
                held.append((func, lo, hi, why, fields))
        else:
            emit(z, func, lo, hi, why, **fields)

    lru_add_drain_all(z, why="migrate_prep(): pages waiting in the LRU pagevec join the LRU "
                             "so the scan can isolate them")
    pfn = start
    tries = 0
    ret = 0
    checks = 0
    if cc.bulk:
        # the first batches at once where provably the same (contig.migrate._migrate_range_bulk);
        # the loop below goes on from where they stopped, page by page
        done = _migrate_range_bulk(cc, start, end,
                                   None if fatal_signal_at is None else fatal_signal_at - 1)
        if done is not None:
            pfn, checks = done
    while pfn < end or cc.migratepages:
        checks += 1
        if fatal_signal_at is not None and checks >= fatal_signal_at:
            ret = -EINTR
            note("fatal_signal_pending", pfn, end,
                 "a fatal signal is pending (the task is being killed), so migration stops "
                 "with -EINTR", ret=ret)
            break
        if not cc.migratepages:
            cc.nr_migratepages = 0
            before = {k: len(v) for k, v in cc.skipped.items()}
            lo = pfn
            pfn = isolate_migratepages_range(cc, pfn, end)
            tries = 0
            cc.batches += 1
            new_skips = {k: v[before[k]:] for k, v in cc.skipped.items() if len(v) > before[k]}
            parts = [f"{len(v)} {k.replace('_', ' ')}" for k, v in new_skips.items()]
            note("isolate_migratepages_range", lo, pfn,
                 f"scanned PFNs {lo}..{pfn - 1}: took {len(cc.migratepages)} LRU page(s) off the LRU"
                 + (f"; skipped {', '.join(parts)}" if parts else ""),
                 nr_isolated=len(cc.migratepages), batch=cc.batches,
                 isolated=sorted(cc.migratepages), skipped=new_skips)
        else:
            tries += 1
            if tries == 5:
                ret = ret if ret < 0 else -EBUSY
                note("__alloc_contig_migrate_range", start, end,
                     f"{len(cc.migratepages)} page(s) still refuse to move after 5 tries; "
                     f"giving up with {errname(ret)}", ret=ret, tries=tries,
                     stuck=list(cc.migratepages))
                break
        nr = reclaim_clean_pages_from_list(cc)
        if nr:
            cc.nr_migratepages -= nr
            note("reclaim_clean_pages_from_list", None, None,
                 f"{nr} clean page-cache page(s) are dropped instead of migrated: nothing needs "
                 "copying, the file can be read again later", reclaimed=cc.reclaimed[-nr:])
        if not cc.migratepages:
            ret = 0
            continue
        batch = list(cc.migratepages)
        cc.moves = {}
        ret = migrate_pages(cc)
        moved = cc.moves
        if ret == -ENOMEM:
            why = ("no free page outside the isolated blocks is left to copy into, so "
                   "migrate_pages() fails with -ENOMEM")
        elif ret > 0:
            why = (f"{len(moved)} page(s) migrated; {ret} could not be moved "
                   f"(they stay where they are)")
        else:
            why = (f"{len(moved)} page(s) copied to free pages outside the range; the old pages "
                   "are freed into the Isolate lists once the pagevec is flushed")
        note("migrate_pages", min(batch), max(batch) + 1, why, ret=ret,
             migrated=moved, tries=tries)
    if ret < 0:
        putback_movable_pages(cc)
        note("putback_movable_pages", None, None,
             f"migration failed with {errname(ret)}; pages still on the list go back to the LRU",
             ret=ret)
    if cc.bulk:
        _finish_bulk(cc, start, end, held)
    return ret if ret < 0 else 0


def _finish_bulk(cc: CompactControl, start: int, end: int, held: list[tuple]) -> None:
    """Record the migration stage of a bulk run in one event, then the events held back."""
    z = cc.zone
    skipped = {k: len(v) for k, v in cc.skipped.items() if v}
    emit(z, "migrate_pages", start, end,
         f"{cc.batches} batch(es) of up to 32 pages: {len(cc.migrated)} page(s) copied out of the "
         f"range, {len(cc.reclaimed)} clean page-cache page(s) dropped"
         + (f"; skipped {skipped}" if skipped else "")
         + " (large zone: the migration stage is recorded as one step)",
         migrated=dict(cc.migrated), reclaimed=list(cc.reclaimed), batches=cc.batches)
    for func, lo, hi, why, fields in held:
        emit(z, func, lo, hi, why, **fields)




# ---------------------------------------------------------------- the seed
def _check_args(z: Zone, start: int, end: int, migratetype: int) -> tuple[int, int, MigrateType]:
    """Check alloc_contig_range()'s positional arguments; return them as ints and a MigrateType."""
    if not isinstance(z, Zone):
        raise ArgTypeError(f"zone must be a Zone, not {type(z).__name__}")
    start = check_int("start", start, what="an int PFN")
    end = check_int("end", end, what="an int PFN")
    if start >= end:
        raise ValueError(f"start ({start}) must be below end ({end})")
    if start < z.start_pfn or end > z.end_pfn:
        raise ValueError(f"[{start}, {end}) is not inside zone {z.name} "
                         f"[{z.start_pfn}, {z.end_pfn})")
    mt = check_int("migratetype", migratetype, what="a MigrateType (MOVABLE or CMA)")
    if mt not in (MigrateType.MOVABLE, MigrateType.CMA):
        raise ValueError(f"migratetype must be MOVABLE or CMA, not {migratetype!r}")
    return start, end, MigrateType(mt)


def check_call_options(start: int, end: int, fatal_signal_at: Any, busy_pfns: Any,
                       trace: Any) -> tuple[int | None, frozenset[int], bool]:
    """The model's options of an alloc_contig_range() call, checked (both kernels use them):
    ``fatal_signal_at`` a positive int or None, ``busy_pfns`` int PFNs inside
    ``[start, end)``, ``trace`` a bool."""
    if fatal_signal_at is not None:
        fatal_signal_at = check_int("fatal_signal_at", fatal_signal_at, lo=1, hi=MAX_PFN,
                                    what="a positive int or None")
    busy = frozenset(check_int_list("busy_pfns", busy_pfns))
    for p in sorted(busy):
        if not start <= p < end:
            raise ValueError(f"busy PFN {p} is outside [{start}, {end})")
    return fatal_signal_at, busy, check_bool("trace", trace)


def alloc_contig_range(zone: Zone, start: int, end: int,
                       migratetype: int = MigrateType.MOVABLE, *,
                       fatal_signal_at: int | None = None,
                       busy_pfns: Iterable[int] = (),
                       trace: bool = True, bulk: bool | None = None) -> ContigResult:
    """Allocate the PFNs ``[start, end)``, as Linux v4.4 does.

    Models alloc_contig_range(), mm/page_alloc.c, Linux v4.4.  Changes
    ``zone`` in place.  On success every page of ``[start, end)`` is an
    order-0 page with refcount 1 (``X``), owned by the caller, who gives it
    back with :func:`free_contig_range`.

    :param migratetype: MOVABLE or CMA: what every isolated pageblock
        becomes afterwards (a 4.4 quirk: not the type it had).
    :param fatal_signal_at: make a fatal signal pending at the n-th check of
        the migration loop (-EINTR path); None for never.
    :param busy_pfns: pages whose migration always returns -EAGAIN (under
        writeback that never ends, or locked): the -EBUSY-after-5-tries path.
    :param trace: record events with diffs (``result.events``).
    :param bulk: do runs of plain pageblocks and the first migration
        batches with numpy (:mod:`contig.bulk`), where that provably gives
        the same result and the same final zone (every list in its order,
        every counter) as page by page; the trace then records the
        migration stage as one step.  Default: on for zones of more than
        65,536 PFNs.
    :return: a :class:`ContigResult`; kernel failures are results.
    :raises ValueError: start >= end, a range outside the zone, another
        migratetype, a busy PFN outside the range; ``ArgTypeError`` (both a
        TypeError and a ValueError) for an argument of the wrong type (a
        bool or float PFN, ``trace="no"``, a string in ``busy_pfns`` ...).
        The zone is then untouched.
    """
    start, end, mt = _check_args(zone, start, end, migratetype)
    fatal_signal_at, busy, trace = check_call_options(start, end, fatal_signal_at, busy_pfns, trace)
    if bulk is not None:
        bulk = check_bool("bulk", bulk)
    z = zone
    g = z.geometry
    rec = Recorder(z) if trace else Recorder(z, only=RESULT_EVENTS)
    iso_start, iso_end = g.pfn_max_align_down(start), g.pfn_max_align_up(end)
    res = ContigResult(ret=0, start=start, end=end, isolate_start=iso_start, isolate_end=iso_end)
    if bulk is None:
        bulk = z.spanned_pages > 65536
    cc = CompactControl(zone=z, busy_pfns=busy, bulk=bool(bulk))
    try:
        stage(z, "align")
        emit(z, "pfn_max_align", iso_start, iso_end,
             f"[{start}, {end}) is rounded out to multiples of {g.max_align_nr_pages} pages "
             f"(max(MAX_ORDER_NR_PAGES, pageblock_nr_pages)) so that no free block can straddle "
             f"the isolated range", start=start, end=end)
        stage(z, "isolate")
        ret = start_isolate_page_range(z, iso_start, iso_end, mt, bulk=cc.bulk)
        if ret:
            res.ret = ret
            res.failed_stage = "start_isolate_page_range"
            bad = [e for e in (rec.trace) if e.func == "set_migratetype_isolate"
                   and e.fields.get("ret")]
            res.busy_pfn = bad[-1].fields.get("unmovable_pfn") if bad else None
            stage(z, "done")
            emit(z, "alloc_contig_range", start, end,
                 "isolation failed, and start_isolate_page_range() already rolled back: "
                 "return -EBUSY at once", ret=ret)
            return res
        ret = _rest(z, cc, res, start, end, mt, fatal_signal_at)
        stage(z, "undo")
        undo_isolate_page_range(z, iso_start, iso_end, mt, bulk=cc.bulk)
        res.ret = ret
        res.migrated = cc.migrated       # cc ends here: no copy needed
        res.reclaimed = cc.reclaimed
        res.skipped = {k: list(v) for k, v in cc.skipped.items() if v}
        stage(z, "done")
        emit(z, "alloc_contig_range", start, end,
             (f"success: PFNs {start}..{end - 1} now belong to the caller" if ret == 0 else
              f"returns {errname(ret)}" + (f" (failed in {res.failed_stage})" if res.failed_stage else "")),
             ret=ret)
        return res
    finally:
        events = rec.detach()
        if trace:
            res.events = events


def _rest(z: Zone, cc: CompactControl, res: ContigResult, start: int, end: int,
          mt: MigrateType, fatal_signal_at: int | None) -> int:
    """Stages 3 to 8; returns the value alloc_contig_range() returns (``done:`` follows)."""
    stage(z, "migrate")
    ret = __alloc_contig_migrate_range(cc, start, end, fatal_signal_at)
    if ret:
        res.failed_stage = "__alloc_contig_migrate_range"
        return ret
    stage(z, "drain")
    lru_add_drain_all(z, why="pages left in the LRU pagevec by migration are flushed: old pages "
                             "whose last reference was the pagevec are freed")
    drain_all_pages(z, why="free pages parked on the per-CPU lists go to the buddy lists, so "
                           "the range can be tested")
    emit(z, "drains_done", None, None,
         "lru_add_drain_all() and drain_all_pages() have run: nothing of the range should hide "
         "on a per-CPU list or in a pagevec any more")

    stage(z, "outer_start")
    outer_start, _order = _find_outer_start(z, start)
    if outer_start is None:
        res.failed_stage = "outer_start"
        return -EBUSY
    res.outer_start = outer_start

    stage(z, "test")
    if test_pages_isolated(z, outer_start, end):
        line = f"alloc_contig_range: [{outer_start:x}, {end:x}) PFNs busy"
        res.log.append(line)
        tp = [e for e in (z.recorder.trace if z.recorder else []) if e.func == "test_pages_isolated"]
        res.busy_pfn = tp[-1].fields.get("fin_pfn") if tp else None
        emit(z, "pr_info", outer_start, end, f"the kernel logs: {line}", line=line)
        res.failed_stage = "test_pages_isolated"
        return -EBUSY

    stage(z, "grab")
    outer_end = isolate_freepages_range(cc, outer_start, end)
    if not outer_end:
        res.failed_stage = "isolate_freepages_range"
        ev = [e for e in (z.recorder.trace if z.recorder else []) if e.func == "isolate_freepages_range"]
        res.busy_pfn = ev[-1].fields.get("stop_pfn") if ev else None
        return -EBUSY
    res.outer_end = outer_end

    stage(z, "free_excess")
    if start != outer_start:
        free_contig_range(z, outer_start, start - outer_start, _log=res.log, _part="head")
    if end != outer_end:
        free_contig_range(z, end, outer_end - end, _log=res.log, _part="tail")
    return 0


def _find_outer_start(z: Zone, start: int) -> tuple[int | None, int]:
    """The v4.4 outer_start loop: probe ``start`` rounded down to 2^order, order 0..MAX_ORDER-1.

    Stops at the first probe that heads a free block, whether or not that
    block covers ``start`` (fixed in 4.5).  None means -EBUSY (no message).
    """
    mo = z.geometry.max_order
    order = 0
    outer = start
    probes = []
    while True:
        i = outer - z.start_pfn
        is_buddy = 0 <= i < z.spanned_pages and z.order[i] >= 0
        probes.append(outer)
        if is_buddy:
            bo = int(z.order[i])
            covers = outer + (1 << bo) > start
            why = (f"PFN {outer} heads a free order-{bo} block, so outer_start = {outer}"
                   + ("" if outer == start else
                      (" (it covers start)" if covers else
                       f"; that block is [{outer}, {outer + (1 << bo)}) and does NOT cover start "
                       f"{start}: the v4.4 loop does not check")))
            emit(z, "outer_start", outer, outer + (1 << bo), why, found=True, order=order,
                 buddy_order=bo, covers_start=covers, probes=list(probes))
            return outer, order
        order += 1
        if order >= mo:
            emit(z, "outer_start", start, start + 1,
                 f"no free block head at {', '.join(map(str, probes))} (start rounded down to "
                 f"orders 0..{mo - 1}): -EBUSY, and the kernel prints nothing",
                 found=False, order=order, probes=list(probes))
            return None, order
        outer &= ~0 << order


def free_range_args(zone: Zone, pfn: int, nr_pages: int) -> tuple[Zone, int, int]:
    """free_contig_range()'s argument checks, the same for both kernels: (zone, pfn, nr_pages).

    :raises ArgTypeError: ``zone`` not a Zone, or a value that is not an int.
    :raises ValueError: ``pfn`` outside the zone, ``nr_pages`` negative or running past its end.
    """
    if not isinstance(zone, Zone):
        raise ArgTypeError(f"zone must be a Zone, not {type(zone).__name__}")
    nr_pages = check_int("nr_pages", nr_pages, lo=0)
    pfn = zone.start_pfn + zone.off(pfn, "pfn")
    if nr_pages:
        zone.off(pfn + nr_pages - 1, "pfn + nr_pages - 1")
    return zone, pfn, nr_pages


def free_range_what(pfn: int, nr_pages: int, part: str | None) -> str:
    """How the narration names a freed range: alloc_contig_range()'s head or tail, or a caller's."""
    return {"head": f"the head [{pfn}, {pfn + nr_pages}) between outer_start and start",
            "tail": f"the tail [{pfn}, {pfn + nr_pages}) between end and outer_end"}.get(
                part or "", f"[{pfn}, {pfn + nr_pages})")


def free_contig_range(zone: Zone, pfn: int, nr_pages: int, *, log: list[str] | None = None,
                      _log: list[str] | None = None, _part: str = "") -> int:
    """Free ``nr_pages`` pages from ``pfn`` one by one; return how many had refcount != 1.

    Models free_contig_range(), mm/page_alloc.c, Linux v4.4: for each page,
    ``page_count()`` (the compound head's count for a tail page) is
    compared with 1, then ``__free_page()`` drops one reference; at zero
    the page goes through ``free_hot_cold_page()``: into an isolated block
    straight to the buddy Isolate lists, otherwise onto the per-CPU list.
    The kernel WARNs ``"%d pages are still in use!"`` when the count is not 0.

    Pages nobody allocated: a page whose count reaches zero but which still
    has a mapping, a mapcount, PG_lru or PG_reserved (``M F P R T H``, a
    mapped page in the pagevec) fails free_pages_check(): bad_page() logs
    "BUG: Bad page state" and the page stays out of the free lists, with
    reference count 0 (see :func:`contig.pcp.__free_pages`).  A plain
    kernel page (``U``) is freed silently, as the kernel cannot tell it
    from its owner's page.  A page with no reference (free, on a per-CPU
    list, a hole, a compound tail) is counted in the WARN and left alone.

    :param log: a list to append the kernel's log lines to (the WARN line,
        each "Bad page state" report).
    :raises ValueError: ``pfn`` outside the zone, ``nr_pages`` negative or
        running past the zone's end; ``ArgTypeError`` (a ValueError too)
        for a value that is not an int.  The zone is then untouched.
    """
    z, pfn, nr_pages = free_range_args(zone, pfn, nr_pages)
    if log is not None and not isinstance(log, list):
        raise ArgTypeError(f"log must be a list, not {log!r}")
    lines: list[str] = []
    count = 0
    s = z.start_pfn
    for p in range(pfn, pfn + nr_pages):
        i = p - s
        h = i
        if z.flags[i] & PG_TAIL:
            order = int(z.comp[i])
            h = ((p >> order) << order) - s
        if z.count[h] != 1:
            count += 1
        __free_page(z, p, log=lines)
    if count:
        lines.append(f"WARNING: {count} pages are still in use!")
    for dest in (log, _log):
        if dest is not None:
            dest.extend(lines)
    if nr_pages:
        what = free_range_what(pfn, nr_pages, _part)
        why = (f"{what} was taken only because it shared a free block with the range; its "
               f"{nr_pages} page(s) are freed one by one into the Isolate lists, where they "
               f"merge again" if _part else
               f"the caller gives back {what}: each page drops one reference and is freed at zero")
        emit(z, "free_contig_range", pfn, pfn + nr_pages, why,
             nr_pages=nr_pages, part=_part, warn=count)
    return count
