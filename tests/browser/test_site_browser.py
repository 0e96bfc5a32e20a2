"""The course website in headless Chromium (the harness's browser, see
conftest.py): the site is built from the stored notebooks into a temporary
folder (and a second one from a fixture notebook with every kind of hidden
answer), served on 127.0.0.1, and every page visited:

- it has its title, and every <img> loaded (naturalWidth > 0);
- no hidden answer is visible before its toggle is clicked, and it is after;
- every app is its stored picture with the "run the notebook" line;
- every internal link resolves (no 404, the #fragment exists);
- the search page finds a word;
- the browser asked no other host for anything (every request is routed and
  recorded; one to another host is aborted and fails the test).
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "website"))
sys.path.insert(0, str(REPO / "tests"))

import contig_site  # noqa: E402
from site_fixture import FIXTURE_NAME, FIXTURE_TITLE, MARKERS, fixture_notebook  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:.*is deprecated. Check CHANGES for Sphinx API"),
]

LESSONS = contig_site.lesson_paths(REPO / "notebooks")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Both sites built under one root, served on 127.0.0.1: (base URL, root)."""
    root = tmp_path_factory.mktemp("website")
    contig_site.build(root / "real")
    notebooks = root / "fixture-notebooks"
    notebooks.mkdir()
    (notebooks / FIXTURE_NAME).write_text(json.dumps(fixture_notebook(), indent=1))
    contig_site.build(root / "fixture", notebooks=notebooks)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()


class Recorder:
    """Every request the browser makes; requests to another host are aborted."""

    def __init__(self, base: str):
        self.origin = urllib.parse.urlsplit(base).netloc
        self.requests: list[str] = []
        self.foreign: list[str] = []
        self.failed: list[str] = []

    def route(self, route):
        url = route.request.url
        self.requests.append(url)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme in ("data", "blob", "about") or parts.netloc == self.origin:
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def response(self, response):
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")


@pytest.fixture
def browse(playwright_browser, site):
    base, _ = site
    recorder = Recorder(base)
    context = playwright_browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    context.route("**/*", recorder.route)
    context.on("response", recorder.response)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page, recorder, errors
    context.close()
    assert not recorder.foreign, f"requests to another host: {recorder.foreign}"
    assert not recorder.failed, f"failed requests: {recorder.failed}"


IMAGES_JS = """async () => {
  const imgs = [...document.images];
  await Promise.all(imgs.map(img => {
    img.loading = "eager";
    if (img.complete) return null;
    return new Promise(r => { img.addEventListener("load", r); img.addEventListener("error", r);
                              setTimeout(r, 10000); });
  }));
  return imgs.map(i => [i.getAttribute("src"), i.naturalWidth]);
}"""

# For each <details> in the article: is it open, is anything but its summary
# visible (laid out, not visibility:hidden, not transparent: the theme fades
# a toggle's content in): text, or a picture (a folded solution may hold only a figure)?
VISIBLE = "{opacityProperty: true, visibilityProperty: true}"
DETAILS_JS = """() => [...document.querySelectorAll("article details")].map(d => ({
  open: d.open,
  summary: (d.querySelector(":scope > summary") || {}).innerText || "",
  visible: [...d.querySelectorAll("*")].filter(e => !e.closest("summary") && e.closest("details") === d)
             .some(e => e.checkVisibility(VISIBLE) && ((e.innerText && e.innerText.trim())
                        || (e.tagName === "IMG" && e.getBoundingClientRect().width > 0))),
}))""".replace("VISIBLE", VISIBLE)

# Is the text `marker` on the page, and is any element holding it visible?
MARKER_JS = """(marker) => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let found = false, visible = false;
  while (walker.nextNode()) {
    if (walker.currentNode.nodeValue.includes(marker)) {
      found = true;
      if (walker.currentNode.parentElement.checkVisibility(VISIBLE)) visible = true;
    }
  }
  return [found, visible];
}""".replace("VISIBLE", VISIBLE)


def check_page(page, url: str) -> list[str]:
    """Open `url`; check images and toggles; return the page's same-site links."""
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: {response and response.status}"
    assert page.title().strip(), f"{url}: no title"
    assert page.locator('input[name="q"]').count() > 0, f"{url}: no search box"
    for src, width in page.evaluate(IMAGES_JS):
        assert width > 0, f"{url}: image {src} did not load"
    body = page.locator("body").inner_text()
    assert "Loading widget" not in body, url
    details = page.evaluate(DETAILS_JS)
    for i, d in enumerate(details):
        assert not d["open"] and not d["visible"], f"{url}: toggle {i} ({d['summary']!r}) shows its answer"
    for i in range(len(details)):
        page.locator("article details").nth(i).locator(":scope > summary").click()
        try:
            page.wait_for_function(f"() => ({DETAILS_JS})()[{i}].visible", timeout=5000)
        except Exception as exc:
            summary = details[i]["summary"]
            raise AssertionError(f"{url}: toggle {i} ({summary!r}) did not show its answer") from exc
        assert page.evaluate(DETAILS_JS)[i]["open"]
    return page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")


def check_links(page, base: str, links: set[str]) -> None:
    """Every same-site link answers 200, and its #fragment exists on the page."""
    texts: dict[str, str] = {}
    for link in sorted(links):
        if not link.startswith(base):
            continue
        target, _, fragment = link.partition("#")
        if target not in texts:
            response = page.request.get(target)
            assert response.status == 200, f"{link}: {response.status}"
            texts[target] = response.text() if target.endswith((".html", "/")) else ""
        if fragment and texts[target]:
            assert re.search(rf'id="{re.escape(urllib.parse.unquote(fragment))}"', texts[target]), (
                f"{link}: no element with that id")


def test_every_page_of_the_course_site(browse, site):
    page, recorder, errors = browse
    base, root = site
    base += "real/"
    pages = sorted(p.name for p in (root / "real").glob("*.html"))
    assert "index.html" in pages and all(f"{p.stem}.html" in pages for p in LESSONS)
    links: set[str] = set()
    for name in pages:
        links.update(check_page(page, base + name))
    check_links(page, base, links)
    # The landing page links every lesson, in order.
    page.goto(base + "index.html")
    toc = page.eval_on_selector_all("article .toctree-wrapper a", "as => as.map(a => a.getAttribute('href'))")
    assert toc == [f"{p.stem}.html" for p in LESSONS]
    assert not errors, errors
    assert recorder.requests, "nothing was recorded: the route is not in place"


@pytest.mark.parametrize("index", range(len(LESSONS)), ids=[p.stem for p in LESSONS])
def test_lesson_page(browse, site, index):
    """Title, previous/next, the notebook links, the apps as pictures."""
    page, _, _ = browse
    base = site[0] + "real/"
    path = LESSONS[index]
    nb = json.loads(path.read_text())
    title = contig_site._first_heading(nb)
    page.goto(base + f"{path.stem}.html")
    assert title in page.title()
    assert title in page.locator("article h1").first.inner_text()
    if index + 1 < len(LESSONS):
        assert page.locator("a.right-next").get_attribute("href") == f"{LESSONS[index + 1].stem}.html"
    if index > 0:
        assert page.locator("a.left-prev").get_attribute("href") == f"{LESSONS[index - 1].stem}.html"
    assert page.locator(f'a.contig-notebook-link[href="notebooks/{path.name}"]').count() == 1
    assert page.locator(f'a.contig-download[download="{path.name}"]').count() == 1
    views = sum(WIDGET_VIEW in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
    apps = page.locator(".contig-app-static")
    assert apps.count() == views
    for i in range(views):
        app = apps.nth(i)
        assert "Run the notebook to move the range." in app.inner_text()
        assert app.is_visible()
        output = app.locator("xpath=ancestor::div[contains(@class, 'cell_output')]")
        widths = output.locator("img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
        assert widths and all(w > 0 for w in widths), f"{path.name}: app {i} has no picture"
    # Hidden cells of the notebook are all behind toggles.
    hidden = sum(any(contig_site._hidden_flags(c)) for c in nb["cells"]
                 if c["cell_type"] == "code" or contig_site._hidden_flags(c)[0])
    prose = sum(contig_site._source(c).count("<details") for c in nb["cells"] if c["cell_type"] == "markdown")
    assert page.locator("article details").count() >= hidden + prose


def test_fixture_answers_hidden_until_clicked(browse, site):
    page, _, errors = browse
    base = site[0] + "fixture/"
    page.goto(base + Path(FIXTURE_NAME).stem + ".html")
    assert FIXTURE_TITLE in page.title()
    for marker, hidden in MARKERS.items():
        found, visible = page.evaluate(MARKER_JS, marker)
        assert found, f"{marker} is not on the page"
        assert visible != hidden, f"{marker}: visible={visible} before any toggle was clicked"
    summaries = page.locator("article details > summary")
    assert summaries.count() == 7  # prose, 2 markdown answers, 4 code cells
    for i in range(summaries.count()):
        summaries.nth(i).click()
    page.wait_for_timeout(1000)  # the theme fades a toggle's content in
    for marker in MARKERS:
        assert page.evaluate(MARKER_JS, marker) == [True, True], f"{marker} not shown after its toggle"
    assert not errors, errors


def test_search_works_offline(browse, site):
    page, _, _ = browse
    page.goto(site[0] + "real/search.html?q=pageblock")
    results = page.locator("#search-results li")
    results.first.wait_for()
    assert results.count() >= 3
