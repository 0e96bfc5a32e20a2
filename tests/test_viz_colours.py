"""Issue 13, section 2: no colour with two meanings (page kinds and pageblock types
apart, for colour-blind readers too), letters on cells and blocks so colour is never
the only clue, a clearly visible isolated mark, blocks without struct pages in a
colour and legend entry of their own, markers explained, consistent axis units."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure
from test_viz_plot import CVD, _lab

from contig import Geometry, Zone, alloc_contig_range, scenarios
from contig.mapfmt import KINDS
from contig.viz import colors
from contig.viz.plot import draw_zone
from contig.zone import MigrateType

TINY = Geometry(max_order=4, pageblock_order=2)
BAND = {**{int(t): c for t, c in colors.MIGRATETYPE_COLORS.items()},
        colors.NO_PAGES: colors.NO_PAGES_COLOR}


@pytest.mark.parametrize("vision", list(CVD))
def test_no_block_colour_is_also_a_page_colour(vision):
    # issue 13: movable page and Movable block shared a blue, kernel page and Isolate
    # block a black, page cache and Reclaimable block a teal
    pages = {c: _lab(colors.KIND_COLORS[c], CVD[vision]) for c in KINDS if c != "#"}
    for t, col in BAND.items():
        lab = _lab(col, CVD[vision])
        dist, c = min((float(np.linalg.norm(lab - v)), c) for c, v in pages.items())
        assert dist > 9, f"block colour {t} is {dist:.1f} from page kind {c!r} under {vision}"


@pytest.mark.parametrize("vision", list(CVD))
def test_block_colours_stay_apart_from_each_other(vision):
    labs = {t: _lab(c, CVD[vision]) for t, c in BAND.items()}
    keys = list(labs)
    dist, a, b = min((float(np.linalg.norm(labs[a] - labs[b])), a, b)
                     for i, a in enumerate(keys) for b in keys[i + 1:])
    assert dist > 18, f"block colours {a} and {b} only {dist:.1f} apart under {vision}"


def _texts(view, attr):
    return list(getattr(view, attr + "_text"))


def test_every_block_carries_its_letter_and_isolated_ones_a_bold_white_i():
    z = Zone.from_map("UUUUMMMMM.MM.M.M........MMMM....", geometry=TINY, blocks="UMMMMMMM")
    r = alloc_contig_range(z.copy(), 8, 16, trace=True)
    during = r.events.zone_at(next(e.seq for e in r.events
                                   if e.func == "start_isolate_page_range"))
    ax = Figure(figsize=(9.6, 3)).add_subplot()
    view = draw_zone(ax, during, legend=False)
    assert _texts(view, "band_letters") == list("UMIIMMMM")   # Movable ones too, now
    # the I is a bold white glyph, 7.5 pt, on the navy block (markers: one per letter)
    i = next(sc for sc in view.band_letters if sc.get_offsets().shape[0] == 2
             and sc.get_paths()[0] is not None and "mathbf{I}" in str(sc._contig_marker))
    assert matplotlib.colors.to_hex(i.get_facecolor()[0]) == "#ffffff"
    assert i.get_sizes()[0] >= 7.5 ** 2
    assert sorted(i.get_offsets()[:, 0].tolist()) == [10.0, 14.0]


def test_page_cells_carry_their_map_letters_when_there_is_room():
    z = Zone.from_map("UUUUMMMMF.MMTT.v", geometry=TINY, blocks="UMMM")
    ax = Figure(figsize=(9.6, 3)).add_subplot()
    view = draw_zone(ax, z, legend=False)
    want = [c for c in z.to_map() if c not in ".#"]
    assert _texts(view, "page_letters") == want
    # a 256-page strip has no room: no letters
    big = Zone.from_map("M" * 256, geometry=TINY)
    ax2 = Figure(figsize=(9.6, 3)).add_subplot()
    assert draw_zone(ax2, big, legend=False).page_letters_text == ""


def test_blocks_without_struct_pages_are_not_painted_movable():
    # the real Normal snapshot's last 16 GiB (deferred init) read as holes in MOVABLE blocks
    z = Zone.from_map("MMMM....########", geometry=TINY, blocks="MMMM")
    ax = Figure(figsize=(9.6, 3)).add_subplot()
    view = draw_zone(ax, z, legend="present")
    assert view.band.get_array()[0].tolist() == [MigrateType.MOVABLE, MigrateType.MOVABLE,
                                                  colors.NO_PAGES, colors.NO_PAGES]
    labels = [t.get_text() for t in view.legend.get_texts()]
    assert colors.NO_PAGES_LABEL in labels
    rgba = colors.migratetype_cmap()(colors.migratetype_norm()(colors.NO_PAGES))
    assert matplotlib.colors.to_hex(rgba) == colors.NO_PAGES_COLOR.lower()


def test_grid_markers_are_explained_in_the_legend():
    sc = scenarios.get("fragmented")
    z = sc.zone()
    r = alloc_contig_range(z.copy(), sc.start, sc.end)
    ax = Figure(figsize=(9.6, 4)).add_subplot()
    view = draw_zone(ax, z, mode="grid", migrated=r.migrated, legend="present")
    labels = [t.get_text() for t in view.legend.get_texts()]
    assert "migrated from (x)" in labels and "migrated to (o)" in labels


def test_the_app_legend_separates_pages_blocks_and_markers():
    pytest.importorskip("ipywidgets")
    from contig.viz.widgets import legend_html

    h = legend_html()
    pages, blocks = h.index("pages:"), h.index("pageblocks:")
    assert pages < blocks < h.index("markers:")
    assert "migrated from" in h and "migrated to" in h and "not initialised" in h
    assert "half-open" in h


def test_grid_row_ticks_are_round_and_carry_the_address():
    n = 1 << 16
    z = Zone.from_map("M" * n, geometry=Geometry(11, 9), start_pfn=5 << 18)
    ax = Figure(figsize=(9.6, 4)).add_subplot()
    view = draw_zone(ax, z, legend=False)
    fig = ax.figure
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    L = view.layout
    pfns = [L.base + round(y) * L.row_pages for y in ax.get_yticks()]
    assert all(p % (L.row_pages * 2) == 0 for p in pfns[1:])      # rows a power of two apart
    assert labels[0] == "1310720\n5 GiB"


def test_hex_pfns_on_request_so_a_hex_title_sits_over_hex_labels():
    # notebook 03 titles its alignment figure in hex; the axis spoke decimal
    from contig.viz import draw_alignment

    z = Zone.from_map("." * 0x1800, geometry=Geometry(), start_pfn=0x11800)
    ax = Figure(figsize=(10, 4)).add_subplot()
    draw_alignment(ax, z, 0x12345, 0x12545, pfn_format="hex")
    ax.figure.canvas.draw()
    assert ax.get_title().startswith("pfn_max_align: request [0x12345, 0x12545) is isolated "
                                     "as [0x12000, 0x12800)")
    assert [t.get_text().split("\n")[0] for t in ax.get_yticklabels()][:2] == ["0x11800",
                                                                                 "0x12000"]
    with pytest.raises(ValueError, match="pfn_format must be one of 'dec', 'hex', not 'oct'"):
        draw_alignment(ax, z, 0x12345, 0x12545, pfn_format="oct")
