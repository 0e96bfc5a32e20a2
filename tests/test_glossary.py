"""The glossary (notebooks/99-glossary.ipynb) and the links to it from every notebook."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NB = Path(__file__).resolve().parents[1] / "notebooks"
GLOSSARY = NB / "99-glossary.ipynb"
LINK = re.compile(r"\]\((\d\d-[\w-]+\.ipynb)#([\w-]+)\)")
ANCHOR = re.compile(r'<a id="([\w-]+)"></a>')
HEADING = re.compile(r"^#{1,6}\s+")


def _markdown(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def _anchors(path: Path) -> set[str]:
    """``<a id>`` anchors, and the ids JupyterLab gives headings (the text, spaces as dashes)."""
    out = set()
    for text in _markdown(path):
        out |= set(ANCHOR.findall(text))
        out |= {HEADING.sub("", line).strip().replace(" ", "-")
                for line in text.splitlines() if HEADING.match(line)}
    return out


def test_glossary_is_markdown_only_with_the_terms_the_course_needs():
    cells = json.loads(GLOSSARY.read_text(encoding="utf-8"))["cells"]
    assert {c["cell_type"] for c in cells} == {"markdown"}
    anchors = _anchors(GLOSSARY)
    for term in ("pfn", "page-frame", "zone", "pageblock", "pageblock-order", "max-order",
                 "migratetype", "unmovable", "movable", "reclaimable", "highatomic", "cma-type",
                 "isolate", "buddy-allocator", "order", "free-list", "lru", "pagevec", "pcp",
                 "compound-page", "thp", "hugetlb", "gigantic-page", "mapcount", "refcount",
                 "watermark", "cma", "isolation", "migration", "reclaim", "outer-start",
                 "ebusy", "enomem", "eintr", "half-open-range", "struct-page", "hole",
                 "kpageflags"):
        assert term in anchors, term


@pytest.mark.parametrize("path", sorted(NB.glob("[0-9][0-9]-*.ipynb")), ids=lambda p: p.name[:2])
def test_every_fragment_link_has_its_anchor(path):
    for text in _markdown(path):
        for target, anchor in LINK.findall(text):
            assert (NB / target).exists(), f"{path.name} links to missing {target}"
            assert anchor in _anchors(NB / target), f"{path.name}: {target}#{anchor} has no anchor"


@pytest.mark.parametrize("path", sorted(NB.glob("[01][0-9]-*.ipynb")), ids=lambda p: p.name[:2])
def test_each_lesson_links_the_glossary_once_per_term(path):
    links = [a for text in _markdown(path) for t, a in LINK.findall(text) if t == GLOSSARY.name]
    assert len(links) >= 5, path.name
    assert len(links) == len(set(links)), f"{path.name} links a term twice"
