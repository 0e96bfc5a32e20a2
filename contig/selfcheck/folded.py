"""Answers folded away in a notebook's *output*: ``<details>`` blocks, and the ``%%solution`` magic.

JupyterLab honours ``jupyter.outputs_hidden`` only until a cell runs: running
a cell (say with *Run All*) shows its output again.  So an answer must also
be folded inside the output itself: :func:`details_html` writes a closed
``<details>`` block (a click on its summary opens it), used by
``Problem.reveal()``'s HTML form, and the ``%%solution`` cell magic runs an
exercise's solution cell and shows everything it prints, displays and
returns inside one such block.  The plain-text form stays complete, so
nbval compares the same text as before.

The magic is registered when :mod:`contig.selfcheck` is imported inside
IPython (or with ``%load_ext contig.selfcheck``).
"""

from __future__ import annotations

import ast
import html
from typing import Any

__all__ = ["Folded", "details_html", "load_ipython_extension"]


def details_html(summary: str, body_html: str) -> str:
    """A closed ``<details>`` block: ``summary`` (plain text) shows, ``body_html`` opens on a click."""
    return (f"<details><summary>{html.escape(summary)}</summary>\n{body_html}\n</details>")


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>" if text else ""


class Folded:
    """A display object: plain text in full (``repr``), HTML folded in ``<details>``."""

    def __init__(self, summary: str, text: str, body_html: str | None = None):
        self.summary, self.text = summary, text
        self.body_html = _pre(text) if body_html is None else body_html

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return details_html(self.summary, self.body_html)


def _run_solution(line: str, cell: str) -> Folded | None:
    """``%%solution [summary]``: run the cell; show its output folded (see the module docstring).

    The cell runs in the user's namespace; its last line, if an expression,
    is its value, as in a normal cell.  Errors propagate unchanged.
    """
    from IPython import get_ipython
    from IPython.utils.capture import capture_output

    ip = get_ipython()
    tree = ast.parse(cell)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    with capture_output() as cap:
        exec(compile(tree, "<solution>", "exec"), ip.user_ns)
        value = (eval(compile(ast.Expression(last.value), "<solution>", "eval"), ip.user_ns)
                 if last is not None else None)
    texts, parts = [], []
    if cap.stdout:
        texts.append(cap.stdout.rstrip("\n"))
        parts.append(_pre(cap.stdout))
    if cap.stderr:
        texts.append(cap.stderr.rstrip("\n"))
        parts.append(_pre(cap.stderr))
    for out in cap.outputs:
        data = out.data
        texts.append(data.get("text/plain", ""))
        if "image/png" in data:
            parts.append(f'<img src="data:image/png;base64,{data["image/png"]}"/>')
        elif "text/html" in data:
            parts.append(data["text/html"])
        else:
            parts.append(_pre(data.get("text/plain", "")))
    if value is not None:
        plain = ip.display_formatter.format(value)[0].get("text/plain", repr(value))
        texts.append(plain)
        parts.append(_pre(plain))
    summary = line.strip() or "Solution: what it shows (open it after you have tried)"
    return Folded(summary, "\n".join(texts), "\n".join(parts))


def load_ipython_extension(ip: Any) -> None:
    """Register the ``%%solution`` cell magic."""
    ip.register_magic_function(_run_solution, "cell", "solution")


def register_if_in_ipython() -> None:
    """Register the magic if running inside IPython; do nothing otherwise."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is not None:
        load_ipython_extension(ip)
