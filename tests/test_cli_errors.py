"""The command line never shows a traceback (issue 12, section 3).

Huge numbers and errors the model raises are one line on stderr with exit
status 2; Ctrl-C is one line and exit 130 (a real SIGINT to a real process);
a closed output pipe ends quietly; ``snapshot -o`` writes a temporary file
and renames it, leaves nothing behind on an error or Ctrl-C, and refuses a
symbolic link.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from contig import cli
from contig.cli import main

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
BIG = [str(2**52 + 1), str(2**63), str(2**64), "0x8000000000000000", "1" + "0" * 30]


def contig(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "contig", *args], capture_output=True,
                          text=True, cwd=ROOT, env=ENV, timeout=120)


def one_line_error(p: subprocess.CompletedProcess, needle: str = "") -> None:
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stdout == ""
    assert "Traceback" not in p.stderr
    assert p.stderr.startswith("contig: error: ") and p.stderr.count("\n") == 1, p.stderr
    assert needle in p.stderr


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------- huge numbers


@pytest.mark.parametrize("big", BIG)
def test_huge_pfns_are_usage_errors(big):
    # 2**63 as --start-pfn raised OverflowError (a traceback) before
    one_line_error(contig("run", "--map", "MMMM", "--start-pfn", big, "--start", big,
                          "--end", big), "too large")


@pytest.mark.parametrize("opt", ["--start", "--end", "--busy"])
def test_huge_request_pfns_are_usage_errors(opt):
    one_line_error(contig("run", "--scenario", "pinned", opt, str(2**52 + 1)),
                   f"argument {opt}: PFN {2**52 + 1} is too large")


def test_zone_ending_beyond_2_52_is_a_usage_error():
    top = str(2**52 - 2)
    one_line_error(contig("run", "--map", "MMMM", "--start-pfn", top, "--start", top,
                          "--end", str(2**52 - 1)), "ends beyond PFN 2**52")


def test_the_largest_pfns_still_work(capsys):
    top = 2**52 - 8
    rc, out, err = run_main(capsys, "run", "--map", "..MM....", "--start-pfn", str(top),
                            "--start", str(top + 2), "--end", str(top + 4))
    assert (rc, err) == (0, "")
    assert "\nReturn value: -E" in out and f"ARG start_pfn {top}\n" in out


@pytest.mark.parametrize(("args", "needle"), [
    (["snapshot", "--zone", "Normal", "--node", "-1", "-o", "x.npz"], "cannot be negative"),
    (["snapshot", "--zone", "Normal", "--node", "x", "-o", "x.npz"], "not a node number"),
])
def test_snapshot_node_is_checked(capsys, args, needle):
    rc, out, err = run_main(capsys, *args)
    assert rc == 2 and out == "" and err.count("\n") == 1 and needle in err


# ---------------------------------------------------------------- the model refusing


@pytest.mark.parametrize("exc", [ValueError("start_pfn must be an int,\n not True"),
                                 TypeError("busy_pfns[0] must be an int, not '3'"),
                                 OverflowError("Python int too large to convert to C long"),
                                 ValueError()])
def test_model_errors_are_one_line(capsys, monkeypatch, exc):
    def refuse(*args, **kwargs):
        raise exc
    monkeypatch.setattr(cli, "alloc_contig_range", refuse)
    rc, out, err = run_main(capsys, "run", "--scenario", "pinned")
    assert rc == 2 and out == ""
    assert err.startswith("contig: error: ") and err.endswith("\n") and err.count("\n") == 1
    if str(exc):
        assert str(exc).split()[0] in err


# ---------------------------------------------------------------- Ctrl-C


def test_keyboard_interrupt_is_one_line_and_130(capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "alloc_contig_range", interrupted)
    assert run_main(capsys, "run", "--scenario", "pinned") == (130, "", "contig: interrupted\n")
    monkeypatch.setattr(cli.argparse.ArgumentParser, "parse_args", interrupted)
    assert run_main(capsys, "scenario", "--list") == (130, "", "contig: interrupted\n")


# A process that runs `contig run`, stops inside alloc_contig_range() until it
# is signalled, and says when it got there.
SLOW = textwrap.dedent("""
    import sys, time
    from contig import cli
    def slow(*args, **kwargs):
        sys.stderr.write("ready\\n"); sys.stderr.flush()
        time.sleep(60)
    cli.alloc_contig_range = slow
    raise SystemExit(cli.main(sys.argv[1:]))
""")


def _interactive_sigint() -> None:
    # Run as a terminal would: a test run started in the background (./scripts/test's steps,
    # CI) inherits SIGINT ignored, and Python then never turns Ctrl-C into KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_and_wait_ready(code: str, *args: str, cwd: Path = ROOT) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", code, *args], cwd=cwd, env=ENV, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=_interactive_sigint)
    line = p.stderr.readline()
    assert line == "ready\n", line + p.stderr.read()
    return p


def test_sigint_to_a_running_command_exits_130():
    p = start_and_wait_ready(SLOW, "run", "--scenario", "pinned")
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert time.monotonic() - t0 < 10
    assert p.returncode == 130
    assert (out, err) == ("", "contig: interrupted\n")


# ---------------------------------------------------------------- closed pipe


def test_closed_stdout_pipe_exits_quietly():
    p = subprocess.Popen([sys.executable, "-m", "contig", "scenario", "--list"], cwd=ROOT,
                         env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # the reader is gone before contig writes: like `| head` exiting
    _, err = p.communicate(timeout=60)
    assert err == b""
    assert p.returncode == cli.EXIT_BROKEN_PIPE == 141


# ---------------------------------------------------------------- snapshot -o


def fake_capture(monkeypatch, behaviour):
    import contig.procfs as procfs
    monkeypatch.setattr(procfs, "capture_snapshot", behaviour)


def test_snapshot_success_leaves_only_the_file(capsys, monkeypatch, tmp_path):
    seen = []

    def capture(zone, fh, **kw):
        seen.append(Path(os.readlink(f"/proc/self/fd/{fh.fileno()}")))
        fh.write(b"complete snapshot")
    fake_capture(monkeypatch, capture)
    out = tmp_path / "n.npz"
    out.write_bytes(b"an older snapshot")
    rc, _, err = run_main(capsys, "snapshot", "--zone", "Normal", "-o", str(out))
    assert (rc, err) == (0, "")
    assert out.read_bytes() == b"complete snapshot"
    assert seen[0].parent == tmp_path and seen[0].name != "n.npz"   # a temporary file
    assert [p.name for p in tmp_path.iterdir()] == ["n.npz"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize(("exc", "status"), [(KeyboardInterrupt(), 130),
                                             (ValueError("kpageflags ends early"), 2),
                                             (PermissionError("not root"), 2)])
def test_snapshot_failure_leaves_no_partial_file(capsys, monkeypatch, tmp_path, exc, status):
    def capture(zone, fh, **kw):
        fh.write(b"half a snap")
        fh.flush()
        raise exc
    fake_capture(monkeypatch, capture)
    out = tmp_path / "n.npz"
    rc, stdout, err = run_main(capsys, "snapshot", "--zone", "Normal", "-o", str(out))
    assert rc == status and stdout == "" and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
    out.write_bytes(b"an older snapshot")   # an existing file is not touched either
    rc, _, _ = run_main(capsys, "snapshot", "--zone", "Normal", "-o", str(out))
    assert rc == status
    assert out.read_bytes() == b"an older snapshot"
    assert [p.name for p in tmp_path.iterdir()] == ["n.npz"]


SLOW_SNAPSHOT = textwrap.dedent("""
    import sys, time
    import contig.procfs
    from contig import cli
    def slow(zone, fh, **kw):
        fh.write(b"x" * 100000); fh.flush()
        sys.stderr.write("ready\\n"); sys.stderr.flush()
        time.sleep(60)
    contig.procfs.capture_snapshot = slow
    raise SystemExit(cli.main(sys.argv[1:]))
""")


def test_sigint_during_snapshot_leaves_nothing(tmp_path):
    out = tmp_path / "n.npz"
    p = start_and_wait_ready(SLOW_SNAPSHOT, "snapshot", "--zone", "Normal", "-o", str(out))
    assert len(list(tmp_path.iterdir())) == 1      # the temporary file, being written
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130 and err == "contig: interrupted\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dangling", [False, True])
def test_snapshot_refuses_a_symlink(capsys, monkeypatch, tmp_path, dangling):
    calls = []
    fake_capture(monkeypatch, lambda zone, fh, **kw: calls.append(zone) or fh.write(b"new"))
    victim = tmp_path / "victim"
    if not dangling:
        victim.write_bytes(b"precious")
    link = tmp_path / "n.npz"
    link.symlink_to(victim)
    rc, out, err = run_main(capsys, "snapshot", "--zone", "Normal", "-o", str(link))
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert "symbolic link" in err and str(link) in err
    assert calls == []                               # refused before reading anything
    assert link.is_symlink() and os.readlink(link) == str(victim)
    assert victim.exists() != dangling
    if not dangling:
        assert victim.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["n.npz"] + ([] if dangling else ["victim"]))


def test_snapshot_refuses_a_symlink_made_while_capturing(capsys, monkeypatch, tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    out = tmp_path / "n.npz"

    def capture(zone, fh, **kw):
        fh.write(b"new")
        out.symlink_to(victim)          # someone plants a link meanwhile
    fake_capture(monkeypatch, capture)
    rc, _, err = run_main(capsys, "snapshot", "--zone", "Normal", "-o", str(out))
    assert rc == 2 and "symbolic link" in err
    assert victim.read_bytes() == b"precious" and out.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.npz", "victim"]


def test_snapshot_output_errors_are_one_line(capsys, tmp_path):
    rc, _, err = run_main(capsys, "snapshot", "--zone", "Normal", "-o", str(tmp_path))
    assert rc == 2 and "is a directory" in err and err.count("\n") == 1
    missing = tmp_path / "no" / "such" / "n.npz"
    rc, _, err = run_main(capsys, "snapshot", "--zone", "Normal", "-o", str(missing))
    assert rc == 2 and "cannot write" in err and err.count("\n") == 1


def test_snapshot_help_says_what_it_does(capsys):
    rc, out, _ = run_main(capsys, "snapshot", "--help")
    text = " ".join(out.split())
    assert rc == 0
    assert "temporary file" in text and "renamed" in text and "symbolic link" in text
    assert "lstat" in text
