"""Per-CPU lists, pagevecs (reference §2.4, §2.9) and pageblock isolation (§2.6, §2.7, §2.11)."""

from __future__ import annotations

import errno

import pytest

from contig import MigrateType, Zone
from contig.isolation import (
    has_unmovable_pages,
    set_migratetype_isolate,
    start_isolate_page_range,
    undo_isolate_page_range,
    unset_migratetype_isolate,
)
from contig.isolation import (
    test_pages_isolated as tpi,
)
from contig.pcp import (
    alloc_pages,
    drain_all_pages,
    free_pcppages_bulk,
    lru_add_drain_all,
    put_page,
    set_pcp,
)

M, U, I, C, R = (MigrateType.MOVABLE, MigrateType.UNMOVABLE, MigrateType.ISOLATE,
                 MigrateType.CMA, MigrateType.RECLAIMABLE)
EBUSY = -errno.EBUSY


# ---------------------------------------------------------------- per-CPU lists (§2.4)
def test_free_hot_cold_page_parks_pages_until_high(zone_from_map):
    z = zone_from_map("MMMM....")
    set_pcp(z, 2, 1)
    put_page(z, 0)
    assert z.to_map() == "pMMM...."
    put_page(z, 1)                       # count reaches high: batch 1 from the list tail
    assert z.to_map() == ".pMM...."
    assert z.pcp_list(M) == [1]
    assert z.free_blocks()[0] == (0, 0, M)
    z.check()
    drain_all_pages(z)
    assert z.free_blocks() == [(0, 1, M), (4, 2, M)]
    z.check()


def test_free_hot_cold_page_small_zone_flushes_at_once(zone_from_map):
    z = zone_from_map("MMMM....")     # zone_batchsize: high 0, batch 1
    put_page(z, 3)
    assert z.to_map() == "MMM....."
    assert z.pcp_count == 0


def test_free_hot_cold_page_isolated_block_bypasses_pcp(zone_from_map):
    z = zone_from_map("MMMM....", blocks="IM")
    set_pcp(z, 10, 2)
    put_page(z, 0)
    assert z.to_map() == ".MMM...."
    assert z.free_blocks()[0] == (0, 0, I)


def test_free_hot_cold_page_cma_uses_the_movable_list(zone_from_map):
    z = zone_from_map("MMMM....", blocks="CM")
    set_pcp(z, 10, 2)
    put_page(z, 2)
    assert z.pcp_list(M) == [2]
    assert z.mtype[2] == C               # remembered type
    drain_all_pages(z)
    assert (2, 0, C) in z.free_blocks()


def test_free_pcppages_bulk_round_robin_from_the_tail(zone_from_map):
    z = zone_from_map("pp..pp..", blocks="UM")
    assert (z.pcp_list(U), z.pcp_list(M)) == ([0, 1], [4, 5])
    free_pcppages_bulk(z, 3)             # Movable first: 5; then Unmovable twice: 1, 0
    z.pcp_count -= 3
    assert z.pcp_list(M) == [4] and z.pcp_list(U) == []
    assert z.free_blocks() == [(0, 2, U), (5, 0, M), (6, 1, M)]
    z.check()


def test_drain_rereads_the_pageblock_while_isolating(zone_from_map):
    z = zone_from_map("p...MMMM")
    z.set_pageblock_migratetype(0, I)
    z.nr_isolate_pageblock += 1
    z.nr_free_pages -= 3
    from contig.buddy import move_freepages_block
    move_freepages_block(z, 0, I)
    z.nr_free_drift = 0
    z.check()
    drain_all_pages(z)
    assert z.free_blocks() == [(0, 2, I)]


def test_set_pcp_rejects_settings_that_would_spin(zone_from_map):
    z = zone_from_map("........")
    with pytest.raises(ValueError, match="batch"):
        set_pcp(z, 3, 5)


# ---------------------------------------------------------------- pagevecs (§2.9)
def test_lru_add_drain_all_puts_pagevec_pages_on_the_lru(zone_from_map):
    z = zone_from_map("v.......")
    assert z.page(0)["lru"] is False and z.page(0)["count"] == 2
    assert lru_add_drain_all(z) == 1
    assert z.to_map() == "M......."
    assert z.page(0)["lru"] is True and z.page(0)["count"] == 1


def test_alloc_pages_then_free_restores_the_buddy(zone_from_map):
    z = zone_from_map("........")
    pfn = alloc_pages(z, 0, M, "U")
    assert pfn == 0 and z.to_map() == "U......."
    put_page(z, pfn)
    assert z.free_blocks() == [(0, 3, M)]
    z.check()


# ---------------------------------------------------------------- has_unmovable_pages (§2.6)
@pytest.mark.parametrize(("pages", "blocks", "busy"), [
    ("U...", "U", (True, 0)),            # in use, not LRU
    ("R...", "U", (True, 0)),            # reserved with a reference: no PageReserved test in 4.4
    ("MF..", "U", (False, None)),        # LRU pages are fine
    ("HH..", "U", (False, None)),        # hugetlb is treated as movable
    ("TTv.", "R", (True, 2)),            # THP head is LRU, tail count 0; the pagevec page is not LRU
    ("U...", "M", (False, None)),        # MOVABLE: no scan at all
    ("U...", "C", (False, None)),        # CMA: no scan at all
])
def test_has_unmovable_pages(zone_from_map, pages, blocks, busy):
    z = zone_from_map(pages, blocks=blocks)
    assert has_unmovable_pages(z, 0) == busy


def test_has_unmovable_pages_zone_movable(tiny):
    z = Zone.from_map("U...", geometry=tiny, blocks="U", name="Movable")
    assert has_unmovable_pages(z, 0) == (False, None)


# ---------------------------------------------------------------- set/unset (§2.6, §2.7)
def test_set_migratetype_isolate_moves_free_pages_out_of_nr_free(zone_from_map):
    z = zone_from_map("M..." + "....")
    assert set_migratetype_isolate(z, 0) == 0
    assert z.blocks_map() == "IM"
    assert z.free_blocks() == [(1, 0, I), (2, 1, I), (4, 2, M)]
    assert z.nr_free_pages == 4 and z.nr_isolate_pageblock == 1
    z.check()


def test_set_migratetype_isolate_fails_on_an_unmovable_page(zone_from_map):
    z = zone_from_map("..U." + "....", blocks="UM")
    assert set_migratetype_isolate(z, 0) == EBUSY
    assert z.blocks_map() == "UM"


def test_start_isolate_page_range_rolls_back_as_the_callers_type(zone_from_map):
    # blocks 0 (R, only LRU pages) and 1 (M) isolate; block 2 (U with a U page) fails;
    # the roll-back gives blocks 0 and 1 the caller's MOVABLE: R is lost (§2.6)
    z = zone_from_map("MMMM" "MMMM" "UUUU" "....", blocks="RMUM")
    assert start_isolate_page_range(z, 0, 16, M) == EBUSY
    assert z.blocks_map() == "MMUM"
    assert z.nr_isolate_pageblock == 0
    z.check()


def test_start_isolate_page_range_rejects_unaligned_ranges(zone_from_map):
    z = zone_from_map("........")
    with pytest.raises(ValueError, match="not pageblock aligned"):
        start_isolate_page_range(z, 1, 8, M)


def test_undo_isolate_page_range_uses_the_callers_type(zone_from_map):
    z = zone_from_map("MMMM" "....", blocks="UR")
    assert start_isolate_page_range(z, 0, 8, C) == 0
    undo_isolate_page_range(z, 0, 8, C)
    assert z.blocks_map() == "CC"
    z.check()


def test_unset_migratetype_isolate_refrees_a_large_block_so_it_merges(zone_from_map):
    # §2.7 step 2: pages freed into an isolated block stop at pageblock order;
    # the undo takes the order-2 block out and frees it again as MOVABLE: it merges.
    z = zone_from_map("....M...")
    assert set_migratetype_isolate(z, 4) == 0
    put_page(z, 4)                       # into the isolated block: merges to order 2 only
    assert z.free_blocks() == [(0, 2, M), (4, 2, I)]
    unset_migratetype_isolate(z, 4, M)
    assert z.free_blocks() == [(0, 3, M)]
    assert z.nr_free_pages == 8
    z.check()


def test_re_isolating_a_block_counts_it_twice(zone_from_map):
    # §2.6: 4.4 does not check that a block already is ISOLATE
    z = zone_from_map("....", blocks="I")
    assert set_migratetype_isolate(z, 0) == 0
    assert z.nr_isolate_pageblock == 2
    assert z.nr_free_pages == -4         # its free pages are subtracted a second time
    z.check()


# ---------------------------------------------------------------- test_pages_isolated (§2.11)
def test_test_pages_isolated_walks_free_blocks(zone_from_map):
    z = zone_from_map(".#.." "....", blocks="II")
    assert tpi(z, 0, 8) == 0


@pytest.mark.parametrize("pages", [".p..", ".v..", ".M..", ".U.."])
def test_test_pages_isolated_fails_on_anything_not_free(zone_from_map, pages):
    z = zone_from_map(pages + "....", blocks="II")
    assert tpi(z, 0, 8) == EBUSY


def test_test_pages_isolated_needs_every_block_isolated(zone_from_map):
    z = zone_from_map("........", blocks="IM")
    assert tpi(z, 0, 8) == EBUSY
    assert tpi(z, 0, 4) == 0
