"""contig.selfcheck.source: notebook 12's problems (where in the source; the caller's contract)."""

from __future__ import annotations

import pytest

from contig import MigrateType, alloc_contig_range, scenarios
from contig.selfcheck import source as sc


@pytest.mark.parametrize("seed", range(12))
def test_problems_are_stable_and_answer_themselves(seed):
    for make in (sc.where_problem, sc.contract_problem):
        p, again = make(seed), make(seed)
        assert p.ask() == again.ask() and p.answers() == again.answers()
        assert p.check(**p.answers()).all_right
        assert "?" in p.ask()
        for q in p.questions:          # the answer is not printed before it is asked for
            assert repr(q.answer) not in p.ask() or isinstance(q.answer, bool)


def test_seeds_are_checked():
    for make in (sc.where_problem, sc.contract_problem):
        with pytest.raises(ValueError, match="seed"):
            make(-1)
        with pytest.raises(ValueError, match="seed"):
            make("3")


def test_where_accepts_the_usual_spellings():
    p = sc.where_problem(3)
    f, st = p.answers()["file"], p.answers()["stage"]
    assert f == "mm/page_alloc.c" and st == "drain"
    for spelling in ("mm/page_alloc.c", "page_alloc.c", "page_alloc", " MM/page_alloc.c "):
        assert p.check(file=spelling).all_right, spelling
    assert not p.check(file="mm/page_isolation.c").all_right
    assert p.check(stage="Drain").all_right
    assert not p.check(stage=...).all_right


def test_contract_problems_cover_both_answers():
    kept = {sc.contract_problem(s).answers()["keeps"] for s in range(20)}
    assert kept == {True, False}


def test_contract_broken_by_hand():
    # all-free: blocks U M M M M M M M (4-page pageblocks); [10, 14) overlaps blocks 2 and 3
    z = scenarios.get("all-free").zone()
    assert sc.contract_broken(z, 10, 14, MigrateType.MOVABLE) == []
    broken = sc.contract_broken(z, 10, 14, MigrateType.CMA)
    assert len(broken) == 1 and "[8, 12) (M), [12, 16) (M)" in broken[0] and "CMA" in broken[0]
    assert "not inside" in sc.contract_broken(z, 28, 36, MigrateType.MOVABLE)[0]
    assert "UNMOVABLE" in " ".join(sc.contract_broken(z, 2, 3, MigrateType.UNMOVABLE))
    # cma: blocks U M C C C C M M; [8, 16) is all CMA
    assert sc.contract_broken(scenarios.get("cma").zone(), 8, 16, MigrateType.CMA) == []


def test_a_broken_contract_changes_block_types_as_v4_4_does():
    # v4.4 mm/page_isolation.c unset_migratetype_isolate() (line 76) sets each isolated
    # block to the migratetype alloc_contig_range() passes to undo_isolate_page_range()
    # (mm/page_alloc.c line 6783); the aligned range of [10, 14) is [8, 16), blocks 2 and 3.
    z = scenarios.get("all-free").zone()
    r = alloc_contig_range(z, 10, 14, MigrateType.CMA)
    assert r.ret == 0
    assert z.blocks_map() == "UMCCMMMM"
