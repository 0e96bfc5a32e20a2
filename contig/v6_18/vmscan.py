"""Dropping clean page cache instead of migrating it, as Linux 6.18 does for alloc_contig_range().

Models ``reclaim_clean_pages_from_list()`` and the part of
``shrink_folio_list()`` it relies on (mm/vmscan.c, Linux 6.18), with the
freeing of ``free_unref_folios()`` (mm/page_alloc.c, 6.18).  Source:
https://elixir.bootlin.com/linux/v6.18/source/mm/vmscan.c

What differs from v4.4 (:func:`contig.migrate.reclaim_clean_pages_from_list`):

* **Folios of any size.**  6.18 takes every clean file folio on the list
  (``folio_is_file_lru()``, not dirty, not unevictable, not hugetlb), large
  ones included, and frees each one whole.  In the model a large folio of
  clean page cache is a ``T`` folio whose head has no ``PG_ANON`` (the
  snapshot loader marks them from kpageflags,
  :func:`contig.procfs.mark_large_folios`); order-0 clean page cache is
  ``F`` as in v4.4.
* **Freeing order.**  ``reclaim_clean_pages_from_list()`` moves each clean
  folio to the head of its own list, which reverses them, and
  ``shrink_folio_list()`` takes folios from the tail (``lru_to_folio()``),
  so it meets them in the migration list's order.  A freed folio is
  appended to a ``folio_batch`` of 31 (FOLIO_BATCH_SIZE), and each full
  batch, then the last one, goes to ``free_unref_folios()``.  That function
  frees the orders that per-CPU lists do not take (above
  PAGE_ALLOC_COSTLY_ORDER, except the PMD order) first, in batch order,
  then the rest, in batch order.  Pages of an isolated pageblock go
  straight to the buddy (``free_one_page()``).  v4.4 gathered the freed
  pages with ``list_add()`` and freed them in the reverse order.
* **Kept folios** (locked or under writeback: named in ``busy_pfns``) are
  kept as in v4.4: ``list_add()`` to ``ret_folios`` reverses them, and the
  list is spliced back at the head of the migration list.

Simplified: outside an isolated pageblock an order-0 page goes to the
per-CPU list as v4.4's hot free does, and a large folio straight to the
buddy (the model keeps order-0 per-CPU lists only); inside
alloc_contig_range() every page is in an isolated pageblock.
"""

from __future__ import annotations

from ..migrate import CompactControl
from ..pcp import free_hot_cold_page
from ..zone import PG_ANON, MigrateType, Zone
from . import page_alloc as _pa

__all__ = ["FOLIO_BATCH_SIZE", "pcp_allowed_order", "reclaim_clean_pages_from_list"]

#: include/linux/pagevec.h, 6.18: folios per ``folio_batch``.
FOLIO_BATCH_SIZE = 31
#: include/linux/mmzone.h, 6.18.
PAGE_ALLOC_COSTLY_ORDER = 3
_F, _T = ord("F"), ord("T")


def pcp_allowed_order(order: int, pmd_order: int = 9) -> bool:
    """Models pcp_allowed_order(), mm/page_alloc.c, 6.18: orders the per-CPU lists take.

    Up to PAGE_ALLOC_COSTLY_ORDER, and the PMD order (a THP) with
    CONFIG_TRANSPARENT_HUGEPAGE; ``pmd_order`` is the pageblock order on x86-64.
    """
    return order <= PAGE_ALLOC_COSTLY_ORDER or order == pmd_order


def _clean_file_folio(z: Zone, pfn: int) -> int | None:
    """The folio order if ``pfn`` (a list entry) is clean page cache, else None."""
    i = pfn - z.start_pfn
    k = int(z.kind[i])
    if k == _F:
        return 0
    if k == _T and z.comp[i] >= 0 and not z.flags[i] & PG_ANON:
        return int(z.comp[i])
    return None


def _free_folio(z: Zone, pfn: int, order: int) -> None:
    """The freeing of one reclaimed folio: straight to the buddy in an isolated pageblock."""
    i = pfn - z.start_pfn
    z.count[i] = 0                 # the page cache's and the isolation's references are gone
    z.touch(i)
    if int(z.pb[z.block_index(pfn)]) == MigrateType.ISOLATE or order > 0:
        _pa.__free_pages_ok(z, pfn, order)
    else:
        free_hot_cold_page(z, pfn, False)


def reclaim_clean_pages_from_list(cc: CompactControl) -> int:
    """Drop the clean page cache on ``cc.migratepages`` instead of migrating it.

    Models reclaim_clean_pages_from_list() with shrink_folio_list() and
    free_unref_folios(), Linux 6.18 (see the module docstring for the rules
    and the order).  Appends every page freed to ``cc.reclaimed`` (a large
    folio's pages in ascending order) and returns how many pages were
    freed, as ``nr_reclaimed`` counts them.
    """
    z = cc.zone
    orders = {p: _clean_file_folio(z, p) for p in cc.migratepages}
    clean = [p for p in cc.migratepages if orders[p] is not None]
    if not clean:
        return 0
    kept = [p for p in clean if p in cc.busy_pfns]
    freed = [p for p in clean if p not in cc.busy_pfns]
    others = [p for p in cc.migratepages if orders[p] is None]
    cc.migratepages[:] = kept[::-1] + others
    nr = 0
    for b in range(0, len(freed), FOLIO_BATCH_SIZE):
        batch = freed[b:b + FOLIO_BATCH_SIZE]
        first = [p for p in batch if not pcp_allowed_order(orders[p], z.geometry.pageblock_order)]
        rest = [p for p in batch if pcp_allowed_order(orders[p], z.geometry.pageblock_order)]
        for p in first + rest:
            n = 1 << orders[p]
            _free_folio(z, p, orders[p])
            cc.reclaimed.extend(range(p, p + n))
            nr += n
    return nr
