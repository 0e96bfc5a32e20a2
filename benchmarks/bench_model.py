"""Speed and memory of the model at real sizes (issue: scale).

Run:  python benchmarks/bench_model.py [--quick]

Prints a table: operation, size, median of several runs, and the ratio to
the real kernel where there is a figure (Linux 6.18 on this kind of
machine: 27 ms for alloc_contig_range of a free 1 GiB range, 104 ms with
about 100k pages to migrate or drop).  Timings belong here, never in tests.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contig import Zone, alloc_contig_range

GIB = 1 << 18          # pages per GiB with 4 KiB pages
KERNEL_MS = {"free": 27.0, "migrate": 104.0}


def median_ms(fn, runs: int, setup=None) -> float:
    ts = []
    for _ in range(runs):
        arg = setup() if setup else None
        t = time.perf_counter()
        fn(arg)
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)


def free_zone(n: int) -> Zone:
    return Zone.from_arrays(np.full(n, ord("."), np.uint8))


def movable_zone(n: int, lo: int, hi: int, nr_movable: int, seed: int = 1) -> Zone:
    rng = np.random.default_rng(seed)
    k = np.full(n, ord("."), np.uint8)
    k[rng.choice(np.arange(lo, hi), nr_movable, replace=False)] = ord("M")
    return Zone.from_arrays(k)


def bytes_per_page(z: Zone) -> float:
    arrays = (z.kind, z.order, z.count, z.flags, z.comp, z.mtype, z.next, z.prev, z.pb, z.nr_free)
    return sum(a.nbytes for a in arrays) / z.spanned_pages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs, no 21 GiB zone")
    args = ap.parse_args()
    runs = 3 if args.quick else 7
    rows: list[tuple[str, str, float, str]] = []

    def row(op: str, size: str, ms: float, kernel: str | None = None) -> None:
        ratio = f"{ms / KERNEL_MS[kernel]:.1f}x" if kernel else ""
        rows.append((op, size, ms, ratio))
        print(f"  {op:<46} {size:>12} {ms:>10.1f} ms {ratio:>7}", flush=True)

    print(f"contig model benchmarks: Python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()}, {platform.processor() or 'cpu'}")
    n = 1 << 20
    mp = "." * n
    row("Zone.from_map (string)", "4 GiB", median_ms(lambda _: Zone.from_map(mp), runs))
    kinds = np.full(n, ord("."), np.uint8)
    row("Zone.from_arrays", "4 GiB", median_ms(lambda _: Zone.from_arrays(kinds), runs))
    z = free_zone(n)
    row("zone.copy()", "4 GiB", median_ms(lambda _: z.copy(), runs))
    row("zone.check()", "4 GiB", median_ms(lambda _: z.check(), runs))
    row("alloc_contig_range [1 GiB, 2 GiB), all free", "4 GiB",
        median_ms(lambda c: alloc_contig_range(c, GIB, 2 * GIB), runs, z.copy), "free")
    zm = movable_zone(n, GIB, 2 * GIB, 100_000)
    row("alloc_contig_range [1 GiB, 2 GiB), 100k to migrate", "4 GiB",
        median_ms(lambda c: alloc_contig_range(c, GIB, 2 * GIB), runs, zm.copy), "migrate")
    row("  same, page by page (bulk=False), 1 run", "4 GiB",
        median_ms(lambda c: alloc_contig_range(c, GIB, 2 * GIB, bulk=False), 1, zm.copy))

    tracemalloc.start()
    zz = free_zone(n)
    cur, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  memory: {bytes_per_page(zz):.1f} bytes/page in the zone's arrays; "
          f"tracemalloc {cur / n:.1f} bytes/page")

    print("\nscaling: alloc_contig_range of half the zone, a tenth of the range movable")
    for shift in (18, 19, 20, 21, 22):
        n = 1 << shift
        zs = movable_zone(n, n // 4, 3 * n // 4, n // 20)
        ms = median_ms(lambda c, n=n: alloc_contig_range(c, n // 4, 3 * n // 4), 3, zs.copy)
        row("  alloc_contig_range, n/2 range, n/20 movable", f"{n * 4 // 1024} MiB", ms)

    if not args.quick:
        print("\n21 GiB zone (5.5M PFNs)")
        n = 5_500_000
        k = np.full(n, ord("."), np.uint8)
        rng = np.random.default_rng(2)
        k[rng.choice(n, n // 10, replace=False)] = ord("M")
        t = time.perf_counter()
        big = Zone.from_arrays(k)
        row("Zone.from_arrays", "21 GiB", (time.perf_counter() - t) * 1000)
        row("zone.check()", "21 GiB", median_ms(lambda _: big.check(), 1))
        r = None

        def run(c):
            nonlocal r
            r = alloc_contig_range(c, 4 * GIB, 5 * GIB)
        row("alloc_contig_range [4 GiB, 5 GiB), 10% movable", "21 GiB", median_ms(run, 1, big.copy))
        print(f"    ret={r.ret}, {len(r.migrated)} migrated")
        try:
            from contig.procfs import data_path, load_kpageflags
            t = time.perf_counter()
            real = load_kpageflags(data_path("linux-6.18-Normal.npz"))
            row("load_kpageflags, real Normal zone", f"{real.spanned_pages / GIB:.0f} GiB",
                (time.perf_counter() - t) * 1000)
            row("zone.check(), real Normal zone", "", median_ms(lambda _: real.check(), 1))
        except Exception as exc:
            print(f"  (real snapshot skipped: {exc})")

    print("\n| operation | size | median ms | vs kernel |\n|---|---|---:|---:|")
    for op, size, ms, ratio in rows:
        print(f"| {op.strip()} | {size} | {ms:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
