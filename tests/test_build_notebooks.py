"""scripts/build_notebooks.py: the output it writes is the same on every run."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("build_notebooks",
                                                  ROOT / "scripts" / "build_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_split_prints_are_joined_into_one_stream_output():
    b = load_script()
    outs = [new_output("stream", name="stdout", text="a\n"),
            new_output("stream", name="stdout", text=["b\n", "c\n"]),
            new_output("stream", name="stderr", text="warn\n"),
            new_output("stream", name="stdout", text="d\n"),
            new_output("execute_result", data={"text/plain": "1"}, execution_count=9),
            new_output("stream", name="stdout", text="e\n")]
    merged = b.merge_streams(outs)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in merged] == [
        ("stream", "stdout", "a\nb\nc\n"), ("stream", "stderr", "warn\n"),
        ("stream", "stdout", "d\n"), ("execute_result", None, None), ("stream", "stdout", "e\n")]


def test_normalise_numbers_cells_and_joins_streams():
    b = load_script()
    one = [new_output("stream", name="stdout", text="x\n"),
           new_output("stream", name="stdout", text="y\n")]
    nb = new_notebook(cells=[new_code_cell("print(1)", execution_count=7, outputs=one),
                             new_code_cell("2", execution_count=8, outputs=[
                                 new_output("execute_result", data={"text/plain": "2"},
                                            execution_count=8)])])
    nb.cells[0].metadata["execution"] = {"iopub.status.busy": "2026-01-01"}
    b.normalise(nb, "00-x")
    assert [c.execution_count for c in nb.cells] == [1, 2]
    assert nb.cells[1].outputs[0].execution_count == 2
    assert len(nb.cells[0].outputs) == 1 and nb.cells[0].outputs[0].text == "x\ny\n"
    assert "execution" not in nb.cells[0].metadata
    nbformat.validate(nb)


def test_the_stored_course_is_up_to_date():
    """Navigation cells and README contents match the notebooks (no kernel is run)."""
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_notebooks.py"), "--check"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
