"""The browser harness proves itself on a throwaway notebook built here:
an IntSlider drives a matplotlib figure in an Output widget. Moving it must
change the image; moving a control whose callback redraws the same figure
must leave the image byte-identical (the negative control)."""

import pytest
from jlab import (
    error_outputs,
    output_image_srcs,
    press_slider,
    run_notebook,
    slider_value,
    wait_until,
    widget_text,
    write_notebook,
)
from nbformat.v4 import new_code_cell, new_markdown_cell

pytestmark = pytest.mark.browser

APP = """\
import ipywidgets as widgets
import matplotlib.pyplot as plt

n = widgets.IntSlider(value=3, min=1, max=10, description="n")
other = widgets.IntSlider(value=0, min=0, max=5, description="other")
out = widgets.Output()
result = widgets.Label()
result.add_class("contig-result")
draws = 0

def draw(change=None):
    global draws
    draws += 1
    with out:
        out.clear_output(wait=True)
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot(range(n.value), "o-")
        plt.show()
    result.value = f"n={n.value} draws={draws}"

n.observe(draw, names="value")
other.observe(draw, names="value")  # redraws, but the figure ignores it
draw()
widgets.VBox([n, other, out, result])"""


@pytest.fixture(scope="module")
def selftest_notebook(jlab_root):
    return write_notebook(jlab_root, "selftest/harness.ipynb", [
        new_markdown_cell("# Harness self-test"),
        new_code_cell("%matplotlib inline"),
        new_code_cell(APP),
    ])


def draws(page):
    text = widget_text(page, "contig-result")
    return int(text.rsplit("draws=", 1)[1]) if "draws=" in text else 0


def test_slider_changes_the_figure(page, selftest_notebook):
    run_notebook(page, selftest_notebook, timeout=60)
    assert error_outputs(page) == []
    wait_until(lambda: output_image_srcs(page), message="no figure in the Output widget")
    (before,) = output_image_srcs(page)
    assert before.startswith("data:image/png;base64,")
    assert widget_text(page, "contig-result") == "n=3 draws=1"

    # Negative control: a redraw with the same data gives the same PNG.
    press_slider(page, 1, "ArrowRight", 1)
    wait_until(lambda: draws(page) == 2, message="the 'other' slider did not redraw")
    assert output_image_srcs(page) == [before]

    # The real move: n 3 -> 5 changes the picture and the text.
    press_slider(page, 0, "ArrowRight", 2)
    wait_until(lambda: widget_text(page, "contig-result").startswith("n=5"),
               message=f"slider did not reach 5: {slider_value(page, 0)}")
    assert slider_value(page, 0) == 5
    after = wait_until(lambda: [s for s in output_image_srcs(page) if s != before],
                       message="the figure did not change")
    assert len(after) == 1
    assert error_outputs(page) == []
