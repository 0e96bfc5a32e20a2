"""scripts/build_notebooks.py: the output it writes is the same on every run."""

from __future__ import annotations

import importlib.util
import json
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


# ------------------------------------------------------------- try first, then look

def _nb(*cells):
    nb = new_notebook(cells=list(cells))
    for i, c in enumerate(nb.cells):
        c["id"] = f"c{i}"
    return nb


def test_answer_cells_are_tagged_and_collapsed():
    b = load_script()
    out = [new_output("stream", name="stdout", text="order = 3: right.\n")]
    nb = _nb(new_code_cell("p = basics.buddy_problem(1)\np", outputs=[]),
             new_code_cell("p.check(order=..., start=...)", outputs=out),     # a template
             new_code_cell("p.check(order=3, start=...)", outputs=out),       # an answer
             new_code_cell("p.reveal(1)", outputs=out),
             new_code_cell("x = 1", outputs=out),
             nbformat.v4.new_markdown_cell("<details><summary>Answer</summary>\n\nx\n\n</details>"))
    nb.cells[4].metadata["tags"] = ["solution"]
    # check: output+source, reveal: output, solution: both and no %%solution
    assert len(b.answers_shown(nb)) == 6
    assert b.hide_answers(nb) == []
    tpl, ans, rev, sol = nb.cells[1:5]
    assert "tags" not in tpl.metadata and "jupyter" not in tpl.metadata
    assert ans.metadata["tags"] == ["answer"]
    assert ans.metadata["jupyter"] == {"outputs_hidden": True, "source_hidden": True}
    assert rev.metadata["jupyter"] == {"outputs_hidden": True}   # `p.reveal(1)` may be seen
    assert sol.metadata["jupyter"] == {"outputs_hidden": True, "source_hidden": True}
    # JupyterLab previews a collapsed source's first line: it is a comment
    assert sol.source == "%%solution\nx = 1"   # its output folded even after a run
    assert ans.source.splitlines()[0] == b.PREVIEW["answer"]
    assert b.answers_shown(nb) == []
    sol.source = "x = 1"
    assert "first line" in b.answers_shown(nb)[0] and "%%solution" in b.answers_shown(nb)[1]


def test_a_notebook_with_solutions_loads_the_solution_magic():
    b = load_script()
    sol = new_code_cell("x = 1")
    sol.metadata["tags"] = ["solution"]
    nb = _nb(new_code_cell("%matplotlib inline\nimport contig"), sol)
    b.hide_answers(nb)
    assert nb.cells[0].source == "%matplotlib inline\nimport contig\n%load_ext contig.selfcheck"
    b.hide_answers(nb)                                    # once only
    assert nb.cells[0].source.count("%load_ext") == 1
    nb = _nb(new_code_cell("from contig.selfcheck import basics"), sol)
    b.hide_answers(nb)
    assert "%load_ext" not in nb.cells[0].source          # the import registers it already


def test_prose_answer_after_a_solution_must_be_in_details():
    b = load_script()
    sol = new_code_cell("x = 1")
    sol.metadata["tags"] = ["solution"]
    nb = _nb(sol, nbformat.v4.new_markdown_cell("It is 1.\n\n**2.** Next question"))
    assert "not in a <details> block" in b.hide_answers(nb)[0]
    ok = _nb(sol, nbformat.v4.new_markdown_cell("**2.** Next question"))
    assert b.hide_answers(ok) == []


def test_check_fails_on_an_answer_stored_open(tmp_path):
    """--check exits 1 when a stored notebook shows an answer (no kernel is run)."""
    b = load_script()
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n## Contents\n\n{b.CONTENTS_START}\n{b.CONTENTS_END}\n")
    cell = new_code_cell("p.reveal()", execution_count=1, outputs=[
        new_output("execute_result", data={"text/plain": "the answer"}, execution_count=1)])
    path = nbdir / "00-x.ipynb"
    nbformat.write(new_notebook(cells=[nbformat.v4.new_markdown_cell("# 00. X"), cell]), path)
    args = ["--notebook-dir", str(nbdir), "--readme", str(readme)]
    assert b.main([*args, "--no-execute"]) == 0          # writes navigation, tags, hides
    stored = json.loads(path.read_text())
    shown = [c for c in stored["cells"] if ".reveal(" in "".join(c["source"])]
    assert shown[0]["metadata"]["jupyter"] == {"outputs_hidden": True}
    assert b.main([*args, "--check"]) == 0
    shown[0]["metadata"].pop("jupyter")                   # stored open again
    path.write_text(json.dumps(stored))
    assert b.main([*args, "--check"]) == 1


def test_contents_live_in_the_first_notebook_and_navigation_points_there():
    nbs = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    first = json.loads(nbs[0].read_text())
    contents = [c for c in first["cells"] if c.get("id") == "contents"]
    assert contents, "no contents cell in the first notebook"
    text = "".join(contents[0]["source"])
    for p in nbs:
        assert f"]({p.name})" in text
    for p in nbs:
        nav = "".join(json.loads(p.read_text())["cells"][0]["source"])
        assert f"[Contents]({nbs[0].name}#Contents)" in nav, p.name
        assert "README.md" not in nav


def test_no_stored_notebook_shows_an_answer():
    b = load_script()
    for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        nb = b.read(p)
        assert b.answers_shown(nb) == [], p.name
        assert b.hide_answers(nb) == [], p.name
