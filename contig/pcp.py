"""Per-CPU free lists, LRU pagevecs, and the drains that empty them.

Models, Linux v4.4: ``free_hot_cold_page()``, ``free_pcppages_bulk()``,
``drain_local_pages()`` / ``drain_all_pages()``, ``rmqueue_bulk()``,
``buffered_rmqueue()`` and ``__free_pages()`` (mm/page_alloc.c);
``__lru_cache_add()``, ``__pagevec_lru_add()`` (with ``release_pages()``),
``lru_add_drain_all()`` and ``put_page()`` (mm/swap.c);
``putback_lru_page()`` (mm/vmscan.c).

Why they matter to ``alloc_contig_range()``: a free page parked on a per-CPU
list is not PageBuddy, and a page parked in a pagevec is not on the LRU and
still holds a reference.  Either makes ``test_pages_isolated()`` fail unless
the lists are drained first.

Simplified: one CPU (``drain_all_pages()`` drains it, no IPIs); only the
LRU-add pagevec is kept (not the rotate/deactivate/activate ones); the LRU
lists themselves are not kept (a page only carries PG_lru); allocation
ignores watermarks and never reclaims or compacts.
"""

from __future__ import annotations

from .argcheck import ArgTypeError, check_args
from .buddy import (
    __free_one_page,
    __free_pages_ok,
    __rmqueue,
    bad_page,
    free_one_page,
    free_pages_check,
    free_pages_prepare,
    prep_pcp_page,
)
from .freelist import list_add, list_add_tail, list_del, list_empty, list_first, list_last
from .trace import emit
from .zone import (
    FREE,
    MIGRATE_PCPTYPES,
    PAGEVEC_SIZE,
    PCP,
    PG_ANON,
    PG_HEAD,
    PG_LRU,
    PG_TAIL,
    PVEC,
    MigrateType,
    Zone,
    check_pcp,
)

#: How pages reach the buddy allocator, per kernel: ``__free_one_page``,
#: ``free_one_page`` and ``__free_pages_ok`` (v4.4's here).  The per-CPU lists,
#: LRU batches and migration are shared by both kernel models; a 6.18 call
#: sets ``zone.freeing`` to its own three functions for its duration
#: (:func:`contig.v6_18.contig_alloc.kernel_6_18_freeing`), so this module
#: frees through whichever kernel is running on that zone.
FREEING_V4_4 = {"__free_one_page": __free_one_page, "free_one_page": free_one_page,
                "__free_pages_ok": __free_pages_ok}


def _freeing(z: Zone) -> dict:
    return getattr(z, "freeing", None) or FREEING_V4_4


__all__ = [
    "__free_page",
    "__free_pages",
    "__lru_cache_add",
    "__pagevec_lru_add",
    "alloc_pages",
    "buffered_rmqueue",
    "drain_all_pages",
    "drain_local_pages",
    "free_hot_cold_page",
    "free_pcppages_bulk",
    "lru_add_drain_all",
    "put_page",
    "putback_lru_page",
    "rmqueue_bulk",
    "set_pcp",
]

ISOLATE = int(MigrateType.ISOLATE)


def set_pcp(z: Zone, high: int, batch: int) -> None:
    """Set the per-CPU ``high`` and ``batch`` (what percpu_pagelist_fraction would do).

    Models pageset_update(), mm/page_alloc.c, v4.4.  The pair must keep the
    rule pageset_update() states (see :func:`contig.zone.check_pcp`):
    ``1 <= batch <= high``, or ``high == 0`` with ``batch == 1``.

    :raises ValueError: any other pair (with ``batch > high`` the kernel's
        bulk free would spin for ever); the zone is then unchanged.
    """
    if not isinstance(z, Zone):
        raise ArgTypeError(f"zone must be a Zone, not {type(z).__name__}")
    z.pcp_high, z.pcp_batch = check_pcp(high, batch)


def _check_why(why: object) -> None:
    if why is not None and not isinstance(why, str):
        raise ArgTypeError(f"why must be a str or None, not {why!r}")


# ---------------------------------------------------------------- per-CPU free lists
def free_pcppages_bulk(z: Zone, count: int) -> int:
    """Give ``count`` pages from the per-CPU lists back to the buddy allocator.

    Models free_pcppages_bulk(), mm/page_alloc.c, v4.4: round-robin over the
    three lists starting after Unmovable, taking each page from the *tail*;
    a list found empty makes the next non-empty one give more pages.  Each
    page is freed with its remembered migratetype, re-read from the
    pageblock while any pageblock is isolated.  The caller adjusts
    ``pcp->count`` by the pages freed, which this returns.

    The kernel relies on its callers never asking for more pages than the
    lists hold (:func:`set_pcp` keeps batch <= high); were they to, its
    search for a non-empty list would spin for ever.  The model stops when
    the lists are empty instead, so no setting can hang it.
    """
    (count,) = check_args(z, count=count)
    s = z.start_pfn
    mt_list = 0
    batch_free = 0
    to_free = count
    heads = [z.pcp_sentinel(t) for t in range(MIGRATE_PCPTYPES)]
    while to_free:
        if all(list_empty(z, h) for h in heads):
            break
        while True:
            batch_free += 1
            mt_list += 1
            if mt_list == MIGRATE_PCPTYPES:
                mt_list = 0
            head = z.pcp_sentinel(mt_list)
            if not list_empty(z, head):
                break
        if batch_free == MIGRATE_PCPTYPES:
            batch_free = to_free
        while True:
            i = list_last(z, head)
            list_del(z, i)
            mt = int(z.mtype[i])
            if z.nr_isolate_pageblock:
                mt = int(z.pb[z.block_index(s + i)])
            z.kind[i] = FREE
            z.touch(i)
            _freeing(z)["__free_one_page"](z, s + i, 0, mt)
            to_free -= 1
            if not to_free:
                break
            batch_free -= 1
            if not batch_free or list_empty(z, head):
                break
    return count - to_free


def free_hot_cold_page(z: Zone, pfn: int, cold: bool = False) -> None:
    """Free one order-0 page to the per-CPU list (or, for an isolated block, to the buddy).

    Models free_hot_cold_page(), mm/page_alloc.c, v4.4.  The pageblock type
    is remembered in the page; Isolate pages go straight to the buddy;
    HighAtomic and CMA pages use the Movable list.  Hot pages go to the
    head, cold to the tail.  When ``count >= high``, ``batch`` pages go back.
    """
    pfn, cold = check_args(z, pfn=pfn, cold=cold)
    i = pfn - z.start_pfn
    mt = int(z.pb[z.block_index(pfn)])
    if mt == ISOLATE:
        free_pages_prepare(z, pfn, 0)
        z.mtype[i] = mt
        _freeing(z)["free_one_page"](z, pfn, 0, mt)
        return
    free_pages_prepare(z, pfn, 0)
    z.kind[i] = PCP
    z.mtype[i] = mt
    lst = MigrateType.MOVABLE if mt >= MIGRATE_PCPTYPES else mt
    if cold:
        list_add_tail(z, i, z.pcp_sentinel(lst))
    else:
        list_add(z, i, z.pcp_sentinel(lst))
    z.pcp_count += 1
    if z.pcp_count >= z.pcp_high:
        z.pcp_count -= free_pcppages_bulk(z, z.pcp_batch)


def drain_local_pages(z: Zone) -> int:
    """Models drain_local_pages() / drain_pages_zone(), mm/page_alloc.c, v4.4. Returns pages drained."""
    check_args(z)
    n = z.pcp_count
    if n:
        n = free_pcppages_bulk(z, n)
        z.pcp_count -= n
    return n


def drain_all_pages(z: Zone, *, why: str | None = None) -> int:
    """Push every per-CPU free page of the zone into the buddy allocator.

    Models drain_all_pages(zone), mm/page_alloc.c, v4.4 (one CPU here, so
    no IPIs).  Pages of isolated pageblocks land on the Isolate lists.
    Emits a ``drain_all_pages`` event when it drained something.
    """
    check_args(z)
    _check_why(why)
    n = drain_local_pages(z)
    if n:
        emit(z, "drain_all_pages", None, None,
             why or f"{n} free page(s) sat on the per-CPU lists, where the buddy allocator "
                    "cannot see them; draining pushes them into the buddy lists",
             nr_pages=n)
    return n


def rmqueue_bulk(z: Zone, order: int, count: int, migratetype: int, cold: bool = False) -> int:
    """Move up to ``count`` blocks from the buddy lists onto per-CPU list ``migratetype``.

    Models rmqueue_bulk(), mm/page_alloc.c, v4.4: each page is placed after
    the previous one, so the per-CPU list keeps the allocation order.
    NR_FREE_PAGES drops by the pages taken.
    """
    prev = z.pcp_sentinel(migratetype)
    taken = 0
    for _ in range(count):
        pfn = __rmqueue(z, order, migratetype)
        if pfn is None:
            break
        i = pfn - z.start_pfn
        prep_pcp_page(z, pfn)
        if cold:
            list_add_tail(z, i, prev)
        else:
            list_add(z, i, prev)
        prev = i
        taken += 1
    z.nr_free_pages -= taken << order
    return taken


def _prep_new_page(z: Zone, pfn: int, order: int, kind: int) -> None:
    i = pfn - z.start_pfn
    j = i + (1 << order)
    z.kind[i:j] = kind
    z.count[i:j] = 1
    z.flags[i:j] = PG_ANON if kind in (ord("M"), ord("P"), PVEC) else 0
    z.comp[i:j] = -1
    z.touch_range(i, j)


def buffered_rmqueue(z: Zone, order: int, migratetype: int, cold: bool = False) -> int | None:
    """Take a block of ``order`` for ``migratetype``; return its PFN or None.

    Models buffered_rmqueue(), mm/page_alloc.c, v4.4: order 0 comes from the
    per-CPU list (refilled with ``batch`` pages when empty), head first
    (tail for cold); higher orders straight from the buddy lists.
    The page is not yet prepared for its user.
    """
    order, migratetype, cold = check_args(z, order=order, migratetype=migratetype, cold=cold)
    if migratetype >= MIGRATE_PCPTYPES:
        raise ValueError(f"migratetype must be UNMOVABLE, MOVABLE or RECLAIMABLE, not {migratetype!r}")
    if order == 0:
        head = z.pcp_sentinel(migratetype)
        if list_empty(z, head):
            z.pcp_count += rmqueue_bulk(z, 0, z.pcp_batch, migratetype, cold)
            if list_empty(z, head):
                return None
        i = list_last(z, head) if cold else list_first(z, head)
        list_del(z, i)
        z.pcp_count -= 1
        return z.start_pfn + i
    pfn = __rmqueue(z, order, migratetype)
    if pfn is None:
        return None
    z.nr_free_pages -= 1 << order
    return pfn


def alloc_pages(z: Zone, order: int = 0, migratetype: int = MigrateType.MOVABLE,
                kind: str = "M") -> int | None:
    """Allocate 2^order pages and give them to a user of ``kind``; return the PFN or None.

    A simplified get_page_from_freelist() + prep_new_page(), mm/page_alloc.c,
    v4.4: no watermarks, no reclaim, no compaction, no HighAtomic reserve.
    ``kind`` is a map character: ``M``/``F``/``P`` pages join the LRU,
    ``U``/``X`` do not; for order > 0 every page gets its own reference (as
    after split_page()), so the block can be freed page by page.
    """
    order, mt = check_args(z, order=order, migratetype=migratetype)
    if not isinstance(kind, str):
        raise ArgTypeError(f"kind must be a map character, not {kind!r}")
    if len(kind) != 1 or kind not in "MFPUX":
        raise ValueError(f"alloc_pages can give pages of kind M, F, P, U or X, not {kind!r}")
    if mt not in (0, 1, 2):
        raise ValueError(f"allocations are MOVABLE, UNMOVABLE or RECLAIMABLE, not {migratetype!r}")
    migratetype = mt
    pfn = buffered_rmqueue(z, order, int(migratetype))
    if pfn is None:
        return None
    _prep_new_page(z, pfn, order, ord(kind))
    i = pfn - z.start_pfn
    if kind in "MFP":
        z.flags[i:i + (1 << order)] |= PG_LRU
    if kind == "P":
        z.count[i:i + (1 << order)] = 2
    return pfn


# ---------------------------------------------------------------- references
def _leave_pagevec(z: Zone, i: int) -> None:
    """Unlink a page from the LRU-add pagevec before it is freed by someone else.

    Only reachable when a caller drops a reference it did not own (the
    pagevec's).  The kernel's pagevec is an array and would keep a stale
    pointer to the freed page; the model's pagevec is a list threaded
    through the same links as the free lists, so the page must leave it
    first or the lists would be corrupted.
    """
    if z.kind[i] == PVEC:
        list_del(z, i)


def __free_pages(z: Zone, pfn: int, order: int, *, log: list[str] | None = None) -> None:
    """Drop a reference to the block at ``pfn``; free it when it reaches zero.

    Models __free_pages(), mm/page_alloc.c, v4.4: order 0 goes through the
    per-CPU lists, higher orders straight to the buddy.  At zero,
    free_pages_prepare() runs free_pages_check() on every page of the
    block: a page with a mapping, a mapcount, PG_lru or PG_reserved goes to
    :func:`contig.buddy.bad_page` (its lines are appended to ``log``) and
    the block is not freed.  The caller of __free_pages() never clears
    those (put_page() would take PG_lru off, __free_pages() does not).

    Simplified: a page that has no reference left (a free page, a tail of
    a compound page, a page bad_page() already left at 0) is left alone:
    the kernel's put_page_testzero() would underflow its count
    (VM_BUG_ON_PAGE with CONFIG_DEBUG_VM).
    """
    pfn, order = check_args(z, pfn=pfn, order=order)
    if log is not None and not isinstance(log, list):
        raise ArgTypeError(f"log must be a list, not {log!r}")
    i = pfn - z.start_pfn
    if z.count[i] <= 0:
        return
    z.count[i] -= 1
    z.touch(i)
    if z.count[i] == 0:
        bad = [(p, r) for p in range(pfn, pfn + (1 << order))
               if (r := free_pages_check(z, p)) is not None]
        if bad:
            for p, r in bad:
                lines = bad_page(z, p, r)
                if log is not None:
                    log.extend(lines)
                emit(z, "bad_page", p, p + 1,
                     f"PFN {p} reached reference count 0 but free_pages_check() objects ({r}): "
                     "the kernel reports a bad page and leaves it out of the free lists",
                     reason=r, line=lines[0])
            return
        _leave_pagevec(z, i)
        if order == 0:
            free_hot_cold_page(z, pfn, False)
        else:
            _freeing(z)["__free_pages_ok"](z, pfn, order)


def __free_page(z: Zone, pfn: int, *, log: list[str] | None = None) -> None:
    """Models __free_page(): ``__free_pages(page, 0)``."""
    __free_pages(z, pfn, 0, log=log)


def put_page(z: Zone, pfn: int) -> None:
    """Drop one reference; free the page (or its compound page) at zero.

    Models put_page(), mm/swap.c, v4.4.  A compound page's reference lives
    in its head and the whole compound page is freed at once.  The model's
    put_page() is the owner's last release: it stands for unmapping the
    page (or removing it from the page cache) and __page_cache_release()
    taking it off the LRU, so the page passes free_pages_check().  A page
    with no reference left is left alone.
    """
    (pfn,) = check_args(z, pfn=pfn)
    h = pfn - z.start_pfn
    if z.flags[h] & PG_TAIL:
        order = int(z.comp[h])
        h = ((pfn >> order) << order) - z.start_pfn
    if z.count[h] <= 0:
        return          # no reference to drop (the kernel would underflow: VM_BUG_ON_PAGE)
    z.count[h] -= 1
    z.touch(h)
    if z.count[h] == 0:
        _leave_pagevec(z, h)
        if z.flags[h] & PG_HEAD:
            _freeing(z)["__free_pages_ok"](z, z.start_pfn + h, int(z.comp[h]))
        else:
            free_hot_cold_page(z, z.start_pfn + h, False)


# ---------------------------------------------------------------- LRU pagevecs
def __pagevec_lru_add(z: Zone) -> int:
    """Put every page of the LRU-add pagevec on the LRU, then drop the pagevec's references.

    Models __pagevec_lru_add() and release_pages(), mm/swap.c, v4.4.  A page
    whose only reference was the pagevec (an old page after migration, an
    unused migration target) is freed here; release_pages() collects them
    at the head of a list, so they are freed last-added first, as hot
    pages.  Returns the number of pages freed.
    """
    head = z.pvec_sentinel
    pages = []
    while not list_empty(z, head):
        i = list_first(z, head)
        list_del(z, i)
        pages.append(i)
    to_free = []
    for i in pages:
        z.flags[i] |= PG_LRU
        z.kind[i] = ord("M") if z.kind[i] == PVEC else z.kind[i]
        z.touch(i)
        if z.count[i] <= 0:
            continue    # a page bad_page() left at 0: release_pages() would underflow it
        z.count[i] -= 1
        if z.count[i] == 0:
            z.flags[i] &= 0xFF ^ PG_LRU
            to_free.append(i)
    for i in reversed(to_free):
        free_hot_cold_page(z, z.start_pfn + i, False)
    return len(to_free)


def __lru_cache_add(z: Zone, pfn: int) -> None:
    """Add a page to the LRU-add pagevec, taking a reference.

    Models __lru_cache_add(), mm/swap.c, v4.4: a full pagevec (14 pages)
    is first flushed to the LRU.
    """
    (pfn,) = check_args(z, pfn=pfn)
    i = pfn - z.start_pfn
    z.count[i] += 1
    head = z.pvec_sentinel
    n = 0
    j = int(z.next[head])
    while j != head and n < PAGEVEC_SIZE:
        n += 1
        j = int(z.next[j])
    if n >= PAGEVEC_SIZE:
        __pagevec_lru_add(z)
    z.kind[i] = PVEC
    z.flags[i] &= 0xFF ^ PG_LRU
    z.touch(i)
    list_add_tail(z, i, head)


def putback_lru_page(z: Zone, pfn: int) -> None:
    """Return an isolated page towards the LRU: into the pagevec, dropping the isolation reference.

    Models putback_lru_page(), mm/vmscan.c, v4.4.
    """
    (pfn,) = check_args(z, pfn=pfn)
    __lru_cache_add(z, pfn)
    i = pfn - z.start_pfn
    z.count[i] -= 1
    z.touch(i)


def lru_add_drain_all(z: Zone, *, why: str | None = None) -> int:
    """Flush the LRU-add pagevec of every CPU (one here).

    Models lru_add_drain_all(), mm/swap.c, v4.4.  Pages waiting to join the
    LRU join it; pages whose last reference was the pagevec are freed.
    Emits an ``lru_add_drain_all`` event when the pagevec was not empty.
    """
    check_args(z)
    _check_why(why)
    head = z.pvec_sentinel
    if list_empty(z, head):
        return 0
    n = len(z.pagevec())
    freed = __pagevec_lru_add(z)
    emit(z, "lru_add_drain_all", None, None,
         why or (f"{n} page(s) waited in the per-CPU LRU pagevec; {n - freed} joined the LRU "
                 f"and {freed} whose last reference was the pagevec were freed"),
         nr_pages=n, freed=freed)
    return n
