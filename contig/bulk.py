"""Bulk equivalents of per-page kernel loops, for large zones.

The kernel migrates a batch page by page: allocate a target, copy, put the
old and the new page into the LRU pagevec, which frees the old pages when it
fills up.  Done page by page in Python that costs about 80 us a page; a
1 GiB range with 100,000 pages to move would take seconds.  These functions
produce the same result in a few numpy operations per batch.

Why the result is the same (tested against the page-by-page path on random
zones, ``tests/test_bulk.py``):

* Order-0 MOVABLE allocations from the buddy lists follow a fixed pattern:
  ``__rmqueue_smallest()`` empties the lowest non-empty order first, and a
  split block's halves go to the head of lists that were empty, so each
  block is handed out whole, in ascending PFN order, blocks in list order,
  orders ascending; after a partial block the leftover halves are the only
  blocks of their orders.  MOVABLE lists first, then CMA (as ``__rmqueue()``
  does for MOVABLE requests); when both run out the caller uses the
  page-by-page path, which knows about stealing.
* Pages freed into an isolated pageblock only merge with free blocks of that
  pageblock, which all sit on Isolate lists, and nothing is ever allocated
  from Isolate lists.  So the frees can be done after the allocations, and
  in any order: a buddy allocator that always merges ends with the unique
  partition in which no two buddies are free (capped at pageblock order),
  whatever the order of frees.  Only the order of blocks *on the Isolate
  lists* differs from the page-by-page path; undo_isolate_page_range() moves
  those blocks back in PFN order, so the final zone is identical.

Where a precondition does not hold (a free block of the pageblock on another
list, two unmerged buddies), the page-by-page path is used for that part.
"""

from __future__ import annotations

import numpy as np

from .buddy import _add_free, _del_free
from .freelist import (
    list_add_tail,
    list_del_many,
    list_empty,
    list_first,
    list_splice_head,
)
from .mapfmt import aligned_blocks
from .pcp import free_hot_cold_page
from .zone import FREE, PAGEVEC_SIZE, PCP, PG_LRU, PVEC, MigrateType, Zone

__all__ = ["available_movable", "bulk_alloc_targets", "bulk_free_isolated", "bulk_pagevec_add"]

ISOLATE = int(MigrateType.ISOLATE)
MOVABLE = int(MigrateType.MOVABLE)
CMA = int(MigrateType.CMA)


def available_movable(z: Zone, need: int) -> bool:
    """True if the per-CPU Movable list plus the MOVABLE and CMA free lists hold ``need`` pages.

    Walks only as many list entries as it takes.
    """
    have = 0
    head = z.pcp_sentinel(MOVABLE)
    i = int(z.next[head])
    while i != head and have < need:
        have += 1
        i = int(z.next[i])
    for mt in (MOVABLE, CMA):
        for k in range(z.geometry.max_order):
            head = z.free_sentinel(k, mt)
            i = int(z.next[head])
            while i != head and have < need:
                have += 1 << k
                i = int(z.next[i])
            if have >= need:
                return True
    return have >= need


def bulk_alloc_targets(z: Zone, n: int) -> list[int]:
    """``n`` order-0 MOVABLE pages exactly as ``n`` calls of ``buffered_rmqueue()`` would give them.

    The caller has checked :func:`available_movable`.  Pages come from the
    per-CPU Movable list (head first), refilled ``pcp->batch`` pages at a
    time; the refills are consecutive stretches of one ``__rmqueue()``
    stream, so they are fetched together and only what is left of the last
    refill goes on the list.
    """
    s = z.start_pfn
    head = z.pcp_sentinel(MOVABLE)
    taken: list[int] = []
    i = int(z.next[head])
    while i != head and len(taken) < n:
        taken.append(i)
        i = int(z.next[i])
    if taken:
        list_del_many(z, np.asarray(taken))
        z.pcp_count -= len(taken)
    targets = [s + t for t in taken]
    need = n - len(targets)
    if need <= 0:
        return targets
    batch = z.pcp_batch
    fetch = -(-need // batch) * batch
    pfns, mts = _rmqueue_bulk_fast_raw(z, fetch)
    z.nr_free_pages -= pfns.size
    z.mtype[pfns - s] = mts
    targets.extend(pfns[:need].tolist())
    left = pfns[need:] - s
    if left.size:
        z.kind[left] = PCP
        list_splice_head(z, head, left)   # the list was empty
        z.pcp_count += int(left.size)
    return targets


def _rmqueue_bulk_fast_raw(z: Zone, count: int) -> tuple[np.ndarray, np.ndarray]:
    """PFNs and list migratetypes of up to ``count`` pages in ``__rmqueue()`` order."""
    s = z.start_pfn
    parts: list[np.ndarray] = []
    types: list[np.ndarray] = []
    got = 0
    for mt in (MOVABLE, CMA):
        for k in range(z.geometry.max_order):
            head = z.free_sentinel(k, mt)
            size = 1 << k
            while got < count and not list_empty(z, head):
                i = list_first(z, head)
                _del_free(z, i)
                take = min(size, count - got)
                parts.append(np.arange(s + i, s + i + take, dtype=np.int64))
                types.append(np.full(take, mt, dtype=np.uint8))
                got += take
                # what expand() leaves of a partly used block: one block per order
                j = i + take
                while j < i + size:
                    o = ((s + j) & -(s + j)).bit_length() - 1
                    while j + (1 << o) > i + size:
                        o -= 1
                    _add_free(z, j, o, mt)
                    j += 1 << o
            if got >= count:
                break
        if got >= count:
            break
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    return np.concatenate(parts), np.concatenate(types)


def bulk_pagevec_add(z: Zone, pfns: list[int]) -> list[int]:
    """``__lru_cache_add()`` + ``put_page()`` (putback_lru_page()) of each page, in order.

    Pages keep their reference counts (the pagevec's reference replaces the
    isolation one).  A full pagevec (14 pages) is flushed before the next
    page goes in, so everything up to the start of the last group of 14 is
    flushed: it joins the LRU and drops the pagevec's reference.  Returns
    the pages that reached 0 (the caller frees them; their order does not
    matter on Isolate lists).
    """
    s = z.start_pfn
    head = z.pvec_sentinel
    content: list[int] = []
    i = int(z.next[head])
    while i != head:
        content.append(i)
        i = int(z.next[i])
    adds = np.asarray(pfns, dtype=np.int64) - s
    n = adds.size
    if n == 0:
        return []
    room = PAGEVEC_SIZE - len(content)
    if room > 0 and n <= room:
        flush = np.zeros(0, dtype=np.int64)
        keep = adds
        old_kept = True
    else:
        first = max(room, 0)                       # adds that join the first, flushed group
        rest = n - first
        last = first + ((rest - 1) // PAGEVEC_SIZE) * PAGEVEC_SIZE
        flush = np.concatenate([np.asarray(content, dtype=np.int64), adds[:last]])
        keep = adds[last:]
        old_kept = False
    z.kind[adds] = PVEC
    z.flags[adds] &= 0xFF ^ PG_LRU
    if not old_kept:
        list_del_many(z, np.asarray(content, dtype=np.int64))
    for i in keep.tolist():
        list_add_tail(z, i, head)
    dead = np.zeros(0, dtype=np.int64)
    if flush.size:
        z.flags[flush] |= PG_LRU
        z.count[flush] -= 1
        fresh = flush[z.kind[flush] == PVEC]
        z.kind[fresh] = ord("M")
        dead = flush[z.count[flush] == 0]
        z.flags[dead] &= 0xFF ^ PG_LRU
    if z._tracking:
        z.touch_many(adds)
        z.touch_many(flush)
    return (s + dead).tolist()


def bulk_free_isolated(z: Zone, pfns: list[int]) -> None:
    """Free order-0 pages (reference count already 0) that lie in isolated pageblocks.

    Equivalent to ``free_hot_cold_page()`` on each (which, for an isolated
    block, is ``__free_one_page(..., MIGRATE_ISOLATE)``), up to the order of
    blocks on the Isolate lists.  Pages of other blocks, and pageblocks that
    break a precondition, are freed one by one.
    """
    if not pfns:
        return
    s = z.start_pfn
    g = z.geometry
    pbo = g.pageblock_order
    cap = min(g.max_order - 1, pbo)
    idx = np.unique(np.asarray(pfns, dtype=np.int64) - s)
    blocks = np.unique((idx + s) >> pbo)
    base = blocks << pbo
    # the affected pageblocks as a mask over the zone (clipped to it)
    lo = np.maximum(base - s, 0)
    hi = np.minimum(base + (1 << pbo) - s, z.spanned_pages)
    bad = np.zeros(blocks.size, dtype=bool)
    bad |= z.pb[blocks - (s >> pbo)] != ISOLATE
    span_lo, span_hi = int(lo.min()), int(hi.max())
    inblk = np.zeros(span_hi - span_lo, dtype=bool)
    for a_, b_ in zip((lo - span_lo).tolist(), (hi - span_lo).tolist(), strict=True):
        inblk[a_:b_] = True
    orders = z.order[span_lo:span_hi].astype(np.int64)
    heads = np.flatnonzero((orders >= 0) & inblk)
    o = orders[heads]
    hb = np.searchsorted(blocks, (heads + span_lo + s) >> pbo)
    # preconditions, per head: on an Isolate list, at most the cap, merge-closed
    badh = (o > cap) | (z.mtype[span_lo + heads] != ISOLATE)
    buddy = ((span_lo + heads + s) ^ (1 << o)) - s - span_lo
    inside = (buddy >= 0) & (buddy < span_hi - span_lo)
    bo = np.full(heads.size, -1, dtype=np.int64)
    bo[inside] = orders[buddy[inside]]
    badh |= bo == o
    bad[hb[badh]] = True
    # every free page of the blocks is covered by those heads
    free = (z.kind[span_lo:span_hi] == FREE) & inblk
    cover = (np.bincount(heads, minlength=span_hi - span_lo + 1)
             - np.bincount(np.minimum(heads + (1 << o), span_hi - span_lo),
                           minlength=span_hi - span_lo + 1))
    stray = free & ~(np.cumsum(cover[:-1]) > 0)
    if stray.any():
        bad[np.searchsorted(blocks, (np.flatnonzero(stray) + span_lo + s) >> pbo)] = True
    # pages of bad blocks: one by one
    pb_of = (idx + s) >> pbo
    slow = np.isin(pb_of, blocks[bad])
    good_blocks = blocks[~bad]
    if good_blocks.size:
        fast = idx[~slow]
        gmask = np.isin((heads + span_lo + s) >> pbo, good_blocks)
        list_del_many(z, span_lo + heads[gmask])
        for h, oo in zip((span_lo + heads[gmask]).tolist(), o[gmask].tolist(), strict=True):
            z.nr_free[oo] -= 1
            z.order[h] = -1
        z.kind[fast] = FREE
        z.count[fast] = 0
        z.flags[fast] = 0
        z.comp[fast] = -1
        if z._tracking:
            z.touch_many(fast)
            z.touch_many(span_lo + heads[gmask])
        gin = np.isin(((np.arange(span_lo, span_hi) + s) >> pbo), good_blocks)
        nh, no, _ = aligned_blocks((z.kind[span_lo:span_hi] == FREE) & gin, s + span_lo, cap)
        nh = nh + span_lo
        z.order[nh] = no
        z.mtype[nh] = ISOLATE
        for oo in np.unique(no).tolist():
            seq = nh[no == oo]
            list_splice_head(z, z.free_sentinel(oo, ISOLATE), seq)
            z.nr_free[oo] += seq.size
        if z._tracking:
            z.touch_many(nh)
    for i in idx[slow].tolist():
        free_hot_cold_page(z, s + i, False)
