"""The course website (./scripts/site, website/contig_site.py): the notebook
preprocessing (hidden answers -> toggles, apps -> their stored pictures),
and the built HTML read back without a browser (no resource from another
host, hidden answers inside closed <details>, every lesson a page).

The browser checks are in tests/browser/test_site_browser.py.
"""

from __future__ import annotations

import copy
import hashlib
import html
import json
import os
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "website"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import contig_site  # noqa: E402
from site_fixture import (  # noqa: E402
    BLUE,
    FIXTURE_NAME,
    FIXTURE_TITLE,
    MARKERS,
    RED,
    WIDGET_VIEW,
    fixture_notebook,
)

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated. Check CHANGES for Sphinx API")

LESSONS = contig_site.lesson_paths(ROOT / "notebooks")


def cells_by_marker(nb: dict) -> dict[str, dict]:
    out = {}
    for cell in nb["cells"]:
        text = contig_site._source(cell) + json.dumps(cell.get("outputs", []))
        for marker in MARKERS:
            if marker in text:
                out.setdefault(marker, cell)
    return out


# ------------------------------------------------------------- hidden answers

@pytest.mark.parametrize(("marker", "tag"), [
    ("BOTH-HIDDEN-SOURCE", "hide-cell"),
    ("INPUT-HIDDEN-SOURCE", "hide-input"),
    ("OUTPUT-HIDDEN-SHOWN-SOURCE", "hide-output"),
    ("SOLUTION-TAG-SOURCE", "hide-cell"),
])
def test_hidden_code_cells_get_mystnb_hide_tags(marker, tag):
    cell = cells_by_marker(fixture_notebook())[marker]
    site_cell = contig_site.hide_answers(cell)
    tags = site_cell["metadata"]["tags"]
    assert tag in tags
    assert len(set(tags) & contig_site.HIDE_TAGS) == 1, tags
    assert "jupyter" not in site_cell["metadata"]


@pytest.mark.parametrize("marker", ["MARKDOWN-HIDDEN-ANSWER", "MARKDOWN-TAGGED-ANSWER"])
def test_hidden_markdown_becomes_a_closed_details_block(marker):
    cell = cells_by_marker(fixture_notebook())[marker]
    src = contig_site.hide_answers(cell)["source"]
    assert src.startswith('<details class="contig-hidden">\n<summary>')
    assert " open" not in src.split("\n")[0]
    assert src.rstrip().endswith("</details>")
    assert src.index(marker) > src.index("</summary>")


def test_visible_cells_and_the_notebook_itself_are_untouched():
    nb = fixture_notebook()
    before = copy.deepcopy(nb)
    plain = cells_by_marker(nb)["ALWAYS-VISIBLE-TEXT"]
    assert contig_site.hide_answers(plain) == plain
    contig_site.prepare_notebook(nb, FIXTURE_NAME)
    assert nb == before, "prepare_notebook must not modify its input"


# ------------------------------------------------------------------- widgets

def test_an_app_becomes_its_stored_picture_with_the_note():
    nb = contig_site.prepare_notebook(fixture_notebook(), FIXTURE_NAME)
    assert "widgets" not in nb["metadata"], "the widget state would pull in widget JavaScript"
    app_cell = next(c for c in nb["cells"] if "app = Explorer()" in contig_site._source(c))
    outs = app_cell["outputs"]
    assert all(WIDGET_VIEW not in o.get("data", {}) for o in outs)
    note = outs[0]["data"]["text/html"]
    assert "Run the notebook to move the range." in note
    assert "[start, end): 3 .. 9" in note, "the control's value at build time"
    assert any("APP-SUMMARY-TEXT" in o.get("data", {}).get("text/html", "") for o in outs)
    pngs = [o["data"]["image/png"] for o in outs if "image/png" in o.get("data", {})]
    assert pngs == [BLUE], "the figure stored inside the Output widget's state"


def test_an_app_without_stored_state_shows_the_last_figure_above_it():
    nb = contig_site.prepare_notebook(fixture_notebook(), FIXTURE_NAME)
    lost = next(c for c in nb["cells"] if "lost = Explorer()" in contig_site._source(c))
    pngs = [o["data"]["image/png"] for o in lost["outputs"] if "image/png" in o.get("data", {})]
    assert pngs == [RED]
    assert "Run the notebook to move the range." in lost["outputs"][0]["data"]["text/html"]


def test_banner_links_to_the_notebook_and_a_download():
    nb = contig_site.prepare_notebook(fixture_notebook(), FIXTURE_NAME)
    sources = [contig_site._source(c) for c in nb["cells"]]
    (banner,) = [s for s in sources if "contig-source" in s]
    assert f'href="notebooks/{FIXTURE_NAME}"' in banner
    assert f'download="{FIXTURE_NAME}"' in banner
    assert sources.index(banner) == 1, "after the title cell, so the heading stays the page title"


@pytest.mark.parametrize(("text", "repo", "expected"), [
    ("[Contents](../README.md#contents)", None, "[Contents](index.md#contents)"),
    ("[next](02-x.ipynb)", None, "[next](02-x.ipynb)"),
    ("[src](https://elixir.bootlin.com/linux/v4.4/source/mm/page_alloc.c#L6699)", None,
     "[src](https://elixir.bootlin.com/linux/v4.4/source/mm/page_alloc.c#L6699)"),
    ("see [plot.py](../contig/viz/plot.py)", None, "see plot.py"),
    ("see [plot.py](../contig/viz/plot.py)", "https://github.com/o/r",
     "see [plot.py](https://github.com/o/r/blob/HEAD/contig/viz/plot.py)"),
])
def test_links_out_of_notebooks_are_rewritten(text, repo, expected):
    assert contig_site.rewrite_links(text, repo) == expected


@pytest.mark.parametrize(("text", "expected"), [
    # JupyterLab's heading anchors (text, hyphens, case kept) -> MyST's slugs
    ("[Contents](00-how-to-use.ipynb#Contents)", "[Contents](00-how-to-use.ipynb#contents)"),
    ("[c](#The-caller's-contract)", "[c](#the-callers-contract)"),
    ("[c](#check-yourself)", "[c](#check-yourself)"),
    # links to an <a id> anchor: inline HTML, the Markdown text kept inside
    ("[`PFN`](99-glossary.ipynb#pfn)", '<a href="99-glossary.html#pfn">`PFN`</a>'),
    ("[zone](#zone)", '<a href="#zone">zone</a>'),
    ("[other](#not-an-anchor)", "[other](#not-an-anchor)"),
])
def test_links_to_anchors(text, expected):
    anchors = {"99-glossary": {"pfn"}, "12-x": {"zone"}}
    assert contig_site.rewrite_links(text, None, anchors, "12-x") == expected


def test_raw_anchors_are_found_in_prose_only():
    nb = {"cells": [{"cell_type": "markdown", "source": '<a id="pfn"></a>\n### PFN\n<a name="b" ></a>'},
                    {"cell_type": "code", "source": '"<a id=\'code\'></a>"', "outputs": []}]}
    assert contig_site.raw_anchors(nb) == {"pfn", "b"}


def test_repository_url_from_the_environment(monkeypatch):
    for var in ("CONTIG_SITE_REPO_URL", "GITHUB_REPOSITORY", "GITHUB_SERVER_URL"):
        monkeypatch.delenv(var, raising=False)
    assert contig_site.repository_url() is None
    monkeypatch.setenv("GITHUB_REPOSITORY", "teacher/contig")
    assert contig_site.repository_url() == "https://github.com/teacher/contig"
    monkeypatch.setenv("CONTIG_SITE_REPO_URL", "https://example.org/course/")
    assert contig_site.repository_url() == "https://example.org/course"


# ------------------------------------------------------- the real notebooks

def _digest(paths):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_staging_the_real_notebooks(tmp_path):
    assert LESSONS, "no notebooks/NN-*.ipynb"
    before = _digest(LESSONS)
    lessons = contig_site.stage(ROOT / "notebooks", tmp_path)
    assert _digest(LESSONS) == before, "the notebooks themselves must not change"
    assert [name for name, _ in lessons] == [p.stem for p in LESSONS]
    index = (tmp_path / "index.md").read_text()
    toc = index[index.index("```{toctree}"):]
    assert [line for line in toc.splitlines() if re.fullmatch(r"\d\d-.*", line)] == [p.stem for p in LESSONS]
    for path in LESSONS:
        orig = json.loads(path.read_text())
        staged = json.loads((tmp_path / path.name).read_text())
        assert "widgets" not in staged["metadata"]
        views = sum(WIDGET_VIEW in o.get("data", {}) for c in orig["cells"] for o in c.get("outputs", []))
        notes = 0
        for cell in staged["cells"]:
            outs = cell.get("outputs", [])
            assert all(WIDGET_VIEW not in o.get("data", {}) for o in outs), path.name
            for i, o in enumerate(outs):
                if "contig-app-static" in o.get("data", {}).get("text/html", ""):
                    notes += 1
                    assert any("image/png" in later.get("data", {}) for later in outs[i + 1:]), (
                        f"{path.name}: an app with no stored picture")
        assert notes == views, path.name
        hidden_orig = sum(any(contig_site._hidden_flags(c)) for c in orig["cells"]
                          if c["cell_type"] == "code")
        hidden_staged = sum(bool(set(c["metadata"].get("tags", [])) & contig_site.HIDE_TAGS)
                            for c in staged["cells"] if c["cell_type"] == "code")
        assert hidden_staged == hidden_orig, path.name


# --------------------------------------------------------- the built HTML

class _Parse(HTMLParser):
    """Resource URLs, and the text inside and outside closed <details>."""

    def __init__(self):
        super().__init__()
        self.resources: list[str] = []
        self.depth = 0  # nesting of <details> without `open`
        self.hidden_text: list[str] = []
        self.shown_text: list[str] = []
        self.in_summary = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "video", "audio") and a.get("src"):
            self.resources.append(a["src"])
        if tag == "link" and a.get("href") and a.get("rel") not in ("prev", "next", "index", "search"):
            self.resources.append(a["href"])
        if tag == "details" and ("open" not in a or self.depth):
            self.depth += 1
        if tag == "summary":
            self.in_summary += 1
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        if tag == "details" and self.depth:
            self.depth -= 1
        if tag == "summary":
            self.in_summary -= 1
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self.depth and not self.in_summary:
            self.hidden_text.append(data)
        else:
            self.shown_text.append(data)


def parse(path: Path) -> _Parse:
    p = _Parse()
    p.feed(path.read_text(encoding="utf-8"))
    return p


@pytest.fixture(scope="module")
def fixture_site(tmp_path_factory):
    base = tmp_path_factory.mktemp("site-fixture")
    notebooks = base / "notebooks"
    notebooks.mkdir()
    (notebooks / FIXTURE_NAME).write_text(json.dumps(fixture_notebook(), indent=1))
    return contig_site.build(base / "html", notebooks=notebooks)


@pytest.fixture(scope="module")
def real_site(tmp_path_factory):
    return contig_site.build(tmp_path_factory.mktemp("site-real") / "html")


def test_fixture_page_hides_exactly_the_answers(fixture_site):
    page = parse(fixture_site / (Path(FIXTURE_NAME).stem + ".html"))
    hidden, shown = " ".join(page.hidden_text), " ".join(page.shown_text)
    for marker, is_hidden in MARKERS.items():
        assert marker in hidden + shown, f"{marker} is missing from the page"
        if is_hidden:
            assert marker in hidden and marker not in shown, f"{marker} is printed open"
        else:
            assert marker in shown, f"{marker} should be visible"
    assert FIXTURE_TITLE in page.title
    assert "Run the notebook to move the range." in shown
    assert "Loading widget" not in shown + hidden
    assert not [u for u in page.resources if "mathjax" in u.lower()], "a text/latex output pulled in MathJax"


def _local(url: str) -> bool:
    return not re.match(r"^([a-z][a-z0-9+.-]*:)?//", url, re.I) or url.startswith("data:")


def test_real_site_has_every_lesson_and_loads_nothing_from_another_host(real_site):
    assert (real_site / "index.html").is_file()
    assert (real_site / "search.html").is_file() and (real_site / "searchindex.js").is_file()
    pages = sorted(real_site.glob("*.html"))
    for path in LESSONS:
        html_page = real_site / (path.stem + ".html")
        assert html_page.is_file(), f"no page for {path.name}"
        assert (real_site / "notebooks" / path.name).read_bytes() == path.read_bytes()
        title = contig_site._first_heading(json.loads(path.read_text()))
        assert title in parse(html_page).title
    for page in pages:
        p = parse(page)
        external = [u for u in p.resources if not _local(u)]
        assert not external, f"{page.name} loads {external}"
        assert "Loading widget" not in " ".join(p.shown_text)
    for static in (real_site / "_static").rglob("*"):
        if static.suffix in (".css", ".js", ".html"):
            text = static.read_text(errors="replace")
            for host in ("fonts.googleapis.com", "fonts.gstatic.com", "cdn.jsdelivr.net", "unpkg.com",
                         "cdnjs.cloudflare.com"):
                assert host not in text, f"{static.relative_to(real_site)} mentions {host}"


def test_real_site_keeps_the_lessons_answers_closed(real_site):
    for path in LESSONS:
        nb = json.loads(path.read_text())
        hidden = " ".join(parse(real_site / (path.stem + ".html")).hidden_text)
        for cell in nb["cells"]:
            if cell["cell_type"] != "code" or not contig_site._hidden_flags(cell)[0]:
                continue
            # The longest identifier-ish token of the hidden source: shown only inside <details>.
            words = re.findall(r"[A-Za-z_][A-Za-z0-9_]{5,}", contig_site._source(cell))
            if words:
                word = max(words, key=len)
                assert word in hidden, f"{path.name}: hidden cell's {word!r} not inside a toggle"


def test_real_site_keeps_every_link_to_the_kernel_source(real_site):
    """The prose's links out (Elixir's v4.4 source above all) are links on the page."""
    for path in LESSONS:
        nb = json.loads(path.read_text())
        prose = " ".join(contig_site._source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
        wanted = set(re.findall(r"\]\((https?://[^)\s]+)\)", prose))
        page = (real_site / (path.stem + ".html")).read_text()
        hrefs = {html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)}
        assert wanted <= hrefs, f"{path.name}: links lost: {sorted(wanted - hrefs)[:3]}"
        if "elixir.bootlin.com" in prose:
            assert any(re.search(r"elixir\.bootlin\.com/linux/v(4\.4|6\.18)/", h) for h in hrefs), path.name


def test_scripts_site_runs_the_builder():
    script = (ROOT / "scripts" / "site").read_text()
    assert os.access(ROOT / "scripts" / "site", os.X_OK)
    assert "ensure_venv site" in script
    assert re.search(r"^exec python website/contig_site\.py \"\$@\"$", script, re.MULTILINE)
