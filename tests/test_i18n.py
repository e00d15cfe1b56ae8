"""Every message the engine can show has an English and a Chinese template in the site (issue 12 item 2).

The engine registers each message code next to the code that emits it (``messages.register``); the site renders
``msg.<code>`` from site/i18n/<lang>.json with the same placeholders. These tests import every engine module (so
every registration runs), hold the two tables to the registered codes, and run a broad sweep of requests to check
that what the engine returns is only registered codes — no raw English string left in a result.
"""

from __future__ import annotations

import importlib
import itertools
import json
import pkgutil
from pathlib import Path
from typing import Any

import pytest

import vram_insight
from vram_insight import web_api
from vram_insight.messages import TEMPLATES, Message, msg, placeholders, register, render

ROOT = Path(__file__).resolve().parents[1]
LANGS = ("en", "zh-CN")


def _import_all() -> None:
    for mod in pkgutil.walk_packages(vram_insight.__path__, "vram_insight."):
        if not mod.name.endswith("__main__"):
            importlib.import_module(mod.name)


_import_all()
# Codes the engine registers (tests may register their own under "test.").
CODES = sorted(code for code in TEMPLATES if not code.startswith("test."))
TABLES = {
    lang: json.loads((ROOT / "site" / "i18n" / f"{lang}.json").read_text(encoding="utf-8")) for lang in LANGS
}


def test_the_engine_registers_its_messages() -> None:
    # All errors plus the assumptions, warnings and notes of every layer: well over the 72 error codes alone.
    assert sum(c.startswith("error.") for c in CODES) >= 70
    assert len(CODES) >= 300
    areas = {c.split(".")[0] for c in CODES}
    for area in (
        "arch",
        "device",
        "inference",
        "training",
        "rl",
        "vllm",
        "llama_cpp",
        "media",
        "plan",
        "inverse",
    ):
        assert area in areas, area


@pytest.mark.parametrize("lang", LANGS)
def test_every_code_has_a_template_with_the_same_placeholders(lang: str) -> None:
    table = TABLES[lang]
    missing = [c for c in CODES if f"msg.{c}" not in table]
    assert missing == [], missing
    differ = [c for c in CODES if placeholders(table[f"msg.{c}"]) != placeholders(TEMPLATES[c])]
    assert differ == [], differ
    empty = [c for c in CODES if not table[f"msg.{c}"].strip() and TEMPLATES[c].strip()]
    assert empty == [], empty


@pytest.mark.parametrize("lang", LANGS)
def test_no_template_for_a_code_that_no_longer_exists(lang: str) -> None:
    stale = [k for k in TABLES[lang] if k.startswith("msg.") and k[4:] not in TEMPLATES]
    assert stale == [], stale


def test_english_templates_are_the_engine_text() -> None:
    en = TABLES["en"]
    assert [c for c in CODES if en[f"msg.{c}"] != TEMPLATES[c]] == []


def test_chinese_templates_are_chinese() -> None:
    """A zh-CN template is translated prose, not the English copied: it has CJK characters unless the English
    text is only identifiers and numbers (a format name such as 'LLM.int8()', 'FSDP × {count}')."""
    zh = TABLES["zh-CN"]

    def cjk(text: str) -> bool:
        return any("\u4e00" <= ch <= "\u9fff" for ch in text)

    def prose(text: str) -> bool:
        words = [w for w in render(text, {}).replace("{", " ").split() if w.isalpha() and w.islower()]
        return len(words) >= 2

    untranslated = [c for c in CODES if prose(TEMPLATES[c]) and not cjk(zh[f"msg.{c}"])]
    assert untranslated == [], untranslated


def test_nested_messages_render_in_place_and_dedupe_by_code_and_params() -> None:
    from vram_insight.messages import unique

    register({"test.inner": "{n:,} layers", "test.outer": "Weights: {what}"})
    outer = msg("test.outer", what=msg("test.inner", n=4096))
    assert outer.text == "Weights: 4,096 layers"
    assert render("-ngl {n}", {"n": None}) == "-ngl "  # None renders empty, as the site's renderer does
    assert outer.model_dump()["params"]["what"] == {
        "code": "test.inner",
        "params": {"n": 4096},
        "text": "4,096 layers",
    }
    again = Message.model_validate(outer.model_dump())
    assert again == outer
    assert unique([outer, again, msg("test.inner", n=1)]) == [outer, msg("test.inner", n=1)]


# ---------------------------------------------------------------------------------------------------------------
# A sweep of the engine's replies: only registered codes, each message's text rendered from its template.

MESSAGE_FIELDS = {"assumptions", "warnings", "notes", "reason", "strategy", "summary", "rule", "software"}


def _messages(node: Any) -> list[dict[str, Any]]:
    """Every message object in a reply (nested parameters included); fails on a raw string where a message
    belongs."""
    out: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if set(node) == {"code", "params", "text"}:
            out.append(node)
            for value in node["params"].values():
                out += _messages(value)
            return out
        for k, v in node.items():
            if k in MESSAGE_FIELDS:
                raw = [i for i in (v if isinstance(v, list) else [v]) if isinstance(i, str)]
                assert raw == [], f"raw text in {k}: {raw}"
            out += _messages(v)
    elif isinstance(node, list):
        for v in node:
            out += _messages(v)
    return out


def _check(messages: list[dict[str, Any]], seen: set[str]) -> None:
    for m in messages:
        code = m["code"]
        assert code in TEMPLATES and not code.startswith("test."), code
        params = {k: (v["text"] if isinstance(v, dict) else v) for k, v in m["params"].items()}
        assert m["text"] == render(TEMPLATES[code], params), code
        assert placeholders(TEMPLATES[code]) <= set(m["params"]), code
        seen.add(code)


MODELS = ["llama-3.1-8b", "qwen2.5-7b", "mixtral-8x7b", "deepseek-v2-lite", "gemma-2-9b", "gpt-oss-20b"]


def _text_requests(model: str, gpu: str | None) -> list[dict[str, Any]]:
    base = {"model": model, "gpu": gpu}
    return [
        base,
        {**base, "attention": "eager", "weights": "nf4", "logits_all_tokens": True, "gpus": 4, "tp": 4},
        {**base, "weights": "fp32", "seq_len": 1024, "gen_len": 16},
        {**base, "platform": "cpu", "weights": "fp16"},
        *(
            {**base, "weights": w}
            for w in ("fp4", "fp4-nodq", "nf4-nodq", "gptq-int8", "int4", "int8", "mxfp4")
        ),
        {**base, "seq_len": 10_000_000},
        # vLLM: V0 rules, approximated versions, explicit scheduler, eager, too many sequences, too long
        {**base, "runtime": "vllm", "vllm_version": "0.6.3", "gpus": 2, "tp": 2},
        {**base, "runtime": "vllm", "vllm_version": "0.8.5", "enforce_eager": True},
        {**base, "runtime": "vllm", "vllm_version": "0.23.0", "batch_size": 2048, "seq_len": 262_144},
        {
            **base,
            "runtime": "vllm",
            "kv_cache_dtype": "fp8",
            "max_num_seqs": 8,
            "max_num_batched_tokens": 8192,
            "enable_chunked_prefill": True,
            "gpu_memory_utilization": 0.99,
        },
        # llama.cpp: partial offload, all on CPU, host only, split over GPUs, old layer order, no flash
        {
            **base,
            "runtime": "llama.cpp",
            "weights": "q4_k_m",
            "gpu_layers": 10,
            "parallel": 2,
            "kv_unified": False,
        },
        {**base, "runtime": "llama.cpp", "weights": "q8_0", "gpu_layers": 0, "no_kv_offload": True},
        {**base, "runtime": "llama.cpp", "weights": "q4_k_m", "platform": "cpu"},
        {
            **base,
            "runtime": "llama.cpp",
            "weights": "q4_k_m",
            "gpus": 2,
            "llama_cpp_build": "pre-dec-2025",
            "gpu_layers": 12,
            "attention": "eager",
        },
        # training: methods, stacks, sharding, offload, knobs, optimizers
        {
            **base,
            "mode": "finetune",
            "method": "qlora",
            "optimizer": "paged-adamw-8bit",
            "grad_checkpointing": "full",
            "grad_accum": 4,
            "precision": "bf16",
        },
        {
            **base,
            "mode": "finetune",
            "method": "qlora",
            "gpus": 2,
            "zero": 3,
            "optimizer": "paged-adamw-32bit",
        },
        {
            **base,
            "mode": "finetune",
            "method": "qlora",
            "framework": "torchtune",
            "weights": "int4",
            "optimizer": "adamw-8bit-torchao",
            "compile": True,
        },
        {
            **base,
            "mode": "finetune",
            "method": "freeze",
            "gpus": 16,
            "fsdp": "hybrid_shard",
            "offload": "optimizer+params",
            "optimizer": "sgd-momentum",
        },
        {
            **base,
            "mode": "finetune",
            "method": "prefix",
            "framework": "torchtune",
            "optimizer": "adamw-fused",
        },
        {
            **base,
            "mode": "finetune",
            "lora_targets": "all-linear",
            "adapter_dtype": "bf16",
            "optimizer": "lion",
            "transformers_version": "4.46",
            "lora_rank": 4096,
            "activation_offloading": True,
        },
        {
            **base,
            "mode": "training",
            "method": "lora",
            "gpus": 8,
            "zero": 3,
            "pp": 2,
            "tp": 2,
            "optimizer": "adafactor",
            "grad_checkpointing": "selective",
            "precision": "fp32",
        },
        {
            **base,
            "mode": "training",
            "gpus": 2,
            "fsdp": "shard_grad_op",
            "optimizer": "sgd",
            "chunked_ce": True,
            "weights": "int4",
            "optimizer_in_bwd": True,
        },
        {**base, "mode": "training", "framework": "torchtune", "chunked_ce": True, "compile": True},
        # RL
        {**base, "mode": "grpo", "beta": 0.04, "policy": "full", "batch_size": 3},
        {**base, "mode": "grpo"},
        {**base, "mode": "grpo", "gpu": gpu or "h100-sxm", "generation_backend": "vllm", "beta": 0.04},
        {**base, "mode": "grpo", "rl_algorithm": "dpo", "beta": 0.1, "policy": "full"},
    ]


GPUS = ("h100-sxm", "m3-max-128gb", None)
MULTIMODAL = ["llava-1.5-7b", "llava-next-7b", "llava-onevision-7b", "qwen2-vl-2b", "qwen2.5-vl-7b",
              "qwen2-audio-7b", "qwen2.5-omni-7b", "idefics2-8b", "idefics3-8b", "internvl2.5-8b", "internvl3-1b",
              "minicpm-v-2.6", "llama-3.2-11b-vision", "llama-4-scout-17b-16e", "phi-3.5-vision",
              "phi-4-multimodal", "florence-2-large", "nougat-base", "paligemma-3b", "gemma-3-4b", "pixtral-12b",
              "clip-vit-large-patch14-336", "siglip-so400m-patch14-384", "video-llama-7b", "whisper-small"]  # fmt: skip


def _requests() -> list[dict[str, Any]]:
    reqs: list[dict[str, Any]] = []
    for model, gpu in itertools.product(MODELS, GPUS):
        reqs += _text_requests(model, gpu)
    # A Mac's wired-memory limit: set by sysctl, an older macOS rule, a macOS without a logged size.
    for extra in ({"iogpu_wired_limit_mb": 100_000}, {"macos_version": 13}, {"macos_version": 27}):
        reqs.append({"model": "llama-3.1-8b", "gpu": "m3-max-128gb", "attention": "flash", **extra})
    for gpu in ("v100-sxm2-32gb", "t4", "tpu-v5e"):
        reqs += _text_requests("qwen2.5-7b", gpu)
    # bitsandbytes' per-tensor optimizer rules on a dense model (an MoE model's thousands of expert tensors are slow)
    reqs.append({"model": "llama-3.2-1b", "gpu": "h100-sxm", "mode": "training", "optimizer": "paged-adamw-32bit",
                 "grad_checkpointing": "full", "gpus": 2, "fsdp": "full_shard", "framework": "torchtune"})  # fmt: skip
    reqs.append({"model": "llama-3.2-1b", "gpu": "h100-sxm", "mode": "training", "optimizer": "adamw-8bit",
                 "grad_checkpointing": "full"})  # fmt: skip
    reqs.append({"model": "llama-3.1-8b", "gpu": "v100-sxm2-32gb", "runtime": "vllm", "weights": "fp8"})
    reqs.append({"model": "llama-3.1-8b", "gpu": "v100-sxm2-32gb", "weights": "int8", "attention": "flash"})
    reqs.append({"model": "llama-3.1-8b", "gpu": "tpu-v5e", "weights": "fp8"})
    for gpu in ("v100-sxm2-32gb", "m3-max-128gb", "h100-sxm"):
        reqs.append({"model": "gpt-oss-20b", "gpu": gpu, "weights": "mxfp4"})
        reqs.append(
            {
                "model": "gpt-oss-20b",
                "gpu": gpu,
                "weights": "mxfp4",
                "runtime": "vllm",
                "vllm_version": "0.6.3",
            }
        )
    # llama.cpp: a model far larger than the card, a model it runs without SWA, all layers on 2 GPUs
    reqs.append(
        {"model": "llama-3.1-405b", "gpu": "rtx-3060-12gb", "runtime": "llama.cpp", "weights": "q4_k_m"}
    )
    reqs.append({"model": "mistral-7b-v0.1", "gpu": "rtx-4090", "runtime": "llama.cpp", "weights": "q4_k_m"})
    reqs.append(
        {"model": "llama-3.1-8b", "gpu": "rtx-4090", "runtime": "llama.cpp", "weights": "q4_k_m", "gpus": 2}
    )
    for model, task in itertools.product(MULTIMODAL, ("inference", "finetune", "training")):
        reqs.append({"model": model, "mode": "multimodal", "task": task, "gpu": "a100-80gb-sxm", "images": 2,
                     "video_frames": 8, "audio_seconds": 45.0, "seq_len": 400,
                     "train_vision_tower": task == "training"})  # fmt: skip
    reqs.append({"model": "llama-3.2-11b-vision", "mode": "multimodal", "runtime": "llama.cpp",
                 "weights": "q4_k_m", "gpu": "rtx-4090"})  # fmt: skip
    for model in ("internvl3-1b", "minicpm-v-2.6", "llama-4-scout-17b-16e"):
        reqs.append({"model": model, "mode": "multimodal", "image_width": 336, "image_height": 336})
    # A multimodal model used for text only: its towers are loaded.
    reqs.append({"model": "qwen2.5-vl-7b", "mode": "inference", "gpu": "rtx-4090"})
    custom = {"hidden_size": 512, "num_attention_heads": 8, "num_key_value_heads": 2, "num_hidden_layers": 2,
              "vocab_size": 1000, "sliding_window": 256, "use_sliding_window": False}  # fmt: skip
    reqs.append({"model": None, "config": {**custom, "model_type": "qwen2"}, "num_layers": 4, "gpu": "t4",
                 "tp": 4, "gpus": 4, "cuda_context_mib": 500, "nccl_mib": 300})  # fmt: skip
    reqs.append({"model": None, "config": custom, "gpu": "t4", "mode": "finetune", "lora_rank": 600})
    reqs.append(
        {"model": None, "config": {**custom, "model_type": "mystery"}, "gpu": "t4", "mode": "finetune"}
    )
    reqs.append({"model": None, "gpu": "t4", "config": {**custom, "model_type": "qwen2", "max_position_embeddings": 4096},
                 "seq_len": 8192})  # fmt: skip
    return reqs


def test_the_engine_returns_only_registered_codes() -> None:
    seen: set[str] = set()
    answered = 0
    for req in _requests():
        for op in ("report", "quick"):
            reply = json.loads(web_api.call(op, json.dumps(req)))
            if reply["ok"]:
                answered += 1
                _check(_messages(reply["result"]), seen)
            else:
                err = reply["error"]
                _check([{"code": err["code"], "params": err["params"], "text": err["message"]}], seen)
    reply = json.loads(web_api.call("parse_config", json.dumps({"config": {"hidden_size": 64, "num_attention_heads": 4,
                                                                           "num_hidden_layers": 2, "vocab_size": 10}})))  # fmt: skip
    assert reply["ok"]
    _check(_messages(reply["result"]), seen)
    assert answered > 400
    # The sweep reaches every area that speaks to the user.
    for prefix in ("arch.", "check.", "config.", "device.", "estimate.", "inference.", "inverse.", "kernels.",
                   "llama_cpp.", "lora.", "media.", "multimodal.", "optim.", "parallel.", "plan.", "platform.",
                   "quant.", "rl.", "stack.", "knobs.", "states.", "throughput.", "training.", "transformers.",
                   "vllm."):  # fmt: skip
        assert any(c.startswith(prefix) for c in seen), prefix
    assert len(seen) >= 250, len(seen)
