"""contig.selfcheck: the shared rules of every check-yourself problem.

Blanks (``...``) ask to be filled in, one answer can be revealed at a time,
one normaliser reads every spelling, and wrong answers get hints aimed at
the mistake.
"""

from __future__ import annotations

import numpy as np
import pytest

from contig import MigrateType
from contig.selfcheck import (
    HINTS,
    KINDS,
    UNREADABLE,
    Problem,
    Question,
    basics,
    normalise,
    outcomes,
    stages,
)


def _problem() -> Problem:
    return Problem("T", "set-up", [
        Question("a", "first?", 3, "because three", kind="int"),
        Question("b", "second?", "RECLAIMABLE", "because R", kind="migratetype"),
    ], seed=1)


def test_blanks_are_filled_in_not_marked():
    res = _problem().check(a=..., b=...)
    text = repr(res)
    assert "a: fill in: first?" in text and "b: fill in: second?" in text
    assert "right" not in text and "not quite" not in text
    assert "because" not in text          # no reason, no answer
    assert not res.all_right


def test_reveal_one_answer_at_a_time():
    p = _problem()
    one = repr(p.reveal(2))
    assert "because R" in one and "because three" not in one
    assert repr(p.reveal("a")) == repr(p.reveal(1))
    assert "because three" in repr(p.reveal()) and "because R" in repr(p.reveal())
    with pytest.raises(ValueError, match=r"1\.\.2"):
        p.reveal(3)
    with pytest.raises(ValueError, match="no question 'c'"):
        p.reveal("c")


@pytest.mark.parametrize(("kind", "spellings", "canonical"), [
    ("migratetype", ["r", "R", " Reclaimable ", "MIGRATE_RECLAIMABLE", "migrate_reclaimable",
                     "reclaim able", 2, "2", MigrateType.RECLAIMABLE], "RECLAIMABLE"),
    ("int", [12, "12", " 12 ", "0xc", np.int64(12)], 12),
    ("optional_int", [None, "None", "none", ""], None),
    ("pfns", [[7, 3], (3, 7), "3, 7", "[3,7]", "7 3", range(3, 8, 4)], [3, 7]),
    ("probes", [[27, 27, 26], "27, 26"], [27, 26]),
    ("bool", [True, "yes", "Y", " true ", np.bool_(True)], True),
    ("ret", [-16, "-16", "-EBUSY", "ebusy", "EBUSY"], "-EBUSY"),
    ("ret", [0, "0", "success"], "0"),
    ("word", ["drain_all_pages", "drain_all_pages()", " Drain_All_Pages "], "drain_all_pages"),
    ("blocks", ["UMMM URCM", "ummmurcm"], "UMMMURCM"),
])
def test_one_normaliser_reads_every_spelling(kind, spellings, canonical):
    for s in spellings:
        assert normalise(s, kind) == canonical, (kind, s)


def test_normaliser_refuses_what_it_cannot_read():
    assert normalise(True, "int") is UNREADABLE           # a bool is not a number
    assert normalise("twelve", "int") is UNREADABLE
    assert normalise("x", "migratetype") is UNREADABLE
    assert normalise(1, "bool") is UNREADABLE
    assert normalise([1, "a"], "pfns") is UNREADABLE
    # the map character is the one place where case is meaning
    assert normalise("p", "mapchar") != normalise("P", "mapchar")
    with pytest.raises(ValueError, match="kind must be one of"):
        normalise(1, "colour")
    with pytest.raises(ValueError, match="kind must be one of"):
        Question("a", "?", 1, "", kind="colour")


def test_every_kind_has_a_hint_table():
    assert set(HINTS) == set(KINDS)


def test_an_unreadable_answer_says_so():
    assert "cannot read 'x' as a migratetype" in repr(_problem().check(b="x"))


def test_counting_pcp_pages_as_free_gets_the_per_cpu_hint():
    # seed 2: map UFF.FFF.TTMpvMM.; PFN 11 is 'p'
    p = basics.read_map_problem(2)
    text = repr(p.check(free_pfns=[3, 7, 11, 15]))
    assert "not quite" in text and "per-CPU list" in text and "[11]" in text
    # a plain omission gets the generic hint naming the missing PFN
    assert "15 is missing" in repr(p.check(free_pfns=[3, 7]))
    # p and P differ
    assert "case matters" in repr(p.check(kind="m")) or "another kind" in repr(p.check(kind="m"))


def test_hints_aim_at_the_mistake():
    # 04 seed 6: PFN 27 refuses in the block [24, 28)
    p = stages.isolation_problem(6)
    assert "first PFN of its pageblock" in repr(p.check(failed_block=27))
    assert "roll back" in repr(p.check(nr_isolated=4))
    # 05 seed 6: [17, 26) = F . M P M P F P M
    p = stages.migration_problem(6)
    assert "PFN 17 is 'F'" in repr(p.check(migrated=[17, 19, 21, 25]))
    assert "outside [17, 26)" in repr(p.check(dropped=[16, 17, 23]))
    # 09 seed 12: -EBUSY
    p = outcomes.undo_problem(12)
    assert "-ENOMEM comes only from migration" in repr(p.check(ret="-ENOMEM"))
    assert "Isolate" in repr(p.check(blocks="UMIUMMMM"))


def test_outer_end_one_short_gets_the_half_open_hint():
    p = outcomes.grab_problem(10)          # outer_end 24 for seed 10
    assert p.answers()["outer_end"] == 24
    assert "half-open" in repr(p.check(outer_end=23))


# ---------------------------------------------------------------- answers folded in outputs
def test_revealed_answers_are_folded_in_html():
    """Running a cell undoes JupyterLab's collapsed output, so the HTML form folds the
    answer in a closed <details>; the plain text (what nbval compares) stays whole."""
    p = _problem()
    html = p.reveal(2)._repr_html_()
    assert html.startswith("<details><summary>") and "<details open" not in html
    summary = html.split("</summary>")[0]
    assert "answer 2" in summary and "because R" not in summary
    assert "because R" in html.split("</summary>")[1]
    assert "every answer" in p.reveal()._repr_html_().split("</summary>")[0]
    # the template's feedback is the student's own: shown open, no HTML form
    assert not hasattr(p.check(a=...), "_repr_html_")


def test_solution_magic_runs_the_cell_and_folds_its_output():
    from IPython.core.interactiveshell import InteractiveShell

    from contig.selfcheck import load_ipython_extension

    ip = InteractiveShell.instance()
    load_ipython_extension(ip)
    res = ip.run_cell("%%solution\nx = 6 * 7\nprint('printed', x)\nx + 1")
    assert res.success, res.error_in_exec
    folded = res.result
    assert repr(folded) == "printed 42\n43"              # plain text: everything, in order
    html = folded._repr_html_()
    head, body = html.split("</summary>")
    assert "printed" not in head and "43" not in head
    assert "printed 42" in body and "43" in body
    assert ip.user_ns["x"] == 42                          # it ran in the user's namespace
    bad = ip.run_cell("%%solution\n1 / 0")
    assert isinstance(bad.error_in_exec, ZeroDivisionError)
