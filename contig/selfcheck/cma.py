"""Check yourself for notebook 14 (CMA): the bitmap arithmetic of cma_alloc() and its retries.

* :func:`bitmap_problem`: an area (base PFN, size, ``order_per_bit``), its
  bitmap and a request ``(count, align)``: the mask, the offset (as v4.4
  computes it), how many bits a try takes, which bit and PFN the first try
  uses, and whether that PFN is really aligned (it is not always, in 4.4).
* :func:`retry_problem`: the same arithmetic on a zone with pinned pages in
  the area (notebook 07's final test): how many times alloc_contig_range()
  is called, what the "PFNs busy" lines print, and where the buffer lands.

The answers come from the model itself (:mod:`contig.cma`, run on a copy),
never from a second implementation; the reasons spell out the arithmetic.
Generators draw only from ``random.Random(seed).random()``, so a seed gives
the same problem forever.
"""

from __future__ import annotations

import random

from ..cma import (
    Cma,
    bitmap_find_next_zero_area_off,
    cma_alloc,
    cma_bitmap_aligned_mask,
    cma_bitmap_aligned_offset,
)
from ..contig import errname
from ..geometry import Geometry
from ..zone import Zone
from . import Problem, Question
from . import below as _below
from . import check_seed as _seed

__all__ = ["SMALL", "area_text", "bitmap_problem", "retry_problem"]

#: The course's small geometry: 8-page max blocks, 4-page pageblocks (areas align to 8 pages).
SMALL = Geometry(max_order=4, pageblock_order=2)
AREA_PAGES = 32


def area_text(cma: Cma, indent: str = "  ") -> str:
    """The area's bitmap under a ruler of bit numbers, each bit with its first PFN."""
    n = cma.bitmap_maxno
    per = 1 << cma.order_per_bit
    tens = "".join(str(k // 10 % 10) if k % 10 == 0 else " " for k in range(n))
    units = "".join(str(k % 10) for k in range(n))
    return "\n".join([f"{indent}   bit  {tens.rstrip()}", f"{indent}        {units}",
                      f"{indent}bitmap  {cma.bitmap_str()}",
                      f"{indent}(bit k stands for PFNs [{cma.base_pfn} + {per}k, "
                      f"{cma.base_pfn} + {per}k + {per}))"])


def _area(rng: random.Random, opb: int, pages: str | None = None) -> tuple[Cma, int]:
    base = 8 * (1 + _below(rng, 2))                       # 8 or 16: MAX_ORDER-aligned
    body = pages if pages is not None else "." * AREA_PAGES
    z = Zone.from_map("M" * base + body + "M" * 8, geometry=SMALL,
                      blocks="M" * (base // 4) + "C" * (AREA_PAGES // 4) + "MM")
    return Cma(z, base, AREA_PAGES, opb, name="quiz"), base


def bitmap_problem(seed: int) -> Problem:
    """Where does the first try of cma_alloc() go?  (mm/cma.c, lib/bitmap.c, v4.4)"""
    seed = _seed(seed)
    rng = random.Random(seed)
    opb = _below(rng, 3)
    cma, base = _area(rng, opb)
    nbits = cma.bitmap_maxno
    for k in range(nbits):
        cma.bitmap[k] = rng.random() < 0.3
    count = 1 + _below(rng, 8)
    align = _below(rng, 6)
    mask = cma_bitmap_aligned_mask(cma, align)
    offset = cma_bitmap_aligned_offset(cma, align)
    fixed = cma_bitmap_aligned_offset(cma, align, fixed=True)
    bits = cma.pages_to_bits(count)
    no = bitmap_find_next_zero_area_off(cma.bitmap, nbits, 0, bits, mask, offset)
    res = cma_alloc(cma.copy(), count, align, trace=False)
    first_bit = res.tried[0][0] if res.tried else None
    pfn = res.tried[0][1] if res.tried else None
    assert first_bit == (no if no < nbits else None)
    per = 1 << opb
    if align <= opb:
        r_mask = (f"align {align} is not above order_per_bit {opb}: every bit already starts "
                  f"on a 2^{align}-page boundary, so the mask is 0 (no alignment of bits)")
        r_off = "with no alignment of bits the offset is 0"
    else:
        r_mask = (f"(1 << (align - order_per_bit)) - 1 = (1 << ({align} - {opb})) - 1 = {mask}: "
                  f"a slot starts every {mask + 1} bits")
        a = 1 << align
        r_off = (f"v4.4 computes (ALIGN(base_pfn, 2^{align}) - base_pfn) >> order_per_bit = "
                 f"({-(-base // a) * a} - {base}) >> {opb} = {offset}")
        if offset != fixed:
            r_off += (f"; Linux 4.13 changed it to (base_pfn & (2^{align} - 1)) >> order_per_bit"
                      f" = {fixed}, because 4.4's value is wrong when the base is not aligned")
    r_bits = (f"cma_bitmap_pages_to_bits(): {count} page(s) rounded up to whole bits of {per} "
              f"page(s): {bits}")
    if first_bit is None:
        r_first = ("no window of that many clear bits, aligned that way, fits before the "
                   f"end of the {nbits}-bit bitmap: cma_alloc() returns NULL without a try")
    else:
        r_first = (f"bitmap_find_next_zero_area_off() takes the first clear bit, rounds "
                   f"index + offset ({offset}) up to a multiple of {mask + 1}, and skips past "
                   f"any set bit inside the {bits}-bit window: bit {first_bit}")
    questions = [
        Question("mask", "the aligned mask cma_alloc() uses", mask, r_mask + ".", kind="int"),
        Question("offset", "the aligned offset, as v4.4 computes it", offset, r_off + ".",
                 kind="int", hints=((fixed, "that is Linux 4.13's formula (base & (2^align - 1)); "
                                            "v4.4 computes ALIGN(base, 2^align) - base"),)),
        Question("bits", "how many bits one try sets", bits, r_bits + ".", kind="int",
                 hints=((count, "a bit stands for 2^order_per_bit pages: round the pages up to "
                                "whole bits"),)),
        Question("first_bit", "the first bit of the first slot tried (None if none)",
                 first_bit, r_first + ".", kind="optional_int"),
        Question("pfn", "the first PFN of that slot (None if none)", pfn,
                 (f"base_pfn + (bit << order_per_bit) = {base} + ({first_bit} << {opb}) = {pfn}"
                  if pfn is not None else "no slot, no PFN") + ".", kind="optional_int",
                 hints=((first_bit, "that is the bit number: a PFN is base_pfn + "
                                    "(bit << order_per_bit)"),)),
    ]
    if pfn is not None:
        ok = pfn % (1 << align) == 0
        questions.append(Question(
            "aligned", f"is that PFN a multiple of 2^{align} pages?", ok,
            (f"{pfn} = {pfn // (1 << align)} * {1 << align} + {pfn % (1 << align)}"
             + ("" if ok else f": misaligned, because v4.4's offset ({offset}) is not the "
                              f"4.13 one ({fixed})")) + ".", kind="bool"))
    return Problem(
        title="The CMA bitmap: where does the first try go?",
        setup=(f"A CMA area of {AREA_PAGES} pages at base_pfn {base}, order_per_bit {opb} "
               f"({per} page(s) per bit, {nbits} bits).\n{area_text(cma)}\n"
               f"A caller asks cma_alloc(count {count}, align {align}) (Linux v4.4)."),
        questions=questions, seed=seed)


def retry_problem(seed: int) -> Problem:
    """Slots, retries and "PFNs busy" lines of one cma_alloc() with pinned pages (v4.4)."""
    seed = _seed(seed)
    rng = random.Random(seed)
    align = 1 + _below(rng, 2)            # slots of 2 or 4 pages
    count = (1 << align) + _below(rng, 3)  # may overlap the next slot
    while True:
        pages = ["."] * AREA_PAGES
        for k in range(AREA_PAGES):
            r = rng.random()
            pages[k] = "P" if r < 0.12 else "M" if r < 0.25 else "."
        used = _below(rng, 3) << align          # a buffer already held at the start
        pages[:used] = ["X"] * used
        cma, base = _area(rng, 0, "".join(pages))
        cma.bitmap[:used] = True
        res = cma_alloc(cma.copy(), count, align, trace=False)
        if len(res.attempts) >= 2 or rng.random() < 0.2:
            break
    busy_starts = []
    for a in res.attempts:
        busy_starts += [int(line.split("[")[1].split(",")[0], 16) for line in a.log
                        if "PFNs busy" in line]
    tries = ", ".join(f"[{p}, {p + count}) = {errname(a.ret)}"
                      + (f" in {a.failed_stage}" if a.failed_stage and not a.ok else "")
                      + (f" (PFN {a.busy_pfn} not free)" if a.busy_pfn is not None and not a.ok
                         else "")
                      for (_b, p), a in zip(res.tried, res.attempts)) or "none"
    mask = (1 << align) - 1
    zmap = cma.zone.to_map()
    ruler = "".join(str((cma.zone.start_pfn + i) // 10 % 10) if (i % 10 == 0) else " "
                    for i in range(len(zmap)))
    units = "".join(str(i % 10) for i in range(len(zmap)))
    return Problem(
        title="cma_alloc() retries: which slots, which dmesg lines?",
        setup=(f"A CMA area of {AREA_PAGES} pages at base_pfn {base} (order_per_bit 0) in a "
               f"zone of {len(zmap)} PFNs, {SMALL}; M movable, P pinned (an extra reference: "
               f"migration cannot move it), X pages some driver already holds (their bits "
               f"are set).\n"
               f"     PFN  {ruler.rstrip()}\n          {units}\n     map  {zmap}\n"
               f"{area_text(cma)}\n"
               f"A driver asks cma_alloc(count {count}, align {align}) (Linux v4.4). Each "
               f"failed slot's bits are cleared and the next search starts at that slot's bit "
               f"+ mask + 1 = bit + {mask + 1}."),
        questions=[
            Question("attempts", "how many times is alloc_contig_range() called?",
                     len(res.attempts), f"the slots tried: {tries}.", kind="int"),
            Question("busy_starts", "the first PFN printed on each 'PFNs busy' line, in order "
                     "(an empty list if none)", busy_starts,
                     "each line is printed by alloc_contig_range() when notebook 07's final "
                     "test_pages_isolated() finds a page of [outer_start, end) not free; the "
                     "first number is outer_start. A slot that fails earlier (v4.4: a migration that "
                     "ends -EBUSY returns before that test) prints nothing. Lines start at: "
                     f"{busy_starts or 'none'}; the slots: {tries}.", kind="pfns"),
            Question("pfn", "the buffer's first PFN (None if cma_alloc() returns NULL)",
                     res.pfn, ("the first slot that succeeded" if res.ok else
                               "every slot failed or none fitted: NULL") + f"; {tries}.",
                     kind="optional_int"),
        ],
        seed=seed)
