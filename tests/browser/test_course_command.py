"""The README's course command, run as a new user would, serves the course.

Starts ``./scripts/course`` (it reuses the .venv the test run already has),
reads the address it prints, and asks the server for its status and for the
notebooks it serves, with and without the token.  The server runs in its own
process group, registered with jlab.track(), and is stopped on every exit path
(the test's ``finally``, atexit, SIGTERM/SIGINT: see jlab.py and
test_harness_signals.py).
"""

import contextlib
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from jlab import free_port, home_env, stop_process_group, track

REPO = Path(__file__).resolve().parents[2]
URL = re.compile(r"(http://127\.0\.0\.1:(\d+)/lab(?:/tree/([^?\s]+))?\?token=([0-9a-f]+))")


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""     # not listening yet


@contextlib.contextmanager
def course_server(tmp_path: Path, timeout: float = 120):
    """Run ``./scripts/course`` until it answers; yield (base URL, token); stop it."""
    env = {**os.environ, **home_env(tmp_path), "PORT": str(free_port())}
    proc = track(subprocess.Popen([str(REPO / "scripts" / "course")], cwd=REPO, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  start_new_session=True))
    try:
        lines, m = [], None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and m is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = URL.search(line)
        assert m, "no address printed:\n" + "".join(lines[-30:])
        port, token = m[2], m[4]
        # the course opens on notebook 00, whose Contents cell lists the course
        assert m[3] == "00-how-to-use.ipynb", m[1]
        base = f"http://127.0.0.1:{port}"
        status = None
        while time.monotonic() < deadline:
            status, _ = _get(f"{base}/api/status?token={token}")
            if status == 200:
                break
            time.sleep(0.5)
        assert status == 200, f"server never answered: {status}"
        yield base, token
    finally:
        stop_process_group(proc, timeout=15)


def test_scripts_course_serves_the_notebooks(tmp_path):
    with course_server(tmp_path) as (base, token):
        assert _get(f"{base}/api/status")[0] in (401, 403), "the server must want the token"
        code, body = _get(f"{base}/api/contents?token={token}")
        assert code == 200
        names = {item["name"] for item in json.loads(body)["content"]}
        expected = {p.name for p in (REPO / "notebooks").glob("[0-9][0-9]-*.ipynb")}
        assert expected <= names, f"served {sorted(names)}, expected the course {sorted(expected)}"
        # the course's settings: JupyterLab does not ask about news on first start
        code, body = _get(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification"
                          f"?token={token}")
        assert code == 200
        assert json.loads(body)["schema"]["properties"]["fetchNews"]["default"] == "false"
