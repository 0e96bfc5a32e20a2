"""Fixtures for the browser tests: one JupyterLab server and one headless
Chromium per test session, a fresh browser context (page) per test.

The server serves a temporary directory, `jlab_root`, holding a copy of
notebooks/ (autosave would otherwise write into the real notebooks); a test
may add its own notebooks there (see test_harness_selftest.py).

Outside CI a missing Chromium or Playwright skips these tests with a reason;
with CI=true it is a failure, so CI cannot pass without running them.

No server outlives the run: SIGTERM, SIGHUP and SIGINT stop every server's
process group at once and end the session (jlab.install_signal_handlers),
fixtures stop theirs in ``finally``, and an atexit hook catches the rest.
"""

import os
import shutil
from pathlib import Path

import pytest
from jlab import (
    CHROMIUM,
    CHROMIUM_ARGS,
    JupyterLab,
    install_signal_handlers,
    save_screenshot,
)

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _unavailable(reason):
    if IN_CI:
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_configure(config):
    """SIGTERM, SIGHUP or SIGINT stop every JupyterLab process group started
    by these tests at once, then end the session (see jlab.py)."""
    install_signal_handlers()


def pytest_collection_modifyitems(items):
    """Run the browser tests last: the slowest, and the Playwright event loop
    then lives only at the end of the session."""
    here = Path(__file__).parent
    items.sort(key=lambda item: here in Path(str(item.path)).parents)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def jlab_root(tmp_path_factory):
    """The directory the server serves: notebooks/ copied in, as notebooks/."""
    root = tmp_path_factory.mktemp("jlab-root")
    if NOTEBOOKS.is_dir():
        shutil.copytree(NOTEBOOKS, root / "notebooks",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return root


@pytest.fixture(scope="session")
def playwright_browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        _unavailable(f"the playwright package is not installed ({exc})")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"{CHROMIUM} not found (apt-get install -y chromium)")
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Error as exc:
        pw.stop()
        _unavailable(f"Chromium would not start: {exc}")
    yield browser
    browser.close()
    pw.stop()


@pytest.fixture(scope="session")
def jlab_server(playwright_browser, jlab_root, tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving `jlab_root`, killed at the end."""
    server = JupyterLab(jlab_root, tmp_path_factory.mktemp("jlab-state"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(playwright_browser, jlab_server, request):
    """A new browser context and page; a screenshot in browser-artifacts/ if
    the test fails; every kernel shut down afterwards."""
    context = playwright_browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        path = save_screenshot(pg, request.node.nodeid)
        if path:
            print(f"screenshot: {path}")
        print(f"--- JupyterLab log (tail) ---\n{jlab_server.log(2000)}")
    context.close()
    jlab_server.shutdown_kernels()
