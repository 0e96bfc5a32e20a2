"""contig.selfcheck.kernels: seeded, answers from both models, hidden until asked."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

import contig.v4_4 as k44
import contig.v6_18 as k618
from contig.contig import errname
from contig.selfcheck.kernels import SMALL, kernels_problem
from contig.zone import Zone


def _zone_of(p) -> tuple[Zone, int, int]:
    lines = p.setup.splitlines()
    pages = next(ln for ln in lines if ln.strip().startswith("pages")).split()[1]
    blocks = "".join(next(ln for ln in lines if ln.strip().startswith("blocks")).split()[1:])
    req = next(ln for ln in lines if ln.strip().startswith("request"))
    col = lines[next(i for i, ln in enumerate(lines) if ln.strip().startswith("pages"))].index(pages)
    marks = req[col:]
    start = marks.index("^")
    end = start + marks.count("^")
    return Zone.from_map(pages, geometry=SMALL, blocks=blocks), start, end


@pytest.mark.parametrize("seed", range(12))
def test_answers_are_the_models_on_the_zone_shown(seed):
    p = kernels_problem(seed)
    z, start, end = _zone_of(p)
    z4, z6 = z.copy(), z.copy()
    r4 = k44.alloc_contig_range(z4, start, end)
    r6 = k618.alloc_contig_range(z6, start, end)
    a = p.answers()
    assert a == {"ret44": errname(r4.ret), "ret618": errname(r6.ret),
                 "blocks44": z4.blocks_map(), "blocks618": z6.blocks_map()}
    assert p.check(ret44=a["ret44"], ret618=a["ret618"]).rows[0][2] is True
    # the answers do not show before they are asked for
    assert "?" in p.ask() and a["blocks618"] not in p.ask().split("request")[-1]


def test_seeded_and_mostly_different():
    assert kernels_problem(3).ask() == kernels_problem(3).ask()
    diff = sum(1 for s in range(20)
               if (lambda a: a["ret44"] != a["ret618"] or a["blocks44"] != a["blocks618"])(
                   kernels_problem(s).answers()))
    assert 10 <= diff <= 19


def test_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        kernels_problem(-1)
