"""A NUMA node of several zones (DMA, DMA32, Normal), loaded from kpageflags snapshots.

Linux keeps one ``pg_data_t`` per node with its zones in PFN order
(``node_zones[]``, include/linux/mmzone.h).  :class:`Node` is that list of
model :class:`~contig.zone.Zone` objects; :func:`load_node` builds it from
one snapshot per zone (the ``.npz`` format of
:func:`contig.procfs.capture_snapshot`).

Reading a Linux 6.18 snapshot (facts found on the development machine,
``../shared/data/realmem/README.md``): :func:`contig.procfs.classify_kpageflags`
does the work (holes from /proc/iomem since holes read 0; BUDDY on every page
of a free block; the never-initialised memmap above the last non-zero
section reads 0 and becomes ``#``; MMAP/ANON without LRU becomes ``v``, a
page in a per-CPU LRU-add batch); :func:`contig.procfs.mark_large_folios`
gives large folios their real bounds and head flags.  One thing it cannot decide: a page in use
with **no flag at all** may be a free page on a per-CPU list (which reads 0,
refcount 0: ``p``) or a kernel allocation that sets no flag (``U``).
``zero_flags`` says which reading to use; the default ``"pcp"`` follows the
per-CPU ``count:`` lines of /proc/zoneinfo, which on that machine put tens of
thousands of pages on the per-CPU lists of Normal.  Pages that carry SLAB,
PGTABLE, RESERVED, ... are never affected.

Why never-initialised memory cannot be allocated (6.18
``pfn_range_valid_contig()``, mm/page_alloc.c:7029): its struct pages are all
zero, and ``page_zone()`` reads the zone number from ``page->flags``, so an
all-zero page belongs to zone 0 (ZONE_DMA) of node 0: the check
``page_zone(page) != z`` fails for every other zone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .geometry import Geometry
from .procfs import classify_kpageflags, mark_large_folios, parse_iomem
from .zone import Zone

__all__ = ["ZONE_ORDER", "Node", "load_node"]

#: ``enum zone_type`` order on x86-64 (include/linux/mmzone.h): the zone index.
ZONE_ORDER = ("DMA", "DMA32", "Normal", "Movable")


@dataclass
class Node:
    """One node: its zones in PFN order, named as /proc/zoneinfo names them.

    ``info[name]`` keeps what the loader learnt about each zone
    (``first_uninitialised_pfn``, counts per map character, the snapshot's
    meta).
    """

    zones: list[Zone]
    nid: int = 0
    info: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.zones:
            raise ValueError("a node needs at least one zone")
        for z in self.zones:
            if not isinstance(z, Zone):
                raise ValueError(f"zones must be Zone objects, not {type(z).__name__}")
        self.zones = sorted(self.zones, key=lambda z: z.start_pfn)
        for a, b in zip(self.zones, self.zones[1:], strict=False):
            if b.start_pfn < a.end_pfn:
                raise ValueError(f"zones {a.name} and {b.name} overlap")

    def __iter__(self) -> Iterator[Zone]:
        return iter(self.zones)

    def __len__(self) -> int:
        return len(self.zones)

    def __getitem__(self, name: str) -> Zone:
        for z in self.zones:
            if z.name == name:
                return z
        raise KeyError(f"node {self.nid} has no zone {name!r} (it has {self.names})")

    @property
    def names(self) -> list[str]:
        return [z.name for z in self.zones]

    @property
    def spanned_pages(self) -> int:
        return sum(z.spanned_pages for z in self.zones)

    def zone_of(self, pfn: int) -> Zone | None:
        """The zone spanning ``pfn``, or None."""
        for z in self.zones:
            if z.spans(pfn):
                return z
        return None

    def zonelist(self, highest: str = "Normal") -> list[Zone]:
        """The node's own zones from ``highest`` down, as ``for_each_zone_zonelist_nodemask()``
        walks them for a ``__GFP_THISNODE`` request (mm/mmzone.c, 6.18): highest zone first,
        only populated zones."""
        top = ZONE_ORDER.index(highest)
        zs = [z for z in self.zones if z.name in ZONE_ORDER and ZONE_ORDER.index(z.name) <= top]
        return sorted(zs, key=lambda z: ZONE_ORDER.index(z.name), reverse=True)

    def copy(self) -> Node:
        return Node([z.copy() for z in self.zones], self.nid, {k: dict(v) for k, v in self.info.items()})

    def __repr__(self) -> str:
        parts = ", ".join(f"{z.name} [{z.start_pfn:#x}, {z.end_pfn:#x})" for z in self.zones)
        return f"<Node {self.nid}: {parts}>"


def _load_zone(path: Path, iomem: str | None, zero_flags: str) -> tuple[Zone, dict[str, Any]]:
    with np.load(path, allow_pickle=False) as npz:
        missing = {"flags", "start_pfn", "meta"} - set(npz.files)
        if missing:
            raise ValueError(f"{path}: not a kpageflags snapshot (missing {sorted(missing)})")
        flags = npz["flags"]
        start = npz["start_pfn"]
        try:
            meta = json.loads(str(npz["meta"][()]))
        except ValueError as exc:
            raise ValueError(f"{path}: meta is not a JSON string ({exc})") from None
    if start.shape != (1,) or start.dtype.kind not in "iu":
        raise ValueError(f"{path}: start_pfn must be an integer array of one element")
    if flags.dtype != np.uint64 or flags.ndim != 1:
        raise ValueError(f"{path}: flags must be a 1-D uint64 array")
    start_pfn = int(start[0])
    if iomem is not None:
        ram = parse_iomem(iomem)
    elif "system_ram" in meta:
        ram = [(int(a), int(b)) for a, b in meta["system_ram"]]
    else:
        raise ValueError(f"{path}: no System RAM ranges in the snapshot; pass iomem=")
    pbo = int(meta.get("pageblock_order") or 9)
    mpo = meta.get("max_page_order")
    g = Geometry(max_order=11 if mpo is None else int(mpo) + 1, pageblock_order=pbo)
    kinds, blocks, info = classify_kpageflags(flags, start_pfn, ram, pageblock_order=pbo,
                                              kpf_bits=meta.get("kpf_bits"))
    zero = (flags == 0) & (kinds == ord("U"))
    if zero_flags == "pcp":
        kinds[zero] = ord("p")
    info["zero_flag_pages"] = int(zero.sum())
    info["meta"] = meta
    name = str(meta.get("zone", {}).get("zone", path.stem))
    z = Zone.from_arrays(kinds, blocks, geometry=g, start_pfn=start_pfn, name=name)
    info["large_folios_marked"] = mark_large_folios(z, flags, meta.get("kpf_bits"))
    return z, info


def load_node(paths: Iterable[str | Path] | str | Path, iomem: str | None = None, *,
              zero_flags: str = "pcp", nid: int = 0) -> Node:
    """Load one kpageflags snapshot per zone into a :class:`Node` (zones in PFN order).

    :param paths: the ``.npz`` snapshots (e.g. ``DMA.npz``, ``DMA32.npz``,
        ``Normal.npz``); each zone is named from its meta (``zone`` field,
        as /proc/zoneinfo names it), else from the file name.
    :param iomem: /proc/iomem text, when the snapshots do not record their
        System RAM ranges (or to override them).
    :param zero_flags: ``"pcp"`` reads an in-use page with no flag as a free
        page on a per-CPU list (``p``), ``"kernel"`` as an unmovable kernel
        allocation (``U``); see the module docstring.
    :raises ValueError: no paths, a bad snapshot, overlapping zones, a bad
        ``zero_flags``.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("paths must name at least one snapshot")
    if zero_flags not in ("pcp", "kernel"):
        raise ValueError(f"zero_flags must be 'pcp' or 'kernel', not {zero_flags!r}")
    zones, infos = [], {}
    for p in paths:
        z, info = _load_zone(p, iomem, zero_flags)
        zones.append(z)
        infos[z.name] = info
    return Node(zones, nid=nid, info=infos)
