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

__all__ = ["list_add", "list_add_tail", "list_del", "list_empty", "list_first", "list_last",
           "list_move"]


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
