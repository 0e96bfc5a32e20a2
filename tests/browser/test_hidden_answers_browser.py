"""Try first, then look: opened in JupyterLab, a notebook shows no answer.

For a few course notebooks, every answer the stored notebook holds (the
outputs of cells whose outputs are stored collapsed, the source of
solution cells stored collapsed, the prose inside ``<details>`` blocks) is
turned into a marker string, and the rendered cell's visible text
(``innerText``, which leaves out what is not displayed) must not contain it.
Then one of each kind is expanded the way a student would (the collapsed
cell's placeholder, then the ``<details>`` summary an answer is folded in,
in prose or in the output) and its marker must appear:
the positive control that shows the check can see the text at all.
No cell is run: what a student sees on opening is the stored notebook.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jlab import NOTEBOOK, open_notebook, wait_until

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
# 00 (the first check-yourself), 05 (lists), 09 (two problems); each has all three kinds
NOTEBOOKS = ["00-how-to-use.ipynb", "05-migration.ipynb", "09-undoing-isolation.ipynb"]

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ,;:'\"()=\[\]._+-]{24,}")


def _text(x) -> str:
    return "".join(x) if isinstance(x, list) else (x or "")


def _output_text(cell: dict) -> str:
    out = []
    for o in cell.get("outputs", []):
        out.append(_text(o.get("text")))
        out.append(_text(o.get("data", {}).get("text/plain")))
    return "".join(out)


def _marker(text: str, others: str) -> str | None:
    """A 25-character run of plain text from ``text`` that occurs nowhere in ``others``."""
    for line in sorted(text.splitlines(), key=len, reverse=True):
        for m in _PLAIN.finditer(line):
            for k in range(0, len(m[0]) - 24, 5):
                chunk = m[0][k:k + 25]
                if chunk.strip() == chunk and chunk not in others:
                    return chunk
    return None


def hidden_answers(path: Path) -> list[tuple[int, str, str]]:
    """``(cell index, kind, marker)`` for each answer stored hidden in the notebook:
    kind "outputs" (collapsed outputs), "source" (collapsed source) or "details"."""
    cells = json.loads(path.read_text())["cells"]
    shown = []          # what a student may see: the text of everything not hidden
    hidden = []
    for i, c in enumerate(cells):
        src, jm = _text(c["source"]), c.get("metadata", {}).get("jupyter", {})
        if c["cell_type"] == "markdown":
            inner = re.findall(r"<details>.*?</summary>(.*?)</details>", src, re.S)
            shown.append(re.sub(r"<details>.*?</details>", "", src, flags=re.S))
            hidden += [(i, "details", t) for t in inner]
            continue
        if jm.get("source_hidden"):    # JupyterLab previews the first line: a comment
            first, _, rest = src.partition("\n")
            assert first.startswith(("#", "%%solution")), f"{path.name} cell {i}: shows {first!r}"
            shown.append(first)
            hidden.append((i, "source", rest))
        else:
            shown.append(src)
        if jm.get("outputs_hidden"):
            hidden.append((i, "outputs", _output_text(c)))
        else:
            shown.append(_output_text(c))
    others = "\n".join(shown)
    items = []
    for i, kind, text in hidden:
        if kind == "details":     # rendered markdown: no backticks or stars
            text = text.replace("`", "").replace("*", "")
        m = _marker(text, others)
        if m:
            items.append((i, kind, m))
    return items


def _cell(page, i: int):
    return page.locator(f"{NOTEBOOK} .jp-Cell").nth(i)


def visible_text(page, i: int) -> str:
    cell = _cell(page, i)
    cell.scroll_into_view_if_needed()
    return cell.evaluate("el => el.innerText")


def expand(page, i: int, kind: str) -> None:
    """Open a hidden part as a student would: click the placeholder or the summary."""
    cell = _cell(page, i)
    cell.scroll_into_view_if_needed()
    if kind == "details":
        cell.locator("summary").first.click()
    elif kind == "source":
        cell.locator(".jp-InputPlaceholder").first.click()
    else:
        cell.locator(".jp-OutputPlaceholder").first.click()
        folded = cell.locator(".jp-OutputArea summary")   # the answer folded in the output
        if folded.count():
            folded.first.click()


def test_markers_are_found_in_the_stored_notebooks():
    """The marker finder sees every kind of hidden answer (no browser needed)."""
    for name in NOTEBOOKS:
        kinds = {k for _, k, _ in hidden_answers(REPO / "notebooks" / name)}
        assert kinds == {"outputs", "source", "details"}, (name, kinds)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_answer_is_visible_until_the_student_asks(name, jlab_root, request):
    page = request.getfixturevalue("page")
    items = hidden_answers(jlab_root / "notebooks" / name)
    open_notebook(page, f"notebooks/{name}")
    ncells = len(json.loads((jlab_root / "notebooks" / name).read_text())["cells"])
    assert page.locator(f"{NOTEBOOK} .jp-Cell").count() == ncells
    seen = [(i, kind, m) for i, kind, m in items if m in visible_text(page, i)]
    assert not seen, f"answers visible on opening {name}: {seen}"
    # expanding shows it: one of each kind
    for want in ("outputs", "source", "details"):
        i, kind, marker = next(x for x in items if x[1] == want)
        expand(page, i, kind)
        page.wait_for_timeout(300)
        assert marker in visible_text(page, i), f"{name} cell {i}: {kind} opened, {marker!r} unseen"


def test_the_contents_link_opens_the_contents_list(jlab_root, request):
    """issue 13: every notebook's Contents link pointed to ../README.md, which the course
    server does not serve; now it opens notebook 00 at its Contents cell."""
    page = request.getfixturevalue("page")
    open_notebook(page, "notebooks/03-alignment.ipynb")
    page.locator(f"{NOTEBOOK} .jp-Cell").first.locator("a", has_text="Contents").click()
    heading = page.locator(f"{NOTEBOOK} h2", has_text=re.compile(r"^Contents"))
    wait_until(lambda: heading.count() == 1, timeout=30, message="notebook 00 did not open")
    wait_until(lambda: heading.first.is_visible() and 0 <= heading.first.bounding_box()["y"] < 1000,
               timeout=10, message="the Contents heading is not in view")
    title = page.locator(f"{NOTEBOOK} h1").first.inner_text()
    assert title.startswith("00."), title
    contents = page.locator(f"{NOTEBOOK} .jp-Cell").filter(
        has=page.locator("h2", has_text=re.compile(r"^Contents")))
    items = contents.locator("li a")
    names = sorted(p.name for p in (jlab_root / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    assert items.count() == len(names)
