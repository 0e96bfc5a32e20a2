"""contig.viz.plot: what is drawn (image arrays, line and bracket positions,
arrow endpoints, text), never pixels.  Drawn on bare Figures with Agg."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from contig import Geometry, MigrateType, Zone, alloc_contig_range
from contig.mapfmt import KINDS
from contig.viz import colors
from contig.viz.colors import KIND_INDEX, kind_cmap
from contig.viz.plot import (
    ZoneState,
    choose_layout,
    draw_alignment,
    draw_free_lists,
    draw_head_tail,
    draw_isolation,
    draw_migration,
    draw_zone,
    kind_image,
    plot_result,
)

TINY = Geometry(max_order=4, pageblock_order=2)
#            0   4   8   12  16  20  24  28
FRAG = "UUUUMMMMM.MM.M.M........MMMM...."
FILE = "UUUUMMMMFFM.F.MF........MMMM...."


def ax_():
    return Figure(figsize=(8, 3)).add_subplot()


def zone(pages=FRAG, blocks="UMMMMMMM", **kw):
    kw.setdefault("geometry", TINY)
    return Zone.from_map(pages, blocks=blocks, **kw)


def idx(pages: str) -> np.ndarray:
    return KIND_INDEX[np.frombuffer(pages.encode(), np.uint8)]


def test_import_contig_does_not_import_matplotlib_or_ipywidgets():
    code = ("import sys, contig; r = contig.alloc_contig_range; "
            "bad = [m for m in ('matplotlib', 'ipywidgets', 'contig.viz') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_import_contig_viz_does_not_import_ipywidgets_or_pyplot():
    code = ("import sys, contig.viz; "
            "bad = [m for m in ('ipywidgets', 'matplotlib.pyplot') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_kind_colors_cover_every_map_character_once():
    assert set(colors.KIND_COLORS) == set(KINDS)
    assert colors.KIND_ORDER == KINDS
    assert len(KINDS) == kind_cmap().N
    assert set(colors.MIGRATETYPE_COLORS) == set(MigrateType)
    fills = [colors.KIND_COLORS[c] for c in KINDS if c != "#"]
    assert len(set(fills)) == len(fills), "two kinds share a colour"
    # colour i of the map is the colour of kind i
    for i, c in enumerate(KINDS):
        got = kind_cmap()(colors.kind_norm()(i))
        assert matplotlib.colors.to_hex(got) == colors.KIND_COLORS[c].lower()


# Machado, Oliveira & Fernandes (2009), severity 1.0, applied to linear RGB.
CVD = {
    "normal": np.eye(3),
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}


def _lab(hexcolor: str, m) -> np.ndarray:
    rgb = np.array(matplotlib.colors.to_rgb(hexcolor))
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    lin = np.clip(np.asarray(m) @ lin, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ lin / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("vision", list(CVD))
def test_page_kind_colours_stay_apart_for_colour_blind_readers(vision):
    fills = {c: _lab(colors.KIND_COLORS[c], CVD[vision]) for c in KINDS if c != "#"}
    dist, a, b = min((float(np.linalg.norm(fills[a] - fills[b])), a, b)
                     for i, a in enumerate(fills) for b in list(fills)[i + 1:])
    assert dist > 15, f"{a!r} and {b!r} are only {dist:.1f} apart (CIELAB) under {vision}"


def test_one_colour_map_object_is_used_by_every_plot():
    z = zone()
    r = alloc_contig_range(z.copy(), 8, 16)
    views = [draw_zone(ax_(), z), draw_alignment(ax_(), z, 9, 14), draw_migration(ax_(), r),
             draw_isolation(ax_(), r), draw_head_tail(ax_(), r)]
    fig = plot_result(r, fig=Figure())
    views += [fig.contig.before, fig.contig.after]
    big = Zone.from_arrays(np.full(4096, ord("M"), np.uint8), geometry=TINY)
    views.append(draw_zone(ax_(), big))
    for v in views:
        assert v.image.cmap is kind_cmap()
        assert v.band.cmap is colors.migratetype_cmap()


def test_strip_image_is_the_kind_of_every_pfn_and_holes_are_masked():
    pages = "MM..##FPUR" "TTHHpvX." "...."
    z = Zone.from_map(pages, geometry=TINY, start_pfn=4)
    v = draw_zone(ax_(), z)
    img = v.image.get_array()
    assert v.layout.mode == "strip" and img.shape == (1, len(pages))
    assert np.array_equal(img.data[0], idx(pages))
    assert np.array_equal(img.mask[0], np.array([c == "#" for c in pages]))
    # free pages are coloured, holes show the hatched patch behind the image
    assert not img.mask[0][pages.index(".")]
    assert v.hole_patch.get_hatch() == colors.HOLE_HATCH
    assert v.image.get_extent() == [4, 4 + len(pages), 0.0, 1.0]


def test_boundaries_sit_on_pageblocks_and_max_order_blocks():
    z = zone(start_pfn=0)
    v = draw_zone(ax_(), z)
    pb = sorted({seg[0][0] for seg in v.lines["pageblock"].get_segments()})
    mo = sorted({seg[0][0] for seg in v.lines["max_order"].get_segments()})
    assert pb == list(range(4, 32, 4))
    assert mo == [8, 16, 24]


def test_alignment_overlay_draws_request_and_aligned_range():
    z = zone()
    v = draw_alignment(ax_(), z, 9, 14)
    assert v.ranges == {"request": (9, 14), "isolate": (8, 16)}
    req = v.overlays["request"][0]
    assert list(req.get_xdata()) == [9, 9, 14, 14]
    texts = [a.get_text() for a in v.overlays["request"] + v.overlays["isolate"]
             if hasattr(a, "get_text")]
    assert "request [9, 14)" in texts and "isolated [8, 16)" in texts


def test_band_shows_isolate_during_and_the_refusing_block():
    z = zone("UUUUMMMM..M.MM..M....U..MMMM....", "UMMMMUMM")
    r = alloc_contig_range(z.copy(), 10, 18)
    assert r.failed_stage == "start_isolate_page_range"
    before = draw_isolation(ax_(), r, "before").band.get_array()
    during = draw_isolation(ax_(), r, "during")
    after = draw_isolation(ax_(), r, "after").band.get_array()
    iso = int(MigrateType.ISOLATE)
    assert not (before == iso).any()
    # blocks [8, 20) were isolated before [20, 24) refused (PFN 21 is unmovable)
    assert list(during.band.get_array()[0]) == [0, 1, iso, iso, iso, 0, 1, 1]
    assert not (after == iso).any()
    assert during.marks["failed_blocks"] == [(20, 24)]
    assert during.marks["failed"] == [21]
    texts = [a.get_text() for a in during.overlays["failed"] if hasattr(a, "get_text")]
    assert any("PFN 21 (U) unmovable" in t for t in texts)


def test_migration_arrows_run_from_each_source_to_its_target():
    z = zone()
    r = alloc_contig_range(z.copy(), 8, 16)
    v = draw_migration(ax_(), r)
    arrows = [a for a in v.overlays["migration"] if isinstance(a, FancyArrowPatch)]
    assert len(arrows) == len(r.migrated) > 0
    ends = sorted(tuple(e) for e in v.marks["arrow_ends"])
    assert ends == sorted((s + 0.5, 1.0, d + 0.5, 1.0) for s, d in r.migrated.items())
    assert list(v.marks["migrated_src"]) == sorted(r.migrated)


def test_dropped_page_cache_is_marked_not_arrowed():
    z = zone(FILE)
    r = alloc_contig_range(z.copy(), 8, 16)
    v = draw_migration(ax_(), r)
    assert sorted(v.marks["reclaimed"]) == sorted(r.reclaimed) == [8, 9, 12, 15]
    offsets = v.overlays["reclaimed"][0].get_offsets()
    assert sorted(offsets[:, 0]) == [8.5, 9.5, 12.5, 15.5]
    assert set(r.migrated).isdisjoint(r.reclaimed)


def test_head_and_tail_brackets_around_the_kept_range():
    z = zone("UUUUMMMM........MMMM....MMMM....")
    r = alloc_contig_range(z.copy(), 10, 14)
    v = draw_head_tail(ax_(), r)
    assert (r.outer_start, r.outer_end) == (8, 16)
    assert v.ranges["head"] == (8, 10)
    assert v.ranges["kept"] == (10, 14)
    assert v.ranges["tail"] == (14, 16)
    assert list(v.overlays["head"][0].get_xdata()) == [8, 8, 10, 10]
    # the kept pages are drawn as owned by the caller
    img = v.image.get_array().data[0]
    assert (img[10:14] == KIND_INDEX[ord("X")]).all()


def test_large_zone_grid_downsamples_to_the_worst_kind():
    g = Geometry()
    n = 1 << 20
    kinds = np.full(n, ord("."), np.uint8)
    kinds[100] = ord("U")          # one unmovable page in the first cell
    kinds[8 * 5: 8 * 6] = ord("M")  # cell 5 all movable
    kinds[8 * 7: 8 * 8] = ord("#")  # cell 7 a hole
    z = Zone.from_arrays(kinds, geometry=g)
    L = choose_layout(z)
    assert L.mode == "grid" and L.row_pages % g.max_order_nr_pages == 0
    assert L.cell_pages == 8 and L.nrows * L.ncols <= 1 << 17
    img = kind_image(z, L)
    assert img.shape == (L.nrows, L.ncols)
    assert img[0, 100 // 8] == KIND_INDEX[ord("U")]
    assert img[0, 5] == KIND_INDEX[ord("M")]
    assert img.mask[0, 7] and not img.mask[0, 6]
    assert img[0, 6] == KIND_INDEX[ord(".")]
    maj = kind_image(z, L, reduce="majority")
    assert maj[0, 100 // 8] == KIND_INDEX[ord(".")]


def test_grid_range_outline_follows_the_rows():
    z = Zone.from_arrays(np.full(4096, ord("M"), np.uint8), geometry=TINY)
    v = draw_zone(ax_(), z, request=(130, 400))
    L = v.layout
    assert L.mode == "grid" and L.row_pages == 128
    poly = v.overlays["request"][0]
    xy = poly.get_xy()[:-1]  # closed polygon: last vertex repeats the first
    assert [tuple(p) for p in xy] == [(2, 1), (128, 1), (128, 3), (16, 3), (16, 4),
                                      (0, 4), (0, 2), (2, 2)]


def test_free_lists_chart_stacks_counts_by_migratetype():
    z = zone()
    r = alloc_contig_range(after := z.copy(), 8, 16)
    assert r.ok
    fv = draw_free_lists(ax_(), z, compare=after)
    vals = fv.arrays()["values"]
    assert np.array_equal(vals[0], z.free_list_counts())
    assert np.array_equal(vals[1], after.free_list_counts())
    assert len(fv.collections) == 2 and fv.collections[1].get_hatch()
    pages = draw_free_lists(ax_(), z, unit="pages").arrays()["totals"][0]
    assert pages.sum() == z.nr_free_pages_on_lists(include_isolate=True)


def test_plot_result_has_a_stable_size_and_axes_count():
    z = zone()
    figs = [plot_result(alloc_contig_range(z.copy(), s, e), fig=Figure(figsize=(10, 7.5)))
            for s, e in ((8, 16), (1, 3), (20, 24))]
    assert {(len(f.axes), tuple(f.get_size_inches())) for f in figs} == {(3, (10.0, 7.5))}


def test_set_state_changes_the_image_in_place():
    z = zone()
    after = z.copy()
    alloc_contig_range(after, 8, 16)
    v = draw_zone(ax_(), z)
    image = v.image
    first = v.image.get_array().copy()
    v.set_state(after)
    assert v.image is image
    assert not np.array_equal(v.image.get_array(), first)
    assert np.array_equal(v.image.get_array().data[0], KIND_INDEX[after.kinds()])


def test_drawing_leaves_pyplot_alone():
    import matplotlib.pyplot as plt
    before = plt.get_fignums()
    z = zone()
    r = alloc_contig_range(z.copy(), 8, 16)
    draw_zone(ax_(), z, request=(8, 16))
    plot_result(r, fig=Figure())
    assert plt.get_fignums() == before


def test_zone_state_window_keeps_the_pageblocks_it_overlaps():
    s = ZoneState.of(zone())
    w = s.window(6, 13)
    assert (w.start_pfn, w.end_pfn) == (6, 13)
    assert w.kinds.tobytes().decode() == FRAG[6:13]
    assert list(w.pageblocks) == list(s.pageblocks[1:4])
    v = draw_zone(ax_(), w)
    assert v.band.get_extent()[:2] == [4, 16]


@pytest.mark.parametrize("bad", ["diagonal", ""])
def test_unknown_layout_mode_is_refused(bad):
    with pytest.raises(ValueError, match="mode"):
        choose_layout(zone(), mode=bad)


def test_free_list_heights_snap_to_round_numbers():
    from contig.viz.plot import _nice_ceiling

    got = [_nice_ceiling(y) for y in (0, 0.5, 1, 1.01, 2.5, 3, 4.2, 5.5, 11, 29, 31, 4100)]
    assert got == [1, 1, 1, 2, 3, 3, 5, 10, 20, 30, 50, 5000]


def test_call_window_covers_the_call_and_snaps_to_a_coarse_grid():
    from contig.viz.plot import call_window

    g = Geometry(max_order=4, pageblock_order=2)
    z = Zone.from_map("M" * 4096, geometry=g)
    a = g.max_align_nr_pages
    rng = np.random.default_rng(5)
    windows = set()
    for start in range(0, 4000, 3):
        end = start + int(rng.integers(1, 96))
        lo, hi = call_window(z, start, end)
        assert lo >= 0 and hi <= 4096
        assert lo <= max(0, g.pfn_max_align_down(start) - a)
        assert hi >= min(4096, g.pfn_max_align_up(end) + a)
        assert hi - lo == 512            # small calls: always one strip's width
        windows.add((lo, hi))
    # sliding the range over the zone page by page meets few windows (one per 128 pages)
    assert len(windows) <= 4096 // 128 + 1
    lo, hi = call_window(z, 1000, 3000)  # a large call: a grid whose edges sit on 256s
    assert lo <= 1000 - 1000 % a - a and hi >= 3000 + a and lo % 256 == 0 and hi % 256 == 0


def test_alignment_legend_lists_only_the_lines_drawn():
    from contig.viz.plot import draw_alignment

    g = Geometry(max_order=4, pageblock_order=2)
    strip = draw_alignment(ax_(), Zone.from_map("M" * 32, geometry=g), 9, 13)
    labels = [t.get_text() for t in strip.legend.get_texts()]
    assert {"pageblock boundary", "MAX_ORDER block boundary"} <= set(labels)
    assert set(strip.lines) >= {"pageblock", "max_order"}
    grid = draw_alignment(ax_(), Zone.from_map("M" * 2048, geometry=g), 900, 913)
    assert grid.layout.mode == "grid"
    labels = [t.get_text() for t in grid.legend.get_texts()]
    assert "pageblock boundary" not in labels and "isolated (aligned) range" in labels
    assert "MAX_ORDER block" in grid.legend.get_title().get_text()
    assert grid.ranges["isolate"] == (896, 920)
