"""Check yourself for notebooks 08-11: what a call hands over, gives back, and how it fails.

Seeded problems, in the spirit of OSTEP's ``-s SEED`` (the answers are
computed by the model, on copies, never written by hand):

* :func:`grab_problem` (08): ``outer_start``, ``outer_end``, the head and
  the tail of the strict grab;
* :func:`undo_problem` (09): the pageblock types after a call (v4.4 gives
  every block it isolated the caller's migratetype);
* :func:`drift_problem` (09): free one page next to an isolated block: does
  ``NR_FREE_PAGES`` drift (the 4.4.0 merge quirk)?
* :func:`failure_problem` (10): the return value and the stage that failed;
* :func:`window_problem` (11): can an aligned 2 MiB / 4 MiB range of a real
  zone be allocated?

:func:`problem` picks one of them by name.  Helpers the notebooks print:
:func:`failure_table` / :func:`format_failure_table` (10), :func:`explain`
(a one-sentence account of a result), :func:`gigantic_candidates` /
:func:`format_candidates` (11).

The generators draw only from ``random.Random(seed).random()``, whose
sequence Python keeps stable across releases, so a seed gives the same
problem forever under :data:`GENERATOR_VERSION`.
"""

from __future__ import annotations

import errno
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import scenarios as _scenarios
from ..cli import format_zone
from ..contig import ContigResult, alloc_contig_range, errname, free_contig_range
from ..geometry import Geometry
from ..mapfmt import KIND_DESCRIPTIONS
from ..zone import MigrateType, Zone
from . import Problem, Question
from . import below as _below
from . import check_seed as _seed
from . import pick as _pick

__all__ = [
    "FAILURE_SCENARIOS",
    "GENERATOR_VERSION",
    "Candidate",
    "FailureRow",
    "drift_problem",
    "explain",
    "failure_problem",
    "failure_table",
    "format_candidates",
    "format_failure_table",
    "gigantic_candidates",
    "grab_problem",
    "pfn_range_valid_gigantic",
    "problem",
    "undo_problem",
    "window_problem",
]

#: Version of the problem generators of this module.
GENERATOR_VERSION = 1

#: The course's small geometry: 8-page max blocks, 4-page pageblocks.
SMALL = Geometry(max_order=4, pageblock_order=2)

_STAGES = ("start_isolate_page_range", "__alloc_contig_migrate_range", "outer_start",
           "test_pages_isolated", "isolate_freepages_range")


# ------------------------------------------------------------------ small helpers
def _rng(seed: int) -> random.Random:
    return random.Random(_seed(seed))


def _zone_lines(zone: Zone, start: int | None = None, end: int | None = None,
                iso: tuple[int, int] | None = None) -> list[str]:
    marks: list[tuple[str, dict[int, str]]] = []
    if start is not None and end is not None:
        m: dict[int, str] = {}
        if iso is not None:
            m.update(dict.fromkeys(range(*iso), "-"))
        m.update(dict.fromkeys(range(start, end), "^"))
        marks.append(("request", m))
    lines = format_zone(zone, marks=marks)
    if marks:
        lines.append("          (^ the request [start, end), - the rest of the aligned range "
                     "that is isolated)" if iso else "          (^ the request [start, end))")
    return lines


def _key(*maps: str) -> list[str]:
    seen = set("".join(maps))
    return [f"  {c}  {d}" for c, d in KIND_DESCRIPTIONS.items() if c in seen]


def _kind(zone: Zone, pfn: int) -> str:
    return chr(zone.kinds()[pfn - zone.start_pfn])


def _page_words(zone: Zone, pfn: int) -> str:
    """``PFN 10 (P, pinned anonymous page ...)``, short."""
    c = _kind(zone, pfn)
    what = KIND_DESCRIPTIONS[c].split(" (")[0]
    return f"PFN {pfn} ({c}: {what})"






def _block_of(zone: Zone, pfn: int) -> tuple[int, int]:
    b = zone.geometry.pageblock_start(pfn)
    return b, b + zone.geometry.pageblock_nr_pages


# ------------------------------------------------------------------ explaining a result
def explain(result: ContigResult, before: Zone) -> str:
    """One or two sentences: why ``result`` came out as it did.

    :param before: the zone as it was before the call (the pages named are
        described as they were then).
    """
    r = result
    ret = errname(r.ret)
    if r.ok:
        head, tail = r.start - r.outer_start, r.outer_end - r.end
        return (f"0: every page of [{r.start}, {r.end}) was free or movable; "
                f"{len(r.migrated)} migrated, {len(r.reclaimed)} dropped, outer "
                f"[{r.outer_start}, {r.outer_end}) grabbed, head {head} and tail {tail} "
                f"page(s) given back")
    stage = r.failed_stage
    p = r.busy_pfn
    if stage == "start_isolate_page_range":
        if p is None:
            return f"{ret}: start_isolate_page_range() refused a pageblock"
        b0, b1 = _block_of(before, p)
        t = before.get_pageblock_migratetype(p).name
        return (f"{ret}: the {t} pageblock [{b0}, {b1}) holds {_page_words(before, p)}, in use "
                f"and not on the LRU, so has_unmovable_pages() refuses to isolate it; "
                f"nothing was migrated")
    if stage == "__alloc_contig_migrate_range":
        if r.ret == -errno.ENOMEM:
            return (f"{ret}: migrate_pages() found no free page outside the isolated range "
                    f"to copy into (alloc_migrate_target() failed), five times")
        if r.ret == -errno.EINTR:
            return (f"{ret}: a fatal signal was pending, so the migration loop stopped "
                    f"({len(r.migrated)} page(s) had been migrated and stay where they went)")
        return (f"{ret}: some page(s) still refused to move after five calls of "
                f"migrate_pages() on the same batch (under writeback or locked), so "
                f"__alloc_contig_migrate_range() gave up; nothing is printed")
    if stage == "outer_start":
        return (f"{ret}: after migration {_page_words(before, r.start)} is still in use and "
                f"none of start rounded down to 2, 4, 8 ... pages heads a free block; "
                f"the kernel prints nothing")
    if stage == "test_pages_isolated":
        ev = [e for e in (r.events or []) if e.func == "outer_start"]
        covers = bool(ev[-1].fields.get("covers_start", True)) if ev else True
        if p is None:
            return f"{ret}: test_pages_isolated() found a busy page"
        s = (f"{ret}: {_page_words(before, p)} is still in use after migration, so "
             f"test_pages_isolated({r.outer_start}, {r.end}) stops there and the kernel logs "
             f"'{r.log[0] if r.log else ''}'")
        if not covers:
            s += (f"; outer_start {r.outer_start} heads a free block that does not reach start "
                  f"{r.start} (the v4.4 outer_start bug)")
        return s
    if stage == "isolate_freepages_range":
        where = f" at PFN {p}" if p is not None else ""
        return (f"{ret}: the strict grab stopped{where}: a pageblock window of "
                f"isolate_freepages_range() starts or ends on a hole (or a page that is not "
                f"free), so it gives back what it took; nothing is printed")
    return f"{ret}: failed in {stage}"



# ------------------------------------------------------------------ 08: the strict grab
def _grab_case(rng: random.Random) -> tuple[str, int, int]:
    pages = list("UUUU")
    base = 8 * (1 + _below(rng, 3))
    for pfn in range(4, 32):
        if base <= pfn < base + 8:
            pages.append("." if rng.random() < 0.8 else _pick(rng, {"M": 3, "U": 1, "F": 1}))
        else:
            pages.append(_pick(rng, {".": 4, "M": 4, "F": 1}))
    runs = []
    pfn = base
    while pfn < base + 8:
        if pages[pfn] == ".":
            lo = pfn
            while pfn < base + 8 and pages[pfn] == ".":
                pfn += 1
            runs.append((lo, pfn))
        else:
            pfn += 1
    if not runs:
        return "".join(pages), base, base + 1
    lo, hi = runs[int(_pick(rng, {str(i): (b - a) ** 2 for i, (a, b) in enumerate(runs)}))]
    start = lo + _below(rng, hi - lo)
    end = start + 1 + _below(rng, hi - start)
    return "".join(pages), start, end


def grab_problem(seed: int) -> Problem:
    """Predict ``outer_start``, ``outer_end`` and the head and tail of a successful call.

    A 32-PFN zone of the small geometry; the request lies on free pages, so
    nothing is migrated and the free blocks listed are exactly what
    ``isolate_freepages_range()`` finds.
    """
    rng = _rng(seed)
    blocks = "UMMMMMMM"
    for _ in range(200):
        m, start, end = _grab_case(rng)
        z = Zone.from_map(m, geometry=SMALL, blocks=blocks)
        if not all(c == "." for c in m[start:end]):
            continue
        r = alloc_contig_range(z.copy(), start, end, trace=False)
        if r.ok and (r.outer_start, r.outer_end) != (start, end):
            break
    else:  # pragma: no cover - the loop always finds one
        raise RuntimeError(f"no grab problem for seed {seed}")
    g = z.geometry
    iso = (g.pfn_max_align_down(start), g.pfn_max_align_up(end))
    frees = [(p, o) for p, o, _t in z.free_blocks()]
    fb = ", ".join(f"[{p}, {p + (1 << o)}) order {o}" for p, o in frees if iso[0] <= p < iso[1])
    setup = "\n".join([
        str(g),
        "",
        *_zone_lines(z, start, end, iso),
        "Key:", *_key(m),
        "",
        f"Free blocks in the isolated range [{iso[0]}, {iso[1]}): {fb}",
        f"alloc_contig_range(zone, {start}, {end}) succeeds. Every page of [{start}, {end}) is free",
        "already: nothing is migrated, and these are the blocks the grab meets.",
    ])
    os_, oe = r.outer_start, r.outer_end
    k = next(o for p, o in frees if p == os_)
    probes = []
    q = start
    for order in range(g.max_order):
        q = start & ~((1 << order) - 1)
        if not probes or probes[-1] != q:
            probes.append(q)
        if q == os_:
            break
    taken = [(p, o) for p, o in frees if os_ <= p < oe]
    head, tail = start - os_, oe - end
    return Problem(
        title="The strict grab: outer_start, outer_end, head and tail",
        setup=setup, seed=seed,
        questions=[
            Question("outer_start", "the PFN the outer_start loop stops at", os_,
                     f"start {start} lies in the free order-{k} block [{os_}, {os_ + (1 << k)}); "
                     f"the loop probes {', '.join(map(str, probes))} (start rounded down to "
                     f"1, 2, 4 ... pages) and stops at the first free block head", kind="int"),
            Question("outer_end", "one past the last page isolate_freepages_range() takes", oe,
                     "the grab takes whole free blocks from outer_start on: "
                     + ", ".join(f"[{p}, {p + (1 << o)})" for p, o in taken)
                     + f"; the last one is [{taken[-1][0]}, {oe}), so outer_end = {oe} "
                       f"(>= end {end})",
                     kind="int",
                     hints=((oe - 1, f"{oe - 1} is the last page taken; outer_end is one past "
                                     "it (ranges are half-open)."),)),
            Question("head", "pages in [outer_start, start), freed back", head,
                     (f"[{os_}, {start}) were taken only because they share a free block with "
                      f"start; free_contig_range() gives them back" if head else
                      "outer_start == start: no head"), kind="int"),
            Question("tail", "pages in [end, outer_end), freed back", tail,
                     (f"[{end}, {oe}) were taken only because the last free block runs past end; "
                      f"free_contig_range() gives them back" if tail else
                      "outer_end == end: no tail"), kind="int"),
        ])


# ------------------------------------------------------------------ 09: undoing isolation
_UNDO_BLOCKS = {"M": 5, "U": 2, "R": 1, "C": 2}
_UNDO_PAGES = {
    "M": {".": 5, "M": 4, "F": 1},
    "U": {".": 5, "M": 3, "U": 2},
    "R": {".": 5, "F": 3, "U": 2},
    "C": {".": 5, "M": 5},
}


def undo_problem(seed: int) -> Problem:
    """Predict the pageblock types (and the return value) after one call.

    Blocks of every kind (Unmovable, Movable, Reclaimable, CMA) surround the
    request; v4.4 gives each block it isolated the caller's migratetype, on
    success and on failure, including the blocks a failed isolation rolls back.
    """
    rng = _rng(seed)
    for _ in range(200):
        blocks = "U" + "".join(_pick(rng, _UNDO_BLOCKS) for _ in range(7))
        pages = "UUUU" + "".join(_pick(rng, _UNDO_PAGES[blocks[p // 4]]) for p in range(4, 32))
        start = 4 + _below(rng, 28)
        end = start + 1 + _below(rng, min(8, 32 - start))
        inside = {blocks[p // 4] for p in range(start, end)}
        mt = (MigrateType.CMA if inside == {"C"} and rng.random() < 0.6 else MigrateType.MOVABLE)
        z = Zone.from_map(pages, geometry=SMALL, blocks=blocks)
        after = z.copy()
        r = alloc_contig_range(after, start, end, mt)
        if after.blocks_map() != blocks:
            break
    else:  # pragma: no cover
        raise RuntimeError(f"no undo problem for seed {seed}")
    g = z.geometry
    iso = (r.isolate_start, r.isolate_end)
    pbn = g.pageblock_nr_pages
    mtn = mt.name
    setup = "\n".join([
        str(g),
        "",
        *_zone_lines(z, start, end, iso),
        "Key:", *_key(pages),
        "pageblock types: U unmovable, M movable, R reclaimable, C CMA",
        "",
        f"alloc_contig_range(zone, {start}, {end}, MIGRATE_{mtn}) runs (Linux v4.4).",
    ])
    ev = [e for e in r.events if e.func == "set_migratetype_isolate" and e.fields.get("ret")]
    if r.failed_stage == "start_isolate_page_range" and ev:
        bad = ev[-1].start_pfn
        done = (bad - iso[0]) // pbn
        why = (f"isolation refused the block [{bad}, {bad + pbn}) because of "
               f"{_page_words(z, r.busy_pfn)}; "
               + (f"the {done} block(s) before it were rolled back as {mtn}, the caller's type"
                  if done else "no block had been isolated before it")
               + ", and the blocks from it on were never touched")
    else:
        why = (f"every block of [{iso[0]}, {iso[1]}) was isolated, and "
               f"undo_isolate_page_range() gives each back as {mtn}, whatever it was")
    return Problem(
        title="Undoing isolation: the pageblock types afterwards",
        setup=setup, seed=seed,
        questions=[
            Question("blocks", "the blocks map after the call (one letter per pageblock)",
                     after.blocks_map(), f"{blocks} -> {after.blocks_map()}: {why}",
                     kind="blocks"),
            Question("ret", "what alloc_contig_range() returns", errname(r.ret),
                     explain(r, z), kind="ret"),
        ])


def drift_problem(seed: int) -> Problem:
    """Free one page of a 16-PFN zone with an isolated block: the order it ends in, and the drift.

    The 4.4.0 ``__free_one_page()`` counts a page by the list it is freed to
    but merges without looking at the buddy's list, so a page freed into an
    ordinary block can swallow a free block on an Isolate list whose pages
    were never counted: the lists then hold more free pages than
    ``NR_FREE_PAGES`` says (``zone.nr_free_drift``).
    """
    rng = _rng(seed)
    pair = _pick(rng, {"MI": 4, "IM": 3, "MM": 1, "II": 1})
    other = _pick(rng, {"MM": 1, "UM": 1, "MU": 1})
    act = 8 * _below(rng, 2)
    blocks = (pair + other) if act == 0 else (other + pair)
    # which pageblock of the pair holds the page: mostly the ordinary one next to an isolated one
    mine = _below(rng, 2)
    if pair in ("MI", "IM") and rng.random() < 0.7:
        mine = pair.index("M")
    q0 = act + 4 * mine
    q = q0 + _below(rng, 4)
    pages = []
    for p in range(16):
        bt = blocks[p // 4]
        if p == q:
            pages.append("X")
        elif q0 <= p < q0 + 4:
            pages.append("." if rng.random() < 0.9 else "M")
        elif act <= p < act + 8:
            pages.append("." if rng.random() < 0.95 else _pick(rng, {"M": 1, "X": 1}))
        else:
            pages.append(_pick(rng, {".": 2, "U": 2} if bt == "U" else {".": 2, "M": 2}))
    m = "".join(pages)
    z = Zone.from_map(m, geometry=SMALL, blocks=blocks)
    n0 = z.nr_free_pages
    after = z.copy()
    free_contig_range(after, q, 1)
    head = next((p, o, t) for p, o, t in after.free_blocks() if p <= q < p + (1 << o))
    order, drift = head[1], after.nr_free_drift
    mt = z.get_pageblock_migratetype(q)
    g = z.geometry
    setup = "\n".join([
        str(g),
        "",
        *_zone_lines(z),
        "Key:", *_key(m),
        "pageblock types: U unmovable, M movable, I isolate (someone isolated that block)",
        "",
        "Free blocks: " + ", ".join(f"[{p}, {p + (1 << o)}) order {o} on the {t.name} list"
                                    for p, o, t in z.free_blocks()),
        f"NR_FREE_PAGES = {n0} (pages on Isolate lists are not counted).",
        f"The owner of PFN {q} frees it: free_contig_range(zone, {q}, 1) (Linux 4.4.0).",
    ])
    b0, b1 = _block_of(z, q)
    lo, hi = head[0], head[0] + (1 << order)
    if mt == MigrateType.ISOLATE:
        why_o = (f"PFN {q} is freed into an isolated block: it goes to the Isolate list and merges "
                 f"at most up to pageblock order ({g.pageblock_order}); it ends in [{lo}, {hi})")
        why_d = ("freed as ISOLATE it is not counted, and it cannot merge beyond its own "
                 "pageblock, so the counter stays right")
    else:
        why_o = (f"PFN {q} is freed into a {mt.name} block and merges with every free buddy of "
                 f"the same order, whatever list the buddy is on: it ends in [{lo}, {hi}) order "
                 f"{order}")
        if drift:
            why_d = (f"the page is counted (+1), but the merge swallowed a free block from the "
                     f"Isolate list whose {drift} pages were never counted: they now sit on the "
                     f"{mt.name} list, so the lists hold {drift} more free pages than "
                     f"NR_FREE_PAGES says (Linux 4.6 refuses this merge)")
        else:
            why_d = (f"the merge stays inside [{lo}, {hi}), which holds no Isolate-list block "
                     f"other than [{b0}, {b1})'s own pages, so every page moved is counted")
            if not any(t == MigrateType.ISOLATE for p, o, t in z.free_blocks()
                       if lo <= p < hi):
                why_d = ("no free block on an Isolate list is merged, so only the freed page "
                         "is added, and it is counted")
    return Problem(
        title="Freeing next to an isolated block: does NR_FREE_PAGES drift?",
        setup=setup, seed=seed,
        questions=[
            Question("order", f"the order of the free block holding PFN {q} afterwards", order,
                     why_o, kind="int"),
            Question("drift", "pages on non-Isolate lists minus NR_FREE_PAGES afterwards "
                              "(0 if the counter is right)", drift, why_d,
                     kind="int"),
        ])


# ------------------------------------------------------------------ 10: the failure catalogue
#: The failing scenarios, in the order of the stage that fails.
FAILURE_SCENARIOS = ("unmovable-padding", "writeback", "no-target", "fatal-signal",
                     "no-free-block", "pinned", "thp", "hugetlb", "unmovable-in-movable",
                     "outer-start-bug", "hole")


@dataclass(frozen=True)
class FailureRow:
    """One line of the failure catalogue."""

    scenario: str
    ret: str
    stage: str | None
    log: str | None
    busy_pfn: int | None = None


def failure_table(names: Sequence[str] = FAILURE_SCENARIOS) -> list[FailureRow]:
    """Run each named scenario; one :class:`FailureRow` per scenario, in order."""
    rows = []
    for name in names:
        sc = _scenarios.get(name)
        _z, r = sc.run()
        rows.append(FailureRow(sc.name, errname(r.ret), r.failed_stage,
                               r.log[0] if r.log else None, r.busy_pfn))
    return rows


def format_failure_table(rows: Sequence[FailureRow]) -> str:
    """The rows as a plain-text table: scenario, ret, failed stage, log line."""
    head = ("scenario", "ret", "failed stage", "log line (printk)")
    cells = [(r.scenario, r.ret, r.stage or "-", r.log or "-") for r in rows]
    w = [max(len(head[i]), *(len(c[i]) for c in cells)) for i in range(3)]
    fmt = f"{{:<{w[0]}}}  {{:<{w[1]}}}  {{:<{w[2]}}}  {{}}"
    lines = [fmt.format(*head), fmt.format(*("-" * n for n in (*w, len(head[3]))))]
    lines += [fmt.format(*c) for c in cells]
    return "\n".join(lines)


_FAILURE_KINDS = {"success": 3, "pinned": 1, "unmovable": 1, "thp": 1, "padding": 2,
                  "writeback": 1, "no-target": 1, "fatal": 2, "no-free-block": 1,
                  "outer-start-bug": 1, "hole": 1}


def _failure_case(rng: random.Random, kind: str) -> tuple[list[str], str, int, int, dict]:
    """A zone, request and options built so that ``kind`` is what goes wrong (mostly)."""
    blocks = list("UMMMMMMM")
    pages = list("UUUU") + [_pick(rng, {".": 5, "M": 4, "F": 1}) for _ in range(28)]
    base = 8 * (1 + _below(rng, 3))
    opts: dict[str, Any] = {}
    if kind == "padding":
        half = _below(rng, 2)
        lo = base + 4 * half
        start = lo + _below(rng, 4)
        end = start + 1 + _below(rng, lo + 4 - start)
        other = base + 4 * (1 - half)
        blocks[other // 4] = "U"
        for p in range(other, other + 4):
            pages[p] = _pick(rng, {".": 3, "M": 1})
        if rng.random() < 0.7:
            pages[other + _below(rng, 4)] = "U"
        return pages, "".join(blocks), start, end, opts
    if kind in ("no-free-block", "outer-start-bug"):
        s = (3, 5, 6, 7)[_below(rng, 4)]
        start = base + s
        end = start + 1 + _below(rng, base + 8 - start)
        for p in range(base, base + 8):
            pages[p] = _pick(rng, {"M": 3, "F": 1, "U": 1})
        pages[start] = "P"
        if kind == "outer-start-bug":
            free_lo = {3: 0, 5: 0, 6: 4, 7: 4}[s]
            free_n = {3: 2, 5: 4, 6: 2, 7: 2}[s]
            for p in range(base + free_lo, base + free_lo + free_n):
                pages[p] = "."
        return pages, "".join(blocks), start, end, opts
    length = 2 + _below(rng, 7)
    start = base + _below(rng, 9 - length)
    end = start + length
    where = start + _below(rng, length)
    if kind == "pinned":
        pages[where] = "P"
    elif kind == "unmovable":
        pages[where] = "U"
    elif kind == "thp":
        pages[where & ~1] = pages[(where & ~1) + 1] = "T"
    elif kind == "hole":
        pages[where] = "#"
    elif kind in ("writeback", "no-target"):
        pages[where] = "M"
        if kind == "writeback":
            opts["busy_pfns"] = (where,)
            for p in range(4, 32):      # plenty of targets, so the retries run out, not memory
                if not base <= p < base + 8 and rng.random() < 0.7:
                    pages[p] = "."
        else:
            for p in range(4, 32):
                if not base <= p < base + 8 and pages[p] == ".":
                    pages[p] = _pick(rng, {"M": 3, "U": 1})
    elif kind == "fatal":
        opts["fatal_signal_at"] = 1 + _below(rng, 2)
    return pages, "".join(blocks), start, end, opts


def failure_problem(seed: int) -> Problem:
    """Predict the return value and the failed stage of one call (or that it succeeds).

    The zone, the request and the options (a page stuck under writeback, a
    fatal signal) are shown; the answers come from running the model.
    """
    rng = _rng(seed)
    kind = _pick(rng, _FAILURE_KINDS)
    pages, blocks, start, end, opts = _failure_case(rng, kind)
    m = "".join(pages)
    z = Zone.from_map(m, geometry=SMALL, blocks=blocks)
    r = alloc_contig_range(z.copy(), start, end, **opts)
    g = z.geometry
    iso = (r.isolate_start, r.isolate_end)
    notes = []
    if "busy_pfns" in opts:
        notes.append(f"PFN {opts['busy_pfns'][0]} is under writeback that never ends "
                     f"(busy_pfns={tuple(opts['busy_pfns'])}): every attempt to migrate it "
                     f"returns -EAGAIN.")
    if "fatal_signal_at" in opts:
        notes.append(f"The task gets a fatal signal (fatal_signal_at={opts['fatal_signal_at']}): "
                     f"it is pending from check number {opts['fatal_signal_at']} of the "
                     f"migration loop on (the loop checks once per round, before each batch "
                     f"or retry).")
    stages = ", ".join(_STAGES)
    late = ""
    if r.ok and "fatal_signal_at" in opts:
        late = ("; the signal would only be seen at a later check, and the loop ended after "
                "its first round")
    setup = "\n".join([
        str(g),
        "",
        *_zone_lines(z, start, end, iso),
        "Key:", *_key(m),
        "pageblock types: U unmovable, M movable",
        "",
        f"alloc_contig_range(zone, {start}, {end}, MIGRATE_MOVABLE) runs (Linux v4.4).",
        *notes,
        f"Stages that can fail: {stages}.",
    ])
    return Problem(
        title="Which way does it fail?",
        setup=setup, seed=seed,
        questions=[
            Question("ret", "the return value (0, -EBUSY, -ENOMEM or -EINTR)", errname(r.ret),
                     explain(r, z) + late, kind="ret"),
            Question("stage", "the stage that failed (None if it succeeds)", r.failed_stage,
                     f"result.failed_stage is {r.failed_stage!r}"
                     + (f"; the kernel logs '{r.log[0]}'" if r.log else "; nothing is logged"),
                     kind="word"),
        ])


# ------------------------------------------------------------------ 11: a real machine
def pfn_range_valid_gigantic(zone: Zone, pfn: int, nr_pages: int) -> bool:
    """True if every page of ``[pfn, pfn + nr_pages)`` is valid, not reserved, unused, not hugetlb.

    Models pfn_range_valid_gigantic(), mm/hugetlb.c, Linux v4.4: the pages
    must have ``page_count() == 0``, so in the map only free pages (``.``,
    and ``p`` on a per-CPU list) pass; any in-use page, a tail of an in-use
    compound page included, fails.  PFNs outside the zone have no page here.
    """
    if pfn < zone.start_pfn or pfn + nr_pages > zone.end_pfn:
        return False
    k = zone.kinds()[pfn - zone.start_pfn: pfn + nr_pages - zone.start_pfn]
    return bool(np.isin(k, np.frombuffer(b".p", dtype=np.uint8)).all())


@dataclass(frozen=True)
class Candidate:
    """One naturally aligned range the v4.4 gigantic-page loop tries, with what it holds."""

    pfn: int
    nr_pages: int
    valid: bool
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def end(self) -> int:
        return self.pfn + self.nr_pages

    def _gib(self, pfn: int) -> str:
        v = pfn * 4096 / (1 << 30)
        return f"{v:g}"

    def why(self) -> str:
        if self.valid:
            return "every page free: pfn_range_valid_gigantic() says yes"
        n = self.nr_pages
        holes = self.counts.get("#", 0)
        if holes == n:
            return "all holes (no struct page)"
        parts = []
        if holes:
            parts.append(f"{holes} holes")
        used = {k: v for k, v in self.counts.items() if k not in ".#p"}
        if used:
            parts.append("in use: " + ", ".join(f"{v} {k}" for k, v in used.items()))
        return "no: " + "; ".join(parts)

    def __str__(self) -> str:
        free = self.counts.get(".", 0) + self.counts.get("p", 0)
        return (f"[{self._gib(self.pfn)} GiB, {self._gib(self.end)} GiB)  PFNs [{self.pfn:#x}, "
                f"{self.end:#x})  free {free:>6}  {self.why()}")


def gigantic_candidates(zone: Zone, order: int = 18) -> list[Candidate]:
    """The ranges the v4.4 loop of ``alloc_gigantic_page()`` tries in one zone, in order.

    Models the zone loop of alloc_gigantic_page(), mm/hugetlb.c, Linux v4.4:
    ``pfn = ALIGN(zone_start_pfn, 2^order)``; while the zone spans the last
    PFN of ``[pfn, pfn + 2^order)``, the range is a candidate, tried with
    alloc_contig_range() only if :func:`pfn_range_valid_gigantic` says yes.
    ``order=18`` is a 1 GiB page with 4 KiB pages.
    """
    n = 1 << order
    out = []
    pfn = -(-zone.start_pfn // n) * n
    k = zone.kinds()
    while zone.spans(pfn + n - 1):
        w = k[pfn - zone.start_pfn: pfn + n - zone.start_pfn]
        codes, counts = np.unique(w, return_counts=True)
        cnt = {chr(int(c)): int(v) for c, v in zip(codes, counts, strict=True)}
        out.append(Candidate(pfn, n, pfn_range_valid_gigantic(zone, pfn, n), cnt))
        pfn += n
    return out


def format_candidates(cands: Sequence[Candidate]) -> str:
    """One line per candidate; consecutive all-hole candidates share one line."""
    lines = []
    i = 0
    while i < len(cands):
        c = cands[i]
        j = i
        while j + 1 < len(cands) and cands[j + 1].counts.get("#", 0) == cands[j + 1].nr_pages \
                and c.counts.get("#", 0) == c.nr_pages:
            j += 1
        if j > i:
            last = cands[j]
            lines.append(f"[{c._gib(c.pfn)} GiB, {c._gib(last.end)} GiB)  {j - i + 1} candidates, "
                         f"all holes (no struct page)")
        else:
            lines.append(str(c))
        i = j + 1
    return "\n".join(lines)


def _window_categories(zone: Zone, w: int) -> dict[str, list[tuple[int, int]]]:
    """Aligned windows of ``w`` PFNs without holes, sorted by what their pageblocks hold.

    :return: category -> ``[(window start, pageblock to request), ...]``:
        ``free``, ``clean`` (every page free or movable), ``mixed`` (one pageblock clean,
        the other busy in a MOVABLE block), ``padding`` (one pageblock clean,
        the other an UNMOVABLE block holding kernel pages), ``busy``.
    """
    s = zone.start_pfn
    pbo = zone.geometry.pageblock_order
    pbn = 1 << pbo
    per = w // pbn
    first = -(-s // w) * w
    nwin = (zone.end_pfn - first) // w
    k = zone.kinds()[first - s: first - s + nwin * w].reshape(nwin, per, pbn)
    clean = np.isin(k, np.frombuffer(b".MFv", dtype=np.uint8)).all(axis=2)
    hole = (k == ord("#")).any(axis=(1, 2))
    b0 = (first >> pbo) - (s >> pbo)
    pb = zone.pageblock_types()[b0: b0 + nwin * per].reshape(nwin, per)
    kern = ((k == ord("U")) | (k == ord("R"))).any(axis=2) & (pb == MigrateType.UNMOVABLE)
    nclean = clean.sum(axis=1)
    free = (k == ord(".")).all(axis=(1, 2))
    out: dict[str, list[tuple[int, int]]] = {"free": [], "clean": [], "mixed": [], "padding": [],
                                             "busy": []}
    for i in np.flatnonzero(~hole):
        a = first + w * int(i)
        if free[i]:
            out["free"].append((a, -1))
        elif nclean[i] == per:
            out["clean"].append((a, -1))
        elif nclean[i] == 0:
            out["busy"].append((a, -1))
        elif per == 2:
            h = int(np.flatnonzero(clean[i])[0])
            out["padding" if kern[i, 1 - h] else "mixed"].append((a, a + h * pbn))
    return out


def _window_text(zone: Zone, a: int, w: int) -> list[str]:
    pbn = zone.geometry.pageblock_nr_pages
    k = zone.kinds()
    lines = []
    for b in range(a, a + w, pbn):
        seg = k[b - zone.start_pfn: b + pbn - zone.start_pfn]
        codes, counts = np.unique(seg, return_counts=True)
        cnt = {chr(int(c)): int(v) for c, v in zip(codes, counts, strict=True)}
        order = [c for c in ".MFvTUHRP#" if c in cnt]
        t = zone.get_pageblock_migratetype(b)
        lines.append(f"  pageblock [{b}, {b + pbn}) {t.procname:<10} "
                     + ", ".join(f"{cnt[c]} {c}" for c in order))
    return lines


def window_problem(seed: int, zone: Zone) -> Problem:
    """Can an aligned 2 MiB, and the surrounding 4 MiB, range of a real zone be allocated?

    :param zone: a large zone with the x86-64 geometry, e.g. the shipped
        Normal snapshot (``contig.procfs.load_kpageflags``); it is not changed
        (every call runs on a copy).
    """
    rng = _rng(seed)
    g = zone.geometry
    w, half = g.max_align_nr_pages, g.pageblock_nr_pages
    cats = {k: v for k, v in _window_categories(zone, w).items() if v}
    if not cats:
        raise ValueError("this zone has no aligned window without holes")
    names = list(cats)
    cat = names[_below(rng, len(names))]
    a, h = cats[cat][_below(rng, len(cats[cat]))]
    if h < 0:
        h = a + half * _below(rng, w // half)
    r2 = alloc_contig_range(zone.copy(), h, h + half, trace=True)
    r4 = alloc_contig_range(zone.copy(), a, a + w, trace=True)
    mib = 4096 * half >> 20
    setup = "\n".join([
        f"Zone {zone.name} [{zone.start_pfn}, {zone.end_pfn}), {g}; the window "
        f"[{a}, {a + w}) = [{a * 4096 >> 20} MiB, {(a + w) * 4096 >> 20} MiB) holds:",
        *_window_text(zone, a, w),
        "Key:", *_key(zone.kinds()[a - zone.start_pfn: a + w - zone.start_pfn].tobytes().decode()),
        "",
        f"Call 1: alloc_contig_range(zone, {h}, {h + half}), {mib} MiB, MIGRATE_MOVABLE.",
        f"Call 2: alloc_contig_range(zone, {a}, {a + w}), the whole window, MIGRATE_MOVABLE.",
        "Each runs on a fresh copy of the zone (Linux v4.4 rules; the data is from 6.18).",
    ])
    return Problem(
        title=f"A window of the real {zone.name} zone: can it be allocated?",
        setup=setup, seed=seed,
        questions=[
            Question("ok_2mib", f"does call 1 ([{h}, {h + half})) succeed? (True/False)",
                     r2.ok, explain(r2, zone), kind="bool",
                     hints=((True, f"the {mib} MiB request is isolated as the whole window "
                                   f"[{a}, {a + w}) (notebook 03): the other pageblock must "
                                   "pass has_unmovable_pages() too."),)
                     if r2.failed_stage == "start_isolate_page_range" else ()),
            Question("ok_4mib", f"does call 2 ([{a}, {a + w})) succeed? (True/False)",
                     r4.ok, explain(r4, zone), kind="bool"),
        ])


# ------------------------------------------------------------------ by name
_PROBLEMS = {"grab": grab_problem, "undo": undo_problem, "drift": drift_problem,
             "failure": failure_problem}


def problem(seed: int, kind: str = "grab", **kw: Any) -> Problem:
    """``kind`` is ``grab`` (08), ``undo`` or ``drift`` (09), ``failure`` (10) or
    ``window`` (11, needs ``zone=``)."""
    if kind == "window":
        if "zone" not in kw:
            raise ValueError("the window problem needs zone= (a real zone)")
        return window_problem(seed, kw["zone"])
    if kind not in _PROBLEMS:
        raise ValueError(f"unknown problem kind {kind!r}; choose one of "
                         f"{', '.join([*_PROBLEMS, 'window'])}")
    return _PROBLEMS[kind](seed)
