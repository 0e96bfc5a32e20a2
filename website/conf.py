"""Sphinx configuration for the course website (built by ./scripts/site).

The sources are a staging folder written by contig_site.py (the notebooks
with hidden answers mapped to toggles and apps replaced by their stored
pictures); this folder holds only the configuration, the landing page text
and the stylesheet. Nothing is executed and nothing is fetched: myst-nb's
execution is off, the widget JavaScript list is empty, and no extension that
loads from a CDN is enabled.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from contig_site import repository_url

project = "contig"
author = "the contig authors"
copyright = "the contig authors"
html_title = "contig: how Linux finds contiguous pages"

extensions = ["myst_nb"]
# Stored outputs only: never start a kernel.
nb_execution_mode = "off"
# No ipywidgets embed scripts (they come from a CDN); apps are pictures here.
nb_ipywidgets_js = {}
nb_merge_streams = True
# No math: MathJax would come from a CDN. A text/latex output falls back to
# its text/plain (Markdown `$...$` stays text: dollarmath is not enabled).
nb_mime_priority_overrides = [("html", "text/latex", None)]
# Every hidden cell in the course is an answer: say so on its toggle.
nb_code_prompt_show = "Show the answer (code cell {type})"
nb_code_prompt_hide = "Hide the answer (code cell {type})"
# Links such as [Contents](index.md#contents) need heading anchors.
myst_heading_anchors = 4
myst_enable_extensions = []
# A link to a notebook's page resolves as a document; nothing else is guessed.
suppress_warnings = ["myst.header"]

exclude_patterns = ["_build", "**.ipynb_checkpoints"]
templates_path = []
html_static_path = ["_static"]
html_css_files = ["contig.css"]
html_theme = "sphinx_book_theme"
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": bool(repository_url()),
    "repository_url": repository_url() or "",
    "repository_branch": "HEAD",
    "path_to_docs": "notebooks",
    "show_toc_level": 2,
    "home_page_in_toc": False,
    "navigation_with_keys": False,
}
