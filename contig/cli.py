"""The command line: ``python -m contig`` (or ``contig``).

Subcommands, in the spirit of the OSTEP homework simulators (every
parameter printed first as ``ARG name value``; ``-s SEED`` makes a new
problem; ``-c`` computes the answers):

* ``run``       run alloc_contig_range() on a zone given as a map or a scenario,
                printing the zone before, the narrated trace, the kernel log,
                the return value and the zone after;
* ``quiz``      a seeded problem: predict the aligned range, outer_start,
                outer_end, the return value and the final map (``-c`` answers);
* ``scenario``  list the named scenarios or show and run one;
* ``snapshot``  capture a zone of this machine into a kpageflags snapshot (root);
* ``cma``       the Contiguous Memory Allocator: list or run a CMA scenario;
* ``gigantic``  where Linux 6.18 puts 1 GiB hugetlb pages: predict from a node
                snapshot, replay a recorded run, or (root) check the live kernel.

Bad input (an unknown map character, start >= end, an unknown scenario, a
bad geometry, a PFN above 2**52 ...) gives one line ``contig: error: ...``
on stderr and exit status 2, never a traceback; so does a ValueError,
TypeError or OverflowError the model raises for input it refuses.  Ctrl-C
(SIGINT) prints ``contig: interrupted`` and exits 130; a closed output pipe
(``contig ... | head``) ends the command quietly with status 141 (128 +
SIGPIPE, what the shell reports for a program killed by it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import scenarios as _scenarios
from .argcheck import MAX_PFN
from .contig import ContigResult, alloc_contig_range, errname
from .geometry import Geometry
from .mapfmt import KIND_DESCRIPTIONS
from .scenarios import Scenario
from .zone import MigrateType, Zone

__all__ = ["format_zone", "main"]

#: PFNs per printed map line.
MAP_WIDTH = 64
#: Text width the narration is wrapped to.
TEXT_WIDTH = 80
_LABEL = 9  # width of the label column of a printed map

_EXAMPLES = {
    "run": """\
examples:
  contig run --scenario pinned
  contig run --scenario pinned -v --start 12 --end 16
  contig run --map 'UUUUMMMMM.MM.M.M........MMMM....' --blocks UMMMMMMM \\
             --start 8 --end 16
  contig run --map '..MM.MM.U...' --geometry 3,1 --start 2 --end 6""",
    "quiz": """\
examples:
  contig quiz -s 7        the problem, with every answer shown as ?
  contig quiz -s 7 -c     the same problem, answers computed""",
    "scenario": """\
examples:
  contig scenario --list
  contig scenario outer-start-bug""",
    "cma": """\
examples:
  contig cma --list
  contig cma busy-area          a driver's buffer that fails in every slot
  contig cma pinned-slot -d     with cma_alloc()'s pr_debug lines""",
    "gigantic": """\
examples:
  contig gigantic --run contig/data/gigantic/run-05
        replay a recorded run: every candidate, the picks, hit or miss
  contig gigantic --snapshot DIR -n 4
        predict 4 picks from DIR/DMA.npz, DMA32.npz, Normal.npz
  contig gigantic --live --verify 4 --out run-new
        (root, Linux 6.18) snapshot, ask the kernel for 4 pages one by one,
        put the pool back, compare""",
    "snapshot": """\
examples (as root):
  contig snapshot --zone Normal -o normal.npz
  contig snapshot --zone DMA32 --node 0 -o dma32.npz""",
}


_MAP_KEY = ("map characters (one per PFN):\n"
            + "\n".join(f"  {c}  {d}" for c, d in KIND_DESCRIPTIONS.items())
            + "\npageblock types (one per pageblock): U unmovable, M movable, "
              "R reclaimable,\n  H highatomic, C CMA, I isolate")


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``contig: error: ...``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        hint = f" (see '{self.prog} --help')"
        self.exit(2, f"contig: error: {message}{hint}\n")


# ---------------------------------------------------------------- argument types
#: The model's largest PFN (contig.argcheck.MAX_PFN, 2**52): every PFN given, and
#: the end of the zone, must be at most this.
PFN_LIMIT = MAX_PFN


def _pfn(text: str) -> int:
    """A PFN: decimal or 0x-prefixed hex, not negative, at most 2**52 (the model's MAX_PFN)."""
    s = text.strip()
    try:
        v = int(s, 0)
    except ValueError:
        try:
            v = int(s, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a PFN (a decimal or 0x hex "
                                             f"number)") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"a PFN cannot be negative: {text!r}")
    if v > PFN_LIMIT:
        raise argparse.ArgumentTypeError(f"PFN {text.strip()} is too large: PFNs must be "
                                         f"at most 2**52 ({PFN_LIMIT})")
    return v


def _pfn_list(text: str) -> tuple[int, ...]:
    return tuple(_pfn(p) for p in text.split(",") if p.strip())


def _positive(text: str) -> int:
    try:
        v = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {v}")
    return v


def _node(text: str) -> int:
    try:
        v = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a node number") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"a node number cannot be negative: {v}")
    return v


def _geometry(text: str) -> Geometry:
    parts = text.replace(" ", "").split(",")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not MAX_ORDER,PAGEBLOCK_ORDER (for example 4,2 or 11,9)")
    try:
        return Geometry(int(parts[0]), int(parts[1]))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _pair(text: str) -> tuple[int, int]:
    parts = text.replace(" ", "").split(",")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not HIGH,BATCH (for example 4,2)")
    return int(parts[0]), int(parts[1])


_MIGRATETYPES = {"movable": MigrateType.MOVABLE, "cma": MigrateType.CMA}


# ---------------------------------------------------------------- rendering
def _ruler(lo: int, hi: int, tick: int) -> str:
    """PFN numbers at every ``tick``-th column of ``[lo, hi)``."""
    line = [" "] * (hi - lo)
    for pfn in range(lo + (-lo) % tick, hi, tick):
        label = str(pfn)
        i = pfn - lo
        if i + len(label) > len(line) and i > 0:
            break
        line[i:i + len(label)] = label
    return "".join(line)[: hi - lo].rstrip()


def format_zone(zone: Zone, *, marks: Sequence[tuple[str, dict[int, str]]] = (),
                width: int = MAP_WIDTH) -> list[str]:
    """The zone as text: a PFN ruler, the pages, the pageblock types, then ``marks``.

    ``marks`` are extra lines, each ``(label, {pfn: char})``.  Zones longer
    than ``width`` PFNs are wrapped, each line block labelled with its PFNs;
    columns are PFNs modulo ``width``.
    """
    g = zone.geometry
    pbn = g.pageblock_nr_pages
    kinds = zone.to_map()
    blocks = zone.blocks_map()
    s, e = zone.start_pfn, zone.end_pfn
    digits = len(str(e))
    tick = 8
    while tick < digits + 1:
        tick *= 2
    out = []
    base = s - s % width
    while base < e:
        lo, hi = max(base, s), min(base + width, e)
        pad = " " * (lo - base)
        out.append(f"{'PFN':>{_LABEL - 1}} " + _ruler(base, base + width, tick)
                   if base + width <= e else
                   f"{'PFN':>{_LABEL - 1}} " + _ruler(base, hi, tick))
        out.append(f"{'pages':>{_LABEL - 1}} {pad}{kinds[lo - s: hi - s]}")
        row = []
        for pfn in range(lo, hi):
            if pfn % pbn == 0 or pfn == s:
                row.append(blocks[zone.block_index(pfn)])
            else:
                row.append(" ")
        out.append(f"{'blocks':>{_LABEL - 1}} {pad}{''.join(row).rstrip()}")
        for label, chars in marks:
            row = [chars.get(pfn, " ") for pfn in range(base, hi)]
            text = "".join(row).rstrip()
            if text:
                out.append(f"{label:>{_LABEL - 1}} {text}")
        base += width
    return out


def _request_marks(start: int, end: int, iso: tuple[int, int] | None) -> dict[int, str]:
    m = {}
    if iso is not None:
        for p in range(*iso):
            m[p] = "-"
    for p in range(start, end):
        m[p] = "^"
    return m


def _outer_marks(r: ContigResult) -> dict[int, str]:
    if r.outer_start is None:
        return {}
    hi = r.outer_end if r.outer_end is not None else max(r.end, r.outer_start + 1)
    m = dict.fromkeys(range(r.outer_start, hi), "=")
    m[r.outer_start] = "o"
    return m


def _key(maps: Sequence[str]) -> list[str]:
    """One line per map character present: what it means."""
    present = set("".join(maps))
    return [f"  {c}  {d}" for c, d in KIND_DESCRIPTIONS.items() if c in present]


def _wrap(text: str, prefix: str, indent: int | None = None) -> list[str]:
    ind = " " * (len(prefix) if indent is None else indent)
    return textwrap.wrap(text, TEXT_WIDTH, initial_indent=prefix, subsequent_indent=ind,
                         break_on_hyphens=False, break_long_words=False) or [prefix.rstrip()]


def _fmt_geometry(g: Geometry) -> str:
    return f"{g.max_order},{g.pageblock_order}"


def _mt_name(mt: MigrateType) -> str:
    return "cma" if mt == MigrateType.CMA else "movable"


# ---------------------------------------------------------------- run
def _scenario_from_args(args: argparse.Namespace) -> Scenario:
    """A Scenario for ``run``: the named one with overrides, or one made from --map."""
    if args.scenario is not None:
        for opt in ("blocks", "geometry", "start_pfn"):
            if getattr(args, opt) is not None:
                raise UsageError(f"--{opt.replace('_', '-')} goes with --map, not --scenario")
        try:
            base = _scenarios.get(args.scenario)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    else:
        if args.start is None or args.end is None:
            raise UsageError("run --map needs --start and --end")
        if (args.start_pfn or 0) + len(args.map) > PFN_LIMIT:
            raise UsageError(f"the zone [{args.start_pfn}, {args.start_pfn} + {len(args.map)}) "
                             f"ends beyond PFN 2**52 ({PFN_LIMIT})")
        base = Scenario(name="custom", title="a zone from the command line", description="",
                        map=args.map, blocks=args.blocks,
                        geometry=args.geometry or _scenarios.SMALL,
                        start_pfn=args.start_pfn or 0, start=args.start, end=args.end)
    options = dict(base.options)
    if args.fatal_signal_at is not None:
        options["fatal_signal_at"] = args.fatal_signal_at
    if args.busy is not None:
        options["busy_pfns"] = args.busy
    return Scenario(
        name=base.name, title=base.title, description=base.description, map=base.map,
        blocks=base.blocks, geometry=base.geometry, start_pfn=base.start_pfn,
        start=base.start if args.start is None else args.start,
        end=base.end if args.end is None else args.end,
        migratetype=(base.migratetype if args.migratetype is None
                     else _MIGRATETYPES[args.migratetype]),
        options=options, pcp=args.pcp if args.pcp is not None else base.pcp,
        expect=base.expect, zone_name=base.zone_name)


def _execute(sc: Scenario) -> tuple[Zone, Zone, ContigResult]:
    """Build the zone and run; (zone before, zone after, result).  ValueError -> UsageError."""
    try:
        z = sc.zone()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if sc.start >= sc.end:
        raise UsageError(f"start ({sc.start}) must be below end ({sc.end})")
    if sc.start < z.start_pfn or sc.end > z.end_pfn:
        raise UsageError(f"[{sc.start}, {sc.end}) is not inside the zone "
                         f"[{z.start_pfn}, {z.end_pfn})")
    before = z.copy()
    try:
        r = alloc_contig_range(z, sc.start, sc.end, sc.migratetype, **dict(sc.options))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return before, z, r


def _print_args(w: Callable[[str], None], sc: Scenario, extra: Sequence[tuple[str, object]] = (),
                answers: bool = True) -> None:
    for k, v in extra:
        w(f"ARG {k} {v}")
    opts = sc.options
    busy = opts.get("busy_pfns") or ()
    w(f"ARG geometry {_fmt_geometry(sc.geometry)}")
    w(f"ARG start_pfn {sc.start_pfn}")
    w(f"ARG map {sc.map}")
    w(f"ARG blocks {sc.blocks if sc.blocks is not None else 'M' * _nblocks(sc)}")
    w(f"ARG start {sc.start}")
    w(f"ARG end {sc.end}")
    w(f"ARG migratetype {_mt_name(sc.migratetype)}")
    if answers:
        fatal = opts.get("fatal_signal_at")
        w(f"ARG fatal_signal_at {'none' if fatal is None else fatal}")   # one spelling: none
        w(f"ARG busy {','.join(map(str, busy)) if busy else 'none'}")
        pcp = f"{sc.pcp[0]},{sc.pcp[1]}" if sc.pcp else "default"
        w(f"ARG pcp {pcp}")


def _nblocks(sc: Scenario) -> int:
    pbo = sc.geometry.pageblock_order
    return ((sc.start_pfn + len(sc.map) - 1) >> pbo) - (sc.start_pfn >> pbo) + 1


def _print_run(w: Callable[[str], None], sc: Scenario, before: Zone, after: Zone,
               r: ContigResult, verbose: bool) -> None:
    g = sc.geometry
    w("")
    w(str(g))
    w("")
    w("Before:")
    for line in format_zone(before, marks=[("request", _request_marks(
            r.start, r.end, (r.isolate_start, r.isolate_end)))]):
        w(line)
    w(f"{'':{_LABEL}}^ = [start, end); - = alignment padding (isolated, not migrated)")
    w("Key:")
    for line in _key([before.to_map(), after.to_map()]):
        w(line)
    w("")
    w("Trace:")
    for ev in r.events:
        prefix = f"{ev.seq:4d} [{ev.stage}] "
        for line in _wrap(f"{ev.func}: {ev.why}", prefix, indent=len(prefix)):
            w(line)
        if verbose:
            w(f"{'':{len(prefix)}}tp: {ev}")
    w("")
    w("Kernel log:")
    for line in r.log or ["(nothing)"]:
        w(f"  {line}")
    w("")
    w(f"Return value: {errname(r.ret)}")
    for line in _wrap(r.summary(), "  "):
        w(line)
    note = _contract_note(sc, before, after, r)
    if note:
        w("")
        for line in _wrap(note, "Contract broken: ", indent=2):
            w(line)
    w("")
    w("After:")
    marks = [("request", _request_marks(r.start, r.end, (r.isolate_start, r.isolate_end)))]
    if r.outer_start is not None:
        marks.append(("outer", _outer_marks(r)))
    for line in format_zone(after, marks=marks):
        w(line)
    if r.outer_start is not None:
        w(f"{'':{_LABEL}}o = outer_start; = runs to outer_end (or to end if not reached)")


def _contract_note(sc: Scenario, before: Zone, after: Zone, r: ContigResult) -> str | None:
    """A sentence when the caller broke alloc_contig_range()'s contract, else None.

    The v4.4 kernel-doc of alloc_contig_range() (mm/page_alloc.c) asks that every
    pageblock of ``[start, end)`` already be of the type passed in, MIGRATE_MOVABLE or
    MIGRATE_CMA, all the same.  The kernel does not check it:
    undo_isolate_page_range() gives each isolated block the caller's type.
    """
    pbo = sc.geometry.pageblock_order
    lo, hi = r.start, r.end          # the kernel-doc speaks of the caller's range
    k0 = (lo >> pbo) - (before.start_pfn >> pbo)
    k1 = ((hi - 1) >> pbo) - (before.start_pfn >> pbo) + 1
    was, now = before.blocks_map()[k0:k1], after.blocks_map()[k0:k1]
    want = "C" if sc.migratetype == MigrateType.CMA else "M"
    if not was or set(was) == {want}:
        return None
    name = "MIGRATE_CMA" if want == "C" else "MIGRATE_MOVABLE"
    fate = (f"v4.4 does not check: the blocks came back as {now} (undo_isolate_page_range() "
            f"gives every isolated block the caller's type)." if now != was else
            "v4.4 does not check; this call left them as they were.")
    return (f"the caller passed {name}, but the pageblocks under [{lo}, {hi}) were {was}; "
            f"alloc_contig_range() requires every pageblock of the range to be of the requested "
            f"type already (MOVABLE or CMA, all the same). {fate}")


def cmd_run(args: argparse.Namespace, w: Callable[[str], None]) -> int:
    sc = _scenario_from_args(args)
    before, after, r = _execute(sc)
    extra = [("scenario", sc.name)] if args.scenario is not None else []
    _print_args(w, sc, extra)
    _print_run(w, sc, before, after, r, args.verbose)
    return 0


# ---------------------------------------------------------------- quiz
_STAGE_FUNCS = {
    "start_isolate_page_range": ("set_migratetype_isolate",),
    "__alloc_contig_migrate_range": ("fatal_signal_pending", "__alloc_contig_migrate_range",
                                     "migrate_pages"),
    "outer_start": ("outer_start",),
    "test_pages_isolated": ("test_pages_isolated",),
    "isolate_freepages_range": ("isolate_freepages_range",),
}


def _last(r: ContigResult, *funcs: str) -> str | None:
    for ev in reversed(r.events):
        if ev.func in funcs:
            return ev.why
    return None


_SIDE_REASONS = {
    ("v", "M"): "lru_add_drain_all() flushed the per-CPU LRU-add pagevec, so the page is "
                "on the LRU now",
    ("p", "."): "drain_all_pages() gave the per-CPU free page back to the buddy allocator",
}


def _side_changes(before: Zone, after: Zone, r: ContigResult) -> list[str]:
    """The pages outside the caller's range that changed for another reason than
    migration (the drains, mostly), each with the event that changed it."""
    old, new = before.to_map(), after.to_map()
    base = before.start_pfn
    moved = set(r.migrated) | set(r.migrated.values()) | set(r.reclaimed)
    pfns = [base + i for i, (a, b) in enumerate(zip(old, new)) if a != b
            and not (r.ok and r.outer_start is not None and r.start <= base + i < r.end)
            and base + i not in moved]
    trace = getattr(r, "events", None)
    out = []
    for p in pfns:
        a, b = old[p - base], new[p - base]
        func = None
        if trace is not None and hasattr(trace, "zone_at"):
            for k, ev in enumerate(trace):
                if chr(trace.zone_at(k).kinds()[p - base]) != a:
                    func = ev.func
                    break
        reason = _SIDE_REASONS.get((a, b), "")
        by = f" (changed at {func})" if func and not reason else ""
        out.append(f"PFN {p} {a} -> {b}{by}" + (f": {reason}" if reason else ""))
    return out


def _answers(sc: Scenario, before: Zone, after: Zone, r: ContigResult) -> list[tuple[str, str,
                                                                                         str]]:
    """(question, answer, one-line reason) for the quiz."""
    g = sc.geometry
    where = f"failed in {r.failed_stage}" if r.failed_stage else ""
    qa = []
    qa.append(("The aligned range [isolate_start, isolate_end)",
               f"[{r.isolate_start}, {r.isolate_end})",
               f"pfn_max_align_down({r.start}) and pfn_max_align_up({r.end}) round out to "
               f"multiples of {g.max_align_nr_pages} pages, max(MAX_ORDER_NR_PAGES, "
               f"pageblock_nr_pages)."))
    if r.outer_start is not None or r.failed_stage == "outer_start":
        why = _last(r, "outer_start") or ""
        qa.append(("outer_start", str(r.outer_start) if r.outer_start is not None
                   else "none found", why))
    else:
        qa.append(("outer_start", "not reached",
                   f"alloc_contig_range() returned before the search ({where})."))
    if r.outer_end is not None or r.failed_stage == "isolate_freepages_range":
        why = _last(r, "isolate_freepages_range") or ""
        if r.outer_end is not None:   # say it half-open: outer_end is one past the last page
            why = (f"isolate_freepages_range() takes the free blocks from PFN {r.outer_start} on, "
                   f"each split into order-0 pages with refcount 1; they cover "
                   f"[{r.outer_start}, {r.outer_end}) (PFN {r.outer_end - 1} is the last page "
                   f"taken), so outer_end = {r.outer_end}.")
        qa.append(("outer_end", str(r.outer_end) if r.outer_end is not None else "0 (failed)",
                   why))
    else:
        qa.append(("outer_end", "not reached",
                   f"alloc_contig_range() returned before isolate_freepages_range() ({where})."))
    if r.ok:
        why = (f"every page of [{r.start}, {r.end}) was emptied, tested free and taken; "
               f"{len(r.migrated)} migrated, {len(r.reclaimed)} dropped.")
    else:
        funcs = _STAGE_FUNCS.get(r.failed_stage or "", ())
        why = (_last(r, *funcs) if funcs else None) or where
        if r.log:
            why += f" The kernel logs: {r.log[0]}"
    qa.append(("The return value", errname(r.ret), why))
    changed = [f"{len(r.migrated)} page(s) migrated out, {len(r.reclaimed)} dropped"]
    if r.ok:
        changed.append(f"X marks [{r.start}, {r.end}), now the caller's")
    else:
        changed.append("nothing of the range is taken")
    if after.blocks_map() != before.blocks_map():
        changed.append(f"pageblocks {before.blocks_map()} became {after.blocks_map()} "
                       "(undo restores the caller's migratetype)")
    if "v" in after.to_map() and "v" not in before.to_map():
        changed.append("v pages wait in the LRU pagevec until the next drain")
    changed += _side_changes(before, after, r)
    qa.append(("The map afterwards", "", "; ".join(changed) + "."))
    return qa


def cmd_quiz(args: argparse.Namespace, w: Callable[[str], None]) -> int:
    try:
        sc = _scenarios.random_problem(args.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    before, after, r = _execute(sc)
    _print_args(w, sc, [("seed", args.seed),
                        ("generator_version", _scenarios.GENERATOR_VERSION)], answers=False)
    w("")
    w(str(sc.geometry))
    w("")
    for line in format_zone(before, marks=[("request", _request_marks(sc.start, sc.end,
                                                                        None))]):
        w(line)
    w("Key:")
    for line in _key([before.to_map(), after.to_map() if args.compute else ""]):
        w(line)
    w("")
    w(f"alloc_contig_range({sc.start}, {sc.end}, MIGRATE_MOVABLE) runs on this zone "
      f"(Linux v4.4).")
    w("What happens?")
    w("")
    for n, (q, a, why) in enumerate(_answers(sc, before, after, r), 1):
        if n == 5:
            w(f"  {n}. {q}:{'' if args.compute else ' ?'}")
            if args.compute:
                marks = [("request", _request_marks(r.start, r.end,
                                                    (r.isolate_start, r.isolate_end)))]
                for line in format_zone(after, marks=marks):
                    w("  " + line)
        else:
            w(f"  {n}. {q}: {a if args.compute else '?'}")
        if args.compute and why:
            for line in _wrap(why, "     because: ", indent=14):
                w(line)
    w("")
    if not args.compute:
        w("Work out each answer, then check them with -c.")
    else:
        w("See every step with:")
        w(f"  contig run --map '{sc.map}' --blocks {sc.blocks} \\")
        w(f"             --start {sc.start} --end {sc.end}")
    return 0


# ---------------------------------------------------------------- scenario
def _listed_or_named(args: argparse.Namespace, table: Any, get: Callable[[str], Any],
                     w: Callable[[str], None]) -> Any:
    """``--list``: print each scenario of ``table`` (name and title), return None;
    a NAME: return that scenario (an unknown name is a usage error)."""
    if args.list or args.name is None:
        if args.name is not None:
            raise UsageError("give either --list or a scenario name, not both")
        width = max(len(n) for n in table)
        for s in table.values():
            w(f"{s.name:<{width}}  {s.title}")
        return None
    try:
        return get(args.name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_scenario(args: argparse.Namespace, w: Callable[[str], None]) -> int:
    sc = _listed_or_named(args, _scenarios.SCENARIOS, _scenarios.get, w)
    if sc is None:
        return 0
    before, after, r = _execute(sc)
    w(f"{sc.name}: {sc.title}")
    w("")
    for line in _wrap(sc.description, ""):
        w(line)
    w("")
    _print_args(w, sc, [("scenario", sc.name)])
    _print_run(w, sc, before, after, r, args.verbose)
    return 0


# ---------------------------------------------------------------- snapshot
def cmd_snapshot(args: argparse.Namespace, w: Callable[[str], None]) -> int:
    try:
        from .procfs import capture_snapshot
    except ImportError:
        raise UsageError("snapshots need contig.procfs.capture_snapshot, which this "
                         "installation does not have") from None
    kw = {} if args.node is None else {"node": args.node}
    out = Path(args.output)
    _check_output(out)
    tmp: str | None = None
    try:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
        except OSError as exc:
            raise UsageError(f"cannot write {out}: {exc.strerror or _one_line(exc)} "
                             f"(directory {out.parent})") from None
        with os.fdopen(fd, "wb") as fh:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fh.fileno(), 0o666 & ~umask)  # mkstemp makes 0600; new files 0666-umask
            try:
                capture_snapshot(args.zone, fh, **kw)
                fh.flush()
                os.fsync(fh.fileno())
            except (OSError, ValueError) as exc:  # PermissionError is an OSError
                raise UsageError(f"cannot capture zone {args.zone}: {_one_line(exc)}") \
                    from None
        _check_output(out)  # again: a link made while the snapshot was read
        try:
            os.replace(tmp, out)  # replaces the directory entry, never follows a link
        except OSError as exc:
            raise UsageError(f"cannot write {out}: {_one_line(exc)}") from None
    except BaseException:  # an error or Ctrl-C: no partial file is left
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    w(f"wrote a snapshot of zone {args.zone} to {args.output}")
    return 0


def _check_output(out: Path) -> None:
    """Refuse an output path that is a symbolic link (lstat) or a directory."""
    if out.is_symlink():
        raise UsageError(f"{out} is a symbolic link: snapshot -o does not write through "
                         f"or over a link; remove it or choose another name")
    if out.is_dir():
        raise UsageError(f"{out} is a directory; give a file name (e.g. {out / 'zone.npz'})")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# ---------------------------------------------------------------- cma
def cmd_cma(args: argparse.Namespace, w: Callable[[str], None]) -> int:
    from . import cma_scenarios
    sc = _listed_or_named(args, cma_scenarios.CMA_SCENARIOS, cma_scenarios.get, w)
    if sc is None:
        return 0
    cma = sc.build()
    before = cma.zone.copy()
    cma, out = sc.run(cma)
    lines = cma_scenarios.format_run(sc, cma, out, debug=args.debug)
    w(lines[0])
    w("")
    for line in _wrap(sc.description, ""):
        w(line)
    for line in lines[1:]:
        w(line)
    if cma.zone.spanned_pages <= 4 * MAP_WIDTH:
        area = dict.fromkeys(range(cma.base_pfn, cma.end_pfn), "^")
        for title, zone in (("Before:", before), ("After:", cma.zone)):
            w("")
            w(title)
            for line in format_zone(zone, marks=[("CMA area", area)]):
                w(line)
    return 0


# ---------------------------------------------------------------- gigantic
#: Zone snapshots a node folder may hold, in zone order.
_NODE_FILES = ("DMA", "DMA32", "Normal", "Movable")


def _load_node_dir(folder: Path, zero_flags: str):  # -> contig.node.Node
    """The node in ``folder`` (one ``<Zone>.npz`` per zone); bad input -> UsageError."""
    import zipfile

    from .node import load_node
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder (give the folder holding DMA.npz, "
                         f"DMA32.npz, Normal.npz)")
    paths = [folder / f"{z}.npz" for z in _NODE_FILES if (folder / f"{z}.npz").is_file()]
    if not paths:
        raise UsageError(f"{folder} holds no zone snapshot (DMA.npz, DMA32.npz, Normal.npz)")
    try:
        return load_node(paths, zero_flags=zero_flags)
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise UsageError(f"cannot read the snapshots in {folder}: {_one_line(exc)}") from None


def _load_run_json(folder: Path) -> dict:
    import json
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder (give a recorded run's folder, e.g. "
                         f"contig/data/gigantic/run-05)")
    try:
        rec = json.loads((folder / "run.json").read_text())
        rec["picks"] = [int(p) for p in rec["picks"]]
        int(rec["count"])
    except FileNotFoundError:
        raise UsageError(f"{folder} holds no run.json: not a recorded run (use --snapshot to "
                         f"predict from its snapshots)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{folder}/run.json is not a recorded run: {_one_line(exc)}") from None
    return rec


def _predict(w: Callable[[str], None], node: Any, count: int) -> list[int]:
    """Print every candidate alloc_contig_pages() tries and the picks; return the picks."""
    from .gigantic import GIGANTIC_NR_PAGES, attempts
    w("")
    w(f"Node {node.nid}: " + ", ".join(f"{z.name} [{z.start_pfn:#x}, {z.end_pfn:#x})"
                                       for z in node))
    w("")
    w(f"Candidates tried (alloc_contig_pages(), Linux 6.18 model, {count} request(s), "
      f"each 1 GiB page taken before the next):")
    tried = attempts(node, GIGANTIC_NR_PAGES, count)
    for a in tried:
        res = "taken" if a.ok else ("not tried" if a.ret is None else errname(a.ret))
        why = a.why.removeprefix(f"{res}: ").removeprefix(f"{res} ")
        text = f"request {a.request}: {a.zone} PFN {a.pfn:#x}: {res}: {why}"
        for line in _wrap(text, "  ", indent=6):
            w(line)
    picks = [a.pfn for a in tried if a.ok]
    w("")
    w("Predicted picks: " + (", ".join(f"{p:#x}" for p in picks) or "none")
      + (f" (request {len(picks) + 1} fails)" if len(picks) < count else ""))
    return picks


def _compare(w: Callable[[str], None], predicted: list[int], actual: list[int],
             failed_at: int | None, count: int) -> bool:
    """Print hit or miss per request and the verdict; True when everything matches."""
    def show(picks: list[int], k: int, failed: int | None) -> str:
        if k <= len(picks):
            return f"{picks[k - 1]:#x}"
        return "fails" if failed == k or failed is None else "-"

    pred_failed = len(predicted) + 1 if len(predicted) < count else None
    w("")
    w("Predicted vs actual:")
    hits = 0
    compared = 0
    for k in range(1, count + 1):
        p, a = show(predicted, k, pred_failed), show(actual, k, failed_at)
        if p == "-" and a == "-":
            break
        compared += 1
        ok = p == a
        hits += ok
        w(f"  request {k}: predicted {p:>9}, kernel {a:>9}: {'hit' if ok else 'miss'}")
    if hits == compared:
        for line in _wrap(f"the prediction matches the kernel on all {compared} request(s)"
                          + (f" (the kernel's request {failed_at} failed, as predicted)"
                             if failed_at else ""), "Verdict: HIT: ", indent=2):
            w(line)
        return True
    same = sorted(predicted) == sorted(actual) and pred_failed == failed_at
    for line in _wrap(f"{hits} of {compared} request(s) match"
                      + ("; the same ranges were taken, in another order" if same else ""),
                      "Verdict: MISS: ", indent=2):
        w(line)
    return False


def _per_request(w: Callable[[str], None], folder: Path, zero_flags: str) -> bool:
    """A protocol-2 run: each request predicted from its own snapshot, tries compared with the trace."""
    from .gigantic import replay_requests

    def pick(p: int | None) -> str:
        return "fails" if p is None else f"{p:#x}"

    def tries(t: list[tuple[int, bool]] | None) -> str:
        if t is None:
            return "not traced"
        return ", ".join(f"{p:#x} {'taken' if ok else 'failed'}" for p, ok in t) or "none"

    rows = replay_requests(folder, zero_flags=zero_flags)
    w("")
    for line in _wrap("Each request from the snapshot taken just before it (protocol 2), with "
                      "the tries that got past isolation to test_pages_isolated() (model; kernel "
                      "trace) and the pages migrated for them:", "", indent=2):
        w(line)
    for r in rows:
        km = "?" if r.kernel_migrated is None else r.kernel_migrated
        text = (f"request {r.request} ({r.snapshot}): predicted {pick(r.predicted)}, kernel "
                f"{pick(r.actual)}; tries: model {tries(r.model_tried)}; kernel "
                f"{tries(r.kernel_tried)}; migrated: model {r.model_migrated}, kernel {km}: "
                f"{'hit' if r.hit else 'miss'}")
        for line in _wrap(text, "  ", indent=4):
            w(line)
    hits = sum(r.hit for r in rows)
    w(f"Per request: {hits} of {len(rows)} hit")
    return hits == len(rows)


def _live_out_dir(out: str | None) -> Path:
    import time
    if out is not None:
        d = Path(out)
        if d.exists() and (not d.is_dir() or any(d.iterdir())):
            raise UsageError(f"{d} already exists and is not an empty folder: a recorded run "
                             f"is never overwritten; give a new --out")
        return d
    base = Path.cwd() / time.strftime("gigantic-run-%Y%m%dT%H%M%SZ", time.gmtime())
    d, k = base, 1
    while d.exists():
        k += 1
        d = base.with_name(f"{base.name}-{k}")
    return d


def cmd_gigantic(args: argparse.Namespace, w: Callable[[str], None]) -> int:
    if args.live:
        return _gigantic_live(args, w)
    if args.verify is not None or args.out is not None:
        raise UsageError("--verify and --out go with --live")
    folder = Path(args.run if args.run is not None else args.snapshot)
    rec = _load_run_json(folder) if args.run is not None else None
    if rec is not None:
        count = args.n if args.n is not None else int(rec["count"])
        if count > int(rec["count"]):
            raise UsageError(f"{folder} recorded {rec['count']} request(s); -n must be at "
                             f"most {rec['count']}, not {count}")
    else:
        count = args.n if args.n is not None else 1
    w(f"ARG {'run' if rec is not None else 'snapshot'} {folder}")
    w(f"ARG n {count}")
    w("ARG nr_pages 262144 (1 GiB of 4 KiB pages)")
    w(f"ARG zero_flags {args.zero_flags}")
    w("ARG kernel 6.18")
    node = _load_node_dir(folder, args.zero_flags)
    predicted = _predict(w, node, count)
    if rec is None:
        return 0
    actual = rec["picks"][:count]
    failed = rec.get("failed_at_request")
    failed = failed if failed is not None and failed <= count else None
    w("")
    for line in _wrap(f"Recorded picks (kernel {rec.get('kernel', '?')}, "
                      f"{rec.get('taken_at', '?')}): "
                      + (", ".join(f"{p:#x}" for p in actual) or "none")
                      + (f" (request {failed} failed)" if failed else ""), "", indent=2):
        w(line)
    _compare(w, predicted, actual, failed, count)
    if rec.get("protocol", 1) >= 2 and args.n is None:
        _per_request(w, folder, args.zero_flags)
    return 0


def _gigantic_live(args: argparse.Namespace, w: Callable[[str], None]) -> int:
    import json
    import time

    from . import live
    if args.verify is None:
        raise UsageError("--live needs --verify N (how many 1 GiB pages to ask the kernel for)")
    if args.n is not None:
        raise UsageError("-n goes with --run or --snapshot; --live takes --verify N")
    sysfs = Path(args.sysfs) if args.sysfs is not None else live.GIGANTIC_SYSFS
    nr = sysfs / "nr_hugepages"
    if not nr.is_file():
        raise UsageError(f"{nr} does not exist: this kernel offers no 1 GiB hugetlb pages, "
                         f"so there is nothing to check")
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        raise UsageError(f"gigantic --live writes {nr}: it needs root")
    out = _live_out_dir(args.out)
    proc = Path(args.proc) if args.proc is not None else Path("/proc")
    w(f"ARG live {nr}")
    w(f"ARG verify {args.verify}")
    w(f"ARG out {out}")
    w(f"ARG zero_flags {args.zero_flags}")
    try:
        rec = live.record_gigantic_run(args.verify, out, sysfs_dir=sysfs, proc_root=proc)
    except live.LiveError as exc:
        raise UsageError(str(exc)) from None
    except SystemExit as exc:  # SIGTERM or SIGHUP, turned into SystemExit by contig.live
        _write_stderr(f"contig: stopped by a signal; {nr.name} was put back to "
                      f"{nr.read_text().strip()}\n")
        return int(exc.code) if isinstance(exc.code, int) else 1
    except OSError as exc:
        raise UsageError(f"the live run failed (the pool was put back): {_one_line(exc)}") \
            from None
    actual, failed = rec["picks"], rec["failed_at_request"]
    w(f"ARG kernel {rec['kernel']}")
    w("")
    for line in _wrap(f"Recorded in {out}: the kernel took "
                      + (", ".join(f"{p:#x}" for p in actual) or "none")
                      + (f" (request {failed} failed)" if failed else "")
                      + f"; {nr.name} put back to {nr.read_text().strip()}", "", indent=2):
        w(line)
    settled = {True: "yes", False: "no (the migrate_pages call is not available here)",
               None: "not asked for"}[rec.get("settled")]
    traced = ("on" if rec.get("kernel_tries") is not None
              else f"off ({rec.get('trace_unavailable') or 'not available'})")
    for line in _wrap(f"Per-CPU LRU-add batches emptied before each snapshot and request: "
                      f"{settled}; the kernel's tries traced: {traced}; a snapshot before each "
                      f"of the {len(rec['request_seconds'])} request(s)", "", indent=2):
        w(line)
    try:
        t0 = time.perf_counter()
        node = _load_node_dir(out, args.zero_flags)
        t1 = time.perf_counter()
        predicted = _predict(w, node, args.verify)
        t2 = time.perf_counter()
    except UsageError:
        raise
    except Exception as exc:  # a bug in the model: say so in one line, keep the run
        _write_stderr(f"contig: error: the run is recorded in {out} and the pool was put back, "
                      f"but the prediction failed: {type(exc).__name__}: {_one_line(exc)}\n")
        return 1
    hit = _compare(w, predicted, actual, failed, args.verify)
    each = _per_request(w, out, args.zero_flags)
    secs = rec["request_seconds"]
    w("")
    w("Timings:")
    w("  kernel, per request (nr_hugepages write: alloc_pool_huge_folio(), scan and "
      "migration): " + ", ".join(f"{s:.3f}" for s in secs) + " s")
    w(f"  snapshot of the node (kpageflags, kpagecount): {rec['snapshot_seconds']:.2f} s")
    w(f"  prediction: load the node {t1 - t0:.2f} s, predict {t2 - t1:.2f} s")
    (out / "prediction.json").write_text(json.dumps({
        "model": "contig.gigantic.predict_picks (Linux 6.18 model)",
        "zero_flags": args.zero_flags, "count": args.verify,
        "predicted": predicted, "predicted_hex": [hex(p) for p in predicted],
        "hit": hit, "hit_per_request": each,
        "load_seconds": round(t1 - t0, 3), "predict_seconds": round(t2 - t1, 3),
    }, indent=1) + "\n")
    return 0


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``python -m contig``."""
    p = _Parser(
        prog="contig",
        description="A teaching simulator of Linux v4.4's alloc_contig_range().",
        epilog="Run 'contig COMMAND --help' for the options and examples of each command.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True,
                           parser_class=_Parser)

    def add(name: str, help_: str, description: str) -> argparse.ArgumentParser:
        epilog = _EXAMPLES[name]
        if name == "run":
            epilog = _MAP_KEY + "\n\n" + epilog
        return sub.add_parser(name, help=help_, epilog=epilog,
                              description=textwrap.fill(description, TEXT_WIDTH - 2),
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    r = add("run", "run alloc_contig_range() on a zone and narrate it",
            "Run alloc_contig_range() on a zone given as a map (--map) or a named scenario "
            "(--scenario), printing every parameter, the zone before, the narrated trace, "
            "the kernel log, the return value and the zone after.")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--map", metavar="MAP", help="one character per PFN, e.g. 'MM..UUUU'")
    src.add_argument("--scenario", metavar="NAME", help="a named scenario (contig scenario "
                                                        "--list)")
    r.add_argument("--blocks", metavar="B", help="one pageblock type per pageblock "
                                                 "(U M R H C I); default all M")
    r.add_argument("--geometry", metavar="MAX_ORDER,PAGEBLOCK_ORDER", type=_geometry,
                   help="the buddy geometry (default 4,2: 8-page max blocks, 4-page "
                        "pageblocks; x86-64 is 11,9)")
    r.add_argument("--start-pfn", metavar="N", type=_pfn, help="first PFN of the zone "
                                                               "(default 0)")
    r.add_argument("--start", metavar="PFN", type=_pfn,
                   help="first PFN of the request (default: the scenario's)")
    r.add_argument("--end", metavar="PFN", type=_pfn,
                   help="one past the last PFN of the request (default: the scenario's)")
    r.add_argument("--migratetype", choices=sorted(_MIGRATETYPES),
                   help="what alloc_contig_range() is called with (default: movable, or "
                        "the scenario's)")
    r.add_argument("--fatal-signal-at", metavar="N", type=_positive,
                   help="a fatal signal is pending at the N-th check of the migration loop")
    r.add_argument("--busy", metavar="PFN,...", type=_pfn_list,
                   help="pages whose migration always returns -EAGAIN (stuck under "
                        "writeback)")
    r.add_argument("--pcp", metavar="HIGH,BATCH", type=_pair,
                   help="per-CPU list high and batch (default: the small-zone 0, pages "
                        "go to the buddy at once)")
    r.add_argument("-v", "--verbose", action="store_true",
                   help="also print each event as a tracepoint-style line")
    r.set_defaults(func=cmd_run)

    q = add("quiz", "a seeded problem: predict what happens (-c answers)",
            "Print a random zone and request made from SEED, with every parameter, and ask "
            "what alloc_contig_range() does: the aligned range, outer_start, outer_end, "
            "the return value and the final map. Each answer is ? unless -c is given. The "
            "same seed gives the same problem forever (generator version "
            f"{_scenarios.GENERATOR_VERSION}).")
    q.add_argument("-s", "--seed", type=int, default=0, help="the random seed (default 0)")
    q.add_argument("-c", "--compute", action="store_true",
                   help="compute the answers, each with a one-line reason")
    q.set_defaults(func=cmd_quiz)

    s = add("scenario", "list the named scenarios, or show and run one",
            "With --list, print each scenario's name and title. With a NAME, print its "
            "description and run it (as 'contig run --scenario NAME' does).")
    s.add_argument("name", nargs="?", metavar="NAME", help="the scenario to show and run")
    s.add_argument("--list", action="store_true", help="list the scenarios")
    s.add_argument("-v", "--verbose", action="store_true",
                   help="also print each event as a tracepoint-style line")
    s.set_defaults(func=cmd_scenario)

    n = add("snapshot", "capture a zone of this machine (root) into a .npz snapshot",
            "Read /proc/zoneinfo, /proc/iomem, /proc/kpageflags and /proc/kpagecount "
            "and save one zone as a kpageflags snapshot (.npz). Needs root.")
    n.add_argument("--zone", required=True, metavar="NAME",
                   help="the zone, as /proc/zoneinfo names it (DMA, DMA32, Normal ...)")
    n.add_argument("-o", "--output", required=True, metavar="FILE.npz",
                   help="where to write the snapshot: written to a temporary file in "
                        "FILE's directory and renamed to FILE when complete, so FILE is "
                        "never left half written (not on an error, not on Ctrl-C); refused "
                        "if FILE is a symbolic link (checked with lstat before writing and "
                        "again before the rename, which replaces the name and never follows "
                        "a link)")
    n.add_argument("--node", type=_node, metavar="N", help="the NUMA node (default 0)")
    n.set_defaults(func=cmd_snapshot)

    c = add("cma", "the Contiguous Memory Allocator: list or run a CMA scenario",
            "With --list, print each CMA scenario's name and title. With a NAME, build its "
            "zone and CMA area, make its requests through cma_alloc() (Linux v4.4, mm/cma.c) and "
            "print each slot tried, what alloc_contig_range() returned for it, the dmesg lines "
            "and the bitmap.")
    c.add_argument("name", nargs="?", metavar="NAME", help="the CMA scenario to run")
    c.add_argument("--list", action="store_true", help="list the CMA scenarios")
    c.add_argument("-d", "--debug", action="store_true",
                   help="also print cma_alloc()'s pr_debug lines")
    c.set_defaults(func=cmd_cma)

    g = add("gigantic", "where Linux 6.18 puts 1 GiB hugetlb pages: predict, replay, check",
            "Predict which 1 GiB ranges Linux 6.18's alloc_contig_pages() takes for N "
            "successive hugetlb requests (mm/page_alloc.c, mm/hugetlb.c), printing every "
            "candidate tried and why it failed. --run replays a recorded run and compares "
            "with what the kernel took; --snapshot predicts from zone snapshots; --live (root) "
            "snapshots this machine, asks the kernel for N pages one at a time through "
            "nr_hugepages, puts the pool back (also on an error or Ctrl-C) and compares.")
    gsrc = g.add_mutually_exclusive_group(required=True)
    gsrc.add_argument("--run", metavar="DIR", help="a recorded run (run.json and <Zone>.npz)")
    gsrc.add_argument("--snapshot", metavar="DIR",
                      help="a folder of zone snapshots: DMA.npz, DMA32.npz, Normal.npz")
    gsrc.add_argument("--live", action="store_true",
                      help="as root on Linux 6.18: record a run on this machine and compare")
    g.add_argument("-n", type=_positive, metavar="N",
                   help="requests to predict (default: the run's count; 1 for --snapshot)")
    g.add_argument("--verify", type=_positive, metavar="N",
                   help="with --live: how many 1 GiB pages to ask the kernel for")
    g.add_argument("--out", metavar="DIR",
                   help="with --live: where to record the run (a new folder; default "
                        "./gigantic-run-<UTC time>); never overwritten")
    g.add_argument("--zero-flags", choices=("pcp", "kernel"), default="pcp",
                   help="read an in-use page with no flag as a per-CPU free page (pcp, the "
                        "default) or as a kernel allocation")
    g.add_argument("--sysfs", help=argparse.SUPPRESS)   # tests: a fake hstate folder
    g.add_argument("--proc", help=argparse.SUPPRESS)    # tests: a fake /proc
    g.set_defaults(func=cmd_gigantic)
    return p


#: Exit status after Ctrl-C (128 + SIGINT), and after a closed output pipe.
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    0 on success; 2 for bad input (one line on stderr); 130 after Ctrl-C
    (``contig: interrupted`` on stderr); 141 when stdout is a pipe closed
    early (nothing printed).
    """
    try:
        return _main(argv)
    except KeyboardInterrupt:
        _write_stderr("contig: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Point stdout at /dev/null: Python's final flush must not fail again.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        return EXIT_BROKEN_PIPE


def _write_stderr(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(text)
        sys.stderr.flush()


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    lines: list[str] = []
    try:
        status = args.func(args, lines.append)
    except (UsageError, ValueError, TypeError, OverflowError) as exc:
        # ValueError, TypeError and OverflowError: the model refusing bad input
        _write_stderr(f"contig: error: {_one_line(exc)}\n")
        return 2
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()  # a closed pipe shows here, inside main(), not at exit
    return status
