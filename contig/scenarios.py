"""Named zones that each show one stage or one failure of ``alloc_contig_range()``.

A :class:`Scenario` is a small zone written in the map alphabet
(:data:`contig.mapfmt.KIND_DESCRIPTIONS`), a suggested request
``[start, end)`` and what Linux v4.4 does with it (``expect``), worked out by
hand from mm/page_alloc.c, mm/page_isolation.c and mm/compaction.c and
checked by ``tests/test_scenarios.py``.  :data:`SCENARIOS` lists them in
course order; :func:`get` finds one by name::

    >>> from contig import scenarios
    >>> zone, result = scenarios.get("pinned").run()
    >>> result.log
    ['alloc_contig_range: [8, 10) PFNs busy']

Unless a scenario says otherwise the geometry is ``Geometry(max_order=4,
pageblock_order=2)``: buddy blocks of at most 8 pages, 4-page pageblocks,
and requests rounded out to multiples of 8 PFNs.  Zones are 32 PFNs, 8
pageblocks, so a whole zone fits on one line.

:func:`random_zone` and :func:`random_problem` make new problems from a
seed, in the spirit of the OSTEP homework simulators' ``-s SEED``.  The
generator is versioned (:data:`GENERATOR_VERSION`): a seed gives the same
problem forever under the same version, because the generator draws only
from ``random.Random(seed).random()`` (the one method whose sequence Python
guarantees across releases) and builds everything else itself.  A changed
generator gets a new version number; old versions stay reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .contig import ContigResult, alloc_contig_range, errname
from .geometry import Geometry
from .pcp import set_pcp
from .zone import MigrateType, Zone

__all__ = [
    "GENERATOR_VERSION",
    "SCENARIOS",
    "Scenario",
    "get",
    "observed",
    "random_problem",
    "random_zone",
]

#: The course's small geometry: 8-page max blocks, 4-page pageblocks.
SMALL = Geometry(max_order=4, pageblock_order=2)

#: Version of the :func:`random_zone` / :func:`random_problem` generator.
GENERATOR_VERSION = 1

_EXPECT_KEYS = ("ret", "failed_stage", "outer_start", "outer_end", "log", "migrated",
                "reclaimed", "busy_pfn", "map_after", "blocks_after")


@dataclass(frozen=True)
class Scenario:
    """A named zone built to show one stage or failure of alloc_contig_range().

    :param name: kebab-case name, the key in :data:`SCENARIOS`.
    :param title: a few words for menus and ``--list``.
    :param description: 2-4 sentences for a student: what to look at, why it
        happens, which kernel function decides.
    :param map: one character per PFN (see :mod:`contig.mapfmt`).
    :param blocks: one pageblock type per pageblock (``U M R H C I``), or
        None for all MOVABLE.
    :param start: the suggested request ``[start, end)``.
    :param migratetype: what alloc_contig_range() is called with.
    :param options: keyword options of :func:`~contig.alloc_contig_range`
        (``fatal_signal_at``, ``busy_pfns``).
    :param pcp: per-CPU ``(high, batch)`` to set on the zone, or None for
        the small-zone default (high 0: freed pages reach the buddy at once).
    :param expect: what v4.4 does, worked out by hand: ``ret`` as an errno
        name (``"0"``, ``"-EBUSY"`` ...), ``failed_stage`` and, where they
        matter, ``outer_start``, ``outer_end``, ``log`` (the printk lines),
        ``migrated`` and ``reclaimed`` (counts), ``busy_pfn``, ``map_after``,
        ``blocks_after``.  :meth:`verify` compares a run with it.
    """

    name: str
    title: str
    description: str
    map: str
    start: int
    end: int
    blocks: str | None = None
    geometry: Geometry = SMALL
    start_pfn: int = 0
    migratetype: MigrateType = MigrateType.MOVABLE
    options: Mapping[str, Any] = field(default_factory=dict)
    pcp: tuple[int, int] | None = None
    expect: Mapping[str, Any] = field(default_factory=dict)
    zone_name: str = "Normal"

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        object.__setattr__(self, "expect", MappingProxyType(dict(self.expect)))
        object.__setattr__(self, "migratetype", MigrateType(self.migratetype))
        unknown = set(self.expect) - set(_EXPECT_KEYS)
        if unknown:
            raise ValueError(f"scenario {self.name}: unknown expect keys {sorted(unknown)}")

    def __hash__(self) -> int:
        return hash(self.name)

    def zone(self) -> Zone:
        """A fresh zone, built from the map (a new Zone on every call)."""
        z = Zone.from_map(self.map, geometry=self.geometry, start_pfn=self.start_pfn,
                          blocks=self.blocks, name=self.zone_name)
        if self.pcp is not None:
            set_pcp(z, *self.pcp)
        return z

    def run(self, *, start: int | None = None, end: int | None = None,
            migratetype: int | None = None, trace: bool = True,
            **options: Any) -> tuple[Zone, ContigResult]:
        """Run alloc_contig_range() on a fresh zone; return ``(zone after, result)``.

        Keyword arguments override the suggested request and options.
        """
        z = self.zone()
        opts = {**self.options, **options}
        r = alloc_contig_range(z, self.start if start is None else start,
                               self.end if end is None else end,
                               self.migratetype if migratetype is None else migratetype,
                               trace=trace, **opts)
        return z, r

    def verify(self, zone: Zone, result: ContigResult) -> list[str]:
        """Differences between a run and :attr:`expect`, one string each (empty: as expected)."""
        got = observed(zone, result)
        bad = []
        for k, want in self.expect.items():
            if got[k] != want:
                bad.append(f"{self.name}: {k} is {got[k]!r}, expected {want!r}")
        return bad


def observed(zone: Zone, result: ContigResult) -> dict[str, Any]:
    """What a run did, in the terms of :attr:`Scenario.expect`."""
    return {
        "ret": errname(result.ret),
        "failed_stage": result.failed_stage,
        "outer_start": result.outer_start,
        "outer_end": result.outer_end,
        "log": list(result.log),
        "migrated": len(result.migrated),
        "reclaimed": len(result.reclaimed),
        "busy_pfn": result.busy_pfn,
        "map_after": zone.to_map(),
        "blocks_after": zone.blocks_map(),
    }


def _s(name: str, title: str, description: str, **kw: Any) -> Scenario:
    return Scenario(name=name, title=title, description=" ".join(description.split()), **kw)


# Pageblocks are 4 PFNs: the maps below are written one pageblock per string.
_SCENARIO_LIST = [
    _s("all-free", "The request is free already",
       """The request [10, 14) lies inside one free order-3 block [8, 16), so there is
       nothing to migrate.  The outer_start search finds the head at PFN 8 and
       isolate_freepages_range() splits the whole block, so outer_end is 16; the head
       [8, 10) and the tail [14, 16) were taken only because they shared the block and
       free_contig_range() gives them back.""",
       map="UUUU" "MMMM" "...." "...." "MMMM" "...." "MMMM" "....",
       blocks="UMMMMMMM", start=10, end=14,
       expect={"ret": "0", "failed_stage": None, "outer_start": 8, "outer_end": 16,
               "log": [], "migrated": 0,
               "map_after": "UUUU" "MMMM" "..XX" "XX.." "MMMM" "...." "MMMM" "...."}),
    _s("fragmented", "Movable pages are migrated out",
       """Five movable pages sit between free pages in [8, 16).  Both pageblocks are
       isolated, isolate_migratepages_range() takes the five pages off the LRU and
       migrate_pages() copies each into a free page outside the isolated range; the old
       pages are freed into the Isolate lists once lru_add_drain_all() flushes the
       pagevec, where they merge into two order-2 blocks that are then grabbed.""",
       map="UUUU" "MMMM" "M.MM" ".M.M" "...." "...." "MMMM" "....",
       blocks="UMMMMMMM", start=8, end=16,
       expect={"ret": "0", "failed_stage": None, "outer_start": 8, "outer_end": 16,
               "log": [], "migrated": 5, "reclaimed": 0}),
    _s("file-cache", "Clean page cache is dropped, not migrated",
       """[8, 16) holds four clean page-cache pages (F) and two anonymous pages (M).
       reclaim_clean_pages_from_list() frees the clean file pages instead of copying them
       (the file can be read again later); only the two anonymous pages go through
       migrate_pages().  Compare the migrated and dropped counts.""",
       map="UUUU" "MMMM" "FFM." "F.MF" "...." "...." "MMMM" "....",
       blocks="UMMMMMMM", start=8, end=16,
       expect={"ret": "0", "failed_stage": None, "outer_start": 8, "outer_end": 16,
               "log": [], "migrated": 2, "reclaimed": 4}),
    _s("pagevec", "A page still in the LRU pagevec",
       """PFN 10 (v) was just added to the LRU but still waits in the per-CPU pagevec: it is
       not PageLRU yet, so isolate_migratepages_block() could not take it.
       __alloc_contig_migrate_range() starts with lru_add_drain_all() (migrate_prep()),
       which puts it on the LRU; then it is migrated like the others.""",
       map="UUUU" "MMMM" "M.v." "M..." "...." "...." "MMMM" "....",
       blocks="UMMMMMMM", start=8, end=16,
       expect={"ret": "0", "failed_stage": None, "outer_start": 8, "outer_end": 16,
               "log": [], "migrated": 3}),
    _s("pcp", "A free page on a per-CPU list",
       """PFN 10 (p) is free but parked on a per-CPU list, where the buddy allocator cannot
       see it: it is not PageBuddy, and test_pages_isolated() would stop there.
       set_migratetype_isolate() calls drain_all_pages() after isolating each block, so
       the page reaches the buddy lists (the Isolate list of its block) long before the
       test.  The zone's per-CPU high is 8 here (batch 2, as the percpu_pagelist_fraction
       sysctl would set it), so freed pages can stay on the lists.""",
       map="UUUU" "MMMM" "M.p." "M..." "...." "...." "MMMM" "....",
       blocks="UMMMMMMM", start=8, end=16, pcp=(8, 2),
       expect={"ret": "0", "failed_stage": None, "outer_start": 8, "outer_end": 16,
               "log": [], "migrated": 2}),
    _s("unmovable-padding", "An unmovable page in the alignment padding",
       """The request [10, 18) is rounded out to [8, 24), and the pageblock [20, 24) of the
       padding is UNMOVABLE with a kernel page at PFN 21.  has_unmovable_pages() scans
       UNMOVABLE blocks, finds it, and start_isolate_page_range() rolls back the three
       blocks it had isolated and returns -EBUSY, although [10, 18) itself holds only
       free and movable pages.""",
       map="UUUU" "MMMM" "..M." "MM.." "M..." ".U.." "MMMM" "....",
       blocks="UMMMMUMM", start=10, end=18,
       expect={"ret": "-EBUSY", "failed_stage": "start_isolate_page_range",
               "outer_start": None, "busy_pfn": 21, "log": [], "migrated": 0,
               "map_after": "UUUU" "MMMM" "..M." "MM.." "M..." ".U.." "MMMM" "....",
               "blocks_after": "UMMMMUMM"}),
    _s("unmovable-in-movable", "An unmovable page inside a movable pageblock",
       """PFN 10 is a kernel page (U) inside a MOVABLE pageblock.  has_unmovable_pages()
       does not look inside MOVABLE blocks, so isolation succeeds; migration skips the
       page (it is not on the LRU), and only test_pages_isolated() notices: the walk from
       free block to free block stops at PFN 10 and the kernel logs "PFNs busy" (in hex:
       0x10 is 16).  The movable pages were migrated for nothing.""",
       map="UUUU" "MMMM" "M.U." "M..." "...." "...." "MMMM" "....",
       blocks="UMMMMMMM", start=8, end=16,
       expect={"ret": "-EBUSY", "failed_stage": "test_pages_isolated", "outer_start": 8,
               "outer_end": None, "busy_pfn": 10,
               "log": ["alloc_contig_range: [8, 10) PFNs busy"], "migrated": 2}),
    _s("pinned", "A pinned page cannot be migrated",
       """PFN 10 is an anonymous page with an extra reference (pinned, e.g. by
       get_user_pages() for DMA).  isolate_migratepages_block() skips anonymous pages
       whose count exceeds their mapcount, so it stays; the other pages move, but
       test_pages_isolated() stops at PFN 10 and the kernel logs "PFNs busy".""",
       map="UUUU" "MMMM" "MMPM" ".M.." "...." "...." "MMMM" "....",
       blocks="UMMMMMMM", start=8, end=16,
       expect={"ret": "-EBUSY", "failed_stage": "test_pages_isolated", "outer_start": 8,
               "outer_end": None, "busy_pfn": 10,
               "log": ["alloc_contig_range: [8, 10) PFNs busy"], "migrated": 4}),
    _s("thp", "A transparent huge page in the range",
       """[12, 16) is one order-2 transparent huge page.  In v4.4
       isolate_migratepages_block() skips every compound page whole (THP migration for
       alloc_contig_range() came much later), so the THP stays and test_pages_isolated()
       stops at its head, PFN 12 (0xc).""",
       map="UUUU" "MMMM" "M.M." "TTTT" "...." "...." "MMMM" "....",
       blocks="UMMMMMMM", start=8, end=16,
       expect={"ret": "-EBUSY", "failed_stage": "test_pages_isolated", "outer_start": 8,
               "busy_pfn": 12, "log": ["alloc_contig_range: [8, 10) PFNs busy"],
               "migrated": 2}),
    _s("hugetlb", "A hugetlb page in an UNMOVABLE block",
       """[12, 16) is an order-2 hugetlb page in an UNMOVABLE pageblock.
       has_unmovable_pages() counts hugetlb pages as movable, so the block is isolated;
       but migration skips compound pages, so test_pages_isolated() stops at PFN 12.  And
       undo_isolate_page_range() gives the block back as MOVABLE, the caller's type, not
       the UNMOVABLE it was.""",
       map="UUUU" "MMMM" "M.M." "HHHH" "...." "...." "MMMM" "....",
       blocks="UMMUMMMM", start=8, end=16,
       expect={"ret": "-EBUSY", "failed_stage": "test_pages_isolated", "outer_start": 8,
               "busy_pfn": 12, "log": ["alloc_contig_range: [8, 10) PFNs busy"],
               "migrated": 2, "blocks_after": "UMMMMMMM"}),
    _s("writeback", "A page stuck under writeback",
       """PFN 10 never finishes writeback, so every unmap_and_move() of it returns -EAGAIN
       and it stays on the migration list.  migrate_pages() tries ten passes, and
       __alloc_contig_migrate_range() calls it five times for the same batch before
       giving up with -EBUSY; alloc_contig_range() returns at once, without the "PFNs
       busy" line.  Each try used a fresh target page, released through the pagevec.""",
       map="UUUU" "M..." "MMM." "M..." "...." "...." "...." "....",
       blocks="UMMMMMMM", start=8, end=16, options={"busy_pfns": (10,)},
       expect={"ret": "-EBUSY", "failed_stage": "__alloc_contig_migrate_range",
               "outer_start": None, "log": [], "migrated": 3}),
    _s("no-target", "No free page left to migrate into",
       """Apart from PFNs 10 and 11, which are inside the isolated range, the zone is full.
       alloc_migrate_target() finds no free page outside the isolated blocks, so
       migrate_pages() fails with -ENOMEM; after the fifth try
       __alloc_contig_migrate_range() gives up with -ENOMEM, and the two pages go back
       towards the LRU through the pagevec (shown as v).""",
       map="UUUU" "MMMM" "MM.." "MMMM" "UUUU" "MMMM" "MMMM" "UUUU",
       blocks="UMMMUMMU", start=8, end=12,
       expect={"ret": "-ENOMEM", "failed_stage": "__alloc_contig_migrate_range",
               "outer_start": None, "log": [], "migrated": 0,
               "map_after": "UUUU" "MMMM" "vv.." "MMMM" "UUUU" "MMMM" "MMMM" "UUUU"}),
    _s("fatal-signal", "A fatal signal during migration",
       """[16, 56) holds 40 movable pages, more than one batch of 32.  The first batch is
       migrated; before the second, __alloc_contig_migrate_range() sees a fatal signal
       pending (the task is being killed) and stops with -EINTR.  The 32 pages already
       moved stay moved, and every block is given back.""",
       map="UUUU" "UUUU" "MMMM" "MMMM" + "MMMM" * 10 + "MMMM" "MMMM" + "...." * 8,
       blocks="UU" + "M" * 22, start=16, end=56, options={"fatal_signal_at": 2},
       expect={"ret": "-EINTR", "failed_stage": "__alloc_contig_migrate_range",
               "outer_start": None, "log": [], "migrated": 32}),
    _s("no-free-block", "No free block at or below start",
       """PFN 28 is pinned, so it is still in use after migration.  The outer_start loop
       probes 28 rounded down to 1, 2, 4 and 8 pages (28, 28, 28, 24) for the head of a
       free block; none is one (the free block at 26 is never probed), so
       alloc_contig_range() returns -EBUSY without printing anything.""",
       map="UUUU" "MMMM" "...." "MMMM" "...." "...." "MM.." "P...",
       blocks="UMMMMMMM", start=28, end=32,
       expect={"ret": "-EBUSY", "failed_stage": "outer_start", "outer_start": None,
               "log": [], "migrated": 0}),
    _s("outer-start-bug", "outer_start lands on a block that does not cover start",
       """As in no-free-block, the pinned PFN 28 stays in use; but now 24-25 are a free
       order-1 block.  The v4.4 loop stops at the first free head it probes, PFN 24,
       without checking that the block reaches start (Linux 4.5 added that check), so
       test_pages_isolated(24, 32) walks from 24 and stops at PFN 26, a page of the
       padding that was never migrated, and the kernel logs [18, 20) instead of 4.5's
       [1c, 20).""",
       map="UUUU" "MMMM" "...." "MMMM" "...." "...." "..MM" "P...",
       blocks="UMMMMMMM", start=28, end=32,
       expect={"ret": "-EBUSY", "failed_stage": "test_pages_isolated", "outer_start": 24,
               "busy_pfn": 26, "log": ["alloc_contig_range: [18, 20) PFNs busy"],
               "migrated": 0}),
    _s("hole", "A hole in the range",
       """PFN 11 has no struct page (a hole, #).  test_pages_isolated() steps over invalid
       PFNs, so the test passes; but isolate_freepages_range() needs both ends of each
       pageblock window to be valid (pageblock_pfn_to_page()) and stops at once, gives
       back what it took and returns 0, so alloc_contig_range() returns -EBUSY without a
       message.""",
       map="UUUU" "MMMM" "...#" "M..." "...." "...." "MMMM" "....",
       blocks="UMMMMMMM", start=8, end=16,
       expect={"ret": "-EBUSY", "failed_stage": "isolate_freepages_range",
               "outer_start": 8, "outer_end": None, "log": [], "migrated": 1}),
    _s("cma", "A CMA area, allocated as CMA",
       """[8, 24) is a CMA area (pageblocks C), as cma_alloc() uses it: it calls
       alloc_contig_range(..., MIGRATE_CMA).  CMA blocks are isolated without a look
       inside, the movable pages are migrated out, and undo_isolate_page_range() gives
       every block back as CMA.""",
       map="UUUU" "MMMM" "MM.." "M.M." "...." "...." "MMMM" "....",
       blocks="UMCCCCMM", start=8, end=16, migratetype=MigrateType.CMA,
       expect={"ret": "0", "failed_stage": None, "outer_start": 8, "outer_end": 16,
               "log": [], "migrated": 4, "blocks_after": "UMCCCCMM"}),
    _s("cma-as-movable", "A CMA area, allocated as MOVABLE",
       """The same zone, but the caller passes MIGRATE_MOVABLE (as a gigantic hugetlb page
       allocation does).  v4.4 does not remember the type a pageblock had before
       isolation: undo_isolate_page_range() sets every isolated block to the caller's
       type, so the two CMA blocks of [8, 16) come back MOVABLE and leave the CMA area.""",
       map="UUUU" "MMMM" "MM.." "M.M." "...." "...." "MMMM" "....",
       blocks="UMCCCCMM", start=8, end=16,
       expect={"ret": "0", "failed_stage": None, "outer_start": 8, "outer_end": 16,
               "log": [], "migrated": 4, "blocks_after": "UMMMCCMM"}),
    _s("unmovable-block-converted", "An UNMOVABLE block that passes comes back MOVABLE",
       """The pageblock [12, 16) is UNMOVABLE but holds only free and movable pages, so
       has_unmovable_pages() finds nothing to object to and the allocation succeeds.
       Afterwards the block is MOVABLE: undo_isolate_page_range() restores the caller's
       migratetype, not the block's own.""",
       map="UUUU" "MMMM" "M..." "..M." "...." "...." "MMMM" "....",
       blocks="UMMUMMMM", start=8, end=16,
       expect={"ret": "0", "failed_stage": None, "outer_start": 8, "outer_end": 16,
               "log": [], "migrated": 2, "blocks_after": "UMMMMMMM"}),
]

#: Every scenario by name, in course order.
SCENARIOS: dict[str, Scenario] = {s.name: s for s in _SCENARIO_LIST}


def get(name: str) -> Scenario:
    """The scenario called ``name`` (``_`` and ``-`` are interchangeable).

    :raises ValueError: naming the valid scenarios.
    """
    key = str(name).strip().lower().replace("_", "-")
    try:
        return SCENARIOS[key]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; valid names: "
                         f"{', '.join(SCENARIOS)}") from None


# ---------------------------------------------------------------- random problems
def _below(rng: random.Random, n: int) -> int:
    """An int in ``0 .. n-1`` from ``rng.random()`` only (stable across Python versions)."""
    return min(int(rng.random() * n), n - 1)


def _pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    """One key of ``weights``, with probability proportional to its weight."""
    total = sum(weights.values())
    x = rng.random() * total
    for k, w in weights.items():
        x -= w
        if x < 0:
            return k
    return k  # rounding: the last key


#: Page kinds by pageblock type, version 1 (weights, not probabilities).
_KINDS_V1: dict[str, dict[str, float]] = {
    "M": {".": 40, "M": 38, "F": 8, "P": 4, "U": 4, "v": 3, "p": 3},
    "U": {".": 50, "U": 30, "M": 15, "R": 5},
    "R": {".": 45, "F": 35, "U": 20},
    "C": {".": 55, "M": 40, "P": 5},
}
_BLOCKS_V1: dict[str, float] = {"M": 80, "U": 12, "R": 4, "C": 4}


def random_zone(seed: int, geometry: Geometry = SMALL, nr_pages: int = 32, *,
                start_pfn: int = 0, thp: float = 0.15, version: int = GENERATOR_VERSION) -> Zone:
    """A random zone for ``seed``: the same zone for the same arguments, forever.

    Each pageblock gets a type (mostly MOVABLE, some UNMOVABLE, a few
    RECLAIMABLE and CMA), then each page a kind drawn by its block's type
    (UNMOVABLE blocks hold kernel pages, MOVABLE blocks anonymous and file
    pages, ...); with probability ``thp`` a naturally aligned run in a
    MOVABLE block becomes a transparent huge page.

    :param version: the generator version (only 1 exists).
    :raises ValueError: bad arguments.
    """
    m, b = _random_map(seed, geometry, nr_pages, start_pfn, thp, version)
    return Zone.from_map(m, geometry=geometry, start_pfn=start_pfn, blocks=b)


def _random_map(seed: int, geometry: Geometry, nr_pages: int, start_pfn: int, thp: float,
                version: int) -> tuple[str, str]:
    if version != 1:
        raise ValueError(f"unknown generator version {version!r}; this contig has version 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, not {seed!r}")
    if isinstance(nr_pages, bool) or not isinstance(nr_pages, int) or not 1 <= nr_pages <= 1 << 16:
        raise ValueError(f"nr_pages must be an int in 1..65536, not {nr_pages!r}")
    if not isinstance(geometry, Geometry):
        raise ValueError(f"geometry must be a Geometry, not {geometry!r}")
    rng = random.Random(seed)
    pbn = geometry.pageblock_nr_pages
    first_block = start_pfn // pbn
    last_block = (start_pfn + nr_pages - 1) // pbn
    blocks = "".join(_pick(rng, _BLOCKS_V1) for _ in range(last_block - first_block + 1))
    pages = []
    for pfn in range(start_pfn, start_pfn + nr_pages):
        bt = blocks[pfn // pbn - first_block]
        pages.append(_pick(rng, _KINDS_V1[bt]))
    # transparent huge pages: aligned runs of 2 or 4 pages inside MOVABLE blocks
    max_thp = min(4, geometry.max_order_nr_pages, pbn)
    if max_thp >= 2:
        for blk in range(len(blocks)):
            if blocks[blk] != "M" or rng.random() >= thp:
                continue
            size = 2 if max_thp == 2 or rng.random() < 0.5 else 4
            base = (first_block + blk) * pbn
            slot = base + size * _below(rng, pbn // size)
            if slot >= start_pfn and slot + size <= start_pfn + nr_pages:
                for p in range(slot, slot + size):
                    pages[p - start_pfn] = "T"
    return "".join(pages), blocks


def random_problem(seed: int, *, geometry: Geometry = SMALL, nr_pages: int = 32,
                   version: int = GENERATOR_VERSION) -> Scenario:
    """A random request on a random zone, as a :class:`Scenario` named ``random-SEED``.

    The request is 1 to 8 PFNs long and lies inside the zone; the call is
    MIGRATE_MOVABLE with no options.  ``expect`` is empty: run it to find
    out (or work it out first: ``python -m contig quiz -s SEED``).
    """
    m, b = _random_map(seed, geometry, nr_pages, 0, 0.15, version)
    # a separate stream for the request, so zone and request vary independently
    rng = random.Random(seed * 7919 + 1)
    length = 1 + _below(rng, min(8, nr_pages))
    start = _below(rng, nr_pages - length + 1)
    return Scenario(
        name=f"random-{seed}", title=f"Random problem, seed {seed}",
        description=(f"A random zone and request from seed {seed} (generator version "
                     f"{version}). Predict what alloc_contig_range() does, then run it."),
        map=m, blocks=b, geometry=geometry, start=start, end=start + length)
