"""End-to-end fixtures: one built site, served by build.py's server (and by Debian's nginx with deploy/nginx.conf
when nginx is installed), one headless Chromium for the whole session, a fresh browser context per test.

Environment:
  E2E_SITE_DIR   reuse an already built folder instead of running ``python build.py --out <tmp>``
  E2E_BASE_URL   test a running server instead (nginx tests are then skipped)
  E2E_CHROMIUM   browser binary (default /usr/bin/chromium)
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "engine"))
sys.path.insert(0, str(ROOT))

from testsupport.browser import Session as _Session  # noqa: E402
from testsupport.browser import chromium_path, launch_chromium  # noqa: E402
from testsupport.servers import (  # noqa: E402
    NginxError,
    NginxServer,
    SiteServer,
    find_nginx,
    site_is_fresh,
)

CHROMIUM = chromium_path("E2E_CHROMIUM")
ENGINE_BOOT_TIMEOUT_MS = 90_000
CALC_TIMEOUT_MS = 30_000


# ------------------------------------------------------------------------------------------- engine (CPython)
@pytest.fixture(scope="session")
def web_api():
    """The engine's worker API, in-process under CPython: the reference the browser must agree with."""
    try:
        from vram_insight import web_api as api
    except ImportError as exc:  # pragma: no cover - depends on the engine being present
        pytest.skip(f"engine not importable: {exc}")
    return api


def engine_report(web_api, request: dict) -> dict:
    reply = json.loads(web_api.call("report", json.dumps(request)))
    assert reply["ok"], reply
    return reply["result"]


# ------------------------------------------------------------------------------------------- site and servers
@pytest.fixture(scope="session")
def site_dir(tmp_path_factory) -> Path:
    """The built site: E2E_SITE_DIR if given, else one `python build.py --out <tmp>` for the whole session."""
    given = os.environ.get("E2E_SITE_DIR")
    if given:
        path = Path(given).resolve()
        if not (path / "index.html").is_file():
            pytest.fail(f"E2E_SITE_DIR={given} has no index.html")
        return path
    if not (ROOT / "build.py").is_file():
        pytest.skip("build.py is missing")
    if site_is_fresh(ROOT / "_site"):
        return ROOT / "_site"  # `./dev test` has just built it
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "build.py", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        pytest.fail(f"build.py failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return out


@pytest.fixture(scope="session")
def base_url(site_dir_or_none) -> Iterator[str]:
    given = os.environ.get("E2E_BASE_URL")
    if given:
        yield given.rstrip("/") + "/"
        return
    with SiteServer(site_dir_or_none) as server:
        yield server.url


@pytest.fixture(scope="session")
def site_dir_or_none(request):
    if os.environ.get("E2E_BASE_URL"):
        return None
    return request.getfixturevalue("site_dir")


def start_nginx(site: Path | None, include_files: dict[str, str] | None = None) -> NginxServer:
    """The built folder behind Debian's nginx with deploy/nginx.conf (skips without nginx or a local folder)."""
    if site is None:
        pytest.skip("E2E_BASE_URL given: no local folder for nginx")
    if find_nginx() is None:
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    try:
        return NginxServer(site, include_files=include_files)
    except NginxError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def nginx_url(site_dir_or_none) -> Iterator[str]:
    """The same folder behind Debian's nginx with deploy/nginx.conf (foreground, temp prefix, free port)."""
    with start_nginx(site_dir_or_none) as server:
        yield server.url


# ------------------------------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium)")
    with sync_api.sync_playwright() as p:
        b = launch_chromium(p, CHROMIUM)
        yield b
        b.close()


class Session(_Session):
    """testsupport's recording Session with the end-to-end tests' default timeout."""

    def __init__(self, browser, base_url: str, **context_args):
        super().__init__(browser, base_url, default_timeout_ms=CALC_TIMEOUT_MS, **context_args)


@pytest.fixture(scope="module")
def app(browser, base_url) -> Iterator[Session]:
    """One desktop page, booted once per test module and shared by its tests that only change inputs (the engine
    boot costs seconds). Every request it makes is recorded (Session.requests)."""
    s = Session(browser, base_url, viewport={"width": 1280, "height": 900}, locale="en-US")
    open_app(s.page, base_url)
    yield s
    s.close()


@pytest.fixture
def session(browser, base_url) -> Iterator[Session]:
    s = Session(browser, base_url, viewport={"width": 1280, "height": 900}, locale="en-US")
    yield s
    s.close()


# ------------------------------------------------------------------------------------------- page helpers
def wait_engine_ready(page) -> None:
    page.wait_for_selector("[data-testid=engine-status][data-state=ready]", timeout=ENGINE_BOOT_TIMEOUT_MS)


def wait_live(page) -> None:
    """Wait until the result panel shows a result the engine computed for the current inputs."""
    page.wait_for_selector("[data-testid=result-status][data-status=live]", timeout=CALC_TIMEOUT_MS)


def to_defaults(page) -> None:
    """Back to the default inputs the way a user would: by opening a share link of the defaults."""
    page.evaluate("() => { location.hash = ''; }")
    page.evaluate("() => { location.hash = '#v1.e30'; }")
    wait_engine_ready(page)
    wait_live(page)


def run_cli(*argv: str) -> tuple[int, str, str]:
    """The ``vram`` CLI in-process: (exit code, stdout, stderr)."""
    from vram_insight.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def shown_total(page) -> int:
    return int(page.get_attribute("[data-testid=total-value]", "data-total-bytes"))


def open_app(page, url: str, *, ready: bool = True) -> None:
    page.goto(url)
    page.wait_for_selector("html[data-app-ready='1']")
    if ready:
        wait_engine_ready(page)
        wait_live(page)


def open_app_controlled(page, url: str) -> None:
    """Open the app and reload until its service worker controls the page (it claims clients on activation, but a
    page opened before that is not controlled until a reload)."""
    open_app(page, url)
    assert page.evaluate("async () => { await navigator.serviceWorker.ready; return true; }")
    for _ in range(3):
        if page.evaluate("() => !!navigator.serviceWorker.controller"):
            break
        page.reload()
        page.wait_for_selector("html[data-app-ready='1']")
    assert page.evaluate("() => !!navigator.serviceWorker.controller"), (
        "service worker never controlled the page"
    )


def address_state(page) -> dict | None:
    """The inputs the page's address holds (its #v1… fragment decoded by the app's own share.js), or None."""
    return page.evaluate(
        "async () => (await import('./app/share.js')).decodeFragment(location.hash.slice(1))"
    )


def wait_for_address(page, check, timeout_s: float = 10.0) -> dict | None:
    """Poll until ``check(address_state(page))`` holds (the address is written a moment after an input changes)."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = address_state(page)
        if check(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"the address never held the expected inputs; it holds {state}")
        page.wait_for_timeout(100)
