"""Where in the Linux v4.4 source each step of the simulation lives.

Every trace event (:class:`contig.trace.Event`) is named after the kernel
function that acted, and every event belongs to a stage of
``alloc_contig_range()``.  This module maps both to the place in the v4.4
source that the model follows: the file, the function, the line, and a link
to a public source browser pinned to exactly v4.4 (Bootlin's Elixir)::

    >>> from contig import source
    >>> source.where("test_pages_isolated")
    SourceRef(file='mm/page_isolation.c', function='test_pages_isolated', line=245, ...)
    >>> source.where("test_pages_isolated").url
    'https://elixir.bootlin.com/linux/v4.4/source/mm/page_isolation.c#L245'

Two kinds of reference:

* :func:`where` (``func`` -> :class:`SourceRef`): where the function an event
  is named after is *defined* (the line that carries its name).  Events that
  are not a kernel function of their own (the ``outer_start`` probes, the
  ``PFNs busy`` message, the fatal-signal check, the end of the drains) point
  at the lines inside ``alloc_contig_range()`` or
  ``__alloc_contig_migrate_range()`` that do the work.
* :func:`stage_ref` (stage name -> :class:`SourceRef`): where the seed
  function ``alloc_contig_range()`` runs that stage (its call site).

Line numbers are those of vanilla Linux v4.4 (the tree Elixir shows for
``v4.4``).  They were read from vanilla 4.4.0 trees imported to GitHub
(``siyual-park/linux-4.4.0.osta``; ``zanpocc/linux-4.4.1`` has the same
mm/ files).  Note: the tree ``xiaojimmychen/linux-4.4`` is Android's common
4.4.0: its mm/page_isolation.c, compaction.c, migrate.c, vmscan.c and swap.c
are vanilla, but its mm/page_alloc.c carries Android's ``extra_free_kbytes``
watermark change, which shifts every line of that file after line 240 by 12
(after line 6017 by 18): ``alloc_contig_range`` is on line 6699 there and on
line 6681 in vanilla v4.4.

Linux 6.18 has its own tables, :data:`FUNCTIONS_6_18` and
:data:`STAGES_6_18`, for the events the 6.18 model (:mod:`contig.v6_18`)
emits; ``where(name, kernel="6.18")`` looks a name up there.  Their line
numbers were read from Linux 6.18.2 (``/work/src/linux-6.18``, the
``gfunkmonk/linux-6.18.2`` tree); the links point at Elixir's ``v6.18``, as
the course cites 6.18 (the stable updates up to 6.18.2 did not move these
functions in mm/page_alloc.c, page_isolation.c, compaction.c, migrate.c,
vmscan.c, swap.c as far as the course checks: each line names its function).
Events named after a v4.4 function that 6.18 renamed point at the new name:
``alloc_contig_range`` is ``alloc_contig_range_noprof()`` in 6.18 (the
``alloc_contig_range`` name is a macro over it, for allocation profiling).

Nothing here quotes the kernel: each entry says in the project's own words
what the line is about.  The model never imports this module; narration and
the views use it (``Event.source``, the step player's link).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "CALLERS",
    "CONTRACT",
    "ELIXIR",
    "FUNCTIONS",
    "FUNCTIONS_6_18",
    "KERNELS",
    "STAGES",
    "STAGES_6_18",
    "SourceRef",
    "annotate",
    "for_event",
    "link_html",
    "link_markdown",
    "stage_ref",
    "url",
    "where",
]

#: The source browser, pinned to the kernel release the model follows.
ELIXIR = "https://elixir.bootlin.com/linux/v4.4/source/"

#: The kernel release every line number here belongs to.
VERSION = "v4.4"

#: The kernels this module has tables for, and the Elixir tag each links to.
KERNELS = {"4.4": "v4.4", "6.18": "v6.18"}


def _kernel(kernel: str) -> str:
    """``"4.4"`` or ``"6.18"`` (a leading ``v`` is accepted); ValueError otherwise."""
    k = kernel.removeprefix("v") if isinstance(kernel, str) else kernel
    if k not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(map(repr, KERNELS))}, not {kernel!r}")
    return k


def url(file: str, line: int | None = None) -> str:
    """The Elixir address of ``file`` (``mm/page_alloc.c``) at ``line`` in Linux v4.4."""
    if not isinstance(file, str) or not file or file.startswith("/") or ".." in file:
        raise ValueError(f"file must be a path inside the kernel tree, not {file!r}")
    if line is None:
        return ELIXIR + file
    if isinstance(line, bool) or not isinstance(line, int) or line < 1:
        raise ValueError(f"line must be a positive int, not {line!r}")
    return f"{ELIXIR}{file}#L{line}"


@dataclass(frozen=True)
class SourceRef:
    """A place in the Linux v4.4 source: ``file``, the enclosing ``function``, ``line``.

    ``what`` says in one plain sentence what happens there; ``url`` links to
    the line on Elixir (v4.4).  ``str(ref)`` is ``mm/page_alloc.c:6681
    alloc_contig_range()``.
    """

    file: str
    function: str
    line: int
    what: str = ""
    #: The Elixir tag the line belongs to: ``v4.4`` (the default) or ``v6.18``.
    version: str = VERSION

    @property
    def url(self) -> str:
        if self.version == VERSION:
            return url(self.file, self.line)
        return url(self.file, self.line).replace(ELIXIR, ELIXIR.replace(VERSION, self.version), 1)

    @property
    def label(self) -> str:
        """``alloc_contig_range()`` (the function, as the course writes it)."""
        return f"{self.function}()"

    def __str__(self) -> str:
        return f"{self.file}:{self.line} {self.function}()"

    def markdown(self, text: str | None = None) -> str:
        """A markdown link: ``[`alloc_contig_range()`](url)`` unless ``text`` is given."""
        return f"[{text if text is not None else f'`{self.label}`'}]({self.url})"


_PA, _PI, _CO, _MI, _VM, _SW = ("mm/page_alloc.c", "mm/page_isolation.c", "mm/compaction.c",
                                "mm/migrate.c", "mm/vmscan.c", "mm/swap.c")
_ACR, _MIG = "alloc_contig_range", "__alloc_contig_migrate_range"


def _r(file: str, function: str, line: int, what: str) -> SourceRef:
    return SourceRef(file, function, line, what)


#: Every event name the model emits -> the v4.4 source it models.
FUNCTIONS: dict[str, SourceRef] = {
    # the seed and its helpers, mm/page_alloc.c
    "alloc_contig_range": _r(
        _PA, _ACR, 6681,
        "the seed function: isolate, migrate, drain, test, grab, give back the excess, undo"),
    "pfn_max_align": _r(
        _PA, "pfn_max_align_down", 6604,
        "round a PFN down (and, just below, up) to a multiple of the larger of a MAX_ORDER "
        "block and a pageblock"),
    "__alloc_contig_migrate_range": _r(
        _PA, _MIG, 6617,
        "empty the request of movable pages, batch by batch, giving up after 5 tries"),
    "fatal_signal_pending": _r(
        _PA, _MIG, 6629,
        "each round of the migration loop first checks for a fatal signal and stops with -EINTR"),
    "drains_done": _r(
        _PA, _ACR, 6748,
        "after migration the seed drains the LRU pagevecs and the per-CPU free lists"),
    "outer_start": _r(
        _PA, _ACR, 6753,
        "look for a free block head at start rounded down to 1, 2, 4 ... pages (orders 0 to "
        "MAX_ORDER-1)"),
    "pr_info": _r(
        _PA, _ACR, 6763,
        "the only message of the call: the range [outer_start, end) is reported busy"),
    "free_contig_range": _r(
        _PA, "free_contig_range", 6788,
        "drop one reference of each page, one page at a time, and warn about pages still in use"),
    "bad_page": _r(
        _PA, "bad_page", 400,
        "a page freed while it still has a mapping, PG_lru or PG_reserved is reported "
        "(\"Bad page state\") and kept out of the free lists (from free_pages_check(), line 737)"),
    "drain_all_pages": _r(
        _PA, "drain_all_pages", 1940,
        "every CPU gives the free pages on its per-CPU lists for the zone back to the buddy "
        "allocator"),
    # isolation, mm/page_isolation.c
    "start_isolate_page_range": _r(
        _PI, "start_isolate_page_range", 158,
        "make every pageblock of the aligned range MIGRATE_ISOLATE, rolling back on the first "
        "refusal"),
    "set_migratetype_isolate": _r(
        _PI, "set_migratetype_isolate", 12,
        "isolate one pageblock unless has_unmovable_pages() finds a page that cannot move"),
    "unset_migratetype_isolate": _r(
        _PI, "unset_migratetype_isolate", 76,
        "give one isolated pageblock the type the caller passes and move its free pages back"),
    "undo_isolate_page_range": _r(
        _PI, "undo_isolate_page_range", 191,
        "un-isolate every isolated pageblock of the aligned range"),
    "test_pages_isolated": _r(
        _PI, "test_pages_isolated", 245,
        "check every pageblock is isolated and a walk over free blocks reaches end"),
    # compaction's scanners, mm/compaction.c
    "isolate_migratepages_range": _r(
        _CO, "isolate_migratepages_range", 863,
        "take up to 32 LRU pages of the range off the LRU so they can be migrated"),
    "isolate_freepages_range": _r(
        _CO, "isolate_freepages_range", 554,
        "take every free block from outer_start on, strictly: stop at the first page that is "
        "not free"),
    # migration, mm/migrate.c; reclaim, mm/vmscan.c; pagevecs, mm/swap.c
    "migrate_pages": _r(
        _MI, "migrate_pages", 1122,
        "copy each listed page to a newly allocated page, up to 10 passes"),
    "putback_movable_pages": _r(
        _MI, "putback_movable_pages", 83,
        "pages left on the migration list go back to the LRU"),
    "reclaim_clean_pages_from_list": _r(
        _VM, "reclaim_clean_pages_from_list", 1234,
        "drop clean page-cache pages instead of migrating them"),
    "lru_add_drain_all": _r(
        _SW, "lru_add_drain_all", 870,
        "every CPU empties its LRU pagevecs onto the LRU lists"),
}

#: Stage name (``Event.stage``) -> where alloc_contig_range() runs it (mm/page_alloc.c, v4.4).
STAGES: dict[str, SourceRef] = {
    "align": _r(_PA, _ACR, 6721,
                "the isolation range is the request rounded out by pfn_max_align_down/up"),
    "isolate": _r(_PA, _ACR, 6721,
                  "start_isolate_page_range() on the aligned range; on failure return at once"),
    "migrate": _r(_PA, _ACR, 6727,
                  "__alloc_contig_migrate_range() on the request itself, not the padding"),
    "drain": _r(_PA, _ACR, 6748, "lru_add_drain_all() then drain_all_pages() for the zone"),
    "outer_start": _r(_PA, _ACR, 6752, "the outer_start loop starts from start itself"),
    "test": _r(_PA, _ACR, 6762, "test_pages_isolated(outer_start, end) and the busy message"),
    "grab": _r(_PA, _ACR, 6770, "isolate_freepages_range(outer_start, end) gives outer_end"),
    "free_excess": _r(_PA, _ACR, 6777,
                      "free_contig_range() of the head [outer_start, start) and the tail "
                      "[end, outer_end)"),
    "undo": _r(_PA, _ACR, 6782,
               "the done label: undo_isolate_page_range() on success and failure alike"),
    "done": _r(_PA, _ACR, 6785, "return 0 or the error"),
}

#: The documented contract and the settings the seed passes to compaction's helpers.
CONTRACT: dict[str, SourceRef] = {
    "kernel-doc": _r(_PA, _ACR, 6662,
                     "the comment above alloc_contig_range(): one zone, MOVABLE or CMA blocks "
                     "all of one type, the caller alone changes their types"),
    "compact_control": _r(_PA, _ACR, 6688,
                          "the seed fills a compact_control: its zone, MIGRATE_SYNC, "
                          "ignore_skip_hint"),
    "struct compact_control": _r("mm/internal.h", "compact_control", 198,
                                 "the fields: mode is the migration mode, ignore_skip_hint "
                                 "scans blocks marked to be skipped"),
    "MIGRATE_SYNC": _r("include/linux/migrate_mode.h", "migrate_mode", 13,
                       "the migration mode that may wait for locks and writeback"),
    "MIGRATE_SYNC in migrate_pages": _r(
        _MI, "__unmap_and_move", 819,
        "only in MIGRATE_SYNC does migration wait for a page under writeback (from the third "
        "pass on, as it waits for the page lock); other modes give up on such a page"),
    "ignore_skip_hint": _r(
        _CO, "update_pageblock_skip", 264,
        "with ignore_skip_hint the scanners never mark a pageblock to be skipped next time, "
        "and (isolation_suitable, line 193) never skip one so marked"),
    "has_unmovable_pages": _r(_PA, "has_unmovable_pages", 6504,
                              "MOVABLE and CMA pageblocks pass without a look at their pages"),
    "zone": _r(_PA, _ACR, 6691, "the zone is the zone of the first page; nothing checks end"),
}

#: Who calls alloc_contig_range() (or shares its isolation code) in v4.4.
CALLERS: dict[str, SourceRef] = {
    "cma_alloc": _r("mm/cma.c", "cma_alloc", 364,
                    "CMA: a driver asks for a physically contiguous buffer in a reserved area"),
    "cma_alloc call": _r("mm/cma.c", "cma_alloc", 406,
                         "CMA calls alloc_contig_range() with MIGRATE_CMA"),
    "cma_activate_area": _r("mm/cma.c", "cma_activate_area", 97,
                            "at boot, CMA checks that each pageblock of its area lies in one zone "
                            "and makes it MIGRATE_CMA"),
    "alloc_gigantic_page": _r("mm/hugetlb.c", "alloc_gigantic_page", 1066,
                              "a 1 GiB huge page: try each aligned range of each zone of a node"),
    "__alloc_gigantic_page": _r("mm/hugetlb.c", "__alloc_gigantic_page", 1031,
                                "gigantic pages call alloc_contig_range() with MIGRATE_MOVABLE"),
    "__offline_pages": _r("mm/memory_hotplug.c", "__offline_pages", 1714,
                          "memory offlining: isolate, migrate everything out, test, keep "
                          "the pages"),
    "__offline_pages isolate": _r("mm/memory_hotplug.c", "__offline_pages", 1742,
                                  "offlining calls start_isolate_page_range() itself"),
}


#: CMA in v4.4 (mm/cma.c, mm/cma.h, lib/bitmap.c, drivers/base/dma-contiguous.c), as
#: contig.cma models it and notebook 14 cites it.
_CMA = "mm/cma.c"
CMA: dict[str, SourceRef] = {
    "cma_mutex": _r(_CMA, "cma_mutex", 44,
                    "the one mutex that makes every CMA area's alloc_contig_range() calls run "
                    "one at a time"),
    "cma_bitmap_aligned_mask": _r(_CMA, "cma_bitmap_aligned_mask", 56,
                                  "bits per aligned slot, minus one"),
    "cma_bitmap_aligned_offset": _r(_CMA, "cma_bitmap_aligned_offset", 68,
                                    "the bit offset that aligns a slot (4.4's formula, fixed in "
                                    "4.13)"),
    "cma_bitmap_pages_to_bits": _r(_CMA, "cma_bitmap_pages_to_bits", 78,
                                   "pages rounded up to whole bits"),
    "cma_clear_bitmap": _r(_CMA, "cma_clear_bitmap", 84, "clear a buffer's bits"),
    "cma_activate_area": _r(_CMA, "cma_activate_area", 97,
                            "at boot: the bitmap, one zone for the whole area, CMA pageblocks"),
    "cma_init_reserved_mem": _r(_CMA, "cma_init_reserved_mem", 169,
                                "the area rules: base and size aligned, order_per_bit fits"),
    "cma_declare_contiguous": _r(_CMA, "cma_declare_contiguous", 228,
                                 "reserve an area from the early allocator"),
    "cma_alloc": _r(_CMA, "cma_alloc", 364,
                    "find a free aligned slot in the bitmap, set its bits, try it, retry on -EBUSY"),
    "cma_alloc search": _r(_CMA, "cma_alloc", 388,
                           "under cma->lock: search the bitmap and set the slot's bits"),
    "cma_alloc call": _r(_CMA, "cma_alloc", 405,
                         "under cma_mutex: alloc_contig_range(pfn, pfn + count, MIGRATE_CMA)"),
    "cma_alloc give up": _r(_CMA, "cma_alloc", 414,
                            "any error other than -EBUSY ends the search"),
    "cma_alloc retry": _r(_CMA, "cma_alloc", 420,
                          "the next search starts one alignment step after the failed slot"),
    "struct cma": _r("mm/cma.h", "struct cma", 4,
                     "base_pfn, count, bitmap, order_per_bit and the lock"),
    "bitmap_find_next_zero_area_off": _r("lib/bitmap.c", "bitmap_find_next_zero_area_off", 307,
                                         "the first run of clear bits at an aligned index"),
    "dma_alloc_from_contiguous": _r("drivers/base/dma-contiguous.c", "dma_alloc_from_contiguous",
                                    190, "a driver's call: the alignment capped at "
                                         "CONFIG_CMA_ALIGNMENT, then cma_alloc()"),
    "init_cma_reserved_pageblock": _r(_PA, "init_cma_reserved_pageblock", 1258,
                                      "a reserved pageblock becomes a free CMA pageblock"),
    "__rmqueue": _r(_PA, "__rmqueue", 1790,
                    "a MOVABLE allocation falls back to the CMA lists when its own are empty"),
}


# ---------------------------------------------------------------- Linux 6.18
_INC_SWAP = "include/linux/swap.h"
_ACR618 = "alloc_contig_range_noprof"


def _r6(file: str, function: str, line: int, what: str) -> SourceRef:
    return SourceRef(file, function, line, what, version=KERNELS["6.18"])


#: Every event name the 6.18 model (contig.v6_18) emits -> the Linux 6.18 source it models.
FUNCTIONS_6_18: dict[str, SourceRef] = {
    # mm/page_alloc.c: the CONFIG_CONTIG_ALLOC part
    "alloc_contig_range": _r6(
        _PA, _ACR618, 6879,
        "the seed function, now with acr_flags and gfp: isolate by pageblock, drain, migrate, "
        "find the large buddy, test, grab, split or make one compound page, undo"),
    "__alloc_contig_verify_gfp_mask": _r6(
        _PA, "__alloc_contig_verify_gfp_mask", 6825,
        "refuse gfp flags a contiguous allocation cannot honour, keep the reclaim ones for "
        "the migration targets"),
    "__alloc_contig_migrate_range": _r6(
        _PA, _MIG, 6740,
        "empty the range of movable pages inside lru_cache_disable(); -ENOMEM ends the loop "
        "at once, -EBUSY after 5 tries"),
    "fatal_signal_pending": _r6(
        _PA, _MIG, 6757,
        "each round of the migration loop first checks for a fatal signal and stops with -EINTR"),
    "alloc_contig_dump_pages": _r6(
        _PA, "alloc_contig_dump_pages", 6726,
        ("on -EBUSY without __GFP_NOWARN, dump the pages that did not move (only when "
         "dynamic debug enables it)")),
    "find_large_buddy": _r6(
        _PA, "find_large_buddy", 2029,
        "walk down from a PFN to the head of the free block that contains it, if any "
        "(outer_start)"),
    "split_free_pages": _r6(
        _PA, "split_free_pages", 6799,
        "without __GFP_COMP: cut the grabbed free blocks into order-0 pages"),
    "prep_new_page": _r6(
        _PA, "prep_new_page", 1850,
        "with __GFP_COMP and an aligned power-of-two range: make it one compound page"),
    "free_contig_range": _r6(
        _PA, "free_contig_range", 7121,
        ("give back a range: a large folio in one put when nr_pages is its size (a warning "
         "otherwise), else page by page")),
    "drain_all_pages": _r6(
        _PA, "drain_all_pages", 2735,
        "empty every CPU's per-CPU free lists of the zone into the buddy allocator"),
    "bad_page": _r6(
        _PA, "bad_page", 618,
        "a page freed in a state it must not be in: report it and take it out of use"),
    "alloc_contig_pages": _r6(
        _PA, "alloc_contig_pages_noprof", 7083,
        "the gigantic-page caller: try nr_pages-aligned ranges of each zone in zonelist order"),
    "pfn_range_valid_contig": _r6(
        _PA, "pfn_range_valid_contig", 7029,
        "a candidate range must be online, of the zone, not reserved and not hugetlb"),
    # mm/page_isolation.c
    "start_isolate_page_range": _r6(
        _PI, "start_isolate_page_range", 475,
        "isolate the range pageblock by pageblock, its first and last pageblock through "
        "isolate_single_pageblock()"),
    "isolate_single_pageblock": _r6(
        _PI, "isolate_single_pageblock", 313,
        "isolate a boundary pageblock and make a free block or compound page that straddles "
        "the boundary fall on one side of it"),
    "set_migratetype_isolate": _r6(
        _PI, "set_migratetype_isolate", 154,
        "refuse an isolated block or one with an unmovable page (has_unmovable_pages() by "
        "mode), else set the isolate bit and move its free pages"),
    "has_unmovable_pages": _r6(
        _PI, "has_unmovable_pages", 33,
        "look at every page of the block: a CMA block counts as unmovable for callers other "
        "than CMA, no tolerance count"),
    "unset_migratetype_isolate": _r6(
        _PI, "unset_migratetype_isolate", 212,
        "clear the isolate bit (the block's own migratetype never changed) and move its free "
        "pages back"),
    "undo_isolate_page_range": _r6(
        _PI, "undo_isolate_page_range", 525,
        "clear the isolate bit of every pageblock of the range"),
    "test_pages_isolated": _r6(
        _PI, "test_pages_isolated", 597,
        "every page from outer_start to end must now be free and on an isolated block"),
    # mm/compaction.c, mm/migrate.c, mm/vmscan.c, mm/swap.c
    "isolate_migratepages_range": _r6(
        _CO, "isolate_migratepages_range", 1320,
        "take a batch of movable pages (whole THPs too, for a contiguous allocation) off the LRU"),
    "isolate_freepages_range": _r6(
        _CO, "isolate_freepages_range", 695,
        "grab every free block of the range whole, or fail"),
    "migrate_pages": _r6(
        _MI, "migrate_pages", 2064,
        "move each isolated page or folio to a new page, up to 10 passes"),
    "putback_movable_pages": _r6(
        _MI, "putback_movable_pages", 257,
        "return the pages that did not move to the LRU"),
    "reclaim_clean_pages_from_list": _r6(
        _VM, "reclaim_clean_pages_from_list", 1648,
        "drop clean, unmapped page-cache pages instead of migrating them"),
    "lru_add_drain_all": _r6(
        _SW, "lru_add_drain_all", 891,
        "flush every CPU's LRU-add batch so the pages in it reach the LRU"),
    "lru_cache_disable": _r6(
        _SW, "lru_cache_disable", 912,
        "drain every LRU-add batch and keep new pages off the batches while migrating"),
    "lru_cache_enable": _r6(
        _INC_SWAP, "lru_cache_enable", 367,
        "let pages use the per-CPU LRU-add batches again"),
}

#: Where 6.18's ``alloc_contig_range_noprof()`` (mm/page_alloc.c) runs each stage of the model.
STAGES_6_18: dict[str, SourceRef] = {
    "isolate": _r6(_PA, _ACR618, 6933, "isolate the pageblocks of [start, end) (no alignment "
                                        "to MAX_ORDER any more)"),
    "drain": _r6(_PA, _ACR618, 6937, "empty the per-CPU free lists of the zone, once"),
    "migrate": _r6(_PA, _ACR618, 6949, "move the movable pages out of the range"),
    "outer_start": _r6(_PA, _ACR618, 6980, "find the free block that holds start"),
    "test": _r6(_PA, _ACR618, 6983, "check that every page is free and isolated"),
    "grab": _r6(_PA, _ACR618, 6989, "take the free blocks out of the buddy allocator"),
    "free_excess": _r6(_PA, _ACR618, 6999, "give back what lies outside [start, end)"),
    "undo": _r6(_PA, _ACR618, 7015, "clear the isolate bits, on success and on failure"),
    "done": _r6(_PA, _ACR618, 7016, "return 0 or the error"),
}


def where(func: str, kernel: str = "4.4") -> SourceRef:
    """The source an event named ``func`` models: :data:`FUNCTIONS` for v4.4
    (the default), :data:`FUNCTIONS_6_18` for ``kernel="6.18"``.

    :raises ValueError: no entry for ``func`` (every name the model of that
        kernel emits has one; ``tests/test_source.py`` checks that), or an
        unknown ``kernel``.
    """
    k = _kernel(kernel)
    if not isinstance(func, str):
        raise ValueError(f"func must be an event's function name (str), not {func!r}")
    table = FUNCTIONS if k == "4.4" else FUNCTIONS_6_18
    try:
        return table[func]
    except KeyError:
        raise ValueError(f"no {KERNELS[k]} source entry for func {func!r}; known: "
                         f"{', '.join(sorted(table))}") from None


def stage_ref(stage: str, kernel: str = "4.4") -> SourceRef:
    """Where ``alloc_contig_range()`` runs ``stage`` (see :data:`STAGES`, :data:`STAGES_6_18`)."""
    k = _kernel(kernel)
    table = STAGES if k == "4.4" else STAGES_6_18
    if not isinstance(stage, str) or stage not in table:
        raise ValueError(f"no {KERNELS[k]} source entry for stage {stage!r}; known: "
                         f"{', '.join(table)}")
    return table[stage]


def for_event(event: Any, kernel: str = "4.4") -> SourceRef:
    """:func:`where` of an event's ``func`` (any object with a ``func`` attribute)."""
    return where(event.func, kernel)


def link_markdown(event: Any) -> str:
    """``[`func()`](url) (mm/file.c:line)`` for an event, for notebooks."""
    ref = for_event(event)
    return f"{ref.markdown()} ({ref.file}:{ref.line})"


def link_html(event: Any) -> str:
    """A short HTML fragment: the event's kernel function as a link, and its stage's call site.

    Used by the step player (:class:`contig.viz.widgets.StepPlayer`).
    """
    import html

    ref = for_event(event)
    parts = [f'v4.4 source: <a class="contig-source" href="{html.escape(ref.url)}" '
             f'target="_blank" rel="noopener">{html.escape(ref.label)} '
             f"{html.escape(ref.file)}:{ref.line}</a>"]
    st = STAGES.get(getattr(event, "stage", None) or "")
    if st is not None and (st.file, st.line) != (ref.file, ref.line):
        parts.append(f'stage {html.escape(event.stage)} at <a class="contig-source" '
                     f'href="{html.escape(st.url)}" target="_blank" rel="noopener">'
                     f"{html.escape(st.label)} line {st.line}</a>")
    return '<span style="font-size:11px">' + " · ".join(parts) + "</span>"


def annotate(events: Any, stage: str | None = None) -> str:
    """The recorded events beside their v4.4 source, one line each.

    ``events`` is a trace (``result.events``); ``stage`` keeps only that stage's
    events.  Each line: the event number, its stage, its function and
    ``file:line``; a stage's first line is preceded by the line of
    ``alloc_contig_range()`` that runs the stage.
    """
    lines = []
    last = None
    for e in events:
        if stage is not None and e.stage != stage:
            continue
        if e.stage != last:
            st = STAGES.get(e.stage)
            if st is not None:
                lines.append(f"[{e.stage}] alloc_contig_range() line {st.line}: {st.what}")
            last = e.stage
        ref = where(e.func)
        lines.append(f"  {e.seq:3d} {e.func:29} {ref.file}:{ref.line}")
    return "\n".join(lines)
