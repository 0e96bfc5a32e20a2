"""Pageblock isolation as Linux 6.18 does it (mm/page_isolation.c, 6.18).

Models ``has_unmovable_pages()``, ``set_migratetype_isolate()``,
``unset_migratetype_isolate()``, ``__first_valid_page()``,
``isolate_single_pageblock()``, ``start_isolate_page_range()``,
``undo_isolate_page_range()``, ``__test_page_isolated_in_pageblock()`` and
``test_pages_isolated()`` of mm/page_isolation.c, Linux 6.18.

What changed since v4.4 (see the reference §3.3):

* the unit is the pageblock (5.19): ``[pageblock_start_pfn(start),
  pageblock_align(end))``, the two boundary blocks handled by
  :func:`isolate_single_pageblock` (checked *whole*, and compound pages
  straddling the boundary: hugetlb skipped, anything else -EBUSY);
* isolation is a separate bit (6.15+): the block keeps its own
  migratetype, so undo needs no type and gives back what was there;
* an already isolated block cannot be isolated again (-EBUSY);
* ``has_unmovable_pages()`` scans MOVABLE blocks too; a CMA block is
  movable only in CMA_ALLOC mode, unmovable otherwise; no drain per block.

Model conventions: a ``#`` PFN inside a pageblock that has other pages is
read as a PageReserved struct page (sparsemem gives whole 128 MiB sections
struct pages; smaller holes are reserved pages); a pageblock with no valid
page has no online page and is skipped where the kernel skips it.  A
pageblock not wholly inside the zone cannot be isolated
(``prep_move_freepages_block()`` refuses it).  hugetlb pages (``H``) are of
an hstate that can migrate (x86-64).  No unaccepted memory, hwpoison or
PageOffline pages; MEM_OFFLINE mode is accepted but behaves as OTHER.
"""

from __future__ import annotations

import errno
from enum import IntEnum

import numpy as np

from ..trace import emit
from ..zone import HOLE, PG_LRU, PG_RESERVED, MigrateType, Zone
from .page_alloc import (
    __isolate_free_page,
    __putback_isolated_page,
    clear_pageblock_isolate,
    find_large_buddy,
    get_pageblock_isolate,
    max_page_order,
    pageblock_isolate_and_move_free_pages,
    pageblock_unisolate_and_move_free_pages,
)

__all__ = [
    "PbIsolateMode",
    "__first_valid_page",
    "__test_page_isolated_in_pageblock",
    "has_unmovable_pages",
    "isolate_single_pageblock",
    "set_migratetype_isolate",
    "start_isolate_page_range",
    "test_pages_isolated",
    "undo_isolate_page_range",
    "unset_migratetype_isolate",
]

EBUSY = errno.EBUSY
ISOLATE = int(MigrateType.ISOLATE)


class PbIsolateMode(IntEnum):
    """``enum pb_isolate_mode``, include/linux/page-isolation.h, 6.18."""

    MEM_OFFLINE = 0
    CMA_ALLOC = 1
    OTHER = 2


def __first_valid_page(z: Zone, pfn: int, nr_pages: int) -> int | None:
    """First PFN of ``[pfn, pfn+nr_pages)`` with an online page in this zone, or None.

    Models __first_valid_page(), mm/page_isolation.c, 6.18 (pfn_to_online_page()).
    """
    lo, hi = max(pfn, z.start_pfn), min(pfn + nr_pages, z.end_pfn)
    if hi <= lo:
        return None
    v = np.flatnonzero(z.kind[lo - z.start_pfn:hi - z.start_pfn] != HOLE)
    return lo + int(v[0]) if v.size else None


def _what(z: Zone, pfn: int) -> str:
    k = chr(z.kind[pfn - z.start_pfn])
    return {"#": "a hole (a reserved struct page)", "R": "a reserved page",
            "U": "an unmovable kernel page", "X": "a page owned by an earlier contiguous allocation",
            "v": "a page still in a per-CPU LRU-add batch (not PageLRU yet)",
            "T": "a transparent huge page that is not on the LRU"}.get(k, f"an in-use page ({k})")


def has_unmovable_pages(z: Zone, start_pfn: int, end_pfn: int,
                        mode: int = PbIsolateMode.OTHER) -> int | None:
    """The first unmovable page of ``[start_pfn, end_pfn)`` (inside one pageblock), or None.

    Models has_unmovable_pages(), mm/page_isolation.c, Linux 6.18:

    * a CMA block is movable only when isolating for a CMA allocation;
      for any other caller it is unmovable outright (its first page);
    * then page by page: PageReserved is unmovable (even in ZONE_MOVABLE);
      in ZONE_MOVABLE everything else passes; hugetlb pages pass (their
      hstate can migrate) and THPs on the LRU pass, skipping the rest of
      the folio, a THP off the LRU is unmovable; pages with no reference
      pass (a free buddy is skipped whole); PageLRU passes; anything else
      (kernel pages, pages in a per-CPU LRU-add batch, pages already owned
      by a contiguous allocation) is unmovable.  No tolerance count.
    """
    s = z.start_pfn
    if int(z.pb[z.block_index(start_pfn)]) == MigrateType.CMA:
        return None if int(mode) == PbIsolateMode.CMA_ALLOC else start_pfn
    pfn = start_pfn
    movable_zone = z.name == "Movable"
    while pfn < end_pfn:
        i = pfn - s
        k = int(z.kind[i])
        if k == HOLE or z.flags[i] & PG_RESERVED:
            return pfn
        if movable_zone:
            pfn += 1
            continue
        if z.comp[i] >= 0:                     # hugetlb or THP
            order = int(z.comp[i])
            head = (pfn >> order) << order
            if k == ord("T") and not z.flags[head - s] & PG_LRU:
                return pfn
            pfn = head + (1 << order)
            continue
        if z.count[i] == 0:
            pfn += (1 << int(z.order[i])) if z.order[i] >= 0 else 1
            continue
        if z.flags[i] & PG_LRU:
            pfn += 1
            continue
        return pfn
    return None


def set_migratetype_isolate(z: Zone, pfn: int, mode: int, start_pfn: int, end_pfn: int) -> int:
    """Isolate the pageblock holding ``pfn``; 0 or -EBUSY.

    Models set_migratetype_isolate(), mm/page_isolation.c, Linux 6.18: an
    already isolated block fails (-EBUSY); has_unmovable_pages() looks at
    the part of ``[start_pfn, end_pfn)`` inside the block; then
    pageblock_isolate_and_move_free_pages() sets the isolate bit (the
    block's own migratetype stays) and moves its free pages to the Isolate
    lists, splitting a free buddy larger than a pageblock; it fails for a
    block not wholly in the zone.  No per-CPU drain here (5.11+: the
    caller drains once).
    """
    g = z.geometry
    blk = g.pageblock_start(pfn)
    bend = blk + g.pageblock_nr_pages
    base = z.get_pageblock_migratetype(pfn)
    if get_pageblock_isolate(z, pfn):
        emit(z, "set_migratetype_isolate", blk, bend,
             "the block is already isolated (by someone else): -EBUSY (4.17+; 4.4 isolated it twice)",
             ret=-EBUSY)
        return -EBUSY
    lo, hi = max(pfn, start_pfn), min(bend, end_pfn)
    bad = has_unmovable_pages(z, lo, hi, mode)
    if bad is not None:
        if base == MigrateType.CMA:
            why = ("a CMA block is unmovable for any caller but a CMA allocation "
                   "(has_unmovable_pages() by mode): -EBUSY")
        else:
            why = (f"PFN {bad} is {_what(z, bad)}, so has_unmovable_pages() refuses this "
                   f"{base.name} block: -EBUSY")
        emit(z, "set_migratetype_isolate", blk, bend, why, ret=-EBUSY, unmovable_pfn=bad)
        return -EBUSY
    head = find_large_buddy(z, blk) if z.spans(blk) else blk
    big = int(z.order[head - z.start_pfn]) if z.spans(head) else -1
    split = big > g.pageblock_order
    if not pageblock_isolate_and_move_free_pages(z, pfn):
        emit(z, "set_migratetype_isolate", blk, bend,
             "the block is not wholly inside the zone, so its free pages cannot be moved: -EBUSY",
             ret=-EBUSY)
        return -EBUSY
    z.nr_isolate_pageblock += 1
    s = z.start_pfn
    orders = z.order[blk - s:bend - s]
    nfree = int((1 << orders[orders >= 0].astype(np.int64)).sum())
    why = (f"the {base.name} block passes has_unmovable_pages(); its isolate bit is set (its own "
           f"type stays {base.name})")
    if split:
        why += (f"; it was part of the free order-{big} block at PFN {head}, which "
                f"split_large_buddy() cut into pageblocks: this one goes to the "
                f"Isolate lists, the others keep their types")
    elif nfree:
        why += f"; its {nfree} free page(s) move to the tail of the Isolate lists"
    emit(z, "set_migratetype_isolate", blk, bend, why, ret=0, migratetype=base.name, nr_free=nfree,
         split=bool(split))
    return 0


def unset_migratetype_isolate(z: Zone, pfn: int) -> None:
    """Clear the isolate bit of the pageblock holding ``pfn``; its free pages go back.

    Models unset_migratetype_isolate(), mm/page_isolation.c, Linux 6.18.
    The block reads its own migratetype again (no type argument: 4.4 gave
    every block the caller's type).  If the block's first page heads a
    free block of order ``pageblock_order .. MAX_PAGE_ORDER-1`` whose
    buddy is free and not isolated, that block is taken out, the bit
    cleared, and it is re-freed to the tail so it can merge; otherwise the
    Isolate lists move back (a free block larger than the pageblock is
    split per block).
    """
    g = z.geometry
    blk = g.pageblock_start(pfn)
    if not get_pageblock_isolate(z, pfn):
        return
    s = z.start_pfn
    i = pfn - s
    order = int(z.order[i])
    refreed = False
    if order >= g.pageblock_order and order < max_page_order(z):
        buddy = pfn ^ (1 << order)
        bi = buddy - s
        if (0 <= bi < z.spanned_pages and int(z.order[bi]) == order
                and not get_pageblock_isolate(z, buddy)):
            __isolate_free_page(z, pfn, order)
            refreed = True
    if refreed:
        clear_pageblock_isolate(z, pfn)
        __putback_isolated_page(z, pfn, order, int(z.pb[z.block_index(pfn)]))
    else:
        pageblock_unisolate_and_move_free_pages(z, pfn)
    z.nr_isolate_pageblock -= 1
    mt = z.get_pageblock_migratetype(pfn).name
    lo, hi = max(blk, s) - s, min(blk + g.pageblock_nr_pages, z.end_pfn) - s
    orders = z.order[lo:hi]
    nfree = int((1 << orders[orders >= 0].astype(np.int64)).sum())
    emit(z, "unset_migratetype_isolate", blk, blk + g.pageblock_nr_pages,
         (f"PFN {pfn} heads a free order-{order} block whose buddy is free and not isolated: it "
          f"is taken out, the isolate bit cleared, and it is freed again to merge; the block is "
          f"{mt} again" if refreed else
          f"the isolate bit is cleared: the block is {mt} again (the type it had: the bit never "
          f"touched it)" + (f"; its {nfree} free page(s) go back to the tail of the {mt} lists"
                            if nfree else "")),
         migratetype=mt, refreed_order=order if refreed else None)


def isolate_single_pageblock(z: Zone, boundary_pfn: int, mode: int, isolate_before: bool,
                             skip_isolation: bool) -> int:
    """Isolate the pageblock on one side of ``boundary_pfn``; 0 or -EBUSY.

    Models isolate_single_pageblock(), mm/page_isolation.c, Linux 6.18.
    The block is ``[boundary - pageblock, boundary)`` if ``isolate_before``
    else ``[boundary, boundary + pageblock)``; unless ``skip_isolation`` it
    is isolated with :func:`set_migratetype_isolate` checking the *whole*
    block.  If the PFN on the other side of the boundary has no online page,
    that is all.  Otherwise the pages from ``max(ALIGN_DOWN(block,
    MAX_ORDER_NR_PAGES), zone start)`` up to the boundary are walked: free
    blocks are skipped (none straddles: isolation split the larger ones), a
    compound page that ends at or before the boundary, or any hugetlb page,
    is skipped; a non-hugetlb compound page (THP) straddling the boundary
    undoes this block's isolation: -EBUSY.
    """
    g = z.geometry
    pbn = g.pageblock_nr_pages
    block = boundary_pfn - pbn if isolate_before else boundary_pfn
    s = z.start_pfn
    if not skip_isolation:
        if not (z.spans(block) and z.spans(block + pbn - 1)):
            emit(z, "set_migratetype_isolate", block, block + pbn,
                 "the block is not wholly inside the zone, so it cannot be isolated: -EBUSY",
                 ret=-EBUSY)
            return -EBUSY
        ret = set_migratetype_isolate(z, block, mode, block, block + pbn)
        if ret:
            return ret
    other = boundary_pfn if isolate_before else boundary_pfn - 1
    if z.spans(other) and z.kind[other - s] == HOLE:
        return 0
    pfn = max(block & ~(g.max_order_nr_pages - 1), s)
    while pfn < boundary_pfn:
        page = __first_valid_page(z, pfn, boundary_pfn - pfn)
        if page is None:
            break
        pfn = page
        i = pfn - s
        if z.order[i] >= 0:
            pfn += 1 << int(z.order[i])
            continue
        if z.comp[i] >= 0:
            order = int(z.comp[i])
            head = (pfn >> order) << order
            if head + (1 << order) <= boundary_pfn or z.kind[i] == ord("H"):
                pfn = head + (1 << order)
                continue
            emit(z, "isolate_single_pageblock", head, head + (1 << order),
                 f"an order-{order} transparent huge page at PFN {head} straddles the boundary at "
                 f"PFN {boundary_pfn}; 6.18 handles only compound pages that end on one side (or "
                 f"hugetlb): the block is given back, -EBUSY", ret=-EBUSY, boundary=boundary_pfn)
            if not skip_isolation:
                unset_migratetype_isolate(z, block)
            return -EBUSY
        pfn += 1
    return 0


def undo_isolate_page_range(z: Zone, start_pfn: int, end_pfn: int) -> None:
    """Un-isolate every isolated pageblock of ``[pageblock_start(start), pageblock_align(end))``.

    Models undo_isolate_page_range(), mm/page_isolation.c, Linux 6.18 (no
    migratetype argument: each block gets its own type back).
    """
    g = z.geometry
    pbn = g.pageblock_nr_pages
    lo = g.pageblock_start(start_pfn)
    hi = -(-end_pfn // pbn) * pbn
    for pfn in range(lo, hi, pbn):
        page = __first_valid_page(z, pfn, pbn)
        if page is not None and get_pageblock_isolate(z, page):
            unset_migratetype_isolate(z, page)


def start_isolate_page_range(z: Zone, start_pfn: int, end_pfn: int,
                             mode: int = PbIsolateMode.OTHER) -> int:
    """Isolate ``[pageblock_start(start), pageblock_align(end))``; 0 or -EBUSY.

    Models start_isolate_page_range(), mm/page_isolation.c, Linux 6.18:
    the first block with :func:`isolate_single_pageblock` (boundary
    ``isolate_start``), then the last one (boundary ``isolate_end``,
    isolation skipped when it is the same block; its failure gives the first
    block back), then every block between them with
    :func:`set_migratetype_isolate` (a block with no online page is
    skipped); a failure there gives back everything isolated so far.
    """
    g = z.geometry
    pbn = g.pageblock_nr_pages
    iso_start = g.pageblock_start(start_pfn)
    iso_end = -(-end_pfn // pbn) * pbn
    ret = isolate_single_pageblock(z, iso_start, mode, False, False)
    if ret:
        emit(z, "start_isolate_page_range", iso_start, iso_end,
             f"the first pageblock [{iso_start}, {iso_start + pbn}) could not be isolated: -EBUSY",
             ret=ret, failed_pfn=iso_start)
        return ret
    skip = iso_start == iso_end - pbn
    ret = isolate_single_pageblock(z, iso_end, mode, True, skip)
    if ret:
        unset_migratetype_isolate(z, iso_start)
        emit(z, "start_isolate_page_range", iso_start, iso_end,
             f"the last pageblock [{iso_end - pbn}, {iso_end}) could not be isolated, so the first "
             f"one is given back: -EBUSY", ret=ret, failed_pfn=iso_end - pbn)
        return ret
    for pfn in range(iso_start + pbn, iso_end - pbn, pbn):
        page = __first_valid_page(z, pfn, pbn)
        if page is not None and set_migratetype_isolate(z, page, mode, start_pfn, end_pfn):
            undo_isolate_page_range(z, iso_start, pfn)
            unset_migratetype_isolate(z, iso_end - pbn)
            emit(z, "start_isolate_page_range", iso_start, iso_end,
                 f"the block at PFN {pfn} could not be isolated, so every block isolated before "
                 f"it and the last block are given back: -EBUSY", ret=-EBUSY, failed_pfn=pfn)
            return -EBUSY
    emit(z, "start_isolate_page_range", iso_start, iso_end,
         f"every pageblock of [{iso_start}, {iso_end}) (the request rounded out to pageblocks, "
         f"not to MAX_ORDER blocks as in 4.4) is isolated", ret=0)
    return 0


def __test_page_isolated_in_pageblock(z: Zone, pfn: int, end_pfn: int) -> int:
    """Walk from free block to free block; return where the walk stopped.

    Models __test_page_isolated_in_pageblock(), mm/page_isolation.c, 6.18:
    a PageBuddy page steps over its block, anything else (a hole's
    reserved struct page included) stops the walk.
    """
    s = z.start_pfn
    while pfn < end_pfn:
        i = pfn - s
        if not 0 <= i < z.spanned_pages or z.order[i] < 0:
            break
        pfn += 1 << int(z.order[i])
    return pfn


def test_pages_isolated(z: Zone, start_pfn: int, end_pfn: int, mode: int) -> int:
    """0 if every pageblock is isolated and every page free, else -EBUSY.

    Models test_pages_isolated(), mm/page_isolation.c, Linux 6.18: every
    pageblock with an online page must have its isolate bit set; then the
    walk of :func:`__test_page_isolated_in_pageblock` must reach
    ``end_pfn``.  Prints nothing (the "PFNs busy" line was removed in 5.13);
    the ``test_pages_isolated`` tracepoint records ``fin_pfn`` either way.
    """
    pbn = z.geometry.pageblock_nr_pages
    pfn = start_pfn
    while pfn < end_pfn:
        page = __first_valid_page(z, pfn, pbn)
        if page is not None and not get_pageblock_isolate(z, page):
            break
        pfn += pbn
    page = __first_valid_page(z, start_pfn, end_pfn - start_pfn)
    if pfn < end_pfn or page is None:
        emit(z, "test_pages_isolated", start_pfn, end_pfn,
             (f"the pageblock at PFN {pfn} is not isolated" if pfn < end_pfn
              else "the range has no online page") + "; -EBUSY (no message is printed)",
             fin_pfn=pfn, ret="fail")
        return -EBUSY
    fin = __test_page_isolated_in_pageblock(z, start_pfn, end_pfn)
    if fin >= end_pfn:
        emit(z, "test_pages_isolated", start_pfn, end_pfn,
             "walking from free block to free block reaches the end: every page is free and isolated",
             fin_pfn=fin, ret="success")
        return 0
    k = chr(z.kind[fin - z.start_pfn]) if z.spans(fin) else "?"
    what = {"p": "a free page still on a per-CPU list", "v": "a page in a per-CPU LRU-add batch",
            "#": "a hole", ".": "the tail of a free block whose head lies before the walk"}.get(
                k, f"an in-use page ({k})")
    emit(z, "test_pages_isolated", start_pfn, end_pfn,
         f"the walk stops at PFN {fin}: {what}; -EBUSY, and 6.18 prints nothing (the tracepoint "
         f"test_pages_isolated records fin_pfn={fin})", fin_pfn=fin, ret="fail")
    return -EBUSY
