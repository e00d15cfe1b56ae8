"""Training-stack controls (issues 10–11) on the page give the same number as the `vram` CLI for one setting."""

from __future__ import annotations

import json

from conftest import Session, open_app, shown_total, wait_live
from vram_insight.cli import main as cli_main

# torchtune QLoRA on Llama 3.1 8B with the knobs its single-device recipe exposes, flags named as torchtune names them
CLI_ARGS = [
    "estimate", "--model", "llama-3.1-8b", "--mode", "finetune", "--method", "qlora", "--weights", "nf4",
    "--framework", "torchtune", "--optim", "adamw_torch_fused", "--grad-checkpointing", "full", "--compile",
    "--enable-activation-offloading", "--chunked-ce", "--seq-len", "2048", "--batch-size", "2",
    "--gpu", "rtx-4090", "--json",
]  # fmt: skip


def cli_total(capsys) -> int:
    assert cli_main(CLI_ARGS) == 0
    return json.loads(capsys.readouterr().out)["total_bytes"]


def test_training_knobs_page_matches_cli(browser, base_url, capsys) -> None:
    expected = cli_total(capsys)
    s = Session(browser, base_url, viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        page = s.page
        open_app(page, base_url)
        page.click("[data-testid=tab-finetune]")
        page.select_option("[data-testid=input-method]", "qlora")
        page.select_option("[data-testid=input-framework]", "torchtune")
        page.select_option("[data-testid=input-optimizer]", "adamw-fused")
        page.select_option("[data-testid=input-grad_checkpointing]", "full")
        page.check("[data-testid=input-compile]")
        page.check("[data-testid=input-activation_offloading]")
        page.check("[data-testid=input-chunked_ce]")
        page.fill("[data-testid=input-seq_len]", "2048")
        page.fill("[data-testid=input-batch_size]", "2")
        wait_live(page)
        assert page.input_value("[data-testid=input-weights]") == "nf4"
        assert shown_total(page) == expected
        # the transformers version only applies to the hf stack
        assert not page.is_visible("[data-testid=input-transformers_version]")
        page.select_option("[data-testid=input-framework]", "hf")
        wait_live(page)
        assert page.is_visible("[data-testid=input-transformers_version]")
        assert shown_total(page) != expected
        # TRL's GRPO reads none of these (its rollouts keep the model's KV dtype): they are not offered there
        page.click("[data-testid=tab-grpo]")
        for key in ("kv_cache_dtype", "chunked_ce", "optimizer_in_bwd", "transformers_version"):
            assert not page.is_visible(f"[data-testid=input-{key}]"), key
        assert page.is_visible("[data-testid=input-optimizer]")
        # Leaving QLoRA undoes the NF4 it set, but never a 4-bit base the user chose themselves.
        page.click("[data-testid=tab-finetune]")
        page.select_option("[data-testid=input-method]", "lora")
        assert page.input_value("[data-testid=input-weights]") == "bf16"
        page.select_option("[data-testid=input-weights]", "nf4")
        page.select_option("[data-testid=input-method]", "qlora")
        page.select_option("[data-testid=input-method]", "lora")
        assert page.input_value("[data-testid=input-weights]") == "nf4"
        assert s.errors == []
    finally:
        s.close()
