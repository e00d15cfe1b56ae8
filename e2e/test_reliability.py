"""Site reliability: the engine watchdog (hangs, crashes, unreadable replies), history salvage and versioned
service-worker updates, in the built site under headless Chromium.

Faults are injected from the test only (e2e/fault_worker.js through add_init_script): the shipped page has no
hook for them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import threading
from pathlib import Path

import pytest

from conftest import (
    Session,
    engine_report,
    open_app,
    shown_total,
    wait_engine_ready,
    wait_live,
)
from testsupport.servers import free_port, load_build, wait_http
from vram_insight.schemas import EstimateRequest

DEFAULTS = EstimateRequest().model_dump(mode="json")
FAULT_WORKER = (Path(__file__).parent / "fault_worker.js").read_text(encoding="utf-8")
HANG_MARK = "777777"  # a seq_len no test uses otherwise: the call carrying it misbehaves
# The page's watchdog (engine-client.js CALL_TIMEOUT_MS) plus a fresh worker's boot, with room for a slow runner.
RECOVERY_TIMEOUT_MS = 90_000


def req(**changes) -> dict:
    return {**DEFAULTS, **changes}


def link_for(request_diff: dict) -> str:
    raw = json.dumps(request_diff).encode()
    return "#v1." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def faulty_session(browser, base_url, faults: dict, **kw) -> Session:
    s = Session(browser, base_url, viewport={"width": 1280, "height": 900}, **kw)
    s.context.add_init_script(f"window.__faults = {json.dumps(faults)};\n{FAULT_WORKER}")
    return s


def pill(page) -> str:
    return page.get_attribute("[data-testid=engine-status]", "data-state")


def track_pill(page) -> None:
    """Record every state the status pill shows (a MutationObserver, so short states are not missed)."""
    page.evaluate(
        """() => {
          const el = document.querySelector('[data-testid=engine-status]');
          window.__pill = [el.dataset.state];
          new MutationObserver(() => {
            const s = el.dataset.state;
            if (window.__pill[window.__pill.length - 1] !== s) window.__pill.push(s);
          }).observe(el, { attributes: true, attributeFilter: ['data-state'] });
        }"""
    )


def set_seq_len(page, value: int) -> None:
    page.fill("[data-testid=input-seq_len]", str(value))


def wait_recovered(page) -> None:
    page.wait_for_selector("[data-testid=notice-engine-fault]", timeout=RECOVERY_TIMEOUT_MS)
    wait_engine_ready(page)
    page.wait_for_selector("[data-testid=result-status][data-status=live]", timeout=RECOVERY_TIMEOUT_MS)


# ================================================================================================ watchdog
def test_hung_call_restarts_worker_and_restores_last_valid_inputs(browser, base_url, web_api):
    s = faulty_session(browser, base_url, {"hang": HANG_MARK})
    try:
        page = s.page
        open_app(page, base_url)
        track_pill(page)
        set_seq_len(page, 8192)
        wait_live(page)
        good = engine_report(web_api, req(seq_len=8192))["estimate"]["total_bytes"]
        assert shown_total(page) == good
        set_seq_len(page, int(HANG_MARK))
        # The pill tells the truth while the call hangs, then while the worker restarts.
        page.wait_for_selector("[data-testid=engine-status][data-state=busy]", timeout=5_000)
        page.fill("[data-testid=input-batch_size]", "2")  # a later input queued behind the hang
        wait_recovered(page)
        notice = page.text_content("[data-testid=notice-engine-fault]")
        assert "took too long" in notice and HANG_MARK in notice, notice
        # The last valid inputs are back in the form and their result is shown, computed by the new worker.
        assert page.input_value("[data-testid=input-seq_len]") == "8192"
        assert page.input_value("[data-testid=input-batch_size]") == "1"
        assert shown_total(page) == good
        states = page.evaluate("window.__pill")
        assert states[:4] == ["ready", "busy", "restarting", "ready"], states
        workers = page.evaluate("window.__workers")
        assert workers == {"started": 2, "terminated": 1}, workers
        stats = page.evaluate("window.__vramApp.engine.stats")
        assert stats["restarts"] == 1 and stats["last_restart"]["reason"] == "timeout"
        # The new worker keeps working.
        set_seq_len(page, 2048)
        wait_live(page)
        assert shown_total(page) == engine_report(web_api, req(seq_len=2048))["estimate"]["total_bytes"]
        assert s.errors == []
    finally:
        s.close()


def test_share_link_that_hangs_falls_back_to_defaults(browser, base_url, web_api):
    s = faulty_session(browser, base_url, {"hang": HANG_MARK})
    try:
        page = s.page
        page.goto(base_url + link_for({"mode": "training", "seq_len": int(HANG_MARK)}))
        page.wait_for_selector("html[data-app-ready='1']")
        wait_recovered(page)
        assert HANG_MARK in page.text_content("[data-testid=notice-engine-fault]")
        assert page.evaluate("location.hash") == ""
        assert page.get_attribute("[data-testid=tab-inference]", "aria-selected") == "true"
        assert shown_total(page) == engine_report(web_api, DEFAULTS)["estimate"]["total_bytes"]
        # The link's tab starts afresh: going back to it does not send the hanging inputs again.
        page.click("[data-testid=tab-training]")
        wait_live(page)
        assert page.input_value("[data-testid=input-seq_len]") != HANG_MARK
        assert page.evaluate("window.__vramApp.engine.stats")["restarts"] == 1
    finally:
        s.close()


def test_crash_and_unreadable_reply_restart_without_traceback(browser, base_url, web_api):
    s = faulty_session(browser, base_url, {"crash": '"seq_len":3333', "garble": '"seq_len":4444'})
    try:
        page = s.page
        open_app(page, base_url)
        for n, value in enumerate((3333, 4444), start=1):
            set_seq_len(page, value)
            wait_recovered(page)
            text = page.text_content("[data-testid=notice-engine-fault]")
            assert "failed on this input" in text and str(value) in text, text
            assert page.input_value("[data-testid=input-seq_len]") == str(DEFAULTS["seq_len"])
            assert page.evaluate("window.__vramApp.engine.stats.restarts") == n
            page.click("[data-testid=notice-engine-fault] button")
        body = page.inner_text("body")
        assert "Traceback" not in body and "MemoryError" not in body
        assert shown_total(page) == engine_report(web_api, DEFAULTS)["estimate"]["total_bytes"]
        assert s.errors == []
    finally:
        s.close()


def test_non_finite_reply_is_a_clear_translated_message(browser, base_url):
    s = faulty_session(browser, base_url, {"inf": '"seq_len":5555'}, locale="zh-CN")
    try:
        page = s.page
        open_app(page, base_url)
        set_seq_len(page, 5555)
        page.wait_for_selector("[data-testid=result-status][data-status=invalid]")
        message = page.text_content("[data-testid=form-error]")
        assert page.is_visible("[data-testid=form-error]") and "溢出" in message, message
        # The engine itself is fine: no restart, and the next input computes.
        assert page.evaluate("window.__vramApp.engine.stats.restarts") == 0
        assert pill(page) == "ready"
        set_seq_len(page, 2048)
        wait_live(page)
        body = page.inner_text("body")
        assert "Infinity" not in body and "malformed" not in body
    finally:
        s.close()


# ================================================================================================ history salvage
KEY = "vram-insight:history"
E1 = {"id": "a1", "ts": 1_700_000_000_000, "request": {"mode": "inference"}, "summary": {"total_bytes": 16e9}}
E2 = {
    "id": "b2",
    "ts": 1_700_000_100_000,
    "request": {"mode": "training", "seq_len": 1024},
    "summary": {"total_bytes": 50e9, "model_name": "Llama"},
}
GOOD = json.dumps({"schema": 2, "entries": [E1, E2]})  # the current format (history.js SCHEMA)
BAD_ITEMS = ["garbage", 7, {"id": "c3", "ts": 1, "request": {"mode": "nope"}, "summary": {"total_bytes": 1}}]
LEGACY = {"time": 1_700_000_000_000, "request": {"mode": "finetune"}, "total_bytes": 2e10}

# (name, stored value (None: key absent), options, expected) -- expected: entries (ids or a count), outcome:
#   "aside_raw"  the whole stored value is kept, byte for byte, under an aside key that reads back intact
#   "aside_bad"  the entries that do not validate (count) are kept under an aside key; the rest stay in the main key
#   "untouched"  nothing could be set aside / must not be written: the main key still holds the original after a save
#   "clean"      understood as is
#   notices: the i18n keys the user is shown (read, then saving one more entry)
CORRUPTION_CASES = [
    ("not JSON", "{oops", {}, (0, "aside_raw", ["n.history_aside_all"])),
    ("truncated JSON", GOOD[: len(GOOD) // 2], {}, (0, "aside_raw", ["n.history_aside_all"])),
    ("JSON number", "42", {}, (0, "aside_raw", ["n.history_aside_all"])),
    ("JSON string", '"hello"', {}, (0, "aside_raw", ["n.history_aside_all"])),
    ("JSON null", "null", {}, (0, "aside_raw", ["n.history_aside_all"])),
    ("JSON true", "true", {}, (0, "aside_raw", ["n.history_aside_all"])),
    ("double-encoded history", json.dumps(GOOD), {}, (["a1", "b2"], "aside_raw", ["n.history_aside_all"])),
    (
        'schema "1" (a string)',
        json.dumps({"schema": "1", "entries": [E1, E2]}),
        {},
        (["a1", "b2"], "aside_raw", ["n.history_aside_all"]),
    ),
    (
        "schema -1",
        json.dumps({"schema": -1, "entries": [E1, E2]}),
        {},
        (["a1", "b2"], "aside_raw", ["n.history_aside_all"]),
    ),
    (
        "schema 1.5",
        json.dumps({"schema": 1.5, "entries": [E1]}),
        {},
        (["a1"], "aside_raw", ["n.history_aside_all"]),
    ),
    (
        "schema null",
        json.dumps({"schema": None, "entries": [E1]}),
        {},
        (["a1"], "aside_raw", ["n.history_aside_all"]),
    ),
    (
        "schema missing",
        json.dumps({"entries": [E1, E2]}),
        {},
        (["a1", "b2"], "aside_raw", ["n.history_aside_all"]),
    ),
    (
        "entries as an object map",
        json.dumps({"schema": 2, "entries": {"a1": {k: v for k, v in E1.items() if k != "id"}, "b2": E2}}),
        {},
        (["a1", "b2"], "aside_raw", ["n.history_aside_all"]),
    ),
    (
        "entries as a JSON string",
        json.dumps({"schema": 2, "entries": json.dumps([E1, E2])}),
        {},
        (["a1", "b2"], "aside_raw", ["n.history_aside_all"]),
    ),
    ("entries missing", json.dumps({"schema": 2}), {}, (0, "aside_raw", ["n.history_aside_all"])),
    (
        "entries in another wrapper",
        json.dumps({"data": {"history": {"list": [E1, E2]}}, "note": "exported"}),
        {},
        (["a1", "b2"], "aside_raw", ["n.history_aside_all"]),
    ),
    (
        "some bad entries",
        json.dumps({"schema": 2, "entries": [E1, *BAD_ITEMS, E2]}),
        {},
        (["a1", "b2"], ("aside_bad", 3), ["n.history_aside_bad"]),
    ),
    (
        "duplicate ids",
        json.dumps({"schema": 2, "entries": [E1, {**E2, "id": "a1"}]}),
        {},
        (["a1"], ("aside_bad", 1), ["n.history_aside_bad"]),
    ),
    (
        "schema 0 array with a bad item",
        json.dumps([LEGACY, "junk"]),
        {},
        (1, "aside_raw", ["n.history_aside_bad"]),
    ),
    (
        "newer schema 99",
        json.dumps({"schema": 99, "entries": [E1], "future": True}),
        {},
        (["a1"], "untouched", ["n.history_newer"]),
    ),
    (
        "huge unreadable value, no room for a copy",
        "{" + "x" * 450_000,
        {"quota": 800_000},
        (0, "untouched", ["n.history_aside_failed"]),
    ),
    (
        "bad entries, no room for a copy",
        json.dumps({"schema": 2, "entries": [E1, {"pad": "y" * 300_000}]}),
        {"quota": 500_000},
        (["a1"], "untouched", ["n.history_aside_failed"]),
    ),
    (
        "more entries than the limit",
        json.dumps({"schema": 2, "entries": [{**E1, "id": f"e{i}"} for i in range(60)]}),
        {},
        (50, ("aside_bad", 10), ["n.history_aside_bad"]),
    ),
    # Not corruption, but the same promise: quota and unavailable storage are said, nothing stored is lost.
    ("valid history", GOOD, {}, (["a1", "b2"], "clean", [])),
    (
        "quota on write: oldest entries dropped, said",
        json.dumps({"schema": 2, "entries": [{**E1, "id": f"e{i}", "pad": "z" * 2000} for i in range(40)]}),
        {"quota": 40 * 2200, "bigEntry": 84_000},
        (40, "clean", ["n.history_quota_dropped"]),
    ),
    (
        "quota on write: nothing fits",
        None,
        {"quota": 1000, "filler": 990},
        (0, "clean", ["n.history_quota_full"]),
    ),
    ("storage throws on read", GOOD, {"throwOnRead": True}, (0, "untouched", ["n.history_unavailable"])),
]

SALVAGE_HARNESS = """
async ([cases, key]) => {
  const store = await import('./app/history-store.js');
  const hist = await import('./app/history.js');
  class FakeStorage {
    constructor(quota, throwOnRead) { this.map = new Map(); this.quota = quota; this.throwOnRead = throwOnRead; }
    get length() { return this.map.size; }
    key(i) { return [...this.map.keys()][i] ?? null; }
    used(except) { let n = 0; for (const [k, v] of this.map) if (k !== except) n += k.length + v.length; return n; }
    getItem(k) { if (this.throwOnRead) throw new DOMException('denied', 'SecurityError'); return this.map.has(k) ? this.map.get(k) : null; }
    setItem(k, v) {
      v = String(v);
      if (this.used(k) + k.length + v.length > this.quota) throw new DOMException('full', 'QuotaExceededError');
      this.map.set(k, v);
    }
    removeItem(k) { this.map.delete(k); }
  }
  const out = [];
  for (const [name, value, opts] of cases) {
    const st = new FakeStorage(opts.quota ?? 5_000_000, !!opts.throwOnRead);
    if (opts.filler) st.setItem('other-app', 'f'.repeat(opts.filler));
    if (value !== null) { const t = st.throwOnRead; st.throwOnRead = false; st.setItem(key, value); st.throwOnRead = t; }
    const problems = [];
    const off = store.onStoreProblem((p) => problems.push(p.key));
    const read = store.readStore(st, hist.FORMAT);
    const afterRead = st.throwOnRead ? null : st.getItem(key);
    // Then the app saves one more calculation, as it does after every result.
    const fresh = { id: 'new1', ts: Date.now(), request: { mode: 'inference', seq_len: 2048 },
                    summary: { total_bytes: 1e10, model_name: 'N', pad: 'q'.repeat(opts.bigEntry ?? 0) } };
    const entry = hist.FORMAT.validEntry(fresh);
    if (opts.bigEntry) entry.summary.model_name = 'q'.repeat(opts.bigEntry);
    store.writeStore(st, hist.FORMAT, [entry, ...read.entries]);
    off();
    st.throwOnRead = false;
    const aside = read.aside.map((k) => [k, st.getItem(k)]);
    out.push({ name, ids: read.entries.map((e) => e.id), tss: read.entries.map((e) => e.ts), readOnly: read.readOnly,
               notices: [...read.notices.map((n) => n.key), ...problems], aside,
               main: st.getItem(key), afterRead, asideKeys: [...st.map.keys()].filter((k) => k.startsWith(key + ':aside:')) });
  }
  return out;
}
"""


def test_history_salvage_loses_nothing_in_every_corruption_case(browser, base_url):
    s = Session(browser, base_url)
    try:
        page = s.page
        page.route(
            "**/engine-worker.mjs", lambda route: route.abort()
        )  # pure storage logic: no engine needed
        page.goto(base_url)
        page.wait_for_selector("html[data-app-ready='1']")
        results = page.evaluate(SALVAGE_HARNESS, [[[n, v, o] for n, v, o, _ in CORRUPTION_CASES], KEY])
        lost = []
        for (name, value, _opts, (entries, outcome, notices)), r in zip(
            CORRUPTION_CASES, results, strict=True
        ):
            assert r["name"] == name
            if isinstance(entries, int):
                assert len(r["ids"]) == entries, (name, r["ids"])
            else:
                assert r["ids"] == entries, (name, r["ids"])
            assert r["notices"] == notices, (name, r["notices"])
            main = json.loads(r["main"]) if outcome != "untouched" and r["main"] else None
            if outcome == "aside_raw":
                assert len(r["aside"]) == 1 and r["aside"][0][1] == value, name  # byte for byte, read back
                assert r["asideKeys"] == [r["aside"][0][0]], name
                assert not r["readOnly"], name
                # The salvaged entries and the new one are saved; the original lives on under the aside key.
                assert [e["id"] for e in main["entries"]] == ["new1", *r["ids"]], name
            elif isinstance(outcome, tuple):
                assert len(r["aside"]) == 1, name
                kept = json.loads(r["aside"][0][1])["entries"]
                assert len(kept) == outcome[1], (name, kept)
                # Every stored item is either in the main key (valid) or aside (the rest): none lost.
                original = json.loads(value)
                original = original if isinstance(original, list) else original["entries"]
                assert main["entries"][0]["id"] == "new1", name  # saving works again
                assert len(kept) + len(r["ids"]) == len(original), name

                def in_main(e, r=r):  # read as a valid entry (and so shown and saved)
                    return isinstance(e, dict) and (e.get("id") in r["ids"] or e.get("time") in r["tss"])

                assert all(e in kept or in_main(e) for e in original), name
            elif outcome == "untouched":
                assert r["readOnly"] and r["aside"] == [] and r["asideKeys"] == [], name
                assert r["main"] == value, f"{name}: the original was overwritten"
            else:
                assert r["aside"] == [] and not r["readOnly"], name
            if value is not None and r["main"] != value and not r["aside"]:
                # Rewritten without a copy: only allowed when the whole value was understood.
                was = json.loads(value)["entries"]
                now = {e["id"] for e in json.loads(r["main"])["entries"]}
                lost += [f"{name}: {e['id']}" for e in was if e["id"] not in now]
        # Quota on write drops the oldest entries to save the newest, and says so (the one case that loses
        # entries: the browser has no room; nothing else is lost).
        dropped = [x for x in lost if x.startswith("quota on write")]
        assert lost == dropped and dropped, lost
        assert s.errors == []
    finally:
        s.close()


ASIDE_VALUES = """() => Object.keys(localStorage).filter((k) => k.startsWith('vram-insight:history:aside:'))
  .map((k) => [k, localStorage.getItem(k)])"""


def test_history_unknown_schema_is_set_aside_in_the_real_page(browser, base_url):
    s = Session(browser, base_url)
    try:
        page = s.page
        open_app(page, base_url, ready=False)
        stored = json.dumps({"schema": "1", "entries": {"b2": E2}})
        page.evaluate("v => localStorage.setItem('vram-insight:history', v)", stored)
        page.reload()
        page.wait_for_selector("html[data-app-ready='1']")
        notice = page.text_content("[data-testid=notice-history]")
        aside = page.evaluate(ASIDE_VALUES)
        assert len(aside) == 1 and aside[0][1] == stored
        assert aside[0][0] in notice and "1 entries were recovered" in notice, notice
        assert page.locator("[data-testid=history-item]").count() == 1  # the salvaged entry is shown
        # Saving a result works again: the copy is untouched and the salvaged entry is saved with the new one.
        wait_engine_ready(page)
        wait_live(page)
        page.click("[data-testid=save-button]")
        page.wait_for_function("() => document.querySelectorAll('[data-testid=history-item]').length >= 2")
        assert page.evaluate(ASIDE_VALUES) == aside
        saved = page.evaluate("() => JSON.parse(localStorage.getItem('vram-insight:history'))")
        assert saved["schema"] == 2 and [e["id"] for e in saved["entries"]][1:] == ["b2"]
        assert s.errors == []
    finally:
        s.close()


def test_history_too_big_to_copy_is_left_untouched(browser, base_url):
    """A 4.5 MB unreadable value cannot be copied within Chromium's localStorage quota: it must stay as it is."""
    s = Session(browser, base_url)
    try:
        page = s.page
        open_app(page, base_url, ready=False)
        size = 4_500_000
        page.evaluate(
            "n => localStorage.setItem('vram-insight:history', '{' + 'x'.repeat(n - 1))",
            size,
        )
        page.reload()
        page.wait_for_selector("html[data-app-ready='1']")
        notice = page.text_content("[data-testid=notice-history]")
        assert "too full to keep a copy" in notice and "4.5 MB" in notice, notice
        wait_engine_ready(page)
        wait_live(page)
        page.fill("[data-testid=input-seq_len]", "2048")  # another result: the app would save it
        wait_live(page)
        page.wait_for_timeout(2_000)  # past the history save delay (main.js HISTORY_SAVE_MS)
        check = page.evaluate(
            """n => { const v = localStorage.getItem('vram-insight:history');
                      return [v.length === n, v[0] === '{' && v.slice(1) === 'x'.repeat(n - 1)]; }""",
            size,
        )
        assert check == [True, True]
        assert page.evaluate(ASIDE_VALUES) == []
        assert s.errors == []
    finally:
        s.close()


# ================================================================================================ service worker
VERSION_RE = re.compile(r'const VERSION = "([^"]+)"')
META_RE = re.compile(r'<meta name="vram-build" content="([^"]+)">')


def make_v2(v1: Path, v2: Path) -> tuple[str, str]:
    """A second deploy: a copy of the built site with changed strings and its own build id (as a rebuild would
    give: the id is the hash of the precached bytes). Returns (v1 id, v2 id)."""
    shutil.copytree(v1, v2)
    v1_id = VERSION_RE.search((v1 / "sw.js").read_text()).group(1)
    assert META_RE.search((v1 / "index.html").read_text()).group(1) == v1_id  # build.py stamped the page
    v2_id = hashlib.sha256(f"{v1_id}+v2".encode()).hexdigest()[:16]

    def rewrite(rel: str, fn) -> None:
        path = v2 / rel
        path.write_text(fn(path.read_text(encoding="utf-8")), encoding="utf-8")
        for ext in (".br", ".gz"):
            path.with_name(path.name + ext).unlink(missing_ok=True)

    def strings(suffix: str):
        def fn(text: str) -> str:
            table = json.loads(text)
            table["tab.inference"] += suffix
            return json.dumps(table, ensure_ascii=False)

        return fn

    rewrite("i18n/en.json", strings(" (v2)"))
    rewrite("i18n/zh-CN.json", strings("（v2）"))
    rewrite("sw.js", lambda text: text.replace(v1_id, v2_id))
    rewrite("index.html", lambda text: text.replace(v1_id, v2_id))
    return v1_id, v2_id


def one_version(page) -> dict:
    """What this page runs: its own build id, the build its service worker serves, and the strings a lazy fetch
    gets now (what the page would show after a language switch)."""
    return page.evaluate(
        """async () => {
          const ctl = navigator.serviceWorker.controller;
          const sw = ctl && await new Promise((resolve) => {
            const ch = new MessageChannel();
            ch.port1.onmessage = (ev) => resolve(ev.data.version);
            ctl.postMessage({ type: 'VERSION' }, [ch.port2]);
          });
          const zh = await (await fetch('i18n/zh-CN.json')).json();
          const en = await (await fetch('i18n/en.json')).json();
          return { page: document.querySelector('meta[name=vram-build]').content, sw,
                   zh: zh['tab.inference'], en: en['tab.inference'] };
        }"""
    )


def test_service_worker_update_never_mixes_versions(browser, site_dir_or_none, tmp_path):
    if site_dir_or_none is None:
        pytest.skip("E2E_BASE_URL given: the update test needs a local build to deploy twice")
    v1 = Path(site_dir_or_none)
    v1_id, v2_id = make_v2(v1, tmp_path / "v2")
    server = load_build().make_server(v1, free_port())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    wait_http(url)
    s = Session(browser, url, locale="en-US")
    try:
        page = s.page
        open_app(page, url)
        # the first visit installs the service worker (precaching the whole build can take seconds on a slow
        # machine); once it is active it claims the page, and a reload is controlled in any case
        page.evaluate("async () => { await navigator.serviceWorker.ready; }")
        for _ in range(3):
            if page.evaluate("() => !!navigator.serviceWorker.controller"):
                break
            page.reload()
            page.wait_for_selector("html[data-app-ready='1']")
        v1_view = {"page": v1_id, "sw": v1_id, "zh": "推理", "en": "Inference"}
        assert one_version(page) == v1_view

        server.RequestHandlerClass.root = tmp_path / "v2"  # deploy
        page.reload()
        page.wait_for_selector("html[data-app-ready='1']")
        # The first load after the deploy is still entirely the old version, strings loaded later included...
        assert one_version(page) == v1_view
        page.select_option("[data-testid=lang-select]", "zh-CN")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=tab-inference]').textContent === '推理'"
        )
        # ...while the new version installs in the background, waits, and the page offers it.
        page.wait_for_selector("[data-testid=notice-update]", timeout=120_000)
        assert "重新加载以更新" in page.text_content("[data-testid=notice-update]")
        other = s.new_page()  # a second tab, opened now, is the old version too
        open_app(other, url, ready=False)
        assert one_version(other)["page"] == v1_id and one_version(other)["zh"] == "推理"

        # Accepting the update reloads every open page into the new version.
        with page.expect_navigation(), other.expect_navigation():
            page.click("[data-testid=update-reload]")
        for p in (page, other):
            p.wait_for_selector("html[data-app-ready='1']")
            p.wait_for_function(
                f"() => document.querySelector('meta[name=vram-build]').content === '{v2_id}'"
            )
            assert one_version(p) == {"page": v2_id, "sw": v2_id, "zh": "推理（v2）", "en": "Inference (v2)"}
        assert page.text_content("[data-testid=tab-inference]") == "推理（v2）"
        assert page.evaluate("caches.keys()") == [f"vram-insight-{v2_id}"]  # the old version's cache is gone
        wait_engine_ready(page)  # the runtime and wheels come from the new cache
        wait_live(page)
        assert s.errors == []
    finally:
        s.close()
        server.shutdown()
        server.server_close()


def test_worker_that_always_fails_ends_in_error_not_a_restart_loop(browser, base_url):
    s = faulty_session(browser, base_url, {"crash": '"seq_len":'})  # every engine call crashes from now on
    try:
        page = s.page
        page.goto(base_url)
        page.wait_for_selector("html[data-app-ready='1']")
        page.wait_for_selector(
            "[data-testid=engine-status][data-state=error]", timeout=RECOVERY_TIMEOUT_MS * 2
        )
        assert page.evaluate("window.__vramApp.engine.stats.restarts") == 3  # engine-client.js MAX_RESTARTS
        assert page.evaluate("window.__workers") == {"started": 4, "terminated": 4}
        assert "stopped after 3 restarts" in page.text_content("[data-testid=notice-engine]")
        assert page.is_visible("[data-testid=total-value]")  # the pre-rendered result is still shown
        assert "Traceback" not in page.inner_text("body")
    finally:
        s.close()
