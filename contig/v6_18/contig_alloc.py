"""``alloc_contig_range()`` and ``free_contig_range()`` as Linux 6.18 runs them.

Models the CONFIG_CONTIG_ALLOC part of mm/page_alloc.c, Linux 6.18:
``alloc_contig_range_noprof()`` (line 6879), ``__alloc_contig_migrate_range()``
(6740), ``split_free_pages()`` (6799), ``__alloc_contig_verify_gfp_mask()``
(6825) and ``free_contig_range()`` (7121).

The plan, stage by stage (each emits trace events named after the kernel
function that acts):

1. ``start_isolate_page_range(start, end, mode)``: pageblock granular, the
   two boundary blocks checked whole, the isolate bit set (each block keeps
   its own migratetype); failure -> ``done``;
2. ``drain_all_pages(zone)`` once;
3. ``__alloc_contig_migrate_range()`` inside ``lru_cache_disable()`` /
   ``lru_cache_enable()``; -ENOMEM ends the loop at once, 5 tries give a
   plain -EBUSY, and -EBUSY *falls through* to the test (so the tracepoint
   shows the busy PFN); any other error -> ``done``;
4. ``replace_free_hugepage_folios()`` (no free hugetlb folios in the model:
   nothing to do);
5. ``outer_start = find_large_buddy(start)`` (never fails, always covers
   ``start``);
6. ``test_pages_isolated(outer_start, end, mode)``: -EBUSY, no message;
7. ``isolate_freepages_range()``: free blocks taken whole;
8. ``split_free_pages()`` and ``free_contig_range()`` of the head and tail
   (or, with ``__GFP_COMP``, one folio when exactly ``[start, end)`` was taken
   and its size is a power of two);
9. ``done:`` ``undo_isolate_page_range(start, end)``: every block gets its
   own type back.

What is shared with v4.4 and imported from the top-level modules: the
per-CPU lists and LRU batches (:mod:`contig.pcp`), the migration of order-0
LRU pages (:mod:`contig.migrate`), the allocation of migration targets.
Clean page cache is dropped by 6.18's own
:func:`contig.v6_18.vmscan.reclaim_clean_pages_from_list` (folios of any
size, freed in list order).  THPs and in-use hugetlb folios are
migrated whole (a THP is split when no block of its order is free) by
:mod:`contig.v6_18.migrate`.  While a 6.18 call runs, the shared
per-CPU code frees pages through the 6.18 buddy (``__free_one_page`` with
its merge rule, ``free_one_page`` with ``split_large_buddy``), see
:func:`kernel_6_18_freeing`.

Simplifications: 6.18 keeps per-CPU lists per order and hands out folios;
the model keeps order-0 per-CPU lists and pages.  No free hugetlb folios exist, so
``replace_free_hugepage_folios()`` does nothing.  Migration targets come
from the v4.4 allocator model (no watermarks, no reclaim or compaction);
a target left unused by a retried page waits in the LRU batch until the
end of that ``migrate_pages()`` call (6.18 frees it at once).
The per-CPU drain is v4.4's: a page goes back to the type it was freed
with unless some block is isolated (6.18 always reads the block's current
type).  No unaccepted memory, memory tiers or NUMA.  ``current_gfp_context()`` is
the identity (no scoped NOFS/NOIO).  With ``__GFP_COMP`` the folio itself
is not modelled (the pages are handed out as order-0 pages and
``result.folio_order`` says which folio 6.18 would have made).  One zone,
one CPU.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ..argcheck import ArgTypeError, check_int
from ..buddy import split_page
from ..contig import ContigResult, check_call_options, errname, free_range_args, free_range_what
from ..migrate import CompactControl
from ..pcp import __pagevec_lru_add, drain_all_pages, lru_add_drain_all, put_page
from ..trace import RESULT_EVENTS, Recorder, emit, stage
from ..zone import OWNED, Zone
from . import page_alloc as _pa
from .compaction import isolate_freepages_range
from .migrate import isolate_migratepages_range, migrate_pages, putback_movable_pages
from .page_alloc import find_large_buddy
from .page_isolation import (
    PbIsolateMode,
    start_isolate_page_range,
    test_pages_isolated,
    undo_isolate_page_range,
)
from .vmscan import reclaim_clean_pages_from_list

__all__ = [
    "ACR_FLAGS_CMA",
    "ACR_FLAGS_NONE",
    "GFP",
    "GFP_GIGANTIC",
    "GFP_HIGHUSER",
    "GFP_KERNEL",
    "__alloc_contig_migrate_range",
    "__alloc_contig_verify_gfp_mask",
    "alloc_contig_pages",
    "alloc_contig_range",
    "free_contig_range",
    "kernel_6_18_freeing",
    "pfn_range_valid_contig",
    "split_free_pages",
    "zone_spans_last_pfn",
]

EBUSY, ENOMEM, EINTR, EINVAL = errno.EBUSY, errno.ENOMEM, errno.EINTR, errno.EINVAL

#: MAX_FOLIO_ORDER on x86-64 with gigantic hugetlb pages: PUD_ORDER (include/linux/mm.h, 6.18).
MAX_FOLIO_ORDER = 18

#: ``acr_flags_t`` values, include/linux/gfp.h, 6.18.
ACR_FLAGS_NONE = 0
ACR_FLAGS_CMA = 1


class GFP:
    """The gfp bits ``alloc_contig_range()`` looks at (bit values are the model's, not the kernel's)."""

    DMA = 1 << 0
    HIGHMEM = 1 << 1
    DMA32 = 1 << 2
    MOVABLE = 1 << 3
    RECLAIMABLE = 1 << 4
    HIGH = 1 << 5
    IO = 1 << 6
    FS = 1 << 7
    DIRECT_RECLAIM = 1 << 8
    KSWAPD_RECLAIM = 1 << 9
    WRITE = 1 << 10
    NOWARN = 1 << 11
    RETRY_MAYFAIL = 1 << 12
    NOFAIL = 1 << 13
    NORETRY = 1 << 14
    COMP = 1 << 15
    ZERO = 1 << 16
    HARDWALL = 1 << 17
    THISNODE = 1 << 18
    ZEROTAGS = 1 << 19
    SKIP_ZERO = 1 << 20
    RECLAIM = DIRECT_RECLAIM | KSWAPD_RECLAIM
    ZONEMASK = DMA | HIGHMEM | DMA32 | MOVABLE


#: include/linux/gfp_types.h, 6.18.
GFP_KERNEL = GFP.RECLAIM | GFP.IO | GFP.FS
GFP_USER = GFP_KERNEL | GFP.HARDWALL
GFP_HIGHUSER = GFP_USER | GFP.HIGHMEM


def __alloc_contig_verify_gfp_mask(gfp_mask: int) -> int | None:
    """The compaction gfp mask for ``gfp_mask``, or None (the caller returns -EINVAL).

    Models __alloc_contig_verify_gfp_mask(), mm/page_alloc.c, 6.18: zone,
    placement and mobility hints are dropped; anything but the reclaim
    flags (IO, FS, RECLAIM) and the action flags (COMP, RETRY_MAYFAIL,
    NOWARN, ZERO, ZEROTAGS, SKIP_ZERO) is refused; the result keeps the
    reclaim flags, NOWARN and RETRY_MAYFAIL and adds MOVABLE | RETRY_MAYFAIL.
    """
    reclaim = GFP.IO | GFP.FS | GFP.RECLAIM
    action = GFP.COMP | GFP.RETRY_MAYFAIL | GFP.NOWARN | GFP.ZERO | GFP.ZEROTAGS | GFP.SKIP_ZERO
    g = gfp_mask & ~(GFP.ZONEMASK | GFP.RECLAIMABLE | GFP.WRITE | GFP.HARDWALL | GFP.THISNODE)
    if g & ~(reclaim | action):
        return None
    return (g & (reclaim | GFP.RETRY_MAYFAIL | GFP.NOWARN)) | GFP.MOVABLE | GFP.RETRY_MAYFAIL


#: 6.18's ways to the buddy allocator, for :mod:`contig.pcp` (see :func:`kernel_6_18_freeing`).
FREEING_6_18 = {"__free_one_page": _pa.__free_one_page, "free_one_page": _pa.free_one_page,
                "__free_pages_ok": _pa.__free_pages_ok}


@contextlib.contextmanager
def kernel_6_18_freeing(z: Zone) -> Iterator[None]:
    """Make the shared per-CPU code free ``z``'s pages through the 6.18 buddy while a 6.18 call runs.

    The per-CPU lists, LRU batches and migration are shared with v4.4
    (:mod:`contig.pcp`, :mod:`contig.migrate`); where they end in the buddy
    allocator 6.18 differs (``__free_one_page()``'s merge rule,
    ``free_one_page()`` going through ``split_large_buddy()``).  ``z.freeing``
    (which :mod:`contig.pcp` consults) names the 6.18 functions for the
    duration of the call and is put back afterwards (also on error); other
    zones are not affected.
    """
    saved = getattr(z, "freeing", None)
    z.freeing = FREEING_6_18
    try:
        yield
    finally:
        z.freeing = saved


# ---------------------------------------------------------------- migration
def __alloc_contig_migrate_range(cc: CompactControl, start: int, end: int,
                                 fatal_signal_at: int | None = None, gfp_mask: int = 0) -> int:
    """Empty ``[start, end)`` of movable pages; 0, -EBUSY, -ENOMEM or -EINTR.

    Models __alloc_contig_migrate_range(), mm/page_alloc.c, Linux 6.18:
    ``lru_cache_disable()`` first (drain every LRU-add batch; while
    disabled, pages put back or migrated go straight to the LRU and an old
    page's last reference is dropped at once); then batches of up to 32
    pages; the 5th retry of a batch gives a plain -EBUSY; -ENOMEM from
    migrate_pages() ends the loop at once (4.4 retried); after
    ``lru_cache_enable()`` a failed call puts the pages left back (they
    wait in the per-CPU batch: ``v``).  The "migration failure" page dump
    (dynamic debug, without __GFP_NOWARN) prints nothing by default: it is
    recorded as an ``alloc_contig_dump_pages`` event.
    """
    z = cc.zone
    lru_add_drain_all(z, why="lru_cache_disable(): every per-CPU LRU-add batch is drained and "
                             "batching is off until the migration ends")
    emit(z, "lru_cache_disable", start, end,
         "pages added to the LRU from now on skip the per-CPU batches (5.13+: replaces 4.4's "
         "migrate_prep())")
    pfn, tries, ret, checks = start, 0, 0, 0
    while pfn < end or cc.migratepages:
        checks += 1
        if fatal_signal_at is not None and checks >= fatal_signal_at:
            ret = -EINTR
            emit(z, "fatal_signal_pending", pfn, end,
                 "a fatal signal is pending, so migration stops with -EINTR", ret=ret)
            break
        if not cc.migratepages:
            cc.nr_migratepages = 0
            lo = pfn
            pfn = isolate_migratepages_range(cc, pfn, end)
            tries = 0
            cc.batches += 1
            n_iso = len(cc.migratepages)
            emit(z, "isolate_migratepages_range", lo, pfn,
                 f"scanned PFNs {lo}..{pfn - 1}: took {n_iso} LRU page(s) off the LRU" if n_iso else
                 f"scanned PFNs {lo}..{pfn - 1}: no LRU page to migrate",
                 nr_isolated=len(cc.migratepages), batch=cc.batches, isolated=sorted(cc.migratepages))
        else:
            tries += 1
            if tries == 5:
                ret = -EBUSY
                emit(z, "__alloc_contig_migrate_range", start, end,
                     f"{len(cc.migratepages)} page(s) still refuse to move after 5 tries: -EBUSY, "
                     "which alloc_contig_range() lets fall through to test_pages_isolated()",
                     ret=ret, tries=tries, stuck=list(cc.migratepages))
                break
        nr = reclaim_clean_pages_from_list(cc)
        if nr:
            cc.nr_migratepages -= nr
            emit(z, "reclaim_clean_pages_from_list", None, None,
                 f"{nr} clean page-cache page(s) are dropped instead of migrated (folios of any "
                 "size, freed in list order: 6.18)",
                 reclaimed=cc.reclaimed[-nr:])
        if not cc.migratepages:
            ret = 0
            continue
        batch = list(cc.migratepages)
        cc.moves = {}
        ret = migrate_pages(cc)
        __pagevec_lru_add(z)      # lru cache disabled: nothing waits in a batch
        if ret == -ENOMEM:
            why = ("no free page outside the isolated blocks is left to copy into: -ENOMEM, and "
                   "6.18 stops at once (5.13+)")
        elif ret > 0:
            why = f"{len(cc.moves)} page(s) migrated; {ret} could not be moved yet"
        else:
            why = (f"{len(cc.moves)} page(s) copied out of the range; with the LRU cache disabled "
                   "the old pages are freed at once, into the Isolate lists")
        emit(z, "migrate_pages", min(batch), max(batch) + 1, why, ret=ret, migrated=dict(cc.moves),
             tries=tries)
        if ret == -ENOMEM:
            break
    emit(z, "lru_cache_enable", start, end, "per-CPU LRU-add batching is on again")
    if ret == -EBUSY and not gfp_mask & GFP.NOWARN:
        emit(z, "alloc_contig_dump_pages", start, end,
             f"without __GFP_NOWARN the {len(cc.migratepages)} page(s) left would be dumped as "
             "'migration failure', but only when that dynamic-debug site is switched on (off by "
             "default): nothing is printed", stuck=list(cc.migratepages))
    if ret < 0:
        putback_movable_pages(cc)
        emit(z, "putback_movable_pages", None, None,
             f"migration failed with {errname(ret)}; the pages left go back towards the LRU "
             "(after lru_cache_enable(), so they wait in the per-CPU batch)", ret=ret)
    return ret if ret < 0 else 0


def split_free_pages(z: Zone, freelist: list[tuple[int, int]]) -> None:
    """Models split_free_pages(), mm/page_alloc.c, 6.18: each block taken -> order-0 pages, refcount 1."""
    for pfn, order in freelist:
        split_page(z, pfn, order, OWNED)


# ---------------------------------------------------------------- the call
def _check_args(z: Zone, start: int, end: int, acr_flags: int, gfp: int) -> tuple[int, int, int, int]:
    """Check alloc_contig_range()'s positional arguments (the v4.4 model's rules); return ints."""
    if not isinstance(z, Zone):
        raise ArgTypeError(f"zone must be a Zone, not {type(z).__name__}")
    start = check_int("start", start, what="an int PFN")
    end = check_int("end", end, what="an int PFN")
    acr_flags = check_int("acr_flags", acr_flags)
    gfp = check_int("gfp", gfp)
    if start >= end:
        raise ValueError(f"start ({start}) must be below end ({end})")
    if start < z.start_pfn or end > z.end_pfn:
        raise ValueError(f"[{start}, {end}) is not inside zone {z.name} [{z.start_pfn}, {z.end_pfn})")
    if acr_flags not in (ACR_FLAGS_NONE, ACR_FLAGS_CMA):
        raise ValueError(f"acr_flags must be ACR_FLAGS_NONE (0) or ACR_FLAGS_CMA (1), not {acr_flags!r}")
    if gfp < 0:
        raise ValueError(f"gfp must be a non-negative mask, not {gfp!r}")
    return start, end, acr_flags, gfp


def alloc_contig_range(zone: Zone, start: int, end: int, acr_flags: int = ACR_FLAGS_NONE,
                       gfp: int = GFP_KERNEL, *, fatal_signal_at: int | None = None,
                       busy_pfns: Iterable[int] = (), trace: bool = True) -> ContigResult:
    """Allocate the PFNs ``[start, end)``, as Linux 6.18 does.

    Models alloc_contig_range_noprof(start, end, acr_flags, gfp),
    mm/page_alloc.c, Linux 6.18 (see the module docstring for the stages).
    Changes ``zone`` in place.  On success every page of ``[start, end)`` is
    an order-0 page with refcount 1 (``X``); give them back with
    :func:`free_contig_range`.  Every pageblock keeps the migratetype it had.

    :param acr_flags: ACR_FLAGS_NONE (isolation mode OTHER: CMA blocks are
        refused) or ACR_FLAGS_CMA (mode CMA_ALLOC).
    :param gfp: a mask of :class:`GFP` bits; unsupported ones give -EINVAL.
    :param fatal_signal_at: a fatal signal pending at the n-th check of the
        migration loop (-EINTR); None for never.
    :param busy_pfns: pages whose migration always returns -EAGAIN.
    :param trace: record events (``result.events``).
    :return: a :class:`~contig.contig.ContigResult`; ``isolate_start`` /
        ``isolate_end`` are the pageblock-rounded range.
    :raises ValueError: bad arguments; the zone is then untouched.
    """
    start, end, acr_flags, gfp = _check_args(zone, start, end, acr_flags, gfp)
    fatal_signal_at, busy, trace = check_call_options(start, end, fatal_signal_at, busy_pfns, trace)
    z = zone
    g = z.geometry
    pbn = g.pageblock_nr_pages
    iso_start, iso_end = g.pageblock_start(start), -(-end // pbn) * pbn
    res = ContigResult(ret=0, start=start, end=end, isolate_start=iso_start, isolate_end=iso_end)
    res.kernel = "6.18"   # type: ignore[attr-defined]
    res.migrated_pages = 0   # type: ignore[attr-defined]  # set after migration
    mode = PbIsolateMode.CMA_ALLOC if acr_flags & ACR_FLAGS_CMA else PbIsolateMode.OTHER
    rec = Recorder(z) if trace else Recorder(z, only=RESULT_EVENTS)
    try:
        with kernel_6_18_freeing(z):
            res.ret = _alloc(z, res, start, end, mode, gfp, busy, fatal_signal_at)
        stage(z, "done")
        emit(z, "alloc_contig_range", start, end,
             (f"success: PFNs {start}..{end - 1} now belong to the caller; every pageblock has the "
              f"migratetype it had before" if res.ret == 0 else
              f"returns {errname(res.ret)}" + (f" (failed in {res.failed_stage})" if res.failed_stage else "")
              + "; every pageblock has its own migratetype back"), ret=res.ret)
        return res
    finally:
        events = rec.detach()
        if trace:
            res.events = events


def _alloc(z: Zone, res: ContigResult, start: int, end: int, mode: PbIsolateMode, gfp: int,
           busy: frozenset[int], fatal_signal_at: int | None) -> int:
    """The body of alloc_contig_range_noprof() up to its ``done:`` label, then the label."""
    order = (end - start).bit_length() - 1
    if gfp & GFP.COMP and order > MAX_FOLIO_ORDER:
        res.failed_stage = "MAX_FOLIO_ORDER"
        res.log.append("WARNING: __GFP_COMP order above MAX_FOLIO_ORDER")
        return -EINVAL
    cc_gfp = __alloc_contig_verify_gfp_mask(gfp)
    if cc_gfp is None:
        res.failed_stage = "__alloc_contig_verify_gfp_mask"
        emit(z, "__alloc_contig_verify_gfp_mask", start, end,
             "the gfp mask holds a flag alloc_contig_range() does not support: -EINVAL", ret=-EINVAL)
        return -EINVAL
    cc = CompactControl(zone=z, busy_pfns=busy, bulk=False)
    stage(z, "isolate")
    ret = start_isolate_page_range(z, start, end, mode)
    if ret:
        res.failed_stage = "start_isolate_page_range"
        bad = [e for e in (z.recorder.trace if z.recorder else [])
               if e.func == "set_migratetype_isolate" and e.fields.get("ret")]
        res.busy_pfn = bad[-1].fields.get("unmovable_pfn") if bad else None
        return _done(z, res, start, end, ret)
    stage(z, "drain")
    drain_all_pages(z, why="drain_all_pages(), once for the whole range (5.11+): free pages on "
                           "the per-CPU lists go to the buddy, those of isolated blocks to the "
                           "Isolate lists")
    stage(z, "migrate")
    ret = __alloc_contig_migrate_range(cc, start, end, fatal_signal_at, cc_gfp)
    res.migrated = dict(cc.migrated)
    # Pages, not folios, as the kernel's mm_migrate_pages event counts them (nr_succeeded adds
    # folio_nr_pages(), mm/migrate.c, 6.18): a whole THP counts 1 << order.  Read now, while
    # each new folio is still as the migration left it.
    new = np.fromiter(cc.migrated.values(), dtype=np.int64, count=len(cc.migrated))
    res.migrated_pages = int(  # type: ignore[attr-defined]
        np.left_shift(1, np.maximum(z.comp[new - z.start_pfn], 0).astype(np.int64)).sum())
    res.reclaimed = list(cc.reclaimed)
    res.skipped = {k: list(v) for k, v in cc.skipped.items() if v}
    if ret and ret != -EBUSY:
        res.failed_stage = "__alloc_contig_migrate_range"
        return _done(z, res, start, end, ret)
    stage(z, "outer_start")
    outer_start = find_large_buddy(z, start)
    res.outer_start = outer_start
    emit(z, "find_large_buddy", outer_start, start + 1,
         (f"PFN {start} is inside the free order-{int(z.order[outer_start - z.start_pfn])} block at "
          f"PFN {outer_start}, so outer_start = {outer_start}" if outer_start != start else
          f"no free block straddles PFN {start}, so outer_start = start (find_large_buddy() takes "
          f"a block only if it covers start; 4.4's loop did not check)"), outer_start=outer_start)
    stage(z, "test")
    if test_pages_isolated(z, outer_start, end, mode):
        res.failed_stage = ("__alloc_contig_migrate_range" if ret == -EBUSY else "test_pages_isolated")
        tp = [e for e in (z.recorder.trace if z.recorder else []) if e.func == "test_pages_isolated"]
        res.busy_pfn = tp[-1].fields.get("fin_pfn") if tp else None
        return _done(z, res, start, end, -EBUSY)
    stage(z, "grab")
    freelist: list[tuple[int, int]] = []
    outer_end = isolate_freepages_range(z, outer_start, end, freelist)
    if not outer_end:
        res.failed_stage = "isolate_freepages_range"
        return _done(z, res, start, end, -EBUSY)
    res.outer_end = outer_end
    stage(z, "free_excess")
    if not gfp & GFP.COMP:
        split_free_pages(z, freelist)
        emit(z, "split_free_pages", outer_start, outer_end,
             f"the {len(freelist)} block(s) taken become order-0 pages with refcount 1",
             nr_blocks=len(freelist))
        if start != outer_start:
            free_contig_range(z, outer_start, start - outer_start, _log=res.log, _part="head")
        if end != outer_end:
            free_contig_range(z, end, outer_end - end, _log=res.log, _part="tail")
        return _done(z, res, start, end, 0)
    n = end - start
    if start == outer_start and end == outer_end and n & (n - 1) == 0:
        split_free_pages(z, freelist)
        res.folio_order = order   # type: ignore[attr-defined]
        emit(z, "prep_new_page", start, end,
             f"__GFP_COMP: the pages taken are exactly [start, end) and a power of two, so they "
             f"become one order-{order} folio",
             order=order)
        return _done(z, res, start, end, 0)
    split_free_pages(z, freelist)
    line = f"WARNING: PFN range: requested [{start}, {end}), allocated [{outer_start}, {outer_end})"
    res.log.append(line)
    res.failed_stage = "__GFP_COMP"
    emit(z, "alloc_contig_range", start, end,
         f"__GFP_COMP but the pages taken are not exactly [start, end) of a power-of-two size; the "
         f"kernel WARNs: {line}; -EINVAL "
         "(and, as in 6.18, the pages taken are not given back)", line=line)
    return _done(z, res, start, end, -EINVAL)


def _done(z: Zone, res: ContigResult, start: int, end: int, ret: int) -> int:
    """The ``done:`` label: undo_isolate_page_range(start, end)."""
    stage(z, "undo")
    undo_isolate_page_range(z, start, end)
    return ret


def free_contig_range(zone: Zone, pfn: int, nr_pages: int, *, _log: list[str] | None = None,
                      _part: str = "") -> int:
    """Free ``nr_pages`` pages from ``pfn`` one by one; return how many had refcount != 1.

    Models free_contig_range(), mm/page_alloc.c, Linux 6.18 (line 7121),
    for order-0 pages (the model hands out no large folios, so the
    ``folio_put()`` branch is never taken): each page drops a reference,
    and at zero is freed (to the per-CPU list, or for an isolated block
    straight to the buddy through ``split_large_buddy()``).  WARNs
    ``"%lu pages are still in use!"`` when the count is not 0.

    :raises ValueError: a range outside the zone or a bad count (zone untouched).
    """
    z, pfn, nr_pages = free_range_args(zone, pfn, nr_pages)
    count = 0
    s = z.start_pfn
    with kernel_6_18_freeing(z):
        for p in range(pfn, pfn + nr_pages):
            i = p - s
            if z.count[i] != 1:
                count += 1
            if z.count[i] > 0:
                put_page(z, p)
    if count:
        line = f"WARNING: {count} pages are still in use!"
        if _log is not None:
            _log.append(line)
    if nr_pages:
        what = free_range_what(pfn, nr_pages, _part)
        emit(z, "free_contig_range", pfn, pfn + nr_pages,
             f"{what} is freed page by page" + (
                 " into the Isolate lists (its blocks are still isolated)" if _part else ""),
             nr_pages=nr_pages, part=_part, warn=count)
    return count


# ---------------------------------------------------------------- alloc_contig_pages
_INVALID_KINDS = np.array([ord("#"), ord("R"), ord("H")], dtype=np.uint8)


def pfn_range_valid_contig(zone: Zone, start_pfn: int, nr_pages: int) -> tuple[bool, int | None]:
    """Could ``[start_pfn, start_pfn + nr_pages)`` be tried at all?  ``(ok, first bad PFN)``.

    Models pfn_range_valid_contig(), mm/page_alloc.c:7029, Linux 6.18: every
    PFN must have an online page (``pfn_to_online_page()``), of this zone,
    not PageReserved and not PageHuge.  In-use pages are fine (they will be
    migrated).  In the model a ``#`` PFN is a hole or never-initialised
    memmap (whose all-zero struct page is in zone 0, so ``page_zone(page) !=
    z``), ``R`` is reserved and ``H`` hugetlb.  Vectorised.
    """
    lo, hi = start_pfn - zone.start_pfn, start_pfn - zone.start_pfn + nr_pages
    if lo < 0 or hi > zone.spanned_pages:
        return False, start_pfn if lo < 0 else zone.end_pfn
    bad = np.flatnonzero(np.isin(zone.kind[lo:hi], _INVALID_KINDS))
    return (True, None) if bad.size == 0 else (False, start_pfn + int(bad[0]))


def zone_spans_last_pfn(zone: Zone, start_pfn: int, nr_pages: int) -> bool:
    """Models zone_spans_last_pfn(), mm/page_alloc.c:7052, 6.18."""
    return zone.spans(start_pfn + nr_pages - 1)


#: The gfp of a gigantic hugetlb page: htlb_alloc_mask() | __GFP_COMP | __GFP_NOWARN, plus
#: __GFP_THISNODE from only_alloc_fresh_hugetlb_folio() (mm/hugetlb.c, 6.18).
GFP_GIGANTIC = GFP_HIGHUSER | GFP.COMP | GFP.NOWARN | GFP.THISNODE


def alloc_contig_pages(node: Any, nr_pages: int, gfp: int = GFP_GIGANTIC, nid: int = 0,
                       ) -> tuple[int | None, list[tuple[str, int, ContigResult | None]]]:
    """Find and allocate ``nr_pages`` contiguous pages on ``node``; ``(pfn or None, tries)``.

    Models alloc_contig_pages_noprof(), mm/page_alloc.c:7083, Linux 6.18,
    with the page-by-page zone model: the node's zones from the highest the
    gfp allows down (ZONE_NORMAL for GFP_HIGHUSER; ZONE_MOVABLE only with
    __GFP_MOVABLE), in each ``pfn = ALIGN(zone_start_pfn, nr_pages)``
    upward while the zone spans the last PFN; a candidate passing
    :func:`pfn_range_valid_contig` goes to :func:`alloc_contig_range`
    (ACR_FLAGS_NONE); the first success is returned.  Changes the node.
    ``tries`` lists ``(zone name, pfn, result or None when not valid)``.
    For whole real nodes use :func:`contig.gigantic.predict_picks` (numpy).

    Simplified: migration targets come from the candidate's own zone (the
    zone model has one zone); ``nid`` must be the node's.
    """
    if nid != node.nid:
        raise ValueError(f"nid {nid} is not the node's ({node.nid})")
    nr_pages = check_int("nr_pages", nr_pages, lo=1)
    top = "Movable" if gfp & GFP.MOVABLE else ("Normal" if gfp & GFP.HIGHMEM or not gfp & (
        GFP.DMA | GFP.DMA32) else ("DMA32" if gfp & GFP.DMA32 else "DMA"))
    tries: list[tuple[str, int, ContigResult | None]] = []
    for z in node.zonelist(top):
        pfn = -(-z.start_pfn // nr_pages) * nr_pages
        while zone_spans_last_pfn(z, pfn, nr_pages):
            ok, _bad = pfn_range_valid_contig(z, pfn, nr_pages)
            if ok:
                r = alloc_contig_range(z, pfn, pfn + nr_pages, ACR_FLAGS_NONE, gfp, trace=False)
                tries.append((z.name, pfn, r))
                if r.ok:
                    return pfn, tries
            else:
                tries.append((z.name, pfn, None))
            pfn += nr_pages
    return None, tries
