"""contig.selfcheck.cma: the check-yourself problems of notebook 14 (CMA).

Expected answers are worked out by hand from Linux v4.4: mm/cma.c
(cma_bitmap_aligned_mask, cma_bitmap_aligned_offset, cma_bitmap_pages_to_bits,
cma_alloc's retry at bitmap_no + mask + 1) and lib/bitmap.c
(bitmap_find_next_zero_area_off); the brute-force search below is the
definition of that function's result (the lowest aligned index whose window is
clear), written independently of the model.
"""

from __future__ import annotations

import itertools
import re

import pytest

from contig.selfcheck import cma as sc

GENERATORS = [sc.bitmap_problem, sc.retry_problem]
SEEDS = range(30)


@pytest.mark.parametrize("gen", GENERATORS)
def test_same_seed_same_problem_and_seeds_differ(gen):
    for seed in (0, 5):
        assert gen(seed).ask() == gen(seed).ask()
        assert gen(seed).answers() == gen(seed).answers()
    assert any(gen(0).ask() != gen(s).ask() for s in range(1, 5))


@pytest.mark.parametrize("gen", GENERATORS)
def test_right_answers_pass_wrong_ones_get_a_hint(gen):
    for seed in SEEDS:
        p = gen(seed)
        assert p.check(**p.answers()).all_right, seed
        for q in p.questions:
            wrong = {bool: not q.answer, list: [-1], type(None): 99}.get(type(q.answer), -1)
            res = p.check(**{q.key: wrong})
            assert not res.all_right and "not quite" in repr(res), (seed, q.key)


@pytest.mark.parametrize("gen", GENERATORS)
def test_bad_seed_and_key_are_refused(gen):
    for bad in (-1, 1.5, "3", True, None):
        with pytest.raises(ValueError, match="seed"):
            gen(bad)
    with pytest.raises(ValueError, match="no question 'nope'"):
        gen(1).check(nope=1)


def _parse(p):
    base, opb = map(int, re.search(r"base_pfn (\d+), order_per_bit (\d+)", p.setup).groups())
    bitmap = re.search(r"bitmap  ([01]+)", p.setup).group(1)
    count, align = map(int, re.search(r"count (\d+), align (\d+)", p.setup).groups())
    return base, opb, [c == "1" for c in bitmap], count, align


def test_bitmap_answers_follow_the_v4_4_arithmetic():
    for seed in range(60):
        p = sc.bitmap_problem(seed)
        base, opb, bits, count, align = _parse(p)
        a = p.answers()
        mask = (1 << (align - opb)) - 1 if align > opb else 0
        # v4.4: (ALIGN(base, 2^align) - base) >> opb when align > opb
        size = 1 << align
        offset = ((-(-base // size) * size - base) >> opb) if align > opb else 0
        n = -(-count // (1 << opb))
        first = next((i for i in range(len(bits) - n + 1)
                      if (i + offset) % (mask + 1) == 0 and not any(bits[i:i + n])), None)
        assert (a["mask"], a["offset"], a["bits"], a["first_bit"]) == (mask, offset, n, first), seed
        assert a["pfn"] == (None if first is None else base + (first << opb))
        if first is not None:
            assert a["aligned"] == ((base + (first << opb)) % size == 0)


def test_seed_0_worked_by_hand():
    p = sc.bitmap_problem(0)
    # base 16, order_per_bit 2 (8 bits), bitmap 01000000, cma_alloc(count 8, align 3):
    # mask = (1 << (3-2)) - 1 = 1; offset = (ALIGN(16, 8) - 16) >> 2 = 0; 8 pages = 2 bits;
    # first clear bit 0 is aligned, but the window [0, 2) holds bit 1: restart at 2,
    # aligned, [2, 4) clear -> bit 2 = PFN 16 + (2 << 2) = 24, a multiple of 8
    assert "order_per_bit 2" in p.setup and "bitmap  01000000" in p.setup
    assert p.answers() == {"mask": 1, "offset": 0, "bits": 2, "first_bit": 2, "pfn": 24,
                           "aligned": True}


def test_some_seed_shows_the_4_4_offset_misaligning():
    # base 8 with align 5 (32 pages): v4.4's offset is (32 - 8) >> opb, 4.13's 8 >> opb;
    # with v4.4's the slot lands at base + 8 = 16, not on a multiple of 32
    found = [s for s in range(200) if sc.bitmap_problem(s).answers().get("aligned") is False]
    assert found
    p = sc.bitmap_problem(found[0])
    base, _opb, _bits, _count, align = _parse(p)
    assert base % (1 << align) != 0
    assert "4.13" in repr(p.reveal("offset"))


def test_retry_answers_follow_the_retry_rule():
    for seed in SEEDS:
        p = sc.retry_problem(seed)
        a = p.answers()
        count, align = map(int, re.search(r"count (\d+), align (\d+)", p.setup).groups())
        slots = [tuple(map(int, m)) for m in re.findall(r"\[(\d+), (\d+)\) = ", repr(p.reveal(1)))]
        assert len(slots) == a["attempts"]
        # each slot is count pages; after a failure the next starts at least one
        # alignment step (2^align pages) further, on an aligned PFN
        for (s0, e0), (s1, _e1) in itertools.pairwise(slots):
            assert e0 - s0 == count and s1 >= s0 + (1 << align) and s1 % (1 << align) == 0
        assert a["pfn"] == (slots[-1][0] if a["pfn"] is not None else None)
        assert len(a["busy_starts"]) <= a["attempts"]


def test_retry_seed_0_worked_by_hand():
    p = sc.retry_problem(0)
    # area [8, 40), map ...P at PFN 11; cma_alloc(count 6, align 2): slot bit 0 = [8, 14)
    # holds the pinned PFN 11: migration leaves it, test_pages_isolated finds it: one line
    # starting at 8; retry at bit 0 + 3 + 1 = 4 = PFN 12: [12, 18) has no pinned page -> 0
    assert "map  MMMMMMMM...P..M..M.M...P...P" in p.setup
    assert p.answers() == {"attempts": 2, "busy_starts": [8], "pfn": 12}
