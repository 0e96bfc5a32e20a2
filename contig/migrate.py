"""Emptying a range: isolate LRU pages, drop clean page cache, migrate the rest; grab free pages.

Models, Linux v4.4:

* ``isolate_migratepages_block()`` / ``isolate_migratepages_range()``,
  ``isolate_freepages_block()`` (strict) / ``isolate_freepages_range()``,
  ``release_freepages()`` (mm/compaction.c);
* ``reclaim_clean_pages_from_list()`` (mm/vmscan.c);
* ``migrate_pages()``, ``unmap_and_move()``, ``putback_movable_pages()``
  (mm/migrate.c);
* ``alloc_migrate_target()`` (mm/page_isolation.c).

Simplified: no ``too_many_isolated()`` throttling, no balloon or non-LRU
movable pages (4.8+ anyway), no writeback or page locks: a page migrates on
the first try unless the caller names it in ``busy_pfns`` (then every try
returns -EAGAIN, like a page stuck under writeback; the kernel would wait for
the lock or the writeback from the third pass on; a busy clean page-cache
page is not dropped either, see :func:`reclaim_clean_pages_from_list`).  Migration targets come
from an ordinary order-0 MOVABLE allocation with no watermarks, reclaim or
compaction: it fails (-ENOMEM) only when no free page is left outside the
isolated blocks.  Page contents are not modelled: a migrated page's new
copy takes the old page's kind.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

import numpy as np

from .argcheck import ArgTypeError, check_args
from .buddy import split_free_page
from .pcp import __free_page, buffered_rmqueue, free_hot_cold_page, putback_lru_page
from .trace import emit
from .zone import FREE, HOLE, OWNED, PCP, PG_ANON, PG_HEAD, PG_LRU, PG_TAIL, MigrateType, Zone

__all__ = [
    "COMPACT_CLUSTER_MAX",
    "CompactControl",
    "alloc_migrate_target",
    "isolate_freepages_block",
    "isolate_freepages_range",
    "isolate_migratepages_block",
    "isolate_migratepages_range",
    "migrate_pages",
    "pageblock_pfn_to_page",
    "putback_movable_pages",
    "reclaim_clean_pages_from_list",
    "release_freepages",
    "unmap_and_move",
]

#: Pages isolated per migration batch (COMPACT_CLUSTER_MAX = SWAP_CLUSTER_MAX).
COMPACT_CLUSTER_MAX = 32
#: Passes of migrate_pages() over its list.
MIGRATE_PASSES = 10
EAGAIN, ENOMEM, EBUSY = errno.EAGAIN, errno.ENOMEM, errno.EBUSY
MIGRATEPAGE_SUCCESS = 0


@dataclass
class CompactControl:
    """The parts of ``struct compact_control`` alloc_contig_range() uses, plus model bookkeeping."""

    zone: Zone
    migratepages: list[int] = field(default_factory=list)   # index 0 is the list head
    nr_migratepages: int = 0
    nr_freepages: int = 0
    busy_pfns: frozenset[int] = frozenset()
    migrated: dict[int, int] = field(default_factory=dict)
    moves: dict[int, int] = field(default_factory=dict)     # this migrate_pages() call's
    reclaimed: list[int] = field(default_factory=list)
    skipped: dict[str, list[int]] = field(default_factory=lambda: {
        "compound": [], "not_lru": [], "pinned": []})
    batches: int = 0
    bulk: bool = False      # do the first batches with contig.bulk where provably equivalent


def _cc(cc: object) -> Zone:
    """The zone of a CompactControl; ArgTypeError for anything else."""
    if not isinstance(cc, CompactControl):
        raise ArgTypeError(f"cc must be a CompactControl, not {type(cc).__name__}")
    return cc.zone


def _zone_range(z: Zone, start_pfn: int, end_pfn: int) -> tuple[int, int]:
    """Check a PFN range that must lie inside the zone (the scanners index its arrays)."""
    start_pfn, end_pfn = check_args(z, start_pfn=start_pfn, end_pfn=end_pfn)
    if not z.start_pfn <= start_pfn <= end_pfn <= z.end_pfn:
        raise ValueError(f"[start_pfn, end_pfn) = [{start_pfn}, {end_pfn}) is not inside zone "
                         f"{z.name} [{z.start_pfn}, {z.end_pfn})")
    return start_pfn, end_pfn


def pageblock_pfn_to_page(z: Zone, start_pfn: int, end_pfn: int) -> int | None:
    """``start_pfn`` if both it and ``end_pfn - 1`` are valid pages of the zone, else None.

    Models pageblock_pfn_to_page(), mm/compaction.c, v4.4 (it uses
    pfn_valid(), so a hole at either end makes the whole window unusable).
    """
    start_pfn, end_pfn = check_args(z, start_pfn=start_pfn, end_pfn=end_pfn)
    if not (z.pfn_valid(start_pfn) and z.pfn_valid(end_pfn - 1)):
        return None
    return start_pfn


def isolate_migratepages_block(cc: CompactControl, low_pfn: int, end_pfn: int) -> int:
    """Take LRU pages of ``[low_pfn, end_pfn)`` off the LRU onto ``cc.migratepages``.

    Models isolate_migratepages_block(), mm/compaction.c, Linux v4.4, in
    MIGRATE_SYNC mode with the skip hints ignored.  Skips free blocks whole,
    compound pages (THP, hugetlb) whole, pages not on the LRU, and anonymous
    pages with more references than mappings (pinned).  Stops after
    COMPACT_CLUSTER_MAX pages.  Each page taken goes to the list head.
    Returns the next PFN to scan.
    """
    low_pfn, end_pfn = _zone_range(_cc(cc), low_pfn, end_pfn)
    z = cc.zone
    s = z.start_pfn
    lo, hi = low_pfn - s, end_pfn - s
    if hi <= lo:
        return end_pfn
    # Vectorised: skipping free blocks and compound pages whole never jumps over a page
    # that could be isolated, so the pages taken are the first ones in the window that
    # are on the LRU, not compound and not pinned -- exactly what the page-by-page walk takes.
    flags = z.flags[lo:hi]
    kind = z.kind[lo:hi]
    lru = (flags & PG_LRU) != 0
    compound = (flags & (PG_HEAD | PG_TAIL)) != 0
    pinned = lru & ~compound & ((flags & PG_ANON) != 0) & (z.count[lo:hi] > 1)
    # __isolate_lru_page() takes a reference with get_page_unless_zero(): a page
    # bad_page() left on the LRU with count 0 is not taken
    ok = lru & ~compound & ~pinned & (z.count[lo:hi] > 0)
    room = COMPACT_CLUSTER_MAX - cc.nr_migratepages
    take = np.flatnonzero(ok)[:room]
    stop = hi if take.size < room else lo + int(take[-1]) + 1
    n = stop - lo
    # what the walk passed over, for the narration
    busy = ~lru[:n] & ~compound[:n] & (kind[:n] != FREE) & (kind[:n] != PCP) & (kind[:n] != HOLE)
    cc.skipped["not_lru"].extend((low_pfn + np.flatnonzero(busy)).tolist())
    cc.skipped["pinned"].extend((low_pfn + np.flatnonzero(pinned[:n])).tolist())
    heads = np.flatnonzero((flags[:n] & PG_HEAD) != 0)
    comp_first = heads.tolist()
    if n and flags[0] & PG_TAIL:
        comp_first.insert(0, 0)
    cc.skipped["compound"].extend(low_pfn + c for c in comp_first)
    if take.size:
        idx = lo + take
        z.count[idx] += 1                      # __isolate_lru_page(): a reference ...
        z.flags[idx] &= 0xFF ^ PG_LRU          # ... and off the LRU
        if z._tracking:
            z.touch_many(idx)
        cc.migratepages[0:0] = (s + idx[::-1]).tolist()   # each one went to the list head
        cc.nr_migratepages += int(take.size)
    return s + stop


def isolate_migratepages_range(cc: CompactControl, start_pfn: int, end_pfn: int) -> int:
    """Scan ``[start_pfn, end_pfn)`` pageblock by pageblock until a batch is full.

    Models isolate_migratepages_range(), mm/compaction.c, v4.4.  A window
    whose first or last page is invalid is skipped.  Returns the next PFN
    to scan (never 0 here: the model's fatal signal is seen by the caller).
    """
    start_pfn, end_pfn = _zone_range(_cc(cc), start_pfn, end_pfn)
    z = cc.zone
    pbn = z.geometry.pageblock_nr_pages
    pfn = start_pfn
    block_end = ((pfn + 1 + pbn - 1) // pbn) * pbn
    while pfn < end_pfn:
        block_end = min(block_end, end_pfn)
        if pageblock_pfn_to_page(z, pfn, block_end) is not None:
            pfn = isolate_migratepages_block(cc, pfn, block_end)
            if cc.nr_migratepages == COMPACT_CLUSTER_MAX:
                break
        pfn = block_end
        block_end += pbn
    return pfn


def reclaim_clean_pages_from_list(cc: CompactControl) -> int:
    """Drop clean page-cache pages from the migration list instead of migrating them.

    Models reclaim_clean_pages_from_list() and the part of
    shrink_page_list() it relies on, mm/vmscan.c, v4.4.  Clean file pages
    (``F``) leave the page cache and are freed (cold, in ascending PFN
    order here); they land on the Isolate lists.  A clean page named in
    ``busy_pfns`` (locked, or under writeback) is kept: shrink_page_list()
    keeps a page it cannot trylock_page() and, in this direct reclaim, a
    page under writeback (it marks it PageReclaim and moves on).  Kept
    pages are added to the head of shrink_page_list()'s return list one by
    one and that list is spliced back at the head of the migration list,
    so they come first, in reverse order; they then go through
    migrate_pages() like any other page.  Returns the number freed.
    """
    _cc(cc)
    z = cc.zone
    s = z.start_pfn
    clean = [p for p in cc.migratepages if z.kind[p - s] == ord("F")]
    if not clean:
        return 0
    kept = [p for p in clean if p in cc.busy_pfns]
    if kept:
        clean = [p for p in clean if p not in cc.busy_pfns]
    others = [p for p in cc.migratepages if z.kind[p - s] != ord("F")]
    cc.migratepages[:] = kept[::-1] + others
    if not clean:
        return 0
    for p in reversed(clean):  # shrink_page_list() frees them in list-reversed order
        i = p - s
        z.count[i] = 0  # page cache reference and isolation reference both gone
        z.touch(i)
        free_hot_cold_page(z, p, True)
        cc.reclaimed.append(p)
    return len(clean)


def alloc_migrate_target(z: Zone, pfn: int) -> int | None:
    """Allocate an order-0 MOVABLE page to copy ``pfn`` into; None when there is none.

    Models alloc_migrate_target(), mm/page_isolation.c, v4.4:
    ``alloc_page(GFP_USER | __GFP_MOVABLE)``, i.e. the per-CPU Movable
    list, then the Movable free lists, the CMA lists, and the fallback
    types.  Isolated blocks are never used.  No watermarks (simplified).
    """
    (pfn,) = check_args(z, pfn=pfn)
    new = buffered_rmqueue(z, 0, MigrateType.MOVABLE)
    if new is None:
        return None
    i = new - z.start_pfn
    z.kind[i] = ord("M")
    z.count[i] = 1
    z.flags[i] = 0
    z.comp[i] = -1
    z.touch(i)
    return new


def unmap_and_move(cc: CompactControl, pfn: int) -> int:
    """Migrate one isolated page: 0, -EAGAIN, or -ENOMEM.

    Models unmap_and_move(), mm/migrate.c, Linux v4.4 (with put_new_page
    NULL, as alloc_contig_range() passes).  A new page is allocated for
    every attempt.  Unless the result is -EAGAIN the old page leaves the
    list and goes back through putback_lru_page() (into the pagevec; after
    a successful move its last reference is the pagevec's, so the next
    pagevec flush frees it).  The new page always goes through
    putback_lru_page() too: used, it joins the LRU on the next flush;
    unused, that flush frees it.
    """
    (pfn,) = check_args(_cc(cc), pfn=pfn)
    if pfn not in cc.migratepages:
        raise ValueError(f"pfn: PFN {pfn} is not on the migration list")
    z = cc.zone
    s = z.start_pfn
    new = alloc_migrate_target(z, pfn)
    if new is None:
        return -ENOMEM
    i, j = pfn - s, new - s
    if pfn in cc.busy_pfns:
        rc = -EAGAIN
    else:
        # unmap the old page, copy, map the new one
        z.kind[j] = z.kind[i]
        z.flags[j] = z.flags[i] & PG_ANON
        z.count[j] += 1          # the mapping now holds the new page
        z.count[i] -= 1          # and no longer the old one
        z.flags[i] &= 0xFF ^ PG_ANON   # the old page is unmapped (mapcount 0)
        z.touch(i)
        z.touch(j)
        cc.migrated[pfn] = new
        cc.moves[pfn] = new
        rc = MIGRATEPAGE_SUCCESS
    if rc != -EAGAIN:
        cc.migratepages.remove(pfn)
        putback_lru_page(z, pfn)
    putback_lru_page(z, new)
    return rc


def migrate_pages(cc: CompactControl) -> int:
    """Try up to 10 passes over ``cc.migratepages``; pages not migrated, or -ENOMEM.

    Models migrate_pages(), mm/migrate.c, Linux v4.4 (MIGRATE_SYNC,
    reason MR_CMA).  A pass goes on while some page returned -EAGAIN; such
    pages stay on the list.  -ENOMEM (no target page) stops at once with
    the rest still on the list.
    """
    _cc(cc)
    nr_failed = 0
    retry = 1
    passes = 0
    while passes < MIGRATE_PASSES and retry:
        retry = 0
        for pfn in list(cc.migratepages):
            rc = unmap_and_move(cc, pfn)
            if rc == -ENOMEM:
                return -ENOMEM
            if rc == -EAGAIN:
                retry += 1
            elif rc != MIGRATEPAGE_SUCCESS:
                nr_failed += 1
        passes += 1
    return nr_failed + retry


def _scan_batches(z: Zone, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's migration batches over ``[start, end)``, when nothing changes the range meanwhile.

    Returns the candidate offsets (from ``start``) in scan order, the
    per-offset mask of the pages the scan walks over: windows
    ``pageblock_pfn_to_page()`` accepts, less the rest of a window that a
    batch resumed in on a hole.  Batch ``j`` is ``cand[32*j : 32*j + 32]``.
    """
    s = z.start_pfn
    pbn = z.geometry.pageblock_nr_pages
    lo, hi = start - s, end - s
    L = hi - lo
    kind = z.kind[lo:hi]
    flags = z.flags[lo:hi]
    hole = kind == HOLE
    # the windows [a, b) of isolate_migratepages_range(): the rest of start's block, then blocks
    first = start - start % pbn
    wb = np.minimum(np.arange(first + pbn, end + pbn, pbn, dtype=np.int64), end) - start
    wb = wb[: int(np.searchsorted(wb, L)) + 1]
    wa = np.concatenate(([0], wb[:-1]))
    wvalid = ~hole[wa] & ~hole[wb - 1]
    valid = np.repeat(wvalid, wb - wa)
    lru = (flags & PG_LRU) != 0
    compound = (flags & (PG_HEAD | PG_TAIL)) != 0
    count = z.count[lo:hi]
    pinned = lru & ~compound & ((flags & PG_ANON) != 0) & (count > 1)
    # (a page with no reference left on the LRU is not taken: get_page_unless_zero())
    cand = np.flatnonzero(lru & ~compound & ~pinned & valid & (count > 0))
    k0 = 0
    while True:
        last = np.arange(COMPACT_CLUSTER_MAX * (k0 + 1) - 1, cand.size, COMPACT_CLUSTER_MAX)
        if last.size == 0:
            break
        p = cand[last] + 1
        we = np.minimum(((start + cand[last]) // pbn + 1) * pbn, end) - start
        bad = p < we
        bad[bad] = hole[p[bad]]
        if not bad.any():
            break
        j = int(np.argmax(bad))
        pj, wej = int(p[j]), int(we[j])
        valid[pj:wej] = False
        cut_at = int(last[j]) + 1
        cand = np.concatenate([cand[:cut_at], cand[cut_at:][cand[cut_at:] >= wej]])
        k0 = cut_at // COMPACT_CLUSTER_MAX
    return cand, valid


def _migrate_range_bulk(cc: CompactControl, start: int, end: int,
                        max_batches: int | None = None) -> tuple[int, int] | None:
    """The first batches of __alloc_contig_migrate_range() at once; ``(next pfn, batches)`` or None.

    Computes the kernel's batches over ``[start, end)`` (:func:`_scan_batches`)
    and does, with a few numpy operations, the longest prefix of them for
    which the page-by-page result is provably the same (see
    :mod:`contig.bulk`): no busy page, enough MOVABLE/CMA pages for every
    per-CPU refill, no target inside the range, every pageblock that gets a
    page freed fit for a late free (:func:`contig.bulk.pageblocks_free_ok`).
    At most ``max_batches`` batches (the fatal signal comes after).  The
    pages freed are put on the Isolate lists when the prefix ends.  When
    every batch is done, so is the scan after a full last batch, which finds
    nothing.  Returns the PFN the next scan starts at and the number of
    loop iterations done (one per batch, one for that last scan: each one
    check for a fatal signal), or None having changed nothing.
    """
    from .bulk import bulk_alloc_targets, bulk_free_isolated, bulk_pagevec_add

    z = cc.zone
    s = z.start_pfn
    g = z.geometry
    CM = COMPACT_CLUSTER_MAX
    if cc.migratepages or int(z.next[z.pvec_sentinel]) != z.pvec_sentinel:
        return None
    if max_batches is not None and max_batches <= 0:
        return None
    lo, hi = start - s, end - s
    cand, valid = _scan_batches(z, start, end)
    nbatch = -(-cand.size // CM)
    m = _prefix_batches(cc, start, end, cand, nbatch if max_batches is None else min(nbatch, max_batches))
    k = min(m * CM, cand.size)
    sel = cand[:k]
    L = hi - lo
    # a full last batch stops after its last page; a short one scanned to the end
    resume = (int(sel[-1]) + 1 if k == m * CM else L) if m else 0
    loops = m
    if m == nbatch and resume < L and (max_batches is None or max_batches > m):
        resume = L          # and the scan after the last batch, which finds nothing
        loops += 1
    if loops == 0:
        return None
    # what the scan passed over, for the narration
    scanned = valid.copy()
    scanned[resume:] = False
    flags = z.flags[lo:hi]
    kind = z.kind[lo:hi]
    lru = (flags & PG_LRU) != 0
    compound = (flags & (PG_HEAD | PG_TAIL)) != 0
    pinned = lru & ~compound & ((flags & PG_ANON) != 0) & (z.count[lo:hi] > 1)
    busy_pages = scanned & ~lru & ~compound & (kind != FREE) & (kind != PCP) & (kind != HOLE)
    cc.skipped["not_lru"].extend((start + np.flatnonzero(busy_pages)).tolist())
    cc.skipped["pinned"].extend((start + np.flatnonzero(scanned & pinned)).tolist())
    # compound: heads scanned, and every scanned stretch that starts on a tail page
    pbn = g.pageblock_nr_pages
    seg = np.arange(pbn - start % pbn, L, pbn, dtype=np.int64)
    seg = np.concatenate(([0], seg))
    rs = sel[CM - 1::CM] + 1                      # where each later batch resumes
    rs = rs[(rs < resume) & ((start + rs) % pbn != 0)]
    seg = np.union1d(seg, rs)
    seg = seg[seg < resume]
    seg = seg[scanned[seg] & ((flags[seg] & PG_TAIL) != 0)]
    heads = np.flatnonzero(scanned & ((flags & PG_HEAD) != 0))
    cc.skipped["compound"].extend((start + np.union1d(heads, seg)).tolist())
    cc.batches += loops
    # isolate them all: a reference each, off the LRU
    idx = lo + sel
    z.count[idx] += 1
    z.flags[idx] &= 0xFF ^ PG_LRU
    z.touch_many(idx)
    # each batch's list is head first: descending PFN
    pad = (-k) % CM
    order = np.concatenate([sel, np.full(pad, -1)]).reshape(-1, CM)[:, ::-1].ravel()
    order = order[order >= 0]
    files = order[kind[order] == ord("F")]
    movers = order[kind[order] != ord("F")]
    freed = [np.zeros(0, dtype=np.int64)]
    if files.size:
        # reclaim_clean_pages_from_list() frees each batch's in ascending PFN order
        fs = np.sort(files)
        cc.reclaimed.extend((start + fs).tolist())
        z.count[lo + fs] = 0
        freed.append(s + lo + fs)
    if movers.size:
        targets = bulk_alloc_targets(z, int(movers.size))
        src = start + movers
        dsti = targets - s
        srci = lo + movers
        z.kind[dsti] = z.kind[srci]
        z.flags[dsti] = z.flags[srci] & PG_ANON
        z.comp[dsti] = -1
        z.count[dsti] = 2          # the allocation's reference and the mapping's
        z.count[srci] -= 1         # the mapping moved away; the isolation reference is left
        z.flags[srci] &= 0xFF ^ PG_ANON   # the old page is unmapped (as unmap_and_move() does)
        z.touch_many(dsti)
        cc.migrated.update(zip(src.tolist(), targets.tolist(), strict=True))
        adds = np.empty(2 * movers.size, dtype=np.int64)
        adds[0::2] = src
        adds[1::2] = targets
        freed.append(bulk_pagevec_add(z, adds))
    bulk_free_isolated(z, np.concatenate(freed))
    cc.nr_migratepages = 0
    return start + resume, loops


def _prefix_batches(cc: CompactControl, start: int, end: int, cand: np.ndarray, m: int) -> int:
    """How many of the first ``m`` batches of ``cand`` the bulk path may do (conditions: contig.bulk)."""
    from .bulk import movable_stream, pageblocks_free_ok

    z = cc.zone
    s = z.start_pfn
    pbo = z.geometry.pageblock_order
    CM = COMPACT_CLUSTER_MAX
    lo, hi = start - s, end - s
    if m == 0:
        return 0
    # 2. busy pages: the first batch holding one is done page by page
    if cc.busy_pfns:
        busy = np.fromiter(cc.busy_pfns, dtype=np.int64) - start
        pos = np.flatnonzero(np.isin(cand[: m * CM], busy))
        if pos.size:
            m = min(m, int(pos[0]) // CM)
    # 4. every page freed must go to a pageblock fit for a late free
    b0 = (start >> pbo) - (s >> pbo)
    b1 = ((end - 1) >> pbo) - (s >> pbo) + 1
    okb = pageblocks_free_ok(z, b0, b1)
    srcblk = ((start + cand[: m * CM]) >> pbo) - (s >> pbo) - b0
    bad = np.flatnonzero(~okb[srcblk])
    if bad.size:
        m = min(m, int(bad[0]) // CM)
    if m == 0:
        return 0
    # 3. targets: only refills the MOVABLE/CMA lists serve whole
    mover = z.kind[lo:hi][cand[: m * CM]] != ord("F")
    cum = np.cumsum(mover)
    ends = np.minimum(np.arange(1, m + 1) * CM, cand.size) - 1
    per_batch = cum[ends]                       # movers up to the end of each batch
    pcp = _pcp_list(z)
    have = min(len(pcp), int(per_batch[-1]))
    _pages, _blocks, total = movable_stream(z, 0)
    servable = have + (total // z.pcp_batch) * z.pcp_batch
    m = min(m, int(np.searchsorted(per_batch, servable, side="right")))
    if m == 0:
        return 0
    # 1. no target inside the range
    n_move = int(per_batch[m - 1])
    pcp_pages = np.asarray(pcp[:n_move], dtype=np.int64)
    stream, _blocks, _ = movable_stream(z, n_move - pcp_pages.size)
    tgt = np.concatenate([pcp_pages, stream])
    inr = np.flatnonzero((tgt >= lo) & (tgt < hi))
    if inr.size:
        m = min(m, int(np.searchsorted(per_batch, int(inr[0]), side="right")))
    return m


def _pcp_list(z: Zone) -> list[int]:
    from .bulk import _pcp_movable
    return _pcp_movable(z)


def putback_movable_pages(cc: CompactControl) -> None:
    """Return every page left on the migration list towards the LRU.

    Models putback_movable_pages(), mm/migrate.c, v4.4.
    """
    _cc(cc)
    z = cc.zone
    for pfn in list(cc.migratepages):
        cc.migratepages.remove(pfn)
        putback_lru_page(z, pfn)
    cc.nr_migratepages = 0


def isolate_freepages_block(cc: CompactControl, start_pfn: int, end_pfn: int,
                            freelist: list[range]) -> tuple[int, int]:
    """Strictly take every free page of ``[start_pfn, end_pfn)``; (pages taken, where it stopped).

    Models isolate_freepages_block(..., strict=true), mm/compaction.c,
    Linux v4.4: every free block met is split into order-0 pages with
    refcount 1 (split_free_page()) and added to ``freelist`` head first; a
    hole, a compound page or any page that is not a free block head stops
    the scan, and then the block counts as 0 pages taken (the caller frees
    what was taken).
    """
    start_pfn, end_pfn = _zone_range(_cc(cc), start_pfn, end_pfn)
    if not isinstance(freelist, list):
        raise ArgTypeError(f"freelist must be a list, not {freelist!r}")
    z = cc.zone
    s = z.start_pfn
    blockpfn = start_pfn
    total = 0
    while blockpfn < end_pfn:
        i = blockpfn - s
        if z.kind[i] == HOLE or z.flags[i] & (PG_HEAD | PG_TAIL) or z.order[i] < 0:
            break
        n = split_free_page(z, blockpfn, OWNED)
        total += n
        freelist.append(range(blockpfn + n - 1, blockpfn - 1, -1))   # each page to the list head
        cc.nr_freepages += n
        blockpfn += n
    if blockpfn < end_pfn:
        total = 0
    return total, blockpfn


def release_freepages(z: Zone, freelist: list[range]) -> int:
    """Free every page on ``freelist`` (head first); return the highest PFN.

    Models release_freepages(), mm/compaction.c, v4.4.  ``freelist`` holds
    the pages in chunks, oldest first, each chunk head first.
    """
    check_args(z)
    if not isinstance(freelist, list):
        raise ArgTypeError(f"freelist must be a list, not {freelist!r}")
    high = 0
    for chunk in reversed(freelist):
        for pfn in chunk:
            __free_page(z, pfn)
            high = max(high, pfn)
    freelist.clear()
    return high


def isolate_freepages_range(cc: CompactControl, start_pfn: int, end_pfn: int) -> int:
    """Take every page of ``[start_pfn, end_pfn)`` out of the buddy allocator; ``outer_end`` or 0.

    Models isolate_freepages_range(), mm/compaction.c, Linux v4.4: pageblock
    by pageblock, strict.  Returns one past the last page taken, which is
    ``>= end_pfn`` (more when ``end_pfn`` falls inside a free block), or 0
    after giving everything back when some page could not be taken.
    """
    start_pfn, end_pfn = _zone_range(_cc(cc), start_pfn, end_pfn)
    z = cc.zone
    pbn = z.geometry.pageblock_nr_pages
    freelist: list[range] = []
    pfn = start_pfn
    block_end = ((pfn + 1 + pbn - 1) // pbn) * pbn
    stopped_at = None
    reason = ""
    while pfn < end_pfn:
        block_end = min(block_end, end_pfn)
        if pfn >= block_end:
            block_end = ((pfn + 1 + pbn - 1) // pbn) * pbn
            block_end = min(block_end, end_pfn)
        if pageblock_pfn_to_page(z, pfn, block_end) is None:
            stopped_at = pfn if not z.pfn_valid(pfn) else block_end - 1
            reason = (f"the window [{pfn}, {block_end}) starts or ends with a hole (PFN {stopped_at}), "
                      f"so pageblock_pfn_to_page() refuses it")
            break
        isolated, where = isolate_freepages_block(cc, pfn, block_end, freelist)
        if not isolated:
            stopped_at = where
            k = chr(z.kind[where - z.start_pfn]) if z.spans(where) else "?"
            reason = (f"PFN {where} is "
                      + {"#": "a hole", ".": "not the head of a free block",
                         "T": "part of a compound page", "H": "part of a compound page"}.get(
                          k, f"in use ({k})")
                      + ", and the strict grab takes only free blocks")
            break
        pfn += isolated
        block_end += pbn
    if pfn < end_pfn:
        taken = sum(len(c) for c in freelist)
        release_freepages(z, freelist)
        emit(z, "isolate_freepages_range", start_pfn, end_pfn,
             f"{reason}; the {taken} page(s) taken so far are freed again; -EBUSY",
             outer_end=0, stop_pfn=stopped_at)
        return 0
    emit(z, "isolate_freepages_range", start_pfn, pfn,
         f"every free block from PFN {start_pfn} on is split into order-0 pages with refcount 1; "
         f"the blocks taken make up [{start_pfn}, {pfn}), so outer_end = {pfn}",
         outer_end=pfn, nr_pages=pfn - start_pfn)
    return pfn
