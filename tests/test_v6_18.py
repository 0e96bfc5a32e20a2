"""The Linux 6.18 model (contig.v6_18) beside v4.4 (contig.v4_4), stage by stage.

Every expected value was worked out by hand from the Linux 6.18.2 source
(/work/src/linux-6.18; file:line in the comments) on
Geometry(max_order=4, pageblock_order=2): 6.18's MAX_PAGE_ORDER is 3
(8-page blocks, inclusive), MAX_ORDER_NR_PAGES 8, pageblocks of 4 pages.
The side-by-side cases name the kernel change that explains each difference.
"""

from __future__ import annotations

import errno

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contig.buddy
import contig.pcp
import contig.v4_4 as k44
import contig.v6_18 as k618
from contig import Geometry, MigrateType, Zone
from contig.v6_18.page_alloc import __free_one_page, find_large_buddy

M, U, I, C = MigrateType.MOVABLE, MigrateType.UNMOVABLE, MigrateType.ISOLATE, MigrateType.CMA
EBUSY, ENOMEM, EINVAL = -errno.EBUSY, -errno.ENOMEM, -errno.EINVAL
G = Geometry(max_order=4, pageblock_order=2)


def zone(pages: str, blocks: str | None = None) -> Zone:
    return Zone.from_map(pages, geometry=G, blocks=blocks)


def run6(z: Zone, start: int, end: int, **kw):
    r = k618.alloc_contig_range(z, start, end, **kw)
    z.check()
    assert r.events.final().state_equal(z), "replaying the trace must give the final zone"
    return r


def run4(z: Zone, start: int, end: int, **kw):
    r = k44.alloc_contig_range(z, start, end, **kw)
    z.check()
    return r


# ---------------------------------------------------------------- 6.18 alone
def test_find_large_buddy_probes_from_ffs_and_checks_coverage():
    # page_alloc.c:2029 find_large_buddy: order starts at __ffs(start) (MAX_PAGE_ORDER for 0);
    # while not PageBuddy: ++order > MAX_PAGE_ORDER -> start; pfn &= ~0 << order;
    # a buddy found is used only if pfn + 2^order > start.
    z = zone("........MMMMMMMM")          # free order-3 block at 0
    assert find_large_buddy(z, 2) == 0    # probes 2 (order 1), then 0 (order 2): covers 2
    assert find_large_buddy(z, 0) == 0
    z = zone("MM.PMMMM........")          # page 2 is a free order-0 block, 3 is in use
    assert find_large_buddy(z, 3) == 3    # probes 3, then 2: [2,3) does not cover 3 -> start
    assert find_large_buddy(z, 4) == 4    # nothing found up to order 3 -> start


def test_free_one_page_merge_rule_above_pageblock_order():
    # page_alloc.c:960-983: below pageblock_order any buddy merges; at order >= pageblock_order
    # different types merge only if both are mergeable (< MIGRATE_PCPTYPES), and the buddy's
    # block is then re-typed to ours (page_alloc.c:995-1002).
    z = zone("XXXX....", "UM")            # order-2 MOVABLE block at 4, pages 0..3 owned
    z.count[0:4] = 0
    z.kind[0:4] = ord(".")
    assert z.nr_free_pages == 4
    __free_one_page(z, 0, 2, int(U))      # UNMOVABLE meets MOVABLE at order 2: both mergeable
    assert z.free_blocks() == [(0, 3, U)] and z.blocks_map() == "UU" and z.nr_free_pages == 8
    z.check()
    z = zone("XXXX....", "UC")
    z.count[0:4] = 0
    z.kind[0:4] = ord(".")
    __free_one_page(z, 0, 2, int(U))      # CMA is not mergeable: stop at order 2
    assert z.free_blocks() == [(0, 2, U), (4, 2, C)] and z.blocks_map() == "UC"
    z.check()


def test_pageblock_granular_isolation_splits_the_straddling_free_block():
    """Request [2,4) of a zone whose first 8 pages are one free order-3 block.

    page_isolation.c:475 start_isolate_page_range: [pageblock_start(2), pageblock_align(4)) =
    [0,4).  isolate_single_pageblock(0) -> set_migratetype_isolate -> page_alloc.c:2109: the
    block is part of a free order-3 buddy > pageblock_order: it is taken off the MOVABLE list,
    the isolate bit set, and split_large_buddy (page_alloc.c:1496) frees [0,4) as ISOLATE and
    [4,8) as MOVABLE, which do not merge (page_alloc.c:983).  The last block is the same block
    (skip_isolation).  No LRU page in [2,4).  find_large_buddy(2) = 0 (order-2 block at 0
    covers 2).  test_pages_isolated(0,4) walks 0 -> 4.  isolate_freepages_range takes the
    order-2 block: outer_end = 4.  free_contig_range(0, 2): 0 and 1 go to the ISOLATE lists
    (isolated block) and merge to order 1.  undo: page 0 heads an order-1 block (< pageblock
    order), so unisolate_and_move: its free pages go back to MOVABLE; the bit is cleared.
    """
    z = zone("........MMMMMMMM")
    r = run6(z, 2, 4)
    assert r.ret == 0 and (r.isolate_start, r.isolate_end) == (0, 4)
    assert (r.outer_start, r.outer_end) == (0, 4)
    assert z.to_map() == "..XX....MMMMMMMM"
    assert z.free_blocks() == [(0, 1, M), (4, 2, M)]
    assert z.blocks_map() == "MMMM" and z.nr_free_pages == 6 and r.log == []
    assert [e.func for e in r.events][:3] == ["set_migratetype_isolate", "start_isolate_page_range",
                                              "lru_cache_disable"]


def test_boundary_block_is_checked_whole():
    """page_isolation.c:313 isolate_single_pageblock passes the whole block to
    set_migratetype_isolate, so the UNMOVABLE page 4 (outside [5,7) but in block [4,8)) is
    found by has_unmovable_pages (page_isolation.c:136 falls through to 'return page'):
    -EBUSY, nothing isolated, the zone unchanged."""
    z = zone("....UMM.........")
    before = z.copy()
    r = run6(z, 5, 7)
    assert r.ret == EBUSY and r.failed_stage == "start_isolate_page_range" and r.busy_pfn == 4
    assert z.state_equal(before) and r.log == []


def test_cma_block_needs_acr_flags_cma():
    """page_isolation.c:43-53: a CMA block is movable only in PB_ISOLATE_MODE_CMA_ALLOC
    (ACR_FLAGS_CMA, page_alloc.c:6899); for ACR_FLAGS_NONE it is unmovable outright."""
    z = zone("........", "CC")
    r = run6(z, 0, 4)
    assert r.ret == EBUSY and r.busy_pfn == 0 and z.blocks_map() == "CC"
    assert z.free_blocks() == [(0, 3, C)]
    # With ACR_FLAGS_CMA: block [0,4) isolated, the order-3 CMA block split (page_alloc.c:2109):
    # [0,4) ISOLATE, [4,8) CMA (not mergeable with ISOLATE).  Grab [0,4): outer_end 4.  undo
    # [0,4): nothing free left in the block; the bit is cleared and the block is CMA again.
    r = run6(z, 0, 4, acr_flags=k618.ACR_FLAGS_CMA)
    assert r.ret == 0 and z.to_map() == "XXXX...." and z.blocks_map() == "CC"
    assert z.free_blocks() == [(4, 2, C)]


def test_already_isolated_block_fails_and_done_unisolates_it():
    """page_isolation.c:172: an isolated block -> -EBUSY; alloc_contig_range then jumps to done:
    (page_alloc.c:7015) whose undo_isolate_page_range un-isolates every isolated block of the
    range, the other caller's included.  unset_migratetype_isolate (page_isolation.c:212): page
    0 heads an order-3 (= MAX_PAGE_ORDER) free block, not < MAX_PAGE_ORDER, so
    unisolate_and_move: the order-3 buddy (> pageblock_order) is taken off, the bit cleared,
    and split_large_buddy re-frees [0,4) and [4,8) as MOVABLE, which merge again."""
    z = zone("........", "IM")
    assert z.free_blocks() == [(0, 3, I)]
    r = run6(z, 0, 4)
    assert r.ret == EBUSY and z.blocks_map() == "MM"
    assert z.free_blocks() == [(0, 3, M)] and z.nr_free_pages == 8 and z.nr_isolate_pageblock == 0


def test_straddling_thp_refuses_the_boundary_block():
    """page_isolation.c:313-426: block [4,8) is isolated (the order-3 THP at 0 is on the LRU, so
    has_unmovable_pages skips it), then the walk from ALIGN_DOWN(4, MAX_ORDER_NR_PAGES) = 0
    meets the THP head at 0, which ends at 8 > boundary 4 and is not hugetlb: the block is given
    back, -EBUSY.  A hugetlb folio (H) there is skipped instead (PageHuge, page_isolation.c:411)
    and migrated later: the scan of [4,8) starts on its tail and isolates the whole folio
    (isolate_or_dissolve_huge_folio), which moves to the free order-3 block at 8; the old folio
    is freed through split_large_buddy (page_alloc.c:1496): [0,4) as MOVABLE, [4,8) as ISOLATE,
    which do not merge (page_alloc.c:983); the grab takes [4,8)."""
    z = zone("TTTTTTTT........")
    before = z.copy()
    r = run6(z, 4, 8)
    assert r.ret == EBUSY and r.failed_stage == "start_isolate_page_range"
    assert r.events.by_func("isolate_single_pageblock")[0].fields["boundary"] == 4
    assert z.state_equal(before)
    z = zone("HHHHHHHH........")
    r = run6(z, 4, 8)
    assert r.ret == 0 and r.migrated == {0: 8} and (r.outer_start, r.outer_end) == (4, 8)
    assert z.to_map() == "....XXXXHHHHHHHH" and z.free_blocks() == [(0, 2, M)]
    assert z.blocks_map() == "MMMM" and r.log == []
    # 4.4 never migrates compound pages: the tail at 4 stays, and no free head is found at or
    # below 4 (outer_start probes 4, 4, 4, 0): -EBUSY, silently
    z4 = zone("HHHHHHHH........")
    r4 = run4(z4, 4, 8)
    assert r4.ret == EBUSY and r4.failed_stage == "outer_start"


def test_per_cpu_pages_are_drained_once_before_migration():
    """page_alloc.c:6937: drain_all_pages(cc.zone) once after isolation; the per-CPU page 2
    goes to the Isolate list of its isolated block (4.4 drained after every block)."""
    z = zone("MMpM....", "MM")
    r = run6(z, 0, 4)
    stages = [(e.stage, e.func) for e in r.events]
    assert ("drain", "drain_all_pages") in stages
    assert stages.index(("drain", "drain_all_pages")) < stages.index(("migrate", "lru_cache_disable"))
    # compaction.c:1206 puts 3, 1, 0 on the list in that order; the targets come from the free
    # order-2 block at 4 split by the allocator (4, then 5, then 6 of the order-1 rest).  The old
    # pages and page 2 merge on the Isolate list to an order-2 block at 0 (page_alloc.c:960),
    # which the grab takes whole; page 7 is left free.
    assert r.ret == 0 and r.migrated == {3: 4, 1: 5, 0: 6}
    assert z.to_map() == "XXXXMMM." and z.free_blocks() == [(7, 0, M)]
    assert z.blocks_map() == "MM" and z.nr_free_pages == 1 and z.pcp_count == 0 and r.log == []


def test_gfp_mask_verification():
    """page_alloc.c:6825 __alloc_contig_verify_gfp_mask: NOFAIL is neither a reclaim nor an
    allowed action flag -> -EINVAL before anything is isolated; zone hints are dropped."""
    z = zone("........")
    before = z.copy()
    r = run6(z, 0, 4, gfp=k618.GFP_KERNEL | k618.GFP.NOFAIL)
    assert r.ret == EINVAL and z.state_equal(before)
    r = run6(z, 0, 4, gfp=k618.GFP_HIGHUSER | k618.GFP.THISNODE | k618.GFP.NOWARN)
    assert r.ret == 0


def test_gfp_comp_needs_exactly_one_block():
    """page_alloc.c:7000-7011: with __GFP_COMP, [0,4) is exactly the order-2 block taken
    (outer_start 0, outer_end 4, a power of two): one folio.  [0,3) is not a power of two:
    WARN 'PFN range: requested [0, 3), allocated [0, 4)' and -EINVAL (pages stay taken)."""
    z = zone("........")
    r = run6(z, 0, 4, gfp=k618.GFP_KERNEL | k618.GFP.COMP)
    assert r.ret == 0 and r.folio_order == 2
    z = zone("........")
    r = run6(z, 0, 3, gfp=k618.GFP_KERNEL | k618.GFP.COMP)
    assert r.ret == EINVAL
    assert r.log == ["WARNING: PFN range: requested [0, 3), allocated [0, 4)"]


def test_free_contig_range_warns_in_use_pages():
    """page_alloc.c:7121: count pages whose refcount is not 1, free each, WARN the count."""
    z = zone("XXUM....")
    assert k618.free_contig_range(z, 0, 2) == 0
    assert z.to_map() == "..UM...."
    z = zone("XXPM....")
    log: list[str] = []
    from contig.v6_18.contig_alloc import free_contig_range
    assert free_contig_range(z, 2, 1, _log=log) == 1
    assert log == ["WARNING: 1 pages are still in use!"]
    z.check()


def test_bad_arguments_raise_and_leave_the_zone():
    z = zone("........")
    before = z.copy()
    for args, kw, what in [((4, 4), {}, "start"), ((0, 9), {}, "not inside"),
                           ((0, 4), {"acr_flags": 3}, "acr_flags"), ((0, 4), {"gfp": -1}, "gfp"),
                           (("0", 4), {}, "start")]:
        with pytest.raises(ValueError, match=what):
            k618.alloc_contig_range(z, *args, **kw)
    assert z.state_equal(before)


def test_pcp_frees_through_the_running_kernel_only_during_a_6_18_call():
    z = zone("MMMMMMMM........")
    other = zone("MMMMMMMM........")
    run6(z, 0, 4)
    assert z.freeing is None and other.freeing is None       # back to v4.4's after the call
    assert contig.pcp._freeing(z) is contig.pcp.FREEING_V4_4
    from contig.v6_18.contig_alloc import FREEING_6_18, kernel_6_18_freeing
    with kernel_6_18_freeing(z):
        assert contig.pcp._freeing(z) is FREEING_6_18
        assert contig.pcp._freeing(other) is contig.pcp.FREEING_V4_4   # per zone, not global
    assert z.freeing is None


def test_thp_is_migrated_whole():
    """compaction.c:1033: with cc->alloc_contig a compound page is not skipped; the order-2 THP
    at 0 is isolated whole (compaction.c:1206) and migrate_pages moves it to the free order-2
    block at 4 (the first block of its order on the MOVABLE list); the old folio is freed
    whole into the Isolate list (page_alloc.c:1496, order 2 = pageblock_order: one piece; its
    buddy 4 is in use) and taken by the grab: outer_end 4."""
    z = zone("TTTT............")
    r = run6(z, 0, 4)
    assert r.ret == 0 and r.migrated == {0: 4} and (r.outer_start, r.outer_end) == (0, 4)
    assert z.to_map() == "XXXXTTTT........" and z.free_blocks() == [(8, 3, M)]
    assert z.blocks_map() == "MMMM" and r.log == []


def test_thp_is_split_when_no_block_of_its_order_is_free():
    """migrate.c:1893-1902 (6.18): -ENOMEM for a large folio -> try_split_folio; its four pages
    are migrated afterwards as order-0 pages, to the free pages 4, 6, 8, 10 (taken from the
    order-0 list head first); the old pages merge on the Isolate list to an order-2 block."""
    z = zone("TTTT.M.M.M.MMMMM")
    r = run6(z, 0, 4)
    assert r.ret == 0 and r.migrated == {0: 4, 1: 6, 2: 8, 3: 10}
    assert z.to_map() == "XXXXMMMMMMMMMMMM" and z.free_blocks() == [] and z.blocks_map() == "MMMM"


def test_side_by_side_thp_in_the_range():
    """4.4 skips compound pages in migration, so nothing frees PFN 0 and its outer_start loop
    finds no free head at or below 0: -EBUSY, silently.  6.18 migrates the THP (above)."""
    z4, z6 = zone("TTTT............"), zone("TTTT............")
    r4, r6 = run4(z4, 0, 4), run6(z6, 0, 4)
    assert r4.ret == EBUSY and r4.failed_stage == "outer_start" and r4.log == []
    assert r6.ret == 0 and z6.to_map() == "XXXXTTTT........"


def test_undo_refrees_a_whole_free_block_so_it_merges():
    """A failed call whose undo takes the re-free path of unset_migratetype_isolate.

    Isolation of [0,12): block [0,4) is part of the free order-3 block at 0, split
    (page_alloc.c:2109) into [0,4) ISOLATE and [4,8) MOVABLE; block [4,8) then moves its
    order-2 block to ISOLATE; block [8,12) holds LRU pages.  Migration: 10, 9, 8 (list-head
    order) go to 12, 13, 14; the pinned page 11 stays, so test_pages_isolated stops at 11:
    -EBUSY, no message.  undo (page_isolation.c:212): block 0 heads a free order-2 block whose
    buddy 4 is free but still isolated, so its free pages just move back; block 1 heads a free
    order-2 block whose buddy 0 is free and no longer isolated: it is taken out, the bit
    cleared, and re-freed to the tail (page_alloc.c:3113), merging with 0 into order 3
    (both MOVABLE, page_alloc.c:978-983); block 2's free pages move back."""
    z = zone("........MMMP....")
    r = run6(z, 0, 12)
    assert r.ret == EBUSY and r.busy_pfn == 11 and r.log == []
    assert r.migrated == {10: 12, 9: 13, 8: 14}
    assert z.to_map() == "...........PMMM."
    assert z.free_blocks() == [(0, 3, M), (8, 1, M), (10, 0, M), (15, 0, M)]
    assert z.blocks_map() == "MMMM" and z.nr_free_pages == 12
    refreed = [e.fields["refreed_order"] for e in r.events.by_func("unset_migratetype_isolate")]
    assert refreed == [None, 2, None]


def test_middle_block_failure_gives_back_both_ends():
    """page_isolation.c:475: the first block (boundary 0) and the last block (boundary 12) are
    isolated first; the middle block [4,8) holds kernel pages: undo_isolate_page_range(0, 4)
    and unset_migratetype_isolate of the last block, -EBUSY; the zone is as it was."""
    z = zone("MMMMUUUUMMMM....")
    before = z.copy()
    r = run6(z, 0, 12)
    assert r.ret == EBUSY and r.busy_pfn == 4 and r.failed_stage == "start_isolate_page_range"
    seq = [(e.func, e.start_pfn, e.fields.get("ret")) for e in r.events][:6]
    assert seq == [("set_migratetype_isolate", 0, 0), ("set_migratetype_isolate", 8, 0),
                   ("set_migratetype_isolate", 4, EBUSY), ("unset_migratetype_isolate", 0, None),
                   ("unset_migratetype_isolate", 8, None), ("start_isolate_page_range", 0, EBUSY)]
    assert z.state_equal(before)


# ---------------------------------------------------------------- side by side
def test_side_by_side_pageblock_granularity_and_block_types():
    """The same zone and request; 5.19 (pageblock granularity) and 6.15+ (isolate bit) explain it.

    4.4 isolates [pfn_max_align_down(4), pfn_max_align_up(12)) = [0,16): the whole zone, so
    migration finds no target outside it: -ENOMEM; undo then gives every block the caller's
    type (MOVABLE), so the UNMOVABLE block 0 becomes MOVABLE.
    6.18 isolates [4,12) only (page_isolation.c:475).  Block [8,12) is part of the free order-3
    block at 8, split at isolation (page_alloc.c:2109): [8,12) ISOLATE, [12,16) MOVABLE.  The
    four pages 4..7 are isolated each to the list head (compaction.c:1206), so 7 migrates
    first, to 12 (the v4.4 allocator splits the order-2 block at 12: 12, 13, 14, 15); the
    old pages merge to an order-2 ISOLATE block at 4.  find_large_buddy(4)
    = 4; the walk 4 -> 8 -> 12 succeeds; outer_end 12; undo clears the bits and block 0 was
    never touched: still UNMOVABLE.
    """
    z4, z6 = zone("MMMMMMMM........", "UMMM"), zone("MMMMMMMM........", "UMMM")
    r4, r6 = run4(z4, 4, 12), run6(z6, 4, 12)
    assert (r4.isolate_start, r4.isolate_end, r4.ret) == (0, 16, ENOMEM)
    assert z4.blocks_map() == "MMMM"
    assert (r6.isolate_start, r6.isolate_end, r6.ret) == (4, 12, 0)
    assert z6.to_map() == "MMMMXXXXXXXXMMMM" and z6.blocks_map() == "UMMM" and z6.free_blocks() == []
    assert r6.migrated == {7: 12, 6: 13, 5: 14, 4: 15}


def test_side_by_side_block_keeps_its_own_type():
    """6.15+ isolate bit: unset_migratetype_isolate has no type argument (page_isolation.c:212).
    4.4: [0,4) isolates [0,8); both blocks come back as the caller's MOVABLE.
    6.18: only [0,4) is isolated (its free order-2 block moves to ISOLATE, page_alloc.c:2127),
    taken whole; undo clears the bit and the block reads UNMOVABLE again."""
    z4, z6 = zone("....MMMM........", "UMMM"), zone("....MMMM........", "UMMM")
    r4, r6 = run4(z4, 0, 4), run6(z6, 0, 4)
    assert r4.ret == r6.ret == 0
    assert z4.to_map() == z6.to_map() == "XXXXMMMM........"
    assert z4.blocks_map() == "MMMM" and z6.blocks_map() == "UMMM"
    assert z4.free_blocks() == z6.free_blocks() == [(8, 3, M)]


def test_side_by_side_outer_start_quirk():
    """4.5 outer_start fix + 5.13 "PFNs busy" removal.

    Page 3 is pinned (skipped by migration); page 2 is a free order-0 block.  4.4's loop probes
    3 (order 0), then 3 & ~1 = 2: a free head, taken as outer_start although [2,3) does not
    cover 3; test_pages_isolated(2, 8) stops at 3: "[2, 8) PFNs busy".  6.18's
    find_large_buddy(3) sees that [2,3) does not reach 3 and returns 3 (page_alloc.c:2029);
    test_pages_isolated(3, 8) fails silently (page_alloc.c:6983).  Both -EBUSY; the zones end
    the same (4..7 migrated to 8..11; old pages free again)."""
    z4, z6 = zone("MM.PMMMM........"), zone("MM.PMMMM........")
    r4, r6 = run4(z4, 3, 8), run6(z6, 3, 8)
    assert r4.ret == r6.ret == EBUSY
    assert (r4.outer_start, r6.outer_start) == (2, 3)
    assert r4.log == ["alloc_contig_range: [2, 8) PFNs busy"] and r6.log == []
    assert r6.busy_pfn == 3
    assert z4.to_map() == z6.to_map() == "MM.P....MMMM...."
    assert z4.free_blocks() == z6.free_blocks() == [(2, 0, M), (4, 2, M), (12, 2, M)]


def test_side_by_side_merge_across_migratetypes():
    """4.6/5.18 merge rule: freeing pages 0..3 of a MOVABLE block next to a free CMA block.
    4.4.0's __free_one_page never looks at the buddy's type: order 3 on the MOVABLE list.
    6.18 stops at order 2 = pageblock_order: CMA is not mergeable (page_alloc.c:983)."""
    z4, z6 = zone("XXXX....", "MC"), zone("XXXX....", "MC")
    assert k44.free_contig_range(z4, 0, 4) == 0 and k618.free_contig_range(z6, 0, 4) == 0
    z4.check()
    z6.check()
    assert z4.free_blocks() == [(0, 3, M)]
    assert z6.free_blocks() == [(0, 2, M), (4, 2, C)]


def test_side_by_side_isolated_blocks_merge_in_6_18():
    """4.4 caps a free into an ISOLATE block at pageblock_order; 6.18 lets two ISOLATE blocks
    merge (same type, page_alloc.c:978-983).  After migrating [0,8), the old pages sit as two
    order-2 ISOLATE blocks in 4.4 and as one order-3 ISOLATE block in 6.18."""
    z4, z6 = zone("MMMMMMMM........"), zone("MMMMMMMM........")
    r4, r6 = run4(z4, 0, 8), run6(z6, 0, 8)
    assert r4.ret == r6.ret == 0
    t6 = r6.events
    k = t6.index(t6.by_func("migrate_pages")[-1])
    assert t6.zone_at(k).free_blocks() == [(0, 3, I)]
    t4 = r4.events
    k = t4.index(t4.by_func("drains_done")[-1])
    assert [b for b in t4.zone_at(k).free_blocks() if b[2] == I] == [(0, 2, I), (4, 2, I)]
    assert z4.to_map() == z6.to_map() == "XXXXXXXXMMMMMMMM"


def test_side_by_side_enomem_ends_the_loop():
    """5.13: -ENOMEM from migrate_pages breaks the loop at once (page_alloc.c:6785); 4.4 retries
    the batch until the 5th try.  The only free pages are in the isolated range."""
    z4, z6 = zone("MMMMMMMM"), zone("MMMMMMMM")
    r4, r6 = run4(z4, 0, 8), run6(z6, 0, 8)
    assert r4.ret == r6.ret == ENOMEM
    # the eight pages go back through putback_movable_pages into the LRU-add batch (v); both
    # kernels give the blocks back as MOVABLE (4.4: the caller's type; 6.18: their own type)
    assert z4.to_map() == z6.to_map() == "vvvvvvvv" and z4.free_blocks() == z6.free_blocks() == []
    assert z4.blocks_map() == z6.blocks_map() == "MM" and r4.log == r6.log == []
    assert len(r4.events.by_func("migrate_pages")) == 5
    assert len(r6.events.by_func("migrate_pages")) == 1


def test_side_by_side_ebusy_falls_through_to_the_test():
    """4.5: -EBUSY from migration falls through to test_pages_isolated (page_alloc.c:6950),
    whose tracepoint names the busy PFN; 4.4 returned at once.  (Enough free pages outside:
    each retry of the busy page takes a new target.)"""
    z4, z6 = zone("MMMM" + "." * 28), zone("MMMM" + "." * 28)
    r4, r6 = run4(z4, 0, 4, busy_pfns=[1]), run6(z6, 0, 4, busy_pfns=[1])
    assert r4.ret == r6.ret == EBUSY
    assert r4.events.by_func("test_pages_isolated") == []
    tp = r6.events.by_func("test_pages_isolated")
    assert len(tp) == 1 and tp[0].fields["fin_pfn"] == 1 and r6.busy_pfn == 1
    # page_alloc.c:6791: without __GFP_NOWARN the stuck page would be dumped (dynamic debug only)
    assert r6.events.by_func("alloc_contig_dump_pages")[0].fields["stuck"] == [1]
    assert r4.log == r6.log == []


def test_side_by_side_outer_end_after_the_isolation_split():
    """6.9+: isolation splits a free block larger than a pageblock (page_alloc.c:2109), so the
    grab of [2,4) ends at 4 in 6.18; 4.4 took the whole order-3 block: outer_end 8."""
    z4, z6 = zone("........MMMMMMMM"), zone("........MMMMMMMM")
    r4, r6 = run4(z4, 2, 4), run6(z6, 2, 4)
    assert (r4.outer_start, r4.outer_end) == (0, 8)
    assert (r6.outer_start, r6.outer_end) == (0, 4)
    assert z4.free_blocks() == z6.free_blocks() == [(0, 1, M), (4, 2, M)]


# ---------------------------------------------------------------- property
_PAGES = st.text(alphabet=".....MMMFPUpvTH", min_size=16, max_size=16)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages=_PAGES, blocks=st.text(alphabet="MMMC", min_size=4, max_size=4),
       lo=st.integers(0, 15), n=st.integers(1, 16), cma=st.booleans())
def test_property_check_holds_and_failure_keeps_block_types(pages, blocks, lo, n, cma):
    """Any zone and range: zone.check() holds, and a failed call leaves every pageblock's
    migratetype as it was.  Blocks are MOVABLE or CMA, so a migration target never comes from
    a fallback steal (which retypes a block in either kernel)."""
    try:
        z = zone(pages, blocks)
    except ValueError:
        return                              # a T/H run that cannot be cut
    hi = min(16, lo + n)
    before = z.pb.copy()
    r = k618.alloc_contig_range(z, lo, hi, k618.ACR_FLAGS_CMA if cma else k618.ACR_FLAGS_NONE)
    z.check()
    assert not (z.pb == I).any() and z.nr_isolate_pageblock == 0
    if r.ret:
        assert np.array_equal(z.pb, before)
    else:
        assert z.to_map()[lo:hi] == "X" * (hi - lo)
        assert np.array_equal(z.pb, before)


def test_hugetlb_folios_go_to_the_lists_tail_and_migrate_first():
    """compaction.c:972 + hugetlb.c:7795: an in-use hugetlb folio is put at the TAIL of
    cc->migratepages (list_move_tail), an LRU page at the head (compaction.c:1206); scanning
    [0, 8) gives [7, 6, 3, 2, 0, 4].  migrate.c:2080: migrate_pages() runs migrate_hugetlbs()
    first, the hugetlb folios in list order: 0, then 4.  Targets (the model's allocator, v4.4's
    __rmqueue_smallest/expand): folio 0 splits the free order-3 block at 8 and gets 8 (10 and
    12 go back as order-1 and order-2 blocks), folio 4 gets 10; then the pages 7, 6, 3, 2 get
    12, 13, 14, 15 (the order-2 block split for the per-CPU list, head first).  Putting the
    folios at the head, or migrating in list order, gives other targets."""
    z = zone("HHMMHHMM........")
    r = run6(z, 0, 8)
    assert r.ret == 0
    assert list(r.migrated.items()) == [(0, 8), (4, 10), (7, 12), (6, 13), (3, 14), (2, 15)]
    assert z.to_map() == "XXXXXXXXHHHHMMMM" and z.free_blocks() == []
