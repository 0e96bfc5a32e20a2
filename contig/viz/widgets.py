"""Interactive apps for the course, made of plain ipywidgets.

* :class:`RangeExplorer`: pick a zone, move ``[start, end)``, see what
  ``alloc_contig_range()`` does (before, after, free lists) and the result
  line exactly as :meth:`contig.ContigResult.summary` prints it.
* :class:`StepPlayer`: play a recorded call event by event, the zone redrawn
  as it was after each event, with the event's ``why``.
* :class:`KernelComparer`: one range, both kernels: the zone before, after
  Linux 4.4 and after Linux 6.18, with a line per difference.

The explorer and the player run ``kernel="4.4"`` (:mod:`contig.v4_4`, the
default) or ``kernel="6.18"`` (:mod:`contig.v6_18`, see :func:`run_kernel`);
the explorer has a kernel picker (:meth:`RangeExplorer.set_kernel`).

Each app builds its widgets and one :class:`matplotlib.figure.Figure` once.
A change runs a plain method (``update`` / ``step_to``) that updates the
artists in place and puts one PNG into an ``Output`` widget, replacing the
previous one (never stacking figures, never flickering; an unchanged
picture is not sent again).  The PNG is rendered by matplotlib's Agg
canvas, as the inline backend does, so the apps look the same under
``%matplotlib inline``, ``widget`` or none.  Wrong input (out of range,
start not below end, a model error) is answered in the result text, never
with a traceback.

Every app has ``.widget`` (the top-level box) and displays as it;
``figure_arrays()`` returns what was drawn, for tests and notebooks.
CSS classes for browser tests: ``contig-range``, ``contig-start``,
``contig-end``, ``contig-result``, ``contig-plot``, ``contig-geometry``,
``contig-zoom``, ``contig-step``, ``contig-why``, ``contig-kernel`` (the
kernel picker), ``contig-comparer`` (a KernelComparer's box; its differences
are in ``contig-diff`` inside ``contig-result``).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as ipw
from matplotlib.figure import Figure

from ..contig import ContigResult, alloc_contig_range, errname
from ..geometry import Geometry
from ..mapfmt import BLOCK_CHARS as BLOCK_LETTERS
from ..zone import MigrateType, Zone
from ._check import check_bool, check_choice, check_figsize, check_int, check_real
from .colors import (
    HOLE_EDGE,
    KIND_COLORS,
    KIND_LABELS,
    KIND_ORDER,
    MIGRATETYPE_COLORS,
    MIGRATETYPE_LABELS,
    NO_PAGES_COLOR,
    NO_PAGES_LABEL,
    text_color,
)
from .plot import (
    STYLE,
    FreeListsView,
    ResultFigure,
    ZoneState,
    ZoneView,
    call_window,
    isolation_failures,
)

__all__ = ["KERNELS", "KernelComparer", "RangeExplorer", "StepPlayer", "geometry_choices", "legend_html",
           "render_png", "run_kernel"]

#: the kernels the apps can run: value -> label of the kernel picker
KERNELS = {"4.4": "Linux 4.4", "6.18": "Linux 6.18"}

#: zones of more pages than this are run with ``bulk=True`` by the range explorer
BULK_ABOVE = 4096
#: in zones of more pages than this the explorer's slider moves by whole pageblocks
SNAP_ABOVE = 4096
#: the step player's explanation box keeps this height whatever its text (about six lines)
WHY_HEIGHT = "8.2em"


# ------------------------------------------------------------------ helpers
def render_png(fig: Figure, dpi: float | None = None, tight: bool = False) -> bytes:
    """The figure as PNG bytes, as the inline backend renders it.

    The apps lay their figures out with fixed margins, so they skip the
    inline backend's ``bbox_inches="tight"`` (which draws everything twice).
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None,
                metadata={"Software": None})
    return buf.getvalue()


def _png_output(png: bytes, fig: Figure) -> dict[str, Any]:
    w, h = (int(v) for v in fig.get_size_inches() * fig.dpi)
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(png).decode("ascii"),
                     "text/plain": f"<Figure size {w}x{h} with {len(_shown(fig))} Axes>"}}


def _shown(fig: Figure) -> list:
    """The figure's visible axes (an app keeps views it may show again on hidden axes)."""
    return [ax for ax in fig.axes if ax.get_visible()]


def legend_html() -> str:
    """The colour key, as HTML (drawn once): pages, pageblocks (a palette of their own,
    each swatch with its letter), lines, and the markers the pictures use."""
    def item(swatch: str, label: str) -> str:
        return (f'<span style="display:inline-block;margin:0 10px 2px 0;white-space:nowrap">'
                f"{swatch} {html.escape(label)}</span>")

    def sw(color: str, letter: str = "", extra: str = "", frame: str = "1px solid #777",
           width: int = 12) -> str:
        fg = text_color(color) if color.startswith("#") else "black"
        return (f'<span style="display:inline-block;width:{width}px;height:12px;'
                f"vertical-align:-2px;background:{color};border:{frame};{extra}font:bold 9px "
                f'monospace;line-height:12px;text-align:center;color:{fg}">'
                f"{html.escape(letter)}</span>")

    def ln(style: str, label: str, dash: bool = False) -> str:
        c = STYLE[style]["line"]["color"]
        return item(f'<span style="display:inline-block;width:18px;vertical-align:3px;'
                    f'border-top:2px {"dashed" if dash else "solid"} {c}"></span>', label)

    def mk(symbol: str, color: str, label: str) -> str:
        return item(f'<b style="color:{color};font-size:13px">{symbol}</b>', label)

    hatch = (f"background:repeating-linear-gradient(45deg,#fff 0 2px,{HOLE_EDGE} 2px 3px);")
    kinds = "".join(item(sw(KIND_COLORS[c], "" if c in "#." else c,
                            hatch if c == "#" else ""), KIND_LABELS[c][2:])
                    for c in KIND_ORDER)
    frame = "2px solid #333"
    types = "".join(item(sw(MIGRATETYPE_COLORS[t], BLOCK_LETTERS[t], frame=frame, width=16),
                         MIGRATETYPE_LABELS[t][2:]) for t in MigrateType)
    types += item(sw(NO_PAGES_COLOR, "-", frame=frame, width=16), NO_PAGES_LABEL)
    lines = (ln("request", "request [start, end)") + ln("isolate", "isolated range", True)
             + ln("outer", "[outer_start, outer_end)") + ln("head", "head / tail freed back", True)
             + ln("highlight", "this step"))
    arrow, red = STYLE["arrow"]["line"]["color"], STYLE["mark"]["line"]["color"]
    marks = (mk("&#x2192;", arrow, "migrated (strip: arrow source to target)")
             + mk("&#x00D7;", arrow, "migrated from") + mk("&#x25CB;", arrow, "migrated to")
             + mk("&#x2716;", "#000", "clean page cache dropped")
             + mk("&#x25EF;", red, "the page that stopped the call")
             + mk("&#x2715;", red, "block refused isolation")
             + mk("&#x25A1;", STYLE["touched"]["line"]["color"], STYLE["touched"]["label"]))
    head = '<b style="display:inline-block;width:82px">{}</b>'
    return (f'<div class="contig-legend" style="font-size:11px;line-height:1.5">'
            f'{head.format("pages:")}{kinds}<br>'
            f'{head.format("pageblocks:")}{types}<br>'
            f'{head.format("ranges:")}{lines}<br>{head.format("markers:")}{marks}'
            f"<br>Ranges are half-open: [a, b) holds PFNs a to b-1.</div>")


class _Source:
    """One entry of the zone picker: how to build its zone and what to run."""

    def __init__(self, name: str, obj: Any):
        self.name = name
        self.obj = obj
        self.title = getattr(obj, "title", "") if not isinstance(obj, Zone) else ""
        self.description = getattr(obj, "description", "") if not isinstance(obj, Zone) else ""
        self._zone: Zone | None = None
        self._regrouped: dict[Geometry, Zone] = {}

    def zone(self, geometry: Geometry | None = None) -> Zone:
        """The zone (built once); under another ``geometry``, :meth:`Zone.with_geometry`."""
        if geometry is not None and geometry != self.zone().geometry:
            if geometry not in self._regrouped:
                self._regrouped[geometry] = self.zone().with_geometry(geometry)
            return self._regrouped[geometry]
        if self._zone is None:
            o = self.obj
            if isinstance(o, Zone):
                z = o.copy()
            elif callable(getattr(o, "zone", None)):      # a contig.scenarios.Scenario
                z = o.zone()
            elif callable(o):                             # a factory: () -> Zone or Scenario
                z = o()
                if not isinstance(z, Zone) and callable(getattr(z, "zone", None)):
                    self.obj, self.title = z, getattr(z, "title", "")
                    self.description = getattr(z, "description", "")
                    z = z.zone()
            else:
                raise TypeError(f"zone source {self.name!r} is not a Zone, a scenario or a "
                                f"callable returning one: {type(o).__name__}")
            if not isinstance(z, Zone):
                raise TypeError(f"zone source {self.name!r} gave {type(z).__name__}, not a Zone")
            self._zone = z
        return self._zone

    def suggested(self) -> tuple[int, int] | None:
        s, e = getattr(self.obj, "start", None), getattr(self.obj, "end", None)
        return (int(s), int(e)) if isinstance(s, int) and isinstance(e, int) else None

    def run(self, start: int, end: int, geometry: Geometry | None = None,
            kernel: str = "4.4") -> tuple[Zone, ContigResult]:
        """alloc_contig_range() of ``kernel`` on a copy of the zone, with the scenario's options.

        :return: (the copy, changed by the call; the result).
        """
        opts = dict(getattr(self.obj, "options", {}) or {})
        if "busy_pfns" in opts:
            opts["busy_pfns"] = [p for p in opts["busy_pfns"] if start <= p < end]
        mt = getattr(self.obj, "migratetype", MigrateType.MOVABLE)
        z = self.zone(geometry).copy()
        # the explorer shows no steps, so beyond a few thousand pages it takes the numpy
        # path: the same zone and result (tests/test_bulk.py), a coarser trace
        opts.setdefault("bulk", z.spanned_pages > BULK_ABOVE)
        return z, run_kernel(kernel, z, start, end, mt, **opts)


def _sources(zones) -> dict[str, _Source]:
    if zones is None:
        from ..scenarios import SCENARIOS  # imported only when asked for
        zones = SCENARIOS
    if isinstance(zones, Zone) or callable(getattr(zones, "zone", None)):
        zones = {getattr(zones, "name", "zone") or "zone": zones}
    if not isinstance(zones, Mapping) or not zones:
        raise TypeError("zones must be a Zone, a scenario, or a non-empty mapping "
                        "name -> Zone / scenario / callable returning one")
    return {str(k): _Source(str(k), v) for k, v in zones.items()}


def check_opt_pfn(name: str, value: Any) -> int | None:
    """None or an integer PFN (ints and numpy integers; never bool, float or str)."""
    return None if value is None else check_int(name, value)


def _message(text: str) -> str:
    return (f'<div style="color:#CC3311"><b>{html.escape(text)}</b></div>')


def check_kernel(value: Any) -> str:
    """``"4.4"`` or ``"6.18"`` (a str; anything else raises naming the value)."""
    if not isinstance(value, str):
        raise TypeError(f"kernel must be one of {', '.join(map(repr, KERNELS))} (a str), "
                        f"not {value!r}")
    return check_choice("kernel", value, tuple(KERNELS))


def run_kernel(kernel: str, zone: Zone, start: int, end: int,
               migratetype: int = MigrateType.MOVABLE, **options: Any) -> ContigResult:
    """``alloc_contig_range()`` of ``kernel`` on ``zone`` (changed in place).

    ``"4.4"``: :func:`contig.v4_4.alloc_contig_range` (zone, start, end,
    migratetype, options).  ``"6.18"``: :func:`contig.v6_18.alloc_contig_range`:
    6.18 takes no migratetype but ``acr_flags`` (a CMA request is
    ``ACR_FLAGS_CMA``, any other ``ACR_FLAGS_NONE``); of the v4.4 options it
    knows ``busy_pfns``, ``fatal_signal_at`` and ``trace`` (the numpy path
    ``bulk`` is v4.4's only; the others are dropped).
    """
    kernel = check_kernel(kernel)
    if kernel == "4.4":
        return alloc_contig_range(zone, start, end, migratetype, **options)   # contig.v4_4's
    from .. import v6_18
    opts = {k: v for k, v in options.items() if k in ("busy_pfns", "fatal_signal_at", "trace")}
    flags = v6_18.ACR_FLAGS_CMA if int(migratetype) == MigrateType.CMA else v6_18.ACR_FLAGS_NONE
    return v6_18.alloc_contig_range(zone, start, end, flags, **opts)


def kernel_of(r: ContigResult) -> str:
    """The kernel a result came from (``"4.4"`` unless it says otherwise)."""
    return getattr(r, "kernel", "4.4")


def _call_json(z: Zone, start: int, end: int, mt: int, opts: dict[str, Any]) -> dict[str, Any]:
    """The zone (if small) and the call, as plain data a test can replay with the model."""
    d: dict[str, Any] = {"start": start, "end": end}
    if z.spanned_pages <= 4096:
        d["zone"] = {"map": z.to_map(), "blocks": z.blocks_map(), "start_pfn": z.start_pfn,
                     "max_order": z.geometry.max_order,
                     "pageblock_order": z.geometry.pageblock_order,
                     "pcp": [z.pcp_high, z.pcp_batch], "name": z.name}
        d["migratetype"] = int(mt)
        d["options"] = {k: (sorted(v) if isinstance(v, set | frozenset | tuple | list) else v)
                        for k, v in opts.items()}
    return d


def _replay_json(src: _Source, r: ContigResult, geometry: Geometry | None = None) -> str:
    """What a test needs to recompute this result: the zone (small ones), the call, the options."""
    import json

    opts = dict(getattr(src.obj, "options", {}) or {})
    mt = int(getattr(src.obj, "migratetype", MigrateType.MOVABLE))
    return json.dumps(_for_kernel({**_call_json(src.zone(geometry), r.start, r.end, mt, opts),
                                   "ret": r.ret}, kernel_of(r)), sort_keys=True)


def _for_kernel(d: dict[str, Any], kernel: str) -> dict[str, Any]:
    """A replay for ``kernel``: the call and the kernel that ran it (the browser harness
    replays it with that kernel's model)."""
    return dict(d, kernel=kernel)


def geometry_choices(zone: Zone) -> list[tuple[str, Geometry]]:
    """The geometries the explorer offers for ``zone``: its own first, then MAX_ORDER and
    pageblock_order one step either side, as long as the alignment unit fits the zone."""
    own = zone.geometry
    out = [(_geometry_label(own) + " (its own)", own)]
    for mo in (own.max_order - 1, own.max_order, own.max_order + 1):
        for pbo in (own.pageblock_order - 1, own.pageblock_order, own.pageblock_order + 1):
            if not (2 <= mo <= 20 and 0 <= pbo <= mo) or (mo, pbo) == (own.max_order,
                                                                        own.pageblock_order):
                continue
            g = Geometry(max_order=mo, pageblock_order=pbo)
            if g.max_align_nr_pages <= zone.spanned_pages:
                out.append((_geometry_label(g), g))
    return out


def _geometry_label(g: Geometry) -> str:
    def pages(n: int) -> str:   # one unit (pages), the size in KiB/MiB beside it
        size = f"{n * 4} KiB" if n < 256 else f"{n * 4 / 1024:g} MiB"
        return f"{n}-page ({size})"

    return (f"MAX_ORDER {g.max_order}, pageblock_order {g.pageblock_order}: "
            f"{pages(g.max_order_nr_pages)} max blocks, {pages(g.pageblock_nr_pages)} pageblocks")


def describe_call(r: ContigResult) -> str:
    """One paragraph on what the call did to *this* request, from its result alone:
    the aligned range, what was migrated or dropped, the outer range with its head
    and tail, or where it failed.  Ranges are half-open, ``[first, one past last)``."""
    s, e = r.start, r.end
    new = kernel_of(r) != "4.4"
    if new:   # 5.19+: pageblock granular, no pfn_max_align
        out = [f"Linux {kernel_of(r)}: the request [{s}, {e}) is isolated pageblock by pageblock, "
               f"as [{r.isolate_start}, {r.isolate_end}) (rounded to pageblocks only; the two "
               f"boundary blocks are checked whole)."]
    else:
        out = [f"The request [{s}, {e}) is isolated as the aligned range "
               f"[{r.isolate_start}, {r.isolate_end})."]
    if r.migrated or r.reclaimed:
        out.append(f"{len(r.migrated)} page(s) migrated, {len(r.reclaimed)} clean page-cache "
                   f"page(s) dropped.")
    if r.ok:
        os_, oe = r.outer_start, r.outer_end
        parts = []
        if os_ < s:
            parts.append(f"the head [{os_}, {s})")
        if oe > e:
            parts.append(f"the tail [{e}, {oe})")
        if new and os_ < s:
            out.append(f"find_large_buddy({s}) found the free block at {os_} that covers {s}.")
        if parts:
            out.append(f"The free blocks cover [{os_}, {oe}) (outer_start {os_}, outer_end {oe}): "
                       f"{' and '.join(parts)} {'are' if len(parts) > 1 else 'is'} freed back and "
                       f"[{s}, {e}) is kept.")
        else:
            out.append(f"outer_start and outer_end are the request's own ends: [{s}, {e}) is "
                       f"kept and nothing is freed back.")
    else:
        where = f" at PFN {r.busy_pfn}" if r.busy_pfn is not None else ""
        out.append(f"It fails with {errname(r.ret)} in {r.failed_stage}{where}; the range "
                   f"is given back and nothing is allocated.")
        if new:
            out.append("No \"PFNs busy\" line (removed in 5.13); every pageblock keeps its own "
                       "migratetype (the isolate bit is cleared, 6.15+).")
    return " ".join(out)


def _kernel_summary(r: ContigResult) -> str:
    """``r.summary()``, prefixed with ``Linux 6.18: `` for a 6.18 result (v4.4's stays bare)."""
    k = kernel_of(r)
    return r.summary() if k == "4.4" else f"Linux {k}: {r.summary()}"


def _result_html(r: ContigResult, description: str = "", replay: str = "") -> str:
    parts = [f'<code style="font-size:12px">{html.escape(_kernel_summary(r))}</code>']
    if replay:   # hidden: lets the browser test recompute the result with the model
        parts.append(f'<span class="contig-replay" style="display:none">{html.escape(replay)}</span>')
    if r.log:
        parts.append("<pre style='margin:2px 0'>" + html.escape("\n".join(r.log)) + "</pre>")
    if description:
        parts.append(f'<div style="color:#555;font-size:12px">{html.escape(description)}</div>')
    return "".join(parts)


class _BlitRenderer:
    """PNG of a figure, redrawing only what an update can change.

    Text is most of the cost of a matplotlib picture (each glyph is drawn on
    its own, after a costly layout of each string).  Axes frames, ticks,
    tick labels, axis labels and titles depend only on the axes limits,
    locators and strings, so they are drawn once into a background for each
    such layout; an update restores that background and draws the axes'
    contents (images, lines, patches, overlay text) on top, in zorder.  The
    apps keep their titles fixed and their limits on a coarse grid (whole
    zone, snapped free-list heights), and the last few backgrounds are
    kept, so most updates reuse one.  When only some axes have a new layout
    (the free-list chart grew taller) and their static parts stay clear of
    the other axes, only those axes are redrawn into the last background.
    Every picture of a given layout is made the same way, so the same state
    always gives the same bytes, and it is pixel-identical to a full
    ``canvas.draw()`` (``tests/test_viz_widgets.py`` checks both).
    """

    KEEP = 8      # backgrounds kept (a few layouts a student goes back and forth between)

    def __init__(self, fig: Figure, dpi: float):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.fig = fig
        self.dpi = dpi
        self.canvas = FigureCanvasAgg(fig)
        # layout key -> (background, each axes' static extent), the most recent last
        self._bgs: dict[Any, Any] = {}
        self.full_draws = 0       # backgrounds drawn whole, and in part (tests, benchmarks)
        self.partial_draws = 0

    @staticmethod
    def _titles(ax) -> tuple:
        return (ax.title, ax._left_title, ax._right_title)

    def _layout_key(self) -> tuple:
        """(the figure's part, one part per axes): what the background depends on."""
        def axis_key(axis) -> tuple:
            # the tick positions and the labels they get (by text, not by formatter
            # object: a new ZoneView of the same layout then reuses the background,
            # e.g. when a student goes back to the first geometry or unzooms)
            locs = axis.get_majorticklocs()
            return (tuple(locs), tuple(axis.get_major_formatter().format_ticks(locs)),
                    axis.label.get_text(), axis.get_tick_params().get("length"))

        axes = _shown(self.fig)
        fig = (tuple(self.fig.get_size_inches()), self.dpi, len(axes),
               tuple(t.get_text() for t in self.fig.texts))
        return fig, tuple(
            (ax.get_position().bounds, ax.get_xlim(), ax.get_ylim(), ax.get_xscale(),
             ax.get_yscale(), ax.axison, axis_key(ax.xaxis), axis_key(ax.yaxis),
             tuple(t.get_text() for t in self._titles(ax)), id(ax))
            for ax in axes)

    def _contents(self) -> list:
        out = []
        for ax in _shown(self.fig):
            # spines are redrawn: images may cover them
            fixed = {ax.xaxis, ax.yaxis, ax.patch, *self._titles(ax)}
            arts = [a for a in ax.get_children() if a not in fixed and a.get_visible()]
            out.extend(sorted(arts, key=lambda a: a.get_zorder()))
        return out

    def _static_boxes(self, renderer) -> list:
        """Each axes' static parts (contents hidden) in pixels, with a margin for antialiasing."""
        return [ax.get_tightbbox(renderer).padded(3) for ax in _shown(self.fig)]

    def _background(self, key: tuple) -> tuple:
        """A background for ``key``: a full draw, or, when only some axes changed and
        their static parts touch nothing else, those axes redrawn onto the last one."""
        hidden = self._contents()
        for a in hidden:
            a.set_visible(False)
        try:
            boxes = self._static_boxes(self.canvas.get_renderer())
            bg = self._partial(key, boxes) if self._bgs else None
            if bg is None:
                self.canvas.draw()
                bg = (self.canvas.copy_from_bbox(self.fig.bbox), boxes)
                self.full_draws += 1
        finally:
            for a in hidden:
                a.set_visible(True)
        return bg

    def _partial(self, key: tuple, boxes: list):
        import numpy as np
        from matplotlib.transforms import Bbox

        fig_key, ax_keys = key
        old_key = next(reversed(self._bgs))       # the background in use
        if old_key[0] != fig_key:
            return None
        changed = [i for i, (a, b) in enumerate(zip(old_key[1], ax_keys)) if a != b]
        if not changed or len(changed) == len(ax_keys):
            return None
        old_bg, old_boxes = self._bgs[old_key]
        renderer = self.canvas.get_renderer()
        regions = [Bbox.union([old_boxes[i], boxes[i]]) for i in changed]
        w, h = self.canvas.get_width_height()
        f = self.fig
        others = [b for i, b in enumerate(boxes) if i not in changed] + [
            a.get_window_extent(renderer).padded(3)
            for a in (*f.texts, *f.legends, *f.patches, *f.images, *f.lines, *f.artists)
            if a.get_visible() and not (hasattr(a, "get_text") and not a.get_text())]
        if any(r.overlaps(b) for r in regions for b in others):
            return None               # a changed axes reaches into something else: draw it all
        if any(r.contains(0.5, h - 0.5) for r in regions):
            return None               # the corner pixel gives the figure's colour
        self.canvas.restore_region(old_bg)
        buf = np.asarray(self.canvas.buffer_rgba())
        face = buf[0, 0].copy()
        for r in regions:
            x0, x1 = max(0, int(np.floor(r.x0))), min(w, int(np.ceil(r.x1)))
            y0, y1 = max(0, int(np.floor(h - r.y1))), min(h, int(np.ceil(h - r.y0)))
            buf[y0:y1, x0:x1] = face
        axes = _shown(self.fig)
        for i in changed:
            axes[i].draw(renderer)
        self.partial_draws += 1
        return self.canvas.copy_from_bbox(self.fig.bbox), boxes

    def render(self) -> bytes:
        from PIL import Image

        self.fig.set_dpi(self.dpi)
        key = self._layout_key()
        bg = self._bgs.pop(key, None)
        if bg is None:
            bg = self._background(key)
            key = self._layout_key()
        self._bgs[key] = bg
        while len(self._bgs) > self.KEEP:
            del self._bgs[next(iter(self._bgs))]
        self.canvas.restore_region(bg[0])
        renderer = self.canvas.get_renderer()
        for a in self._contents():
            a.draw(renderer)
        w, h = self.canvas.get_width_height()
        img = Image.frombuffer("RGBA", (w, h), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        if _opaque(self.fig):
            img = img.convert("RGB")   # a quarter less to compress and to send
        buf = io.BytesIO()
        img.save(buf, format="png", compress_level=1)   # speed over size: it is redrawn often
        return buf.getvalue()


def _opaque(fig: Figure) -> bool:
    from matplotlib.colors import to_rgba

    return to_rgba(fig.patch.get_facecolor(), fig.patch.get_alpha())[3] >= 1.0


class _App:
    """Shared display plumbing: one PNG in ``self.out``, replaced on each change."""

    fig: Figure
    out: ipw.Output
    widget: ipw.Box
    dpi: float

    def _render(self) -> bool:
        """Put the figure into the Output; False if the picture did not change."""
        blit = getattr(self, "_blit", None)
        if blit is None or blit.fig is not self.fig:
            blit = self._blit = _BlitRenderer(self.fig, self.dpi)
        png = blit.render()
        if png == self._png:
            return False
        self._png = png
        self.renders += 1
        # one output, replaced atomically (what clear_output(wait=True) + display() does)
        self.out.outputs = (_png_output(png, self.fig),)
        return True

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


# ------------------------------------------------------------------ RangeExplorer
class RangeExplorer(_App):
    """Choose a zone and a range; see what ``alloc_contig_range()`` makes of it.

    :param zones: a mapping name -> Zone, scenario (``contig.scenarios.SCENARIOS``
        entries) or callable returning one; a single Zone; or None for
        ``contig.scenarios.SCENARIOS``.
    :param zone: the name to start with (default: the first).
    :param start, end: the first range (default: the scenario's suggestion,
        else the first MAX_ORDER block of the zone).
    :param live: run on every change (else only on the Run button).
    :param window: ``"zone"``: draw the whole zone (a strip up to
        ``strip_max`` pages, else a grid), so moving the range only redraws
        the contents; ``"call"``: zoom on the PFNs around the call.  For
        zones larger than a strip, a "zoom to the call" checkbox switches.

    The geometry picker offers the zone's own geometry and its neighbours
    (:func:`geometry_choices`): the same pages regrouped under another
    MAX_ORDER or pageblock_order (:meth:`contig.Zone.with_geometry`), to see
    how the rounding of the range depends on them.

    :param kernel: ``"4.4"`` (:func:`contig.v4_4.alloc_contig_range`, the
        default) or ``"6.18"`` (:func:`contig.v6_18.alloc_contig_range`); the
        kernel picker switches between them.

    Typed setters: :meth:`set_zone`, :meth:`set_geometry`, :meth:`set_range`,
    :meth:`set_window`, :meth:`set_kernel`; the callback :meth:`update`; what is shown:
    :attr:`state`, :attr:`result`, :meth:`figure_arrays`.
    """

    def __init__(self, zones=None, *, zone: str | None = None, start: int | None = None,
                 end: int | None = None, live: bool = True, figsize=(9.6, 6.4), dpi: float = 80,
                 strip_max: int = 512, window: str = "zone", kernel: str = "4.4"):
        self.sources = _sources(zones)
        kernel = check_kernel(kernel)
        if zone is not None:
            if not isinstance(zone, str):
                raise TypeError(f"zone must be a name (str), not {zone!r}")
            if zone not in self.sources:
                raise ValueError(f"zone={zone!r} is not one of {', '.join(self.sources)}")
        start, end = check_opt_pfn("start", start), check_opt_pfn("end", end)
        live = check_bool("live", live)
        figsize = check_figsize(figsize)
        dpi = check_real("dpi", dpi)
        strip_max = check_int("strip_max", strip_max, 1)
        window = check_choice("window", window, ("zone", "call"))
        self.strip_max = strip_max
        self.dpi = dpi
        self.renders = 0
        self.runs = 0
        self._png: bytes | None = None
        self._guard = False
        self._last: tuple | None = None
        self.result: ContigResult | None = None
        self.state: dict[str, Any] = {}
        self.kernel = kernel
        self.kernel_picker = ipw.Dropdown(options=[(v, k) for k, v in KERNELS.items()],
                                          value=kernel, description="kernel",
                                          layout=ipw.Layout(width="min(100%, 320px)"))
        self.kernel_picker.add_class("contig-kernel")
        names = list(self.sources)
        opts = [(f"{n}: {s.title}" if s.title else n, n) for n, s in self.sources.items()]
        self.zone_picker = ipw.Dropdown(options=opts, value=names[0], description="zone",
                                      layout=ipw.Layout(width="min(100%, 640px)"))
        self.geometry_picker = ipw.Dropdown(options=[("-", None)], value=None,
                                          description="geometry",
                                          layout=ipw.Layout(width="min(100%, 640px)"))
        self.geometry_picker.add_class("contig-geometry")
        self.range_slider = ipw.IntRangeSlider(value=(0, 1), min=0, max=1, step=1,
                                             description="[start, end)", continuous_update=False,
                                             layout=ipw.Layout(width="min(100%, 720px)"))
        self.range_slider.add_class("contig-range")
        self.start_box = ipw.BoundedIntText(value=0, min=0, max=1, description="start",
                                          layout=ipw.Layout(width="180px"))
        self.start_box.add_class("contig-start")
        self.end_box = ipw.BoundedIntText(value=1, min=0, max=1, description="end",
                                        layout=ipw.Layout(width="180px"))
        self.end_box.add_class("contig-end")
        self.live_box = ipw.Checkbox(value=live, description="live update", indent=False,
                                   layout=ipw.Layout(width="120px"))
        self.run_button = ipw.Button(description="Run", button_style="primary",
                                   layout=ipw.Layout(width="80px"))
        self.zoom_box = ipw.Checkbox(value=window == "call", description="zoom to the call",
                                   indent=False, layout=ipw.Layout(width="150px"))
        self.zoom_box.add_class("contig-zoom")
        self.result_html = ipw.HTML()
        self.result_html.add_class("contig-result")
        self.out = ipw.Output()
        self.out.add_class("contig-plot")
        self.legend = ipw.HTML(legend_html())
        self.fig = Figure(figsize=figsize)
        self.view = self._make_view(window)
        self.widget = ipw.VBox([
            self.kernel_picker,
            self.zone_picker,
            self.geometry_picker,
            self.range_slider,
            ipw.HBox([self.start_box, self.end_box, self.live_box, self.zoom_box,
                      self.run_button]),
            self.result_html, self.out, self.legend])
        self.widget.add_class("contig-explorer")
        self.range_slider.observe(self._on_slider, names="value")
        self.start_box.observe(self._on_box, names="value")
        self.end_box.observe(self._on_box, names="value")
        self.zone_picker.observe(self._on_zone, names="value")
        self.zoom_box.observe(self._on_zoom, names="value")
        self.geometry_picker.observe(self._on_geometry, names="value")
        self.kernel_picker.observe(self._on_kernel, names="value")
        self.run_button.on_click(lambda _b: self._safe(self.update, force=True))
        self.set_zone(zone if zone is not None else names[0], start=start, end=end)

    # -------------------------------------------------------- observers
    def _safe(self, fn: Callable, *args, **kw) -> None:
        try:
            fn(*args, **kw)
        except (TypeError, ValueError) as exc:   # refused input: the message names it
            self.result_html.value = _message(str(exc))
            self._sync_controls()
        except Exception as exc:  # a callback must never show a traceback
            self.result_html.value = _message(f"error: {type(exc).__name__}: {exc}")
            self._sync_controls()

    def _on_slider(self, change) -> None:
        if self._guard:
            return
        s, e = change["new"]
        if s >= e:
            # the two handles met: keep the range one step wide rather than empty
            step = self.range_slider.step
            s, e = (s, s + step) if s + step <= self.range_slider.max else (e - step, e)
        self._safe(self.set_range, s, e)

    def _on_box(self, change) -> None:
        if not self._guard:
            self._safe(self.set_range, self.start_box.value, self.end_box.value)

    def _on_zone(self, change) -> None:
        if not self._guard:
            self._safe(self.set_zone, change["new"])

    def _on_geometry(self, change) -> None:
        if not self._guard and change["new"] is not None:
            self._safe(self.set_geometry, change["new"])

    def _make_view(self, window: str):
        # the result line is in the HTML above the picture: no suptitle, no legend, and
        # fixed panel titles (so a new range redraws only the contents of the axes)
        return ResultFigure(self.fig, legend=False, suptitle=False, strip_max=self.strip_max,
                            window=window, titles="short")

    def _on_kernel(self, change) -> None:
        if not self._guard:
            self._safe(self.set_kernel, change["new"])

    def set_kernel(self, kernel: str) -> None:
        """Run ``"4.4"``'s or ``"6.18"``'s ``alloc_contig_range()`` from now on, and redraw.

        Anything else raises TypeError/ValueError naming the value (the app shows the
        message) and changes nothing."""
        try:
            kernel = check_kernel(kernel)
        except (TypeError, ValueError) as exc:
            raise self._refusal(type(exc), str(exc)) from None
        self._guard = True
        try:
            self.kernel_picker.value = kernel
        finally:
            self._guard = False
        if kernel != self.kernel:
            self.kernel = kernel
            self._last = None
            if self.state.get("start") is not None:
                if self.live_box.value:
                    self.update()
                else:
                    self.result_html.value = _message("press Run (live update is off)")

    def _on_zoom(self, change) -> None:
        if not self._guard:
            self._safe(self.set_window, "call" if change["new"] else "zone")

    # -------------------------------------------------------- setters
    @property
    def zone(self) -> Zone:
        """The zone of the current entry under the current geometry (never changed: every
        run uses a copy)."""
        return self.sources[self.state["zone"]].zone(self.state.get("geometry"))

    def set_geometry(self, geometry: Geometry | tuple[int, int]) -> None:
        """Look at the same pages under another geometry (``Geometry`` or
        ``(max_order, pageblock_order)``), keeping the range; see :meth:`Zone.with_geometry`.

        Bad input raises TypeError/ValueError naming the value (the app shows the
        message) and changes nothing."""
        if isinstance(geometry, Geometry):
            g = geometry
        elif isinstance(geometry, tuple | list) and len(geometry) == 2:
            mo = check_int("geometry max_order", geometry[0])
            pbo = check_int("geometry pageblock_order", geometry[1])
            try:
                g = Geometry(mo, pbo)
            except (TypeError, ValueError) as exc:
                raise self._refusal(ValueError, f"geometry={geometry!r} is not a geometry: "
                                                f"{exc}") from None
        else:
            raise self._refusal(TypeError, f"geometry must be a Geometry or (max_order, "
                                           f"pageblock_order), not {geometry!r}")
        src = self.sources[self.state["zone"]]
        try:
            src.zone(g)
        except ValueError as exc:
            raise self._refusal(ValueError, f"geometry={g} does not fit this zone: {exc}") from None
        choices = [v for _, v in self.geometry_picker.options]
        self._guard = True
        try:
            if g not in choices:   # a geometry typed in code: offer it too
                self.geometry_picker.options = (*self.geometry_picker.options,
                                                (_geometry_label(g), g))
            self.geometry_picker.value = g
        finally:
            self._guard = False
        own = src.zone().geometry
        self.state["geometry"] = None if g == own else g
        self._last = None
        self._set_steps()
        if self.state.get("start") is not None:
            self.set_range(self.state["start"], self.state["end"])

    def set_zone(self, name: str, *, start: int | None = None, end: int | None = None) -> None:
        """Show the zone ``name`` (a key of the mapping) with a fresh range.

        The range defaults to the scenario's own request, else to the first
        MAX_ORDER block of the zone (a neutral start, no exercise's answer).
        An unknown name raises ValueError (the app shows the message)."""
        if not isinstance(name, str):
            raise self._refusal(TypeError, f"zone must be a name (str), not {name!r}")
        if name not in self.sources:
            raise self._refusal(ValueError, f"unknown zone {name!r}; choose one of "
                                            f"{', '.join(self.sources)}")
        start, end = check_opt_pfn("start", start), check_opt_pfn("end", end)
        src = self.sources[name]
        z = src.zone()
        zs, ze = z.start_pfn, z.end_pfn
        sug = src.suggested()
        if start is None or end is None:
            s0, e0 = sug if sug else (zs, min(ze, zs + z.geometry.max_order_nr_pages))
            start = s0 if start is None else start
            end = e0 if end is None else end
        self._guard = True
        try:
            self.zone_picker.value = name
            self.geometry_picker.options = geometry_choices(z)
            self.geometry_picker.value = z.geometry
            # widen first, then narrow, so no intermediate value is out of bounds
            self.range_slider.max = max(self.range_slider.max, ze)
            self.range_slider.min = zs
            self.range_slider.max = ze
            for box in (self.start_box, self.end_box):
                box.max = max(box.max, ze)
                box.min = zs
                box.max = ze
        finally:
            self._guard = False
        # zoom means something only when the zone is larger than one strip
        self.zoom_box.layout.display = None if z.spanned_pages > self.strip_max else "none"
        self.state = {"zone": name, "geometry": None, "start": None, "end": None, "message": None}
        self._last = None
        self._set_steps()
        self.set_range(start, end)

    def _set_steps(self) -> None:
        """Slider and box steps: one PFN in small zones; one pageblock in large ones, so that
        a key press or a pixel of drag moves the range by a meaningful amount."""
        z = self.zone
        step = 1 if z.spanned_pages <= SNAP_ABOVE else z.geometry.pageblock_nr_pages
        self._guard = True
        try:
            for w in (self.range_slider, self.start_box, self.end_box):
                w.step = step
        finally:
            self._guard = False

    def set_window(self, window: str) -> None:
        """Draw the whole zone (``"zone"``) or zoom on the call (``"call"``), and redraw."""
        try:
            check_choice("window", window, ("zone", "call"))
        except ValueError as exc:
            raise self._refusal(ValueError, str(exc)) from None
        self._guard = True
        try:
            self.zoom_box.value = window == "call"
        finally:
            self._guard = False
        if window != self.view.window:
            self.view.window = window
            self.update(force=True)

    def set_range(self, start: int, end: int) -> None:
        """Ask for ``[start, end)``: integers, clamped to the zone.

        A float, string or bool raises TypeError and an empty range
        (start >= end) ValueError, naming the values; the app shows the
        message and keeps its range, slider and boxes as they were."""
        z = self.zone
        zs, ze = z.start_pfn, z.end_pfn
        try:
            start, end = check_int("start", start), check_int("end", end)
        except TypeError as exc:
            raise self._refusal(TypeError, f"{exc}; start and end must be integers") from None
        cs, ce = min(max(start, zs), ze), min(max(end, zs), ze)
        if cs >= ce:
            raise self._refusal(ValueError, f"start ({start}) must be below end ({end}): the range "
                                            f"[start, end) is empty; the zone spans [{zs}, {ze})")
        note = None
        if (cs, ce) != (start, end):
            note = f"[{start}, {end}) clamped to the zone: [{cs}, {ce})"
        self.state.update(start=cs, end=ce, message=note)
        self._sync_controls()
        if self.live_box.value:
            self.update()
        else:
            self.result_html.value = _message("press Run (live update is off)")

    def _sync_controls(self) -> None:
        """Slider and boxes show the range in :attr:`state` (the one source of truth)."""
        cs, ce = self.state.get("start"), self.state.get("end")
        if cs is None:
            return
        self._guard = True
        try:
            self.range_slider.value = (cs, ce)
            self.start_box.value = cs
            self.end_box.value = ce
        finally:
            self._guard = False

    def _refusal(self, cls: type[Exception], text: str) -> Exception:
        """Show ``text``, put the controls back on the current range, return the exception."""
        self._refuse(text)
        self._sync_controls()
        picker = getattr(self, "kernel_picker", None)
        if picker is not None and picker.value != self.kernel:
            self._guard = True
            try:
                picker.value = self.kernel
            finally:
                self._guard = False
        return cls(text)

    def _refuse(self, text: str) -> None:
        self.state["message"] = text
        self.result_html.value = _message(text)

    # -------------------------------------------------------- the callback
    def update(self, force: bool = False) -> None:
        """Run ``alloc_contig_range()`` on a copy of the zone and redraw (skipped if unchanged)."""
        name, s, e = self.state["zone"], self.state["start"], self.state["end"]
        if s is None:
            return
        g = self.state.get("geometry")
        key = (name, g, s, e, self.kernel)
        if key == self._last and not force:
            return
        src = self.sources[name]
        try:
            r = self._run_and_draw(src, s, e, g)
        except ValueError as exc:
            self._refuse(f"alloc_contig_range refused the arguments: {exc}")
            return
        self.runs += 1
        self._last = key
        note = self.state.get("message")
        head = ""
        if note:
            head = _message(note)
        # what this request did, worked out from its result (never stale); the scenario's
        # own prose only while the range is the one it was written for
        description = describe_call(r)
        if g is not None:
            head += (f'<div style="color:#555;font-size:12px">under {html.escape(_geometry_label(g))}'
                     f", not the zone's own geometry: the same pages, with free blocks and "
                     f"pageblocks regrouped (<code>Zone.with_geometry</code>)</div>")
        elif src.description and src.suggested() == (s, e):
            description += f" About this scenario, at its starting request: {src.description}"
        self.result_html.value = head + self._result_text(r, description, src, g)
        self._render()

    def _run_and_draw(self, src: _Source, s: int, e: int, g: Geometry | None) -> ContigResult:
        """Run the call on a copy and draw it; return the result (raises ValueError if refused)."""
        after, r = src.run(s, e, g, self.kernel)
        self.result = r
        self.view.update(r, before=self.zone, after=after)
        return r

    def _result_text(self, r: ContigResult, description: str, src: _Source,
                     g: Geometry | None) -> str:
        return _result_html(r, description, _replay_json(src, r, g))

    def figure_arrays(self) -> dict[str, Any]:
        """What the figure shows: ``before``/``after`` ZoneView arrays (kind image,
        band, ranges, marker positions) and ``free`` (bar values)."""
        return self.view.arrays()


# ------------------------------------------------------------------ KernelComparer
class KernelComparer(RangeExplorer):
    """One range, both kernels: the zone before, after Linux 4.4, after Linux 6.18.

    Takes the :class:`RangeExplorer` arguments (but no ``kernel``: it runs
    both) and its controls, setters and callbacks; moving the range runs
    :func:`contig.viz.compare.compare` on copies of the zone and redraws the
    three pictures, with both result lines and one line per difference (and
    the kernel change that explains it) in the ``contig-result`` HTML.
    :attr:`comparison` is the last :class:`~contig.viz.compare.KernelComparison`,
    :attr:`results` its two results; :meth:`figure_arrays` returns
    ``{"before", "4.4", "6.18"}``.
    """

    def __init__(self, zones=None, *, figsize=(9.6, 6.8), **kw):
        if "kernel" in kw:
            raise TypeError("KernelComparer runs both kernels: it takes no kernel argument")
        self.comparison = None
        self.results: dict[str, ContigResult] = {}
        super().__init__(zones, figsize=figsize, **kw)
        self.kernel_picker.layout.display = "none"
        self.widget.add_class("contig-comparer")

    def _make_view(self, window: str):
        from .compare import CompareFigure
        return CompareFigure(self.fig, strip_max=self.strip_max, window=window, bottom=0.07)

    def set_kernel(self, kernel: str) -> None:
        """Not for this app: it always runs both kernels (raises ValueError)."""
        raise self._refusal(ValueError, f"KernelComparer runs both kernels; kernel={kernel!r} "
                                        f"cannot be chosen")

    def _run_and_draw(self, src, s: int, e: int, g) -> ContigResult:
        from .compare import KernelComparison, differences
        res, after = {}, {}
        for k in KERNELS:
            after[k], res[k] = src.run(s, e, g, k)
        c = KernelComparison(self.zone, s, e, res, after,
                             differences(res["4.4"], after["4.4"], res["6.18"], after["6.18"],
                                         zone=self.zone,
                                         migratetype=getattr(src.obj, "migratetype",
                                                             MigrateType.MOVABLE)))
        self.comparison, self.results = c, res
        self.result = res["6.18"]
        self.view.update(c)
        return res["6.18"]

    def _result_text(self, r: ContigResult, description: str, src, g) -> str:
        import json

        c = self.comparison
        rows = "".join(f'<code style="font-size:12px">Linux {k}: {html.escape(x.summary())}'
                       f"</code><br>" for k, x in c.results.items())
        items = "".join(f"<li><b>{html.escape(line)}</b><br><span style='color:#555'>"
                        f"{html.escape(cause)}</span></li>"
                        for line, cause in _diff_rows(c))
        diff = ('<div class="contig-diff" style="font-size:12px">'
                + (f"<ul style='margin:2px 0'>{items}</ul>" if c.differences else
                   "both kernels return the same and leave the same zone") + "</div>")
        opts = dict(getattr(src.obj, "options", {}) or {})
        mt = int(getattr(src.obj, "migratetype", MigrateType.MOVABLE))
        replay = json.dumps({**_call_json(src.zone(g), c.start, c.end, mt, opts),
                             "ret": {k: x.ret for k, x in c.results.items()},
                             "kernel": "both"}, sort_keys=True)
        return (rows + f'<span class="contig-replay" style="display:none">{html.escape(replay)}'
                f"</span>" + diff)


def _diff_rows(c) -> list[tuple[str, str]]:
    from .compare import CAUSES
    return [(line, CAUSES[key]) for key, line in c.differences]


# ------------------------------------------------------------------ StepPlayer
def _event_overlays(trace, k: int, result: ContigResult) -> dict[str, Any]:
    """The overlays of step ``k``: the event's range and what the event did."""
    e = trace[k]
    ov: dict[str, Any] = {"request": (result.start, result.end),
                          "isolate": (result.isolate_start, result.isolate_end)}
    if e.start_pfn is not None and e.end_pfn is not None:
        ov["highlight"] = (e.start_pfn, e.end_pfn)
    if e.func == "migrate_pages":
        ov["migrated"] = dict(e.fields.get("migrated") or {})
    if e.func == "reclaim_clean_pages_from_list":
        ov["reclaimed"] = list(e.fields.get("reclaimed") or [])
    # pages an event changed without changing their kind (off the LRU, stuck): framed
    touched = [p for key in ("isolated", "stuck") for p in (e.fields.get(key) or ())]
    if touched:
        ov["touched"] = touched
    if e.func == "set_migratetype_isolate" and e.fields.get("ret"):
        ov["failed"] = [f for f in isolation_failures(result) if f[0] == e.start_pfn]
    if e.func == "test_pages_isolated" and e.fields.get("ret") == "fail":
        ov["busy"] = e.fields.get("fin_pfn")
    o_start = o_end = None
    for ev in trace[: k + 1]:
        if ev.func == "outer_start" and "buddy_order" in ev.fields:
            o_start = ev.start_pfn
        if ev.func == "find_large_buddy" and "outer_start" in ev.fields:   # 6.9+
            o_start = int(ev.fields["outer_start"])
        if ev.func == "isolate_freepages_range" and ev.fields.get("outer_end"):
            o_end = ev.fields["outer_end"]
    if o_start is not None:
        ov["outer"] = (o_start, o_end)
    return ov


ELIXIR_618 = "https://elixir.bootlin.com/linux/v6.18/A/ident/"


def _source_link(event, kernel: str) -> str:
    """HTML link to the event's function: v4.4's table (:func:`contig.source.link_html`);
    for 6.18, ``contig.source.where(func, kernel="6.18")`` when it knows the function,
    else Elixir's identifier search in v6.18."""
    from .. import source
    if kernel == "4.4":
        return source.link_html(event)
    url, label = ELIXIR_618 + event.func, f"{event.func}()"
    try:
        ref = source.where(event.func, kernel=kernel)   # type: ignore[call-arg]
        url, label = ref.url, f"{ref.label} {ref.file}:{ref.line}"
    except (TypeError, ValueError, AttributeError):   # no 6.18 table (yet): Elixir's search
        pass
    return (f'v{kernel} source: <a class="contig-source" href="{html.escape(url)}" '
            f'target="_blank" rel="noopener">{html.escape(label)}</a>')


class StepPlayer(_App):
    """Play a call of ``alloc_contig_range()`` event by event.

    :param source: a :class:`~contig.ContigResult` recorded with a trace, or
        a Zone / scenario (then ``start``, ``end`` and ``options`` are used
        to run the call on a copy).
    :param interval: milliseconds per step when playing.
    :param kernel: ``"4.4"`` (default) or ``"6.18"``: whose ``alloc_contig_range()``
        runs the call on a zone or scenario (a recorded result says its own).

    ``step_to(i)`` shows the zone after event ``i`` (``trace.zone_at(i)``,
    cached), the event's range outlined, ``event.func`` and ``event.why``
    in the ``contig-why`` HTML; the free lists compare the zone before the
    call (plain) with the zone at this step (hatched).
    """

    def __init__(self, source, start: int | None = None, end: int | None = None, *,
                 migratetype: int | None = None, interval: int = 1200, figsize=(9.6, 4.6),
                 dpi: float = 80, strip_max: int = 512, kernel: str = "4.4", **options):
        self._replay_base: dict[str, Any] | None = None
        kernel = check_kernel(kernel)
        start, end = check_opt_pfn("start", start), check_opt_pfn("end", end)
        interval = check_int("interval", interval, 1)
        figsize = check_figsize(figsize)
        dpi = check_real("dpi", dpi)
        strip_max = check_int("strip_max", strip_max, 1)
        if isinstance(source, ContigResult):
            if start is not None or end is not None or migratetype is not None or options:
                raise ValueError("start, end, migratetype and options go with a zone or a "
                                 "scenario, not with a recorded result")
            r = source
        else:
            src = _Source(getattr(source, "name", "zone"), source)
            z = src.zone().copy()
            sug = src.suggested()
            if start is None or end is None:
                if sug is None:
                    raise ValueError("give start and end (this source suggests no range)")
                start, end = sug
            opts = {**dict(getattr(src.obj, "options", {}) or {}), **options}
            mt = migratetype if migratetype is not None else getattr(
                src.obj, "migratetype", MigrateType.MOVABLE)
            r = run_kernel(kernel, z, start, end, mt, **opts)
            self._replay_base = _for_kernel(_call_json(r.events.initial, start, end, int(mt),
                                                       opts), kernel)
        if not hasattr(r.events, "zone_at") or not len(r.events):
            raise ValueError("StepPlayer needs a result recorded with trace=True")
        self.result = r
        self.kernel = kernel_of(r)
        self.trace = r.events
        self.dpi = dpi
        self.renders = 0
        self._png = None
        self._guard = False
        self._cache: dict[int, ZoneState] = {}
        n = len(self.trace)
        self.initial = ZoneState.of(self.trace.initial)
        self.window = call_window(self.initial, r.start, r.end, strip_max=strip_max)
        self.play = ipw.Play(value=0, min=0, max=n - 1, step=1, interval=interval,
                           description="play")
        self.slider = ipw.IntSlider(value=0, min=0, max=n - 1, step=1, description="event",
                                    continuous_update=True,
                                    layout=ipw.Layout(width="min(100%, 600px)"))
        self.slider.add_class("contig-step")
        self._link = ipw.jslink((self.play, "value"), (self.slider, "value"))
        self.prev_button = ipw.Button(description="◀", layout=ipw.Layout(width="40px"),
                                    tooltip="previous event")
        self.next_button = ipw.Button(description="▶", layout=ipw.Layout(width="40px"),
                                    tooltip="next event")
        # a fixed height, so that the figure below does not jump when the text wraps
        self.why = ipw.HTML(layout=ipw.Layout(height=WHY_HEIGHT, overflow="auto"))
        self.why.add_class("contig-why")
        self.out = ipw.Output()
        self.out.add_class("contig-plot")
        self.fig = Figure(figsize=figsize)
        gs = self.fig.add_gridspec(2, 1, height_ratios=[1.5, 0.8], hspace=0.6,
                                   left=0.115, right=0.98, top=0.9, bottom=0.12)
        ax_zone, ax_free = self.fig.add_subplot(gs[0]), self.fig.add_subplot(gs[1])
        st0 = self._state(0)
        # a fixed title (the event is named in the HTML above): steps redraw only the contents
        self.view = ZoneView(ax_zone, st0, legend=False, strip_max=strip_max, fixed_ylim=True,
                             title="the zone right after this event (the range it touched "
                                   "outlined)")
        self.free = FreeListsView(ax_free, self.initial, st0, legend=False, annotate=False,
                                  title="free blocks per order: before the call plain, "
                                        "at this step hatched")
        controls = ipw.HBox([self.play, self.prev_button, self.next_button, self.slider])
        self.widget = ipw.VBox([controls, self.why, self.out, ipw.HTML(legend_html())])
        self.widget.add_class("contig-player")
        self.slider.observe(self._on_step, names="value")
        self.prev_button.on_click(lambda _b: self._safe_step(self.state["step"] - 1))
        self.next_button.on_click(lambda _b: self._safe_step(self.state["step"] + 1))
        self.state: dict[str, Any] = {}
        self.step_to(0)

    def _state(self, k: int) -> ZoneState:
        if k not in self._cache:
            z = self.trace.zone_at(k)
            full = ZoneState.of(z)
            w = full.window(*self.window)
            self._cache[k] = ZoneState(w.kinds.copy(), w.pageblocks.copy(), w.start_pfn,
                                       w.geometry, w.name, full.free_counts)
        return self._cache[k]

    def _on_step(self, change) -> None:
        if not self._guard:
            self._safe_step(change["new"])

    def _safe_step(self, i) -> None:
        try:
            self.step_to(i)
        except Exception as exc:  # never a traceback from a slider
            self.why.value = _message(f"{exc}" if isinstance(exc, TypeError | ValueError)
                                      else f"error: {type(exc).__name__}: {exc}")

    def step_to(self, i: int) -> None:
        """Show the zone right after event ``i``: an integer, clamped to the trace
        (a float, string or bool raises TypeError and changes nothing)."""
        n = len(self.trace)
        i = min(max(check_int("step", i), 0), n - 1)
        self._guard = True
        try:
            self.slider.value = i
        finally:
            self._guard = False
        e = self.trace[i]
        st = self._state(i)
        self.view.set_state(st)
        self.view.set_overlays(**_event_overlays(self.trace, i, self.result))
        self.free.set_counts(self.initial, st)
        self.state = {"step": i, "func": e.func, "stage": e.stage, "seq": e.seq}
        self.why.value = (f"<b>event {i}/{n - 1}</b> [{html.escape(e.stage)}] "
                          f"<code>{html.escape(e.func)}</code>: {html.escape(e.why)}"
                          f'<br><code style="color:#555;font-size:11px">{html.escape(str(e))}'
                          f"</code>")
        # the event's source in its kernel, one click away
        self.why.value += "<br>" + _source_link(e, self.kernel)
        if self._replay_base is not None:   # hidden: lets the browser test replay this step
            import json
            payload = json.dumps({**self._replay_base, "step": i}, sort_keys=True)
            self.why.value += (f'<span class="contig-replay" style="display:none">'
                               f"{html.escape(payload)}</span>")
        self._render()

    def figure_arrays(self) -> dict[str, Any]:
        """The zone view's arrays (kind image, band, ranges, marks) plus ``free`` and ``step``."""
        out = self.view.arrays()
        out["free"] = self.free.arrays()
        out["step"] = self.state["step"]
        return out
