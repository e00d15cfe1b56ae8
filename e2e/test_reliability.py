"""Site reliability: the engine watchdog (hangs, crashes, unreadable replies), history salvage and versioned
service-worker updates, in the built site under headless Chromium.

Faults are injected from the test only (e2e/fault_worker.js through add_init_script): the shipped page has no
hook for them.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from conftest import Session, engine_report, open_app, shown_total, wait_engine_ready, wait_live
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
