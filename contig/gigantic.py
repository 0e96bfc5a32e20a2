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

The prediction runs the page-by-page 6.18 model itself
(:func:`contig.v6_18.contig_alloc.alloc_contig_pages`) on a copy of the
node, so it is exactly what that model does, failed attempts' side effects
included (pages a failed attempt migrated or dropped stay where they went,
as in the kernel).  On the recorded 6.5M-PFN nodes that takes 0.2-1 s.  A
range taken becomes one hugetlb folio (``H`` pages, PageHuge), which
pfn_range_valid_contig() refuses for the requests after it.

Simplified: watermarks, reclaim and compaction are not modelled; migration
targets come from the candidate's own zone.
"""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass
from pathlib import Path

from .argcheck import check_int
from .contig import ContigResult
from .node import ZONE_ORDER, Node, load_node
from .v6_18.contig_alloc import alloc_contig_pages, pfn_range_valid_contig
from .zone import PG_HEAD, PG_TAIL, Zone

__all__ = [
    "GIGANTIC_NR_PAGES",
    "Attempt",
    "RequestCheck",
    "attempts",
    "predict_picks",
    "replay_requests",
    "tries_past_isolation",
]

#: PFNs in a 1 GiB page with 4 KiB pages.
GIGANTIC_NR_PAGES = 1 << 18

@dataclass
class Attempt:
    """One candidate range tried by alloc_contig_pages(): what happened and why."""

    request: int
    zone: str
    pfn: int
    ret: int | None          # None: pfn_range_valid_contig() said no, alloc_contig_range() not called
    why: str
    bad_pfn: int | None = None
    #: alloc_contig_range() got past isolation and migration to test_pages_isolated()
    #: (the kernel's ``page_isolation:test_pages_isolated`` trace event fires there).
    tested: bool = False
    #: pages migrated out of the range, a THP counting all its pages (as the kernel's
    #: ``mm_migrate_pages`` events count them).
    migrated_pages: int = 0

    @property
    def ok(self) -> bool:
        return self.ret == 0

    def __str__(self) -> str:
        res = "not tried" if self.ret is None else ("taken" if self.ret == 0 else errno.errorcode.get(
            -self.ret, str(self.ret)).join(("-", "")))
        return f"request {self.request}: {self.zone} PFN {self.pfn:#x}: {res}: {self.why}"


_KIND_WHY = {"U": "a kernel page (slab, page table, ...)", "v": "a page in a per-CPU LRU batch",
             "X": "a page already allocated", "R": "a reserved page", "#": "a hole",
             "P": "a pinned page", "H": "a hugetlb page", "T": "a transparent huge page"}


def _invalid_why(node: Node, z: Zone, bad: int | None) -> str:
    ch = chr(int(z.kind[bad - z.start_pfn])) if bad is not None and z.spans(bad) else "?"
    why = {"#": "a hole (no online page)", "R": "a reserved page",
           "H": "a hugetlb page (PageHuge)"}.get(ch, ch)
    frontier = node.info.get(z.name, {}).get("first_uninitialised_pfn")
    if ch == "#" and frontier is not None and bad is not None and bad >= frontier:
        why = ("never-initialised memmap: an all-zero struct page belongs to zone 0 "
               "(ZONE_DMA), so page_zone() != zone")
    where = f" at PFN {bad:#x}" if bad is not None else ""
    return f"pfn_range_valid_contig() fails{where}: {why}"


def _result_why(z: Zone, r: ContigResult) -> str:
    if r.ok:
        return (f"{r.migrated_pages} page(s) migrated, {len(r.reclaimed)} dropped, "  # type: ignore[attr-defined]
                "the rest free: the range is taken")
    bad = r.busy_pfn
    what = ""
    if bad is not None and z.spans(bad):
        ch = chr(int(z.kind[bad - z.start_pfn]))
        what = f": PFN {bad:#x} is {_KIND_WHY.get(ch, repr(ch))}"
    if r.failed_stage == "start_isolate_page_range":
        return f"has_unmovable_pages() refuses a pageblock{what}"
    return f"it fails in {r.failed_stage}{what}"


def _prep_gigantic_folio(z: Zone, pfn: int, nr_pages: int) -> None:
    """The caller's side of a success: the range becomes one hugetlb folio.

    What prep_compound_gigantic_folio() and the hugetlb bookkeeping do
    (mm/hugetlb.c, 6.18) as far as the next search can see: one compound page
    of ``nr_pages`` pages, PageHuge, head refcount 1.
    """
    i = pfn - z.start_pfn
    j = i + nr_pages
    z.kind[i:j] = ord("H")
    z.flags[i:j] = PG_TAIL
    z.flags[i] = PG_HEAD
    z.comp[i:j] = nr_pages.bit_length() - 1
    z.count[i:j] = 0
    z.count[i] = 1
    z.touch_range(i, j)


def attempts(node: Node, nr_pages: int = GIGANTIC_NR_PAGES, count: int = 1) -> list[Attempt]:
    """Every candidate alloc_contig_pages() tries for ``count`` successive requests.

    Runs the 6.18 model on a copy of ``node`` (``node`` is not changed); each
    range taken becomes a hugetlb folio before the next request.  Stops after
    the first request that finds nothing.
    """
    _check(node, nr_pages, count)
    return _attempts_in_place(node.copy(), nr_pages, count)


def _attempts_in_place(n: Node, nr_pages: int, count: int) -> list[Attempt]:
    """:func:`attempts` on ``n`` itself (``n`` is changed: for a node nobody else holds)."""
    out: list[Attempt] = []
    for req in range(1, count + 1):
        pfn, tries = alloc_contig_pages(n, nr_pages)
        for name, p, r in tries:
            z = n[name]
            if r is None:
                _ok, bad = pfn_range_valid_contig(z, p, nr_pages)
                out.append(Attempt(req, name, p, None, _invalid_why(n, z, bad), bad))
            else:
                out.append(Attempt(req, name, p, r.ret, _result_why(z, r), r.busy_pfn,
                                   tested=r.outer_start is not None,
                                   migrated_pages=r.migrated_pages))  # type: ignore[attr-defined]
        if pfn is None:
            break
        _prep_gigantic_folio(n.zone_of(pfn), pfn, nr_pages)
    return out


def predict_picks(node: Node, nr_pages: int = GIGANTIC_NR_PAGES, count: int = 1) -> list[int]:
    """The start PFNs Linux 6.18 takes for ``count`` successive gigantic-page requests.

    Each request is ``alloc_contig_pages(nr_pages, GFP_HIGHUSER | __GFP_COMP |
    __GFP_NOWARN | __GFP_THISNODE, nid)`` (mm/page_alloc.c:7083, 6.18) on the
    node, each page taken before the next request; a list shorter than
    ``count`` means the next request failed.  See :func:`attempts` for every
    candidate tried and why it failed.
    """
    return [a.pfn for a in attempts(node, nr_pages, count) if a.ok]


def tries_past_isolation(tried: list[Attempt], request: int = 1) -> list[tuple[int, bool]]:
    """``(start PFN, taken)`` of each try of ``request`` that reached test_pages_isolated().

    This is what a trace of the kernel shows of a request
    (:func:`contig.live.parse_contig_trace`): one ``test_pages_isolated``
    event per alloc_contig_range() call that got past isolation
    (mm/page_alloc.c, ``alloc_contig_range_noprof()``, Linux 6.18); ranges
    refused by has_unmovable_pages() or by pfn_range_valid_contig() leave no
    event.
    """
    return [(a.pfn, a.ok) for a in tried if a.request == request and a.tested]


@dataclass
class RequestCheck:
    """One request of a recorded run, predicted from the snapshot taken just before it."""

    request: int
    snapshot: str                       # folder of the snapshot, relative to the run
    predicted: int | None               # the model's pick (None: the request fails)
    actual: int | None                  # the kernel's pick (None: the request failed)
    model_tried: list[tuple[int, bool]]             # tries that reached test_pages_isolated()
    kernel_tried: list[tuple[int, bool]] | None     # the same, traced (None: not traced)
    model_migrated: int                 # pages the model migrated for the range it took
    kernel_migrated: int | None         # pages the kernel's trace shows migrated (all tries)

    @property
    def hit(self) -> bool:
        """The same pick, and (when traced) the same tries past isolation, in the same order."""
        return self.predicted == self.actual and (
            self.kernel_tried is None or self.model_tried == self.kernel_tried)


def replay_requests(run: str | Path, *, zero_flags: str = "pcp") -> list[RequestCheck]:
    """Predict each request of a recorded run from the snapshot taken just before it.

    Needs a run recorded with protocol 2 (:func:`contig.live.record_gigantic_run`
    snapshots the node before every request and traces the kernel's tries);
    a protocol-1 run has one snapshot, so only its first request is checked
    here (:func:`predict_picks` predicts the whole run from it).

    :raises ValueError: ``run`` holds no run.json or no snapshot.
    """
    folder = Path(run)
    try:
        rec = json.loads((folder / "run.json").read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"run must be a recorded run's folder, not {str(run)!r} ({exc})") from None
    picks = [int(p) for p in rec["picks"]]
    traced = rec.get("kernel_tries")
    out = []
    for k, sub in enumerate(rec.get("snapshots", ["."]), 1):
        d = folder / sub
        paths = [d / f"{z}.npz" for z in ZONE_ORDER if (d / f"{z}.npz").is_file()]
        # a node loaded for this request alone: no copy needed
        tried = _attempts_in_place(load_node(paths, zero_flags=zero_flags), GIGANTIC_NR_PAGES, 1)
        taken = [a for a in tried if a.ok]
        kt = traced[k - 1] if traced is not None else None
        out.append(RequestCheck(
            request=k, snapshot=sub,
            predicted=taken[0].pfn if taken else None,
            actual=picks[k - 1] if k <= len(picks) else None,
            model_tried=tries_past_isolation(tried, 1),
            kernel_tried=None if kt is None else [(int(t["start_pfn"]), bool(t["ok"])) for t in kt],
            model_migrated=taken[0].migrated_pages if taken else 0,
            kernel_migrated=None if kt is None else sum(int(t["migrated"]) for t in kt)))
    return out


def _check(node: Node, nr_pages: int, count: int) -> None:
    if not isinstance(node, Node):
        raise ValueError(f"node must be a Node, not {type(node).__name__}")
    check_int("nr_pages", nr_pages, lo=1)
    check_int("count", count, lo=1)
    if nr_pages & (nr_pages - 1):
        raise ValueError(f"nr_pages must be a power of two (a hugetlb page), not {nr_pages}")
