"""contig.selfcheck.basics: the check-yourself problems of notebooks 00-03.

Hand-derived answers follow mm/page_alloc.c, Linux v4.4 (``__free_one_page``,
``__rmqueue``, ``__rmqueue_fallback``, ``steal_suitable_fallback``,
``pfn_max_align_down/up``); each case spells out the map it was derived from,
so a change of generator shows up here first.
"""

from __future__ import annotations

import re

import pytest

from contig import Geometry, MigrateType, Zone
from contig.pcp import put_page
from contig.selfcheck import basics

GENERATORS = [basics.read_map_problem, basics.buddy_problem, basics.migratetype_problem,
              basics.alignment_problem]
SEEDS = range(40)


def _map_of(problem) -> str:
    return re.search(r"map  (\S+)", problem.setup).group(1)


# ---------------------------------------------------------------- all generators
@pytest.mark.parametrize("gen", GENERATORS)
def test_problem_same_seed_same_problem(gen):
    for seed in (0, 1, 7):
        a, b = gen(seed), gen(seed)
        assert a.ask() == b.ask()
        assert a.answers() == b.answers()
        assert repr(a.reveal()) == repr(b.reveal())
    assert any(gen(0).ask() != gen(s).ask() for s in range(1, 5))


@pytest.mark.parametrize("gen", GENERATORS)
def test_problem_check_marks_right_and_wrong(gen):
    for seed in SEEDS:
        p = gen(seed)
        assert p.check(**p.answers()).all_right, (gen.__name__, seed)
        for q in p.questions:
            wrong = {str: "?", int: -1, bool: not q.answer, list: [-1]}[type(q.answer)]
            res = p.check(**{q.key: wrong})
            assert not res.all_right, (gen.__name__, seed, q.key)
            assert "not quite" in repr(res)


@pytest.mark.parametrize("gen", GENERATORS)
def test_problem_bad_key_and_bad_seed_raise(gen):
    p = gen(3)
    with pytest.raises(ValueError, match="no question"):
        p.check(nonsense=1)
    for bad in (-1, 1.5, "3", True, None):
        with pytest.raises(ValueError, match="seed"):
            gen(bad)


@pytest.mark.parametrize("gen", GENERATORS)
def test_problem_ask_hides_answers(gen):
    p = gen(5)
    text = p.ask()
    assert text.startswith(p.title + " (seed 5)")
    for q in p.questions:
        assert f". {q.key}: {q.prompt}  ?" in text


# ---------------------------------------------------------------- 00: reading a map
def test_read_map_problem_hand_derived():
    # seed 2: map UFF.FFF.TTMpvMM., blocks R R M M (PFN 11 is 'p': free, but on a per-CPU list)
    p = basics.read_map_problem(2)
    assert _map_of(p) == "UFF.FFF.TTMpvMM."
    # [2, 7) is half-open: PFNs 2-6 = F . F F F, one free
    assert p.answers() == {"free_pfns": [3, 7, 15], "kind": "M", "pageblock": "R",
                           "free_in_range": 1}
    assert "[2, 7)" in p.ask()
    assert "PFN 10" in p.ask() and "PFN 5" in p.ask()
    # seed 4: map .MUFM.M....UFFF., all blocks M
    p = basics.read_map_problem(4)
    assert _map_of(p) == ".MUFM.M....UFFF."
    # [2, 13): PFNs 2-12 = U F M . M . . . . U F: 5, 7, 8, 9, 10 are free
    assert p.answers() == {"free_pfns": [0, 5, 7, 8, 9, 10, 15], "kind": "U", "pageblock": "M",
                           "free_in_range": 5}


def test_read_map_problem_answers_follow_the_map():
    for seed in SEEDS:
        p = basics.read_map_problem(seed)
        m = _map_of(p)
        assert p.answers()["free_pfns"] == [i for i, c in enumerate(m) if c == "."]
        k = int(re.search(r"what is PFN (\d+)", p.ask()).group(1))
        assert p.answers()["kind"] == m[k]


def test_read_map_problem_accepts_equivalent_answers():
    p = basics.read_map_problem(2)
    assert p.check(free_pfns=(15, 3, 7), pageblock="reclaimable").all_right
    assert p.check(free_pfns=range(3, 8, 4), pageblock=MigrateType.RECLAIMABLE).all_right is False
    assert p.check(pageblock=2).all_right
    assert not p.check(free_pfns=[3, 7, 11, 15]).all_right   # 11 is 'p', not in the buddy
    assert p.check(free_pfns="3, 7, 15").all_right   # numbers given as a string


# ---------------------------------------------------------------- 01: freeing and merging
@pytest.mark.parametrize(("seed", "mapping", "pfn", "order", "start", "nblocks"), [
    # PFN 3: 2 is a free order-0 block -> [2, 4); [0, 2) free order 1 -> [0, 4);
    # [4, 8) free order 2 -> [0, 8); order 3 = MAX_ORDER-1: stop.
    # 6 free blocks before, +1 freed, -3 merges = 4
    (1, "...M....MF.U..U.", 3, 3, 0, 4),
    # PFN 14: its buddy 15 is in use (F): no merge.
    # 3 free blocks (6, 8, 11) + 1, no merge = 4
    (0, "FMMMMM.F.UU.UMMF", 14, 0, 14, 4),
    # PFN 13: 12 free order 0 -> [12, 14); buddy 14 heads an order-0 block, not order 1: stop.
    # 6 free blocks (0, 3, 4, 6, 12, 14) + 1 - 1 merge = 6
    (3, ".MF..M.MMMUF.M.M", 13, 1, 12, 6),
])
def test_buddy_problem_hand_derived(seed, mapping, pfn, order, start, nblocks):
    p = basics.buddy_problem(seed)
    assert _map_of(p) == mapping
    assert f"The page at PFN {pfn} is freed" in p.setup
    assert p.answers() == {"order": order, "start": start, "nr_free_blocks": nblocks}


def test_buddy_problem_covers_every_order():
    orders = {basics.buddy_problem(seed).answers()["order"] for seed in SEEDS}
    assert orders == {0, 1, 2, 3}


def test_merge_steps_agree_with_the_model():
    for seed in SEEDS:
        p = basics.buddy_problem(seed)
        z = Zone.from_map(_map_of(p), geometry=basics.SMALL)
        pfn = int(re.search(r"PFN (\d+) is freed", p.setup).group(1))
        last = basics.merge_steps(z, pfn)[-1]
        lo, hi = (int(x) for x in re.search(r"\[(\d+), (\d+)\)", last).groups())
        put_page(z, pfn)
        z.check()
        heads = {h: o for h, o, _ in z.free_blocks()}
        assert heads.get(lo) is not None and lo + (1 << heads[lo]) == hi, (seed, last)
        assert (p.answers()["start"], p.answers()["order"]) == (lo, heads[lo])


def test_merge_steps_isolate_cap():
    # freed as ISOLATE, a page merges at most up to pageblock_order (2 here), not order 3
    z = Zone.from_map("...." "...M" + "." * 8, geometry=basics.SMALL, blocks="IIMM")
    lines = basics.merge_steps(z, 7)
    assert lines[-1] == "result: a free order-2 block [4, 8) on the ISOLATE list"
    assert "pageblock_order" in lines[-2]


# ---------------------------------------------------------------- 02: migratetypes
@pytest.mark.parametrize(("seed", "mapping", "blocks", "answers"), [
    # (a) PFN 13 in a MOVABLE block, buddy 12 in use; (b) UNMOVABLE: no U list -> RECLAIMABLE
    # first; largest there is PFN 1 (order 0); the [0, 4) block has one free page: no steal.
    (0, "U.UUUU.UM.MMMM.M", "RRMM",
     {"freed_list": "MOVABLE", "source": "RECLAIMABLE", "steals": False, "freed_order": 0}),
    # (a) PFN 5 in a RECLAIMABLE block; (b) MOVABLE: no M or C list -> RECLAIMABLE, largest
    # block [6, 8) order 1 >= pageblock_order/2: 2 of 4 pages free -> [4, 8) becomes MOVABLE.
    (1, "MMMMUU..U.U.MMMM", "MRRM",
     {"freed_list": "RECLAIMABLE", "source": "RECLAIMABLE", "steals": True, "freed_order": 0}),
    # (a) PFN 4 in a CMA block merges into [4, 8) on the CMA list; (b) UNMOVABLE never uses CMA:
    # fallback MOVABLE, largest block [12, 16) order 2 = pageblock_order -> stolen whole.
    (2, "M.MMM...MMMM....", "CCMM",
     # (a) PFN 4: buddy 5 free -> [4, 6), buddy [6, 8) free order 1 -> [4, 8), buddy 0 in use
     {"freed_list": "CMA", "source": "MOVABLE", "steals": True, "freed_order": 2}),
])
def test_migratetype_problem_hand_derived(seed, mapping, blocks, answers):
    p = basics.migratetype_problem(seed)
    assert _map_of(p) == mapping
    assert re.search(r"blocks  (.*)", p.setup).group(1).replace(" ", "") == blocks
    assert p.answers() == answers


def test_migratetype_problem_accepts_type_spellings():
    p = basics.migratetype_problem(2)
    for given in ("CMA", "cma", "C", MigrateType.CMA, 4, "MIGRATE_CMA"):
        assert p.check(freed_list=given).all_right, given
    for given in ("MOVABLE", "X", 9, None, MigrateType.MOVABLE):
        assert not p.check(freed_list=given).all_right, given
    assert p.check(steals="yes").all_right and not p.check(steals=1).all_right


def test_migratetype_problem_varies():
    seen = {tuple(basics.migratetype_problem(s).answers().values()) for s in SEEDS}
    assert {a[2] for a in seen} == {True, False}
    assert {a[1] for a in seen} >= {"MOVABLE", "UNMOVABLE", "RECLAIMABLE", "CMA"}


# ---------------------------------------------------------------- 03: alignment
def test_alignment_problem_hand_derived():
    # seed 1, x86-64: unit max(1024, 512) = 1024; 0x463c5 -> 0x46000, 0x46cf0 -> 0x47000,
    # 0x1000 pages = 8 pageblocks of 512
    p = basics.alignment_problem(1)
    assert "0x463c5" in p.setup and "0x46cf0" in p.setup and "x86-64" in p.setup
    # 0x1000 pages = 4 largest blocks of 1024
    assert p.answers() == {"isolate_start": 0x46000, "isolate_end": 0x47000, "nr_pageblocks": 8,
                           "nr_max_blocks": 4}
    # seed 0, MAX_ORDER 11 with pageblock_order 13: unit max(1024, 8192) = 8192
    p = basics.alignment_problem(0)
    assert "pageblock_order=13" in p.setup and "0x40825" in p.setup and "0x43085" in p.setup
    # 0x4000 pages = 16 largest blocks of 1024
    assert p.answers() == {"isolate_start": 0x40000, "isolate_end": 0x44000, "nr_pageblocks": 2,
                           "nr_max_blocks": 16}


def test_alignment_problem_answers_are_aligned():
    labels = set()
    for seed in SEEDS:
        p = basics.alignment_problem(seed)
        mo, pbo = (int(x) for x in re.search(r"max_order=(\d+), pageblock_order=(\d+)",
                                             p.setup).groups())
        g = Geometry(max_order=mo, pageblock_order=pbo)
        a = p.answers()
        unit = max(1 << (mo - 1), 1 << pbo)
        assert a["isolate_start"] % unit == 0 and a["isolate_end"] % unit == 0
        assert a["nr_pageblocks"] == (a["isolate_end"] - a["isolate_start"]) >> pbo
        assert a["isolate_start"] == g.pfn_max_align_down(a["isolate_start"] + 1)
        labels.add(p.setup.split(":")[1])
    assert len(labels) == len(basics.ALIGNMENT_GEOMETRIES)


def test_map_text_ruler():
    z = Zone.from_map("UU.." + "M..." + "...." + "F..M", geometry=basics.SMALL, blocks="UMMM")
    assert basics.map_text(z, indent="") == "\n".join([
        "   PFN  0         1",
        "        0123456789012345",
        "   map  UU..M.......F..M",
        "blocks  U   M   M   M"])
