"""/proc views of a zone, and real machines read back into the model.

Three jobs, one module:

* **Render** a model zone as the kernel prints it: :func:`render_buddyinfo`
  (``frag_show()``) and :func:`render_pagetypeinfo` (``pagetypeinfo_show()``),
  mm/vmstat.c, Linux v4.4, byte for byte, one column per order of the zone's
  geometry.  The lower-level :func:`format_buddyinfo_line`,
  :func:`format_buddyinfo` and :func:`format_pagetypeinfo` print plain counts,
  so a parsed real file can be printed back and compared.
* **Parse** real ``/proc`` text into plain data (dicts, lists, ints; never a
  Zone): :func:`parse_buddyinfo`, :func:`parse_pagetypeinfo`,
  :func:`parse_zoneinfo`, :func:`parse_iomem`.  Malformed text raises
  ``ValueError`` naming the line number and the line.  Files that describe
  several NUMA nodes are read one node at a time (``node=``), so the results
  stay keyed by zone name.
* **Snapshots** of a real zone: :func:`capture_snapshot` reads
  ``/proc/kpageflags`` (as root) into an ``.npz`` file, and
  :func:`load_kpageflags` turns such a file into a model :class:`~contig.Zone`.
  Two snapshots of a Linux 6.18 machine ship in ``contig/data`` (see
  ``contig/data/ORIGIN.md`` and :func:`data_path`).  A snapshot is checked
  before it is decompressed (array headers, lengths, dtypes, meta fields),
  and a zone of more than ``max_pfns`` PFNs (default
  :data:`DEFAULT_MAX_PFNS`, 16M PFNs = 64 GiB) is refused unless the caller
  raises the cap.

Every public function checks its arguments on entry: a wrong type raises
TypeError, a wrong value ValueError, and the message names the argument and
the value (a ``node`` of ``"x"`` or ``True``, a ``page_size`` that is not a
power of two, a KPF bit number outside 0..63 ...).

From kpageflags to the map alphabet
-----------------------------------

``/proc/kpageflags`` (fs/proc/page.c) gives one 64-bit word of flags per PFN.
:func:`classify_kpageflags` turns it into one map character per PFN; the
first rule that matches wins:

| rule | kpageflags of the PFN (first match wins) | map |
|---|---|---|
| 1 | outside every ``System RAM`` range of /proc/iomem, or NOPAGE | ``#`` |
| 2 | in the all-zero tail left by deferred struct-page init | ``#`` |
| 3 | BUDDY | ``.`` |
| 4 | HUGE | ``H`` |
| 5 | RESERVED | ``R`` |
| 6 | SLAB, PGTABLE, ZERO_PAGE, OFFLINE or HWPOISON | ``U`` |
| 7 | THP | ``T`` |
| 8 | LRU with SWAPBACKED, DIRTY, WRITEBACK, UNEVICTABLE or MLOCKED | ``M`` |
| 9 | LRU otherwise | ``F`` |
| 10 | MMAP or ANON without LRU | ``v`` |
| 11 | anything else, zero flags included | ``U`` |

Why:

1. A hole has no struct page.  This kernel reads holes as 0, not as NOPAGE,
   so holes come from /proc/iomem.
2. The memmap was never initialised: neither free nor in use (see below).
3. Free.  6.18 sets BUDDY on every page of a free block, and
   ``Zone.from_arrays`` cuts each run into maximal naturally aligned blocks
   of order at most ``max_order-1``.
4. hugetlb.  An order-0 leftover at an odd edge of a run becomes ``U``.
5. PageReserved: memblock, firmware, the kernel image, the zero page.
6. Kernel memory that cannot move.
7. A compound page on the LRU: an anonymous THP or a large page-cache folio.
   v4.4 compaction skips such pages whole.  After the zone is built,
   :func:`mark_large_folios` cuts the ``T`` runs at the real folio heads and
   marks clean page-cache folios and folios off the LRU on their heads.  An order-0 leftover at an odd
   edge of a run is classified by rules 8-11 instead.
8. Must be migrated: anonymous and shmem pages (SWAPBACKED) have no file
   to be re-read from; dirty or writeback file pages are not taken by
   ``reclaim_clean_pages_from_list()``; mlocked pages are still isolated
   (ISOLATE_UNEVICTABLE).
9. Clean page cache: dropped instead of migrated (mapped or not: reclaim
   unmaps it).  So is a clean anonymous page without SWAPBACKED: a page
   given back with MADV_FREE (lazy free, 4.5+), which 6.18's
   ``reclaim_clean_pages_from_list()`` selects (``folio_is_file_lru()`` is
   "not SWAPBACKED", mm/vmscan.c) and ``shrink_folio_list()`` frees.
10. Mapped but not on the LRU yet: in a per-CPU batch (a pagevec) on its way
    there, i.e. transient.
11. A kernel allocation, or a free page on a per-CPU list: kpageflags cannot
    tell them apart.

Never produced: ``P`` (pins are not visible in kpageflags; kpagecount is a
map count on this kernel), ``p`` (per-CPU free pages read as 0) and ``X``.

**Deferred struct-page init.**  A kernel built with
CONFIG_DEFERRED_STRUCT_PAGE_INIT initialises most of the memmap of the last
zone of a node in the background, section by section, upwards.  Pages not yet
initialised read as all-zero flags.  The rule: find the last PFN whose flags
are not zero, round up to a memory section (128 MiB, 32768 PFNs on x86-64);
everything from there to the end of the zone is uninitialised.  On the
shipped Normal snapshot this is PFN 0x218000 onwards, 4,358,144 pages, which
is exactly ``present - managed`` from the snapshot's zoneinfo.  Those pages
become ``#`` rather than ``R``: their flags do not carry PageReserved, and the
kernel's walkers skip them as if absent (the 6.18 pagetypeinfo block count
rejects them because ``page_zone()`` of a zeroed struct page is not the zone;
that is why the real file counts only 1600 Normal pageblocks, its
managed/512).  With ``#`` the model follows the same rule (2240 blocks, the
snapshot's managed/512); with ``R`` it would count 8,512 blocks more than
the machine does.  Either way they are never counted as free.

**Pageblock types** are not in kpageflags.  The rule used: a pageblock
holding at least one SLAB or PGTABLE page is UNMOVABLE; every other pageblock
is MOVABLE.  RESERVED pages do not make a block unmovable (boot marks every
pageblock MOVABLE whatever memblock reserved: the machine's DMA32 zone has
9,418 reserved pages and all 1,528 blocks Movable).  Reclaimable slab cannot
be told from unreclaimable slab, so RECLAIMABLE is never inferred (compare
UNMOVABLE with the machine's Unmovable + Reclaimable), nor are HIGHATOMIC,
CMA and ISOLATE.  On the shipped snapshots: DMA32 0 / 1528 (machine: 0 /
1528); Normal 156 unmovable blocks (machine: 84 + 81 = 165, read a few
minutes earlier).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .argcheck import MAX_PFN

__all__ = (
    "CMA_LESS_TYPES",
    "DATA_DIR",
    "DEFAULT_MAX_PFNS",
    "KPF",
    "PAGES_PER_SECTION",
    "PAGETYPE_NAMES",
    "PFN_LIMIT",
    "ProcPermissionError",
    "capture_snapshot",
    "classify_kpageflags",
    "data_path",
    "format_buddyinfo",
    "format_buddyinfo_line",
    "format_pagetypeinfo",
    "load_kpageflags",
    "load_node",
    "pagetypeinfo_blockcount",
    "parse_buddyinfo",
    "parse_iomem",
    "parse_pagetypeinfo",
    "parse_zoneinfo",
    "render_buddyinfo",
    "render_pagetypeinfo",
)

#: ``migratetype_names[]`` of mm/vmstat.c, Linux v4.4 with CONFIG_CMA and
#: CONFIG_MEMORY_ISOLATION, indexed by MigrateType value.
PAGETYPE_NAMES = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate")
#: The same list on a kernel without CONFIG_CMA (the shipped 6.18 machine).
CMA_LESS_TYPES = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate")

#: Bit numbers of /proc/kpageflags (include/uapi/linux/kernel-page-flags.h).
#: Bit 23 was KPF_BALLOON before it became KPF_OFFLINE.
KPF = {
    "LOCKED": 0, "ERROR": 1, "REFERENCED": 2, "UPTODATE": 3, "DIRTY": 4, "LRU": 5,
    "ACTIVE": 6, "SLAB": 7, "WRITEBACK": 8, "RECLAIM": 9, "BUDDY": 10, "MMAP": 11,
    "ANON": 12, "SWAPCACHE": 13, "SWAPBACKED": 14, "COMPOUND_HEAD": 15,
    "COMPOUND_TAIL": 16, "HUGE": 17, "UNEVICTABLE": 18, "HWPOISON": 19, "NOPAGE": 20,
    "KSM": 21, "THP": 22, "OFFLINE": 23, "ZERO_PAGE": 24, "IDLE": 25, "PGTABLE": 26,
    "RESERVED": 32, "MLOCKED": 33, "OWNER_2": 34, "PRIVATE": 35, "PRIVATE_2": 36,
    "OWNER_PRIVATE": 37, "ARCH": 38, "UNCACHED": 39, "SOFTDIRTY": 40, "ARCH_2": 41,
}

#: PFNs per memory section on x86-64 (SECTION_SIZE_BITS 27, 4 KiB pages).
PAGES_PER_SECTION = 1 << 15

#: Where the shipped snapshots and /proc files live.
DATA_DIR = Path(__file__).resolve().with_name("data")

_HOLE = ord("#")
_UNMOVABLE, _MOVABLE = 0, 1
_SNAPSHOT_NOTE = ("flags: /proc/kpageflags u64 per PFN over the zone span; mapcount: "
                  "/proc/kpagecount clipped to u16 (a mapcount, not a refcount); "
                  "system_ram: [start_pfn, end_pfn) of each System RAM range in /proc/iomem")


class ProcPermissionError(PermissionError):
    """The /proc files needed are unreadable or censored: run as root.

    Raised for an unreadable /proc/kpageflags or /proc/kpagecount, and for a
    /proc/iomem whose addresses are all zero (what a reader without
    CAP_SYS_ADMIN sees).  ``str()`` of it is one line.
    """


# --------------------------------------------------------------------- argument checks
#
# Every public function checks its arguments on entry: a wrong type is a
# TypeError, a wrong value a ValueError, and both messages name the function,
# the argument and the value.  bool is refused wherever an int is expected
# (True is an int to Python, never a node or a page size to the kernel);
# numpy integers are accepted.

#: A zone must end at or below this PFN: the model's limit (contig.argcheck.MAX_PFN,
#: 2**52, a 64-bit physical address space of 4 KiB pages).
PFN_LIMIT = MAX_PFN
#: Default ``max_pfns`` of :func:`load_kpageflags`: 16M PFNs, 64 GiB of 4 KiB
#: pages (the shipped Normal snapshot spans 5.5M PFNs, its node 6.5M).
DEFAULT_MAX_PFNS = 1 << 24
#: /proc/kpageflags words are 64 bits wide: bit numbers 0..63.
KPF_WORD_BITS = 64


def _int_arg(func: str, name: str, value: Any, *, lo: int | None = 0,
             hi: int | None = None, what: str = "an int") -> int:
    """``value`` as an int: TypeError unless an int (not bool), ValueError out of [lo, hi]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{func}: {name} must be {what}, not {value!r} "
                        f"({type(value).__name__})")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        if hi is None:
            rng = f">= {lo}"
        elif lo is None:
            rng = f"<= {hi}"
        else:
            rng = f"in {lo}..{hi}"
        raise ValueError(f"{func}: {name} must be {rng}, not {v}")
    return v


def _node_arg(func: str, node: Any, *, optional: bool = False) -> int | None:
    if optional and node is None:
        return None
    return _int_arg(func, "node", node,
                    what="an int >= 0 or None" if optional else "an int >= 0")


def _pow2_arg(func: str, name: str, value: Any) -> int:
    """A positive power of two (a page size, a section size in pages)."""
    v = _int_arg(func, name, value, lo=1, what="a positive power of two (int)")
    if v & (v - 1):
        raise ValueError(f"{func}: {name} must be a power of two, not {v}")
    return v


def _str_arg(func: str, name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{func}: {name} must be a str, not {value!r} "
                        f"({type(value).__name__})")
    return value


def _zone_arg(func: str, zone: Any) -> Any:
    from .zone import Zone
    if not isinstance(zone, Zone):
        raise TypeError(f"{func}: zone must be a contig Zone, not {zone!r} "
                        f"({type(zone).__name__})")
    return zone


def _zone_name_arg(func: str, name: Any) -> str:
    _str_arg(func, "zone_name", name)
    if not name or any(c.isspace() for c in name):
        raise ValueError(f"{func}: zone_name must be one word (e.g. 'Normal'), not {name!r}")
    return name


def _counts_arg(func: str, name: str, counts: Any) -> list[int]:
    """A sequence of counts (ints >= 0); a str or a mapping is refused."""
    if isinstance(counts, (str, bytes, Mapping)) or not isinstance(counts, Iterable):
        raise TypeError(f"{func}: {name} must be a sequence of ints, not {counts!r}")
    return [_int_arg(func, f"{name}[{i}]", c, what="an int >= 0")
            for i, c in enumerate(counts)]


def _kpf_bits_arg(func: str, kpf_bits: Any) -> dict[str, int]:
    """Bit numbers by name: each a str -> an int in 0..63."""
    if kpf_bits is None:
        return {}
    if not isinstance(kpf_bits, Mapping):
        raise TypeError(f"{func}: kpf_bits must be a mapping of flag name to bit number, "
                        f"not {kpf_bits!r}")
    out = {}
    for key, bit in kpf_bits.items():
        _str_arg(func, "a kpf_bits name", key)
        out[key] = _int_arg(func, f"kpf_bits[{key!r}]", bit, lo=0, hi=KPF_WORD_BITS - 1,
                            what="a bit number (int 0..63)")
    return out


def _ranges_arg(func: str, name: str, ranges: Any) -> list[tuple[int, int]]:
    """``[(start_pfn, end_pfn), ...]``: pairs of ints, 0 <= start <= end <= 2**52."""
    if isinstance(ranges, (str, bytes, Mapping)) or not isinstance(ranges, Iterable):
        raise TypeError(f"{func}: {name} must be a list of (start_pfn, end_pfn) pairs, "
                        f"not {ranges!r}")
    out = []
    for i, pair in enumerate(ranges):
        if (isinstance(pair, (str, bytes)) or not isinstance(pair, (Sequence, np.ndarray))
                or len(pair) != 2):
            raise TypeError(f"{func}: {name}[{i}] must be a (start_pfn, end_pfn) pair, "
                            f"not {pair!r}")
        a = _int_arg(func, f"{name}[{i}] start", pair[0], hi=PFN_LIMIT)
        b = _int_arg(func, f"{name}[{i}] end", pair[1], hi=PFN_LIMIT)
        if b < a:
            raise ValueError(f"{func}: {name}[{i}] ends below its start: {pair!r}")
        out.append((a, b))
    return out


# --------------------------------------------------------------------- printing


def format_buddyinfo_line(node: int, zone_name: str, counts: Iterable[int]) -> str:
    """Return one /proc/buddyinfo line, newline included.

    Models frag_show_print(), mm/vmstat.c, Linux v4.4: ``Node %d, zone %8s``,
    then ``%6lu `` per order (every count is followed by a space).

    >>> format_buddyinfo_line(0, "DMA", [0, 1, 3])
    'Node 0, zone      DMA      0      1      3 \\n'
    """
    fn = "format_buddyinfo_line"
    node = _node_arg(fn, node)
    _zone_name_arg(fn, zone_name)
    counts = _counts_arg(fn, "counts", counts)
    # seq_printf "Node %d, zone %8s " then "%6lu " per order
    return f"Node {node}, zone {zone_name:>8} " + "".join(
        f"{c:6d} " for c in counts) + "\n"


def format_buddyinfo(zones: Mapping[str, Sequence[int]], node: int = 0) -> str:
    """Return /proc/buddyinfo text for the zones of one node, in the given order.

    ``format_buddyinfo(parse_buddyinfo(text))`` gives back ``text``.

    :raises TypeError, ValueError: ``zones`` not a mapping, or an argument
        :func:`format_buddyinfo_line` refuses.
    """
    if not isinstance(zones, Mapping):
        raise TypeError(f"format_buddyinfo: zones must be a mapping of zone name to counts, "
                        f"not {zones!r}")
    node = _node_arg("format_buddyinfo", node)
    return "".join(format_buddyinfo_line(node, name, counts) for name, counts in zones.items())


def format_pagetypeinfo(info: Mapping[str, Any], *, node: int | None = None) -> str:
    """Return /proc/pagetypeinfo text for one node from counts.

    Models pagetypeinfo_show(), pagetypeinfo_showfree() and
    pagetypeinfo_showblockcount(), mm/vmstat.c, Linux v4.4: the pageblock
    header, one line per zone and migratetype of free-block counts per order,
    a blank line, then one line per zone of pageblock counts per type.

    :param info: what :func:`parse_pagetypeinfo` returns: ``page_block_order``,
        optionally ``pages_per_block`` (default ``1 << page_block_order``),
        ``node``, ``free`` (zone -> type name -> counts per order), ``blocks``
        (zone -> type name -> count) and optionally ``mixed`` (same shape,
        the CONFIG_PAGE_OWNER section).  The type columns of the block
        section are the keys of the first zone's ``blocks`` entry.
    :param node: overrides ``info["node"]`` (default 0).
    :return: the text; ``format_pagetypeinfo(parse_pagetypeinfo(t)) == t``.
    :raises TypeError, ValueError: naming the key and value, for a missing
        or ill-typed key, a negative count, free-count lists of different
        lengths, or a zone of a block section missing one of its types.
    """
    fn = "format_pagetypeinfo"
    if not isinstance(info, Mapping):
        raise TypeError(f"{fn}: info must be a mapping (what parse_pagetypeinfo returns), "
                        f"not {info!r}")
    for key in ("page_block_order", "free"):
        if key not in info:
            raise ValueError(f"{fn}: info has no {key!r} key")
    nd = _node_arg(fn, info.get("node", 0) if node is None else node)
    pbo = _int_arg(fn, "info['page_block_order']", info["page_block_order"], hi=63)
    ppb = _int_arg(fn, "info['pages_per_block']", info.get("pages_per_block", 1 << pbo), lo=1)
    free: Mapping[str, Mapping[str, Sequence[int]]] = info["free"]
    blocks: Mapping[str, Mapping[str, int]] = info.get("blocks", {})
    if not isinstance(free, Mapping) or not all(isinstance(v, Mapping) for v in free.values()):
        raise TypeError(f"{fn}: info['free'] must map zone -> type -> counts, not {free!r}")
    if not free or not any(free.values()):
        raise ValueError("format_pagetypeinfo needs at least one zone in info['free']")
    first = next(v for v in free.values() if v)
    norders = len(next(iter(first.values())))
    for zname, per_type in free.items():
        _zone_name_arg(fn, zname)
        for tname, counts in per_type.items():
            _str_arg(fn, "a type name", tname)
            got = _counts_arg(fn, f"info['free'][{zname!r}][{tname!r}]", counts)
            if len(got) != norders:
                raise ValueError(f"{fn}: info['free'][{zname!r}][{tname!r}] has {len(got)} "
                                 f"counts, the first list {norders}")
    for key in ("blocks", "mixed"):
        sec = info.get(key)
        if key == "mixed" and sec is None:
            continue
        if not isinstance(sec, Mapping) or not all(isinstance(v, Mapping)
                                                   for v in sec.values()):
            raise TypeError(f"{fn}: info[{key!r}] must map zone -> type -> count, not {sec!r}")
        cols = list(next(iter(sec.values())).keys()) if sec else []
        for zname, per_type in sec.items():
            _zone_name_arg(fn, zname)
            for t in cols:
                if t not in per_type:
                    raise ValueError(f"{fn}: info[{key!r}][{zname!r}] has no {t!r} count")
                _int_arg(fn, f"info[{key!r}][{zname!r}][{t!r}]", per_type[t],
                         what="an int >= 0")
    out = [f"Page block order: {pbo}\n", f"Pages per block:  {ppb}\n", "\n",
           f"{'Free pages count per migrate type at order':<43} "
           + "".join(f"{o:6d} " for o in range(norders)) + "\n"]
    for zname, per_type in free.items():
        for tname, counts in per_type.items():
            out.append(f"Node {nd:4d}, zone {zname:>8}, type {tname:>12} "
                       + "".join(f"{int(c):6d} " for c in counts) + "\n")
    for title, section in (("Number of blocks type ", blocks),
                           ("Number of mixed blocks ", info.get("mixed"))):
        if section is None:
            continue
        types = list(next(iter(section.values())).keys()) if section else list(first.keys())
        out.append(f"\n{title:<23}" + "".join(f"{t:>12} " for t in types) + "\n")
        for zname, per_type in section.items():
            out.append(f"Node {nd}, zone {zname:>8} "
                       + "".join(f"{int(per_type[t]):12d} " for t in types) + "\n")
    return "".join(out)


def _populated(zone: Any) -> bool:
    # populated_zone(): the zone has present pages, i.e. a PFN that is no hole
    return bool((zone.kinds() != _HOLE).any())


def pagetypeinfo_blockcount(zone: Any) -> np.ndarray:
    """Count the zone's pageblocks of each migratetype; int64, one per MigrateType.

    Models pagetypeinfo_showblockcount_print(), mm/vmstat.c, Linux v4.4: the
    kernel steps from ``zone_start_pfn`` (not rounded down) by
    ``pageblock_nr_pages`` and skips a step whose PFN is not valid (here: a
    ``#`` PFN), then counts the type of the pageblock holding it.

    :raises TypeError: ``zone`` is not a :class:`~contig.Zone`.
    """
    _zone_arg("pagetypeinfo_blockcount", zone)
    g = zone.geometry
    pfns = np.arange(zone.start_pfn, zone.end_pfn, g.pageblock_nr_pages, dtype=np.int64)
    pfns = pfns[zone.kinds()[pfns - zone.start_pfn] != _HOLE]
    idx = (pfns >> g.pageblock_order) - (zone.start_pfn >> g.pageblock_order)
    types = zone.pageblock_types()[idx].astype(np.int64)
    return np.bincount(types, minlength=len(PAGETYPE_NAMES))[: len(PAGETYPE_NAMES)]


def render_buddyinfo(zone: Any, node: int = 0) -> str:
    """Return the zone's line of /proc/buddyinfo, newline included.

    Models frag_show() / frag_show_print(), mm/vmstat.c, Linux v4.4: the
    number of free blocks of each order (``free_area[order].nr_free``, all
    migratetype lists together, Isolate included), one column per order of
    the zone's geometry.  Like ``walk_zones_in_node()``, a zone without
    present pages (all ``#``) prints nothing.

    >>> from contig import Zone, Geometry
    >>> render_buddyinfo(Zone.from_map("..M.", geometry=Geometry(3, 1), name="DMA"))
    'Node 0, zone      DMA      1      1      0 \\n'
    """
    _zone_arg("render_buddyinfo", zone)
    node = _node_arg("render_buddyinfo", node)
    if not _populated(zone):
        return ""
    counts = zone.free_list_counts().sum(axis=1)
    return format_buddyinfo_line(node, zone.name, counts.tolist())


def render_pagetypeinfo(zone: Any, node: int = 0, *,
                        types: Sequence[str] | None = None) -> str:
    """Return /proc/pagetypeinfo for a node holding just this zone.

    Models pagetypeinfo_show(), pagetypeinfo_showfree_print() and
    pagetypeinfo_showblockcount_print(), mm/vmstat.c, Linux v4.4 (no
    CONFIG_PAGE_OWNER section).  A node without present pages prints nothing.

    :param types: the migratetype names to print, in order; default
        :data:`PAGETYPE_NAMES` (v4.4 with CONFIG_CMA: six types).  Pass
        :data:`CMA_LESS_TYPES` for the layout of a kernel without CONFIG_CMA,
        e.g. to compare with the shipped 6.18 file.
    :raises ValueError: an unknown or repeated name, or a type left out of
        ``types`` that has free blocks or pageblocks in the zone.
    :raises TypeError: ``zone`` not a Zone, ``node`` not an int, ``types``
        a str or holding something else than str.
    """
    fn = "render_pagetypeinfo"
    _zone_arg(fn, zone)
    node = _node_arg(fn, node)
    if types is not None and (isinstance(types, (str, bytes)) or not isinstance(types, Iterable)):
        raise TypeError(f"{fn}: types must be a sequence of migratetype names, not {types!r}")
    names = PAGETYPE_NAMES if types is None else tuple(types)
    for t in names:
        _str_arg(fn, "a name in types", t)
    for t in names:
        if t not in PAGETYPE_NAMES:
            raise ValueError(f"unknown migratetype name {t!r}; known: {', '.join(PAGETYPE_NAMES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"types names a migratetype twice: {names}")
    if not _populated(zone):
        return ""
    flc = zone.free_list_counts()
    bc = pagetypeinfo_blockcount(zone)
    for mt, t in enumerate(PAGETYPE_NAMES):
        if t not in names and (flc[:, mt].any() or bc[mt]):
            raise ValueError(f"zone {zone.name} has {t} free blocks or pageblocks, "
                             f"but types= leaves {t} out")
    mts = [PAGETYPE_NAMES.index(t) for t in names]
    info = {
        "node": node,
        "page_block_order": zone.geometry.pageblock_order,
        "pages_per_block": zone.geometry.pageblock_nr_pages,
        "free": {zone.name: {PAGETYPE_NAMES[mt]: flc[:, mt].tolist() for mt in mts}},
        "blocks": {zone.name: {PAGETYPE_NAMES[mt]: int(bc[mt]) for mt in mts}},
    }
    return format_pagetypeinfo(info)


# --------------------------------------------------------------------- parsing


def _lines(text: str, what: str) -> list[tuple[int, str]]:
    if not isinstance(text, str):
        shown = repr(text)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise TypeError(f"{what}: text must be the file's text (a str), not "
                        f"{type(text).__name__} {shown}")
    if not text.strip():
        raise ValueError(f"{what}: empty text")
    return list(enumerate(text.splitlines(), 1))


def _bad(what: str, lineno: int, line: str, reason: str) -> ValueError:
    return ValueError(f"{what} line {lineno}: {reason}: {line!r}")


def _pick_node(what: str, per_node: dict[int, Any], first: dict[int, tuple[int, str]],
               node: int | None) -> Any:
    nodes = sorted(per_node)
    if node is None:
        if len(nodes) > 1:
            ln, line = first[nodes[1]]
            raise _bad(what, ln, line, f"the text describes nodes {nodes}; "
                       f"pass node= to read one of them")
        return per_node[nodes[0]]
    if node not in per_node:
        raise ValueError(f"{what}: no node {node} in the text (nodes: {nodes})")
    return per_node[node]


_BUDDY_RE = re.compile(r"Node\s+(\d+),\s+zone\s+(\S+)((?:\s+\d+)+)\s*")


def parse_buddyinfo(text: str, *, node: int | None = None) -> dict[str, list[int]]:
    """Read /proc/buddyinfo: zone name -> free blocks per order.

    Reads what frag_show(), mm/vmstat.c prints (the same in v4.4 and 6.18).
    Keyed by zone name, in file order.  Text covering several nodes needs
    ``node=`` to pick one (the zone names repeat per node).

    :raises ValueError: empty text; a line that is not ``Node N, zone NAME``
        followed by counts; a count of columns differing from the first
        line's; a zone twice in a node; several nodes and no ``node=``; no
        such node.  The message names the line number and the line.
    :raises TypeError, ValueError: ``node`` not None or an int >= 0.
    """
    node = _node_arg("parse_buddyinfo", node, optional=True)
    per_node: dict[int, dict[str, list[int]]] = {}
    first: dict[int, tuple[int, str]] = {}
    ncols = None
    for ln, line in _lines(text, "buddyinfo"):
        if not line.strip():
            continue
        m = _BUDDY_RE.fullmatch(line)
        if not m:
            raise _bad("buddyinfo", ln, line,
                       "expected 'Node N, zone NAME' then one free-block count per order")
        nd, zname = int(m[1]), m[2]
        counts = [int(x) for x in m[3].split()]
        if ncols is None:
            ncols = len(counts)
        elif len(counts) != ncols:
            raise _bad("buddyinfo", ln, line,
                       f"{len(counts)} counts, but the first line has {ncols}")
        zones = per_node.setdefault(nd, {})
        first.setdefault(nd, (ln, line))
        if zname in zones:
            raise _bad("buddyinfo", ln, line, f"zone {zname} of node {nd} appears twice")
        zones[zname] = counts
    return _pick_node("buddyinfo", per_node, first, node)


_PTI_ORDER = re.compile(r"Page block order:\s*(\d+)\s*")
_PTI_PPB = re.compile(r"Pages per block:\s*(\d+)\s*")
_PTI_FREEHDR = re.compile(r"Free pages count per migrate type at order((?:\s+\d+)+)\s*")
_PTI_FREE = re.compile(r"Node\s+(\d+),\s+zone\s+(\S+),\s+type\s+(\S+)((?:\s+>?\d+)+)\s*")
_PTI_BLOCKHDR = re.compile(r"Number of (blocks type|mixed blocks)((?:\s+\S+)+)\s*")
_PTI_BLOCK = re.compile(r"Node\s+(\d+),\s+zone\s+(\S+)((?:\s+\d+)+)\s*")


def parse_pagetypeinfo(text: str, *, node: int | None = None) -> dict[str, Any]:
    """Read /proc/pagetypeinfo for one node.

    Reads what pagetypeinfo_show(), mm/vmstat.c prints, v4.4 or later, with
    or without CMA (the type names are taken from the text).

    :return: a dict with ``node``, ``page_block_order``, ``pages_per_block``,
        ``free`` (zone -> type -> list of free-block counts per order),
        ``blocks`` (zone -> type -> number of pageblocks) and, when the text
        has the CONFIG_PAGE_OWNER section, ``mixed`` (same shape as
        ``blocks``).  Zones and types keep file order.  Kernels later than
        v4.4 (a 2019 change) stop counting a list at 100000 blocks and print
        ``>100000``; that is read as 100000, a lower bound.
    :raises ValueError: naming the line, for empty text, a line out of
        place or not of the format, a column count that disagrees with its
        header, a repeated zone or type, or several nodes without ``node=``;
        and (or TypeError) ``node`` not None or an int >= 0.
    """
    node = _node_arg("parse_pagetypeinfo", node, optional=True)
    what = "pagetypeinfo"
    per_node: dict[int, dict[str, Any]] = {}
    first: dict[int, tuple[int, str]] = {}
    cur: dict[str, Any] | None = None
    state = ""
    norders = 0
    section: dict[str, dict[str, int]] = {}
    sec_types: list[str] = []

    def claim(nd: int, ln: int, line: str) -> None:
        if cur is None:
            raise _bad(what, ln, line, "a zone line before 'Page block order:'")
        if cur["node"] is None:
            if nd in per_node:
                raise _bad(what, ln, line, f"node {nd} is described twice")
            cur["node"] = nd
            per_node[nd] = cur
            first[nd] = (ln, line)
        elif cur["node"] != nd:
            raise _bad(what, ln, line, f"node {nd} inside the section of node {cur['node']}")

    for ln, line in _lines(text, what):
        if not line.strip():
            continue
        if m := _PTI_ORDER.fullmatch(line):
            cur = {"node": None, "page_block_order": int(m[1]), "pages_per_block": None,
                   "free": {}, "blocks": {}, "_seen": set()}
            state = "order"
        elif cur is None:
            raise _bad(what, ln, line, "expected 'Page block order: N' first")
        elif m := _PTI_PPB.fullmatch(line):
            if state != "order":
                raise _bad(what, ln, line, "'Pages per block' must follow 'Page block order'")
            cur["pages_per_block"] = int(m[1])
            state = "ppb"
        elif m := _PTI_FREEHDR.fullmatch(line):
            if state != "ppb":
                raise _bad(what, ln, line, "the free-count header must follow 'Pages per block'")
            orders = [int(x) for x in m[1].split()]
            if orders != list(range(len(orders))):
                raise _bad(what, ln, line, "orders must run 0, 1, 2, ...")
            norders = len(orders)
            state = "free"
        elif m := _PTI_FREE.fullmatch(line):
            if state != "free":
                raise _bad(what, ln, line, "a free-count line outside the free-count section")
            nd, zname, tname = int(m[1]), m[2], m[3]
            claim(nd, ln, line)
            counts = [int(x.lstrip(">")) for x in m[4].split()]
            if len(counts) != norders:
                raise _bad(what, ln, line, f"{len(counts)} counts for {norders} orders")
            per_type = cur["free"].setdefault(zname, {})
            if tname in per_type:
                raise _bad(what, ln, line, f"zone {zname} type {tname} appears twice")
            per_type[tname] = counts
        elif m := _PTI_BLOCKHDR.fullmatch(line):
            if state not in ("free", "blocks"):
                raise _bad(what, ln, line, "a block-count header before the free counts")
            key = "blocks" if m[1] == "blocks type" else "mixed"
            if key in cur["_seen"]:
                raise _bad(what, ln, line, f"a second 'Number of {m[1]}' section")
            cur["_seen"].add(key)
            section = cur.setdefault(key, {})
            sec_types = m[2].split()
            state = "blocks"
        elif m := _PTI_BLOCK.fullmatch(line):
            if state != "blocks":
                raise _bad(what, ln, line, "a block-count line outside the block-count section")
            nd, zname = int(m[1]), m[2]
            claim(nd, ln, line)
            counts = [int(x) for x in m[3].split()]
            if len(counts) != len(sec_types):
                raise _bad(what, ln, line, f"{len(counts)} counts for {len(sec_types)} types")
            if zname in section:
                raise _bad(what, ln, line, f"zone {zname} appears twice in this section")
            section[zname] = dict(zip(sec_types, counts))
        else:
            raise _bad(what, ln, line, "not a pagetypeinfo line")
    if not per_node:
        ln, line = len(text.splitlines()), text.splitlines()[-1]
        raise _bad(what, ln, line, "the text ends before any zone line")
    for chunk in per_node.values():
        del chunk["_seen"]
    return _pick_node(what, per_node, first, node)


_ZI_ZONE = re.compile(r"Node\s+(\d+),\s+zone\s+(\S+)")
_ZI_PROT = re.compile(r"protection:\s*\(([-\d,\s]*)\)")
_ZI_CPU = re.compile(r"cpu:\s*(\d+)")
_ZI_KV = re.compile(r"([A-Za-z][\w-]*(?: [A-Za-z][\w-]*)*)(:?)\s+(-?\d+)")
_PCP_KEYS = frozenset({"count", "high", "batch", "high_min", "high_max", "vm stats threshold"})


def parse_zoneinfo(text: str, *, node: int | None = None) -> dict[str, dict[str, Any]]:
    """Read /proc/zoneinfo: zone name -> the zone's numeric fields.

    Reads what zoneinfo_show_print(), mm/vmstat.c prints (v4.4 to 6.18).  Per
    zone: ``node``; ``free`` (the ``pages free`` line); every other
    ``name value`` or ``name: value`` line under its name with spaces turned
    into ``_`` (``min``, ``low``, ``high``, ``spanned``, ``present``,
    ``managed``, ``start_pfn``, ``nr_free_pages`` ...); ``protection`` as a
    list; ``pagesets``, a list with one dict per CPU (``cpu``, ``count``,
    ``high``, ``batch``, and ``high_min``, ``high_max``,
    ``vm_stats_threshold`` when printed); and ``node_stats`` for the
    ``per-node stats`` block newer kernels print inside a node's first zone.

    :raises ValueError: naming the line, for empty text, a field before the
        first ``Node N, zone NAME`` line, a non-numeric or unknown line, a
        repeated field or zone, or several nodes without ``node=``; and (or
        TypeError) ``node`` not None or an int >= 0.
    """
    node = _node_arg("parse_zoneinfo", node, optional=True)
    what = "zoneinfo"
    per_node: dict[int, dict[str, dict[str, Any]]] = {}
    first: dict[int, tuple[int, str]] = {}
    zone: dict[str, Any] | None = None
    mode = ""
    cpu: dict[str, int] | None = None

    def put(d: dict[str, Any], key: str, value: Any, ln: int, line: str) -> None:
        if key in d:
            raise _bad(what, ln, line, f"field {key!r} appears twice")
        d[key] = value

    for ln, line in _lines(text, what):
        s = line.strip()
        if not s:
            continue
        if m := _ZI_ZONE.fullmatch(s):
            nd, zname = int(m[1]), m[2]
            zones = per_node.setdefault(nd, {})
            first.setdefault(nd, (ln, line))
            if zname in zones:
                raise _bad(what, ln, line, f"zone {zname} of node {nd} appears twice")
            zone = zones[zname] = {"node": nd}
            mode, cpu = "", None
        elif zone is None:
            raise _bad(what, ln, line, "expected 'Node N, zone NAME' first")
        elif s == "per-node stats":
            put(zone, "node_stats", {}, ln, line)
            mode = "node"
        elif s == "pagesets":
            put(zone, "pagesets", [], ln, line)
            mode, cpu = "pagesets", None
        elif m := _ZI_PROT.fullmatch(s):
            try:
                prot = [int(x) for x in m[1].split(",")] if m[1].strip() else []
            except ValueError:
                raise _bad(what, ln, line, "protection must be a list of integers") from None
            put(zone, "protection", prot, ln, line)
            mode = ""
        elif m := _ZI_CPU.fullmatch(s):
            if mode != "pagesets":
                raise _bad(what, ln, line, "'cpu:' outside the pagesets section")
            cpu = {"cpu": int(m[1])}
            zone["pagesets"].append(cpu)
        elif m := _ZI_KV.fullmatch(s):
            key, colon, value = m[1], m[2], int(m[3])
            if mode == "pagesets" and colon and key in _PCP_KEYS:
                if cpu is None:
                    raise _bad(what, ln, line, "a per-CPU field before 'cpu: N'")
                put(cpu, key.replace(" ", "_"), value, ln, line)
            elif mode == "node" and not colon and key != "pages free":
                put(zone["node_stats"], key, value, ln, line)
            else:
                mode = ""
                put(zone, "free" if key == "pages free" else key.replace(" ", "_"),
                    value, ln, line)
        else:
            raise _bad(what, ln, line, "expected 'name value' with an integer value")
    return _pick_node(what, per_node, first, node)


_IOMEM_RE = re.compile(r"(\s*)([0-9a-fA-F]+)-([0-9a-fA-F]+) : (.*)")


def parse_iomem(text: str, *, page_size: int = 4096) -> list[tuple[int, int]]:
    """Read /proc/iomem: the System RAM ranges as half-open PFN ranges.

    Reads the resource tree kernel/resource.c prints.  A ``System RAM``
    entry at any depth counts; only pages lying wholly inside it are RAM
    (``00001000-0009fbff`` gives PFNs ``[1, 159)``).  Ranges are sorted and
    touching or overlapping ones merged.

    :return: ``[(start_pfn, end_pfn), ...]``; end is one past the last PFN.
    :raises ProcPermissionError: every address in the text is zero (what a
        reader without CAP_SYS_ADMIN sees).
    :param page_size: bytes per page, a power of two (default 4096).
    :raises ValueError: naming the line, for empty text or a line not of the
        form ``start-end : name`` with hexadecimal addresses; ``page_size``
        not a positive power of two (TypeError if not an int).
    """
    page_size = _pow2_arg("parse_iomem", "page_size", page_size)
    raw: list[tuple[int, int]] = []
    nonzero = False
    for ln, line in _lines(text, "iomem"):
        if not line.strip():
            continue
        m = _IOMEM_RE.fullmatch(line.rstrip())
        if not m:
            raise _bad("iomem", ln, line, "expected 'start-end : name' with hexadecimal addresses")
        lo, hi = int(m[2], 16), int(m[3], 16)
        if hi < lo:
            raise _bad("iomem", ln, line, "the end address is below the start address")
        nonzero = nonzero or hi != 0
        if m[4].strip() == "System RAM":
            a, b = -(-lo // page_size), (hi + 1) // page_size
            if b > a:
                raw.append((a, b))
    if not nonzero:
        raise ProcPermissionError("/proc/iomem shows only zero addresses: "
                                  "reading real addresses needs root (CAP_SYS_ADMIN)")
    merged: list[tuple[int, int]] = []
    for a, b in sorted(raw):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


# --------------------------------------------------------------------- kpageflags


def _ram_mask(system_ram: Iterable[Sequence[int]], start_pfn: int, n: int) -> np.ndarray:
    ram = np.zeros(n, dtype=bool)
    for a, b in system_ram:
        lo, hi = max(int(a) - start_pfn, 0), min(int(b) - start_pfn, n)
        if hi > lo:
            ram[lo:hi] = True
    return ram


def _trim_odd_ends(mask: np.ndarray, start_pfn: int) -> np.ndarray:
    """Clear the pages of ``mask`` that cutting into order >= 1 blocks would leave over.

    A maximal run cut into naturally aligned power-of-two blocks leaves an
    order-0 piece only where it starts on an odd PFN or ends after an even
    one; clearing those pages leaves runs that cut cleanly.
    """
    d = np.diff(mask.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    out = mask.copy()
    out[starts[(start_pfn + starts) % 2 == 1]] = False
    out[ends[(start_pfn + ends) % 2 == 1] - 1] = False
    return out


def classify_kpageflags(flags: np.ndarray, start_pfn: int,
                        system_ram: Iterable[Sequence[int]], *, pageblock_order: int = 9,
                        kpf_bits: Mapping[str, int] | None = None,
                        section_pages: int = PAGES_PER_SECTION,
                        ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Turn kpageflags words into map characters and pageblock types.

    The rules are the table in this module's docstring; the pageblock rule
    (SLAB or PGTABLE page -> UNMOVABLE, else MOVABLE) likewise.

    :param flags: one /proc/kpageflags word (uint64) per PFN from ``start_pfn``.
    :param start_pfn: an int >= 0; the span must end at or below 2**52.
    :param system_ram: ``[(start_pfn, end_pfn), ...]`` as :func:`parse_iomem` gives.
    :param pageblock_order: 0..20, as :class:`~contig.Geometry` allows.
    :param kpf_bits: bit numbers (0..63) by name, overriding :data:`KPF`.
    :param section_pages: PFNs per memory section, a power of two.
    :raises TypeError, ValueError: naming the argument and the value, for
        any argument of the wrong type or out of range.
    :return: ``(kinds, blocks, info)``: uint8 map codes per PFN, uint8
        MigrateType per pageblock overlapping the span, and a dict with
        ``counts`` (map character -> pages), ``hole_pages``,
        ``uninitialised_pages``, ``first_uninitialised_pfn`` (None if none)
        and ``unmovable_blocks``.
    """
    fn = "classify_kpageflags"
    flags = np.asarray(flags)
    if flags.ndim != 1 or flags.dtype != np.uint64:
        raise ValueError(f"flags must be a 1-D uint64 array, got {flags.dtype} {flags.shape}")
    n = flags.size
    if n == 0:
        raise ValueError("flags is empty: a zone needs at least one PFN")
    start_pfn = _int_arg(fn, "start_pfn", start_pfn, hi=PFN_LIMIT - n,
                         what="an int >= 0 (a PFN)")
    system_ram = _ranges_arg(fn, "system_ram", system_ram)
    pageblock_order = _int_arg(fn, "pageblock_order", pageblock_order, hi=20)
    section_pages = _pow2_arg(fn, "section_pages", section_pages)
    bits = dict(KPF)
    bits.update(_kpf_bits_arg(fn, kpf_bits))

    # the two 32-bit halves, once: a test on a uint32 array costs half one on the uint64 words
    lo32 = flags.astype(np.uint32)
    hi32 = (flags >> np.uint64(32)).astype(np.uint32)

    def has(*names: str) -> np.ndarray:
        word = 0
        for name in names:
            word |= 1 << bits[name]
        wlo, whi = word & 0xFFFFFFFF, word >> 32
        if whi == 0:
            return (lo32 & np.uint32(wlo)) != 0
        if wlo == 0:
            return (hi32 & np.uint32(whi)) != 0
        return ((lo32 & np.uint32(wlo)) != 0) | ((hi32 & np.uint32(whi)) != 0)

    hole = ~_ram_mask(system_ram, start_pfn, n) | has("NOPAGE")
    nonzero = (lo32 | hi32) != 0
    last = n - 1 - int(np.argmax(nonzero[::-1])) if nonzero.any() else -1
    boundary = -(-(start_pfn + last + 1) // section_pages) * section_pages
    uninit = np.zeros(n, dtype=bool)
    uninit[min(max(boundary - start_pfn, 0), n):] = True
    uninit &= ~hole
    gone = hole | uninit

    kinds = np.full(n, ord("U"), dtype=np.uint8)
    lru = has("LRU")
    kinds[~lru & has("MMAP", "ANON")] = ord("v")
    kinds[lru] = ord("F")
    kinds[lru & has("SWAPBACKED", "DIRTY", "WRITEBACK", "UNEVICTABLE", "MLOCKED")] = ord("M")
    buddy = has("BUDDY")
    huge = has("HUGE") & ~gone & ~buddy
    reserved = has("RESERVED")
    kernel = has("SLAB", "PGTABLE", "ZERO_PAGE", "OFFLINE", "HWPOISON")
    thp = has("THP") & ~(gone | buddy | huge | reserved | kernel)
    kinds[_trim_odd_ends(thp, start_pfn)] = ord("T")
    kinds[kernel] = ord("U")
    kinds[reserved] = ord("R")
    hugetlb = _trim_odd_ends(huge, start_pfn)
    kinds[huge & ~hugetlb] = ord("U")
    kinds[hugetlb] = ord("H")
    kinds[buddy] = ord(".")
    kinds[gone] = _HOLE

    pbo = int(pageblock_order)
    first_block = start_pfn >> pbo
    nblocks = ((start_pfn + n - 1) >> pbo) - first_block + 1
    pad = start_pfn - (first_block << pbo)
    unmov = np.zeros(nblocks << pbo, dtype=bool)
    unmov[pad:pad + n] = has("SLAB", "PGTABLE") & ~gone
    blocks = np.where(unmov.reshape(nblocks, -1).any(axis=1), _UNMOVABLE, _MOVABLE)
    blocks = blocks.astype(np.uint8)

    tally = np.bincount(kinds, minlength=256)
    info = {
        "counts": {chr(c): int(tally[c]) for c in np.flatnonzero(tally)},
        "hole_pages": int(hole.sum()),
        "uninitialised_pages": int(uninit.sum()),
        "first_uninitialised_pfn": int(start_pfn + np.argmax(uninit)) if uninit.any() else None,
        "unmovable_blocks": int((blocks == _UNMOVABLE).sum()),
    }
    return kinds, blocks, info


def _npz_member(npz: Any, path: Any, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of array ``name`` of an npz, read from its header only.

    Reading the header does not decompress the data: a small file cannot
    make the loader allocate gigabytes before its size is checked.
    """
    try:
        with npz.zip.open(f"{name}.npy") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _fortran, dtype = read_header(fh)
    except (KeyError, ValueError, OSError) as exc:
        raise ValueError(f"{path}: array {name!r} is not a readable .npy member ({exc})") \
            from None
    return tuple(shape), np.dtype(dtype)


def _check_snapshot(npz: Any, path: Any, max_pfns: int) -> None:
    """Refuse a snapshot whose arrays disagree, before any is decompressed."""
    fshape, fdtype = _npz_member(npz, path, "flags")
    if len(fshape) != 1 or fdtype != np.uint64:
        raise ValueError(f"{path}: flags must be a 1-D uint64 array, "
                         f"not {fdtype} of shape {fshape}")
    n = fshape[0]
    if n == 0:
        raise ValueError(f"{path}: flags is empty: a zone needs at least one PFN")
    if n > max_pfns:
        raise ValueError(f"{path}: the snapshot declares a zone of {n} PFNs "
                         f"({n * 4096 / 2**30:.1f} GiB of 4 KiB pages, {n * 8 / 2**30:.2f} "
                         f"GiB of flags to decompress), more than max_pfns={max_pfns}; "
                         f"pass load_kpageflags(..., max_pfns={n}) if you trust the file")
    sshape, sdtype = _npz_member(npz, path, "start_pfn")
    if sshape != (1,) or sdtype.kind not in "iu":
        raise ValueError(f"{path}: start_pfn must be an integer array of one element, "
                         f"not {sdtype} of shape {sshape}")
    mshape, mdtype = _npz_member(npz, path, "meta")
    if mshape != () or mdtype.kind not in "US" or mdtype.itemsize > 1 << 24:
        raise ValueError(f"{path}: meta must be one JSON string (at most 4M characters), "
                         f"not {mdtype} of shape {mshape}")
    if "mapcount" in npz.files:
        mshape, mdtype = _npz_member(npz, path, "mapcount")
        if mshape != (n,) or mdtype.kind not in "iu":
            raise ValueError(f"{path}: mapcount must be {n} integers (one per PFN of "
                             f"flags), not {mdtype} of shape {mshape}")


def _check_meta(meta: dict[str, Any], path: Any, start_pfn: int, n: int) -> None:
    """Refuse meta fields of the wrong type or disagreeing with the arrays."""
    def bad(field: str, value: Any, want: str) -> ValueError:
        return ValueError(f"{path}: meta[{field!r}] must be {want}, not {value!r}")

    for key, hi in (("pageblock_order", 20), ("max_page_order", 19)):
        v = meta.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)
                              or not 0 <= v <= hi):
            raise bad(key, v, f"an int in 0..{hi} or null")
    if "kpf_bits" in meta and meta["kpf_bits"] is not None:
        try:
            _kpf_bits_arg("load_kpageflags", meta["kpf_bits"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: meta['kpf_bits']: {exc}") from None
    if "system_ram" in meta:
        try:
            _ranges_arg("load_kpageflags", "meta['system_ram']", meta["system_ram"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from None
    zone = meta.get("zone", {})
    if not isinstance(zone, dict):
        raise bad("zone", zone, "an object of zoneinfo fields")
    name = zone.get("zone", "Normal")
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise bad("zone']['zone", name, "a zone name")
    for key, want in (("start_pfn", start_pfn), ("spanned", n), ("end_pfn", start_pfn + n)):
        v = zone.get(key)
        if v is not None and (isinstance(v, bool) or v != want):
            raise ValueError(f"{path}: meta['zone'][{key!r}] is {v!r}, but the arrays give "
                             f"{want} (start_pfn {start_pfn}, {n} flags)")


def _read_meta(npz: Any, path: Any) -> dict[str, Any]:
    try:
        meta = json.loads(str(npz["meta"][()]))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: meta is not a JSON string ({exc})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: meta is not a JSON object")
    return meta


def load_kpageflags(path: str | Path, *, iomem: str | None = None,
                    geometry: Any = None, max_pfns: int = DEFAULT_MAX_PFNS) -> Any:
    """Load a kpageflags snapshot (.npz) as a model Zone.

    The snapshot holds ``flags`` (uint64, /proc/kpageflags per PFN of the
    zone span), ``mapcount`` (uint16, /proc/kpagecount, unused here),
    ``start_pfn`` (int64[1]) and ``meta`` (a JSON string: the zone's
    zoneinfo fields, kernel, ``kpf_bits``, ``pageblock_order``,
    ``max_page_order`` and ``system_ram``, the PFN ranges of /proc/iomem's
    System RAM).  PFNs become map characters by :func:`classify_kpageflags`;
    ``Zone.from_arrays`` then cuts the free runs into the canonical buddy
    structure, which on a quiet zone reproduces /proc/buddyinfo.

    :param iomem: /proc/iomem text, for a snapshot without ``system_ram``
        in its meta (or to override it).
    :param geometry: default ``Geometry(max_page_order + 1, pageblock_order)``
        from the meta (x86-64: 11, 9).
    :param max_pfns: the largest zone span (in PFNs) accepted, default
        :data:`DEFAULT_MAX_PFNS` = 16M PFNs (64 GiB of 4 KiB pages; the model
        needs about 50 bytes per PFN, so about 0.8 GiB of memory).  The
        flags compress well, so a 256 KiB file can declare a 1.8 GiB zone:
        the span is read from the array header and checked before anything
        is decompressed.  Raise it for a bigger machine.
    :raises ValueError: a missing array or meta field, wrong dtypes, arrays
        or meta fields that disagree (lengths, dtypes, a negative start, a
        span ending beyond 2**52), a span over ``max_pfns``, or no System
        RAM ranges.
    :raises TypeError: ``path``, ``iomem``, ``geometry`` or ``max_pfns`` of
        the wrong type.
    """
    from .geometry import Geometry
    from .zone import Zone

    fn = "load_kpageflags"
    if not (isinstance(path, (str, os.PathLike))
            or (hasattr(path, "read") and hasattr(path, "seek"))):
        # np.load(3) would open file descriptor 3
        raise TypeError(f"{fn}: path must be a file name or a binary file object, "
                        f"not {path!r}")
    if iomem is not None:
        _str_arg(fn, "iomem", iomem)
    if geometry is not None and not isinstance(geometry, Geometry):
        raise TypeError(f"{fn}: geometry must be a contig Geometry or None, not {geometry!r}")
    max_pfns = _int_arg(fn, "max_pfns", max_pfns, lo=1, what="an int >= 1 (a number of PFNs)")
    try:
        npz_cm = np.load(path, allow_pickle=False)
    except ValueError as exc:  # not a .npy/.npz at all
        raise ValueError(f"{path}: not a kpageflags snapshot ({exc})") from None
    if not isinstance(npz_cm, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not a kpageflags snapshot (a .npy array, not an .npz)")
    with npz_cm as npz:
        missing = {"flags", "start_pfn", "meta"} - set(npz.files)
        if missing:
            raise ValueError(f"{path}: not a kpageflags snapshot (missing {sorted(missing)})")
        _check_snapshot(npz, path, max_pfns)
        flags = npz["flags"]
        start = npz["start_pfn"]
        meta = _read_meta(npz, path)
    if start.shape != (1,) or start.dtype.kind not in "iu":
        raise ValueError(f"{path}: start_pfn must be an integer array of one element")
    start_pfn = int(start[0])
    if not 0 <= start_pfn <= PFN_LIMIT - flags.size:
        raise ValueError(f"{path}: start_pfn {start_pfn} is negative or the zone "
                         f"[{start_pfn}, {start_pfn} + {flags.size}) ends beyond 2**52")
    _check_meta(meta, path, start_pfn, flags.size)
    if iomem is not None:
        ram = parse_iomem(iomem)
    elif "system_ram" in meta:
        ram = [(int(a), int(b)) for a, b in meta["system_ram"]]
    else:
        raise ValueError(f"{path}: the snapshot records no System RAM ranges "
                         f"(meta['system_ram']); pass iomem= with the machine's /proc/iomem")
    pbo = meta.get("pageblock_order")
    pbo = 9 if pbo is None else int(pbo)
    if geometry is None:
        mpo = meta.get("max_page_order")
        geometry = Geometry(max_order=11 if mpo is None else int(mpo) + 1, pageblock_order=pbo)
    kinds, blocks, _ = classify_kpageflags(flags, start_pfn, ram,
                                           pageblock_order=geometry.pageblock_order,
                                           kpf_bits=meta.get("kpf_bits"))
    name = str(meta.get("zone", {}).get("zone", "Normal"))
    z = Zone.from_arrays(kinds, blocks, geometry=geometry, start_pfn=start_pfn, name=name)
    mark_large_folios(z, flags, meta.get("kpf_bits"))
    return z


def mark_large_folios(z: Any, flags: np.ndarray, kpf_bits: dict[str, int] | None = None) -> int:
    """Give the large folios (``T``) of a zone loaded from kpageflags their real bounds and head flags.

    ``Zone.from_arrays`` sees only map characters, so it cuts each run of
    ``T`` pages into the largest aligned compound pages, makes each an
    anonymous THP on the LRU (PG_LRU and PG_ANON on its head), and two
    adjacent order-2 folios become one of order 3.  kpageflags tells more
    (Linux 6.18 reports a folio's flags on each of its pages, fs/proc/page.c
    ``stable_page_flags()``):

    * **bounds**: a run whose COMPOUND_HEAD pages cut it into naturally
      aligned power-of-two folios of tails (COMPOUND_TAIL) is cut there
      instead (a run that does not is left as it was);
    * a folio of **clean page cache** (LRU, and none of SWAPBACKED, DIRTY,
      WRITEBACK, UNEVICTABLE, MLOCKED: rule 9, ``F``, for a large folio;
      a lazily freed anonymous folio too) has no PG_ANON on its head, so 6.18's
      :func:`contig.v6_18.vmscan.reclaim_clean_pages_from_list` drops it
      instead of migrating it, as the kernel does;
    * a folio **off the LRU** has no PG_LRU, so has_unmovable_pages()
      refuses it (6.18, mm/page_isolation.c: a large folio that is not on
      the LRU cannot move).

    Returns the number of folio heads whose head flags differ from an
    anonymous THP's.  ``flags`` is the zone's kpageflags array (one word per
    PFN from ``z.start_pfn``).
    """
    from .zone import PG_ANON, PG_HEAD, PG_LRU, PG_TAIL

    bits = dict(KPF, **(kpf_bits or {}))

    def has(f: np.ndarray, *names: str) -> np.ndarray:
        return (f & np.uint64(sum(1 << bits[n] for n in names))) != 0
    flags = np.asarray(flags, dtype=np.uint64)
    t = z.kind == ord("T")
    if not t.any():
        return 0
    n = t.size
    d = np.diff(t.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    run_lo, run_hi = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    head = t & has(flags, "COMPOUND_HEAD")
    tail = t & has(flags, "COMPOUND_TAIL")
    heads = np.flatnonzero(head)
    # each head's folio ends at the next head or at the end of its run
    run_of_head = np.searchsorted(run_lo, heads, side="right") - 1
    nxt = np.append(heads[1:], n)
    ends = np.minimum(nxt, run_hi[run_of_head])
    length = ends - heads
    order = np.log2(np.maximum(length, 1)).astype(np.int64)
    ok = ((1 << order) == length) & (((z.start_pfn + heads) & (length - 1)) == 0) \
        & (order >= 1) & (order < z.geometry.max_order)
    # a run is cut at its heads if it starts with a head, every head's folio is valid and
    # every other page is a tail
    bad = np.bincount(run_of_head[~ok], minlength=run_lo.size) + ~head[run_lo]
    not_tail = np.flatnonzero(t & ~head & ~tail)
    if not_tail.size:
        bad += np.bincount(np.searchsorted(run_lo, not_tail, side="right") - 1,
                           minlength=run_lo.size)
    good_run = bad == 0
    use = ok & good_run[run_of_head]
    hs, ln, od = heads[use], length[use], order[use]
    if hs.size:
        pages = np.repeat(hs, ln) + (np.arange(int(ln.sum())) - np.repeat(np.cumsum(ln) - ln, ln))
        z.comp[pages] = np.repeat(od, ln)
        z.flags[pages] = PG_TAIL
        z.count[pages] = 0
        z.flags[hs] = PG_HEAD | PG_LRU | PG_ANON
        z.count[hs] = 1
        z.touch_many(pages)
    all_heads = np.flatnonzero(t & ((z.flags & PG_HEAD) != 0))
    f = flags[all_heads]
    clean = has(f, "LRU") & ~has(f, "SWAPBACKED", "DIRTY", "WRITEBACK", "UNEVICTABLE", "MLOCKED")
    off_lru = ~has(f, "LRU")
    z.flags[all_heads[clean]] &= np.uint8(0xFF ^ PG_ANON)
    z.flags[all_heads[off_lru]] &= np.uint8(0xFF ^ PG_LRU)
    changed = all_heads[clean | off_lru]
    z.touch_many(changed)
    return int(changed.size)


def data_path(name: str) -> Path:
    """Path of a file shipped in ``contig/data`` (e.g. ``"linux-6.18-DMA32.npz"``).

    :raises FileNotFoundError: naming the files that do ship.
    :raises TypeError, ValueError: ``name`` not a str, or not a bare file
        name (a path separator, ``.`` or ``..``).
    """
    _str_arg("data_path", "name", name)
    if name in ("", ".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"data_path: name must be a file name in contig/data, not {name!r}")
    path = DATA_DIR / name
    if not path.is_file():
        have = sorted(p.name for p in DATA_DIR.iterdir()) if DATA_DIR.is_dir() else []
        raise FileNotFoundError(f"no {name!r} in {DATA_DIR}; shipped: {', '.join(have)}")
    return path


def _open_proc(path: Path, binary: bool = False) -> Any:
    try:
        if binary:
            return open(path, "rb", buffering=0)
        return open(path, encoding="ascii", errors="replace")
    except PermissionError:
        raise ProcPermissionError(f"cannot read {path}: capturing needs root "
                                  f"(CAP_SYS_ADMIN)") from None
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist: capturing needs Linux with "
                         f"/proc/kpageflags (CONFIG_PROC_PAGE_MONITOR)") from None


def _read_text(path: Path) -> str:
    with _open_proc(path) as fh:
        return fh.read()


def _read_u64(path: Path, start_pfn: int, count: int, chunk_pages: int,
              out: np.ndarray | None = None) -> np.ndarray:
    """Read ``count`` u64 words from PFN ``start_pfn`` of a /proc/kpage* file, in chunks.

    ``out``: a uint64 array of ``count`` words to read into (the live recorder
    passes buffers it allocated before, so reading allocates no memory).
    """
    if out is None:
        out = np.empty(count, dtype=np.uint64)
    elif out.dtype != np.uint64 or out.shape != (count,) or not out.flags.c_contiguous:
        raise ValueError(f"out must be a contiguous uint64 array of {count} words")
    buf = memoryview(out).cast("B")
    total, step = count * 8, max(int(chunk_pages), 1) * 8
    with _open_proc(path, binary=True) as fh:
        fh.seek(start_pfn * 8)
        pos = 0
        while pos < total:
            try:
                got = fh.readinto(buf[pos:min(pos + step, total)])
            except PermissionError:
                raise ProcPermissionError(f"cannot read {path}: capturing needs root "
                                          f"(CAP_SYS_ADMIN)") from None
            if not got:
                raise ValueError(f"{path}: the file ends at PFN {start_pfn + pos // 8}, "
                                 f"inside the zone [{start_pfn}, {start_pfn + count})")
            pos += got
    return out


def capture_snapshot(zone_name: str, out_path: str | Path | BinaryIO, *, node: int = 0,
                     proc_root: str | Path = "/proc", chunk_pages: int = 1 << 18,
                     _buffers: dict[str, np.ndarray] | None = None) -> None:
    """Capture one zone of the running machine into a kpageflags snapshot (.npz).

    Reads the zone's span and counters from ``zoneinfo``, the System RAM
    ranges from ``iomem``, then ``kpageflags`` and ``kpagecount`` over the
    span (seeking to ``start_pfn * 8`` and reading ``chunk_pages`` words at a
    time), and the pageblock and buddy orders from ``pagetypeinfo`` and
    ``buddyinfo`` when readable.  Writes ``out_path`` exactly (no ``.npz``
    appended) in the format :func:`load_kpageflags` reads; kpagecount is
    clipped to uint16.  The machine keeps running while it reads, so the
    snapshot is not atomic.  ``out_path`` may also be a binary file object
    open for writing (the CLI passes a temporary file it renames at the end).

    :param proc_root: where the /proc files are (tests point it at fakes).
    :raises ProcPermissionError: not root (an unreadable kpageflags, or an
        iomem with zeroed addresses).
    :raises ValueError: no such zone, an empty zone, a missing file, a file
        shorter than the zone, a negative start_pfn in zoneinfo; and (or
        TypeError) ``zone_name``, ``node`` or ``chunk_pages`` (an int >= 1)
        of the wrong type or value.
    """
    fn = "capture_snapshot"
    _zone_name_arg(fn, zone_name)
    node = _node_arg(fn, node)
    chunk_pages = _int_arg(fn, "chunk_pages", chunk_pages, lo=1)
    if not (isinstance(out_path, (str, os.PathLike)) or hasattr(out_path, "write")) \
            or isinstance(out_path, bool):
        raise TypeError(f"{fn}: out_path must be a file name or a binary file object, "
                        f"not {out_path!r}")
    if not isinstance(proc_root, (str, os.PathLike)):
        raise TypeError(f"{fn}: proc_root must be a directory name, not {proc_root!r}")
    root = Path(proc_root)
    zones = parse_zoneinfo(_read_text(root / "zoneinfo"), node=node)
    if zone_name not in zones:
        raise ValueError(f"no zone {zone_name!r} on node {node} in {root / 'zoneinfo'} "
                         f"(zones: {', '.join(zones)})")
    z = zones[zone_name]
    if z.get("spanned") == 0:
        raise ValueError(f"zone {zone_name} of node {node} is empty (spanned 0)")
    for key in ("start_pfn", "spanned", "present", "managed"):
        if key not in z:
            raise ValueError(f"{root / 'zoneinfo'}: zone {zone_name} has no {key!r} field")
    start, spanned = int(z["start_pfn"]), int(z["spanned"])
    if start < 0 or spanned < 0 or start + spanned > PFN_LIMIT:
        raise ValueError(f"{root / 'zoneinfo'}: zone {zone_name} has start_pfn {start} "
                         f"and spanned {spanned}, not a span of PFNs in [0, 2**52)")
    ram = parse_iomem(_read_text(root / "iomem"))
    if _buffers is None:
        flags = _read_u64(root / "kpageflags", start, spanned, chunk_pages)
        counts = _read_u64(root / "kpagecount", start, spanned, chunk_pages)
        mapcount = np.minimum(counts, np.uint64(0xFFFF)).astype(np.uint16)
    else:
        # contig.live's steady recorder: read into buffers allocated (and touched) before,
        # so that no page of this process is allocated after kpageflags was read.
        flags = _read_u64(root / "kpageflags", start, spanned, chunk_pages, _buffers["flags"])
        counts = _read_u64(root / "kpagecount", start, spanned, chunk_pages, _buffers["counts"])
        np.minimum(counts, np.uint64(0xFFFF), out=counts)
        mapcount = _buffers["mapcount"]
        np.copyto(mapcount, counts, casting="unsafe")

    def optional(fn: Any) -> Any:
        try:
            return fn()
        except (OSError, ValueError, KeyError):
            return None

    pbo = optional(lambda: parse_pagetypeinfo(_read_text(root / "pagetypeinfo"),
                                              node=node)["page_block_order"])
    mpo = optional(lambda: len(parse_buddyinfo(_read_text(root / "buddyinfo"),
                                               node=node)[zone_name]) - 1)
    kernel = optional(lambda: _read_text(root / "sys" / "kernel" / "osrelease").strip())
    meta = {
        "zone": {"node": node, "zone": zone_name, "start_pfn": start, "spanned": spanned,
                 "present": z["present"], "managed": z["managed"], "free": z.get("free"),
                 "pcp_count": sum(c.get("count", 0) for c in z.get("pagesets", [])),
                 "min": z.get("min"), "low": z.get("low"), "high": z.get("high"),
                 "end_pfn": start + spanned},
        "kernel": kernel,
        "kpf_bits": dict(KPF),
        "pageblock_order": pbo,
        "max_page_order": mpo,
        "system_ram": [[a, b] for a, b in ram],
        "note": _SNAPSHOT_NOTE,
    }
    arrays = {"flags": flags, "mapcount": mapcount,
              "start_pfn": np.array([start], dtype=np.int64),
              "meta": np.array(json.dumps(meta))}
    if hasattr(out_path, "write"):
        np.savez_compressed(out_path, **arrays)
        return
    with open(out_path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def load_node(paths: Any, iomem: str | None = None, **kw: Any) -> Any:
    """Load one kpageflags snapshot per zone as a :class:`contig.node.Node` (zones in PFN order).

    A thin wrapper of :func:`contig.node.load_node` (see there for ``zero_flags``).
    """
    from .node import load_node as _load_node

    return _load_node(paths, iomem, **kw)
