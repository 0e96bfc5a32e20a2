"""contig.viz.widgets driven as a user would: typed setters and widget
``.value`` changes (which fire the observers); assertions on the drawn arrays
and the text shown, never on pixels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from contig import Geometry, Zone, alloc_contig_range
from contig.viz.colors import KIND_INDEX
from contig.viz.plot import ZoneState, choose_layout, kind_image
from contig.viz.widgets import RangeExplorer, StepPlayer

TINY = Geometry(max_order=4, pageblock_order=2)
MAPS = {
    "frag": ("UUUUMMMMM.MM.M.M........MMMM....", "UMMMMMMM"),
    "free": ("UUUUMMMM........MMMM....MMMM....", "UMMMMMMM"),
    "pad": ("UUUUMMMM..M.MM..M....U..MMMM....", "UMMMMUMM"),
}


def make(name):
    pages, blocks = MAPS[name]
    return Zone.from_map(pages, geometry=TINY, blocks=blocks, name=name)


@pytest.fixture
def zones():
    # name -> callable returning a Zone, as the explorer accepts
    return {name: (lambda n=name: make(n)) for name in MAPS}


@pytest.fixture
def app(zones):
    return RangeExplorer(zones, start=8, end=16)


def kinds_shown(app, which="after"):
    return app.figure_arrays()[which]["kinds"]


def test_explorer_shows_the_result_line_of_the_model(app):
    r = alloc_contig_range(make("frag"), 8, 16)
    assert app.result.summary() == r.summary()
    assert "alloc_contig_range(8, 16) = 0" in app.result_html.value
    assert r.summary() in app.result_html.value
    assert "contig-result" in app.result_html._dom_classes
    assert "contig-range" in app.range_slider._dom_classes
    assert "contig-start" in app.start_box._dom_classes
    assert "contig-end" in app.end_box._dom_classes
    assert "contig-plot" in app.out._dom_classes
    assert len(app.out.outputs) == 1
    assert app.out.outputs[0]["data"]["image/png"]


def test_moving_the_slider_runs_the_call_and_changes_the_figure(app):
    shown = kinds_shown(app).copy()
    app.range_slider.value = (24, 28)
    assert (app.start_box.value, app.end_box.value) == (24, 28)
    assert app.state["start"] == 24 and app.state["end"] == 28
    assert "alloc_contig_range(24, 28) = " in app.result_html.value
    assert not np.array_equal(kinds_shown(app), shown)
    ref = Zone.from_map(MAPS["frag"][0], geometry=TINY, blocks=MAPS["frag"][1])
    alloc_contig_range(ref, 24, 28)
    assert np.array_equal(kinds_shown(app).data[0], KIND_INDEX[ref.kinds()])
    assert app.figure_arrays()["after"]["ranges"]["request"] == (24, 28)


def test_the_same_range_twice_changes_nothing(app):
    app.set_range(9, 14)
    runs, renders = app.runs, app.renders
    arrays = app.figure_arrays()
    png = app.out.outputs[0]["data"]["image/png"]
    app.set_range(9, 14)
    app.range_slider.value = (9, 14)
    app.start_box.value = 9
    assert (app.runs, app.renders) == (runs, renders)
    assert np.array_equal(app.figure_arrays()["after"]["kinds"], arrays["after"]["kinds"])
    assert np.array_equal(app.figure_arrays()["before"]["band"], arrays["before"]["band"])
    assert app.out.outputs[0]["data"]["image/png"] == png


def test_typing_in_the_boxes_moves_the_slider(app):
    app.start_box.value = 2
    assert app.range_slider.value == (2, 16)
    app.end_box.value = 5
    assert app.range_slider.value == (2, 5)
    assert "alloc_contig_range(2, 5) = " in app.result_html.value


def test_inverted_range_is_answered_with_a_message(app):
    before, runs = app.result, app.runs
    app.start_box.value = 20          # start beyond end (16): refused, shown, no traceback
    assert "start (20) must be below end (16)" in app.result_html.value
    assert app.result is before and app.runs == runs
    with pytest.raises(ValueError, match=r"start \(12\) must be below end \(12\)"):
        app.set_range(12, 12)
    assert "must be below end" in app.result_html.value
    app.set_range(8, 12)              # a valid range runs again
    assert "alloc_contig_range(8, 12) = " in app.result_html.value


def test_out_of_range_input_is_clamped(app):
    app.set_range(-50, 10_000)
    assert (app.state["start"], app.state["end"]) == (0, 32)
    assert "clamped" in app.result_html.value
    assert "alloc_contig_range(0, 32) = " in app.result_html.value
    app.end_box.value = 999           # BoundedIntText clamps to its max
    assert app.end_box.value == 32
    with pytest.raises(TypeError, match="start must be an integer, not 'x'"):
        app.set_range("x", 3)
    assert "integers" in app.result_html.value


def test_choosing_a_zone_resets_bounds_and_runs(app):
    app.zone_picker.value = "pad"
    assert app.state["zone"] == "pad"
    assert (app.range_slider.min, app.range_slider.max) == (0, 32)
    app.set_range(10, 18)
    assert app.result.failed_stage == "start_isolate_page_range"
    assert "= -EBUSY" in app.result_html.value
    assert app.figure_arrays()["before"]["failed"].tolist() == [21]
    with pytest.raises(ValueError, match="unknown zone 'nope'"):
        app.set_zone("nope")
    assert "unknown zone" in app.result_html.value
    assert app.state["zone"] == "pad"


def test_explorer_never_changes_its_zones(app):
    base = app.zone
    ref = base.copy()
    for rng in ((8, 16), (0, 32), (10, 14)):
        app.set_range(*rng)
    assert base.state_equal(ref)


def test_figure_arrays_match_a_direct_drawing(app):
    z = make("frag")
    arr = app.figure_arrays()["before"]
    L = choose_layout(ZoneState.of(z))
    assert np.array_equal(arr["kinds"], kind_image(z, L))
    assert np.array_equal(arr["band"][0], z.pageblock_types())
    assert arr["ranges"]["isolate"] == (8, 16)
    assert list(arr["migrated_src"]) == sorted(app.result.migrated)


def test_redraws_replace_the_single_output(app):
    for s in range(0, 24, 3):
        app.set_range(s, s + 5)
    assert len(app.out.outputs) == 1
    assert app.out.outputs[0]["data"]["text/plain"].startswith("<Figure size")


def test_run_button_when_live_update_is_off(zones):
    app = RangeExplorer(zones, start=8, end=16, live=False)
    assert app.result is None and "press Run" in app.result_html.value
    app.range_slider.value = (10, 14)
    assert app.result is None
    app.run_button.click()
    assert app.result.summary().startswith("alloc_contig_range(10, 14) = 0")


def test_a_single_zone_and_the_display_protocol():
    z = make("free")
    app = RangeExplorer(z)
    assert list(app.sources) == ["free"]
    bundle = app._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_explorer_defaults_to_the_course_scenarios():
    scenarios = pytest.importorskip("contig.scenarios")
    app = RangeExplorer()
    first = next(iter(scenarios.SCENARIOS.values()))
    assert app.state["zone"] == first.name
    assert (app.state["start"], app.state["end"]) == (first.start, first.end)
    _, r = first.run()
    assert r.summary() in app.result_html.value


# ------------------------------------------------------------------ StepPlayer
@pytest.fixture
def player():
    r = alloc_contig_range(make("frag"), 8, 16)
    return StepPlayer(r)


def test_each_step_shows_the_zone_after_that_event(player):
    tr = player.trace
    for i in (0, len(tr) // 2, len(tr) - 1):
        player.step_to(i)
        z = tr.zone_at(i)
        arr = player.figure_arrays()
        assert arr["step"] == i
        assert np.array_equal(arr["kinds"].data[0], KIND_INDEX[z.kinds()])
        assert np.array_equal(arr["band"][0], z.pageblock_types())
        assert tr[i].func in player.why.value
        assert "contig-why" in player.why._dom_classes


def test_the_slider_drives_the_player_and_highlights_the_event(player):
    tr = player.trace
    k = next(i for i, e in enumerate(tr) if e.func == "migrate_pages")
    player.slider.value = k
    arr = player.figure_arrays()
    assert player.state["func"] == "migrate_pages"
    assert arr["ranges"]["highlight"] == (tr[k].start_pfn, tr[k].end_pfn)
    assert sorted(arr["migrated_src"]) == sorted(tr[k].fields["migrated"])
    assert "contig-step" in player.slider._dom_classes
    assert player.play.max == player.slider.max == len(tr) - 1


def test_stepping_back_and_out_of_range(player):
    n = len(player.trace)
    player.step_to(n - 1)
    last = player.figure_arrays()["kinds"].copy()
    player.step_to(999)
    assert player.state["step"] == n - 1 and player.slider.value == n - 1
    assert np.array_equal(player.figure_arrays()["kinds"], last)
    player.step_to(-5)
    assert player.state["step"] == 0
    player.next_button.click()
    assert player.state["step"] == 1
    player.prev_button.click()
    assert player.state["step"] == 0


def test_player_from_a_zone_and_range_leaves_the_zone_alone():
    z = make("frag")
    ref = z.copy()
    p = StepPlayer(z, 8, 16)
    assert p.result.ok and z.state_equal(ref)
    with pytest.raises(ValueError, match="trace"):
        StepPlayer(alloc_contig_range(z.copy(), 8, 16, trace=False))


# ------------------------------------------------------------------ large zones and redraws
def big_zone(n=4096, seed=3):
    """A TINY-geometry zone larger than a strip: movable pages, free runs, some unmovable."""
    rng = np.random.default_rng(seed)
    k = rng.choice(np.frombuffer(b"MMMMMMFF.U", np.uint8), n)
    for lo in range(0, n, 64):
        k[lo: lo + int(rng.integers(8, 32))] = ord(".")
    return Zone.from_arrays(k, geometry=TINY, name="big")


def png_pixels(app) -> np.ndarray:
    import base64
    import io

    from PIL import Image

    data = base64.b64decode(app.out.outputs[0]["data"]["image/png"])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def full_draw_pixels(fig) -> np.ndarray:
    """The same figure drawn by matplotlib the ordinary way, every artist at once."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


@pytest.mark.parametrize("kind", ["strip", "grid", "grid zoomed", "player"])
def test_the_picture_sent_is_what_a_full_draw_gives(kind, zones):
    """The apps draw only what changed onto a cached background; the bytes must not differ."""
    if kind == "player":
        app = StepPlayer(alloc_contig_range(make("frag"), 8, 16))
        moves = [lambda i=i: app.step_to(i) for i in (3, 7, 2, 9)]
    else:
        z = make("free") if kind == "strip" else big_zone()
        app = RangeExplorer({"z": z}, start=8, end=16,
                            window="call" if kind == "grid zoomed" else "zone")
        # (12, 13) in "free" needs a taller free-list axis: a new background, then the old one
        moves = [lambda r=r: app.set_range(*r) for r in ((20, 30), (12, 13), (2, 9), (8, 16))]
        if kind != "strip":
            moves += [lambda: app.set_range(2000, 2100), lambda: app.set_range(4000, 4090)]
    for move in moves:
        move()
        assert np.array_equal(png_pixels(app), full_draw_pixels(app.fig))


def test_moving_the_range_over_a_whole_zone_keeps_the_axes(zones):
    app = RangeExplorer({"z": big_zone()}, start=8, end=16)
    assert app.zoom_box.layout.display is None and not app.zoom_box.value
    before_view, layout = app.view.before, app.figure_arrays()["before"]["layout"]
    assert (layout.mode, layout.start_pfn, layout.end_pfn) == ("grid", 0, 4096)
    ylims = {app.view.ax_free.get_ylim()}
    for s in (100, 1500, 3000, 4000):
        app.set_range(s, s + 40)
        ylims.add(app.view.ax_free.get_ylim())
        # the zone panels are updated in place: same view, same axes limits and ticks
        assert app.view.before is before_view
        assert app.figure_arrays()["before"]["layout"] == layout
        assert app.figure_arrays()["after"]["ranges"]["request"] == (s, s + 40)
    # backgrounds are drawn only for a new free-list height, never for a new range
    assert app._blit.full_draws <= len(ylims)


def test_the_zoom_box_zooms_on_the_call_and_back(zones):
    app = RangeExplorer({"z": big_zone()}, start=2000, end=2040)
    whole, png = app.figure_arrays()["before"]["layout"], app._png
    app.zoom_box.value = True
    assert app.view.window == "call"
    zoomed = app.figure_arrays()["before"]["layout"]
    assert whole.start_pfn < zoomed.start_pfn <= 2000 and 2040 <= zoomed.end_pfn < whole.end_pfn
    assert app.figure_arrays()["before"]["ranges"]["request"] == (2000, 2040)
    app.set_range(3000, 3010)                     # zoomed, the view follows the range
    assert app.figure_arrays()["before"]["layout"].start_pfn > 2040
    app.set_window("zone")
    assert not app.zoom_box.value
    assert app.figure_arrays()["before"]["layout"] == whole
    app.set_range(2000, 2040)                     # the first picture, byte for byte
    assert app._png == png
    with pytest.raises(ValueError, match="window must be one of 'zone', 'call', not 'sideways'"):
        app.set_window("sideways")
    assert "window must be" in app.result_html.value
    # a zone that fits one strip has nothing to zoom on: the box is hidden
    small = RangeExplorer(zones)
    assert small.zoom_box.layout.display == "none"
    with pytest.raises(ValueError, match="window"):
        RangeExplorer(zones, window="sideways")


def test_large_zones_are_run_in_bulk_with_the_same_result():
    z = big_zone(8192)
    app = RangeExplorer({"z": z}, start=1000, end=3000)
    slow = z.copy()
    r = alloc_contig_range(slow, 1000, 3000, bulk=False)
    assert app.result.summary() == r.summary() and len(r.migrated) > 100
    assert app.result.migrated == r.migrated
    assert np.array_equal(kinds_shown(app).data, kind_image(slow, choose_layout(slow)).data)


def test_the_free_list_axis_height_depends_only_on_the_counts(app):
    app.set_range(8, 16)
    first = app.view.ax_free.get_ylim()
    app.set_range(0, 32)
    app.set_range(8, 16)
    assert app.view.ax_free.get_ylim() == first
    top = first[1]
    assert top in (1, 2, 3, 5) or str(int(top)).rstrip("0") in ("1", "2", "3", "5")
    assert max(t.max() for t in app.view.free.totals) * 1.15 <= top


# ------------------------------------------------------------------ the geometry picker
def test_the_geometry_picker_regroups_the_same_pages(app):
    from contig import Geometry

    labels = [label for label, _ in app.geometry_picker.options]
    assert "(its own)" in labels[0] and app.geometry_picker.value == TINY
    assert "contig-geometry" in app.geometry_picker._dom_classes
    g = Geometry(max_order=5, pageblock_order=3)       # 16-page blocks, 8-page pageblocks
    assert g in [v for _, v in app.geometry_picker.options]
    app.set_range(9, 11)
    own = app.result
    assert (own.isolate_start, own.isolate_end) == (8, 16)
    app.geometry_picker.value = g                      # as a user picks it
    r = app.result
    assert (r.isolate_start, r.isolate_end) == (0, 16)   # rounded to 16 pages now
    ref = make("frag").with_geometry(g)
    assert r.summary() == alloc_contig_range(ref.copy(), 9, 11).summary()
    assert "not the zone's own geometry" in app.result_html.value
    arr = app.figure_arrays()["before"]
    assert arr["band"][0].size == 4                    # 32 pages / 8-page pageblocks
    assert app.state["start"] == 9 and app.state["end"] == 11   # the range is kept
    app.set_geometry((4, 2))                           # back to its own: the first result
    assert app.result.summary() == own.summary() and app.state["geometry"] is None
    with pytest.raises(ValueError, match=r"geometry=\(40, 2\)"):
        app.set_geometry((40, 2))
    assert "not a geometry" in app.result_html.value and app.result.summary() == own.summary()
    app.zone_picker.value = "pad"                      # a new zone starts at its own geometry
    assert app.geometry_picker.value == TINY and app.state["geometry"] is None


def test_with_geometry_keeps_the_pages_and_regroups_the_rest():
    from contig import Geometry

    z = make("pad")                                    # blocks UMMMMUMM, 4-page pageblocks
    w = z.with_geometry(Geometry(max_order=5, pageblock_order=3))
    w.check()
    assert w.to_map() == z.to_map()
    assert w.blocks_map() == "UMUM"                    # [16, 24) held an unmovable block
    assert max(order for _, order, _ in w.free_blocks()) <= 4
    assert z.with_geometry(TINY).state_equal(z)
    with pytest.raises(ValueError, match="geometry"):
        z.with_geometry((5, 3))


def test_a_scenario_description_is_shown_only_under_its_own_geometry():
    scenarios = pytest.importorskip("contig.scenarios")
    sc = scenarios.SCENARIOS["unmovable-padding"]
    app = RangeExplorer({"pad": sc})
    assert sc.description[:40] in app.result_html.value
    app.set_geometry((5, 3))
    assert sc.description[:40] not in app.result_html.value
    assert "under MAX_ORDER 5, pageblock_order 3" in app.result_html.value
    app.set_geometry((4, 2))
    assert sc.description[:40] in app.result_html.value
