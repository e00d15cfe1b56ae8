#!/usr/bin/env python3
"""VRAM Insight benchmarks: one command, a JSON + Markdown report with the issue's targets marked pass/fail.

    python bench/run.py [--quick] [--site DIR] [--rounds N] [--no-browser] [--pyscript | --no-pyscript]

1. CPython engine (bench/bench_engine.py): import time, one estimate (median/p95), one report, the full catalog
   sweep, `vram estimate` CLI wall time.
2. Browser (Playwright + Debian's Chromium, the built site served by build.py's own server on localhost), in
   alternating rounds so that a noisy machine hits every variant alike:
   - the app, cache cleared (a fresh browser context): time to the pre-rendered result on screen, time to engine
     ready, bytes transferred (CDP encodedDataLength of the page, its workers and the service worker, and the
     bytes the server wrote, headers included), the worker's boot phases and wasm heap size;
   - the app again in that context (warm: service worker + HTTP cache) and offline (network off);
   - the baseline: a bare Pyodide + pydantic page (stock Pyodide runtime files and the PyPI wheels, unmodified,
     no engine) served by the same server, so the report can state engine ready / baseline, a ratio that does
     not depend on how fast the machine was that day;
   - with --pyscript (default unless --quick): the engine alone in the shipped plain module worker vs. a PyScript
     ``PyWorker`` (both without the UI; both with the CSP bypassed, because PyScript cannot run under the site's
     CSP; that failure is recorded too).
   Then, once: recalculation latency over 50 input changes, from the input event to the new numbers on screen,
   and the engine round trip alone.

The site is copied into a temporary folder (bench pages are added under ``_bench/``); without --site, a fresh
``_site`` is used if it is newer than every build input, else the bench builds one. Results go to
bench/results/report.json and report.md; the Markdown is printed. Not part of CI: timings need a quiet machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testsupport.browser import chromium_path, launch_chromium, record_page_errors  # noqa: E402
from testsupport.servers import SiteServer, load_build, site_is_fresh  # noqa: E402

BENCH = ROOT / "bench"
PAGES = BENCH / "pages"
RESULTS = BENCH / "results"
CHROMIUM = chromium_path("BENCH_CHROMIUM")
BOOT_TIMEOUT_S = 120.0
MB = 10**6

# The targets (issue 5). "value" keys point into the report's "summary".
TARGETS: list[dict[str, Any]] = [
    {
        "id": "result_visible",
        "what": "pre-rendered result visible (cold, localhost)",
        "max": 300,
        "unit": "ms",
    },
    {
        "id": "engine_ratio",
        "what": "engine ready / bare Pyodide + pydantic (same run)",
        "max": 0.6,
        "unit": "x",
    },
    {
        "id": "recalc_p50",
        "what": "recalculation p50 (input change → numbers on screen)",
        "max": 30,
        "unit": "ms",
    },
    {
        "id": "recalc_p95",
        "what": "recalculation p95 (input change → numbers on screen)",
        "max": 100,
        "unit": "ms",
    },
    {"id": "first_visit_bytes", "what": "first visit transferred (compressed)", "max": 6 * MB, "unit": "B"},
    {"id": "repeat_visit_bytes", "what": "repeat visit transferred", "max": 0, "unit": "B"},
    {"id": "cli_wall", "what": "`vram estimate` wall time", "max": 500, "unit": "ms"},
    {"id": "one_estimate", "what": "one estimate in CPython (median)", "max": 1.0, "unit": "ms"},
    {"id": "full_sweep", "what": "full catalog × modes × GPUs sweep", "max": 1000, "unit": "ms"},
]


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def stats(samples: list[float | int | None]) -> dict[str, Any]:
    xs = sorted(float(x) for x in samples if x is not None)
    if not xs:
        return {"n": 0, "median": None, "p95": None, "min": None, "max": None, "samples": []}
    p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
    return {
        "n": len(xs),
        "median": round(statistics.median(xs), 1),
        "p95": round(p95, 1),
        "min": round(xs[0], 1),
        "max": round(xs[-1], 1),
        "samples": [round(float(x), 1) if x is not None else None for x in samples],
    }


# ============================================================================================ CPython engine
def bench_cpython(quick: bool) -> dict[str, Any]:
    log("CPython engine (bench/bench_engine.py)")
    cmd = [sys.executable, str(BENCH / "bench_engine.py"), *(["--quick"] if quick else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout)[-2000:]}
    return json.loads(proc.stdout)


# ============================================================================================ the site
def prepare_site(given: str | None, work: Path) -> tuple[Path, str]:
    """A private copy of the built site to serve (the bench adds pages to it)."""
    dst = work / "site"
    if given:
        src, how = Path(given).resolve(), f"--site {given}"
        if not (src / "index.html").is_file():
            raise SystemExit(f"bench: {given} has no index.html (build it: python build.py --out {given})")
    elif site_is_fresh(ROOT / "_site"):
        src, how = ROOT / "_site", "_site (fresh)"
    else:
        log("building the site (python build.py) — _site is missing or older than its inputs")
        proc = subprocess.run(
            [sys.executable, "build.py", "--out", str(dst)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"bench: build.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return dst, "built by the bench"
    shutil.copytree(src, dst)
    return dst, how


def runtime_block(site: Path) -> dict[str, Any]:
    import re

    text = (site / "engine" / "engine-client.js").read_text(encoding="utf-8")
    m = re.search(r"/\*build:runtime\*/(.*?)/\*end:runtime\*/", text, re.S)
    if not m:
        raise SystemExit("bench: engine-client.js has no build:runtime block")
    return json.loads(m.group(1))


def add_bench_pages(site: Path, build: Any) -> dict[str, Any]:
    """Copy bench/pages into <site>/_bench and give the baseline the stock runtime and the PyPI wheels."""
    dst = site / "_bench"
    shutil.copytree(PAGES, dst)
    runtime = runtime_block(site)
    page = dst / "worker-pyscript" / "page.js"
    page.write_text(
        page.read_text(encoding="utf-8")
        .replace("__RUNTIME__", json.dumps(runtime))
        .replace("__PYSCRIPT__", build.PYSCRIPT_DIR),
        encoding="utf-8",
    )
    # Baseline: Pyodide's npm files as published (full stdlib, .py sources) + the pinned PyPI wheels untouched.
    modules = build.npm_install()
    stock = dst / "baseline" / "pyodide"
    stock.mkdir(parents=True)
    for name in build.PYODIDE_CORE_FILES:
        shutil.copyfile(modules / "pyodide" / name, stock / name)
    base_lock = json.loads((modules / "pyodide" / "pyodide-lock.json").read_text())
    wheels = []
    for path in build.fetch_pinned_wheels():
        shutil.copyfile(path, stock / path.name)
        info = build.read_wheel(stock / path.name)
        info.sha256 = build.sha256_file(path)
        wheels.append(info)
    (stock / "pyodide-lock.json").write_text(json.dumps(build.build_lock(base_lock, wheels)))
    # Precompressed like the site (same server, same encodings), so only the files differ.
    brotli = build.ensure_host_module("brotli", build.HOST_BROTLI, required=False)
    comp = build.Compressor(build.CACHE / "compressed", brotli)
    for f in sorted(stock.iterdir()):
        data = f.read_bytes()
        for ext, blob in ((".gz", comp.gz(data)), (".br", comp.br(data))):
            if blob is not None and len(blob) < len(data) * 0.95:
                (f.parent / (f.name + ext)).write_bytes(blob)
    return runtime


class ByteCounter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total = 0
        self.by_path: dict[str, int] = {}

    def add(self, path: str, n: int) -> None:
        with self.lock:
            self.total += n
            self.by_path[path] = self.by_path.get(path, 0) + n

    def reset(self) -> None:
        with self.lock:
            self.total = 0
            self.by_path = {}

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"total": self.total, "by_path": dict(self.by_path)}


class _CountingWriter:
    def __init__(self, raw: Any, counter: ByteCounter, handler: Any) -> None:
        self.raw, self.counter, self.handler = raw, counter, handler

    def write(self, data: bytes) -> int:
        n = self.raw.write(data)
        path = getattr(self.handler, "path", "?").split("?")[0]
        self.counter.add(path, len(data))
        return n

    def flush(self) -> None:
        self.raw.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def start_server(build: Any, site: Path, counter: ByteCounter) -> SiteServer:
    """build.py's server (same headers, CSP, encodings, caching), counting the bytes it writes."""

    def setup(self: Any) -> None:
        build.SiteHandler.setup(self)
        self.wfile = _CountingWriter(self.wfile, counter, self)

    # closed contexts reset connections: not news (quiet_errors)
    return SiteServer(
        site,
        build=build,
        wrap_handler=lambda base: type("CountingHandler", (base,), {"setup": setup}),
        quiet_errors=True,
    )


# ============================================================================================ browser
# Recorded from navigation start in every page (injected by CDP, so the page's CSP does not apply).
MARKS_JS = """
(() => {
  if (window.__marks) return;
  const m = (window.__marks = { fcp: null, result_dom: null, engine_pill: null });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (e.name === "first-contentful-paint") m.fcp = e.startTime;
    }).observe({ type: "paint", buffered: true });
  } catch (e) {}
  const sel = "[data-testid=prerendered-total-gb],[data-testid=total-value]";
  const check = () => {
    if (m.result_dom === null && document.querySelector(sel)) m.result_dom = performance.now();
    if (m.engine_pill === null && document.querySelector("[data-testid=engine-status][data-state=ready]"))
      m.engine_pill = performance.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true });
})();
"""

RECALC_JS = """
async ({ n, field, start }) => {
  const input = document.querySelector(`[data-testid=input-${field}]`);
  const app = window.__vramApp;
  const shown = () => document.querySelector("[data-testid=total-value]")?.dataset.totalBytes;
  const live = () => document.querySelector("[data-testid=result-status]")?.dataset.status === "live";
  const nextFrame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(() => r(performance.now()), 0)));
  const out = { ui: [], dom: [], live: [], engine: [], python: [], direct: [], direct_python: [] };
  const waitFor = (cond) =>
    new Promise((resolve) => {
      if (cond()) { resolve(performance.now()); return; }
      const mo = new MutationObserver(() => {
        if (cond()) { mo.disconnect(); resolve(performance.now()); }
      });
      mo.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
      setTimeout(() => { mo.disconnect(); resolve(null); }, 15000);
    });
  for (let i = 0; i < n; i++) {
    const before = shown();
    // "Numbers on screen": the total shown changes (the UI's first stage); "live": the full report is in.
    const numbers = waitFor(() => shown() !== before);
    const full = waitFor(() => live() && shown() !== before);
    const t0 = performance.now();
    input.value = String(start + 96 * i);
    input.dispatchEvent(new Event("input", { bubbles: true }));
    const tDom = await numbers;
    const tFrame = await nextFrame();
    out.dom.push(tDom === null ? null : tDom - t0);
    out.ui.push(tDom === null ? null : tFrame - t0);
    out.engine.push(app.perf.last);
    out.python.push(app.engine.stats.last_engine_ms);
    const tLive = await full;
    out.live.push(tLive === null ? null : tLive - t0);
    await new Promise((r) => setTimeout(r, 30));
  }
  // The engine alone: the same report request straight to the worker (no debounce, no rendering).
  const req = { ...app.reportRequest };
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await app.engine.call("report", { ...req, seq_len: start + 96 * i });
    out.direct.push(performance.now() - t0);
    out.direct_python.push(app.engine.stats.last_engine_ms);
  }
  return out;
}
"""


class CdpBytes:
    """encodedDataLength of every request of a page, its dedicated workers and its service worker (CDP
    auto-attach, non-flattened, so that one Playwright CDP session reaches the child targets)."""

    def __init__(self, context: Any, page: Any) -> None:
        self.cdp = context.new_cdp_session(page)
        self.urls: dict[tuple[str, str], str] = {}
        self.sizes: dict[tuple[str, str], int] = {}
        self.from_cache: set[tuple[str, str]] = set()
        self._id = 10_000
        self.cdp.on("Network.requestWillBeSent", lambda e: self._req(e, "page"))
        self.cdp.on("Network.responseReceived", lambda e: self._resp(e, "page"))
        self.cdp.on("Network.loadingFinished", lambda e: self._fin(e, "page"))
        self.cdp.on("Target.attachedToTarget", self._attached)
        self.cdp.on("Target.receivedMessageFromTarget", self._message)
        self.cdp.send("Network.enable")
        self.cdp.send(
            "Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": False}
        )

    def _req(self, e: dict[str, Any], sid: str) -> None:
        self.urls[(sid, e["requestId"])] = e["request"]["url"]

    def _resp(self, e: dict[str, Any], sid: str) -> None:
        r = e.get("response") or {}
        if r.get("fromServiceWorker") or r.get("fromDiskCache") or r.get("fromPrefetchCache"):
            self.from_cache.add((sid, e["requestId"]))

    def _fin(self, e: dict[str, Any], sid: str) -> None:
        self.sizes[(sid, e["requestId"])] = int(e.get("encodedDataLength") or 0)

    def _send_child(self, sid: str, method: str, params: dict[str, Any] | None = None) -> None:
        self._id += 1
        msg = json.dumps({"id": self._id, "method": method, "params": params or {}})
        with contextlib.suppress(Exception):
            self.cdp.send("Target.sendMessageToTarget", {"sessionId": sid, "message": msg})

    def _attached(self, e: dict[str, Any]) -> None:
        sid = e["sessionId"]
        self._send_child(sid, "Network.enable")
        self._send_child(
            sid,
            "Target.setAutoAttach",
            {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": False},
        )
        self._send_child(sid, "Runtime.runIfWaitingForDebugger")

    def _message(self, e: dict[str, Any]) -> None:
        try:
            m = json.loads(e["message"])
        except (KeyError, ValueError):
            return
        method, sid = m.get("method"), e.get("sessionId", "?")
        if method == "Network.requestWillBeSent":
            self._req(m["params"], sid)
        elif method == "Network.responseReceived":
            self._resp(m["params"], sid)
        elif method == "Network.loadingFinished":
            self._fin(m["params"], sid)

    def reset(self) -> None:
        self.urls.clear()
        self.sizes.clear()
        self.from_cache.clear()

    def summary(self, base_url: str) -> dict[str, Any]:
        per_url: dict[str, int] = {}
        for key, n in self.sizes.items():
            url = self.urls.get(key, "?").removeprefix(base_url)
            per_url[url] = per_url.get(url, 0) + n
        top = sorted(per_url.items(), key=lambda kv: -kv[1])
        return {
            "total": sum(self.sizes.values()),
            "requests": len(self.urls),
            "network_requests": len([k for k in self.urls if k not in self.from_cache]),
            "top": [{"url": u, "bytes": n} for u, n in top[:12] if n],
        }


def poll(page: Any, js: str, timeout_s: float = BOOT_TIMEOUT_S, interval_s: float = 0.05) -> Any:
    """Wait for a truthy ``js`` (a function expression); page.evaluate is not subject to the page's CSP, unlike
    wait_for_function."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(js)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {js[:80]}")
        time.sleep(interval_s)


def app_ready(page: Any) -> dict[str, Any]:
    got = poll(
        page,
        "() => { const a = window.__vramApp; const s = a && a.engine && a.engine.stats;"
        " if (a && a.engineState === 'error') return { error: String(a.engine && a.engine.error) };"
        " return s && s.ready_at_ms !== null && window.__marks && window.__marks.engine_pill !== null"
        " ? { stats: s, marks: window.__marks } : null; }",
    )
    if "error" in got:
        raise RuntimeError(f"engine failed in the app: {got['error']}")
    return got


def page_result(marks: dict[str, Any], stats_: dict[str, Any]) -> dict[str, Any]:
    fcp, dom = marks.get("fcp"), marks.get("result_dom")
    visible = max(fcp, dom) if fcp is not None and dom is not None else None
    timings = stats_.get("timings") or {}
    return {
        "engine_ready_ms": stats_.get("ready_at_ms"),
        "engine_pill_ms": marks.get("engine_pill"),
        "result_visible_ms": visible,
        "fcp_ms": fcp,
        "worker_started_ms": stats_.get("started_at_ms"),
        "timings": {k: round(v, 1) if isinstance(v, float) else v for k, v in timings.items()},
    }


def settle(page: Any, seconds: float = 0.6) -> None:
    """Let trailing requests (service worker precache, prefetches) finish before counting bytes."""
    time.sleep(seconds)


def scenario_app(browser: Any, url: str, counter: ByteCounter, out: dict[str, list[Any]]) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        ctx.add_init_script(MARKS_JS)
        page = ctx.new_page()
        cdp = CdpBytes(ctx, page)
        counter.reset()
        page.goto(url)
        got = app_ready(page)
        cold = page_result(got["marks"], got["stats"])
        poll(page, "() => !!(navigator.serviceWorker && navigator.serviceWorker.controller)", 60)
        settle(page)
        cold["bytes_cdp"] = cdp.summary(url)
        cold["bytes_server"] = counter.snapshot()["total"]
        out["app_cold"].append(cold)

        cdp.reset()
        counter.reset()
        page.reload()
        got = app_ready(page)
        warm = page_result(got["marks"], got["stats"])
        settle(page)
        warm["bytes_cdp"] = cdp.summary(url)
        warm["bytes_server"] = counter.snapshot()
        out["app_warm"].append(warm)

        cdp.reset()
        counter.reset()
        ctx.set_offline(True)
        page.reload()
        got = app_ready(page)
        off = page_result(got["marks"], got["stats"])
        off["bytes_server"] = counter.snapshot()["total"]
        out["app_offline"].append(off)
    finally:
        ctx.close()


def scenario_page(
    browser: Any,
    url: str,
    counter: ByteCounter,
    *,
    bypass_csp: bool = False,
    timeout_s: float = BOOT_TIMEOUT_S,
) -> dict[str, Any]:
    """A bench page that sets window.__bench {type: ready|fatal, ready_at_ms, timings}."""
    ctx = browser.new_context(bypass_csp=bypass_csp)
    try:
        page = ctx.new_page()
        errors = record_page_errors(page)
        cdp = CdpBytes(ctx, page)
        counter.reset()
        page.goto(url)
        res = poll(
            page,
            "() => window.__bench && window.__bench.type ? window.__bench : null",
            timeout_s,
        )
        settle(page, 0.3)
        res["bytes_cdp"] = cdp.summary(url)["total"]
        res["bytes_server"] = counter.snapshot()["total"]
        if errors:
            res["page_errors"] = [e[:300] for e in errors]
        return res
    finally:
        ctx.close()


def scenario_recalc(browser: Any, url: str, n: int) -> dict[str, Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        ctx.add_init_script(MARKS_JS)
        page = ctx.new_page()
        page.goto(url)
        app_ready(page)
        poll(page, "() => document.querySelector('[data-testid=result-status]')?.dataset.status === 'live'")
        time.sleep(1.0)  # let the first calls (catalog, default report) and the SW install finish
        res = page.evaluate(RECALC_JS, {"n": n, "field": "seq_len", "start": 5000})
        debounce = page.evaluate(
            "async () => { const src = await (await fetch(new URL('app/main.js', document.baseURI)))"
            ".text(); const m = src.match(/RECALC_MS\\s*=\\s*(\\d+)/); return m ? Number(m[1]) : null; }"
        )
        return {
            "changes": n,
            "field": "seq_len",
            "ui_debounce_ms": debounce,
            "ui": stats(res["ui"]),
            "dom": stats(res["dom"]),
            "live": stats(res["live"]),
            "engine_call_in_ui": stats(res["engine"]),
            "python_in_ui": stats(res["python"]),
            "engine_call_direct": stats(res["direct"]),
            "python_direct": stats(res["direct_python"]),
            "timeouts": sum(1 for x in res["ui"] if x is None),
        }
    finally:
        ctx.close()


def bench_browser(site: Path, rounds: int, recalc_n: int, with_pyscript: bool) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    build = load_build()
    runtime = add_bench_pages(site, build)
    counter = ByteCounter()
    server = start_server(build, site, counter)
    url = server.url
    out: dict[str, list[Any]] = {
        k: []
        for k in ("app_cold", "app_warm", "app_offline", "baseline_cold", "worker_plain", "worker_pyscript")
    }
    failures: list[str] = []
    pyscript_csp: dict[str, Any] | None = None
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p, CHROMIUM)
            version = browser.version
            variants: list[tuple[str, Any]] = [
                ("app", lambda: scenario_app(browser, url, counter, out)),
                (
                    "baseline_cold",
                    lambda: out["baseline_cold"].append(
                        scenario_page(browser, url + "_bench/baseline/", counter)
                    ),
                ),
            ]
            if with_pyscript:
                variants += [
                    (
                        "worker_plain",
                        lambda: out["worker_plain"].append(
                            scenario_page(browser, url + "_bench/worker-plain/", counter, bypass_csp=True)
                        ),
                    ),
                    (
                        "worker_pyscript",
                        lambda: out["worker_pyscript"].append(
                            scenario_page(browser, url + "_bench/worker-pyscript/", counter, bypass_csp=True)
                        ),
                    ),
                ]
            for r in range(rounds):
                order = variants[r % len(variants) :] + variants[: r % len(variants)]
                log(f"round {r + 1}/{rounds}: " + ", ".join(name for name, _ in order))
                for name, fn in order:
                    try:
                        fn()
                    except Exception as exc:  # keep going: one failed sample must not lose the run
                        failures.append(f"round {r + 1} {name}: {type(exc).__name__}: {str(exc)[:300]}")
                        log(failures[-1])
            if with_pyscript:
                # Under the site's CSP: PyWorker called at once (before PyScript's plugins have loaded) and
                # 300 ms later (after: their hooks are compiled with Function(), which needs 'unsafe-eval').
                log("PyScript worker under the site's CSP")
                pyscript_csp = {}
                for label, suffix in (("at_once", ""), ("after_plugins", "#delay")):
                    try:
                        res = scenario_page(
                            browser, url + "_bench/worker-pyscript/" + suffix, counter, timeout_s=60
                        )
                    except Exception as exc:
                        res = {"type": "fatal", "message": f"{type(exc).__name__}: {exc}"}
                    pyscript_csp[label] = {k: res.get(k) for k in ("type", "message", "ready_at_ms")}
            log(f"recalculation latency ({recalc_n} changes)")
            try:
                recalc = scenario_recalc(browser, url, recalc_n)
            except Exception as exc:
                recalc = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            browser.close()
    finally:
        server.stop()
    return {
        "chromium": version,
        "rounds": rounds,
        "runtime": runtime,
        "raw": out,
        "recalc": recalc,
        "pyscript_under_csp": pyscript_csp,
        "failures": failures,
    }


# ============================================================================================ summary + report
def ready_ms(sample: dict[str, Any]) -> float | None:
    if sample.get("type") not in (None, "ready"):
        return None
    return sample.get("engine_ready_ms", sample.get("ready_at_ms"))


def summarize(cpy: dict[str, Any], br: dict[str, Any] | None) -> dict[str, Any]:
    s: dict[str, Any] = {}
    if "one_estimate" in cpy:
        s["one_estimate"] = cpy["one_estimate"]["median_ms"]
        s["one_report"] = cpy["one_report"]["median_ms"]
        s["full_sweep"] = round(cpy["full_sweep"]["seconds"] * 1000, 1)
        s["cli_wall"] = round(cpy["cli_estimate_wall"]["median_ms"], 1)
        s["import_ms"] = round(cpy["import_vram_insight"]["median_ms"], 1)
    if not br:
        return s
    raw = br["raw"]
    for key in ("app_cold", "app_warm", "app_offline", "baseline_cold", "worker_plain", "worker_pyscript"):
        s[f"{key}_ready"] = stats([ready_ms(x) for x in raw[key]])
    s["result_visible_cold"] = stats([x.get("result_visible_ms") for x in raw["app_cold"]])
    s["result_visible_warm"] = stats([x.get("result_visible_ms") for x in raw["app_warm"]])
    s["result_visible"] = s["result_visible_cold"]["median"]
    engine, base = s["app_cold_ready"]["median"], s["baseline_cold_ready"]["median"]
    s["engine_ratio"] = round(engine / base, 3) if engine and base else None
    pairs = [(ready_ms(a), ready_ms(b)) for a, b in zip(raw["app_cold"], raw["baseline_cold"], strict=False)]
    ratios = [round(a / b, 3) for a, b in pairs if a and b]
    s["engine_ratio_paired"] = {"median": statistics.median(ratios) if ratios else None, "rounds": ratios}
    wp, ws = s["worker_plain_ready"]["median"], s["worker_pyscript_ready"]["median"]
    s["pyscript_vs_plain"] = round(ws / wp, 3) if wp and ws else None
    pair_ps = [
        round(ready_ms(b) / ready_ms(a), 3)
        for a, b in zip(raw["worker_plain"], raw["worker_pyscript"], strict=False)
        if ready_ms(a) and ready_ms(b)
    ]
    s["pyscript_vs_plain_paired"] = {
        "median": statistics.median(pair_ps) if pair_ps else None,
        "rounds": pair_ps,
    }
    cold_bytes = [x["bytes_cdp"]["total"] for x in raw["app_cold"] if "bytes_cdp" in x]
    s["first_visit_bytes"] = int(statistics.median(cold_bytes)) if cold_bytes else None
    s["first_visit_bytes_server"] = (
        int(statistics.median([x["bytes_server"] for x in raw["app_cold"]])) if raw["app_cold"] else None
    )
    warm_bytes = [x["bytes_cdp"]["total"] for x in raw["app_warm"] if "bytes_cdp" in x]
    s["repeat_visit_bytes"] = max(warm_bytes) if warm_bytes else None
    s["repeat_visit_bytes_server"] = (
        max(x["bytes_server"]["total"] for x in raw["app_warm"]) if raw["app_warm"] else None
    )
    s["offline_bytes_server"] = max((x["bytes_server"] for x in raw["app_offline"]), default=None)
    base_bytes = [x.get("bytes_cdp") for x in raw["baseline_cold"] if x.get("bytes_cdp")]
    s["baseline_bytes"] = int(statistics.median(base_bytes)) if base_bytes else None
    heaps = [(x.get("timings") or {}).get("heap_bytes") for x in raw["app_cold"]]
    s["engine_heap_bytes"] = max((h for h in heaps if h), default=None)
    bheaps = [(x.get("timings") or {}).get("heap_bytes") for x in raw["baseline_cold"]]
    s["baseline_heap_bytes"] = max((h for h in bheaps if h), default=None)
    phases = {}
    for key in ("import_ms", "runtime_ms", "pyodide_ms", "import_engine_ms", "total_ms"):
        vals = [(x.get("timings") or {}).get(key) for x in raw["app_cold"]]
        phases[key] = stats(vals)["median"]
    s["worker_phases_cold"] = phases
    s["worker_started_ms"] = stats([x.get("worker_started_ms") for x in raw["app_cold"]])["median"]
    rc = br.get("recalc") or {}
    if "ui" in rc:
        s["recalc_p50"] = rc["ui"]["median"]
        s["recalc_p95"] = rc["ui"]["p95"]
        s["engine_call_p50"] = rc["engine_call_direct"]["median"]
        s["engine_call_p95"] = rc["engine_call_direct"]["p95"]
    return s


def evaluate_targets(s: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for t in TARGETS:
        value = s.get(t["id"])
        rows.append({**t, "value": value, "pass": None if value is None else value <= t["max"]})
    return rows


def fmt_value(v: Any, unit: str) -> str:
    if v is None:
        return "n/a"
    if unit == "B":
        return f"{v / MB:.3f} MB" if v >= 10_000 else f"{v} B"
    if unit == "x":
        return f"{v:.2f}×"
    return f"{v:,.1f} ms" if isinstance(v, float) else f"{v} ms"


def fmt_stat(st: dict[str, Any]) -> str:
    if not st or not st.get("n"):
        return "n/a"
    return f"{st['median'] / 1000:.2f} s ({st['min'] / 1000:.2f}–{st['max'] / 1000:.2f}, n={st['n']})"


def render_markdown(report: dict[str, Any]) -> str:
    m, s, br = report["meta"], report["summary"], report.get("browser")
    lines = [
        "# VRAM Insight benchmark report",
        "",
        f"{m['date']} · commit `{m['commit']}` · {m['cpus']} CPUs, load {m['load']} · Python {m['python']}"
        + (f" · Chromium {br['chromium']}" if br else "")
        + f" · site: {m['site']}"
        + (" · quick" if m["quick"] else ""),
        "",
        "## Targets (issue 5)",
        "",
        "| target | limit | measured | |",
        "|---|---|---|---|",
    ]
    for t in report["targets"]:
        mark = {True: "pass", False: "**FAIL**", None: "not measured"}[t["pass"]]
        lines.append(
            f"| {t['what']} | ≤ {fmt_value(t['max'], t['unit'])} | {fmt_value(t['value'], t['unit'])} | {mark} |"
        )
    lines += ["", "## CPython engine", ""]
    if "one_estimate" in s:
        lines += [
            f"- import `vram_insight.web_api`: {s['import_ms']} ms (fresh interpreter, incl. Python start-up)",
            f"- one estimate: median {s['one_estimate']} ms; one report (estimate + fit + recommendations +"
            f" inverse answers): median {s['one_report']} ms",
            f"- full sweep: {s['full_sweep']} ms ({report['engine_cpython']['full_sweep']['estimates']} estimates"
            f" × {report['engine_cpython']['full_sweep']['gpus']} GPUs)",
            f"- `vram estimate -m llama-3.1-8b --json`: {s['cli_wall']} ms wall",
        ]
    else:
        lines.append(f"failed: {report['engine_cpython'].get('error', '?')}")
    if br:
        lines += [
            "",
            f"## Browser ({br['rounds']} alternating rounds; times from navigation start; median (min–max))",
            "",
            "| scenario | engine ready | pre-rendered result visible |",
            "|---|---|---|",
            f"| app, cache cleared | {fmt_stat(s['app_cold_ready'])} | {fmt_stat(s['result_visible_cold'])} |",
            f"| app, warm (service worker) | {fmt_stat(s['app_warm_ready'])} | {fmt_stat(s['result_visible_warm'])} |",
            f"| app, offline | {fmt_stat(s['app_offline_ready'])} | |",
            f"| baseline: bare Pyodide + pydantic, cold | {fmt_stat(s['baseline_cold_ready'])} | |",
            "",
            f"Engine ready / baseline: **{fmt_value(s['engine_ratio'], 'x')}** (ratio of medians); per round:"
            f" {', '.join(f'{r:.2f}' for r in s['engine_ratio_paired']['rounds']) or 'n/a'}.",
            "The baseline is the naive boot: Pyodide's npm runtime as published (full stdlib, .py sources), the"
            " pinned PyPI wheels untouched, `import pydantic` + one model validated; same server, same encodings.",
            "",
            f"Worker boot phases (cold, median ms since the worker started): {s['worker_phases_cold']}; the"
            f" worker is started {s['worker_started_ms']} ms after navigation start.",
            "",
            f"Bytes: first visit {fmt_value(s['first_visit_bytes'], 'B')} (CDP encodedDataLength: page, workers,"
            f" service worker; headers included), server wrote {fmt_value(s['first_visit_bytes_server'], 'B')};"
            f" repeat visit {fmt_value(s['repeat_visit_bytes'], 'B')} (server: "
            f"{fmt_value(s['repeat_visit_bytes_server'], 'B')}); offline (server) "
            f"{fmt_value(s['offline_bytes_server'], 'B')}; baseline page {fmt_value(s['baseline_bytes'], 'B')}.",
            "",
            f"Engine memory: wasm heap after boot {fmt_value(s['engine_heap_bytes'], 'B')} (baseline"
            f" {fmt_value(s['baseline_heap_bytes'], 'B')}).",
        ]
        cold = br["raw"]["app_cold"]
        if cold and "bytes_cdp" in cold[0]:
            lines += ["", "Largest first-visit transfers (round 1):", ""]
            lines += [f"- {x['url'] or './'}: {x['bytes']:,} B" for x in cold[0]["bytes_cdp"]["top"][:10]]
        warm = br["raw"]["app_warm"]
        if warm and warm[0]["bytes_server"]["by_path"]:
            lines += [
                "",
                "Repeat visit: requests that reached the server (bytes written, headers included):"
                f" {warm[0]['bytes_server']['by_path']} — the browser's service-worker update check, a"
                " conditional GET of sw.js answered 304 (headers only) when nothing changed.",
            ]
        rc = br.get("recalc") or {}
        lines += ["", "## Recalculation", ""]
        if "ui" in rc:
            lines += [
                f"{rc['changes']} changes of `{rc['field']}` (typed input events), from the event to the new"
                " total on screen (next frame):",
                "",
                "| | p50 | p95 | max |",
                "|---|---|---|---|",
                f"| input → numbers on screen | {rc['ui']['median']} ms | {rc['ui']['p95']} ms | {rc['ui']['max']} ms |",
                f"| input → full report on screen (recommendations, inverse, speed) | {rc['live']['median']} ms |"
                f" {rc['live']['p95']} ms | {rc['live']['max']} ms |",
                f"| engine call as the UI made it | {rc['engine_call_in_ui']['median']} ms |"
                f" {rc['engine_call_in_ui']['p95']} ms | {rc['engine_call_in_ui']['max']} ms |",
                f"| … of which in Python (worker) | {rc['python_in_ui']['median']} ms |"
                f" {rc['python_in_ui']['p95']} ms | {rc['python_in_ui']['max']} ms |",
                f"| engine call alone (`report`, worker round trip) | {rc['engine_call_direct']['median']} ms |"
                f" {rc['engine_call_direct']['p95']} ms | {rc['engine_call_direct']['max']} ms |",
                f"| … of which in Python (worker) | {rc['python_direct']['median']} ms |"
                f" {rc['python_direct']['p95']} ms | {rc['python_direct']['max']} ms |",
                "",
                (
                    f"The UI debounces input by {rc['ui_debounce_ms']} ms (site/app/main.js RECALC_MS) before it calls"
                    " the engine, so input → screen ≥ that debounce + one engine call."
                    if rc.get("ui_debounce_ms")
                    else "The UI asks the engine's fast `quick` op (estimate + fit) at once on every change and"
                    " coalesces changes made during a call; the full `report` follows after 120 ms without input"
                    " (site/app/main.js scheduleRecalc), so input → screen ≈ one `quick` call + rendering."
                ),
            ]
        else:
            lines.append(f"failed: {rc.get('error')}")
        if s.get("worker_plain_ready", {}).get("n") or br.get("pyscript_under_csp"):
            psc = br.get("pyscript_under_csp") or {}
            lines += [
                "",
                "## Plain module worker vs PyScript worker (engine only, no UI, CSP bypassed for both)",
                "",
                f"- plain module worker (shipped): {fmt_stat(s['worker_plain_ready'])}",
                f"- PyScript 0.7.31 `PyWorker`: {fmt_stat(s['worker_pyscript_ready'])}",
                f"- PyScript / plain: {fmt_value(s['pyscript_vs_plain'], 'x')} (medians); per round:"
                f" {', '.join(f'{r:.2f}' for r in s['pyscript_vs_plain_paired']['rounds']) or 'n/a'}",
            ]
            for label, what in (
                ("at_once", "PyWorker called at once"),
                ("after_plugins", "called 300 ms later"),
            ):
                r = psc.get(label) or {}
                msg = f" — {str(r.get('message'))[:160]}" if r.get("type") == "fatal" else ""
                lines.append(f"- under the site's CSP, {what}: {r.get('type', 'n/a')}{msg}")
        if br["failures"]:
            lines += ["", "## Failed samples", "", *[f"- {f}" for f in br["failures"]]]
    lines.append("")
    return "\n".join(lines)


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Run the VRAM Insight benchmarks; write bench/results/report.{json,md} and print the Markdown."
    )
    ap.add_argument(
        "--quick", action="store_true", help="fewer samples and rounds (a smoke run, not for numbers)"
    )
    ap.add_argument("--site", help="an already built site folder (default: a fresh _site, else build one)")
    ap.add_argument("--rounds", type=int, help="alternating browser rounds (default 5; --quick: 2)")
    ap.add_argument("--recalc", type=int, default=50, help="input changes for the recalculation latency")
    ap.add_argument("--no-browser", action="store_true", help="CPython engine benchmarks only")
    ps = ap.add_mutually_exclusive_group()
    ps.add_argument(
        "--pyscript", dest="pyscript", action="store_true", default=None, help="add the worker A/B"
    )
    ps.add_argument("--no-pyscript", dest="pyscript", action="store_false", help="skip the worker A/B")
    ap.add_argument("--out", default=str(RESULTS), help="folder for report.json / report.md")
    args = ap.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 5)
    with_pyscript = (not args.quick) if args.pyscript is None else args.pyscript

    cpy = bench_cpython(args.quick)
    br = None
    site_how = "none"
    if not args.no_browser:
        if not Path(CHROMIUM).exists():
            raise SystemExit(f"bench: {CHROMIUM} not found (apt-get install -y chromium) or use --no-browser")
        with tempfile.TemporaryDirectory(prefix="vram-bench-") as tmp:
            site, site_how = prepare_site(args.site, Path(tmp))
            br = bench_browser(site, rounds, args.recalc, with_pyscript)
    summary = summarize(cpy, br)
    report = {
        "meta": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": git_commit(),
            "cpus": os.cpu_count(),
            "load": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
            "python": platform.python_version(),
            "site": site_how,
            "quick": args.quick,
        },
        "targets": evaluate_targets(summary),
        "summary": summary,
        "engine_cpython": cpy,
        "browser": br,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    md = render_markdown(report)
    (out / "report.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
