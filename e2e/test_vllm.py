"""The vLLM knobs on the inference tab, and vLLM's startup numbers on the page against the CLI's for the same input."""

from __future__ import annotations

import re

import pytest

from conftest import Session, engine_report, open_app, run_cli, shown_total, to_defaults, wait_live
from vram_insight.schemas import EstimateRequest

DEFAULTS = EstimateRequest().model_dump(mode="json")
VLLM_FIELDS = ("vllm_version", "gpu_memory_utilization", "max_num_seqs", "max_num_batched_tokens",
               "enable_chunked_prefill", "enforce_eager", "block_size")  # fmt: skip


def cli_line(text: str, pattern: str) -> str:
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in CLI output:\n{text}"
    return m.group(1)


def dd(page, testid: str) -> str:
    return page.text_content(f"[data-testid={testid}] dd").strip()


def test_vllm_knobs_show_only_for_vllm(app: Session) -> None:
    page = app.page
    to_defaults(app.page)
    for key in VLLM_FIELDS:
        assert not page.is_visible(f"[data-testid=input-{key}]"), key
    page.select_option("[data-testid=input-runtime]", "vllm")
    wait_live(page)
    for key in VLLM_FIELDS:
        assert page.is_visible(f"[data-testid=input-{key}]"), key
    # Empty optional fields mean "vLLM's default"; the result says which defaults were used.
    assert page.input_value("[data-testid=input-max_num_seqs]") == ""
    assert page.is_visible("[data-testid=vllm]")
    page.click("[data-testid=tab-training]")
    assert not page.is_visible("[data-testid=input-max_num_seqs]")
    assert app.errors == []


def test_page_shows_vllm_startup_numbers_as_the_cli_prints_them(app: Session, web_api) -> None:
    page = app.page
    to_defaults(app.page)
    page.select_option("[data-testid=gpu-select]", "h100-sxm")
    page.select_option("[data-testid=input-runtime]", "vllm")
    page.fill("[data-testid=input-seq_len]", "16384")
    page.fill("[data-testid=input-batch_size]", "4")
    page.fill("[data-testid=input-max_num_seqs]", "256")
    page.fill("[data-testid=input-max_num_batched_tokens]", "4096")
    page.fill("[data-testid=input-gpu_memory_utilization]", "0.85")
    page.fill("[data-testid=input-block_size]", "32")
    page.check("[data-testid=input-enforce_eager]")
    wait_live(page)
    request = {**DEFAULTS, "gpu": "h100-sxm", "runtime": "vllm", "seq_len": 16384, "batch_size": 4,
               "max_num_seqs": 256, "max_num_batched_tokens": 4096, "gpu_memory_utilization": 0.85,
               "block_size": 32, "enforce_eager": True}  # fmt: skip
    expected = engine_report(web_api, request)["estimate"]
    assert shown_total(page) == expected["total_bytes"]
    code, out, _ = run_cli("estimate", "-m", DEFAULTS["model"], "--runtime", "vllm", "--gpu", "h100-sxm",
                       "--max-model-len", "16384", "-b", "4", "--max-num-seqs", "256",
                       "--max-num-batched-tokens", "4096", "--gpu-memory-utilization", "0.85", "--block-size", "32",
                       "--enforce-eager")  # fmt: skip
    assert code == 0
    assert dd(page, "vllm-kv-pool") == cli_line(out, r"Available KV cache memory: ([\d.]+ GiB)")
    assert dd(page, "vllm-blocks") == cli_line(out, r"# GPU blocks: ([\d,]+)")
    assert dd(page, "vllm-tokens") == cli_line(out, r"GPU KV cache size: ([\d,]+) tokens")
    assert dd(page, "vllm-concurrency") == cli_line(
        out, r"Maximum concurrency for 16,384 tokens per request: ([\d.]+x)"
    )
    assert (
        dd(page, "vllm-activation")
        == cli_line(out, r"PyTorch activation peak memory takes ([\d.]+)GiB") + " GiB"
    )
    assert dd(page, "vllm-weights") == cli_line(out, r"model weights take ([\d.]+)GiB") + " GiB"
    assert dd(page, "vllm-non-torch") == cli_line(out, r"non_torch_memory takes ([\d.]+)GiB") + " GiB"
    requested = cli_line(out, r"x gpu_memory_utilization \(0\.85\) = ([\d.]+)GiB")
    assert dd(page, "vllm-requested").endswith(f"× 0.85 = {requested} GiB")
    assert dd(page, "vllm-card").startswith(cli_line(out, r"the card holds ([\d.]+ GiB)"))
    # enforce_eager: no CUDA-graph line on either side
    assert page.locator("[data-testid=vllm-graphs]").count() == 0 and "CUDA graph memory" not in out
    assert page.text_content("[data-testid=vllm-sched]").startswith(
        "max_num_seqs 256 · max_num_batched_tokens 4,096"
    )
    # The fit compares what the 4 requests need with the share vLLM reserves.
    assert "vLLM reserves" in page.text_content("[data-testid=fit]")
    assert app.errors == []


@pytest.mark.parametrize(
    ("setup", "field", "cli_args"),
    [
        (
            [
                ("select", "input-enable_chunked_prefill", "false"),
                ("fill", "input-max_num_batched_tokens", "2048"),
            ],
            "max_num_batched_tokens",
            ["--no-enable-chunked-prefill", "--max-num-batched-tokens", "2048"],
        ),
        ([("select", "input-weights", "q4_k_m")], "weights", ["-w", "q4_k_m"]),
    ],
)
def test_bad_vllm_input_names_the_field(app: Session, setup, field: str, cli_args: list[str]) -> None:
    page = app.page
    to_defaults(app.page)
    page.select_option("[data-testid=input-runtime]", "vllm")
    page.fill("[data-testid=input-seq_len]", "8192")
    wait_live(page)
    for action, testid, value in setup:
        if action == "select":
            page.select_option(f"[data-testid={testid}]", value)
        else:
            page.fill(f"[data-testid={testid}]", value)
    page.wait_for_selector(f"[data-testid=error-{field}]:not([hidden])")
    shown = page.text_content(f"[data-testid=error-{field}]")
    code, _, err = run_cli(
        "estimate", "-m", DEFAULTS["model"], "--runtime", "vllm", "--max-model-len", "8192", *cli_args
    )
    assert code == 2 and err.count("\n") == 1
    assert shown.strip() == err.removeprefix("vram: error: ").strip()
    assert field in shown
    assert page.get_attribute("[data-testid=result-status]", "data-status") == "invalid"
    assert app.errors == []


def test_vllm_result_in_chinese(browser, base_url) -> None:
    s = Session(browser, base_url, viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        page = s.page
        open_app(page, base_url + "#v1.eyJydW50aW1lIjogInZsbG0ifQ")  # {"runtime": "vllm"}
        assert page.text_content("[data-testid=vllm] h3") == "vLLM 启动时（每张 GPU，与 vLLM 日志一致）"
        assert page.text_content("label[for=f-enforce_eager]") == "enforce_eager（不捕获 CUDA 图）"
        assert s.errors == []
    finally:
        s.close()
