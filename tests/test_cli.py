"""The command line: ``python -m contig run|quiz|scenario|snapshot``.

A few checks go through a real ``python -m contig`` process (help, a run,
quiz determinism, bad input never showing a traceback); the rest call
``main([...])`` in-process with capsys.  ``examples/*.txt`` are golden
transcripts, diffed as SimPy's docs/conftest.py does.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from contig import cli, errname, scenarios
from contig.cli import format_zone, main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.txt"))


def contig(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "contig", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------- through a process
def test_process_help():
    p = contig("--help")
    assert p.returncode == 0
    for word in ("run", "quiz", "scenario", "snapshot"):
        assert word in p.stdout
    for sub in ("run", "quiz", "scenario", "snapshot"):
        p = contig(sub, "--help")
        assert p.returncode == 0, sub
        assert "examples" in p.stdout and f"contig {sub}" in p.stdout, sub


def test_process_run_scenario():
    p = contig("run", "--scenario", "pinned")
    assert p.returncode == 0 and p.stderr == ""
    assert p.stdout.startswith("ARG scenario pinned\n")
    assert "alloc_contig_range: [8, 10) PFNs busy" in p.stdout
    assert "Return value: -EBUSY" in p.stdout


def test_process_quiz_is_deterministic():
    a, b = contig("quiz", "-s", "5"), contig("quiz", "-s", "5")
    assert a.returncode == 0 and a.stdout == b.stdout
    assert a.stdout.count(": ?") == 5 and "-EBUSY" not in a.stdout
    c = contig("quiz", "-s", "5", "-c")
    assert c.returncode == 0 and ": ?" not in c.stdout
    assert c.stdout.count("because:") == 5
    # -c shows the same problem
    head = a.stdout.split("What happens?")[0]
    assert c.stdout.startswith(head)


@pytest.mark.parametrize("args", [
    ["run", "--map", "MMZ.", "--start", "0", "--end", "1"],
    ["run", "--scenario", "pinned", "--start", "9", "--end", "9"],
    ["run", "--scenario", "no-such-scenario"],
    ["run", "--map", "MMMM", "--geometry", "4", "--start", "0", "--end", "1"],
    ["quiz", "-s", "seven"],
])
def test_process_bad_input_is_one_line(args):
    p = contig(*args)
    assert p.returncode == 2
    assert p.stdout == ""
    assert "Traceback" not in p.stderr
    assert p.stderr.startswith("contig: error: ") and p.stderr.count("\n") == 1


# ---------------------------------------------------------------- in-process
@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_scenario_command_runs_each(capsys, name):
    s = scenarios.SCENARIOS[name]
    rc, out, err = run_main(capsys, "scenario", name)
    assert rc == 0 and err == ""
    assert out.startswith(f"{name}: {s.title}\n")
    assert f"Return value: {s.expect['ret']}\n" in out
    for line in s.expect.get("log", []):
        assert f"\n  {line}\n" in out
    assert out.isascii()
    for line in out.splitlines():
        if not line.startswith("ARG map "):
            assert len(line) <= 80, line


def test_scenario_list(capsys):
    rc, out, _err = run_main(capsys, "scenario", "--list")
    assert rc == 0
    lines = out.splitlines()
    assert [ln.split()[0] for ln in lines] == list(scenarios.SCENARIOS)
    assert all(s.title in out for s in scenarios.SCENARIOS.values())
    rc2, out2, _ = run_main(capsys, "scenario")
    assert (rc2, out2) == (0, out)


def test_run_prints_every_parameter_first(capsys):
    rc, out, _err = run_main(capsys, "run", "--scenario", "writeback", "--start", "8",
                            "--end", "0x10", "--migratetype", "cma", "--pcp", "8,2")
    assert rc == 0
    args = [ln for ln in out.splitlines()[:12] if ln.startswith("ARG ")]
    assert args == [
        "ARG scenario writeback", "ARG geometry 4,2", "ARG start_pfn 0",
        f"ARG map {scenarios.get('writeback').map}", "ARG blocks UMMMMMMM", "ARG start 8",
        "ARG end 16", "ARG migratetype cma", "ARG fatal_signal_at none", "ARG busy 10",
        "ARG pcp 8,2"]
    assert "Return value: -EBUSY" in out


def test_run_map_options(capsys):
    rc, out, _ = run_main(capsys, "run", "--map", "..MM.MM.U...", "--geometry", "3,1",
                          "--start-pfn", "4", "--start", "6", "--end", "10", "--busy", "6",
                          "--fatal-signal-at", "2")
    assert rc == 0
    assert "ARG start_pfn 4" in out and "ARG busy 6" in out and "ARG fatal_signal_at 2" in out
    assert "Return value: -EINTR" in out or "Return value: -EBUSY" in out


def test_run_verbose_adds_tracepoint_lines(capsys):
    _, plain, _ = run_main(capsys, "run", "--scenario", "pinned")
    _, verbose, _ = run_main(capsys, "run", "--scenario", "pinned", "-v")
    tp = [ln.strip() for ln in verbose.splitlines() if ln.strip().startswith("tp: ")]
    assert "tp: test_pages_isolated start_pfn=0x8 end_pfn=0x10 fin_pfn=0xa ret=fail" in tp
    assert len(plain.splitlines()) + len(tp) == len(verbose.splitlines())


def test_run_narrates_the_trace(capsys):
    _z, r = scenarios.get("fragmented").run()
    _, out, _ = run_main(capsys, "run", "--scenario", "fragmented")
    trace = out.split("Trace:\n")[1].split("\n\n")[0]
    starts = [ln for ln in trace.splitlines() if not ln.startswith("      ")]
    assert len(starts) == len(r.events)
    for ln, ev in zip(starts, r.events):
        assert ln.startswith(f"{ev.seq:4d} [{ev.stage}] {ev.func}: ")
    assert "Kernel log:\n  (nothing)\n" in out
    assert out.rstrip().endswith("o = outer_start; = runs to outer_end (or to end if not "
                                 "reached)")


def test_run_cma_keeps_blocks(capsys):
    _, out, _ = run_main(capsys, "run", "--scenario", "cma-as-movable", "--migratetype", "cma")
    after = out.split("After:\n")[1]
    assert "  blocks U   M   C   C   C   C   M   M" in after


@pytest.mark.parametrize(("args", "message"), [
    (["run", "--map", "MMZ.", "--start", "0", "--end", "1"], "unknown map character 'Z'"),
    (["run", "--map", "MMMM", "--start", "2", "--end", "2"], "must be below end"),
    (["run", "--map", "MMMM", "--start", "3", "--end", "9"], "not inside the zone"),
    (["run", "--map", "MMMM"], "needs --start and --end"),
    (["run", "--map", "MMMM", "--blocks", "UX", "--start", "0", "--end", "1"], "pageblock"),
    (["run", "--map", "TTT.", "--start", "0", "--end", "1"], "cannot be cut"),
    (["run", "--map", "MMMM", "--geometry", "0,2", "--start", "0", "--end", "1"],
     "max_order"),
    (["run", "--map", "MMMM", "--geometry", "x,y", "--start", "0", "--end", "1"],
     "MAX_ORDER,PAGEBLOCK_ORDER"),
    (["run", "--scenario", "nope"], "unknown scenario 'nope'; valid names: all-free"),
    (["run", "--scenario", "pinned", "--blocks", "UUUUUUUU"], "--blocks goes with --map"),
    (["run", "--scenario", "pinned", "--busy", "3"], "busy PFN 3 is outside"),
    (["run", "--scenario", "pinned", "--start", "-4"], "cannot be negative"),
    (["run", "--scenario", "pinned", "--fatal-signal-at", "0"], "at least 1"),
    (["run", "--scenario", "pinned", "--pcp", "1,4"], "pcp high=1, batch=4 is not a per-CPU setting"),
    (["run", "--scenario", "pinned", "--migratetype", "unmovable"], "invalid choice"),
    (["run", "--map", "M", "--scenario", "pinned"], "not allowed with"),
    (["run"], "one of the arguments --map --scenario is required"),
    (["quiz", "-s", "-3"], "seed must be a non-negative int"),
    (["scenario", "nope"], "unknown scenario"),
    (["scenario", "--list", "pinned"], "not both"),
    ([], "required: COMMAND"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_gives_one_line(capsys, args, message):
    rc, out, err = run_main(capsys, *args)
    assert rc == 2
    assert out == ""
    assert err.startswith("contig: error: ") and err.endswith("\n") and err.count("\n") == 1
    assert message in err


def test_help_exits_zero(capsys):
    rc, out, _ = run_main(capsys, "run", "--help")
    assert rc == 0
    assert "contig run --scenario pinned" in out and "map characters" in out


# ---------------------------------------------------------------- quiz
def test_quiz_answers_match_the_model(capsys):
    p = scenarios.random_problem(4)
    z, r = p.run()
    rc, out, _ = run_main(capsys, "quiz", "-s", "4", "-c")
    assert rc == 0
    assert f"[isolate_start, isolate_end): [{r.isolate_start}, {r.isolate_end})" in out
    assert f"outer_start: {r.outer_start}" in out
    assert f"outer_end: {r.outer_end}" in out
    assert f"The return value: {errname(r.ret)}" in out
    after = out.split("5. The map afterwards:\n")[1]
    assert f"pages {z.to_map()}" in after


def test_quiz_failed_runs_say_not_reached(capsys):
    for seed in range(40):
        _z, r = scenarios.random_problem(seed).run(trace=False)
        if r.failed_stage == "start_isolate_page_range":
            break
    else:
        pytest.fail("no seed in 0..39 fails isolation")
    _rc, out, _ = run_main(capsys, "quiz", "-s", str(seed), "-c")
    assert "outer_start: not reached" in out and "outer_end: not reached" in out
    assert "has_unmovable_pages()" in out


# ---------------------------------------------------------------- snapshot
def test_snapshot_calls_capture(capsys, monkeypatch, tmp_path):
    import contig.procfs as procfs
    calls = []

    def fake(zone, fh, **kw):
        calls.append((zone, kw))
        fh.write(f"snapshot of {zone}".encode())
    monkeypatch.setattr(procfs, "capture_snapshot", fake)
    out_path = tmp_path / "n.npz"
    rc, out, err = run_main(capsys, "snapshot", "--zone", "Normal", "-o", str(out_path))
    assert rc == 0 and err == ""
    assert calls == [("Normal", {})]
    assert out_path.read_bytes() == b"snapshot of Normal"
    assert "Normal" in out
    rc, _, _ = run_main(capsys, "snapshot", "--zone", "DMA32", "--node", "1", "-o",
                        str(tmp_path / "x.npz"))
    assert calls[-1] == ("DMA32", {"node": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.npz", "x.npz"]


@pytest.mark.parametrize("exc", [PermissionError("/proc/kpageflags: Permission denied; "
                                                 "run as root"),
                                 OSError("read error"), ValueError("no zone 'Foo'")])
def test_snapshot_errors_are_one_line(capsys, monkeypatch, tmp_path, exc):
    import contig.procfs as procfs

    def boom(*a, **kw):
        raise exc
    monkeypatch.setattr(procfs, "capture_snapshot", boom)
    rc, out, err = run_main(capsys, "snapshot", "--zone", "Foo", "-o", str(tmp_path / "x.npz"))
    assert rc == 2 and out == ""
    assert err.startswith("contig: error: cannot capture zone Foo: ") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_snapshot_without_procfs(capsys, monkeypatch):
    import contig.procfs as procfs
    monkeypatch.delattr(procfs, "capture_snapshot")
    rc, out, err = run_main(capsys, "snapshot", "--zone", "Normal", "-o", "x.npz")
    assert rc == 2 and out == "" and err.count("\n") == 1 and "capture_snapshot" in err
    monkeypatch.setitem(sys.modules, "contig.procfs", None)
    rc, _out, err = run_main(capsys, "snapshot", "--zone", "Normal", "-o", "x.npz")
    assert rc == 2 and err.count("\n") == 1


# ---------------------------------------------------------------- rendering
def test_format_zone_wraps_long_maps():
    s = scenarios.get("fatal-signal")
    lines = format_zone(s.zone())
    assert len(lines) == 6  # two chunks of ruler, pages, blocks
    assert lines[0].split()[:3] == ["PFN", "0", "8"]
    assert lines[3].split()[:3] == ["PFN", "64", "72"]
    assert lines[4] == "   pages " + s.map[64:]
    assert all(len(ln) <= cli._LABEL + cli.MAP_WIDTH for ln in lines)


def test_format_zone_unaligned_start():
    from contig import Geometry, Zone
    z = Zone.from_map("MM..", geometry=Geometry(4, 2), start_pfn=66, blocks="MM")
    lines = format_zone(z, marks=[("mark", {67: "^"})])
    assert lines[1] == "   pages   MM.."
    assert lines[2] == "  blocks   M M"
    assert lines[3] == "    mark    ^"
    assert lines[0].split() == ["PFN", "64"]


# ---------------------------------------------------------------- golden transcripts
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples(capsys, path):
    text = path.read_text()
    first, _, expected = text.partition("\n")
    assert first.startswith("$ contig ")
    rc = main(shlex.split(first)[2:])
    out, err = capsys.readouterr()
    assert rc == 0 and err == ""
    if os.environ.get("CONTIG_REGEN_EXAMPLES"):
        path.write_text(first + "\n" + out)
        return
    assert out == expected, (f"{path.name} differs from what `{first[2:]}` prints now; if the "
                             "change is intended, regenerate with CONTIG_REGEN_EXAMPLES=1 "
                             "(see examples/README.md)")


def test_examples_exist():
    names = {p.name for p in EXAMPLES}
    assert {"quiz-s1.txt", "quiz-s2.txt"} <= names


def test_cma_command_lists_and_runs_the_cma_scenarios(capsys):
    from contig.cma_scenarios import CMA_SCENARIOS
    rc, out, _ = run_main(capsys, "cma", "--list")
    assert rc == 0 and [ln.split()[0] for ln in out.splitlines()] == list(CMA_SCENARIOS)
    rc, out, _ = run_main(capsys, "cma", "busy-area")
    assert rc == 0
    assert out.count("dmesg: alloc_contig_range") == 15 and "returned NULL" in out
    rc, out, _ = run_main(capsys, "cma", "pinned-slot", "-d")
    assert "debug: cma_alloc(): returned PFN 0xc" in out and "CMA area" in out
    rc, _, err = run_main(capsys, "cma", "nope")
    assert rc == 2 and err.count("\n") == 1 and "busy-area" in err
