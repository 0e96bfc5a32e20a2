"""contig.viz.cma: the CMA picture and the CmaExplorer app, driven through their plain
methods and widget values; checked against the model's own results (contig.cma) and
against what v4.4's mm/cma.c does, worked out by hand below (never against pixels)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from matplotlib.figure import Figure
from test_viz_plot import CVD, _lab

from contig.cma import cma_alloc
from contig.cma_scenarios import get
from contig.mapfmt import KINDS
from contig.viz import colors
from contig.viz.cma import CMA_COLORS, CmaExplorer, bitmap_text, draw_cma, held_buffers


def test_pinned_slot_allocate_shows_both_tries_the_dmesg_line_and_the_bitmap():
    app = CmaExplorer("pinned-slot")
    assert app.count_align() == (4, 2)           # the scenario's request presets the controls
    assert "no cma_alloc() yet" in app.text
    before = app.out.outputs[0]["data"]["image/png"]
    r = app.allocate()
    # hand-derived (mm/cma.c v4.4, cma_alloc): area [8, 24), align 2 -> mask 3, offset 0;
    # slot bit 0 = [8, 12) holds the pinned PFN 9 -> -EBUSY and one "PFNs busy" line;
    # the retry starts at bit 0 + mask + 1 = 4 = PFN 12, which is free -> success
    assert r.pfn == 12
    model = cma_alloc(get("pinned-slot").build(), 4, 2)
    assert [a.ret for a in r.attempts] == [a.ret for a in model.attempts] == [-16, 0]
    lines = app.text.splitlines()
    assert "  try 1: bit 0, alloc_contig_range(0x8, 0xc) = -EBUSY in test_pages_isolated, " \
           "busy page PFN 0x9" in lines
    assert "  try 2: bit 4, alloc_contig_range(0xc, 0x10) = 0 (success)" in lines
    assert "  alloc_contig_range: [8, c) PFNs busy" in lines
    assert "  bit     0 (PFN 0x8): 0000111100000000" in lines
    arr = app.figure_arrays()
    assert [(p, c, ret) for p, c, ret, _ in arr["attempts"]] == [(8, 4, -16), (12, 4, 0)]
    assert arr["attempts"][0][3] == 9
    assert arr["held"] == [(12, 4)] and app.held == [(12, 4)]
    # the bitmap row lines up with the pages: -1 outside [8, 24), the bit's value inside
    lo, hi = arr["window"]
    want = np.full(hi - lo, -1)
    want[8 - lo:24 - lo] = 0
    want[12 - lo:16 - lo] = 1
    assert arr["bitmap_row"].tolist() == want.tolist()
    assert arr["bitmap"].tolist() == app.cma.bitmap.tolist()
    assert arr["row_labels"][2:] == ["try 1: -EBUSY", "try 2: 0"]
    assert app.out.outputs[0]["data"]["image/png"] != before
    assert app.out.outputs[1]["data"]["text/plain"] == app.text


def test_busy_area_driver_request_prints_the_fifteen_lines():
    app = CmaExplorer("busy-area")
    # the scenario's dma step: 1089536 bytes = 266 pages, get_order = 9, capped at 8
    assert app.request == {"size": 1089536, "unit": "bytes", "align": 9, "driver": True}
    assert app.count_align() == (266, 8)
    assert "capped at CONFIG_CMA_ALIGNMENT = 8" in app.request_html.value
    r = app.alloc_button.click() or app.last
    assert r.pfn is None
    # by hand: slots every 0x100 from 0x2f000 while slot + 0x10a fits before 0x30000:
    # 0x2f000 .. 0x2fe00, fifteen of them, each busy (the pinned page 0x80 in)
    want = [f"  alloc_contig_range: [{0x2F000 + k * 0x100:x}, {0x2F10A + k * 0x100:x}) PFNs busy"
            for k in range(15)]
    lines = app.text.splitlines()
    i = lines.index("dmesg:")
    assert lines[i + 1:i + 16] == want
    assert sum(line.startswith("  try ") for line in lines) == 15
    arr = app.figure_arrays()
    assert [a[3] for a in arr["attempts"]] == [0x2F080 + k * 0x100 for k in range(15)]
    assert not app.cma.bitmap.any()           # every failed slot's bits were cleared
    assert "  cma_alloc() returned NULL" in lines


def test_release_gives_the_pages_back_and_clears_the_bits():
    app = CmaExplorer("fragmented-bitmap")
    app.set_request(5, "pages", 0, False)
    app.allocate()
    app.set_request(3, "pages", 2, False)
    app.allocate()
    # by hand: 5 pages at bit 0 (PFN 8); then align 2: first clear bit 5, rounded up to 8 -> PFN 16
    assert app.held == [(8, 5), (16, 3)]
    assert held_buffers(app.cma) == [(8, 5), (16, 3)]
    assert app.held_picker.options[1] == ("PFN 0x10 (16), 3 pages", 1)
    app.held_picker.value = 0
    app.release_button.click()
    assert app.held == [(16, 3)]
    assert app.cma.bitmap.nonzero()[0].tolist() == [8, 9, 10]
    assert "cma_release(PFN 0x8, 5 pages) = true" in app.message_html.value
    assert app.cma.zone.to_map()[8:13] == "....."
    assert app.figure_arrays()["held"] == [(16, 3)]
    assert app.release(0) is True
    assert not app.cma.bitmap.any() and app.held == []


def test_order_per_bit_cells_cover_their_pages():
    app = CmaExplorer("order-per-bit")
    app.allocate()                                  # 5 pages -> 2 bits of 4 pages
    arr = app.figure_arrays()
    assert arr["bitmap"].tolist() == [True, True] + [False] * 6
    lo = arr["window"][0]
    assert arr["bitmap_row"][8 - lo:16 - lo].tolist() == [1] * 8     # the whole 2nd bit too
    assert arr["bitmap_row"][16 - lo:40 - lo].tolist() == [0] * 24
    assert arr["row_labels"][0] == "bitmap (4 pages/bit)"
    # the caller holds 5 pages; the bitmap says 8 are out (a whole number of bits)
    assert app.held == arr["held"] == [(8, 5)]
    assert held_buffers(app.cma) == [(8, 8)]


@pytest.mark.parametrize(("call", "match"), [
    (lambda a: a.set_request(0), r"size must be at least 1, not 0"),
    (lambda a: a.set_request(17), r"size 17 pages is more than the area's 16 pages"),
    (lambda a: a.set_request(4, "kb"), r"unit must be one of 'pages', 'bytes', not 'kb'"),
    (lambda a: a.set_request(4, "pages", 13), r"align must be at most 12, not 13"),
    (lambda a: a.set_request(4, "pages", -1), r"align must be at least 0, not -1"),
    (lambda a: a.set_request("4"), r"size must be an integer, not '4'"),
    (lambda a: a.set_request(4, driver="yes"), r"driver must be True or False, not 'yes'"),
    (lambda a: a.release(3), r"index 3 is not a held buffer: none is held"),
    (lambda a: a.release(1.0), r"index must be an integer, not 1.0"),
])
def test_bad_input_is_refused_naming_argument_and_value_state_unchanged(call, match):
    app = CmaExplorer("pinned-slot")
    before = (app.request.copy(), app.cma.bitmap.copy(), app.cma.zone.to_map(), list(app.held))
    with pytest.raises((ValueError, TypeError), match=match):
        call(app)
    assert (app.request, app.cma.zone.to_map(), app.held) == (before[0], before[2], before[3])
    assert app.cma.bitmap.tolist() == before[1].tolist()


def test_bad_value_in_a_control_is_shown_and_the_control_put_back():
    app = CmaExplorer("pinned-slot")
    app.size_box.value = 99
    assert app.message == "size 99 pages is more than the area's 16 pages"
    assert "size 99 pages" in app.message_html.value
    assert app.size_box.value == 4 and app.request["size"] == 4
    app.release_button.click()                 # nothing held
    assert "not a held buffer" in app.message_html.value


def test_constructor_refuses_unknown_scenarios_and_types():
    with pytest.raises(ValueError, match="'nope' is not a CMA scenario"):
        CmaExplorer("nope")
    with pytest.raises(TypeError, match="scenario_or_cma must be"):
        CmaExplorer(42)
    with pytest.raises(TypeError, match="last must be a CmaResult"):
        draw_cma(Figure(), get("pinned-slot").build(), last=3)


def test_play_holds_the_scenarios_buffers_and_a_cma_is_used_as_it_is():
    app = CmaExplorer("fragmented-bitmap", play=True)
    # the scenario (hand-derived in cma_scenarios.expect): 5 pages at 11, 2 at 16, 4 at 20,
    # 3 at 8 remain held after step 0's buffer was given back
    assert sorted(app.held) == [(8, 3), (11, 5), (16, 2), (20, 4)]
    cma = get("pinned-slot").build()
    cma_alloc(cma, 4, 2)
    app2 = CmaExplorer(cma)
    assert app2.cma is cma and app2.held == [(12, 4)]
    # order_per_bit 2: the bits of a 5-page buffer cover 8 pages; the caller says it holds 5
    opb = get("order-per-bit").build()
    cma_alloc(opb, 5, 0)
    assert CmaExplorer(opb).held == [(8, 8)]
    app3 = CmaExplorer(opb, held=[(8, 5)])
    assert app3.held == [(8, 5)]
    assert app3.release(0) and not opb.bitmap.any() and opb.zone.to_map()[8:16] == "........"
    with pytest.raises(ValueError, match=r"held item \(16, 4\) is not a buffer of the area"):
        CmaExplorer(get("order-per-bit").build(), held=[(16, 4)])
    with pytest.raises(ValueError, match=r"held=.* is for a Cma"):
        CmaExplorer("order-per-bit", held=[(8, 5)])


def test_bitmap_text_of_a_large_area_lists_runs():
    cma = get("busy-area").build()
    cma.bitmap[0x100:0x10A] = True
    assert bitmap_text(cma) == "4096 bits, set: [256, 266)"


@pytest.mark.parametrize("vision", list(CVD))
def test_new_colours_have_one_meaning_and_stay_apart(vision):
    # the two new colours are apart from every page and block colour (as colors.py keeps
    # block colours: more than 9 CIELAB units) and from each other, colour-blind too
    existing = [c for k, c in colors.KIND_COLORS.items() if k in KINDS and k != "#"]
    existing += [*list(colors.MIGRATETYPE_COLORS.values()), colors.NO_PAGES_COLOR]
    new = [CMA_COLORS["bit_clear"], CMA_COLORS["failed"]]
    for c in new:
        assert c not in existing
        d = min(float(np.linalg.norm(_lab(c, CVD[vision]) - _lab(e, CVD[vision])))
                for e in existing)
        assert d > 9, (c, vision, d)
    assert np.linalg.norm(_lab(new[0], CVD[vision]) - _lab(new[1], CVD[vision])) > 18
    # the reused ones keep their meaning: handed out = owned by a contiguous allocation
    assert CMA_COLORS["bit_set"] == CMA_COLORS["ok"] == colors.KIND_COLORS["X"]
    assert CMA_COLORS["area"] == colors.MIGRATETYPE_COLORS[colors.MigrateType.CMA]
