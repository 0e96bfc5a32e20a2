"""Issue 12, section 2: the model bugs B1..B7, each reproduced exactly as the issue gives it.

Expected results are derived by hand from the v4.4.0 source (file and function
cited at each test); none is copied from the model's output.
"""

from __future__ import annotations

import errno
import signal
from contextlib import contextmanager

import pytest

from contig import Geometry, MigrateType, Zone, alloc_contig_range, free_contig_range
from contig.buddy import mod_zone_freepage_state, move_freepages
from contig.isolation import set_migratetype_isolate, unset_migratetype_isolate
from contig.pcp import drain_all_pages, free_pcppages_bulk, put_page, set_pcp
from contig.zone import ZoneCheckError

G = Geometry(max_order=4, pageblock_order=2)
M, U, I = MigrateType.MOVABLE, MigrateType.UNMOVABLE, MigrateType.ISOLATE
EBUSY = -errno.EBUSY


@contextmanager
def time_limit(seconds: float):
    """Turn a hang (the old free_pcppages_bulk) into a failure instead of a stuck test run."""
    def boom(signum, frame):
        raise AssertionError(f"did not finish within {seconds} s")
    old = signal.signal(signal.SIGALRM, boom)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------- B1
# v4.4 mm/page_alloc.c: pageset_set_batch(b) sets (high, batch) = (6*b, max(1, b));
# pageset_set_high(h) (the percpu_pagelist_fraction sysctl) sets (h, clamp(h/4, 1, 96));
# pageset_update() says batch is never above high.  (0, 3) and (1, 2) are neither.
def test_b1_set_pcp_refuses_high_0_batch_3():
    z = Zone.from_map("MMMM" + "." * 16, geometry=G)
    before = z.copy()
    with pytest.raises(ValueError, match=r"high=0, batch=3"):
        set_pcp(z, 0, 3)
    assert z.state_equal(before)


def test_b1_from_map_refuses_high_1_batch_2():
    with pytest.raises(ValueError, match=r"high=1, batch=2"):
        Zone.from_map("MMMM", geometry=G, pcp_high=1, pcp_batch=2)


@pytest.mark.parametrize(("high", "batch"), [(0, 1), (6, 1), (18, 3), (2, 1), (10, 2), (4, 1), (96, 24)])
def test_b1_settings_the_kernel_can_have_are_accepted(high, batch):
    z = Zone.from_map("MMMM", geometry=G)
    set_pcp(z, high, batch)
    assert (z.pcp_high, z.pcp_batch) == (high, batch)
    z2 = Zone.from_map("MMMM", geometry=G, pcp_high=high, pcp_batch=batch)
    assert (z2.pcp_high, z2.pcp_batch) == (high, batch)


@pytest.mark.parametrize(("high", "batch"), [(4, 2), (6, 3), (8, 3), (12, 4), (100, 30), (0, 2)])
def test_b1_pairs_neither_formula_gives_are_refused(high, batch):
    # (4, 2): 6*2 = 12 != 4 and max(1, 4/4) = 1 != 2; (6, 3): 6*3 = 18, 6/4 -> 1;
    # (8, 3): 8/4 = 2; (12, 4): 12/4 = 3 and 6*4 = 24; (100, 30): 100/4 = 25; (0, 2): batch 1 only.
    z = Zone.from_map("MMMM", geometry=G)
    before = z.copy()
    with pytest.raises(ValueError, match=rf"high={high}, batch={batch} is not a per-CPU setting"):
        set_pcp(z, high, batch)
    assert z.state_equal(before)


def test_b1_one_pcp_value_derives_the_other_as_the_kernel_does():
    # pageset_set_high(10): batch max(1, 10/4) = 2; pageset_set_batch(3): high 18
    assert Zone.from_map("MMMM", geometry=G, pcp_high=10).pcp_batch == 2
    assert Zone.from_map("MMMM", geometry=G, pcp_batch=3).pcp_high == 18


def test_b1_free_pcppages_bulk_cannot_spin():
    z = Zone.from_map("MMMM" + "." * 16, geometry=G)
    set_pcp(z, 6, 1)
    put_page(z, 0)                     # one page on the Movable per-CPU list
    assert z.pcp_count == 1
    with time_limit(5):
        freed = free_pcppages_bulk(z, 5)   # asks for more than the lists hold
    z.pcp_count -= freed
    assert freed == 1
    z.check()


def test_b1_the_cli_reproducer_terminates():
    # the issue's `--map MMMM................ --start 0 --end 4 --busy 1 --pcp 0,2`:
    # the pair is refused before anything runs
    z = Zone.from_map("MMMM" + "." * 16, geometry=G)
    with pytest.raises(ValueError, match=r"high=0, batch=2"):
        set_pcp(z, 0, 2)


# ---------------------------------------------------------------- B2 / B3
def test_b2_block_index_refuses_a_pfn_below_the_zone():
    z = Zone.from_map("..U", geometry=Geometry(5, 1), start_pfn=6, blocks="MU")
    with pytest.raises(ValueError, match=r"PFN 0 is outside zone"):
        z.block_index(0)
    with pytest.raises(ValueError, match=r"PFN 9 is outside zone"):
        z.get_pageblock_migratetype(9)
    with pytest.raises(ValueError, match=r"PFN 5 is outside zone"):
        z.set_pageblock_migratetype(5, M)
    assert z.blocks_map() == "MU"


def test_b2_range_at_an_unaligned_zone_start():
    # Geometry(5, 1): 2-page pageblocks, MAX_ORDER_NR_PAGES 16, so [6, 7) isolates [0, 16).
    # Blocks 0, 2, 4 have no PFN in the zone: __first_valid_page() finds nothing, skipped.
    # Block 6 (MOVABLE) is isolated: its free order-1 block [6, 8) moves to Isolate.
    # Block 8 (UNMOVABLE) holds U at PFN 8, not on the LRU: has_unmovable_pages() -> -EBUSY.
    # The undo (start_isolate_page_range's own) gives block 6 back as MOVABLE: PFN 6 heads an
    # order-1 block (>= pageblock_order) whose buddy PFN 4 has no page here, so
    # move_freepages_block() moves it back to the Movable list.
    z = Zone.from_map("..U", geometry=Geometry(5, 1), start_pfn=6, blocks="MU")
    r = alloc_contig_range(z, 6, 7)
    assert r.ret == EBUSY
    assert r.failed_stage == "start_isolate_page_range"
    assert z.blocks_map() == "MU"
    assert z.to_map() == "..U"
    assert z.free_blocks() == [(6, 1, M)]
    assert z.nr_free_pages == 2 and z.nr_isolate_pageblock == 0
    assert r.log == []
    z.check()


def test_b3_no_free_block_stranded_on_an_isolate_list():
    # Geometry(4, 1): 2-page pageblocks, 8-page max blocks; [4, 12) isolates [0, 16).
    # Free blocks: [6, 8) and [8, 10), both order 1, Movable; NR_FREE_PAGES 4.
    # Blocks 0 and 2 are outside the zone: skipped.  4, 6, 8 are isolated ([6,8) and [8,10)
    # go to Isolate, NR_FREE_PAGES 0); 10 holds U: -EBUSY.  The undo, block by block:
    # 4: nothing free, MOVABLE again.  6: PFN 6 heads an order-1 block whose buddy PFN 4 is in a
    # MOVABLE block, so unset_migratetype_isolate() takes it out and frees it after the type
    # change: __free_one_page(6, 1, MOVABLE) finds no buddy (PFN 4 is M), NR_FREE_PAGES 2.
    # 8: buddy PFN 10 is in an UNMOVABLE block: the same, NR_FREE_PAGES 4.
    z = Zone.from_map("MM....UU", geometry=Geometry(4, 1), start_pfn=4, blocks="MMMU")
    r = alloc_contig_range(z, 4, 12)
    assert r.ret == EBUSY
    assert z.blocks_map() == "MMMU"
    assert z.free_blocks() == [(6, 1, M), (8, 1, M)]
    assert z.nr_free_pages == 4 and z.nr_free_drift == 0
    z.check()


def test_b3_last_pageblock_is_not_rewritten():
    # G: 4-page pageblocks, 8-page max blocks; [5, 9) isolates [0, 16).  Block 0 is outside
    # the zone (which starts at 4); block 4 (M) is isolated, block 8 (U) holds U at PFN 8:
    # -EBUSY; the undo restores block 4 only.  The last pageblock [20, 24) keeps ISOLATE.
    # Block 4's free order-2 block [4, 8): its buddy at order 2 is PFN 0, outside the zone,
    # so move_freepages_block() moves it back to the Movable list.
    z = Zone.from_map("....U..." + "." * 12, geometry=G, start_pfn=4, blocks="MUMMI")
    r = alloc_contig_range(z, 5, 9)
    assert r.ret == EBUSY
    assert z.blocks_map() == "MUMMI"
    assert z.free_blocks() == [(4, 2, M), (9, 0, U), (10, 1, U), (12, 2, M), (16, 3, M)]
    assert z.nr_free_pages == 19
    z.check()


def test_b3_check_catches_a_block_on_an_isolate_list_of_a_movable_pageblock():
    # the state the old model left in the B3 reproducer, built by hand
    z = Zone.from_map("....", geometry=Geometry(4, 1))
    n = move_freepages(z, 0, 3, I)            # the list changes, the pageblock does not
    mod_zone_freepage_state(z, -n, M)
    with pytest.raises(ZoneCheckError, match=r"PFN 0 is on an Isolate list but its pageblock is MOVABLE"):
        z.check()


def test_b3_check_accepts_what_a_partial_last_pageblock_leaves():
    # move_freepages_block() moves nothing when the zone does not span the pageblock's last
    # PFN (mm/page_alloc.c, v4.4), so a page freed while the partial block [0, 3) was isolated
    # stays on the Isolate list after unset_migratetype_isolate().
    z = Zone.from_map("M..", geometry=G)
    assert set_migratetype_isolate(z, 0) == 0
    assert z.free_blocks() == [(1, 0, M), (2, 0, M)]     # nothing moved
    put_page(z, 0)                                       # ISOLATE: straight to the buddy
    unset_migratetype_isolate(z, 0, M)
    assert z.blocks_map() == "M"
    assert (0, 1, I) in z.free_blocks()
    z.check()


def test_b3_check_accepts_split_halves_on_the_requesting_type():
    # expand() puts the halves on the lists of the type asked for (4.4): a MOVABLE order-0
    # allocation falling back to an order-1 block of an UNMOVABLE pageblock does not steal it
    # (can_steal_fallback(): 1 < pageblock_order 4, 1 < 4/2, MOVABLE), so the other half
    # lands on the Movable list of an UNMOVABLE pageblock; check() must accept that
    from contig.pcp import alloc_pages
    z = Zone.from_map("U" * 14 + "..", geometry=Geometry(5, 4), blocks="U")
    assert alloc_pages(z, 0, M, "M") == 14
    assert z.free_blocks() == [(15, 0, M)] and z.blocks_map() == "U"
    z.check()


# ---------------------------------------------------------------- B6
def test_b6_compound_page_of_order_max_order_is_refused():
    with pytest.raises(ValueError, match=r"'T' page at PFN 0 .*max_order=1"):
        Zone.from_map("TT..", geometry=Geometry(1, 0))
    with pytest.raises(ValueError, match=r"'H' page at PFN 2 .*max_order=1"):
        Zone.from_map("..HH", geometry=Geometry(1, 0))


def test_b6_with_geometry_refuses_it_and_leaves_the_zone():
    z = Zone.from_map("TT..", geometry=Geometry(2, 0))
    before = z.copy()
    with pytest.raises(ValueError, match=r"'T' page at PFN 0 .*max_order=1"):
        z.with_geometry(Geometry(1, 0))
    assert z.state_equal(before)
    z.check()


# ---------------------------------------------------------------- B4
# mm/vmscan.c v4.4, shrink_page_list() (called by reclaim_clean_pages_from_list()): a page
# trylock_page() cannot lock goes to "keep"; a page under writeback, in this direct reclaim,
# is marked PageReclaim and kept.  Kept pages go back on the migration list, and migration
# fails with -EAGAIN on every pass (the model's busy page).
def test_b4_busy_clean_page_cache_page_is_not_dropped_issue_zone():
    # The issue's zone: [8, 9) isolates [8, 16); the only free pages outside are [0, 8).
    # Every pass of migrate_pages() takes a new target (alloc_migrate_target) and, the page
    # being busy, puts the unused target in the LRU pagevec (putback_lru_page; mm/migrate.c
    # unmap_and_move).  The pagevec holds 14, so no flush frees them: targets 0..7 go, the
    # 9th pass finds no free page outside the isolated blocks -> -ENOMEM, and every later try
    # fails the same way; after the 5th, __alloc_contig_migrate_range returns -ENOMEM.
    z = Zone.from_map("........F.......", geometry=G)
    r = alloc_contig_range(z, 8, 9, busy_pfns=[8])
    assert r.ret == -errno.ENOMEM
    assert r.failed_stage == "__alloc_contig_migrate_range"
    assert r.reclaimed == [] and r.migrated == {}
    assert z.to_map()[8] != "."          # the page-cache page is still there
    assert 8 in z.pagevec()              # put back towards the LRU (putback_movable_pages)
    z.check()


def test_b4_busy_clean_page_cache_page_ends_ebusy():
    # 24 free pages outside [24, 32): targets never run out (the pagevec flush at the 15th
    # addition frees unused targets again), so the page stays on the list through all 5 tries
    # of __alloc_contig_migrate_range() and the call ends -EBUSY, with no "PFNs busy" line.
    z = Zone.from_map("." * 16 + "........F.......", geometry=G)
    r = alloc_contig_range(z, 24, 25, busy_pfns=[24])
    assert r.ret == EBUSY
    assert r.failed_stage == "__alloc_contig_migrate_range"
    assert r.reclaimed == [] and r.migrated == {} and r.log == []
    assert z.kinds()[24] == ord("v")
    z.check()


def test_b4_a_clean_page_not_busy_is_still_dropped():
    z = Zone.from_map("." * 16 + "........FF......", geometry=G)
    r = alloc_contig_range(z, 24, 26, busy_pfns=[24])
    assert r.ret == EBUSY
    assert r.reclaimed == [25]
    z.check()


# ---------------------------------------------------------------- B5
# free_contig_range() twice over a page in the LRU-add pagevec (count 2: its user's and the
# pagevec's).  First call: PFN 0 is free (count 0 != 1), PFN 1 has count 2 != 1: WARN 2, and
# PFN 1 drops to 1.  Second call: PFN 0 again counts, PFN 1 (count 1) drops to 0; it is a
# mapped anonymous page, so free_pages_check() (mm/page_alloc.c v4.4) finds a non-zero
# mapcount and bad_page() leaves it where it is: still in the pagevec, not on a free list.
def test_b5_free_contig_range_twice_over_a_pagevec_page():
    z = Zone.from_map(".v", geometry=Geometry(2, 1))
    log1: list[str] = []
    log2: list[str] = []
    assert free_contig_range(z, 0, 2, log=log1) == 2
    assert free_contig_range(z, 0, 2, log=log2) == 1
    assert log1 == ["WARNING: 2 pages are still in use!"]
    assert log2 == ["BUG: Bad page state in process contig  pfn:00001",
                    "page dumped because: nonzero mapcount",
                    "WARNING: 1 pages are still in use!"]
    assert z.pagevec() == [1]
    assert z.to_map() == ".v"
    assert z.free_blocks() == [(0, 0, M)]
    z.check()


def test_b5_an_unmapped_page_freed_out_of_the_pagevec_leaves_it_first():
    # After the -EBUSY run above, the pagevec holds the unused migration targets (count 1:
    # the pagevec's reference only, no mapping).  Freeing them drops the pagevec's reference;
    # free_pages_check() passes, so they are freed, and the model takes them out of the
    # pagevec (the kernel's pagevec array would keep a stale pointer).
    z = Zone.from_map("." * 16 + "........F.......", geometry=G)
    alloc_contig_range(z, 24, 25, busy_pfns=[24])
    targets = [p for p in z.pagevec() if p != 24]
    assert targets and all(z.count[p] == 1 for p in targets)
    for p in targets:
        assert free_contig_range(z, p, 1) == 0
    assert z.pagevec() == [24]
    z.check()
    drain_all_pages(z)
    assert z.nr_free_pages == 31
    z.check()


# ---------------------------------------------------------------- B7
# mm/page_alloc.c v4.4: free_contig_range() counts page_count(page) != 1 (a tail page reads
# its head's count) and calls __free_page() (put_page_testzero(), then free_hot_cold_page()
# -> free_pages_prepare() -> free_pages_check()).  free_pages_prepare() clears the mapping of
# an anonymous page first; free_pages_check() then picks the last matching reason of:
# mapcount, mapping, _count, PAGE_FLAGS_CHECK_AT_FREE (PG_lru, PG_reserved ...).  bad_page()
# prints "BUG: Bad page state in process %s  pfn:%05lx" and leaves the page unfreed.
def test_b7_freeing_pages_nobody_allocated():
    # Geometry(2, 1): orders 0..1, 2-page pageblocks; small zone: pcp high 0, batch 1
    # PFN 0 M: count 1 -> 0; mapped, PG_lru -> flags reason; bad
    # PFN 1 F: count 1 -> 0; mapping, PG_lru -> flags reason; bad
    # PFN 2 R: count 1 -> 0; PG_reserved -> flags reason; bad
    # PFN 3 U: count 1 -> 0; passes; per-CPU list, pushed on at once (high 0): buddy PFN 2 is
    #          in use, so (3, 0) on the Movable list
    # PFN 4 T head (order 1): count 1 -> 0; PG_lru -> flags reason; bad
    # PFN 5 T tail: page_count() reads the head: 0 != 1 -> WARN; nothing to drop
    # PFN 6 X: count 1 -> 0; passes; merges with free PFN 7 into (6, 1)
    # PFN 7 free: count 0 != 1 -> WARN
    z = Zone.from_map("MFRUTTX.", geometry=Geometry(2, 1))
    log: list[str] = []
    assert free_contig_range(z, 0, 8, log=log) == 2
    flags_reason = "page dumped because: PAGE_FLAGS_CHECK_AT_FREE flag(s) set"
    assert log == [
        "BUG: Bad page state in process contig  pfn:00000", flags_reason,
        "BUG: Bad page state in process contig  pfn:00001", flags_reason,
        "BUG: Bad page state in process contig  pfn:00002", flags_reason,
        "BUG: Bad page state in process contig  pfn:00004", flags_reason,
        "WARNING: 2 pages are still in use!",
    ]
    assert z.to_map() == "MFR.TT.."
    assert z.free_blocks() == [(3, 0, M), (6, 1, M)]
    assert z.nr_free_pages == 3
    bad = [p for p in range(8) if z.page(p).get("bad")]
    assert bad == [0, 1, 2, 4]
    z.check()


def test_b7_pages_still_in_use_keep_the_warn():
    # P: count 2 (user + pin) -> WARN, drops to 1, stays; X is freed silently
    z = Zone.from_map("PX..", geometry=Geometry(2, 1))
    log: list[str] = []
    assert free_contig_range(z, 0, 2, log=log) == 1
    assert log == ["WARNING: 1 pages are still in use!"]
    assert z.to_map() == "P..." and int(z.count[0]) == 1
    z.check()


def test_b7_a_bad_page_is_never_isolated_for_migration():
    # the bad M page stays on the LRU with count 0: __isolate_lru_page() cannot take a
    # reference (get_page_unless_zero), so it is never migrated; has_unmovable_pages() sees
    # count 0 and passes it; the final test finds it is not a free block: PFNs busy
    z = Zone.from_map("M" + "." * 15, geometry=G)
    free_contig_range(z, 0, 1)
    r = alloc_contig_range(z, 0, 1)
    assert r.ret == EBUSY and r.migrated == {}
    assert r.failed_stage in ("outer_start", "test_pages_isolated")
    z.check()


def test_b4_kept_pages_go_back_to_the_head_of_the_migration_list_reversed():
    # reclaim_clean_pages_from_list() (mm/vmscan.c v4.4) moves the clean pages, in list
    # order, to the head of a private list (so that list is reversed); shrink_page_list()
    # takes pages from its tail (list order again) and adds each kept page to the head of
    # ret_pages (reversed once more); both splices put them at the head of the migration
    # list.  Migration list (head first) [27 M, 26 F busy, 25 F, 24 F busy]: 25 is dropped,
    # and the list becomes [24, 26, 27].
    from contig.migrate import CompactControl, reclaim_clean_pages_from_list
    z = Zone.from_map("." * 24 + "FFFM" + "." * 4, geometry=G, blocks="MMMMMMII")
    cc = CompactControl(zone=z, busy_pfns=frozenset({24, 26}))
    for p in (24, 25, 26, 27):          # as isolate_migratepages_block() leaves them
        z.count[p] += 1
        z.flags[p] &= 0xFF ^ 1           # off the LRU (PG_lru)
    cc.migratepages[:] = [27, 26, 25, 24]
    cc.nr_migratepages = 4
    assert reclaim_clean_pages_from_list(cc) == 1
    assert cc.migratepages == [24, 26, 27]
    assert cc.reclaimed == [25]
    assert z.to_map()[24:28] == "F.FM"
