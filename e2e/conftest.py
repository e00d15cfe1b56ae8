"""End-to-end fixtures: one built site, served by build.py's server (and by Debian's nginx with deploy/nginx.conf
when nginx is installed), one headless Chromium for the whole session, a fresh browser context per test.

Environment:
  E2E_SITE_DIR   reuse an already built folder instead of running ``python build.py --out <tmp>``
  E2E_BASE_URL   test a running server instead (nginx tests are then skipped)
  E2E_CHROMIUM   browser binary (default /usr/bin/chromium)
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "engine"))

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
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
def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server at {url} did not answer")
        time.sleep(0.1)


def load_build_module():
    spec = importlib.util.spec_from_file_location("vram_build", ROOT / "build.py")
    if spec is None or spec.loader is None:
        pytest.skip("build.py is missing")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["vram_build"] = mod
    spec.loader.exec_module(mod)
    return mod


def site_is_fresh(out: Path) -> bool:
    """A built folder newer than every input of the build (site/, engine/, data/, build.py, the npm lock)."""
    index = out / "index.html"
    if not index.is_file() or not (out / "health.json").is_file():
        return False
    built = index.stat().st_mtime
    inputs = [ROOT / "build.py", ROOT / "package-lock.json", ROOT / "pyproject.toml"]
    for folder in ("site", "engine", "data"):
        inputs += [p for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return all(p.stat().st_mtime <= built for p in inputs if p.exists())


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
def base_url(site_dir_or_none) -> str:
    given = os.environ.get("E2E_BASE_URL")
    if given:
        return given.rstrip("/") + "/"
    site = site_dir_or_none
    build = load_build_module()
    port = free_port()
    server = build.make_server(site, port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/"
    wait_http(url)
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def site_dir_or_none(request):
    if os.environ.get("E2E_BASE_URL"):
        return None
    return request.getfixturevalue("site_dir")


@pytest.fixture(scope="session")
def nginx_url(site_dir_or_none) -> Iterator[str]:
    """The same folder behind Debian's nginx with deploy/nginx.conf (foreground, temp prefix, free port)."""
    if site_dir_or_none is None:
        pytest.skip("E2E_BASE_URL given: no local folder for nginx")
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not nginx:
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    conf_src = ROOT / "deploy" / "nginx.conf"
    if not conf_src.is_file():
        pytest.skip("deploy/nginx.conf is missing")
    port = free_port()
    prefix = Path(tempfile.mkdtemp(prefix="e2e-nginx-"))
    for d in ("logs", "tmp", "conf"):
        (prefix / d).mkdir()
    conf = adapt_nginx_conf(conf_src.read_text(), site_dir_or_none, port, prefix)
    conf_path = prefix / "conf" / "nginx.conf"
    conf_path.write_text(conf)
    test = subprocess.run(
        [nginx, "-t", "-p", str(prefix), "-c", str(conf_path)], capture_output=True, text=True
    )
    if test.returncode != 0:
        pytest.fail(f"nginx -t failed:\n{test.stderr}\n--- config ---\n{conf}")
    proc = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(conf_path), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http(url)
    except RuntimeError:
        proc.kill()
        pytest.fail(f"nginx did not start: {proc.stderr.read().decode(errors='replace')[-2000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(prefix, ignore_errors=True)


def adapt_nginx_conf(text: str, root: Path, port: int, prefix: Path) -> str:
    """Make deploy/nginx.conf runnable unprivileged: our port and root, temp paths, no user switch.

    deploy/nginx.conf may be a full nginx.conf (with `http {}`) or a `server {}` block for conf.d; both work.
    """
    import re

    mime = next((p for p in ("/etc/nginx/mime.types",) if Path(p).exists()), None)
    text = re.sub(r"^\s*user\s+[^;]+;", "", text, flags=re.M)
    text = re.sub(r"^\s*pid\s+[^;]+;", "", text, flags=re.M)
    text = re.sub(r"^\s*(error_log|access_log)\s+[^;]+;", "", text, flags=re.M)
    text = re.sub(r"^\s*\w+_temp_path\s+[^;]+;", "", text, flags=re.M)
    text = re.sub(
        r"listen\s+(\[::\]:)?\d+[^;]*;", lambda m: "" if m.group(1) else f"listen 127.0.0.1:{port};", text
    )
    text = re.sub(r"^\s*root\s+[^;]+;", f"    root {root};", text, flags=re.M)
    text = re.sub(r"include\s+/etc/nginx/mime\.types;", f"include {mime};" if mime else "", text)
    temps = (
        f"client_body_temp_path {prefix}/tmp/body; proxy_temp_path {prefix}/tmp/proxy; "
        f"fastcgi_temp_path {prefix}/tmp/fastcgi; uwsgi_temp_path {prefix}/tmp/uwsgi; scgi_temp_path {prefix}/tmp/scgi;"
    )
    head = f"pid {prefix}/nginx.pid; error_log {prefix}/logs/error.log warn;\n"
    if re.search(r"^\s*http\s*\{", text, flags=re.M):
        text = re.sub(
            r"^(\s*http\s*\{)",
            lambda m: f"{m.group(1)}\n    access_log off; {temps}",
            text,
            count=1,
            flags=re.M,
        )
        if "events" not in text:
            head += "events {}\n"
        return head + text
    # A bare server block.
    return (
        head
        + "events {}\nhttp {\n"
        + (f"include {mime};\n" if mime else "")
        + f"access_log off; {temps}\n{text}\n}}\n"
    )


# ------------------------------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Session:
    """A browser context + page with every request URL and page error recorded."""

    def __init__(self, browser, base_url: str, **context_args):
        self.base_url = base_url
        self.context = browser.new_context(**context_args)
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.console_errors: list[str] = []
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.page = self.new_page()

    def new_page(self):
        page = self.context.new_page()
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("dialog", lambda d: d.accept())
        page.set_default_timeout(CALC_TIMEOUT_MS)
        return page

    def off_origin(self) -> list[str]:
        origin = urlsplit(self.base_url)[:2]
        return [
            u for u in self.requests if not u.startswith(("data:", "blob:")) and urlsplit(u)[:2] != origin
        ]

    def close(self):
        self.context.close()


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


def shown_total(page) -> int:
    return int(page.get_attribute("[data-testid=total-value]", "data-total-bytes"))


def open_app(page, url: str, *, ready: bool = True) -> None:
    page.goto(url)
    page.wait_for_selector("html[data-app-ready='1']")
    if ready:
        wait_engine_ready(page)
        wait_live(page)


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
