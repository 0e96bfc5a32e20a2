"""contig.selfcheck.stages: the check-yourself problems of notebooks 04-07.

The expected answers below were worked out by hand from each problem's
printed set-up (the map, the blocks, the request), following the v4.4 rules
of mm/page_isolation.c, mm/compaction.c and mm/page_alloc.c; the generators
compute them by running the model.  If a generator changes, these seeds'
set-ups change too, and GENERATOR_VERSION must be bumped.
"""

from __future__ import annotations

import pytest

from contig import alloc_contig_range, scenarios
from contig.selfcheck import stages

SEEDS = range(30)


# ---------------------------------------------------------------- zone_text
def test_zone_text_ruler_map_blocks_and_request():
    z = scenarios.get("unmovable-padding").zone()
    assert stages.zone_text(z, 10, 18).splitlines() == [
        "     PFN  0         1         2         3",
        "          01234567890123456789012345678901",
        "     map  UUUUMMMM..M.MM..M....U..MMMM....",
        "  blocks  U   M   M   M   M   U   M   M",
        "  request         --========------",
    ]
    assert len(stages.zone_text(z).splitlines()) == 4


# ---------------------------------------------------------------- 04: isolation
def test_isolation_problem_seed_6_by_hand():
    # isolated [16, 32): U block "...M" passes, U block "M.M." passes,
    # R block "MMMU" is scanned and PFN 27 (U) refuses
    p = stages.isolation_problem(6)
    assert "map  UUUU.UF.M.MFFMTT...MM.M.MMMU..M." in p.ask()
    assert "blocks  U   U   M   M   U   U   R   M" in p.ask()
    assert "alloc_contig_range(20, 30) isolates [16, 32)" in p.ask()
    # the refusal rolls back the blocks 16 and 20: none is left Isolate
    assert p.answers() == {"ok": False, "failed_block": 24, "unmovable_pfn": 27, "nr_isolated": 0}


def test_isolation_problem_seed_1_by_hand():
    # isolated [24, 32): R block "..FF" (free and page cache) passes, M block passes unseen
    p = stages.isolation_problem(1)
    assert "map  UUUUF.M.TTUUHH..M....FHH..FFMFM." in p.ask()
    assert "isolates [24, 32)" in p.ask()
    # [24, 32) is two pageblocks of 4, both isolated
    assert p.answers() == {"ok": True, "failed_block": None, "unmovable_pfn": None,
                           "nr_isolated": 2}


@pytest.mark.parametrize("seed", SEEDS)
def test_isolation_problem_agrees_with_the_call(seed):
    p = stages.isolation_problem(seed)
    a = p.answers()
    assert (a["failed_block"] is None) == a["ok"] == (a["unmovable_pfn"] is None)
    if not a["ok"]:
        assert a["failed_block"] <= a["unmovable_pfn"] < a["failed_block"] + 4
    assert "request" in p.ask() and "?" in p.ask()


# ---------------------------------------------------------------- 05: migration
def test_migration_problem_seed_6_by_hand():
    # [17, 26) = F . M P M P F P M: M moves, F is dropped, P is skipped
    p = stages.migration_problem(6)
    assert "map  UUUU...M.M.M.MM.MF.MPMPFPM.FFM.." in p.ask()
    assert "alloc_contig_range(17, 26)" in p.ask()
    # the skipped pinned pages stay in use: test_pages_isolated() fails the call
    assert p.answers() == {"migrated": [19, 21, 25], "dropped": [17, 23], "skipped": [20, 22, 24],
                           "succeeds": False}


def test_migration_problem_seed_3_by_hand():
    # [15, 20) = M F . F U: the kernel page 19 is not on the LRU
    p = stages.migration_problem(3)
    assert "map  UUUU.....F..FMFMF.FUMMM.M...M.MM" in p.ask()
    # the kernel page 19 stays: the call fails
    assert p.answers() == {"migrated": [15], "dropped": [16, 18], "skipped": [19],
                           "succeeds": False}


@pytest.mark.parametrize("seed", SEEDS)
def test_migration_problem_partitions_the_pages_in_use(seed):
    p = stages.migration_problem(seed)
    a = p.answers()
    text = p.ask()
    m = next(line for line in text.splitlines() if line.strip().startswith("map  ")).split()[-1]
    start, end = (int(x) for x in text.split("alloc_contig_range(")[1].split(")")[0].split(", "))
    in_use = {q for q in range(start, end) if m[q] not in ".p#"}
    parts = [set(a["migrated"]), set(a["dropped"]), set(a["skipped"])]
    assert set().union(*parts) == in_use
    assert sum(len(s) for s in parts) == len(in_use)
    assert all(m[q] in "Mv" for q in a["migrated"])
    assert all(m[q] == "F" for q in a["dropped"])


# ---------------------------------------------------------------- 06: draining
def test_page_changes_pcp_scenario():
    _, r = scenarios.get("pcp").run()
    ch = stages.page_changes(r, 10)
    assert [(c.seq, c.stage, c.func, c.before, c.after) for c in ch] == [
        (2, "isolate", "drain_all_pages", "p", "."),
        (11, "grab", "isolate_freepages_range", ".", "X"),
    ]
    assert stages.page_history(r, 10).splitlines()[0] == "PFN 10 starts as 'p'"


def test_page_changes_pagevec_scenario():
    _, r = scenarios.get("pagevec").run()
    funcs = [(c.func, c.before, c.after) for c in stages.page_changes(r, 10)]
    assert funcs == [("lru_add_drain_all", "v", "M"), ("migrate_pages", "M", "v"),
                     ("lru_add_drain_all", "v", "."), ("isolate_freepages_range", ".", "X")]
    assert stages.page_history(r, 0) == "PFN 0 starts as 'U' and never changes."


def test_page_changes_refuses_bad_input():
    z = scenarios.get("pcp").zone()
    r = alloc_contig_range(z, 8, 16, trace=False)
    with pytest.raises(ValueError, match="trace=True"):
        stages.page_changes(r, 10)
    _, r = scenarios.get("pcp").run()
    with pytest.raises(ValueError, match="outside the zone"):
        stages.page_changes(r, 99)


def test_drain_problem_seed_6_by_hand():
    # PFN 20 is parked on the per-CPU list: the drain after the first isolated block frees it
    p = stages.drain_problem(6)
    assert "map  UUUU...M.M.M.MM.MM.FpMppv..ppM.." in p.ask()
    assert "Follow PFN 20 (now 'p')" in p.ask()
    assert p.answers() == {"func": "drain_all_pages", "stage": "isolate"}


def test_drain_problem_seeds_1_and_4_by_hand():
    # seed 1: PFN 23 is clean page cache, dropped (freed) during migration
    p = stages.drain_problem(1)
    assert "Follow PFN 23 (now 'F')" in p.ask()
    assert p.answers() == {"func": "reclaim_clean_pages_from_list", "stage": "migrate"}
    # seed 4: PFN 22 is migrated; the old page waits in the pagevec until the drain stage
    p = stages.drain_problem(4)
    assert "Follow PFN 22 (now 'M')" in p.ask()
    assert p.answers() == {"func": "lru_add_drain_all", "stage": "drain"}


@pytest.mark.parametrize("seed", SEEDS)
def test_drain_problem_answer_follows_the_kind(seed):
    p = stages.drain_problem(seed)
    kind = p.ask().split("(now '")[1][0]
    want = {"p": ("drain_all_pages", "isolate"), "v": ("lru_add_drain_all", "drain"),
            "M": ("lru_add_drain_all", "drain"), "F": ("reclaim_clean_pages_from_list", "migrate")}
    assert (p.answers()["func"], p.answers()["stage"]) == want[kind]


# ---------------------------------------------------------------- 07: outer_start and the test
def test_outer_start_problem_seed_2_by_hand():
    # start 27 is a kernel page; 26 heads a free order-0 block that does not cover 27;
    # the walk from 26 stops at 27
    p = stages.outer_start_problem(2)
    assert "map  UUUU..MMMM......MMMM....M..U...." in p.ask()
    assert "blocks  U   M   M   M   M   M   I   I" in p.ask()
    assert "free blocks in [24, 32): 25 (order 0), 26 (order 0), 28 (order 2)" in p.ask()
    assert p.answers() == {"probes": [27, 26], "outer_start": 26, "test_passes": False}
    assert "[1a, 1f) PFNs busy" in repr(p.reveal())


def test_outer_start_problem_seeds_1_and_4_by_hand():
    # seed 1: start 28 is pinned, 24 is a kernel page: no probe heads a free block
    assert stages.outer_start_problem(1).answers() == {
        "probes": [28, 28, 28, 24], "outer_start": None, "test_passes": None}
    # seed 4: start 11 heads a free order-0 block and the request is [11, 12)
    assert stages.outer_start_problem(4).answers() == {
        "probes": [11], "outer_start": 11, "test_passes": True}


@pytest.mark.parametrize("seed", SEEDS)
def test_outer_start_problem_probes_are_the_v44_loop(seed):
    a = stages.outer_start_problem(seed).answers()
    start = a["probes"][0]
    assert a["probes"] == [start & ~((1 << k) - 1) for k in range(len(a["probes"]))]
    if a["outer_start"] is None:
        assert len(a["probes"]) == stages.SMALL.max_order and a["test_passes"] is None
    else:
        assert a["outer_start"] == a["probes"][-1] and a["test_passes"] in (True, False)


# ---------------------------------------------------------------- common behaviour
GENERATORS = [stages.isolation_problem, stages.migration_problem, stages.drain_problem,
              stages.outer_start_problem]


@pytest.mark.parametrize("gen", GENERATORS)
def test_same_seed_same_problem(gen):
    a, b = gen(11), gen(11)
    assert a.ask() == b.ask() and a.answers() == b.answers()
    assert len({gen(s).ask() for s in range(5)}) == 5


@pytest.mark.parametrize("gen", GENERATORS)
def test_check_marks_right_and_wrong(gen):
    p = gen(6)
    right = p.check(**p.answers())
    assert right.all_right
    assert "right." in repr(right)
    wrong = {k: ("nonsense" if not isinstance(v, list) else [999]) for k, v in p.answers().items()}
    res = p.check(**wrong)
    assert not any(ok for _, _, ok, _ in res.rows)
    assert "not quite" in repr(res)


@pytest.mark.parametrize("gen", GENERATORS)
def test_bad_keys_and_seeds_raise(gen):
    p = gen(0)
    with pytest.raises(ValueError, match="no question"):
        p.check(not_a_question=1)
    for seed in (-1, 1.5, "3", True, None):
        with pytest.raises(ValueError, match="seed"):
            gen(seed)


def test_answers_in_friendly_forms():
    p = stages.isolation_problem(6)
    assert p.check(ok="no").all_right
    assert not p.check(ok="yes").all_right
    assert stages.isolation_problem(1).check(failed_block=None, unmovable_pfn="None").all_right
    # lists in any order; booleans are not PFNs
    assert stages.migration_problem(6).check(migrated=(25, 19, 21), dropped=[23, 17]).all_right
    assert not stages.migration_problem(6).check(skipped=[20, 22, True]).all_right
    # a PFN probed twice in a row may be written once
    q = stages.outer_start_problem(1)
    assert q.check(probes=[28, 24], outer_start=None, test_passes=None).all_right
    assert not q.check(probes=[24, 28]).all_right
    assert stages.drain_problem(6).check(func="drain_all_pages()", stage="ISOLATE").all_right
