"""The built site in headless Chromium, checked against the engine run in-process under CPython."""

from __future__ import annotations

import base64
import json
import re

import pytest
from conftest import (
    ENGINE_BOOT_TIMEOUT_MS,
    Session,
    engine_report,
    open_app,
    shown_total,
    wait_engine_ready,
    wait_live,
)

from vram_insight.schemas import EstimateRequest

DEFAULTS = EstimateRequest().model_dump(mode="json")


def req(**changes) -> dict:
    return {**DEFAULTS, **changes}


def gb_text(nbytes: int) -> str:
    return f"{nbytes / 1e9:,.2f}"


def assert_matches_engine(page, web_api, request: dict) -> None:
    """The number shown is the engine's number for exactly these inputs."""
    expected = engine_report(web_api, request)["estimate"]["total_bytes"]
    assert shown_total(page) == expected
    assert page.text_content("[data-testid=total-value] .big") == gb_text(expected)
    assert page.text_content("[data-testid=total-gb]") == gb_text(expected)
    assert page.text_content("[data-testid=total-gib]") == f"{expected / 2**30:,.2f}"


def link_for(request_diff: dict) -> str:
    raw = json.dumps(request_diff).encode()
    return "#v1." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


# ---------------------------------------------------------------------------------------------- defaults
def test_ui_defaults_equal_engine_defaults(session: Session):
    """fields.js DEFAULTS must be EstimateRequest() (the pre-rendered report is for the defaults)."""
    page = session.page
    open_app(page, session.base_url, ready=False)
    ui = page.evaluate("() => import('./app/fields.js').then(m => ({...m.DEFAULTS}))")
    assert ui == DEFAULTS


def test_prerendered_result_visible_before_engine(browser, base_url, web_api):
    """Real numbers are on screen while Python is still booting (the wasm download is held back)."""
    s = Session(browser, base_url)
    held = []
    s.context.route(re.compile(r".*\.wasm(\?.*)?$"), lambda route: held.append(route))
    try:
        page = s.page
        page.goto(base_url)
        page.wait_for_selector("[data-testid=total-value]")
        expected = engine_report(web_api, DEFAULTS)["estimate"]["total_bytes"]
        assert shown_total(page) == expected
        assert page.text_content("[data-testid=total-value] .big") == gb_text(expected)
        assert page.get_attribute("[data-testid=engine-status]", "data-state") == "loading"
        assert page.get_attribute("[data-testid=result-status]", "data-status") == "prerendered"
        # The model and GPU lists are there too (from the pre-rendered catalog).
        assert page.locator("[data-testid=model-select] option").count() > 20
        assert page.locator("[data-testid=gpu-select] option").count() > 10
        assert page.input_value("[data-testid=gpu-select]") == "rtx-4090"
        # Changing an input before the engine is up never freezes the page: it waits for the engine.
        page.fill("[data-testid=input-seq_len]", "8192")
        assert page.get_attribute("[data-testid=result-status]", "data-status") == "waiting"
        assert s.errors == []
    finally:
        s.close()


# ---------------------------------------------------------------------------------------------- every tab
def test_inference_tab_matches_engine(session: Session, web_api):
    page = session.page
    open_app(page, session.base_url)
    assert_matches_engine(page, web_api, DEFAULTS)
    page.select_option("[data-testid=input-runtime]", "vllm")
    page.fill("[data-testid=input-batch_size]", "8")
    page.fill("[data-testid=input-seq_len]", "8192")
    page.select_option("[data-testid=input-kv_cache_dtype]", "fp8")
    wait_live(page)
    assert_matches_engine(page, web_api, req(runtime="vllm", batch_size=8, seq_len=8192, kv_cache_dtype="fp8"))
    assert page.locator("[data-testid=components-table] tbody tr").count() >= 2
    assert page.locator("[data-testid=donut] circle.seg").count() >= 2
    for part in ("fit", "params", "assumptions", "inverse", "throughput", "recommendations"):
        assert page.locator(f"[data-testid={part}]").count() == 1, part
    assert session.errors == []


def test_finetune_tab_matches_engine(session: Session, web_api):
    page = session.page
    open_app(page, session.base_url)
    page.click("[data-testid=tab-finetune]")
    page.select_option("[data-testid=input-method]", "qlora")  # switches the base weights to NF4
    page.fill("[data-testid=input-seq_len]", "2048")
    page.select_option("[data-testid=input-grad_checkpointing]", "full")
    wait_live(page)
    assert page.input_value("[data-testid=input-weights]") == "nf4"
    assert_matches_engine(
        page, web_api, req(mode="finetune", method="qlora", weights="nf4", seq_len=2048, grad_checkpointing="full")
    )
    assert page.is_visible("[data-testid=input-lora_rank]")
    assert not page.is_visible("[data-testid=input-gen_len]")


def test_training_tab_matches_engine(session: Session, web_api):
    page = session.page
    open_app(page, session.base_url)
    page.click("[data-testid=tab-training]")
    page.select_option("[data-testid=gpu-select]", "h100-sxm")
    page.fill("[data-testid=input-gpus]", "8")
    page.select_option("[data-testid=input-zero]", "3")
    page.select_option("[data-testid=input-optimizer]", "adamw-8bit")
    wait_live(page)
    assert_matches_engine(page, web_api, req(mode="training", gpu="h100-sxm", gpus=8, zero=3, optimizer="adamw-8bit"))


def test_grpo_tab_matches_engine(session: Session, web_api):
    page = session.page
    open_app(page, session.base_url)
    page.click("[data-testid=tab-grpo]")
    page.select_option("[data-testid=model-select]", "qwen2.5-1.5b")
    page.fill("[data-testid=input-num_generations]", "16")
    page.fill("[data-testid=input-completion_len]", "1024")
    page.select_option("[data-testid=input-generation_backend]", "vllm")
    wait_live(page)
    assert page.is_visible("[data-testid=input-vllm_gpu_memory_utilization]")
    assert_matches_engine(
        page,
        web_api,
        req(mode="grpo", model="qwen2.5-1.5b", num_generations=16, completion_len=1024, generation_backend="vllm"),
    )


def test_multimodal_tab_offers_only_multimodal_models(session: Session, web_api):
    page = session.page
    open_app(page, session.base_url)
    text_models = set(page.eval_on_selector_all("[data-testid=model-select] option", "os => os.map(o => o.value)"))
    page.click("[data-testid=tab-multimodal]")
    wait_live(page)
    mm_models = set(page.eval_on_selector_all("[data-testid=model-select] option", "os => os.map(o => o.value)"))
    assert mm_models and not (mm_models & text_models)
    model = page.input_value("[data-testid=model-select]")
    assert model == "qwen2.5-vl-7b"
    page.fill("[data-testid=input-images]", "4")
    page.fill("[data-testid=input-seq_len]", "8192")
    wait_live(page)
    assert_matches_engine(page, web_api, req(mode="multimodal", model=model, images=4, seq_len=8192))
    # Back to a text tab: the text model comes back.
    page.click("[data-testid=tab-inference]")
    wait_live(page)
    assert page.input_value("[data-testid=model-select]") == "llama-3.1-8b"


def test_presets_cover_all_modes_and_compute(session: Session, web_api):
    page = session.page
    open_app(page, session.base_url)
    options = page.eval_on_selector_all(
        "[data-testid=preset-select] option:not([value=''])",
        "os => os.map(o => ({id: o.value, disabled: o.disabled, mode: o.parentElement.label}))",
    )
    usable = [o for o in options if not o["disabled"]]
    assert len(usable) >= 15, options
    assert len({o["mode"] for o in usable}) == 5
    # Apply one preset per mode and check the engine agrees with what is shown.
    seen = set()
    for o in usable:
        if o["mode"] in seen:
            continue
        seen.add(o["mode"])
        page.select_option("[data-testid=preset-select]", o["id"])
        wait_live(page)
        request = page.evaluate("() => ({...window.__vramApp.reportRequest})")
        assert shown_total(page) == engine_report(web_api, request)["estimate"]["total_bytes"], o["id"]


# ---------------------------------------------------------------------------------------------- validation
def test_invalid_values_show_inline_engine_messages(session: Session):
    page = session.page
    open_app(page, session.base_url)
    page.fill("[data-testid=input-batch_size]", "0")
    err = page.locator("[data-testid=error-batch_size]")
    err.wait_for(state="visible")
    assert "batch_size" in err.text_content() or "greater" in err.text_content()
    assert page.get_attribute("[data-testid=input-batch_size]", "aria-invalid") == "true"
    assert page.get_attribute("[data-testid=result-status]", "data-status") == "invalid"
    # A cross-field rule (no single field): shown at the top of the form.
    page.fill("[data-testid=input-batch_size]", "1")
    wait_live(page)
    page.fill("[data-testid=input-gen_len]", "5000")
    general = page.locator("[data-testid=form-error], [data-testid=error-gen_len]").locator("visible=true")
    general.first.wait_for()
    assert "gen_len" in general.first.text_content()
    page.fill("[data-testid=input-gen_len]", "100")
    wait_live(page)
    assert not page.is_visible("[data-testid=form-error]")
    body = page.text_content("body")
    assert "Traceback" not in body and "File \"" not in body
    assert session.errors == []


# ---------------------------------------------------------------------------------------------- sharing
def test_share_link_round_trip(browser, base_url, web_api):
    s = Session(browser, base_url)
    try:
        page = s.page
        open_app(page, base_url)
        page.click("[data-testid=tab-finetune]")
        page.select_option("[data-testid=input-method]", "full")
        page.fill("[data-testid=input-seq_len]", "1024")
        page.fill("[data-testid=input-gpus]", "4")
        page.select_option("[data-testid=input-zero]", "2")
        wait_live(page)
        total = shown_total(page)
        page.click("[data-testid=share-button]")
        url = page.input_value("[data-testid=share-url]")
        assert "#v1" in url
        other = s.new_page()
        open_app(other, url)
        assert shown_total(other) == total
        assert other.get_attribute("[data-testid=tab-finetune]", "aria-selected") == "true"
        assert other.input_value("[data-testid=input-method]") == "full"
        assert other.input_value("[data-testid=input-seq_len]") == "1024"
        assert other.input_value("[data-testid=input-zero]") == "2"
        expected = engine_report(web_api, req(mode="finetune", method="full", seq_len=1024, gpus=4, zero=2))
        assert total == expected["estimate"]["total_bytes"]
    finally:
        s.close()


def test_tampered_share_link_falls_back_to_default(session: Session, web_api):
    page = session.page
    page.goto(session.base_url + "#v1.!!!not-base64!!!")
    wait_engine_ready(page)
    wait_live(page)
    assert page.is_visible("[data-testid=notice-link]")
    assert shown_total(page) == engine_report(web_api, DEFAULTS)["estimate"]["total_bytes"]
    # Well-formed but with a value the engine rejects.
    page.goto(session.base_url + link_for({"batch_size": -3}))
    page.reload()
    wait_engine_ready(page)
    page.locator("[data-testid=notice-link]").wait_for()
    wait_live(page)
    assert shown_total(page) == engine_report(web_api, DEFAULTS)["estimate"]["total_bytes"]
    assert session.errors == []


XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def test_xss_in_share_link_is_inert(session: Session):
    page = session.page
    page.goto(session.base_url + link_for({"model": XSS, "lora_targets": XSS}))
    wait_engine_ready(page)
    notice = page.locator("[data-testid=notice-link]")
    notice.wait_for()
    wait_live(page)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("#notices script").count() == 0


def test_xss_in_pasted_config_is_inert(session: Session, web_api):
    page = session.page
    open_app(page, session.base_url)
    cfg = json.loads(json.dumps(engine_config(web_api, "llama-3.1-8b")))
    cfg["_name_or_path"] = XSS
    cfg["architectures"] = [XSS]
    page.click("[data-testid=custom-config] summary")
    page.fill("[data-testid=config-input]", json.dumps(cfg))
    page.click("[data-testid=config-apply]")
    page.locator("[data-testid=custom-active]").wait_for()
    wait_live(page)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("img[src=x]").count() == 0
    expected = engine_report(web_api, req(config=cfg))["estimate"]["total_bytes"]
    assert shown_total(page) == expected
    # An invalid config: inline error, nothing applied.
    page.click("[data-testid=config-clear]")
    wait_live(page)
    page.click("[data-testid=custom-config] summary")
    page.fill("[data-testid=config-input]", '{"model_type": "' + XSS.replace('"', "'") + '"}')
    page.click("[data-testid=config-apply]")
    err = page.locator("[data-testid=config-error]")
    err.wait_for(state="visible")
    assert page.locator("img[src=x]").count() == 0
    page.fill("[data-testid=config-input]", "{not json")
    page.click("[data-testid=config-apply]")
    page.wait_for_function("() => document.querySelector('[data-testid=config-error]').textContent.includes('JSON')")
    page.fill("[data-testid=config-input]", "x" * (300 * 1024))
    page.click("[data-testid=config-apply]")
    page.wait_for_function("() => document.querySelector('[data-testid=config-error]').textContent.includes('KB')")
    assert page.evaluate("() => window.__xss") is None
    assert session.errors == []


def engine_config(web_api, model_id: str) -> dict:
    from vram_insight.catalog import load_catalog

    return dict(load_catalog().model(model_id).config)


# ---------------------------------------------------------------------------------------------- history
def test_history_survives_reload_and_compare(session: Session):
    page = session.page
    open_app(page, session.base_url)
    page.locator("[data-testid=history-item]").first.wait_for()
    page.fill("[data-testid=input-seq_len]", "16384")
    wait_live(page)
    page.wait_for_function("() => document.querySelectorAll('[data-testid=history-item]').length >= 2")
    page.reload()
    page.wait_for_selector("html[data-app-ready='1']")
    assert page.locator("[data-testid=history-item]").count() >= 2
    # Restore the older entry (default inputs) and compare the two.
    wait_engine_ready(page)
    page.locator("[data-testid=history-item]").nth(1).locator("[data-testid=history-restore]").click()
    wait_live(page)
    assert page.input_value("[data-testid=input-seq_len]") == "4096"
    page.locator("[data-testid=history-select]").nth(0).check()
    page.locator("[data-testid=history-select]").nth(1).check()
    page.click("[data-testid=compare-button]")
    table = page.locator("[data-testid=compare-table]")
    table.wait_for()
    assert table.locator("thead th").count() == 2
    # Delete one, then clear.
    n = page.locator("[data-testid=history-item]").count()
    page.locator("[data-testid=history-delete]").first.click()
    assert page.locator("[data-testid=history-item]").count() == n - 1
    page.click("[data-testid=history-clear]")
    assert page.locator("[data-testid=history-item]").count() == 0
    stored = page.evaluate("() => JSON.parse(localStorage.getItem('vram-insight:history'))")
    assert stored == {"schema": 1, "entries": []}


def test_corrupted_history_entry_reported_and_rest_kept(session: Session):
    page = session.page
    open_app(page, session.base_url)
    good = {
        "id": "a1",
        "ts": 1_700_000_000_000,
        "request": {**DEFAULTS, "seq_len": 2048},
        "summary": {"total_bytes": 17_000_000_000, "model_name": "Llama 3.1 8B", "components": {"weights": 1}},
    }
    data = {"schema": 1, "entries": [good, "garbage", {"id": 5, "summary": None}, {**good, "id": "a2", "request": {"mode": "nope"}}]}
    page.evaluate("d => localStorage.setItem('vram-insight:history', JSON.stringify(d))", data)
    page.reload()
    page.wait_for_selector("html[data-app-ready='1']")
    notice = page.locator("[data-testid=notice-history]")
    notice.wait_for()
    assert "3" in notice.text_content()
    assert page.locator("[data-testid=history-item]").count() == 1
    # Schema 0 (unversioned array, earlier builds) is migrated, not lost.
    old = [{"time": 1_700_000_000_000, "request": {"mode": "training"}, "total_bytes": 5e10, "model_name": "Old"}]
    page.evaluate("d => localStorage.setItem('vram-insight:history', JSON.stringify(d))", old)
    page.reload()
    page.wait_for_selector("html[data-app-ready='1']")
    assert page.locator("[data-testid=history-item]").count() == 1
    assert "Old" in page.text_content("[data-testid=history-list]")
    assert session.errors == []


# ---------------------------------------------------------------------------------------------- UI
def test_language_switch_and_memory(browser, base_url):
    s = Session(browser, base_url, locale="zh-CN")
    try:
        page = s.page
        open_app(page, base_url, ready=False)
        assert page.text_content("[data-testid=tab-inference]") == "推理"
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        page.select_option("[data-testid=lang-select]", "en")
        page.wait_for_function("() => document.querySelector('[data-testid=tab-inference]').textContent === 'Inference'")
        page.reload()
        page.wait_for_selector("html[data-app-ready='1']")
        assert page.text_content("[data-testid=tab-finetune]") == "Fine-tuning"
        page.keyboard.press("l")
        page.wait_for_function("() => document.querySelector('[data-testid=tab-finetune]').textContent === '微调'")
        assert s.errors == []
    finally:
        s.close()


def test_narrow_phone_viewport_has_no_horizontal_scroll(browser, base_url):
    s = Session(browser, base_url, viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    try:
        page = s.page
        open_app(page, base_url)
        for tab in ("inference", "finetune", "training", "grpo", "multimodal"):
            page.click(f"[data-testid=tab-{tab}]")
            wait_live(page)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{tab}: {overflow}px of horizontal scroll"
        assert page.is_visible("[data-testid=total-value]")
    finally:
        s.close()


def test_theme_shortcuts_and_exports(session: Session):
    page = session.page
    open_app(page, session.base_url)
    page.select_option("[data-testid=theme-select]", "dark")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    page.wait_for_selector("html[data-app-ready='1']")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.input_value("[data-testid=theme-select]") == "dark"
    page.keyboard.press("?")
    assert page.is_visible("[data-testid=shortcuts-dialog]")
    page.keyboard.press("Escape")
    page.keyboard.press("3")
    assert page.get_attribute("[data-testid=tab-training]", "aria-selected") == "true"
    wait_engine_ready(page)
    wait_live(page)
    for kind, suffix in (("md", ".md"), ("csv", ".csv"), ("json", ".json")):
        with page.expect_download() as dl:
            page.click(f"[data-testid=export-{kind}]")
        d = dl.value
        assert d.suggested_filename.endswith(suffix)
        text = open(d.path(), encoding="utf-8").read()
        if kind == "json":
            data = json.loads(text)
            assert data["report"]["estimate"]["total_bytes"] == shown_total(page)
            assert data["request"]["mode"] == "training"
        else:
            assert str(shown_total(page)) in text or gb_text(shown_total(page)) in text
    assert page.text_content("[data-testid=perf-boot]") != "—"
    assert page.text_content("[data-testid=perf-last]") != "—"


# ---------------------------------------------------------------------------------------------- network
def test_full_session_makes_no_off_origin_request(session: Session):
    page = session.page
    open_app(page, session.base_url)
    for tab in ("finetune", "training", "grpo", "multimodal", "inference"):
        page.click(f"[data-testid=tab-{tab}]")
        wait_live(page)
    page.select_option("[data-testid=preset-select]", index=3)
    wait_live(page)
    page.fill("[data-testid=model-search]", "qwen 7b")
    page.click("[data-testid=share-button]")
    page.select_option("[data-testid=lang-select]", "zh-CN")
    page.select_option("[data-testid=theme-select]", "dark")
    page.reload()
    wait_engine_ready(page)
    wait_live(page)
    assert session.requests, "no request recorded"
    assert session.off_origin() == []


def test_offline_reload_still_calculates(browser, base_url, web_api):
    s = Session(browser, base_url)
    try:
        page = s.page
        open_app(page, base_url)
        page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
        for _ in range(3):
            if page.evaluate("() => !!navigator.serviceWorker.controller"):
                break
            page.reload()
            page.wait_for_selector("html[data-app-ready='1']")
        assert page.evaluate("() => !!navigator.serviceWorker.controller"), "service worker never controlled the page"
        wait_engine_ready(page)
        s.context.set_offline(True)
        page.reload()
        wait_engine_ready(page)
        wait_live(page)
        page.fill("[data-testid=input-seq_len]", "32768")
        wait_live(page)
        assert shown_total(page) == engine_report(web_api, req(seq_len=32768))["estimate"]["total_bytes"]
        # A share link opened offline restores the same inputs and result.
        other = s.new_page()
        open_app(other, base_url + link_for({"mode": "training", "seq_len": 1024}))
        assert shown_total(other) == engine_report(web_api, req(mode="training", seq_len=1024))["estimate"]["total_bytes"]
    finally:
        s.context.set_offline(False)
        s.close()


def test_engine_boot_time_reported(session: Session):
    page = session.page
    open_app(page, session.base_url)
    boot = page.text_content("[data-testid=perf-boot]")
    assert re.match(r"^[\d.,]+ s$", boot), boot
    assert ENGINE_BOOT_TIMEOUT_MS > 0
