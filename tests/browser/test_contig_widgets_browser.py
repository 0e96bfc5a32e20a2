"""contig's two apps work in a real browser: built in a throwaway notebook,
driven with the keyboard, checked against the model (see contig_widgets.py)."""

import json
import os
import statistics

import pytest
from contig_widgets import (
    exercise_geometry_picker,
    exercise_range_explorer,
    exercise_step_player,
    exercise_zoom,
    measure_latency,
)
from jlab import error_outputs, run_notebook, write_notebook
from nbformat.v4 import new_code_cell

pytestmark = pytest.mark.browser

CELLS = [
    "%matplotlib inline\nfrom contig.scenarios import SCENARIOS\n"
    "from contig.viz import RangeExplorer, StepPlayer",
    "app = RangeExplorer({k: SCENARIOS[k] for k in ('fragmented', 'pinned')}, start=8, end=14)\napp",
    "player = StepPlayer(SCENARIOS['fragmented'])\nplayer",
    "import numpy as np\nfrom contig import Geometry, Zone\n"
    "pages = np.random.default_rng(1).choice(np.frombuffer(b'MMMMMM....U', np.uint8), 4096)\n"
    "big = RangeExplorer(Zone.from_arrays(pages, geometry=Geometry(4, 2), name='big'), "
    "start=1000, end=1040)\nbig",
]


@pytest.fixture(scope="module")
def apps_notebook(jlab_root):
    return write_notebook(jlab_root, "selftest/contig-apps.ipynb",
                          [new_code_cell(c) for c in CELLS])


def test_range_explorer_and_step_player_in_the_browser(apps_notebook, page):
    run_notebook(page, apps_notebook)
    assert not error_outputs(page)
    moved = exercise_range_explorer(page, 0)
    assert moved["before"] != moved["after"]
    stepped = exercise_step_player(page, 0)
    assert stepped["before"] != stepped["after"]
    assert not error_outputs(page)


def test_geometry_picker_and_zoom_in_the_browser(apps_notebook, page):
    run_notebook(page, apps_notebook)
    exercise_geometry_picker(page, 0)
    exercise_zoom(page, 1)
    exercise_range_explorer(page, 1)      # the 4096-page zone, drawn whole
    assert not error_outputs(page)


#: issue 13, section 4: the targets (median, seconds); recorded and reported, never asserted
LATENCY_TARGETS = {"slider": 0.100, "geometry": 0.250, "zoom": 0.250}


def test_key_press_to_new_picture_latency(apps_notebook, page, record_property):
    """Key press (choice, click) to new picture, measured in Chromium: recorded, not asserted.

    Set CONTIG_LATENCY_JSON=path to keep the figures (benchmarks/README.md quotes them)."""
    run_notebook(page, apps_notebook)
    runs = {
        "slider, 32-page course zone": measure_latency(page, "slider", 0),
        "slider, 4096-page zone": measure_latency(page, "slider", 1),
        "geometry, 32-page course zone": measure_latency(page, "geometry", 0),
        "zoom, 4096-page zone": measure_latency(page, "zoom", 1),
    }
    report = {}
    for name, xs in runs.items():
        target = LATENCY_TARGETS[name.split(",")[0]]
        report[name] = {"median_ms": round(1000 * statistics.median(xs)),
                        "min_ms": round(1000 * min(xs)), "max_ms": round(1000 * max(xs)),
                        "n": len(xs), "target_ms": round(1000 * target)}
        record_property(f"latency {name}", report[name])
        print(f"latency {name}: {report[name]}")
    if os.environ.get("CONTIG_LATENCY_JSON"):
        with open(os.environ["CONTIG_LATENCY_JSON"], "w") as f:
            json.dump(report, f, indent=1)
    assert not error_outputs(page)
