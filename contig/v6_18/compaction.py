"""The strict free-page grab of Linux 6.18 (mm/compaction.c, 6.18).

Models ``isolate_freepages_block()`` (strict) and
``isolate_freepages_range()`` of mm/compaction.c, Linux 6.18, and the list
release on failure.  The difference from v4.4: each free block is taken
off its list *whole* (``__isolate_free_page()``, its order remembered) and
put on ``cc->freepages[order]``; the caller (``alloc_contig_range()``)
splits them afterwards with ``split_free_pages()``.  The end result is the
same: every page an order-0 page with refcount 1.

Model state in between: a taken block's pages are ``X`` with refcount 0
(off the free lists, not yet handed out).  The migration part of
compaction (``isolate_migratepages_range()``) is shared with v4.4, see
:mod:`contig.migrate`.
"""

from __future__ import annotations

from ..migrate import pageblock_pfn_to_page
from ..trace import emit
from ..zone import HOLE, OWNED, PG_HEAD, PG_TAIL, Zone
from .page_alloc import __isolate_free_page, free_one_page

__all__ = ["isolate_freepages_block", "isolate_freepages_range", "release_free_list"]


def isolate_freepages_block(z: Zone, start_pfn: int, end_pfn: int,
                            freelist: list[tuple[int, int]]) -> tuple[int, int]:
    """Strictly take every free block of ``[start_pfn, end_pfn)``; (pages taken, where it stopped).

    Models isolate_freepages_block(..., strict=true), mm/compaction.c,
    Linux 6.18: a compound page or any page that is not PageBuddy stops the
    scan (strict), and then nothing counts as taken; each free block is
    taken whole (it may run past ``end_pfn``) and appended to ``freelist``
    as ``(pfn, order)``.
    """
    s = z.start_pfn
    blockpfn = start_pfn
    total = 0
    while blockpfn < end_pfn:
        i = blockpfn - s
        if z.kind[i] == HOLE or z.flags[i] & (PG_HEAD | PG_TAIL) or z.order[i] < 0:
            break
        order = int(z.order[i])
        n = __isolate_free_page(z, blockpfn, order)
        z.kind[i:i + n] = OWNED
        z.touch_range(i, i + n)
        freelist.append((blockpfn, order))
        total += n
        blockpfn += n
    if blockpfn < end_pfn:
        total = 0
    return total, blockpfn


def release_free_list(z: Zone, freelist: list[tuple[int, int]]) -> None:
    """Give every taken block back to the buddy (6.18 ``release_free_list()``)."""
    for pfn, order in freelist:
        i = pfn - z.start_pfn
        z.kind[i:i + (1 << order)] = ord(".")
        z.count[i:i + (1 << order)] = 0
        z.touch_range(i, i + (1 << order))
        free_one_page(z, pfn, order)
    freelist.clear()


def isolate_freepages_range(z: Zone, start_pfn: int, end_pfn: int,
                            freelist: list[tuple[int, int]]) -> int:
    """Take every page of ``[start_pfn, end_pfn)`` out of the buddy; ``outer_end`` or 0.

    Models isolate_freepages_range(), mm/compaction.c, Linux 6.18:
    pageblock by pageblock (a window whose first or last page is not a
    valid page of the zone stops it), strict.  Returns one past the last
    page taken (``>= end_pfn``), or 0 after giving every block back.
    """
    pbn = z.geometry.pageblock_nr_pages
    pfn = start_pfn
    block_start = max((pfn // pbn) * pbn, z.start_pfn)
    block_end = (pfn // pbn + 1) * pbn
    stop, reason = None, ""
    while pfn < end_pfn:
        if pfn >= block_end:
            block_start = (pfn // pbn) * pbn
            block_end = block_start + pbn
        block_end = min(block_end, end_pfn)
        if pageblock_pfn_to_page(z, block_start, block_end) is None:
            stop, reason = pfn, f"the window [{block_start}, {block_end}) starts or ends with a hole"
            break
        isolated, where = isolate_freepages_block(z, pfn, block_end, freelist)
        if not isolated:
            k = chr(z.kind[where - z.start_pfn]) if z.spans(where) else "?"
            stop, reason = where, f"PFN {where} ({k}) is not the head of a free block"
            break
        pfn += isolated
        block_start = block_end
        block_end += pbn
    if pfn < end_pfn:
        release_free_list(z, freelist)
        emit(z, "isolate_freepages_range", start_pfn, end_pfn,
             f"{reason}, and the strict grab takes only free blocks: what was taken goes back; -EBUSY",
             outer_end=0, stop_pfn=stop)
        return 0
    emit(z, "isolate_freepages_range", start_pfn, pfn,
         f"{len(freelist)} free block(s) are taken off the Isolate lists whole (6.18 keeps them "
         f"whole on per-order lists); together they cover [{start_pfn}, {pfn}) (PFN {pfn - 1} is the "
         f"last page taken), so outer_end = {pfn}",
         outer_end=pfn, nr_blocks=len(freelist))
    return pfn
