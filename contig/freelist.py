"""Intrusive doubly linked lists over PFN arrays: the kernel's ``list_head``.

Models include/linux/list.h, Linux v4.4.  Every page has one ``lru``
list_head; here that is ``zone.next[i]`` / ``zone.prev[i]``.  A list's head
(``free_area[order].free_list[mt]``, a per-CPU list, the pagevec) is an
extra slot after the last PFN.  A page on no list has ``next == prev == -1``
(the kernel poisons a deleted entry; -1 plays that role).

Every function records the slots it changed with ``zone.touch`` so the trace
can store what changed (see :mod:`contig.trace`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .zone import Zone

__all__ = ["list_add", "list_add_tail", "list_del", "list_del_many", "list_empty", "list_first",
           "list_last", "list_move", "list_splice_head"]


def list_add(z: Zone, node: int, head: int) -> None:
    """Insert ``node`` right after ``head`` (at the front of the list)."""
    nxt = int(z.next[head])
    z.next[node] = nxt
    z.prev[node] = head
    z.prev[nxt] = node
    z.next[head] = node
    if z._tracking:
        z._t.extend((node, head, nxt))


def list_add_tail(z: Zone, node: int, head: int) -> None:
    """Insert ``node`` right before ``head`` (at the back of the list)."""
    prv = int(z.prev[head])
    z.next[node] = head
    z.prev[node] = prv
    z.next[prv] = node
    z.prev[head] = node
    if z._tracking:
        z._t.extend((node, head, prv))


def list_del(z: Zone, node: int) -> None:
    """Unlink ``node`` and poison its links."""
    prv = int(z.prev[node])
    nxt = int(z.next[node])
    z.next[prv] = nxt
    z.prev[nxt] = prv
    z.next[node] = -1
    z.prev[node] = -1
    if z._tracking:
        z._t.extend((node, prv, nxt))


def list_move(z: Zone, node: int, head: int) -> None:
    """``list_del`` then ``list_add``."""
    list_del(z, node)
    list_add(z, node, head)


def list_empty(z: Zone, head: int) -> bool:
    return int(z.next[head]) == head


def list_first(z: Zone, head: int) -> int:
    """The first node (caller checks the list is not empty)."""
    return int(z.next[head])


def list_last(z: Zone, head: int) -> int:
    return int(z.prev[head])


# ---------------------------------------------------------------- many at once
def list_del_many(z: Zone, nodes) -> None:
    """Unlink every node of ``nodes`` (an int array; any lists) at once.

    The same links result as calling :func:`list_del` on each: every run of
    removed nodes is bridged from its first kept predecessor to its first
    kept successor.  Pointer doubling finds those in O(k log k).
    """
    import numpy as np

    s = np.asarray(nodes, dtype=np.int64)
    k = s.size
    if k == 0:
        return
    if k <= 8:
        for x in s.tolist():
            list_del(z, x)
        return
    order = np.argsort(s)
    ss = s[order]
    prv = z.prev[s].astype(np.int64)
    nxt = z.next[s].astype(np.int64)

    def chase(ptr: np.ndarray) -> np.ndarray:
        # ptr: neighbour slot for each node; follow through removed nodes
        j = np.searchsorted(ss, ptr)
        j = np.minimum(j, k - 1)
        inside = ss[j] == ptr
        link = np.where(inside, order[j], np.arange(k))      # index into s, or self
        val = np.where(inside, -1, ptr)                      # resolved neighbour, -1 if not yet
        done = ~inside
        while not done.all():
            val = np.where(done, val, val[link])
            done = done | done[link]
            link = link[link]
        return val

    p = chase(prv)
    n = chase(nxt)
    z.next[p] = n
    z.prev[n] = p
    z.next[s] = -1
    z.prev[s] = -1
    if z._tracking:
        z.touch_many(s)
        z.touch_many(p)
        z.touch_many(n)


def list_splice_head(z: Zone, head: int, seq) -> None:
    """Insert the nodes ``seq`` (in that order) right after ``head``."""
    import numpy as np

    q = np.asarray(seq, dtype=np.int64)
    if q.size == 0:
        return
    first = int(z.next[head])
    z.next[q[:-1]] = q[1:]
    z.prev[q[1:]] = q[:-1]
    z.next[head] = q[0]
    z.prev[q[0]] = head
    z.next[q[-1]] = first
    z.prev[first] = q[-1]
    if z._tracking:
        z.touch_many(q)
        z._t.extend((head, first))
