"""Issue 12, section 3 (model level): bad arguments are refused, named, and change nothing.

The rule (contig/argcheck.py): a value of the wrong type raises ArgTypeError,
which is both a TypeError and a ValueError; a value out of range raises
ValueError; the message names the argument and shows the value; the zone is
left exactly as it was.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contig import Geometry, MigrateType, Zone, alloc_contig_range, buddy, free_contig_range, isolation, pcp
from contig.argcheck import ArgTypeError

G = Geometry(max_order=4, pageblock_order=2)
MAP = "MM..F..U" "........" "..P.MMMM" "........"


def zone() -> Zone:
    return Zone.from_map(MAP, geometry=G, start_pfn=16)


def refused(fn, *args, match: str, exc=ValueError, **kw):
    z = args[0] if args and isinstance(args[0], Zone) else None
    before = z.copy() if z is not None else None
    with pytest.raises(exc, match=match):
        fn(*args, **kw)
    if z is not None:
        assert z.state_equal(before)
        z.check()


# ---------------------------------------------------------------- the list
@pytest.mark.parametrize(("kw", "match"), [
    ({"start_pfn": True}, r"start_pfn must be an int, not True"),
    ({"start_pfn": 1.0}, r"start_pfn must be an int, not 1\.0"),
    ({"start_pfn": "4"}, r"start_pfn must be an int, not '4'"),
    ({"start_pfn": -1}, r"start_pfn must be at least 0, not -1"),
    ({"start_pfn": 2 ** 63}, r"start_pfn must be at most \d+, not 9223372036854775808"),
    ({"start_pfn": 2 ** 64 + 3}, r"start_pfn must be at most "),
    ({"start_pfn": np.bool_(True)}, r"start_pfn must be an int"),
    ({"name": 5}, r"name must be a str, not 5"),
    ({"geometry": "G"}, r"geometry must be a Geometry"),
    ({"blocks": 3}, r"blocks must be a string or a 1-D integer array, not 3"),
    ({"pcp_high": 2.5, "pcp_batch": 1}, r"pcp high must be an int, not 2\.5"),
    ({"pcp_high": True, "pcp_batch": 1}, r"pcp high must be an int, not True"),
])
def test_from_map_refuses(kw, match):
    kw = {"geometry": G, **kw}
    with pytest.raises(ValueError, match=match):
        Zone.from_map("M...", **kw)


def test_from_map_start_pfn_near_the_top_of_the_pfn_space():
    from contig.argcheck import MAX_PFN
    with pytest.raises(ValueError, match=r"runs past the largest PFN"):
        Zone.from_map("....", geometry=G, start_pfn=MAX_PFN - 2)
    z = Zone.from_map("....", geometry=G, start_pfn=MAX_PFN - 4)   # the last 4 PFNs: fine
    z.check()


def test_wrong_types_are_both_type_and_value_errors():
    with pytest.raises(TypeError, match="start_pfn"):
        Zone.from_map("M...", geometry=G, start_pfn=True)
    with pytest.raises(ValueError, match="start_pfn"):
        Zone.from_map("M...", geometry=G, start_pfn=True)
    assert issubclass(ArgTypeError, TypeError) and issubclass(ArgTypeError, ValueError)


@pytest.mark.parametrize(("kw", "match", "exc"), [
    ({"busy_pfns": [17.0]}, r"busy_pfns must hold only ints, not 17\.0", TypeError),
    ({"busy_pfns": ["17"]}, r"busy_pfns must hold only ints, not '17'", TypeError),
    ({"busy_pfns": [True]}, r"busy_pfns must hold only ints, not True", TypeError),
    ({"busy_pfns": "17"}, r"busy_pfns must be an iterable of ints, not '17'", TypeError),
    ({"busy_pfns": [40]}, r"busy PFN 40 is outside \[16, 24\)", ValueError),
    ({"migratetype": True}, r"migratetype must be a MigrateType .*not True", TypeError),
    ({"migratetype": 1.0}, r"migratetype must be a MigrateType .*not 1\.0", TypeError),
    ({"migratetype": MigrateType.ISOLATE}, r"MOVABLE or CMA", ValueError),
    ({"fatal_signal_at": True}, r"fatal_signal_at must be a positive int or None, not True", TypeError),
    ({"fatal_signal_at": 2.0}, r"fatal_signal_at .*not 2\.0", TypeError),
    ({"fatal_signal_at": 0}, r"fatal_signal_at must be at least 1, not 0", ValueError),
    ({"trace": "no"}, r"trace must be True or False, not 'no'", TypeError),
    ({"bulk": "yes"}, r"bulk must be True or False, not 'yes'", TypeError),
    ({"bulk": 1}, r"bulk must be True or False, not 1", TypeError),
])
def test_alloc_contig_range_refuses(kw, match, exc):
    refused(alloc_contig_range, zone(), 16, 24, match=match, exc=exc, **kw)


@pytest.mark.parametrize(("start", "end", "match"), [
    (True, 24, r"start must be an int PFN, not True"),
    (16, 24.0, r"end must be an int PFN, not 24\.0"),
    (2 ** 63, 2 ** 63 + 1, r"not inside zone"),
    (np.uint8(250), np.uint8(255), r"not inside zone"),
])
def test_alloc_contig_range_refuses_pfns(start, end, match):
    refused(alloc_contig_range, zone(), start, end, match=match)


@pytest.mark.parametrize(("args", "match"), [
    ((0, 0), r"pfn: PFN 0 is outside zone Normal \[16, 48\)"),
    ((48, 0), r"pfn: PFN 48 is outside zone"),
    ((16, -1), r"nr_pages must be at least 0, not -1"),
    ((16, 1.0), r"nr_pages must be an int, not 1\.0"),
    ((16, True), r"nr_pages must be an int, not True"),
    ((16.0, 1), r"pfn must be an int PFN, not 16\.0"),
    ((40, 9), r"pfn \+ nr_pages - 1: PFN 48 is outside zone"),
    ((2 ** 63, 1), r"PFN 9223372036854775808 is outside zone"),
])
def test_free_contig_range_refuses(args, match):
    refused(free_contig_range, zone(), *args, match=match)


def test_numpy_small_ints_do_not_wrap():
    # uint8 PFN arithmetic would wrap at 256: converted to Python ints at the boundary
    # (np.uint8(250) + 8 is 2 in numpy 2: the model adds Python ints only)
    z = Zone.from_map("." * 250 + "X" * 8 + "." * 6, geometry=G)
    assert free_contig_range(z, np.uint8(250), 8) == 0
    assert z.to_map()[250:258] == "." * 8
    z2 = Zone.from_map("." * 264, geometry=G)
    r = alloc_contig_range(z2, np.uint8(250), np.int16(258))
    assert r.ret == 0 and (r.start, r.end) == (250, 258)
    assert type(r.start) is int


def test_set_pageblock_migratetype_refuses():
    z = zone()
    refused(z.set_pageblock_migratetype, 16, 99, match=r"migratetype must be at most 5, not 99")
    refused(z.set_pageblock_migratetype, 16, True, match=r"migratetype must be a MigrateType, not True")
    refused(z.set_pageblock_migratetype, 16, 1.0, match=r"migratetype must be a MigrateType, not 1\.0")
    refused(z.set_pageblock_migratetype, 0, 1, match=r"PFN 0 is outside zone")
    before = z.copy()
    for call in (lambda: z.set_pageblock_migratetype(16, 99), lambda: z.set_pageblock_migratetype(0, 1)):
        with pytest.raises(ValueError, match=r"migratetype|PFN"):
            call()
    assert z.state_equal(before)


def test_zone_queries_refuse():
    z = zone()
    for call, match in [
        (lambda: z.free_list(9, 1), r"order must be at most 3, not 9"),
        (lambda: z.free_list(0, 6), r"migratetype must be at most 5, not 6"),
        (lambda: z.free_list(0.0, 1), r"order must be an int, not 0\.0"),
        (lambda: z.pcp_list(3), r"per-CPU list must be at most 2, not 3"),
        (lambda: z.page(3), r"PFN 3 is outside zone"),
        (lambda: z.page("16"), r"pfn must be an int PFN, not '16'"),
        (lambda: z.buddyinfo(node="x"), r"node must be an int, not 'x'"),
        (lambda: z.pagetypeinfo(node=-1), r"node must be at least 0, not -1"),
        (lambda: z.block_index(15), r"PFN 15 is outside zone"),
        (lambda: z.get_pageblock_migratetype(48), r"PFN 48 is outside zone"),
        (lambda: z.spans(1.5), r"pfn must be an int PFN, not 1\.5"),
        (lambda: z.pfn_valid(True), r"pfn must be an int PFN, not True"),
        (lambda: z.with_geometry("G"), r"geometry must be a Geometry"),
        (lambda: z.state_equal("z"), r"other must be a Zone"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()


@pytest.mark.parametrize(("args", "match"), [
    ((True, 2), r"max_order must be an int, not True"),
    ((4.0, 2), r"max_order must be an int, not 4\.0"),
    ((4, "2"), r"pageblock_order must be an int, not '2'"),
    ((0, 2), r"max_order must be in 1\.\.20, not 0"),
    ((4, -1), r"pageblock_order must be in 0\.\.20, not -1"),
])
def test_geometry_refuses(args, match):
    with pytest.raises(ValueError, match=match):
        Geometry(*args)


def test_geometry_helpers_refuse():
    for call, match in [(lambda: G.pfn_max_align_down(1.5), r"pfn must be an int, not 1\.5"),
                        (lambda: G.pfn_max_align_up(True), r"pfn must be an int, not True"),
                        (lambda: G.pageblock_start(-4), r"pfn must be at least 0, not -4")]:
        with pytest.raises(ValueError, match=match):
            call()
    assert Geometry(np.int64(4), np.uint8(2)) == G


@pytest.mark.parametrize(("fn", "args", "match"), [
    (pcp.set_pcp, (0, 3), r"high=0, batch=3"),
    (pcp.set_pcp, (6.0, 1), r"pcp high must be an int, not 6\.0"),
    (pcp.set_pcp, (6, True), r"pcp batch must be an int, not True"),
    (pcp.put_page, (8,), r"pfn: PFN 8 is outside zone"),
    (pcp.put_page, (16.0,), r"pfn must be an int PFN, not 16\.0"),
    (pcp.alloc_pages, (9,), r"order must be at most 3, not 9"),
    (pcp.alloc_pages, (0, MigrateType.ISOLATE), r"MOVABLE, UNMOVABLE or RECLAIMABLE"),
    (pcp.alloc_pages, (0, 1, 5), r"kind must be a map character, not 5"),
    (pcp.alloc_pages, (0, 1, "MM"), r"not 'MM'"),
    (pcp.free_hot_cold_page, (16, "yes"), r"cold must be True or False, not 'yes'"),
    (pcp.free_pcppages_bulk, (-1,), r"count must be at least 0, not -1"),
    (pcp.drain_all_pages, (), r"zone must be a Zone"),
    (pcp.buffered_rmqueue, (0, 4), r"UNMOVABLE, MOVABLE or RECLAIMABLE"),
    (pcp.__lru_cache_add, (100,), r"PFN 100 is outside zone"),
    (pcp.putback_lru_page, (1.0,), r"pfn must be an int PFN"),
    (buddy.move_freepages_block, (16, 6), r"migratetype must be at most 5, not 6"),
    (buddy.move_freepages, (16, 19.0, 1), r"end_pfn must be an int PFN, not 19\.0"),
    (buddy.split_free_page, (16,), r"PFN 16 does not head a free block"),
    (buddy.__isolate_free_page, (18, 2), r"PFN 18 does not head a free block of order 2"),
    (buddy.__free_one_page, (16, 0, 9), r"migratetype must be at most 5, not 9"),
    (buddy.__rmqueue, (4, 1), r"order must be at most 3, not 4"),
    (isolation.set_migratetype_isolate, (4,), r"PFN 4 is outside zone"),
    (isolation.unset_migratetype_isolate, (16, MigrateType.ISOLATE), r"not ISOLATE"),
    (isolation.unset_migratetype_isolate, (16, 1.0), r"migratetype must be a MigrateType, not 1\.0"),
    (isolation.start_isolate_page_range, (16, 24, 1, "no"), r"bulk must be True or False"),
    (isolation.start_isolate_page_range, (17, 24, 1), r"not pageblock aligned"),
    (isolation.undo_isolate_page_range, (16, 24, True), r"migratetype must be a MigrateType, not True"),
    (isolation.test_pages_isolated, (16, "24"), r"end_pfn must be an int PFN, not '24'"),
    (isolation.has_unmovable_pages, (16, -1), r"count must be at least 0, not -1"),
])
def test_lower_level_functions_refuse(fn, args, match):
    if fn is pcp.drain_all_pages:
        with pytest.raises(ValueError, match=match):
            fn("not a zone")
        return
    refused(fn, zone(), *args, match=match)


# ---------------------------------------------------------------- property
def _not_ints(none_ok: bool):
    bad = [st.booleans(), st.floats(allow_nan=True), st.text(max_size=3),
           st.just(np.bool_(True)), st.lists(st.integers(0, 3), max_size=2),
           st.integers(min_value=-2 ** 70, max_value=-1),
           st.integers(min_value=2 ** 62, max_value=2 ** 70)]
    if not none_ok:
        bad.append(st.none())
    return st.one_of(*bad)


def _not_bools(none_ok: bool):
    bad = [st.integers(-3, 3), st.floats(allow_nan=True), st.text(max_size=3)]
    if not none_ok:
        bad.append(st.none())
    return st.one_of(*bad)


INT, INT_OR_NONE, BOOL, BOOL_OR_NONE = "int", "int|None", "bool", "bool|None"
CALLS = {
    "alloc_start": (INT, lambda z, v: alloc_contig_range(z, v, 24)),
    "alloc_end": (INT, lambda z, v: alloc_contig_range(z, 16, v)),
    "alloc_mt": (INT, lambda z, v: alloc_contig_range(z, 16, 24, v)),
    "alloc_busy": (INT, lambda z, v: alloc_contig_range(z, 16, 24, busy_pfns=[v])),
    "alloc_signal": (INT_OR_NONE, lambda z, v: alloc_contig_range(z, 16, 24, fatal_signal_at=v)),
    "alloc_trace": (BOOL, lambda z, v: alloc_contig_range(z, 16, 24, trace=v)),
    "alloc_bulk": (BOOL_OR_NONE, lambda z, v: alloc_contig_range(z, 16, 24, bulk=v)),
    "free_pfn": (INT, lambda z, v: free_contig_range(z, v, 1)),
    "free_nr": (INT, lambda z, v: free_contig_range(z, 16, v)),
    "set_mt": (INT, lambda z, v: z.set_pageblock_migratetype(16, v)),
    "set_mt_pfn": (INT, lambda z, v: z.set_pageblock_migratetype(v, 1)),
    "set_pcp_high": (INT, lambda z, v: pcp.set_pcp(z, v, 1)),
    "set_pcp_batch": (INT, lambda z, v: pcp.set_pcp(z, 6, v)),
    "put_page": (INT, lambda z, v: pcp.put_page(z, v)),
    "alloc_pages_order": (INT, lambda z, v: pcp.alloc_pages(z, v)),
    "alloc_pages_mt": (INT, lambda z, v: pcp.alloc_pages(z, 0, v)),
    "isolate": (INT, lambda z, v: isolation.set_migratetype_isolate(z, v)),
    "unisolate_mt": (INT, lambda z, v: isolation.unset_migratetype_isolate(z, 16, v)),
    "start_iso": (INT, lambda z, v: isolation.start_isolate_page_range(z, 16, 24, v)),
    "start_iso_bulk": (BOOL, lambda z, v: isolation.start_isolate_page_range(z, 16, 24, 1, v)),
    "move_block": (INT, lambda z, v: buddy.move_freepages_block(z, 16, v)),
    "free_list": (INT, lambda z, v: z.free_list(v, 1)),
    "page": (INT, lambda z, v: z.page(v)),
}
BAD = {INT: _not_ints(False), INT_OR_NONE: _not_ints(True),
       BOOL: _not_bools(False), BOOL_OR_NONE: _not_bools(True)}


@settings(max_examples=400, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), call=st.sampled_from(sorted(CALLS)))
def test_random_bad_arguments_never_change_the_zone(data, call):
    kind, fn = CALLS[call]
    value = data.draw(BAD[kind], label="value")
    z = zone()
    before = z.copy()
    with pytest.raises((ValueError, TypeError)) as info:
        fn(z, value)
    assert not isinstance(info.value, OverflowError | IndexError)
    assert z.state_equal(before)
    z.check()


def test_migrate_functions_refuse():
    from contig import migrate
    z = zone()
    cc = migrate.CompactControl(zone=z)
    before = z.copy()
    for call, match in [
        (lambda: migrate.isolate_migratepages_block(cc, 0, 24), r"\[0, 24\) is not inside zone"),
        (lambda: migrate.isolate_migratepages_range(cc, 16, 24.0), r"end_pfn must be an int PFN"),
        (lambda: migrate.isolate_migratepages_range("cc", 16, 24), r"cc must be a CompactControl"),
        (lambda: migrate.isolate_freepages_range(cc, 40, 50), r"not inside zone"),
        (lambda: migrate.isolate_freepages_block(cc, 18, 20, None), r"freelist must be a list"),
        (lambda: migrate.unmap_and_move(cc, 16), r"PFN 16 is not on the migration list"),
        (lambda: migrate.alloc_migrate_target(z, 3), r"PFN 3 is outside zone"),
        (lambda: migrate.pageblock_pfn_to_page(z, True, 20), r"start_pfn must be an int PFN"),
        (lambda: migrate.release_freepages(z, "x"), r"freelist must be a list"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()
        assert z.state_equal(before)
