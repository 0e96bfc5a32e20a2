"""The one colour scheme of the course: page kinds and pageblock migratetypes.

Every figure of contig takes its colours from here, so a movable page is the
same blue in every notebook.  The colours come from Paul Tol's colour-blind
safe schemes (https://personal.sron.nl/~pault/): eleven kinds of page and a
hole, chosen so that every pair stays apart (CIELAB distance above 15) for
normal vision and under simulated protanopia, deuteranopia and tritanopia
(Machado et al. 2009), with families a student can learn: free pages pale,
movable pages blue and green, obstacles dark and warm, the pages a
contiguous allocation owns orange.  Holes (PFNs with no ``struct page``) are
not a colour at all: they are left transparent over a hatched background.

The pageblock band uses a second scheme, with ISOLATE black so that the
isolated blocks stand out.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..mapfmt import BLOCK_CHARS, KINDS
from ..zone import MigrateType

__all__ = [
    "HOLE_HATCH",
    "KIND_COLORS",
    "KIND_INDEX",
    "KIND_LABELS",
    "KIND_ORDER",
    "MIGRATETYPE_COLORS",
    "MIGRATETYPE_LABELS",
    "kind_cmap",
    "kind_legend",
    "kind_legend_handles",
    "kind_norm",
    "migratetype_cmap",
    "migratetype_legend_handles",
    "migratetype_norm",
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

#: Pageblock migratetype -> colour.  ISOLATE black: the blocks being worked on.
MIGRATETYPE_COLORS: dict[MigrateType, str] = {
    MigrateType.UNMOVABLE: "#882255",
    MigrateType.MOVABLE: "#4477AA",
    MigrateType.RECLAIMABLE: "#44BB99",
    MigrateType.HIGHATOMIC: "#DDCC77",
    MigrateType.CMA: "#117733",
    MigrateType.ISOLATE: "#000000",
}
MIGRATETYPE_LABELS: dict[MigrateType, str] = {
    mt: f"{BLOCK_CHARS[mt]} {mt.procname}" for mt in MigrateType
}

# The colour maps exist once: every image of the package uses these objects.
# Masked cells (holes, PFNs outside the zone) are transparent.
_KIND_CMAP = ListedColormap([KIND_COLORS[c] for c in KIND_ORDER],
                            name="contig_kinds").with_extremes(bad=(0, 0, 0, 0))
_KIND_NORM = Normalize(vmin=-0.5, vmax=len(KIND_ORDER) - 0.5)
_MT_CMAP = ListedColormap([MIGRATETYPE_COLORS[mt] for mt in MigrateType],
                          name="contig_migratetypes").with_extremes(bad=(0, 0, 0, 0))
_MT_NORM = Normalize(vmin=-0.5, vmax=len(MigrateType) - 0.5)


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


def migratetype_legend_handles(types=None) -> list:
    """Legend patches for pageblock migratetypes (default: all six)."""
    return [Patch(facecolor=MIGRATETYPE_COLORS[MigrateType(t)], edgecolor="#777777",
                  linewidth=0.5, label="block " + MIGRATETYPE_LABELS[MigrateType(t)])
            for t in (MigrateType if types is None else types)]


def overlay_legend_handles() -> list:
    """Legend lines for the boundaries and ranges :func:`contig.viz.plot.draw_zone` draws."""
    from .plot import STYLE
    return [Line2D([], [], **STYLE[k]["legend"], label=STYLE[k]["label"])
            for k in ("pageblock", "max_order", "request", "isolate", "outer")]


def kind_legend(ax, kinds: str | None = None, *, types=None, overlays: bool = False,
                ncol: int | None = None, **kw):
    """Put the page-kind legend (and optionally the block types) *below* ``ax``.

    :param kinds: the map characters to list (default all); pass the kinds
        present in a zone to keep the legend short.
    :param types: migratetypes to add (None: none).
    :param overlays: also list the boundary and range lines.
    :return: the :class:`matplotlib.legend.Legend`.
    """
    handles = kind_legend_handles(kinds)
    if types is not None:
        handles += migratetype_legend_handles(types)
    if overlays:
        handles += overlay_legend_handles()
    opts = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.16),
            "ncol": ncol or min(4, len(handles)), "fontsize": "small", "frameon": False,
            "handlelength": 1.6, "columnspacing": 1.2}
    opts.update(kw)
    return ax.legend(handles=handles, **opts)
