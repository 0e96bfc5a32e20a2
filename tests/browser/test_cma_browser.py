"""Notebook 14 (CMA) in a real browser: it runs top to bottom, and its CmaExplorer
answers a click on "allocate" with a new picture and the attempts of the call, with
no error shown (the app's callbacks themselves are checked in tests/test_viz_cma.py)."""

import pytest
from jlab import NOTEBOOK, error_outputs, run_notebook, wait_until, widget_text

pytestmark = pytest.mark.browser

NAME = "notebooks/14-cma.ipynb"


def _picture(page) -> str:
    return page.locator(f"{NOTEBOOK} .contig-cma-plot img").first.get_attribute("src") or ""


def test_cma_notebook_runs_and_allocate_changes_the_picture(jlab_root, page):
    run_notebook(page, NAME, timeout=180)
    assert not error_outputs(page)
    app = page.locator(f"{NOTEBOOK} .contig-cma").first
    app.scroll_into_view_if_needed()
    before_img = _picture(page)
    before_text = widget_text(page, "contig-cma-plot")
    assert before_img.startswith("data:image/png")
    assert "no cma_alloc() yet" in before_text
    page.locator(f"{NOTEBOOK} .contig-cma-allocate").first.click()
    wait_until(lambda: _picture(page) != before_img, timeout=20,
               message="the picture did not change after allocate")
    wait_until(lambda: "try 1:" in widget_text(page, "contig-cma-plot"), timeout=20,
               message="no attempts shown after allocate")
    text = widget_text(page, "contig-cma-plot")
    # the notebook's app is on the pinned-slot area: bit 0's slot is busy, bit 4's is free
    assert "try 1: bit 0, alloc_contig_range(0x8, 0xc) = -EBUSY" in text
    assert "try 2: bit 4, alloc_contig_range(0xc, 0x10) = 0 (success)" in text
    assert "alloc_contig_range: [8, c) PFNs busy" in text
    assert not error_outputs(page)
    assert not widget_text(page, "contig-cma-message").strip()
