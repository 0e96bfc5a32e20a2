"""A small notebook with every kind of hidden answer and app the website
handles, for tests/test_site.py and tests/browser/test_site_browser.py.

Each hidden text is a distinct marker word, so a test can look for it on the
page; each figure is a real PNG (a few pixels, one colour) made here.
"""

from __future__ import annotations

import base64
import struct
import zlib

FIXTURE_NAME = "98-site-fixture.ipynb"
FIXTURE_TITLE = "98. Site fixture: hidden answers and apps"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

# marker -> hidden before its toggle is opened?
MARKERS = {
    "PROSE-DETAILS-SECRET": True,
    "BOTH-HIDDEN-SOURCE": True,
    "BOTH-HIDDEN-OUTPUT": True,
    "INPUT-HIDDEN-SOURCE": True,
    "INPUT-HIDDEN-SHOWN-OUTPUT": False,
    "OUTPUT-HIDDEN-SHOWN-SOURCE": False,
    "OUTPUT-HIDDEN-OUTPUT": True,
    "SOLUTION-TAG-SOURCE": True,
    "SOLUTION-TAG-OUTPUT": True,
    "MARKDOWN-HIDDEN-ANSWER": True,
    "MARKDOWN-TAGGED-ANSWER": True,
    "ALWAYS-VISIBLE-TEXT": False,
    "APP-SUMMARY-TEXT": False,
    "LATEX-PLAIN-FALLBACK": False,
}


def png(rgb: tuple[int, int, int], width: int = 6, height: int = 4) -> str:
    """A solid-colour PNG, base64-encoded as notebooks store it."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    data = (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))
    return base64.b64encode(data).decode()


RED, BLUE = png((200, 30, 30)), png((30, 30, 200))


def _md(source: str, **metadata) -> dict:
    return {"cell_type": "markdown", "metadata": metadata, "source": source}


def _code(source: str, outputs: list[dict], **metadata) -> dict:
    return {"cell_type": "code", "execution_count": 1, "metadata": metadata,
            "outputs": outputs, "source": source}


def _stream(text: str) -> dict:
    return {"name": "stdout", "output_type": "stream", "text": text + "\n"}


def _figure(b64: str) -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": b64, "text/plain": "<Figure size 640x480 with 1 Axes>"}}


def _view(model_id: str) -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {WIDGET_VIEW: {"model_id": model_id, "version_major": 2, "version_minor": 0},
                     "text/plain": "VBox(children=(IntRangeSlider(...), HTML(...), Output()))"}}


def widget_state() -> dict:
    """An app as RangeExplorer stores it: a VBox of a slider, an HTML summary
    and an Output widget holding the figure."""
    def model(name: str, **state) -> dict:
        return {"model_module": "@jupyter-widgets/controls", "model_module_version": "2.0.0",
                "model_name": name, "state": state}

    return {
        "app": model("VBoxModel", children=["IPY_MODEL_slider", "IPY_MODEL_summary", "IPY_MODEL_out"]),
        "slider": model("IntRangeSliderModel", description="[start, end)", value=[3, 9]),
        "summary": model("HTMLModel", value="<b>APP-SUMMARY-TEXT</b> alloc_contig_range(3, 9) = 0"),
        "out": {"model_module": "@jupyter-widgets/output", "model_module_version": "1.0.0",
                "model_name": "OutputModel", "state": {"outputs": [_figure(BLUE)]}},
    }


def fixture_notebook() -> dict:
    """The notebook (nbformat 4 as a dict)."""
    cells = [
        _md(f"# {FIXTURE_TITLE}\n\nALWAYS-VISIBLE-TEXT: the prose is always shown."),
        _md("A prose answer:\n\n<details>\n<summary>Show the prose answer</summary>\n\n"
            "PROSE-DETAILS-SECRET is the answer.\n\n</details>\n\nAfter the details block."),
        _code('print("BOTH-HIDDEN-SOURCE")', [_stream("BOTH-HIDDEN-OUTPUT")],
              jupyter={"source_hidden": True, "outputs_hidden": True}),
        _code('x = "INPUT-HIDDEN-SOURCE"\nprint("shown")', [_stream("INPUT-HIDDEN-SHOWN-OUTPUT")],
              jupyter={"source_hidden": True}),
        _code('print("OUTPUT-HIDDEN-SHOWN-SOURCE")', [_stream("OUTPUT-HIDDEN-OUTPUT")],
              jupyter={"outputs_hidden": True}),
        _code('print("SOLUTION-TAG-SOURCE")', [_stream("SOLUTION-TAG-OUTPUT")], tags=["solution"]),
        _md("MARKDOWN-HIDDEN-ANSWER: the worked answer.", jupyter={"source_hidden": True}),
        _md("MARKDOWN-TAGGED-ANSWER: another worked answer.", tags=["answer"]),
        _code("plot()\nplt.show()", [_figure(RED)]),
        _code("app = Explorer()\napp", [_view("app")], tags=["nbval-ignore-output"]),
        _code("lost = Explorer()\nlost", [_view("not-in-the-state")]),
        _code("sympy_like()", [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                                "data": {"text/latex": "$x^2$", "text/plain": "LATEX-PLAIN-FALLBACK"}}]),
    ]
    for i, cell in enumerate(cells):
        cell["id"] = f"fixture-{i}"
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "widgets": {WIDGET_STATE: {"state": widget_state(), "version_major": 2, "version_minor": 0}},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
