"""Drive JupyterLab in headless Chromium: a server and page helpers.

Reusable by any browser test (tests/browser/conftest.py wires the fixtures).
Facts behind the choices are in shared/notes/jupyter-browser.md: --allow-root
as root, news toast off, per-run workspaces, jupyter-lsp autodetect off, a
temporary copy of the notebooks (autosave writes outputs), a new process
session killed as a group, and the Run menu rather than the command palette.

Every server (and any process a test starts with ``start_new_session=True``
and registers with :func:`track`) is stopped as a whole process group on
every exit path: normally by ``JupyterLab.stop()``, on an exception by the
fixtures' ``finally``, at interpreter exit by an ``atexit`` hook, and on
SIGTERM, SIGHUP or SIGINT by :func:`install_signal_handlers` (the browser
conftest installs it), which stops them at once and then raises
:class:`Terminated` so pytest unwinds and reports.

Selectors checked with JupyterLab 4.6 and ipywidgets 8.1.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("CONTIG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(
    os.environ.get("BROWSER_ARTIFACTS", Path(__file__).resolve().parents[2] / "browser-artifacts")
)
# JupyterLab 4.6 renders an error output with data-mime-type
# "application/vnd.jupyter.stderr", exactly like a stderr stream, so
# '[data-mime-type="application/vnd.jupyter.error"]' matches nothing there.
# error_outputs() reads the notebook model instead (the server exposes the app
# as window.jupyterapp) and checks Output widgets' DOM for tracebacks.
ERROR_SELECTOR = '[data-mime-type="application/vnd.jupyter.error"]'
STDERR_SELECTOR = '[data-mime-type="application/vnd.jupyter.stderr"]'
# The notebook panel in front (other panels stay in the DOM, hidden).
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"

# User settings seeded into every server (JSON5 files, one per plugin).
SETTINGS = {
    # No "would you like to receive news" toast (trap 2).
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # Keep every cell in the DOM, so off-screen errors are seen too.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


# ---------------------------------------------------------------- process groups

#: Process-group leaders started in their own session, by pid: stopped by
#: stop_all() at exit and on a signal.
_LIVE: dict[int, subprocess.Popen] = {}


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM or SIGHUP, after every tracked
    process group was stopped; a KeyboardInterrupt, so pytest stops the
    session, runs the finalizers and reports "interrupted"."""


def track(proc: subprocess.Popen) -> subprocess.Popen:
    """Register `proc`, started with start_new_session=True, for stop_all()."""
    _LIVE[proc.pid] = proc
    return proc


def stop_process_group(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM the process group led by `proc`, wait up to `timeout` s, then
    SIGKILL the group (whatever is left in it, e.g. kernels), and reap."""
    try:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    finally:
        _LIVE.pop(proc.pid, None)


def stop_all() -> None:
    """Stop every tracked process group (atexit, signal handlers)."""
    for proc in list(_LIVE.values()):
        stop_process_group(proc)


atexit.register(stop_all)

_handled: set[int] = set()


def _on_signal(signum: int, frame) -> None:
    first = signum not in _handled
    _handled.add(signum)
    stop_all()
    if first:
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(f"{signal.Signals(signum).name}: stopped the JupyterLab servers")


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP (and SIGINT, unless it is ignored, as in a
    background job of a script) stop every tracked process group at once,
    then raise in the main thread (Terminated, or KeyboardInterrupt for
    SIGINT) so finalizers run.  Idempotent; main thread only."""
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        current = signal.getsignal(sig)
        if current is signal.SIG_IGN or current is _on_signal:
            continue
        if sig == signal.SIGINT and current is not signal.default_int_handler:
            continue  # someone else's SIGINT handler: keep it
        signal.signal(sig, _on_signal)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def home_env(base: Path) -> dict[str, str]:
    """Environment variables that keep Jupyter, IPython and matplotlib out of $HOME."""
    dirs = {
        "JUPYTER_CONFIG_DIR": "jupyter-config",
        "JUPYTER_DATA_DIR": "jupyter-data",
        "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
        "IPYTHONDIR": "ipython",
        "MPLCONFIGDIR": "matplotlib",
        "XDG_CONFIG_HOME": "xdg-config",
        "XDG_CACHE_HOME": "xdg-cache",
    }
    env = {key: str(base / name) for key, name in dirs.items()}
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


class JupyterLab:
    """A JupyterLab server on 127.0.0.1 serving `root`, with a token.

    `start()` returns once /api/status answers; `stop()` kills the whole
    process group. Everything the server writes (settings, workspaces,
    runtime files, kernels' IPython and matplotlib dirs) goes under `state`.
    """

    #: the server started last (the default for open_notebook)
    current: JupyterLab | None = None

    def __init__(self, root: Path, state: Path | None = None, *, startup_timeout: float = 90):
        self.root = Path(root)
        self.state = Path(state or tempfile.mkdtemp(prefix="contig-jlab-"))
        self.startup_timeout = startup_timeout
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.state / "jupyterlab.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def command(self) -> list[str]:
        settings = self.state / "user-settings"
        for plugin, values in SETTINGS.items():
            path = settings / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values, indent=2))
        workspaces = self.state / "workspaces"
        workspaces.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={workspaces}",
            # window.jupyterapp, so error_outputs() can read the notebook model
            "--LabApp.expose_app_in_browser=True",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        if importlib.util.find_spec("jupyter_lsp") is not None:
            cmd.append("--LanguageServerManager.autodetect=False")
        return cmd

    def start(self) -> JupyterLab:
        env = dict(os.environ)
        env.update(home_env(self.state / "home"))
        env["JUPYTER_TOKEN"] = self.token  # not on the command line, where ps shows it
        with open(self.log_path, "wb") as log:
            self.proc = track(subprocess.Popen(
                self.command(), cwd=self.root, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            ))
        try:
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n"
                                       f"{self.log()}")
                try:
                    with urllib.request.urlopen(self.url("api/status"), timeout=5) as resp:
                        if resp.status == 200:
                            JupyterLab.current = self
                            return self
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                time.sleep(0.3)
            raise RuntimeError(f"JupyterLab did not answer in {self.startup_timeout} s:\n"
                               f"{self.log()}")
        except BaseException:  # also Ctrl-C or SIGTERM while waiting
            self.stop()
            raise

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def api(self, method: str, path: str):
        req = urllib.request.Request(self.url(f"api/{path}"), method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Shut every kernel down (between tests: memory stays low)."""
        with contextlib.suppress(Exception):
            for session in self.api("GET", "sessions"):
                self.api("DELETE", f"sessions/{session['id']}")
            for kernel in self.api("GET", "kernels"):
                self.api("DELETE", f"kernels/{kernel['id']}")

    def stop(self) -> None:
        if self.proc is None:
            return
        # SIGTERM: the server shuts its kernels down; then SIGKILL whatever
        # is left in the group.
        stop_process_group(self.proc)
        self.proc = None
        if JupyterLab.current is self:
            JupyterLab.current = None

    def __enter__(self) -> JupyterLab:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------- page helpers

_workspace_counter = 0


def open_notebook(page, name: str, *, server: JupyterLab | None = None,
                  timeout: float = 60) -> None:
    """Open notebook `name` (a path relative to the server root) in a fresh
    workspace, and wait until its kernel is idle. `server` defaults to the
    JupyterLab started last."""
    global _workspace_counter
    _workspace_counter += 1
    server = server or JupyterLab.current
    if server is None:
        raise RuntimeError("no JupyterLab server started")
    page.goto(server.url(f"lab/workspaces/t{_workspace_counter}/tree/{name}"))
    page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=timeout * 1000)
    page.wait_for_selector("#jp-main-statusbar >> text=Idle", timeout=timeout * 1000)


def write_notebook(root: Path, name: str, cells: list) -> str:
    """Write a notebook of nbformat `cells` to `root/name` with the python3 kernel;
    return `name`, the path `open_notebook` takes."""
    import nbformat
    from nbformat.v4 import new_notebook

    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    path = Path(root) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return name


def run_notebook(page, name: str, timeout: float = 120) -> dict:
    """Open notebook `name`, run all its cells, wait until idle; the final state."""
    open_notebook(page, name)
    run_all_cells(page)
    return wait_idle(page, timeout=timeout)


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def run_all_cells(page) -> None:
    """Clear all outputs, then Run > Run All Cells (the robust route, trap 6).

    Clearing first makes every prompt `[ ]:`, so wait_idle can tell a cell
    that ran in this session from one that only shows its stored count.
    """
    page.locator(NOTEBOOK).first.click(position={"x": 5, "y": 5})
    _menu(page, "Edit", "Clear Outputs of All Cells")
    _menu(page, "Run", "Run All Cells")


_STATE_JS = """(sel) => {
    const cells = [...document.querySelectorAll(sel + ' .jp-Cell')];
    let pending = 0, unrun = 0;
    for (const cell of cells) {
        if (!cell.classList.contains('jp-CodeCell')) continue;
        const prompt = (cell.querySelector('.jp-InputPrompt') || {}).textContent || '';
        const source = (cell.querySelector('.jp-InputArea-editor') || {}).textContent || '';
        if (prompt.includes('*')) pending++;
        else if (!/\\d/.test(prompt) && source.trim() !== '') unrun++;
    }
    const status = (document.querySelector('#jp-main-statusbar') || {}).textContent || '';
    return {cells: cells.length, pending, unrun, idle: /Idle/.test(status)};
}"""


def notebook_state(page) -> dict:
    """Counts of code cells queued (`[*]`) and not yet run, and kernel idleness."""
    return page.evaluate(_STATE_JS, NOTEBOOK)


def wait_idle(page, timeout: float = 120, settle: float = 1.0) -> dict:
    """Wait until the kernel is idle and no cell is queued, for `settle` s.

    Done means every non-empty code cell shows an execution count, or an
    error output stopped the run. Raises TimeoutError with the last state.
    """
    deadline = time.monotonic() + timeout
    quiet_since = None
    state = {}
    while time.monotonic() < deadline:
        state = notebook_state(page)
        done = state["idle"] and not state["pending"] and (
            not state["unrun"] or error_outputs(page)
        )
        if done:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle:
                return state
        else:
            quiet_since = None
        page.wait_for_timeout(100)
    raise TimeoutError(f"notebook not idle after {timeout} s: {state}")


_ERRORS_JS = """([sel, errSel, stderrSel]) => {
    const found = [];
    const cells = [...document.querySelectorAll(sel + ' .jp-Cell')];
    // 1. Error outputs of the cells, from the notebook model (exact).
    const app = window.jupyterapp;
    const panel = app && app.shell.currentWidget;
    const widgets = panel && panel.content && panel.content.widgets;
    const fromModel = !!widgets;
    if (fromModel) {
        widgets.forEach((cell, i) => {
            if (cell.model.type !== 'code') return;
            for (const o of cell.model.outputs.toJSON()) {
                if (o.output_type === 'error') {
                    found.push([i, (o.traceback || []).join('\\n') || o.ename + ': ' + o.evalue]);
                }
            }
        });
    }
    // 2. Tracebacks on the page: inside Output widgets (callback errors), or
    //    anywhere if the model could not be read.
    cells.forEach((cell, i) => {
        const scope = fromModel ? '.widget-output ' : '';
        for (const e of cell.querySelectorAll(scope + errSel + ', ' + scope + stderrSel)) {
            const text = e.innerText;
            if (e.matches(errSel) || /Traceback|^\\w*(Error|Exception)\\b/m.test(text)) {
                found.push([i, text]);
            }
        }
    });
    return found;
}"""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def error_outputs(page) -> list[tuple[int, str]]:
    """(cell index, traceback text) of every error shown in the notebook in
    front: the cells' error outputs and tracebacks inside Output widgets
    (an exception in a widget callback)."""
    found = page.evaluate(_ERRORS_JS, [NOTEBOOK, ERROR_SELECTOR, STDERR_SELECTOR])
    return [(i, _ANSI.sub("", text)) for i, text in found]


def output_image_srcs(page) -> list[str]:
    """The `src` (a data URI) of every image inside an Output widget."""
    return page.eval_on_selector_all(
        f"{NOTEBOOK} .widget-output img", "els => els.map(e => e.getAttribute('src'))"
    )


def press_slider(page, index: int, key: str = "ArrowRight", times: int = 1) -> None:
    """Focus the `index`-th slider handle (ipywidgets IntSlider and
    IntRangeSlider use noUiSlider; a range slider has two handles) and press
    `key` `times` times."""
    handle = page.locator(f"{NOTEBOOK} .noUi-handle").nth(index)
    handle.focus()
    for _ in range(times):
        handle.press(key)


def slider_value(page, index: int) -> float | None:
    """The value of the `index`-th slider handle (noUiSlider's aria-valuenow, e.g. "5.0")."""
    value = page.locator(f"{NOTEBOOK} .noUi-handle").nth(index).get_attribute("aria-valuenow")
    return None if value is None else float(value)


def widget_text(page, css_class: str, index: int = 0) -> str:
    """Text of the `index`-th element carrying `css_class` (widgets add theirs
    with `widget.add_class("contig-result")`)."""
    return page.locator(f"{NOTEBOOK} .{css_class}").nth(index).inner_text()


def wait_until(predicate, timeout: float = 10, interval: float = 0.1, message: str = ""):
    """Poll `predicate()` until it returns a true value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(message or f"condition not met in {timeout} s")
        time.sleep(interval)


def save_screenshot(page, name: str) -> Path | None:
    """Save a full-page screenshot as browser-artifacts/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") + ".png")
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception:  # the page may be gone; the test's own error matters more
        return None
    return path


@contextlib.contextmanager
def screenshot_on_failure(page, name: str):
    """Context manager: on an exception inside, save a screenshot, re-raise."""
    try:
        yield
    except BaseException:
        save_screenshot(page, name)
        raise
