"""The buddy allocator: freeing with merging, splitting, moving free pages.

Models mm/page_alloc.c, Linux v4.4: ``__free_one_page()`` and
``free_one_page()``, ``expand()``, ``__rmqueue_smallest()``,
``__rmqueue_cma_fallback()``, ``__rmqueue_fallback()`` with
``find_suitable_fallback()`` / ``steal_suitable_fallback()``, ``__rmqueue()``,
``move_freepages()`` / ``move_freepages_block()``, ``__isolate_free_page()``,
``split_free_page()`` and ``split_page()``.

PFN arguments are absolute PFNs, as in the kernel.  The kernel takes
``zone->lock`` around these; the model has one thread, so there is no lock.

Simplifications: no watermarks (``__isolate_free_page()`` never refuses,
allocations succeed while any suitable free page exists), no
DEBUG_PAGEALLOC guard pages, ``page_group_by_mobility_disabled`` is false,
``NR_FREE_CMA_PAGES`` is not kept.

The 4.4.0 counter quirk: ``__free_one_page()`` counts a freed page by the
migratetype it is freed with, but merges with a buddy without looking at
the buddy's list.  When a page freed into an ordinary block merges with a
buddy sitting on an Isolate list (or the other way round), the buddy's pages
change lists without ``NR_FREE_PAGES`` changing.  The model follows the
kernel and records the difference in ``zone.nr_free_drift``
(pages on non-Isolate lists minus ``NR_FREE_PAGES``).  Linux 4.6 stopped
such merges (and 4.4.y stable received the fix); see the reference, §2.4.
"""

from __future__ import annotations

import numpy as np

from .argcheck import MAX_PFN, check_args, check_int
from .freelist import (
    list_add,
    list_add_tail,
    list_del,
    list_del_many,
    list_empty,
    list_first,
    list_move,
    list_splice_head,
)
from .zone import FREE, PCP, PG_ANON, PG_BAD, PG_LRU, PG_RESERVED, MigrateType, Zone

__all__ = [
    "FALLBACKS",
    "__free_one_page",
    "__free_pages_ok",
    "__isolate_free_page",
    "__rmqueue",
    "__rmqueue_cma_fallback",
    "__rmqueue_fallback",
    "__rmqueue_smallest",
    "bad_page",
    "can_steal_fallback",
    "change_pageblock_range",
    "expand",
    "find_suitable_fallback",
    "free_one_page",
    "free_pages_check",
    "free_pages_prepare",
    "move_freepages",
    "move_freepages_block",
    "page_is_buddy",
    "split_free_page",
    "split_page",
    "steal_suitable_fallback",
]

ISOLATE = int(MigrateType.ISOLATE)

#: ``fallbacks[]`` of v4.4: where an allocation looks when its own lists are empty.
FALLBACKS: dict[int, tuple[int, ...]] = {
    MigrateType.UNMOVABLE: (MigrateType.RECLAIMABLE, MigrateType.MOVABLE),
    MigrateType.RECLAIMABLE: (MigrateType.UNMOVABLE, MigrateType.MOVABLE),
    MigrateType.MOVABLE: (MigrateType.RECLAIMABLE, MigrateType.UNMOVABLE),
    MigrateType.HIGHATOMIC: (),
    MigrateType.CMA: (),
    MigrateType.ISOLATE: (),
}


# ---------------------------------------------------------------- helpers
def _add_free(z: Zone, i: int, order: int, mt: int, tail: bool = False) -> None:
    """Put the free block headed by index ``i`` on ``free_area[order].free_list[mt]``."""
    z.order[i] = order
    z.mtype[i] = mt
    s = z.free_sentinel(order, mt)
    if tail:
        list_add_tail(z, i, s)
    else:
        list_add(z, i, s)
    z.nr_free[order] += 1


def _del_free(z: Zone, i: int) -> int:
    """Take the free block headed by index ``i`` off its list; return its order."""
    order = int(z.order[i])
    list_del(z, i)
    z.nr_free[order] -= 1
    z.order[i] = -1
    z.touch(i)
    return order


def free_pages_prepare(z: Zone, pfn: int, order: int) -> None:
    """Turn the 2^order pages at ``pfn`` into plain free pages (not yet on a list).

    Models the state change of free_pages_prepare(), mm/page_alloc.c, v4.4:
    flags, mapping and compound state are cleared; the reference count is 0.
    """
    pfn, order = check_args(z, pfn=pfn, order=order)
    i = pfn - z.start_pfn
    j = i + (1 << order)
    z.kind[i:j] = FREE
    z.count[i:j] = 0
    z.flags[i:j] = 0
    z.comp[i:j] = -1
    z.touch_range(i, j)


#: The model's stand-in for ``current->comm`` in the kernel's "Bad page state" line.
BAD_PAGE_COMM = "contig"


def free_pages_check(z: Zone, pfn: int) -> str | None:
    """Why the page at ``pfn`` may not be freed, or None if it may.

    Models free_pages_check(), mm/page_alloc.c, v4.4, for a page whose
    reference count just reached zero.  The kernel tests, in this order
    (a later reason replaces an earlier one): a non-zero mapcount, a
    non-NULL ``mapping`` (free_pages_prepare() first clears it for an
    anonymous page), a non-zero ``_count``, and the flags of
    PAGE_FLAGS_CHECK_AT_FREE (PG_lru and PG_reserved among them).

    What the model knows of those: a page with PG_ANON is a mapped
    anonymous page (mapcount 1; migration clears it on the old page); a
    clean page-cache page (``F``) and a hugetlb page (``H``) have a
    ``mapping``; PG_lru and PG_reserved are kept.  A page in the pagevec
    that came from the page cache is not told apart from an unused
    migration target there (both ``v`` without PG_ANON): neither is
    reported.  A plain kernel page (``U``) or an owned page (``X``)
    passes, as the kernel cannot tell it from a page its owner frees.
    """
    (pfn,) = check_args(z, pfn=pfn)
    i = pfn - z.start_pfn
    f = int(z.flags[i])
    k = int(z.kind[i])
    reason = None
    if f & PG_ANON:
        reason = "nonzero mapcount"
    if not f & PG_ANON and k in (ord("F"), ord("H")):
        reason = "non-NULL mapping"
    if z.count[i] != 0:
        reason = "nonzero _count"
    if f & (PG_LRU | PG_RESERVED):
        reason = "PAGE_FLAGS_CHECK_AT_FREE flag(s) set"
    return reason


def bad_page(z: Zone, pfn: int, reason: str) -> list[str]:
    """Report a page that may not be freed, and leave it as it is; return the log lines.

    Models bad_page(), mm/page_alloc.c, v4.4: it prints "BUG: Bad page
    state in process <comm>  pfn:<pfn as %05lx>" and dump_page_badflags()
    ("page dumped because: <reason>"), taints the kernel, and leaves the
    page's fields alone; the caller does not free it, so the page is lost
    to the allocator (its reference count stays 0).  The model marks it
    with the PG_BAD bit.  The rate limit (60 reports a minute) is not
    modelled.
    """
    (pfn,) = check_args(z, pfn=pfn)
    i = pfn - z.start_pfn
    z.flags[i] |= PG_BAD
    z.touch(i)
    return [f"BUG: Bad page state in process {BAD_PAGE_COMM}  pfn:{pfn:05x}",
            f"page dumped because: {reason}"]


def page_is_buddy(z: Zone, buddy_pfn: int, order: int) -> bool:
    """True if ``buddy_pfn`` heads a free block of exactly ``order`` in this zone.

    Models page_is_buddy(), mm/page_alloc.c, v4.4.  The buddy's pageblock
    type is not looked at (the 4.4.0 behaviour).
    """
    if not isinstance(buddy_pfn, int) or isinstance(buddy_pfn, bool):
        check_int("buddy_pfn", buddy_pfn, what="an int PFN")
    i = buddy_pfn - z.start_pfn
    return 0 <= i < z.spanned_pages and int(z.order[i]) == order


# ---------------------------------------------------------------- freeing
def __free_one_page(z: Zone, pfn: int, order: int, migratetype: int) -> None:
    """Free the block of 2^order pages at ``pfn`` onto the ``migratetype`` lists, merging.

    Models __free_one_page(), mm/page_alloc.c, Linux v4.4.0.

    Why: freeing is where buddies recombine into large blocks, which is what
    a contiguous allocation needs later.

    * A page freed as ISOLATE merges at most up to ``pageblock_order``;
      any other page up to ``MAX_ORDER-1``, and is added to NR_FREE_PAGES.
    * The buddy's pageblock type is not checked (4.4.0; fixed in 4.6).
    * Head or tail: a block below order MAX_ORDER-2 whose parent's buddy is
      free goes to the tail of its list (it will probably merge soon).
      The arithmetic is the kernel's, including reusing the last buddy index.

    The caller has already made the pages free (:func:`free_pages_prepare`).
    """
    pfn, order, migratetype = check_args(z, pfn=pfn, order=order, migratetype=migratetype)
    g = z.geometry
    s = z.start_pfn
    mt = int(migratetype)
    max_order = g.max_order
    if mt == ISOLATE:
        max_order = min(g.max_order, g.pageblock_order + 1)
    else:
        z.nr_free_pages += 1 << order
    mask = (1 << max_order) - 1
    page = pfn
    page_idx = pfn & mask
    buddy_idx = None
    while order < max_order - 1:
        buddy_idx = page_idx ^ (1 << order)
        buddy = page + (buddy_idx - page_idx)
        if not page_is_buddy(z, buddy, order):
            break
        bi = buddy - s
        buddy_mt = int(z.mtype[bi])
        _del_free(z, bi)
        # the buddy's pages change lists without NR_FREE_PAGES noticing
        if (buddy_mt == ISOLATE) != (mt == ISOLATE):
            z.nr_free_drift += (1 << order) if buddy_mt == ISOLATE else -(1 << order)
        combined_idx = buddy_idx & page_idx
        page = page + (combined_idx - page_idx)
        page_idx = combined_idx
        order += 1
    i = page - s
    if order < g.max_order - 2:
        if buddy_idx is None:  # the kernel reads an uninitialised variable here
            buddy_idx = page_idx ^ (1 << order)
        combined_idx = buddy_idx & page_idx
        higher_page = page + (combined_idx - page_idx)
        hb_idx = combined_idx ^ (1 << (order + 1))
        higher_buddy = higher_page + (hb_idx - combined_idx)
        if page_is_buddy(z, higher_buddy, order + 1):
            _add_free(z, i, order, mt, tail=True)
            return
    _add_free(z, i, order, mt)


def free_one_page(z: Zone, pfn: int, order: int, migratetype: int) -> None:
    """Models free_one_page(), mm/page_alloc.c, v4.4.

    While any pageblock of the zone is isolated (or the caller says
    ISOLATE), the pageblock type is read again, so a page of an isolated
    block lands on the Isolate list.
    """
    pfn, order, migratetype = check_args(z, pfn=pfn, order=order, migratetype=migratetype)
    mt = int(migratetype)
    if z.nr_isolate_pageblock or mt == ISOLATE:
        mt = int(z.pb[z.block_index(pfn)])
    __free_one_page(z, pfn, order, mt)


def __free_pages_ok(z: Zone, pfn: int, order: int) -> None:
    """Free a block of order > 0 straight to the buddy lists.

    Models __free_pages_ok(), mm/page_alloc.c, v4.4 (no per-CPU lists for
    order > 0).
    """
    pfn, order = check_args(z, pfn=pfn, order=order)
    free_pages_prepare(z, pfn, order)
    free_one_page(z, pfn, order, int(z.pb[z.block_index(pfn)]))


# ---------------------------------------------------------------- allocating
def expand(z: Zone, i: int, low: int, high: int, migratetype: int) -> None:
    """Split a block of order ``high`` at index ``i`` down to order ``low``.

    Models expand(), mm/page_alloc.c, v4.4: the upper halves go, largest
    first, to the head of the ``migratetype`` lists (the requested type,
    not necessarily the block's).
    """
    size = 1 << high
    while high > low:
        high -= 1
        size >>= 1
        _add_free(z, i + size, high, migratetype)


def __rmqueue_smallest(z: Zone, order: int, migratetype: int) -> int | None:
    """Take the first block of the smallest order >= ``order`` on ``migratetype`` lists.

    Models __rmqueue_smallest(), mm/page_alloc.c, v4.4.  Returns the PFN,
    or None.  The page's remembered migratetype becomes ``migratetype``.
    """
    order, migratetype = check_args(z, order=order, migratetype=migratetype)
    mt = int(migratetype)
    for current in range(order, z.geometry.max_order):
        head = z.free_sentinel(current, mt)
        if list_empty(z, head):
            continue
        i = list_first(z, head)
        _del_free(z, i)
        expand(z, i, order, current, mt)
        z.mtype[i] = mt
        return z.start_pfn + i
    return None


def __rmqueue_cma_fallback(z: Zone, order: int) -> int | None:
    """Models __rmqueue_cma_fallback(), mm/page_alloc.c, v4.4: MOVABLE may use CMA lists."""
    (order,) = check_args(z, order=order)
    return __rmqueue_smallest(z, order, MigrateType.CMA)


def can_steal_fallback(z: Zone, order: int, start_mt: int) -> bool:
    """Models can_steal_fallback(), mm/page_alloc.c, v4.4."""
    order, start_mt = check_args(z, order=order, start_type=start_mt)
    pbo = z.geometry.pageblock_order
    if order >= pbo:
        return True
    return bool(order >= pbo // 2 or start_mt in (MigrateType.RECLAIMABLE, MigrateType.UNMOVABLE))


def find_suitable_fallback(z: Zone, order: int, migratetype: int,
                           only_stealable: bool = False) -> tuple[int, bool]:
    """Models find_suitable_fallback(), mm/page_alloc.c, v4.4: ``(fallback_mt or -1, can_steal)``."""
    order, migratetype, only_stealable = check_args(
        z, order=order, migratetype=migratetype, only_stealable=only_stealable)
    if z.nr_free[order] == 0:
        return -1, False
    can_steal = False
    for fmt in FALLBACKS[int(migratetype)]:
        if list_empty(z, z.free_sentinel(order, fmt)):
            continue
        if can_steal_fallback(z, order, migratetype):
            can_steal = True
        if not only_stealable or can_steal:
            return int(fmt), can_steal
    return -1, can_steal


def change_pageblock_range(z: Zone, pfn: int, order: int, mt: int) -> None:
    """Set every pageblock of the 2^order block at ``pfn`` to ``mt``.

    Models change_pageblock_range(), mm/page_alloc.c, v4.4.
    """
    pfn, order, mt = check_args(z, pfn=pfn, order=order, mt=mt)
    pbn = z.geometry.pageblock_nr_pages
    nr = max(1, (1 << order) // pbn)
    for k in range(nr):
        p = pfn + k * pbn
        if z.spans(p):
            _overwrite_type(z, p, mt)


def _overwrite_type(z: Zone, pfn: int, mt: int) -> None:
    """set_pageblock_migratetype() from the allocator's side.

    If the block was ISOLATE, the kernel does not touch nr_isolate_pageblock:
    the zone keeps counting a block that is no longer isolated (one reason
    alloc_contig_range() aligns to MAX_ORDER blocks).  The model records it.
    """
    if int(z.pb[z.block_index(pfn)]) == ISOLATE and int(mt) != ISOLATE:
        z.nr_isolate_extra += 1
    z.set_pageblock_migratetype(pfn, mt)


def steal_suitable_fallback(z: Zone, pfn: int, start_type: int) -> None:
    """Models steal_suitable_fallback(), mm/page_alloc.c, v4.4.

    A block of pageblock order or more is taken over whole; otherwise the
    free pages of its pageblock move to ``start_type`` lists, and the
    pageblock changes type if at least half of it was free.
    """
    pfn, start_type = check_args(z, pfn=pfn, start_type=start_type)
    i = pfn - z.start_pfn
    current = int(z.order[i])
    pbo = z.geometry.pageblock_order
    if current >= pbo:
        change_pageblock_range(z, pfn, current, start_type)
        return
    pages = move_freepages_block(z, pfn, start_type)
    if pages >= (1 << (pbo - 1)):
        _overwrite_type(z, pfn, start_type)


def __rmqueue_fallback(z: Zone, order: int, start_migratetype: int) -> int | None:
    """Steal from another migratetype, largest block first.

    Models __rmqueue_fallback(), mm/page_alloc.c, v4.4.
    """
    order, start_migratetype = check_args(z, order=order, start_migratetype=start_migratetype)
    for current in range(z.geometry.max_order - 1, order - 1, -1):
        fmt, can_steal = find_suitable_fallback(z, current, start_migratetype, False)
        if fmt == -1:
            continue
        i = list_first(z, z.free_sentinel(current, fmt))
        pfn = z.start_pfn + i
        if can_steal:
            steal_suitable_fallback(z, pfn, start_migratetype)
        _del_free(z, i)
        expand(z, i, order, current, start_migratetype)
        z.mtype[i] = int(start_migratetype)
        return pfn
    return None


def __rmqueue(z: Zone, order: int, migratetype: int) -> int | None:
    """Models __rmqueue(), mm/page_alloc.c, v4.4: own type, then CMA (for MOVABLE), then fallback."""
    order, migratetype = check_args(z, order=order, migratetype=migratetype)
    pfn = __rmqueue_smallest(z, order, migratetype)
    if pfn is None:
        if int(migratetype) == MigrateType.MOVABLE:
            pfn = __rmqueue_cma_fallback(z, order)
        if pfn is None:
            pfn = __rmqueue_fallback(z, order, migratetype)
    return pfn


# ---------------------------------------------------------------- moving free pages
def _move_freepages(z: Zone, start_pfn: int, end_pfn: int, migratetype: int) -> tuple[int, int]:
    """move_freepages(), returning (pages moved, change of pages on non-Isolate lists)."""
    s = z.start_pfn
    lo = max(start_pfn, s) - s
    hi = min(end_pfn, z.end_pfn - 1) - s
    if hi < lo:
        return 0, 0
    mt = int(migratetype)
    orders = z.order[lo:hi + 1]
    heads = (orders >= 0).nonzero()[0]
    if heads.size > 16:
        return _move_freepages_many(z, lo + heads, orders[heads].astype(np.int64), mt)
    moved = 0
    listed = 0
    for h in heads.tolist():
        i = lo + h
        order = int(orders[h])
        old = int(z.mtype[i])
        list_move(z, i, z.free_sentinel(order, mt))
        z.mtype[i] = mt
        size = 1 << order
        moved += size
        listed += (size if mt != ISOLATE else 0) - (size if old != ISOLATE else 0)
    return moved, listed


def _move_freepages_many(z: Zone, idx: np.ndarray, orders: np.ndarray, mt: int) -> tuple[int, int]:
    """Vectorised move: the same lists as ``list_move()`` of each head in ascending PFN order.

    Each target list ends up as the moved heads in descending PFN order, then
    what it held before.
    """
    sizes = 1 << orders
    old = z.mtype[idx]
    listed = (int(sizes.sum()) if mt != ISOLATE else 0) - int(sizes[old != ISOLATE].sum())
    list_del_many(z, idx)
    for o in np.unique(orders).tolist():
        seq = idx[orders == o][::-1]
        list_splice_head(z, z.free_sentinel(o, mt), seq)
    z.mtype[idx] = mt
    return int(sizes.sum()), listed


def move_freepages(z: Zone, start_pfn: int, end_pfn: int, migratetype: int) -> int:
    """Move every free block whose head lies in ``[start_pfn, end_pfn]`` to ``migratetype`` lists.

    Models move_freepages(), mm/page_alloc.c, v4.4.  ``end_pfn`` is
    *inclusive*, as in the kernel.  Each block goes to the head of its new
    list; a block that runs past ``end_pfn`` moves whole and counts whole; a
    block whose head is before ``start_pfn`` is not seen.  Changes neither
    pageblock types nor NR_FREE_PAGES (callers do).  Returns pages moved.
    """
    start_pfn, end_pfn, migratetype = check_args(
        z, start_pfn=start_pfn, end_pfn=end_pfn, migratetype=migratetype)
    moved, listed = _move_freepages(z, start_pfn, end_pfn, migratetype)
    z.nr_free_drift += listed  # NR_FREE_PAGES is the caller's business
    return moved


def move_freepages_block(z: Zone, pfn: int, migratetype: int) -> int:
    """Move the free pages of the pageblock holding ``pfn``.

    Models move_freepages_block(), mm/page_alloc.c, v4.4: if the zone does
    not span the block's first PFN, start at ``pfn``; if it does not span
    the block's last PFN, move nothing and return 0.
    """
    pfn, migratetype = check_args(z, pfn=pfn, migratetype=migratetype)
    pbn = z.geometry.pageblock_nr_pages
    start = pfn & ~(pbn - 1)
    end = start + pbn - 1
    if not z.spans(start):
        start = pfn
    if not z.spans(end):
        return 0
    return move_freepages(z, start, end, migratetype)


def mod_zone_freepage_state(z: Zone, nr_pages: int, migratetype: int) -> None:
    """Add ``nr_pages`` to NR_FREE_PAGES; fix the audit drift for it.

    Models __mod_zone_freepage_state(), include/linux/vmstat.h, v4.4 (the
    CMA counter is not kept).  Callers pair it with a list change whose
    effect :func:`move_freepages` already recorded.
    """
    (migratetype,) = check_args(z, migratetype=migratetype)
    nr_pages = check_int("nr_pages", nr_pages, lo=-MAX_PFN, hi=MAX_PFN)
    z.nr_free_pages += nr_pages
    z.nr_free_drift -= nr_pages


# ---------------------------------------------------------------- taking free pages out
def __isolate_free_page(z: Zone, pfn: int, order: int) -> int:
    """Take the free block at ``pfn`` off its list without allocating it.

    Models __isolate_free_page(), mm/page_alloc.c, v4.4.  If the block's
    pageblock is not ISOLATE, NR_FREE_PAGES drops by 2^order (the
    watermark check is not modelled).  A block of order >= pageblock_order-1
    turns its pageblocks MOVABLE unless they are ISOLATE or CMA.
    Returns 2^order.
    """
    pfn, order = check_args(z, pfn=pfn, order=order)
    if int(z.order[pfn - z.start_pfn]) != order:
        raise ValueError(f"PFN {pfn} does not head a free block of order {order}")
    i = pfn - z.start_pfn
    mt = int(z.pb[z.block_index(pfn)])
    size = 1 << order
    list_mt = int(z.mtype[i])
    if mt != ISOLATE:
        z.nr_free_pages -= size
    # audit: list sum changes by -size if it was on a non-Isolate list
    z.nr_free_drift += (-size if list_mt != ISOLATE else 0) - (-size if mt != ISOLATE else 0)
    _del_free(z, i)
    pbo = z.geometry.pageblock_order
    if order >= pbo - 1:
        pbn = z.geometry.pageblock_nr_pages
        end = pfn + size - 1
        p = pfn
        while p <= end:
            if z.spans(p):
                t = int(z.pb[z.block_index(p)])
                if t not in (ISOLATE, MigrateType.CMA):
                    z.set_pageblock_migratetype(p, MigrateType.MOVABLE)
            p += pbn
    return size


def split_page(z: Zone, pfn: int, order: int, kind: int) -> None:
    """Make the 2^order pages at ``pfn`` independent order-0 pages with refcount 1.

    Models split_page(), mm/page_alloc.c, v4.4; ``kind`` is what the new
    owner uses them for (``X`` for a contiguous allocation).
    """
    pfn, order = check_args(z, pfn=pfn, order=order)
    i = pfn - z.start_pfn
    j = i + (1 << order)
    z.kind[i:j] = kind
    z.count[i:j] = 1
    z.flags[i:j] = 0
    z.comp[i:j] = -1
    z.touch_range(i, j)


def split_free_page(z: Zone, pfn: int, kind: int = ord("X")) -> int:
    """Take a free block off its list and split it into order-0 pages.

    Models split_free_page(), mm/page_alloc.c, v4.4.  Returns the number
    of pages (0 if ``__isolate_free_page()`` refused, which the model never
    does).
    """
    (pfn,) = check_args(z, pfn=pfn)
    if z.order[pfn - z.start_pfn] < 0:
        raise ValueError(f"pfn: PFN {pfn} does not head a free block")
    i = pfn - z.start_pfn
    order = int(z.order[i])
    n = __isolate_free_page(z, pfn, order)
    if not n:
        return 0
    split_page(z, pfn, order, kind)
    return n


def prep_pcp_page(z: Zone, pfn: int) -> None:
    """Mark a page taken by rmqueue_bulk() as sitting on a per-CPU list."""
    (pfn,) = check_args(z, pfn=pfn)
    i = pfn - z.start_pfn
    z.kind[i] = PCP
    z.touch(i)
