"""The same built folder served by Debian's nginx with deploy/nginx.conf, the config the image uses (CSP, MIME types,
precompressed variants, cache headers and redirects are nginx's here, not build.py's): `nginx -t` on the exact file,
the probes and health checks of deploy/ against it, and the site under the Ingress sub-path."""

from __future__ import annotations

import http.client
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import pytest

from conftest import ROOT, Session, engine_report, open_app, shown_total, start_nginx, wait_live
from test_app import DEFAULTS, assert_matches_engine, link_for, req
from test_console import CONSOLE, csp_errors, expected_default_line, new_session, open_console, run_code
from testsupport.servers import NGINX_CONF, SUBPATH_INCLUDE_DIR, find_nginx, response_headers

SUBPATH_MANIFEST = ROOT / "deploy" / "k8s" / "ingress" / "subpath.yaml"


def check_manifests() -> ModuleType:
    """deploy/check_manifests.py (it reads YAML: skips without PyYAML, which the dev extras bring)."""
    pytest.importorskip("yaml", reason="PyYAML comes with the dev extras (pip install -e '.[dev]')")
    sys.path.insert(0, str(ROOT / "deploy"))
    return importlib.import_module("check_manifests")


def subpath_files() -> dict[str, str]:
    """The ConfigMap data that the Ingress overlay mounts into the sub-path include folder."""
    docs, errors = check_manifests().load_docs(SUBPATH_MANIFEST)
    assert errors == []
    return docs[0].data["data"]


def prefix() -> str:
    found = check_manifests().subpath_prefix(subpath_files()["subpath.conf"])
    assert found, "deploy/k8s/ingress/subpath.yaml strips no prefix"
    return found


def raw_get(url: str, encoding: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET, redirects not followed."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request(
            "GET", u.path + (f"?{u.query}" if u.query else ""), headers={"Accept-Encoding": encoding or ""}
        )
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def nginx_or_skip() -> str:
    nginx = find_nginx()
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    return nginx


def nginx_t(nginx: str, conf: Path) -> subprocess.CompletedProcess[str]:
    # -e stderr: no log file opened before the config is read (as the image starts nginx)
    return subprocess.run([nginx, "-t", "-e", "stderr", "-c", str(conf)], capture_output=True, text=True)


# ------------------------------------------------------------------------------------------------ nginx -t
def test_nginx_t_accepts_the_exact_config_the_image_uses():
    proc = nginx_t(nginx_or_skip(), NGINX_CONF)
    assert proc.returncode == 0, proc.stderr
    assert "test is successful" in proc.stderr


def test_nginx_t_accepts_the_config_with_the_sub_path_rewrite(tmp_path):
    """deploy/nginx.conf as it is, but for the include folder (here instead of /etc/nginx/...): same lines."""
    inc = tmp_path / "inc"
    inc.mkdir()
    for name, text in subpath_files().items():
        (inc / name).write_text(text)
    conf = tmp_path / "nginx.conf"
    original = NGINX_CONF.read_text()
    conf.write_text(original.replace(f"include {SUBPATH_INCLUDE_DIR}/", f"include {inc}/"))
    assert conf.read_text() != original and len(conf.read_text().splitlines()) == len(original.splitlines())
    proc = nginx_t(nginx_or_skip(), conf)
    assert proc.returncode == 0, proc.stderr


def test_nginx_t_names_the_line_it_rejects(tmp_path):
    nginx = nginx_or_skip()
    conf = tmp_path / "nginx.conf"
    lines = NGINX_CONF.read_text().splitlines()
    bad = next(
        i for i, line in enumerate(lines) if line.strip() == "gzip_static on;   # foo.gz for gzip clients"
    )
    lines[bad] = lines[bad].replace("gzip_static", "gzip_statik")
    conf.write_text("\n".join(lines) + "\n")
    proc = nginx_t(nginx, conf)
    assert proc.returncode != 0
    assert f'unknown directive "gzip_statik" in {conf}:{bad + 1}' in proc.stderr
    # a broken sub-path rewrite file: its own name and line
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "subpath.conf").write_text("# comment\nrewrite ^/x(/.*$ $1;\n")
    conf.write_text(NGINX_CONF.read_text().replace(f"include {SUBPATH_INCLUDE_DIR}/", f"include {inc}/"))
    proc = nginx_t(nginx, conf)
    assert proc.returncode != 0
    assert f"in {inc / 'subpath.conf'}:2" in proc.stderr


# ------------------------------------------------------------------------------------------------ served files
def test_nginx_headers(nginx_url, site_dir):
    page = response_headers(nginx_url)
    assert page["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.get("content-security-policy", "")
    wasm = next(site_dir.rglob("*.wasm")).relative_to(site_dir).as_posix()
    assert response_headers(nginx_url + wasm)["content-type"] == "application/wasm"
    assert response_headers(nginx_url + "app/main.js")["content-type"].startswith(
        ("application/javascript", "text/javascript")
    )
    assert response_headers(nginx_url + "i18n/zh-CN.json")["content-type"].startswith("application/json")
    assert "no-cache" in response_headers(nginx_url + "sw.js").get("cache-control", "")
    # a folder without its slash: a redirect relative to the request, right under any prefix a proxy adds
    status, headers, _ = raw_get(nginx_url + "console?x=1")
    assert (status, headers["location"]) == (301, "console/?x=1")
    assert raw_get(nginx_url + "nope")[0] == 404


def test_every_probe_and_health_check_gets_health_json(nginx_url, site_dir):
    """The Kubernetes probes, the Compose and the Dockerfile health checks ask nginx for a file the build wrote."""
    cm = check_manifests()
    docs, errors = cm.all_docs()
    assert errors == []
    probes = cm.probe_urls(docs)
    assert len(probes) == 4
    assert cm.probe_errors(probes, site_dir) == []
    built = json.loads((site_dir / "health.json").read_text())
    for where, path in probes:
        status, headers, body = raw_get(nginx_url + path.lstrip("/"))  # a probe sends no Accept-Encoding
        assert status == 200, where
        assert headers["content-type"].startswith("application/json"), where
        assert "no-cache" in headers["cache-control"]
        assert json.loads(body) == built, where
    for key in ("version", "build_time", "engine", "catalog"):
        assert key in built
    assert re.fullmatch(r"[0-9a-f]{64}", built["engine"]["sha256"])


def test_nginx_app_smoke(browser, nginx_url, web_api):
    with Session(browser, nginx_url) as s:
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
            page, web_api, req(mode="grpo", batch_size=8, method="qlora", weights="nf4", num_generations=4)
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
        assert csp_errors(s) == [], s.console_errors


# ------------------------------------------------------------------------------------------------ sub-path
@pytest.fixture(scope="module")
def subpath_nginx(site_dir_or_none):
    """nginx with the Ingress overlay's rewrite file mounted, as in the pods behind deploy/k8s/ingress."""
    with start_nginx(site_dir_or_none, include_files=subpath_files()) as server:
        yield server


def test_sub_path_redirects_and_headers(subpath_nginx, site_dir):
    base, p = subpath_nginx.url, prefix().lstrip("/")
    status, headers, _ = raw_get(base + p)
    assert (status, headers["location"]) == (301, f"{p}/")  # relative: /<prefix> -> /<prefix>/
    status, headers, _ = raw_get(f"{base}{p}/console")
    assert (status, headers["location"]) == (301, "console/")
    for encoding in (None, "br"):
        main = raw_get(f"{base}{p}/", encoding)
        console = raw_get(f"{base}{p}/console/", encoding)
        assert main[0] == console[0] == 200
        assert "'unsafe-eval'" not in main[1]["content-security-policy"]
        assert "'unsafe-eval'" in console[1]["content-security-policy"]
    assert raw_get(f"{base}{p}/", "br")[1].get("content-encoding") == "br"
    wasm_path = next(site_dir.rglob("*.wasm")).relative_to(site_dir).as_posix()
    wasm = raw_get(f"{base}{p}/{wasm_path}")
    assert wasm[0] == 200 and wasm[1]["cache-control"] == "public, max-age=31536000, immutable"
    assert raw_get(base + "health.json")[0] == 200  # the kubelet probes the pod directly, without the prefix
    assert raw_get(f"{base}{p}x/")[0] == 404


def test_the_app_and_the_console_work_under_the_sub_path(browser, subpath_nginx, web_api):
    base, p = subpath_nginx.url, prefix()
    site_url = f"{base}{p.lstrip('/')}/"
    with new_session(browser, site_url) as s:
        page = s.page
        page.goto(base + p.lstrip("/"))  # no trailing slash: nginx redirects to the folder
        assert page.url == site_url
        open_app(page, site_url + link_for({"mode": "training", "seq_len": 1024}))
        assert_matches_engine(page, web_api, req(mode="training", seq_len=1024))
        assert page.evaluate("async () => (await navigator.serviceWorker.ready).scope") == site_url
        open_console(page, site_url + CONSOLE.rstrip("/"))  # the folder redirect keeps the prefix
        assert page.url == site_url + CONSOLE
        state, text = run_code(page)
        assert state == "ok" and text.splitlines()[0] == expected_default_line(web_api)
        outside = [u for u in s.requests if u.startswith(base) and not u.startswith(site_url)]
        assert outside == [base + p.lstrip("/")], outside  # only the first, redirected, request
        assert s.off_origin() == []
        assert s.errors == []
        assert csp_errors(s) == [], s.console_errors
