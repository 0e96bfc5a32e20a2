"""Linux 4.4 and Linux 6.18 side by side: the same zone, the same request, both kernels.

* :func:`compare` runs ``alloc_contig_range()`` of :mod:`contig.v4_4` and of
  :mod:`contig.v6_18` on two copies of a zone and lists every difference in
  what they return and leave behind, each with the kernel change that can
  explain it (:data:`CAUSES`, from the timeline of
  ``shared/kernel/alloc_contig_range-semantics.md`` section 3.1);
* :func:`compare_kernels` draws it: the zone before, then after each kernel,
  one above the other, and a line per difference;
* :class:`CompareFigure` is that drawing, updatable in place (used by the app
  :class:`contig.viz.widgets.KernelComparer`).

A CMA request (``migratetype=MigrateType.CMA``) is run on 6.18 with
``ACR_FLAGS_CMA``, any other with ``ACR_FLAGS_NONE`` (see
:func:`contig.viz.widgets.run_kernel`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from matplotlib.figure import Figure

from ..contig import ContigResult, errname
from ..zone import MigrateType, Zone
from ._check import check_choice, check_figsize, check_int
from .plot import ZoneState, ZoneView, _span, call_window, failure_mark, isolation_failures

__all__ = ["CAUSES", "CompareFigure", "KernelComparison", "compare", "compare_kernels"]

#: the kernel changes behind each kind of difference (``key`` of a difference -> text)
CAUSES: dict[str, str] = {
    "isolated": "5.19: isolation is pageblock granular (pfn_max_align is gone; 4.4 rounds the "
                "request out to whole MAX_ORDER blocks)",
    "neighbour": "5.19: only the request's own pageblocks are isolated; 4.4 rounded out to whole "
                 "MAX_ORDER blocks and a block outside the request's pageblocks refused",
    "boundary": "5.19 / 6.18: isolate_single_pageblock checks each boundary pageblock whole, so "
                "an unmovable page outside the request but inside its first or last block "
                "refuses the call",
    "scan": "4.15 and later: MOVABLE blocks are scanned for unmovable pages at isolation (4.4 "
            "isolated them without a look and met the page only in test_pages_isolated, after "
            "migrating); a page not on the LRU (a per-CPU LRU batch page too) counts as "
            "unmovable",
    "cma": "4.15 / 6.15-6.18: a CMA pageblock is unmovable for every caller but CMA "
           "(ACR_FLAGS_CMA); 4.4 let any caller isolate it",
    "compound": "5.13 / 6.x: with cc->alloc_contig, THPs and in-use hugetlb folios are isolated "
                "and migrated whole (4.4 skipped every compound page)",
    "outer_start": "4.5 and 6.9-6.11: outer_start comes from find_large_buddy(), which never "
                   "fails and takes a free block only if it covers start (4.4's loop took any "
                   "lower buddy head, or failed)",
    "enomem": "5.13: -ENOMEM from migrate_pages() ends the loop at once",
    "stage": "a different stage stopped the call (see the stages above)",
    "pages": "the same stages ran, but the kernels moved, freed or merged pages differently "
             "(migration of compound pages, where freed targets and pages land)",
    "follows": "follows from where each kernel stopped",
    "log": "5.13: the \"PFNs busy\" message is gone (the test_pages_isolated tracepoint "
           "records the PFN instead)",
    "blocks": "6.15-6.18: isolation is a separate pageblock bit, so each block keeps its own "
              "migratetype; 4.4's undo sets every block to the migratetype passed in",
    "free": "4.6 and 5.18: __free_one_page does not merge an isolated block with a non-isolated "
            "one, nor (above pageblock_order) two blocks of types that do not both merge; "
            "6.9-6.11: free blocks larger than a pageblock are split at isolation",
}


@dataclass
class KernelComparison:
    """Both kernels' call on copies of one zone.

    ``results[k]`` is kernel ``k``'s :class:`~contig.ContigResult` and
    ``after[k]`` the zone it left; ``differences`` is a list of
    ``(key, line)``, ``key`` one of :data:`CAUSES`.
    """

    zone: Zone
    start: int
    end: int
    results: dict[str, ContigResult]
    after: dict[str, Zone]
    differences: list[tuple[str, str]] = field(default_factory=list)

    def lines(self, causes: bool = True) -> list[str]:
        """One line per difference (with its cause unless ``causes=False``)."""
        if not self.differences:
            return ["both kernels return the same and leave the same zone"]
        return [f"{line}  <- {CAUSES[key]}" if causes else line for key, line in self.differences]

    def __str__(self) -> str:
        head = [f"Linux {k}: {r.summary()}" for k, r in self.results.items()]
        return "\n".join(head + ["differences:"] + ["  " + ln for ln in self.lines()])


def _stop(r: ContigResult) -> str:
    return (f"{errname(r.ret)} in {r.failed_stage}" if r.failed_stage else errname(r.ret))


def _stage_cause(zone: Zone, mt: int, r4: ContigResult, r6: ContigResult) -> str:
    """Which change makes the two calls stop (or not) in different stages."""
    g = zone.geometry
    if r6.failed_stage == "start_isolate_page_range" != r4.failed_stage:
        lo, hi = r6.isolate_start - zone.start_pfn, r6.isolate_end - zone.start_pfn
        pbo = g.pageblock_order
        blocks = zone.pageblock_types()[lo >> pbo: -(-hi >> pbo)]
        if int(mt) != MigrateType.CMA and (blocks == MigrateType.CMA).any():
            return "cma"
        b = r6.busy_pfn
        if b is not None and not r6.start <= b < r6.end:
            return "boundary"
        return "scan"
    if r4.failed_stage == "start_isolate_page_range" != r6.failed_stage:
        b = r4.busy_pfn
        if b is None or not r6.isolate_start <= b < r6.isolate_end:
            return "neighbour"
    if r4.failed_stage == "outer_start":
        return "outer_start"
    if r4.failed_stage == "test_pages_isolated" and r6.ok:
        kinds = zone.kinds()[r4.start - zone.start_pfn: r4.end - zone.start_pfn]
        if (kinds == ord("T")).any() or (kinds == ord("H")).any():
            return "compound"
    if -12 in (r4.ret, r6.ret):
        return "enomem"
    return "stage"


def differences(r4: ContigResult, z4: Zone, r6: ContigResult, z6: Zone, *,
                zone: Zone | None = None,
                migratetype: int = MigrateType.MOVABLE) -> list[tuple[str, str]]:
    """``(key, line)`` for each way the two calls differ, in the order of the stages;
    ``key`` names the change in :data:`CAUSES`.  ``zone`` (the zone before) lets the
    stage line say which change is at work."""
    out: list[tuple[str, str]] = []
    same_stop = (r4.ret, r4.failed_stage) == (r6.ret, r6.failed_stage)

    def pair(key: str, what: str, a: Any, b: Any) -> None:
        if a != b:
            out.append((key if same_stop else "follows", f"{what}: 4.4 {a}, 6.18 {b}"))

    if (r4.isolate_start, r4.isolate_end) != (r6.isolate_start, r6.isolate_end):
        out.append(("isolated", f"isolated range: 4.4 [{r4.isolate_start}, {r4.isolate_end}), "
                                f"6.18 [{r6.isolate_start}, {r6.isolate_end})"))
    if not same_stop:
        key = _stage_cause(zone, migratetype, r4, r6) if zone is not None else "stage"
        where = []
        for k, r in (("4.4", r4), ("6.18", r6)):
            b = f" (PFN {r.busy_pfn})" if r.busy_pfn is not None and r.failed_stage else ""
            where.append(f"{k} {_stop(r)}{b}")
        out.append((key, "returns: " + ", ".join(where)))
    pair("pages", "pages migrated / dropped", f"{len(r4.migrated)} / {len(r4.reclaimed)}",
         f"{len(r6.migrated)} / {len(r6.reclaimed)}")
    pair("outer_start", "outer_start", r4.outer_start, r6.outer_start)
    pair("free", "outer_end", r4.outer_end, r6.outer_end)
    busy4 = [ln for ln in r4.log if "busy" in ln]
    busy6 = [ln for ln in r6.log if "busy" in ln]
    if busy4 != busy6:
        out.append(("log", f"log: 4.4 {busy4 or 'nothing'}, 6.18 {busy6 or 'nothing'}"))
    if z4.blocks_map() != z6.blocks_map():
        out.append(("blocks", f"pageblock types after: 4.4 {z4.blocks_map()}, "
                              f"6.18 {z6.blocks_map()}"))
    m4, m6 = z4.to_map(), z6.to_map()
    if m4 != m6:
        n = sum(a != b for a, b in zip(m4, m6))
        first = next(i for i, (a, b) in enumerate(zip(m4, m6)) if a != b) + z4.start_pfn
        out.append(("follows" if not same_stop else "pages",
                    f"pages after: {n} PFN(s) differ, the first at PFN {first}"))
    f4 = [(p, o) for p, o, _ in z4.free_blocks()]
    f6 = [(p, o) for p, o, _ in z6.free_blocks()]
    if f4 != f6:
        out.append(("free" if m4 == m6 else "follows",
                    f"free blocks after: 4.4 {len(f4)}, 6.18 {len(f6)} "
                    f"({z4.nr_free_pages} and {z6.nr_free_pages} free pages)"))
    return out


def compare(zone: Zone, start: int, end: int, migratetype: int = MigrateType.MOVABLE,
            **options: Any) -> KernelComparison:
    """Run both kernels' ``alloc_contig_range(start, end)`` on copies of ``zone``.

    ``zone`` itself is not changed.  ``options`` are v4.4's keyword options;
    6.18 gets those it knows (:func:`contig.viz.widgets.run_kernel`).
    :raises ValueError, TypeError: bad arguments (from either model).
    """
    from .widgets import run_kernel

    if not isinstance(zone, Zone):
        raise TypeError(f"zone must be a contig.Zone, not {type(zone).__name__}")
    start, end = check_int("start", start), check_int("end", end)
    results, after = {}, {}
    for k in ("4.4", "6.18"):
        z = zone.copy()
        results[k] = run_kernel(k, z, start, end, migratetype, **options)
        after[k] = z
    return KernelComparison(zone, start, end, results, after,
                            differences(results["4.4"], after["4.4"], results["6.18"],
                                        after["6.18"], zone=zone, migratetype=migratetype))


class CompareFigure:
    """Three zone drawings one above the other: before, after Linux 4.4, after Linux 6.18.

    ``update(comparison)`` redraws in place (a new span or window gets new
    axes); ``arrays()`` returns what is drawn: ``{"before", "4.4", "6.18"}``
    ZoneView arrays.
    """

    PANELS = ("before", "4.4", "6.18")

    def __init__(self, fig: Figure, *, strip_max: int = 512, window: str = "zone",
                 bottom: float = 0.08):
        self.fig = fig
        self.window = check_choice("window", window, ("zone", "call"))
        self.strip_max = check_int("strip_max", strip_max, 1)
        self._gs = fig.add_gridspec(3, 1, hspace=0.55, left=0.115, right=0.98, top=0.95,
                                    bottom=bottom)
        self.views: dict[str, ZoneView | None] = dict.fromkeys(self.PANELS)
        self.titles = {"before": "before the call", "4.4": "after Linux 4.4's call",
                       "6.18": "after Linux 6.18's call"}

    def _view(self, name: str, state: ZoneState) -> ZoneView:
        v = self.views[name]
        if v is not None and _span(v.state) == _span(state):
            v.set_state(state)
            return v
        if v is not None:
            self.fig.delaxes(v.ax)
        ax = self.fig.add_subplot(self._gs[self.PANELS.index(name)])
        v = ZoneView(ax, state, legend=False, title=self.titles[name], strip_max=self.strip_max,
                     fixed_ylim=True)
        self.views[name] = v
        return v

    def update(self, c: KernelComparison) -> None:
        b = ZoneState.of(c.zone)
        if self.window == "zone":
            lo, hi = b.start_pfn, b.end_pfn
        else:
            lo, hi = call_window(b, c.start, c.end, strip_max=self.strip_max)
        vb = self._view("before", b.window(lo, hi))
        vb.ax.set_xlabel("")
        vb.set_overlays(request=(c.start, c.end))
        for k in ("4.4", "6.18"):
            r = c.results[k]
            v = self._view(k, ZoneState.of(c.after[k]).window(lo, hi))
            if k == "4.4":
                v.ax.set_xlabel("")
            v.set_overlays(request=(r.start, r.end), isolate=(r.isolate_start, r.isolate_end),
                           outer=(r.outer_start, r.outer_end), migrated=r.migrated,
                           failed=isolation_failures(r), busy=failure_mark(r))

    def arrays(self) -> dict[str, Any]:
        return {k: (v.arrays() if v is not None else None) for k, v in self.views.items()}


def compare_kernels(zone: Zone, start: int, end: int, migratetype: int = MigrateType.MOVABLE, *,
                    fig: Figure | None = None, figsize=(10, 7.5), strip_max: int = 512,
                    window: str = "zone", **options: Any) -> Figure:
    """Draw both kernels' call on ``[start, end)`` of ``zone``: the zone before, after 4.4,
    after 6.18, one above the other, each result line in its panel's title and a line per
    difference below (with the change that explains it).

    Creates the figure with pyplot when ``fig`` is None.  ``zone`` is not changed.
    :return: the Figure; ``fig.contig`` is the :class:`KernelComparison` and
        ``fig.contig_view`` the :class:`CompareFigure`.
    """
    figsize = check_figsize(figsize)
    c = compare(zone, start, end, migratetype, **options)
    if fig is None:
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=figsize)
    lines = c.lines(causes=False)
    bottom = min(0.45, 0.08 + 0.03 * len(lines))
    view = CompareFigure(fig, strip_max=strip_max, window=window, bottom=bottom)
    for k in ("4.4", "6.18"):
        view.titles[k] = f"after Linux {k}: {c.results[k].summary()}"
    view.update(c)
    for v in view.views.values():
        if v is not None:
            v.ax.title.set_fontsize("small")
            v.ax.title.set_fontfamily("monospace")
    fig.text(0.01, 0.005, "\n".join(["differences:"] + ["  " + ln for ln in lines]),
             fontsize="small", family="monospace", va="bottom", ha="left")
    fig.contig = c
    fig.contig_view = view
    return fig
