"""Nodes of several zones, alloc_contig_pages() and the gigantic-page predictor on small nodes.

Expected values derived by hand from Linux 6.18.2 mm/page_alloc.c
(alloc_contig_pages_noprof:7083, pfn_range_valid_contig:7029,
zone_spans_last_pfn:7052) on Geometry(max_order=4, pageblock_order=2) and
8-page "gigantic" pages (so every candidate is MAX_ORDER_NR_PAGES-aligned).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contig import Geometry, Zone, procfs
from contig.gigantic import attempts, predict_picks
from contig.node import Node, load_node
from contig.v6_18.contig_alloc import alloc_contig_pages, pfn_range_valid_contig

G = Geometry(max_order=4, pageblock_order=2)


def node(*zones: tuple[str, int, str, str | None]) -> Node:
    return Node([Zone.from_map(m, geometry=G, start_pfn=s, name=n, blocks=b) for n, s, m, b in zones])


def test_zonelist_is_normal_first_and_zones_sorted():
    n = node(("Normal", 32, "." * 32, None), ("DMA32", 8, "." * 24, None), ("DMA", 0, "#" + "." * 7, None))
    assert n.names == ["DMA", "DMA32", "Normal"]
    assert [z.name for z in n.zonelist("Normal")] == ["Normal", "DMA32", "DMA"]
    assert [z.name for z in n.zonelist("DMA32")] == ["DMA32", "DMA"]
    assert n["DMA32"].start_pfn == 8 and n.zone_of(40).name == "Normal"
    with pytest.raises(KeyError, match="Movable"):
        n["Movable"]
    with pytest.raises(ValueError, match="overlap"):
        Node([Zone.from_map("....", geometry=G, name="A"), Zone.from_map("....", geometry=G, name="B",
                                                                        start_pfn=2)])


def test_pfn_range_valid_contig():
    # page_alloc.c:7029: online, same zone, not PageReserved, not PageHuge; in-use pages are fine.
    z = Zone.from_map("MMUU....R...HH..#.......", geometry=G)
    assert pfn_range_valid_contig(z, 0, 8) == (True, None)
    assert pfn_range_valid_contig(z, 8, 8) == (False, 8 + 0)       # R at 8
    assert pfn_range_valid_contig(z, 12, 4) == (False, 12)          # hugetlb
    assert pfn_range_valid_contig(z, 16, 8) == (False, 16)          # hole / uninitialised


def test_alloc_contig_pages_order_by_hand():
    """Normal [32,64) is tried first (zonelist), candidates ALIGN(32, 8) = 32, 40, 48, 56.
    32: U at 33 -> isolation fails (-EBUSY); 40: R -> not valid; 48: free -> taken.
    Second request: 32 fails, 40 invalid, 48 now in use (X: has_unmovable_pages), 56 has a
    hole -> not valid; then DMA32 [8,32): ALIGN(8,8) = 8: free -> taken."""
    spec = (("DMA32", 8, "." * 24, None), ("Normal", 32, "MU......R......." + "........" + ".#......", None))
    n = node(*spec)
    pfn, tries = alloc_contig_pages(n, 8)
    assert pfn == 48
    assert [(name, p, r.ret if r else None) for name, p, r in tries] == [
        ("Normal", 32, -16), ("Normal", 40, None), ("Normal", 48, 0)]
    pfn, tries = alloc_contig_pages(n, 8)
    assert pfn == 8 and [(name, p) for name, p, _ in tries][-2:] == [("Normal", 56), ("DMA32", 8)]
    assert predict_picks(node(*spec), 8, 4) == [48, 8, 16, 24]
    assert predict_picks(node(*spec), 8, 5) == [48, 8, 16, 24]      # the fifth request fails


def test_attempts_say_why_and_a_taken_range_becomes_hugetlb():
    """6.18, page_alloc.c: [0, 8) has 8 pages to copy and 4 free pages elsewhere, so
    migrate_pages() runs out of targets and -ENOMEM ends the loop (:6785); [8, 16) holds a
    kernel page, so has_unmovable_pages() refuses its block (page_isolation.c:136)."""
    a = attempts(node(("Normal", 0, "MMMMMMMM" + "UUUU....", None)), 8, 1)
    assert [(x.request, x.pfn, x.ret) for x in a] == [(1, 0, -12), (1, 8, -16)]
    assert "__alloc_contig_migrate_range" in a[0].why
    assert "has_unmovable_pages" in a[1].why and "PFN 0x8 is a kernel page" in a[1].why
    # A pinned page is never isolated for migration, so the final test stops at it; the two
    # movable pages of [0, 8) stay where that failed attempt moved them, in [8, 16), which the
    # next candidate then migrates back into [0, 8).  A range taken is PageHuge for the next
    # request (pfn_range_valid_contig(), page_alloc.c:7029), and with [8, 16) taken no free
    # page is left outside [0, 8) for its two movable pages: -ENOMEM.
    n = node(("Normal", 0, "MPM....." + "........", None))
    a = attempts(n, 8, 2)
    assert [(x.request, x.pfn, x.ret) for x in a] == [(1, 0, -16), (1, 8, 0), (2, 0, -12), (2, 8, None)]
    assert "pinned page" in a[0].why and "PageHuge" in a[3].why
    assert n.zones[0].to_map() == "MPM....." + "........"    # attempts() works on a copy


def test_lru_batch_pages_move_to_the_lru_after_the_first_migration():
    """A v page is unmovable for has_unmovable_pages (not PageLRU); the first attempt that gets
    past isolation calls lru_cache_disable() (page_alloc.c:6754), which puts it on the LRU."""
    n = node(("Normal", 0, "v......." + "M......." + "........", None))
    a = attempts(n, 8, 1)
    assert [(x.pfn, x.ret) for x in a] == [(0, -16), (8, 0)]
    assert predict_picks(n, 8, 2) == [8, 0]
    n = node(("Normal", 0, "v......." + "M......." + "........", None))
    assert alloc_contig_pages(n, 8)[0] == 8 and alloc_contig_pages(n, 8)[0] == 0


_ALPHA = ["."] * 24 + list("MMMMMFFpp") + ["TT", "TTTT"] * 3 + list("UvPR#")


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(pages=st.lists(st.sampled_from(_ALPHA), min_size=32, max_size=32).map(lambda x: "".join(x)[:32]),
       blocks=st.text(alphabet="MMMUC", min_size=8, max_size=8), count=st.integers(1, 4))
def test_predictor_agrees_with_the_page_by_page_model(pages, blocks, count):
    """The numpy predictor and the page-by-page 6.18 model pick the same ranges (one zone: the
    zone model takes migration targets from the candidate's zone only)."""
    try:
        n = node(("Normal", 0, pages, blocks))
    except ValueError:
        return                              # a THP run that cannot be cut
    want = predict_picks(n, 8, count)
    got = []
    for _ in range(count):
        pfn, _tries = alloc_contig_pages(n, 8)
        if pfn is None:
            break
        got.append(pfn)
    n.zones[0].check()
    assert got == want


# ---------------------------------------------------------------- loading snapshots
def _snapshot(tmp_path, name, start, flags, ram):
    meta = {"zone": {"zone": name}, "pageblock_order": 2, "max_page_order": 3,
            "system_ram": ram}
    p = tmp_path / f"{name}.npz"
    np.savez_compressed(p, flags=np.asarray(flags, dtype=np.uint64), mapcount=np.zeros(len(flags), np.uint16),
                        start_pfn=np.array([start], dtype=np.int64), meta=np.array(json.dumps(meta)))
    return p


def test_load_node_orders_zones_and_reads_zero_flags(tmp_path):
    # anonymous pages on the LRU carry ANON and SWAPBACKED (without SWAPBACKED: lazily freed)
    buddy, slab, lru_anon = 1 << 10, 1 << 7, (1 << 5) | (1 << 12) | (1 << 14)
    a = _snapshot(tmp_path, "Normal", 16, [buddy] * 8 + [0] * 4 + [lru_anon] * 4, [[0, 32]])
    b = _snapshot(tmp_path, "DMA32", 0, [slab] + [buddy] * 15, [[0, 32]])
    n = load_node([a, b])
    assert n.names == ["DMA32", "Normal"]
    assert n["Normal"].to_map() == "........ppppMMMM"
    assert n.info["Normal"]["zero_flag_pages"] == 4
    assert load_node([a], zero_flags="kernel")["Normal"].to_map() == "........UUUUMMMM"
    assert procfs.load_node([b]).names == ["DMA32"]
    with pytest.raises(ValueError, match="zero_flags"):
        load_node([a], zero_flags="maybe")
    with pytest.raises(ValueError, match="at least one"):
        load_node([])


def test_large_folios_get_the_head_flags_kpageflags_shows(tmp_path):
    """Three adjacent order-2 THP-flagged folios (fs/proc/page.c, 6.18: a folio's flags on every
    page; the map alone would make them one order-3 and one order-2 folio):
    at 0 anonymous on the LRU (PG_LRU and PG_ANON), at 4 clean page cache on the LRU (PG_LRU,
    no PG_ANON: 6.18's reclaim drops it), at 8 off the LRU (no PG_LRU: has_unmovable_pages()
    refuses it); the same snapshot through load_kpageflags."""
    from contig.procfs import KPF, load_kpageflags
    from contig.zone import PG_ANON, PG_LRU

    def folio(*names):
        f = sum(1 << KPF[n] for n in ("THP", *names))
        return [f | 1 << KPF["COMPOUND_HEAD"]] + [f | 1 << KPF["COMPOUND_TAIL"]] * 3
    buddy = 1 << KPF["BUDDY"]
    flags = folio("LRU", "ANON", "SWAPBACKED") + folio("LRU") + folio("ANON") + [buddy] * 4
    p = _snapshot(tmp_path, "Normal", 0, flags, [[0, 16]])
    for z in (load_node([p])["Normal"], load_kpageflags(p)):
        assert z.to_map() == "TTTTTTTTTTTT...."
        assert z.comp[:12].tolist() == [2] * 12          # cut at the three heads, not 8 + 4
        assert [int(z.flags[h]) & (PG_LRU | PG_ANON) for h in (0, 4, 8)] == [
            PG_LRU | PG_ANON, PG_LRU, PG_ANON]
        z.check()
    assert load_node([p]).info["Normal"]["large_folios_marked"] == 2
