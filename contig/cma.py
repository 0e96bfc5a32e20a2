"""The Contiguous Memory Allocator (CMA) of Linux v4.4, on top of the model.

A device without an IOMMU (a camera, a display engine, a video decoder)
needs physically contiguous buffers.  Reserving them at boot wastes the
memory whenever the device is idle; CMA instead sets a region aside at boot,
lends it to movable allocations, and takes it back page by page with
``alloc_contig_range(..., MIGRATE_CMA)`` when the device asks.

What is modelled (Linux v4.4: mm/cma.c, mm/cma.h, lib/bitmap.c,
drivers/base/dma-contiguous.c, and init_cma_reserved_pageblock() in
mm/page_alloc.c):

* :class:`Cma` is ``struct cma``: ``base_pfn``, ``count`` (pages),
  ``order_per_bit`` (one bitmap bit stands for ``2**order_per_bit`` pages)
  and the ``bitmap`` (``count >> order_per_bit`` bits, set = handed out).
* :func:`cma_init_reserved` is the boot story: pages reserved by the early
  allocator become MIGRATE_CMA pageblocks and are freed to the buddy
  allocator (cma_init_reserved_mem() and cma_activate_area()).
* :func:`cma_alloc` is cma_alloc(): find the first free, aligned run of bits
  (:func:`bitmap_find_next_zero_area_off`), set the bits, call
  :func:`~contig.alloc_contig_range` with MIGRATE_CMA on ``count`` pages; on
  -EBUSY clear the bits and try again one alignment step after the failed
  slot; any other error ends the search.
* :func:`cma_release` is cma_release(): free_contig_range() and clear the bits.
* :func:`dma_alloc_from_contiguous` is the driver-facing call, which caps the
  alignment at ``CONFIG_CMA_ALIGNMENT`` (8 by default).
* :func:`parse_busy_lines` reads the ``alloc_contig_range: [..., ...) PFNs
  busy`` lines a real dmesg shows.

Movable allocations that find the MOVABLE free lists empty take pages from
the CMA lists (``__rmqueue_cma_fallback()``, already in
:func:`contig.pcp.alloc_pages`), which is how a CMA area fills with movable
pages that cma_alloc() must later migrate out.

Simplifications: one CPU and no concurrent callers, so the two locks of
v4.4 are not modelled as locks: ``cma->lock`` (a mutex in 4.4) protects the
bitmap between the search and the setting of bits, and the global
``cma_mutex`` makes every alloc_contig_range() call of every CMA area run one
at a time.  Kernel pointers in the pr_debug lines are shown as PFNs.  No
debugfs, no tracepoints (their arguments are in :class:`CmaResult`).
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .argcheck import check_int
from .contig import ContigResult, alloc_contig_range, errname, free_contig_range
from .pcp import __free_pages
from .zone import PG_RESERVED, MigrateType, Zone

__all__ = [
    "CMA_ALIGNMENT",
    "Cma",
    "CmaResult",
    "bitmap_find_next_zero_area_off",
    "cma_alloc",
    "cma_bitmap_aligned_mask",
    "cma_bitmap_aligned_offset",
    "cma_init_reserved",
    "cma_release",
    "dma_alloc_from_contiguous",
    "get_order",
    "init_cma_reserved_pageblock",
    "parse_busy_lines",
]

#: ``CONFIG_CMA_ALIGNMENT``'s default (drivers/base/Kconfig, v4.4): the
#: largest alignment order dma_alloc_from_contiguous() passes on.
CMA_ALIGNMENT = 8
#: 4 KiB pages.
PAGE_SHIFT = 12


def _int(name: str, value: Any, lo: int = 0) -> int:
    """The model's integer check (:func:`contig.argcheck.check_int`), bounded below."""
    return check_int(name, value, lo=lo)


def bitmap_find_next_zero_area_off(bitmap: np.ndarray, size: int, start: int, nr: int,
                                   align_mask: int, align_offset: int) -> int:
    """First index >= ``start`` of ``nr`` clear bits whose index + offset is aligned.

    Models bitmap_find_next_zero_area_off(), lib/bitmap.c, Linux v4.4, step
    for step: take the first clear bit at or after ``start``, round it up so
    that ``index + align_offset`` is a multiple of ``align_mask + 1``; if the
    window runs past ``size`` return its end (callers read any value >=
    ``size`` as "none"); if a set bit lies inside the window, start again
    one bit after it.
    """
    bits = np.asarray(bitmap, dtype=bool)[:size]
    while True:
        zeros = np.flatnonzero(~bits[start:])
        index = start + int(zeros[0]) if zeros.size else size
        index = ((index + align_offset + align_mask) & ~align_mask) - align_offset
        end = index + nr
        if end > size:
            return end
        busy = np.flatnonzero(bits[index:end])
        if busy.size == 0:
            return index
        start = index + int(busy[0]) + 1


@dataclass(eq=False)
class Cma:
    """A CMA area as it stands after boot: ``struct cma`` of mm/cma.h, Linux v4.4.

    ``Cma(zone, base_pfn, nr_pages, order_per_bit=0)`` describes an area
    whose pageblocks are already MIGRATE_CMA (a zone built from a map with
    ``C`` blocks) and whose bitmap is empty.  The area must be what
    cma_init_reserved_mem() (mm/cma.c, v4.4) accepts: base and size
    multiples of ``max(MAX_ORDER_NR_PAGES, pageblock_nr_pages)`` pages, that
    alignment a multiple of ``2**order_per_bit`` pages, and (cma_activate_area())
    every PFN valid and in the same zone.

    :raises TypeError, ValueError: naming the argument that breaks a rule.
    """

    zone: Zone
    base_pfn: int
    count: int
    order_per_bit: int = 0
    name: str = "cma"
    bitmap: np.ndarray = field(init=False, repr=False)

    def __init__(self, zone: Zone, base_pfn: int, nr_pages: int, order_per_bit: int = 0, *,
                 name: str = "cma") -> None:
        base_pfn, nr_pages, order_per_bit = _check_area(zone, base_pfn, nr_pages, order_per_bit)
        i, j = base_pfn - zone.start_pfn, base_pfn + nr_pages - zone.start_pfn
        pbn = zone.geometry.pageblock_nr_pages
        blocks = zone.pb[i // pbn:(j + pbn - 1) // pbn]
        if not np.all(blocks == MigrateType.CMA):
            bad = base_pfn + int(np.flatnonzero(blocks != MigrateType.CMA)[0]) * pbn
            raise ValueError(f"the area [{base_pfn}, {base_pfn + nr_pages}) is not all CMA "
                             f"pageblocks: the block at PFN {bad} is "
                             f"{MigrateType(int(zone.pb[zone.block_index(bad)])).name} "
                             f"(use cma_init_reserved() for an area of reserved pages)")
        self.zone = zone
        self.base_pfn = base_pfn
        self.count = nr_pages
        self.order_per_bit = order_per_bit
        self.name = str(name)
        self.bitmap = np.zeros(self.bitmap_maxno, dtype=bool)

    @property
    def end_pfn(self) -> int:
        """One past the area's last PFN."""
        return self.base_pfn + self.count

    @property
    def bitmap_maxno(self) -> int:
        """Bits in the bitmap: cma_bitmap_maxno(), mm/cma.h, v4.4."""
        return self.count >> self.order_per_bit

    def pages_to_bits(self, pages: int) -> int:
        """cma_bitmap_pages_to_bits(), mm/cma.c, v4.4: pages rounded up to whole bits."""
        per = 1 << self.order_per_bit
        return (pages + per - 1) >> self.order_per_bit

    def bitmap_str(self) -> str:
        """The bitmap as ``0``/``1`` characters, bit 0 first."""
        return "".join("1" if b else "0" for b in self.bitmap.tolist())

    def copy(self, zone: Zone | None = None) -> Cma:
        """The same area over ``zone`` (default: a copy of this one's zone), bitmap copied."""
        new = object.__new__(Cma)
        new.zone = self.zone.copy() if zone is None else zone
        new.base_pfn, new.count = self.base_pfn, self.count
        new.order_per_bit, new.name = self.order_per_bit, self.name
        new.bitmap = self.bitmap.copy()
        return new


def _check_area(zone: Zone, base_pfn: Any, nr_pages: Any, order_per_bit: Any) -> tuple[int, int, int]:
    if not isinstance(zone, Zone):
        raise TypeError(f"zone must be a Zone, not {zone!r}")
    base_pfn = _int("base_pfn", base_pfn)
    nr_pages = _int("nr_pages", nr_pages, 1)
    order_per_bit = _int("order_per_bit", order_per_bit)
    g = zone.geometry
    align = max(g.max_order_nr_pages, g.pageblock_nr_pages)
    if align % (1 << order_per_bit):
        raise ValueError(f"order_per_bit {order_per_bit} is too large: the area alignment of "
                         f"{align} pages is not a multiple of {1 << order_per_bit} pages")
    if base_pfn % align:
        raise ValueError(f"base_pfn {base_pfn} is not a multiple of {align} pages "
                         f"(max(MAX_ORDER_NR_PAGES, pageblock_nr_pages))")
    if nr_pages % align:
        raise ValueError(f"nr_pages {nr_pages} is not a multiple of {align} pages "
                         f"(max(MAX_ORDER_NR_PAGES, pageblock_nr_pages))")
    if base_pfn < zone.start_pfn or base_pfn + nr_pages > zone.end_pfn:
        raise ValueError(f"the area [{base_pfn}, {base_pfn + nr_pages}) is not inside zone "
                         f"{zone.name} [{zone.start_pfn}, {zone.end_pfn})")
    i = base_pfn - zone.start_pfn
    holes = np.flatnonzero(zone.kind[i:i + nr_pages] == ord("#"))
    if holes.size:
        raise ValueError(f"the area [{base_pfn}, {base_pfn + nr_pages}) has a hole at PFN "
                         f"{base_pfn + int(holes[0])}: cma_activate_area() needs every PFN valid")
    return base_pfn, nr_pages, order_per_bit


def init_cma_reserved_pageblock(zone: Zone, pfn: int) -> None:
    """Turn one pageblock of reserved pages into a free MIGRATE_CMA pageblock.

    Models init_cma_reserved_pageblock(), mm/page_alloc.c, Linux v4.4: clear
    PG_reserved and the reference count of every page, set the pageblock's
    type to CMA, then free it to the buddy allocator as one block of
    ``pageblock_order`` (or in MAX_ORDER-1 blocks when pageblocks are larger
    than that).  The managed-page count the kernel adjusts is not modelled.
    """
    z = zone
    g = z.geometry
    i = pfn - z.start_pfn
    j = i + g.pageblock_nr_pages
    z.flags[i:j] &= z.flags.dtype.type(~PG_RESERVED & 0xFF)
    z.count[i:j] = 0
    z.touch_range(i, j)
    z.set_pageblock_migratetype(pfn, MigrateType.CMA)
    if g.pageblock_order >= g.max_order:
        step = g.max_order_nr_pages
        for p in range(pfn, pfn + g.pageblock_nr_pages, step):
            z.count[p - z.start_pfn] = 1
            __free_pages(z, p, g.max_order - 1)
    else:
        z.count[i] = 1
        __free_pages(z, pfn, g.pageblock_order)


def cma_init_reserved(zone: Zone, base_pfn: int, nr_pages: int, order_per_bit: int = 0, *,
                      name: str = "cma") -> Cma:
    """Activate a CMA area over reserved pages, as the kernel does at boot.

    Models cma_init_reserved_mem() and cma_activate_area(), mm/cma.c, Linux
    v4.4: the early allocator reserved ``[base_pfn, base_pfn + nr_pages)``
    (every page ``R`` in the map); at boot each of its pageblocks goes
    through :func:`init_cma_reserved_pageblock` and the bitmap starts empty.
    Changes ``zone`` in place.

    :raises TypeError, ValueError: an area the kernel would refuse, or pages
        that are not all reserved; the zone is then unchanged.
    """
    base_pfn, nr_pages, order_per_bit = _check_area(zone, base_pfn, nr_pages, order_per_bit)
    i = base_pfn - zone.start_pfn
    kinds = zone.kind[i:i + nr_pages]
    if not np.all(kinds == ord("R")):
        bad = base_pfn + int(np.flatnonzero(kinds != ord("R"))[0])
        raise ValueError(f"PFN {bad} of the area [{base_pfn}, {base_pfn + nr_pages}) is "
                         f"{chr(int(zone.kind[bad - zone.start_pfn]))!r}, not a reserved page 'R': "
                         f"a CMA area is memory the early allocator set aside")
    for pfn in range(base_pfn, base_pfn + nr_pages, zone.geometry.pageblock_nr_pages):
        init_cma_reserved_pageblock(zone, pfn)
    return Cma(zone, base_pfn, nr_pages, order_per_bit, name=name)


def cma_bitmap_aligned_mask(cma: Cma, align_order: int) -> int:
    """cma_bitmap_aligned_mask(), mm/cma.c, v4.4: bits per aligned slot, minus one."""
    if align_order <= cma.order_per_bit:
        return 0
    return (1 << (align_order - cma.order_per_bit)) - 1


def cma_bitmap_aligned_offset(cma: Cma, align_order: int, *, fixed: bool = False) -> int:
    """The bitmap offset that makes ``base_pfn + (bit << order_per_bit)`` aligned.

    Models cma_bitmap_aligned_offset(), mm/cma.c, Linux v4.4, which computes
    ``(ALIGN(base_pfn, 2**align) - base_pfn) >> order_per_bit``.  That is
    right only when the area's base is aligned to ``2**align`` already (then
    it is 0, the usual case: areas are at least MAX_ORDER-aligned and
    dma_alloc_from_contiguous() caps ``align`` at 8).  For a base that is
    not, it yields misaligned buffers; Linux 4.13 changed it to
    ``(base_pfn & (2**align - 1)) >> order_per_bit`` (``fixed=True``).
    """
    if align_order <= cma.order_per_bit:
        return 0
    a = 1 << align_order
    if fixed:
        return (cma.base_pfn & (a - 1)) >> cma.order_per_bit
    return (((cma.base_pfn + a - 1) & ~(a - 1)) - cma.base_pfn) >> cma.order_per_bit


@dataclass
class CmaResult:
    """What cma_alloc() returned and what it did on the way.

    ``pfn`` is the first PFN of the buffer, None on failure (the kernel's
    NULL page).  ``attempts`` holds the :class:`~contig.ContigResult` of every
    alloc_contig_range() call in order, ``tried`` the bitmap index and PFN
    of each.  ``log`` is what dmesg shows by default (each attempt's printk
    lines, e.g. "PFNs busy"); ``debug`` the pr_debug lines of cma_alloc(),
    shown only with dynamic debug on.
    """

    pfn: int | None
    count: int
    align: int
    attempts: list[ContigResult] = field(default_factory=list)
    tried: list[tuple[int, int]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    debug: list[str] = field(default_factory=list)
    mask: int = 0
    offset: int = 0
    bitmap_count: int = 0

    @property
    def ok(self) -> bool:
        return self.pfn is not None

    def summary(self) -> str:
        """One line: the call, where it ended, how many slots it tried."""
        got = f"PFN {self.pfn} ({self.pfn:#x})" if self.pfn is not None else "NULL"
        rets = ", ".join(errname(a.ret) for a in self.attempts) or "no slot"
        return (f"cma_alloc(count {self.count}, align {self.align}) = {got} after "
                f"{len(self.attempts)} attempt(s): {rets}")


def cma_alloc(cma: Cma, count: int, align: int, *, trace: bool = True,
              busy_pfns: Iterable[int] = ()) -> CmaResult:
    """Allocate ``count`` contiguous pages aligned to ``2**align`` pages from ``cma``.

    Models cma_alloc(), mm/cma.c, Linux v4.4 (see the module docstring).  The
    bits of a slot are set before its alloc_contig_range() call and cleared
    again if the call fails; after -EBUSY the search starts again at the
    failed slot's bit plus ``mask + 1`` (one alignment step further, so with
    no alignment the next try overlaps the last one but for one bit); any
    other error (-ENOMEM, -EINTR) ends the search.  The range asked of
    alloc_contig_range() is ``count`` pages, not the rounded-up bits.

    :param busy_pfns: pages that stay locked or under writeback (passed on to
        each attempt whose range holds them; see
        :func:`~contig.alloc_contig_range`).
    :param trace: record each attempt's events.
    :raises TypeError, ValueError: bad arguments; nothing is changed then.
    """
    if not isinstance(cma, Cma):
        raise TypeError(f"cma must be a Cma, not {cma!r}")
    count = _int("count", count)
    align = _int("align", align)
    if align >= 64:
        raise ValueError(f"align must be below 64 (an order of pages), not {align}")
    if not isinstance(trace, bool):
        raise TypeError(f"trace must be True or False, not {trace!r}")
    busy = sorted({_int("busy_pfns item", p) for p in busy_pfns})
    res = CmaResult(pfn=None, count=count, align=align)
    res.debug.append(f"cma_alloc(cma {cma.name}, count {count}, align {align})")
    if not count:
        res.debug.append("cma_alloc(): returned NULL")
        return res
    mask = cma_bitmap_aligned_mask(cma, align)
    offset = cma_bitmap_aligned_offset(cma, align)
    maxno = cma.bitmap_maxno
    nbits = cma.pages_to_bits(count)
    res.mask, res.offset, res.bitmap_count = mask, offset, nbits
    start = 0
    while True:
        bitmap_no = bitmap_find_next_zero_area_off(cma.bitmap, maxno, start, nbits, mask, offset)
        if bitmap_no >= maxno:
            break
        cma.bitmap[bitmap_no:bitmap_no + nbits] = True
        pfn = cma.base_pfn + (bitmap_no << cma.order_per_bit)
        res.tried.append((bitmap_no, pfn))
        mine = [p for p in busy if pfn <= p < pfn + count]
        r = alloc_contig_range(cma.zone, pfn, pfn + count, MigrateType.CMA,
                               busy_pfns=mine, trace=trace)
        res.attempts.append(r)
        res.log.extend(r.log)
        if r.ret == 0:
            res.pfn = pfn
            break
        _clear_bits(cma, pfn, count)
        if r.ret != -errno.EBUSY:
            break
        res.debug.append(f"cma_alloc(): memory range at PFN {pfn:#x} is busy, retrying")
        start = bitmap_no + mask + 1
    res.debug.append(f"cma_alloc(): returned {'NULL' if res.pfn is None else f'PFN {res.pfn:#x}'}")
    return res


def _clear_bits(cma: Cma, pfn: int, count: int) -> None:
    """cma_clear_bitmap(), mm/cma.c, v4.4."""
    no = (pfn - cma.base_pfn) >> cma.order_per_bit
    cma.bitmap[no:no + cma.pages_to_bits(count)] = False


def cma_release(cma: Cma, pfn: int | None, count: int) -> bool:
    """Give back ``count`` pages from ``pfn``; False if they are not the area's.

    Models cma_release(), mm/cma.c, Linux v4.4: False for no page (None) or
    a PFN outside the area; otherwise free_contig_range() and clear the
    bits (rounded up to whole bits), True.  The kernel does not check that
    the pages were handed out by this area, nor that ``count`` matches.

    :raises ValueError: the range runs past the end of the area (the kernel's
        VM_BUG_ON, a crash with CONFIG_DEBUG_VM); nothing is changed then.
    """
    if not isinstance(cma, Cma):
        raise TypeError(f"cma must be a Cma, not {cma!r}")
    count = _int("count", count)
    if pfn is None:
        return False
    pfn = _int("pfn", pfn)
    if pfn < cma.base_pfn or pfn >= cma.end_pfn:
        return False
    if pfn + count > cma.end_pfn:
        raise ValueError(f"pfn {pfn} + count {count} runs past the area's end {cma.end_pfn} "
                         f"(the kernel's VM_BUG_ON in cma_release())")
    free_contig_range(cma.zone, pfn, count)
    _clear_bits(cma, pfn, count)
    return True


def get_order(size: int) -> int:
    """Smallest order whose ``2**order`` 4 KiB pages hold ``size`` bytes (get_order(), v4.4)."""
    size = _int("size", size, 1)
    return max(0, ((size - 1) >> PAGE_SHIFT).bit_length())


def dma_alloc_from_contiguous(dev: Cma, count: int, align: int, **kw: Any) -> CmaResult:
    """Models dma_alloc_from_contiguous(), drivers/base/dma-contiguous.c, Linux v4.4.

    ``dev`` stands for the device: the model passes its CMA area directly
    (the kernel looks it up with dev_get_cma_area(), the device's own area
    or the global default one).  ``align`` is capped at
    :data:`CMA_ALIGNMENT` before cma_alloc() is called; drivers pass
    ``get_order(size)``.
    """
    align = _int("align", align)
    return cma_alloc(dev, count, min(align, CMA_ALIGNMENT), **kw)


_BUSY = re.compile(r"alloc_contig_range: \[([0-9a-fA-F]+), ([0-9a-fA-F]+)\) PFNs busy")


def parse_busy_lines(text: str) -> list[tuple[int, int]]:
    """The ``[outer_start, end)`` PFN ranges of every "PFNs busy" line in ``text``.

    alloc_contig_range() (mm/page_alloc.c, Linux v4.4) prints
    ``alloc_contig_range: [%lx, %lx) PFNs busy`` when test_pages_isolated()
    finds a page that is not free after migration: bare lower-case hex,
    ``outer_start`` and ``end``.  Lines may carry a dmesg timestamp or a
    log-level prefix; other lines are ignored.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    return [(int(a, 16), int(b, 16)) for a, b in _BUSY.findall(text)]
