"""The Linux 6.18 buddy allocator pieces that differ from v4.4 (mm/page_alloc.c, 6.18).

Models, from mm/page_alloc.c of Linux 6.18: ``__free_one_page()`` with its
merge rule above pageblock_order, ``buddy_merge_likely()``,
``split_large_buddy()``, ``free_one_page()``, ``__free_pages_ok()``,
``find_large_buddy()``, ``__move_freepages_block()``,
``__move_freepages_block_isolate()`` (and its two wrappers
``pageblock_isolate_and_move_free_pages()`` /
``pageblock_unisolate_and_move_free_pages()``), ``__isolate_free_page()`` and
``__putback_isolated_page()``.

Geometry: the shared :class:`~contig.geometry.Geometry` keeps the v4.4
meaning, ``max_order`` = v4.4 ``MAX_ORDER`` (orders ``0 .. max_order-1``).
6.18 counts the largest order *inclusively*: ``MAX_PAGE_ORDER =
max_order - 1`` (x86-64: ``Geometry(max_order=11)`` is ``MAX_PAGE_ORDER``
10) and ``MAX_ORDER_NR_PAGES = 1 << MAX_PAGE_ORDER`` (the same number of
pages as v4.4's ``MAX_ORDER_NR_PAGES``).

The isolate bit: in 6.18 a pageblock has its own 3-bit migratetype plus a
separate ``PB_migrate_isolate`` bit, and ``get_pageblock_migratetype()``
reads MIGRATE_ISOLATE while the bit is set.  The model keeps what
``get_pageblock_migratetype()`` returns in ``zone.pb`` (so the functions
shared with v4.4 see ISOLATE exactly where 6.18 would) and the block's own
bits in ``zone.pb_base`` while it is isolated; see :func:`set_pageblock_isolate`.

Simplified: no watermarks (``__isolate_free_page()`` never refuses), no page
reporting, shuffling, guard pages or compaction capture; per-type free
counters (CMA, HIGHATOMIC, ``NR_FREE_PAGES_BLOCKS``) are not kept, only
``NR_FREE_PAGES`` (which, as in 6.18, never counts the Isolate lists).
"""

from __future__ import annotations

import numpy as np

from ..buddy import _add_free, _del_free, free_pages_prepare, page_is_buddy
from ..freelist import list_add_tail, list_del
from ..zone import MIGRATE_PCPTYPES, MigrateType, Zone

__all__ = [
    "__free_one_page",
    "__free_pages_ok",
    "__isolate_free_page",
    "__move_freepages_block",
    "__move_freepages_block_isolate",
    "__putback_isolated_page",
    "buddy_merge_likely",
    "clear_pageblock_isolate",
    "find_large_buddy",
    "free_one_page",
    "get_pageblock_isolate",
    "max_page_order",
    "migratetype_is_mergeable",
    "pageblock_isolate_and_move_free_pages",
    "pageblock_unisolate_and_move_free_pages",
    "set_pageblock_isolate",
    "split_large_buddy",
]

ISOLATE = int(MigrateType.ISOLATE)


def max_page_order(z: Zone) -> int:
    """6.18 ``MAX_PAGE_ORDER`` (inclusive) of the zone's geometry: ``max_order - 1``."""
    return z.geometry.max_order - 1


def migratetype_is_mergeable(mt: int) -> bool:
    """Models migratetype_is_mergeable(), include/linux/mmzone.h, 6.18: UNMOVABLE, MOVABLE, RECLAIMABLE."""
    return int(mt) < MIGRATE_PCPTYPES


# ---------------------------------------------------------------- the isolate bit
def get_pageblock_isolate(z: Zone, pfn: int) -> bool:
    """Models get_pageblock_isolate(), include/linux/page-isolation.h, 6.18."""
    return int(z.pb[z.block_index(pfn)]) == ISOLATE


def _base_migratetype(z: Zone, pfn: int) -> int:
    """The block's own migratetype bits (``MIGRATETYPE_MASK``), under the isolate bit if set."""
    b = z.block_index(pfn)
    return int(z.pb_base[b]) if int(z.pb[b]) == ISOLATE else int(z.pb[b])


def set_pageblock_isolate(z: Zone, pfn: int) -> None:
    """Set PB_migrate_isolate (6.18 ``set_pageblock_isolate()``); the base type is kept in ``pb_base``."""
    b = z.block_index(pfn)
    if int(z.pb[b]) != ISOLATE:
        z.pb_base[b] = z.pb[b]
        z.set_pageblock_migratetype(pfn, ISOLATE)


def clear_pageblock_isolate(z: Zone, pfn: int) -> None:
    """Clear PB_migrate_isolate (6.18 ``clear_pageblock_isolate()``): the block reads its own type again."""
    b = z.block_index(pfn)
    if int(z.pb[b]) == ISOLATE:
        z.set_pageblock_migratetype(pfn, int(z.pb_base[b]))


# ---------------------------------------------------------------- freeing
def buddy_merge_likely(z: Zone, pfn: int, buddy_pfn: int, order: int) -> bool:
    """Models buddy_merge_likely(), mm/page_alloc.c, 6.18: is the order+1 parent's buddy free?

    False at ``order >= MAX_PAGE_ORDER - 1``.
    """
    if order >= max_page_order(z) - 1:
        return False
    higher = buddy_pfn & pfn
    return page_is_buddy(z, higher ^ (1 << (order + 1)), order + 1)


def __free_one_page(z: Zone, pfn: int, order: int, migratetype: int, to_tail: bool = False) -> None:
    """Free 2^order pages at ``pfn`` onto the ``migratetype`` lists, merging.

    Models __free_one_page(), mm/page_alloc.c, Linux 6.18 (line 940).

    * ``account_freepages()``: NR_FREE_PAGES grows unless the type is ISOLATE.
    * Merges while ``order < MAX_PAGE_ORDER`` (up to MAX_PAGE_ORDER
      inclusive).  Below pageblock_order any free buddy merges.  From
      pageblock_order up the buddy's pageblock type is read: when it differs
      and either type is not mergeable (HIGHATOMIC, CMA, ISOLATE) the merging
      stops; when both differ but are mergeable, the buddy's (first)
      pageblock is re-typed to ours.  So an isolated block never merges
      with a non-isolated one above pageblock_order, but two isolated
      blocks do (4.4 capped every ISOLATE free at pageblock_order).
    * Placement: ``to_tail`` (FPI_TO_TAIL) or :func:`buddy_merge_likely`
      put the block at the tail, otherwise the head.

    The caller has made the pages free (:func:`contig.buddy.free_pages_prepare`).
    """
    g = z.geometry
    s = z.start_pfn
    mt = int(migratetype)
    mpo = g.max_order - 1
    if mt != ISOLATE:
        z.nr_free_pages += 1 << order
    buddy_pfn = 0
    while order < mpo:
        buddy_pfn = pfn ^ (1 << order)
        if not page_is_buddy(z, buddy_pfn, order):
            break
        bi = buddy_pfn - s
        buddy_mt = mt
        if order >= g.pageblock_order:
            buddy_mt = int(z.pb[z.block_index(buddy_pfn)])
            if buddy_mt != mt and (not migratetype_is_mergeable(mt)
                                   or not migratetype_is_mergeable(buddy_mt)):
                break
        list_mt = int(z.mtype[bi])
        _del_free(z, bi)
        if (list_mt == ISOLATE) != (mt == ISOLATE):   # never in a consistent 6.18 zone
            z.nr_free_drift += (1 << order) if list_mt == ISOLATE else -(1 << order)
        if buddy_mt != mt:
            z.set_pageblock_migratetype(buddy_pfn, mt)
        pfn = buddy_pfn & pfn
        order += 1
    tail = to_tail or buddy_merge_likely(z, pfn, buddy_pfn, order)
    _add_free(z, pfn - s, order, mt, tail=tail)


def split_large_buddy(z: Zone, pfn: int, order: int, to_tail: bool = False) -> None:
    """Free a block that may span several pageblocks, one pageblock-sized piece at a time.

    Models split_large_buddy(), mm/page_alloc.c, 6.18: a block larger than
    a pageblock is freed as pageblock-order pieces, each with its own
    pageblock's type (so an isolated block's piece goes to the Isolate
    lists and its neighbours to theirs), each through
    :func:`__free_one_page`, which merges them again where the types allow.
    """
    end = pfn + (1 << order)
    order = min(order, z.geometry.pageblock_order)
    while True:
        __free_one_page(z, pfn, order, int(z.pb[z.block_index(pfn)]), to_tail)
        pfn += 1 << order
        if pfn >= end:
            break


def free_one_page(z: Zone, pfn: int, order: int, migratetype: int | None = None) -> None:
    """Models free_one_page(), mm/page_alloc.c, 6.18: :func:`split_large_buddy` under the zone lock.

    The type comes from each pageblock (``migratetype`` is accepted for the
    v4.4 call signature and ignored, as 6.18 has no such argument).
    """
    split_large_buddy(z, pfn, order)


def __free_pages_ok(z: Zone, pfn: int, order: int) -> None:
    """Free a block of order > 0 straight to the buddy (6.18 ``__free_pages_ok()`` path).

    Simplified: 6.18 keeps orders up to PAGE_ALLOC_COSTLY_ORDER (and THP
    order) on per-CPU lists too; the model frees every order > 0 at once.
    """
    free_pages_prepare(z, pfn, order)
    free_one_page(z, pfn, order)


# ---------------------------------------------------------------- finding and moving free pages
def find_large_buddy(z: Zone, start_pfn: int) -> int:
    """The head of a free block that straddles ``start_pfn``, else ``start_pfn``.

    Models find_large_buddy(), mm/page_alloc.c, 6.18 (line 2029): the
    probe starts at order ``__ffs(start_pfn)`` (``MAX_PAGE_ORDER`` for PFN
    0) and rounds ``start_pfn`` down one order more at each step until a
    PageBuddy page is found or the order passes MAX_PAGE_ORDER; the block
    found is used only if it reaches past ``start_pfn``.  Never fails (4.4's
    loop could return a block that does not cover ``start`` or fail with
    -EBUSY).
    """
    mpo = max_page_order(z)
    s = z.start_pfn
    order = (start_pfn & -start_pfn).bit_length() - 1 if start_pfn else mpo
    pfn = start_pfn
    while True:
        i = pfn - s
        if 0 <= i < z.spanned_pages and z.order[i] >= 0:
            break
        order += 1
        if order > mpo:
            return start_pfn
        pfn &= ~0 << order
    if pfn + (1 << int(z.order[pfn - s])) > start_pfn:
        return pfn
    return start_pfn


def __move_freepages_block(z: Zone, start_pfn: int, old_mt: int, new_mt: int) -> int:
    """Move every free block of the pageblock at ``start_pfn`` to the ``new_mt`` lists (tail).

    Models __move_freepages_block() with move_to_free_list(),
    mm/page_alloc.c, 6.18: each block goes to the *tail* of its new list
    (4.4: head), NR_FREE_PAGES follows the isolate-ness of the two types.
    Returns the pages moved.
    """
    lo = start_pfn - z.start_pfn
    hi = lo + z.geometry.pageblock_nr_pages
    moved = 0
    # the kernel walks the block PFN by PFN, jumping over each free block; only the heads
    # of free blocks (order >= 0) are acted on, in ascending order: find them at once
    for i in (lo + np.flatnonzero(z.order[lo:hi] >= 0)).tolist():
        o = int(z.order[i])
        list_del(z, i)
        list_add_tail(z, i, z.free_sentinel(o, int(new_mt)))
        z.mtype[i] = int(new_mt)
        z.touch(i)
        n = 1 << o
        z.nr_free_pages += (n if int(new_mt) != ISOLATE else 0) - (n if int(old_mt) != ISOLATE else 0)
        moved += n
    return moved


def __move_freepages_block_isolate(z: Zone, pfn: int, isolate: bool) -> bool:
    """Set or clear a pageblock's isolate bit and move its free pages; False if it cannot.

    Models __move_freepages_block_isolate(), mm/page_alloc.c, 6.18 (line
    2085).  False when the block already is in the requested state or is not
    wholly inside the zone (prep_move_freepages_block()).  If the block is
    part of a free buddy larger than a pageblock (found with
    :func:`find_large_buddy`), that buddy is taken off its list, the bit is
    toggled and the buddy is re-freed with :func:`split_large_buddy`, so
    this block's piece lands on the lists of its new state and the others
    on theirs.  Otherwise the block's free pages move between its own type's
    lists and the Isolate lists, and the bit is toggled; the block's own
    migratetype is never changed.
    """
    g = z.geometry
    if isolate == get_pageblock_isolate(z, pfn):
        return False
    start = g.pageblock_start(pfn)
    if not (z.spans(start) and z.spans(start + g.pageblock_nr_pages - 1)):
        return False
    if g.pageblock_order != max_page_order(z):
        bpfn = find_large_buddy(z, start)
        bi = bpfn - z.start_pfn
        if z.order[bi] > g.pageblock_order:
            order = int(z.order[bi])
            list_mt = int(z.mtype[bi])
            _del_free(z, bi)
            if list_mt != ISOLATE:          # del_page_from_free_list() accounts
                z.nr_free_pages -= 1 << order
            if isolate:
                set_pageblock_isolate(z, start)
            else:
                clear_pageblock_isolate(z, start)
            split_large_buddy(z, bpfn, order)
            return True
    if isolate:
        __move_freepages_block(z, start, _base_migratetype(z, start), ISOLATE)
        set_pageblock_isolate(z, start)
    else:
        __move_freepages_block(z, start, ISOLATE, _base_migratetype(z, start))
        clear_pageblock_isolate(z, start)
    return True


def pageblock_isolate_and_move_free_pages(z: Zone, pfn: int) -> bool:
    """Models pageblock_isolate_and_move_free_pages(), mm/page_alloc.c, 6.18."""
    return __move_freepages_block_isolate(z, pfn, True)


def pageblock_unisolate_and_move_free_pages(z: Zone, pfn: int) -> bool:
    """Models pageblock_unisolate_and_move_free_pages(), mm/page_alloc.c, 6.18."""
    return __move_freepages_block_isolate(z, pfn, False)


def __isolate_free_page(z: Zone, pfn: int, order: int) -> int:
    """Take the free block at ``pfn`` off its list; return 2^order.

    Models __isolate_free_page(), mm/page_alloc.c, 6.18: the watermark check
    for non-isolated blocks is not modelled (never refuses); a block of at
    least half a pageblock turns the *mergeable* pageblocks it covers
    MOVABLE (moving their free pages), HIGHATOMIC/CMA/ISOLATE stay.
    """
    i = pfn - z.start_pfn
    list_mt = int(z.mtype[i])
    _del_free(z, i)
    if list_mt != ISOLATE:
        z.nr_free_pages -= 1 << order
    g = z.geometry
    if order >= g.pageblock_order - 1:
        p, end = pfn, pfn + (1 << order) - 1
        while p < end:
            mt = int(z.pb[z.block_index(p)])
            if migratetype_is_mergeable(mt) and mt != MigrateType.MOVABLE:
                blk = g.pageblock_start(p)
                if z.spans(blk) and z.spans(blk + g.pageblock_nr_pages - 1):
                    __move_freepages_block(z, blk, mt, MigrateType.MOVABLE)
                    z.set_pageblock_migratetype(p, MigrateType.MOVABLE)
            p += g.pageblock_nr_pages
    return 1 << order


def __putback_isolated_page(z: Zone, pfn: int, order: int, mt: int) -> None:
    """Models __putback_isolated_page(), mm/page_alloc.c, 6.18: re-free to the list tail, merging."""
    i = pfn - z.start_pfn
    z.kind[i:i + (1 << order)] = ord(".")
    z.count[i:i + (1 << order)] = 0
    z.touch_range(i, i + (1 << order))
    __free_one_page(z, pfn, order, mt, to_tail=True)
