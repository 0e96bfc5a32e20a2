"""Tests of contig.procfs: /proc formats, parsers, kpageflags snapshots.

The expected texts come from an independent source: the /proc files of a
real Linux 6.18 machine shipped in contig/data (see contig/data/ORIGIN.md),
and the seq_printf formats of mm/vmstat.c, Linux v4.4 (frag_show_print,
pagetypeinfo_showfree_print, pagetypeinfo_showblockcount_print).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from contig import Geometry, MigrateType, Zone, procfs
from contig.procfs import (
    CMA_LESS_TYPES,
    KPF,
    ProcPermissionError,
    capture_snapshot,
    classify_kpageflags,
    data_path,
    format_buddyinfo,
    format_buddyinfo_line,
    format_pagetypeinfo,
    load_kpageflags,
    pagetypeinfo_blockcount,
    parse_buddyinfo,
    parse_iomem,
    parse_pagetypeinfo,
    parse_zoneinfo,
    render_buddyinfo,
    render_pagetypeinfo,
)


def real(name: str) -> str:
    return data_path(name).read_text()


@pytest.fixture(scope="module")
def dma32():
    return load_kpageflags(data_path("linux-6.18-DMA32.npz"))


def kpf(*names: str) -> int:
    word = 0
    for n in names:
        word |= 1 << KPF[n]
    return word


def zone_with_free_counts(counts, name, max_order=11):
    """A zone whose free lists hold exactly ``counts[k]`` blocks of order k.

    Blocks of the top order are packed together (they cannot merge further);
    every smaller block of order k sits at the start of a 2^(k+1) slot whose
    second half is in use, so it cannot merge with its buddy.
    """
    top = max_order - 1
    parts = ["." * ((1 << top) * counts[top])]
    for k in range(top - 1, -1, -1):
        parts.append(("." * (1 << k) + "U" * (1 << k)) * counts[k])
    kinds = np.frombuffer("".join(parts).encode() or b"U", dtype=np.uint8)
    return Zone.from_arrays(kinds, geometry=Geometry(max_order, 9), name=name)


# ----------------------------------------------------------------- buddyinfo


def test_format_buddyinfo_line_kernel_spacing():
    line = format_buddyinfo_line(0, "DMA", [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 3])
    assert line == real("buddyinfo.txt").splitlines(keepends=True)[0]
    assert format_buddyinfo_line(12, "HighMem", [1234567]) == "Node 12, zone  HighMem 1234567 \n"


def test_parse_buddyinfo_real_file():
    info = parse_buddyinfo(real("buddyinfo.txt"))
    assert list(info) == ["DMA", "DMA32", "Normal"]
    assert info["DMA32"] == [1, 1, 4, 2, 5, 4, 3, 3, 4, 2, 752]
    assert len(info["Normal"]) == 11


def test_format_buddyinfo_round_trips_real_file():
    text = real("buddyinfo.txt")
    assert format_buddyinfo(parse_buddyinfo(text)) == text


@pytest.mark.parametrize("zone_name", ["DMA", "DMA32", "Normal"])
def test_render_buddyinfo_reproduces_real_line(zone_name):
    counts = parse_buddyinfo(real("buddyinfo.txt"))[zone_name]
    zone = zone_with_free_counts(counts, zone_name)
    assert zone.free_list_counts().sum(axis=1).tolist() == counts
    expected = [ln for ln in real("buddyinfo.txt").splitlines(keepends=True)
                if f"zone {zone_name:>8} " in ln]
    assert render_buddyinfo(zone) == expected[0]
    assert zone.buddyinfo() == expected[0]


def test_render_buddyinfo_one_column_per_order():
    zone = Zone.from_map("..M.", geometry=Geometry(3, 1), name="DMA")
    assert render_buddyinfo(zone, node=1) == "Node 1, zone      DMA      1      1      0 \n"


def test_render_buddyinfo_counts_isolate_lists():
    # nr_free counts every list of an order, Isolate included
    zone = Zone.from_map("........", geometry=Geometry(3, 2), blocks="IM")
    assert render_buddyinfo(zone) == "Node 0, zone   Normal      0      0      2 \n"


def test_render_buddyinfo_unpopulated_zone_prints_nothing():
    zone = Zone.from_map("####", geometry=Geometry(3, 1))
    assert render_buddyinfo(zone) == ""
    assert render_pagetypeinfo(zone) == ""


def test_load_kpageflags_dma32_reproduces_real_buddyinfo(dma32):
    real_line = real("buddyinfo.txt").splitlines(keepends=True)[1]
    assert dma32.check()
    assert dma32.nr_free_pages == parse_zoneinfo(real("zoneinfo.txt"))["DMA32"]["free"]
    assert dma32.buddyinfo() == real_line
    counts = "     1      1      4      2      5      4      3      3      4      2    752 "
    assert real_line == "Node 0, zone    DMA32 " + counts + "\n"


@pytest.mark.parametrize(
    ("text", "lineno", "reason"),
    [
        ("Node 0, zone DMA 1 2\ngarbage\n", 2, "expected 'Node N, zone NAME'"),
        ("Node 0, zone DMA 1 2\nNode 0, zone DMA32 1 2 3\n", 2, "3 counts"),
        ("Node 0, zone DMA 1 2\nNode 0, zone DMA 1 2\n", 2, "zone DMA of node 0 appears twice"),
        ("Node 0, zone DMA 1 x\n", 1, "expected"),
        ("Node 0, zone DMA\n", 1, "expected"),
        ("Node 0, zone DMA 1\nNode 1, zone DMA 2\n", 2, "the text describes nodes [0, 1]"),
    ],
)
def test_parse_buddyinfo_bad_input_names_line(text, lineno, reason):
    with pytest.raises(ValueError, match=f"^buddyinfo line {lineno}: ") as exc:
        parse_buddyinfo(text)
    assert reason in str(exc.value)
    assert repr(text.splitlines()[lineno - 1]) in str(exc.value)


@pytest.mark.parametrize("text", ["", "  \n\n"])
def test_parse_buddyinfo_empty_text(text):
    with pytest.raises(ValueError, match="empty"):
        parse_buddyinfo(text)


def test_parse_buddyinfo_picks_a_node():
    text = "Node 0, zone   Normal      1      2 \nNode 1, zone   Normal      3      4 \n"
    assert parse_buddyinfo(text, node=1) == {"Normal": [3, 4]}
    assert format_buddyinfo(parse_buddyinfo(text, node=1), node=1) == text.splitlines(True)[1]
    with pytest.raises(ValueError, match="no node 2"):
        parse_buddyinfo(text, node=2)


# ----------------------------------------------------------------- pagetypeinfo


def test_parse_pagetypeinfo_real_file():
    info = parse_pagetypeinfo(real("pagetypeinfo.txt"))
    assert info["node"] == 0
    assert (info["page_block_order"], info["pages_per_block"]) == (9, 512)
    assert list(info["free"]) == ["DMA", "DMA32", "Normal"]
    assert list(info["free"]["Normal"]) == list(CMA_LESS_TYPES)
    assert info["free"]["Normal"]["Reclaimable"][4] == 24
    assert info["blocks"]["Normal"] == {"Unmovable": 84, "Movable": 1435, "Reclaimable": 81,
                                        "HighAtomic": 0, "Isolate": 0}
    assert "mixed" not in info


def test_format_pagetypeinfo_round_trips_real_file():
    text = real("pagetypeinfo.txt")
    assert format_pagetypeinfo(parse_pagetypeinfo(text)) == text


def test_render_pagetypeinfo_dma32_matches_real_file(dma32):
    info = parse_pagetypeinfo(real("pagetypeinfo.txt"))
    only = {**info, "free": {"DMA32": info["free"]["DMA32"]},
            "blocks": {"DMA32": info["blocks"]["DMA32"]}}
    assert render_pagetypeinfo(dma32, types=CMA_LESS_TYPES) == format_pagetypeinfo(only)


def test_render_pagetypeinfo_v4_4_layout():
    # six 4-page blocks U M R H C I; the free runs [2,8) and [17,24) cut into
    # 2-3 (order 1, Unmovable), 4-7 (order 2, Movable), 17 (order 0, CMA),
    # 18-19 (order 1, CMA), 20-23 (order 2, Isolate); plus 9 and 12-13
    zone = Zone.from_map("UU......U.UU..UUU.......", geometry=Geometry(3, 2),
                         blocks="UMRHCI", name="DMA")
    expected = (
        "Page block order: 2\n"
        "Pages per block:  4\n"
        "\n"
        "Free pages count per migrate type at order       0      1      2 \n"
        "Node    2, zone      DMA, type    Unmovable      0      1      0 \n"
        "Node    2, zone      DMA, type      Movable      0      0      1 \n"
        "Node    2, zone      DMA, type  Reclaimable      1      0      0 \n"
        "Node    2, zone      DMA, type   HighAtomic      0      1      0 \n"
        "Node    2, zone      DMA, type          CMA      1      1      0 \n"
        "Node    2, zone      DMA, type      Isolate      0      0      1 \n"
        "\n"
        "Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic"
        "          CMA      Isolate \n"
        "Node 2, zone      DMA            1            1            1            1"
        "            1            1 \n"
    )
    assert render_pagetypeinfo(zone, node=2) == expected
    assert zone.pagetypeinfo(2) == expected


def test_render_pagetypeinfo_exact_small_zone():
    # [0,4) one order-2 free block on Movable; [4,8) Unmovable block: U U . U
    zone = Zone.from_map("....UU.U", geometry=Geometry(3, 2), blocks="MU")
    assert render_pagetypeinfo(zone) == (
        "Page block order: 2\n"
        "Pages per block:  4\n"
        "\n"
        "Free pages count per migrate type at order       0      1      2 \n"
        "Node    0, zone   Normal, type    Unmovable      1      0      0 \n"
        "Node    0, zone   Normal, type      Movable      0      0      1 \n"
        "Node    0, zone   Normal, type  Reclaimable      0      0      0 \n"
        "Node    0, zone   Normal, type   HighAtomic      0      0      0 \n"
        "Node    0, zone   Normal, type          CMA      0      0      0 \n"
        "Node    0, zone   Normal, type      Isolate      0      0      0 \n"
        "\n"
        "Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic"
        "          CMA      Isolate \n"
        "Node 0, zone   Normal            1            1            0            0"
        "            0            0 \n"
    )


def test_render_pagetypeinfo_types_must_cover_what_the_zone_uses():
    zone = Zone.from_map("........", geometry=Geometry(3, 2), blocks="CM")
    with pytest.raises(ValueError, match="CMA"):
        render_pagetypeinfo(zone, types=CMA_LESS_TYPES)
    with pytest.raises(ValueError, match="unknown migratetype name 'Mirror'"):
        render_pagetypeinfo(zone, types=("Movable", "Mirror"))
    with pytest.raises(ValueError, match="twice"):
        render_pagetypeinfo(zone, types=("Movable", "Movable", "CMA"))


def test_pagetypeinfo_blockcount_steps_from_unaligned_zone_start():
    # zone [1, 9) overlaps pageblocks 0, 1, 2 but the kernel visits PFNs 1
    # and 5 only, so block 2 (PFN 8) is never counted
    zone = Zone.from_map("UUUUUUUU", geometry=Geometry(3, 2), start_pfn=1, blocks="UMR")
    assert pagetypeinfo_blockcount(zone).tolist() == [1, 1, 0, 0, 0, 0]


def test_pagetypeinfo_blockcount_skips_invalid_pfns():
    zone = Zone.from_map("#UUUUUUU####", geometry=Geometry(3, 2), blocks="UMR")
    assert pagetypeinfo_blockcount(zone).tolist() == [0, 1, 0, 0, 0, 0]


PTI_HEAD = ("Page block order: 9\nPages per block:  512\n\n"
            "Free pages count per migrate type at order       0      1 \n")


@pytest.mark.parametrize(
    ("text", "lineno"),
    [
        ("Pages per block:  512\n", 1),
        ("Page block order: 9\nFree pages count per migrate type at order 0 1\n", 2),
        (PTI_HEAD + "Node    0, zone      DMA, type    Unmovable      0 \n", 5),
        (PTI_HEAD + "Node    0, zone      DMA, type    Unmovable      0      x \n", 5),
        (PTI_HEAD + "Node 0, zone DMA, type Movable 1 2\nNode 0, zone DMA, type Movable 1 2\n", 6),
        (PTI_HEAD + "Node 0, zone DMA, type Movable 1 2\nNumber of blocks type Movable\n"
         "Node 0, zone DMA 1 2\n", 7),
        (PTI_HEAD + "Node 0, zone DMA 1\n", 5),
        (PTI_HEAD + "Node 0, zone DMA, type Movable 1 2\nNode 1, zone DMA, type Movable 1 2\n", 6),
        ("Page block order: 9\nPages per block:  512\n\n"
         "Free pages count per migrate type at order       0      2 \n", 4),
        (PTI_HEAD, 4),
    ],
)
def test_parse_pagetypeinfo_bad_input_names_line(text, lineno):
    with pytest.raises(ValueError, match=f"^pagetypeinfo line {lineno}: ") as exc:
        parse_pagetypeinfo(text)
    assert repr(text.splitlines()[lineno - 1]) in str(exc.value)


def test_parse_pagetypeinfo_empty_text():
    with pytest.raises(ValueError, match="empty"):
        parse_pagetypeinfo("\n")


def test_parse_pagetypeinfo_two_nodes_and_capped_counts():
    node0 = real("pagetypeinfo.txt")
    node1 = node0.replace("Node    0,", "Node    1,").replace("Node 0,", "Node 1,")
    node1 = node1.replace("   1493   3750", " >100000   3750")
    text = node0 + node1
    with pytest.raises(ValueError, match="pass node="):
        parse_pagetypeinfo(text)
    info = parse_pagetypeinfo(text, node=1)
    assert info["node"] == 1
    assert info["free"]["Normal"]["Movable"][:2] == [100000, 3750]
    assert parse_pagetypeinfo(text, node=0) == parse_pagetypeinfo(node0)


def test_parse_pagetypeinfo_page_owner_section():
    text = real("pagetypeinfo.txt") + (
        "\nNumber of mixed blocks    Unmovable      Movable  Reclaimable   HighAtomic"
        "      Isolate \n"
        "Node 0, zone   Normal            3           40            2            0"
        "            0 \n")
    info = parse_pagetypeinfo(text)
    assert info["mixed"] == {"Normal": {"Unmovable": 3, "Movable": 40, "Reclaimable": 2,
                                        "HighAtomic": 0, "Isolate": 0}}
    assert format_pagetypeinfo(info) == text


# ----------------------------------------------------------------- zoneinfo


def test_parse_zoneinfo_real_file():
    zi = parse_zoneinfo(real("zoneinfo.txt"))
    assert list(zi) == ["DMA", "DMA32", "Normal", "Movable", "Device"]
    n = zi["Normal"]
    assert (n["free"], n["min"], n["low"], n["high"]) == (287542, 8672, 10840, 13008)
    assert (n["spanned"], n["present"], n["managed"], n["start_pfn"]) == (
        5505024, 5505024, 819200, 1048576)
    assert n["pagesets"][1] == {"cpu": 1, "count": 32353, "high": 32943, "batch": 63,
                                "high_min": 5420, "high_max": 51200, "vm_stats_threshold": 24}
    assert zi["DMA"]["protection"] == [0, 3019, 6219, 6219, 6219]
    assert zi["DMA"]["node_stats"]["nr_slab_unreclaimable"] == 7137
    assert "nr_slab_unreclaimable" not in zi["DMA"]
    assert zi["Device"]["spanned"] == 0


V44_ZONEINFO = """\
Node 0, zone      DMA
  pages free     3975
        min      5
        low      6
        high     7
        scanned  0
        spanned  4095
        present  3998
        managed  3977
    nr_free_pages 3975
        protection: (0, 2991, 7948, 7948)
  pagesets
    cpu: 0
              count: 0
              high:  0
              batch: 1
  vm stats threshold: 4
  all_unreclaimable: 0
  start_pfn:         1
  inactive_ratio:    1
"""


def test_parse_zoneinfo_v4_4_layout():
    dma = parse_zoneinfo(V44_ZONEINFO)["DMA"]
    assert (dma["free"], dma["scanned"], dma["managed"]) == (3975, 0, 3977)
    assert dma["pagesets"] == [{"cpu": 0, "count": 0, "high": 0, "batch": 1,
                                "vm_stats_threshold": 4}]
    assert (dma["high"], dma["start_pfn"], dma["inactive_ratio"]) == (7, 1, 1)


@pytest.mark.parametrize(
    ("text", "lineno"),
    [
        ("  pages free 3\n", 1),
        ("Node 0, zone DMA\n  pages free lots\n", 2),
        ("Node 0, zone DMA\n  min 1\n  min 2\n", 3),
        ("Node 0, zone DMA\n    cpu: 0\n", 2),
        ("Node 0, zone DMA\n  pagesets\n      count: 3\n", 3),
        ("Node 0, zone DMA\n  protection: (0, x)\n", 2),
        ("Node 0, zone DMA\nNode 0, zone DMA\n", 2),
        ("Node 0, zone DMA\n  min 1\nNode 1, zone DMA\n  min 1\n", 3),
    ],
)
def test_parse_zoneinfo_bad_input_names_line(text, lineno):
    with pytest.raises(ValueError, match=f"^zoneinfo line {lineno}: ") as exc:
        parse_zoneinfo(text)
    assert repr(text.splitlines()[lineno - 1]) in str(exc.value)


def test_parse_zoneinfo_empty_text():
    with pytest.raises(ValueError, match="empty"):
        parse_zoneinfo("")


# ----------------------------------------------------------------- iomem


def test_parse_iomem_real_file():
    # 00001000-0009fbff: only whole pages count, so PFN 0x9f is a hole
    assert parse_iomem(real("iomem.txt")) == [(1, 0x9F), (0x100, 0xC0000), (0x100000, 0x640000)]


def test_parse_iomem_merges_and_nests():
    text = ("00000000-3fffffff : System RAM\n"
            "  01000000-0220bb07 : Kernel code\n"
            "40000000-7fffffff : System RAM\n"
            "80000000-8fffffff : Reserved\n"
            "  88000000-88ffffff : System RAM\n")
    assert parse_iomem(text) == [(0, 0x80000), (0x88000, 0x89000)]


def test_parse_iomem_zeroed_addresses_mean_not_root():
    text = "00000000-00000000 : Reserved\n00000000-00000000 : System RAM\n"
    with pytest.raises(ProcPermissionError, match="root") as exc:
        parse_iomem(text)
    assert isinstance(exc.value, PermissionError)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    ("text", "lineno"),
    [
        ("00000000-00000fff : Reserved\nSystem RAM\n", 2),
        ("00001000-00000fff : System RAM\n", 1),
        ("0000g000-00000fff : System RAM\n", 1),
    ],
)
def test_parse_iomem_bad_input_names_line(text, lineno):
    with pytest.raises(ValueError, match=f"^iomem line {lineno}: ") as exc:
        parse_iomem(text)
    assert repr(text.splitlines()[lineno - 1]) in str(exc.value)


def test_parse_iomem_empty_text():
    with pytest.raises(ValueError, match="empty"):
        parse_iomem("")


# ----------------------------------------------------------------- kpageflags

# A synthetic zone from PFN 31744: 1024 PFNs with every page kind, then one
# all-zero memory section (32768 PFNs, deferred struct-page init).
START = 32768 - 1024
ROWS = [  # (first offset, number of pages, kpageflags names, expected map char)
    (0, 2, (), "#"),                                        # not System RAM
    (2, 1, ("NOPAGE",), "#"),
    (3, 1, ("RESERVED",), "R"),
    (4, 1, ("ZERO_PAGE", "RESERVED"), "R"),
    (5, 1, ("SLAB",), "U"),
    (6, 1, ("PGTABLE",), "U"),
    (7, 1, (), "U"),                                        # kernel page or pcp page
    (8, 8, ("BUDDY",), "."),                                # one order-3 block
    (16, 4, ("LRU", "THP", "COMPOUND_HEAD"), "T"),          # order-2 THP at an even PFN
    (20, 1, ("LRU", "ANON", "SWAPBACKED", "MMAP"), "M"),    # anon
    (21, 3, ("LRU", "THP", "ANON", "SWAPBACKED"), "M"),     # THP run from an odd PFN:
    (24, 1, ("LRU", "SWAPBACKED"), "M"),                    # shmem
    (25, 1, ("LRU", "DIRTY", "UPTODATE"), "M"),             # dirty file
    (26, 1, ("LRU", "WRITEBACK"), "M"),
    (27, 1, ("LRU", "UNEVICTABLE", "MLOCKED"), "M"),
    (28, 1, ("LRU", "UPTODATE"), "F"),                      # clean page cache
    (29, 1, ("LRU", "MMAP", "PRIVATE"), "F"),
    (30, 1, ("MMAP",), "v"),                                # on its way to the LRU
    (31, 1, ("ANON", "SWAPBACKED"), "v"),
    (32, 1, ("COMPOUND_TAIL",), "U"),
    (33, 1, ("OFFLINE",), "U"),
    (34, 2, ("UPTODATE", "BUDDY"), "."),
    (36, 1, ("LRU", "ANON", "MMAP", "UPTODATE"), "F"),      # lazily freed (MADV_FREE): dropped
    (37, 475, ("LRU", "UPTODATE"), "F"),
    (512, 512, ("HUGE", "COMPOUND_TAIL"), "H"),
]


def synthetic_flags():
    flags = np.zeros(1024 + 32768, dtype=np.uint64)
    expected = ["?"] * 1024
    for off, n, names, ch in ROWS:
        flags[off:off + n] = kpf(*names)
        expected[off:off + n] = ch * n
    expected[21] = "M"          # the odd first page of the THP run is left over;
    expected[22:24] = "TT"      # the rest is an order-1 compound page
    assert "?" not in expected
    return flags, "".join(expected) + "#" * 32768


SYN_RAM = [(START + 2, START + 1024 + 32768)]


def test_classify_kpageflags_every_kind():
    flags, expected = synthetic_flags()
    kinds, blocks, info = classify_kpageflags(flags, START, SYN_RAM)
    assert kinds.tobytes().decode() == expected
    assert blocks.tolist() == [MigrateType.UNMOVABLE] + [MigrateType.MOVABLE] * 65
    assert info["uninitialised_pages"] == 32768
    assert info["first_uninitialised_pfn"] == 32768
    assert info["hole_pages"] == 2 + 1  # outside RAM, plus NOPAGE
    assert info["counts"]["."] == 10
    assert info["unmovable_blocks"] == 1


def test_classify_kpageflags_no_deferred_tail_when_last_section_is_in_use():
    flags = np.full(PFNS := 2 * 32768, kpf("LRU"), dtype=np.uint64)
    flags[-10:] = 0  # zero pages at the very end: kernel pages, not uninitialised
    kinds, _, info = classify_kpageflags(flags, 0, [(0, PFNS)])
    assert info["uninitialised_pages"] == 0
    assert kinds[-10:].tobytes() == b"U" * 10


def write_snapshot(path, flags, start_pfn, meta):
    with open(path, "wb") as fh:
        np.savez_compressed(fh, flags=flags, mapcount=np.zeros(flags.size, dtype=np.uint16),
                            start_pfn=np.array([start_pfn], dtype=np.int64),
                            meta=np.array(json.dumps(meta)))


def test_load_kpageflags_synthetic_snapshot(tmp_path):
    flags, expected = synthetic_flags()
    meta = {"zone": {"zone": "Normal"}, "pageblock_order": 9, "max_page_order": 10,
            "kpf_bits": KPF, "system_ram": [list(r) for r in SYN_RAM]}
    path = tmp_path / "syn.npz"
    write_snapshot(path, flags, START, meta)
    zone = load_kpageflags(path)
    assert zone.check()
    assert (zone.name, zone.start_pfn, zone.spanned_pages) == ("Normal", START, 1024 + 32768)
    assert zone.geometry == Geometry(11, 9)
    assert zone.to_map() == expected
    assert zone.blocks_map() == "U" + "M" * 65
    assert zone.free_blocks() == [(START + 8, 3, MigrateType.UNMOVABLE),
                                  (START + 34, 1, MigrateType.UNMOVABLE)]
    assert zone.nr_free_pages == 10
    assert zone.buddyinfo() == format_buddyinfo_line(0, "Normal", [0, 1, 0, 1] + [0] * 7)
    # the uninitialised section is never free, and its blocks are not counted;
    # nor is block 0: the kernel looks only at its first PFN, and that is a hole
    assert pagetypeinfo_blockcount(zone).tolist() == [0, 1, 0, 0, 0, 0]


def test_load_kpageflags_needs_ram_ranges(tmp_path):
    flags, expected = synthetic_flags()
    path = tmp_path / "old.npz"
    write_snapshot(path, flags, START, {"zone": {"zone": "DMA32"}})
    with pytest.raises(ValueError, match="iomem="):
        load_kpageflags(path)
    iomem = f"{(START + 2) * 4096:08x}-{(START + 1024 + 32768) * 4096 - 1:08x} : System RAM\n"
    zone = load_kpageflags(path, iomem=iomem)
    assert zone.name == "DMA32"
    assert zone.to_map() == expected


def test_load_kpageflags_rejects_other_npz(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a kpageflags snapshot"):
        load_kpageflags(path)


def test_load_kpageflags_dma32_block_types_match_machine(dma32):
    info = parse_pagetypeinfo(real("pagetypeinfo.txt"))
    counts = pagetypeinfo_blockcount(dma32)
    assert counts[MigrateType.UNMOVABLE] == info["blocks"]["DMA32"]["Unmovable"] == 0
    assert counts[MigrateType.MOVABLE] == info["blocks"]["DMA32"]["Movable"] == 1528


def test_classify_kpageflags_normal_snapshot_close_to_machine():
    with np.load(data_path("linux-6.18-Normal.npz"), allow_pickle=False) as npz:
        flags, start = npz["flags"], int(npz["start_pfn"][0])
        meta = json.loads(str(npz["meta"][()]))
    _, _, info = classify_kpageflags(flags, start, meta["system_ram"])
    # deferred init: the uninitialised tail is exactly what zoneinfo leaves unmanaged
    assert info["uninitialised_pages"] == meta["zone"]["present"] - meta["zone"]["managed"]
    assert info["counts"]["."] <= meta["zone"]["free"]
    # kpageflags cannot split Unmovable from Reclaimable: compare with their sum
    real_blocks = parse_pagetypeinfo(real("pagetypeinfo.txt"))["blocks"]["Normal"]
    machine = real_blocks["Unmovable"] + real_blocks["Reclaimable"]
    assert abs(info["unmovable_blocks"] - machine) <= 0.25 * machine


# ----------------------------------------------------------------- capture


def fake_proc(root, flags, counts, *, iomem=None, zone_start=START):
    """Write synthetic /proc files for a Normal zone at ``zone_start``."""
    spanned = flags.size
    (root / "zoneinfo").write_text(
        "Node 0, zone      DMA\n  pages free     0\n        spanned  0\n"
        "        present  0\n        managed  0\n"
        f"Node 0, zone   Normal\n  pages free     10\n        min      1\n"
        f"        low      2\n        high     3\n        spanned  {spanned}\n"
        f"        present  {spanned - 2}\n        managed  1022\n"
        "  pagesets\n    cpu: 0\n              count:    5\n              high:     6\n"
        "              batch:    1\n  vm stats threshold: 4\n"
        "    cpu: 1\n              count:    7\n              high:     6\n"
        "              batch:    1\n  vm stats threshold: 4\n"
        f"  node_unreclaimable:  0\n  start_pfn:           {zone_start}\n")
    lo, hi = (zone_start + 2) * 4096, (zone_start + spanned) * 4096 - 1
    (root / "iomem").write_text(iomem if iomem is not None else
                                f"00000000-00000fff : Reserved\n{lo:08x}-{hi:08x} : System RAM\n")
    whole = np.zeros(zone_start + spanned, dtype=np.uint64)
    whole[zone_start:] = flags
    whole.tofile(root / "kpageflags")
    whole[zone_start:] = counts
    whole.tofile(root / "kpagecount")
    (root / "buddyinfo").write_text(format_buddyinfo_line(0, "Normal", [0] * 11))
    (root / "sys" / "kernel").mkdir(parents=True)
    (root / "sys" / "kernel" / "osrelease").write_text("4.4.0-test\n")


def test_capture_snapshot_round_trips_through_loader(tmp_path):
    flags, expected = synthetic_flags()
    counts = np.arange(flags.size, dtype=np.uint64) * 7
    fake_proc(tmp_path, flags, counts)
    out = tmp_path / "snap.bin"
    capture_snapshot("Normal", out, proc_root=tmp_path, chunk_pages=1000)
    assert out.exists()  # written exactly there, no .npz appended
    with np.load(out, allow_pickle=False) as npz:
        assert np.array_equal(npz["flags"], flags)
        assert npz["mapcount"].dtype == np.uint16
        assert np.array_equal(npz["mapcount"], np.minimum(counts, 65535))
        assert npz["start_pfn"].tolist() == [START]
        meta = json.loads(str(npz["meta"][()]))
    assert meta["zone"] == {"node": 0, "zone": "Normal", "start_pfn": START,
                            "spanned": flags.size, "present": flags.size - 2,
                            "managed": 1022, "free": 10, "pcp_count": 12, "min": 1,
                            "low": 2, "high": 3, "end_pfn": START + flags.size}
    assert meta["system_ram"] == [[START + 2, START + flags.size]]
    assert (meta["kernel"], meta["max_page_order"], meta["pageblock_order"]) == (
        "4.4.0-test", 10, None)  # no pagetypeinfo file: order unknown
    assert load_kpageflags(out).to_map() == expected


def test_capture_snapshot_not_root_zeroed_iomem(tmp_path):
    flags, _ = synthetic_flags()
    fake_proc(tmp_path, flags, flags, iomem="00000000-00000000 : System RAM\n")
    with pytest.raises(ProcPermissionError, match="root"):
        capture_snapshot("Normal", tmp_path / "s.npz", proc_root=tmp_path)
    assert not (tmp_path / "s.npz").exists()


def test_capture_snapshot_not_root_unreadable_kpageflags(tmp_path, monkeypatch):
    flags, _ = synthetic_flags()
    fake_proc(tmp_path, flags, flags)
    real_open = open

    def deny(path, *args, **kwargs):
        if str(path).endswith("kpageflags"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(procfs, "open", deny, raising=False)
    with pytest.raises(ProcPermissionError) as exc:
        capture_snapshot("Normal", tmp_path / "s.npz", proc_root=tmp_path)
    assert "kpageflags" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_capture_snapshot_bad_zone_and_short_file(tmp_path):
    flags, _ = synthetic_flags()
    fake_proc(tmp_path, flags, flags)
    with pytest.raises(ValueError, match="no zone 'HighMem'"):
        capture_snapshot("HighMem", tmp_path / "s.npz", proc_root=tmp_path)
    with pytest.raises(ValueError, match="empty"):
        capture_snapshot("DMA", tmp_path / "s.npz", proc_root=tmp_path)
    with open(tmp_path / "kpagecount", "r+b") as fh:
        fh.truncate((START + 100) * 8)
    with pytest.raises(ValueError, match="ends at PFN 31844"):
        capture_snapshot("Normal", tmp_path / "s.npz", proc_root=tmp_path)


def test_capture_snapshot_missing_proc_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        capture_snapshot("Normal", tmp_path / "s.npz", proc_root=tmp_path)


def test_data_path_names_shipped_files():
    assert data_path("iomem.txt").is_file()
    with pytest.raises(FileNotFoundError, match=r"linux-6\.18-DMA32\.npz"):
        data_path("nope.txt")
