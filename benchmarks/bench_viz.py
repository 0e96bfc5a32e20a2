"""How long the views take: drawing, in-place updates, PNG rendering, the apps.

Run:  python benchmarks/bench_viz.py [--runs N] [--quick]

Prints one table row per (operation, zone size): the median and the worst
of N runs in milliseconds (the first call, which loads fonts, is not
counted).  The zones are random but seeded: a small-geometry zone of
32 and 4096 PFNs, and x86-64 zones (Geometry()) of 64k and 1M PFNs built
with Zone.from_arrays.  "update" is what a widget does when a value
changes, without producing the PNG; "render" is the PNG the inline backend
would make; "set_range" and "step_to" are a user's change end to end
(model + update + render), with the explorer drawing the whole zone
("zone", its default) or zooming on the call ("call").  The last rows are
the apps as the notebooks build them: the course scenarios with a handle
dragged page by page, the step players of two scenarios, and notebook 11's
256 MiB window of the real snapshot with the range moved block by block.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.figure import Figure

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contig import Geometry, Zone, alloc_contig_range
from contig.viz.plot import (
    ResultFigure,
    ZoneState,
    choose_layout,
    draw_zone,
    kind_image,
)
from contig.viz.widgets import RangeExplorer, StepPlayer, render_png

SMALL = Geometry(max_order=4, pageblock_order=2)


def random_zone(n: int, g: Geometry, seed: int = 1) -> Zone:
    """Movable pages with free runs, some page cache, a few unmovable pages."""
    rng = np.random.default_rng(seed)
    k = rng.choice(np.frombuffer(b"MMMMMMFF.U", np.uint8), n)
    run = max(8, g.max_align_nr_pages)
    for lo in range(0, n, 4 * run):
        k[lo: lo + int(rng.integers(run // 2, 2 * run))] = ord(".")
    return Zone.from_arrays(k, geometry=g)


def timings(fn, runs: int) -> list[float]:
    """Milliseconds of ``fn(i)`` for i in range(runs), after one warm-up call (fonts, caches)."""
    fn()
    times = []
    for i in range(runs):
        t = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t) * 1e3)
    return times


def median_ms(fn, runs: int) -> float:
    return statistics.median(timings(fn, runs))


def ranges(z: Zone, count: int):
    """Distinct request ranges from the middle of the zone on, one per run."""
    a = z.geometry.max_align_nr_pages
    n = z.spanned_pages
    width = max(3, min(a // 2, n // 8))
    step = max(1, min(a, n // (2 * count + 4)))
    return [(s, s + width) for s in
            (z.start_pfn + 1 + (n // 2 + i * step) % (n - width - 2) for i in range(count + 2))]


def bench_zone(z: Zone, runs: int, row) -> None:
    """Time every operation on one zone; ``row(operation, zone, ms)`` records a result."""
    st = ZoneState.of(z)
    rs = ranges(z, runs + 1)
    L = choose_layout(st)
    row("ZoneState.of (snapshot)", z, median_ms(lambda i=0: ZoneState.of(z), runs))
    row(f"kind_image ({L.mode}, {L.cell_pages} pg/cell)", z,
        median_ms(lambda i=0: kind_image(st, L), runs))
    ax = Figure(figsize=(9.6, 3)).add_subplot()
    row("draw_zone (new view)", z,
        median_ms(lambda i=0: (ax.clear(), draw_zone(ax, st, legend=False)), runs))
    view = draw_zone(ax, st, legend=False)
    after = z.copy()
    alloc_contig_range(after, *rs[0])
    st_after = ZoneState.of(after)
    row("ZoneView.set_state (in place)", z,
        median_ms(lambda i=0: view.set_state(st_after if i % 2 else st), runs))
    row("alloc_contig_range (model, copy)", z,
        median_ms(lambda i=0: alloc_contig_range(z.copy(), *rs[i % len(rs)]), runs))
    results, afters = [], []
    for r in rs[:runs + 1]:
        c = z.copy()
        results.append(alloc_contig_range(c, *r))
        afters.append(c)
    fig = Figure(figsize=(9.6, 6.4))
    rf = ResultFigure(fig, legend=False, suptitle=False)
    rf.update(results[0], before=z, after=afters[0])
    k = len(results)
    row("ResultFigure.update (in place)", z,
        median_ms(lambda i=0: rf.update(results[(i + 1) % k], before=st,
                                        after=afters[(i + 1) % k]), runs))
    row("render PNG (3 panels, 80 dpi)", z, median_ms(lambda i=0: render_png(fig, 80), runs))
    for window in ("zone", "call"):
        app = RangeExplorer({"z": z}, start=rs[0][0], end=rs[0][1], window=window)
        row(f"RangeExplorer.set_range ({window})", z,
            timings(lambda i=0, app=app: app.set_range(*rs[(i + 1) % len(rs)]), runs))
    player = StepPlayer(results[0])
    nev = len(player.trace)
    row(f"StepPlayer.step_to (next, {nev} ev)", z,
        timings(lambda i=0: player.step_to((i + 1) % nev), runs))


def course_apps(runs: int, row) -> None:
    """The apps as the notebooks build them, moved as a student moves them."""
    from contig import procfs
    from contig.scenarios import SCENARIOS

    app = RangeExplorer()       # notebooks 00-10: the course scenarios
    for name in ("fragmented", "pinned", "fatal-signal"):
        app.set_zone(name)
        s0, e0 = app.state["start"], app.state["end"]
        n = app.zone.spanned_pages
        # the end handle dragged back and forth, one page at a time
        ends = [min(n, max(s0 + 1, e0 + d)) for d in (1, 2, 3, 2, 1, 0, -1, -2, -1, 0)]
        row(f"explorer, scenario {name}", app.zone,
            timings(lambda i=0, s0=s0, ends=ends: app.set_range(s0, ends[i % len(ends)]), runs))
    # the geometry picker flipped between the zone's own geometry and a neighbour
    app.set_zone("fragmented")
    own, other = app.geometry_picker.options[0][1], app.geometry_picker.options[1][1]
    row("explorer, geometry picker flipped", app.zone,
        timings(lambda i=0: app.set_geometry(other if i % 2 == 0 else own), runs))
    # the zoom box ticked and unticked on a zone larger than a strip
    zoom = RangeExplorer({"z": random_zone(4096, Geometry(4, 2))}, start=1000, end=1040)
    row("explorer, zoom box ticked/unticked", zoom.zone,
        timings(lambda i=0: zoom.set_window("call" if i % 2 == 0 else "zone"), runs))
    for name in ("file-cache", "fatal-signal"):
        player = StepPlayer(SCENARIOS[name])
        nev = len(player.trace)
        row(f"player, scenario {name} ({nev} ev)", SCENARIOS[name].zone(),
            timings(lambda i=0, p=player, nev=nev: p.step_to((i + 1) % nev), runs))
    # notebook 11: 256 MiB of the real Normal zone, the range moved a MAX_ORDER block at a time
    normal = procfs.load_kpageflags(procfs.data_path("linux-6.18-Normal.npz"))
    lo, n, pbo = 5 << 18, 1 << 16, normal.geometry.pageblock_order
    off = lo - normal.start_pfn
    window = Zone.from_arrays(normal.kinds()[off: off + n],
                              normal.pageblock_types()[off >> pbo: (off + n) >> pbo],
                              geometry=normal.geometry, start_pfn=lo, name="Normal window")
    app = RangeExplorer({"w": window}, start=lo + 16384, end=lo + 17408)
    a = window.geometry.max_order_nr_pages
    row("explorer, real 256 MiB window", window,
        timings(lambda i=0: app.set_range(lo + 16384 + (i % 8) * a, lo + 17408 + (i % 8) * a),
                runs))


def bench(sizes, runs: int, course: bool = True) -> list[tuple]:
    rows = []

    def row(op, z, ms):
        g = z.geometry
        ms = ms if isinstance(ms, list) else [ms]
        med, worst = statistics.median(ms), max(ms)
        rows.append((op, z.spanned_pages, f"({g.max_order},{g.pageblock_order})", med, worst))
        print(f"{op:34s} {z.spanned_pages:>9d} {rows[-1][2]:>8s} {med:9.1f} {worst:8.1f}",
              flush=True)

    print(f"{'operation':34s} {'pages':>9s} {'geometry':>8s} {'median ms':>9s} {'max ms':>8s}")
    for n, g in sizes:
        bench_zone(random_zone(n, g), runs, row)
    if course:
        course_apps(max(runs, 10), row)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="small zones only")
    a = p.parse_args(argv)
    sizes = [(32, SMALL), (4096, SMALL), (1 << 16, Geometry())]
    if not a.quick:
        sizes.append((1 << 20, Geometry()))
    bench(sizes, a.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
