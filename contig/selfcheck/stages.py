"""Check yourself for notebooks 04-07: isolation, migration, draining, outer_start and the test.

One seeded generator per lesson; each returns a :class:`~contig.selfcheck.Problem`
whose answers come from the model itself: the generator builds a small zone,
runs :func:`~contig.alloc_contig_range` on a copy with a trace, and reads the
answers off the result and its events (never from a second implementation):

* :func:`isolation_problem` (04): does ``start_isolate_page_range()`` succeed
  on this blocks map and page map, and if not, which block refuses and
  because of which page (``has_unmovable_pages()``)?
* :func:`migration_problem` (05): which PFNs of the request are migrated,
  which dropped (clean page cache), which skipped?
* :func:`drain_problem` (06): after which kernel function's step does a
  given PFN become a free buddy page?
* :func:`outer_start_problem` (07): given the zone after draining, which
  PFNs does the ``outer_start`` loop probe, where does it stop, and does
  ``test_pages_isolated()`` pass?

Two helpers the lessons use as well: :func:`zone_text` writes a small zone
under a PFN ruler with the request marked; :func:`page_changes` /
:func:`page_history` follow one PFN through a recorded call.

Generators draw only from ``random.Random(seed).random()`` (the one method
whose sequence Python guarantees across releases), so a seed gives the same
problem forever under :data:`GENERATOR_VERSION`.  A generator that draws a
zone the question does not fit (say, migration fails for lack of target
pages) simply draws again from the same stream.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, NamedTuple

from ..contig import ContigResult, alloc_contig_range
from ..geometry import Geometry
from ..pcp import set_pcp
from ..zone import Zone
from . import Problem, Question
from . import below as _below
from . import check_seed as _seed
from . import pick as _pick
from .outcomes import explain

__all__ = [
    "GENERATOR_VERSION",
    "SMALL",
    "PageChange",
    "drain_problem",
    "isolation_problem",
    "migration_problem",
    "outer_start_problem",
    "page_changes",
    "page_history",
    "zone_text",
]

#: The course's small geometry: 8-page max blocks, 4-page pageblocks.
SMALL = Geometry(max_order=4, pageblock_order=2)
#: Version of the generators below; a changed generator gets a new number.
GENERATOR_VERSION = 1

_NPAGES = 32            # every problem zone: 32 PFNs, 8 pageblocks of 4
_PBN = SMALL.pageblock_nr_pages
_MAX_DRAWS = 200        # a generator gives up (a bug) after this many unusable draws


# ---------------------------------------------------------------- small helpers






def _pfn_list(pfns: list[int]) -> str:
    return ", ".join(map(str, pfns)) if pfns else "none"


def zone_text(zone: Zone, start: int | None = None, end: int | None = None,
              indent: str = "  ") -> str:
    """A small zone as text: PFN ruler, map, pageblock types, and the request.

    For a 32-PFN zone and the request [10, 18) (isolated as [8, 24))::

             PFN  0         1         2         3
                  01234567890123456789012345678901
             map  UUUUMMMM..M.MM..M....U..MMMM....
          blocks  U   M   M   M   M   U   M   M
         request          --========------

    ``=`` marks the request ``[start, end)``, ``-`` the rest of the range
    ``pfn_max_align_down/up`` isolates.
    """
    n, s = zone.spanned_pages, zone.start_pfn
    g = zone.geometry
    pbn = g.pageblock_nr_pages
    tens = "".join(str((s + i) // 10 % 10) if (s + i) % 10 == 0 else " " for i in range(n))
    units = "".join(str((s + i) % 10) for i in range(n))
    bstart = g.pageblock_start(s)
    blocks = "".join(ch.ljust(pbn) for ch in zone.blocks_map())[s - bstart: s - bstart + n]
    lines = [f"{indent}   PFN  {tens.rstrip()}", f"{indent}        {units}",
             f"{indent}   map  {zone.to_map()}", f"{indent}blocks  {blocks.rstrip()}"]
    if start is not None and end is not None:
        lo, hi = g.pfn_max_align_down(start), g.pfn_max_align_up(end)
        row = "".join("=" if start <= s + i < end else "-" if lo <= s + i < hi else " "
                      for i in range(n))
        lines.append(f"{indent}request {row.rstrip()}")
    return "\n".join(lines)


_LEGEND = ("map: . free  M movable (LRU)  F clean page cache (LRU)  P pinned (LRU, extra ref)\n"
           "     U kernel page (not LRU)  R reserved  T THP  H hugetlb  p free on a per-CPU list\n"
           "     v in the LRU pagevec  # hole\n"
           "blocks: U Unmovable  M Movable  R Reclaimable  H HighAtomic  C CMA  I Isolate")


def _run(zone: Zone, start: int, end: int) -> tuple[Zone, ContigResult]:
    z = zone.copy()
    return z, alloc_contig_range(z, start, end)


def _draw(seed: int, make: Callable[[random.Random], Any]) -> Any:
    """Call ``make(rng)`` until it returns something (the same stream every time)."""
    rng = random.Random(_seed(seed))
    for _ in range(_MAX_DRAWS):
        out = make(rng)
        if out is not None:
            return out
    raise RuntimeError(f"seed {seed}: no usable problem in {_MAX_DRAWS} draws")  # pragma: no cover


def _aligned_run(pages: list[str], lo: int, hi: int, ch: str, rng: random.Random) -> None:
    """Put a 2-page compound page (``T`` or ``H``) at an even PFN of [lo, hi-1)."""
    slots = [p for p in range(lo, hi - 1) if p % 2 == 0]
    if slots:
        p = slots[_below(rng, len(slots))]
        pages[p] = pages[p + 1] = ch


# ---------------------------------------------------------------- 04: isolation
_ISO_BLOCKS = {"M": 40, "U": 30, "R": 12, "H": 8, "C": 10}
_ISO_CLEAN = {".": 45, "M": 35, "F": 20}                 # non-movable block that will pass
_ISO_DIRTY = {".": 45, "M": 25, "F": 10, "U": 15, "R": 5}  # may hold an unmovable page
_ISO_MOVABLE = {".": 40, "M": 35, "F": 10, "P": 5, "U": 10}


def _fill_by_region(rng: random.Random, start: int, end: int, request: dict[str, float],
                    padding: dict[str, float], outside: dict[str, float]) -> list[str]:
    """A 32-PFN page list: first pageblock unmovable, then each PFN drawn with the weights of
    its region (the request, the rest of the aligned range, or outside it), in PFN order."""
    lo, hi = SMALL.pfn_max_align_down(start), SMALL.pfn_max_align_up(end)
    pages = ["U"] * _PBN
    for pfn in range(_PBN, _NPAGES):
        w = request if start <= pfn < end else padding if lo <= pfn < hi else outside
        pages.append(_pick(rng, w))
    return pages


def _isolation_zone(rng: random.Random) -> tuple[Zone, int, int]:
    length = 1 + _below(rng, 12)
    start = _PBN * 2 + _below(rng, _NPAGES - _PBN * 2 - length + 1)
    end = start + length
    blocks = ["U"] + [_pick(rng, _ISO_BLOCKS) for _ in range(_NPAGES // _PBN - 1)]
    pages = ["U"] * _PBN
    for b in range(1, len(blocks)):
        bt = blocks[b]
        w = _ISO_MOVABLE if bt in "MC" else _ISO_CLEAN if rng.random() < 0.45 else _ISO_DIRTY
        pages += [_pick(rng, w) for _ in range(_PBN)]
        if bt in "URH" and rng.random() < 0.25:
            _aligned_run(pages, b * _PBN, (b + 1) * _PBN, "H", rng)
        elif bt in "MC" and rng.random() < 0.15:
            _aligned_run(pages, b * _PBN, (b + 1) * _PBN, "T", rng)
    return Zone.from_map("".join(pages), geometry=SMALL, blocks="".join(blocks)), start, end


def _block_verdict(zone: Zone, e) -> str:
    b = e.start_pfn
    t = zone.get_pageblock_migratetype(b).name
    if e.fields.get("ret"):
        u = e.fields["unmovable_pfn"]
        return (f"block {b} ({t}) is scanned and PFN {u} ({zone.to_map()[u - zone.start_pfn]}) "
                f"is in use and not on the LRU: refused")
    if t in ("MOVABLE", "CMA"):
        return f"block {b} ({t}) passes without a look"
    return f"block {b} ({t}) is scanned: only free, LRU or hugetlb pages, passes"


def isolation_problem(seed: int) -> Problem:
    """Will ``start_isolate_page_range()`` isolate every block of the aligned range?

    A 32-PFN zone with mixed pageblock types and a request; the answers
    come from running ``alloc_contig_range()`` on a copy and reading the
    ``set_migratetype_isolate`` events of its trace.
    """
    zone, start, end = _draw(seed, _isolation_zone)
    _, r = _run(zone, start, end)
    events = [e for e in r.events if e.func == "set_migratetype_isolate"]
    bad = [e for e in events if e.fields.get("ret")]
    ok = not bad
    failed_block = bad[0].start_pfn if bad else None
    culprit = bad[0].fields["unmovable_pfn"] if bad else None
    walk = "; ".join(_block_verdict(zone, e) for e in events)
    n_range = (r.isolate_end - r.isolate_start) // _PBN
    n_request = len(range(SMALL.pageblock_start(start), end, _PBN))
    nr_isolated = n_range if ok else 0
    why_nr = (f"[{r.isolate_start}, {r.isolate_end}) is {start} and {end} rounded out to "
              f"{SMALL.max_align_nr_pages} pages: {n_range} pageblocks, all isolated." if ok else
              "a block refused, so start_isolate_page_range() rolled back every block it had "
              "isolated: none is Isolate.")
    if ok:
        why_ok = f"every block passes has_unmovable_pages(): {walk}."
        why_block = "no block refuses, so there is none."
        why_pfn = "no block refuses, so no page is to blame."
    else:
        before = (failed_block - r.isolate_start) // _PBN
        undo = (f"rolls back the {before} block(s) it had isolated before it" if before
                else "has nothing to roll back")
        why_ok = f"{walk}. start_isolate_page_range() {undo} and returns -EBUSY."
        why_block = (f"blocks are tried in PFN order from {r.isolate_start}; the first that refuses "
                     f"starts at PFN {failed_block}.")
        why_pfn = (f"has_unmovable_pages() scans the {zone.get_pageblock_migratetype(failed_block).name} "
                   f"block from its first page and stops at the first in-use page that is not on the "
                   f"LRU: PFN {culprit}.")
    setup = "\n".join([
        f"{SMALL}",
        zone_text(zone, start, end),
        _LEGEND,
        f"alloc_contig_range({start}, {end}) isolates [{r.isolate_start}, {r.isolate_end}) "
        f"block by block with start_isolate_page_range().",
    ])
    return Problem(
        title="Isolation: which pageblock refuses?",
        setup=setup,
        seed=seed,
        questions=[
            Question("ok", "Is every pageblock of the isolated range isolated? (True/False)", ok,
                     why_ok, "bool"),
            Question("failed_block", "First PFN of the pageblock that refuses (None if none)",
                     failed_block, why_block, "optional_int",
                     hints=((culprit, "that is the page to blame; the question asks for the "
                                      "first PFN of its pageblock."),)
                     if culprit != failed_block else ()),
            Question("unmovable_pfn", "The page has_unmovable_pages() objects to (None if none)",
                     culprit, why_pfn, "optional_int"),
            Question("nr_isolated", "How many pageblocks are Isolate when "
                     "start_isolate_page_range() returns? (the aligned range: notebook 03)",
                     nr_isolated, why_nr, "int",
                     hints=((n_range, "a refusing block makes it roll back the blocks it had "
                                      "isolated."),) if not ok else
                     ((n_request, "isolation works on the aligned range, not the request."),)),
        ])


# ---------------------------------------------------------------- 05: migration
_MIG_REQUEST = {".": 22, "M": 30, "F": 16, "P": 8, "U": 8, "v": 6}
_MIG_PADDING = {".": 40, "M": 40, "F": 20}
_MIG_OUTSIDE = {".": 65, "M": 35}


def _migration_zone(rng: random.Random) -> tuple[Zone, int, int] | None:
    length = 4 + _below(rng, 7)
    start = 5 + _below(rng, _NPAGES - 8 - length)
    end = start + length
    pages = _fill_by_region(rng, start, end, _MIG_REQUEST, _MIG_PADDING, _MIG_OUTSIDE)
    if rng.random() < 0.35:
        _aligned_run(pages, start, end, "T", rng)
    zone = Zone.from_map("".join(pages), geometry=SMALL, blocks="U" + "M" * (_NPAGES // _PBN - 1))
    _, r = _run(zone, start, end)
    if r.failed_stage in ("start_isolate_page_range", "__alloc_contig_migrate_range"):
        return None
    if not r.migrated and not r.reclaimed:
        return None
    return zone, start, end


def _skipped_pfns(zone: Zone, r: ContigResult) -> list[int]:
    """Every PFN of [start, end) that result.skipped names, compound pages spelled out whole."""
    out: set[int] = set()
    for reason, pfns in r.skipped.items():
        for p in pfns:
            if reason == "compound":
                order = int(zone.comp[p - zone.start_pfn])
                head = p & ~((1 << order) - 1)
                out.update(q for q in range(head, head + (1 << order)) if r.start <= q < r.end)
            else:
                out.add(p)
    return sorted(out)


def migration_problem(seed: int) -> Problem:
    """Which PFNs of the request are migrated, dropped, or skipped?

    Answers: ``sorted(result.migrated)``, ``sorted(result.reclaimed)`` and
    the PFNs of ``result.skipped`` (a compound page spelled out whole).
    """
    zone, start, end = _draw(seed, _migration_zone)
    _, r = _run(zone, start, end)
    migrated = sorted(r.migrated)
    dropped = sorted(r.reclaimed)
    skipped = _skipped_pfns(zone, r)
    m = zone.to_map()
    pad = [p for p in range(r.isolate_start, r.isolate_end)
           if not start <= p < end and m[p] in "MF"]
    pad_note = (f" The padding's LRU pages ({_pfn_list(pad)}) are not scanned: only [{start}, {end}) "
                f"is." if pad else "")
    vs = [p for p in range(start, end) if m[p] == "v"]
    v_note = (f" PFN(s) {_pfn_list(vs)} waited in the pagevec; migrate_prep() (lru_add_drain_all()) "
              f"put them on the LRU first." if vs else "")
    targets = ", ".join(f"{s}->{d}" for s, d in sorted(r.migrated.items()))
    in_req = range(start, end)

    def lru_hint(given: list[int]) -> str | None:
        for p in given:
            msg = {"F": "a clean page-cache page is dropped, not migrated",
                   "P": "a pinned page has an extra reference: the scan skips it",
                   "U": "a kernel page is not on the LRU: the scan skips it",
                   "T": "a THP is compound: v4.4's scan skips it",
                   ".": "a free page has nothing to move",
                   "M": "a movable page on the LRU is migrated"}.get(m[p]) if 0 <= p < len(m) else None
            if p not in in_req:
                return f"PFN {p} is outside [{start}, {end}): only the request is scanned."
            if msg:
                return f"PFN {p} is {m[p]!r}: {msg}."
        return None
    reasons = []
    for reason, pfns in r.skipped.items():
        if pfns:
            what = {"compound": "compound (THP or hugetlb), skipped whole",
                    "not_lru": "not on the LRU", "pinned": "anonymous with an extra reference"}[reason]
            reasons.append(f"{_pfn_list(sorted(pfns))}: {what}")
    setup = "\n".join([
        f"{SMALL}",
        zone_text(zone, start, end),
        _LEGEND,
        f"alloc_contig_range({start}, {end}); every block of [{r.isolate_start}, {r.isolate_end}) "
        f"is isolated. Which pages of [{start}, {end}) does __alloc_contig_migrate_range() move?",
    ])
    return Problem(
        title="Migration: moved, dropped or skipped?",
        setup=setup,
        seed=seed,
        questions=[
            Question("migrated", "PFNs copied elsewhere by migrate_pages() (a list)", migrated,
                     f"the LRU pages of the request that are neither clean page cache, pinned "
                     f"nor compound: {_pfn_list(migrated)}"
                     + (f" (to {targets})." if targets else ".") + v_note + pad_note, "pfns",
                     hints=lambda g: lru_hint([p for p in g if p not in migrated])),
            Question("dropped", "PFNs freed by reclaim_clean_pages_from_list() (a list)", dropped,
                     f"the clean page-cache (F) pages of the request: {_pfn_list(dropped)}; "
                     f"they are freed, not copied.", "pfns",
                     hints=lambda g: lru_hint([p for p in g if p not in dropped])),
            Question("skipped", "In-use PFNs of the request the scan leaves where they are (a list; "
                     "a THP counts with all its pages)", skipped,
                     ("isolate_migratepages_block() passes over " + "; ".join(reasons) + "."
                      if reasons else "the scan skips nothing: every in-use page can be moved.")
                     + " Migration still returns 0: in v4.4 pages that stay are caught later, by "
                       "test_pages_isolated().", "pfns",
                     hints=lambda g: lru_hint([p for p in g if p not in skipped])),
            Question("succeeds", "Does the whole call succeed in the end? (True/False)",
                     r.ok, explain(r, zone), "bool",
                     hints=((True, "a skipped page is still in use when test_pages_isolated() "
                                   "looks at the request."),) if skipped and not r.ok else ()),
        ])


# ---------------------------------------------------------------- 06: draining
class PageChange(NamedTuple):
    """One event that changed a page's map character."""

    seq: int
    stage: str
    func: str
    before: str
    after: str
    why: str


def page_changes(result: ContigResult, pfn: int) -> list[PageChange]:
    """Every event of ``result``'s trace that changed PFN ``pfn``'s map character.

    Replays the trace (``result.events.zone_at(k)``) and compares the
    page's kind before and after each event.
    """
    tr = result.events
    if not hasattr(tr, "zone_at"):
        raise ValueError("page_changes needs a result recorded with trace=True")
    z0 = tr.initial
    if not z0.spans(pfn):
        raise ValueError(f"PFN {pfn} is outside the zone [{z0.start_pfn}, {z0.end_pfn})")
    i = pfn - z0.start_pfn
    prev = chr(z0.kind[i])
    out = []
    for e in tr:
        now = chr(tr.zone_at(e.seq).kind[i])
        if now != prev:
            out.append(PageChange(e.seq, e.stage, e.func, prev, now, e.why))
            prev = now
    return out


def page_history(result: ContigResult, pfn: int) -> str:
    """:func:`page_changes` as text, one line per change: event, stage, function, old -> new."""
    ch = page_changes(result, pfn)
    z0 = result.events.initial
    head = f"PFN {pfn} starts as {chr(z0.kind[pfn - z0.start_pfn])!r}"
    if not ch:
        return head + " and never changes."
    lines = [head]
    for c in ch:
        lines.append(f"  event {c.seq:2d} [{c.stage}] {c.func}: {c.before!r} -> {c.after!r}")
    return "\n".join(lines)


_DRAIN_REQUEST = {".": 20, "M": 28, "F": 14, "p": 20, "v": 18}
_DRAIN_PADDING = {".": 40, "M": 35, "p": 25}
_DRAIN_OUTSIDE = {".": 60, "M": 25, "p": 8, "v": 7}
_DRAIN_PCP = (8, 2)


def _drain_zone(rng: random.Random) -> tuple[Zone, int, int, int] | None:
    length = 4 + _below(rng, 5)
    start = 5 + _below(rng, _NPAGES - 8 - length)
    end = start + length
    pages = _fill_by_region(rng, start, end, _DRAIN_REQUEST, _DRAIN_PADDING, _DRAIN_OUTSIDE)
    movers = sum(1 for p in range(start, end) if pages[p] in "Mv")
    if movers > 7:      # keep the pagevec from filling up during migration (see drain_problem)
        return None
    kinds = sorted({pages[p] for p in range(start, end)} & set("pvMF"))
    if not kinds:
        return None
    k = kinds[_below(rng, len(kinds))]
    cands = [p for p in range(start, end) if pages[p] == k]
    x = cands[_below(rng, len(cands))]
    zone = Zone.from_map("".join(pages), geometry=SMALL, blocks="U" + "M" * (_NPAGES // _PBN - 1))
    set_pcp(zone, *_DRAIN_PCP)
    _, r = _run(zone, start, end)
    if not r.ok or not any(c.after == "." for c in page_changes(r, x)):
        return None
    return zone, start, end, x


def drain_problem(seed: int) -> Problem:
    """After which step of ``alloc_contig_range()`` does PFN x become a free buddy page?

    The chosen page starts as ``p`` (free on a per-CPU list), ``v`` (in the
    LRU pagevec), ``M`` or ``F``; the call succeeds.  At most 7 pages of the
    request move, so the 14-page pagevec never fills up during migration
    and every old page waits for the ``lru_add_drain_all()`` after it.
    The answer is the first event after which the trace shows the page free
    in the buddy allocator (``.``).
    """
    zone, start, end, x = _draw(seed, _drain_zone)
    _, r = _run(zone, start, end)
    ch = page_changes(r, x)
    first = next(c for c in ch if c.after == ".")
    kind = zone.to_map()[x]
    path = "; ".join(f"event {c.seq} {c.func}: {c.before!r} -> {c.after!r}" for c in ch)
    explain = {
        "p": ("it is free but parked on the per-CPU list; set_migratetype_isolate() drains the "
              "per-CPU lists after isolating each block, and the first drain pushes every parked "
              "page of the zone into the buddy lists"),
        "v": ("it waits in the pagevec; migrate_prep() puts it on the LRU, migrate_pages() copies it "
              "and hands the old page back to the pagevec, whose flush after migration frees it"),
        "M": ("migrate_pages() copies it and hands the old page back to the LRU pagevec, holding its "
              "last reference; the lru_add_drain_all() after migration frees it"),
        "F": ("clean page cache is not copied: reclaim_clean_pages_from_list() frees it at once, "
              "straight into its isolated block's buddy lists"),
    }[kind]
    setup = "\n".join([
        f"{SMALL}; per-CPU high {_DRAIN_PCP[0]}, batch {_DRAIN_PCP[1]}; one CPU",
        zone_text(zone, start, end),
        _LEGEND,
        f"alloc_contig_range({start}, {end}) succeeds. Follow PFN {x} (now {kind!r}).",
    ])
    return Problem(
        title=f"Draining: when does PFN {x} become a buddy page?",
        setup=setup,
        seed=seed,
        questions=[
            Question("func", f"The kernel function whose step makes PFN {x} a free buddy page",
                     first.func, f"{explain} (event {first.seq}). The page's path: {path}.",
                     "word"),
            Question("stage", "In which stage of the call? (isolate, migrate or drain)",
                     first.stage, f"event {first.seq} belongs to the {first.stage!r} stage.",
                     "word"),
        ])


# ---------------------------------------------------------------- 07: outer_start and the test
_OS_REQUEST = {".": 35, "M": 30, "P": 20, "U": 15}
_OS_PADDING = {".": 45, "M": 25, "P": 15, "U": 10, "F": 5}
_OS_OUTSIDE = {".": 65, "M": 35}


def _outer_start_zone(rng: random.Random) -> tuple[Zone, int, int] | None:
    length = 1 + _below(rng, 4)
    start = 9 + _below(rng, _NPAGES - 9 - length + 1)
    end = start + length
    pages = _fill_by_region(rng, start, end, _OS_REQUEST, _OS_PADDING, _OS_OUTSIDE)
    if rng.random() < 0.3:      # start itself stays in use: the loop must look lower
        pages[start] = "P" if rng.random() < 0.6 else "U"
    if rng.random() < 0.08:
        lo, hi = SMALL.pfn_max_align_down(start), SMALL.pfn_max_align_up(end)
        pages[lo + _below(rng, hi - lo)] = "#"
    zone = Zone.from_map("".join(pages), geometry=SMALL, blocks="U" + "M" * (_NPAGES // _PBN - 1))
    _, r = _run(zone, start, end)
    if r.failed_stage in ("start_isolate_page_range", "__alloc_contig_migrate_range"):
        return None
    return zone, start, end


def outer_start_problem(seed: int) -> Problem:
    """Given the zone after draining: the probes, ``outer_start``, and the test's verdict.

    The zone shown is the trace's state at the ``drains_done`` event (every
    block of the aligned range ISOLATE, migration and drains done); the free
    blocks are listed because a map does not show where buddy blocks begin.
    Answers: the ``outer_start`` event's ``probes`` and PFN, and the
    ``test_pages_isolated`` event's verdict (None when it never runs).
    """
    zone, start, end = _draw(seed, _outer_start_zone)
    _, r = _run(zone, start, end)
    tr = r.events
    drained = tr.zone_at(tr.by_func("drains_done")[0].seq)
    ev = tr.by_func("outer_start")[0]
    probes = list(ev.fields["probes"])
    outer = r.outer_start
    tests = tr.by_func("test_pages_isolated")
    passes = None if not tests else tests[0].fields["ret"] == "success"
    lo, hi = r.isolate_start, r.isolate_end
    free = [(p, o) for p, o, _ in drained.free_blocks() if lo <= p < hi]
    free_txt = ", ".join(f"{p} (order {o})" for p, o in free) or "none"
    if outer is None:
        why_outer = "none of the probed PFNs heads a free block: -EBUSY, and the kernel prints nothing."
        why_test = "the test never runs: alloc_contig_range() gave up at the outer_start loop."
    else:
        bo = ev.fields["buddy_order"]
        why_outer = f"PFN {outer} heads a free order-{bo} block, the first probe that does"
        if not ev.fields["covers_start"]:
            why_outer += (f"; the block [{outer}, {outer + (1 << bo)}) does not cover start {start}, "
                          f"which v4.4 does not check (4.5 falls back to start)")
        why_outer += "."
        t = tests[0]
        if passes:
            why_test = (f"the walk from {outer} jumps from free block to free block (over holes one "
                        f"by one) and reaches {end}.")
        else:
            why_test = f"{t.why}." + (f" The kernel logs: {r.log[-1]}" if r.log else "")
    setup = "\n".join([
        f"{SMALL}",
        "The zone after migration and both drains:",
        zone_text(drained, start, end),
        _LEGEND,
        f"free blocks in [{lo}, {hi}): {free_txt}",
        f"alloc_contig_range({start}, {end}) now looks for outer_start, then runs "
        f"test_pages_isolated(outer_start, {end}).",
    ])
    probe_why = (f"order 0, 1, 2, ...: {start} rounded down to 1, 2, 4, ... pages, until a probe "
                 f"heads a free block or the order reaches MAX_ORDER ({SMALL.max_order}): "
                 f"{', '.join(map(str, probes))}.")
    return Problem(
        title="outer_start and test_pages_isolated()",
        setup=setup,
        seed=seed,
        questions=[
            Question("probes", "The PFNs the outer_start loop looks at, in order (a list; a PFN "
                     "probed twice in a row may be written once)", probes, probe_why, "probes"),
            Question("outer_start", "outer_start (None if the loop finds nothing)", outer, why_outer,
                     "optional_int"),
            Question("test_passes", "Does test_pages_isolated(outer_start, end) pass? (True/False, "
                     "None if it never runs)", passes, why_test, "bool"),
        ])
