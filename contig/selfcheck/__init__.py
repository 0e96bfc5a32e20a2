"""Check yourself: seeded problems with hidden answers, in the spirit of OSTEP's ``-s`` and ``-c``.

Each lesson module (``contig.selfcheck.buddy``, ...) has ``problem(seed)``
returning a :class:`Problem`: the same seed gives the same problem forever
(``random.Random(seed)``, versioned generators).  In a notebook::

    p = buddy.problem(seed=3)
    p                       # the set-up and the questions, answers shown as ?
    p.check(order=2)        # right or wrong, with the reason
    p.reveal()              # every answer with its reason

Everything prints plain text, so stored notebook outputs stay byte-stable.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Problem", "Question", "below", "check_seed", "pick", "same_bool"]


def same_bool(given: Any, answer: bool) -> bool:
    """True if ``given`` (a bool, or "yes"/"no"/"true"/"false"/"y"/"n") means ``answer``."""
    if isinstance(given, str):
        g = given.strip().lower()
        if g in ("yes", "true", "y"):
            return answer is True
        if g in ("no", "false", "n"):
            return answer is False
        return False
    if isinstance(given, bool) or type(given).__name__ == "bool_":
        return bool(given) == answer
    return False


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


@dataclass(frozen=True)
class Question:
    """One thing to predict: ``key`` is the keyword ``Problem.check()`` takes."""

    key: str
    prompt: str
    answer: Any
    reason: str
    same: Callable[[Any, Any], bool] | None = None

    def is_right(self, given: Any) -> bool:
        if self.same is not None:
            return bool(self.same(given, self.answer))
        if isinstance(self.answer, str) and isinstance(given, str):
            return given.strip() == self.answer.strip()
        return given == self.answer


@dataclass
class Problem:
    """A set-up (plain text) and questions whose answers stay hidden until asked for."""

    title: str
    setup: str
    questions: list[Question] = field(default_factory=list)
    seed: int | None = None

    def _q(self, key: str) -> Question:
        for q in self.questions:
            if q.key == key:
                return q
        raise ValueError(f"no question {key!r}; the questions are "
                         f"{', '.join(q.key for q in self.questions)}")

    def ask(self) -> str:
        """The set-up and the questions, answers shown as ``?``."""
        lines = [f"{self.title}" + (f" (seed {self.seed})" if self.seed is not None else ""),
                 self.setup.rstrip(), ""]
        for q in self.questions:
            lines.append(f"  {q.key}: {q.prompt}  ?")
        lines.append("")
        lines.append("Answer with .check(" + ", ".join(f"{q.key}=..." for q in self.questions)
                     + "), or see everything with .reveal()")
        return "\n".join(lines)

    def check(self, **answers: Any) -> CheckResult:
        """Mark the given answers; unknown keys are a ValueError."""
        out = []
        for key, given in answers.items():
            q = self._q(key)
            ok = q.is_right(given)
            out.append((key, given, ok, q))
        return CheckResult(out)

    def reveal(self) -> Revealed:
        """Every answer, with the reason."""
        return Revealed(self)

    def answers(self) -> dict[str, Any]:
        return {q.key: q.answer for q in self.questions}

    def __repr__(self) -> str:
        return self.ask()


class CheckResult:
    """What :meth:`Problem.check` returns; prints one line per answer."""

    def __init__(self, rows: list[tuple[str, Any, bool, Question]]):
        self.rows = rows

    @property
    def all_right(self) -> bool:
        return all(ok for _, _, ok, _ in self.rows)

    def __repr__(self) -> str:
        lines = []
        for key, given, ok, q in self.rows:
            if ok:
                lines.append(f"  {key} = {given!r}: right. {q.reason}")
            else:
                lines.append(f"  {key} = {given!r}: not quite. Try again, or .reveal() it.")
        return "\n".join(lines) if lines else "  (no answers given)"


class Revealed:
    """What :meth:`Problem.reveal` returns; prints every answer with its reason."""

    def __init__(self, p: Problem):
        self.p = p

    def __repr__(self) -> str:
        lines = [self.p.title]
        for q in self.p.questions:
            lines.append(f"  {q.key}: {q.prompt}")
            lines.append(f"      {q.answer!r}: {q.reason}")
        return "\n".join(lines)
