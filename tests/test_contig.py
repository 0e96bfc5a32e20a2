"""alloc_contig_range() and free_contig_range() at v4.4: every stage, quirk and failure path.

Each case was worked out by hand from the reference
(../shared/kernel/alloc_contig_range-semantics.md, section in the docstring) on
Geometry(max_order=4, pageblock_order=2): 8-page max-order blocks, 4-page
pageblocks, so pfn_max_align rounds to multiples of 8.
"""

from __future__ import annotations

import errno

import pytest

from contig import MigrateType, Zone, alloc_contig_range, free_contig_range
from contig.pcp import drain_all_pages, lru_add_drain_all

M, U, I, C = MigrateType.MOVABLE, MigrateType.UNMOVABLE, MigrateType.ISOLATE, MigrateType.CMA
EBUSY, ENOMEM, EINTR = -errno.EBUSY, -errno.ENOMEM, -errno.EINTR


def run(z, start, end, **kw):
    r = alloc_contig_range(z, start, end, **kw)
    z.check()
    assert r.events.final().state_equal(z), "replaying the trace must give the final zone"
    return r


def test_all_free_success_and_the_head_tail_refree(zone_from_map):
    """§2.14 end to end; §2.10 outer_start on an order-3 head; §2.12 outer_end; §2.7 undo."""
    z = zone_from_map("." * 16)
    r = run(z, 4, 12)
    assert (r.ret, r.ok) == (0, True)
    assert (r.isolate_start, r.isolate_end) == (0, 16)
    assert (r.outer_start, r.outer_end) == (0, 16)
    assert z.to_map() == "....XXXXXXXX...."
    assert z.free_blocks() == [(0, 2, M), (12, 2, M)]
    assert z.nr_free_pages == 8 and z.blocks_map() == "MMMM"
    assert r.log == [] and r.migrated == {}
    frees = r.events.by_func("free_contig_range")
    assert [(e.start_pfn, e.end_pfn, e.fields["part"]) for e in frees] == [(0, 4, "head"), (12, 16, "tail")]


def test_migration_moves_pages_to_the_smallest_free_blocks_outside(zone_from_map):
    """§2.8: batch list head-first (descending PFN), targets from __rmqueue_smallest."""
    z = zone_from_map("MMMM....UU..p...MMF.....")
    r = run(z, 2, 6)
    assert r.ret == 0
    # the drain after isolating block 0 merged the pcp page 12 into an order-2 block at 12;
    # page 3 gets the only order-0 block (19), page 2 splits the order-1 block at 10
    assert r.migrated == {3: 19, 2: 10}
    assert z.to_map() == "MMXXXX..UUM.....MMFM...."
    assert (r.outer_start, r.outer_end) == (2, 8)


def test_pinned_page_ends_in_pfns_busy(zone_from_map):
    """§2.8 pinned anon skipped; §2.11 the walk stops; the printk line in hex."""
    z = zone_from_map("........" "..P.....")
    before = z.free_blocks()
    r = run(z, 8, 16)
    assert r.ret == EBUSY
    assert r.skipped == {"pinned": [10]}
    assert r.outer_start == 8 and r.outer_end is None
    assert r.log == ["alloc_contig_range: [8, 10) PFNs busy"]
    assert r.busy_pfn == 10 and r.failed_stage == "test_pages_isolated"
    assert z.free_blocks() == before and z.nr_free_pages == 15
    assert z.to_map() == "........" "..P....."


def test_outer_start_lands_on_a_block_that_does_not_cover_start(zone_from_map):
    """§2.10 the v4.4 bug: probes 7, 6, 4 -> PFN 4 heads an order-1 block (4..5), not covering 7."""
    z = zone_from_map("MMMM..MP" "........")
    r = run(z, 7, 12)
    assert r.outer_start == 4
    ev = r.events.by_func("outer_start")[0]
    assert ev.fields["probes"] == [7, 6, 4] and ev.fields["covers_start"] is False
    assert r.log == ["alloc_contig_range: [4, c) PFNs busy"]
    assert r.ret == EBUSY
    assert z.free_blocks() == [(4, 1, M), (8, 3, M)] and z.nr_free_pages == 10


def test_no_free_block_found_is_a_silent_ebusy(zone_from_map):
    """§2.10: 11 probes (here 4) find no buddy: -EBUSY without a message."""
    z = zone_from_map("P......." "........")
    r = run(z, 0, 4)
    assert r.ret == EBUSY and r.log == [] and r.outer_start is None
    assert r.failed_stage == "outer_start"
    assert r.events.by_func("outer_start")[0].fields["probes"] == [0, 0, 0, 0]


def test_no_migration_target_is_enomem_after_five_tries(zone_from_map):
    """§2.8: alloc_migrate_target() finds nothing outside the isolated blocks."""
    z = zone_from_map("MMMM...." "MMMMMMMM")
    r = run(z, 0, 4)
    assert r.ret == ENOMEM and r.failed_stage == "__alloc_contig_migrate_range"
    assert len(r.events.by_func("migrate_pages")) == 5
    # putback_movable_pages() leaves the pages in the LRU pagevec (no drain on this path)
    assert z.to_map() == "vvvv...." "MMMMMMMM"
    assert z.pagevec() == [3, 2, 1, 0]
    assert z.blocks_map() == "MMMM" and z.nr_free_pages == 4
    assert r.log == []


def test_fatal_signal_is_eintr(zone_from_map):
    z = zone_from_map("MM......" "........")
    before = z.copy()
    r = run(z, 0, 2, fatal_signal_at=1)
    assert r.ret == EINTR and r.migrated == {}
    assert z.to_map() == before.to_map() and z.free_blocks() == before.free_blocks()


def test_busy_page_gives_ebusy_after_five_tries(zone_from_map):
    """§2.8: a page that returns -EAGAIN every pass; 5 migrate_pages() calls, then -EBUSY."""
    z = zone_from_map("MM......" + "." * 24)
    r = run(z, 0, 2, busy_pfns=[1])
    assert r.ret == EBUSY and r.log == []
    assert r.migrated == {0: 9}          # page 1 took target 8 (and failed), page 0 got 9
    assert len(r.events.by_func("migrate_pages")) == 5
    assert chr(z.kind[1]) == "v"         # back towards the LRU through the pagevec


def test_isolation_failure_in_the_padding(zone_from_map):
    """§2.6: [0, 2) is fine but the aligned range [0, 8) holds an UNMOVABLE block with a U page."""
    z = zone_from_map("MM.." "UUUU" "........", blocks="MUMM")
    r = run(z, 0, 2)
    assert r.ret == EBUSY and r.failed_stage == "start_isolate_page_range"
    assert r.busy_pfn == 4 and r.log == [] and r.outer_start is None
    assert z.blocks_map() == "MUMM"


def test_unmovable_page_in_a_movable_block_is_caught_late(zone_from_map):
    """§2.15: MOVABLE blocks isolate without a look; the U page is skipped, then PFNs busy."""
    z = zone_from_map("..U." "....")
    r = run(z, 0, 4)
    assert r.ret == EBUSY
    assert r.skipped == {"not_lru": [2]}   # 0 and 3 head free blocks: skipped whole, silently
    assert r.log == ["alloc_contig_range: [0, 4) PFNs busy"]


def test_pcp_page_in_range_is_drained_into_the_isolate_list(zone_from_map):
    z = zone_from_map("p..." "....")
    r = run(z, 0, 4)
    assert r.ret == 0
    assert z.to_map() == "XXXX...."
    assert z.free_blocks() == [(4, 2, M)]


def test_pagevec_page_in_range_is_drained_then_migrated(zone_from_map):
    """§2.9: migrate_prep() drains the pagevec so the page can be isolated."""
    z = zone_from_map("v..." "...." "........")
    r = run(z, 0, 4)
    assert r.ret == 0 and r.migrated == {0: 8}
    assert z.to_map() == "XXXX...." "M......."


def test_clean_page_cache_is_dropped_not_migrated(zone_from_map):
    z = zone_from_map("F..." "...." "........")
    r = run(z, 0, 4)
    assert r.ret == 0 and r.migrated == {} and r.reclaimed == [0]
    assert z.free_blocks() == [(4, 2, M), (8, 3, M)]


def test_thp_in_range_is_skipped_then_busy(zone_from_map):
    """§2.15: compound pages are never isolated for migration in 4.4."""
    z = zone_from_map("..TT" "...." "........")
    r = run(z, 0, 4)
    assert r.ret == EBUSY
    assert r.log == ["alloc_contig_range: [0, 4) PFNs busy"]
    assert z.to_map() == "..TT" "...." "........"


def test_hole_passes_the_test_but_stops_the_strict_grab(zone_from_map):
    """§2.11 holes step 1; §2.12 a hole stops isolate_freepages_block(): -EBUSY, no message."""
    z = zone_from_map(".#.." "...." "........")
    r = run(z, 0, 4)
    assert r.ret == EBUSY and r.log == []
    assert r.failed_stage == "isolate_freepages_range"
    assert z.free_blocks() == [(0, 0, M), (2, 1, M), (4, 2, M), (8, 3, M)]


@pytest.mark.parametrize(("mt", "after"), [(M, "MMCC"), (C, "CCCC")])
def test_undo_gives_blocks_the_callers_migratetype(zone_from_map, mt, after):
    """§2.7 quirk: CMA blocks come back MOVABLE when the caller says MOVABLE."""
    z = zone_from_map("MM......" "........", blocks="CCCC")
    r = run(z, 0, 2, migratetype=mt)
    assert r.ret == 0
    assert z.blocks_map() == after


def test_free_contig_range_gives_every_page_back(zone_from_map):
    z = zone_from_map("." * 16)
    run(z, 4, 12)
    assert free_contig_range(z, 4, 8) == 0
    drain_all_pages(z)
    assert z.free_blocks() == [(0, 3, M), (8, 3, M)]
    assert z.nr_free_pages == 16
    z.check()


def test_free_contig_range_counts_pages_not_at_refcount_1(zone_from_map):
    z = zone_from_map("PX.." "....")
    assert free_contig_range(z, 0, 2) == 1
    assert z.to_map()[1] == "."


@pytest.mark.parametrize(("start", "end", "kw", "match"), [
    (4, 4, {}, "start"),
    (6, 2, {}, "start"),
    (0, 17, {}, "not inside zone"),
    (-1, 4, {}, "not inside zone"),
    (0, 4, {"migratetype": MigrateType.UNMOVABLE}, "MOVABLE or CMA"),
    (0, 4, {"fatal_signal_at": 0}, "fatal_signal_at"),
    (0, 4, {"busy_pfns": [9]}, "busy PFN 9"),
])
def test_argument_errors_raise_and_leave_the_zone_untouched(zone_from_map, start, end, kw, match):
    z = zone_from_map("MM......" "........")
    before = z.copy()
    with pytest.raises(ValueError, match=match):
        alloc_contig_range(z, start, end, **kw)
    assert z.state_equal(before)


def test_free_contig_range_argument_errors(zone_from_map):
    z = zone_from_map("XX......")
    before = z.copy()
    for args in ((0, -1), (7, 2), (0, 1.5)):
        with pytest.raises(ValueError, match=r"nr_pages|outside"):
            free_contig_range(z, *args)
    assert z.state_equal(before)


def test_trace_replays_every_step(zone_from_map):
    z = zone_from_map("MMMM....UU..p...MMF.....")
    r = alloc_contig_range(z, 2, 6)
    ev = r.events
    assert ev.zone_at(-1).state_equal(ev.initial)
    for k in range(len(ev)):
        ev.zone_at(k).check()
    assert ev.zone_at(len(ev) - 1).state_equal(z)
    assert ev[0].stage == "align" and ev[-1].func == "alloc_contig_range"
    assert str(ev[-1]) == "alloc_contig_range start_pfn=0x2 end_pfn=0x6 ret=0"


def test_lru_add_drain_frees_old_pages_after_migration(zone_from_map):
    """§2.9: after migration the old page's last reference is the pagevec's."""
    z = zone_from_map("M..." "...." "........")
    r = alloc_contig_range(z, 0, 4)
    drains = r.events.by_func("lru_add_drain_all")
    assert drains and drains[-1].fields == {"nr_pages": 2, "freed": 1}
    lru_add_drain_all(z)
    z.check()


def test_large_geometry_smoke():
    z = Zone.from_map("M" * 700 + "." * 3396)
    r = alloc_contig_range(z, 100, 600)
    assert r.ret == 0 and len(r.migrated) == 500
    assert (r.isolate_start, r.isolate_end) == (0, 1024)
    z.check()
