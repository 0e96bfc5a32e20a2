"""Matplotlib drawings of a zone and of what ``alloc_contig_range()`` did to it.

Pure functions of state: each ``draw_*`` function draws onto the Axes it is
given and returns its artists (a :class:`ZoneView` or :class:`FreeListsView`,
updatable in place); nothing here touches pyplot's global state except the
convenience helpers :func:`plot_result` and :func:`show_zone`, which make a
pyplot figure when not given one.

A zone is one ``imshow`` of page kinds in the course's single colour map,
never one patch per page (the images, their strip or grid layout and the
colours are in :mod:`contig.viz.colors`).  In a strip (up to 512 PFNs) the
pageblock types are a second image row under the pages, pageblock and
MAX_ORDER boundaries are lines, and the ranges of a call are brackets
under the band: the request, the isolated range, the outer range split
into head, kept and tail.  In a grid (larger zones) the pageblock types
are a narrow second grid on the right and ranges are outlines.  Migration
is drawn as arrows (strip) or paired marks (grid); dropped page cache is
crossed out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Polygon
from matplotlib.path import Path
from matplotlib.patheffects import withStroke
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..contig import errname
from ..zone import MigrateType, Zone
from ._check import check_bool, check_choice, check_int
from .colors import (
    BAND_LETTERS,
    HOLE_EDGE,
    HOLE_HATCH,
    KIND_COLORS,
    KIND_ORDER,
    KIND_RANK,
    MIGRATETYPE_COLORS,
    NO_PAGES,
    NO_PAGES_COLOR,
    STYLE,
    Layout,
    ZoneState,
    band_columns,
    band_image,
    call_window,
    choose_layout,
    kind_cmap,
    kind_image,
    kind_legend,
    kind_legend_handles,
    kind_norm,
    marker_legend_handles,
    migratetype_cmap,
    migratetype_legend_handles,
    migratetype_norm,
    overlay_legend_handles,
    range_outline,
    text_color,
)

__all__ = [
    "KIND_COLORS",
    "KIND_RANK",
    "STYLE",
    "FreeListsView",
    "Layout",
    "ResultFigure",
    "ZoneState",
    "ZoneView",
    "band_image",
    "call_window",
    "choose_layout",
    "draw_alignment",
    "draw_free_lists",
    "draw_head_tail",
    "draw_isolation",
    "draw_migration",
    "draw_zone",
    "failure_mark",
    "isolation_failures",
    "isolation_title",
    "kind_cmap",
    "kind_image",
    "kind_legend",
    "plot_result",
    "show_zone",
    "state_after",
]

# strip mode: vertical layout in data units
_STRIP = (0.0, 1.0)
_BAND = (-0.45, -0.12)
_LEVELS = {"request": -0.72, "isolate": -1.17, "outer": -1.62}
_ARC_MAX = 1.25
_HALO = [withStroke(linewidth=4, foreground="white")]
_YLIM = (-2.05, 1.0 + _ARC_MAX + 0.1)


def _segments(xs, y0, y1, vertical: bool = True) -> np.ndarray:
    """Line segments at ``xs`` from ``y0`` to ``y1`` (or horizontal: at ys, x0..x1)."""
    xs = np.asarray(xs, dtype=float)
    a, b = np.full(xs.size, y0, dtype=float), np.full(xs.size, y1, dtype=float)
    if vertical:
        return np.stack([np.column_stack([xs, a]), np.column_stack([xs, b])], axis=1)
    return np.stack([np.column_stack([a, xs]), np.column_stack([b, xs])], axis=1)


def _clip_range(layout: Layout, rng) -> tuple[int, int] | None:
    if rng is None:
        return None
    lo, hi = (int(v) for v in rng)
    lo, hi = max(lo, layout.start_pfn), min(hi, layout.end_pfn)
    return (lo, hi) if lo < hi else None


def _nice_ceiling(y: float) -> float:
    """The smallest of 1, 2, 3, 5, 10, 20, 30, 50, ... that is >= ``y`` (and >= 1).

    Axis limits snap to these, so most updates keep the same ticks (and the
    apps redraw only the contents, see ``contig.viz.widgets._BlitRenderer``)
    while the same counts always give the same axis.
    """
    if y <= 1:
        return 1.0
    mag = 10.0 ** np.floor(np.log10(y))
    for m in (1, 2, 3, 5, 10):
        if m * mag >= y * (1 - 1e-12):
            return float(m * mag)
    return float(10 * mag)


def _row_ticks(L: Layout, most: int = 8) -> list[int]:
    """Grid rows to tick: rows ``k * step`` (a power of two) with at most ``most`` ticks."""
    step = 1
    while L.nrows / step > most:
        step *= 2
    return list(range(0, L.nrows + 1, step))


def _pfn_label(pfn: int, address: bool, fmt=str) -> str:
    """``pfn`` (decimal or as ``fmt`` says), and its physical address in MiB or GiB."""
    if not address:
        return fmt(pfn)
    mib = pfn * 4096 / (1 << 20)
    where = f"{mib / 1024:g} GiB" if mib >= 1024 and mib % 256 == 0 else f"{mib:g} MiB"
    return f"{fmt(pfn)}\n{where}"


_MARKERS: dict[tuple[str, bool], Any] = {}


def _letter_marker(c: str, bold: bool):
    """A marker whose shape is the letter ``c`` (mathtext, made once per letter)."""
    from matplotlib.markers import MarkerStyle

    key = (c, bold)
    if key not in _MARKERS:
        _MARKERS[key] = MarkerStyle(f"$\\mathbf{{{c}}}$" if bold else f"$\\mathsf{{{c}}}$")
    return _MARKERS[key]


def _span(s: ZoneState) -> tuple:
    return s.start_pfn, s.spanned_pages, s.geometry


def _pfn_pair(name: str, value, open_end: bool = False):
    """None, or ``(lo, hi)`` of integer PFNs (``hi`` may be None when ``open_end``)."""
    if value is None:
        return None
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (lo, hi) of PFNs, not {value!r}")
    lo, hi = value
    if open_end and lo is None:
        return None if hi is None else (None, check_int(f"{name} end", hi))
    return (check_int(f"{name} start", lo),
            None if open_end and hi is None else check_int(f"{name} end", hi))


_FORMATS = {"dec": str, "hex": lambda p: f"{int(p):#x}"}


def _short(lo: int, hi: int, fmt=str) -> str:
    return f"[{fmt(lo)}, {fmt(hi)})"


# ------------------------------------------------------------------ the zone view
class ZoneView:
    """The artists of one zone drawing, updatable in place.

    Build with :func:`draw_zone`.  ``set_state`` swaps the page and band
    images (same span), ``set_overlays`` replaces the ranges, arrows and
    marks.  ``arrays()`` returns what is drawn, for tests and notebooks.

    Attributes: ``image`` and ``band`` (AxesImage), ``hole_patch``,
    ``lines`` (name -> LineCollection of boundaries), ``overlays`` (name ->
    list of artists), ``ranges`` (name -> (lo, hi) drawn), ``layout``.
    """

    def __init__(self, ax, state: Zone | ZoneState, *, mode: str = "auto", band: bool = True,
                 boundaries: bool = True, legend: str | bool = "present", title: str | None = None,
                 reduce: str = "worst", strip_max: int = 512, fixed_ylim: bool = False,
                 pfn_format: str = "dec"):
        s = ZoneState.of(state)
        check_choice("pfn_format", pfn_format, ("dec", "hex"))
        check_choice("reduce", reduce, ("worst", "majority"))
        check_choice("legend", legend, ("present", "all", False))
        band, boundaries = check_bool("band", band), check_bool("boundaries", boundaries)
        fixed_ylim = check_bool("fixed_ylim", fixed_ylim)
        strip_max = check_int("strip_max", strip_max, 1)
        if title is not None and not isinstance(title, str):
            raise TypeError(f"title must be a str or None, not {title!r}")
        self.fmt = _FORMATS[pfn_format]
        self.ax, self.state, self.reduce = ax, s, reduce
        self.fixed_ylim, self.legend_mode, self.legend = fixed_ylim, legend, None
        self.layout = L = choose_layout(s, mode=mode, strip_max=strip_max)
        self.overlays: dict[str, list] = {}
        self.ranges: dict[str, tuple[int, int]] = {}
        self.marks: dict[str, Any] = {}
        self.lines: dict[str, LineCollection] = {}
        g = s.geometry
        strip = L.mode == "strip"
        if strip:
            extent = (L.start_pfn, L.end_pfn, _STRIP[0], _STRIP[1])
            hole_xy = range_outline(L, L.start_pfn, L.end_pfn, *_STRIP)
        else:
            extent = (0, L.row_pages, L.nrows, 0)
            hole_xy = range_outline(L, L.start_pfn, L.end_pfn)
        self.hole_patch = Polygon(hole_xy, closed=True, facecolor="white", edgecolor=HOLE_EDGE,
                                  hatch=HOLE_HATCH, linewidth=0, zorder=1)
        ax.add_patch(self.hole_patch)
        self.image = ax.imshow(kind_image(s, L, reduce), cmap=kind_cmap(), norm=kind_norm(),
                               interpolation="nearest", aspect="auto", extent=extent,
                               origin="upper", zorder=2)
        self.band = None
        if band:
            bimg = band_image(s, L)
            if strip:
                b0 = s.pageblock_base
                bext = (b0, b0 + s.pageblocks.size * g.pageblock_nr_pages, _BAND[0], _BAND[1])
            else:
                x0 = L.row_pages * 1.04
                bext = (x0, x0 + L.row_pages * 0.12, L.nrows, 0)
            self.band = ax.imshow(bimg, cmap=migratetype_cmap(), norm=migratetype_norm(),
                                  interpolation="nearest", aspect="auto", extent=bext,
                                  origin="upper", zorder=2)
        self.band_letters: list = []          # scatters of letter markers ...
        self.page_letters: list = []
        self.band_letters_text = self.page_letters_text = ""   # ... and the letters, in order
        if boundaries:
            self._draw_boundaries()
        self._decorate(title)
        self._update_band_letters()
        self._update_page_letters()
        self._update_legend()

    # -------------------------------------------------------- static parts
    def _draw_boundaries(self) -> None:
        ax, L, g = self.ax, self.layout, self.state.geometry
        y0 = _BAND[0] if self.band is not None else _STRIP[0]
        if L.mode == "strip":
            steps = (("pageblock", g.pageblock_nr_pages), ("max_order", g.max_order_nr_pages))
            for name, step in steps:
                first = -(-(L.start_pfn + 1) // step) * step
                xs = np.arange(first, L.end_pfn, step)
                if xs.size > 256:
                    continue
                lc = LineCollection(_segments(xs, y0, _STRIP[1]), zorder=4, **STYLE[name]["line"])
                ax.add_collection(lc, autolim=False)
                self.lines[name] = lc
            n = L.end_pfn - L.start_pfn
            if n <= 128:  # page separators, so pages can be counted
                lc = LineCollection(_segments(np.arange(L.start_pfn + 1, L.end_pfn), *_STRIP),
                                    colors="white", linewidths=0.6, zorder=3)
                ax.add_collection(lc, autolim=False)
                self.lines["page"] = lc
        else:
            W = g.max_order_nr_pages
            per_row = L.row_pages // W
            if 1 < per_row <= 64:
                lc = LineCollection(_segments(np.arange(1, per_row) * W, 0, L.nrows),
                                    zorder=4, color="white",
                                    linewidth=1.2 if per_row <= 16 else 0.6)
                ax.add_collection(lc, autolim=False)
                self.lines["max_order"] = lc
            if L.nrows <= 64:
                lc = LineCollection(_segments(np.arange(1, L.nrows), 0, L.row_pages, False),
                                    colors="white", linewidths=0.5, zorder=3)
                ax.add_collection(lc, autolim=False)
                self.lines["row"] = lc

    def _decorate(self, title: str | None) -> None:
        ax, L, s = self.ax, self.layout, self.state
        g = s.geometry
        if L.mode == "strip":
            ax.set_xlim(L.start_pfn, L.end_pfn)
            ax.set_ylim(*_YLIM)
            unit = g.max_align_nr_pages
            first = -(-L.start_pfn // unit) * unit
            ticks = sorted({L.start_pfn, L.end_pfn, *range(first, L.end_pfn + 1, unit)})
            if len(ticks) > 17:
                ax.xaxis.set_major_locator(MaxNLocator(12, integer=True))
                ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: self.fmt(round(x))))
            else:
                ax.set_xticks(ticks, [self.fmt(t) for t in ticks])
            ax.set_xlabel("PFN")
            yt = [0.5]
            yl = ["pages"]
            if self.band is not None:
                yt.append(sum(_BAND) / 2)
                yl.append("pageblocks")
            ax.set_yticks(yt, yl)
            ax.tick_params(axis="y", length=0)
            for side in ("left", "right", "top"):
                ax.spines[side].set_visible(False)
        else:
            # Axes.clear() keeps the spines and tick lengths an earlier strip set on these axes
            for side in ("left", "right", "top", "bottom"):
                ax.spines[side].set_visible(True)
            ax.tick_params(axis="y", reset=True)
            right = L.row_pages * (1.18 if self.band is not None else 1.0)
            ax.set_xlim(0, right)
            ax.set_ylim(L.nrows, 0)
            # rows whose first PFN is a round number (a power of two of rows apart), each
            # labelled with its PFN and, in zones past a few MiB, its address
            big = L.nrows * L.row_pages * 4096 >= 16 << 20
            ax.set_yticks(_row_ticks(L, 3 if big else 8))
            ax.yaxis.set_major_formatter(FuncFormatter(
                lambda y, _: _pfn_label(L.base + round(y) * L.row_pages, big, self.fmt)))
            xt = [t for t in MaxNLocator(6, integer=True).tick_values(0, L.row_pages)
                  if 0 <= t <= L.row_pages]
            labels = [f"{t:g}" for t in xt]
            if self.band is not None:  # name the side band with a tick of its own
                xt.append(sum(self.band.get_extent()[:2]) / 2)
                labels.append("blocks")
            ax.set_xticks(xt, labels)
            ax.set_ylabel("first PFN of row" + (" and its address" if big else ""))
            per = f", {L.cell_pages} pages per cell (worst kind shown)" if L.cell_pages > 1 else ""
            ax.set_xlabel(f"page offset in row ({L.row_pages} pages per row{per})")
        if title is None:
            title = (f"zone {s.name}: PFNs [{s.start_pfn}, {s.end_pfn}), "
                     f"MAX_ORDER {g.max_order}, pageblock_order {g.pageblock_order}")
        if title:
            ax.set_title(title, fontsize="medium")

    def _stamp(self, key: str, xs, y: float, chars: str, fills, size: float, bold: bool):
        """Letters drawn as markers: one scatter per letter, each glyph's path made once and
        stamped at every position (tens of Text objects would cost tens of ms per redraw)."""
        arts = []
        order: dict[tuple[str, str], list[float]] = {}
        for x, c, f in zip(xs, chars, fills):
            order.setdefault((c, text_color(f)), []).append(float(x))
        for (c, col), px in order.items():
            sc = self.ax.scatter(px, np.full(len(px), y), marker=_letter_marker(c, bold),
                                 s=size * size, c=col, linewidths=0, zorder=5)
            sc._contig_marker = _letter_marker(c, bold).get_marker()   # for tests
            arts.append(sc)
        setattr(self, key, arts)
        setattr(self, key + "_text", "".join(chars))

    def _update_band_letters(self) -> None:
        key = self.state.band_values().tobytes()
        if key == getattr(self, "_band_letters_key", None):
            return            # the same blocks: the same letters (a redraw costs ms)
        self._band_letters_key = key
        for t in self.band_letters:
            t.remove()
        self.band_letters, self.band_letters_text = [], ""
        L, s = self.layout, self.state
        if self.band is None or L.mode != "strip":
            return
        pbn = s.geometry.pageblock_nr_pages
        nb = s.pageblocks.size
        # every block gets its letter when a letter fits (colour is never the only clue)
        if nb > 64 or self._px_per_page() * pbn < 9:
            return
        xs, chars, fills = [], [], []
        for k, t in enumerate(s.band_values().tolist()):
            x = s.pageblock_base + (k + 0.5) * pbn
            if L.start_pfn <= x <= L.end_pfn:
                xs.append(x)
                chars.append(BAND_LETTERS[t])
                fills.append(NO_PAGES_COLOR if t == NO_PAGES else MIGRATETYPE_COLORS[MigrateType(t)])
        self._stamp("band_letters", xs, sum(_BAND) / 2, chars, fills, 7.5, True)

    def _px_per_page(self) -> float:
        """Screen pixels per PFN of a strip at the figure's current size."""
        ax = self.ax
        x0, x1 = ax.get_xlim()
        fig = ax.figure
        return ax.get_position().width * fig.get_figwidth() * fig.dpi / max(1e-9, x1 - x0)

    def _update_page_letters(self) -> None:
        """Each page's map letter on its cell, where a page is wide enough (strip only);
        free pages stay blank and holes hatched."""
        key = self.state.kinds.tobytes()
        if key == getattr(self, "_page_letters_key", None):
            return
        self._page_letters_key = key
        for t in self.page_letters:
            t.remove()
        self.page_letters, self.page_letters_text = [], ""
        L, s = self.layout, self.state
        if L.mode != "strip" or L.end_pfn - L.start_pfn > 128 or self._px_per_page() < 10:
            return
        codes = s.kinds.tobytes().decode("ascii")
        keep = [i for i, c in enumerate(codes) if c not in "#."]
        self._stamp("page_letters", [L.start_pfn + i + 0.5 for i in keep], sum(_STRIP) / 2,
                    [codes[i] for i in keep], [KIND_COLORS[codes[i]] for i in keep], 7.0, False)

    def _update_legend(self) -> None:
        if self.legend is not None:
            self.legend.remove()
            self.legend = None
        if not self.legend_mode:
            return
        kinds = None if self.legend_mode == "all" else "".join(
            sorted(set(self.state.present_kinds()) | {"."}, key=KIND_ORDER.index))
        types = None if self.legend_mode == "all" else self.state.present_types()
        self.legend = kind_legend(self.ax, kinds, types=types if self.band is not None else None,
                                  no_pages=self.band is not None and (
                                      self.legend_mode == "all"
                                      or bool(self.state.empty_blocks().any())),
                                  markers=self.marker_legend(), bbox_to_anchor=(0.5, -0.22))

    # -------------------------------------------------------- updates
    def set_state(self, state: Zone | ZoneState) -> None:
        """Show another state of the same span (images updated in place)."""
        s = ZoneState.of(state)
        if _span(s) != _span(self.state):
            raise ValueError("set_state needs a zone with the same span and geometry; "
                             "draw a new ZoneView for another zone")
        self.state = s
        self.image.set_data(kind_image(s, self.layout, self.reduce))
        if self.band is not None:
            self.band.set_data(band_image(s, self.layout))
        self._update_band_letters()
        self._update_page_letters()
        self._update_legend()

    def clear_overlays(self) -> None:
        """Remove every range, arrow and mark."""
        for arts in self.overlays.values():
            for a in arts:
                a.remove()
        self.overlays, self.ranges, self.marks = {}, {}, {}

    def _add(self, key: str, artist):
        # overlays go in with add_artist, not add_patch/plot: the view's limits are fixed,
        # and growing the data limits would walk every arrow's Bezier path on each update
        self.overlays.setdefault(key, []).append(artist)
        return artist

    def set_overlays(self, *, request=None, isolate=None, outer=None, head_tail: bool = True,
                     migrated: dict[int, int] | None = None, reclaimed=None, failed=None,
                     busy: int | tuple[int, str] | None = None, highlight=None,
                     touched=None, max_arrows: int = 64) -> None:
        """Replace the overlays.

        :param request: ``(start, end)`` asked for.
        :param isolate: the aligned ``(isolate_start, isolate_end)``.
        :param outer: ``(outer_start, outer_end)``; with ``request`` and
            ``head_tail`` the head ``[outer_start, start)``, the kept
            ``[start, end)`` and the tail ``[end, outer_end)`` are drawn
            apart.  ``outer_end`` may be None (only ``outer_start`` reached).
        :param migrated: ``{source PFN: target PFN}``: arrows (strip, up to
            ``max_arrows``) or paired marks.
        :param reclaimed: PFNs of clean page cache dropped instead of migrated.
        :param failed: ``[(block_lo, block_hi, unmovable_pfn, reason)]``
            (see :func:`isolation_failures`).
        :param busy: the PFN where ``test_pages_isolated()`` stopped, or
            ``(pfn, label)`` (see :func:`failure_mark`).
        :param highlight: ``(lo, hi)`` to outline (the range an event touched).
        :param touched: PFNs an event changed without changing their colour
            (pages taken off the LRU, pages that stayed stuck): each one framed.
        """
        max_arrows = check_int("max_arrows", max_arrows, 0)
        request, isolate = _pfn_pair("request", request), _pfn_pair("isolate", isolate)
        highlight = _pfn_pair("highlight", highlight)
        outer = _pfn_pair("outer", outer, open_end=True)
        if busy is not None and not isinstance(busy, tuple):
            busy = check_int("busy", busy)
        self.clear_overlays()
        L = self.layout
        req = _clip_range(L, request)
        if req:
            # in a grid the kept part of the outer range carries the same label
            self._range("request", req, label=L.mode == "strip" or outer is None
                        or outer[1] is None)
        iso = _clip_range(L, isolate)
        if iso:
            self._range("isolate", iso)
        if outer is not None and outer[0] is not None:
            self._outer(outer, req if head_tail else None)
        if migrated:
            self._migration(migrated, max_arrows)
        if reclaimed is not None and len(reclaimed):
            self._reclaimed(reclaimed)
        for f in failed or ():
            self._failed(*f)
        if busy is not None:
            pfn, text = busy if isinstance(busy, tuple) else (int(busy),
                                                              f"busy: PFN {self.fmt(busy)}")
            if L.start_pfn <= pfn < L.end_pfn:
                self._mark("busy", pfn, text)
        hl = _clip_range(L, highlight)
        if hl:
            self._highlight(hl)
        if touched is not None and len(touched):
            self._touched(touched)
        if self.legend_mode:
            self._update_legend()
        if L.mode == "strip":
            self._set_ylim()

    def _set_ylim(self) -> None:
        # room above the strip for arcs or labels, below it for the brackets in use
        if self.fixed_ylim:
            self.ax.set_ylim(*_YLIM)
            return
        top = _YLIM[1] if "migration" in self.overlays else 1.5
        used = [_LEVELS.get(k, _LEVELS["outer"]) for k in self.ranges if k != "highlight"]
        bottom = min(used) - 0.43 if used else (_BAND[0] if self.band is not None else 0) - 0.15
        self.ax.set_ylim(bottom, top)

    # -------------------------------------------------------- overlay pieces
    def _text(self, key: str, x, y, text: str, color: str, box: bool = False, **kw):
        kw = {"ha": "center", "va": "top", "fontsize": 7.5, "zorder": 7, **kw}
        if box:
            kw["bbox"] = {"facecolor": "white", "alpha": 0.85, "pad": 1, "linewidth": 0}
        return self._add(key, self.ax.text(float(x), float(y), text, color=color, **kw))

    def _bracket(self, key: str, lo: int, hi: int, y: float, label: str | None, style: str):
        ax = self.ax
        h = 0.22
        line = Line2D([lo, lo, hi, hi], [y + h, y, y, y + h], solid_capstyle="butt",
                      zorder=6, clip_on=False, **STYLE[style]["line"])
        self._add(key, ax.add_artist(line))
        if label:
            self._text(key, (lo + hi) / 2, y - 0.06, label, STYLE[style]["line"]["color"])

    def _fit(self, lo: float, hi: float, *labels: str) -> str | None:
        """The first label that fits under [lo, hi) at the axes' current size (strip mode)."""
        ax = self.ax
        x0, x1 = ax.get_xlim()
        width_px = ax.get_position().width * ax.figure.get_figwidth() * ax.figure.dpi
        px = (hi - lo) * width_px / max(1e-9, x1 - x0)
        char_px = 7.5 * 0.6 * ax.figure.dpi / 72
        for lab in labels:
            if len(lab) * char_px <= px + 2 * char_px:
                return lab
        return None

    def _poly(self, key: str, lo: int, hi: int, style: str, label: str | None = None):
        poly = Polygon(range_outline(self.layout, lo, hi), closed=True, fill=False, zorder=6,
                       path_effects=[withStroke(linewidth=4.5, foreground="white")],
                       **STYLE[style]["line"])
        self._add(key, self.ax.add_artist(poly))
        if label and self.layout.nrows <= 16:
            x, r = self.layout.pos(lo)
            self._text(key, x, r, label, STYLE[style]["line"]["color"], True, ha="left",
                       va="bottom")

    def _range(self, key: str, rng: tuple[int, int], label: bool = True):
        lo, hi = self.ranges[key] = rng
        text = f"{'request' if key == 'request' else 'isolated'} {_short(lo, hi, self.fmt)}"
        if self.layout.mode == "strip":
            self._bracket(key, lo, hi, _LEVELS[key], text, key)
        else:
            self._poly(key, lo, hi, key, text if key == "request" and label else None)

    def _outer(self, outer, req):
        L = self.layout
        o_lo = int(outer[0])
        o_hi = None if outer[1] is None else int(outer[1])
        strip = L.mode == "strip"
        y = _LEVELS["outer"]
        if o_hi is None:
            # only outer_start was found (the call failed after it)
            if L.start_pfn <= o_lo < L.end_pfn:
                self.ranges["outer_start"] = (o_lo, o_lo + 1)
                c = STYLE["outer"]["line"]["color"]
                if strip:
                    self._add("outer", self.ax.add_artist(Line2D([o_lo, o_lo], [y, y + 0.3],
                                                                 color=c, linewidth=2, zorder=6)))
                    self._text("outer", o_lo, y - 0.06, f"outer_start {self.fmt(o_lo)}", c)
                else:
                    self._mark("outer", o_lo, f"outer_start {self.fmt(o_lo)}", color=c)
            return
        self.ranges["outer"] = (o_lo, o_hi)
        if req is None:
            if strip:
                self._bracket("outer", o_lo, o_hi, y, f"outer {_short(o_lo, o_hi, self.fmt)}", "outer")
            else:
                self._poly("outer", o_lo, o_hi, "outer", f"outer {_short(o_lo, o_hi, self.fmt)}")
            return
        s, e = req
        parts = [("head", o_lo, min(s, o_hi)), ("kept", max(s, o_lo), min(e, o_hi)),
                 ("tail", max(e, o_lo), o_hi)]
        for name, lo, hi in parts:
            if lo >= hi:
                continue
            self.ranges[name] = (lo, hi)
            if strip:
                self._bracket(name, lo, hi, y, self._fit(lo, hi, f"{name} {_short(lo, hi, self.fmt)}", name),
                              name)
            else:
                self._poly(name, lo, hi, name, f"{name} {_short(lo, hi, self.fmt)}")
        if strip:
            c = STYLE["outer"]["line"]["color"]
            for pfn, txt, ha in ((o_lo, f"outer_start {self.fmt(o_lo)} ", "right"),
                                 (o_hi, f" outer_end {self.fmt(o_hi)}", "left")):
                self._text("outer", pfn, y + 0.11, txt, c, ha=ha, va="center", clip_on=False)

    def _migration(self, migrated: dict[int, int], max_arrows: int):
        L, ax = self.layout, self.ax
        pairs = np.array(sorted(migrated.items()), dtype=np.int64).reshape(-1, 2)
        pairs = pairs[(pairs[:, 0] >= L.start_pfn) & (pairs[:, 0] < L.end_pfn)]
        src, dst = pairs[:, 0], pairs[:, 1]
        self.marks["migrated_src"], self.marks["migrated_dst"] = src, dst
        if not src.size:
            return
        out = (dst < L.start_pfn) | (dst >= L.end_pfn)
        sx, sy = L.center(src)
        color = STYLE["arrow"]["line"]["color"]
        if L.mode == "strip":
            # targets beyond the drawing: the arrow stops at the edge it leaves by
            dx = np.where(dst < L.start_pfn, L.start_pfn, np.where(dst >= L.end_pfn, L.end_pfn,
                                                                   dst + 0.5)).astype(float)
            span = max(1, L.end_pfn - L.start_pfn)
            h = 0.3 + (_ARC_MAX - 0.3) * np.minimum(1.0, np.abs(dx - sx) / (0.5 * span))
            t = np.linspace(0, 1, 25)
            arcs = [np.column_stack([sx[k] + (dx[k] - sx[k]) * t,
                                     _STRIP[1] + h[k] * 4 * t * (1 - t)]) for k in range(src.size)]
            self.marks["arrow_ends"] = np.column_stack([sx, np.full(sx.size, _STRIP[1]),
                                                        dx, np.full(dx.size, _STRIP[1])])
            if src.size <= max_arrows:
                for verts in arcs:
                    arr = FancyArrowPatch(path=Path(verts), arrowstyle="-|>", mutation_scale=8,
                                          color=color, linewidth=0.9, zorder=7,
                                          shrinkA=0, shrinkB=0)
                    self._add("migration", ax.add_artist(arr))
            else:
                lc = LineCollection(arcs, colors=color, linewidths=0.5, zorder=7, alpha=0.6)
                self._add("migration", ax.add_collection(lc, autolim=False))
                self._add("migration", ax.scatter(dx, np.full(dx.size, _STRIP[1] + 0.05),
                                                  marker="v", s=10, color=color, zorder=7))
            if out.any():
                for side, sel, x, ha in (("below", dst < L.start_pfn, L.start_pfn, "left"),
                                         ("beyond", dst >= L.end_pfn, L.end_pfn, "right")):
                    if sel.any():
                        self._text("migration", x, _YLIM[1] - 0.02, f" {int(sel.sum())} moved "
                                   f"to PFNs {side} this view ", color, True, ha=ha, fontsize=7)
        else:
            if out.any():
                self._text("migration", L.row_pages, 0, f"{int(out.sum())} of {src.size} moved "
                           "to PFNs outside this view ", color, True, ha="right", va="top",
                           fontsize=7)
            dx, dy = L.center(dst[~out])
            if src.size <= 32 and not out.any():
                segs = np.stack([np.column_stack([sx, sy]), np.column_stack([dx, dy])], axis=1)
                lc = LineCollection(segs, colors=color, linewidths=0.6, zorder=7, alpha=0.7,
                                    path_effects=[withStroke(linewidth=2, foreground="white")])
                self._add("migration", ax.add_collection(lc, autolim=False))
            self._add("migration", ax.scatter(sx, sy, marker="x", s=16, color=color, zorder=8,
                                              linewidths=1.0, label="migrated from"))
            self._add("migration", ax.scatter(dx, dy, marker="o", s=16, facecolors="white",
                                              edgecolors=color, zorder=8, linewidths=1.0,
                                              label="migrated to"))

    def _reclaimed(self, pfns):
        L = self.layout
        p = np.asarray(sorted(int(x) for x in pfns), dtype=np.int64)
        p = p[(p >= L.start_pfn) & (p < L.end_pfn)]
        self.marks["reclaimed"] = p
        if not p.size:
            return
        x, y = L.center(p)
        self._add("reclaimed", self.ax.scatter(x, y, marker="X", s=36, color="white",
                                               edgecolors="black", linewidths=0.7, zorder=8,
                                               label="dropped (clean page cache)"))

    def _mark(self, key: str, pfn: int, label: str, color: str | None = None):
        L = self.layout
        color = color or STYLE["mark"]["line"]["color"]
        x, y = L.center(pfn)
        self.marks.setdefault(key, []).append(int(pfn))
        self._add(key, self.ax.scatter([x], [y], marker="o", s=90, facecolors="none",
                                       edgecolors=color, linewidths=1.8, zorder=9))
        if L.mode == "strip":
            ty, frac = _STRIP[1] + 0.08, (float(x) - L.start_pfn) / max(1, L.end_pfn - L.start_pfn)
        else:
            ty, frac = float(y) + 0.6, float(x) / L.row_pages
        # keep the label inside the axes: left-aligned near the left edge, and so on
        ha = "left" if frac < 0.2 else "right" if frac > 0.8 else "center"
        dx = {"left": -0.5, "right": 0.5, "center": 0.0}[ha] * L.cell_pages
        self._text(key, float(x) + dx, ty, label, color, True, ha=ha, zorder=9,
                   va="bottom" if L.mode == "strip" else "top")

    def _failed(self, lo: int, hi: int, pfn: int | None, reason: str):
        L, ax = self.layout, self.ax
        self.marks.setdefault("failed_blocks", []).append((int(lo), int(hi)))
        color = STYLE["mark"]["line"]["color"]
        if L.mode == "strip" and self.band is not None:
            cx = (max(lo, L.start_pfn) + min(hi, L.end_pfn)) / 2
            self._add("failed", ax.scatter([cx], [sum(_BAND) / 2], marker="x", s=70, color=color,
                                           linewidths=2.2, zorder=8, path_effects=_HALO))
        elif self.band is not None:
            group, cols = band_columns(L, self.state.geometry)
            x0, x1 = self.band.get_extent()[:2]
            bx, br = L.pos(lo)
            col = int(bx) // (self.state.geometry.pageblock_nr_pages * group)
            cx = x0 + (col + 0.5) * (x1 - x0) / cols
            self._add("failed", ax.scatter([cx], [float(br) + 0.5], marker="x", s=50, color=color,
                                           linewidths=2, zorder=8, path_effects=_HALO))
        if pfn is not None and L.start_pfn <= pfn < L.end_pfn:
            self._mark("failed", int(pfn), reason)

    def _touched(self, pfns):
        L = self.layout
        p = np.unique(np.asarray([int(x) for x in pfns], dtype=np.int64))
        p = p[(p >= L.start_pfn) & (p < L.end_pfn)]
        self.marks["touched"] = p
        if not p.size:
            return
        c = STYLE["touched"]["line"]["color"]
        if L.mode == "strip":
            boxes = [range_outline(L, int(q), int(q) + 1, _STRIP[0] + 0.06, _STRIP[1] - 0.06)
                     for q in p]
            pc = PolyCollection(boxes, facecolors="none", edgecolors=c, linewidths=2.0, zorder=6.6,
                                path_effects=[withStroke(linewidth=3.6, foreground="white")])
            self._add("touched", self.ax.add_collection(pc, autolim=False))
        else:
            x, y = L.center(p)
            self._add("touched", self.ax.scatter(x, y, marker="s", s=30, facecolors="none",
                                                 edgecolors=c, linewidths=1.4, zorder=8))

    def _highlight(self, rng):
        lo, hi = rng
        self.ranges["highlight"] = (lo, hi)
        L = self.layout
        y0 = _BAND[0] - 0.08 if self.band is not None else -0.08
        xy = range_outline(L, lo, hi, y0, _STRIP[1] + 0.08)
        self._add("highlight", self.ax.add_artist(Polygon(
            xy, closed=True, facecolor="#EE3377", alpha=0.12, zorder=1.5, linewidth=0)))
        self._add("highlight", self.ax.add_artist(Polygon(
            xy, closed=True, fill=False, zorder=6.5, **STYLE["highlight"]["line"])))

    def marker_legend(self) -> list[str]:
        """The marker keys (:func:`~contig.viz.colors.marker_legend_handles`) this view draws."""
        m, keys = self.marks, []
        if len(m.get("migrated_src", ())):
            keys.append("migrated" if self.layout.mode == "strip" else "migrated_grid")
        if len(m.get("reclaimed", ())):
            keys.append("reclaimed")
        if any(len(m.get(k, ())) for k in ("busy", "failed", "outer")):
            keys.append("mark")
        if len(m.get("failed_blocks", ())):
            keys.append("failed_blocks")
        if len(m.get("touched", ())):
            keys.append("touched")
        return keys

    # -------------------------------------------------------- inspection
    def arrays(self) -> dict[str, Any]:
        """What is drawn: image arrays, ranges, marker positions (copies)."""
        out = {
            "mode": self.layout.mode,
            "layout": self.layout,
            "kinds": self.image.get_array().copy(),
            "band": None if self.band is None else self.band.get_array().copy(),
            "ranges": dict(self.ranges),
        }
        for k, v in self.marks.items():
            out[k] = np.array(v) if not isinstance(v, np.ndarray) else v.copy()
        return out


def draw_zone(ax, zone_or_state: Zone | ZoneState, *, request=None, isolate=None, outer=None,
              migrated=None, reclaimed=None, failed=None, busy=None, highlight=None,
              head_tail: bool = True, mode: str = "auto", band: bool = True,
              boundaries: bool = True, legend: str | bool = "present", title: str | None = None,
              reduce: str = "worst", strip_max: int = 512, max_arrows: int = 64,
              fixed_ylim: bool = False, pfn_format: str = "dec") -> ZoneView:
    """Draw a zone on ``ax``, coloured by page kind, with the ranges of a call.

    A strip for zones of up to ``strip_max`` PFNs, else a grid of MAX_ORDER
    rows (see the module docstring).  The overlays are those of
    :meth:`ZoneView.set_overlays`.  ``legend``: ``"present"`` (the kinds in
    this zone), ``"all"`` or False.  ``pfn_format``: ``"dec"`` or ``"hex"`` (the
    PFNs of ticks and labels, e.g. to match a title written in hex).

    :return: the :class:`ZoneView` holding every artist.
    """
    view = ZoneView(ax, zone_or_state, mode=mode, band=band, boundaries=boundaries,
                    legend=legend, title=title, reduce=reduce, strip_max=strip_max,
                    fixed_ylim=fixed_ylim, pfn_format=pfn_format)
    view.set_overlays(request=request, isolate=isolate, outer=outer, head_tail=head_tail,
                      migrated=migrated, reclaimed=reclaimed, failed=failed, busy=busy,
                      highlight=highlight, max_arrows=max_arrows)
    return view


# ------------------------------------------------------------------ results and traces
def state_after(result, func: str | None = None, *, stage: str | None = None,
                last: bool = True) -> ZoneState:
    """The zone as it was right after the last (or first) event of ``func`` / ``stage``.

    With neither, the zone after the whole call.  Needs ``result.events`` to
    be a :class:`~contig.trace.Trace` (``alloc_contig_range(..., trace=True)``).
    """
    tr = _trace(result)
    idx = [e.seq for e in tr if (func is None or e.func == func)
           and (stage is None or e.stage == stage)]
    if not idx:
        raise ValueError(f"no event with func={func!r} stage={stage!r} in this trace")
    return ZoneState.of(tr.zone_at(idx[-1] if last else idx[0]))


def _trace(result):
    tr = getattr(result, "events", None)
    if tr is None or not hasattr(tr, "zone_at"):
        raise ValueError("this needs a result recorded with trace=True (result.events is a Trace)")
    return tr


def isolation_failures(result) -> list[tuple[int, int, int | None, str]]:
    """``(block_lo, block_hi, unmovable_pfn, reason)`` for each block that refused isolation."""
    out = []
    tr = getattr(result, "events", None) or []
    z = getattr(tr, "initial", None)
    for e in tr:
        if e.func == "set_migratetype_isolate" and e.fields.get("ret"):
            pfn = e.fields.get("unmovable_pfn")
            kind = f" ({chr(z.kinds()[pfn - z.start_pfn])})" if z and pfn is not None else ""
            reason = f"PFN {pfn}{kind} unmovable: block not isolated"
            out.append((int(e.start_pfn), int(e.end_pfn), pfn, reason))
    return out


def failure_mark(result) -> tuple[int, str] | None:
    """``(pfn, label)`` of the page that stopped a failed call after isolation, if any:
    where ``test_pages_isolated()`` or ``isolate_freepages_range()`` gave up."""
    if result.failed_stage == "test_pages_isolated" and result.busy_pfn is not None:
        return int(result.busy_pfn), f"busy: PFN {result.busy_pfn}"
    if (getattr(result, "kernel", "4.4") != "4.4" and result.busy_pfn is not None
            and result.failed_stage == "__alloc_contig_migrate_range"):
        # 4.5+: a migration -EBUSY falls through to test_pages_isolated(), whose fin_pfn it is
        return int(result.busy_pfn), f"busy: PFN {result.busy_pfn}"
    if result.failed_stage == "isolate_freepages_range":
        for e in reversed(getattr(result, "events", None) or []):
            if e.func == "isolate_freepages_range" and e.fields.get("stop_pfn") is not None:
                p = int(e.fields["stop_pfn"])
                z = _trace(result).initial
                hole = z.spans(p) and not z.pfn_valid(p)
                return p, (f"hole: PFN {p}" if hole else f"not free: PFN {p}")
    return None


def _initial(result) -> ZoneState:
    return ZoneState.of(_trace(result).initial)


def draw_alignment(ax, zone: Zone | ZoneState, start: int, end: int, **kw) -> ZoneView:
    """The request ``[start, end)`` and the range ``pfn_max_align_down/up`` round it out to.

    In a strip, pageblock and MAX_ORDER boundaries are drawn and listed in
    the legend, and two arrows show the rounding; in a grid, each row starts
    on a MAX_ORDER block (the legend says so) and the ranges are outlines.
    """
    s = ZoneState.of(zone)
    start, end = check_int("start", start), check_int("end", end)
    if start >= end:
        raise ValueError(f"start ({start}) must be below end ({end})")
    g = s.geometry
    iso = (max(s.start_pfn, g.pfn_max_align_down(start)), min(s.end_pfn, g.pfn_max_align_up(end)))
    f = _FORMATS[check_choice("pfn_format", kw.get("pfn_format", "dec"), ("dec", "hex"))]
    kw.setdefault("title", f"pfn_max_align: request {_short(start, end, f)} is isolated as "
                           f"{_short(*iso, f)} (multiples of {g.max_align_nr_pages} pages)")
    view = draw_zone(ax, s, request=(start, end), isolate=iso, **kw)
    if view.legend is not None:
        handles = view.legend.legend_handles
        view.legend.remove()
        # only the lines this view has: a strip draws both kinds of boundary in their own
        # style; a grid starts each row on a MAX_ORDER block and splits blocks with white
        keys = ("pageblock", "max_order", "request", "isolate")
        lines = [h for k, h in zip(keys, overlay_legend_handles()[:4], strict=True)
                 if k in view.lines or k in ("request", "isolate")]
        title = None
        if view.layout.mode == "grid":
            title = (f"rows of {view.layout.row_pages} pages start on a MAX_ORDER block"
                     + ("; white lines split the blocks" if "max_order" in view.lines else ""))
        view.legend = ax.legend(handles=[*handles, *lines], title=title,
                                title_fontsize="small", loc="upper center",
                                bbox_to_anchor=(0.5, -0.22), ncol=4, fontsize="small",
                                frameon=False)
    if view.layout.mode == "strip":
        y = _LEVELS["isolate"] + 0.1
        c = STYLE["isolate"]["line"]["color"]
        for a, b, txt in ((start, iso[0], "align down"), (end, iso[1], "align up")):
            if a != b:
                view._add("align", ax.annotate("", xy=(b, y), xytext=(a, y), zorder=7, arrowprops={
                    "arrowstyle": "->", "color": c, "linewidth": 1.2}))
                view._text("align", (a + b) / 2, y + 0.05, txt, c, va="bottom", fontsize=7)
    return view


def isolation_title(result, when: str) -> str:
    """The title of :func:`draw_isolation`'s panel ``when``, true to v4.4 for every outcome.

    In v4.4 ``alloc_contig_range()`` (mm/page_alloc.c) returns at once when
    ``start_isolate_page_range()`` (mm/page_isolation.c) fails: that function
    has already put back the blocks it isolated, and ``undo_isolate_page_range()``
    is not called.  Every later failure, and success, ends with
    ``undo_isolate_page_range()`` giving the blocks the caller's migratetype.
    """
    lo, hi = result.isolate_start, result.isolate_end
    rng = f"[{lo}, {hi})"
    refused = result.failed_stage == "start_isolate_page_range"
    failed = isolation_failures(result)
    if when == "before":
        return f"pageblock types of {rng} before start_isolate_page_range()"
    if when == "during":
        if failed:
            b_lo, b_hi = failed[0][:2]
            return (f"start_isolate_page_range(): block [{b_lo}, {b_hi}) refused; "
                    f"the blocks before it are still ISOLATE (before the roll-back)")
        return f"right after start_isolate_page_range(): every block of {rng} ISOLATE"
    mts = [e.fields.get("migratetype") for e in (getattr(result, "events", None) or [])
           if e.func == "unset_migratetype_isolate" and e.stage == "undo"]
    mt = str(mts[0]) if mts and mts[0] else "the caller's migratetype"
    if refused:
        return (f"after the call: the roll-back put the blocks back and alloc_contig_range() "
                f"returned {errname(result.ret)} at once (no undo_isolate_page_range())")
    ret = "0" if result.ok else f"{errname(result.ret)} ({result.failed_stage})"
    return (f"after the call (ret {ret}): undo_isolate_page_range() gave every block of {rng} "
            f"the caller's type: {mt}")


def draw_isolation(ax, result, when: str = "during", **kw) -> ZoneView:
    """Pageblock types ``before``, ``during`` or ``after`` ``start_isolate_page_range()``.

    ``during`` is the zone right after the isolation step: every block of
    the aligned range ISOLATE, or, when a block refused, the blocks isolated
    before it (the moment before the rollback).  Refusing blocks are marked
    with the page that made ``has_unmovable_pages()`` say no.
    """
    tr = _trace(result)
    failed = isolation_failures(result)
    if when == "before":
        st = ZoneState.of(tr.initial)
    elif when == "during":
        iso_events = [e.seq for e in tr if e.func in ("set_migratetype_isolate",
                                                      "start_isolate_page_range")]
        bad = [e.seq for e in tr if e.func == "set_migratetype_isolate" and e.fields.get("ret")]
        k = bad[0] if bad else (iso_events[-1] if iso_events else -1)
        st = ZoneState.of(tr.zone_at(k))
    elif when == "after":
        st = ZoneState.of(tr.final())
    else:
        raise ValueError(f"when must be 'before', 'during' or 'after', not {when!r}")
    kw.setdefault("title", isolation_title(result, when))
    return draw_zone(ax, st, isolate=(result.isolate_start, result.isolate_end),
                     failed=failed if when != "before" else None, **kw)


def draw_migration(ax, result, when: str = "before", **kw) -> ZoneView:
    """Arrows from each migrated page to its new place; dropped page cache crossed out.

    ``when="before"`` draws them on the zone before the call (sources still
    in use, targets free); ``"after"`` on the zone after the migration stage.
    """
    if when == "before":
        st = _initial(result)
    elif when == "after":
        try:
            st = state_after(result, stage="migrate")
        except ValueError:
            st = _initial(result)
    else:
        raise ValueError(f"when must be 'before' or 'after', not {when!r}")
    kw.setdefault("title", f"__alloc_contig_migrate_range({result.start}, {result.end}): "
                           f"{len(result.migrated)} migrated, {len(result.reclaimed)} dropped")
    return draw_zone(ax, st, request=(result.start, result.end), migrated=result.migrated,
                     reclaimed=result.reclaimed, **kw)


def draw_head_tail(ax, result, **kw) -> ZoneView:
    """After the call: outer_start, outer_end, and the head and tail given back."""
    st = ZoneState.of(_trace(result).final())
    if result.outer_end is not None:
        t = (f"outer [{result.outer_start}, {result.outer_end}): "
             f"head [{result.outer_start}, {result.start}) and tail [{result.end}, "
             f"{result.outer_end}) freed back, [{result.start}, {result.end}) kept")
    elif result.outer_start is not None:
        t = f"outer_start {result.outer_start}; failed in {result.failed_stage}"
    else:
        t = f"outer_start not reached ({result.failed_stage})"
    kw.setdefault("title", t)
    return draw_zone(ax, st, request=(result.start, result.end),
                     outer=(result.outer_start, result.outer_end), busy=failure_mark(result), **kw)


# ------------------------------------------------------------------ free lists
def _counts(x) -> np.ndarray:
    if isinstance(x, Zone):
        return x.free_list_counts()
    if isinstance(x, ZoneState):
        if x.free_counts is None:
            raise ValueError("this ZoneState has no free-list counts")
        return x.free_counts
    a = np.asarray(x)
    if a.ndim != 2 or a.shape[1] != len(MigrateType):
        raise ValueError(f"free-list counts must have shape (max_order, 6), not {a.shape}")
    return a


class FreeListsView:
    """A pagetypeinfo-style chart, updatable in place: free blocks per order,
    stacked by migratetype, optionally two sets side by side (the second hatched).

    Each set is one PolyCollection of rectangles (one per order and type),
    so an update is ``set_verts``, not a new bar chart.
    """

    def __init__(self, ax, counts, compare=None, *, labels=("before", "after"),
                 unit: str = "blocks", title: str | None = None, legend: bool = True,
                 annotate: bool = True):
        if unit not in ("blocks", "pages"):
            raise ValueError(f"unit must be 'blocks' or 'pages', not {unit!r}")
        legend, annotate = check_bool("legend", legend), check_bool("annotate", annotate)
        self.ax, self.unit, self.labels, self.annotate = ax, unit, labels, annotate
        self.nsets = 1 if compare is None else 2
        c0 = _counts(counts)
        self.max_order = c0.shape[0]
        self._colors = np.array([MIGRATETYPE_COLORS[t] for t in MigrateType] * self.max_order)
        colors = list(self._colors)
        self.collections = []
        for j in range(self.nsets):
            pc = PolyCollection([], facecolors=colors, edgecolors="#444444", linewidths=0.5,
                                hatch="////" if j else None, zorder=2)
            ax.add_collection(pc, autolim=False)
            self.collections.append(pc)
        self.texts: list = []
        ax.set_xticks(np.arange(self.max_order))
        ax.set_xlim(-0.6, self.max_order - 0.4)
        ax.set_xlabel("order")
        ax.set_ylabel(f"free {unit}")
        ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))
        ax.grid(axis="y", color="#EEEEEE", zorder=0)
        ax.set_axisbelow(True)
        if title is None:
            title = "free lists per order and migratetype, as /proc/pagetypeinfo counts them"
        if title:
            ax.set_title(title, fontsize="medium")
        self.legend = None
        if legend:
            handles = migratetype_legend_handles()
            if self.nsets == 2:
                handles += [Patch(facecolor="#BBBBBB", edgecolor="#444444", label=labels[0]),
                            Patch(facecolor="#BBBBBB", edgecolor="#444444", hatch="////",
                                  label=labels[1])]
            self.legend = ax.legend(handles=handles, fontsize="x-small", frameon=False,
                                    loc="upper left", bbox_to_anchor=(1.0, 1.0))
        self.set_counts(counts, compare)

    def set_counts(self, counts, compare=None) -> None:
        """Show new counts (a Zone, a ZoneState or a (max_order, 6) array per set)."""
        sets = [_counts(counts)] + ([] if compare is None else [_counts(compare)])
        if len(sets) != self.nsets or any(c.shape != (self.max_order, len(MigrateType))
                                          for c in sets):
            raise ValueError("set_counts needs as many sets, of the same shape, as at creation")
        orders = np.arange(self.max_order)
        scale = (1 << orders)[:, None] if self.unit == "pages" else 1
        width = 0.8 / self.nsets
        for t in self.texts:
            t.remove()
        self.texts = []
        self.values, self.totals = [], []
        for j, c in enumerate(sets):
            vals = (c * scale).astype(float)
            top = np.cumsum(vals, axis=1)
            bottom = top - vals
            x0 = orders + (j - (self.nsets - 1) / 2) * width - width * 0.46
            x1 = x0 + width * 0.92
            X0, X1 = np.repeat(x0, len(MigrateType)), np.repeat(x1, len(MigrateType))
            B, T = bottom.ravel(), top.ravel()
            verts = np.stack([np.column_stack(c) for c in ((X0, B), (X1, B), (X1, T), (X0, T))], 1)
            # only the bars that have a height (hatching an empty bar still costs a fill)
            full = vals.ravel() > 0
            self.collections[j].set_verts(verts[full])
            self.collections[j].set_facecolor(list(self._colors[full]))
            self.values.append(vals)
            self.totals.append(top[:, -1].copy())
            if self.annotate and self.max_order <= 12:
                for xi, tot in zip((x0 + x1) / 2, top[:, -1]):
                    if tot:
                        self.texts.append(self.ax.text(xi, tot, f"{int(tot)}", ha="center",
                                                       va="bottom", fontsize=6.5))
        ymax = max(float(t.max()) for t in self.totals)
        self.ax.set_ylim(0, _nice_ceiling(ymax * 1.15))

    def arrays(self) -> dict[str, Any]:
        """The drawn values: per set, a (max_order, 6) array and the per-order totals."""
        return {"values": [v.copy() for v in self.values],
                "totals": [t.copy() for t in self.totals]}


def draw_free_lists(ax, zone_or_counts, *, compare=None, labels=("before", "after"),
                    unit: str = "blocks", title: str | None = None, legend: bool = True,
                    annotate: bool = True) -> FreeListsView:
    """A pagetypeinfo-style chart: free blocks per order, stacked by migratetype.

    :param zone_or_counts: a Zone, a ZoneState or ``zone.free_list_counts()``.
    :param compare: a second zone (or counts) drawn hatched beside each order,
        e.g. the zone after a call; ``labels`` names the two in the legend.
    :param unit: ``"blocks"`` (as /proc/pagetypeinfo counts) or ``"pages"``.
    :return: the :class:`FreeListsView` (``.arrays()`` gives the drawn values).
    """
    return FreeListsView(ax, zone_or_counts, compare, labels=labels, unit=unit, title=title,
                         legend=legend, annotate=annotate)


# ------------------------------------------------------------------ multi-panel figure
class ResultFigure:
    """Three panels for one call: before (request, aligned range, migration),
    after (outer range, head and tail), and the free lists before vs after.

    The axes are made once; :meth:`update` redraws in place (the widgets use
    it).  Build it on a ``matplotlib.figure.Figure`` you own, or let
    :func:`plot_result` make one with pyplot.

    :param window: ``"call"``: the PFNs around the call (:func:`call_window`),
        ``"zone"``: always the whole zone, so the axes stay the same whatever
        the range (what the range explorer shows by default).
    :param titles: ``"full"``: panel titles that name the ranges;
        ``"short"``: fixed ones ("before the call", ...), for apps that print
        the result line beside the figure.
    """

    def __init__(self, fig, *, strip_max: int = 512, max_arrows: int = 64, legend: bool = True,
                 suptitle: bool = True, window: str = "call", titles: str = "full"):
        if window not in ("call", "zone"):
            raise ValueError(f"window must be 'call' or 'zone', not {window!r}")
        if titles not in ("full", "short"):
            raise ValueError(f"titles must be 'full' or 'short', not {titles!r}")
        strip_max = check_int("strip_max", strip_max, 1)
        max_arrows = check_int("max_arrows", max_arrows, 0)
        legend, suptitle = check_bool("legend", legend), check_bool("suptitle", suptitle)
        self.fig = fig
        self.window, self.titles = window, titles
        self.show_legend, self.show_suptitle = legend, suptitle
        gs = fig.add_gridspec(3, 1, height_ratios=[1.25, 1.25, 0.8], hspace=0.5,
                              left=0.115, right=0.98, top=0.91 if suptitle else 0.95,
                              bottom=0.16 if legend else 0.07)
        self._gs = gs
        self.ax_before = fig.add_subplot(gs[0])
        self.ax_after = fig.add_subplot(gs[1])
        self.ax_free = fig.add_subplot(gs[2])
        # views of other spans / geometries / windows, each on axes of its own (hidden
        # when not shown): going back to one is a set_state, not a rebuild
        self._kept: dict[tuple, Any] = {}
        self.before: ZoneView | None = None
        self.after: ZoneView | None = None
        self.free: FreeListsView | None = None
        self.legend = None
        self.strip_max, self.max_arrows = strip_max, max_arrows
        self.suptitle = fig.suptitle("", fontsize="small", fontfamily="monospace", wrap=True)

    KEEP = 4   #: views kept per panel (a student goes back and forth between a few)

    def _swap(self, which: str, key: tuple, make):
        """Show panel ``which``'s view for ``key``: the current one, a kept one (shown
        again), or a new one built by ``make(ax)`` on fresh axes in the same place."""
        slot = {"before": 0, "after": 1, "free": 2}[which]
        cur = getattr(self, which)
        if cur is not None:
            cur.ax.set_visible(False)
        view = self._kept.pop((which, key), None)
        if view is None:
            ax = getattr(self, "ax_" + which) if cur is None else self.fig.add_subplot(
                self._gs[slot])
            view = make(ax)
        view.ax.set_visible(True)
        self._kept[(which, key)] = view
        mine = [k for k in self._kept if k[0] == which]
        for k in mine[: max(0, len(mine) - self.KEEP)]:
            self.fig.delaxes(self._kept.pop(k).ax)
        setattr(self, which, view)
        setattr(self, "ax_" + which, view.ax)
        return view, view is not None and cur is not None

    def _view(self, which: str, ax, state: ZoneState, title: str) -> ZoneView:
        view = getattr(self, which)
        if view is not None and _span(view.state) == _span(state):
            view.set_state(state)
            view.ax.set_title(title, fontsize="medium")
            return view
        key = _span(state)
        kept = (which, key) in self._kept
        view, _ = self._swap(which, key, lambda a: ZoneView(
            a, state, legend=False, title=title, strip_max=self.strip_max, fixed_ylim=True))
        if kept:
            view.set_state(state)
            view.ax.set_title(title, fontsize="medium")
        return view

    def update(self, result, before: Zone | ZoneState | None = None,
               after: Zone | ZoneState | None = None) -> None:
        """Show ``result``; ``before``/``after`` default to the trace's first and last zone."""
        b = ZoneState.of(before) if before is not None else _initial(result)
        a = ZoneState.of(after) if after is not None else ZoneState.of(_trace(result).final())
        r = result
        failed = isolation_failures(r)
        if self.window == "zone":
            lo, hi = b.start_pfn, b.end_pfn
        else:
            lo, hi = call_window(b, r.start, r.end, strip_max=self.strip_max)
        where = "" if (lo, hi) == (b.start_pfn, b.end_pfn) else f" (PFNs [{lo}, {hi}) shown)"
        moved = f", {len(r.migrated)} migrated" if r.migrated else ""
        if self.titles == "short":
            tb, ta = "before the call" + where, "after the call" + where
        else:
            tb = (f"before: request [{r.start}, {r.end}), isolated "
                  f"[{r.isolate_start}, {r.isolate_end}){moved}{where}")
            ta = (f"after: ret 0, outer [{r.outer_start}, {r.outer_end}), head and tail freed "
                  f"back" if r.ok else f"after: ret {errname(r.ret)}, failed in {r.failed_stage}")
            ta += where
        vb = self._view("before", self.ax_before, b.window(lo, hi), tb)
        vb.ax.set_xlabel("")  # the after panel below names the axis
        vb.set_overlays(request=(r.start, r.end), isolate=(r.isolate_start, r.isolate_end),
                        migrated=r.migrated, reclaimed=r.reclaimed, failed=failed,
                        max_arrows=self.max_arrows)
        va = self._view("after", self.ax_after, a.window(lo, hi), ta)
        va.set_overlays(request=(r.start, r.end), outer=(r.outer_start, r.outer_end),
                        busy=failure_mark(r))
        if self.free is None or self.free.max_order != b.geometry.max_order:
            kept = ("free", b.geometry.max_order) in self._kept
            self._swap("free", b.geometry.max_order, lambda ax: FreeListsView(
                ax, b, a, legend=False, annotate=False,
                title="free blocks per order and migratetype: before plain, after hatched"))
            if kept:
                self.free.set_counts(b, a)
        else:
            self.free.set_counts(b, a)
        self.suptitle.set_text(r.summary() if self.show_suptitle else "")
        self._legend(b, a)

    def _legend(self, b: ZoneState, a: ZoneState) -> None:
        if self.legend is not None:
            self.legend.remove()
            self.legend = None
        if not self.show_legend:
            return
        kinds = "".join(sorted(set(b.present_kinds()) | set(a.present_kinds()) | {"."},
                               key=KIND_ORDER.index))
        types = sorted({*b.present_types(), *a.present_types(), MigrateType.ISOLATE})
        no_pages = bool(b.empty_blocks().any())
        markers = [k for v in (self.before, self.after) if v is not None
                   for k in v.marker_legend()]
        handles = (kind_legend_handles(kinds)
                   + migratetype_legend_handles(types, no_pages=no_pages)
                   + overlay_legend_handles()[1:]
                   + marker_legend_handles(dict.fromkeys(markers)))
        self.legend = self.fig.legend(handles=handles, loc="lower center", ncol=5,
                                      fontsize="x-small", frameon=False,
                                      bbox_to_anchor=(0.5, 0.0))

    def arrays(self) -> dict[str, Any]:
        return {"before": self.before.arrays() if self.before else None,
                "after": self.after.arrays() if self.after else None,
                "free": self.free.arrays() if self.free else None}


def plot_result(result, *, fig=None, figsize=(10, 7.5), strip_max: int = 512) -> Any:
    """A compact figure of one call: before, after, free lists (3 axes, fixed size).

    Creates the figure with pyplot when ``fig`` is None (so ``plt.show()``
    shows it); pass a ``matplotlib.figure.Figure`` to draw elsewhere.
    :return: the Figure (its ``.contig`` attribute is the :class:`ResultFigure`).
    """
    if fig is None:
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=figsize)
    rf = ResultFigure(fig, strip_max=strip_max)
    rf.update(result)
    fig.contig = rf
    return fig


def show_zone(zone: Zone | ZoneState, *, figsize=(10, 3.2), **kw) -> ZoneView:
    """``plt.subplots`` + :func:`draw_zone`: one zone in a figure of its own."""
    import matplotlib.pyplot as plt
    _fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return draw_zone(ax, zone, **kw)
