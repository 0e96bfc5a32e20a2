"""Hand-derived cases for mm/page_alloc.c buddy functions at v4.4 (reference §2.4, §2.5, §2.12).

Geometry(max_order=4, pageblock_order=2): orders 0..3, 4-page pageblocks.
"""

from __future__ import annotations

from contig import MigrateType
from contig.buddy import (
    __free_one_page,
    __isolate_free_page,
    __rmqueue,
    __rmqueue_smallest,
    free_pages_prepare,
    move_freepages_block,
    split_free_page,
)

M, U, I, C, R = (MigrateType.MOVABLE, MigrateType.UNMOVABLE, MigrateType.ISOLATE,
                 MigrateType.CMA, MigrateType.RECLAIMABLE)


def free(z, pfn, order, mt):
    free_pages_prepare(z, pfn, order)
    __free_one_page(z, pfn, order, mt)


# ---------------------------------------------------------------- __free_one_page (§2.4)
def test___free_one_page_merges_up_to_max_order(zone_from_map):
    z = zone_from_map("M.......")
    free(z, 0, 0, M)
    assert z.free_blocks() == [(0, 3, M)]
    assert z.nr_free_pages == 8
    assert z.nr_free.tolist() == [0, 0, 0, 1]
    z.check()


def test___free_one_page_isolate_merges_only_to_pageblock_order(zone_from_map):
    # §2.4 step 1: an ISOLATE free uses max_order = pageblock_order + 1
    z = zone_from_map("M.......", blocks="II")
    assert z.nr_free_pages == 0
    free(z, 0, 0, I)
    assert z.free_blocks() == [(0, 2, I), (4, 2, I)]
    assert z.nr_free_pages == 0          # ISOLATE frees are not counted
    z.check()


def test___free_one_page_ignores_the_buddys_pageblock_type(zone_from_map):
    # §2.4 "isolation asymmetry": a MOVABLE free merges with a buddy on an Isolate list;
    # NR_FREE_PAGES only grows by the page freed (4.4.0 miscount).
    z = zone_from_map("M.......", blocks="MI")
    assert z.free_blocks() == [(1, 0, M), (2, 1, M), (4, 2, I)]
    assert z.nr_free_pages == 3
    free(z, 0, 0, M)
    assert z.free_blocks() == [(0, 3, M)]
    assert z.nr_free_pages == 4
    assert z.nr_free_pages_on_lists() == 8
    assert z.nr_free_drift == 4
    z.check()


def test___free_one_page_adds_to_tail_when_the_parent_buddy_is_free(zone_from_map):
    # §2.4 step 5: order 0 at PFN 0; parent = 0..1, its buddy 2..3 is a free order-1 block
    z = zone_from_map("MM..M.M.")
    assert z.free_list(0, M) == [5, 7]
    free(z, 0, 0, M)                     # buddy 1 is in use: no merge
    assert z.free_list(0, M) == [5, 7, 0]


def test___free_one_page_adds_to_head_otherwise(zone_from_map):
    z = zone_from_map("MM..M.M.")
    free(z, 4, 0, M)                     # merges with 5 into order 1 at 4; 0..3 is no order-2 buddy
    assert z.free_list(1, M) == [4, 2]
    assert z.free_list(0, M) == [7]


# ---------------------------------------------------------------- allocation (§2.2)
def test___rmqueue_smallest_takes_the_smallest_order_then_expands(zone_from_map):
    z = zone_from_map("M.M.....")
    assert z.free_blocks() == [(1, 0, M), (3, 0, M), (4, 2, M)]
    assert __rmqueue_smallest(z, 0, M) == 1
    assert __rmqueue_smallest(z, 0, M) == 3
    assert __rmqueue_smallest(z, 0, M) == 4
    # expand() put 6 (order 1) and 5 (order 0) on the Movable lists
    assert z.free_list(1, M) == [6]
    assert z.free_list(0, M) == [5]


def test___rmqueue_fallback_steals_a_whole_pageblock(zone_from_map):
    # MOVABLE lists empty, CMA empty -> fallback to UNMOVABLE, order 2 >= pageblock_order
    z = zone_from_map("....MMMM", blocks="UM")
    assert __rmqueue(z, 0, M) == 0
    assert z.blocks_map() == "MM"        # change_pageblock_range()
    assert z.free_blocks() == [(1, 0, M), (2, 1, M)]


def test___rmqueue_movable_tries_cma_before_fallback(zone_from_map):
    z = zone_from_map("....MM..", blocks="CU")
    assert __rmqueue(z, 0, M) == 0       # from the CMA lists (§2.2)
    assert z.blocks_map() == "CU"
    assert z.mtype[0] == C               # remembered as CMA


def test_highatomic_lists_are_never_a_fallback(zone_from_map):
    z = zone_from_map("....MMMM", blocks="HM")
    assert __rmqueue(z, 0, M) is None


def test_nothing_is_ever_allocated_from_isolate_lists(zone_from_map):
    z = zone_from_map("....MMMM", blocks="IM")
    assert __rmqueue(z, 0, M) is None
    assert __rmqueue(z, 0, U) is None


# ---------------------------------------------------------------- move_freepages_block (§2.5)
def test_move_freepages_block_moves_heads_in_the_block_only(zone_from_map):
    z = zone_from_map("..M.....")
    assert z.free_blocks() == [(0, 1, M), (3, 0, M), (4, 2, M)]
    assert move_freepages_block(z, 1, U) == 3
    assert z.free_blocks() == [(0, 1, U), (3, 0, U), (4, 2, M)]
    assert z.blocks_map() == "MM"        # type unchanged
    assert z.nr_free_pages == 7          # counter unchanged


def test_move_freepages_block_moves_a_straddling_block_whole(zone_from_map):
    z = zone_from_map("........")
    assert move_freepages_block(z, 4, U) == 0      # head 0 is before this block: not seen
    assert move_freepages_block(z, 0, U) == 8      # moved and counted whole
    assert z.free_blocks() == [(0, 3, U)]


def test_move_freepages_block_needs_the_block_end_in_the_zone(zone_from_map):
    z = zone_from_map("......", blocks="MM")
    assert move_freepages_block(z, 4, U) == 0
    assert z.free_blocks()[-1] == (4, 1, M)


# ---------------------------------------------------------------- taking free pages (§2.12)
def test___isolate_free_page_counts_only_outside_isolate(zone_from_map):
    z = zone_from_map("....MMMM" + "........", blocks="MMII")
    assert __isolate_free_page(z, 0, 2) == 4
    assert z.nr_free_pages == 0
    assert __isolate_free_page(z, 8, 3) == 8
    assert z.nr_free_pages == 0          # block is ISOLATE: no change


def test___isolate_free_page_makes_large_blocks_movable(zone_from_map):
    # order >= pageblock_order - 1 turns non-ISOLATE, non-CMA blocks MOVABLE
    z = zone_from_map("........", blocks="UR")
    __isolate_free_page(z, 0, 3)
    assert z.blocks_map() == "MM"


def test_split_free_page_gives_order0_pages_with_refcount_1(zone_from_map):
    z = zone_from_map("M.......")
    assert split_free_page(z, 4) == 4
    assert z.to_map() == "M...XXXX"
    assert [z.page(p)["count"] for p in range(4, 8)] == [1, 1, 1, 1]
    assert z.nr_free_pages == 3
    z.check()
