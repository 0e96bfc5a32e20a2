"""Shared fixtures: a tiny geometry and a zone builder (SimPy's ``env``/``log`` spirit)."""

from __future__ import annotations

import pytest

from contig import Geometry, Zone

#: 8-page max blocks (orders 0..3), 4-page pageblocks: pfn_max_align rounds to 8.
TINY = Geometry(max_order=4, pageblock_order=2)


@pytest.fixture
def tiny() -> Geometry:
    return TINY


@pytest.fixture
def zone_from_map():
    def make(pages: str, blocks: str | None = None, **kw) -> Zone:
        kw.setdefault("geometry", TINY)
        z = Zone.from_map(pages, blocks=blocks, **kw)
        z.check()
        return z
    return make
