"""A picture and an app for the Contiguous Memory Allocator (:mod:`contig.cma`).

* :func:`draw_cma` draws a CMA area: the zone around it as a strip (the
  area outlined in the CMA block colour), and under it, aligned page for
  page, the area's bitmap (one cell per bit, each as wide as the
  ``2**order_per_bit`` pages it stands for), the buffers held, and one row
  per slot the last :func:`~contig.cma.cma_alloc` tried, coloured by its
  result, with the page that made a failed slot busy ringed.
* :class:`CmaExplorer` is the ipywidgets app: a request size (pages or
  bytes) and alignment order (with the ``CONFIG_CMA_ALIGNMENT`` cap a
  driver's call goes through), "allocate" and "release" buttons, and one
  Output with the picture, the attempts (one line each, with its return
  value), the dmesg lines and the bitmap.

Colours (see :mod:`contig.viz.colors`: one colour, one meaning): a set
bit, a slot handed out and a held buffer are the orange of pages "owned by a
contiguous allocation" (``X``), which they are; the area's outline is the
CMA pageblock blue; the ring on a busy page is the course's "page that
stopped the call" mark.  Two meanings are new and get colours of their own
from Paul Tol's schemes, kept more than 9 CIELAB units from every page and
block colour for normal and colour-blind vision (checked in
``tests/test_viz_cma.py``): a clear bit (grey ``#BBBBBB``, and a ``0``
where there is room) and a slot that failed (rose ``#CC6677``).

Simplification: the zone is always drawn as one strip of the area with a
pageblock of margin each side (the whole zone when it fits ``strip_max``),
so that the bitmap row lines up with the pages; in large areas single
pages become thinner than a pixel, which the ring on a busy page makes up for.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from ..cma import (
    CMA_ALIGNMENT,
    PAGE_SHIFT,
    Cma,
    CmaResult,
    cma_alloc,
    cma_release,
    dma_alloc_from_contiguous,
    get_order,
)
from ..cma_scenarios import CMA_SCENARIOS, CmaScenario
from ..contig import errname
from ..zone import MigrateType
from ._check import check_bool, check_choice, check_figsize, check_int, check_real
from .colors import KIND_COLORS, MIGRATETYPE_COLORS, STYLE, ZoneState
from .plot import draw_zone, failure_mark

__all__ = [
    "CMA_COLORS",
    "CMA_LABELS",
    "CmaExplorer",
    "CmaView",
    "attempt_lines",
    "bitmap_text",
    "cma_legend_handles",
    "draw_cma",
    "held_buffers",
]

#: Colours of the CMA picture.  Only ``bit_clear`` and ``failed`` are new;
#: the others are existing colours used with their existing meaning.
CMA_COLORS: dict[str, str] = {
    "bit_clear": "#BBBBBB",                    # new: a clear bit, the slot may be handed out
    "bit_set": KIND_COLORS["X"],               # handed out: owned by a contiguous allocation
    "ok": KIND_COLORS["X"],                    # the slot cma_alloc() got: now owned
    "failed": "#CC6677",                       # new: a slot tried that failed (bits cleared again)
    "area": MIGRATETYPE_COLORS[MigrateType.CMA],   # the CMA area: its pageblocks are CMA
}
CMA_LABELS: dict[str, str] = {
    "bit_clear": "0: bit clear",
    "bit_set": "1: bit set (handed out)",
    "ok": "slot tried: success (pages now the caller's)",
    "failed": "slot tried: failed (bits cleared again)",
    "area": "the CMA area",
}
_BUSY_RED = STYLE["mark"]["line"]["color"]
#: rows of attempts drawn at most (the text lists them all)
MAX_ATTEMPT_ROWS = 16


def cma_legend_handles() -> list:
    """Legend entries of the bitmap and attempt rows."""
    out: list = [Patch(facecolor=CMA_COLORS[k], edgecolor="#555555", linewidth=0.5,
                       label=CMA_LABELS[k]) for k in ("bit_clear", "bit_set", "ok", "failed")]
    out.append(Patch(facecolor="none", edgecolor=CMA_COLORS["area"], linewidth=2.4,
                     label=CMA_LABELS["area"]))
    out.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="none",
                      markeredgecolor=_BUSY_RED, markeredgewidth=1.8, markersize=9,
                      label="the page that made the slot busy"))
    return out


def held_buffers(cma: Cma) -> list[tuple[int, int]]:
    """``(first_pfn, pages)`` of each run of set bits, in bit order (what the bitmap says is out)."""
    b = np.concatenate(([False], np.asarray(cma.bitmap, dtype=bool), [False]))
    d = np.flatnonzero(np.diff(b.astype(np.int8)))
    per = 1 << cma.order_per_bit
    return [(cma.base_pfn + int(s) * per, int(e - s) * per) for s, e in zip(d[::2], d[1::2])]


def bitmap_text(cma: Cma, width: int = 64) -> str:
    """The bitmap as ``0``/``1``, bit 0 first, ``width`` bits a line, each line led by its bit number
    and PFN; an area of more than 1024 bits is summarised as runs of set bits."""
    width = check_int("width", width, 1)
    n = cma.bitmap_maxno
    per = 1 << cma.order_per_bit
    if n > 1024:
        runs = held_buffers(cma)
        body = ", ".join(f"[{(p - cma.base_pfn) // per}, {(p - cma.base_pfn + c) // per})"
                         for p, c in runs) or "none"
        return f"{n} bits, set: {body}"
    s = cma.bitmap_str()
    return "\n".join(f"bit {k:>5} (PFN {cma.base_pfn + k * per:#x}): {s[k:k + width]}"
                     for k in range(0, n, width))


def attempt_lines(result: CmaResult | None) -> list[str]:
    """One line per alloc_contig_range() call of ``result``: the slot (bit and PFN range) and the
    return value, then the line for the search's end."""
    if result is None:
        return []
    out = []
    for k, ((bit, pfn), a) in enumerate(zip(result.tried, result.attempts), 1):
        how = "0 (success)" if a.ok else errname(a.ret)
        if a.failed_stage:
            how += f" in {a.failed_stage}"
        if a.busy_pfn is not None and not a.ok:
            how += f", busy page PFN {a.busy_pfn:#x}"
        out.append(f"try {k}: bit {bit}, alloc_contig_range({pfn:#x}, {pfn + result.count:#x}) "
                   f"= {how}")
    if not result.tried:
        out.append("no free slot of that size and alignment: no call made")
    out.append("cma_alloc() returned " + (f"PFN {result.pfn:#x} ({result.pfn})"
                                          if result.pfn is not None else "NULL"))
    return out


def _window(cma: Cma, strip_max: int) -> tuple[int, int]:
    z = cma.zone
    if z.end_pfn - z.start_pfn <= strip_max:
        return z.start_pfn, z.end_pfn
    pbn = z.geometry.pageblock_nr_pages
    return max(z.start_pfn, cma.base_pfn - pbn), min(z.end_pfn, cma.end_pfn + pbn)


@dataclass
class CmaView:
    """The artists of one CMA drawing and the arrays behind them (``arrays()``)."""

    zone_ax: Any
    bits_ax: Any
    window: tuple[int, int]
    bitmap: np.ndarray
    bitmap_row: np.ndarray
    attempts: list[tuple[int, int, int, int | None]] = field(default_factory=list)
    held: list[tuple[int, int]] = field(default_factory=list)
    row_labels: list[str] = field(default_factory=list)
    zone_view: Any = None

    def arrays(self) -> dict[str, Any]:
        """What is drawn: ``window`` (PFNs), ``bitmap`` (one bool per bit), ``bitmap_row``
        (per page of the window: -1 outside the area, else the bit's value), ``attempts``
        ``(pfn, count, ret, busy_pfn)``, ``held`` ``(pfn, pages)``, the zone ``kinds``
        and the ``row_labels`` of the lower panel (top to bottom)."""
        return {"window": self.window, "bitmap": self.bitmap.copy(),
                "bitmap_row": self.bitmap_row.copy(), "attempts": list(self.attempts),
                "held": list(self.held), "row_labels": list(self.row_labels),
                "kinds": self.zone_view.arrays()["kinds"] if self.zone_view is not None else None}


def draw_cma(fig: Figure, cma: Cma, last: CmaResult | None = None, *,
             held: list[tuple[int, int]] | None = None, strip_max: int = 512,
             title: str | None = None, legend: bool = True) -> CmaView:
    """Draw ``cma`` on ``fig`` (cleared first): the zone strip with the area outlined, the
    bitmap aligned with its pages, the held buffers, and the slots ``last`` tried.

    :param last: the result of the last cma_alloc() on this area (None: no rows of attempts).
    :param held: the buffers held, ``(pfn, pages)`` as their callers asked for them (default:
        the runs of set bits, :func:`held_buffers`; with ``order_per_bit`` > 0 a run of bits
        covers more pages than the caller got).
    :return: a :class:`CmaView`.
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, not {fig!r}")
    if not isinstance(cma, Cma):
        raise TypeError(f"cma must be a Cma, not {cma!r}")
    if last is not None and not isinstance(last, CmaResult):
        raise TypeError(f"last must be a CmaResult or None, not {last!r}")
    strip_max = check_int("strip_max", strip_max, 1)
    legend = check_bool("legend", legend)
    fig.clear()
    lo, hi = _window(cma, strip_max)
    tries = list(zip(last.tried, last.attempts)) if last is not None else []
    shown = tries[:MAX_ATTEMPT_ROWS]
    nrows = 2 + len(shown)          # bitmap, held, attempts
    gs = fig.add_gridspec(2, 1, height_ratios=[1.0, 0.55 + 0.22 * nrows],
                          left=0.15, right=0.98, top=0.9, bottom=0.2 if legend else 0.08,
                          hspace=0.45)
    zax = fig.add_subplot(gs[0])
    bax = fig.add_subplot(gs[1])
    state = ZoneState.of(cma.zone).window(lo, hi)
    fmt = "hex" if cma.base_pfn >= 4096 else "dec"
    zv = draw_zone(zax, state, mode="strip", legend=False, pfn_format=fmt,
                   title=title or f"zone {cma.zone.name or ''} and CMA area {cma.name}: PFN "
                                  f"[{cma.base_pfn:#x}, {cma.end_pfn:#x}), {cma.count} pages")
    zax.add_patch(Rectangle((cma.base_pfn, -0.5), cma.count, 1.65, fill=False,
                            edgecolor=CMA_COLORS["area"], linewidth=2.4, zorder=6, clip_on=False))
    # ---- the lower panel: per page of the window, rows top to bottom
    per = 1 << cma.order_per_bit
    pfns = np.arange(lo, hi)
    inside = (pfns >= cma.base_pfn) & (pfns < cma.end_pfn)
    row = np.full(pfns.size, -1, dtype=np.int8)
    row[inside] = cma.bitmap[(pfns[inside] - cma.base_pfn) >> cma.order_per_bit]
    img = np.full((nrows, pfns.size), -1, dtype=np.int8)
    img[0] = row
    held = held_buffers(cma) if held is None else [(int(p), int(c)) for p, c in held]
    for p, c in held:
        if not (cma.base_pfn <= p and p + c <= cma.end_pfn):
            raise ValueError(f"held buffer {(p, c)!r} is not inside the area "
                             f"[{cma.base_pfn}, {cma.end_pfn})")
    for p, c in held:
        img[1, p - lo:p - lo + c] = 1
    labels = [f"bitmap ({per} page{'s' if per > 1 else ''}/bit)", "held buffers"]
    attempts = []
    for k, ((_bit, pfn), a) in enumerate(shown):
        img[2 + k, pfn - lo:pfn - lo + last.count] = 2 if a.ok else 3
        attempts.append((pfn, last.count, a.ret, a.busy_pfn))
        labels.append(f"try {k + 1}: {'0' if a.ok else errname(a.ret)}")
    cmap = ListedColormap([CMA_COLORS["bit_clear"], CMA_COLORS["bit_set"], CMA_COLORS["ok"],
                           CMA_COLORS["failed"]]).with_extremes(bad=(0, 0, 0, 0))
    masked = np.ma.masked_less(img, 0)
    bax.imshow(masked, cmap=cmap, norm=Normalize(-0.5, 3.5), interpolation="nearest",
               aspect="auto", extent=(lo, hi, nrows, 0), origin="upper")
    # bit boundaries (when a bit is wide enough to see) and 0/1 letters where there is room
    nbits = cma.bitmap_maxno
    if nbits <= 256:
        xs = cma.base_pfn + np.arange(1, nbits) * per
        bax.vlines(xs, 0, 1, colors="white", linewidth=0.6)
    if nbits <= 64:
        for k in range(nbits):
            bax.text(cma.base_pfn + (k + 0.5) * per, 0.5, "1" if cma.bitmap[k] else "0",
                     ha="center", va="center", fontsize=7,
                     color="black" if not cma.bitmap[k] else "white")
    for p, c in held:
        bax.text(p + c / 2, 1.5, f"{c} page{'s' if c > 1 else ''}", ha="center", va="center",
                 fontsize=7, color="black", clip_on=True)
    for k in range(len(attempts)):
        a = shown[k][1]
        mark = failure_mark(a) if not a.ok else None
        if mark is not None:
            bax.plot([mark[0] + 0.5], [2 + k + 0.5], linestyle="none", marker="o",
                     markerfacecolor="none", markeredgecolor=_BUSY_RED, markeredgewidth=1.6,
                     markersize=7)
    bax.set_yticks(np.arange(nrows) + 0.5, labels, fontsize=7)
    bax.set_ylim(nrows, 0)
    bax.set_xlim(*zax.get_xlim())
    bax.tick_params(axis="x", labelsize=7)
    if fmt == "hex":
        ticks = [t for t in zax.get_xticks() if lo <= t <= hi]
        bax.set_xticks(ticks, [f"{int(t):#x}" for t in ticks])
    extra = ""
    if len(tries) > len(shown):
        extra = f" ({len(tries) - len(shown)} more tries not drawn; the text lists them)"
    if last is not None:
        bax.set_title(f"the bitmap, the buffers held, and the slots cma_alloc(count {last.count}, "
                      f"align {last.align}) tried{extra}", fontsize=9)
    else:
        bax.set_title("the bitmap and the buffers held (no cma_alloc() yet)", fontsize=9)
    if legend:
        bax.legend(handles=cma_legend_handles(), loc="upper center", bbox_to_anchor=(0.45, -0.12),
                   ncol=3, fontsize="x-small", frameon=False)
    return CmaView(zax, bax, (lo, hi), cma.bitmap.copy(), row, attempts, held, labels, zv)


# ------------------------------------------------------------------ the app
def _check_held(cma: Cma, held: Any) -> list[tuple[int, int]]:
    if not isinstance(held, list | tuple):
        raise TypeError(f"held must be a list of (pfn, pages), not {held!r}")
    out = []
    for item in held:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise TypeError(f"held item {item!r} is not a pair (pfn, pages)")
        p, c = check_int("held pfn", item[0]), check_int("held pages", item[1], 1)
        lo = (p - cma.base_pfn) >> cma.order_per_bit
        hi = lo + cma.pages_to_bits(c)
        if p < cma.base_pfn or p + c > cma.end_pfn or not cma.bitmap[lo:hi].all():
            raise ValueError(f"held item {item!r} is not a buffer of the area: its bits are not "
                             f"all set, or it lies outside [{cma.base_pfn}, {cma.end_pfn})")
        out.append((p, c))
    return out


def _png(fig: Figure, dpi: float) -> dict[str, Any]:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    w, h = (int(v) for v in fig.get_size_inches() * dpi)
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                     "text/plain": f"<Figure size {w}x{h}>"}}


def _text_output(text: str) -> dict[str, Any]:
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": f'<pre class="contig-cma-text" style="font-size:12px;'
                                  f'line-height:1.3">{html.escape(text)}</pre>',
                     "text/plain": text}}


class CmaExplorer:
    """Ask a CMA area for buffers and give them back; watch the bitmap, the tries and dmesg.

    :param scenario_or_cma: a :class:`~contig.cma.Cma` (used as it is, and changed by the
        app), a :class:`~contig.cma_scenarios.CmaScenario` or a scenario's name (a fresh
        area is built).  The first request step of a scenario presets the controls.
    :param play: also play the scenario's steps first (their buffers are then held).
    :param held: for a Cma whose bits are already set: the buffers its callers hold,
        ``(pfn, pages)`` (default: the runs of set bits, exact when ``order_per_bit`` is 0;
        with larger bits a run covers more pages than the caller got, and releasing it would
        free pages the caller never had).

    Plain methods a test (or a notebook cell) can call: :meth:`set_request`,
    :meth:`allocate`, :meth:`release`, :meth:`update`.  What is shown:
    :attr:`last` (the last CmaResult), :attr:`held` (buffers held, ``(pfn, pages)``),
    :attr:`text` (the text under the picture), :attr:`message`, :meth:`figure_arrays`.
    Bad input is refused with a ValueError or TypeError naming the argument and the
    value (shown in the app when it comes from a control); the area is then unchanged.
    CSS classes: ``contig-cma``, ``contig-cma-size``, ``contig-cma-unit``, ``contig-cma-align``,
    ``contig-cma-driver``, ``contig-cma-allocate``, ``contig-cma-held``,
    ``contig-cma-release``, ``contig-cma-message``, ``contig-cma-plot``.
    """

    def __init__(self, scenario_or_cma: Cma | CmaScenario | str, *, play: bool = False,
                 held: list[tuple[int, int]] | None = None, figsize=(9.6, 6.0), dpi: float = 80,
                 strip_max: int = 512):
        import ipywidgets as ipw

        sc = scenario_or_cma
        if isinstance(sc, str):
            if sc not in CMA_SCENARIOS:
                raise ValueError(f"scenario_or_cma {sc!r} is not a CMA scenario; there are: "
                                 f"{', '.join(CMA_SCENARIOS)}")
            sc = CMA_SCENARIOS[sc]
        if not isinstance(sc, Cma | CmaScenario):
            raise TypeError(f"scenario_or_cma must be a Cma, a CmaScenario or a scenario name, "
                            f"not {scenario_or_cma!r}")
        play = check_bool("play", play)
        figsize = check_figsize(figsize)
        self.dpi = check_real("dpi", dpi)
        self.strip_max = check_int("strip_max", strip_max, 1)
        self.scenario = sc if isinstance(sc, CmaScenario) else None
        self.held: list[tuple[int, int]] = []
        self.last: CmaResult | None = None
        self.message = ""
        self.renders = 0
        self.view: CmaView | None = None
        size, unit, align, driver = 1, "pages", 0, False
        if self.scenario is not None:
            if play:
                self.cma, steps = self.scenario.run()
                for st in steps:
                    if st.result is not None and st.result.ok:
                        self.held.append((st.result.pfn, st.result.count))
                        self.last = st.result
                    elif st.result is not None:
                        self.last = st.result
                    if st.released:
                        got = steps[st.step[1]].result
                        self.held.remove((got.pfn, got.count))
            else:
                self.cma = self.scenario.build()
            first = next((s for s in self.scenario.steps if s[0] in ("alloc", "dma")), None)
            if first is not None and first[0] == "dma":
                size, unit, align, driver = first[1], "bytes", get_order(first[1]), True
            elif first is not None:
                size, unit, align, driver = first[1], "pages", first[2], False
        else:
            self.cma = sc
            self.held = held_buffers(sc) if held is None else _check_held(sc, held)
        if held is not None and self.scenario is not None:
            raise ValueError(f"held={held!r} is for a Cma; a scenario's buffers come from play=True")
        self.request = {"size": size, "unit": unit, "align": align, "driver": driver}
        lay = ipw.Layout
        self.size_box = ipw.IntText(value=size, description="size", layout=lay(width="220px"))
        self.size_box.add_class("contig-cma-size")
        self.unit_picker = ipw.ToggleButtons(options=["pages", "bytes"], value=unit,
                                             style={"button_width": "70px"})
        self.unit_picker.add_class("contig-cma-unit")
        self.align_slider = ipw.IntSlider(value=align, min=0, max=12, description="align order",
                                          continuous_update=False, layout=lay(width="360px"),
                                          style={"description_width": "90px"})
        self.align_slider.add_class("contig-cma-align")
        self.driver_box = ipw.Checkbox(value=driver, indent=False,
                                       description=f"as a driver: dma_alloc_from_contiguous() "
                                                   f"caps align at CONFIG_CMA_ALIGNMENT = "
                                                   f"{CMA_ALIGNMENT}")
        self.driver_box.add_class("contig-cma-driver")
        self.request_html = ipw.HTML()
        self.alloc_button = ipw.Button(description="allocate", button_style="primary",
                                       layout=lay(width="100px"))
        self.alloc_button.add_class("contig-cma-allocate")
        self.held_picker = ipw.Dropdown(options=[], description="held", layout=lay(width="320px"))
        self.held_picker.add_class("contig-cma-held")
        self.release_button = ipw.Button(description="release", layout=lay(width="100px"))
        self.release_button.add_class("contig-cma-release")
        self.message_html = ipw.HTML()
        self.message_html.add_class("contig-cma-message")
        self.out = ipw.Output()
        self.out.add_class("contig-cma-plot")
        self.fig = Figure(figsize=figsize)
        self.widget = ipw.VBox([
            ipw.HBox([self.size_box, self.unit_picker]),
            ipw.HBox([self.align_slider, self.driver_box]),
            self.request_html,
            ipw.HBox([self.alloc_button, self.held_picker, self.release_button]),
            self.message_html, self.out])
        self.widget.add_class("contig-cma")
        self._guard = False
        for w in (self.size_box, self.unit_picker, self.align_slider, self.driver_box):
            w.observe(self._on_control, names="value")
        self.alloc_button.on_click(lambda _b: self._safe(self.allocate))
        self.release_button.on_click(lambda _b: self._safe(self._release_chosen))
        self._show_request()
        self.update()

    # -------------------------------------------------------- request
    def count_align(self) -> tuple[int, int]:
        """The ``(count, align)`` the current request passes to cma_alloc(): pages (bytes
        rounded up to whole pages, as PAGE_ALIGN does) and the order, capped at
        CONFIG_CMA_ALIGNMENT when asked as a driver."""
        r = self.request
        count = r["size"] if r["unit"] == "pages" else (r["size"] + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT
        align = min(r["align"], CMA_ALIGNMENT) if r["driver"] else r["align"]
        return count, align

    def set_request(self, size: int, unit: str = "pages", align: int = 0,
                    driver: bool = False) -> None:
        """Set the next request: ``size`` in ``unit`` ("pages" or "bytes"), alignment order
        ``align`` (0..12), ``driver``: go through dma_alloc_from_contiguous() (align capped)."""
        unit = check_choice("unit", unit, ("pages", "bytes"))
        size = check_int("size", size, 1)
        if unit == "pages" and size > self.cma.count:
            raise ValueError(f"size {size} pages is more than the area's {self.cma.count} pages")
        if unit == "bytes" and size > self.cma.count << PAGE_SHIFT:
            raise ValueError(f"size {size} bytes is more than the area's "
                             f"{self.cma.count << PAGE_SHIFT} bytes")
        align = check_int("align", align, 0, 12)
        driver = check_bool("driver", driver)
        self.request = {"size": size, "unit": unit, "align": align, "driver": driver}
        self._sync_controls()
        self._show_request()

    def _show_request(self) -> None:
        count, align = self.count_align()
        r = self.request
        bits = self.cma.pages_to_bits(count)
        note = ""
        if r["unit"] == "bytes":
            note = (f"{r['size']} bytes = {count} page(s) ({count:#x}); a driver passes "
                    f"get_order({r['size']}) = {get_order(r['size'])} as align. ")
        cap = ""
        if r["driver"] and r["align"] > CMA_ALIGNMENT:
            cap = f" (order {r['align']} capped at CONFIG_CMA_ALIGNMENT = {CMA_ALIGNMENT})"
        self.request_html.value = (f"<code>{html.escape(note)}next call: cma_alloc(count {count}, "
                                   f"align {align}){html.escape(cap)}: {bits} bit(s) of "
                                   f"{1 << self.cma.order_per_bit} page(s)</code>")

    def _sync_controls(self) -> None:
        self._guard = True
        try:
            r = self.request
            self.unit_picker.value = r["unit"]
            self.size_box.value = r["size"]
            self.align_slider.value = r["align"]
            self.driver_box.value = r["driver"]
            self.held_picker.options = [(f"PFN {p:#x} ({p}), {c} pages", i)
                                        for i, (p, c) in enumerate(self.held)]
            if self.held:
                self.held_picker.value = len(self.held) - 1
        finally:
            self._guard = False

    def _on_control(self, change) -> None:
        if self._guard:
            return
        self._safe(self.set_request, self.size_box.value, self.unit_picker.value,
                   self.align_slider.value, self.driver_box.value)

    def _safe(self, fn, *args) -> None:
        try:
            fn(*args)
        except (TypeError, ValueError) as exc:
            self._say(str(exc))
            self._sync_controls()
        except Exception as exc:      # a callback must never show a traceback
            self._say(f"error: {type(exc).__name__}: {exc}")
            self._sync_controls()

    def _say(self, text: str) -> None:
        self.message = text
        self.message_html.value = (f'<div style="color:#CC3311"><b>{html.escape(text)}</b></div>'
                                   if text else "")

    # -------------------------------------------------------- actions
    def allocate(self) -> CmaResult:
        """Make the current request of the area (cma_alloc(), or dma_alloc_from_contiguous()
        as a driver) and redraw; the buffer, if any, joins :attr:`held`."""
        count, align = self.count_align()
        r = self.request
        if r["driver"]:
            res = dma_alloc_from_contiguous(self.cma, count, r["align"])
        else:
            res = cma_alloc(self.cma, count, align)
        self.last = res
        if res.ok:
            self.held.append((res.pfn, res.count))
        self._say("")
        self.update()
        return res

    def release(self, index: int) -> bool:
        """Give back held buffer number ``index`` (its position in :attr:`held`) with
        cma_release(); redraw.  Returns what cma_release() returned."""
        index = check_int("index", index)
        if not 0 <= index < len(self.held):
            raise ValueError(f"index {index} is not a held buffer: "
                             + (f"there are {len(self.held)} (0..{len(self.held) - 1})"
                                if self.held else "none is held"))
        pfn, count = self.held[index]
        ok = cma_release(self.cma, pfn, count)
        if ok:
            del self.held[index]
        self._say(f"cma_release(PFN {pfn:#x}, {count} pages) = {'true' if ok else 'false'}")
        self.update()
        return ok

    def _release_chosen(self) -> None:
        if self.held_picker.value is None:
            raise ValueError("index None is not a held buffer: none is held")
        self.release(self.held_picker.value)

    # -------------------------------------------------------- the picture and the text
    @property
    def text(self) -> str:
        """The text under the picture: attempts, dmesg lines, bitmap."""
        parts = []
        if self.last is not None:
            parts.append("the last call: " + self.last.summary())
            parts += ["  " + line for line in attempt_lines(self.last)]
            parts.append("dmesg:")
            parts += (["  " + line for line in self.last.log] or ["  (nothing printed)"])
        else:
            parts.append("no cma_alloc() yet: press allocate")
        parts.append(f"bitmap of {self.cma.name} ({self.cma.bitmap_maxno} bits, "
                     f"{1 << self.cma.order_per_bit} page(s) per bit):")
        parts += ["  " + line for line in bitmap_text(self.cma).splitlines()]
        return "\n".join(parts)

    def update(self) -> None:
        """Redraw the picture and the text from the area as it stands."""
        self._sync_controls()
        self.view = draw_cma(self.fig, self.cma, self.last, held=self.held, strip_max=self.strip_max)
        self.out.outputs = (_png(self.fig, self.dpi), _text_output(self.text))
        self.renders += 1

    def figure_arrays(self) -> dict[str, Any]:
        """What the picture shows (:meth:`CmaView.arrays`)."""
        assert self.view is not None
        return self.view.arrays()

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
