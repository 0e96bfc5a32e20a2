"""Check yourself for notebook 12: the v4.4 source beside the model, and the caller's contract.

Two seeded problems (answers computed by the model and by :mod:`contig.source`,
never written by hand):

* :func:`where_problem`: one event of a recorded call: in which file of
  Linux v4.4 is its function, and in which stage of ``alloc_contig_range()``
  did it run?
* :func:`contract_problem`: a zone, a request and a migratetype: does the
  caller keep the kernel-doc contract of ``alloc_contig_range()`` (every
  pageblock of the range MOVABLE or CMA and of the migratetype passed), and
  what are the pageblock types after the call?  v4.4 checks none of it, and
  gives every block it isolated the caller's type (notebook 09).

Generators draw only from ``random.Random(seed).random()``, so a seed gives
the same problem forever under :data:`GENERATOR_VERSION`.
"""

from __future__ import annotations

import random

from .. import scenarios as _scenarios
from .. import source as _source
from ..cli import format_zone
from ..contig import alloc_contig_range
from ..geometry import Geometry
from ..zone import MigrateType, Zone
from . import Problem, Question
from . import below as _below
from . import check_seed as _seed
from . import pick as _pick

__all__ = ["GENERATOR_VERSION", "contract_broken", "contract_problem", "where_problem"]

#: Version of the problem generators of this module.
GENERATOR_VERSION = 1

#: The course's small geometry: 8-page max blocks, 4-page pageblocks.
SMALL = Geometry(max_order=4, pageblock_order=2)

_LETTER = {MigrateType.UNMOVABLE: "U", MigrateType.MOVABLE: "M",
           MigrateType.RECLAIMABLE: "R", MigrateType.CMA: "C"}


# ------------------------------------------------------------------ where
_WHERE_SCENARIOS = ("fragmented", "file-cache", "pagevec", "pcp", "all-free", "pinned",
                    "unmovable-padding", "writeback", "no-free-block", "outer-start-bug",
                    "fatal-signal", "cma")


def where_problem(seed: int) -> Problem:
    """One event of a scenario's trace: the v4.4 file of its function, and its stage."""
    rng = random.Random(_seed(seed))
    name = _WHERE_SCENARIOS[_below(rng, len(_WHERE_SCENARIOS))]
    _z, r = _scenarios.get(name).run()
    funcs: list[str] = []
    for e in r.events:
        if e.func not in funcs and e.func not in ("alloc_contig_range", "pfn_max_align"):
            funcs.append(e.func)
    ev = r.events.by_func(funcs[_below(rng, len(funcs))])[0]
    ref = _source.where(ev.func)
    st = _source.stage_ref(ev.stage)
    stages = ", ".join(_source.STAGES)
    setup = "\n".join([
        f"Scenario {name!r}: alloc_contig_range(zone, {r.start}, {r.end}) ran (Linux v4.4).",
        f"Event {ev.seq} of its trace is named {ev.func!r}:",
        f"  {ev.why}",
        "",
        f"The stages, in order: {stages}.",
    ])
    at = (f"{ref.function}() at line {ref.line}" if ref.function != ev.func else
          f"line {ref.line}")
    return Problem(
        title="Where in the v4.4 source", setup=setup, seed=seed,
        questions=[
            Question("file", "the file of Linux v4.4 whose code this event models", ref.file,
                     f"{ev.func} is {ref.file}, {at}: {ref.what} ({ref.url})", "file"),
            Question("stage", "the stage of alloc_contig_range() this event belongs to",
                     ev.stage,
                     f"it ran in stage {ev.stage!r}, which alloc_contig_range() starts at "
                     f"{st.file}:{st.line} ({st.what})", "stage"),
        ])


# ------------------------------------------------------------------ contract
def contract_broken(zone: Zone, start: int, end: int, migratetype: int) -> list[str]:
    """The rules of alloc_contig_range()'s kernel-doc (v4.4) a call would break, in words.

    Checks what the comment above alloc_contig_range(), mm/page_alloc.c, v4.4,
    asks of the caller and the model can see: the range lies in the zone; the
    migratetype is MOVABLE or CMA; every pageblock the range overlaps has that
    type.  (The third rule, that no one else changes these blocks' types
    during the call, is about time and cannot be seen in a zone.)  The kernel
    checks none of them.
    """
    out = []
    if start < zone.start_pfn or end > zone.end_pfn:
        out.append(f"[{start}, {end}) is not inside the zone [{zone.start_pfn}, {zone.end_pfn})")
        return out
    mt = MigrateType(migratetype)
    if mt not in (MigrateType.MOVABLE, MigrateType.CMA):
        out.append(f"the migratetype {mt.name} is neither MOVABLE nor CMA")
    g = zone.geometry
    blocks = zone.blocks_map()
    first = (g.pageblock_start(start) - g.pageblock_start(zone.start_pfn)) // g.pageblock_nr_pages
    last = (g.pageblock_start(end - 1) - g.pageblock_start(zone.start_pfn)) // g.pageblock_nr_pages
    letter = _LETTER.get(mt, "?")
    bad = [(i, blocks[i]) for i in range(first, last + 1) if blocks[i] != letter]
    if bad:
        lo = g.pageblock_start(zone.start_pfn)
        pbn = g.pageblock_nr_pages
        out.append("the range's pageblock(s) " + ", ".join(
            f"[{lo + i * pbn}, {lo + (i + 1) * pbn}) ({c})" for i, c in bad)
            + f" are not {mt.name}")
    return out


_BLOCKS = {"M": 5.0, "C": 2.0, "U": 1.5, "R": 1.0}
_PAGES = {"M": {".": 5, "M": 3, "F": 1},
          "C": {".": 5, "M": 3},
          "U": {".": 6, "M": 2, "U": 0.6},
          "R": {".": 6, "F": 2}}


def contract_problem(seed: int) -> Problem:
    """Does the caller keep the contract, and what are the pageblock types afterwards?

    Combines notebook 12 (the kernel-doc contract) with notebook 09 (v4.4
    gives every block it isolated the caller's migratetype, whatever it was).
    """
    rng = random.Random(_seed(seed))
    want_broken = rng.random() < 0.5
    for _ in range(500):
        blocks = "U" + "".join(_pick(rng, _BLOCKS) for _ in range(7))
        pages = "UUUU" + "".join(_pick(rng, _PAGES[blocks[p // 4]]) for p in range(4, 32))
        start = 4 + _below(rng, 26)
        end = start + 1 + _below(rng, min(6, 32 - start))
        mt = MigrateType.CMA if rng.random() < 0.35 else MigrateType.MOVABLE
        z = Zone.from_map(pages, geometry=SMALL, blocks=blocks)
        broken = contract_broken(z, start, end, mt)
        after = z.copy()
        r = alloc_contig_range(after, start, end, mt)
        # broken or kept about equally often, and a call that succeeds
        if bool(broken) == want_broken and r.ret == 0:
            break
    else:  # pragma: no cover
        raise RuntimeError(f"no contract problem for seed {seed}")
    iso = (r.isolate_start, r.isolate_end)
    marks = {**dict.fromkeys(range(*iso), "-"), **dict.fromkeys(range(start, end), "^")}
    setup = "\n".join([
        str(SMALL), "",
        *format_zone(z, marks=[("request", marks)]),
        "          (^ the request [start, end), - the rest of the aligned range)",
        "pageblock types: U unmovable, M movable, R reclaimable, C CMA",
        "",
        f"A caller runs alloc_contig_range(zone, {start}, {end}, MIGRATE_{mt.name}) "
        "(Linux v4.4); it succeeds.",
    ])
    keeps = not broken
    why_keep = ("every pageblock the range overlaps is " + mt.name + ", the type passed"
                if keeps else "; ".join(broken) + ": the kernel does not check, it runs anyway")
    changed = [i for i, (a, b) in enumerate(zip(blocks, after.blocks_map(), strict=True)) if a != b]
    why_blocks = (f"undo_isolate_page_range() gives every block of the aligned range "
                  f"[{iso[0]}, {iso[1]}) the type the caller passed, {mt.name}, not the type it had"
                  + (f"; blocks {', '.join(str(i) for i in changed)} (counting from 0) changed"
                     if changed else "; here they all had it already"))
    return Problem(
        title="The caller's contract", setup=setup, seed=seed,
        questions=[
            Question("keeps", "does the caller keep the kernel-doc contract? (yes or no)",
                     keeps, why_keep, "bool"),
            Question("blocks", "the blocks map after the call (one letter per pageblock)",
                     after.blocks_map(), f"{blocks} -> {after.blocks_map()}: {why_blocks}",
                     "blocks"),
        ])
