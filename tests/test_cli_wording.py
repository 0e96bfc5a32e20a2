"""Issue 13, section 2, the CLI's wording: one spelling for an absent value; a caller
who breaks alloc_contig_range()'s contract is told so; the quiz explains the pages the
drains changed, not only the caller's."""

from __future__ import annotations

from contig.cli import main


def run_main(capsys, *args: str) -> tuple[int, str]:
    rc = main(list(args))
    return rc, capsys.readouterr().out


def test_absent_values_have_one_spelling(capsys):
    rc, out = run_main(capsys, "run", "--map", "MMMM....", "--start", "0", "--end", "4")
    assert rc == 0
    args = dict(line.split(" ", 2)[1:] for line in out.splitlines() if line.startswith("ARG "))
    assert args["fatal_signal_at"] == "none" and args["busy"] == "none"
    assert "None" not in out.split("\n\n")[0]


def test_cma_on_movable_blocks_keeps_v44_behaviour_and_says_the_contract_was_broken(capsys):
    # v4.4 alloc_contig_range() (mm/page_alloc.c:6681) and its kernel-doc just above: every
    # pageblock of [start, end) must already be of @migratetype, MOVABLE or CMA; nothing
    # checks it, and its "done:" label calls undo_isolate_page_range(..., migratetype),
    # which sets each isolated block to the caller's type (mm/page_isolation.c,
    # undo_isolate_page_range -> unset_migratetype_isolate): the MOVABLE blocks come back CMA.
    # https://elixir.bootlin.com/linux/v4.4/source/mm/page_alloc.c#L6681
    rc, out = run_main(capsys, "run", "--map", "MMMM" + "." * 28, "--migratetype", "cma",
                       "--start", "0", "--end", "4")
    assert rc == 0
    after = out.split("After:")[1]
    blocks = next(line for line in after.splitlines() if line.strip().startswith("blocks"))
    assert blocks.split()[1:3] == ["C", "C"]
    text = " ".join(out.split())
    assert "Contract broken: the caller passed MIGRATE_CMA, but the pageblocks under [0, 4) " \
           "were M" in text
    assert "came back as C" in text


def test_no_contract_note_when_the_blocks_are_of_the_requested_type(capsys):
    _, out = run_main(capsys, "run", "--scenario", "cma")
    assert "Contract broken" not in out
    _, out = run_main(capsys, "run", "--map", "MMMM" + "." * 28, "--start", "0", "--end", "4")
    assert "Contract broken" not in out


def test_quiz_explains_the_drains(capsys):
    # seed 7 (generator version 1): PFN 9 is 'v' (LRU-add pagevec) and PFN 12 'p' (per-CPU
    # free list); the call's lru_add_drain_all() and drain_all_pages() move them to the
    # LRU and to the buddy allocator: the answer's map shows M and '.' there.
    _, out = run_main(capsys, "quiz", "-s", "7", "-c")
    assert "ARG generator_version 1" in out
    text = " ".join(out.split("5. The map afterwards")[1].split())
    assert "PFN 9 v -> M" in text and "lru_add_drain_all()" in text
    assert "PFN 12 p -> ." in text and "drain_all_pages()" in text


def test_quiz_says_outer_end_half_open(capsys):
    # issue 13: "the last block ends at PFN 28, so outer_end = 28" read as the last page
    _, out = run_main(capsys, "quiz", "-s", "7", "-c")
    text = " ".join(out.split("3. outer_end")[1].split("4. The return value")[0].split())
    assert "ends at" not in text
    assert "they cover [26, 28) (PFN 27 is the last page taken), so outer_end = 28" in text
