"""Pageblock isolation: fence a range off from the allocator, test it, give it back.

Models mm/page_isolation.c, Linux v4.4 (``set_migratetype_isolate()``,
``unset_migratetype_isolate()``, ``__first_valid_page()``,
``start_isolate_page_range()``, ``undo_isolate_page_range()``,
``__test_page_isolated_in_pageblock()``, ``test_pages_isolated()``) and
``has_unmovable_pages()`` (mm/page_alloc.c).

Why: while a pageblock is MIGRATE_ISOLATE nothing can be allocated from it,
and pages freed into it stay on the Isolate lists, so the range can only get
emptier while alloc_contig_range() works on it.

Simplified: no memory-isolate notifier (its page count is always 0), no
hwpoisoned pages, one zone.  PFNs outside the zone have no page here: they
count as invalid (as ``pfn_valid_within()`` false), so
``__first_valid_page()`` skips them, a pageblock with no PFN in the zone is
skipped, and a pageblock that straddles the zone's edge is handled through
its first PFN inside the zone (the kernel would reach into the neighbouring
zone's ``struct page`` there).  Holes (``#``) are treated as
``pfn_valid_within()`` false, as on kernels built with CONFIG_HOLES_IN_ZONE.
A zone named ``Movable`` is ZONE_MOVABLE.
"""

from __future__ import annotations

import errno

import numpy as np

from .argcheck import check_args
from .buddy import __isolate_free_page, mod_zone_freepage_state, move_freepages_block
from .pcp import __free_pages, drain_all_pages
from .trace import emit
from .zone import HOLE, PG_HEAD, PG_LRU, MigrateType, Zone

__all__ = [
    "__first_valid_page",
    "__test_page_isolated_in_pageblock",
    "has_unmovable_pages",
    "set_migratetype_isolate",
    "start_isolate_page_range",
    "test_pages_isolated",
    "undo_isolate_page_range",
    "unset_migratetype_isolate",
]

ISOLATE = int(MigrateType.ISOLATE)
EBUSY = errno.EBUSY


def _not_isolate(migratetype: MigrateType) -> None:
    if migratetype == ISOLATE:
        raise ValueError("migratetype must be the type to give the blocks back as, not ISOLATE")


def __first_valid_page(z: Zone, pfn: int, nr_pages: int) -> int | None:
    """First PFN of ``[pfn, pfn+nr_pages)`` that has a page, or None.

    Models __first_valid_page(), mm/page_isolation.c, v4.4; a PFN outside
    the zone counts as invalid.
    """
    pfn, nr_pages = check_args(z, start_pfn=pfn, nr_pages=nr_pages)
    lo = max(pfn, z.start_pfn)
    hi = min(pfn + nr_pages, z.end_pfn)
    if hi <= lo:
        return None
    if z.kind[lo - z.start_pfn] != HOLE:
        return lo
    valid = np.flatnonzero(z.kind[lo - z.start_pfn: hi - z.start_pfn] != HOLE)
    return lo + int(valid[0]) if valid.size else None


def has_unmovable_pages(z: Zone, pfn: int, count: int = 0) -> tuple[bool, int | None]:
    """Would isolating the pageblock starting at page ``pfn`` trap an unmovable page?

    Models has_unmovable_pages(), mm/page_alloc.c, Linux v4.4.

    Why: isolating a block only helps if its pages can be emptied later.
    * ZONE_MOVABLE, MOVABLE and CMA blocks pass at once, without a look
      inside (their troubles surface later, in migration or the final test);
    * otherwise the ``pageblock_nr_pages`` pages from ``pfn`` (the first
      valid page, so the window may be shifted) are scanned: hugetlb pages
      and pages with no references (free buddy blocks skipped whole) are
      fine; any other page not on the LRU counts as unmovable.

    :return: ``(True, first unmovable PFN)`` or ``(False, None)``.
    """
    pfn, count = check_args(z, pfn=pfn, count=count)
    if z.name == "Movable":
        return False, None
    mt = int(z.pb[z.block_index(pfn)])
    if mt in (MigrateType.MOVABLE, MigrateType.CMA):
        return False, None
    s = z.start_pfn
    pbn = z.geometry.pageblock_nr_pages
    found = 0
    it = 0
    while it < pbn:
        check = pfn + it
        i = check - s
        if not 0 <= i < z.spanned_pages or z.kind[i] == HOLE:
            it += 1
            continue
        if z.kind[i] == ord("H"):
            # compound_order() of a tail page reads 0 in v4.4
            order = int(z.comp[i]) if z.flags[i] & PG_HEAD else 0
            step = 1 << order
            it = ((it + 1 + step - 1) // step) * step - 1
            it += 1
            continue
        if z.count[i] == 0:
            if z.order[i] >= 0:
                it += (1 << int(z.order[i])) - 1
            it += 1
            continue
        if not z.flags[i] & PG_LRU:
            found += 1
        if found > count:
            return True, check
        it += 1
    return False, None


def set_migratetype_isolate(z: Zone, pfn: int) -> int:
    """Isolate the pageblock whose first valid page is ``pfn``; 0 or -EBUSY.

    Models set_migratetype_isolate(), mm/page_isolation.c, Linux v4.4: if
    has_unmovable_pages() says no, the block becomes ISOLATE
    (``nr_isolate_pageblock`` + 1, even if it already was ISOLATE: 4.4 does
    not check, and then subtracts the block's free pages from NR_FREE_PAGES a
    second time, which can drive the counter negative), its free blocks move
    to the Isolate lists and stop counting in NR_FREE_PAGES, and the per-CPU
    lists are drained.
    """
    (pfn,) = check_args(z, pfn=pfn)
    busy, bad = has_unmovable_pages(z, pfn, 0)
    blk = z.geometry.pageblock_start(pfn)
    if busy:
        emit(z, "set_migratetype_isolate", blk, blk + z.geometry.pageblock_nr_pages,
             f"PFN {bad} is in use and not on the LRU ({chr(z.kind[bad - z.start_pfn])}), so "
             f"has_unmovable_pages() refuses to isolate this "
             f"{z.get_pageblock_migratetype(pfn).name} block",
             ret=-EBUSY, unmovable_pfn=bad)
        return -EBUSY
    old = int(z.pb[z.block_index(pfn)])
    z.set_pageblock_migratetype(pfn, ISOLATE)
    z.nr_isolate_pageblock += 1
    if old == ISOLATE:
        z.nr_isolate_extra += 1  # 4.4 counts a re-isolated block twice (fixed in 4.17)
    n = move_freepages_block(z, pfn, ISOLATE)
    mod_zone_freepage_state(z, -n, old)
    why = (f"the {MigrateType(old).name} block passes has_unmovable_pages(); it becomes ISOLATE "
           f"and its {n} free page(s) move to the Isolate lists, out of NR_FREE_PAGES")
    if old in (MigrateType.MOVABLE, MigrateType.CMA):
        why = (f"{MigrateType(old).name} blocks are isolated without looking inside; the block "
               f"becomes ISOLATE and its {n} free page(s) move to the Isolate lists")
    emit(z, "set_migratetype_isolate", blk, blk + z.geometry.pageblock_nr_pages, why,
         ret=0, old_migratetype=MigrateType(old).name, nr_moved=n)
    drain_all_pages(z, why="drain after isolating a block: per-CPU pages of the block "
                           "now go to its Isolate lists")
    return 0


def unset_migratetype_isolate(z: Zone, pfn: int, migratetype: int) -> None:
    """Give an isolated pageblock back, as ``migratetype``.

    Models unset_migratetype_isolate(), mm/page_isolation.c, Linux v4.4,
    with both of its quirks:

    * the block becomes the *caller's* ``migratetype``, not the type it had;
    * if the block's first page heads a free block of at least pageblock
      order whose buddy's block is not isolated, that free block is taken
      off the Isolate list and freed again after the type change, so it can
      merge (pages freed into an isolated block merge only up to
      pageblock_order); otherwise the Isolate lists move back.
    """
    pfn, migratetype = check_args(z, pfn=pfn, migratetype=migratetype)
    _not_isolate(migratetype)
    blk = z.geometry.pageblock_start(pfn)
    if int(z.pb[z.block_index(pfn)]) != ISOLATE:
        return
    s = z.start_pfn
    mo = z.geometry.max_order
    isolated_page = None
    order = -1
    i = pfn - s
    if 0 <= i < z.spanned_pages and z.order[i] >= 0:
        order = int(z.order[i])
        if order >= z.geometry.pageblock_order:
            page_idx = pfn & ((1 << mo) - 1)
            buddy_idx = page_idx ^ (1 << order)
            buddy = pfn + (buddy_idx - page_idx)
            if z.pfn_valid(buddy) and int(z.pb[z.block_index(buddy)]) != ISOLATE:
                __isolate_free_page(z, pfn, order)
                z.count[i] = 1
                z.kind[i: i + (1 << order)] = ord("X")
                z.touch_range(i, i + (1 << order))
                isolated_page = pfn
    n = 0
    if isolated_page is None:
        n = move_freepages_block(z, pfn, migratetype)
        mod_zone_freepage_state(z, n, migratetype)
    z.set_pageblock_migratetype(pfn, migratetype)
    z.nr_isolate_pageblock -= 1
    if isolated_page is not None:
        z.count[i + 1: i + (1 << order)] = 0
        __free_pages(z, isolated_page, order)
        emit(z, "unset_migratetype_isolate", blk, blk + z.geometry.pageblock_nr_pages,
             f"PFN {pfn} heads a free order-{order} block whose buddy is not isolated; it is taken "
             f"out and freed again after the block becomes {MigrateType(migratetype).name}, so it "
             f"can merge beyond pageblock order",
             migratetype=MigrateType(migratetype).name, refreed_order=order)
    else:
        emit(z, "unset_migratetype_isolate", blk, blk + z.geometry.pageblock_nr_pages,
             f"the block becomes {MigrateType(migratetype).name} (the caller's type, whatever it "
             f"was before) and its {n} free page(s) move back to the "
             f"{MigrateType(migratetype).name} lists",
             migratetype=MigrateType(migratetype).name, nr_moved=n)


def _check_block_aligned(z: Zone, start_pfn: int, end_pfn: int) -> None:
    pbn = z.geometry.pageblock_nr_pages
    if start_pfn % pbn or end_pfn % pbn:
        raise ValueError(f"[{start_pfn}, {end_pfn}) is not pageblock aligned "
                         f"({pbn} pages); the kernel would BUG()")


def start_isolate_page_range(z: Zone, start_pfn: int, end_pfn: int, migratetype: int,
                             bulk: bool = False) -> int:
    """Isolate every pageblock of ``[start_pfn, end_pfn)``; 0 or -EBUSY.

    Models start_isolate_page_range(), mm/page_isolation.c, Linux v4.4.  On
    the first block that cannot be isolated, every block isolated so far
    is given back as ``migratetype`` (the only use of that argument) and
    the result is -EBUSY.  Blocks with no valid page are skipped.

    ``bulk`` (large zones): a run of whole MOVABLE/CMA blocks is isolated in
    one step and one event when the per-CPU lists are empty (so the drain
    after each block has nothing to do): the same result as block by block.

    :raises ValueError: if the range is not pageblock aligned (a BUG() in
        the kernel).
    """
    start_pfn, end_pfn, migratetype, bulk = check_args(
        z, start_pfn=start_pfn, end_pfn=end_pfn, migratetype=migratetype, bulk=bulk)
    _not_isolate(migratetype)
    _check_block_aligned(z, start_pfn, end_pfn)
    pbn = z.geometry.pageblock_nr_pages
    pfn = start_pfn
    while pfn < end_pfn:
        if bulk:
            run_end = _easy_run(z, pfn, end_pfn, isolate=True)
            if run_end > pfn + pbn:
                _isolate_run(z, pfn, run_end)
                pfn = run_end
                continue
        page = __first_valid_page(z, pfn, pbn)
        if page is not None and set_migratetype_isolate(z, page):
            undo_pfn = pfn
            q = start_pfn
            while q < undo_pfn:
                # the kernel passes the block's first PFN; one outside the zone has no page
                # here, so a block straddling the zone's start is reached through the zone's
                # first PFN and a block wholly outside it is skipped
                first = max(q, z.start_pfn)
                if first < min(q + pbn, z.end_pfn):
                    unset_migratetype_isolate(z, first, migratetype)
                q += pbn
            emit(z, "start_isolate_page_range", start_pfn, end_pfn,
                 f"the block at PFN {pfn} could not be isolated, so the "
                 f"{(undo_pfn - start_pfn) // pbn} block(s) isolated before it were rolled back; -EBUSY",
                 ret=-EBUSY, failed_pfn=pfn)
            return -EBUSY
        pfn += pbn
    nblk = _blocks_with_pages(z, start_pfn, end_pfn)
    emit(z, "start_isolate_page_range", start_pfn, end_pfn,
         f"all {nblk} pageblock(s) of the aligned range that hold a page are isolated"
         if nblk else "no pageblock of the range holds a page: nothing to isolate", ret=0)
    return 0


def _blocks_with_pages(z: Zone, start_pfn: int, end_pfn: int) -> int:
    """How many pageblocks of [start_pfn, end_pfn) have a valid page in the zone."""
    pbn = z.geometry.pageblock_nr_pages
    lo, hi = max(start_pfn, z.start_pfn), min(end_pfn, z.end_pfn)
    if hi <= lo:
        return 0
    valid = z.kind[lo - z.start_pfn:hi - z.start_pfn] != HOLE
    # first offset of each pageblock piece inside [lo, hi)
    firsts = np.concatenate(([0], np.arange(pbn - lo % pbn, hi - lo, pbn, dtype=np.int64)))
    return int(np.count_nonzero(np.logical_or.reduceat(valid, firsts)))


def _easy_run(z: Zone, pfn: int, end_pfn: int, isolate: bool) -> int:
    """End of the run of blocks from ``pfn`` that can be done in one step.

    Isolating: whole blocks in the zone, starting with a valid page, MOVABLE
    or CMA, per-CPU lists empty.  Undoing: whole ISOLATE blocks starting
    with a valid page that does not head a free block of pageblock order.
    """
    pbn = z.geometry.pageblock_nr_pages
    if isolate and z.pcp_count:
        return pfn
    s = z.start_pfn
    lo = max(pfn, s)
    if lo != pfn:
        return pfn
    hi = min(end_pfn, (z.end_pfn // pbn) * pbn)
    nb = (hi - pfn) // pbn
    if nb <= 1:
        return pfn
    b0 = z.block_index(pfn)
    types = z.pb[b0:b0 + nb]
    firsts = np.arange(nb) * pbn + (pfn - s)
    ok = z.kind[firsts] != HOLE
    if isolate:
        ok &= (types == MigrateType.MOVABLE) | (types == MigrateType.CMA)
    else:
        ok &= (types == ISOLATE) & (z.order[firsts] < z.geometry.pageblock_order)
    bad = np.flatnonzero(~ok)
    k = int(bad[0]) if bad.size else nb
    return pfn + k * pbn


def _isolate_run(z: Zone, pfn: int, end: int) -> None:
    """set_migratetype_isolate() on every block of [pfn, end) at once (see start_isolate_page_range)."""
    from .bulk import bulk_move_freepages

    pbn = z.geometry.pageblock_nr_pages
    b0, b1 = z.block_index(pfn), z.block_index(end - 1) + 1
    old = z.pb[b0:b1].copy()
    s = z.start_pfn
    orders = z.order[pfn - s:end - s]
    heads = np.flatnonzero(orders >= 0)
    hblk = heads // pbn
    sizes = 1 << orders[heads].astype(np.int64)
    cma_pages = int(sizes[old[hblk] == MigrateType.CMA].sum())
    n = bulk_move_freepages(z, pfn, end - 1, ISOLATE)
    mod_zone_freepage_state(z, -n, MigrateType.MOVABLE)
    z.pb[b0:b1] = ISOLATE
    z._pb_dirty = True
    z.nr_isolate_pageblock += b1 - b0
    emit(z, "set_migratetype_isolate", pfn, end,
         f"{b1 - b0} MOVABLE/CMA blocks are isolated without looking inside (one step for a large "
         f"zone); their {n} free page(s) move to the Isolate lists",
         ret=0, nr_blocks=b1 - b0, nr_moved=n, cma_pages=cma_pages)


def _unisolate_run(z: Zone, pfn: int, end: int, migratetype: int) -> None:
    """unset_migratetype_isolate() on every block of [pfn, end) at once (no large free block)."""
    from .bulk import bulk_move_freepages

    b0, b1 = z.block_index(pfn), z.block_index(end - 1) + 1
    n = bulk_move_freepages(z, pfn, end - 1, migratetype)
    mod_zone_freepage_state(z, n, migratetype)
    z.pb[b0:b1] = int(migratetype)
    z._pb_dirty = True
    z.nr_isolate_pageblock -= b1 - b0
    emit(z, "unset_migratetype_isolate", pfn, end,
         f"{b1 - b0} blocks become {MigrateType(migratetype).name} (the caller's type) in one step; "
         f"their {n} free page(s) move back", migratetype=MigrateType(migratetype).name,
         nr_blocks=b1 - b0, nr_moved=n)


def undo_isolate_page_range(z: Zone, start_pfn: int, end_pfn: int, migratetype: int,
                            bulk: bool = False) -> int:
    """Give back every isolated pageblock of ``[start_pfn, end_pfn)`` as ``migratetype``.

    Models undo_isolate_page_range(), mm/page_isolation.c, Linux v4.4.
    Always returns 0.  ``bulk``: runs of plain blocks in one step (see
    :func:`start_isolate_page_range`).
    """
    start_pfn, end_pfn, migratetype, bulk = check_args(
        z, start_pfn=start_pfn, end_pfn=end_pfn, migratetype=migratetype, bulk=bulk)
    _not_isolate(migratetype)
    _check_block_aligned(z, start_pfn, end_pfn)
    pbn = z.geometry.pageblock_nr_pages
    pfn = start_pfn
    while pfn < end_pfn:
        if bulk:
            run_end = _easy_run(z, pfn, end_pfn, isolate=False)
            if run_end > pfn + pbn:
                _unisolate_run(z, pfn, run_end, migratetype)
                pfn = run_end
                continue
        page = __first_valid_page(z, pfn, pbn)
        if page is not None and int(z.pb[z.block_index(page)]) == ISOLATE:
            unset_migratetype_isolate(z, page, migratetype)
        pfn += pbn
    return 0


def __test_page_isolated_in_pageblock(z: Zone, pfn: int, end_pfn: int) -> tuple[bool, int]:
    """Walk ``[pfn, end_pfn)`` head to head over free blocks; ``(reached end, where it stopped)``.

    Models __test_page_isolated_in_pageblock(), mm/page_isolation.c, v4.4:
    an invalid PFN steps 1, a PageBuddy head steps over its whole block
    (which may run past ``end_pfn``; the list it is on is not checked),
    anything else stops the walk.  Vectorised: the walk reaches the end
    exactly when every page is a hole or inside a free block whose head is
    in the range and the first page is not a free block's tail.
    """
    pfn, end_pfn = check_args(z, start_pfn=pfn, end_pfn=end_pfn)
    s = z.start_pfn
    if end_pfn <= pfn:
        return True, pfn
    # PFNs outside the zone have no page: invalid, stepped over one by one
    lo, hi = max(pfn, s) - s, min(end_pfn, z.end_pfn) - s
    if hi <= lo:
        return True, end_pfn
    orders = z.order[lo:hi].astype(np.int64)
    heads = np.flatnonzero(orders >= 0)
    ends = heads + (1 << orders[heads])
    n = hi - lo
    diff = (np.bincount(heads, minlength=n + 1)[: n + 1]
            - np.bincount(np.minimum(ends, n), minlength=n + 1)[: n + 1])
    covered = np.cumsum(diff[:n]) > 0
    ok = covered | (z.kind[lo:hi] == HOLE)
    bad = np.flatnonzero(~ok)
    if bad.size == 0:
        return True, end_pfn
    # the walk stops at the first page that is not free-or-hole
    return False, s + lo + int(bad[0])


def test_pages_isolated(z: Zone, start_pfn: int, end_pfn: int) -> int:
    """0 if every page of ``[start_pfn, end_pfn)`` is free in an isolated block, else -EBUSY.

    Models test_pages_isolated(), mm/page_isolation.c, Linux v4.4
    (skip_hwpoisoned_pages false).  First every pageblock, sampled from
    ``start_pfn`` in pageblock steps, must be ISOLATE; then the head-to-head
    walk over free blocks must reach ``end_pfn``.  Free pages still on a
    per-CPU list, pages in a pagevec and allocated pages all fail it.
    """
    start_pfn, end_pfn = check_args(z, start_pfn=start_pfn, end_pfn=end_pfn)
    pbn = z.geometry.pageblock_nr_pages
    pfn = start_pfn
    while pfn < end_pfn:
        page = __first_valid_page(z, pfn, pbn)
        if page is not None and int(z.pb[z.block_index(page)]) != ISOLATE:
            break
        pfn += pbn
    page = __first_valid_page(z, start_pfn, end_pfn - start_pfn)
    if pfn < end_pfn or page is None:
        why = (f"the pageblock at PFN {pfn} is not isolated" if pfn < end_pfn
               else "the range has no valid page")
        emit(z, "test_pages_isolated", start_pfn, end_pfn, why + "; -EBUSY", fin_pfn=pfn, ret="fail")
        return -EBUSY
    ok, fin = __test_page_isolated_in_pageblock(z, start_pfn, end_pfn)
    if ok:
        emit(z, "test_pages_isolated", start_pfn, end_pfn,
             "walking from free block to free block reaches the end: every page is free and isolated",
             fin_pfn=fin, ret="success")
        return 0
    k = chr(z.kind[fin - z.start_pfn]) if z.spans(fin) else "?"
    what = {"p": "a free page still on a per-CPU list", "v": "a page still in an LRU pagevec",
            ".": "the tail of a free block whose head lies before the walk"}.get(k, f"an in-use page ({k})")
    emit(z, "test_pages_isolated", start_pfn, end_pfn,
         f"the walk stops at PFN {fin}: {what}, not a free buddy block; -EBUSY",
         fin_pfn=fin, ret="fail")
    return -EBUSY
