"""The inference tab with llama.cpp: GPU layers, micro-batch, slots and KV offload set in the browser give the
numbers the `vram` CLI prints for the same input (the CLI runs in a subprocess under CPython)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, Session, open_app, shown_total, wait_engine_ready, wait_live


def cli_report(*args: str) -> dict:
    """`vram report … --json` for the same inputs the browser got."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "engine")}
    out = subprocess.run([sys.executable, "-m", "vram_insight", "report", *args, "--json"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def page(browser, base_url):
    s = Session(browser, base_url, viewport={"width": 1280, "height": 900}, locale="en-US")
    open_app(s.page, base_url)
    yield s.page
    assert s.errors == []
    s.close()


def choose_llama_cpp_model(page) -> None:
    page.evaluate("() => { location.hash = ''; }")
    page.evaluate("() => { location.hash = '#v1.e30'; }")  # the defaults, as a share link
    wait_engine_ready(page)
    wait_live(page)
    page.fill("[data-testid=model-search]", "mistral 7b")
    page.select_option("[data-testid=model-select]", "mistral-7b-v0.1")
    page.select_option("[data-testid=gpu-select]", "rtx-4060-ti-16gb")
    page.select_option("[data-testid=input-runtime]", "llama.cpp")
    page.select_option("[data-testid=input-weights]", "q4_k_m")
    wait_live(page)


def test_partial_offload_in_the_inference_tab_matches_the_cli(page) -> None:
    choose_llama_cpp_model(page)
    for key in (
        "gpu_layers",
        "ubatch_size",
        "parallel",
        "no_kv_offload",
        "llama_cpp_build",
        "cpu_bandwidth_gbps",
    ):
        assert page.is_visible(f"[data-testid=input-{key}]"), key
    assert page.get_attribute("[data-testid=input-gpu_layers]", "placeholder") == "all"
    page.fill("[data-testid=input-seq_len]", "8192")
    page.fill("[data-testid=input-gpu_layers]", "20")
    page.fill("[data-testid=input-ubatch_size]", "256")
    page.fill("[data-testid=input-parallel]", "2")
    page.select_option("[data-testid=input-attention]", "flash")
    wait_live(page)
    rep = cli_report("-m", "mistral-7b-v0.1", "--gpu", "rtx-4060-ti-16gb", "--runtime", "llama.cpp", "-w", "q4_k_m",
                     "-c", "8192", "-ngl", "20", "-ub", "256", "-np", "2", "-fa", "on")  # fmt: skip
    info = rep["estimate"]["details"]["llama_cpp"]
    assert shown_total(page) == rep["estimate"]["total_bytes"]
    assert page.text_content("[data-testid=llama-offloaded] dd") == "20/33" == info["offloaded"]
    assert int(page.get_attribute("[data-testid=llama-ram]", "data-ram-bytes")) == info["ram_bytes"]
    cuda0 = page.locator("[data-testid=llama-device-CUDA0]")
    assert int(cuda0.get_attribute("data-total-bytes")) == info["devices"]["CUDA0"]["total_bytes"]
    assert f"{info['devices']['CUDA0']['weights_bytes'] / 2**20:,.2f} MiB" in cuda0.text_content()
    assert page.text_content("[data-testid=llama-ollama] dd") == info["ollama"]["processor"]
    assert page.text_content("[data-testid=max-gpu-layers] dd") == str(rep["inverse"]["max_gpu_layers"])
    assert (
        page.text_content("[data-testid=decode-tps] dd")
        == f"≈ {rep['throughput']['decode_tokens_per_s']:,.1f} tok/s"
    )
    assert "Context size (-c, all slots)" in page.text_content(".field[data-key=seq_len] label")


def test_all_layers_with_the_kv_cache_in_ram_matches_the_cli(page) -> None:
    choose_llama_cpp_model(page)
    page.fill("[data-testid=input-seq_len]", "16384")
    page.fill("[data-testid=input-gpu_layers]", "")  # empty = all
    page.check("[data-testid=input-no_kv_offload]")
    page.select_option("[data-testid=input-llama_cpp_build]", "pre-dec-2025")
    wait_live(page)
    rep = cli_report("-m", "mistral-7b-v0.1", "--gpu", "rtx-4060-ti-16gb", "--runtime", "llama.cpp", "-w", "q4_k_m",
                     "-c", "16384", "-ngl", "all", "-nkvo", "--llama-cpp-build", "pre-dec-2025")  # fmt: skip
    info = rep["estimate"]["details"]["llama_cpp"]
    assert shown_total(page) == rep["estimate"]["total_bytes"]
    assert info["devices"]["CUDA0"]["kv_bytes"] == 0 and info["host"]["kv_bytes"] > 0
    assert page.text_content("[data-testid=llama-offloaded] dd") == "33/33"
    assert int(page.get_attribute("[data-testid=llama-ram]", "data-ram-bytes")) == info["ram_bytes"]
    host = page.text_content("[data-testid=llama-device-host]")
    assert f"{info['host']['kv_bytes'] / 2**20:,.2f} MiB" in host


def test_bad_llama_cpp_input_names_the_field(page) -> None:
    choose_llama_cpp_model(page)
    page.fill("[data-testid=input-gpu_layers]", "40")  # Mistral 7B has 32 repeating layers + output
    err = page.locator("[data-testid=error-gpu_layers]")
    err.wait_for(state="visible")
    assert "gpu_layers" in err.text_content() and "33" in err.text_content()
    assert page.get_attribute("[data-testid=result-status]", "data-status") == "invalid"
    page.fill("[data-testid=input-gpu_layers]", "33")
    wait_live(page)
    page.fill("[data-testid=input-parallel]", "-1")
    page.locator("[data-testid=error-parallel]").wait_for(state="visible")
    page.fill("[data-testid=input-parallel]", "1")
    page.select_option("[data-testid=input-weights]", "int4")  # GPTQ/AWQ: not a format llama.cpp loads
    page.locator("[data-testid=error-weights]").wait_for(state="visible")
    assert "GGUF" in page.text_content("[data-testid=error-weights]")
    body = page.text_content("body")
    assert "Traceback" not in body


def test_llama_cpp_fields_are_translated(browser, base_url) -> None:
    s = Session(browser, base_url, viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        link = base64.urlsafe_b64encode(json.dumps({"runtime": "llama.cpp", "weights": "q4_k_m"}).encode())
        open_app(s.page, base_url + "#v1." + link.decode().rstrip("="))
        page = s.page
        assert page.text_content(".field[data-key=gpu_layers] label") == "GPU 层数（-ngl）"
        assert page.get_attribute("[data-testid=input-gpu_layers]", "placeholder") == "全部"
        assert page.text_content("[data-testid=llama-cpp] h3") == "llama.cpp 缓冲区"
        page.fill("[data-testid=input-gpu_layers]", "999")
        page.locator("[data-testid=error-gpu_layers]").wait_for(state="visible")
        assert s.errors == []
    finally:
        s.close()
