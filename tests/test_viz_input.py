"""Issues 12 (section 3) and 13 (section 2): the apps refuse bad input with a message
naming the argument and the value and change nothing; their controls never disagree;
their text describes the range on screen; the isolation figure's titles are true to
v4.4 for every outcome."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from matplotlib.figure import Figure

from contig import Geometry, Zone, alloc_contig_range, scenarios
from contig.viz.colors import ZoneState, call_window, choose_layout
from contig.viz.plot import (
    ResultFigure,
    draw_alignment,
    draw_free_lists,
    draw_isolation,
    draw_zone,
)
from contig.viz.widgets import WHY_HEIGHT, RangeExplorer, StepPlayer

TINY = Geometry(max_order=4, pageblock_order=2)


def frag():
    return Zone.from_map("UUUUMMMMM.MM.M.M........MMMM....", geometry=TINY, blocks="UMMMMMMM",
                         name="frag")


@pytest.fixture
def app():
    return RangeExplorer({"frag": frag, "other": frag}, start=8, end=16)


def shown(app):
    return (app.state["start"], app.state["end"], app.range_slider.value,
            app.start_box.value, app.end_box.value, app.result.summary())


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(("start", "end", "exc", "word"), [
    (0, math.inf, TypeError, "end must be an integer, not inf"),
    (8.7, 16, TypeError, "start must be an integer, not 8.7"),
    ("8", 16, TypeError, "start must be an integer, not '8'"),
    (True, 16, TypeError, "start must be an integer, not True"),
    (8, 16.0, TypeError, "end must be an integer, not 16.0"),
    (12, 12, ValueError, r"start \(12\) must be below end \(12\)"),
])
def test_set_range_refuses_what_it_used_to_truncate(app, start, end, exc, word):
    app.set_range(9, 14)
    before = shown(app)
    with pytest.raises(exc, match=word):
        app.set_range(start, end)
    assert shown(app) == before                       # state, controls and result unchanged
    assert "must be" in app.result_html.value


def test_numpy_integers_are_pfns(app):
    app.set_range(np.int64(9), np.uint8(14))
    assert (app.state["start"], app.state["end"]) == (9, 14)


@pytest.mark.parametrize(("kw", "exc", "word"), [
    ({"zone": "nope"}, ValueError, "zone='nope' is not one of frag, other"),
    ({"zone": 3}, TypeError, "zone must be a name"),
    ({"start": 2.5}, TypeError, "start must be an integer, not 2.5"),
    ({"end": "9"}, TypeError, "end must be an integer, not '9'"),
    ({"live": "yes"}, TypeError, "live must be True or False, not 'yes'"),
    ({"dpi": -80}, ValueError, "dpi must be a finite positive number, not -80"),
    ({"dpi": math.nan}, ValueError, "dpi must be a finite positive number, not nan"),
    ({"strip_max": 0}, ValueError, "strip_max must be at least 1, not 0"),
    ({"strip_max": 512.0}, TypeError, "strip_max must be an integer, not 512.0"),
    ({"window": "sideways"}, ValueError, "window must be one of 'zone', 'call', not 'sideways'"),
    ({"figsize": (9, -1)}, ValueError, "figsize height must be a finite positive number"),
    ({"figsize": 9}, TypeError, "figsize must be"),
])
def test_range_explorer_constructor_refuses_bad_input(kw, exc, word):
    with pytest.raises(exc, match=word):
        RangeExplorer({"frag": frag, "other": frag}, **kw)


def test_setters_refuse_and_leave_everything_as_it_was(app):
    before = shown(app)
    with pytest.raises(ValueError, match="unknown zone 'nope'"):
        app.set_zone("nope")
    with pytest.raises(TypeError, match="zone must be a name"):
        app.set_zone(None)
    with pytest.raises(TypeError, match=r"geometry max_order must be an integer, not 4\.5"):
        app.set_geometry((4.5, 2))
    with pytest.raises(TypeError, match="geometry must be a Geometry"):
        app.set_geometry("big")
    with pytest.raises(ValueError, match="window must be one of"):
        app.set_window(True)
    with pytest.raises(TypeError, match="start must be an integer"):
        app.set_zone("other", start=1.5)
    assert shown(app) == before and app.state["zone"] == "frag"


def test_the_live_app_answers_bad_input_with_a_message_not_a_traceback(app):
    before = shown(app)
    app._on_zone({"new": "nope"})           # what an observer gets from the browser
    assert "unknown zone" in app.result_html.value
    app._on_geometry({"new": (99, 2)})
    assert "geometry=(99, 2)" in app.result_html.value
    assert shown(app) == before


@pytest.mark.parametrize(("kw", "exc", "word"), [
    ({"interval": -1}, ValueError, "interval must be at least 1, not -1"),
    ({"interval": 0}, ValueError, "interval must be at least 1, not 0"),
    ({"interval": 1.5}, TypeError, "interval must be an integer, not 1.5"),
    ({"dpi": 0}, ValueError, "dpi must be a finite positive number, not 0"),
    ({"strip_max": "512"}, TypeError, "strip_max must be an integer, not '512'"),
    ({"start": 8.0, "end": 16}, TypeError, "start must be an integer, not 8.0"),
])
def test_step_player_constructor_refuses_bad_input(kw, exc, word):
    with pytest.raises(exc, match=word):
        StepPlayer(scenarios.get("fragmented"), **kw)


def test_step_player_refuses_range_options_with_a_recorded_result():
    r = alloc_contig_range(frag(), 8, 16)
    with pytest.raises(ValueError, match="start, end, migratetype and options"):
        StepPlayer(r, start=8, end=16)


def test_step_to_refuses_floats_and_strings():
    p = StepPlayer(alloc_contig_range(frag(), 8, 16))
    p.step_to(3)
    for bad, exc in ((2.7, TypeError), ("4", TypeError), (True, TypeError)):
        with pytest.raises(exc, match=f"step must be an integer, not {bad!r}"):
            p.step_to(bad)
        assert p.state["step"] == 3 and p.slider.value == 3
    p._safe_step(2.7)                     # from a control: a message, no traceback
    assert "step must be an integer" in p.why.value and p.state["step"] == 3


# ------------------------------------------------------------------ one source of truth
def test_slider_handles_meeting_keep_a_non_empty_range_and_all_controls_agree(app):
    app.range_slider.value = (30, 30)        # issue 13: "30 - 30" with the box at 29
    assert app.range_slider.value == (30, 31)
    assert (app.start_box.value, app.end_box.value) == (30, 31)
    assert app.result.summary().startswith("alloc_contig_range(30, 31)")
    app.range_slider.value = (32, 32)        # at the top end: the range moves down
    assert app.range_slider.value == (31, 32) and app.result.start == 31


def test_typing_an_end_below_start_puts_the_box_back(app):
    app.set_range(10, 14)
    app.end_box.value = 6                    # below start: refused
    assert "start (10) must be below end (6)" in app.result_html.value
    assert app.end_box.value == 14 and app.range_slider.value == (10, 14)
    assert app.figure_arrays()["before"]["ranges"]["request"] == (10, 14)
    assert app.result.end == 14


def test_large_zones_move_the_slider_by_pageblocks():
    z = Zone.from_map("M" * 8192 + "." * 8192, geometry=Geometry(max_order=11,
                                                                  pageblock_order=9))
    app = RangeExplorer(z)
    assert app.range_slider.step == 512 and app.start_box.step == 512
    # the neutral default: the first MAX_ORDER block, no scenario's answer
    assert (app.state["start"], app.state["end"]) == (0, 1024)
    small = RangeExplorer(frag())
    assert small.range_slider.step == 1


# ------------------------------------------------------------------ the description
def test_the_description_follows_the_range():
    sc = scenarios.SCENARIOS["all-free"]
    app = RangeExplorer({"all-free": sc})
    assert "The request [10, 14)" in app.result_html.value
    app.set_range(13, 15)                    # issue 13: it still described [10, 14)
    html = app.result_html.value
    assert "[10, 14)" not in html and sc.description[:40] not in html
    r = app.result
    assert f"The request [13, 15) is isolated as the aligned range [{r.isolate_start}, " \
           f"{r.isolate_end})" in html
    assert f"the head [{r.outer_start}, 13)" in html
    assert f"the tail [15, {r.outer_end})" in html
    app.set_range(10, 14)                    # back on the scenario's request: its prose too
    assert sc.description[:40] in app.result_html.value


def test_the_description_of_a_failed_call_says_where_it_failed():
    app = RangeExplorer({"pad": scenarios.SCENARIOS["unmovable-padding"]})
    app.set_range(9, 17)
    assert "fails with -EBUSY in start_isolate_page_range" in app.result_html.value


# ------------------------------------------------------------------ the step player's text
def test_the_explanation_box_has_a_fixed_height():
    p = StepPlayer(alloc_contig_range(frag(), 8, 16))
    assert p.why.layout.height == WHY_HEIGHT and p.why.layout.overflow == "auto"


def test_a_step_that_changes_no_colour_marks_the_pages_it_touched():
    p = StepPlayer(scenarios.get("file-cache"))
    k = next(i for i, e in enumerate(p.trace) if e.func == "isolate_migratepages_range")
    p.step_to(k)
    touched = p.figure_arrays()["touched"]
    assert sorted(touched.tolist()) == sorted(p.trace[k].fields["isolated"])


# ------------------------------------------------------------------ isolation titles
def _titles(r):
    out = {}
    for when in ("before", "during", "after"):
        ax = Figure().add_subplot()
        draw_isolation(ax, r, when=when, legend=False)
        out[when] = ax.get_title()
    return out


def test_isolation_titles_when_isolation_is_refused():
    # v4.4 alloc_contig_range() (mm/page_alloc.c:6681) returns the error of
    # start_isolate_page_range() at once, before its "done:" label: no
    # undo_isolate_page_range(); start_isolate_page_range() (mm/page_isolation.c) has
    # already put back the blocks it isolated before the refusing one.
    _, r = scenarios.get("unmovable-padding").run()
    assert r.failed_stage == "start_isolate_page_range"
    t = _titles(r)
    assert "undo_isolate_page_range() has run" not in t["after"]
    assert "no undo_isolate_page_range()" in t["after"]
    assert "refused" not in t["before"] and "before start_isolate_page_range()" in t["before"]
    assert "block [20, 24) refused" in t["during"]


@pytest.mark.parametrize("name", ["pinned", "writeback", "cma"])
def test_isolation_titles_when_a_later_stage_fails_or_the_call_succeeds(name):
    # any later outcome goes through "done:" and undo_isolate_page_range() (v4.4)
    _, r = scenarios.get(name).run()
    t = _titles(r)
    assert "undo_isolate_page_range() gave every block" in t["after"]
    assert "refused" not in t["during"] and "every block of" in t["during"]


# ------------------------------------------------------------------ latency: views kept
def test_geometry_and_zoom_flips_reuse_views_and_draw_what_a_full_draw_gives():
    import base64
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    rng = np.random.default_rng(3)
    big = Zone.from_arrays(rng.choice(np.frombuffer(b"MMMM..U", np.uint8), 2048),
                           geometry=TINY, name="big")
    app = RangeExplorer({"big": big}, start=1000, end=1040)
    own, other = app.geometry_picker.options[0][1], app.geometry_picker.options[1][1]
    seen = {}
    for move in [lambda: app.set_geometry(other), lambda: app.set_geometry(own),
                 lambda: app.set_window("call"), lambda: app.set_window("zone"),
                 lambda: app.set_geometry(other), lambda: app.set_window("call")]:
        move()
        key = (app.state.get("geometry"), app.view.window)
        views = (app.view.before, app.view.after)
        if key in seen:                      # been here before: the same view objects
            assert seen[key][0] is views[0] and seen[key][1] is views[1]
        seen[key] = views
        sent = np.asarray(Image.open(io.BytesIO(base64.b64decode(
            app.out.outputs[0]["data"]["image/png"]))).convert("RGB"))
        canvas = FigureCanvasAgg(app.fig)
        canvas.draw()
        assert np.array_equal(sent, np.asarray(canvas.buffer_rgba())[..., :3])
        assert app.out.outputs[0]["data"]["text/plain"].endswith("with 3 Axes>")


# ------------------------------------------------------------------ the drawing functions
@pytest.mark.parametrize(("call", "exc", "word"), [
    (lambda ax, z: draw_zone(ax, z, strip_max=2.5), TypeError, "strip_max must be an integer"),
    (lambda ax, z: draw_zone(ax, z, reduce="mean"), ValueError, "reduce must be one of"),
    (lambda ax, z: draw_zone(ax, z, legend="yes"), ValueError, "legend must be one of"),
    (lambda ax, z: draw_zone(ax, z, band="no"), TypeError, "band must be True or False"),
    (lambda ax, z: draw_zone(ax, z, max_arrows=-1), ValueError, "max_arrows must be at least 0"),
    (lambda ax, z: draw_zone(ax, z, title=3), TypeError, "title must be a str"),
    (lambda ax, z: draw_alignment(ax, z, 8.5, 16), TypeError, "start must be an integer"),
    (lambda ax, z: draw_alignment(ax, z, 16, 8), ValueError, r"start \(16\) must be below end"),
    (lambda ax, z: call_window(z, 0, math.inf), TypeError, "end must be an integer, not inf"),
    (lambda ax, z: choose_layout(z, max_cols=0), ValueError, "max_cols must be at least 1"),
    (lambda ax, z: ResultFigure(ax.figure, strip_max="512"), TypeError,
     "strip_max must be an integer, not '512'"),
    (lambda ax, z: draw_free_lists(ax, z, annotate="no"), TypeError,
     "annotate must be True or False, not 'no'"),
    (lambda ax, z: draw_zone(ax, z, request=(8.5, 16)), TypeError,
     "request start must be an integer, not 8.5"),
    (lambda ax, z: draw_zone(ax, z, outer=(8, "16")), TypeError,
     "outer end must be an integer, not '16'"),
    (lambda ax, z: draw_zone(ax, z, highlight=8), TypeError, "highlight must be a pair"),
    (lambda ax, z: draw_zone(ax, z, busy=9.0), TypeError, "busy must be an integer, not 9.0"),
    (lambda ax, z: ZoneState.of(z).window(0.5, 8), TypeError, "lo must be an integer, not 0.5"),
])
def test_drawing_functions_refuse_bad_input(call, exc, word):
    ax = Figure().add_subplot()
    with pytest.raises(exc, match=word):
        call(ax, frag())
