"""Invariants under random operations (hypothesis), with fixed settings so CI is deterministic.

* A state machine of frees, allocations, per-CPU drains, pagevec flushes,
  pageblock type changes, isolation and contiguous allocations keeps
  ``zone.check()`` true: 100 examples x 100 steps = 10,000 steps per run.
* On random zones and ranges alloc_contig_range() loses and duplicates no
  page, keeps ``check()`` true after success and failure, leaves pageblock
  types as v4.4 leaves them, replays exactly, and free_contig_range() gives
  every page back.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from contig import Geometry, MigrateType, Zone, alloc_contig_range, free_contig_range, pcp
from contig.buddy import move_freepages_block
from contig.isolation import set_migratetype_isolate, unset_migratetype_isolate
from contig.pcp import (
    alloc_pages,
    drain_all_pages,
    lru_add_drain_all,
    put_page,
    set_pcp,
)

G = Geometry(max_order=4, pageblock_order=2)
ISO = int(MigrateType.ISOLATE)
LIVE = set(b"MFPURTHX")

zone_maps = st.lists(
    st.sampled_from(list("........MMMMFPUpv")), min_size=32, max_size=32).map("".join)
block_maps = st.lists(st.sampled_from(list("MMMMUURC")), min_size=8, max_size=8).map("".join)


def live_pages(z: Zone) -> int:
    """Pages holding data: in use, or in the pagevec with a user beside the pagevec."""
    k = z.kind
    live = np.isin(k, np.frombuffer(bytes(LIVE), np.uint8))
    live |= (k == ord("v")) & (z.count >= 2)
    return int(live.sum())


def free_pages(z: Zone) -> int:
    return int(((z.kind == ord(".")) | (z.kind == ord("p"))).sum())


class ZoneMachine(RuleBasedStateMachine):
    @initialize(pages=zone_maps, blocks=block_maps, high=st.sampled_from([0, 2, 4]))
    def build(self, pages, blocks, high):
        self.z = Zone.from_map(pages, geometry=G, blocks=blocks)
        if high:
            set_pcp(self.z, high, 1)

    def _pick(self, data, chars):
        idx = np.flatnonzero(np.isin(self.z.kind, np.frombuffer(chars, np.uint8)))
        if idx.size == 0:
            return None
        return self.z.start_pfn + int(idx[data.draw(st.integers(0, idx.size - 1))])

    @rule(order=st.integers(0, 2), mt=st.sampled_from([0, 1, 2]), kind=st.sampled_from("MUFX"))
    def allocate(self, order, mt, kind):
        pfn = alloc_pages(self.z, order, mt, kind)
        if pfn is not None and order:
            # free all but the first page at once, as split_page() users do
            for p in range(pfn + 1, pfn + (1 << order)):
                put_page(self.z, p)

    @rule(data=st.data())
    def free_one(self, data):
        pfn = self._pick(data, b"MUFX")
        if pfn is not None and self.z.count[pfn] == 1:
            put_page(self.z, pfn)

    @rule(data=st.data())
    def to_pagevec(self, data):
        pfn = self._pick(data, b"M")
        if pfn is not None and self.z.count[pfn] == 1:
            # a page (re)joining the LRU through the pagevec
            getattr(pcp, "__lru_cache_add")(self.z, pfn)

    @rule()
    def drain(self):
        drain_all_pages(self.z)

    @rule()
    def lru_drain(self):
        lru_add_drain_all(self.z)

    @rule(block=st.integers(0, 7), mt=st.sampled_from([0, 1, 2, 4]))
    def change_type(self, block, mt):
        pfn = block * G.pageblock_nr_pages
        if self.z.pb[block] != ISO:
            move_freepages_block(self.z, pfn, mt)   # as steal_suitable_fallback() does
            self.z.set_pageblock_migratetype(pfn, mt)

    @rule(block=st.integers(0, 7))
    def isolate(self, block):
        if self.z.pb[block] != ISO:
            set_migratetype_isolate(self.z, block * G.pageblock_nr_pages)

    @rule(block=st.integers(0, 7), mt=st.sampled_from([0, 1, 2]))
    def unisolate(self, block, mt):
        unset_migratetype_isolate(self.z, block * G.pageblock_nr_pages, mt)

    @rule(start=st.integers(0, 30), length=st.integers(1, 9))
    def contig(self, start, length):
        end = min(start + length, 32)
        if (self.z.pb == ISO).any():
            return   # alloc_contig_range's callers own their blocks; keep isolations apart
        r = alloc_contig_range(self.z, start, end, trace=False)
        if r.ok:
            free_contig_range(self.z, start, end - start)

    @rule(data=st.data(), n=st.integers(1, 3))
    def free_anything(self, data, n):
        # free_contig_range() on pages nobody allocated: bad pages, WARNs, pagevec pages
        # (issue 12, B5/B7); the zone must stay consistent and usable
        pfn = self.z.start_pfn + data.draw(st.integers(0, 31 - n + 1), label="pfn")
        free_contig_range(self.z, pfn, n)

    @invariant()
    def consistent(self):
        if hasattr(self, "z"):
            self.z.check()


ZoneMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=100, derandomize=True, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestZoneMachine = ZoneMachine.TestCase


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(pages=zone_maps, blocks=block_maps, start=st.integers(0, 31), length=st.integers(1, 12),
       cma=st.booleans())
def test_alloc_contig_range_loses_nothing(pages, blocks, start, length, cma):
    z = Zone.from_map(pages, geometry=G, blocks=blocks)
    end = min(start + length, 32)
    mt = MigrateType.CMA if cma else MigrateType.MOVABLE
    before = z.copy()
    live0, free0 = live_pages(z), free_pages(z)
    r = alloc_contig_range(z, start, end, mt)
    z.check()
    assert r.events.final().state_equal(z)

    nx = int((z.kind == ord("X")).sum())
    assert live_pages(z) - nx == live0 - len(r.reclaimed)
    assert nx == (end - start if r.ok else 0)
    if r.ok:
        assert z.to_map()[start:end] == "X" * (end - start)

    # pageblock types as v4.4 leaves them (§2.6, §2.7)
    pbn = G.pageblock_nr_pages
    first, last = r.isolate_start // pbn, r.isolate_end // pbn
    fail_blk = last
    if r.failed_stage == "start_isolate_page_range":
        ev = [e for e in r.events if e.func == "start_isolate_page_range"][-1]
        fail_blk = ev.fields["failed_pfn"] // pbn
    for b in range(len(z.pb)):
        old, new = int(before.pb[b]), int(z.pb[b])
        if first <= b < fail_blk:
            assert new == int(mt), (b, old, new)
        elif first <= b < last:
            assert new == old
        else:
            # outside the aligned range only a stolen migration target changes a block
            assert new in (old, MigrateType.MOVABLE)

    # giving the pages back restores every free page (plus the dropped page cache)
    if r.ok:
        assert free_contig_range(z, start, end - start) == 0
        lru_add_drain_all(z)
        drain_all_pages(z)
        z.check()
        assert free_pages(z) == free0 + len(r.reclaimed)
        assert live_pages(z) == live0 - len(r.reclaimed)


@settings(max_examples=50, derandomize=True, deadline=None)
@given(pages=zone_maps, blocks=block_maps, start=st.integers(0, 31), length=st.integers(1, 12))
def test_failed_calls_leave_no_page_isolated(pages, blocks, start, length):
    z = Zone.from_map(pages, geometry=G, blocks=blocks)
    r = alloc_contig_range(z, start, min(start + length, 32))
    assert not (z.pb == ISO).any()
    assert z.nr_isolate_pageblock == 0
    if not r.ok:
        assert r.outer_end is None or r.failed_stage is None


@settings(max_examples=150, derandomize=True, deadline=None)
@given(pages=zone_maps, blocks=block_maps, max_order=st.integers(2, 6),
       pageblock_order=st.integers(0, 5))
def test_with_geometry_keeps_every_page_and_round_trips(pages, blocks, max_order, pageblock_order):
    z = Zone.from_map(pages, geometry=G, blocks=blocks)
    g = Geometry(max_order=max_order, pageblock_order=pageblock_order)
    w = z.with_geometry(g)
    w.check()
    assert w.to_map() == z.to_map() and w.geometry == g
    assert free_pages(w) == free_pages(z) and live_pages(w) == live_pages(z)
    assert all(order < max_order for _, order, _ in w.free_blocks())
    # a block is MOVABLE exactly when every old block under it was
    pbn = g.pageblock_nr_pages
    for k, t in enumerate(w.pb):
        under = z.pb[(k * pbn) >> G.pageblock_order: -(-((k + 1) * pbn) >> G.pageblock_order)]
        assert (t == MigrateType.MOVABLE) == bool((under == MigrateType.MOVABLE).all())
    # back to the first geometry: the zone from_map builds, block types included when
    # the trip only split blocks
    if pageblock_order <= G.pageblock_order:
        assert w.with_geometry(G).state_equal(z)


unaligned_maps = st.integers(3, 40).flatmap(
    lambda n: st.lists(st.sampled_from(list("......MMMFPUUp#v")), min_size=n, max_size=n).map("".join))


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(pages=unaligned_maps, start_pfn=st.integers(0, 19), data=st.data(),
       max_order=st.integers(1, 5), pageblock_order=st.integers(0, 3))
def test_zones_with_unaligned_ends_stay_consistent(pages, start_pfn, data, max_order, pageblock_order):
    # issue 12, B2/B3: the aligned range reaches outside a zone whose ends are not on a
    # pageblock or MAX_ORDER boundary; nothing outside may be touched, nothing may be
    # stranded on an Isolate list, and no pageblock may be left isolated
    g = Geometry(max_order=max_order, pageblock_order=pageblock_order)
    pbo = pageblock_order
    nblocks = ((start_pfn + len(pages) - 1) >> pbo) - (start_pfn >> pbo) + 1
    blocks = data.draw(st.lists(st.sampled_from(list("MMUUURCI")), min_size=nblocks,
                                max_size=nblocks).map("".join), label="blocks")
    z = Zone.from_map(pages, geometry=g, start_pfn=start_pfn, blocks=blocks)
    # starts near the zone's first PFN are the ones whose aligned range reaches below it
    start = data.draw(st.one_of(st.integers(start_pfn, min(start_pfn + 3, start_pfn + len(pages) - 1)),
                                st.integers(start_pfn, start_pfn + len(pages) - 1)), label="start")
    end = data.draw(st.integers(start + 1, start_pfn + len(pages)), label="end")
    live0 = live_pages(z)
    iso_before = [i for i, t in enumerate(z.pb) if t == ISO]
    before_pb = z.pb.copy()
    r = alloc_contig_range(z, start, end)
    z.check()
    assert r.ret in (0, -16, -12)
    assert live_pages(z) - int((z.kind == ord("X")).sum()) == live0 - len(r.reclaimed)
    # outside the aligned range a pageblock keeps its type, but for a block a migration
    # target was stolen from (it becomes MOVABLE)
    lo, hi = g.pfn_max_align_down(start), g.pfn_max_align_up(end)
    for b, old in enumerate(before_pb):
        first = max(((start_pfn >> pbo) + b) << pbo, start_pfn)
        if not lo <= first < hi:
            assert z.pb[b] in (old, MigrateType.MOVABLE), (b, old, z.pb[b])
    assert (z.pb == ISO).sum() <= len(iso_before)
    # no free block stranded on an Isolate list of a pageblock that is not isolated
    # (a pageblock the zone does not span to its end excepted: see Zone.check())
    for pfn, _order, mt in z.free_blocks():
        b = (pfn >> pbo) - (start_pfn >> pbo)
        if mt == ISO and ((pfn | ((1 << pbo) - 1)) < z.end_pfn):
            assert z.pb[b] == ISO, (pfn, blocks, z.blocks_map())
