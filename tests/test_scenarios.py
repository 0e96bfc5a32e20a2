"""The named scenarios do what their ``expect`` says (worked out by hand from v4.4),
lose no page, and the seeded generator gives the same problems forever."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter

import numpy as np
import pytest

from contig import Geometry, MigrateType, Zone, errname
from contig.mapfmt import BLOCK_CHARS
from contig.pcp import drain_all_pages, lru_add_drain_all
from contig.scenarios import SCENARIOS, Scenario, get, random_problem, random_zone

NAMES = list(SCENARIOS)


def settled(z: Zone) -> Zone:
    """A copy with the pagevec and per-CPU lists flushed: pages waiting there settle."""
    z = z.copy()
    lru_add_drain_all(z)
    drain_all_pages(z)
    z.check()
    return z


def kinds(z: Zone) -> Counter:
    return Counter(z.to_map())


@pytest.fixture(params=NAMES)
def ran(request):
    s = SCENARIOS[request.param]
    before = s.zone()
    z, r = s.run()
    return s, before, z, r


def test_scenarios_cover_the_brief():
    """Every stage and failure the course needs has a scenario, in course order."""
    assert len(SCENARIOS) >= 17
    outcomes = Counter()
    for s in SCENARIOS.values():
        outcomes[(s.expect["ret"], s.expect["failed_stage"])] += 1
    for want in [("0", None), ("-EBUSY", "start_isolate_page_range"),
                 ("-EBUSY", "__alloc_contig_migrate_range"),
                 ("-ENOMEM", "__alloc_contig_migrate_range"),
                 ("-EINTR", "__alloc_contig_migrate_range"), ("-EBUSY", "outer_start"),
                 ("-EBUSY", "test_pages_isolated"), ("-EBUSY", "isolate_freepages_range")]:
        assert outcomes[want], want
    assert NAMES[0] == "all-free"


@pytest.mark.parametrize("name", NAMES)
def test_scenario_is_documented(name):
    s = SCENARIOS[name]
    assert s.name == name and name == name.lower() and " " not in name
    assert 3 <= len(s.title) <= 60
    sentences = [x for x in s.description.replace("e.g.", "eg").split(". ") if x.strip()]
    assert 2 <= len(sentences) <= 5, s.description
    assert "(" in s.description  # cites a kernel function()
    assert s.description.isascii() and s.title.isascii()
    assert {"ret", "failed_stage"} <= set(s.expect)


def test_scenario_runs_as_expected(ran):
    s, _before, z, r = ran
    assert s.verify(z, r) == []
    assert errname(r.ret) == s.expect["ret"]
    z.check()


def test_scenario_replays_from_its_trace(ran):
    _s, before, z, r = ran
    assert r.events.initial.state_equal(before)
    assert r.events.final().state_equal(z)


def test_scenario_loses_no_page(ran):
    """Each kind is accounted for once the pagevec and per-CPU lists have settled."""
    _s, before, z, r = ran
    b, a = kinds(settled(before)), kinds(settled(z))
    taken = (r.end - r.start) if r.ok else 0
    # anonymous pages move but are never dropped; v pages settle into M
    assert a["M"] == b["M"]
    assert a["F"] == b["F"] - len(r.reclaimed)
    for k in "PURTH#":
        assert a[k] == b[k], k
    assert a["X"] == b["X"] + taken
    assert a["."] + a["p"] == b["."] + b["p"] + len(r.reclaimed) - taken
    assert sum(a.values()) == sum(b.values())


def test_scenario_moves_pages_where_v44_does(ran):
    _s, before, z, r = ran
    bm, am = before.to_map(), settled(z).to_map()
    off = before.start_pfn
    for src, dst in r.migrated.items():
        assert r.start <= src < r.end
        assert not r.isolate_start <= dst < r.isolate_end
        assert bm[src - off] in "Mv"
        assert am[dst - off] == "M"
    for p in r.reclaimed:
        assert r.start <= p < r.end and bm[p - off] == "F"
    if r.ok:
        assert am[r.start - off:r.end - off] == "X" * (r.end - r.start)
    else:
        assert am.count("X") == bm.count("X")


def test_scenario_pageblocks_after(ran):
    """Outside the aligned range nothing changes type (except by allocation fallback);
    inside, a block is unchanged or became the caller's type; nothing stays ISOLATE."""
    s, before, z, r = ran
    mt = BLOCK_CHARS[s.migratetype]
    pbn = s.geometry.pageblock_nr_pages
    assert "I" not in z.blocks_map()
    for (pfn, t0), (_, t1) in zip(before.iter_blocks(), z.iter_blocks()):
        inside = r.isolate_start <= pfn < r.isolate_end
        if inside:
            assert t1.char in (t0.char, mt)
            if r.failed_stage != "start_isolate_page_range":
                assert t1.char == mt, pfn
        elif not r.migrated:
            assert t1 == t0, pfn
    assert pbn  # geometry sanity
    assert z.nr_isolate_pageblock == 0


def test_scenario_zone_is_fresh_each_time():
    s = get("fragmented")
    z1 = s.zone()
    alloc = s.run()[0]
    z2 = s.zone()
    assert z1 is not z2 and z1.state_equal(z2)
    assert not alloc.state_equal(z2)
    assert z2.to_map() == s.map


def test_scenario_is_frozen():
    s = get("pinned")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.start = 3
    with pytest.raises(TypeError):
        s.options["busy_pfns"] = (1,)
    with pytest.raises(TypeError):
        s.expect["ret"] = "0"
    assert hash(s) == hash(get("pinned")) and s == get("pinned")


def test_scenario_run_overrides():
    s = get("writeback")
    z, r = s.run(busy_pfns=())
    assert r.ok and len(r.migrated) == 4
    z, r = s.run(start=12, end=16, busy_pfns=())
    assert r.ok and (r.start, r.end) == (12, 16)
    z, r = get("cma").run(migratetype=MigrateType.MOVABLE)
    assert z.blocks_map() == get("cma-as-movable").expect["blocks_after"]


def test_get_accepts_underscores_and_names_the_valid_ones():
    assert get("outer_start_bug") is SCENARIOS["outer-start-bug"]
    assert get(" Pinned ") is SCENARIOS["pinned"]
    with pytest.raises(ValueError, match=r"unknown scenario 'nope'.*all-free.*pinned"):
        get("nope")


def test_bad_expect_key_is_refused():
    with pytest.raises(ValueError, match="unknown expect keys"):
        Scenario(name="x", title="x", description="x", map="....", start=0, end=1,
                 expect={"retval": "0"})


def test_outer_start_bug_differs_from_4_5_only_in_the_message():
    """v4.4 probes 28, 28, 28, 24 and stops at the free order-1 block at 24: it
    does not cover start, and the walk reports PFN 26 of the padding."""
    _, r = get("outer-start-bug").run()
    ev = r.events.by_func("outer_start")[-1]
    assert ev.fields["probes"] == [28, 28, 28, 24]
    assert not ev.fields["covers_start"]
    _z, r = get("no-free-block").run()
    assert r.events.by_func("outer_start")[-1].fields["probes"] == [28, 28, 28, 24]
    assert r.log == []


def test_pcp_scenario_drains_during_isolation():
    _z, r = get("pcp").run()
    drains = r.events.by_func("drain_all_pages")
    assert drains and drains[0].stage == "isolate"


def test_pagevec_scenario_flushes_before_scanning():
    _z, r = get("pagevec").run()
    first = r.events.by_func("lru_add_drain_all")[0]
    scan = r.events.by_func("isolate_migratepages_range")[0]
    assert first.seq < scan.seq and 10 in scan.fields["isolated"]


def test_writeback_scenario_tries_five_times():
    _z, r = get("writeback").run()
    calls = r.events.by_func("migrate_pages")
    assert len(calls) == 5
    assert r.events.by_func("__alloc_contig_migrate_range")[-1].fields["stuck"] == [10]


# ---------------------------------------------------------------- the generator
#: random_problem(seed) for generator version 1; these must never change.
GOLDEN_V1 = {
    0: (".UMU.MTTUpFU.MPMM.MMUvMP.FM.M.FM", "UMMMMMMM", 26, 28),
    1: ("..FMU..U.vU..MTT.M..MM...M..FMM.", "MUMMMMMM", 5, 13),
    2: ("FFF...FUvMM...M..MUU....MpM.PFMU", "RRMMUMMM", 3, 7),
}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_problem_is_pinned_forever(seed):
    p = random_problem(seed)
    assert (p.map, p.blocks, p.start, p.end) == GOLDEN_V1[seed]
    assert p.name == f"random-{seed}" and p.geometry == Geometry(4, 2)


def test_random_problem_is_deterministic():
    for seed in (12345, 2**40):
        a, b = random_problem(seed), random_problem(seed)
        assert a == b
        assert a.zone().state_equal(b.zone())
    assert random_problem(3) != random_problem(4)


def test_random_zone_is_deterministic_and_valid():
    for seed in range(50):
        z1 = random_zone(seed)
        z2 = random_zone(seed)
        assert z1.state_equal(z2)
        z1.check()
    z = random_zone(9, Geometry(5, 3), 100, start_pfn=10)
    assert (z.start_pfn, z.spanned_pages) == (10, 100)
    z.check()


def test_random_generator_is_versioned():
    with pytest.raises(ValueError, match="version"):
        random_problem(1, version=2)
    with pytest.raises(ValueError, match="seed"):
        random_problem("1")
    with pytest.raises(ValueError, match="seed"):
        random_problem(-1)
    with pytest.raises(ValueError, match="nr_pages"):
        random_zone(1, nr_pages=0)


def test_random_problems_run_and_vary():
    """Many seeds: every run keeps the zone valid, and the outcomes are varied."""
    stages = Counter()
    for seed in range(150):
        p = random_problem(seed)
        assert 1 <= p.end - p.start <= 8 and 0 <= p.start < p.end <= 32
        z, r = p.run(trace=False)
        z.check()
        stages[r.failed_stage] += 1
    assert stages[None] >= 30
    assert stages["start_isolate_page_range"] >= 15
    assert stages["test_pages_isolated"] >= 10
    assert stages["outer_start"] >= 3


def test_random_kinds_are_known():
    from contig.mapfmt import KINDS
    seen = set()
    for seed in range(40):
        seen |= set(random_problem(seed).map)
    assert seen <= set(KINDS)
    assert {".", "M", "F", "U", "T"} <= seen
    assert np.all([len(random_problem(s).blocks) == 8 for s in range(5)])


def test_titles_claim_no_more_than_the_map_holds():
    """issue 13: 'all-free' said "Everything is free already", but only the request is."""
    for name, sc in SCENARIOS.items():
        if "everything is free" in sc.title.lower():
            assert set(sc.map) == {"."}, name
    sc = SCENARIOS["all-free"]
    assert set(sc.map[sc.start:sc.end]) == {"."} and "request" in sc.title.lower()


def test_descriptions_write_ranges_half_open():
    """No "PFNs 8-15" style ranges: the course writes [8, 16) (said once in notebook 00)."""
    for name, sc in SCENARIOS.items():
        assert not re.search(r"PFNs? \d+ ?(-|to) ?\d+", sc.description), name


@pytest.mark.parametrize("kernel", ["4.4", "6.18"])
def test_an_untraced_call_gives_the_same_result(kernel):
    """trace=False records no events, yet the result (busy_pfn included) is the same."""
    from contig.viz.widgets import run_kernel

    for sc in SCENARIOS.values():
        a = run_kernel(kernel, sc.zone(), sc.start, sc.end, sc.migratetype, **dict(sc.options))
        b = run_kernel(kernel, sc.zone(), sc.start, sc.end, sc.migratetype, trace=False,
                       **dict(sc.options))
        assert len(b.events) == 0
        assert (a.ret, a.failed_stage, a.busy_pfn, a.outer_start, a.outer_end, a.log) == \
               (b.ret, b.failed_stage, b.busy_pfn, b.outer_start, b.outer_end, b.log), sc.name
