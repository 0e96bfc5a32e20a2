"""Named CMA situations: a zone, a CMA area and a list of requests.

Each :class:`CmaScenario` builds its area (``build()``), then plays its steps
through :mod:`contig.cma` (``run()``), one :class:`StepResult` per step.
What Linux v4.4 does at every step is written in ``expect`` (worked out by
hand from mm/cma.c, lib/bitmap.c and mm/page_alloc.c; checked by
``tests/test_cma_scenarios.py``).  ``python -m contig cma`` prints them.

Steps:

* ``("alloc", count, align)``: :func:`~contig.cma.cma_alloc`;
* ``("dma", size_bytes)``: what a driver does for a buffer of that size:
  ``count = PAGE_ALIGN(size) >> PAGE_SHIFT``, ``align = get_order(size)``,
  then :func:`~contig.cma.dma_alloc_from_contiguous` (which caps it at 8);
* ``("release", k)``: give back the buffer step ``k`` got;
* ``("fill", n)``: ``n`` movable order-0 allocations (a process touching
  memory), which take CMA pages once the Movable lists are empty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .cma import (
    Cma,
    CmaResult,
    cma_alloc,
    cma_init_reserved,
    cma_release,
    dma_alloc_from_contiguous,
    get_order,
)
from .contig import errname
from .geometry import Geometry
from .pcp import alloc_pages
from .zone import MigrateType, Zone

__all__ = ["CMA_SCENARIOS", "CmaScenario", "StepResult", "format_run", "get"]

SMALL = Geometry(max_order=4, pageblock_order=2)


@dataclass
class StepResult:
    """One step of a scenario: what was asked and what came back."""

    step: tuple
    result: CmaResult | None = None      # alloc and dma steps
    released: bool | None = None         # release steps
    filled: list[int] = field(default_factory=list)   # fill steps: PFNs handed out

    @property
    def pfn(self) -> int | None:
        return self.result.pfn if self.result is not None else None


@dataclass(frozen=True)
class CmaScenario:
    """A CMA area and the requests made of it.

    :param expect: one entry per step: for alloc/dma steps ``(pfn or None,
        [ret of each attempt], [dmesg lines])``; for release ``True/False``;
        for fill the number of pages that came from the CMA area.
    """

    name: str
    title: str
    description: str
    make: Callable[[], Cma]
    steps: tuple[tuple, ...]
    expect: tuple[Any, ...]

    def build(self) -> Cma:
        """A fresh zone and area for this scenario."""
        return self.make()

    def run(self, cma: Cma | None = None) -> tuple[Cma, list[StepResult]]:
        """Play every step on ``cma`` (default: a fresh one); return it and the results."""
        cma = self.build() if cma is None else cma
        out: list[StepResult] = []
        for step in self.steps:
            kind = step[0]
            if kind == "alloc":
                out.append(StepResult(step, result=cma_alloc(cma, step[1], step[2])))
            elif kind == "dma":
                size = step[1]
                count = (size + 4095) >> 12
                out.append(StepResult(step, result=dma_alloc_from_contiguous(cma, count, get_order(size))))
            elif kind == "release":
                got = out[step[1]]
                out.append(StepResult(step, released=cma_release(cma, got.pfn, got.result.count)))
            elif kind == "fill":
                pfns = [alloc_pages(cma.zone, 0, MigrateType.MOVABLE) for _ in range(step[1])]
                out.append(StepResult(step, filled=[p for p in pfns if p is not None]))
            else:
                raise ValueError(f"unknown step {step!r}")
        return cma, out


def _busy_area() -> Cma:
    # Zone [0x2e000, 0x30000) on x86-64 geometry; the CMA area is its upper
    # 16 MiB [0x2f000, 0x30000).  Every 256-page stretch of the area has a
    # pinned page 128 pages in (a buffer some process pinned with
    # get_user_pages()); the rest is free.
    g = Geometry()
    below = "M" * 0x800 + "." * 0x800
    area = ("." * 0x80 + "P" + "." * 0x7F) * 16
    blocks = "M" * 8 + "C" * 8
    return Cma(Zone.from_map(below + area, geometry=g, start_pfn=0x2E000, blocks=blocks),
               0x2F000, 0x1000, name="busy")


def _small(pages: str, blocks: str, base: int, nr: int, opb: int = 0, name: str = "cma") -> Callable[[], Cma]:
    def make() -> Cma:
        return Cma(Zone.from_map(pages, geometry=SMALL, blocks=blocks), base, nr, opb, name=name)
    return make


def _boot() -> Cma:
    # 4 kernel pages and a free Unmovable pageblock, the reserved area
    # [8, 24), 8 free Movable pages, 8 kernel pages.
    z = Zone.from_map("UUUU...." + "R" * 16 + "........" + "UUUUUUUU", geometry=SMALL,
                      blocks="UU" + "M" * 8)
    return cma_init_reserved(z, 8, 16, name="boot")


def _busy_lines(start: int, n: int) -> list[str]:
    return [f"alloc_contig_range: [{start + k * 0x100:x}, {start + k * 0x100 + 0x10A:x}) PFNs busy"
            for k in range(n)]


_LIST = [
    CmaScenario(
        "busy-area", "every slot busy: the dmesg lines real machines print",
        "A driver asks for a 1089536-byte buffer: 0x10a pages, aligned to 2^8 pages (get_order "
        "gives 9, CONFIG_CMA_ALIGNMENT caps it at 8). Every 256-page slot of the 16 MiB area holds "
        "a pinned page, which migration skips and test_pages_isolated() then finds: each attempt "
        "prints one 'PFNs busy' line and cma_alloc() moves one slot (0x100 pages) on, until the "
        "next slot would run past the area's end.",
        _busy_area, (("dma", 1089536),),
        ((None, [-16] * 15, _busy_lines(0x2F000, 15)),)),
    CmaScenario(
        "pinned-slot", "a pinned page fails one slot, the next one succeeds",
        "Four pages aligned to 4: the first slot [8, 12) holds a pinned page (P), so that attempt "
        "ends -EBUSY with one 'PFNs busy' line; cma_alloc() clears the slot's bits and tries one "
        "alignment step further, [12, 16), which is free.",
        _small("MMMMMMMM" + ".P......" + "........" + "MMMMMMMM", "MMCCCCMM", 8, 16, name="pinned"),
        (("alloc", 4, 2),),
        ((12, [-16, 0], ["alloc_contig_range: [8, c) PFNs busy"]),)),
    CmaScenario(
        "fragmented-bitmap", "a fragmented bitmap: the first aligned gap that fits",
        "Three buffers are handed out and the first given back. A request for 4 pages aligned to "
        "4 cannot use the 3-bit hole at the start (the window [0, 4) holds a set bit), so the "
        "search jumps past it and rounds up to bit 12; a later 3-page request fills the hole.",
        _small("MMMMMMMM" + "." * 32 + "MMMMMMMM", "MM" + "C" * 8 + "MM", 8, 32, name="frag"),
        (("alloc", 3, 0), ("alloc", 5, 0), ("alloc", 2, 0), ("release", 0), ("alloc", 4, 2),
         ("alloc", 3, 0)),
        ((8, [0], []), (11, [0], []), (16, [0], []), True, (20, [0], []), (8, [0], []))),
    CmaScenario(
        "order-per-bit", "order_per_bit 2: one bit stands for 4 pages",
        "With order_per_bit 2 the 32-page area has 8 bits. A 5-page request takes 2 bits (8 "
        "pages' worth) though alloc_contig_range() is asked for 5 pages only; a 1-page request "
        "takes a whole bit; alignment below 4 pages means no alignment at all.",
        _small("MMMMMMMM" + "." * 32 + "MMMMMMMM", "MM" + "C" * 8 + "MM", 8, 32, 2, name="opb"),
        (("alloc", 5, 0), ("alloc", 1, 1), ("release", 0), ("alloc", 4, 3)),
        ((8, [0], []), (16, [0], []), True, (8, [0], []))),
    CmaScenario(
        "boot-and-fill", "from reserved memory to a CMA area full of movable pages, and back",
        "At boot the reserved pages [8, 24) become CMA pageblocks and are freed. Twelve movable "
        "allocations then empty the Movable lists (8 pages) and take 4 pages from CMA "
        "(__rmqueue_cma_fallback), at PFN 16-19: the block freed last heads the CMA list. A first "
        "8-page buffer gets the free [8, 16) without migrating; a second one must migrate 16-19 "
        "out, and with Movable and CMA both empty their new homes are stolen from the free "
        "Unmovable pageblock [4, 8), which becomes Movable.",
        _boot, (("fill", 12), ("alloc", 8, 3), ("alloc", 8, 3)),
        (4, (8, [0], []), (16, [0], []))),
]

#: The scenarios by name, in the order the course uses them.
CMA_SCENARIOS = MappingProxyType({s.name: s for s in _LIST})


def get(name: str) -> CmaScenario:
    """The scenario called ``name``; ValueError listing the names otherwise."""
    try:
        return CMA_SCENARIOS[name]
    except (KeyError, TypeError):
        raise ValueError(f"no CMA scenario {name!r}; there are: {', '.join(CMA_SCENARIOS)}") from None


def _bitmap_line(cma: Cma) -> str:
    if cma.bitmap_maxno <= 64:
        return f"bitmap {cma.bitmap_str()}"
    runs, b, n = [], cma.bitmap, cma.bitmap_maxno
    k = 0
    while k < n:
        if b[k]:
            j = k
            while j < n and b[j]:
                j += 1
            runs.append(f"[{k}, {j})")
            k = j
        else:
            k += 1
    return "bitmap: bits set " + (", ".join(runs) if runs else "none") + f" of {n}"


def format_run(sc: CmaScenario, cma: Cma, out: list[StepResult], *, debug: bool = False) -> list[str]:
    """The lines ``python -m contig cma NAME`` prints: the area, then each step."""
    lines = [f"CMA scenario {sc.name}: {sc.title}", ""]
    lines.append(f"area {cma.name}: PFN [{cma.base_pfn:#x}, {cma.end_pfn:#x}) = [{cma.base_pfn}, "
                 f"{cma.end_pfn}), {cma.count} pages, order_per_bit {cma.order_per_bit} "
                 f"({1 << cma.order_per_bit} page(s) per bit), {cma.bitmap_maxno} bits")
    for n, st in enumerate(out, 1):
        kind = st.step[0]
        if kind == "fill":
            inside = [p for p in st.filled if cma.base_pfn <= p < cma.end_pfn]
            lines.append(f"step {n}: {st.step[1]} movable page allocations: PFNs "
                         f"{', '.join(map(str, st.filled))}; {len(inside)} inside the CMA area "
                         f"(taken once the Movable lists were empty)")
            continue
        if kind == "release":
            lines.append(f"step {n}: cma_release() of step {st.step[1] + 1}'s buffer: "
                         f"{'true' if st.released else 'false'}")
            continue
        r = st.result
        assert r is not None
        if kind == "dma":
            lines.append(f"step {n}: a driver asks for {st.step[1]} bytes: dma_alloc_from_contiguous("
                         f"count {r.count} ({r.count:#x}), align {get_order(st.step[1])}, "
                         f"capped to {r.align})")
        else:
            lines.append(f"step {n}: cma_alloc(count {r.count}, align {r.align})")
        lines.append(f"  mask {r.mask}, offset {r.offset}, {r.bitmap_count} bit(s) per try")
        for (bit, pfn), a in zip(r.tried, r.attempts):
            how = "success" if a.ok else errname(a.ret)
            if a.failed_stage:
                how += f" in {a.failed_stage}"
            lines.append(f"  try bit {bit} = PFN {pfn:#x}: alloc_contig_range({pfn:#x}, {pfn + r.count:#x}) "
                         f"= {how}")
            lines.extend(f"    dmesg: {line}" for line in a.log)
        if not r.tried:
            lines.append("  no free slot of that size and alignment")
        if debug:
            for line in r.debug:
                lines.append(f"  debug: {line}")
        lines.append("  returned " + (f"PFN {r.pfn:#x} ({r.pfn})" if r.pfn is not None else "NULL"))
    lines.append(_bitmap_line(cma))
    return lines
