"""contig.cma against Linux v4.4 (mm/cma.c, lib/bitmap.c, drivers/base/dma-contiguous.c).

Every expected value below is worked out by hand from the v4.4 source; the
line numbers are those of v4.4.0 (https://elixir.bootlin.com/linux/v4.4/source/).
Geometry(max_order=4, pageblock_order=2): 8-page max blocks, 4-page
pageblocks, so a CMA area must be a multiple of 8 pages at an 8-page base
(mm/cma.c:187-194, alignment = PAGE_SIZE << max(MAX_ORDER - 1, pageblock_order)).
"""

from __future__ import annotations

import errno
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contig import Geometry, MigrateType, Zone
from contig.cma import (
    CMA_ALIGNMENT,
    Cma,
    bitmap_find_next_zero_area_off,
    cma_alloc,
    cma_bitmap_aligned_offset,
    cma_init_reserved,
    cma_release,
    dma_alloc_from_contiguous,
    get_order,
    parse_busy_lines,
)

G = Geometry(max_order=4, pageblock_order=2)


def bits(s: str) -> np.ndarray:
    return np.array([c == "1" for c in s], dtype=bool)


# ---------------------------------------------------------------- lib/bitmap.c:307-330

@pytest.mark.parametrize(("bitmap", "start", "nr", "mask", "offset", "want"), [
    # first clear bit 0; window [0, 3) holds set bit 2 -> start again at 3;
    # first clear bit at or after 3 is 4; [4, 7) is clear.
    ("0011000000000000", 0, 3, 0, 0, 4),
    # mask 3: 0 is aligned; [0, 2) holds bit 1 -> start 2; first clear 2,
    # rounded up to 4; [4, 6) clear.
    ("0100000000000000", 0, 2, 3, 0, 4),
    # offset 1: index 0 rounds to the first i with (i + 1) % 4 == 0, i = 3.
    ("0000000000000000", 0, 2, 3, 1, 3),
    # start is honoured: first clear bit >= 5 is 5, rounded up to 8.
    ("0000000000000000", 5, 2, 3, 0, 8),
    # a full bitmap: find_next_zero_bit gives size 16, aligned 16; the window
    # ends at 18 > 16, and that end is what comes back (>= size: none).
    ("1111111111111111", 0, 2, 0, 0, 18),
    # the only clear run [12, 16) is too short for 5 bits: 12 + 5 = 17.
    ("1111111111110000", 0, 5, 0, 0, 17),
])
def test_bitmap_find_next_zero_area_off(bitmap, start, nr, mask, offset, want):
    assert bitmap_find_next_zero_area_off(bits(bitmap), len(bitmap), start, nr, mask, offset) == want


# ---------------------------------------------------------------- areas

def busy_area_zone() -> Zone:
    # [0, 8) movable user pages, the CMA area [8, 24) with one kernel page at
    # the end of each 8-page slot, [24, 32) movable user pages.
    return Zone.from_map("MMMMMMMM" + ".......U" + ".......U" + "MMMMMMMM", geometry=G,
                         blocks="MMCCCCMM")


def test_area_rules_of_cma_init_reserved_mem():
    z = busy_area_zone()
    Cma(z, 8, 16)                                            # aligned, all CMA
    with pytest.raises(ValueError, match="base_pfn 12 is not a multiple of 8"):
        Cma(z, 12, 8)
    with pytest.raises(ValueError, match="nr_pages 12 is not a multiple of 8"):
        Cma(z, 8, 12)
    with pytest.raises(ValueError, match="order_per_bit 4 is too large"):
        Cma(z, 8, 16, order_per_bit=4)                       # 8 % 16 != 0 (mm/cma.c:190)
    with pytest.raises(ValueError, match="block at PFN 0 is MOVABLE"):
        Cma(z, 0, 16)
    with pytest.raises(ValueError, match="not inside zone"):
        Cma(z, 24, 16)
    with pytest.raises(TypeError, match="base_pfn must be an int, not True"):
        Cma(z, True, 8)
    with pytest.raises(TypeError, match="zone must be a Zone"):
        Cma("zone", 8, 8)


def test_every_slot_busy_prints_one_line_per_slot_and_fails():
    """count 8, align 3: mask 7 (mm/cma.c:59-63), offset 0 (:68-76).

    Slot 1, bit 0, PFNs [8, 16): the blocks are CMA, so has_unmovable_pages()
    says no at once (page_alloc.c:6517) and isolation succeeds; there is no
    LRU page to migrate; outer_start = 8, a free block's head (:6752-6759);
    test_pages_isolated(8, 16) stops at the kernel page 15, so pr_info prints
    "[8, 10) PFNs busy" (:6762-6767, hex) and -EBUSY comes back.  cma_alloc()
    clears the bits and starts again at 0 + 7 + 1 = 8 (mm/cma.c:409-419).
    Slot 2, bit 8, PFNs [16, 24): the same, "[10, 18) PFNs busy".  Then the
    search from 16 finds nothing below 16 + 8 = 24 > 16 bits: NULL.
    """
    z = busy_area_zone()
    before = z.copy()
    cma = Cma(z, 8, 16)
    r = cma_alloc(cma, 8, 3)
    assert r.pfn is None and not r.ok
    assert r.tried == [(0, 8), (8, 16)]
    assert [a.ret for a in r.attempts] == [-errno.EBUSY, -errno.EBUSY]
    assert r.log == ["alloc_contig_range: [8, 10) PFNs busy",
                     "alloc_contig_range: [10, 18) PFNs busy"]
    assert (r.mask, r.offset, r.bitmap_count) == (7, 0, 8)
    assert r.debug == ["cma_alloc(cma cma, count 8, align 3)",
                       "cma_alloc(): memory range at PFN 0x8 is busy, retrying",
                       "cma_alloc(): memory range at PFN 0x10 is busy, retrying",
                       "cma_alloc(): returned NULL"]
    assert not cma.bitmap.any()
    # Both attempts undid their isolation as CMA (the caller's type):
    # the zone is as before.
    assert z.to_map() == before.to_map() and z.blocks_map() == before.blocks_map()
    z.check()


def test_a_pinned_page_fails_one_slot_and_the_next_succeeds():
    """count 4, align 2: mask 3.  Slot bit 0, [8, 12), holds the pinned
    anonymous page 9.  isolate_migratepages_block() skips an anonymous page
    whose count exceeds its mapcount (compaction.c:776-778), so nothing is
    migrated; outer_start = 8 (a free order-0 block's head); the test stops
    at 9: "[8, c) PFNs busy", -EBUSY.  cma_alloc() retries at bit 0 + 3 + 1
    = 4: [12, 16) is a free order-2 block, outer_start = 12, success.
    """
    z = Zone.from_map("MMMMMMMM" + ".P......" + "........" + "MMMMMMMM", geometry=G,
                      blocks="MMCCCCMM")
    cma = Cma(z, 8, 16)
    r = cma_alloc(cma, 4, 2)
    assert r.pfn == 12
    assert r.tried == [(0, 8), (4, 12)]
    assert [a.ret for a in r.attempts] == [-errno.EBUSY, 0]
    assert r.attempts[0].failed_stage == "test_pages_isolated"
    assert r.log == ["alloc_contig_range: [8, c) PFNs busy"]
    assert cma.bitmap_str() == "0000111100000000"
    assert z.to_map()[12:16] == "XXXX"
    z.check()


def test_a_page_that_stays_locked_fails_in_migration_without_a_line():
    """The same slot with page 9 a movable page that stays locked (busy_pfns):
    it is isolated, every migrate_pages() pass fails it, and on the fifth
    try __alloc_contig_migrate_range() gives -EBUSY (page_alloc.c:6642-6644),
    so alloc_contig_range() returns before test_pages_isolated(): no line.
    The next slot, bit 4, succeeds as above.  (With too few free pages
    outside the area the same call ends -ENOMEM instead: see the next test.)"""
    # 40 free Movable pages after the area: enough targets for every try (each
    # try takes a new one, and unused ones wait in the LRU pagevec).
    z = Zone.from_map("MMMMMMMM" + ".M......" + "........" + "." * 40, geometry=G,
                      blocks="MMCCCC" + "M" * 10)
    cma = Cma(z, 8, 16)
    r = cma_alloc(cma, 4, 2, busy_pfns=[9])
    assert r.pfn == 12 and [a.ret for a in r.attempts] == [-errno.EBUSY, 0]
    assert r.log == []
    assert r.attempts[0].outer_start is None
    z.check()


def test_an_error_other_than_ebusy_ends_the_search():
    """The area is full of movable pages and nothing is free anywhere, so the
    first attempt's migration finds no target: -ENOMEM, and cma_alloc() stops
    (mm/cma.c:413-415) without trying bit 1."""
    z = Zone.from_map("UUUUUUUU" + "M" * 16 + "UUUUUUUU", geometry=G, blocks="MMCCCCMM")
    cma = Cma(z, 8, 16)
    r = cma_alloc(cma, 4, 0)
    assert r.pfn is None
    assert r.tried == [(0, 8)]
    assert [a.ret for a in r.attempts] == [-errno.ENOMEM]
    assert not cma.bitmap.any()
    z.check()


def test_order_per_bit_rounds_the_request_up_to_whole_bits():
    """order_per_bit 1: 16 pages are 8 bits.  count 3 takes ceil(3/2) = 2 bits
    (mm/cma.c:78-82) but alloc_contig_range() is asked for 3 pages [8, 11)
    (:404-406).  A second request for 2 pages needs 1 bit: the first clear
    bit is 2, PFN 8 + (2 << 1) = 12.  Releasing the first clears 2 bits."""
    z = Zone.from_map("MMMMMMMM" + "." * 16 + "MMMMMMMM", geometry=G, blocks="MMCCCCMM")
    cma = Cma(z, 8, 16, order_per_bit=1)
    a = cma_alloc(cma, 3, 0)
    assert a.pfn == 8 and a.attempts[0].start == 8 and a.attempts[0].end == 11
    assert cma.bitmap_str() == "11000000"
    assert z.to_map()[8:11] == "XXX" and z.to_map()[11] != "X"
    b = cma_alloc(cma, 2, 0)
    assert b.pfn == 12 and cma.bitmap_str() == "11100000"
    assert cma_release(cma, 8, 3) is True
    assert cma.bitmap_str() == "00100000"
    assert z.to_map()[8:11] != "XXX"
    z.check()


def test_the_v4_4_offset_misaligns_an_area_whose_base_is_not_aligned():
    """Base 8, align 5 (32 pages).  v4.4: offset = ALIGN(8, 32) - 8 = 24
    (mm/cma.c:68-76), so the first bit i with (i + 24) % 32 == 0 is 8: PFN 16,
    which is not 32-aligned.  4.13's formula gives 8 & 31 = 8: bit 24, PFN 32."""
    z = Zone.from_map("." * 80, geometry=G, blocks="MM" + "C" * 16 + "MM")
    cma = Cma(z, 8, 64)
    assert cma_bitmap_aligned_offset(cma, 5) == 24
    assert cma_bitmap_aligned_offset(cma, 5, fixed=True) == 8
    r = cma_alloc(cma, 4, 5)
    assert r.pfn == 16 and r.pfn % 32 != 0
    assert r.offset == 24 and r.mask == 31


def test_release_rules():
    """mm/cma.c:439-458: false for no page or a PFN outside the area; a range
    running past the area is the VM_BUG_ON, refused here; the zone and the
    bitmap are untouched by refused calls."""
    z = Zone.from_map("MMMMMMMM" + "." * 16 + "MMMMMMMM", geometry=G, blocks="MMCCCCMM")
    cma = Cma(z, 8, 16)
    r = cma_alloc(cma, 4, 0)
    assert r.pfn == 8
    snap, bm = z.copy(), cma.bitmap.copy()
    assert cma_release(cma, None, 4) is False
    assert cma_release(cma, 4, 4) is False
    assert cma_release(cma, 24, 4) is False
    with pytest.raises(ValueError, match="runs past the area"):
        cma_release(cma, 20, 8)
    assert z.state_equal(snap) and np.array_equal(cma.bitmap, bm)
    assert cma_release(cma, 8, 4) is True
    assert not cma.bitmap.any()
    z.check()


def test_movable_allocations_fall_back_to_cma_only_when_movable_is_empty():
    """__rmqueue() (page_alloc.c, v4.4) tries the MOVABLE lists first, then
    __rmqueue_cma_fallback(): the 2 free MOVABLE pages go first, then CMA."""
    from contig.pcp import alloc_pages
    z = Zone.from_map("UUUUUU.." + "." * 16 + "UUUUUUUU", geometry=G, blocks="MMCCCCMM")
    z.pcp_high, z.pcp_batch = 0, 1
    got = [alloc_pages(z, 0, MigrateType.MOVABLE) for _ in range(4)]
    assert sorted(got[:2]) == [6, 7]
    assert all(8 <= p < 24 for p in got[2:])
    z.check()


def test_cma_init_reserved_frees_the_reserved_pages_as_cma_blocks():
    """init_cma_reserved_pageblock() (page_alloc.c:1258-1284): each 4-page
    block of reserved pages becomes CMA and is freed at pageblock_order; the
    buddy then merges pairs into order-3 blocks (MAX_ORDER - 1)."""
    z = Zone.from_map("MMMMMMMM" + "R" * 16 + "MMMMMMMM", geometry=G)
    cma = cma_init_reserved(z, 8, 16)
    assert z.blocks_map() == "MMCCCCMM"
    assert z.to_map() == "MMMMMMMM" + "." * 16 + "MMMMMMMM"
    assert z.free_blocks() == [(8, 3, MigrateType.CMA), (16, 3, MigrateType.CMA)]
    assert z.nr_free_pages == 16
    assert not cma.bitmap.any()
    z.check()
    z2 = Zone.from_map("MMMMMMMM" + "R" * 8 + "U" + "R" * 7 + "MMMMMMMM", geometry=G)
    before = z2.copy()
    with pytest.raises(ValueError, match=r"PFN 16 .* not a reserved page"):
        cma_init_reserved(z2, 8, 16)
    assert z2.state_equal(before)


def test_dma_alloc_caps_the_alignment_and_get_order():
    # 1089536 bytes = 266 pages = 0x10a: get_order rounds to 512 pages, order 9.
    assert get_order(1089536) == 9
    assert [get_order(s) for s in (1, 4096, 4097, 8192, 8193)] == [0, 0, 1, 1, 2]
    z = Zone.from_map("." * 64, geometry=G, blocks="C" * 16)
    cma = Cma(z, 0, 64)
    r = dma_alloc_from_contiguous(cma, 2, 12)
    assert r.align == CMA_ALIGNMENT == 8


def test_bad_arguments_are_refused_and_change_nothing():
    z = busy_area_zone()
    cma = Cma(z, 8, 16)
    snap = z.copy()
    for args, exc in [((cma, -1, 0), ValueError), ((cma, 1.0, 0), TypeError),
                      ((cma, 2, True), TypeError), ((cma, 2, 64), ValueError),
                      (("cma", 2, 0), TypeError)]:
        with pytest.raises(exc):
            cma_alloc(*args)
    assert z.state_equal(snap) and not cma.bitmap.any()
    assert cma_alloc(cma, 0, 0).pfn is None                   # count 0: NULL (mm/cma.c:379-380)


def test_parse_busy_lines():
    text = """\
[  123.456789] alloc_contig_range: [2ef00, 2f00a) PFNs busy
[  123.457001] alloc_contig_range: [2f000, 2f10a) PFNs busy
vc4-drm soc:gpu: failed to allocate buffer with size 1089536
<6>alloc_contig_range: [700fb, 700fc) PFNs busy
"""
    assert parse_busy_lines(text) == [(0x2ef00, 0x2f00a), (0x2f000, 0x2f10a), (0x700fb, 0x700fc)]
    assert parse_busy_lines("nothing here") == []
    with pytest.raises(TypeError):
        parse_busy_lines(b"alloc_contig_range: [1, 2) PFNs busy")


# ---------------------------------------------------------------- invariants

@settings(max_examples=60, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(fill=st.lists(st.sampled_from(list("....MMFPUv")), min_size=32, max_size=32).map("".join),
       opb=st.integers(0, 2),
       ops=st.lists(st.tuples(st.booleans(), st.integers(1, 12), st.integers(0, 4)), max_size=8))
def test_bitmap_and_zone_stay_consistent(fill, opb, ops):
    """A bit is set exactly where the caller holds pages of a live buffer,
    every held page is the caller's (X), and the zone's invariants hold."""
    z = Zone.from_map("MMMMMMMM" + fill + "........", geometry=G, blocks="MM" + "C" * 8 + "MM")
    cma = Cma(z, 8, 32, order_per_bit=opb)
    held: list[tuple[int, int]] = []
    for alloc, count, align in ops:
        if alloc or not held:
            r = cma_alloc(cma, count, align, trace=False)
            if r.pfn is not None:
                held.append((r.pfn, count))
        else:
            pfn, n = held.pop(0)
            assert cma_release(cma, pfn, n)
        want = np.zeros(cma.bitmap_maxno, dtype=bool)
        m = z.to_map()
        for pfn, n in held:
            b = (pfn - 8) >> opb
            want[b:b + cma.pages_to_bits(n)] = True
            assert m[pfn:pfn + n] == "X" * n
        assert np.array_equal(cma.bitmap, want)
        z.check()


def test_parse_the_shipped_real_logs():
    """The vc4 log (anholt/linux#76): 16 ranges 0x10a long, 0x100 apart."""
    from contig.procfs import DATA_DIR
    ranges = parse_busy_lines((DATA_DIR / "dmesg" / "vc4-rpi-4.10.txt").read_text())
    assert len(ranges) == 16
    assert {b - a for a, b in ranges} == {0x10A}
    assert [b[0] - a[0] for a, b in itertools.pairwise(ranges)] == [0x100] * 15
    nov = parse_busy_lines((DATA_DIR / "dmesg" / "novena-imx6-4.4.0.txt").read_text())
    assert nov[0] == (0x700FB, 0x700FC)
