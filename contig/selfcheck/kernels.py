"""Check yourself for notebook 13: the same call on Linux 4.4 and on Linux 6.18.

:func:`kernels_problem` draws a small zone (the course's 32-page zone, 4-page
pageblocks, 8-page MAX_ORDER blocks) and a MOVABLE request, runs it through
:mod:`contig.v4_4` and :mod:`contig.v6_18` on copies, and asks what each
kernel returns and which type each pageblock has afterwards.  The answers
and reasons come from the two models and from
:func:`contig.viz.compare.differences` (each difference with the kernel
change behind it), never written by hand.

Most problems (about three in four) are drawn so that the kernels differ in
their return value or in the pageblock types they leave.  The generator draws
only from ``random.Random(seed).random()``, so a seed gives the same problem
forever under :data:`GENERATOR_VERSION`.
"""

from __future__ import annotations

import random

from ..cli import format_zone
from ..contig import errname
from ..geometry import Geometry
from ..zone import MigrateType, Zone
from . import Problem, Question
from . import below as _below
from . import check_seed as _seed
from . import pick as _pick

__all__ = ["GENERATOR_VERSION", "kernels_problem"]

#: Version of the problem generator of this module.
GENERATOR_VERSION = 1

#: The course's small geometry: 8-page max blocks, 4-page pageblocks.
SMALL = Geometry(max_order=4, pageblock_order=2)

_BLOCKS = {"M": 5.0, "U": 2.0, "C": 0.8}
_PAGES = {"M": {".": 5, "M": 3, "F": 1, "U": 0.5, "T": 0.3},
          "U": {".": 6, "M": 2, "U": 1.0},
          "C": {".": 5, "M": 3}}


def _zone(rng: random.Random) -> tuple[Zone, int, int]:
    blocks = "U" + "".join(_pick(rng, _BLOCKS) for _ in range(7))
    pages = list("UUUU" + "".join(_pick(rng, _PAGES[blocks[p // 4]]) for p in range(4, 32)))
    # a THP is four pages, head aligned: make any T a whole order-2 block (its pageblock)
    for b in range(1, 8):
        if "T" in pages[4 * b: 4 * b + 4]:
            pages[4 * b: 4 * b + 4] = "TTTT" if blocks[b] == "M" else "MMMM"
    start = 4 + _below(rng, 26)
    end = start + 1 + _below(rng, min(8, 32 - start))
    return Zone.from_map("".join(pages), geometry=SMALL, blocks=blocks), start, end


def kernels_problem(seed: int) -> Problem:
    """Which kernel returns what, and which blocks come back as which type.

    :raises ValueError: ``seed`` is not a non-negative int.
    """
    from ..viz.compare import CAUSES, compare  # imported here: matplotlib only when asked

    rng = random.Random(_seed(seed))
    want_diff = rng.random() < 0.75
    for _ in range(500):
        z, start, end = _zone(rng)
        c = compare(z, start, end, MigrateType.MOVABLE)
        r4, r6 = c.results["4.4"], c.results["6.18"]
        b4, b6 = c.after["4.4"].blocks_map(), c.after["6.18"].blocks_map()
        differ = r4.ret != r6.ret or b4 != b6
        if differ == want_diff:
            break
    else:  # pragma: no cover
        raise RuntimeError(f"no kernels problem for seed {seed}")
    iso4 = (r4.isolate_start, r4.isolate_end)
    iso6 = (r6.isolate_start, r6.isolate_end)
    setup = "\n".join([
        str(SMALL), "",
        *format_zone(z, marks=[("request", {**dict.fromkeys(range(start, end), "^")})]),
        "          (^ the request [start, end))",
        "pageblock types: U unmovable, M movable, C CMA",
        "",
        f"alloc_contig_range(zone, {start}, {end}) for a MOVABLE caller, once on Linux 4.4 "
        f"(migratetype MIGRATE_MOVABLE) and once on Linux 6.18 (ACR_FLAGS_NONE), each on a "
        f"fresh copy of this zone.",
    ])
    why = {k: CAUSES[k] for k, _ in c.differences}

    def ret_reason(k: str, r) -> str:
        where = f" in {r.failed_stage}" if r.failed_stage else ""
        busy = f" (PFN {r.busy_pfn})" if r.busy_pfn is not None and r.failed_stage else ""
        iso = iso4 if k == "4.4" else iso6
        rule = ("v4.4 isolates the request rounded out to MAX_ORDER blocks"
                if k == "4.4" else "6.18 isolates the request's own pageblocks")
        return f"{rule}, [{iso[0]}, {iso[1]}); it returns {errname(r.ret)}{where}{busy}."

    stage_key = next((k for k, _ in c.differences
                      if k not in ("isolated", "follows", "log", "blocks", "pages", "free")), None)
    main = [ln for k, ln in c.differences if k not in ("follows", "pages", "free")]
    diff_reason = (f" Differences: {'; '.join(main)}." if main else
                   " Both kernels end the same way here.")
    if stage_key:
        diff_reason += f" Why: {why[stage_key]}."
    blocks_rule4 = ("v4.4's undo_isolate_page_range() gives every block it isolated the "
                    "caller's type, MOVABLE" if r4.ret != -16 or r4.failed_stage not in
                    ("start_isolate_page_range",) else
                    "v4.4 undoes only the blocks it had isolated before the refusal, each set to "
                    "MOVABLE")
    blocks_rule6 = ("6.18 sets and clears a separate isolate bit: every block keeps its own "
                    "migratetype (6.15-6.18)")
    return Problem(
        title="Ten years later: the same call on two kernels", setup=setup, seed=seed,
        questions=[
            Question("ret44", "what does Linux 4.4's alloc_contig_range() return? "
                              "(0, -EBUSY, -ENOMEM ...)", errname(r4.ret),
                     ret_reason("4.4", r4), "ret"),
            Question("ret618", "what does Linux 6.18's alloc_contig_range() return?",
                     errname(r6.ret), ret_reason("6.18", r6) + diff_reason, "ret"),
            Question("blocks44", "the blocks map after Linux 4.4's call (one letter per "
                                 "pageblock)", b4,
                     f"{z.blocks_map()} -> {b4}: {blocks_rule4}.", "blocks"),
            Question("blocks618", "the blocks map after Linux 6.18's call", b6,
                     f"{z.blocks_map()} -> {b6}: {blocks_rule6}.", "blocks"),
        ])
