"""One zone of the page allocator: per-PFN state in numpy arrays.

Models ``struct zone`` and the parts of ``struct page`` the contiguous
allocator reads (include/linux/mmzone.h, include/linux/mm_types.h, Linux v4.4):

* ``kind``: what the page is, as the ASCII code of its map character
  (see :mod:`contig.mapfmt`);
* ``order``: ``page_private()`` of a PageBuddy head, -1 everywhere else
  (``order >= 0`` *is* PageBuddy);
* ``count``: the raw reference count ``_count`` (tails of compound pages 0);
* ``flags``: PG_lru, PG_head, PG_tail, PG_reserved, anon (a mapped anonymous
  page: mapcount 1), and the model's PG_BAD (bad_page() left the page out of
  the free lists);
* ``comp``: the compound order on every page of a compound page, else -1;
* ``mtype``: for a PageBuddy head, the migratetype of the free list it is
  on; for a page on a per-CPU list, the migratetype remembered by
  ``set_pcppage_migratetype()`` (the kernel keeps neither for buddy heads;
  the model caches the list so counters can be audited);
* ``next`` / ``prev``: the ``lru`` list_head of every page, as int32 indices,
  with one sentinel slot per list (``free_area[order].free_list[mt]``, the
  three per-CPU lists, and the LRU-add pagevec), see :mod:`contig.freelist`;
* ``pb``: one migratetype per pageblock (the pageblock flags bitmap);
* counters: ``nr_free_pages`` (``NR_FREE_PAGES``), ``nr_free`` per order,
  ``nr_isolate_pageblock``, and the per-CPU ``count``/``high``/``batch``.

No Python object exists per page, so a 4 GiB zone (1M PFNs) costs about
17 bytes per page.

Simplifications (also stated in the course): one zone, one CPU, no
watermarks, no LRU list order (pages carry PG_lru but the active/inactive
lists are not kept), ``NR_FREE_CMA_PAGES`` is not kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import IntEnum
from operator import attrgetter
from typing import Any

import numpy as np

from .argcheck import MAX_PFN, ArgTypeError, check_int
from .geometry import Geometry
from .mapfmt import BLOCK_CHARS, aligned_blocks, block_codes, kind_codes

__all__ = [
    "MIGRATE_PCPTYPES",
    "PAGEVEC_SIZE",
    "MigrateType",
    "Zone",
    "ZoneCheckError",
    "check_pcp",
    "zone_batchsize",
]


class MigrateType(IntEnum):
    """Pageblock migratetypes with their v4.4 values (CONFIG_CMA and CONFIG_MEMORY_ISOLATION on).

    Models ``enum migratetype``, include/linux/mmzone.h, Linux v4.4.
    """

    UNMOVABLE = 0
    MOVABLE = 1
    RECLAIMABLE = 2
    HIGHATOMIC = 3
    CMA = 4
    ISOLATE = 5

    @property
    def char(self) -> str:
        """The blocks-map character (``U M R H C I``)."""
        return BLOCK_CHARS[self]

    @property
    def procname(self) -> str:
        """The name /proc/pagetypeinfo prints."""
        return ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate")[self]


#: Number of per-CPU list types (``MIGRATE_PCPTYPES``).
MIGRATE_PCPTYPES = 3
#: Pages per pagevec (``PAGEVEC_SIZE``, include/linux/pagevec.h).
PAGEVEC_SIZE = 14
NR_MIGRATETYPES = 6

# page flag bits (our own packing, named after the kernel's PG_* flags)
PG_LRU = 1
PG_HEAD = 2
PG_TAIL = 4
PG_RESERVED = 8
PG_ANON = 16
#: Model-only bit: the page went through bad_page() (free_pages_check() failed when its
#: reference count reached zero) and was left out of the free lists, as v4.4 leaves it.
PG_BAD = 32

C = {c: ord(c) for c in ".MFPURTHpvX#"}
FREE, PCP, HOLE, PVEC, OWNED = C["."], C["p"], C["#"], C["v"], C["X"]


#: reference count and flags of a page of each plain kind, by kind code (0: not plain)
_PLAIN_COUNT = np.zeros(256, dtype=np.int32)
_PLAIN_FLAGS = np.zeros(256, dtype=np.uint8)
for _ch, _cnt, _fl in (("M", 1, PG_LRU | PG_ANON), ("F", 1, PG_LRU), ("P", 2, PG_LRU | PG_ANON),
                       ("U", 1, 0), ("R", 1, PG_RESERVED), ("X", 1, 0), ("v", 2, PG_ANON)):
    _PLAIN_COUNT[ord(_ch)] = _cnt
    _PLAIN_FLAGS[ord(_ch)] = _fl


class ZoneCheckError(AssertionError):
    """Raised by :meth:`Zone.check` when an invariant of the model is broken."""


def zone_batchsize(managed_pages: int) -> int:
    """Per-CPU batch for a zone of ``managed_pages`` pages with 4 KiB pages.

    Models zone_batchsize(), mm/page_alloc.c, Linux v4.4: about a quarter of
    a thousandth of the zone, capped at 512 KiB, rounded to 2^n - 1.
    ``high`` is then 6 * batch and the batch used is max(1, batch)
    (pageset_set_batch()).  Small zones get batch 0, i.e. high 0: every
    page freed to a per-CPU list is pushed on to the buddy at once.
    """
    batch = managed_pages // 1024
    batch = min(batch, (512 * 1024) // 4096)
    batch //= 4
    batch = max(batch, 1)
    x = batch + batch // 2
    return (1 << (x.bit_length() - 1)) - 1


#: ``PAGE_SHIFT * 8``: the largest batch pageset_set_high() gives (4 KiB pages).
PCP_HIGH_BATCH_CAP = 12 * 8


def check_pcp(high: Any, batch: Any) -> tuple[int, int]:
    """Check a per-CPU ``(high, batch)`` pair; return it as Python ints.

    What v4.4 can set (mm/page_alloc.c): pageset_set_batch(b) gives
    ``(6*b, max(1, b))`` (boot, from zone_batchsize(); b = 0 gives high 0,
    batch 1), and pageset_set_high(h) gives ``(h, min(max(1, h // 4), 96))``
    (the percpu_pagelist_fraction sysctl); pageset_update() writes the pair.
    Those are the only two ways v4.4 sets a per-CPU pair, so the model
    accepts exactly the pairs they can produce and refuses any other: such a
    pair could make free_hot_cold_page() ask free_pcppages_bulk() for more
    pages than the per-CPU lists hold (where the kernel would spin for ever),
    and in any case shows behaviour no v4.4 machine has.

    :raises ArgTypeError: a value that is not an int.
    :raises ValueError: naming the pair, when neither formula gives it.
    """
    h = check_int("pcp high", high, lo=0, hi=MAX_PFN)
    b = check_int("pcp batch", batch, lo=1, hi=MAX_PFN)
    if not (h == 6 * b or b == min(max(1, h // 4), PCP_HIGH_BATCH_CAP)):
        raise ValueError(
            f"pcp high={h}, batch={b} is not a per-CPU setting v4.4 can have: the kernel sets "
            f"(6*b, b) at boot or (h, max(1, h/4) capped at 96) through "
            f"percpu_pagelist_fraction; e.g. ({6 * b}, {b}) or ({h}, {min(max(1, h // 4), 96)})")
    return h, b


_PFN_ARRAYS = ("kind", "order", "count", "flags", "comp", "mtype")
_LINK_ARRAYS = ("next", "prev")
_SCALARS = ("nr_free_pages", "nr_free_drift", "nr_isolate_pageblock", "nr_isolate_extra",
            "pcp_count", "pcp_high", "pcp_batch")
_get_scalars = attrgetter(*_SCALARS)


class Zone:
    """A zone of ``spanned_pages`` PFNs starting at ``start_pfn``.

    Build one with :meth:`from_map` or :meth:`from_arrays`.  Every PFN-taking
    method raises ``ValueError`` for a PFN outside the zone, and
    :class:`~contig.argcheck.ArgTypeError` (a ValueError and a TypeError)
    for a PFN that is not an int; nothing is changed then.
    """

    kind: np.ndarray
    order: np.ndarray
    count: np.ndarray
    flags: np.ndarray
    comp: np.ndarray
    mtype: np.ndarray
    next: np.ndarray
    prev: np.ndarray
    pb: np.ndarray
    nr_free: np.ndarray

    # ------------------------------------------------------------ building
    @classmethod
    def from_map(cls, pages: str, *, geometry: Geometry | None = None, start_pfn: int = 0,
                 blocks: str | None = None, name: str = "Normal",
                 pcp_high: int | None = None, pcp_batch: int | None = None) -> Zone:
        """Build a zone spanning ``[start_pfn, start_pfn + len(pages))`` from a map.

        One character per PFN (see :data:`contig.mapfmt.KIND_DESCRIPTIONS`);
        ``blocks`` has one of ``U M R H C I`` per pageblock overlapping the
        span (default all ``M``).  Free pages form the canonical buddy
        structure: maximal naturally aligned power-of-two runs of at most
        order ``max_order-1``, each on the list of the migratetype of the
        pageblock holding its head, in ascending PFN order.  ``p`` pages sit
        on the per-CPU list of their block's type (HighAtomic, CMA and
        Isolate blocks use the Movable list), ``v`` pages in the pagevec.
        ``T`` / ``H`` runs are cut into naturally aligned compound pages of
        order 1 .. ``max_order-1``.

        ``pcp_high`` / ``pcp_batch``: the per-CPU setting (see
        :func:`check_pcp`); give one and the other follows as v4.4 derives it
        (pageset_set_high(): batch = clamp(high/4, 1, 96); pageset_set_batch():
        high = 6 * batch); give none and zone_batchsize() decides.

        :raises ValueError: unknown character, wrong ``blocks`` length, a
            ``T``/``H`` run that cannot be cut (a compound page of order >=
            ``max_order`` included), a bad ``start_pfn`` (negative, or the zone
            reaching past :data:`~contig.argcheck.MAX_PFN`), a per-CPU pair
            v4.4 cannot have; ArgTypeError for a value of the wrong type.
        """
        if not isinstance(pages, str | bytes | bytearray):
            raise ArgTypeError(f"pages must be a map string, not {type(pages).__name__}")
        start_pfn = check_int("start_pfn", start_pfn, lo=0, hi=MAX_PFN - 1)
        codes = kind_codes(pages, start_pfn)
        return cls.from_arrays(codes, blocks, geometry=geometry, start_pfn=start_pfn, name=name,
                               pcp_high=pcp_high, pcp_batch=pcp_batch)

    @classmethod
    def from_arrays(cls, kinds: np.ndarray, blocks: np.ndarray | str | None = None, *,
                    geometry: Geometry | None = None, start_pfn: int = 0, name: str = "Normal",
                    pcp_high: int | None = None, pcp_batch: int | None = None) -> Zone:
        """Build a zone from an array of kind codes (uint8 ASCII map characters).

        The fast constructor for large zones (a 1M-PFN zone in well under a
        second): ``kinds`` is what ``np.frombuffer(map.encode(), np.uint8)``
        gives; ``blocks`` is a uint8 array of MigrateType values (or a blocks
        string).  Same rules as :meth:`from_map`.
        """
        g = geometry if geometry is not None else Geometry()
        if not isinstance(g, Geometry):
            raise ArgTypeError(f"geometry must be a Geometry, not {g!r}")
        start_pfn = check_int("start_pfn", start_pfn, lo=0, hi=MAX_PFN - 1)
        if not isinstance(name, str):
            raise ArgTypeError(f"name must be a str, not {name!r}")
        codes = kind_codes(kinds, start_pfn)
        n = codes.size
        if start_pfn + n > MAX_PFN:
            raise ValueError(f"the zone [{start_pfn}, {start_pfn + n}) runs past the largest PFN "
                             f"the model takes ({MAX_PFN - 1})")
        pbo = g.pageblock_order
        nblocks = ((start_pfn + n - 1) >> pbo) - (start_pfn >> pbo) + 1
        if blocks is None:
            pb = np.full(nblocks, int(MigrateType.MOVABLE), dtype=np.uint8)
        else:
            pb = block_codes(blocks, nblocks)
        if pcp_high is not None or pcp_batch is not None:
            # one given: the other as the kernel would derive it (pageset_set_high / _set_batch)
            if pcp_batch is None:
                hi_ = check_int("pcp_high", pcp_high, lo=0, hi=MAX_PFN)
                pcp_batch = min(max(1, hi_ // 4), PCP_HIGH_BATCH_CAP)
            elif pcp_high is None:
                b_ = check_int("pcp_batch", pcp_batch, lo=1, hi=MAX_PFN)
                pcp_high = 6 * b_
            pcp_high, pcp_batch = check_pcp(pcp_high, pcp_batch)

        z = cls.__new__(cls)
        z.geometry = g
        z.name = str(name)
        z.start_pfn = start_pfn
        z.spanned_pages = n
        z._init_sentinels()
        z.kind = codes
        z.order = np.full(n, -1, dtype=np.int8)
        z.count = np.zeros(n, dtype=np.int32)
        z.flags = np.zeros(n, dtype=np.uint8)
        z.comp = np.full(n, -1, dtype=np.int8)
        z.mtype = np.zeros(n, dtype=np.uint8)
        z.next = np.full(n + z.nr_sentinels, -1, dtype=np.int32)
        z.prev = np.full(n + z.nr_sentinels, -1, dtype=np.int32)
        s = np.arange(n, n + z.nr_sentinels, dtype=np.int32)
        z.next[n:] = s
        z.prev[n:] = s
        z.pb = pb
        # Linux 6.18 model: a pageblock's own migratetype bits, kept while its
        # PB_migrate_isolate bit is set (pb then reads ISOLATE, as
        # get_pageblock_migratetype() does in 6.18); see contig.v6_18.
        z.pb_base = np.where(pb == MigrateType.ISOLATE, MigrateType.MOVABLE, pb).astype(np.uint8)
        z.nr_free = np.zeros(g.max_order, dtype=np.int64)
        z._tracking = False
        z._t = []
        z._ta = []
        z._tr = []
        z._pb_dirty = False
        z.recorder = None
        z.freeing = None      # contig.pcp's way to the buddy: None is v4.4's

        # compound pages: cut T and H runs
        for ch in "TH":
            mask = codes == C[ch]
            if not mask.any():
                continue
            if g.max_order - 1 < 1:
                i = int(np.flatnonzero(mask)[0])
                raise ValueError(
                    f"the {ch!r} page at PFN {start_pfn + i} would be a compound page of order >= 1, "
                    f"but max_order={g.max_order} allows buddy orders 0..{g.max_order - 1} only "
                    f"(a compound page of order >= max_order cannot come from the buddy allocator)")
            heads, orders, left = aligned_blocks(mask, start_pfn, g.max_order - 1, 1)
            if left.any():
                i = int(np.flatnonzero(left)[0])
                lo = i
                while lo > 0 and codes[lo - 1] == C[ch]:
                    lo -= 1
                hi = i
                while hi + 1 < n and codes[hi + 1] == C[ch]:
                    hi += 1
                raise ValueError(
                    f"the run of {ch!r} pages at PFNs {start_pfn + lo}..{start_pfn + hi} cannot be cut "
                    f"into naturally aligned compound pages of order >= 1: PFN {start_pfn + i} "
                    f"would be left as an order-0 piece")
            sizes = (1 << orders.astype(np.int64))
            z.comp[mask] = np.repeat(orders, sizes)
            z.flags[mask] = PG_TAIL
            z.flags[heads] = PG_HEAD
            z.count[heads] = 1
            if ch == "T":
                z.flags[heads] |= PG_LRU | PG_ANON

        # reference counts and flags of the plain kinds: one table lookup each
        # (T and H pages map to 0 and keep what the compound cutting set)
        z.count += _PLAIN_COUNT[codes]
        z.flags |= _PLAIN_FLAGS[codes]

        # canonical buddy structure
        heads, orders, _ = aligned_blocks(codes == FREE, start_pfn, g.max_order - 1, 0)
        z.order[heads] = orders
        mts = pb[((start_pfn + heads) >> pbo) - (start_pfn >> pbo)].astype(np.int64)
        z.mtype[heads] = mts
        z._link_sorted(heads, n + orders.astype(np.int64) * NR_MIGRATETYPES + mts)
        z.nr_free[:] = np.bincount(orders.astype(np.int64), minlength=g.max_order)[:g.max_order]
        iso = mts == MigrateType.ISOLATE
        z.nr_free_pages = int((1 << orders[~iso].astype(np.int64)).sum())
        z.nr_free_drift = 0
        z.nr_isolate_pageblock = int((pb == MigrateType.ISOLATE).sum())
        z.nr_isolate_extra = 0

        # per-CPU free pages
        pcp = np.flatnonzero(codes == PCP)
        bt = pb[((start_pfn + pcp) >> pbo) - (start_pfn >> pbo)]
        remembered = np.where(bt == MigrateType.ISOLATE, MigrateType.MOVABLE, bt).astype(np.uint8)
        z.mtype[pcp] = remembered
        lists = np.where(remembered >= MIGRATE_PCPTYPES, MigrateType.MOVABLE, remembered)
        z._link_sorted(pcp, z.pcp_sentinel(0) + lists.astype(np.int64))
        z.pcp_count = int(pcp.size)
        # LRU-add pagevec
        pv = np.flatnonzero(codes == PVEC)
        z._link_sorted(pv, np.full(pv.size, z.pvec_sentinel, dtype=np.int64))

        managed = int(n - (codes == HOLE).sum() - (codes == C["R"]).sum())
        batch = zone_batchsize(managed)
        z.pcp_high = 6 * batch if pcp_high is None else pcp_high
        z.pcp_batch = max(1, batch) if pcp_batch is None else pcp_batch
        return z

    def _init_sentinels(self) -> None:
        mo = self.geometry.max_order
        self.nr_sentinels = mo * NR_MIGRATETYPES + MIGRATE_PCPTYPES + 1

    def _link_sorted(self, nodes: np.ndarray, sentinels: np.ndarray) -> None:
        """Link ``nodes`` (ascending) onto the lists ``sentinels`` (one per node), in order."""
        if nodes.size == 0:
            return
        srt = np.lexsort((nodes, sentinels))
        nodes = nodes[srt].astype(np.int32)
        sent = sentinels[srt].astype(np.int32)
        new_group = np.ones(nodes.size, dtype=bool)
        new_group[1:] = sent[1:] != sent[:-1]
        last = np.ones(nodes.size, dtype=bool)
        last[:-1] = new_group[1:]
        nxt = np.empty_like(nodes)
        nxt[:-1] = nodes[1:]
        nxt[last] = sent[last]
        prv = np.empty_like(nodes)
        prv[1:] = nodes[:-1]
        prv[new_group] = sent[new_group]
        self.next[nodes] = nxt
        self.prev[nodes] = prv
        self.next[sent[new_group]] = nodes[new_group]
        self.prev[sent[last]] = nodes[last]

    # ------------------------------------------------------------ indices
    @property
    def end_pfn(self) -> int:
        """One past the last PFN of the zone."""
        return self.start_pfn + self.spanned_pages

    def free_sentinel(self, order: int, mt: int) -> int:
        """Index of the list head ``free_area[order].free_list[mt]``."""
        return self.spanned_pages + order * NR_MIGRATETYPES + int(mt)

    def pcp_sentinel(self, t: int) -> int:
        """Index of the list head ``pcp->lists[t]``."""
        return self.spanned_pages + self.geometry.max_order * NR_MIGRATETYPES + t

    @property
    def pvec_sentinel(self) -> int:
        """Index of the LRU-add pagevec (kept as a list, in insertion order)."""
        return self.spanned_pages + self.geometry.max_order * NR_MIGRATETYPES + MIGRATE_PCPTYPES

    def off(self, pfn: int, name: str = "pfn") -> int:
        """Array index of ``pfn``; ValueError if the zone does not span it.

        :raises ArgTypeError: ``pfn`` is not an int (a bool or a float included).
        :raises ValueError: the zone does not span ``pfn``; the message names ``name``.
        """
        pfn = check_int(name, pfn, what="an int PFN")
        i = pfn - self.start_pfn
        if not 0 <= i < self.spanned_pages:
            raise ValueError(f"{name}: PFN {pfn} is outside zone {self.name} "
                             f"[{self.start_pfn}, {self.end_pfn})")
        return i

    def spans(self, pfn: int) -> bool:
        """``zone_spans_pfn()``.  :raises ArgTypeError: ``pfn`` is not an int."""
        if not isinstance(pfn, int) or isinstance(pfn, bool):
            pfn = check_int("pfn", pfn, what="an int PFN")
        return self.start_pfn <= pfn < self.end_pfn

    def pfn_valid(self, pfn: int) -> bool:
        """True if ``pfn`` is in the zone and not a hole (``pfn_valid()``).

        :raises ArgTypeError: ``pfn`` is not an int.
        """
        if not isinstance(pfn, int) or isinstance(pfn, bool):
            pfn = check_int("pfn", pfn, what="an int PFN")
        i = pfn - self.start_pfn
        return 0 <= i < self.spanned_pages and self.kind[i] != HOLE

    def block_index(self, pfn: int) -> int:
        """Index into :attr:`pb` of the pageblock holding ``pfn``.

        :raises ValueError: the zone does not span ``pfn`` (its pageblock
            bits are not this zone's; a negative index would wrap round to
            the last pageblock).
        """
        if isinstance(pfn, int) and not isinstance(pfn, bool) and self.start_pfn <= pfn < self.end_pfn:
            p = pfn           # the fast path: internal callers pass Python ints
        else:
            p = self.off(pfn) + self.start_pfn
        pbo = self.geometry.pageblock_order
        return (p >> pbo) - (self.start_pfn >> pbo)

    def get_pageblock_migratetype(self, pfn: int) -> MigrateType:
        """Models get_pageblock_migratetype(), include/linux/mmzone.h, Linux v4.4.

        :raises ValueError: the zone does not span ``pfn``.
        """
        return MigrateType(int(self.pb[self.block_index(pfn)]))

    def set_pageblock_migratetype(self, pfn: int, mt: int) -> None:
        """Models set_pageblock_migratetype(), mm/page_alloc.c, Linux v4.4.

        Like the kernel's, it changes only the pageblock bits: free pages stay
        on the lists they are on (callers move them, see
        :func:`contig.buddy.move_freepages_block`).  Simplified:
        page_group_by_mobility_disabled is always false.

        :raises ValueError: ``pfn`` outside the zone or ``mt`` not a
            migratetype (0..5); the zone is then untouched.
        """
        b = self.block_index(pfn)
        m = check_int("migratetype", mt, lo=0, hi=NR_MIGRATETYPES - 1, what="a MigrateType")
        self.pb[b] = m
        self._pb_dirty = True

    # ------------------------------------------------------------ change tracking
    def touch(self, i: int) -> None:
        """Record that slot ``i`` (a PFN index or a list sentinel) changed."""
        if self._tracking:
            self._t.append(i)

    def touch_many(self, idx: np.ndarray) -> None:
        """Record that the slots in the integer array ``idx`` changed."""
        if self._tracking:
            self._ta.append(np.asarray(idx, dtype=np.int64).ravel())

    def touch_range(self, lo: int, hi: int) -> None:
        """Record that PFN indices ``lo .. hi-1`` changed."""
        if self._tracking:
            self._tr.append((lo, hi))

    def take_changes(self) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Return and forget what changed since the last call.

        :return: (sorted unique slot indices touched one by one -- PFN indices
            and list sentinels --, merged ``(lo, hi)`` PFN index ranges).
        """
        if self._ta:
            allidx = np.concatenate([np.asarray(self._t, dtype=np.int64), *self._ta])
            if allidx.size > 4096:   # a mask beats sorting (and numpy's hash unique) here
                mask = np.zeros(self.spanned_pages + self.nr_sentinels, dtype=bool)
                mask[allidx] = True
                slots = np.flatnonzero(mask)
            else:
                slots = np.unique(allidx)
        else:
            slots = np.array(sorted(set(self._t)), dtype=np.int64)
        self._ta = []
        ranges: list[tuple[int, int]] = []
        for lo, hi in sorted(self._tr):
            if ranges and lo <= ranges[-1][1]:
                if hi > ranges[-1][1]:
                    ranges[-1] = (ranges[-1][0], hi)
            else:
                ranges.append((lo, hi))
        self._t = []
        self._tr = []
        return slots, ranges

    def scalars(self) -> tuple:
        """The zone's scalar counters, as a tuple (see :meth:`set_scalars`)."""
        return _get_scalars(self)

    def set_scalars(self, values: tuple) -> None:
        for a, v in zip(_SCALARS, values, strict=True):
            setattr(self, a, int(v))

    # ------------------------------------------------------------ views
    def to_map(self) -> str:
        """The zone as a map string, one character per PFN."""
        return self.kind.tobytes().decode("ascii")

    def blocks_map(self) -> str:
        """Pageblock migratetypes as a string of ``U M R H C I``."""
        return np.frombuffer(BLOCK_CHARS.encode(), dtype=np.uint8)[self.pb].tobytes().decode()

    def kinds(self) -> np.ndarray:
        """The per-PFN kind codes (uint8 ASCII map characters); a read-only view."""
        v = self.kind.view()
        v.flags.writeable = False
        return v

    def pageblock_types(self) -> np.ndarray:
        """MigrateType value per pageblock overlapping the span; a read-only view."""
        v = self.pb.view()
        v.flags.writeable = False
        return v

    def list_pfns(self, sentinel: int) -> list[int]:
        """PFNs on the list whose head is ``sentinel``, from head to tail."""
        out = []
        n = self.spanned_pages
        i = int(self.next[sentinel])
        while i != sentinel:
            if not 0 <= i < n or len(out) > n:
                raise ZoneCheckError(f"list {sentinel} is corrupt at slot {i}")
            out.append(self.start_pfn + i)
            i = int(self.next[i])
        return out

    def free_list(self, order: int, mt: int) -> list[int]:
        """Head PFNs on ``free_area[order].free_list[mt]``, from list head to tail."""
        order = check_int("order", order, lo=0, hi=self.geometry.max_order - 1)
        mt = check_int("migratetype", mt, lo=0, hi=NR_MIGRATETYPES - 1, what="a MigrateType")
        return self.list_pfns(self.free_sentinel(order, mt))

    def pcp_list(self, t: int) -> list[int]:
        """PFNs on the per-CPU list ``t`` (0 Unmovable, 1 Movable, 2 Reclaimable), head first."""
        t = check_int("per-CPU list", t, lo=0, hi=MIGRATE_PCPTYPES - 1)
        return self.list_pfns(self.pcp_sentinel(t))

    def pagevec(self) -> list[int]:
        """PFNs in the LRU-add pagevec, oldest first."""
        return self.list_pfns(self.pvec_sentinel)

    def _list_ids(self, nodes: np.ndarray, with_sentinels: bool = False) -> np.ndarray:
        """For each listed slot in ``nodes``, the sentinel of the list it is on (-1: none).

        Pointer doubling over the cycles the ``next`` array forms: the
        largest index on a cycle is its sentinel.  O(M log M) for M nodes.
        """
        n = self.spanned_pages
        sent = np.arange(n, n + self.nr_sentinels, dtype=np.int64)
        allnodes = np.concatenate([nodes.astype(np.int64), sent])
        pos = np.full(n + self.nr_sentinels, -1, dtype=np.int64)
        pos[allnodes] = np.arange(allnodes.size)
        nx = self.next[allnodes].astype(np.int64)
        if ((nx < 0) | (nx >= pos.size)).any():
            raise ZoneCheckError("a listed page has no valid next pointer")
        nxt = pos[nx]
        if (nxt < 0).any():
            raise ZoneCheckError("a list links to a page that should not be on any list")
        best = allnodes.copy()
        steps = 1
        while steps < allnodes.size * 2:
            best = np.maximum(best, best[nxt])
            nxt = nxt[nxt]
            steps *= 2
        return best if with_sentinels else best[: nodes.size]

    def free_blocks(self) -> list[tuple[int, int, MigrateType]]:
        """Free buddy blocks as ``(pfn, order, list migratetype)``, sorted by PFN."""
        heads = np.flatnonzero(self.order >= 0)
        mts = self.mtype[heads]
        types = list(MigrateType)
        return [(self.start_pfn + int(h), int(o), types[int(m)])
                for h, o, m in zip(heads, self.order[heads], mts, strict=True)]

    def free_list_counts(self) -> np.ndarray:
        """Blocks on each ``free_area[order].free_list[mt]``, shape (max_order, 6)."""
        heads = np.flatnonzero(self.order >= 0)
        ids = self.order[heads].astype(np.int64) * NR_MIGRATETYPES + self.mtype[heads]
        counts = np.bincount(ids, minlength=self.geometry.max_order * NR_MIGRATETYPES)
        return counts[: self.geometry.max_order * NR_MIGRATETYPES].reshape(
            self.geometry.max_order, NR_MIGRATETYPES).astype(np.int64)

    def page(self, pfn: int) -> dict[str, Any]:
        """A readable description of one page (what ``dump_page()`` would tell)."""
        i = self.off(pfn)
        f = int(self.flags[i])
        d: dict[str, Any] = {
            "pfn": int(pfn), "kind": chr(self.kind[i]),
            "pageblock": self.get_pageblock_migratetype(pfn).name,
            "count": int(self.count[i]),
            "buddy_order": int(self.order[i]) if self.order[i] >= 0 else None,
            "lru": bool(f & PG_LRU), "reserved": bool(f & PG_RESERVED),
            "compound": ("head" if f & PG_HEAD else "tail" if f & PG_TAIL else None),
            "compound_order": int(self.comp[i]) if self.comp[i] >= 0 else None,
        }
        if f & PG_BAD:
            d["bad"] = True     # bad_page() left it out of the free lists
        return d

    def nr_free_pages_on_lists(self, include_isolate: bool = False) -> int:
        """Pages in free buddy blocks (by default excluding the Isolate lists)."""
        heads = np.flatnonzero(self.order >= 0)
        if heads.size == 0:
            return 0
        sizes = 1 << self.order[heads].astype(np.int64)
        if include_isolate:
            return int(sizes.sum())
        return int(sizes[self.mtype[heads] != MigrateType.ISOLATE].sum())

    def buddyinfo(self, node: int = 0) -> str:
        """This zone's line of /proc/buddyinfo (see :mod:`contig.procfs`)."""
        from .procfs import render_buddyinfo
        return render_buddyinfo(self, check_int("node", node, lo=0))

    def pagetypeinfo(self, node: int = 0) -> str:
        """This zone's /proc/pagetypeinfo text (see :mod:`contig.procfs`)."""
        from .procfs import render_pagetypeinfo
        return render_pagetypeinfo(self, check_int("node", node, lo=0))

    def with_geometry(self, geometry: Geometry) -> Zone:
        """The same pages under another geometry: a what-if for the course.

        No kernel does this (MAX_ORDER and pageblock_order are fixed when it
        is built); the range explorer's geometry picker uses it to show how
        the alignment of ``alloc_contig_range()`` depends on them.  Page
        kinds are kept; free pages are cut into buddy blocks afresh, as
        :meth:`from_arrays` cuts any map; a new pageblock is MOVABLE if every
        old pageblock it overlaps was, else it takes the first other type
        among them (a larger block holding an unmovable part is what the
        allocator's fallback would have claimed whole); the per-CPU ``high``
        and ``batch`` are kept.

        :raises ValueError: ``geometry`` is not a Geometry, or a run of
            compound pages cannot be cut under it; this zone is untouched.
        """
        if not isinstance(geometry, Geometry):
            raise ArgTypeError(f"geometry must be a Geometry, not {geometry!r}")
        s, n = self.start_pfn, self.spanned_pages
        new, old = geometry.pageblock_order, self.geometry.pageblock_order
        first = np.maximum(np.arange(s >> new, ((s + n - 1) >> new) + 1, dtype=np.int64) << new, s)
        starts = (first >> old) - (s >> old)          # the first old block each new one overlaps
        other = np.where(self.pb != MigrateType.MOVABLE, np.arange(self.pb.size), self.pb.size)
        # per new block, the first non-MOVABLE old block it overlaps (or pb.size: none)
        pick = np.minimum.reduceat(other, starts)
        blocks = np.append(self.pb, np.uint8(MigrateType.MOVABLE))[pick]
        return Zone.from_arrays(self.kind.copy(), blocks, geometry=geometry, start_pfn=s,
                                name=self.name, pcp_high=self.pcp_high, pcp_batch=self.pcp_batch)

    # ------------------------------------------------------------ copy / compare
    def copy(self) -> Zone:
        """A deep copy: a handful of array copies, independent of the original."""
        z = Zone.__new__(Zone)
        z.__dict__.update(self.__dict__)
        for a in (*_PFN_ARRAYS, *_LINK_ARRAYS, "pb", "pb_base", "nr_free"):
            setattr(z, a, getattr(self, a).copy())
        z._tracking = False
        z._t = []
        z._ta = []
        z._tr = []
        z.recorder = None
        z.freeing = None
        return z

    def state_equal(self, other: Zone) -> bool:
        """True if every array, list link and counter equals ``other``'s."""
        if not isinstance(other, Zone):
            raise ArgTypeError(f"other must be a Zone, not {type(other).__name__}")
        if (self.geometry, self.start_pfn, self.spanned_pages) != (
                other.geometry, other.start_pfn, other.spanned_pages):
            return False
        for a in (*_PFN_ARRAYS, *_LINK_ARRAYS, "pb", "nr_free"):
            if a == "mtype":
                continue
            if not np.array_equal(getattr(self, a), getattr(other, a)):
                return False
        # mtype means something only for free block heads and per-CPU pages
        live = (self.order >= 0) | (self.kind == PCP)
        if not np.array_equal(self.mtype[live], other.mtype[live]):
            return False
        iso = self.pb == MigrateType.ISOLATE   # pb_base means something only under the isolate bit
        if not np.array_equal(self.pb_base[iso], other.pb_base[iso]):
            return False
        return self.scalars() == other.scalars()

    def __repr__(self) -> str:
        return (f"<Zone {self.name} pfn [{self.start_pfn}, {self.end_pfn}) "
                f"{self.geometry.max_order=} {self.geometry.pageblock_order=} "
                f"nr_free_pages={self.nr_free_pages}>").replace("self.geometry.", "")

    def __len__(self) -> int:
        return self.spanned_pages

    def iter_blocks(self) -> Iterator[tuple[int, MigrateType]]:
        """``(first pfn, type)`` for every pageblock overlapping the zone."""
        pbn = self.geometry.pageblock_nr_pages
        base = self.geometry.pageblock_start(self.start_pfn)
        for k, t in enumerate(self.pb):
            yield base + k * pbn, MigrateType(int(t))

    # ------------------------------------------------------------ invariants
    def check(self) -> bool:
        """Raise :class:`ZoneCheckError` if an invariant is broken; return True otherwise.

        Checked: every PFN has a known kind and is accounted exactly once
        (free pages covered by exactly one naturally aligned buddy block,
        compound pages well formed); free lists are well-formed doubly linked
        lists whose members are PageBuddy heads of the list's order;
        ``nr_free`` per order, the per-CPU count and ``nr_isolate_pageblock``
        agree with the lists; ``NR_FREE_PAGES`` equals the pages on
        non-Isolate lists less :attr:`nr_free_drift` (the pages the v4.4.0
        merge quirk leaves uncounted, see :func:`contig.buddy.__free_one_page`);
        no free block sits on an Isolate list of a pageblock that is not
        ISOLATE, unless the zone does not span that pageblock to its end (the
        derivation is in the code: every other list/pageblock mismatch is one
        v4.4 can leave); no reference count is negative, and a compound head
        has a reference unless bad_page() left it at 0.
        """
        n = self.spanned_pages
        g = self.geometry
        k = self.kind
        kind_codes(k, self.start_pfn)  # raises on unknown characters

        def fail(msg: str) -> None:
            raise ZoneCheckError(msg)

        heads = np.flatnonzero(self.order >= 0)
        o = self.order[heads].astype(np.int64)
        if (o >= g.max_order).any():
            fail("a buddy order is >= max_order")
        if (k[heads] != FREE).any():
            bad = self.start_pfn + heads[k[heads] != FREE][0]
            fail(f"PageBuddy set on a page that is not free: PFN {bad}")
        if ((self.start_pfn + heads) & ((1 << o) - 1)).any():
            fail("a free block is not naturally aligned")
        if (heads + (1 << o) > n).any():
            fail("a free block runs past the end of the zone")
        diff = (np.bincount(heads, minlength=n + 1)
                - np.bincount(np.minimum(heads + (1 << o), n), minlength=n + 1))
        cover = np.cumsum(diff[:n])
        if (cover > 1).any():
            fail("free blocks overlap")
        free = k == FREE
        if (free != (cover == 1)).any():
            i = int(np.flatnonzero(free != (cover == 1))[0])
            fail(f"PFN {self.start_pfn + i}: free pages and buddy blocks disagree")
        if (self.count[free | (k == PCP) | (k == HOLE)] != 0).any():
            fail("a free page has a non-zero reference count")

        # compound pages
        comp = (k == C["T"]) | (k == C["H"])
        if ((self.comp >= 0) != comp).any():
            fail("compound order set on a non-compound page or missing on one")
        ch = np.flatnonzero(comp & ((self.flags & PG_HEAD) != 0))
        co = self.comp[ch].astype(np.int64)
        if ((self.start_pfn + ch) & ((1 << co) - 1)).any():
            fail("a compound page is not naturally aligned")
        cd = (np.bincount(ch, minlength=n + 1)
              - np.bincount(np.minimum(ch + (1 << co), n), minlength=n + 1))
        if (comp != (np.cumsum(cd[:n]) == 1)).any():
            fail("compound pages do not tile the T/H pages")
        if (self.count[ch[(self.flags[ch] & PG_BAD) == 0]] <= 0).any():
            fail("a compound head has no reference")  # unless bad_page() left it so
        if (self.count < 0).any():
            neg = self.start_pfn + int(np.flatnonzero(self.count < 0)[0])
            fail(f"a negative reference count at PFN {neg}")

        # lists
        pcp = np.flatnonzero(k == PCP)
        pvec = np.flatnonzero(k == PVEC)
        listed = np.concatenate([heads, pcp, pvec]).astype(np.int64)
        unlisted = np.ones(n, dtype=bool)
        unlisted[listed] = False
        unl = np.flatnonzero(unlisted)
        if (self.next[unl] != -1).any() or (self.prev[unl] != -1).any():
            i = int(unl[(self.next[unl] != -1) | (self.prev[unl] != -1)][0])
            fail(f"PFN {self.start_pfn + i} ({chr(k[i])}) has list links but should be on no list")
        allnodes = np.concatenate([listed, np.arange(n, n + self.nr_sentinels)])
        if (self.prev[self.next[allnodes]] != allnodes).any() or (
                self.next[self.prev[allnodes]] != allnodes).any():
            fail("next/prev links disagree")
        ids_all = self._list_ids(listed, with_sentinels=True)
        ids = ids_all[: listed.size]
        sent = np.arange(n, n + self.nr_sentinels)
        if (ids_all[listed.size:] != sent).any():
            fail("two list heads are linked into one list")
        if (ids < n).any():
            fail("a cycle of pages has no list head")
        fo = ids[: heads.size] - n
        if (fo >= g.max_order * NR_MIGRATETYPES).any():
            fail("a free block is on a per-CPU list or the pagevec")
        if (fo // NR_MIGRATETYPES != o).any():
            fail("a free block is on the list of another order")
        if not np.array_equal(np.bincount(o, minlength=g.max_order)[: g.max_order], self.nr_free):
            fail(f"nr_free per order {self.nr_free.tolist()} disagrees with the lists")
        mts = fo % NR_MIGRATETYPES
        if (self.mtype[heads] != mts).any():
            fail("the cached list migratetype of a free block disagrees with its list")
        # A free block on an Isolate list whose pageblock is not ISOLATE: v4.4 never
        # leaves one, except in a pageblock the zone does not span to its end.  Derivation
        # (mm/page_alloc.c, mm/page_isolation.c, v4.4): a block reaches an Isolate list only
        # (a) by __free_one_page() with MIGRATE_ISOLATE, which every free path passes only
        # after reading the pageblock as ISOLATE, and which merges no further than
        # pageblock_order, so the merged head stays in that pageblock; or (b) by
        # move_freepages_block() in set_migratetype_isolate(), which moves exactly the blocks
        # headed in the pageblock it isolates.  A pageblock leaves ISOLATE only through
        # unset_migratetype_isolate(), which first moves those same blocks back (or takes out
        # the one free block covering the whole pageblock), or through a type change by the
        # allocator (change_pageblock_range(), steal_suitable_fallback()) that either covers
        # the pageblock with the block it allocates or first moves its free blocks.  The
        # exception: move_freepages_block() moves nothing when the zone does not span the
        # pageblock's last PFN, so in a partial last pageblock either list can be left.
        # Other mismatches (Movable/Unmovable/Reclaimable/CMA lists in a pageblock of another
        # type) are all reachable in 4.4: expand() puts split halves on the requested type's
        # lists, the 4.4.0 merge ignores the buddy's list, per-CPU pages keep the type they
        # were freed with, __isolate_free_page() retypes pageblocks without moving anything.
        pbo = g.pageblock_order
        on_iso = heads[mts == MigrateType.ISOLATE]
        if on_iso.size:
            hp = self.start_pfn + on_iso
            bt = self.pb[(hp >> pbo) - (self.start_pfn >> pbo)]
            spanned = (hp | ((1 << pbo) - 1)) < self.end_pfn
            bad = (bt != MigrateType.ISOLATE) & spanned
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                fail(f"the free block at PFN {int(hp[k])} is on an Isolate list but its pageblock is "
                     f"{MigrateType(int(bt[k])).name}: v4.4 cannot leave it there")
        counted = int((1 << o[mts != MigrateType.ISOLATE]).sum())
        if counted - self.nr_free_drift != self.nr_free_pages:
            fail(f"NR_FREE_PAGES is {self.nr_free_pages} but the non-Isolate lists hold {counted} "
                 f"pages (drift {self.nr_free_drift})")
        pi = ids[heads.size: heads.size + pcp.size] - self.pcp_sentinel(0)
        if ((pi < 0) | (pi >= MIGRATE_PCPTYPES)).any():
            fail("a per-CPU page is not on a per-CPU list")
        if pcp.size != self.pcp_count:
            fail(f"pcp->count is {self.pcp_count} but {pcp.size} pages are on per-CPU lists")
        if (ids[heads.size + pcp.size:] != self.pvec_sentinel).any():
            fail("a pagevec page is not in the pagevec")
        if int((self.pb == MigrateType.ISOLATE).sum()) + self.nr_isolate_extra != self.nr_isolate_pageblock:
            fail("nr_isolate_pageblock disagrees with the pageblock types")
        if (self.pb >= NR_MIGRATETYPES).any():
            fail("an unknown pageblock migratetype")
        if (self.pb_base.shape != self.pb.shape or (self.pb_base >= MigrateType.ISOLATE).any()):
            fail("pb_base (the 6.18 migratetype under the isolate bit) is not a base migratetype")
        if self.pcp_count < 0:
            fail("a negative per-CPU count")  # NR_FREE_PAGES may go negative: see isolation.py
        return True
