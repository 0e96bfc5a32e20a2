"""Notebook 13 in JupyterLab: the KernelComparer, driven with the keyboard.

Runs notebooks/13-ten-years-later.ipynb top to bottom, moves the comparer's
range (the end handle of its ``contig-range`` slider) and checks that the
picture changed, that both result lines are what contig.v4_4 and
contig.v6_18 compute for the new range on the zone the app published (its
hidden ``contig-replay`` span), and that no error output shows.  Moving the
handle back must give the very same picture (negative control).
"""

import json
import re

import pytest
from jlab import NOTEBOOK, error_outputs, run_notebook, wait_until

pytestmark = pytest.mark.browser

NB = "notebooks/13-ten-years-later.ipynb"
LINE = re.compile(r"Linux (4\.4|6\.18): (alloc_contig_range\((\d+), (\d+)\) = [^\n]*)")


def _models(replay: dict) -> dict[str, str]:
    """Both kernels' summary lines for the call the app published."""
    import contig.v4_4 as k44
    import contig.v6_18 as k618
    from contig import Geometry, MigrateType, Zone

    zd = replay["zone"]
    g = Geometry(zd["max_order"], zd["pageblock_order"])

    def zone():
        return Zone.from_map(zd["map"], geometry=g, blocks=zd["blocks"], start_pfn=zd["start_pfn"],
                             name=zd["name"])

    s, e, mt = replay["start"], replay["end"], replay["migratetype"]
    opts = dict(replay.get("options") or {})
    r4 = k44.alloc_contig_range(zone(), s, e, mt, **opts)
    flags = k618.ACR_FLAGS_CMA if mt == MigrateType.CMA else k618.ACR_FLAGS_NONE
    r6 = k618.alloc_contig_range(zone(), s, e, flags,
                                 **{k: v for k, v in opts.items() if k in ("busy_pfns",)})
    return {"4.4": r4.summary(), "6.18": r6.summary()}


def test_notebook_13_comparer_follows_the_range(page):
    state = run_notebook(page, NB, timeout=180)
    assert not state["unrun"], state
    assert not error_outputs(page)
    box = page.locator(f"{NOTEBOOK} .contig-comparer").first
    box.scroll_into_view_if_needed()
    result, plot = box.locator(".contig-result"), box.locator(".contig-plot")

    def img() -> str:
        loc = plot.locator("img")
        return loc.first.get_attribute("src") if loc.count() else ""

    wait_until(lambda: bool(img()), timeout=20, message="the comparer shows no picture")
    before_text, before_img = result.inner_text(), img()
    assert {m[0] for m in LINE.findall(before_text)} == {"4.4", "6.18"}, before_text
    handle = box.locator(".contig-range .noUi-handle").nth(1)
    handle.focus()
    handle.press("ArrowRight")
    handle.blur()
    wait_until(lambda: result.inner_text() != before_text, timeout=20,
               message=f"the comparer's text did not change (still {before_text!r})")
    wait_until(lambda: img() != before_img, timeout=20,
               message="the comparer's picture did not change after moving the range")
    after_text = result.inner_text()
    replay = json.loads(result.locator(".contig-replay").first.text_content())
    assert replay["kernel"] == "both" and "zone" in replay
    lines = {m[0]: m[1] for m in LINE.findall(after_text)}
    want = _models(replay)
    for k in ("4.4", "6.18"):
        assert lines[k].startswith(want[k]), f"browser shows {lines[k]!r}, {k} says {want[k]!r}"
        m = LINE.search(f"Linux {k}: {lines[k]}")
        assert (int(m[3]), int(m[4])) == (replay["start"], replay["end"])
    assert not error_outputs(page)
    # negative control: back to the first range -> the same picture, byte for byte
    moved = img()
    handle.focus()
    handle.press("ArrowLeft")
    handle.blur()
    wait_until(lambda: result.inner_text() == before_text, timeout=20,
               message="moving the handle back did not restore the first result")
    wait_until(lambda: img() != moved, timeout=20, message="picture not redrawn after moving back")
    assert img() == before_img, "the same range must give the same picture (control)"
    assert not error_outputs(page)
