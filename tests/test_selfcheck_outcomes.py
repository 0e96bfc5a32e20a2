"""contig.selfcheck.outcomes: the problems of notebooks 08-11 and the failure table.

The expected answers below were worked out by hand from the printed set-up
(Linux v4.4 rules), then compared with what the model computes.
"""

import numpy as np
import pytest

from contig import Geometry, Zone, errname, free_contig_range
from contig.scenarios import SCENARIOS
from contig.selfcheck import Problem, outcomes

X86 = Geometry()


# ------------------------------------------------------------------ 08: the strict grab
@pytest.mark.parametrize(("seed", "answers"), [
    # pages 16.. are ".U......": free blocks [16,17) [18,20) [20,24); request [19, 21):
    # 19 is a tail of [18,20) -> outer_start 18; the grab takes [18,20) and [20,24)
    (10, {"outer_start": 18, "outer_end": 24, "head": 1, "tail": 3}),
    # [8,16) is one free order-3 block; request [13, 15)
    (7, {"outer_start": 8, "outer_end": 16, "head": 5, "tail": 1}),
    # [24,28) is a free order-2 block; request [24, 27): no head, one page of tail
    (2, {"outer_start": 24, "outer_end": 28, "head": 0, "tail": 1}),
])
def test_grab_problem_answers(seed, answers):
    p = outcomes.grab_problem(seed)
    assert p.answers() == answers
    assert p.check(**answers).all_right


def test_grab_problem_setup_shows_the_request():
    p = outcomes.grab_problem(10)
    assert "UUUU.M.MMM.M..FF.U.......MFFM..." in p.setup
    assert "alloc_contig_range(zone, 19, 21) succeeds" in p.setup
    assert "[18, 20) order 1" in p.setup and "[20, 24) order 2" in p.setup


# ------------------------------------------------------------------ 09: undoing isolation
def test_undo_problem_failed_isolation_rolls_back_as_the_callers_type():
    # isolate [8, 24): blocks 8 (M) and 12 (C) are isolated, block 16 (U) holds the kernel
    # page at 19 and refuses; the two isolated blocks come back MOVABLE, the CMA one too
    p = outcomes.undo_problem(8)
    assert "UUUU.M.M.MMFMM..MM.UFF.......MM." in p.setup
    assert p.answers() == {"blocks": "UMMMURCM", "ret": "-EBUSY"}
    assert p.check(blocks="UMMM URCM", ret=-16).all_right   # spaces and ints accepted
    assert not p.check(blocks="UMCMURCM").all_right


def test_undo_problem_success_converts_every_block():
    # isolate [16, 32): U, M, U, R blocks all pass (no kernel page in them) -> all MOVABLE
    p = outcomes.undo_problem(1)
    assert p.answers() == {"blocks": "UCMMMMMM", "ret": "0"}


@pytest.mark.parametrize(("seed", "answers"), [
    # PFN 9 freed into a MOVABLE block merges 8, [10,12) and the Isolate-list block
    # [12,16): order 3 on the Movable list, 4 uncounted pages
    (1, {"order": 3, "drift": 4}),
    # PFN 0 merges up to [0,4); the isolated buddy block [4,8) is not all free
    (3, {"order": 2, "drift": 0}),
])
def test_drift_problem_answers(seed, answers):
    assert outcomes.drift_problem(seed).answers() == answers


def test_drift_by_hand_zone():
    z = Zone.from_map("X.......", geometry=outcomes.SMALL, blocks="MI")  # X: a page the caller owns
    assert free_contig_range(z, 0, 1) == 0
    assert (z.nr_free_pages, z.nr_free_pages_on_lists(), z.nr_free_drift) == (4, 8, 4)


# ------------------------------------------------------------------ 10: failures
@pytest.mark.parametrize(("seed", "ret", "stage"), [
    (2, "-EBUSY", "isolate_freepages_range"),      # hole at PFN 10 of [8, 12)
    (5, "-ENOMEM", "__alloc_contig_migrate_range"),  # no free page outside [8, 16)
    (9, "-EBUSY", "start_isolate_page_range"),     # U page at 13 in the U block [12, 16)
    (12, "-EBUSY", "start_isolate_page_range"),    # U page at 28 in the U block [28, 32)
])
def test_failure_problem_answers(seed, ret, stage):
    p = outcomes.failure_problem(seed)
    assert p.answers() == {"ret": ret, "stage": stage}
    assert p.check(ret=ret.lstrip("-"), stage=stage + "()").all_right


def test_failure_problem_success_and_comparators():
    p = outcomes.failure_problem(1)
    assert p.answers() == {"ret": "0", "stage": None}
    assert p.check(ret=0, stage="None").all_right
    assert p.check(ret="0", stage=None).all_right
    assert not p.check(ret="-EBUSY").all_right
    assert not p.check(stage="outer_start").all_right


def test_failure_table_agrees_with_the_scenarios():
    rows = outcomes.failure_table()
    assert [r.scenario for r in rows] == list(outcomes.FAILURE_SCENARIOS)
    for row in rows:
        want = SCENARIOS[row.scenario].expect
        assert row.ret == want["ret"] and row.stage == want["failed_stage"]
        assert ([row.log] if row.log else []) == want["log"]
    text = outcomes.format_failure_table(rows)
    assert "pinned                -EBUSY   test_pages_isolated           " \
           "alloc_contig_range: [8, 10) PFNs busy" in text
    assert text.splitlines()[0].startswith("scenario")


# ------------------------------------------------------------------ 11: real zones
def _synthetic_zone() -> Zone:
    """Five 4 MiB windows: free, clean, mixed, padding, busy (x86-64 geometry)."""
    w = [
        "." * 1024,                                       # free
        ("M." * 256) + ("F." * 256),                      # clean: migrate / drop
        ("M." * 256) + ("T" * 512),                       # mixed: a THP block
        ("." * 512) + ("U" + "." * 511),                  # padding: U block with a kernel page
        ("U" * 512) + ("." * 512),                        # busy first half
        "." * 4096,                                       # free room for migration targets
    ]
    kinds = np.frombuffer("".join(w).encode(), dtype=np.uint8)
    blocks = "MMMMMM" + "MU" + "MM" + "MMMMMMMM"
    return Zone.from_arrays(kinds, blocks, geometry=X86, start_pfn=1024)


def test_window_categories_of_a_synthetic_zone():
    z = _synthetic_zone()
    cats = outcomes._window_categories(z, 1024)
    assert cats["free"][0] == (1024, -1)
    assert cats["clean"] == [(2048, -1)]
    # [5120, 6144): kernel pages in a MOVABLE block, then a free half: mixed, not busy
    assert cats["mixed"] == [(3072, 3072), (5120, 5632)]
    assert cats["padding"] == [(4096, 4096)]     # the clean half is the first
    assert cats["busy"] == []


def test_window_problem_answers_on_the_synthetic_zone():
    z = _synthetic_zone()
    seen = {}
    for seed in range(40):
        p = outcomes.window_problem(seed, z)
        a = p.answers()
        start = int(p.setup.split("the window [")[1].split(",")[0])
        seen[start] = (a["ok_2mib"], a["ok_4mib"])
    # the padding window: the clean half cannot be had, its neighbour block refuses isolation
    assert seen[4096] == (False, False)
    # the mixed windows: the clean half can, the whole window cannot (THP, kernel pages)
    assert seen[3072] == (True, False) and seen[5120] == (True, False)
    assert seen[2048] == (True, True)
    assert z.blocks_map() == "MMMMMMMUMMMMMMMMMM"    # untouched: every call ran on a copy


def test_gigantic_candidates_follow_the_v44_loop():
    # order 3 = 8 pages on a zone [4, 36): candidates 8, 16, 24 (32 would end at 39)
    z = Zone.from_map("...." "........" "..M....." "....#..." "....", geometry=outcomes.SMALL,
                      start_pfn=4)
    c = outcomes.gigantic_candidates(z, order=3)
    assert [(x.pfn, x.valid) for x in c] == [(8, True), (16, False), (24, False)]
    assert c[1].counts == {".": 7, "M": 1}
    assert "in use: 1 M" in c[1].why() and "1 holes" in c[2].why()
    assert outcomes.pfn_range_valid_gigantic(z, 8, 8)
    assert not outcomes.pfn_range_valid_gigantic(z, 0, 8)       # outside the zone


def test_format_candidates_collapses_all_hole_runs():
    c = [outcomes.Candidate(p, 4, False, {"#": 4}) for p in (0, 4, 8)]
    c.append(outcomes.Candidate(12, 4, True, {".": 4}))
    text = outcomes.format_candidates(c).splitlines()
    assert len(text) == 2 and "3 candidates, all holes" in text[0]


# ------------------------------------------------------------------ all problems
GENERATORS = [outcomes.grab_problem, outcomes.undo_problem, outcomes.drift_problem,
              outcomes.failure_problem]


@pytest.mark.parametrize("gen", GENERATORS)
def test_same_seed_same_problem(gen):
    a, b = gen(3), gen(3)
    assert isinstance(a, Problem)
    assert a.ask() == b.ask() and a.answers() == b.answers()
    assert repr(a.reveal()) == repr(b.reveal())
    assert gen(3).ask() != gen(4).ask()


@pytest.mark.parametrize("gen", GENERATORS)
def test_check_marks_right_and_wrong(gen):
    p = gen(5)
    right = p.check(**p.answers())
    assert right.all_right and "right." in repr(right)
    key = p.questions[0].key
    wrong = p.check(**{key: "certainly not this"})
    assert not wrong.all_right and "not quite" in repr(wrong)
    assert all(line.endswith("?") for line in p.ask().splitlines() if line.startswith(f"  {key}:"))


@pytest.mark.parametrize("gen", GENERATORS)
def test_bad_keys_and_seeds_raise(gen):
    p = gen(0)
    with pytest.raises(ValueError, match="no question"):
        p.check(nonsense=1)
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(ValueError, match="seed"):
            gen(bad)


def test_problem_by_name():
    assert outcomes.problem(10, "grab").answers() == outcomes.grab_problem(10).answers()
    with pytest.raises(ValueError, match="unknown problem kind"):
        outcomes.problem(1, "nope")
    with pytest.raises(ValueError, match="zone="):
        outcomes.problem(1, "window")


def test_explain_every_failure_scenario_names_the_page():
    for name in outcomes.FAILURE_SCENARIOS:
        sc = SCENARIOS[name]
        _z, r = sc.run()
        text = outcomes.explain(r, sc.zone())
        assert text.startswith(errname(r.ret))
        if r.busy_pfn is not None and r.failed_stage != "isolate_freepages_range":
            assert f"PFN {r.busy_pfn}" in text
