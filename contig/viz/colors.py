"""The visual vocabulary of the course: colours, line styles, legends, and the
images of colour indices that every zone drawing is made of.

**Colours.**  Every figure of contig takes its colours from here, so a
movable page is the same blue in every notebook.  They come from Paul Tol's
colour-blind safe schemes (https://personal.sron.nl/~pault/): eleven kinds
of page, chosen so that every pair stays apart (CIELAB distance above 15)
for normal vision and under simulated protanopia, deuteranopia and
tritanopia (Machado et al. 2009), in families a student can learn: free
pages pale, movable pages blue, obstacles dark and warm, the pages a
contiguous allocation owns orange.  Holes (PFNs with no ``struct page``)
are no colour at all: they stay transparent over a hatched background.  The
pageblock band has its own scheme, disjoint from the page colours (no
colour means a kind of page and a type of block: every block colour stays
more than 9 CIELAB units from every page colour and more than 18 from the
other block colours, for normal and colour-blind vision, checked in
``tests/test_viz_colours.py``), and each block carries its letter where
there is room, so colour is never the only clue: MOVABLE pale, ISOLATE
navy with a white ``I``.  A pageblock with no initialised ``struct page``
at all (a hole, or memory whose memmap deferred init has not reached: the
real snapshot's last 16 GiB) is neither type: it has its own cream colour
and legend entry.  Page cells carry their map letter when a page is wide
enough to hold one.

**Images.**  A zone is drawn from a :class:`ZoneState` (a snapshot of kind
codes and pageblock types) laid out by :func:`choose_layout`: one strip of
PFNs for small zones, a grid of MAX_ORDER-aligned rows for large ones, with
cells of a power-of-two number of pages past about 128k cells, each showing
its "worst" kind (:data:`KIND_RANK`).  :func:`kind_image` and
:func:`band_image` compute these arrays of colour indices, vectorised (about
20 ms for a million pages); :mod:`contig.viz.plot` puts them on the screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..geometry import Geometry
from ..mapfmt import BLOCK_CHARS, KINDS
from ..zone import MigrateType, Zone
from ._check import check_int

__all__ = [
    "BAND_LETTERS",
    "HOLE_HATCH",
    "KIND_COLORS",
    "KIND_INDEX",
    "KIND_LABELS",
    "KIND_ORDER",
    "KIND_RANK",
    "MIGRATETYPE_COLORS",
    "MIGRATETYPE_LABELS",
    "NO_PAGES",
    "NO_PAGES_COLOR",
    "NO_PAGES_LABEL",
    "STYLE",
    "Layout",
    "ZoneState",
    "band_columns",
    "band_image",
    "call_window",
    "choose_layout",
    "kind_cmap",
    "kind_image",
    "kind_legend",
    "kind_legend_handles",
    "kind_norm",
    "marker_legend_handles",
    "migratetype_cmap",
    "migratetype_legend_handles",
    "migratetype_norm",
    "overlay_legend_handles",
    "range_outline",
    "text_color",
]

#: The kinds in colour-map order (the map alphabet of :mod:`contig.mapfmt`).
KIND_ORDER: str = KINDS

#: Map character -> colour (hex).  ``#`` (a hole) is drawn hatched, not filled.
KIND_COLORS: dict[str, str] = {
    ".": "#DDDDDD",  # free in the buddy allocator: pale grey, "empty"
    "M": "#4477AA",  # movable anonymous page: blue
    "F": "#44BB99",  # clean page cache: mint (dropped, not migrated)
    "P": "#AA3377",  # pinned: purple (movable in principle, stuck in practice)
    "U": "#000000",  # unmovable kernel page: black
    "R": "#663333",  # reserved: dark brown
    "T": "#99DDFF",  # transparent huge page: light blue
    "H": "#CC3311",  # hugetlb: red
    "p": "#EEDD88",  # free but parked on a per-CPU list: pale yellow
    "v": "#332288",  # movable, still in the LRU-add pagevec: indigo
    "X": "#EE7733",  # owned by a contiguous allocation: orange
    "#": "#FFFFFF",  # hole: white under a grey hatch
}

#: Short legend labels (the long ones are contig.mapfmt.KIND_DESCRIPTIONS).
KIND_LABELS: dict[str, str] = {
    ".": ". free (buddy)",
    "M": "M movable (anon, LRU)",
    "F": "F clean page cache",
    "P": "P pinned (extra ref)",
    "U": "U unmovable (kernel)",
    "R": "R reserved",
    "T": "T transparent huge page",
    "H": "H hugetlb page",
    "p": "p free, on per-CPU list",
    "v": "v in LRU-add pagevec",
    "X": "X owned by the caller",
    "#": "# hole (no struct page)",
}

#: Hatch pattern of holes.
HOLE_HATCH = "////"
HOLE_EDGE = "#999999"

#: Lookup table: kind code (ASCII byte) -> colour index (255: not a kind).
KIND_INDEX = np.full(256, 255, dtype=np.uint8)
KIND_INDEX[np.frombuffer(KIND_ORDER.encode(), dtype=np.uint8)] = np.arange(len(KIND_ORDER))
KIND_INDEX.flags.writeable = False

#: Pageblock migratetype -> colour, a palette of its own (Paul Tol's light, muted
#: and high-contrast schemes), apart from every page colour.  MOVABLE, the common
#: case, is pale; ISOLATE navy: the blocks being worked on.
MIGRATETYPE_COLORS: dict[MigrateType, str] = {
    MigrateType.UNMOVABLE: "#994455",
    MigrateType.MOVABLE: "#CCEEFF",
    MigrateType.RECLAIMABLE: "#BBCC33",
    MigrateType.HIGHATOMIC: "#EE8866",
    MigrateType.CMA: "#6699CC",
    MigrateType.ISOLATE: "#004488",
}
MIGRATETYPE_LABELS: dict[MigrateType, str] = {
    mt: f"{BLOCK_CHARS[mt]} {mt.procname}" for mt in MigrateType
}
#: Band value of a pageblock none of whose PFNs has an initialised struct page
#: (all ``#``): a hole, or memory that deferred struct-page init has not reached.
NO_PAGES = len(MigrateType)
NO_PAGES_COLOR = "#FFF5CC"
NO_PAGES_LABEL = "block with no struct page (hole or not initialised)"
#: The letter drawn on each band cell (``-``: no struct page).
BAND_LETTERS: dict[int, str] = {**{int(mt): BLOCK_CHARS[mt] for mt in MigrateType}, NO_PAGES: "-"}


def text_color(fill: str) -> str:
    """Black or white, whichever reads better on ``fill`` (relative luminance)."""
    from matplotlib.colors import to_rgb

    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(fill))
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.18 else "white"

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
             "label": "head / tail: freed back"},
    "tail": {"line": {"color": "#CC3311", "linewidth": 2.0, "linestyle": (0, (1.5, 1.5))},
             "label": "tail: freed back"},
    "kept": {"line": {"color": "#EE7733", "linewidth": 2.6}, "label": "kept"},
    "highlight": {"line": {"color": "#EE3377", "linewidth": 2.2}, "label": "this step"},
    "touched": {"line": {"color": "#EE3377", "linewidth": 2.0},
                "label": "pages this step changed (same colour)"},
    "arrow": {"line": {"color": "#222222", "linewidth": 0.9}, "label": "migrated"},
    "mark": {"line": {"color": "#CC3311", "linewidth": 1.8}, "label": "busy / unmovable"},
}

# The colour maps exist once: every image of the package uses these objects.
# Masked cells (holes, PFNs outside the zone) are transparent.
_KIND_CMAP = ListedColormap([KIND_COLORS[c] for c in KIND_ORDER],
                            name="contig_kinds").with_extremes(bad=(0, 0, 0, 0))
_KIND_NORM = Normalize(vmin=-0.5, vmax=len(KIND_ORDER) - 0.5)
_MT_CMAP = ListedColormap([MIGRATETYPE_COLORS[mt] for mt in MigrateType] + [NO_PAGES_COLOR],
                          name="contig_migratetypes").with_extremes(bad=(0, 0, 0, 0))
_MT_NORM = Normalize(vmin=-0.5, vmax=NO_PAGES + 0.5)


def kind_cmap() -> ListedColormap:
    """Return the colour map of page kinds (index :data:`KIND_INDEX` of a map character)."""
    return _KIND_CMAP


def kind_norm() -> Normalize:
    """Return the norm that sends kind index ``i`` to colour ``i`` of :func:`kind_cmap`."""
    return _KIND_NORM


def migratetype_cmap() -> ListedColormap:
    """Return the colour map of pageblock migratetypes (index: MigrateType value)."""
    return _MT_CMAP


def migratetype_norm() -> Normalize:
    """Return the norm that sends MigrateType ``t`` to colour ``t`` of :func:`migratetype_cmap`."""
    return _MT_NORM


def kind_legend_handles(kinds: str | None = None) -> list:
    """Legend patches for ``kinds`` (default: all twelve), holes hatched."""
    out = []
    for c in (KIND_ORDER if kinds is None else kinds):
        if c == "#":
            out.append(Patch(facecolor="white", edgecolor=HOLE_EDGE, hatch=HOLE_HATCH,
                             label=KIND_LABELS[c]))
        else:
            out.append(Patch(facecolor=KIND_COLORS[c], edgecolor="#777777", linewidth=0.5,
                             label=KIND_LABELS[c]))
    return out


def migratetype_legend_handles(types=None, *, no_pages: bool = False) -> list:
    """Legend patches for pageblock migratetypes (default: all six), drawn with a dark
    frame (the band's look) and labelled "block ..."; ``no_pages`` adds the entry of
    blocks without struct pages."""
    out = [Patch(facecolor=MIGRATETYPE_COLORS[MigrateType(t)], edgecolor="#333333",
                 linewidth=1.2, label="block " + MIGRATETYPE_LABELS[MigrateType(t)])
           for t in (MigrateType if types is None else types)]
    if no_pages:
        out.append(Patch(facecolor=NO_PAGES_COLOR, edgecolor="#333333", linewidth=1.2,
                         label=NO_PAGES_LABEL))
    return out


def overlay_legend_handles() -> list:
    """Legend lines for the boundaries and ranges :func:`contig.viz.plot.draw_zone` draws."""
    return [Line2D([], [], **STYLE[k].get("legend", STYLE[k]["line"]), label=STYLE[k]["label"])
            for k in ("pageblock", "max_order", "request", "isolate", "outer", "head")]


def marker_legend_handles(keys) -> list:
    """Legend entries for the markers of :meth:`contig.viz.plot.ZoneView.set_overlays`:
    ``keys`` among ``migrated``, ``migrated_grid``, ``reclaimed``, ``mark``,
    ``failed_blocks``, ``touched``."""
    arrow = STYLE["arrow"]["line"]["color"]
    red = STYLE["mark"]["line"]["color"]
    entries = {
        "migrated": Line2D([], [], color=arrow, linewidth=0.9, marker=">", markersize=4,
                           label="migrated: source -> target"),
        "migrated_grid": [Line2D([], [], linestyle="none", marker="x", color=arrow,
                                 markersize=5, label="migrated from (x)"),
                          Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
                                 markeredgecolor=arrow, markersize=5, label="migrated to (o)")],
        "reclaimed": Line2D([], [], linestyle="none", marker="X", markerfacecolor="white",
                            markeredgecolor="black", markersize=7,
                            label="clean page cache dropped"),
        "mark": Line2D([], [], linestyle="none", marker="o", markerfacecolor="none",
                       markeredgecolor=red, markeredgewidth=1.8, markersize=9,
                       label="the page that stopped the call"),
        "failed_blocks": Line2D([], [], linestyle="none", marker="x", color=red,
                                markeredgewidth=2, markersize=7, label="block refused isolation"),
        "touched": Line2D([], [], linestyle="none", marker="s", markerfacecolor="none",
                          markeredgecolor=STYLE["touched"]["line"]["color"], markersize=8,
                          label=STYLE["touched"]["label"]),
    }
    out: list = []
    for k in keys:
        h = entries[k]
        out.extend(h if isinstance(h, list) else [h])
    return out


def kind_legend(ax, kinds: str | None = None, *, types=None, overlays: bool = False,
                ncol: int | None = None, no_pages: bool = False, markers=(), **kw):
    """Put the page-kind legend (and optionally the block types) *below* ``ax``.

    :param kinds: the map characters to list (default all); pass the kinds
        present in a zone to keep the legend short.
    :param types: migratetypes to add (None: none).
    :param overlays: also list the boundary and range lines.
    :param no_pages: list the band colour of blocks without struct pages.
    :param markers: marker keys to explain (see :func:`marker_legend_handles`).
    :return: the :class:`matplotlib.legend.Legend`.
    """
    handles = kind_legend_handles(kinds)
    if types is not None or no_pages:
        handles += migratetype_legend_handles(types or [], no_pages=no_pages)
    handles += marker_legend_handles(markers)
    if overlays:
        handles += overlay_legend_handles()
    opts = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.16),
            "ncol": ncol or min(4, len(handles)), "fontsize": "small", "frameon": False,
            "handlelength": 1.6, "columnspacing": 1.2}
    opts.update(kw)
    return ax.legend(handles=handles, **opts)


# ------------------------------------------------------------------ images
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
_MT_RANK = [NO_PAGES, MigrateType.MOVABLE, MigrateType.CMA, MigrateType.RECLAIMABLE,
            MigrateType.HIGHATOMIC, MigrateType.UNMOVABLE, MigrateType.ISOLATE]
_BRANK = np.zeros(256, dtype=np.uint8)
_BUNRANK = np.full(len(_MT_RANK) + 1, _BAND_OUTSIDE, dtype=np.uint8)
for _r, _t in enumerate(_MT_RANK, start=1):
    _BRANK[int(_t)] = _r
    _BUNRANK[_r] = int(_t)


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
        """The migratetypes of the pageblocks that hold at least one struct page."""
        seen = np.bincount(self.pageblocks[~self.empty_blocks()], minlength=len(MigrateType))
        return [t for t in MigrateType if seen[t]]

    def empty_blocks(self) -> np.ndarray:
        """Per pageblock: True if none of its PFNs in the zone has a struct page (all ``#``)."""
        pbn = self.geometry.pageblock_nr_pages
        pad = self.start_pfn - self.pageblock_base
        flat = np.full(self.pageblocks.size * pbn, ord("#"), dtype=np.uint8)
        flat[pad: pad + self.kinds.size] = self.kinds[: flat.size - pad]
        return (flat.reshape(-1, pbn) == ord("#")).all(axis=1)

    def band_values(self) -> np.ndarray:
        """Per pageblock: its MigrateType value, or :data:`NO_PAGES` for a block of holes."""
        return np.where(self.empty_blocks(), NO_PAGES, self.pageblocks).astype(np.uint8)

    def kind_at(self, pfn: int) -> str:
        return chr(self.kinds[pfn - self.start_pfn])

    def window(self, lo: int, hi: int) -> ZoneState:
        """The PFNs ``[lo, hi)`` of this state (clipped to it), as a state of their own."""
        lo, hi = check_int("lo", lo), check_int("hi", hi)
        lo, hi = max(lo, self.start_pfn), min(hi, self.end_pfn)
        if lo >= hi:
            raise ValueError(f"window [{lo}, {hi}) is empty or outside the zone")
        if (lo, hi) == (self.start_pfn, self.end_pfn):
            return self
        pbo = self.geometry.pageblock_order
        k0 = (lo >> pbo) - (self.start_pfn >> pbo)
        k1 = ((hi - 1) >> pbo) - (self.start_pfn >> pbo) + 1
        return ZoneState(self.kinds[lo - self.start_pfn: hi - self.start_pfn],
                         self.pageblocks[k0:k1], lo, self.geometry, self.name, None)


def call_window(state: Zone | ZoneState, start: int, end: int, *,
                strip_max: int = 512) -> tuple[int, int]:
    """The PFNs worth drawing for a call on ``[start, end)``: the whole zone if it
    fits a strip, else the aligned range with a MAX_ORDER block of margin each
    side, clipped to the zone.

    The window snaps to a coarse grid, so that nearby calls share it (and an
    app moving the range redraws only the contents): a window of up to
    ``strip_max`` pages is exactly ``strip_max`` wide and starts on a
    multiple of ``strip_max / 4``; a wider one starts and ends on multiples
    of a power of two about a quarter of its width.
    """
    s = ZoneState.of(state)
    start, end = check_int("start", start), check_int("end", end)
    strip_max = check_int("strip_max", strip_max, 1)
    if s.spanned_pages <= strip_max:
        return s.start_pfn, s.end_pfn
    g = s.geometry
    a = g.max_align_nr_pages
    need_lo = g.pfn_max_align_down(start) - a
    need_hi = g.pfn_max_align_up(end) + a
    if need_hi - need_lo <= strip_max:
        step = max(1, strip_max // 4)
        centred = (need_lo + need_hi - strip_max) // 2
        lo = centred // step * step
        if lo + strip_max < need_hi:
            lo += step
        if lo > need_lo:            # the grid leaves no room: centre it instead
            lo = centred
        hi = lo + strip_max
    else:
        step = max(a, 1 << max(0, ((need_hi - need_lo) // 4).bit_length() - 1))
        lo, hi = need_lo // step * step, -(-need_hi // step) * step
    if lo < s.start_pfn:
        lo, hi = s.start_pfn, hi + (s.start_pfn - lo)
    if hi > s.end_pfn:
        lo, hi = max(s.start_pfn, lo - (hi - s.end_pfn)), s.end_pfn
    return lo, hi


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
    s = ZoneState.of(state)
    n, g = s.spanned_pages, s.geometry
    strip_max = check_int("strip_max", strip_max, 1)
    max_cols = check_int("max_cols", max_cols, 1)
    max_cells = check_int("max_cells", max_cells, 1)
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
    s = ZoneState.of(state)
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


def band_columns(layout: Layout, g: Geometry) -> tuple[int, int]:
    """(pageblocks per band cell, band columns) of a grid's side band."""
    per_row = max(1, layout.row_pages // g.pageblock_nr_pages)
    group = max(1, per_row // 16)
    return group, max(1, per_row // group)


def band_image(state: Zone | ZoneState, layout: Layout) -> np.ma.MaskedArray:
    """The pageblock-type image: one row of pageblocks (strip) or one row per grid row.

    Values are MigrateType values, or :data:`NO_PAGES` for a block without
    struct pages (index of :func:`~contig.viz.colors.migratetype_cmap`); a grid cell covering
    several pageblocks shows ISOLATE if any of them is, else the most
    restrictive type.
    """
    s = ZoneState.of(state)
    pb = s.band_values()
    if layout.mode == "strip":
        return np.ma.masked_array(pb.reshape(1, -1), mask=np.zeros((1, pb.size), bool))
    g = s.geometry
    pbn = g.pageblock_nr_pages
    per_row = max(1, layout.row_pages // pbn)
    total = layout.nrows * per_row
    flat = np.full(total, _BAND_OUTSIDE, dtype=np.uint8)
    k0 = (s.pageblock_base - layout.base) // pbn
    flat[k0: k0 + pb.size] = pb[: max(0, min(pb.size, total - k0))]
    group, cols = band_columns(layout, g)
    if group > 1:
        flat = _BUNRANK[_BRANK[flat.reshape(-1, group)].max(axis=1)]
    img = flat.reshape(layout.nrows, cols)
    return np.ma.masked_where(img == _BAND_OUTSIDE, img, copy=False)


def range_outline(layout: Layout, lo: int, hi: int, y0: float = 0.0, y1: float = 1.0) -> np.ndarray:
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
