#!/usr/bin/env python3
"""Regenerate the course notebooks: navigation, contents, hidden answers, stored outputs.

    python scripts/build_notebooks.py                      every notebooks/NN-*.ipynb
    python scripts/build_notebooks.py notebooks/03-x.ipynb only those (navigation
                                                           still links all of them)
    python scripts/build_notebooks.py --no-execute         navigation and contents only
    python scripts/build_notebooks.py --check              exit 1 if navigation or
                                                           contents are stale, or an
                                                           answer is stored open (no run)

For each notebook, in order:

1. the navigation cells (PDSH's add_navigation.py): a markdown cell marked
   ``<!--NAVIGATION-->`` at the top and at the bottom,
   ``< previous | Contents | next >``, replaced in place on every run; the
   Contents link goes to the contents cell of the first notebook (00), which
   the course server can open (README.md lies outside the folder it serves);
2. try first, then look (:func:`hide_answers`): a code cell that calls
   ``.reveal(`` or ``.check(`` with a real answer (not a blank ``...``) is
   tagged ``answer``; every cell tagged ``solution`` or ``answer`` is
   stored collapsed, source and outputs (``jupyter.source_hidden`` and
   ``jupyter.outputs_hidden``, which JupyterLab honours; a ``.reveal(`` call
   keeps its one-line source visible).  JupyterLab previews the first line
   of a collapsed source, so an answer cell starts with a comment line
   (:data:`PREVIEW`, added if missing).  Running a cell shows its output
   again whatever the metadata says, so the output itself must be folded:
   a solution cell starts with the ``%%solution`` magic (added if missing;
   importing contig.selfcheck registers it, and a notebook with solutions
   whose first code cell does not import it gets ``%load_ext
   contig.selfcheck`` there), which shows what the cell prints inside a
   closed ``<details>`` block, and ``.reveal()`` answers are folded the same
   way (their HTML form).  A markdown cell right after a
   solution cell must open with a ``<details>`` block (its prose answer),
   a new exercise (``**N.**``) or a heading: anything else is an answer
   shown open, an error;
3. a run in a fresh kernel of *this* interpreter (nbconvert's
   ExecutePreprocessor, cwd notebooks/, timeout 600 s, no timing metadata);
3. deterministic output: widget model ids (random uuid4 hex) renamed to ids
   derived from the notebook name and order of appearance, ``execution``
   metadata dropped, execution counts 1..n, consecutive stream outputs of
   one cell joined (kernels cut prints into messages by timing);
4. written with nbformat (indent 1, trailing newline).

Then the contents list, from each notebook's first ``# `` heading, is
written between ``<!-- CONTENTS START -->`` and ``<!-- CONTENTS END -->``
in README.md and in the first notebook's cell with id ``contents``.
Running the script twice gives byte-identical files. Run it with the
project's venv (``.venv/bin/python scripts/build_notebooks.py``), so the
kernel imports the same contig.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
NAV_MARK = "<!--NAVIGATION-->"
CONTENTS_START = "<!-- CONTENTS START -->"
CONTENTS_END = "<!-- CONTENTS END -->"
NOTEBOOK_GLOB = "[0-9][0-9]-*.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
HEX32 = re.compile(r"[0-9a-f]{32}")
HIDDEN_TAGS = ("solution", "answer")
CONTENTS_CELL_ID = "contents"
CHECK_CALL = re.compile(r"\.check\((?P<args>[^()]*(?:\([^()]*\)[^()]*)*)\)")
#: The comment a collapsed cell starts with (JupyterLab shows a collapsed source's first line).
PREVIEW = {"solution": "%%solution", "answer": "# Answer: open it after you have tried"}
LOAD_MAGIC = "%load_ext contig.selfcheck"
OPEN_ANSWER_OK = re.compile(r"\s*(<details>|\*\*\d+\.\*\*|#)")


# ------------------------------------------------------------ read and write

def read(path: Path) -> nbformat.NotebookNode:
    """Read a notebook; cells that had no id get deterministic ones (nbformat
    would otherwise invent random ids when it upgrades to 4.5)."""
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    raw_cells = json.loads(text).get("cells", [])
    if len(raw_cells) == len(nb.cells):
        for i, (raw, cell) in enumerate(zip(raw_cells, nb.cells)):
            if "id" not in raw:
                cell["id"] = f"cell-{i}"
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    text = nbformat.writes(nb)  # indent 1, sorted keys
    return text if text.endswith("\n") else text + "\n"


# ----------------------------------------------------------------- navigation

def title(nb: nbformat.NotebookNode, path: Path) -> str:
    """The notebook's first '# ' heading (the contents page reads it)."""
    for cell in nb.cells:
        if cell.cell_type != "markdown" or cell.source.startswith(NAV_MARK):
            continue
        for line in cell.source.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return path.stem


def navigation_source(prev, nxt, contents_link: str) -> str:
    """`prev` and `nxt` are (title, file name) or None."""
    parts = []
    if prev:
        parts.append(f"< [{prev[0]}]({prev[1]}) | ")
    parts.append(f"[Contents]({contents_link})")
    if nxt:
        parts.append(f" | [{nxt[0]}]({nxt[1]}) >")
    return f"{NAV_MARK}\n{''.join(parts)}"


def set_navigation(nb, source: str) -> None:
    """Replace the navigation cells (anywhere) with one at the top and one at the bottom."""
    nb.cells = [c for c in nb.cells
                if not (c.cell_type == "markdown" and c.source.startswith(NAV_MARK))]
    top = nbformat.v4.new_markdown_cell(source)
    top["id"] = "navigation-top"
    bottom = nbformat.v4.new_markdown_cell(source)
    bottom["id"] = "navigation-bottom"
    nb.cells = [top, *nb.cells, bottom]


def contents_block(entries, readme: Path) -> str:
    """The contents list with links relative to the file ``readme`` (README.md or a notebook)."""
    lines = [CONTENTS_START]
    if not entries:
        lines.append("_No notebooks yet._")
    for _name, heading, path in entries:
        rel = Path(os.path.relpath(path, readme.parent)).as_posix()
        lines.append(f"- [{heading}]({rel})")
    lines.append(CONTENTS_END)
    return "\n".join(lines)


def set_contents_cell(nb, block: str) -> None:
    """Write the contents list into the notebook's ``contents`` cell, made if missing
    (a markdown cell ``## Contents`` right after the cell of the ``# `` title)."""
    source = "## Contents\n\nThe notebooks, in order (ranges of PFNs are half-open, " \
             "`[start, end)`, throughout):\n\n" + block
    for cell in nb.cells:
        if cell.get("id") == CONTENTS_CELL_ID:
            cell.source = source
            return
    cell = nbformat.v4.new_markdown_cell(source)
    cell["id"] = CONTENTS_CELL_ID
    at = next((i + 1 for i, c in enumerate(nb.cells)
               if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")), 0)
    nb.cells.insert(at, cell)


# ------------------------------------------------------------- hidden answers

def _shows_answer(source: str) -> bool:
    """A code cell that prints an answer: ``.reveal(...)``, or ``.check(...)`` with at
    least one argument that is not the blank ``...``."""
    if ".reveal(" in source:
        return True
    for m in CHECK_CALL.finditer(source):
        args = [a.split("=", 1)[-1].strip() for a in m["args"].split(",") if a.strip()]
        if any(a != "..." for a in args):
            return True
    return False


def hide_answers(nb) -> list[str]:
    """Tag and collapse answer cells; return what stays open (cell ids and why).

    Try first, then look: see the module docstring, step 2.
    """
    problems = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    if any("solution" in c.metadata.get("tags", []) for c in code) \
            and "contig.selfcheck" not in code[0].source:
        code[0].source = code[0].source.rstrip("\n") + f"\n{LOAD_MAGIC}"
    prev_solution = False
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code":
            if _shows_answer(cell.source) and not set(tags) & set(HIDDEN_TAGS):
                cell.metadata["tags"] = [*tags, "answer"]
                tags = cell.metadata["tags"]
            if set(tags) & set(HIDDEN_TAGS):
                jm = cell.metadata.setdefault("jupyter", {})
                jm["outputs_hidden"] = True
                if ".reveal(" not in cell.source:
                    jm["source_hidden"] = True
                    kind = "solution" if "solution" in tags else "answer"
                    if not cell.source.startswith(PREVIEW[kind].split()[0]):
                        cell.source = f"{PREVIEW[kind]}\n{cell.source}"
            prev_solution = "solution" in tags
            continue
        if prev_solution and cell.cell_type == "markdown" and cell.source.strip() \
                and not OPEN_ANSWER_OK.match(cell.source):
            problems.append(f"cell {i} ({cell.get('id')}): the prose after a solution cell "
                            "is not in a <details> block")
        if "answer" in tags and "<details>" not in cell.source:
            problems.append(f"cell {i} ({cell.get('id')}): tagged answer but not in a "
                            "<details> block")
        prev_solution = False
    return problems


def answers_shown(nb) -> list[str]:
    """What a student sees before asking: answer cells stored open (for --check)."""
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = set(cell.metadata.get("tags", []))
        jm = cell.metadata.get("jupyter", {})
        hidden = bool(tags & set(HIDDEN_TAGS)) or _shows_answer(cell.source)
        if hidden and not jm.get("outputs_hidden") and cell.get("outputs"):
            out.append(f"cell {i} ({cell.get('id')}): an answer's output is stored open")
        if (hidden and ".reveal(" not in cell.source and not jm.get("source_hidden")):
            out.append(f"cell {i} ({cell.get('id')}): an answer's source is stored open")
        elif jm.get("source_hidden") and not cell.source.startswith(("#", "%%solution")):
            out.append(f"cell {i} ({cell.get('id')}): the first line of a collapsed source "
                       "shows (start it with a comment)")
        if "solution" in tags and not cell.source.startswith("%%solution"):
            out.append(f"cell {i} ({cell.get('id')}): a solution runs without %%solution, "
                       "so running it shows its output open")
    return out


def update_readme_text(text: str, block: str) -> str:
    start, end = text.find(CONTENTS_START), text.find(CONTENTS_END)
    if start < 0 or end < start:
        raise SystemExit(f"README has no {CONTENTS_START} ... {CONTENTS_END} markers")
    return text[:start] + block + text[end + len(CONTENTS_END):]


# ------------------------------------------------------------------ execution

def execute(nb, cwd: Path) -> None:
    """Run every cell in a fresh kernel of this interpreter (as nbval's
    --nbval-current-env does): a stale 'python3' kernelspec cannot hijack it."""
    from ipykernel.kernelspec import get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbconvert.preprocessors import ExecutePreprocessor

    class CurrentEnvKernelSpecs(KernelSpecManager):
        def find_kernel_specs(self):
            return {"python3": ""}

        def get_kernel_spec(self, kernel_name):
            return KernelSpec(resource_dir="", **get_kernel_dict())

    km = KernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnvKernelSpecs())
    ep = ExecutePreprocessor(timeout=600, kernel_name="python3", record_timing=False)
    ep.preprocess(nb, {"metadata": {"path": str(cwd)}}, km=km)


def _strings(obj):
    """Every string in a JSON value, in a fixed order (dict keys sorted)."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for key in sorted(obj):
            yield key
            yield from _strings(obj[key])
    elif isinstance(obj, list):
        for item in obj:
            yield from _strings(item)


def _ids_in(obj, known) -> list[str]:
    out = []
    for s in _strings(obj):
        for m in HEX32.findall(s):
            if m in known and m not in out:
                out.append(m)
    return out


def rename_widget_ids(nb, name: str) -> int:
    """Rename widget model ids to ids derived from (notebook name, order of
    appearance); return how many were renamed.

    Order: depth-first from each widget view in the cell outputs, in cell
    order, following references inside the saved widget state; models no
    displayed view reaches come last, sorted by their content.
    """
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    shown = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view and view.get("model_id") and view["model_id"] not in shown:
                shown.append(view["model_id"])
    known = set(state) | set(shown)
    if not known:
        return 0

    order, seen = [], set()

    def visit(mid):
        if mid in seen:
            return
        seen.add(mid)
        order.append(mid)
        for ref in _ids_in(state.get(mid, {}), known):
            visit(ref)

    for mid in shown:
        visit(mid)

    def masked(mid):
        return HEX32.sub("X", json.dumps(state.get(mid, {}), sort_keys=True))

    for mid in sorted(known - seen, key=masked):
        visit(mid)

    mapping = {
        old: hashlib.sha1(f"{name}:{k}".encode()).hexdigest()[:32] for k, old in enumerate(order)
    }
    text = json.dumps(nb)
    text = HEX32.sub(lambda m: mapping.get(m[0], m[0]), text)
    renamed = nbformat.from_dict(json.loads(text))
    nb.clear()
    nb.update(renamed)
    return len(mapping)


def normalise(nb, name: str) -> None:
    """Make a freshly executed notebook byte-identical from run to run."""
    rename_widget_ids(nb, name)
    count = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if cell.get("execution_count") is None:
            continue
        count += 1
        cell.execution_count = count
        cell.outputs = merge_streams(cell.outputs)
        for out in cell.outputs:
            if "execution_count" in out:
                out.execution_count = count


def merge_streams(outputs: list) -> list:
    """Join consecutive stream outputs of the same name (stdout, stderr).

    How a kernel's prints are cut into messages depends on when its stream
    is flushed, so the same cell can give one stream output or several;
    joined, the notebook is the same on every run (as Jupyter shows it).
    """
    merged: list = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and prev is not None
                and prev.get("output_type") == "stream" and prev.get("name") == out.get("name")):
            prev["text"] = "".join(prev["text"]) + "".join(out["text"])
        else:
            merged.append(out)
    return merged


# ----------------------------------------------------------------------- main

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to rebuild (default: every notebooks/NN-*.ipynb)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if navigation or README contents would change (no run)")
    parser.add_argument("--no-execute", action="store_true",
                        help="update navigation and README contents only")
    parser.add_argument("--notebook-dir", type=Path, default=REPO / "notebooks")
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    args = parser.parse_args(argv)

    nbdir = args.notebook_dir.resolve()
    all_paths = sorted(nbdir.glob(NOTEBOOK_GLOB))
    selected = [p.resolve() for p in args.notebooks] or all_paths
    for p in selected:
        if p not in all_paths:
            parser.error(f"{p} is not a {NOTEBOOK_GLOB} notebook in {nbdir}")

    notebooks = {p: read(p) for p in all_paths}
    titles = [(p.name, title(nb, p), p) for p, nb in notebooks.items()]
    first = all_paths[0] if all_paths else None
    contents_link = f"{first.name}#Contents" if first else "#Contents"
    if first is not None:
        set_contents_cell(notebooks[first], contents_block(titles, first))

    stale = []
    for i, path in enumerate(all_paths):
        if path not in selected:
            continue
        nb = notebooks[path]
        prev = (titles[i - 1][1], titles[i - 1][0]) if i > 0 else None
        nxt = (titles[i + 1][1], titles[i + 1][0]) if i + 1 < len(titles) else None
        set_navigation(nb, navigation_source(prev, nxt, contents_link))
        if args.check:
            shown = answers_shown(nb) + hide_answers(nb)
            for why in shown:
                print(f"{path.name}: {why}", file=sys.stderr)
            if shown or render(nb) != path.read_text(encoding="utf-8"):
                stale.append(path)
            continue
        problems = hide_answers(nb)
        if problems:
            for why in problems:
                print(f"error: {path.name}: {why}", file=sys.stderr)
            return 1
        if not args.no_execute:
            print(f"executing {path.name} ...", flush=True)
            try:
                execute(nb, nbdir)
            except Exception as exc:
                print(f"error: {path.name} failed:\n{exc}", file=sys.stderr)
                return 1
            normalise(nb, path.name)
        path.write_text(render(nb), encoding="utf-8")
        print(f"wrote {path.relative_to(nbdir.parent)}")

    readme_text = args.readme.read_text(encoding="utf-8")
    new_readme = update_readme_text(readme_text, contents_block(titles, args.readme.resolve()))
    if new_readme != readme_text:
        if args.check:
            stale.append(args.readme)
        else:
            args.readme.write_text(new_readme, encoding="utf-8")
            print(f"wrote {args.readme.name} contents")

    if args.check and stale:
        for p in stale:
            print(f"stale: {p}", file=sys.stderr)
        print("run: .venv/bin/python scripts/build_notebooks.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
