"""The zone model: building from maps, rendering, copying, checking (reference §2.1-2.3)."""

from __future__ import annotations

import numpy as np
import pytest

from contig import Geometry, MigrateType, Zone, ZoneCheckError
from contig.zone import zone_batchsize

M, U, I, C = MigrateType.MOVABLE, MigrateType.UNMOVABLE, MigrateType.ISOLATE, MigrateType.CMA


# ---------------------------------------------------------------- Geometry (§2.1)
def test_geometry_x86_defaults():
    g = Geometry()
    assert (g.max_order, g.pageblock_order) == (11, 9)
    assert g.max_order_nr_pages == 1024
    assert g.pageblock_nr_pages == 512


def test_pfn_max_align_reference_example():
    # §2.1: start=0x12345, end=0x12545 -> isolate [0x12000, 0x12800)
    g = Geometry()
    assert g.pfn_max_align_down(0x12345) == 0x12000
    assert g.pfn_max_align_up(0x12545) == 0x12800
    assert g.pfn_max_align_up(0x12800) == 0x12800


def test_pfn_max_align_uses_the_larger_of_max_order_and_pageblock():
    # arm64 64K pages without THP: MAX_ORDER 11, pageblock_order 13 (§2.1)
    g = Geometry(max_order=11, pageblock_order=13)
    assert g.max_align_nr_pages == 8192
    assert g.pfn_max_align_down(9000) == 8192


@pytest.mark.parametrize("kw", [{"max_order": 0}, {"pageblock_order": -1}, {"max_order": 2.5}])
def test_geometry_rejects_bad_values(kw):
    with pytest.raises(ValueError, match="order"):
        Geometry(**kw)


# ---------------------------------------------------------------- from_map / to_map
def test_from_map_builds_the_canonical_buddy_structure(zone_from_map):
    z = zone_from_map("M.......")
    assert z.free_blocks() == [(1, 0, M), (2, 1, M), (4, 2, M)]
    assert z.nr_free_pages == 7
    assert z.nr_free.tolist() == [1, 1, 1, 0]


def test_from_map_caps_blocks_at_max_order_minus_one(zone_from_map):
    z = zone_from_map("." * 24)
    assert z.free_blocks() == [(0, 3, M), (8, 3, M), (16, 3, M)]


def test_from_map_aligns_by_absolute_pfn(zone_from_map):
    # zone starting at PFN 3: blocks are aligned to absolute PFNs
    z = zone_from_map("." * 9, blocks="MMM", start_pfn=3)
    assert z.free_blocks() == [(3, 0, M), (4, 2, M), (8, 2, M)]


def test_free_blocks_go_on_the_list_of_their_head_pageblock(zone_from_map):
    z = zone_from_map("M......." + "UUUU....", blocks="MIUC")
    assert z.free_blocks() == [(1, 0, M), (2, 1, M), (4, 2, I), (12, 2, C)]
    # Isolate lists are not counted in NR_FREE_PAGES (§2.3)
    assert z.nr_free_pages == 3 + 4
    assert z.nr_isolate_pageblock == 1


def test_free_list_order_is_ascending_pfn(zone_from_map):
    z = zone_from_map("M.M.M.M.")
    assert z.free_list(0, M) == [1, 3, 5, 7]


def test_pcp_and_pagevec_pages(zone_from_map):
    z = zone_from_map("p.pv" + "p...", blocks="UM")
    assert z.pcp_list(0) == [0, 2]      # Unmovable block -> Unmovable list
    assert z.pcp_list(1) == [4]
    assert z.pagevec() == [3]
    assert z.pcp_count == 3
    assert z.nr_free_pages == 1 + 3     # pcp pages are not counted


def test_to_map_round_trips(zone_from_map):
    m = "M.F.PUR#TT..HHHH" + "pvX....." + "........"
    z = zone_from_map(m, blocks="MUMMRCMM")
    assert z.to_map() == m
    assert z.blocks_map() == "MUMMRCMM"
    z2 = Zone.from_map(z.to_map(), geometry=z.geometry, blocks=z.blocks_map())
    assert z2.state_equal(z)


def test_compound_runs_are_cut_into_aligned_pages(zone_from_map):
    z = zone_from_map("TTTTTT.." + "HH......")
    heads = [p for p in range(16) if z.page(p)["compound"] == "head"]
    assert heads == [0, 4, 8]
    assert [z.page(p)["compound_order"] for p in heads] == [2, 1, 1]
    assert z.page(1)["count"] == 0 and z.page(0)["count"] == 1


def test_a_compound_run_that_cannot_be_cut_is_rejected(tiny):
    with pytest.raises(ValueError, match=r"'T' pages at PFNs 1\.\.2.*PFN 1"):
        Zone.from_map(".TT.....", geometry=tiny)


@pytest.mark.parametrize(("pages", "blocks", "match"), [
    ("..Z.....", None, r"unknown map character 'Z' at PFN 2"),
    ("..é.....", None, r"unknown map character 'é' at PFN 2"),
    ("........", "M", r"blocks has 1 entries but the zone overlaps 2 pageblocks"),
    ("........", "MQ", r"unknown pageblock character 'Q' at block 1"),
    ("", None, r"map is empty"),
])
def test_from_map_rejects_bad_input(tiny, pages, blocks, match):
    with pytest.raises(ValueError, match=match):
        Zone.from_map(pages, geometry=tiny, blocks=blocks)


def test_from_map_rejects_a_negative_start_pfn(tiny):
    with pytest.raises(ValueError, match="start_pfn"):
        Zone.from_map("....", geometry=tiny, start_pfn=-4)


def test_pfn_outside_the_zone_is_a_value_error(zone_from_map):
    z = zone_from_map("........")
    with pytest.raises(ValueError, match=r"PFN 8 is outside zone Normal \[0, 8\)"):
        z.page(8)


def test_from_arrays_equals_from_map(tiny):
    m = "M.F.PUR#" + "pv......"
    a = Zone.from_arrays(np.frombuffer(m.encode(), np.uint8), np.array([1, 0, 1, 1], np.uint8),
                         geometry=tiny)
    b = Zone.from_map(m, geometry=tiny, blocks="MUMM")
    assert a.state_equal(b)


# ---------------------------------------------------------------- copy / check
def test_copy_is_independent(zone_from_map):
    z = zone_from_map("M.......")
    c = z.copy()
    c.kind[0] = ord("U")
    c.pb[0] = int(U)
    c.nr_free_pages = 99
    assert z.to_map() == "M......." and z.blocks_map() == "MM" and z.nr_free_pages == 7
    assert c.state_equal(c.copy())


def test_check_catches_a_wrong_counter(zone_from_map):
    z = zone_from_map("M.......")
    z.nr_free_pages += 1
    with pytest.raises(ZoneCheckError, match="NR_FREE_PAGES"):
        z.check()


def test_check_catches_a_free_page_outside_any_block(zone_from_map):
    z = zone_from_map("M.......")
    z.kind[0] = ord(".")
    with pytest.raises(ZoneCheckError):
        z.check()


def test_check_catches_a_broken_list(zone_from_map):
    z = zone_from_map("M.M.M.M.")
    z.next[3] = 7           # skip PFN 5 on the order-0 list
    with pytest.raises(ZoneCheckError):
        z.check()


def test_zone_batchsize_matches_v44():
    # mm/page_alloc.c zone_batchsize(): 4 GiB zone -> batch 31, high 186
    assert zone_batchsize(1 << 20) == 31
    assert zone_batchsize(64) == 0        # small zones: high 0, batch max(1, 0) = 1
    z = Zone.from_map("." * 64, geometry=Geometry(4, 2))
    assert (z.pcp_high, z.pcp_batch) == (0, 1)
