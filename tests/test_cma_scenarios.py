"""The CMA scenarios do what their ``expect`` says (worked out by hand, see contig/cma_scenarios.py)."""

from __future__ import annotations

import pytest

from contig.cma_scenarios import CMA_SCENARIOS, get


def _observed(cma, out):
    got = []
    for st in out:
        if st.result is not None:
            got.append((st.pfn, [a.ret for a in st.result.attempts], st.result.log))
        elif st.released is not None:
            got.append(st.released)
        else:
            got.append(sum(1 for p in st.filled if cma.base_pfn <= p < cma.end_pfn))
    return tuple(got)


@pytest.mark.parametrize("name", list(CMA_SCENARIOS))
def test_scenario_matches_its_expectation(name):
    sc = get(name)
    cma, out = sc.run()
    assert _observed(cma, out) == sc.expect
    cma.zone.check()


def test_busy_area_reads_like_the_real_dmesg():
    """15 slots of 0x10a pages, 0x100 apart: k * 256 + 266 <= 4096 for k <= 14
    (mm/cma.c:395-420 with mask 255), each line [slot, slot + 0x10a)."""
    _, out = get("busy-area").run()
    log = out[0].result.log
    assert log[0] == "alloc_contig_range: [2f000, 2f10a) PFNs busy"
    assert log[-1] == "alloc_contig_range: [2fe00, 2ff0a) PFNs busy"
    assert out[0].result.count == 0x10A and out[0].result.align == 8


def test_boot_and_fill_migrates_into_a_stolen_block():
    """isolate_migratepages_block() adds pages at the list head (compaction.c,
    v4.4), so 19 moves first; with Movable and CMA empty, __rmqueue_fallback()
    steals the free order-2 Unmovable block at 4 whole (order >= pageblock_order)
    and hands out 4, 5, 6, 7 in turn."""
    cma, out = get("boot-and-fill").run()
    assert out[0].filled == [24, 25, 26, 27, 28, 29, 30, 31, 16, 17, 18, 19]
    assert out[2].result.attempts[0].migrated == {19: 4, 18: 5, 17: 6, 16: 7}
    assert cma.zone.blocks_map() == "UMCCCCMMMM"
    assert cma.zone.to_map() == "UUUUMMMM" + "X" * 16 + "MMMMMMMM" + "UUUUUUUU"


def test_unknown_scenario_names_the_choices():
    with pytest.raises(ValueError, match="busy-area"):
        get("nope")


def test_format_run_names_each_try_and_the_dmesg_lines():
    from contig.cma_scenarios import format_run
    sc = get("pinned-slot")
    cma, out = sc.run()
    text = "\n".join(format_run(sc, cma, out, debug=True))
    assert "try bit 0 = PFN 0x8: alloc_contig_range(0x8, 0xc) = -EBUSY in test_pages_isolated" in text
    assert "try bit 4 = PFN 0xc: alloc_contig_range(0xc, 0x10) = success" in text
    assert "dmesg: alloc_contig_range: [8, c) PFNs busy" in text
    assert "debug: cma_alloc(): memory range at PFN 0x8 is busy, retrying" in text
    assert text.endswith("bitmap 0000111100000000")
