"""Experiments on the running kernel: where does it put 1 GiB hugetlb pages?

This module talks to the machine it runs on, as root.  It is the bridge the
course uses to check its Linux 6.18 model against the real thing:

* :func:`record_gigantic_run` snapshots every zone of a node (the same
  ``.npz`` format as :func:`contig.procfs.capture_snapshot`), then asks the
  kernel for 1 GiB hugetlb pages one at a time through
  ``/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages``, finds after
  each request which range the kernel took (the new run of HUGE pages in
  ``/proc/kpageflags``), times each request, and always puts the pool back to
  the size it had (on success, on error, on Ctrl-C and on SIGTERM).
* :func:`huge_heads` finds the hugetlb pages of a given size in a kpageflags
  array.

Writing N to ``nr_hugepages`` makes the kernel call
``alloc_pool_huge_folio()`` (mm/hugetlb.c, Linux 6.18) once per missing page;
for a 1 GiB hstate that ends in ``alloc_contig_pages()`` (mm/page_alloc.c,
Linux 6.18), which tries nr_pages-aligned ranges zone by zone.  Raising the
pool by one page at a time shows the order in which the kernel picks ranges.

Nothing here runs in CI: it changes the machine (for a moment it takes
gigabytes of memory away from everything else).
"""

from __future__ import annotations

import json
import os
import platform
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .argcheck import check_int
from .procfs import KPF, _read_text, _read_u64, capture_snapshot, parse_zoneinfo

__all__ = ("GIGANTIC_SYSFS", "LiveError", "huge_heads", "hugepage_pool",
           "read_huge_heads", "record_gigantic_run")

#: The sysfs folder of the 1 GiB hstate on x86-64.
GIGANTIC_SYSFS = Path("/sys/kernel/mm/hugepages/hugepages-1048576kB")
#: PFNs in a 1 GiB page (4 KiB pages).
GIGANTIC_NR_PAGES = 1 << 18

_HUGE = np.uint64(1 << KPF["HUGE"])
_HEAD = np.uint64(1 << KPF["COMPOUND_HEAD"])
_TAIL = np.uint64(1 << KPF["COMPOUND_TAIL"])


class LiveError(Exception):
    """The experiment cannot run here (not root, no such sysfs file, ...).

    ``str()`` is one line, meant to be printed as it is.
    """


def huge_heads(flags: np.ndarray, start_pfn: int, nr_pages: int = GIGANTIC_NR_PAGES) -> list[int]:
    """PFNs that head a hugetlb page of exactly ``nr_pages`` pages.

    A head has HUGE and COMPOUND_HEAD set and is followed by ``nr_pages - 1``
    pages with HUGE and COMPOUND_TAIL, and no further tail (fs/proc/page.c,
    ``stable_page_flags()``, Linux 6.18, sets HUGE on every page of a hugetlb
    folio).
    """
    flags = np.asarray(flags, dtype=np.uint64)
    heads = np.flatnonzero((flags & _HUGE).astype(bool) & (flags & _HEAD).astype(bool))
    out = []
    for h in heads.tolist():
        tail = flags[h + 1:h + nr_pages]
        whole = tail.size == nr_pages - 1 and bool(np.all((tail & (_HUGE | _TAIL)) == (_HUGE | _TAIL)))
        # ... and no further tail page: the page is exactly nr_pages long.
        ends = h + nr_pages >= flags.size or not bool(flags[h + nr_pages] & _TAIL)
        if whole and ends:
            out.append(int(start_pfn) + h)
    return out


def _zones(node: int, proc_root: Path) -> dict[str, dict[str, Any]]:
    zones = parse_zoneinfo(_read_text(proc_root / "zoneinfo"), node=node)
    return {name: z for name, z in zones.items() if z.get("spanned", 0) > 0}


def read_huge_heads(node: int = 0, *, nr_pages: int = GIGANTIC_NR_PAGES,
                    proc_root: str | Path = "/proc") -> list[int]:
    """Heads of the ``nr_pages`` hugetlb pages now in every zone of ``node``, ascending."""
    root = Path(proc_root)
    heads: list[int] = []
    for z in _zones(node, root).values():
        start, spanned = int(z["start_pfn"]), int(z["spanned"])
        heads += huge_heads(_read_u64(root / "kpageflags", start, spanned, 1 << 18), start, nr_pages)
    return sorted(heads)


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


@contextmanager
def hugepage_pool(sysfs_dir: str | Path = GIGANTIC_SYSFS) -> Iterator[dict[str, Any]]:
    """Yield a handle on a hugetlb pool; on exit, put ``nr_hugepages`` back.

    The handle is a dict with ``original`` (the pool size on entry) and
    ``set(n) -> int`` (write ``n``, return what the kernel then reports).
    SIGTERM and SIGHUP are turned into an exception while inside, so the pool
    is restored on those too (Ctrl-C already raises KeyboardInterrupt).

    :raises LiveError: no such sysfs file, or not allowed to write it.
    """
    d = Path(sysfs_dir)
    nr = d / "nr_hugepages"
    if not nr.exists():
        raise LiveError(f"{nr} does not exist: this kernel has no such hugetlb page size")
    if os.geteuid() != 0:
        raise LiveError(f"changing {nr} needs root")
    original = _read_int(nr)

    def set_pool(n: int) -> int:
        nr.write_text(f"{int(n)}\n")
        return _read_int(nr)

    def stop(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield {"original": original, "set": set_pool}
    finally:
        try:
            for _ in range(3):
                if set_pool(original) == original:
                    break
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        if _read_int(nr) != original:
            raise LiveError(f"could not put {nr} back to {original} (it reads {_read_int(nr)})")


def record_gigantic_run(count: int, out_dir: str | Path, *, node: int = 0,
                        sysfs_dir: str | Path = GIGANTIC_SYSFS,
                        proc_root: str | Path = "/proc") -> dict[str, Any]:
    """Snapshot ``node``, then ask the kernel for ``count`` 1 GiB pages, one at a time.

    Writes into ``out_dir`` (created; must not hold a run already): one
    snapshot per populated zone (``<Zone>.npz``, read just before the first
    request) and ``run.json`` with the picks in the order the kernel made
    them, the time each request took, the /proc files read before and after,
    and the machine.  Returns the same record.  The pool is restored before
    this returns or raises.

    :raises LiveError: not root, no 1 GiB hstate, a pool that was not empty
        of 1 GiB pages at the start (the picks would be ambiguous), or an
        ``out_dir`` that already holds a run.
    """
    count = check_int("count", count, lo=1)
    out = Path(out_dir)
    if (out / "run.json").exists():
        raise LiveError(f"{out} already holds a run")
    root = Path(proc_root)
    with hugepage_pool(sysfs_dir) as pool:
        if pool["original"] != 0:
            raise LiveError(f"the 1 GiB pool already holds {pool['original']} pages; "
                            "empty it first so the picks can be told apart")
        out.mkdir(parents=True, exist_ok=True)
        texts_before = {n: _read_text(root / n) for n in ("buddyinfo", "pagetypeinfo", "zoneinfo", "iomem")}
        zones = _zones(node, root)
        t0 = time.perf_counter()
        for name in zones:
            capture_snapshot(name, out / f"{name}.npz", node=node, proc_root=root)
        snap_s = time.perf_counter() - t0
        before = read_huge_heads(node, proc_root=root)
        picks: list[int] = []
        seconds: list[float] = []
        failed_at = None
        for k in range(1, count + 1):
            t = time.perf_counter()
            got = pool["set"](k)
            seconds.append(time.perf_counter() - t)
            now = read_huge_heads(node, proc_root=root)
            new = sorted(set(now) - set(before) - set(picks))
            if got < k:
                failed_at = k
                break
            if len(new) != 1:
                raise LiveError(f"request {k}: expected one new 1 GiB page, found {new}")
            picks.append(new[0])
        texts_after = {n: _read_text(root / n) for n in ("buddyinfo", "pagetypeinfo", "zoneinfo")}
    record = {
        "what": "1 GiB hugetlb pages requested one at a time through nr_hugepages",
        "node": node,
        "count": count,
        "picks": picks,
        "picks_hex": [hex(p) for p in picks],
        "failed_at_request": failed_at,
        "request_seconds": [round(s, 6) for s in seconds],
        "snapshot_seconds": round(snap_s, 3),
        "zones": {n: {"start_pfn": int(z["start_pfn"]), "spanned": int(z["spanned"]),
                      "present": int(z["present"]), "managed": int(z["managed"])}
                  for n, z in zones.items()},
        "kernel": platform.release(),
        "cmdline": _read_text(root / "cmdline").strip(),
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "proc_before": texts_before,
        "proc_after": texts_after,
    }
    (out / "run.json").write_text(json.dumps(record, indent=1) + "\n")
    return record
