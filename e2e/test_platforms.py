"""Issue 11 on the page: a Mac's wired-memory limit under the fit line, the Mac-only inputs, recommendations that
leave out cards whose platform cannot run the request (with the reason, translated), and a weight format the
runtime does not load named under its field — each compared with the ``vram`` CLI for the same input."""

from __future__ import annotations

import re

from conftest import Session, engine_report, open_app, run_cli, to_defaults, wait_live
from vram_insight.catalog import load_catalog
from vram_insight.schemas import EstimateRequest

DEFAULTS = EstimateRequest().model_dump(mode="json")
MACS = {g.id: g.name for g in load_catalog().gpus.values() if g.vendor == "apple"}


def test_mac_shows_the_wired_limit_as_the_cli_prints_it(app: Session) -> None:
    page = app.page
    to_defaults(app.page)
    # The Mac-only inputs stay hidden on an NVIDIA card.
    assert not page.is_visible("[data-testid=input-macos_version]")
    assert page.locator("[data-testid=fit-wired]").count() == 0
    page.select_option("[data-testid=gpu-select]", "m4-pro-64gb")
    wait_live(page)
    assert page.is_visible("[data-testid=input-macos_version]")
    assert page.is_visible("[data-testid=input-iogpu_wired_limit_mb]")
    shown = page.text_content("[data-testid=fit-wired] strong").strip()
    code, out, _ = run_cli("report", "-m", DEFAULTS["model"], "--gpu", "m4-pro-64gb")
    assert code == 0
    assert f"    {shown}: " in out
    # macOS 26's logged 64 GB working set (55662.79 MB) vs macOS 15's 3/4 of 64 GiB.
    assert shown.startswith("GPU may wire 55.66 of 68.72 GB")
    page.select_option("[data-testid=input-macos_version]", "15")
    wait_live(page)
    assert page.text_content("[data-testid=fit-wired] strong").startswith("GPU may wire 51.54 of 68.72 GB")
    page.fill("[data-testid=input-iogpu_wired_limit_mb]", "60000")
    wait_live(page)
    sysctl = page.text_content("[data-testid=fit-wired] strong")
    assert "iogpu.wired_limit_mb = 60,000 MiB" in sysctl and sysctl.startswith(
        "GPU may wire 62.91 of 68.72 GB"
    )
    assert app.errors == []


def test_override_beyond_the_macs_ram_names_the_field(app: Session) -> None:
    page = app.page
    to_defaults(app.page)
    page.select_option("[data-testid=gpu-select]", "m4-pro-64gb")
    wait_live(page)
    page.fill("[data-testid=input-iogpu_wired_limit_mb]", "70000")
    page.wait_for_selector("[data-testid=error-iogpu_wired_limit_mb]:not([hidden])")
    shown = page.text_content("[data-testid=error-iogpu_wired_limit_mb]").strip()
    code, _, err = run_cli(
        "report", "-m", DEFAULTS["model"], "--gpu", "m4-pro-64gb", "--iogpu-wired-limit-mb", "70000"
    )
    assert code == 2 and shown == err.removeprefix("vram: error: ").strip()
    assert app.errors == []


def test_vllm_does_not_recommend_a_mac_and_says_why(app: Session, web_api) -> None:
    page = app.page
    to_defaults(app.page)
    page.select_option("[data-testid=input-runtime]", "vllm")
    wait_live(page)
    page.wait_for_selector("[data-testid=left-out]")
    rows = page.locator("[data-testid=recs-table] tbody tr")
    recommended = {rows.nth(i).get_attribute("data-gpu") for i in range(rows.count())}
    assert recommended and not recommended & set(MACS)
    expected = engine_report(web_api, {**DEFAULTS, "runtime": "vllm"})
    assert {r["gpu"] for r in expected["recommendations"]} == recommended
    item = page.locator("[data-testid=left-out] li[data-msg='platform.vllm_metal']")
    assert set(item.get_attribute("data-gpus").split()) == set(MACS)
    text = item.text_content()
    assert all(name in text for name in MACS.values())
    assert "vLLM has no Apple GPU backend" in text
    # The CLI lists the same cards left out, for the same reason.
    code, out, _ = run_cli("recommend", "-m", DEFAULTS["model"], "--runtime", "vllm")
    assert code == 0 and "left out:" in out
    assert any(all(n in line for n in MACS.values()) and "vLLM has no Apple GPU backend" in line
               for line in out.splitlines())  # fmt: skip
    # Choosing a Mac anyway: the fit says it cannot run vLLM.
    page.select_option("[data-testid=gpu-select]", "m4-max-128gb")
    wait_live(page)
    assert "vLLM has no Apple GPU backend" in page.text_content("[data-testid=fit-software]")
    assert app.errors == []


def test_format_the_runtime_does_not_load_names_weights(app: Session) -> None:
    page = app.page
    to_defaults(app.page)
    page.select_option("[data-testid=input-runtime]", "llama.cpp")
    page.select_option("[data-testid=input-weights]", "gptq-int8")
    page.wait_for_selector("[data-testid=error-weights]:not([hidden])")
    shown = page.text_content("[data-testid=error-weights]").strip()
    code, _, err = run_cli("estimate", "-m", DEFAULTS["model"], "--runtime", "llama.cpp", "-w", "gptq-int8")
    assert code == 2 and shown == err.removeprefix("vram: error: ").strip()
    assert "gptq-int8" in shown and "GGUF" in shown
    assert page.get_attribute("[data-testid=result-status]", "data-status") == "invalid"
    assert app.errors == []


def test_platform_messages_in_chinese(browser, base_url) -> None:
    s = Session(browser, base_url, viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        page = s.page
        open_app(page, base_url + "#v1.eyJydW50aW1lIjogInZsbG0iLCAiZ3B1IjogIm00LXByby02NGdiIn0")
        # {"runtime": "vllm", "gpu": "m4-pro-64gb"}
        wired = page.locator("[data-testid=fit-wired] strong")
        assert wired.get_attribute("data-translated") == "1"
        assert wired.text_content().startswith("GPU 可锁定 55.66 / 68.72 GB")
        reason = page.locator("[data-testid=left-out] li[data-msg='platform.vllm_metal'] .left-out-reason")
        assert reason.get_attribute("data-translated") == "1"
        assert "vLLM 没有 Apple GPU 后端" in reason.text_content()
        assert page.text_content("label[for=f-macos_version]") == "macOS 版本"
        page.select_option("[data-testid=input-runtime]", "llama.cpp")
        page.select_option("[data-testid=input-weights]", "mxfp4")
        page.wait_for_selector("[data-testid=error-weights]:not([hidden])")
        assert "llama.cpp 运行 GGUF 文件" in page.text_content("[data-testid=error-weights]")
        assert s.errors == []
    finally:
        s.close()


def test_mac_limit_matches_the_engine(web_api) -> None:
    """The number the page shows is the engine's: macOS 26 on a 64 GB Mac is the logged 55662.79 MB."""
    rep = engine_report(web_api, {**DEFAULTS, "gpu": "m4-pro-64gb"})
    assert round(rep["fit"]["wired_limit"]["limit_bytes"] / 1e6, 2) == 55662.79
    assert re.match(r"GPU may wire 55\.66 of 68\.72 GB", rep["fit"]["wired_limit"]["summary"]["text"])
