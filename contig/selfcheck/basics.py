"""Check yourself for notebooks 00-03: maps, the buddy allocator, migratetypes, alignment.

One seeded generator per lesson; each returns a :class:`~contig.selfcheck.Problem`
whose answers come from the model itself (a copy of the zone is changed by
``put_page()`` / ``alloc_pages()``, or the geometry's ``pfn_max_align_*`` is
asked), never from a second implementation:

* :func:`read_map_problem` (00): read a map: free PFNs, a page's kind, a
  pageblock's type;
* :func:`buddy_problem` (01): free one page; where does the merged block
  start and what order does it reach?  (``__free_one_page()``);
* :func:`migratetype_problem` (02): which list a freed page's block lands on;
  where an allocation takes its page from and whether it steals a pageblock
  (``__rmqueue()``);
* :func:`alignment_problem` (03): ``pfn_max_align_down/up`` for a geometry
  and a request.

:func:`merge_steps` spells out the buddy arithmetic of one free, step by
step; the buddy lesson and the reasons of :func:`buddy_problem` use it.

Generators draw only from ``random.Random(seed).random()`` (the one method
whose sequence Python guarantees across releases), so a seed gives the same
problem forever.
"""

from __future__ import annotations

import random
from typing import Any

from ..buddy import FALLBACKS
from ..geometry import Geometry
from ..mapfmt import KIND_DESCRIPTIONS
from ..pcp import alloc_pages, put_page
from ..scenarios import random_zone
from ..zone import MigrateType, Zone
from . import Problem, Question, normalise
from . import below as _below
from . import check_seed as _seed
from . import pick as _pick

__all__ = [
    "ALIGNMENT_GEOMETRIES",
    "SMALL",
    "alignment_problem",
    "buddy_problem",
    "map_text",
    "merge_steps",
    "migratetype_problem",
    "read_map_problem",
]

#: The course's small geometry: 8-page max blocks, 4-page pageblocks.
SMALL = Geometry(max_order=4, pageblock_order=2)


# ---------------------------------------------------------------- helpers
def map_text(zone: Zone, indent: str = "  ") -> str:
    """The zone's map under a PFN ruler, and its blocks map under the pageblocks.

    For small zones (up to 100 PFNs, starting at a multiple of 10)::

          PFN  0         1
               0123456789012345
          map  ..MU.FMM....p.M.
       blocks  M   M   U   M
    """
    n, s = zone.spanned_pages, zone.start_pfn
    pbn = zone.geometry.pageblock_nr_pages
    m = zone.to_map()
    tens = "".join(str((s + i) // 10 % 10) if (s + i) % 10 == 0 else " " for i in range(n))
    units = "".join(str((s + i) % 10) for i in range(n))
    bstart = zone.geometry.pageblock_start(s)
    blocks = "".join(ch.ljust(pbn) for ch in zone.blocks_map())[s - bstart: s - bstart + n]
    return "\n".join([f"{indent}   PFN  {tens.rstrip()}", f"{indent}        {units}",
                      f"{indent}   map  {m}", f"{indent}blocks  {blocks.rstrip()}"])




def _as_mt(x: Any) -> MigrateType:
    """A MigrateType from anything :func:`contig.selfcheck.normalise` reads as one."""
    return MigrateType[normalise(x, "migratetype")]




def _block_of(zone: Zone, pfn: int) -> tuple[int, int, MigrateType]:
    """The free block ``(head, order, list type)`` that covers ``pfn``."""
    for head, order, mt in zone.free_blocks():
        if head <= pfn < head + (1 << order):
            return head, order, mt
    raise ValueError(f"PFN {pfn} is not in a free buddy block")


def _describe(zone: Zone, pfn: int) -> str:
    """What is at ``pfn``, in the words of page_is_buddy()."""
    if not zone.spans(pfn):
        return f"PFN {pfn} is outside the zone"
    i = pfn - zone.start_pfn
    if zone.order[i] >= 0:
        return f"PFN {pfn} heads a free order-{int(zone.order[i])} block"
    kind = zone.to_map()[i]
    if kind == ".":
        head, order, _ = _block_of(zone, pfn)
        return f"PFN {pfn} is inside the free order-{order} block at {head}, not a head"
    return f"PFN {pfn} is in use ({kind})"


# ---------------------------------------------------------------- the buddy arithmetic
def merge_steps(zone: Zone, pfn: int, order: int = 0, migratetype: int | None = None) -> list[str]:
    """The steps of ``__free_one_page()`` freeing 2^order pages at ``pfn``, in words.

    Reads ``zone`` as it is *before* the free (nothing is changed).  Each
    step names the buddy ``pfn XOR 2^order``, says whether it heads a free
    block of exactly that order (``page_is_buddy()``), and if so the merged
    block; the last line says where and why merging stopped.  The merge cap
    is that of mm/page_alloc.c, Linux v4.4: ``MAX_ORDER-1`` for ordinary
    types, ``pageblock_order`` for a page freed as ISOLATE.

    :param migratetype: the type the page is freed with (default: its
        pageblock's type).
    """
    g = zone.geometry
    mt = zone.get_pageblock_migratetype(pfn) if migratetype is None else MigrateType(migratetype)
    cap = g.max_order - 1 if mt != MigrateType.ISOLATE else min(g.max_order - 1, g.pageblock_order)
    head = pfn
    lines = []
    while True:
        size = 1 << order
        if order >= cap:
            why = ("MAX_ORDER-1, the largest order" if mt != MigrateType.ISOLATE
                   else "pageblock_order, the cap for a page freed as ISOLATE")
            lines.append(f"order {order}: the block [{head}, {head + size}) has reached order "
                         f"{cap} = {why}: stop")
            break
        buddy = head ^ size
        what = _describe(zone, buddy)
        i = buddy - zone.start_pfn
        if zone.spans(buddy) and zone.order[i] == order:
            new = head & buddy
            lines.append(f"order {order}: buddy = {head} ^ {size} = {buddy}; {what}: merge "
                         f"into [{new}, {new + 2 * size}), order {order + 1}")
            head, order = new, order + 1
        else:
            lines.append(f"order {order}: buddy = {head} ^ {size} = {buddy}; {what}, not a "
                         f"free order-{order} block: stop")
            break
    lines.append(f"result: a free order-{order} block [{head}, {head + (1 << order)}) "
                 f"on the {mt.name} list")
    return lines


# ---------------------------------------------------------------- 00: reading a map
def read_map_problem(seed: int) -> Problem:
    """Read a 16-PFN map: which PFNs are free, what is one page, what type is one pageblock.

    The zone is :func:`contig.scenarios.random_zone` of the seed (small
    geometry); the answers are read from the zone the map builds.
    """
    seed = _seed(seed)
    z = random_zone(seed, SMALL, 16)
    m = z.to_map()
    rng = random.Random(seed * 7919 + 5)
    used = [i for i, c in enumerate(m) if c != "."] or list(range(16))
    k = used[_below(rng, len(used))]
    j = _below(rng, 16)
    free = [z.start_pfn + i for i, c in enumerate(m) if c == "."]
    pcp = [z.start_pfn + i for i, c in enumerate(m) if c == "p"]
    bt = z.get_pageblock_migratetype(j)
    a = _below(rng, 12)
    b = a + 2 + _below(rng, 16 - a - 1)
    in_range = sum(1 for i in range(a, b) if m[i] == ".")
    page_type = _as_mt(m[j]).name if m[j] in "UMRH" else None
    free_reason = f"the '.' characters are at PFNs {free}" if free else "no PFN is '.'"
    if pcp:
        free_reason += (f"; PFN(s) {pcp} ('p') are free too, but wait on a per-CPU list, "
                        "outside the buddy allocator")
    return Problem(
        title="Read a map",
        setup=(f"A zone of 16 PFNs, {SMALL}.\n{map_text(z)}\n"
               "(one letter per PFN; one letter per 4-page pageblock)"),
        questions=[
            Question("free_pfns", "which PFNs are free in the buddy allocator? (a list)",
                     free, free_reason + ".", kind="pfns",
                     hints=lambda given: (
                         f"PFN(s) {sorted(set(given) & set(pcp))} are 'p': free, but parked on a "
                         "per-CPU list, not on a free list of the buddy allocator."
                         if set(given) & set(pcp) else None)),
            Question("kind", f"what is PFN {k}? (its map character)", m[k],
                     f"PFN {k} is {m[k]!r}: {KIND_DESCRIPTIONS[m[k]]}.", kind="mapchar"),
            Question("pageblock", f"what type is the pageblock holding PFN {j}? (U, M, R, H, C or I)",
                     bt.char,
                     f"PFN {j} is in the pageblock [{SMALL.pageblock_start(j)}, "
                     f"{SMALL.pageblock_start(j) + SMALL.pageblock_nr_pages}), "
                     f"blocks letter {bt.char!r}: {bt.name}.", kind="migratetype",
                     hints=((page_type, "that is the page's letter in the map row; the type "
                                        "of its pageblock is in the blocks row, one letter "
                                        "per 4 PFNs."),) if page_type != bt.name else ()),
            Question("free_in_range", f"how many pages of [{a}, {b}) are free in the buddy "
                     "allocator?", in_range,
                     f"[{a}, {b}) is half-open: PFNs {a} to {b - 1}, {b - a} pages; {in_range} "
                     "of them are '.'.", kind="int",
                     hints=((in_range + (b < 16 and m[b] == "."), f"[{a}, {b}) stops before PFN {b}: the "
                             "end of a range is not in it."),
                            (sum(1 for i in range(a, b) if m[i] in ".p"),
                             "the 'p' pages are free but not in the buddy allocator."))),
        ],
        seed=seed)


# ---------------------------------------------------------------- 01: freeing and merging
def _buddy_map(rng: random.Random, n: int, g: Geometry) -> tuple[str, int]:
    """A map and a PFN in use whose free will merge 0 .. MAX_ORDER-1 times."""
    kinds = ["." if rng.random() < 0.4 else _pick(rng, {"M": 6, "F": 2, "U": 2}) for _ in range(n)]
    p = _below(rng, n)
    kinds[p] = "M"
    for k in range(g.max_order - 1):
        size = 1 << k
        b = ((p >> k) ^ 1) << k
        if rng.random() < 0.7:
            kinds[b:b + size] = ["."] * size          # a free buddy of order k: merge
        else:
            if all(c == "." for c in kinds[b:b + size]):
                kinds[b + _below(rng, size)] = "M"    # not a whole free buddy: stop here
            break
    return "".join(kinds), p


def buddy_problem(seed: int) -> Problem:
    """Free one page of a 16-PFN zone: where does the merged block start, what order is it?

    The answer is what :func:`contig.pcp.put_page` does to a copy of the zone
    (the page passes the per-CPU list straight to ``__free_one_page()``: the
    zone is small, so its per-CPU ``high`` is 0).
    """
    seed = _seed(seed)
    rng = random.Random(seed)
    m, p = _buddy_map(rng, 16, SMALL)
    z = Zone.from_map(m, geometry=SMALL)
    after = z.copy()
    put_page(after, p)
    head, order, _mt = _block_of(after, p)
    steps = merge_steps(z, p)
    blocks = ", ".join(f"[{h}, {h + (1 << o)}) order {o}" for h, o, _ in z.free_blocks())
    n_before, n_after = len(z.free_blocks()), len(after.free_blocks())
    reason = "; ".join(s.split(": ", 1)[1] if s.startswith("order") else s for s in steps[:-1])
    return Problem(
        title="Free a page",
        setup=(f"A zone of 16 PFNs, {SMALL} (orders 0..3), all pageblocks MOVABLE.\n"
               f"{map_text(z)}\n"
               f"Free blocks now: {blocks or 'none'}.\n"
               f"The page at PFN {p} is freed (put_page)."),
        questions=[
            Question("order", "what order does the merged free block reach?", order,
                     f"{reason}.", kind="int"),
            Question("start", "at which PFN does that block start?", head,
                     f"the block of order {order} holding PFN {p} starts at "
                     f"{p} & ~{(1 << order) - 1} = {head}.", kind="int",
                     hints=((p, f"PFN {p} is where the freed page is; a merged block starts at "
                                "a multiple of its size."),) if head != p else ()),
            Question("nr_free_blocks", "how many free blocks does the zone hold afterwards?",
                     n_after,
                     f"{n_before} before; the freed page adds one block and each of the "
                     f"{order} merge(s) joins two blocks into one: {n_before} + 1 - {order} = "
                     f"{n_after}.", kind="int",
                     hints=((n_before + 1, "each merge turns two free blocks into one."),)),
        ],
        seed=seed)


# ---------------------------------------------------------------- 02: migratetypes
_BLOCK_WEIGHTS = {"M": 45, "U": 25, "R": 15, "C": 15}
_IN_USE = {"M": "M", "C": "M", "U": "U", "R": "U"}


def _migratetype_layout(rng: random.Random) -> tuple[list[str], str, list[str], int]:
    """Pageblock types, the requested type, page kinds, and the PFN to free."""
    pbn = SMALL.pageblock_nr_pages
    blocks = [_pick(rng, _BLOCK_WEIGHTS) for _ in range(4)]
    want = _pick(rng, {"M": 5, "U": 4, "R": 1})
    starve = rng.random() < 0.7   # empty the requested type's lists: a fallback happens
    kinds = []
    for b in blocks:
        for _ in range(pbn):
            if starve and b == want:
                kinds.append(_IN_USE[b])
            else:
                kinds.append("." if rng.random() < 0.45 else _IN_USE[b])
    if all(c != "." for c in kinds):   # something must be free somewhere
        others = [i for i in range(len(blocks)) if blocks[i] != want] or [0]
        blk = others[_below(rng, len(others))]
        kinds[blk * pbn + _below(rng, pbn)] = "."
    used = [i for i, c in enumerate(kinds) if c != "."]
    return blocks, want, kinds, used[_below(rng, len(used))]


def migratetype_problem(seed: int) -> Problem:
    """Free lists by migratetype: where a freed page lands; where an allocation comes from.

    Two independent questions on the same 16-PFN zone (four pageblocks of
    mixed types): (a) a page is freed (``put_page``): on which type's list
    does its merged block sit?  (b) instead, one page is allocated for a
    type (``alloc_pages``): from which type's list does it come, and does
    a pageblock change its type (``__rmqueue_fallback()`` stealing)?
    """
    seed = _seed(seed)
    rng = random.Random(seed)
    pbn = SMALL.pageblock_nr_pages
    while True:   # draw until the allocation of (b) can succeed (almost always the first time)
        blocks, want, kinds, p = _migratetype_layout(rng)
        z = Zone.from_map("".join(kinds), geometry=SMALL, blocks="".join(blocks))
        want_mt = _as_mt(want)
        zb = z.copy()
        got = alloc_pages(zb, 0, want_mt, kind=_IN_USE[want])
        if got is not None:
            break

    # (a) the free
    za = z.copy()
    put_page(za, p)
    head, order, list_mt = _block_of(za, p)
    pb = z.get_pageblock_migratetype(p)
    head_mt = z.get_pageblock_migratetype(head).name
    reason_a = (f"free_hot_cold_page() remembers the type of PFN {p}'s pageblock, {pb.name}, "
                f"and __free_one_page() puts the merged block [{head}, {head + (1 << order)}) "
                f"(order {order}) on that type's list")
    if z.get_pageblock_migratetype(head) != list_mt:
        reason_a += (f", although its head PFN {head} lies in a "
                     f"{z.get_pageblock_migratetype(head).name} pageblock: v4.4 merges without "
                     "looking at the buddy's type")

    # (b) the allocation (made above, on zb)
    src_head, src_order, src_mt = _block_of(z, got)
    changed = [(k, a, b) for k, (a, b) in enumerate(zip(z.blocks_map(), zb.blocks_map()))
               if a != b]
    pbo = SMALL.pageblock_order
    if src_mt == want_mt:
        reason_b = (f"the {want_mt.name} lists are not empty: __rmqueue_smallest() takes the "
                    f"first block of the smallest order there, [{src_head}, "
                    f"{src_head + (1 << src_order)}) (order {src_order}), and PFN {got} is "
                    "its first page")
    elif src_mt == MigrateType.CMA:
        reason_b = (f"the MOVABLE lists are empty, so __rmqueue_cma_fallback() tries the CMA "
                    f"lists next: the block [{src_head}, {src_head + (1 << src_order)}) "
                    f"(order {src_order}) gives PFN {got}")
    else:
        fb = " then ".join(MigrateType(t).name for t in FALLBACKS[int(want_mt)])
        reason_b = (f"the {want_mt.name} lists are empty, so __rmqueue_fallback() looks at "
                    f"{fb}, largest block first: [{src_head}, {src_head + (1 << src_order)}) "
                    f"(order {src_order}) on the {src_mt.name} list gives PFN {got}")
    if changed:
        steal = "; ".join(f"the pageblock [{k * pbn}, {(k + 1) * pbn}) goes from "
                          f"{_as_mt(a).name} to {_as_mt(b).name}" for k, a, b in changed)
        reason_steal = f"the fallback steals: {steal}"
    elif src_mt == want_mt:
        reason_steal = "no fallback happened, so no pageblock changes its type"
    elif src_mt == MigrateType.CMA:
        reason_steal = "taking a page from a CMA list never changes a CMA pageblock's type"
    else:
        reason_steal = (f"the fallback took a page but not the pageblock: the found block is "
                        f"order {src_order}, below pageblock_order ({pbo}), and fewer than half "
                        "of the pageblock's pages were free"
                        if src_order >= pbo // 2 or want_mt != MigrateType.MOVABLE else
                        f"the fallback took a page but not the pageblock: a MOVABLE request "
                        f"steals only when the found block is at least order "
                        f"pageblock_order/2 = {pbo // 2}, and it is order {src_order}")
    return Problem(
        title="Free lists by migratetype",
        setup=(f"A zone of 16 PFNs, {SMALL}, four pageblocks of mixed types.\n"
               f"{map_text(z)}\n"
               "Free blocks sit on the list of the pageblock that holds their head.\n"
               f"(a) The page at PFN {p} is freed (put_page).\n"
               f"(b) Instead (on the zone as shown), one page is allocated for "
               f"{want_mt.name} (alloc_pages, order 0)."),
        questions=[
            Question("freed_list", "(a) on which migratetype's free list does the merged block "
                     "sit?", list_mt.name, reason_a + ".", kind="migratetype",
                     hints=((head_mt, "the list is chosen by the type of the freed page's "
                                      "pageblock, before merging; v4.4 does not look again at "
                                      "the merged block's head."),)
                     if head_mt != list_mt.name else ()),
            Question("source", "(b) from which migratetype's free list does the page come?",
                     src_mt.name, reason_b + ".", kind="migratetype",
                     hints=((want_mt.name, f"look at the free blocks in {want_mt.name} "
                                           "pageblocks: are there any?"),)
                     if src_mt != want_mt else ()),
            Question("steals", "(b) does any pageblock change its type? (True/False)",
                     bool(changed), reason_steal + ".", kind="bool"),
            Question("freed_order", "(a) what order does the merged block reach? (notebook 01)",
                     order, f"freeing PFN {p} merges up to [{head}, {head + (1 << order)}): "
                     f"order {order}; buddies merge whatever list they are on.", kind="int"),
        ],
        seed=seed)


# ---------------------------------------------------------------- 03: alignment
#: (label, geometry) pairs alignment problems are drawn from.
ALIGNMENT_GEOMETRIES: tuple[tuple[str, Geometry], ...] = (
    ("x86-64 (MAX_ORDER 11, pageblock_order 9)", Geometry()),
    ("the course's small geometry", SMALL),
    ("a small geometry whose pageblocks are larger than its largest buddy block",
     Geometry(max_order=3, pageblock_order=3)),
    ("a large geometry whose pageblocks are larger than its largest buddy block",
     Geometry(max_order=11, pageblock_order=13)),
)


def _fmt(pfn: int, big: bool) -> str:
    return f"{pfn:#x} ({pfn})" if big else str(pfn)


def alignment_problem(seed: int) -> Problem:
    """``pfn_max_align_down(start)`` and ``pfn_max_align_up(end)`` for a geometry and a request.

    The answers are the geometry's own :meth:`~contig.Geometry.pfn_max_align_down`
    and :meth:`~contig.Geometry.pfn_max_align_up`.
    """
    seed = _seed(seed)
    rng = random.Random(seed)
    label, g = ALIGNMENT_GEOMETRIES[_below(rng, len(ALIGNMENT_GEOMETRIES))]
    unit = g.max_align_nr_pages
    big = unit >= 256
    if big:
        start = 0x10000 + _below(rng, 0x40000)
        length = 1 + _below(rng, 3 * unit)
    else:
        start = _below(rng, 48)
        length = 1 + _below(rng, 12)
    end = start + length
    lo, hi = g.pfn_max_align_down(start), g.pfn_max_align_up(end)
    nblocks = (hi - lo) // g.pageblock_nr_pages
    nmax = (hi - lo) // g.max_order_nr_pages
    pb_lo = start - start % g.pageblock_nr_pages
    unit_why = (f"the unit is max(MAX_ORDER_NR_PAGES = {g.max_order_nr_pages}, "
                f"pageblock_nr_pages = {g.pageblock_nr_pages}) = {unit} pages")
    return Problem(
        title="Align a request",
        setup=(f"Geometry: {label}: max_order={g.max_order}, "
               f"pageblock_order={g.pageblock_order}.\n"
               f"Request: [start, end) = [{_fmt(start, big)}, {_fmt(end, big)}), "
               f"{length} page(s)."),
        questions=[
            Question("isolate_start", "isolate_start = pfn_max_align_down(start)?", lo,
                     f"{unit_why}; {_fmt(start, big)} rounded down to a multiple of {unit} is "
                     f"{_fmt(lo, big)}.", kind="int",
                     hints=((pb_lo, "that is a pageblock boundary; the unit is the larger of "
                                    "a pageblock and a MAX_ORDER block."),) if pb_lo != lo else ()),
            Question("isolate_end", "isolate_end = pfn_max_align_up(end)?", hi,
                     f"{_fmt(end, big)} rounded up to a multiple of {unit} is {_fmt(hi, big)} "
                     "(end is exclusive; an aligned end stays put).", kind="int"),
            Question("nr_pageblocks", "how many pageblocks does start_isolate_page_range() "
                     "isolate?", nblocks,
                     f"({_fmt(hi, big)} - {_fmt(lo, big)}) / {g.pageblock_nr_pages} = {nblocks}.",
                     kind="int"),
            Question("nr_max_blocks", f"how many free blocks of the largest order "
                     f"(MAX_ORDER-1 = {g.max_order - 1}, notebook 01) fit in "
                     "[isolate_start, isolate_end)?", nmax,
                     f"({_fmt(hi, big)} - {_fmt(lo, big)}) / MAX_ORDER_NR_PAGES "
                     f"{g.max_order_nr_pages} = {nmax}: the aligned range holds whole "
                     "largest blocks, so no free block crosses its edges.", kind="int",
                     hints=((nblocks, "that counts pageblocks; a largest buddy block is "
                                      f"{g.max_order_nr_pages} pages."),)
                     if nblocks != nmax else ()),
        ],
        seed=seed)
