"""Issue 12 in the browser: the phone and desktop layouts in both languages, translated engine messages, each tab
keeping its own inputs, the state in the address, ranked model search and presets that fit their hardware.

Every number compared is the engine's, run in-process under CPython (see conftest.py).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from conftest import (
    Session,
    engine_report,
    open_app,
    shown_total,
    wait_engine_ready,
    wait_for_address,
    wait_live,
)
from vram_insight.messages import render as py_render
from vram_insight.schemas import EstimateRequest

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = EstimateRequest().model_dump(mode="json")
PRESETS = json.loads((ROOT / "site" / "app" / "presets.json").read_text("utf-8"))
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 800}
LOCALES = {"en": "en-US", "zh-CN": "zh-CN"}
I18N = {lang: json.loads((ROOT / "site" / "i18n" / f"{lang}.json").read_text("utf-8")) for lang in LOCALES}


def req(**changes) -> dict:
    return {**DEFAULTS, **changes}


def new_session(browser, base_url: str, viewport: dict, lang: str) -> Session:
    phone = viewport["width"] < 600
    return Session(
        browser, base_url, viewport=viewport, locale=LOCALES[lang], is_mobile=phone, has_touch=phone
    )


# Words of every rendered table cell that are broken across lines or stick out of their cell. A word is a run of
# non-space characters up to a hyphen ("multi-GPU" may wrap after "multi-"); CJK characters are words of their own
# (Chinese wraps between any two of them).
BROKEN_WORDS_JS = """
() => {
  const bad = [];
  const word = /[\\u3000-\\u9fff\\uff00-\\uffef]|[^\\s\\u3000-\\u9fff\\uff00-\\uffef-]+-?/g;
  // Visually hidden (screen-reader only) parts, e.g. the column headers of a table shown as cards, are skipped.
  const clipped = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const r = a.getBoundingClientRect();
      if (r.width <= 1 || r.height <= 1) return true;
    }
    return false;
  };
  for (const cell of document.querySelectorAll("table th, table td")) {
    const box = cell.getBoundingClientRect();
    if (!cell.getClientRects().length || box.width === 0 || clipped(cell)) continue;
    const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
      for (const m of node.textContent.matchAll(word)) {
        const r = document.createRange();
        r.setStart(node, m.index);
        r.setEnd(node, m.index + m[0].length);
        const rects = [...r.getClientRects()].filter((x) => x.width > 0);
        if (!rects.length) continue;
        const lines = new Set(rects.map((x) => Math.round(x.bottom))).size;
        const left = Math.min(...rects.map((x) => x.left));
        const right = Math.max(...rects.map((x) => x.right));
        if (lines > 1 || left < box.left - 1 || right > box.right + 1)
          bad.push(`${m[0]} (in "${cell.textContent.trim().slice(0, 40)}", cell ${Math.round(box.width)} px)`);
      }
    }
  }
  return bad;
}
"""


def broken_words(page) -> list[str]:
    return page.evaluate(BROKEN_WORDS_JS)


# ================================================================================================ layout
@pytest.mark.parametrize("lang", sorted(LOCALES))
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360px", "1280px"])
def test_tables_never_break_words(browser, base_url, viewport, lang):
    """Every table cell is at least as wide as its longest word: results of three tabs and a comparison."""
    s = new_session(browser, base_url, viewport, lang)
    try:
        page = s.page
        open_app(page, base_url)
        assert page.locator("[data-testid=recommendations] tbody tr").count() >= 3
        assert broken_words(page) == []
        page.click("[data-testid=save-button]")
        for tab in ("training", "grpo"):
            page.click(f"[data-testid=tab-{tab}]")
            wait_live(page)
            assert broken_words(page) == [], tab
            page.click("[data-testid=save-button]")
        page.wait_for_function("() => document.querySelectorAll('[data-testid=history-item]').length === 3")
        for i in range(3):
            page.locator("[data-testid=history-select]").nth(i).check()
        page.click("[data-testid=compare-button]")
        page.locator("[data-testid=compare-table]").wait_for()
        assert broken_words(page) == []
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{overflow}px of horizontal scroll"
        assert s.errors == []
    finally:
        s.close()


@pytest.mark.parametrize("lang", sorted(LOCALES))
def test_phone_shows_the_result_first_and_keeps_the_total_in_view(browser, base_url, web_api, lang):
    s = new_session(browser, base_url, PHONE, lang)
    try:
        page = s.page
        page.goto(base_url, wait_until="commit")
        page.wait_for_selector("html[data-app-ready='1']")

        def in_first_viewport(sel: str) -> bool:
            box = page.locator(sel).bounding_box()
            return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]

        # Before the engine is up (the pre-rendered result) and once it is.
        assert page.evaluate("() => scrollY") == 0
        assert in_first_viewport("[data-testid=total-value]")
        wait_engine_ready(page)
        wait_live(page)
        assert in_first_viewport("[data-testid=total-value]")
        assert in_first_viewport("[data-testid=fit-verdict]")
        assert not page.is_visible("[data-testid=mini-result]")  # the full total is on screen
        # Editing an input further down: the compact total and fit bar stay at the top, above the input.
        page.locator("[data-testid=input-seq_len]").scroll_into_view_if_needed()
        page.fill("[data-testid=input-seq_len]", "32768")
        wait_live(page)
        mini = page.locator("[data-testid=mini-result]")
        mini.wait_for(state="visible")
        expected = engine_report(web_api, req(seq_len=32768))["estimate"]["total_bytes"]
        assert shown_total(page) == expected
        assert int(page.get_attribute("[data-testid=mini-total]", "data-total-bytes")) == expected
        bar = mini.bounding_box()
        field = page.locator("[data-testid=input-seq_len]").bounding_box()
        assert bar["y"] == 0 and field["y"] >= bar["y"] + bar["height"], (bar, field)
        verdict = page.text_content("[data-testid=mini-verdict]")
        assert verdict == page.text_content("[data-testid=fit-verdict]")
        # A tap on it goes back to the full result.
        mini.click()
        page.wait_for_function("() => document.querySelector('#mini-result').dataset.show === '0'")
        assert in_first_viewport("[data-testid=total-value]")
        assert s.errors == []
    finally:
        s.close()


# ================================================================================================ messages
def test_message_renderer_matches_the_engine_format(app_page, web_api):
    """The site fills the engine's placeholders exactly as Python's format() does (en), per locale (zh-CN), and
    falls back to the engine's English text for a code it has no translation of."""
    page = app_page.page
    template = "{n:,} layers · {x:.2f} GB · {y:,.1f} tok/s · {s} · {missing}"
    params = {"n": 1234567, "x": 3.14159, "y": 12345.678, "s": "q4_k_m"}
    out = page.evaluate(
        """async ([tpl, params]) => {
            const i18n = await import('./app/i18n.js');
            const fill = i18n.fillTemplate(tpl, params);
            const missing = i18n.renderMessage({code: 'no.such.code', params: {}, text: 'Engine text'});
            const plain = i18n.renderMessage('A plain string');
            return {fill, missing, plain};
        }""",
        [template, params],
    )
    assert out["fill"] == py_render(template, params)
    assert out["missing"] == {"text": "Engine text", "code": "no.such.code", "translated": False}
    assert out["plain"] == {"text": "A plain string", "code": None, "translated": False}


def test_message_renderer_nests_messages_and_names_fields_as_the_form(app_page, web_api):
    """A parameter that is a message is rendered in place (and counts for 'translated'); an error's {field} is the
    form's label for that input, not the engine's field name."""
    page = app_page.page
    reset(app_page)
    result = engine_report(web_api, DEFAULTS)["estimate"]
    weights = next(a for a in result["assumptions"] if a["code"] == "inference.weights")
    assert isinstance(weights["params"]["format"], dict)  # a nested message
    label = page.text_content("label[for=f-batch_size]").strip()
    out = page.evaluate(
        """async ([weights]) => {
            const i18n = await import('./app/i18n.js');
            const nested = i18n.renderMessage(weights);
            const unknownInner = i18n.renderMessage({code: 'inference.weights', text: 'x',
                params: {format: {code: 'no.such.code', params: {}, text: 'Engine text'}}});
            const error = i18n.renderMessage({code: 'error.input.ge', params: {field: 'batch_size', limit: 1},
                text: 'batch_size must be at least 1'});
            const configKey = i18n.renderMessage({code: 'error.input.ge', params: {field: 'config.hidden_size', limit: 1},
                text: ''});
            return {nested, unknownInner, error, configKey};
        }""",
        [weights],
    )
    assert out["nested"] == {"text": weights["text"], "code": "inference.weights", "translated": True}
    assert out["unknownInner"] == {
        "text": "Weights: Engine text",
        "code": "inference.weights",
        "translated": False,
    }
    assert out["error"]["text"] == f"{label} must be at least 1" and label != "batch_size"
    assert out["configKey"]["text"] == "hidden_size must be at least 1"


def test_no_untranslated_engine_message_in_chinese(browser, base_url, web_api):
    """In zh-CN every assumption, warning, note, recommendation reason and error on screen comes from a Chinese
    template: each tab, vLLM and llama.cpp, a request that warns, and a rejected value."""
    s = new_session(browser, base_url, DESKTOP, "zh-CN")
    zh = I18N["zh-CN"]
    try:
        page = s.page
        open_app(page, base_url)
        where: set[str] = set()

        def check(what: str) -> None:
            shown = page.eval_on_selector_all(
                "#result [data-translated]",  # every engine message (result.js msgNode)
                "els => els.map(e => [e.dataset.msg, e.dataset.translated, e.textContent,"
                " e.parentElement.closest('[data-testid]')?.dataset.testid ?? ''])",
            )
            assert shown, what
            untranslated = [m for m in shown if m[1] != "1" or not m[0]]
            assert untranslated == [], (what, untranslated)
            # Translated means Chinese prose: no message reads as an English sentence.
            english = [
                m for m in shown if not any("\u4e00" <= ch <= "\u9fff" for ch in m[2]) and " the " in m[2]
            ]
            assert english == [], (what, english)
            where.update(m[3] for m in shown)

        for tab in ("inference", "finetune", "training", "grpo", "multimodal"):
            page.click(f"[data-testid=tab-{tab}]")
            wait_live(page)
            check(tab)
        page.click("[data-testid=tab-inference]")
        wait_live(page)
        for runtime in ("vllm", "llama.cpp"):
            page.select_option("[data-testid=input-runtime]", runtime)
            wait_live(page)
            check(runtime)
        page.select_option("[data-testid=input-runtime]", "transformers")
        page.fill(
            "[data-testid=input-seq_len]", "200000"
        )  # past Llama 3.1's 131,072-token context: a warning
        wait_live(page)
        check("warning")
        assert page.eval_on_selector_all("[data-testid=warnings] [data-translated]", "els => els.length") >= 1
        # Every kind of engine message was on screen (and translated).
        for part in ("assumptions", "warnings", "inverse", "throughput", "recs-table"):
            assert part in where, (part, where)
        # A rejected value: the engine's error in Chinese, naming the input as its label does.
        page.fill("[data-testid=input-batch_size]", "0")
        err = page.locator("[data-testid=error-batch_size]")
        err.wait_for(state="visible")
        label = page.text_content("label[for=f-batch_size]").strip()
        assert label == zh["f.batch_size_inf"]
        assert err.text_content() == py_render(zh["msg.error.input.ge"], {"field": label, "limit": 1})
    finally:
        s.close()


def test_link_errors_name_the_input_as_the_form_does(browser, base_url, web_api):
    """A rejected value from a link is named by the form's label (translated), never by the engine's field."""
    link = "#v1." + base64.urlsafe_b64encode(b'{"weights": "zz"}').decode().rstrip("=")
    for lang in LOCALES:
        s = new_session(browser, base_url, DESKTOP, lang)
        try:
            page = s.page
            open_app(page, base_url + link)
            notice = page.locator("[data-testid=notice-link]").text_content()
            label = page.text_content("label[for=f-weights]")
            assert label == I18N[lang]["f.weights"]
            assert f"“{label}”" in notice
            assert "“weights”" not in notice
            assert page.input_value("[data-testid=input-weights]") == "bf16"
            assert shown_total(page) == engine_report(web_api, DEFAULTS)["estimate"]["total_bytes"]
        finally:
            s.close()


# ================================================================================================ one shared page
@pytest.fixture(scope="module")
def app_page(browser, base_url) -> Session:
    s = Session(browser, base_url, viewport={"width": 1280, "height": 900}, locale="en-US")
    open_app(s.page, base_url)
    yield s
    s.close()


def reset(s: Session) -> None:
    page = s.page
    page.evaluate("() => { location.hash = ''; }")
    page.evaluate("() => { location.hash = '#v1.e30'; }")
    wait_engine_ready(page)
    wait_live(page)


def test_each_tab_keeps_its_own_inputs(app_page, web_api):
    page = app_page.page
    reset(app_page)
    page.click("[data-testid=tab-finetune]")
    wait_live(page)
    page.select_option("[data-testid=input-method]", "qlora")
    wait_live(page)
    assert page.input_value("[data-testid=input-weights]") == "nf4"
    # Inference and Multimodal keep bf16 weights (they used to switch to NF4 silently: 17.5 -> 7.2 GB).
    page.click("[data-testid=tab-inference]")
    wait_live(page)
    assert page.input_value("[data-testid=input-weights]") == "bf16"
    assert shown_total(page) == engine_report(web_api, DEFAULTS)["estimate"]["total_bytes"]
    page.click("[data-testid=tab-multimodal]")
    wait_live(page)
    assert page.input_value("[data-testid=input-weights]") == "bf16"
    mm = req(mode="multimodal", model="qwen2.5-vl-7b")
    assert shown_total(page) == engine_report(web_api, mm)["estimate"]["total_bytes"]
    # Back in Fine-tuning: its own inputs, marked as changed from the defaults.
    page.click("[data-testid=tab-finetune]")
    wait_live(page)
    assert page.input_value("[data-testid=input-method]") == "qlora"
    assert page.input_value("[data-testid=input-weights]") == "nf4"
    ft = req(mode="finetune", method="qlora", weights="nf4")
    assert shown_total(page) == engine_report(web_api, ft)["estimate"]["total_bytes"]
    changed = page.eval_on_selector_all(".field.changed[data-key]", "els => els.map(e => e.dataset.key)")
    assert sorted(changed) == ["method", "weights"]
    assert "2" in page.text_content("[data-testid=changed-count]")
    assert "tab-changed" in page.get_attribute("[data-testid=tab-finetune]", "class")
    assert "tab-changed" not in (page.get_attribute("[data-testid=tab-inference]", "class") or "")
    # The reset next to an input puts its default back (LoRA, and with it bf16 weights).
    page.click("[data-testid=reset-method]")
    wait_live(page)
    assert page.input_value("[data-testid=input-method]") == "lora"
    assert page.input_value("[data-testid=input-weights]") == "bf16"
    assert page.is_hidden("[data-testid=changed-bar]")


def test_model_search_ranks_family_and_size(app_page):
    page = app_page.page
    reset(app_page)

    def matches(q: str) -> list[str]:
        page.fill("[data-testid=model-search]", q)
        return page.eval_on_selector_all(
            "[data-testid=model-select] optgroup[data-group=matches] option", "os => os.map(o => o.value)"
        )

    found = matches("qwen 7b")
    assert found[0] == "qwen2.5-7b"
    assert "qwen2.5-72b" not in found and not any(m.startswith("llama") for m in found)
    assert all("qwen" in m and "7b" in m for m in found)
    # The model in use is listed apart, not as a match.
    assert page.eval_on_selector_all(
        "[data-testid=model-select] optgroup[data-group=current] option", "os => os.map(o => o.value)"
    ) == ["llama-3.1-8b"]
    assert page.text_content("[data-testid=model-count]").startswith(f"{len(found)} of ")
    assert matches("llama 70b")[:4] == ["llama-2-70b", "llama-3.1-70b", "llama-3-70b", "llama-3.3-70b"]
    assert matches("qwen2.5 0.5b") == ["qwen2.5-0.5b"]
    assert set(matches("mixtral")) == {"mixtral-8x7b", "mixtral-8x22b"}
    # Nothing matches: it says so (it used to show "1 of 76").
    assert matches("zzzz") == []
    count = page.locator("[data-testid=model-count]")
    assert "No model matches" in count.text_content() and "zzzz" in count.text_content()
    assert page.input_value("[data-testid=model-select]") == "llama-3.1-8b"
    # Enter picks the best match.
    matches("qwen 7b")
    page.press("[data-testid=model-search]", "Enter")
    wait_live(page)
    assert page.input_value("[data-testid=model-select]") == "qwen2.5-7b"
    page.fill("[data-testid=model-search]", "")


def test_every_preset_fits_the_hardware_it_names(app_page, web_api):
    page = app_page.page
    reset(app_page)
    for p in PRESETS:
        page.select_option("[data-testid=preset-select]", p["id"])
        wait_live(page)
        request = page.evaluate("() => ({...window.__vramApp.reportRequest})")
        assert request["gpu"] == p["gpu"] and request["model"] == p["model"], p["id"]
        report = engine_report(web_api, request)
        # The big number is what the card holds (for vLLM: its whole reservation); the fit verdict is the engine's.
        assert shown_total(page) == report["estimate"]["total_bytes"], p["id"]
        assert report["fit"]["fits"] == (p.get("expect") != "no_fit"), p["id"]
        verdict = page.get_attribute("[data-testid=fit]", "data-fits")
        assert verdict == ("false" if p.get("expect") == "no_fit" else "true"), p["id"]
        # The preset box shows the preset in use.
        assert page.input_value("[data-testid=preset-select]") == p["id"]
    # Once an input changes it says the inputs are a modified preset.
    page.fill("[data-testid=input-seq_len]", "1000")
    wait_live(page)
    assert page.input_value("[data-testid=preset-select]") == ""
    assert page.text_content("[data-testid=preset-none]").startswith("Modified: ")


def test_no_cli_words_or_empty_rows(app_page):
    page = app_page.page
    reset(app_page)
    help_text = page.text_content("#f-batch_size-help")
    assert "per_device" not in help_text
    rows = page.eval_on_selector_all(
        "[data-testid=components-table] tbody tr", "rs => rs.map(r => r.dataset.component)"
    )
    assert "logits" not in rows  # 0.8 MB: named under the table, not a "0.00 GB 0 %" row
    assert "Logits" in page.text_content("[data-testid=small-components]")
    for cell in page.eval_on_selector_all(
        "[data-testid=components-table] tbody td.num", "ts => ts.map(t => t.textContent)"
    ):
        assert cell not in ("0.00", "0.0%"), cell


# ================================================================================================ address
def test_reload_and_back_restore_every_tab(browser, base_url, web_api):
    """The address follows the inputs without "Copy share link"; a reload and Back bring all of them back."""
    s = Session(browser, base_url, viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        page = s.page
        open_app(page, base_url)
        page.click("[data-testid=tab-finetune]")
        wait_live(page)
        page.select_option("[data-testid=input-method]", "qlora")
        page.fill("[data-testid=input-seq_len]", "1024")
        wait_live(page)
        page.click("[data-testid=tab-inference]")
        wait_live(page)
        page.fill("[data-testid=input-seq_len]", "8192")
        wait_live(page)
        # The address holds the inputs (no "Copy share link" needed).
        wait_for_address(page, lambda r: r and r["mode"] == "inference" and r["seq_len"] == 8192)
        inference = req(seq_len=8192)
        finetune = req(mode="finetune", method="qlora", weights="nf4", seq_len=1024)

        def check() -> None:
            assert page.get_attribute("[data-testid=tab-inference]", "aria-selected") == "true"
            assert page.input_value("[data-testid=input-seq_len]") == "8192"
            assert shown_total(page) == engine_report(web_api, inference)["estimate"]["total_bytes"]
            page.click("[data-testid=tab-finetune]")
            wait_live(page)
            assert page.input_value("[data-testid=input-method]") == "qlora"
            assert page.input_value("[data-testid=input-seq_len]") == "1024"
            assert shown_total(page) == engine_report(web_api, finetune)["estimate"]["total_bytes"]
            page.click("[data-testid=tab-inference]")
            wait_live(page)

        page.reload()
        page.wait_for_selector("html[data-app-ready='1']")
        # Before the engine answers, the last result for these inputs is already on screen.
        total = page.get_attribute("[data-testid=total-value]", "data-total-bytes")
        assert int(total) == engine_report(web_api, inference)["estimate"]["total_bytes"]
        wait_engine_ready(page)
        wait_live(page)
        check()
        page.goto(base_url + "models/")
        page.go_back()
        page.wait_for_selector("html[data-app-ready='1']")
        wait_engine_ready(page)
        wait_live(page)
        check()
        assert s.errors == []
    finally:
        s.close()


def test_broken_links_are_explained_in_the_pages_language(browser, base_url):
    """Why a link cannot be read is said in the page's language, inputs named as the form labels them."""

    def link(obj: dict) -> str:
        return "#v1." + base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    for lang in LOCALES:
        s = new_session(browser, base_url, DESKTOP, lang)
        try:
            page = s.page
            strings = I18N[lang]
            open_app(page, base_url + link({"nope": 1, "gpus": "many"}))
            notice = page.locator("[data-testid=notice-link]").text_content()
            gpus = page.text_content("label[for=f-gpus]").strip()
            assert py_render(strings["link.unknown_field"], {"field": "nope"}) in notice, notice
            assert py_render(strings["link.bad_value"], {"field": gpus}) in notice, notice
            page.evaluate(
                "() => document.querySelectorAll('[data-testid=notice-link]').forEach(n => n.remove())"
            )
            page.evaluate("() => { location.hash = '#v9.e30'; }")
            notice = page.locator("[data-testid=notice-link]").text_content()
            assert py_render(strings["link.version"], {"version": "9"}) in notice, notice
            if lang == "zh-CN":
                assert "unknown" not in notice and "version" not in notice, notice
        finally:
            s.close()
