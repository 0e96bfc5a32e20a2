"""A glossary link in a lesson opens the glossary, at its term.

JupyterLab 4.6 applies a link's #fragment only to a notebook whose cells are
already rendered: the first click opens the glossary (at its top, on this
machine), a click with the glossary open scrolls it to the term. The test
asserts the second and prints the first.
"""

import re

import pytest
from jlab import NOTEBOOK, open_notebook, wait_until

pytestmark = pytest.mark.browser


def _in_view(page, locator) -> bool:
    box = locator.bounding_box()
    return box is not None and 0 <= box["y"] < page.viewport_size["height"]


def _click_lru_link(page):
    # JupyterLab rewrites a relative href to /files/notebooks/99-glossary.ipynb?_xsrf=...#lru
    link = page.locator(
        f'{NOTEBOOK} .jp-MarkdownCell a[href*="99-glossary.ipynb"][href$="#lru"]').first
    link.scroll_into_view_if_needed()
    link.click()
    page.wait_for_selector(".lm-TabBar-tab.lm-mod-current >> text=99-glossary.ipynb")


def test_glossary_link_opens_the_term(page):
    open_notebook(page, "notebooks/00-how-to-use.ipynb")
    _click_lru_link(page)
    term = page.locator(f"{NOTEBOOK} h3", has_text=re.compile(r"^LRU")).first
    first = page.locator(f"{NOTEBOOK} h3", has_text=re.compile(r"^page\W*$")).first
    term.wait_for()
    page.wait_for_timeout(1000)
    opened_at_term = _in_view(page, term) and not _in_view(page, first)
    # back to the lesson, and the same link again: now the glossary scrolls to LRU,
    # about twenty entries down, and its first entry is out of view
    page.locator(".lm-TabBar-tab", has_text="00-how-to-use.ipynb").first.click()
    _click_lru_link(page)
    wait_until(lambda: _in_view(page, term) and not _in_view(page, first), timeout=10,
               message="the glossary did not scroll to the LRU entry")
    print(f"first click opened the glossary at the term: {opened_at_term}")
