"""6.18's reclaim_clean_pages_from_list(): folios of any size, freed in list order.

Every expected value was worked out by hand from the Linux 6.18.2 source
(/work/src/linux-6.18; file:line in the comments), not from the model:

* mm/compaction.c:1206 -- isolate_migratepages_block() puts each isolated
  folio at the head of cc->migratepages (list_add), so a batch scanned in
  ascending PFN order is on the list in descending order;
* mm/vmscan.c:1663-1668 -- reclaim_clean_pages_from_list() moves each clean
  file folio (not hugetlb, not dirty, not unevictable; any size) to the
  head of clean_folios, which reverses them; :1683 splices what is left
  back at the head of the migration list;
* mm/vmscan.c:1127 -- shrink_folio_list() takes folios from the tail
  (lru_to_folio(), include/linux/mm.h:244: head->prev), so it meets them in
  the migration list's order; :1566-1569 a freed folio is appended to a
  folio_batch of PAGEVEC_SIZE 31 (include/linux/pagevec.h:15), a full batch
  is freed at once, :1638 the rest at the end; :1597 a folio it keeps goes
  to the head of ret_folios (list_add), :1640 spliced back;
* mm/page_alloc.c:2945-3000 -- free_unref_folios() frees at once the
  folios whose order the per-CPU lists do not take (pcp_allowed_order(),
  :690: above PAGE_ALLOC_COSTLY_ORDER 3 and not the PMD order), then the
  others in batch order; a folio of an isolated pageblock goes to the
  buddy (free_one_page()).

v4.4 (mm/vmscan.c, shrink_page_list()) collected freed pages with
list_add() and freed that list from its head: the reverse order.
"""

from __future__ import annotations

import pytest

import contig.v4_4 as k44
import contig.v6_18 as k618
from contig import Geometry, MigrateType, Zone
from contig.migrate import CompactControl
from contig.migrate import reclaim_clean_pages_from_list as reclaim_4_4
from contig.v6_18.contig_alloc import kernel_6_18_freeing
from contig.v6_18.migrate import isolate_migratepages_range
from contig.v6_18.page_isolation import start_isolate_page_range
from contig.v6_18.vmscan import pcp_allowed_order
from contig.v6_18.vmscan import reclaim_clean_pages_from_list as reclaim_6_18
from contig.zone import PG_ANON

M, I = MigrateType.MOVABLE, MigrateType.ISOLATE
G = Geometry(max_order=4, pageblock_order=2)


def _isolated(pages: str, start: int, end: int, busy=(), geometry=G) -> CompactControl:
    """The range isolated and one batch taken off the LRU, as __alloc_contig_migrate_range does."""
    z = Zone.from_map(pages, geometry=geometry)
    assert start_isolate_page_range(z, start, end) == 0
    cc = CompactControl(zone=z, busy_pfns=frozenset(busy))
    isolate_migratepages_range(cc, start, end)
    return cc


def test_the_batch_is_on_the_list_in_descending_order():
    cc = _isolated("FMFMFMFM........", 0, 8)
    assert cc.migratepages == [7, 6, 5, 4, 3, 2, 1, 0]        # compaction.c:1206


def test_clean_pages_are_freed_in_the_lists_order_in_6_18_and_reversed_in_4_4():
    # clean pages on the list, head first: 6, 4, 2, 0.  6.18 frees 6, 4, 2, 0; each is order 0
    # in an isolated block, its buddy (7, 5, 3, 1) still isolated for migration, so nothing
    # merges and each goes to the head of the Isolate order-0 list: 0, 2, 4, 6.
    cc = _isolated("FMFMFMFM........", 0, 8)
    with kernel_6_18_freeing(cc.zone):
        assert reclaim_6_18(cc) == 4
    assert cc.reclaimed == [6, 4, 2, 0]
    assert cc.migratepages == [7, 5, 3, 1]
    assert cc.zone.free_list(0, I) == [0, 2, 4, 6]
    cc.zone.check()
    # v4.4 frees them in the reverse order: 0, 2, 4, 6, so the list reads 6, 4, 2, 0
    cc = _isolated("FMFMFMFM........", 0, 8)
    assert reclaim_4_4(cc) == 4
    assert cc.reclaimed == [0, 2, 4, 6]
    assert cc.zone.free_list(0, I) == [6, 4, 2, 0]


def test_kept_pages_go_back_to_the_head_reversed():
    # 2 and 1 are locked (busy): shrink_folio_list keeps them, list_add to ret_folios reverses
    # them (meeting 2 then 1 gives 1, 2), and they are spliced at the head: [1, 2, ...others].
    cc = _isolated("FFFFMMMM........", 0, 8, busy={1, 2})
    assert cc.migratepages == [7, 6, 5, 4, 3, 2, 1, 0]
    with kernel_6_18_freeing(cc.zone):
        assert reclaim_6_18(cc) == 2
    assert cc.reclaimed == [3, 0]
    assert cc.migratepages == [1, 2, 7, 6, 5, 4]


def test_a_large_clean_page_cache_folio_is_dropped_whole():
    """The order-2 folio at 0 is clean page cache (its head has no PG_ANON): isolated whole,
    then reclaimed whole (4 pages, nr_reclaimed counts pages), freed as one order-2 block into
    the Isolate list; its buddy block at 4 is MOVABLE and at pageblock_order the merge needs
    both types mergeable (page_alloc.c:960-983), ISOLATE is not: no merge.  The grab takes it:
    outer_end 4, nothing migrated.  An anonymous THP is migrated instead
    (tests/test_v6_18.py::test_thp_is_migrated_whole)."""
    z = Zone.from_map("TTTT............", geometry=G)
    z.flags[0] &= 0xFF ^ PG_ANON
    r = k618.alloc_contig_range(z, 0, 4)
    z.check()
    assert r.ret == 0 and r.migrated == {} and r.reclaimed == [0, 1, 2, 3]
    assert (r.outer_start, r.outer_end) == (0, 4)
    assert z.to_map() == "XXXX............" and z.free_blocks() == [(4, 2, M), (8, 3, M)]
    # the same map as an anonymous THP: moved to the free block at 4
    z = Zone.from_map("TTTT............", geometry=G)
    r = k618.alloc_contig_range(z, 0, 4)
    assert r.migrated == {0: 4} and r.reclaimed == [] and z.to_map() == "XXXXTTTT........"


def test_orders_the_pcp_lists_do_not_take_are_freed_first():
    """Geometry with 32-page pageblocks (the "PMD order" 5) and MAX_PAGE_ORDER 5: an order-4
    clean folio is not pcp-allowed (4 > 3, 4 != 5).  The batch scans the folio at 0 first, then
    the page at 16, so the list is [16, 0]; shrink_folio_list meets 16 then 0; the batch is
    [16, 0]; free_unref_folios frees 0 (order 4) in its first loop, then 16."""
    g = Geometry(max_order=6, pageblock_order=5)
    assert [pcp_allowed_order(k, 5) for k in (0, 3, 4, 5)] == [True, True, False, True]
    cc = _isolated("T" * 16 + "F" + "M" * 15 + "." * 32, 0, 32, geometry=g)
    cc.zone.flags[0] &= 0xFF ^ PG_ANON
    assert cc.migratepages[-2:] == [16, 0]
    with kernel_6_18_freeing(cc.zone):
        assert reclaim_6_18(cc) == 17
    assert cc.reclaimed == list(range(17))          # the folio's 16 pages first, then page 16


def test_side_by_side_the_same_call_frees_in_another_order():
    """The whole call, both kernels: clean pages 0 and 2 are dropped, 1 and 3 migrated to the
    free pages at 12.. (outside what either kernel isolates); 6.18 drops 2 before 0, 4.4 0
    before 2."""
    z4, z6 = (Zone.from_map("FMFMMMMMMMMM....", geometry=G) for _ in range(2))
    r4, r6 = k44.alloc_contig_range(z4, 0, 4), k618.alloc_contig_range(z6, 0, 4)
    assert r4.ret == 0 and r6.ret == 0
    assert r4.reclaimed == [0, 2] and r6.reclaimed == [2, 0]


@pytest.mark.parametrize("order", [0, 1, 2, 3, 4, 8, 9, 10])
def test_pcp_allowed_order_on_x86_64(order):
    # page_alloc.c:690: up to PAGE_ALLOC_COSTLY_ORDER 3, and HPAGE_PMD_ORDER 9 (x86-64)
    assert pcp_allowed_order(order) == (order <= 3 or order == 9)
