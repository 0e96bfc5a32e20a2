"""Build the course's static website from the stored notebooks (no kernel).

    python website/contig_site.py [--out build/site]

Steps (``build``):

1. ``stage``: every ``notebooks/NN-*.ipynb`` (glob, in name order) is copied
   into a staging folder (``OUT-work/src``, so ``build/site-work/src``)
   through ``prepare_notebook``,
   which never touches the notebooks themselves:

   - hidden answers become collapsed toggles: a code cell with the
     ``jupyter.source_hidden`` / ``jupyter.outputs_hidden`` metadata JupyterLab
     honours gets myst-nb's ``hide-input`` / ``hide-output`` tag (both:
     ``hide-cell``); a code cell tagged ``solution`` or ``answer`` gets
     ``hide-cell``; a hidden or tagged markdown cell is wrapped in a closed
     ``<details>`` block. Prose ``<details>`` blocks pass through as HTML and
     stay closed;
   - every ipywidgets app (an ``application/vnd.jupyter.widget-view+json``
     output) is replaced by what it showed when the notebook was built: the
     text of its HTML and Label widgets, the settings of its controls, and
     the outputs its Output widgets kept in the notebook's widget state
     (the stored PNG figure), under a line saying to run the notebook to move
     the range. With no stored picture, the last figure stored above the app
     is shown. The widget state is dropped, so no widget JavaScript (and no
     CDN) is needed;
   - a banner naming the notebook the page came from, with a link to a copy
     of it (``notebooks/NN-x.ipynb`` inside the site, the repository path)
     and a download link;
   - links to ``../README.md`` become links to the landing page; other links
     out of notebooks/ point at the repository file when its URL is known
     (``CONTIG_SITE_REPO_URL``, or GitHub Actions' variables), else become
     plain text; links to JupyterLab heading anchors (``#Check-yourself``)
     get MyST's slugs, and links to ``<a id>`` anchors become inline HTML.

   A landing page ``index.md`` (website/index.md plus a toctree of the
   lessons from the same glob) is written beside them.
2. Sphinx (myst-nb, ``nb_execution_mode = "off"``, sphinx-book-theme) turns
   the staging folder into HTML in ``--out``, offline, from a fresh
   environment, with every warning an error (a broken link fails the build).
3. The original notebooks are copied into ``OUT/notebooks/``.
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import os
import re
import shutil
import sys
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEBSITE = Path(__file__).resolve().parent
DEFAULT_OUT = REPO / "build" / "site"
NOTEBOOK_GLOB = "[0-9][0-9]-*.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
ANSWER_TAGS = {"solution", "answer"}
HIDE_TAGS = {"hide-input", "hide-output", "hide-cell"}
STATIC_NOTE = (
    "A picture, not the app: this is what the app showed when the notebook was built. "
    "Run the notebook to move the range."
)
# Widgets whose `value` is worth showing as "description: value".
CONTROL_MODELS = {
    "IntRangeSliderModel", "IntSliderModel", "FloatSliderModel", "BoundedIntTextModel",
    "IntTextModel", "DropdownModel", "CheckboxModel", "ToggleButtonsModel", "RadioButtonsModel",
    "SelectionSliderModel", "TextModel", "PlayModel", "SelectModel", "ToggleButtonModel",
}
TEXT_MODELS = {"HTMLModel", "LabelModel", "HTMLMathModel"}


def lesson_paths(notebooks: Path) -> list[Path]:
    """The lessons, in reading order: notebooks/NN-*.ipynb sorted by name."""
    return sorted(notebooks.glob(NOTEBOOK_GLOB))


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _first_heading(nb: dict) -> str | None:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            m = re.search(r"^#\s+(.+?)\s*$", _source(cell), re.MULTILINE)
            if m:
                return m[1]
    return None


# ------------------------------------------------------------ hidden answers

def _hidden_flags(cell: dict) -> tuple[bool, bool]:
    """(input hidden, output hidden) from JupyterLab's metadata and the tags."""
    md = cell.get("metadata", {})
    jl = md.get("jupyter", {}) or {}
    src_hidden = bool(jl.get("source_hidden"))
    out_hidden = bool(jl.get("outputs_hidden"))
    if ANSWER_TAGS & set(md.get("tags", [])):
        src_hidden = out_hidden = True
    return src_hidden, out_hidden


def hide_answers(cell: dict) -> dict:
    """Map a cell's hidden-answer metadata to the site's collapsed toggle.

    Code cells get myst-nb's ``hide-input``, ``hide-output`` or ``hide-cell``
    tag; markdown cells are wrapped in a closed ``<details>`` block. The
    JupyterLab ``jupyter`` metadata is dropped from the copy (myst-nb would
    otherwise ignore it silently)."""
    cell = copy.deepcopy(cell)
    src_hidden, out_hidden = _hidden_flags(cell)
    md = cell.setdefault("metadata", {})
    md.pop("jupyter", None)
    if not (src_hidden or out_hidden):
        return cell
    if cell.get("cell_type") == "code":
        tags = [t for t in md.get("tags", []) if t not in HIDE_TAGS]
        if src_hidden and out_hidden:
            tags.append("hide-cell")
        elif src_hidden:
            tags.append("hide-input")
        else:
            tags.append("hide-output")
        md["tags"] = tags
    elif cell.get("cell_type") == "markdown" and src_hidden:
        cell["source"] = (
            '<details class="contig-hidden">\n<summary>Show the answer</summary>\n\n'
            + _source(cell).strip("\n")
            + "\n\n</details>\n"
        )
    return cell


# ------------------------------------------------------------------ widgets

def _model_id(ref: str) -> str:
    return ref[len("IPY_MODEL_"):] if ref.startswith("IPY_MODEL_") else ref


def _format_value(state: dict) -> str | None:
    value = state.get("value")
    if "_options_labels" in state and isinstance(state.get("index"), int):
        labels = state["_options_labels"]
        if 0 <= state["index"] < len(labels):
            value = labels[state["index"]]
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 2:
        return f"{value[0]} .. {value[1]}"
    return str(value)


def widget_snapshot(model_id: str, widget_state: dict) -> tuple[list[str], list[dict]]:
    """Walk a widget tree depth-first: (control lines, outputs to show).

    HTML and Label widgets become text/html outputs, Output widgets give the
    outputs they stored (figures as image/png), controls become
    "description: value" lines."""
    controls: list[str] = []
    outputs: list[dict] = []
    seen: set[str] = set()

    def walk(mid: str) -> None:
        if mid in seen or mid not in widget_state:
            return
        seen.add(mid)
        model = widget_state[mid]
        name, state = model.get("model_name", ""), model.get("state", {})
        if name in CONTROL_MODELS:
            value = _format_value(state)
            desc = state.get("description") or ""
            if value is not None and desc:
                controls.append(f"{desc}: {value}")
        elif name in TEXT_MODELS and state.get("value"):
            outputs.append({"output_type": "display_data", "metadata": {},
                            "data": {"text/html": f'<div class="contig-app-text">{state["value"]}</div>'}})
        elif name == "OutputModel":
            for out in state.get("outputs", []):
                outputs.append(copy.deepcopy(out))
        for child in state.get("children", []):
            walk(_model_id(child))

    walk(model_id)
    return controls, outputs


def _has_png(outputs: list[dict]) -> bool:
    return any("image/png" in o.get("data", {}) for o in outputs)


def static_app_outputs(output: dict, widget_state: dict, last_png: dict | None) -> list[dict]:
    """The outputs that replace one widget-view output on the site."""
    model_id = output["data"][WIDGET_VIEW].get("model_id", "")
    controls, shown = widget_snapshot(model_id, widget_state)
    if not _has_png(shown) and last_png is not None:
        shown.append(copy.deepcopy(last_png))
    note = f'<p class="contig-app-note">{html.escape(STATIC_NOTE)}</p>'
    if controls:
        note += '<p class="contig-app-controls">' + " &middot; ".join(
            html.escape(c) for c in controls) + "</p>"
    head = {"output_type": "display_data", "metadata": {},
            "data": {"text/html": f'<div class="contig-app-static">{note}</div>'}}
    return [head, *shown]


def replace_widgets(nb: dict) -> dict:
    """Replace every widget view by its stored picture; drop the widget state."""
    nb = copy.deepcopy(nb)
    state = (nb.get("metadata", {}).pop("widgets", None) or {}).get(WIDGET_STATE, {}).get("state", {})
    last_png = None
    for cell in nb.get("cells", []):
        new_outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                new_outputs.extend(static_app_outputs(out, state, last_png))
            else:
                new_outputs.append(out)
            if "image/png" in data:
                last_png = {"output_type": "display_data", "metadata": {},
                            "data": {"image/png": data["image/png"]}}
        if "outputs" in cell:
            cell["outputs"] = new_outputs
    return nb


# -------------------------------------------------------------------- links

LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
RAW_ANCHOR = re.compile(r"""<a\s+(?:id|name)\s*=\s*["']([^"']+)["']\s*>\s*</a>""")


def raw_anchors(nb: dict) -> set[str]:
    """The ids of the HTML anchors (``<a id="x"></a>``) in a notebook's prose."""
    return {m for c in nb.get("cells", []) if c.get("cell_type") == "markdown"
            for m in RAW_ANCHOR.findall(_source(c))}


def heading_slug(anchor: str) -> str:
    """A heading anchor as MyST writes it (GitHub's slugs): JupyterLab links a
    heading as its text with spaces as hyphens, case and punctuation kept."""
    text = urllib.parse.unquote(anchor).strip().lower().replace(" ", "-")
    return re.sub(r"[^\w\- ]", "", text)


def rewrite_links(text: str, repo_url: str | None, anchors: dict[str, set[str]] | None = None,
                  here: str = "") -> str:
    """Links that leave notebooks/: README -> the landing page, other
    repository files -> the repository (when its URL is known), else their text.

    A link to an HTML anchor (`anchors`: notebook stem -> its ``<a id>``s;
    `here`: this notebook's stem) becomes inline HTML around the Markdown
    text: the id exists in the page, but MyST resolves only headings and
    labels, and would warn."""
    anchors = anchors or {}

    def sub(m: re.Match) -> str:
        label, target = m[1], m[2]
        path, _, anchor = target.partition("#")
        if anchor and not re.match(r"^[a-z][a-z0-9+.-]*:", path, re.I):
            stem = here if not path else (path[:-len(".ipynb")] if path.endswith(".ipynb") else None)
            if stem is not None and "/" not in stem and anchor in anchors.get(stem, set()):
                href = f"#{anchor}" if stem == here else f"{stem}.html#{anchor}"
                return f'<a href="{html.escape(href)}">{label}</a>'
            if stem is not None and not path.startswith("../") and heading_slug(anchor) != anchor:
                # JupyterLab's heading anchor ("Check-yourself") -> MyST's ("check-yourself")
                return f"[{label}]({path}#{heading_slug(anchor)})"
        if not target.startswith("../"):
            return m[0]
        path, _, anchor = target[3:].partition("#")
        anchor = f"#{anchor}" if anchor else ""
        if path == "README.md":
            return f"[{label}](index.md{anchor})"
        if repo_url:
            return f"[{label}]({repo_url}/blob/HEAD/{path}{anchor})"
        return label

    return LINK.sub(sub, text)


# ----------------------------------------------------------------- notebook

def banner(name: str, repo_url: str | None) -> dict:
    """A markdown cell naming the notebook the page came from."""
    link = f"notebooks/{name}"
    parts = [
        f'This page is the notebook <a class="contig-notebook-link" href="{link}"><code>{link}</code></a>',
        f'(<a class="contig-download" href="{link}" download="{name}">download .ipynb</a>'
        + (f', <a href="{repo_url}/blob/HEAD/{link}">in the repository</a>' if repo_url else "")
        + "), shown with the outputs stored when it was built. To run it and move the apps: "
        "<code>./scripts/course</code>.",
    ]
    return {"cell_type": "markdown", "metadata": {}, "id": "contig-site-banner",
            "source": f'<div class="contig-source">\n{" ".join(parts)}\n</div>'}


def prepare_notebook(nb: dict, name: str, repo_url: str | None = None,
                     anchors: dict[str, set[str]] | None = None) -> dict:
    """The site's copy of one notebook (the input is not modified).

    `anchors` maps each lesson's stem to its HTML anchors (default: this
    notebook's own)."""
    stem = Path(name).stem
    anchors = anchors if anchors is not None else {stem: raw_anchors(nb)}
    nb = replace_widgets(nb)
    cells = []
    for cell in nb.get("cells", []):
        cell = hide_answers(cell)
        if cell.get("cell_type") == "markdown":
            cell["source"] = rewrite_links(_source(cell), repo_url, anchors, stem)
        cells.append(cell)
    # The banner goes after the first heading's cell, so the heading stays the title.
    at = next((i + 1 for i, c in enumerate(cells)
               if c.get("cell_type") == "markdown" and re.search(r"^#\s", _source(c), re.MULTILINE)), 0)
    cells.insert(at, banner(name, repo_url))
    nb["cells"] = cells
    return nb


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def landing_page(lessons: list[tuple[str, str]]) -> str:
    """website/index.md with the toctree of the lessons appended."""
    text = (WEBSITE / "index.md").read_text(encoding="utf-8")
    toc = "\n".join(stem for stem, _ in lessons)
    glossary = [(stem, title) for stem, title in lessons if stem.endswith("glossary")]
    if glossary:
        stem, title = glossary[-1]
        text = f"{text.rstrip()}\n\nA word you do not know: [{title}]({stem}.ipynb).\n"
    return f"{text.rstrip()}\n\n```{{toctree}}\n:maxdepth: 1\n:caption: Lessons\n\n{toc}\n```\n"


def stage(notebooks: Path, staging: Path, repo_url: str | None = None) -> list[tuple[str, str]]:
    """Write the site's sources into `staging`; return [(page name, title)]."""
    staging.mkdir(parents=True, exist_ok=True)
    lessons = []
    wanted = {"index.md"}
    notebooks_read = {path: json.loads(path.read_text(encoding="utf-8")) for path in lesson_paths(notebooks)}
    anchors = {path.stem: raw_anchors(nb) for path, nb in notebooks_read.items()}
    for path, nb in notebooks_read.items():
        site_nb = prepare_notebook(nb, path.name, repo_url, anchors)
        _write_if_changed(staging / path.name, json.dumps(site_nb, indent=1, ensure_ascii=False) + "\n")
        wanted.add(path.name)
        lessons.append((path.stem, _first_heading(nb) or path.stem))
    _write_if_changed(staging / "index.md", landing_page(lessons))
    for old in staging.iterdir():  # a lesson renamed or removed
        if old.is_file() and old.name not in wanted:
            old.unlink()
    return lessons


def repository_url() -> str | None:
    """CONTIG_SITE_REPO_URL, or the GitHub repository in GitHub Actions."""
    url = os.environ.get("CONTIG_SITE_REPO_URL", "").strip()
    if not url and os.environ.get("GITHUB_REPOSITORY"):
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        url = f"{server}/{os.environ['GITHUB_REPOSITORY']}"
    return url.rstrip("/") or None


def build(out: Path, *, notebooks: Path = REPO / "notebooks", work: Path | None = None,
          quiet: bool = True) -> Path:
    """Stage, run Sphinx, copy the notebooks; return the folder holding index.html."""
    from sphinx.cmd.build import build_main

    out = out.resolve()
    work = (work or out.parent / f"{out.name}-work").resolve()
    repo_url = repository_url()
    stage(notebooks, work / "src", repo_url)
    # -E: a fresh environment every time (a few seconds), so a warning in a
    # page that did not change is still seen, and -W makes it an error.
    args = ["-b", "html", "-E", "-c", str(WEBSITE), "-d", str(work / "doctrees"),
            "-W", "--keep-going", str(work / "src"), str(out)]
    if quiet:
        args.insert(0, "-q")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    if build_main(args) != 0:
        raise SystemExit("sphinx-build failed (warnings are errors): see the messages above")
    (out / ".nojekyll").touch()  # served as is, also from a gh-pages branch
    dest = out / "notebooks"
    dest.mkdir(exist_ok=True)
    for path in lesson_paths(notebooks):
        shutil.copyfile(path, dest / path.name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output folder (default: build/site)")
    parser.add_argument("--verbose", action="store_true", help="Sphinx's full output")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    out = build(args.out, quiet=not args.verbose)
    print(f"site built in {time.monotonic() - t0:.0f} s: {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

