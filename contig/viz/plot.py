"""Matplotlib drawings of a zone and of what ``alloc_contig_range()`` did to it.

Pure functions of state: each ``draw_*`` function draws onto the Axes it is
given and returns its artists; nothing here touches pyplot's global state
except the explicit convenience helpers :func:`plot_result` and
:func:`show_zone` (which create a figure with ``plt.subplots`` when not given
one).

A zone is drawn with one ``imshow`` of page kinds, coloured by the course's
single colour map (:mod:`contig.viz.colors`), never one patch per page:

* up to ``strip_max`` (512) PFNs: one **strip**, x = PFN, with the pageblock
  types as a second image row (the *band*) under it, pageblock and
  MAX_ORDER boundaries as thin lines, and the ranges of a call as brackets
  under the band (request, isolated range, outer range with head and tail);
* larger zones: a **grid** whose rows are whole MAX_ORDER blocks (or a
  power-of-two multiple of them), each cell one page or, past about 128k
  cells, a power-of-two group of pages shown by its "worst" kind (a cell
  is free only if every page in it is free; see :data:`KIND_RANK`).  The
  pageblock types are a narrow second grid to the right; ranges are
  outlines.

Holes are left transparent over a hatched background, so they never look
free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import FancyArrowPatch, Polygon, Rectangle
from matplotlib.path import Path
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..geometry import Geometry
from ..mapfmt import BLOCK_CHARS
from ..zone import MigrateType, Zone
from .colors import (
    HOLE_EDGE,
    HOLE_HATCH,
    KIND_COLORS,
    KIND_INDEX,
    KIND_ORDER,
    MIGRATETYPE_COLORS,
    kind_cmap,
    kind_legend,
    kind_legend_handles,
    kind_norm,
    migratetype_cmap,
    migratetype_legend_handles,
    migratetype_norm,
)

__all__ = [
    "KIND_COLORS",
    "KIND_RANK",
    "STYLE",
    "Layout",
    "ResultFigure",
    "ZoneState",
    "ZoneView",
    "band_image",
    "choose_layout",
    "draw_alignment",
    "draw_free_lists",
    "draw_head_tail",
    "draw_isolation",
    "draw_migration",
    "draw_zone",
    "isolation_failures",
    "kind_cmap",
    "kind_image",
    "kind_legend",
    "plot_result",
    "show_zone",
    "state_after",
]

HOLE = int(KIND_INDEX[ord("#")])
OUTSIDE = 254  # image value of cells outside the zone (masked, like holes)
_BAND_OUTSIDE = 254

#: Which kind a downsampled cell shows: the highest ranked kind among its pages.
#: Obstacles to a contiguous allocation outrank movable pages, which outrank
#: free ones, so a cell looks free only if every page in it is free.
KIND_RANK = ".pFMvTX#PHRU"
_RANK = np.zeros(256, dtype=np.uint8)          # kind index -> rank (0: outside)
_UNRANK = np.full(len(KIND_RANK) + 1, OUTSIDE, dtype=np.uint8)
for _r, _c in enumerate(KIND_RANK, start=1):
    _RANK[KIND_INDEX[ord(_c)]] = _r
    _UNRANK[_r] = KIND_INDEX[ord(_c)]
# a band cell covering several pageblocks shows the highest ranked type
_MT_RANK = [MigrateType.MOVABLE, MigrateType.CMA, MigrateType.RECLAIMABLE,
            MigrateType.HIGHATOMIC, MigrateType.UNMOVABLE, MigrateType.ISOLATE]
_BRANK = np.zeros(256, dtype=np.uint8)
_BUNRANK = np.full(len(_MT_RANK) + 1, _BAND_OUTSIDE, dtype=np.uint8)
for _r, _t in enumerate(_MT_RANK, start=1):
    _BRANK[int(_t)] = _r
    _BUNRANK[_r] = int(_t)

#: Line styles of boundaries and ranges (``line``: drawing, ``legend``: handle).
STYLE: dict[str, dict[str, Any]] = {
    "pageblock": {"line": {"color": "#999999", "linewidth": 0.7},
                  "legend": {"color": "#999999", "linewidth": 1.0},
                  "label": "pageblock boundary"},
    "max_order": {"line": {"color": "#222222", "linewidth": 1.6},
                  "legend": {"color": "#222222", "linewidth": 1.6},
                  "label": "MAX_ORDER block boundary"},
    "request": {"line": {"color": "#000000", "linewidth": 2.0},
                "legend": {"color": "#000000", "linewidth": 2.0},
                "label": "request [start, end)"},
    "isolate": {"line": {"color": "#0077BB", "linewidth": 2.0, "linestyle": (0, (4, 2))},
                "legend": {"color": "#0077BB", "linewidth": 2.0, "linestyle": (0, (4, 2))},
                "label": "isolated (aligned) range"},
    "outer": {"line": {"color": "#EE7733", "linewidth": 2.0},
              "legend": {"color": "#EE7733", "linewidth": 2.0},
              "label": "[outer_start, outer_end)"},
    "head": {"line": {"color": "#CC3311", "linewidth": 2.0, "linestyle": (0, (1.5, 1.5))},
             "label": "head: freed back"},
    "tail": {"line": {"color": "#CC3311", "linewidth": 2.0, "linestyle": (0, (1.5, 1.5))},
             "label": "tail: freed back"},
    "kept": {"line": {"color": "#EE7733", "linewidth": 2.6}, "label": "kept"},
    "highlight": {"line": {"color": "#EE3377", "linewidth": 2.2}, "label": "this step"},
    "arrow": {"line": {"color": "#222222", "linewidth": 0.9}, "label": "migrated"},
    "mark": {"line": {"color": "#CC3311", "linewidth": 1.8}, "label": "busy / unmovable"},
}

# strip mode: vertical layout in data units
_STRIP = (0.0, 1.0)
_BAND = (-0.45, -0.12)
_LEVELS = {"request": -0.72, "isolate": -1.17, "outer": -1.62}
_ARC_MAX = 1.25
_YLIM = (-2.05, 1.0 + _ARC_MAX + 0.1)


# ------------------------------------------------------------------ state
@dataclass(frozen=True, eq=False)
class ZoneState:
    """What a drawing needs of a zone: kind codes, pageblock types, span, geometry.

    A snapshot (the arrays are copies), so a zone changed later does not
    change a picture drawn from its state.
    """

    kinds: np.ndarray
    pageblocks: np.ndarray
    start_pfn: int
    geometry: Geometry
    name: str = ""
    free_counts: np.ndarray | None = None  # zone.free_list_counts(), (max_order, 6)

    @classmethod
    def of(cls, x: Zone | ZoneState) -> ZoneState:
        """A state from a :class:`~contig.Zone` (copied) or an existing state."""
        if isinstance(x, ZoneState):
            return x
        if isinstance(x, Zone):
            return cls(np.array(x.kinds()), np.array(x.pageblock_types()), int(x.start_pfn),
                       x.geometry, x.name, x.free_list_counts())
        raise TypeError(f"expected a Zone or a ZoneState, not {type(x).__name__}")

    @property
    def spanned_pages(self) -> int:
        return int(self.kinds.size)

    @property
    def end_pfn(self) -> int:
        return self.start_pfn + self.spanned_pages

    @property
    def pageblock_base(self) -> int:
        """First PFN of the first pageblock (may lie below ``start_pfn``)."""
        return self.geometry.pageblock_start(self.start_pfn)

    def present_kinds(self) -> str:
        """The map characters that occur in the zone, in colour-map order."""
        seen = np.bincount(KIND_INDEX[self.kinds], minlength=256)[: len(KIND_ORDER)]
        return "".join(c for c, n in zip(KIND_ORDER, seen) if n)

    def present_types(self) -> list[MigrateType]:
        seen = np.bincount(self.pageblocks, minlength=len(MigrateType))
        return [t for t in MigrateType if seen[t]]

    def kind_at(self, pfn: int) -> str:
        return chr(self.kinds[pfn - self.start_pfn])


def _state(x) -> ZoneState:
    return ZoneState.of(x)


# ------------------------------------------------------------------ layout
@dataclass(frozen=True)
class Layout:
    """Where each PFN is drawn.

    ``strip``: x is the PFN itself, one row.  ``grid``: row ``r`` holds PFNs
    ``[base + r*row_pages, base + (r+1)*row_pages)`` and x is the offset in
    the row, in pages; each image cell covers ``cell_pages`` pages.
    """

    mode: str
    start_pfn: int
    end_pfn: int
    base: int
    row_pages: int
    cell_pages: int
    nrows: int

    @property
    def ncols(self) -> int:
        return self.row_pages // self.cell_pages

    def pos(self, pfn) -> tuple[np.ndarray, np.ndarray]:
        """(x, row) of the left edge of ``pfn`` (arrays allowed)."""
        p = np.asarray(pfn, dtype=np.int64)
        if self.mode == "strip":
            return p.astype(float), np.zeros_like(p)
        off = p - self.base
        return (off % self.row_pages).astype(float), off // self.row_pages

    def center(self, pfn) -> tuple[np.ndarray, np.ndarray]:
        """Data coordinates of the middle of ``pfn``'s cell."""
        x, r = self.pos(pfn)
        if self.mode == "strip":
            return x + 0.5, np.full(np.shape(x), 0.5)
        return x + 0.5 * self.cell_pages, r + 0.5


def _pow2_ceil(x: float) -> int:
    return 1 << max(0, int(np.ceil(np.log2(max(x, 1)))))


def choose_layout(state: Zone | ZoneState, *, mode: str = "auto", strip_max: int = 512,
                  max_cols: int = 512, max_cells: int = 1 << 17) -> Layout:
    """Pick a strip (small zones) or a grid of MAX_ORDER-aligned rows (large zones).

    :param mode: ``"auto"``, ``"strip"`` or ``"grid"``.
    :param strip_max: the largest zone drawn as a strip in ``auto`` mode.
    :param max_cols: at most this many image columns in a grid.
    :param max_cells: beyond this many pages, cells group a power of two of pages.
    """
    s = _state(state)
    n, g = s.spanned_pages, s.geometry
    if mode not in ("auto", "strip", "grid"):
        raise ValueError(f"mode must be 'auto', 'strip' or 'grid', not {mode!r}")
    if mode == "strip" or (mode == "auto" and n <= strip_max):
        return Layout("strip", s.start_pfn, s.end_pfn, s.start_pfn, n, 1, 1)
    unit = g.max_align_nr_pages
    cell = _pow2_ceil(n / max_cells)
    cols = _pow2_ceil(np.sqrt(2.0 * n / cell))
    row = max(cols * cell, unit)
    if row // cell > max_cols:
        cell = row // max_cols
    base = s.start_pfn - s.start_pfn % row
    nrows = -(-(s.end_pfn - base) // row)
    return Layout("grid", s.start_pfn, s.end_pfn, base, row, cell, nrows)


def kind_image(state: Zone | ZoneState, layout: Layout, reduce: str = "worst") -> np.ma.MaskedArray:
    """The kind-index image of a zone: shape ``(nrows, ncols)``, holes and padding masked.

    Values index :func:`~contig.viz.colors.kind_cmap`.  With cells of several
    pages, ``reduce="worst"`` shows the highest :data:`KIND_RANK` kind of
    the cell, ``"majority"`` the most common one.  Vectorised: about 10 ms
    for a million pages.
    """
    s = _state(state)
    idx = KIND_INDEX[s.kinds]
    if layout.mode == "strip":
        img = idx.reshape(1, -1)
    else:
        total = layout.nrows * layout.row_pages
        flat = np.full(total, OUTSIDE, dtype=np.uint8)
        lo = s.start_pfn - layout.base
        flat[lo: lo + idx.size] = idx
        c = layout.cell_pages
        if c > 1:
            cells = flat.reshape(-1, c)
            if reduce == "worst":
                flat = _UNRANK[_RANK[cells].max(axis=1)]
            elif reduce == "majority":
                counts = np.stack([(cells == k).sum(axis=1) for k in range(len(KIND_ORDER))],
                                  axis=1)
                flat = np.where(counts.max(axis=1) > 0, counts.argmax(axis=1), OUTSIDE)
                flat = flat.astype(np.uint8)
            else:
                raise ValueError(f"reduce must be 'worst' or 'majority', not {reduce!r}")
        img = flat.reshape(layout.nrows, layout.ncols)
    return np.ma.masked_where((img == HOLE) | (img == OUTSIDE), img, copy=False)


def _band_columns(layout: Layout, g: Geometry) -> tuple[int, int]:
    """(pageblocks per band cell, band columns) of a grid's side band."""
    per_row = max(1, layout.row_pages // g.pageblock_nr_pages)
    group = max(1, per_row // 16)
    return group, max(1, per_row // group)


def band_image(state: Zone | ZoneState, layout: Layout) -> np.ma.MaskedArray:
    """The pageblock-type image: one row of pageblocks (strip) or one row per grid row.

    Values are MigrateType values (index of
    :func:`~contig.viz.colors.migratetype_cmap`); a grid cell covering
    several pageblocks shows ISOLATE if any of them is, else the most
    restrictive type.
    """
    s = _state(state)
    pb = s.pageblocks
    if layout.mode == "strip":
        return np.ma.masked_array(pb.reshape(1, -1), mask=np.zeros((1, pb.size), bool))
    g = s.geometry
    pbn = g.pageblock_nr_pages
    per_row = max(1, layout.row_pages // pbn)
    total = layout.nrows * per_row
    flat = np.full(total, _BAND_OUTSIDE, dtype=np.uint8)
    k0 = (s.pageblock_base - layout.base) // pbn
    flat[k0: k0 + pb.size] = pb[: max(0, min(pb.size, total - k0))]
    group, cols = _band_columns(layout, g)
    if group > 1:
        flat = _BUNRANK[_BRANK[flat.reshape(-1, group)].max(axis=1)]
    img = flat.reshape(layout.nrows, cols)
    return np.ma.masked_where(img == _BAND_OUTSIDE, img, copy=False)


# ------------------------------------------------------------------ geometry helpers
def _outline(layout: Layout, lo: int, hi: int, y0: float = 0.0, y1: float = 1.0) -> np.ndarray:
    """Polygon vertices around PFNs [lo, hi) in data coordinates."""
    if layout.mode == "strip":
        return np.array([[lo, y0], [hi, y0], [hi, y1], [lo, y1]], dtype=float)
    R = layout.row_pages
    x0, r0 = (int(v) for v in layout.pos(lo))
    x1, r1 = (int(v) for v in layout.pos(hi - 1))
    x1 += 1
    if r0 == r1:
        return np.array([[x0, r0], [x1, r0], [x1, r0 + 1], [x0, r0 + 1]], dtype=float)
    return np.array([[x0, r0], [R, r0], [R, r1], [x1, r1], [x1, r1 + 1], [0, r1 + 1],
                     [0, r0 + 1], [x0, r0 + 1]], dtype=float)


def _clip_range(layout: Layout, rng) -> tuple[int, int] | None:
    if rng is None:
        return None
    lo, hi = (int(v) for v in rng)
    lo, hi = max(lo, layout.start_pfn), min(hi, layout.end_pfn)
    return (lo, hi) if lo < hi else None


def _short(lo: int, hi: int) -> str:
    return f"[{lo}, {hi})"


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
                 reduce: str = "worst", strip_max: int = 512, fixed_ylim: bool = False):
        s = _state(state)
        self.fixed_ylim = fixed_ylim
        self.ax = ax
        self.state = s
        self.reduce = reduce
        self.legend_mode = legend
        self.layout = L = choose_layout(s, mode=mode, strip_max=strip_max)
        self.overlays: dict[str, list] = {}
        self.ranges: dict[str, tuple[int, int]] = {}
        self.marks: dict[str, Any] = {}
        self.legend = None
        self.lines: dict[str, LineCollection] = {}
        g = s.geometry
        strip = L.mode == "strip"
        if strip:
            extent = (L.start_pfn, L.end_pfn, _STRIP[0], _STRIP[1])
            hole_xy = _outline(L, L.start_pfn, L.end_pfn, *_STRIP)
        else:
            extent = (0, L.row_pages, L.nrows, 0)
            hole_xy = _outline(L, L.start_pfn, L.end_pfn)
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
        self.band_letters: list = []
        if boundaries:
            self._draw_boundaries()
        self._decorate(title)
        self._update_band_letters()
        self._update_legend()

    # -------------------------------------------------------- static parts
    def _draw_boundaries(self) -> None:
        ax, L, g = self.ax, self.layout, self.state.geometry
        y0 = _BAND[0] if self.band is not None else _STRIP[0]
        if L.mode == "strip":
            for name, step in (("pageblock", g.pageblock_nr_pages), ("max_order", g.max_order_nr_pages)):
                first = -(-(L.start_pfn + 1) // step) * step
                xs = np.arange(first, L.end_pfn, step)
                if xs.size > 256:
                    continue
                segs = np.stack([np.stack([xs, np.full(xs.size, y0)], 1),
                                 np.stack([xs, np.full(xs.size, _STRIP[1])], 1)], axis=1)
                lc = LineCollection(segs, zorder=4, **STYLE[name]["line"])
                ax.add_collection(lc, autolim=False)
                self.lines[name] = lc
            n = L.end_pfn - L.start_pfn
            if n <= 128:  # page separators, so pages can be counted
                xs = np.arange(L.start_pfn + 1, L.end_pfn)
                segs = np.stack([np.stack([xs, np.zeros(xs.size)], 1),
                                 np.stack([xs, np.ones(xs.size)], 1)], axis=1)
                lc = LineCollection(segs, colors="white", linewidths=0.6, zorder=3)
                ax.add_collection(lc, autolim=False)
                self.lines["page"] = lc
        else:
            W = g.max_order_nr_pages
            per_row = L.row_pages // W
            if 1 < per_row <= 64:
                xs = np.arange(1, per_row) * W
                segs = np.stack([np.stack([xs, np.zeros(xs.size)], 1),
                                 np.stack([xs, np.full(xs.size, L.nrows)], 1)], axis=1)
                lc = LineCollection(segs, zorder=4, **STYLE["max_order"]["line"])
                ax.add_collection(lc, autolim=False)
                self.lines["max_order"] = lc
            if L.nrows <= 64:
                ys = np.arange(1, L.nrows)
                segs = np.stack([np.stack([np.zeros(ys.size), ys], 1),
                                 np.stack([np.full(ys.size, L.row_pages), ys], 1)], axis=1)
                lc = LineCollection(segs, colors="white", linewidths=0.5, zorder=3)
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
            else:
                ax.set_xticks(ticks)
            if g.pageblock_nr_pages < unit and (L.end_pfn - L.start_pfn) // g.pageblock_nr_pages <= 128:
                pfirst = -(-L.start_pfn // g.pageblock_nr_pages) * g.pageblock_nr_pages
                ax.set_xticks(np.arange(pfirst, L.end_pfn + 1, g.pageblock_nr_pages), minor=True)
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
            right = L.row_pages * (1.18 if self.band is not None else 1.0)
            ax.set_xlim(0, right)
            ax.set_ylim(L.nrows, 0)
            ax.yaxis.set_major_locator(MaxNLocator(8, integer=True))
            ax.yaxis.set_major_formatter(FuncFormatter(
                lambda y, _: f"{L.base + int(round(y)) * L.row_pages}"))
            xt = [t for t in MaxNLocator(6, integer=True).tick_values(0, L.row_pages)
                  if 0 <= t <= L.row_pages]
            ax.set_xticks(xt)
            ax.set_ylabel("first PFN of row")
            per = f", {L.cell_pages} pages per cell (worst kind shown)" if L.cell_pages > 1 else ""
            ax.set_xlabel(f"page offset in row ({L.row_pages} pages per row{per})")
            if self.band is not None:
                x0, x1 = self.band.get_extent()[:2]
                ax.text((x0 + x1) / 2, -0.01 * L.nrows, "pageblocks", ha="center", va="bottom",
                        fontsize="small")
        if title is None:
            title = (f"zone {s.name}: PFNs [{s.start_pfn}, {s.end_pfn}), "
                     f"MAX_ORDER {g.max_order}, pageblock_order {g.pageblock_order}")
        if title:
            ax.set_title(title, fontsize="medium")

    def _update_band_letters(self) -> None:
        for t in self.band_letters:
            t.remove()
        self.band_letters = []
        L, s = self.layout, self.state
        if self.band is None or L.mode != "strip":
            return
        pbn = s.geometry.pageblock_nr_pages
        nb = s.pageblocks.size
        if nb > 64:
            return
        y = sum(_BAND) / 2
        for k, t in enumerate(s.pageblocks):
            x = s.pageblock_base + (k + 0.5) * pbn
            if not L.start_pfn <= x <= L.end_pfn:
                continue
            c = "white" if t in (MigrateType.ISOLATE, MigrateType.UNMOVABLE, MigrateType.MOVABLE,
                                 MigrateType.CMA) else "black"
            self.band_letters.append(self.ax.text(x, y, BLOCK_CHARS[t], ha="center", va="center",
                                                  fontsize=7, color=c, zorder=5,
                                                  fontweight="bold"))

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
                                  bbox_to_anchor=(0.5, -0.22))

    # -------------------------------------------------------- updates
    def set_state(self, state: Zone | ZoneState) -> None:
        """Show another state of the same span (images updated in place)."""
        s = _state(state)
        if (s.start_pfn, s.spanned_pages, s.geometry) != (
                self.state.start_pfn, self.state.spanned_pages, self.state.geometry):
            raise ValueError("set_state needs a zone with the same span and geometry; "
                             "draw a new ZoneView for another zone")
        self.state = s
        self.image.set_data(kind_image(s, self.layout, self.reduce))
        if self.band is not None:
            self.band.set_data(band_image(s, self.layout))
        self._update_band_letters()
        self._update_legend()

    def clear_overlays(self) -> None:
        """Remove every range, arrow and mark."""
        for arts in self.overlays.values():
            for a in arts:
                a.remove()
        self.overlays = {}
        self.ranges = {}
        self.marks = {}

    def _add(self, key: str, artist):
        self.overlays.setdefault(key, []).append(artist)
        return artist

    def set_overlays(self, *, request=None, isolate=None, outer=None, head_tail: bool = True,
                     migrated: dict[int, int] | None = None, reclaimed=None, failed=None,
                     busy: int | None = None, highlight=None, max_arrows: int = 64) -> None:
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
        :param busy: the PFN where ``test_pages_isolated()`` stopped.
        :param highlight: ``(lo, hi)`` to outline (the range an event touched).
        """
        self.clear_overlays()
        L = self.layout
        req = _clip_range(L, request)
        if req:
            self._range("request", req)
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
        if busy is not None and L.start_pfn <= busy < L.end_pfn:
            self._mark("busy", busy, f"busy: PFN {busy}")
        hl = _clip_range(L, highlight)
        if hl:
            self._highlight(hl)
        if L.mode == "strip":
            self._set_ylim()

    def _set_ylim(self) -> None:
        # room above the strip for arcs or labels, below it for the brackets in use
        if self.fixed_ylim:
            self.ax.set_ylim(*_YLIM)
            return
        top = _YLIM[1] if "migration" in self.overlays else 1.5
        used = [_LEVELS[k] for k in _LEVELS if any(
            r in self.ranges for r in {"request": ["request"], "isolate": ["isolate"],
                                       "outer": ["outer", "outer_start", "head", "kept",
                                                 "tail"]}[k])]
        bottom = min(used) - 0.43 if used else (_BAND[0] if self.band is not None else 0) - 0.15
        self.ax.set_ylim(bottom, top)

    # -------------------------------------------------------- overlay pieces
    def _bracket(self, key: str, lo: int, hi: int, y: float, label: str | None, style: str):
        ax = self.ax
        h = 0.22
        line = ax.plot([lo, lo, hi, hi], [y + h, y, y, y + h], solid_capstyle="butt",
                       zorder=6, clip_on=False, **STYLE[style]["line"])[0]
        self._add(key, line)
        if label:
            self._add(key, ax.text((lo + hi) / 2, y - 0.06, label, ha="center", va="top",
                                   fontsize=7.5, zorder=6, color=STYLE[style]["line"]["color"]))

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
        poly = Polygon(_outline(self.layout, lo, hi), closed=True, fill=False, zorder=6,
                       **STYLE[style]["line"])
        self._add(key, self.ax.add_patch(poly))
        if label:
            x, r = self.layout.pos(lo)
            self._add(key, self.ax.text(float(x), float(r), label, ha="left", va="bottom",
                                        fontsize=7.5, zorder=7, color=STYLE[style]["line"]["color"],
                                        bbox={"facecolor": "white", "alpha": 0.8, "pad": 1,
                                              "linewidth": 0}))

    def _range(self, key: str, rng: tuple[int, int]):
        lo, hi = rng
        self.ranges[key] = (lo, hi)
        if self.layout.mode == "strip":
            name = {"request": "request", "isolate": "isolated"}[key]
            self._bracket(key, lo, hi, _LEVELS[key], f"{name} {_short(lo, hi)}", key)
        else:
            name = {"request": "request", "isolate": "isolated"}[key]
            self._poly(key, lo, hi, key, f"{name} {_short(lo, hi)}" if key == "request" else None)

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
                    self._add("outer", self.ax.plot([o_lo, o_lo], [y, y + 0.3], color=c,
                                                    linewidth=2, zorder=6)[0])
                    self._add("outer", self.ax.text(o_lo, y - 0.06, f"outer_start {o_lo}",
                                                    ha="center", va="top", fontsize=7.5, color=c))
                else:
                    self._mark("outer", o_lo, f"outer_start {o_lo}", color=c)
            return
        self.ranges["outer"] = (o_lo, o_hi)
        if req is None:
            if strip:
                self._bracket("outer", o_lo, o_hi, y, f"outer {_short(o_lo, o_hi)}", "outer")
            else:
                self._poly("outer", o_lo, o_hi, "outer", f"outer {_short(o_lo, o_hi)}")
            return
        s, e = req
        parts = [("head", o_lo, min(s, o_hi)), ("kept", max(s, o_lo), min(e, o_hi)),
                 ("tail", max(e, o_lo), o_hi)]
        for name, lo, hi in parts:
            if lo >= hi:
                continue
            self.ranges[name] = (lo, hi)
            if strip:
                self._bracket(name, lo, hi, y, self._fit(lo, hi, f"{name} {_short(lo, hi)}", name),
                              name)
            else:
                self._poly(name, lo, hi, name, f"{name} {_short(lo, hi)}")
        if strip:
            c = STYLE["outer"]["line"]["color"]
            for pfn, txt, ha in ((o_lo, f"outer_start {o_lo} ", "right"),
                                 (o_hi, f" outer_end {o_hi}", "left")):
                self._add("outer", self.ax.text(pfn, y + 0.11, txt, ha=ha, va="center",
                                                fontsize=7.5, color=c, clip_on=False))

    def _migration(self, migrated: dict[int, int], max_arrows: int):
        L, ax = self.layout, self.ax
        pairs = np.array(sorted(migrated.items()), dtype=np.int64).reshape(-1, 2)
        inside = ((pairs >= L.start_pfn) & (pairs < L.end_pfn)).all(axis=1)
        pairs = pairs[inside]
        src, dst = pairs[:, 0], pairs[:, 1]
        self.marks["migrated_src"], self.marks["migrated_dst"] = src, dst
        if not src.size:
            return
        sx, sy = L.center(src)
        dx, dy = L.center(dst)
        color = STYLE["arrow"]["line"]["color"]
        if L.mode == "strip":
            span = max(1, L.end_pfn - L.start_pfn)
            h = 0.3 + (_ARC_MAX - 0.3) * np.minimum(1.0, np.abs(dx - sx) / (0.5 * span))
            t = np.linspace(0, 1, 25)
            for k in range(src.size):
                xs = sx[k] + (dx[k] - sx[k]) * t
                ys = _STRIP[1] + h[k] * 4 * t * (1 - t)
                verts = np.column_stack([xs, ys])
                if src.size <= max_arrows:
                    arr = FancyArrowPatch(path=Path(verts), arrowstyle="-|>", mutation_scale=8,
                                          color=color, linewidth=0.9, zorder=7,
                                          shrinkA=0, shrinkB=0)
                    self._add("migration", ax.add_patch(arr))
                else:
                    verts_all = self.marks.setdefault("_arcs", [])
                    verts_all.append(verts)
            if src.size > max_arrows:
                lc = LineCollection(self.marks.pop("_arcs"), colors=color, linewidths=0.5,
                                    zorder=7, alpha=0.6)
                self._add("migration", ax.add_collection(lc, autolim=False))
                self._add("migration", ax.scatter(dx, np.full(dx.size, _STRIP[1] + 0.05),
                                                  marker="v", s=10, color=color, zorder=7))
        else:
            if src.size <= 256:
                segs = np.stack([np.column_stack([sx, sy]), np.column_stack([dx, dy])], axis=1)
                lc = LineCollection(segs, colors=color, linewidths=0.6, zorder=7, alpha=0.7)
                self._add("migration", ax.add_collection(lc, autolim=False))
            self._add("migration", ax.scatter(sx, sy, marker="x", s=14, color=color, zorder=8,
                                              linewidths=0.8, label="migrated from"))
            self._add("migration", ax.scatter(dx, dy, marker="o", s=14, facecolors="none",
                                              edgecolors=color, zorder=8, linewidths=0.8,
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
            ty, va = _STRIP[1] + 0.08, "bottom"
        else:
            ty, va = float(y) - 0.6, "bottom"
        self._add(key, self.ax.text(float(x), ty, label, ha="center", va=va, fontsize=7.5,
                                    color=color, zorder=9,
                                    bbox={"facecolor": "white", "alpha": 0.85, "pad": 1,
                                          "linewidth": 0}))

    def _failed(self, lo: int, hi: int, pfn: int | None, reason: str):
        L, ax = self.layout, self.ax
        self.marks.setdefault("failed_blocks", []).append((int(lo), int(hi)))
        color = STYLE["mark"]["line"]["color"]
        if L.mode == "strip" and self.band is not None:
            cx = (max(lo, L.start_pfn) + min(hi, L.end_pfn)) / 2
            self._add("failed", ax.scatter([cx], [sum(_BAND) / 2], marker="x", s=70, color=color,
                                           linewidths=2.2, zorder=8))
        elif self.band is not None:
            group, cols = _band_columns(L, self.state.geometry)
            x0, x1 = self.band.get_extent()[:2]
            bx, br = L.pos(lo)
            col = int(bx) // (self.state.geometry.pageblock_nr_pages * group)
            cx = x0 + (col + 0.5) * (x1 - x0) / cols
            self._add("failed", ax.scatter([cx], [float(br) + 0.5], marker="x", s=50, color=color,
                                           linewidths=2, zorder=8))
        if pfn is not None and L.start_pfn <= pfn < L.end_pfn:
            self._mark("failed", int(pfn), reason)

    def _highlight(self, rng):
        lo, hi = rng
        self.ranges["highlight"] = (lo, hi)
        L = self.layout
        y0 = _BAND[0] - 0.08 if self.band is not None else -0.08
        xy = _outline(L, lo, hi, y0, _STRIP[1] + 0.08)
        self._add("highlight", self.ax.add_patch(Polygon(
            xy, closed=True, facecolor="#EE3377", alpha=0.12, zorder=1.5, linewidth=0)))
        self._add("highlight", self.ax.add_patch(Polygon(
            xy, closed=True, fill=False, zorder=6.5, **STYLE["highlight"]["line"])))

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
              fixed_ylim: bool = False) -> ZoneView:
    """Draw a zone on ``ax``, coloured by page kind, with the ranges of a call.

    A strip for zones of up to ``strip_max`` PFNs, else a grid of MAX_ORDER
    rows (see the module docstring).  The overlays are those of
    :meth:`ZoneView.set_overlays`.  ``legend``: ``"present"`` (the kinds in
    this zone), ``"all"`` or False.

    :return: the :class:`ZoneView` holding every artist.
    """
    view = ZoneView(ax, zone_or_state, mode=mode, band=band, boundaries=boundaries,
                    legend=legend, title=title, reduce=reduce, strip_max=strip_max,
                    fixed_ylim=fixed_ylim)
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
    for e in getattr(result, "events", ()) or ():
        if e.func == "set_migratetype_isolate" and e.fields.get("ret"):
            pfn = e.fields.get("unmovable_pfn")
            kind = ""
            tr = getattr(result, "events", None)
            if pfn is not None and hasattr(tr, "initial"):
                z = tr.initial
                if z.start_pfn <= pfn < z.end_pfn:
                    kind = f" ({chr(z.kinds()[pfn - z.start_pfn])})"
            reason = f"PFN {pfn}{kind} unmovable: block not isolated" if pfn is not None else \
                "block not isolated"
            out.append((int(e.start_pfn), int(e.end_pfn), pfn, reason))
    return out


def _initial(result) -> ZoneState:
    return ZoneState.of(_trace(result).initial)


def draw_alignment(ax, zone: Zone | ZoneState, start: int, end: int, **kw) -> ZoneView:
    """The request ``[start, end)`` and the range ``pfn_max_align_down/up`` round it out to.

    Pageblock and MAX_ORDER boundaries are drawn and listed in the legend;
    two arrows show the rounding.
    """
    s = _state(zone)
    g = s.geometry
    iso = (max(s.start_pfn, g.pfn_max_align_down(start)), min(s.end_pfn, g.pfn_max_align_up(end)))
    kw.setdefault("title", f"pfn_max_align: request [{start}, {end}) is isolated as "
                           f"[{iso[0]}, {iso[1]}) (multiples of {g.max_align_nr_pages} pages)")
    view = draw_zone(ax, s, request=(start, end), isolate=iso, **kw)
    if view.legend is not None:
        handles = view.legend.legend_handles
        from .colors import overlay_legend_handles
        view.legend.remove()
        view.legend = ax.legend(handles=[*handles, *overlay_legend_handles()[:3]],
                                loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=4,
                                fontsize="small", frameon=False)
    if view.layout.mode == "strip":
        y = _LEVELS["isolate"] + 0.1
        for a, b, txt in ((start, iso[0], "align down"), (end, iso[1], "align up")):
            if a != b:
                ann = ax.annotate("", xy=(b, y), xytext=(a, y),
                                  arrowprops={"arrowstyle": "->", "color": STYLE["isolate"]["line"]["color"],
                                              "linewidth": 1.2}, zorder=7)
                view._add("align", ann)
                view._add("align", ax.text((a + b) / 2, y + 0.05, txt, ha="center", va="bottom",
                                           fontsize=7, color=STYLE["isolate"]["line"]["color"]))
    return view


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
    what = {"before": "before", "during": "during", "after": "after"}[when]
    kw.setdefault("title", f"pageblock types {what} start_isolate_page_range("
                           f"{result.isolate_start}, {result.isolate_end})"
                  + (" - refused" if failed else ""))
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
                     outer=(result.outer_start, result.outer_end), busy=result.busy_pfn
                     if result.failed_stage == "test_pages_isolated" else None, **kw)


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


def draw_free_lists(ax, zone_or_counts, *, compare=None, labels=("before", "after"),
                    unit: str = "blocks", title: str | None = None, legend: bool = True,
                    annotate: bool = True) -> dict[str, Any]:
    """A pagetypeinfo-style chart: free blocks per order, stacked by migratetype.

    :param zone_or_counts: a Zone or its ``free_list_counts()`` (max_order x 6).
    :param compare: a second zone or counts drawn as a hatched bar beside
        each order (``labels`` names the two).
    :param unit: ``"blocks"`` (as /proc/pagetypeinfo counts) or ``"pages"``.
    :return: ``{"bars": [BarContainer ...], "counts": [array ...], "totals": [...]}``.
    """
    if unit not in ("blocks", "pages"):
        raise ValueError(f"unit must be 'blocks' or 'pages', not {unit!r}")
    sets = [_counts(zone_or_counts)] + ([] if compare is None else [_counts(compare)])
    mo = sets[0].shape[0]
    orders = np.arange(mo)
    scale = (1 << orders)[:, None] if unit == "pages" else 1
    width = 0.8 / len(sets)
    out: dict[str, Any] = {"bars": [], "counts": [], "totals": []}
    for j, c in enumerate(sets):
        vals = (c * scale).astype(float)
        x = orders + (j - (len(sets) - 1) / 2) * width
        bottom = np.zeros(mo)
        for t in MigrateType:
            bc = ax.bar(x, vals[:, t], width * 0.92, bottom=bottom,
                        color=MIGRATETYPE_COLORS[t], edgecolor="white", linewidth=0.4,
                        hatch="///" if j == 1 else None, zorder=2)
            out["bars"].append(bc)
            bottom += vals[:, t]
        out["counts"].append(c.copy())
        out["totals"].append(bottom.copy())
        if annotate and mo <= 12:
            for xi, tot in zip(x, bottom):
                if tot:
                    ax.text(xi, tot, f"{int(tot)}", ha="center", va="bottom", fontsize=6.5)
    ax.set_xticks(orders)
    ax.set_xlabel("order")
    ax.set_ylabel(f"free {unit}")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", color="#EEEEEE", zorder=0)
    ax.set_axisbelow(True)
    ymax = max(float(t.max()) for t in out["totals"]) if out["totals"] else 0
    ax.set_ylim(0, max(1.0, ymax * 1.15))
    if title is None:
        title = "free lists per order and migratetype (/proc/pagetypeinfo)"
        if compare is not None:
            title += f": {labels[0]} plain, {labels[1]} hatched"
    if title:
        ax.set_title(title, fontsize="medium")
    if legend:
        present = sorted({int(t) for c in sets for t in np.flatnonzero(c.sum(axis=0))})
        ax.legend(handles=migratetype_legend_handles(present or [MigrateType.MOVABLE]),
                  fontsize="small", frameon=False, loc="upper right")
    return out


# ------------------------------------------------------------------ multi-panel figure
class ResultFigure:
    """Three panels for one call: before (request, aligned range, migration),
    after (outer range, head and tail), and the free lists before vs after.

    The axes are made once; :meth:`update` redraws in place (the widgets use
    it).  Build it on a ``matplotlib.figure.Figure`` you own, or let
    :func:`plot_result` make one with pyplot.
    """

    def __init__(self, fig, *, strip_max: int = 512, max_arrows: int = 64):
        self.fig = fig
        gs = fig.add_gridspec(3, 1, height_ratios=[1.25, 1.25, 0.8], hspace=0.55,
                              left=0.09, right=0.98, top=0.92, bottom=0.16)
        self.ax_before = fig.add_subplot(gs[0])
        self.ax_after = fig.add_subplot(gs[1])
        self.ax_free = fig.add_subplot(gs[2])
        self.before: ZoneView | None = None
        self.after: ZoneView | None = None
        self.free: dict[str, Any] | None = None
        self.legend = None
        self.strip_max = strip_max
        self.max_arrows = max_arrows
        self.suptitle = fig.suptitle("", fontsize="medium", fontfamily="monospace")

    def _view(self, which: str, ax, state: ZoneState, title: str) -> ZoneView:
        view = getattr(self, which)
        if view is None or (view.state.start_pfn, view.state.spanned_pages, view.state.geometry) != (
                state.start_pfn, state.spanned_pages, state.geometry):
            ax.clear()
            view = ZoneView(ax, state, legend=False, title=title, strip_max=self.strip_max,
                            fixed_ylim=True)
            setattr(self, which, view)
        else:
            view.set_state(state)
            ax.set_title(title, fontsize="medium")
        return view

    def update(self, result, before: Zone | ZoneState | None = None,
               after: Zone | ZoneState | None = None) -> None:
        """Show ``result``; ``before``/``after`` default to the trace's first and last zone."""
        b = ZoneState.of(before) if before is not None else _initial(result)
        a = ZoneState.of(after) if after is not None else ZoneState.of(_trace(result).final())
        r = result
        failed = isolation_failures(r)
        vb = self._view("before", self.ax_before, b,
                        f"before: request [{r.start}, {r.end}), isolated [{r.isolate_start}, "
                        f"{r.isolate_end})" + (f", {len(r.migrated)} migrated" if r.migrated else ""))
        vb.set_overlays(request=(r.start, r.end), isolate=(r.isolate_start, r.isolate_end),
                        migrated=r.migrated, reclaimed=r.reclaimed, failed=failed,
                        max_arrows=self.max_arrows)
        from ..contig import errname
        if r.ok:
            at = (f"after: ret 0, outer [{r.outer_start}, {r.outer_end}), head and tail freed back")
        else:
            at = f"after: ret {errname(r.ret)}, failed in {r.failed_stage}"
        va = self._view("after", self.ax_after, a, at)
        va.set_overlays(request=(r.start, r.end), outer=(r.outer_start, r.outer_end),
                        busy=r.busy_pfn if r.failed_stage == "test_pages_isolated" else None)
        self.ax_free.clear()
        self.free = draw_free_lists(self.ax_free, b, compare=a, legend=False,
                                    title="free blocks per order: before plain, after hatched")
        self.suptitle.set_text(r.summary())
        self._legend(b, a)

    def _legend(self, b: ZoneState, a: ZoneState) -> None:
        if self.legend is not None:
            self.legend.remove()
        kinds = "".join(sorted(set(b.present_kinds()) | set(a.present_kinds()) | {"."},
                               key=KIND_ORDER.index))
        types = sorted({*b.present_types(), *a.present_types(), MigrateType.ISOLATE})
        from .colors import overlay_legend_handles
        handles = kind_legend_handles(kinds) + migratetype_legend_handles(types) + \
            overlay_legend_handles()[1:]
        self.legend = self.fig.legend(handles=handles, loc="lower center", ncol=5,
                                      fontsize="x-small", frameon=False,
                                      bbox_to_anchor=(0.5, 0.0))

    def arrays(self) -> dict[str, Any]:
        return {"before": self.before.arrays() if self.before else None,
                "after": self.after.arrays() if self.after else None,
                "free": self.free}


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
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return draw_zone(ax, zone, **kw)
