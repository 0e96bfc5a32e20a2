"""The apps with both kernels: RangeExplorer's kernel picker, StepPlayer(kernel="6.18"),
compare_kernels() and KernelComparer, driven through their callbacks (as
tests/test_viz_widgets.py does); the drawn arrays and the text are checked against the
models' own results on copies of the same zones.

The hand-derived kernel facts used here (the zone "pad" below, Geometry(4, 2): 8-page
MAX_ORDER blocks, 4-page pageblocks):
* v4.4 rounds [10, 18) out to MAX_ORDER blocks, [8, 24) (pfn_max_align_down/up,
  mm/page_alloc.c v4.4 alloc_contig_range), whose UNMOVABLE block [20, 24) holds the
  kernel page 21: -EBUSY in start_isolate_page_range;
* 6.18 isolates [pageblock_start(10), pageblock_align(18)) = [8, 20)
  (mm/page_isolation.c v6.18 start_isolate_page_range), which holds only movable and
  free pages: the call succeeds.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

import contig.v4_4 as k44
import contig.v6_18 as k618
from contig import Geometry, MigrateType, Zone
from contig.viz import compare_kernels
from contig.viz.colors import KIND_INDEX
from contig.viz.compare import compare
from contig.viz.plot import failure_mark
from contig.viz.widgets import KernelComparer, RangeExplorer, StepPlayer

TINY = Geometry(max_order=4, pageblock_order=2)
MAPS = {
    "pad": ("UUUUMMMM..M.MM..M....U..MMMM....", "UMMMMUMM"),
    "conv": ("UUUUMMMMM.....M.........MMMM....", "UMMUMMMM"),
    "outer": ("UUUUMMMM....MMMM..........MMP...", "UMMMMMMM"),
}


def make(name: str) -> Zone:
    pages, blocks = MAPS[name]
    return Zone.from_map(pages, geometry=TINY, blocks=blocks, name=name)


@pytest.fixture
def zones():
    return {name: (lambda n=name: make(n)) for name in MAPS}


def shown_kinds(arr) -> np.ndarray:
    k = arr["kinds"]
    return np.asarray(getattr(k, "data", k))[0]


def test_default_kernel_is_4_4_and_the_picker_is_there(zones):
    app = RangeExplorer(zones, zone="pad", start=10, end=18)
    assert app.kernel == "4.4" and app.kernel_picker.value == "4.4"
    assert app.kernel_picker.description == "kernel"
    assert [label for label, _ in app.kernel_picker.options] == ["Linux 4.4", "Linux 6.18"]
    assert app.result.ret == k44.alloc_contig_range(make("pad"), 10, 18).ret < 0
    assert "Linux 6.18" not in app.result_html.value


def test_picker_runs_6_18_and_draws_its_zone(zones):
    app = RangeExplorer(zones, zone="pad", start=10, end=18)
    runs = app.runs
    app.kernel_picker.value = "6.18"          # fires the observer
    assert app.kernel == "6.18" and app.runs == runs + 1
    z = make("pad")
    r = k618.alloc_contig_range(z, 10, 18)
    assert app.result.ret == r.ret == 0
    assert (app.result.isolate_start, app.result.isolate_end) == (8, 20)
    assert app.result.summary() == r.summary()
    assert f"Linux 6.18: {r.summary()}" in app.result_html.value
    assert "pageblock by pageblock" in app.result_html.value
    arr = app.figure_arrays()["after"]
    assert np.array_equal(shown_kinds(arr), KIND_INDEX[z.kinds()])
    assert np.array_equal(arr["band"][0], z.pageblock_types())
    assert app.figure_arrays()["before"]["ranges"]["isolate"] == (8, 20)
    # moving the range keeps the kernel
    app.set_range(8, 12)
    r2 = k618.alloc_contig_range(make("pad"), 8, 12)
    assert app.result.summary() == r2.summary() and app.kernel == "6.18"
    # and back to 4.4
    app.set_kernel("4.4")
    assert app.result.summary() == k44.alloc_contig_range(make("pad"), 8, 12).summary()


def test_6_18_failure_has_no_pfns_busy_line_and_blocks_keep_their_type(zones):
    # "outer": request [28, 32); the pinned page 28 stays: 4.4 prints "PFNs busy" (v4.4
    # alloc_contig_range pr_info after test_pages_isolated fails), 6.18 prints nothing (the
    # message was removed in 5.13); 6.18's find_large_buddy(28) finds no free block covering
    # 28 (28 is in use), so outer_start = 28
    app = RangeExplorer(zones, zone="outer", start=28, end=32, kernel="6.18")
    assert app.result.ret < 0 and app.result.outer_start == 28
    assert app.result.log == [] and "<pre" not in app.result_html.value
    assert "No &quot;PFNs busy&quot; line" in app.result_html.value
    app.set_kernel("4.4")
    assert "PFNs busy</pre>" in app.result_html.value and app.result.outer_start == 24


def test_bad_kernel_is_refused_and_changes_nothing(zones):
    app = RangeExplorer(zones, zone="pad", start=10, end=18, kernel="6.18")
    before = app.result.summary()
    for bad, exc in (("5.0", ValueError), (6.18, TypeError), (None, TypeError)):
        with pytest.raises(exc, match="kernel"):
            app.set_kernel(bad)
        assert app.kernel == "6.18" and app.kernel_picker.value == "6.18"
        assert app.result.summary() == before
    with pytest.raises(ValueError, match="kernel"):
        RangeExplorer(zones, kernel="4.9")


def test_step_player_6_18_outer_start_and_source_links():
    z = make("outer")
    p = StepPlayer(z, 28, 32, kernel="6.18")
    assert p.kernel == "6.18" and p.result.kernel == "6.18"
    funcs = [e.func for e in p.trace]
    assert "find_large_buddy" in funcs and "outer_start" not in funcs
    k = funcs.index("find_large_buddy")
    p.step_to(k)
    ranges = p.figure_arrays()["ranges"]
    assert (ranges.get("outer") or ranges.get("outer_start"))[0] == 28
    assert "v6.18 source" in p.why.value and "elixir.bootlin.com/linux/v6.18" in p.why.value
    # the zone drawn at the last step is the 6.18 model's final zone
    p.step_to(len(p.trace) - 1)
    k618.alloc_contig_range(z2 := make("outer"), 28, 32)
    assert np.array_equal(shown_kinds(p.figure_arrays()), KIND_INDEX[z2.kinds()])
    # 4.4 stays the default
    assert StepPlayer(make("outer"), 28, 32).kernel == "4.4"


def test_compare_lists_the_hand_derived_differences():
    c = compare(make("pad"), 10, 18)
    keys = dict(c.differences)
    assert "isolated range: 4.4 [8, 24), 6.18 [8, 20)" in keys.values()
    assert keys["isolated"].startswith("isolated range")
    assert c.results["4.4"].ret < 0 and c.results["6.18"].ret == 0
    assert any(k == "neighbour" for k, _ in c.differences)
    # "conv": block [12, 16) is UNMOVABLE but holds only free and movable pages.  v4.4's undo
    # sets every block of the range to the caller's MIGRATE_MOVABLE
    # (undo_isolate_page_range(..., migratetype)); 6.18 clears the isolate bit only.
    c = compare(make("conv"), 8, 16)
    assert c.results["4.4"].ok and c.results["6.18"].ok
    assert c.after["4.4"].blocks_map() == "UMMMMMMM"
    assert c.after["6.18"].blocks_map() == "UMMUMMMM"
    assert c.differences == [("blocks", "pageblock types after: 4.4 UMMMMMMM, 6.18 UMMUMMMM")]
    # the zone given is never changed
    z = make("conv")
    compare(z, 8, 16)
    assert z.state_equal(make("conv"))


def test_compare_kernels_draws_both_after_zones():
    fig = compare_kernels(make("conv"), 8, 16)
    c, view = fig.contig, fig.contig_view
    arr = view.arrays()
    for k in ("4.4", "6.18"):
        assert np.array_equal(arr[k]["band"][0], c.after[k].pageblock_types())
        assert np.array_equal(shown_kinds(arr[k]), KIND_INDEX[c.after[k].kinds()])
    assert np.array_equal(arr["before"]["band"][0], make("conv").pageblock_types())
    text = "\n".join(t.get_text() for t in fig.texts)
    assert "pageblock types after: 4.4 UMMMMMMM, 6.18 UMMUMMMM" in text
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_kernel_comparer_one_range_drives_both(zones):
    app = KernelComparer(zones, zone="pad", start=10, end=18)
    assert app.kernel_picker.layout.display == "none"
    assert "contig-comparer" in app.widget._dom_classes
    html0, png0 = app.result_html.value, app._png
    assert "Linux 4.4: " + k44.alloc_contig_range(make("pad"), 10, 18).summary() in html0
    assert "Linux 6.18: " + k618.alloc_contig_range(make("pad"), 10, 18).summary() in html0
    assert "isolated range: 4.4 [8, 24), 6.18 [8, 20)" in html0
    assert "contig-diff" in html0 and "5.19" in html0
    # move the range with the slider: both pictures follow
    app.range_slider.value = (8, 16)
    arr = app.figure_arrays()
    for k, mod in (("4.4", k44), ("6.18", k618)):
        z = make("pad")
        r = mod.alloc_contig_range(z, 8, 16)
        assert app.results[k].summary() == r.summary()
        assert np.array_equal(shown_kinds(arr[k]), KIND_INDEX[z.kinds()])
        assert arr[k]["ranges"]["request"] == (8, 16)
    assert app._png != png0 and app.result_html.value != html0
    with pytest.raises(ValueError, match="both kernels"):
        app.set_kernel("4.4")
    with pytest.raises(TypeError, match="kernel"):
        KernelComparer(zones, kernel="6.18")


def test_comparer_on_the_course_scenarios_matches_the_models():
    from contig import scenarios
    app = KernelComparer()
    for name in ("unmovable-padding", "cma-as-movable", "hugetlb"):
        sc = scenarios.get(name)
        app.set_zone(name)
        for k in ("4.4", "6.18"):
            z = sc.zone()
            if k == "4.4":
                r = k44.alloc_contig_range(z, sc.start, sc.end, sc.migratetype, **dict(sc.options))
            else:
                flags = k618.ACR_FLAGS_CMA if sc.migratetype == MigrateType.CMA else 0
                r = k618.alloc_contig_range(z, sc.start, sc.end, flags)
            assert app.results[k].summary() == r.summary()
            assert np.array_equal(app.figure_arrays()[k]["band"][0], z.pageblock_types())


def test_failure_mark_of_a_6_18_migration_fall_through():
    # 6.18: a migration -EBUSY falls through to test_pages_isolated (mm/page_alloc.c v6.18
    # alloc_contig_range_noprof), so the busy PFN is known and drawn
    z = Zone.from_map("UUUUMMMMM.M.M..." + "." * 32, geometry=TINY, blocks="UMMMMMMMMMMM")
    r = k618.alloc_contig_range(z, 8, 12, busy_pfns=[10])
    assert r.failed_stage == "__alloc_contig_migrate_range" and r.busy_pfn == 10
    assert failure_mark(r) == (10, "busy: PFN 10")


def test_replays_name_their_kernel(zones):
    import html
    import json
    import re

    def replay(text):
        return json.loads(html.unescape(re.search(r'contig-replay"[^>]*>(.*?)</span>', text)[1]))

    app = RangeExplorer(zones, zone="pad", start=10, end=18)
    d = replay(app.result_html.value)
    assert d["kernel"] == "4.4" and d["zone"]["map"] == MAPS["pad"][0]
    app.set_kernel("6.18")
    d = replay(app.result_html.value)
    # the browser harness replays the call with the kernel the replay names
    assert d["kernel"] == "6.18" and d["zone"]["map"] == MAPS["pad"][0]
    z = Zone.from_map(d["zone"]["map"], geometry=TINY, blocks=d["zone"]["blocks"])
    assert k618.alloc_contig_range(z, d["start"], d["end"]).ret == d["ret"] == 0
    p = StepPlayer(make("outer"), 28, 32, kernel="6.18")
    d = replay(p.why.value)
    assert d["kernel"] == "6.18" and "zone" in d and d["step"] == 0
