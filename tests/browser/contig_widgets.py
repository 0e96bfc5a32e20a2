"""Drive contig's widget apps in a real browser and check them against the model.

Used by the notebook browser test (every course notebook with an app) and by
test_contig_widgets_browser.py (apps built in a throwaway notebook).

* RangeExplorer (``.contig-range`` slider, ``.contig-result`` text,
  ``.contig-plot`` image): moving the end handle must change the picture, and
  the result line must be what ``contig`` computes for the new range (the
  app publishes its zone and options in a hidden ``.contig-replay`` span);
  moving it back must give the very same picture as before (negative control:
  an unchanged range is not a change).
* The explorer's geometry picker (``.contig-geometry``) and zoom box
  (``.contig-zoom``): another geometry must change the result to what the
  model computes for the regrouped zone, and going back must restore the
  first picture; zooming changes the picture, not the result.
* StepPlayer (``.contig-step`` slider, ``.contig-why`` text): a step forward
  must change the picture and the explanation.
"""

from __future__ import annotations

import json
import re

from jlab import NOTEBOOK, wait_until

SUMMARY = re.compile(r"alloc_contig_range\((\d+), (\d+)\) = (-?[A-Z0-9]+)")


def _app_roots(page, marker: str) -> int:
    """Number of apps (top-level boxes) holding an element with class `marker`."""
    return page.locator(f"{NOTEBOOK} .{marker}").count()


def model_result(replay: dict):
    """Run the call the app published (zone, range, migratetype, options, kernel) with the model."""
    from contig import Geometry, Zone
    from contig.pcp import set_pcp
    from contig.viz.widgets import run_kernel

    zd = replay["zone"]
    g = Geometry(zd["max_order"], zd["pageblock_order"])
    z = Zone.from_map(zd["map"], geometry=g, blocks=zd["blocks"], start_pfn=zd["start_pfn"],
                      name=zd["name"])
    high, batch = zd["pcp"]
    if (high, batch) != (z.pcp_high, z.pcp_batch):
        set_pcp(z, high, batch)
    opts = dict(replay.get("options") or {})
    if "busy_pfns" in opts:
        opts["busy_pfns"] = [p for p in opts["busy_pfns"] if replay["start"] <= p < replay["end"]]
    return run_kernel(replay.get("kernel", "4.4"), z, replay["start"], replay["end"],
                      replay["migratetype"], **opts)


def _pick_move(slider):
    """A handle and a key that change the range without emptying it, and the key that undoes it.

    The end handle moves right unless it is at the end of the zone; then the
    start handle moves left, or failing that one of them moves inwards.
    """
    start_h, end_h = slider.locator(".noUi-handle").nth(0), slider.locator(".noUi-handle").nth(1)

    def val(h, attr):
        v = h.get_attribute(attr)
        return None if v is None else float(v)

    s, e = val(start_h, "aria-valuenow"), val(end_h, "aria-valuenow")
    lo, hi = val(start_h, "aria-valuemin"), val(end_h, "aria-valuemax")
    if hi is None or e < hi:
        return end_h, "ArrowRight", "ArrowLeft"
    if lo is None or s > lo:
        return start_h, "ArrowLeft", "ArrowRight"
    if e - 1 > s:
        return end_h, "ArrowLeft", "ArrowRight"
    return start_h, "ArrowRight", "ArrowLeft"


def exercise_range_explorer(page, i: int = 0) -> dict:
    """Move one of the i-th explorer's handles (and back); check it against the model."""
    box = page.locator(f"{NOTEBOOK} .contig-explorer").nth(i)
    box.scroll_into_view_if_needed()
    slider = box.locator(".contig-range")
    result = box.locator(".contig-result")
    plot = box.locator(".contig-plot")

    def img() -> str:
        loc = plot.locator("img")
        return loc.first.get_attribute("src") if loc.count() else ""

    before_text, before_img = result.inner_text(), img()
    assert SUMMARY.search(before_text), f"no result line in the explorer: {before_text!r}"
    handle, key, back = _pick_move(slider)
    handle.focus()
    handle.press(key)
    handle.blur()
    wait_until(lambda: result.inner_text() != before_text, timeout=20,
               message=f"the explorer's result did not change after moving a handle "
                       f"(still {before_text!r})")
    wait_until(lambda: img() != before_img, timeout=20,
               message="the explorer's picture did not change after moving a handle")
    after_text = result.inner_text()
    m = SUMMARY.search(after_text)
    assert m, after_text
    replay = json.loads(result.locator(".contig-replay").first.text_content())
    assert (int(m[1]), int(m[2])) == (replay["start"], replay["end"])
    # a replay names its kernel, and model_result runs that one (a side-by-side app publishes
    # "both": tests/browser/test_kernels_browser.py checks those against both models)
    if "zone" in replay and replay.get("kernel", "4.4") != "both":
        expected = model_result(replay).summary()
        assert expected in after_text, f"browser shows {after_text!r}, the model says {expected!r}"
    # negative control: back to the first range -> the same picture, byte for byte
    moved_img = img()
    handle.focus()
    handle.press(back)
    handle.blur()
    wait_until(lambda: result.inner_text() == before_text, timeout=20,
               message="moving the handle back did not restore the first result")
    wait_until(lambda: img() != moved_img, timeout=20, message="picture not redrawn after moving back")
    assert img() == before_img, "the same range must give the same picture (control)"
    return {"before": before_text, "after": after_text}


def _explorer_parts(page, i: int):
    box = page.locator(f"{NOTEBOOK} .contig-explorer").nth(i)
    box.scroll_into_view_if_needed()
    result, plot = box.locator(".contig-result"), box.locator(".contig-plot")

    def img() -> str:
        loc = plot.locator("img")
        return loc.first.get_attribute("src") if loc.count() else ""

    return box, result, img


def exercise_geometry_picker(page, i: int = 0) -> dict:
    """Pick another geometry in the i-th explorer, check the result with the model, pick the
    zone's own again and get the first picture back."""
    box, result, img = _explorer_parts(page, i)
    select = box.locator(".contig-geometry select")
    # ipywidgets shows the spaces of option labels as no-break spaces
    labels = [lab.replace("\xa0", " ") for lab in select.locator("option").all_inner_texts()]
    assert labels and "(its own)" in labels[0], f"geometry choices: {labels}"
    k = next(j for j, lab in enumerate(labels) if j and "pageblock_order" in lab)
    other = labels[k]
    before_text, before_img = result.inner_text(), img()
    select.select_option(index=k)
    wait_until(lambda: result.inner_text() != before_text and img() != before_img, timeout=20,
               message=f"choosing {other!r} changed neither the result nor the picture")
    after_text = result.inner_text()
    assert "not the zone's own geometry" in after_text, after_text
    replay = json.loads(result.locator(".contig-replay").first.text_content())
    mo, pbo = (int(x) for x in re.findall(r"MAX_ORDER (\d+), pageblock_order (\d+)", other)[0])
    assert (replay["zone"]["max_order"], replay["zone"]["pageblock_order"]) == (mo, pbo)
    expected = model_result(replay).summary()
    assert expected in after_text, f"browser shows {after_text!r}, the model says {expected!r}"
    select.select_option(index=0)
    wait_until(lambda: result.inner_text() == before_text, timeout=20,
               message="choosing the zone's own geometry again did not restore the first result")
    wait_until(lambda: img() == before_img, timeout=20,
               message="the zone's own geometry must give the first picture back (control)")
    return {"before": before_text, "after": after_text}


def exercise_zoom(page, i: int = 0) -> None:
    """Tick and untick the i-th explorer's zoom box: a new picture, then the first one."""
    box, result, img = _explorer_parts(page, i)
    check = box.locator(".contig-zoom input[type=checkbox]")
    assert check.is_visible(), "no zoom box on an explorer of a zone larger than a strip"
    text, before_img = result.inner_text(), img()
    check.check()
    wait_until(lambda: img() != before_img, timeout=20, message="zooming did not change the picture")
    assert result.inner_text() == text, "zooming must not change the result"
    check.uncheck()
    wait_until(lambda: img() == before_img, timeout=20,
               message="unzooming must give the first picture back (control)")


def exercise_step_player(page, i: int = 0) -> dict:
    """Step the i-th player forward once; the picture and the explanation must change."""
    box = page.locator(f"{NOTEBOOK} .contig-player").nth(i)
    box.scroll_into_view_if_needed()
    why = box.locator(".contig-why")

    def img() -> str:
        loc = box.locator(".contig-plot img")
        return loc.first.get_attribute("src") if loc.count() else ""

    before_text, before_img = why.inner_text(), img()
    handle = box.locator(".contig-step .noUi-handle").first
    handle.focus()
    handle.press("ArrowRight")
    handle.blur()
    wait_until(lambda: why.inner_text() != before_text, timeout=20,
               message=f"the player's explanation did not change (still {before_text!r})")
    wait_until(lambda: img() != before_img, timeout=20,
               message="the player's picture did not change after a step")
    after_text = why.inner_text()
    rep = why.locator(".contig-replay")
    if rep.count():
        replay = json.loads(rep.first.text_content())
        if "zone" in replay and replay.get("kernel", "4.4") != "both":
            ev = model_result(replay).events[replay["step"]]
            assert ev.why in after_text, f"player shows {after_text!r}; the model's step says {ev.why!r}"
    return {"before": before_text, "after": after_text}


def exercise_all(page) -> list[str]:
    """Exercise every contig app in the notebook in front; return what was done."""
    done = []
    for i in range(_app_roots(page, "contig-explorer")):
        exercise_range_explorer(page, i)
        done.append(f"explorer {i}")
    for i in range(_app_roots(page, "contig-player")):
        exercise_step_player(page, i)
        done.append(f"player {i}")
    return done


# ------------------------------------------------------------------ latency (issue 13, section 4)
_LATENCY_JS = """(root) => {
  const s = {t0: null, t1: null, src: null};
  root.__contigLatency = s;
  const start = () => { s.t0 = performance.now(); s.t1 = null; };
  for (const ev of ['keydown', 'mousedown', 'change']) root.addEventListener(ev, start, true);
  const plot = root.querySelector('.contig-plot');
  const img = () => { const i = plot.querySelector('img'); return i ? i.getAttribute('src') : null; };
  s.src = img();
  new MutationObserver(() => {
    const now = img();
    if (now !== s.src) {
      s.src = now;
      if (s.t0 !== null && s.t1 === null) s.t1 = performance.now();
    }
  }).observe(plot, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""


def _latency_once(box, act, timeout: float = 20) -> float:
    """Seconds from the user's input event (keydown, mousedown, change) to the new picture."""
    box.evaluate("(root) => { root.__contigLatency.t0 = null; root.__contigLatency.t1 = null; }")
    act()
    wait_until(lambda: box.evaluate("(root) => root.__contigLatency.t1 !== null"), timeout=timeout,
               interval=0.01, message="no new picture after the input")
    t0, t1 = box.evaluate("(root) => [root.__contigLatency.t0, root.__contigLatency.t1]")
    return (t1 - t0) / 1000.0


def measure_latency(page, control: str, i: int = 0, n: int = 8) -> list[float]:
    """Key press (or choice, or click) to new picture in the i-th explorer, ``n`` times, in s.

    ``control``: ``"slider"`` (the end handle, arrow right then left), ``"geometry"``
    (another geometry, then the zone's own), ``"zoom"`` (tick, untick).  Timed in the
    page itself: from the input event to the moment the Output's image changes.
    """
    import time

    box = page.locator(f"{NOTEBOOK} .contig-explorer").nth(i)
    box.scroll_into_view_if_needed()
    box.evaluate(_LATENCY_JS)
    out = []
    for k in range(n):
        if control == "slider":
            handle, key, back = _pick_move(box.locator(".contig-range"))
            handle.focus()
            out.append(_latency_once(box, lambda h=handle, c=(key if k % 2 == 0 else back):
                                     h.press(c)))
            handle.blur()
        elif control == "geometry":
            select = box.locator(".contig-geometry select")
            labels = select.locator("option").all_inner_texts()
            other = next(j for j, lab in enumerate(labels) if j and "pageblock_order" in lab)
            out.append(_latency_once(box, lambda sel=select, idx=(other if k % 2 == 0 else 0):
                                     sel.select_option(index=idx)))
        elif control == "zoom":
            check = box.locator(".contig-zoom input[type=checkbox]")
            out.append(_latency_once(box, check.check if k % 2 == 0 else check.uncheck))
        else:
            raise ValueError(f"control must be 'slider', 'geometry' or 'zoom', not {control!r}")
        time.sleep(0.15)          # let the kernel go idle between inputs
    return out
