"""The bulk paths (contig.bulk) give the same final zone as the page-by-page paths.

Random small zones with many pages to migrate, run once with ``bulk=False``
(every page through unmap_and_move(), the pagevec and __free_one_page()) and
once with ``bulk=True``; the results and final zones must be identical.
``tests/test_differential.py`` is the stricter, wider version of this test.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contig import Geometry, Zone, alloc_contig_range
from contig.freelist import list_del, list_del_many

G = Geometry(max_order=5, pageblock_order=3)   # 16-page max blocks, 8-page pageblocks

maps = st.lists(st.sampled_from(list("....MMMMMFPpvU")), min_size=256, max_size=256).map("".join)
blocks = st.lists(st.sampled_from(list("MMMMMUC")), min_size=32, max_size=32).map("".join)


@settings(max_examples=120, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(pages=maps, blk=blocks, start=st.integers(0, 200), length=st.integers(1, 120),
       batch=st.sampled_from([1, 3, 31]))
def test_bulk_equals_page_by_page(pages, blk, start, length, batch):
    end = min(start + length, 256)
    a = Zone.from_map(pages, geometry=G, blocks=blk)
    a.pcp_high, a.pcp_batch = 6 * batch, batch
    b = a.copy()
    ra = alloc_contig_range(a, start, end, bulk=False)
    rb = alloc_contig_range(b, start, end, bulk=True)
    assert (ra.ret, ra.outer_start, ra.outer_end, ra.log) == (rb.ret, rb.outer_start, rb.outer_end, rb.log)
    assert list(ra.migrated.items()) == list(rb.migrated.items()) and ra.reclaimed == rb.reclaimed
    b.check()
    assert a.state_equal(b)
    assert rb.events.final().state_equal(b)


def test_list_del_many_equals_list_del():
    rng = np.random.default_rng(5)
    for _ in range(50):
        m = "".join(rng.choice(list("M.."), 128))
        z = Zone.from_map(m, geometry=G)
        ref = z.copy()
        heads = np.flatnonzero(z.order >= 0)
        pick = rng.choice(heads, size=rng.integers(1, heads.size + 1), replace=False)
        list_del_many(z, pick)
        for x in pick.tolist():
            list_del(ref, x)
        assert np.array_equal(z.next, ref.next) and np.array_equal(z.prev, ref.prev)


def _greedy_cut(mask, start_pfn, max_k, min_k):
    """Reference: walk each run from its start, taking the largest aligned block that fits."""
    heads, orders, left = [], [], [False] * len(mask)
    i, n = 0, len(mask)
    while i < n:
        if not mask[i]:
            i += 1
            continue
        j = i
        while j < n and mask[j]:
            j += 1
        p = i
        while p < j:
            k = max_k
            while (start_pfn + p) % (1 << k) or p + (1 << k) > j:
                k -= 1
            if k >= min_k:
                heads.append(p)
                orders.append(k)
            else:
                for q in range(p, p + (1 << k)):
                    left[q] = True
            p += 1 << k
        i = j
    return heads, orders, left


def test_aligned_blocks_is_the_greedy_cut():
    from contig.mapfmt import aligned_blocks
    rng = np.random.default_rng(11)
    for _ in range(400):
        n = int(rng.integers(1, 200))
        mask = rng.random(n) < rng.random()
        start = int(rng.integers(0, 300))
        max_k = int(rng.integers(0, 7))
        min_k = int(rng.integers(0, max_k + 1))
        h, o, left = aligned_blocks(mask, start, max_k, min_k)
        rh, ro, rleft = _greedy_cut(mask.tolist(), start, max_k, min_k)
        assert h.tolist() == rh and o.tolist() == ro and left.tolist() == rleft
        assert o.dtype == np.int8 and left.dtype == bool
