"""Experiments on the running kernel: where does it put 1 GiB hugetlb pages?

This module talks to the machine it runs on, as root.  It is the bridge the
course uses to check its Linux 6.18 model against the real thing:

* :func:`record_gigantic_run` asks the kernel for 1 GiB hugetlb pages one at
  a time through ``/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages``
  and, before each request, empties the per-CPU LRU-add batches
  (:func:`settle_lru_batches`) and snapshots every zone of the node (the
  ``.npz`` format of :func:`contig.procfs.capture_snapshot`).  After each
  request it finds which range the kernel took (the new run of HUGE pages
  in ``/proc/kpageflags``) and what the kernel tried (:class:`ContigTrace`,
  tracefs events), and it times each request.  It always puts the pool back
  to the size it had (on success, on error, on Ctrl-C and on SIGTERM), and
  tracefs as it was;
* :func:`huge_heads` finds the hugetlb pages of a given size in a kpageflags
  array; :func:`parse_contig_trace` reads the kernel's tries from a trace.

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
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any

import numpy as np

from .argcheck import check_int
from .procfs import KPF, _read_text, _read_u64, capture_snapshot, parse_zoneinfo

__all__ = ("GIGANTIC_SYSFS", "ContigTrace", "LiveError", "huge_heads", "hugepage_pool",
           "parse_contig_trace", "read_huge_heads", "record_gigantic_run", "settle_lru_batches")

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


#: ``migrate_pages`` system call numbers (arch/*/entry/syscalls, Linux 6.18).
_SYS_MIGRATE_PAGES = {"x86_64": 256, "aarch64": 238}


def settle_lru_batches(node: int = 0) -> bool:
    """Empty every CPU's per-CPU LRU-add batch, so that no page is caught between there and the LRU.

    Calls ``migrate_pages(0, maxnode, {node}, {node})`` on this process:
    ``do_migrate_pages()`` (mm/mempolicy.c, Linux 6.18) begins with
    ``lru_cache_disable()``, which drains the LRU-add batches of every CPU
    (``__lru_add_drain_all()``, mm/swap.c), and then has nothing to move
    because the source and the target node are the same.  Nothing else
    changes.  Returns False where the call is not available (no CONFIG_NUMA,
    another architecture).
    """
    import ctypes

    nr = _SYS_MIGRATE_PAGES.get(platform.machine())
    node = check_int("node", node, lo=0, hi=63)
    if nr is None:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    mask = (ctypes.c_ulong * 1)(1 << node)
    same = (ctypes.c_ulong * 1)(1 << node)
    return libc.syscall(nr, 0, ctypes.c_ulong(64), mask, same) == 0


_TPI = re.compile(r"test_pages_isolated: start_pfn=(0x[0-9a-f]+) end_pfn=(0x[0-9a-f]+) "
                  r"fin_pfn=(0x[0-9a-f]+)")
_MIG = re.compile(r"mm_migrate_pages: nr_succeeded=(\d+) nr_failed=(\d+)")


def parse_contig_trace(text: str) -> list[dict[str, Any]]:
    """The kernel's tries in a trace of ``test_pages_isolated`` and ``mm_migrate_pages`` events.

    Each try is one ``alloc_contig_range()`` call that got past isolation
    (mm/page_alloc.c, Linux 6.18): the ``mm_migrate_pages`` events of its
    migration passes (mm/migrate.c; reason ``contig_range``), then one
    ``test_pages_isolated`` event (mm/page_isolation.c) whose ``fin_pfn``
    reaches ``end_pfn`` when every page of the range was free.  A try refused
    at isolation (has_unmovable_pages()) leaves no event, so it is not here.
    Returns ``[{"start_pfn", "end_pfn", "fin_pfn", "ok", "migrated",
    "not_migrated", "passes"}]`` in the order the kernel made them.
    """
    tries: list[dict[str, Any]] = []
    migrated = failed = passes = 0
    for line in text.splitlines():
        if m := _MIG.search(line):
            migrated += int(m[1])
            failed += int(m[2])
            passes += 1
        elif m := _TPI.search(line):
            start, end, fin = (int(x, 16) for x in m.groups())
            tries.append({"start_pfn": start, "end_pfn": end, "fin_pfn": fin, "ok": fin >= end,
                          "migrated": migrated, "not_migrated": failed, "passes": passes})
            migrated = failed = passes = 0
    return tries


#: Ring-buffer size per CPU of the trace instance, KiB.
TRACE_BUFFER_KB = 8192
#: The trace events :class:`ContigTrace` turns on, with their filters.
TRACE_EVENTS = {"page_isolation/test_pages_isolated": None,
                "migrate/mm_migrate_pages": "reason == 6"}   # MR_CONTIG_RANGE


class ContigTrace:
    """A tracefs instance of its own that records this process's alloc_contig_range() tries.

    On entry it mounts tracefs if it is not mounted, makes the instance
    ``instances/contig-<pid>`` (its own ring buffer: the global trace and its
    settings are not touched), limits it to this process and turns on the
    events of :data:`TRACE_EVENTS`.  :meth:`take` returns the tries traced
    since the buffer was last emptied (:func:`parse_contig_trace`), notes in
    :attr:`lost` how many events the ring buffer dropped meanwhile, and
    empties it; :meth:`clear` only empties it.
    On exit it removes the instance and unmounts what it mounted, also on
    error.  ``available`` is False (and :meth:`take` returns None) where
    tracefs or the events are missing.
    """

    def __init__(self, root: str | Path = "/sys/kernel/tracing") -> None:
        self.root = Path(root)
        self.mounted = False
        self.inst: Path | None = None
        self.available = False
        self.why = ""
        #: per :meth:`take`, the events the ring buffer dropped (0: the trace is whole)
        self.lost: list[int] = []

    def __enter__(self) -> ContigTrace:
        try:
            if not (self.root / "instances").is_dir() and self.root == Path("/sys/kernel/tracing"):
                import subprocess
                r = subprocess.run(["mount", "-t", "tracefs", "nodev", str(self.root)],
                                   capture_output=True, check=False)
                self.mounted = r.returncode == 0
            inst = self.root / "instances" / f"contig-{os.getpid()}"
            inst.mkdir()
            self.inst = inst
            (inst / "set_event_pid").write_text(f"{os.getpid()}\n")
            # room for a whole gigabyte migrated twice over (8,192 events a try)
            (inst / "buffer_size_kb").write_text(f"{TRACE_BUFFER_KB}\n")
            for ev, filt in TRACE_EVENTS.items():
                d = inst / "events" / ev
                if filt:
                    (d / "filter").write_text(filt + "\n")
                (d / "enable").write_text("1\n")
            (inst / "trace").write_text("")
            self.available = True
        except OSError as exc:
            self.why = f"{type(exc).__name__}: {exc}"
            self._cleanup()
        return self

    def take(self) -> list[dict[str, Any]] | None:
        if not self.available or self.inst is None:
            return None
        text = (self.inst / "trace").read_text()
        self.lost.append(self._overrun())
        (self.inst / "trace").write_text("")      # also resets the overrun counts
        return parse_contig_trace(text)

    def clear(self) -> None:
        """Empty the ring buffer (and its overrun counts) without reading it."""
        if self.available and self.inst is not None:
            (self.inst / "trace").write_text("")

    def _overrun(self) -> int:
        """Events the ring buffer dropped since it was last emptied (``overrun:`` per CPU)."""
        assert self.inst is not None
        total = 0
        for stats in sorted((self.inst / "per_cpu").glob("cpu*/stats")):
            for line in stats.read_text().splitlines():
                if line.startswith("overrun:"):
                    total += int(line.split()[1])
        return total

    def _cleanup(self) -> None:
        if self.inst is not None:
            for ev in TRACE_EVENTS:
                with suppress(OSError):
                    (self.inst / "events" / ev / "enable").write_text("0\n")
            for _ in range(5):
                try:
                    self.inst.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
            self.inst = None
        if self.mounted:
            import subprocess
            subprocess.run(["umount", str(self.root)], capture_output=True, check=False)
            self.mounted = False
        self.available = False

    def __exit__(self, *exc: object) -> None:
        self._cleanup()


class _SteadySnapshots:
    """Snapshots whose reading allocates no page of this process after kpageflags was read.

    A snapshot reads tens of megabytes of kpageflags into arrays; pages the
    recorder faults in after their own kpageflags word was read show as free
    in the snapshot yet are in use when the kernel is asked (measured with
    /proc/self/pagemap on the development machine: about 2,000 of the
    13,600 pages of the recording process).  So the buffers are allocated and
    touched once, before the first snapshot, and kept for the whole run (the
    snapshots show them in use, as they are when the kernel looks); what
    compression allocates is freed and handed back to the kernel
    (``malloc_trim``) before the next request.
    """

    def __init__(self, zones: dict[str, dict[str, Any]]) -> None:
        self.buffers = {}
        for name, z in zones.items():
            n = int(z["spanned"])
            b = {"flags": np.empty(n, np.uint64), "counts": np.empty(n, np.uint64),
                 "mapcount": np.empty(n, np.uint16)}
            for a in b.values():
                a.fill(1)                  # touch every page now
            self.buffers[name] = b

    def take(self, folder: Path, node: int, root: Path) -> None:
        import gc
        for name, b in self.buffers.items():
            capture_snapshot(name, folder / f"{name}.npz", node=node, proc_root=root, _buffers=b)
        gc.collect()
        _malloc_trim()


def _malloc_trim() -> None:
    """Give the C heap's free memory back to the kernel (glibc ``malloc_trim(0)``), if there."""
    import ctypes
    with suppress(AttributeError, OSError):
        ctypes.CDLL(None).malloc_trim(0)


def record_gigantic_run(count: int, out_dir: str | Path, *, node: int = 0,
                        sysfs_dir: str | Path = GIGANTIC_SYSFS,
                        proc_root: str | Path = "/proc", settle: bool = True,
                        tracefs: str | Path | None = "/sys/kernel/tracing") -> dict[str, Any]:
    """Snapshot ``node`` before each request, and ask the kernel for ``count`` 1 GiB pages.

    The recording protocol (``protocol`` 2 in ``run.json``; runs 01-10 were
    made with protocol 1, one snapshot before the first request and neither
    settling nor tracing):

    1. before each request, empty the per-CPU LRU-add batches
       (:func:`settle_lru_batches`, when ``settle``) and snapshot every
       populated zone: ``<Zone>.npz`` in ``out_dir`` before request 1,
       ``before-KK/<Zone>.npz`` before request KK >= 2 (the earlier picks are
       in it as hugetlb pages);
    2. settle again and raise ``nr_hugepages`` by one, timing the write; read
       kpageflags to find the new 1 GiB page; take the kernel's tries of that
       request from the trace (:class:`ContigTrace`, when ``tracefs``);
    3. put the pool back to 0 (also on error, Ctrl-C or SIGTERM) and remove
       the trace instance.

    ``run.json`` holds the picks in the order the kernel made them, the
    request that failed (or null), per request the time of the write, the
    snapshot folder, the snapshot's time and the traced tries, the zone
    spans, the /proc files read before and after, and the machine.  Returns
    the same record.  ``out_dir`` must not hold a run already.

    :raises LiveError: not root, no 1 GiB hstate, a pool that was not empty
        of 1 GiB pages at the start (the picks would be ambiguous), or an
        ``out_dir`` that already holds a run.
    """
    count = check_int("count", count, lo=1)
    out = Path(out_dir)
    if (out / "run.json").exists():
        raise LiveError(f"{out} already holds a run")
    root = Path(proc_root)
    settled: list[bool] = []

    def settle_now() -> None:
        if settle:
            settled.append(settle_lru_batches(node))

    trace = ContigTrace(tracefs) if tracefs is not None else None
    with hugepage_pool(sysfs_dir) as pool, (trace if trace is not None else nullcontext()):
        if pool["original"] != 0:
            raise LiveError(f"the 1 GiB pool already holds {pool['original']} pages; "
                            "empty it first so the picks can be told apart")
        out.mkdir(parents=True, exist_ok=True)
        texts_before = {n: _read_text(root / n) for n in ("buddyinfo", "pagetypeinfo", "zoneinfo", "iomem")}
        zones = _zones(node, root)
        before = read_huge_heads(node, proc_root=root)
        picks: list[int] = []
        seconds: list[float] = []
        snap_seconds: list[float] = []
        snap_dirs: list[str] = []
        tries: list[list[dict[str, Any]] | None] = []
        failed_at = None
        snapshots = _SteadySnapshots(zones)
        for k in range(1, count + 1):
            folder = out if k == 1 else out / f"before-{k:02d}"
            folder.mkdir(exist_ok=True)
            settle_now()
            t0 = time.perf_counter()
            snapshots.take(folder, node, root)
            snap_seconds.append(time.perf_counter() - t0)
            snap_dirs.append("." if k == 1 else folder.name)
            settle_now()
            if trace is not None:
                trace.clear()                     # drop anything traced before this request
            t = time.perf_counter()
            got = pool["set"](k)
            seconds.append(time.perf_counter() - t)
            taken = trace.take() if trace is not None else None
            if taken is not None and trace is not None and trace.lost and trace.lost[-1]:
                taken = None                      # events were dropped: the trace is not whole
            tries.append(taken)
            now = read_huge_heads(node, proc_root=root)
            new = sorted(set(now) - set(before) - set(picks))
            if got < k:
                failed_at = k
                break
            if len(new) != 1:
                raise LiveError(f"request {k}: expected one new 1 GiB page, found {new}")
            picks.append(new[0])
        texts_after = {n: _read_text(root / n) for n in ("buddyinfo", "pagetypeinfo", "zoneinfo")}
        trace_why = trace.why if trace is not None else "not asked for"
    record = {
        "what": "1 GiB hugetlb pages requested one at a time through nr_hugepages",
        "protocol": 2,
        "steady_recorder": True,
        "node": node,
        "count": count,
        "picks": picks,
        "picks_hex": [hex(p) for p in picks],
        "failed_at_request": failed_at,
        "request_seconds": [round(s, 6) for s in seconds],
        "snapshot_seconds": round(snap_seconds[0], 3),
        "snapshots": snap_dirs,
        "snapshots_seconds": [round(s, 3) for s in snap_seconds],
        "settled": (all(settled) if settled else None),
        "kernel_tries": tries if any(t is not None for t in tries) else None,
        "trace_unavailable": None if any(t is not None for t in tries) else trace_why,
        "trace_lost_events": list(trace.lost) if trace is not None else None,
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
