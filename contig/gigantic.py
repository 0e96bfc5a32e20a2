"""Where Linux 6.18 puts gigantic (1 GiB) hugetlb pages: a prediction from a node snapshot.

The hugetlb caller: writing N to
``/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages`` makes the
kernel call ``alloc_pool_huge_folio()`` (mm/hugetlb.c, 6.18) once per
missing page; without ``hugetlb_cma=`` that is ``alloc_gigantic_folio()`` ->
``folio_alloc_gigantic()`` -> ``alloc_contig_pages(1 << 18, gfp, nid, NULL)``
(mm/page_alloc.c:7083) with ``gfp = GFP_HIGHUSER | __GFP_COMP | __GFP_NOWARN
| __GFP_THISNODE`` (gigantic hstates are never movable, so ZONE_MOVABLE is
not allowed; gfp_zone() of it is ZONE_NORMAL).

:func:`attempts` follows ``alloc_contig_pages()``: the node's zones from Normal
down (Normal, DMA32, DMA: only populated ones), and in each zone
``pfn = ALIGN(zone_start_pfn, nr_pages)`` upward while the zone spans the
candidate's last PFN; a candidate that passes ``pfn_range_valid_contig()``
is handed to ``alloc_contig_range(pfn, pfn + nr_pages, ACR_FLAGS_NONE,
gfp)``; the first success is the pick.  :func:`predict_picks` repeats that
for successive requests, each page taken (a hugetlb page, so PageHuge, so
invalid for the next search) before the next request, and stops at the first
request that fails.

Speed: the 6.5M-PFN node of the recorded runs cannot go through the
page-by-page zone model in a second, so :func:`alloc_contig_range_outcome`
computes what 6.18's ``alloc_contig_range()`` returns on a 1 GiB-aligned
range with numpy, by the same rules (see its docstring); on small nodes the
tests check the picks against :func:`contig.v6_18.contig_alloc.alloc_contig_pages`,
which runs the page-by-page 6.18 model on every candidate.

Simplified: watermarks, reclaim and compaction are not modelled (migration
needs only as many free pages anywhere on the node as pages to copy); a
failed attempt's migrations are not replayed (they move movable pages to
other free pages, which changes no later decision); where the targets of a
successful attempt land is not tracked (only how many free pages remain).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

import numpy as np

from .node import Node
from .v6_18.contig_alloc import pfn_range_valid_contig, zone_spans_last_pfn
from .zone import PG_HEAD, PG_LRU, MigrateType, Zone

__all__ = ["GIGANTIC_NR_PAGES", "Attempt", "alloc_contig_range_outcome", "attempts", "predict_picks"]

#: PFNs in a 1 GiB page with 4 KiB pages.
GIGANTIC_NR_PAGES = 1 << 18
EBUSY, ENOMEM = errno.EBUSY, errno.ENOMEM

_FREE = np.array([ord("."), ord("p")], dtype=np.uint8)
#: in use, not PageLRU, refcount > 0: has_unmovable_pages() returns them (page_isolation.c:136)
_UNMOVABLE = np.array([ord("U"), ord("X"), ord("v"), ord("#"), ord("R")], dtype=np.uint8)
#: pages migrate_pages() must copy (clean page cache ``F`` is dropped; pinned ``P`` never isolated)
_TO_COPY = np.array([ord("M"), ord("T")], dtype=np.uint8)


@dataclass
class Attempt:
    """One candidate range tried by alloc_contig_pages(): what happened and why."""

    request: int
    zone: str
    pfn: int
    ret: int | None          # None: pfn_range_valid_contig() said no, alloc_contig_range() not called
    why: str
    bad_pfn: int | None = None

    @property
    def ok(self) -> bool:
        return self.ret == 0

    def __str__(self) -> str:
        res = "not tried" if self.ret is None else ("taken" if self.ret == 0 else errno.errorcode.get(
            -self.ret, str(self.ret)).join(("-", "")))
        return f"request {self.request}: {self.zone} PFN {self.pfn:#x}: {res}: {self.why}"


def alloc_contig_range_outcome(zone: Zone, start: int, end: int, free_elsewhere: int,
                               kinds: np.ndarray | None = None) -> tuple[int, str, int | None, str]:
    """What 6.18 ``alloc_contig_range(start, end, ACR_FLAGS_NONE, gfp)`` returns.

    Returns ``(ret, why, pfn, stage)``: the return value, a sentence, the PFN
    that decided it (or None) and the stage that decided it
    (``start_isolate_page_range``, ``__alloc_contig_migrate_range``,
    ``test_pages_isolated`` or ``done``).

    For ranges whose ends are aligned to at least the largest compound page
    (so no compound page straddles them and isolate_single_pageblock()'s
    walk finds nothing), by the rules of mm/page_isolation.c and
    mm/page_alloc.c, Linux 6.18:

    * a CMA pageblock: unmovable for ACR_FLAGS_NONE (has_unmovable_pages());
    * a page in use and not PageLRU (``U``, ``X``, ``v``, a reserved page or
      a hole's reserved struct page), or a THP off the LRU: isolation fails,
      -EBUSY (page_isolation.c:136);
    * the pages to copy (``M``, THPs, which 6.18 migrates with
      ``cc->alloc_contig``) need as many free pages outside the range
      (``free_elsewhere``; watermarks not modelled): else migrate_pages()
      returns -ENOMEM and the loop ends (page_alloc.c:6785);
    * a pinned page (``P``) is never isolated for migration: the batch
      gives -EBUSY after 5 tries, and test_pages_isolated() stops at it;
    * otherwise every page is free after migration and the drain of the
      per-CPU lists: 0.  Clean page cache (``F``) is dropped, hugetlb pages
      (``H``) never get here (pfn_range_valid_contig()).

    ``kinds`` overrides the zone's page kinds (the predictor's working copy).
    """
    k = zone.kind if kinds is None else kinds
    s = zone.start_pfn
    seg = k[start - s:end - s]
    pbo = zone.geometry.pageblock_order
    b0 = (start >> pbo) - (s >> pbo)
    b1 = ((end - 1) >> pbo) - (s >> pbo) + 1
    cma = np.flatnonzero(zone.pb[b0:b1] == MigrateType.CMA)
    bad = np.flatnonzero(np.isin(seg, _UNMOVABLE))
    if kinds is None:
        t = np.flatnonzero((seg == ord("T")) & ((zone.flags[start - s:end - s] & PG_HEAD) != 0)
                           & ((zone.flags[start - s:end - s] & PG_LRU) == 0))
        bad = np.union1d(bad, t)
    first_bad = start + int(bad[0]) if bad.size else None
    first_cma = (((s >> pbo) + b0 + int(cma[0])) << pbo) if cma.size else None
    if first_cma is not None and (first_bad is None or first_cma <= first_bad):
        return (-EBUSY, f"the pageblock at PFN {first_cma:#x} is CMA, unmovable for ACR_FLAGS_NONE",
                first_cma, "start_isolate_page_range")
    if first_bad is not None:
        ch = chr(k[first_bad - s])
        what = {"U": "a kernel page (slab, page table, ...)", "v": "a page in a per-CPU LRU batch",
                "X": "a page already allocated", "R": "a reserved page", "#": "a hole"}.get(ch, ch)
        return (-EBUSY, f"PFN {first_bad:#x} is {what}, in use and not on the LRU: "
                        "has_unmovable_pages() refuses its pageblock", first_bad,
                "start_isolate_page_range")
    need = int(np.isin(seg, _TO_COPY).sum())
    if need > free_elsewhere:
        return (-ENOMEM, f"{need} pages to migrate but only {free_elsewhere} free pages outside "
                         "the range: migrate_pages() returns -ENOMEM", None, "__alloc_contig_migrate_range")
    pinned = np.flatnonzero(seg == ord("P"))
    if pinned.size:
        p = start + int(pinned[0])
        return (-EBUSY, f"PFN {p:#x} is pinned: migration gives up, test_pages_isolated() stops there",
                p, "test_pages_isolated")
    return 0, f"{need} page(s) migrated, the rest free: the range is taken", None, "done"


def _free_count(kinds: dict[str, np.ndarray]) -> int:
    return sum(int(np.isin(k, _FREE).sum()) for k in kinds.values())


def attempts(node: Node, nr_pages: int = GIGANTIC_NR_PAGES, count: int = 1) -> list[Attempt]:
    """Every candidate alloc_contig_pages() tries for ``count`` successive requests.

    The node is not changed (a working copy of the page kinds is used); a
    range taken becomes a hugetlb page (``H``), and the free pages its
    migration used are no longer free.  Once an attempt gets past isolation,
    its ``lru_cache_disable()`` has drained every per-CPU LRU-add batch, so
    ``v`` pages count as LRU pages for the attempts after it.  Stops after the first request that
    finds nothing.
    """
    _check(node, nr_pages, count)
    kinds = {z.name: z.kind.copy() for z in node}
    free_total = _free_count(kinds)
    out: list[Attempt] = []
    for req in range(1, count + 1):
        got = None
        for z in node.zonelist("Normal"):
            k = kinds[z.name]
            shadow = _ShadowZone(z, k)
            pfn = -(-z.start_pfn // nr_pages) * nr_pages
            while zone_spans_last_pfn(z, pfn, nr_pages):
                ok, bad = pfn_range_valid_contig(shadow, pfn, nr_pages)  # type: ignore[arg-type]
                if not ok:
                    ch = chr(k[bad - z.start_pfn]) if bad is not None and z.spans(bad) else "?"
                    frontier = node.info.get(z.name, {}).get("first_uninitialised_pfn")
                    why = {"#": "a hole (no online page)",
                           "R": "a reserved page", "H": "a hugetlb page"}.get(ch, ch)
                    if ch == "#" and frontier is not None and bad is not None and bad >= frontier:
                        why = ("never-initialised memmap: an all-zero struct page belongs to zone 0 "
                               "(ZONE_DMA), so page_zone() != zone")
                    out.append(Attempt(req, z.name, pfn, None,
                                       f"pfn_range_valid_contig() fails at PFN {bad:#x}: {why}", bad))
                else:
                    lo, hi = pfn - z.start_pfn, pfn - z.start_pfn + nr_pages
                    seg = k[lo:hi]
                    free_in = int(np.isin(seg, _FREE).sum())
                    ret, why, bad, where = alloc_contig_range_outcome(z, pfn, pfn + nr_pages,
                                                                      free_total - free_in, kinds=k)
                    out.append(Attempt(req, z.name, pfn, ret, why, bad))
                    if where != "start_isolate_page_range":
                        # lru_cache_disable() drained every per-CPU LRU-add batch: v pages are
                        # on the LRU from now on (mm/swap.c, page_alloc.c:6754)
                        for kk in kinds.values():
                            kk[kk == ord("v")] = ord("M")
                    if ret == 0:
                        need = int(np.isin(seg, _TO_COPY).sum())
                        free_total -= free_in + need
                        k[lo:hi] = ord("H")
                        got = pfn
                        break
                pfn += nr_pages
            if got is not None:
                break
        if got is None:
            break
    return out


class _ShadowZone:
    """A zone seen through the predictor's working copy of its page kinds."""

    def __init__(self, z: Zone, kinds: np.ndarray):
        self.start_pfn, self.spanned_pages = z.start_pfn, z.spanned_pages
        self.end_pfn, self.kind = z.end_pfn, kinds


def predict_picks(node: Node, nr_pages: int = GIGANTIC_NR_PAGES, count: int = 1) -> list[int]:
    """The start PFNs Linux 6.18 takes for ``count`` successive gigantic-page requests.

    Each request is ``alloc_contig_pages(nr_pages, GFP_HIGHUSER | __GFP_COMP |
    __GFP_NOWARN | __GFP_THISNODE, nid)`` (mm/page_alloc.c:7083, 6.18) on the
    node, each page taken before the next request; a list shorter than
    ``count`` means the next request failed.  See :func:`attempts` for every
    candidate tried and why it failed.
    """
    return [a.pfn for a in attempts(node, nr_pages, count) if a.ok]


def _check(node: Node, nr_pages: int, count: int) -> None:
    if not isinstance(node, Node):
        raise ValueError(f"node must be a Node, not {type(node).__name__}")
    for name, v in (("nr_pages", nr_pages), ("count", count)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"{name} must be a positive int, not {v!r}")
    if nr_pages & (nr_pages - 1):
        raise ValueError(f"nr_pages must be a power of two (a hugetlb page), not {nr_pages}")
