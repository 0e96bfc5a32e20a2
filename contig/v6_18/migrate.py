"""Migration for alloc_contig_range() as Linux 6.18 does it: order-0 pages and whole THPs.

Models, Linux 6.18: ``isolate_migratepages_block()`` /
``isolate_migratepages_range()`` with ``cc->alloc_contig`` set
(mm/compaction.c, with ``isolate_or_dissolve_huge_folio()`` of
mm/hugetlb.c), ``migrate_pages()`` with its large-folio and hugetlb rules
and ``putback_movable_pages()`` (mm/migrate.c).

What differs from v4.4 (whose order-0 code is reused: :mod:`contig.migrate`):

* with ``cc->alloc_contig`` a transparent huge page on the LRU is isolated
  whole (one list entry, counting all its pages towards the batch of
  COMPACT_CLUSTER_MAX), also when the scan starts on one of its tail pages;
  v4.4 skipped every compound page;
* ``migrate_pages()`` moves such a folio to a free block of the same order;
  when none can be allocated (-ENOMEM) the folio is split into order-0
  pages (``try_split_folio()``) which are migrated after the rest of the
  list;
* an in-use hugetlb folio (``H``) is isolated too, at the tail of the list
  (``folio_isolate_hugetlb()``: ``list_move_tail``), and moved to a fresh
  folio of its order (when none can be allocated, -ENOMEM: hugetlb folios
  are not split);
* a THP put back goes straight to the LRU (large folios are never kept in
  the per-CPU LRU batches); order-0 pages wait in the batch (``v``).

Simplified: the hugetlb pool is not modelled: the new hugetlb folio comes
from the buddy allocator and the old one goes back to it (6.18 frees it
to the pool and ``replace_free_hugepage_folios()`` then swaps it for a fresh
one: the same end state); a large folio migrates on the first try unless
named in ``busy_pfns``; the order-k target comes from the v4.4 allocator
model; gigantic hugetlb folios (above MAX_PAGE_ORDER) do not exist in the
model.
"""

from __future__ import annotations

import errno

import numpy as np

from ..migrate import (
    COMPACT_CLUSTER_MAX,
    MIGRATE_PASSES,
    MIGRATEPAGE_SUCCESS,
    CompactControl,
    pageblock_pfn_to_page,
    unmap_and_move,
)
from ..migrate import isolate_migratepages_block as _isolate_order0_block
from ..pcp import buffered_rmqueue, putback_lru_page
from ..zone import PG_ANON, PG_HEAD, PG_LRU, PG_TAIL, MigrateType, Zone
from . import page_alloc as _pa

__all__ = ["isolate_migratepages_block", "isolate_migratepages_range", "migrate_hugetlbs",
           "migrate_pages", "putback_movable_pages"]

EAGAIN, ENOMEM = errno.EAGAIN, errno.ENOMEM
_T = ord("T")
_H = ord("H")


def _is_thp_folio(z: Zone, pfn: int) -> int | None:
    """Head PFN of the large folio (THP or hugetlb) holding ``pfn``, or None."""
    i = pfn - z.start_pfn
    if z.comp[i] < 0 or z.kind[i] not in (_T, _H):
        return None
    k = int(z.comp[i])
    return (pfn >> k) << k


def isolate_migratepages_block(cc: CompactControl, low_pfn: int, end_pfn: int) -> int:
    """Isolate LRU pages and whole THPs of ``[low_pfn, end_pfn)`` until the batch is full.

    Models isolate_migratepages_block(), mm/compaction.c, Linux 6.18, with
    ``cc->alloc_contig``: order-0 pages as in v4.4 (LRU, not pinned, each to
    the list head); a THP on the LRU (met at its head or a tail) is taken
    whole, its pages counted.  The scan stops once COMPACT_CLUSTER_MAX pages
    are isolated.  Returns the next PFN to scan.
    """
    z = cc.zone
    s = z.start_pfn
    pfn = low_pfn
    while pfn < end_pfn:
        seg = z.kind[pfn - s:end_pfn - s]
        thp = np.flatnonzero((seg == _T) | (seg == _H))
        nxt = pfn + int(thp[0]) if thp.size else end_pfn
        if nxt > pfn:
            pfn = _isolate_order0_block(cc, pfn, nxt)
            if cc.nr_migratepages >= COMPACT_CLUSTER_MAX or pfn < nxt:
                return pfn
        if pfn >= end_pfn:
            break
        head = _is_thp_folio(z, pfn)
        if head is None:
            pfn += 1
            continue
        k = int(z.comp[head - s])
        h = head - s
        if z.kind[h] == _H and z.count[h] > 0 and head not in cc.migratepages:
            z.count[h] += 1                     # isolate_hugetlb(): in use, migratable hstate
            z.touch(h)
            # folio_isolate_hugetlb() puts it at the list's tail (list_move_tail, mm/hugetlb.c,
            # 6.18), unlike an LRU folio, which goes to the head (compaction.c:1206)
            cc.migratepages.append(head)
            cc.nr_migratepages += 1 << k
        elif z.kind[h] == _T and z.flags[h] & PG_LRU:
            z.count[h] += 1                     # folio_try_get() + folio_test_clear_lru()
            z.flags[h] &= 0xFF ^ PG_LRU
            z.touch(h)
            cc.migratepages.insert(0, head)
            cc.nr_migratepages += 1 << k
        else:
            cc.skipped["not_lru"].append(head)
        pfn = head + (1 << k)
        if cc.nr_migratepages >= COMPACT_CLUSTER_MAX:
            return pfn
    return end_pfn


def isolate_migratepages_range(cc: CompactControl, start_pfn: int, end_pfn: int) -> int:
    """Scan ``[start_pfn, end_pfn)`` pageblock by pageblock until a batch is full.

    Models isolate_migratepages_range(), mm/compaction.c, Linux 6.18 (the
    next PFN; errors other than a fatal signal are not modelled).
    """
    z = cc.zone
    pbn = z.geometry.pageblock_nr_pages
    pfn = start_pfn
    block_end = (pfn // pbn + 1) * pbn
    while pfn < end_pfn:
        block_end = min(block_end, end_pfn)
        if pageblock_pfn_to_page(z, pfn, block_end) is not None:
            pfn = isolate_migratepages_block(cc, pfn, block_end)
            if cc.nr_migratepages >= COMPACT_CLUSTER_MAX:
                break
        pfn = max(pfn, block_end)
        block_end = (pfn // pbn + 1) * pbn
    return pfn


def _migrate_thp(cc: CompactControl, head: int) -> int:
    """Move one isolated THP to a free block of its order: 0, -EAGAIN or -ENOMEM."""
    z = cc.zone
    s = z.start_pfn
    k = int(z.comp[head - s])
    n = 1 << k
    if head in cc.busy_pfns:
        return -EAGAIN
    new = buffered_rmqueue(z, k, MigrateType.MOVABLE)
    if new is None:
        return -ENOMEM
    j = new - s
    kind = int(z.kind[i := head - s])
    z.kind[j:j + n] = kind
    z.comp[j:j + n] = k
    z.flags[j:j + n] = PG_TAIL
    # a new THP goes straight to the LRU; a hugetlb folio is never on it
    # (a large folio of clean page cache stays one: its head keeps PG_ANON clear)
    z.flags[j] = PG_HEAD | PG_LRU | (int(z.flags[head - s]) & PG_ANON) if kind == _T else PG_HEAD
    z.count[j:j + n] = 0
    z.count[j] = 1                               # the mapping
    z.touch_range(j, j + n)
    cc.migrated[head] = new
    cc.moves[head] = new
    cc.migratepages.remove(head)
    z.count[i] = 0                               # mapping and isolation references dropped
    _pa.__free_pages_ok(z, head, k)              # the old folio is freed whole (6.18's path)
    return MIGRATEPAGE_SUCCESS


def _split_thp(cc: CompactControl, head: int) -> list[int]:
    """try_split_folio(): the isolated THP becomes isolated order-0 pages (not on the LRU)."""
    z = cc.zone
    s = z.start_pfn
    k = int(z.comp[head - s])
    i, n = head - s, 1 << k
    z.kind[i:i + n] = ord("M")
    z.comp[i:i + n] = -1
    z.flags[i:i + n] = PG_ANON
    z.count[i:i + n] = 2                         # each page: its mapping and the isolation
    z.touch_range(i, i + n)
    cc.migratepages.remove(head)
    return list(range(head, head + n))


def migrate_hugetlbs(cc: CompactControl, folios: list[int]) -> int:
    """Migrate the in-use hugetlb folios ``folios`` (heads, in list order): failures, or -ENOMEM.

    Models migrate_hugetlbs(), mm/migrate.c:1602, Linux 6.18, which
    migrate_pages() runs before anything else: up to 10 passes while a folio
    asks for a retry; -ENOMEM (no target) gives up at once.  A folio still
    asking for a retry after the last pass counts as failed.
    """
    nr_failed = 0
    retry = 1
    passes = 0
    while passes < MIGRATE_PASSES and retry:
        retry = 0
        for pfn in [p for p in folios if p in cc.migratepages]:
            rc = _migrate_thp(cc, pfn)
            if rc == -ENOMEM:
                return -ENOMEM
            if rc == -EAGAIN:
                retry += 1
            elif rc != MIGRATEPAGE_SUCCESS:
                nr_failed += 1
        passes += 1
    return nr_failed + retry


def migrate_pages(cc: CompactControl, _hugetlb: bool = True) -> int:
    """Migrate ``cc.migratepages``: pages not migrated, or -ENOMEM.

    Models migrate_pages() / migrate_pages_batch(), mm/migrate.c, Linux 6.18
    (MIGRATE_SYNC, MR_CONTIG_RANGE): first ``migrate_hugetlbs()``, every
    in-use hugetlb folio in list order (-ENOMEM ends the call); then the
    other folios, up to 10 passes while something asks for a retry: an
    order-0 page as in v4.4 (:func:`contig.migrate.unmap_and_move`, -ENOMEM
    ends the call), a THP to a block of its order, and when none is free it
    is split and its pages are migrated after the rest of the list.
    Simplified: 6.18 unmaps a batch of folios, then moves them, and puts the
    folios that failed on a list of their own, spliced back at the head;
    the model migrates folio by folio and leaves a folio that failed where
    it was on the list (the targets are taken in the same order).
    """
    z = cc.zone

    def hugetlb(pfn: int) -> bool:
        return z.kind[pfn - z.start_pfn] == _H
    nr_failed = migrate_hugetlbs(cc, [p for p in cc.migratepages if hugetlb(p)]) if _hugetlb else 0
    if nr_failed < 0:
        return nr_failed
    # then the other folios (hugetlb folios still on the list stay there)
    split: list[int] = []
    retry = 1
    passes = 0
    while passes < MIGRATE_PASSES and retry:
        retry = 0
        for pfn in list(cc.migratepages):
            if pfn not in cc.migratepages or hugetlb(pfn):
                continue
            if _is_thp_folio(cc.zone, pfn) == pfn:
                rc = _migrate_thp(cc, pfn)
                if rc == -ENOMEM:
                    split.extend(_split_thp(cc, pfn))
                    continue
            else:
                rc = unmap_and_move(cc, pfn)
                if rc == -ENOMEM:
                    cc.migratepages.extend(split)
                    return -ENOMEM
            if rc == -EAGAIN:
                retry += 1
            elif rc != MIGRATEPAGE_SUCCESS:
                nr_failed += 1
        passes += 1
    if split:
        cc.migratepages.extend(split)
        rc = migrate_pages(cc, _hugetlb=False)      # the hugetlb folios had their passes
        if rc < 0:
            return rc
        nr_failed += rc
    return nr_failed + retry


def putback_movable_pages(cc: CompactControl) -> None:
    """Return every page left on the list towards the LRU.

    Models putback_movable_pages(), mm/migrate.c, Linux 6.18: a THP goes
    straight back to the LRU (large folios skip the per-CPU batches), an
    order-0 page into the per-CPU LRU-add batch.
    """
    z = cc.zone
    s = z.start_pfn
    for pfn in list(cc.migratepages):
        cc.migratepages.remove(pfn)
        if _is_thp_folio(z, pfn) == pfn:
            z.count[pfn - s] -= 1
            if z.kind[pfn - s] == _T:
                z.flags[pfn - s] |= PG_LRU
            z.touch(pfn - s)
        else:
            putback_lru_page(z, pfn)
    cc.nr_migratepages = 0
