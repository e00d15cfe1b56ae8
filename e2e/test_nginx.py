"""Smoke checks of the same built folder served by Debian's nginx with deploy/nginx.conf (CSP, MIME types,
precompressed variants and cache headers are nginx's, not build.py's)."""

from __future__ import annotations

from urllib.request import Request, urlopen

from conftest import Session, engine_report, open_app, shown_total, wait_live
from test_app import DEFAULTS, assert_matches_engine, link_for, req


def head(url: str, encoding: str | None = None) -> dict[str, str]:
    r = Request(url, method="GET", headers={"Accept-Encoding": encoding} if encoding else {})
    with urlopen(r, timeout=10) as resp:
        resp.read()
        return {k.lower(): v for k, v in resp.headers.items()}


def test_nginx_headers(nginx_url, site_dir):
    page = head(nginx_url)
    assert page["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.get("content-security-policy", "")
    wasm = next(site_dir.rglob("*.wasm")).relative_to(site_dir).as_posix()
    assert head(nginx_url + wasm)["content-type"] == "application/wasm"
    assert head(nginx_url + "app/main.js")["content-type"].startswith(
        ("application/javascript", "text/javascript")
    )
    assert head(nginx_url + "i18n/zh-CN.json")["content-type"].startswith("application/json")
    assert "no-cache" in head(nginx_url + "sw.js").get("cache-control", "")


def test_nginx_app_smoke(browser, nginx_url, web_api):
    s = Session(browser, nginx_url)
    try:
        page = s.page
        page.goto(nginx_url, wait_until="commit")
        page.wait_for_selector("[data-testid=total-value]")
        default_total = engine_report(web_api, DEFAULTS)["estimate"]["total_bytes"]
        assert shown_total(page) == default_total  # pre-rendered, before the engine
        open_app(page, nginx_url + link_for({"mode": "finetune", "method": "qlora", "weights": "nf4"}))
        assert_matches_engine(page, web_api, req(mode="finetune", method="qlora", weights="nf4"))
        page.click("[data-testid=tab-grpo]")
        page.fill("[data-testid=input-num_generations]", "4")
        wait_live(page)
        assert_matches_engine(
            page, web_api, req(mode="grpo", method="qlora", weights="nf4", num_generations=4)
        )
        page.select_option("[data-testid=lang-select]", "zh-CN")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=tab-inference]').textContent === '推理'"
        )
        page.evaluate("() => { location.hash = '#v1.!!bad'; }")
        page.locator("[data-testid=notice-link]").wait_for()
        wait_live(page)
        assert shown_total(page) == default_total
        assert s.off_origin() == []
        assert s.errors == []
        assert not [e for e in s.console_errors if "Content Security Policy" in e or "Refused" in e], (
            s.console_errors
        )
    finally:
        s.close()
