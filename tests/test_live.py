"""contig.live: finding hugetlb pages in kpageflags, restoring the pool, the recorded runs.

The live experiment itself changes the machine and never runs here; these
tests use a fake sysfs folder and check the recorded runs in contig/data.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from contig.live import (
    ContigTrace,
    LiveError,
    huge_heads,
    hugepage_pool,
    parse_contig_trace,
    record_gigantic_run,
    settle_lru_batches,
)
from contig.procfs import DATA_DIR, KPF, load_kpageflags

HUGE, HEAD, TAIL = (1 << KPF["HUGE"]), (1 << KPF["COMPOUND_HEAD"]), (1 << KPF["COMPOUND_TAIL"])
RUNS = sorted((DATA_DIR / "gigantic").glob("run-*"))


def _flags(n: int, pages: dict[int, int]) -> np.ndarray:
    f = np.zeros(n, dtype=np.uint64)
    for head, length in pages.items():
        f[head] = HUGE | HEAD
        f[head + 1:head + length] = HUGE | TAIL
    return f


def test_huge_heads_finds_pages_of_the_given_size_only():
    # Two 8-page hugetlb pages and one 4-page one; only the 8-page ones count.
    f = _flags(64, {8: 8, 32: 8, 48: 4})
    assert huge_heads(f, 100, nr_pages=8) == [108, 132]
    assert huge_heads(f, 0, nr_pages=4) == [48]


def test_huge_heads_rejects_a_run_cut_short_or_a_broken_tail():
    f = _flags(16, {8: 8})
    assert huge_heads(f[:15], 0, nr_pages=8) == []      # the zone ends inside the page
    f[12] = HUGE                                        # a tail without COMPOUND_TAIL
    assert huge_heads(f, 0, nr_pages=8) == []


def test_huge_heads_ignores_thp_heads():
    f = np.zeros(16, dtype=np.uint64)
    f[0] = HEAD | (1 << KPF["THP"])
    f[1:8] = TAIL | (1 << KPF["THP"])
    assert huge_heads(f, 0, nr_pages=8) == []


@pytest.fixture
def fake_sysfs(tmp_path: Path) -> Path:
    (tmp_path / "nr_hugepages").write_text("2\n")
    return tmp_path


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="hugepage_pool refuses non-root")


def _use_pool_then(sysfs: Path, n: int, then) -> None:
    with hugepage_pool(sysfs) as pool:
        assert pool["original"] == 2
        assert pool["set"](n) == n
        then()


def _boom() -> None:
    raise RuntimeError("boom")


@needs_root
def test_pool_is_restored_after_an_error(fake_sysfs: Path):
    with pytest.raises(RuntimeError, match="boom"):
        _use_pool_then(fake_sysfs, 7, _boom)
    assert (fake_sysfs / "nr_hugepages").read_text().strip() == "2"


@needs_root
def test_pool_is_restored_on_sigterm(fake_sysfs: Path):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exc:
        _use_pool_then(fake_sysfs, 5, lambda: os.kill(os.getpid(), signal.SIGTERM))
    assert exc.value.code == 128 + signal.SIGTERM
    assert (fake_sysfs / "nr_hugepages").read_text().strip() == "2"
    assert signal.getsignal(signal.SIGTERM) is before


def test_pool_without_the_sysfs_file_says_so(tmp_path: Path):
    with pytest.raises(LiveError, match="does not exist"), hugepage_pool(tmp_path / "nope"):
        pass


@pytest.mark.parametrize("count", [0, -1, True, 1.0, "2"])
def test_record_refuses_a_bad_count(tmp_path: Path, count):
    with pytest.raises(ValueError, match="count"):
        record_gigantic_run(count, tmp_path / "run")


@needs_root
def test_record_refuses_a_pool_that_is_not_empty(fake_sysfs: Path, tmp_path: Path):
    with pytest.raises(LiveError, match="already holds 2"):
        record_gigantic_run(1, tmp_path / "run", sysfs_dir=fake_sysfs)
    assert (fake_sysfs / "nr_hugepages").read_text().strip() == "2"
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- settling and tracing

# Lines as Linux 6.18 prints them in a tracefs ``trace`` file (taken from a run on the
# development machine; other events and the header are skipped).
TRACE = """\
# tracer: nop
          python-28982   [001] .....  8234.700001: mm_migrate_pages: nr_succeeded=32 nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 nr_split=0 mode=MIGRATE_SYNC reason=contig_range
          python-28982   [001] .....  8234.700002: mm_migrate_pages: nr_succeeded=7 nr_failed=2 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 nr_split=0 mode=MIGRATE_SYNC reason=contig_range
          python-28982   [001] .....  8234.709007: test_pages_isolated: start_pfn=0x4c0000 end_pfn=0x500000 fin_pfn=0x4c1234 ret=fail
          python-28982   [001] .....  8234.758440: mm_migrate_pages: nr_succeeded=0 nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 nr_split=0 mode=MIGRATE_SYNC reason=contig_range
          python-28982   [001] .....  8234.759689: test_pages_isolated: start_pfn=0x40000 end_pfn=0x80000 fin_pfn=0x80000 ret=success
"""  # noqa: E501


def test_parse_contig_trace_groups_migration_passes_with_their_try():
    assert parse_contig_trace(TRACE) == [
        {"start_pfn": 0x4C0000, "end_pfn": 0x500000, "fin_pfn": 0x4C1234, "ok": False,
         "migrated": 39, "not_migrated": 2, "passes": 2},
        {"start_pfn": 0x40000, "end_pfn": 0x80000, "fin_pfn": 0x80000, "ok": True,
         "migrated": 0, "not_migrated": 0, "passes": 1},
    ]
    assert parse_contig_trace("") == []


def test_contig_trace_where_there_is_no_tracefs_says_so_and_leaves_nothing(tmp_path: Path):
    with ContigTrace(tmp_path) as tr:
        assert not tr.available and tr.why
        assert tr.take() is None
    assert list(tmp_path.iterdir()) == []


def test_settle_refuses_a_bad_node_and_otherwise_answers_a_bool():
    with pytest.raises(ValueError, match="node"):
        settle_lru_batches(-1)
    assert settle_lru_batches(0) in (True, False)


# ---------------------------------------------------------------- recorded runs

def test_there_are_recorded_runs():
    assert len(RUNS) >= 3


@pytest.mark.parametrize("run", RUNS, ids=[r.name for r in RUNS])
def test_a_recorded_run_is_complete_and_consistent(run: Path):
    rec = json.loads((run / "run.json").read_text())
    assert rec["kernel"].startswith("6.18")
    picks = rec["picks"]
    assert len(picks) == rec["count"] or rec["failed_at_request"] == len(picks) + 1
    assert len(set(picks)) == len(picks)
    # 1 GiB pages start on 1 GiB boundaries (alloc_contig_pages() only tries
    # ranges aligned to nr_pages) and lie inside a zone of the node.
    spans = {n: (z["start_pfn"], z["start_pfn"] + z["spanned"]) for n, z in rec["zones"].items()}
    for p in picks:
        assert p % (1 << 18) == 0
        assert any(lo <= p and p + (1 << 18) <= hi for lo, hi in spans.values())
    assert len(rec["request_seconds"]) == len(picks) + (rec["failed_at_request"] is not None)
    for name in spans:
        assert (run / f"{name}.npz").is_file()
    if rec.get("protocol", 1) < 2:
        return
    # Protocol 2: a snapshot folder and a traced list of tries per request; a request that
    # succeeded ends with a traced try that took its pick, one that failed took nothing.
    n = len(rec["request_seconds"])
    assert rec["snapshots"] == ["."] + [f"before-{k:02d}" for k in range(2, n + 1)]
    assert rec["settled"] is True
    for sub in rec["snapshots"]:
        for name in spans:
            assert (run / sub / f"{name}.npz").is_file()
    assert len(rec["kernel_tries"]) == n
    for k, tries in enumerate(rec["kernel_tries"], 1):
        taken = [t["start_pfn"] for t in tries if t["ok"]]
        assert taken == ([picks[k - 1]] if k <= len(picks) else [])
        assert all(t["end_pfn"] - t["start_pfn"] == 1 << 18 for t in tries)


@pytest.mark.parametrize("run", RUNS[:1], ids=[r.name for r in RUNS[:1]])
def test_a_recorded_snapshot_loads_and_has_no_hugetlb_page_yet(run: Path):
    with np.load(run / "DMA32.npz", allow_pickle=False) as npz:
        flags, start = npz["flags"], int(npz["start_pfn"][0])
    assert huge_heads(flags, start) == []      # the pool was empty before the run
    z = load_kpageflags(run / "DMA32.npz")
    z.check()


@pytest.mark.parametrize("run", [r for r in RUNS if (r / "prediction.json").exists()],
                         ids=lambda r: r.name)
def test_a_recorded_prediction_is_consistent_with_its_run(run: Path):
    """Runs made with `contig gigantic --live` also keep what the model predicted then."""
    rec = json.loads((run / "run.json").read_text())
    pred = json.loads((run / "prediction.json").read_text())
    assert pred["count"] == rec["count"]
    assert all(p % (1 << 18) == 0 for p in pred["predicted"])
    assert pred["predicted_hex"] == [hex(p) for p in pred["predicted"]]
    assert pred["hit"] == (pred["predicted"] == rec["picks"])


def test_steady_snapshots_write_what_a_plain_capture_writes_and_keep_their_buffers(tmp_path):
    """The steady recorder reads into buffers made once (so reading allocates no page after
    kpageflags was read); its snapshot holds exactly what capture_snapshot() writes."""
    from test_procfs import fake_proc, synthetic_flags

    from contig.live import _SteadySnapshots, _zones
    from contig.procfs import capture_snapshot

    flags, _ = synthetic_flags()
    counts = np.arange(flags.size, dtype=np.uint64) * 7 + 65000   # some above uint16
    proc = tmp_path / "proc"
    proc.mkdir()
    fake_proc(proc, flags, counts)
    steady = _SteadySnapshots(_zones(0, proc))
    assert list(steady.buffers) == ["Normal"]
    kept = {k: v.ctypes.data for k, v in steady.buffers["Normal"].items()}
    for k in (1, 2):
        out = tmp_path / f"s{k}"
        out.mkdir()
        steady.take(out, 0, proc)
        assert {k: v.ctypes.data for k, v in steady.buffers["Normal"].items()} == kept
    capture_snapshot("Normal", tmp_path / "plain.npz", proc_root=proc)
    with np.load(tmp_path / "s2" / "Normal.npz") as a, np.load(tmp_path / "plain.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            assert np.array_equal(a[name], b[name]), name


def test_contig_trace_take_reads_the_tries_and_the_dropped_events(tmp_path: Path):
    """take() on an instance folder laid out as tracefs lays it out (trace, per_cpu/cpuN/stats):
    the tries of the trace, the overrun counts summed, and the buffer emptied."""
    inst = tmp_path / "instances" / "contig-1"
    for cpu, overrun in ((0, 3), (1, 4)):
        d = inst / "per_cpu" / f"cpu{cpu}"
        d.mkdir(parents=True)
        (d / "stats").write_text(f"entries: 10\noverrun: {overrun}\ncommit overrun: 0\n")
    (inst / "trace").write_text(TRACE)
    tr = ContigTrace(tmp_path)
    tr.inst, tr.available = inst, True
    assert tr.take() == parse_contig_trace(TRACE)
    assert tr.lost == [7] and (inst / "trace").read_text() == ""
    tr.clear()
    assert tr.lost == [7]
