"""A signal to the test run never leaves JupyterLab running (issue 12, section 3).

A child test run (pytest itself, or ``./scripts/test``) runs
``test_hold_a_server`` below, which starts a server the way the harness does
and waits; once the server answers, SIGTERM (or SIGINT) goes to the child's
top process only (as `kill PID` or a CI runner's timeout would send it).  Every process
of that run is recognised by a unique ``--basetemp`` directory in its
environment (each server's JUPYTER_RUNTIME_DIR lies under it); none may
survive.  Before the fix, pytest died at once and its servers, in their own
sessions, kept running; ``./scripts/test`` died and left pytest running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from jlab import JupyterLab

REPO = Path(__file__).resolve().parents[2]
HOLD = os.environ.get("CONTIG_HOLD_SERVER", "")
MARKER = os.environ.get("CONTIG_HOLD_MARKER", "")


@pytest.mark.skipif(not HOLD, reason="a helper: test_sigterm_stops_every_server runs it in a "
                                     "child test run")
def test_hold_a_server(tmp_path):
    """Start a server (``jlab``: the fixtures' JupyterLab; ``course``: the
    course smoke test's ./scripts/course), say so in MARKER, then wait to be
    signalled."""
    if HOLD == "course":
        from test_course_command import course_server
        with course_server(tmp_path) as (base, _token):
            Path(MARKER).write_text(base)
            time.sleep(600)
    else:
        (tmp_path / "root").mkdir()
        (tmp_path / "state").mkdir()
        with JupyterLab(tmp_path / "root", tmp_path / "state") as server:
            Path(MARKER).write_text(server.base_url)
            time.sleep(600)
    pytest.fail("not signalled in 600 s")


def processes_with(needle: bytes) -> dict[int, str]:
    """pid -> command line of every process whose environment contains `needle`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found[int(entry.name)] = cmd.strip()
        except OSError:  # gone, or not ours
            continue
    return found


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _would_install() -> bool:
    """./scripts/test would (re)install .venv first: too slow, and not ours to do."""
    stamps = [REPO / ".venv" / f".installed-{x}" for x in ("test", "course")]
    toml = (REPO / "pyproject.toml").stat().st_mtime
    return not (REPO / ".venv" / "bin" / "python").exists() or not any(
        s.exists() and s.stat().st_mtime > toml for s in stamps)


@pytest.mark.browser
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(("runner", "server", "sig"), [
    ("pytest", "course", signal.SIGTERM),
    ("scripts/test", "jlab", signal.SIGTERM),
    ("scripts/test", "jlab", signal.SIGINT),     # Ctrl-C, or `kill -INT`
], ids=["pytest-course-TERM", "scripts_test-jlab-TERM", "scripts_test-jlab-INT"])
def test_sigterm_stops_every_server(tmp_path, runner, server, sig):
    if runner == "scripts/test" and _would_install():
        pytest.skip(".venv is missing or older than pyproject.toml: ./scripts/test would "
                    "install it first")
    tag = f"contig-sigterm-{uuid.uuid4().hex}"
    basetemp = tmp_path / tag
    marker = tmp_path / "up"
    node = f"{Path(__file__).relative_to(REPO)}::test_hold_a_server"
    args = ["-p", "no:cacheprovider", "-q", node, f"--basetemp={basetemp}"]
    cmd = ([sys.executable, "-m", "pytest", *args] if runner == "pytest"
           else [str(REPO / "scripts" / "test"), *args])
    env = {**os.environ, "CONTIG_HOLD_SERVER": server, "CONTIG_HOLD_MARKER": str(marker)}
    env.pop("PYTEST_ADDOPTS", None)
    log = tmp_path / "child.log"
    with open(log, "wb") as out:
        # preexec_fn: this run may itself be a background job of ./scripts/test,
        # started with SIGINT ignored, which its children would inherit (and a
        # shell cannot trap a signal ignored on entry); a terminal's child has
        # SIGINT at its default
        child = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True,
                                 preexec_fn=_default_sigint)
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert child.poll() is None, f"the child run ended early:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "no server after 180 s"
            time.sleep(0.2)
        before = processes_with(tag.encode())
        # the server, found by the tag (this proves the check below can see it)
        assert any("jupyter" in cmd for cmd in before.values()), before

        child.send_signal(sig)                      # to the top process only
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{runner} did not exit within 60 s of {sig.name}:\n"
                        f"{log.read_text()[-3000:]}")
        text = log.read_text()
        left = processes_with(tag.encode())
        end = time.monotonic() + 15                 # kernels may take a poll to notice
        while left and time.monotonic() < end:
            time.sleep(0.3)
            left = processes_with(tag.encode())
        assert not left, f"survived {sig.name} to {runner}: {left}\n{text[-3000:]}"
        # and the run says it was stopped
        if runner == "scripts/test":
            assert child.returncode == 128 + sig, text[-3000:]
        else:
            assert child.returncode == pytest.ExitCode.INTERRUPTED, text[-3000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=10)
        for pid in processes_with(tag.encode()):     # never leave one behind ourselves
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
