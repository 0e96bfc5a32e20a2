"""Bulk equivalents of per-page kernel loops, for large zones.

The kernel migrates a batch page by page: allocate a target, copy, put the
old and the new page into the LRU pagevec, which frees the old pages when it
fills up.  Done page by page in Python that costs about 30 us of CPU a page; a
1 GiB range with 100,000 pages to move would take seconds.  The bulk path
(``alloc_contig_range(..., bulk=True)``) computes a *prefix* of the
migration batches with a few numpy operations, then hands over to the
page-by-page loop (:func:`contig.contig.__alloc_contig_migrate_range`) at a
batch boundary, in exactly the state the kernel would be in there.

What is claimed: the final zone (every per-PFN array, every list in its
order, every counter including ``nr_free_drift``) and the result (``ret``,
``log``, ``migrated`` with its order, ``reclaimed``, ``skipped``) are those
of the page-by-page path.  ``tests/test_differential.py`` checks it on
random zones with unaligned ends, holes, every map letter, pre-isolated
blocks, per-CPU settings, busy pages and fatal signals.

Why it is the same.  :func:`contig.migrate._migrate_range_bulk` runs only the
batches for which all of the following hold, and stops the prefix before the
first batch that breaks one:

1. *The scan.*  The batches are the kernel's: candidates (LRU, not compound,
   not pinned) in windows that ``pageblock_pfn_to_page()`` accepts, 32 a
   batch; a batch that ends inside a window resumes at the next PFN, and the
   window that resumes on a hole is skipped (issue 12, CE4).  Nothing a
   batch does changes what a later scan sees, because no migration target
   lies inside ``[start, end)`` (checked, CE2) and freeing a page changes
   only that page and free blocks.
2. *No retries.*  No page of the batch is busy (a busy page makes
   ``migrate_pages()`` retry and allocate again), and no fatal signal is due.
3. *Targets.*  ``buffered_rmqueue()`` takes the per-CPU Movable list head
   first and refills it with ``pcp->batch`` calls of ``__rmqueue()``.  Only
   refills that the MOVABLE and CMA free lists can serve whole are done
   here (otherwise ``__rmqueue()`` falls back and steals, CE1).  Such
   order-0 allocations follow a fixed pattern: ``__rmqueue_smallest()``
   empties the lowest non-empty order first, and a split block's halves go
   to the head of lists that were empty, so each block is handed out whole,
   in ascending PFN order, blocks in list order, orders ascending, MOVABLE
   before CMA; the leftover halves of a partly used block are the only
   blocks of their orders (:func:`bulk_alloc_targets`).
4. *Freeing later is the same as freeing now.*  The old pages and dropped
   page cache are freed when the prefix ends rather than at each pagevec
   flush.  Every pageblock holding such a page is isolated, lies wholly in
   the zone, and all its free blocks sit on Isolate lists, at most
   pageblock order, with no two free buddies unmerged (checked per block,
   :func:`pageblocks_free_ok`; CE3, CE5 and the unaligned zone ends break
   it).  Then (a) such frees merge only with free blocks of their own
   pageblock, which no allocation touches (nothing is allocated from
   Isolate lists) and which change no counter (pages freed as ISOLATE are
   not counted in NR_FREE_PAGES, buddies on Isolate lists carry no drift);
   (b) whatever the order of frees, merging ends in the unique partition in
   which no two buddies are free (capped at pageblock order); (c) only the
   order of these blocks *on the Isolate lists* differs from the kernel's,
   and ``undo_isolate_page_range()`` takes every one of them off (each
   block is whole in the zone, so ``move_freepages_block()`` moves all of
   its free blocks, in PFN order); list deletions keep the relative order
   of every other entry.  So the final zone is identical.

The pagevec additions are one stream too (:func:`bulk_pagevec_add`): the old
page and its target go in, in migration order; a full pagevec is flushed
before the next page goes in, and the flush frees the old pages.

Isolation and its undo (:mod:`contig.isolation`) do runs of whole plain
pageblocks at once; see ``_easy_run`` there.
"""

from __future__ import annotations

import numpy as np

from .buddy import _add_free, _del_free
from .freelist import list_add_tail, list_del_many, list_splice_head
from .mapfmt import aligned_blocks
from .zone import FREE, NR_MIGRATETYPES, PAGEVEC_SIZE, PCP, PG_LRU, PVEC, MigrateType, Zone

__all__ = ["bulk_alloc_targets", "bulk_free_isolated", "bulk_move_freepages", "bulk_pagevec_add",
           "movable_stream", "pageblocks_free_ok"]

ISOLATE = int(MigrateType.ISOLATE)
MOVABLE = int(MigrateType.MOVABLE)
CMA = int(MigrateType.CMA)


def _unlink_free_heads(z: Zone, heads: np.ndarray, keep_order: bool = False) -> None:
    """Take the free blocks headed by ``heads`` (indices, any lists) off their lists.

    The same links as ``list_del()`` of each: a list losing every member is
    reset to empty at once; the others go through
    :func:`contig.freelist.list_del_many`.  Unless ``keep_order``, the
    blocks stop being PageBuddy and ``nr_free`` drops.
    """
    if heads.size == 0:
        return
    g = z.geometry
    nkeys = g.max_order * NR_MIGRATETYPES
    orders = z.order[heads].astype(np.int64)
    key = orders * NR_MIGRATETYPES + z.mtype[heads]
    removed = np.bincount(key, minlength=nkeys)
    allh = np.flatnonzero(z.order >= 0)
    total = np.bincount(z.order[allh].astype(np.int64) * NR_MIGRATETYPES + z.mtype[allh],
                        minlength=nkeys)
    whole = (removed == total) & (removed > 0)
    wk = whole[key]
    rest = heads[~wk]
    if rest.size:
        list_del_many(z, rest)
    if wk.any():
        sents = z.spanned_pages + np.flatnonzero(whole)
        z.next[sents] = sents
        z.prev[sents] = sents
        gone = heads[wk]
        z.next[gone] = -1
        z.prev[gone] = -1
        z.touch_many(gone)
        z.touch_many(sents)
    if not keep_order:
        z.nr_free[:] -= np.bincount(orders, minlength=g.max_order)[: g.max_order]
        z.order[heads] = -1
        z.touch_many(heads)


def bulk_move_freepages(z: Zone, start_pfn: int, end_pfn: int, migratetype: int) -> int:
    """move_freepages() of ``[start_pfn, end_pfn]`` (inclusive), vectorised; returns pages moved.

    The same lists as ``list_move()`` of each free block head in ascending
    PFN order (what move_freepages_block() does block after block): each
    target list ends up as the moved heads in descending PFN order, then what
    it held before.  Like :func:`contig.buddy.move_freepages`, records the
    change of pages on non-Isolate lists in ``nr_free_drift`` and leaves
    NR_FREE_PAGES to the caller.
    """
    s = z.start_pfn
    lo = max(start_pfn, s) - s
    hi = min(end_pfn, z.end_pfn - 1) - s
    if hi < lo:
        return 0
    mt = int(migratetype)
    orders = z.order[lo:hi + 1]
    idx = lo + np.flatnonzero(orders >= 0)
    if idx.size == 0:
        return 0
    o = z.order[idx].astype(np.int64)
    sizes = 1 << o
    old = z.mtype[idx]
    listed = (int(sizes.sum()) if mt != ISOLATE else 0) - int(sizes[old != ISOLATE].sum())
    _unlink_free_heads(z, idx, keep_order=True)
    srt = np.argsort(-idx, kind="stable")       # descending PFN, then grouped by order
    for k in np.flatnonzero(np.bincount(o)).tolist():
        seq = idx[srt][o[srt] == k]
        list_splice_head(z, z.free_sentinel(k, mt), seq)
    z.mtype[idx] = mt
    z.nr_free_drift += listed
    return int(sizes.sum())


def _pcp_movable(z: Zone) -> list[int]:
    head = z.pcp_sentinel(MOVABLE)
    out: list[int] = []
    i = int(z.next[head])
    while i != head:
        out.append(i)
        i = int(z.next[i])
    return out


def movable_stream(z: Zone, count: int) -> tuple[np.ndarray, list[tuple[int, int, int]], int]:
    """What ``count`` calls of ``__rmqueue(order 0, MOVABLE)`` served from MOVABLE/CMA lists give.

    Read only.  Returns the page indices in allocation order (fewer than
    ``count`` when the lists run out), the blocks they come from as
    ``(head index, order, list migratetype)`` in that order, and the number
    of pages on the MOVABLE and CMA free lists altogether.
    """
    heads = np.flatnonzero(z.order >= 0)
    mts = z.mtype[heads]
    sel = (mts == MOVABLE) | (mts == CMA)
    total = int((1 << z.order[heads[sel]].astype(np.int64)).sum())
    blocks: list[tuple[int, int, int]] = []
    parts: list[np.ndarray] = []
    got = 0
    for mt in (MOVABLE, CMA):
        for k in range(z.geometry.max_order):
            if got >= count:
                break
            head = z.free_sentinel(k, mt)
            i = int(z.next[head])
            size = 1 << k
            while i != head and got < count:
                blocks.append((i, k, mt))
                take = min(size, count - got)
                parts.append(np.arange(i, i + take, dtype=np.int64))
                got += take
                i = int(z.next[i])
    pages = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return pages, blocks, total


def _take_stream(z: Zone, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Take ``count`` pages off the MOVABLE/CMA lists in ``__rmqueue()`` order (see the module doc).

    The caller has checked the lists hold them.  Returns page indices and
    the list migratetype of each.
    """
    pages, blocks, _ = movable_stream(z, count)
    if pages.size < count:
        raise AssertionError("bulk target stream: the free lists do not hold the pages")
    if not blocks:
        return pages, np.zeros(0, dtype=np.uint8)
    idx = np.array([b[0] for b in blocks], dtype=np.int64)
    orders = np.array([b[1] for b in blocks], dtype=np.int64)
    mts = np.array([b[2] for b in blocks], dtype=np.uint8)
    sizes = 1 << orders
    used = int(sizes.sum()) - count          # pages of the last block not handed out
    _unlink_free_heads(z, idx[:-1] if used else idx)
    if used:
        i, k, mt = int(idx[-1]), int(orders[-1]), int(mts[-1])
        _del_free(z, i)
        take = (1 << k) - used
        # what expand() leaves of a partly used block: one block per order, on empty lists
        s = z.start_pfn
        j = i + take
        while j < i + (1 << k):
            o = ((s + j) & -(s + j)).bit_length() - 1
            while j + (1 << o) > i + (1 << k):
                o -= 1
            _add_free(z, j, o, mt)
            j += 1 << o
    return pages, np.repeat(mts, np.minimum(sizes, count - np.concatenate(([0], np.cumsum(sizes)[:-1]))))


def bulk_alloc_targets(z: Zone, n: int) -> np.ndarray:
    """``n`` order-0 MOVABLE pages exactly as ``n`` calls of ``buffered_rmqueue()`` give them.

    Pages come from the per-CPU Movable list (head first), refilled
    ``pcp->batch`` pages at a time by rmqueue_bulk(); the refills are
    consecutive stretches of one ``__rmqueue()`` stream, so they are taken
    together and what is left of the last refill goes on the per-CPU list
    in allocation order.  The caller has checked that every refill is
    served whole by the MOVABLE and CMA lists.  Returns absolute PFNs.
    """
    s = z.start_pfn
    head = z.pcp_sentinel(MOVABLE)
    taken = np.asarray(_pcp_movable(z)[:n], dtype=np.int64)
    if taken.size:
        list_del_many(z, taken)
        z.pcp_count -= int(taken.size)
        z.touch_many(taken)
    need = n - int(taken.size)
    if need <= 0:
        return s + taken
    batch = z.pcp_batch
    fetch = -(-need // batch) * batch
    pages, mts = _take_stream(z, fetch)
    z.nr_free_pages -= fetch
    z.mtype[pages] = mts
    left = pages[need:]
    if left.size:
        z.kind[left] = PCP
        list_splice_head(z, head, left)   # the list was empty
        z.pcp_count += int(left.size)
    z.touch_many(pages)
    return s + np.concatenate([taken, pages[:need]])


def bulk_pagevec_add(z: Zone, pfns: np.ndarray) -> np.ndarray:
    """``putback_lru_page()`` of each page of ``pfns`` in order (``__lru_cache_add()`` + ``put_page()``).

    Pages keep their reference counts (the pagevec's reference replaces the
    isolation one).  A full pagevec (14 pages) is flushed before the next
    page goes in, so everything up to the start of the last group of 14 is
    flushed: it joins the LRU and drops the pagevec's reference.  Returns
    the pages that reached 0 (absolute PFNs; the caller frees them).
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
        return np.zeros(0, dtype=np.int64)
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
    if not old_kept and content:
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
    return s + dead


def pageblocks_free_ok(z: Zone, b0: int, b1: int) -> np.ndarray:
    """For pageblocks ``b0 .. b1-1`` (indices into ``z.pb``): may pages be freed into it late?

    True when the block is ISOLATE, lies wholly inside the zone, and every
    free block in it is on an Isolate list, at most pageblock order (and
    MAX_ORDER-1), covers only pages of the block, and has no free buddy of
    its own order that it should have merged with.  See the module doc,
    point 4.
    """
    g = z.geometry
    pbo, pbn = g.pageblock_order, g.pageblock_nr_pages
    s, n = z.start_pfn, z.spanned_pages
    cap = min(g.max_order - 1, pbo)
    nb = b1 - b0
    base = ((s >> pbo) + b0 + np.arange(nb, dtype=np.int64)) << pbo   # absolute first PFN
    ok = (z.pb[b0:b1] == ISOLATE) & (base >= s) & (base + pbn <= s + n)
    if not ok.any():
        return ok
    lo = int(base[0]) - s
    hi = int(base[-1]) + pbn - s
    lo_c, hi_c = max(lo, 0), min(hi, n)
    orders = z.order[lo_c:hi_c]
    heads = np.flatnonzero(orders >= 0)
    o = orders[heads].astype(np.int64)
    hblk = (heads + lo_c - lo) >> pbo
    bad = (o > cap) | (z.mtype[lo_c + heads] != ISOLATE)
    # an unmerged buddy pair below the cap
    buddy = ((heads + lo_c + s) ^ (1 << o)) - s - lo_c
    inside = (buddy >= 0) & (buddy < hi_c - lo_c)
    bo = np.full(heads.size, -1, dtype=np.int64)
    bo[inside] = orders[buddy[inside]]
    bad |= (bo == o) & (o < cap)
    out = ok.copy()
    out[hblk[bad]] = False
    # every free page of a block is covered by a free block headed in it
    sizes = np.bincount(hblk, weights=(1 << o), minlength=nb)[:nb].astype(np.int64)
    kf = z.kind[lo_c:hi_c] == FREE
    if lo_c == lo and hi_c == hi:
        fr = np.count_nonzero(kf.reshape(nb, pbn), axis=1)
    else:
        fr = np.bincount((np.arange(lo_c, hi_c) - lo) >> pbo, weights=kf, minlength=nb)[:nb]
    out &= sizes == fr.astype(np.int64)
    return out


def bulk_free_isolated(z: Zone, pfns: np.ndarray) -> None:
    """Free order-0 pages (reference count already 0) of pageblocks that pass :func:`pageblocks_free_ok`.

    The same free blocks, lists (up to the order of blocks on the Isolate
    lists) and counters as ``free_hot_cold_page()`` on each, which for an
    isolated block is ``__free_one_page(..., MIGRATE_ISOLATE)``: the free
    pages of each block are cut afresh into the unique partition with no
    two free buddies (capped at pageblock order).
    """
    idx = np.asarray(pfns, dtype=np.int64) - z.start_pfn     # distinct pages
    if idx.size == 0:
        return
    s = z.start_pfn
    g = z.geometry
    pbo, pbn = g.pageblock_order, g.pageblock_nr_pages
    cap = min(g.max_order - 1, pbo)
    bi = ((idx + s) >> pbo) - (s >> pbo)
    b0, b1 = int(bi.min()), int(bi.max()) + 1
    blocks = b0 + np.flatnonzero(np.bincount(bi - b0, minlength=b1 - b0))
    good = pageblocks_free_ok(z, b0, b1)
    if not good[blocks - b0].all():
        raise AssertionError("bulk_free_isolated: a pageblock breaks the preconditions")
    lo = (((s >> pbo) + b0) << pbo) - s
    hi = (((s >> pbo) + b1) << pbo) - s
    inblk = np.zeros(hi - lo, dtype=bool)
    inblk.reshape(-1, pbn)[blocks - b0] = True
    orders = z.order[lo:hi]
    heads = np.flatnonzero((orders >= 0) & inblk)
    _unlink_free_heads(z, lo + heads)
    z.kind[idx] = FREE
    z.count[idx] = 0
    z.flags[idx] = 0
    z.comp[idx] = -1
    nh, no, _ = aligned_blocks((z.kind[lo:hi] == FREE) & inblk, s + lo, cap)
    nh = nh + lo
    z.order[nh] = no
    z.mtype[nh] = ISOLATE
    for oo in np.unique(no).tolist():
        seq = nh[no == oo]
        list_splice_head(z, z.free_sentinel(oo, ISOLATE), seq)
        z.nr_free[oo] += seq.size
    if z._tracking:
        z.touch_many(idx)
        z.touch_many(lo + heads)
        z.touch_many(nh)
