"""Check yourself: seeded problems with hidden answers, in the spirit of OSTEP's ``-s`` and ``-c``.

Each lesson module (``contig.selfcheck.basics``, ...) has generators
``..._problem(seed)`` returning a :class:`Problem`: the same seed gives the
same problem forever (``random.Random(seed)``, versioned generators).  In a
notebook::

    p = basics.buddy_problem(seed=3)
    p                            # the set-up and the numbered questions, answers shown as ?
    p.check(order=..., start=...)   # the template: "fill in order: ..." for each ``...``
    p.check(order=2, start=...)     # right, or wrong with a hint aimed at the mistake
    p.reveal(1)                  # one answer (by number or key) with its reason
    p.reveal()                   # every answer

One rule for accepted spellings, for every question (:func:`normalise`):
any case and surrounding or inner spaces; numbers may be given as strings
(``"12"``, ``"0x1f"``); a migratetype as its letter (``"r"``), its name
(``"Reclaimable"``) or the kernel's (``"MIGRATE_RECLAIMABLE"``), a
:class:`~contig.MigrateType` or its number; a list of PFNs in any order as a
list, a tuple, a range or a string ``"3, 7 15"``; yes/no as ``True``,
``"yes"``, ``"y"``, ``"true"``; a return value as ``-16``, ``"-EBUSY"`` or
``"ebusy"``; a function as ``"drain_all_pages"`` or ``"drain_all_pages()"``;
"nothing" as ``None``, ``"none"`` or ``""``.  The one exception is a page's
map character, where case is meaning (``p`` is a per-CPU free page, ``P`` a
pinned one).

A wrong answer gets a hint: first the question's own (a generator knows the
tempting mistakes of its zone, e.g. counting the ``p`` pages as free), then
the hint table of its kind (:data:`HINTS`).

Everything prints plain text, so stored notebook outputs stay byte-stable;
in a notebook, revealed answers are also folded in a closed ``<details>``
block (HTML), and solution cells run under the ``%%solution`` magic
(:mod:`contig.selfcheck.folded`), since running a cell undoes JupyterLab's
collapsed-output setting.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..contig import errname
from ..mapfmt import BLOCK_CHARS
from ..zone import MigrateType
from .folded import details_html, load_ipython_extension, register_if_in_ipython

__all__ = ["HINTS", "KINDS", "UNREADABLE", "Problem", "Question", "below", "check_seed",
           "load_ipython_extension", "normalise", "pick"]

#: What :func:`normalise` returns for a value it cannot read as the kind asked.
UNREADABLE = object()

#: The kinds of answer :func:`normalise` knows.
KINDS = ("int", "optional_int", "pfns", "probes", "bool", "migratetype", "word", "ret",
         "blocks", "mapchar", "file", "stage", "text")

_NONE_WORDS = ("none", "", "-", "never", "nothing", "success", "null")
_BOOL_WORDS = {"yes": True, "y": True, "true": True, "no": False, "n": False, "false": False}


def _squash(s: str) -> str:
    """Lower case, no spaces at all."""
    return re.sub(r"\s+", "", s).lower()


def _int(x: Any) -> Any:
    if isinstance(x, bool | np.bool_):
        return UNREADABLE
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, str):
        s = _squash(x)
        try:
            return int(s, 0)
        except ValueError:
            return UNREADABLE
    return UNREADABLE


def _int_list(x: Any) -> Any:
    if x is None:
        return []
    if isinstance(x, str):
        parts = [p for p in re.split(r"[\s,;\[\]()]+", x) if p]
        out = [_int(p) for p in parts]
    else:
        try:
            out = [_int(v) for v in x]
        except TypeError:
            return UNREADABLE
    return UNREADABLE if any(v is UNREADABLE for v in out) else out


def _migratetype(x: Any) -> Any:
    if isinstance(x, MigrateType):
        return x.name
    n = _int(x)
    if n is not UNREADABLE:
        return MigrateType(n).name if 0 <= n < len(MigrateType) else UNREADABLE
    if isinstance(x, str):
        s = _squash(x).upper()
        if len(s) == 1 and s in BLOCK_CHARS:
            return MigrateType(BLOCK_CHARS.index(s)).name
        s = s.removeprefix("MIGRATE_")
        for mt in MigrateType:
            if s in (mt.name, mt.procname.upper()):
                return mt.name
    return UNREADABLE


def _ret(x: Any) -> Any:
    n = _int(x)
    if n is not UNREADABLE:
        return errname(n)
    if isinstance(x, str):
        s = _squash(x).upper()
        if s in ("SUCCESS", "OK"):
            return "0"
        return "-" + s.lstrip("-") if s else UNREADABLE
    return UNREADABLE


def normalise(value: Any, kind: str) -> Any:
    """``value`` in the canonical form of ``kind`` (one of :data:`KINDS`), or :data:`UNREADABLE`.

    The one rule for accepted spellings (see the module docstring); both the
    student's answer and the true answer go through it before they are
    compared.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    is_none = value is None or (isinstance(value, str) and _squash(value) in _NONE_WORDS)
    if kind == "int":
        return _int(value)
    if kind == "optional_int":
        return None if is_none else _int(value)
    if kind in ("pfns", "probes"):
        pfns = _int_list(value)
        if pfns is UNREADABLE:
            return pfns
        if kind == "pfns":
            return sorted(pfns)
        return [p for i, p in enumerate(pfns) if i == 0 or pfns[i - 1] != p]
    if kind == "bool":
        if is_none:
            return None
        if isinstance(value, str):
            return _BOOL_WORDS.get(_squash(value), UNREADABLE)
        if isinstance(value, bool | np.bool_):
            return bool(value)
        return UNREADABLE
    if kind == "migratetype":
        return _migratetype(value)
    if kind == "ret":
        return _ret(value)
    if kind == "word":
        if is_none:
            return None
        return _squash(value).replace("()", "") if isinstance(value, str) else UNREADABLE
    if kind == "blocks":
        return _squash(value).upper() if isinstance(value, str) else UNREADABLE
    if kind == "file":      # mm/page_isolation.c, page_isolation.c, page_isolation: one answer
        if not isinstance(value, str):
            return UNREADABLE
        f = _squash(value).replace("\\", "/").removeprefix("linux/").removeprefix("mm/")
        return f.removesuffix(".c") or UNREADABLE
    if kind == "stage":     # a stage name of the trace: case, spaces and dashes do not matter
        if not isinstance(value, str):
            return UNREADABLE
        return re.sub(r"[\s-]+", "_", value.strip()).lower() or UNREADABLE
    if kind == "mapchar":   # case is meaning here: p (per-CPU free) is not P (pinned)
        return value.strip() if isinstance(value, str) else UNREADABLE
    return _squash(value) if isinstance(value, str) else value   # "text"


def check_seed(seed: Any) -> int:
    """``seed`` if it is a non-negative int, else ValueError.

    (``random.Random(-7)`` gives the same stream as ``Random(7)``, so negative
    seeds are refused rather than silently aliased.)
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, not {seed!r}")
    return seed


def below(rng: random.Random, n: int) -> int:
    """An int in ``0 .. n-1`` from ``rng.random()`` only (the one method whose stream is stable)."""
    return min(int(rng.random() * n), n - 1)


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    """A key of ``weights`` drawn with those weights, from ``rng.random()`` only."""
    x = rng.random() * sum(weights.values())
    k = ""
    for k, w in weights.items():
        x -= w
        if x < 0:
            return k
    return k


# ---------------------------------------------------------------- hints per kind
def _pfns_hint(given: list[int], answer: list[int]) -> str:
    extra = [p for p in given if p not in answer]
    missing = [p for p in answer if p not in given]
    parts = []
    if extra:
        parts.append(f"{', '.join(map(str, extra))} should not be in the list")
    if missing:
        parts.append(f"{', '.join(map(str, missing))} {'is' if len(missing) == 1 else 'are'} "
                     "missing")
    return "; ".join(parts) + "." if parts else "the same PFNs, but look at the order."


def _int_hint(given: int, answer: int) -> str:
    return (f"{given} is too {'high' if given > answer else 'low'}; redo the arithmetic step by "
            "step.")


def _optional_int_hint(given: int | None, answer: int | None) -> str:
    if answer is None:
        return "there is none here: nothing stops it."
    if given is None:
        return "there is one: look for the first thing that stops it."
    return _int_hint(given, answer)


def _bool_hint(given: bool | None, answer: bool | None) -> str:
    if answer is None:
        return "the question does not arise here: the step before stops first (answer None)."
    return "the other way round: find the page or rule that decides it."


_RET_HINTS = {
    ("-ENOMEM", "-EBUSY"): "-ENOMEM comes only from migration finding no free page to copy into; "
                           "-EBUSY comes from a pageblock that refuses isolation or a page "
                           "test_pages_isolated() finds still in use.",
    ("-EBUSY", "-ENOMEM"): "isolation and the test are not the problem here: migration runs out "
                           "of free target pages outside the isolated range.",
    ("-EINTR", "-EBUSY"): "-EINTR needs a fatal signal while migration loops; here a page or "
                          "pageblock is in the way.",
    ("-EBUSY", "-EINTR"): "a pending fatal signal ends the migration loop before any page "
                          "is found busy.",
}


def _ret_hint(given: str, answer: str) -> str:
    if (given, answer) in _RET_HINTS:
        return _RET_HINTS[(given, answer)]
    if answer == "0":
        return ("it succeeds: every page in the way is free, migrated, dropped, or outside the "
                "part that must be free.")
    if given == "0":
        return "something cannot be freed or isolated: find the first page or block in the way."
    return f"{given} is not what this call returns; which stage stops first?"


_WORD_HINTS = {
    "drain_all_pages": "drain_all_pages() frees only pages parked on per-CPU lists ('p').",
    "lru_add_drain_all": "lru_add_drain_all() moves pagevec pages ('v') onto the LRU; it "
                         "frees nothing.",
    "migrate_pages": "migrate_pages() frees the old copy of a migrated page, but only at the "
                     "pagevec flush after the copy.",
    "start_isolate_page_range": "isolation fails only when has_unmovable_pages() finds a page "
                                "it cannot move in a pageblock of the aligned range.",
    "__alloc_contig_migrate_range": "the migration stage fails for want of target pages "
                                    "(-ENOMEM) or on a fatal signal (-EINTR); pages it cannot "
                                    "move it skips.",
    "test_pages_isolated": "the test fails when a page of [outer_start, end) is not a free "
                           "page on the Isolate list.",
    "isolate_freepages_range": "the grab fails on a hole or a page that is no free buddy head "
                               "between outer_start and outer_end.",
    "outer_start": "the outer_start loop never fails the call by itself.",
}


def _word_hint(given: str | None, answer: str | None) -> str:
    if given is None:
        return "something does happen here: find the step."
    if answer is None:
        return "nothing fails or happens here: answer None."
    return _WORD_HINTS.get(given, f"{given} is not it; follow the call stage by stage.")


def _migratetype_hint(given: str, answer: str) -> str:
    if given == "ISOLATE":
        return "Isolate lists hold only free pages of isolated pageblocks; none is isolated here."
    return (f"not {given}: a free block sits on the list of the type its page was freed with "
            "(its pageblock's), and an allocation tries its own type before falling back.")


def _blocks_hint(given: str, answer: str) -> str:
    if len(given) != len(answer):
        return f"one letter per pageblock: {len(answer)} letters, not {len(given)}."
    if "I" in given and "I" not in answer:
        return "no block stays Isolate after the call: every isolated block is set back."
    wrong = [i for i, (a, b) in enumerate(zip(given, answer)) if a != b]
    return (f"pageblock(s) {', '.join(map(str, wrong))} (counting from 0) differ: v4.4 gives "
            "each block it isolated the caller's migratetype, not its old type.")


def _mapchar_hint(given: str, answer: str) -> str:
    if given.swapcase() == answer:
        return "case matters in a map: 'p' is a free page on a per-CPU list, 'P' a pinned page."
    return f"read the map again: {given!r} is another kind of page."


#: The hint table: kind -> (normalised wrong answer, normalised answer) -> hint.
HINTS: dict[str, Callable[[Any, Any], str]] = {
    "int": _int_hint, "optional_int": _optional_int_hint, "pfns": _pfns_hint,
    "probes": lambda g, a: ("the loop probes start rounded down to 1, 2, 4, ... pages, in that "
                            "order, and stops at the first probe that heads a free block "
                            "covering it."),
    "bool": _bool_hint, "migratetype": _migratetype_hint, "word": _word_hint, "ret": _ret_hint,
    "blocks": _blocks_hint, "mapchar": _mapchar_hint,
    "file": lambda g, a: ("look the function up: contig.source.where(name).file says which file of "
                          "mm/ holds it."),
    "stage": lambda g, a: ("the stages are listed in the set-up, in order: which one does the work "
                           "this event describes?"),
    "text": lambda g, a: "not quite.",
}


# ---------------------------------------------------------------- questions and problems
@dataclass(frozen=True)
class Question:
    """One thing to predict: ``key`` is the keyword ``Problem.check()`` takes.

    ``kind`` (one of :data:`KINDS`) decides how answers are read
    (:func:`normalise`) and which hint table a wrong answer gets; ``hints``
    are this question's own hints for tempting wrong answers, as pairs
    ``(wrong answer, hint)``, or a function of the normalised wrong answer
    returning a hint or None.
    """

    key: str
    prompt: str
    answer: Any
    reason: str
    kind: str = "text"
    hints: tuple[tuple[Any, str], ...] | Callable[[Any], str | None] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")

    def is_right(self, given: Any) -> bool:
        g = normalise(given, self.kind)
        return g is not UNREADABLE and g == normalise(self.answer, self.kind)

    def hint(self, given: Any) -> str:
        """A hint aimed at the mistake in the wrong answer ``given``."""
        g = normalise(given, self.kind)
        if g is UNREADABLE:
            return f"cannot read {given!r} as {_READ_AS[self.kind]}."
        if callable(self.hints):
            h = self.hints(g)
            if h:
                return h
        else:
            for wrong, h in self.hints:
                if normalise(wrong, self.kind) == g:
                    return h
        return HINTS[self.kind](g, normalise(self.answer, self.kind))


_READ_AS = {
    "int": "a number", "optional_int": "a number or None", "pfns": "a list of PFNs",
    "probes": "a list of PFNs", "bool": "True or False", "migratetype": "a migratetype",
    "word": "a name", "ret": "a return value (0, -EBUSY ...)", "blocks": "a blocks map",
    "mapchar": "a map character", "file": "a file name", "stage": "a stage name",
    "text": "an answer",
}


@dataclass
class Problem:
    """A set-up (plain text) and questions whose answers stay hidden until asked for."""

    title: str
    setup: str
    questions: list[Question] = field(default_factory=list)
    seed: int | None = None

    def _q(self, key: Any) -> Question:
        if isinstance(key, int) and not isinstance(key, bool):
            if 1 <= key <= len(self.questions):
                return self.questions[key - 1]
            raise ValueError(f"question must be 1..{len(self.questions)} or a key, not {key!r}")
        for q in self.questions:
            if q.key == key:
                return q
        raise ValueError(f"no question {key!r}; the questions are "
                         f"{', '.join(q.key for q in self.questions)}")

    def ask(self) -> str:
        """The set-up and the numbered questions, answers shown as ``?``."""
        lines = [f"{self.title}" + (f" (seed {self.seed})" if self.seed is not None else ""),
                 self.setup.rstrip(), ""]
        for i, q in enumerate(self.questions, 1):
            lines.append(f"  {i}. {q.key}: {q.prompt}  ?")
        lines.append("")
        lines.append("Answer with .check(" + ", ".join(f"{q.key}=..." for q in self.questions)
                     + "); see one answer with .reveal(1), every answer with .reveal()")
        return "\n".join(lines)

    def check(self, **answers: Any) -> CheckResult:
        """Mark the given answers; ``...`` (Ellipsis) is a blank still to fill in.

        Unknown keys are a ValueError.
        """
        out = []
        for key, given in answers.items():
            q = self._q(key)
            out.append((key, given, None if given is ... else q.is_right(given), q))
        return CheckResult(out)

    def reveal(self, *which: int | str) -> Revealed:
        """The answers with their reasons: all, or only those named (number from 1, or key)."""
        qs = [self._q(w) for w in which] if which else list(self.questions)
        return Revealed(self, qs)

    def answers(self) -> dict[str, Any]:
        return {q.key: q.answer for q in self.questions}

    def __repr__(self) -> str:
        return self.ask()


class CheckResult:
    """What :meth:`Problem.check` returns; prints one line per answer."""

    def __init__(self, rows: list[tuple[str, Any, bool | None, Question]]):
        self.rows = rows

    @property
    def all_right(self) -> bool:
        """True if every answer given is right (blanks count as not right)."""
        return all(ok is True for _, _, ok, _ in self.rows)

    def __repr__(self) -> str:
        lines = []
        for key, given, ok, q in self.rows:
            if ok is None:
                lines.append(f"  {key}: fill in: {q.prompt} (replace the ... with your answer)")
            elif ok:
                lines.append(f"  {key} = {given!r}: right. {q.reason}")
            else:
                lines.append(f"  {key} = {given!r}: not quite. Hint: {q.hint(given)} "
                             f"Try again, or .reveal({key!r}).")
        return "\n".join(lines) if lines else "  (no answers given)"


class Revealed:
    """What :meth:`Problem.reveal` returns; prints the answers asked for, with reasons."""

    def __init__(self, p: Problem, questions: list[Question] | None = None):
        self.p = p
        self.questions = list(p.questions) if questions is None else questions

    def __repr__(self) -> str:
        lines = [self.p.title]
        for q in self.questions:
            i = self.p.questions.index(q) + 1
            lines.append(f"  {i}. {q.key}: {q.prompt}")
            lines.append(f"      {q.answer!r}: {q.reason}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """Folded: a notebook shows the answers only after a click on the summary."""
        import html

        which = ("every answer" if len(self.questions) == len(self.p.questions) else
                 "answer " + ", ".join(str(self.p.questions.index(q) + 1) for q in self.questions))
        return details_html(f"{self.p.title}: {which} (click to open)",
                            f"<pre>{html.escape(repr(self))}</pre>")


register_if_in_ipython()
