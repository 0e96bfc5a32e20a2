"""``contig gigantic``: replay a recorded run, predict from snapshots, and the live check's guards.

The live check changes the machine (it takes gigabytes for a moment), so it
never runs here for real: the tests point it at a fake sysfs folder (the
hidden ``--sysfs`` option) and a fake /proc (``--proc``) and replace the two
readers of kpageflags, so what they prove is the command's own behaviour:
its refusals, that the pool is put back whatever happens after the kernel was
asked, and that a run is never overwritten.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from contig import live
from contig.cli import main
from contig.procfs import KPF

HUGE, HEAD, TAIL = (np.uint64(1 << KPF[k]) for k in ("HUGE", "COMPOUND_HEAD", "COMPOUND_TAIL"))

RUNS = Path(__file__).resolve().parents[1] / "contig" / "data" / "gigantic"
RUN05 = RUNS / "run-05"


def _rec(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


def _one_line_error(capsys, status: int, needle: str, code: int = 2) -> str:
    out, err = capsys.readouterr()
    assert status == code, (status, err)
    assert "Traceback" not in err
    assert err.startswith("contig: error: ") and err.count("\n") == 1, err
    assert needle in err, err
    return out


# ---------------------------------------------------------------- --run, --snapshot
def test_run_names_every_recorded_pick_and_the_verdict(capsys):
    rec = _rec(RUN05)
    assert main(["gigantic", "--run", str(RUN05)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ARG run {RUN05}\nARG n {rec['count']}\n")
    lines = [" ".join(x.split()) for x in out.split("Predicted vs actual:")[1].splitlines()]
    for k, pick in enumerate(rec["picks"], 1):
        # each of the kernel's picks is named on its request's line, with hit or miss
        assert f"request {k}: predicted {pick:#x}, kernel {pick:#x}: hit" in lines, (k, out)
    assert "Candidates tried" in out and "Predicted picks: " in out
    assert "Verdict: HIT" in out
    assert out.count(": hit\n") == rec["count"]


def test_a_traced_run_is_also_checked_request_by_request(capsys):
    """Run 13 (protocol 2): each request from its own snapshot, the tries beside the trace."""
    rec = _rec(RUNS / "run-13")
    assert main(["gigantic", "--run", str(RUNS / "run-13")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for k, pick in enumerate(rec["picks"], 1):
        assert (f"request {k} ({'.' if k == 1 else f'before-{k:02d}'}): predicted {pick:#x}, "
                f"kernel {pick:#x}; tries: model {pick:#x} taken; kernel {pick:#x} taken") in out
    assert f"Per request: {rec['count']} of {rec['count']} hit" in out
    assert main(["gigantic", "--run", str(RUNS / "run-05")]) == 0   # protocol 1: not there
    assert "Per request" not in capsys.readouterr().out


def test_run_04_is_a_miss_in_another_order(capsys):
    """Run 04 is the strict xfail of tests/test_gigantic_replay.py: the verdict says so."""
    assert main(["gigantic", "--run", str(RUNS / "run-04")]) == 0
    out = capsys.readouterr().out
    assert "Verdict: MISS" in out and "another order" in " ".join(out.split())


def test_run_with_fewer_requests_compares_only_those(capsys):
    rec = _rec(RUNS / "run-01")               # the kernel took two pages, the third request failed
    assert main(["gigantic", "--run", str(RUNS / "run-01"), "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert "ARG n 2" in out and "request 3:" not in out.split("Predicted vs actual:")[1]
    assert "Verdict: HIT" in out and out.count(": hit\n") == 2
    assert rec["failed_at_request"] == 3
    assert main(["gigantic", "--run", str(RUNS / "run-01")]) == 0
    out = capsys.readouterr().out
    assert "predicted     fails, kernel     fails: hit" in out
    assert "request 3 failed, as predicted" in " ".join(out.split())


def test_snapshot_predicts_the_recorded_picks(capsys):
    rec = _rec(RUN05)
    assert main(["gigantic", "--snapshot", str(RUN05), "-n", str(rec["count"])]) == 0
    out = capsys.readouterr().out
    assert f"ARG snapshot {RUN05}" in out
    line = next(x for x in out.splitlines() if x.startswith("Predicted picks: "))
    assert line == "Predicted picks: " + ", ".join(f"{p:#x}" for p in rec["picks"])
    assert "Verdict" not in out                 # nothing to compare with


def test_snapshot_of_some_zones_only(capsys, tmp_path):
    """DMA32 alone: its 1 GiB candidates are 0x40000 and 0x80000 (0xc0000 is the PCI hole)."""
    shutil.copy(RUNS / "run-01" / "DMA32.npz", tmp_path / "DMA32.npz")
    assert main(["gigantic", "--snapshot", str(tmp_path), "-n", "3"]) == 0
    out = capsys.readouterr().out
    assert "Predicted picks: 0x40000, 0x80000 (request 3 fails)" in out


@pytest.mark.parametrize(("args", "needle"), [
    (["--run", "/nonexistent/run"], "not a folder"),
    (["--run", str(RUN05), "-n", "7"], "-n must be at most 6"),
    (["--run", str(RUN05), "--verify", "2"], "--verify and --out go with --live"),
    (["--snapshot", str(RUN05), "--out", "x"], "--verify and --out go with --live"),
    (["--live"], "--live needs --verify N"),
    (["--live", "--verify", "1", "-n", "2"], "-n goes with --run or --snapshot"),
])
def test_bad_input_is_one_line(capsys, args, needle):
    _one_line_error(capsys, main(["gigantic", *args]), needle)


def test_a_folder_without_snapshots_or_run(capsys, tmp_path):
    _one_line_error(capsys, main(["gigantic", "--snapshot", str(tmp_path)]), "holds no zone snapshot")
    _one_line_error(capsys, main(["gigantic", "--run", str(tmp_path)]), "holds no run.json")
    (tmp_path / "run.json").write_text("{not json")
    _one_line_error(capsys, main(["gigantic", "--run", str(tmp_path)]), "is not a recorded run")
    (tmp_path / "Normal.npz").write_bytes(b"not a zip file")
    _one_line_error(capsys, main(["gigantic", "--snapshot", str(tmp_path)]), "cannot read")


def test_parser_errors_are_one_line(capsys):
    _one_line_error(capsys, main(["gigantic"]), "one of the arguments")
    _one_line_error(capsys, main(["gigantic", "--run", str(RUN05), "--live"]), "not allowed with")
    _one_line_error(capsys, main(["gigantic", "--snapshot", str(RUN05), "-n", "0"]), "at least 1")


# ---------------------------------------------------------------- --live: refusals
def test_live_without_the_sysfs_file_says_so(capsys, tmp_path):
    status = main(["gigantic", "--live", "--verify", "1", "--sysfs", str(tmp_path / "nope")])
    _one_line_error(capsys, status, "does not exist")
    assert not any(tmp_path.iterdir())


def test_live_without_root_says_so(capsys, tmp_path, monkeypatch):
    (tmp_path / "nr_hugepages").write_text("0\n")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.chdir(tmp_path)
    status = main(["gigantic", "--live", "--verify", "1", "--sysfs", str(tmp_path)])
    _one_line_error(capsys, status, "needs root")
    assert (tmp_path / "nr_hugepages").read_text() == "0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nr_hugepages"]   # no run folder made


class FakeTrace:
    """Stands in for contig.live.ContigTrace: after the n-th write of nr_hugepages, ``take()``
    reports the one try that took the n-th pick (``picks``), or None without a trace; ``lose``
    names the requests whose trace dropped events (5 of them)."""

    def __init__(self, sysfs: Path, picks: list[int] | None, why: str = "", lose=()):
        self.sysfs, self.picks, self.why, self.lose, self.lost = sysfs, picks, why, set(lose), []

    def __call__(self, _root):         # used as the class: ContigTrace(root)
        return self

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        return None

    def clear(self):
        return None

    def take(self):
        n = int((self.sysfs / "nr_hugepages").read_text())
        self.lost.append(5 if n in self.lose else 0)
        if self.picks is None:
            return None
        if n == 0 or n > len(self.picks):
            return []
        p = self.picks[n - 1]
        return [{"start_pfn": p, "end_pfn": p + (1 << 18), "fin_pfn": p + (1 << 18),
                 "ok": True, "migrated": 0, "not_migrated": 0, "passes": 1}]


# ---------------------------------------------------------------- --live on a fake machine
@pytest.fixture
def fake_machine(tmp_path: Path, monkeypatch):
    """A fake hstate folder and /proc made from run 05; the kernel "takes" run 05's picks.

    ``capture_snapshot`` copies run 05's snapshots with the pages taken so far marked
    as 1 GiB hugetlb pages (HUGE head and tails), as kpageflags would show them;
    ``read_huge_heads`` answers from the fake nr_hugepages (the first N of run 05's
    picks); the fake trace reports the one try that took each pick; settling the
    per-CPU batches is a no-op.
    """
    rec = _rec(RUN05)
    sysfs = tmp_path / "hugepages-1048576kB"
    sysfs.mkdir()
    (sysfs / "nr_hugepages").write_text("0\n")
    proc = tmp_path / "proc"
    proc.mkdir()
    for name, text in rec["proc_before"].items():
        (proc / name).write_text(text)
    (proc / "cmdline").write_text(rec["cmdline"] + "\n")
    writes: list[int] = []

    def capture(zone, out, **_kw):
        n = int((sysfs / "nr_hugepages").read_text())
        with np.load(RUN05 / f"{zone}.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        flags, start = arrays["flags"].copy(), int(arrays["start_pfn"][0])
        for pick in rec["picks"][:n]:
            if start <= pick < start + flags.size:
                i = pick - start
                flags[i] = HUGE | HEAD
                flags[i + 1:i + (1 << 18)] = HUGE | TAIL
        arrays["flags"] = flags
        with open(out, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    def heads(*_a, **_kw):
        n = int((sysfs / "nr_hugepages").read_text())
        writes.append(n)
        return sorted(rec["picks"][:n])

    monkeypatch.setattr(live, "capture_snapshot", capture)
    monkeypatch.setattr(live, "ContigTrace", FakeTrace(sysfs, rec["picks"]))
    monkeypatch.setattr(live, "settle_lru_batches", lambda *_a: True)
    monkeypatch.setattr(live, "read_huge_heads", heads)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.chdir(tmp_path)
    return {"sysfs": sysfs, "proc": proc, "rec": rec, "writes": writes, "tmp": tmp_path}


def _live(m: dict, *extra: str) -> int:
    return main(["gigantic", "--live", "--verify", "3", "--sysfs", str(m["sysfs"]),
                 "--proc", str(m["proc"]), *extra])


def test_live_on_a_fake_machine_records_predicts_and_compares(capsys, fake_machine):
    m = fake_machine
    assert _live(m, "--out", "run-x") == 0
    out = capsys.readouterr().out
    picks = m["rec"]["picks"][:3]
    assert m["writes"] == [0, 1, 2, 3]                       # one request at a time
    assert (m["sysfs"] / "nr_hugepages").read_text().strip() == "0"   # put back
    rec = json.loads((m["tmp"] / "run-x" / "run.json").read_text())
    assert rec["picks"] == picks and rec["failed_at_request"] is None
    pred = json.loads((m["tmp"] / "run-x" / "prediction.json").read_text())
    assert pred["predicted"] == picks and pred["hit"] is True
    assert "Verdict: HIT" in out and "nr_hugepages put back to 0" in " ".join(out.split())
    assert "kernel, per request" in out and "snapshot of the node" in out
    assert "prediction: load the node" in out
    # protocol 2: a snapshot before each request, each request predicted from its own
    assert rec["protocol"] == 2 and rec["snapshots"] == [".", "before-02", "before-03"]
    assert "Per request: 3 of 3 hit" in out and pred["hit_per_request"] is True
    assert "emptied before each snapshot and request: yes; the kernel's tries traced: on" in \
        " ".join(out.split())


def test_live_default_out_is_a_new_folder_and_a_run_is_never_overwritten(capsys, fake_machine):
    m = fake_machine
    assert _live(m) == 0 and _live(m) == 0
    capsys.readouterr()
    made = sorted(p.name for p in m["tmp"].iterdir() if p.name.startswith("gigantic-run-"))
    assert len(made) == 2                          # the second run did not reuse the first folder
    before = (m["tmp"] / made[0] / "run.json").read_text()
    _one_line_error(capsys, _live(m, "--out", made[0]), "never overwritten")
    assert (m["tmp"] / made[0] / "run.json").read_text() == before


def test_live_pool_is_restored_when_the_prediction_raises(capsys, fake_machine, monkeypatch):
    m = fake_machine
    import contig.gigantic

    def boom(*_a, **_kw):
        assert (m["sysfs"] / "nr_hugepages").read_text().strip() == "0"
        raise RuntimeError("boom")

    monkeypatch.setattr(contig.gigantic, "attempts", boom)
    out = _one_line_error(capsys, _live(m, "--out", "run-y"), "prediction failed: RuntimeError: boom",
                          code=1)
    assert m["writes"] == [0, 1, 2, 3]
    assert (m["sysfs"] / "nr_hugepages").read_text().strip() == "0"
    assert (m["tmp"] / "run-y" / "run.json").is_file()      # the kernel's picks are kept
    assert "the kernel took" in out


def test_live_ctrl_c_puts_the_pool_back_and_exits_130(capsys, fake_machine, monkeypatch):
    m = fake_machine
    real = live.read_huge_heads

    def interrupted(*a, **kw):
        heads = real(*a, **kw)
        if int((m["sysfs"] / "nr_hugepages").read_text()) == 2:
            raise KeyboardInterrupt
        return heads

    monkeypatch.setattr(live, "read_huge_heads", interrupted)
    status = _live(m, "--out", "run-z")
    _out, err = capsys.readouterr()
    assert status == 130 and err == "contig: interrupted\n"
    assert (m["sysfs"] / "nr_hugepages").read_text().strip() == "0"
    assert not (m["tmp"] / "run-z" / "run.json").exists()


def test_live_refuses_a_pool_that_is_not_empty(capsys, fake_machine):
    m = fake_machine
    (m["sysfs"] / "nr_hugepages").write_text("2\n")
    _one_line_error(capsys, _live(m, "--out", "run-w"), "already holds 2")
    assert (m["sysfs"] / "nr_hugepages").read_text().strip() == "2"


def test_live_sigterm_puts_the_pool_back_and_says_so(capsys, fake_machine, monkeypatch):
    import signal
    m = fake_machine
    real = live.read_huge_heads

    def terminated(*a, **kw):
        heads = real(*a, **kw)
        if int((m["sysfs"] / "nr_hugepages").read_text()) == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return heads

    monkeypatch.setattr(live, "read_huge_heads", terminated)
    before = signal.getsignal(signal.SIGTERM)
    status = _live(m, "--out", "run-t")
    _out, err = capsys.readouterr()
    assert status == 128 + signal.SIGTERM
    assert err == "contig: stopped by a signal; nr_hugepages was put back to 0\n"
    assert (m["sysfs"] / "nr_hugepages").read_text().strip() == "0"
    assert signal.getsignal(signal.SIGTERM) is before


def test_live_without_a_trace_says_so_and_still_checks_each_request(capsys, fake_machine,
                                                                    monkeypatch):
    m = fake_machine

    monkeypatch.setattr(live, "ContigTrace", FakeTrace(m["sysfs"], None, "OSError: no tracefs here"))
    assert _live(m, "--out", "run-n") == 0
    out = " ".join(capsys.readouterr().out.split())
    rec = json.loads((m["tmp"] / "run-n" / "run.json").read_text())
    assert rec["kernel_tries"] is None and rec["trace_unavailable"] == "OSError: no tracefs here"
    assert "the kernel's tries traced: off (OSError: no tracefs here)" in out
    assert "kernel not traced" in out and "Per request: 3 of 3 hit" in out


def test_live_a_request_whose_trace_lost_events_is_not_compared(capsys, fake_machine, monkeypatch):
    """The ring buffer dropped events at request 2: its tries are recorded as unknown (None),
    not as a partial list, and the per-request check compares only its pick."""
    m = fake_machine
    monkeypatch.setattr(live, "ContigTrace", FakeTrace(m["sysfs"], m["rec"]["picks"], lose={2}))
    assert _live(m, "--out", "run-l") == 0
    out = " ".join(capsys.readouterr().out.split())
    rec = json.loads((m["tmp"] / "run-l" / "run.json").read_text())
    assert rec["trace_lost_events"] == [0, 5, 0]
    assert [t is None for t in rec["kernel_tries"]] == [False, True, False]
    assert "request 2 (before-02)" in out and "kernel not traced" in out
    assert "Per request: 3 of 3 hit" in out
