"""The Linux 6.18 kernel model, beside the v4.4 one (:mod:`contig.v4_4`).

Both run on the same :class:`~contig.zone.Zone`.  The modules are named
after the kernel files whose functions they model:

* :mod:`contig.v6_18.page_alloc` -- the buddy pieces of mm/page_alloc.c that
  changed (``__free_one_page``'s merge rule, ``split_large_buddy``,
  ``find_large_buddy``, ``__move_freepages_block_isolate``, ...);
* :mod:`contig.v6_18.page_isolation` -- mm/page_isolation.c (pageblock
  granularity, ``isolate_single_pageblock``, the isolate bit, modes);
* :mod:`contig.v6_18.compaction` -- the strict free-page grab of mm/compaction.c;
* :mod:`contig.v6_18.migrate` -- isolating and migrating whole THPs for
  ``cc->alloc_contig`` (mm/compaction.c, mm/migrate.c);
* :mod:`contig.v6_18.contig_alloc` -- the CONFIG_CONTIG_ALLOC part of
  mm/page_alloc.c: ``alloc_contig_range``, ``__alloc_contig_migrate_range``,
  ``free_contig_range``, ``pfn_range_valid_contig``, ``alloc_contig_pages``
  (on a :class:`contig.node.Node`; the numpy predictor for whole real nodes
  is :mod:`contig.gigantic`).

What did not change (per-CPU lists, LRU batches, migration of LRU pages,
allocation of migration targets) is the v4.4 code, imported.  The geometry
mapping: ``Geometry(max_order=11)`` (v4.4 ``MAX_ORDER`` 11, orders 0..10)
is 6.18's ``MAX_PAGE_ORDER`` 10, inclusive.
"""

from __future__ import annotations

from ..contig import ContigResult
from .contig_alloc import (
    ACR_FLAGS_CMA,
    ACR_FLAGS_NONE,
    GFP,
    GFP_GIGANTIC,
    GFP_HIGHUSER,
    GFP_KERNEL,
    alloc_contig_pages,
    alloc_contig_range,
    free_contig_range,
)
from .page_isolation import PbIsolateMode

__all__ = [
    "ACR_FLAGS_CMA",
    "ACR_FLAGS_NONE",
    "GFP",
    "GFP_GIGANTIC",
    "GFP_HIGHUSER",
    "GFP_KERNEL",
    "VERSION",
    "ContigResult",
    "PbIsolateMode",
    "alloc_contig_pages",
    "alloc_contig_range",
    "free_contig_range",
]

#: The kernel release this package models.
VERSION = "6.18"
