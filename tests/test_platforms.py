"""Issue 11: a Mac's wired-memory limit, GPTQ-Int8 and gpt-oss MXFP4 sizes, recommendations that respect software.

Expected values are published logs, model cards and benchmark tables, or sizes derived by hand from tensor shapes
(each test names its source); none is copied from the engine's output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from vram_insight.catalog import load_catalog
from vram_insight.errors import EstimateError
from vram_insight.estimate import estimate
from vram_insight.messages import TEMPLATES, placeholders
from vram_insight.planning import fit, left_out, recommend, report
from vram_insight.platforms import (
    DEFAULT_MACOS,
    device_allowance,
    macos_wired_limit,
    software_conflicts,
)
from vram_insight.schemas import EstimateRequest
from vram_insight.web_api import call

ROOT = Path(__file__).resolve().parents[1]
MiB, GiB = 1 << 20, 1 << 30


# ---------------------------------------------------------------------------------------------------------------
# Apple Silicon: recommendedMaxWorkingSetSize by macOS version and RAM


@pytest.mark.parametrize(
    ("ram_gib", "logged", "unit", "source"),
    [
        # ggml-org/ci llama.cpp/66/7d72846.../ggml-100-mac-m4/README.md (Apple M4, darwin24.1.0 = macOS 15.1)
        (16, 11453.25, 1e6, "ggml_metal_init: recommendedMaxWorkingSetSize  = 11453.25 MB"),
        # abetlen/llama-cpp-python #687, M1 16 GB (2023 builds divided by 1024*1024 and printed 'MB')
        (16, 10922.67, MiB, "recommendedMaxWorkingSetSize  = 10922.67 MB"),
        # ollama/ollama #434, M2 Max 32 GB (MiB printed as MB)
        (32, 21845.34, MiB, "recommendedMaxWorkingSetSize = 21845.34 MB"),
        # ggml-org/llama.cpp #1870, M1 Max 64 GB
        (64, 49152.00, MiB, "recommendedMaxWorkingSetSize  = 49152.00 MiB"),
        # ggml-org/llama.cpp #3213, M2 Max 96 GB
        (96, 73728.00, MiB, "recommendedMaxWorkingSetSize = 73728,00 MB"),
        # apache/tvm PR #16398, M2 Ultra 192 GB: tvm.metal().total_global_memory
        (192, 154618822656, 1, "154618822656"),
    ],
)
def test_macos_15_limits_match_published_logs(ram_gib: int, logged: float, unit: float, source: str) -> None:
    limit = macos_wired_limit(ram_gib * GiB, 15)
    assert round(limit.limit_bytes / unit, 2) == logged, source
    assert limit.set_by == "macos" and not limit.estimated


def test_macos_15_rule_switches_between_32_and_36_gib() -> None:
    # 2/3 up to 32 GiB, 3/4 from 36 GiB: a 36 GB M3 Pro logged 28991.03 MB = 27 GiB = 3/4 × 36 GiB.
    assert macos_wired_limit(32 * GiB, 14).rule.params["fraction"] == "2/3"
    assert macos_wired_limit(36 * GiB, 14).rule.params["fraction"] == "3/4"
    assert round(macos_wired_limit(36 * GiB, 14).limit_bytes / 1e6, 2) == 28991.03


def test_macos_26_uses_the_larger_logged_working_sets() -> None:
    # antirez/ds4 PR #893: M5 Max 128 GB on macOS 26.x 'recommendedMaxWorkingSetSize: 107.52 GiB # stock'.
    big = macos_wired_limit(128 * GiB, 26)
    assert round(big.limit_bytes / GiB, 2) == 107.52
    # osaurus-ai/osaurus PR #1958: 'macOS 26 advertising ~84% of RAM as the working set'.
    assert 0.835 < big.limit_bytes / (128 * GiB) < 0.845
    # AlexsJones/llmfit PR #754: 'Apple M3 (unified memory, 11.84 GB GPU-available of 16.00 GB shared, Metal)'.
    assert round(macos_wired_limit(16 * GiB, 26).limit_bytes / GiB, 2) == 11.84
    # Every logged size is more than macOS 15 allowed on the same Mac.
    for ram in (16, 32, 36, 48, 64, 128, 512):
        assert macos_wired_limit(ram * GiB, 26).limit_bytes > macos_wired_limit(ram * GiB, 15).limit_bytes
    assert DEFAULT_MACOS == 26


def test_macos_26_without_a_log_falls_back_to_the_15_rule_and_says_so() -> None:
    limit = macos_wired_limit(192 * GiB, 26)  # no 192 GiB Mac was logged on macOS 26
    assert limit.estimated and limit.limit_bytes == 192 * GiB * 3 // 4
    assert "no log" in limit.rule.text


def test_iogpu_wired_limit_mb_replaces_the_default() -> None:
    # ds4 PR #893: 'recommendedMaxWorkingSetSize: 112.00 GiB # with iogpu.wired_limit_mb = 114688'.
    assert round(macos_wired_limit(128 * GiB, 26, 114688).limit_bytes / GiB, 2) == 112.00
    # llmfit PR #754: 'setting 12000 / 14000 MiB made Metal report exactly those values' on a 16 GB M3.
    for mb in (12000, 14000):
        assert macos_wired_limit(16 * GiB, 26, mb).limit_bytes == mb * MiB
    # 0 = the macOS default, as for the sysctl.
    assert macos_wired_limit(16 * GiB, 26, 0).set_by == "macos"


def test_mac_fit_reports_the_wired_limit_and_nvidia_does_not() -> None:
    rep = report(EstimateRequest(model="llama-3.1-8b", gpu="m4-pro-64gb", macos_version=15))
    w = rep.fit.wired_limit
    # 3/4 of 64 GiB = 48 GiB = 51.54 GB, the catalog's macOS 15 figure (reported_memory_bytes).
    assert w.limit_bytes == 48 * GiB == load_catalog().gpu("m4-pro-64gb").reported_memory_bytes
    assert rep.fit.capacity_bytes == 48 * GiB
    assert "GPU may wire 51.54 of 68.72 GB" in w.summary.text and "macOS 15 limit" in w.summary.text
    assert report(EstimateRequest(model="llama-3.1-8b", gpu="rtx-4090")).fit.wired_limit is None


def test_override_applies_to_the_chosen_mac_only_and_is_bounded_by_its_ram() -> None:
    req = EstimateRequest(model="llama-3.1-8b", gpu="m3-max-128gb", iogpu_wired_limit_mb=114688)
    res = estimate(req)
    cat = load_catalog()
    assert fit(res, cat.gpu("m3-max-128gb"), req).capacity_bytes == 112 * GiB
    assert fit(res, cat.gpu("m4-max-128gb"), req).capacity_bytes == round(107.52 * GiB)  # macOS 26 default
    with pytest.raises(EstimateError) as err:
        fit(res, cat.gpu("m3-max-128gb"), req.model_copy(update={"iogpu_wired_limit_mb": 200_000}))
    assert err.value.field == "iogpu_wired_limit_mb"


def test_bad_macos_version_names_the_field() -> None:
    with pytest.raises(ValidationError) as err:
        EstimateRequest(macos_version=16)
    assert err.value.errors()[0]["loc"] == ("macos_version",)
    reply = json.loads(call("quick", json.dumps({"gpu": "m4-pro-64gb", "iogpu_wired_limit_mb": 999_999})))
    assert reply["ok"] is False and reply["error"]["field"] == "iogpu_wired_limit_mb"


def test_metal_has_no_cuda_context_or_cublas_workspace() -> None:
    # Ollama discover/gpu_darwin.go: metalMinimumMemory = 512 * format.MebiByte, instead of the CUDA context.
    mac = estimate(EstimateRequest(model="qwen2.5-0.5b", gpu="m4-pro-64gb", seq_len=1024))
    nv = estimate(EstimateRequest(model="qwen2.5-0.5b", gpu="rtx-4090", seq_len=1024))
    assert mac.components["overhead"] == 512 * MiB
    # No cuBLAS workspace inside the allocator on Metal: the peak is the tensors alone.
    tensors = sum(v for k, v in mac.components.items() if k != "overhead")
    assert mac.peak_allocated_bytes == tensors
    assert nv.peak_allocated_bytes > sum(
        v for k, v in nv.components.items() if k not in ("overhead", "allocator")
    )
    assert device_allowance(load_catalog().gpu("mi300x")).cuda_rules


# ---------------------------------------------------------------------------------------------------------------
# Formats: GPTQ-Int8 and gpt-oss MXFP4


def test_gpt_oss_mxfp4_matches_the_model_card_checkpoint_sizes() -> None:
    # gpt-oss model card (arXiv:2508.10925, Table 1): checkpoint size 12.8 GiB (20b) and 60.8 GiB (120b).
    for model, gib in (("gpt-oss-20b", 12.8), ("gpt-oss-120b", 60.8)):
        res = estimate(EstimateRequest(model=model, weights="mxfp4", seq_len=1024, gpu=None))
        assert round(res.components["weights"] / GiB, 1) == gib


def test_gpt_oss_20b_mxfp4_bytes_from_the_published_tensor_counts() -> None:
    # HF safetensors of openai/gpt-oss-20b: BF16 1,804,459,584 parameters; the experts' MXFP4 blocks hold
    # 24 layers × 32 experts × (5760 + 2880) × 2880 = 19,110,297,600 values, 17 bytes per 32 (ggml block_mxfp4).
    bf16 = 1_804_459_584
    experts = 24 * 32 * (5760 + 2880) * 2880
    assert experts == 19_110_297_600
    expected = 2 * bf16 + experts // 32 * 17
    res = estimate(EstimateRequest(model="gpt-oss-20b", weights="mxfp4", seq_len=1024, gpu=None))
    assert res.components["weights"] == expected


def _qwen25_7b_gptq_int8_bytes() -> int:
    """Every tensor of a GPTQ-Int8 (group 128) Qwen2.5-7B as vLLM's gptq.py allocates it, from config.json."""
    h, layers, ffn, kv, vocab = 3584, 28, 18944, 512, 152064
    linears = [
        (h, h),
        (h, kv),
        (h, kv),
        (h, h),
        (h, ffn),
        (h, ffn),
        (ffn, h),
    ]  # (in, out): q k v o gate up down
    per_layer = 0
    for k, n in linears:
        qweight = (k // 4) * n * 4  # int32 [K / pack_factor(4), N]
        qzeros = (k // 128) * (n // 4) * 4  # int32 [K / g, N / 4]
        scales = (k // 128) * n * 2  # fp16 [K / g, N]
        g_idx = k * 4  # int32 [K]
        per_layer += qweight + qzeros + scales + g_idx
    per_layer += 2 * (h + 2 * kv)  # q, k, v biases (fp16)
    per_layer += 2 * 2 * h  # two RMSNorm weights
    return layers * per_layer + 2 * vocab * h * 2 + 2 * h  # embed + untied lm_head + final norm


def test_gptq_int8_bytes_from_the_tensor_shapes() -> None:
    res = estimate(EstimateRequest(model="qwen2.5-7b", weights="gptq-int8", seq_len=1024, gpu=None))
    assert res.components["weights"] == _qwen25_7b_gptq_int8_bytes()


def test_gptq_int8_peak_matches_the_qwen_speed_benchmark() -> None:
    # QwenLM/Qwen2.5 docs/source/benchmark/speed_benchmark.rst (A100, transformers, auto_gptq): Qwen2.5-7B-Instruct
    # GPTQ-Int8, input 1, 2,048 generated tokens: 8.42 'GB' (= GiB of torch.cuda.max_memory_allocated).
    res = estimate(EstimateRequest(model="qwen2.5-7b", weights="gptq-int8", attention="flash", seq_len=2049,
                                   gen_len=2048, gpu=None))  # fmt: skip
    assert abs(res.peak_allocated_bytes / GiB - 8.42) / 8.42 < 0.02


def test_formats_a_runtime_does_not_load_are_coded_errors_naming_weights() -> None:
    cases = [
        ({"weights": "gptq-int8", "runtime": "llama.cpp"}, "error.weights.llama_cpp_needs_gguf"),
        ({"weights": "mxfp4"}, "error.weights.mxfp4_dense"),  # Llama 3.1 8B has no experts
        ({"weights": "q4_k_m", "runtime": "transformers"}, "error.weights.gguf_needs_llama_cpp"),
        ({"weights": "q4_k_m", "runtime": "vllm"}, "error.weights.vllm_gguf"),
        ({"weights": "int3"}, "error.weights.unknown"),
    ]
    for payload, code in cases:
        reply = json.loads(call("quick", json.dumps({"model": "llama-3.1-8b", **payload})))
        assert reply["ok"] is False, payload
        assert reply["error"]["field"] == "weights" and reply["error"]["code"] == code, reply


def test_mxfp4_dequantizes_to_bf16_where_transformers_has_no_kernels() -> None:
    # quantizer_mxfp4.py: pre-quantized MXFP4 on compute capability < 7.5 'default to dequantizing the model to bf16'.
    v100 = estimate(EstimateRequest(model="gpt-oss-20b", weights="mxfp4", seq_len=1024, gpu="v100-sxm2-32gb"))
    t4 = estimate(EstimateRequest(model="gpt-oss-20b", weights="mxfp4", seq_len=1024, gpu="t4"))
    assert v100.components["weights"] == 2 * 20_914_757_184  # every parameter in bf16 (official count)
    assert round(t4.components["weights"] / GiB, 1) == 12.8
    assert any("dequantizes MXFP4" in w.text for w in v100.warnings)


# ---------------------------------------------------------------------------------------------------------------
# Recommendations that respect software


def _left_out_ids(req: EstimateRequest) -> set[str]:
    return {g for item in left_out(req) for g in item.gpus}


def test_vllm_is_not_recommended_on_macs_tpus_gaudi_and_says_why() -> None:
    req = EstimateRequest(model="llama-3.1-8b", runtime="vllm", gpu=None)
    recs = {r.gpu for r in recommend(req, limit=50)}
    apple = {g.id for g in load_catalog().gpus.values() if g.vendor == "apple"}
    assert not recs & apple
    assert apple <= _left_out_ids(req)
    codes = {item.reason.code for item in left_out(req)}
    assert {"platform.vllm_metal", "platform.vllm_plugin"} <= codes
    # The same request with llama.cpp keeps Macs (llama.cpp's Metal backend) and leaves out TPU and Gaudi.
    cpp = EstimateRequest(model="llama-3.1-8b", runtime="llama.cpp", weights="q4_k_m", gpu=None)
    assert not _left_out_ids(cpp) & apple
    assert _left_out_ids(cpp) == {"tpu-v5e", "tpu-v6e", "gaudi-2", "gaudi-3"}


def test_vllm_compute_capability_floor_follows_the_version() -> None:
    # docs.vllm.ai: 7.0 or higher up to v0.14 (V100 included), 7.5 or higher from v0.31.
    v100 = load_catalog().gpu("v100-sxm2-32gb")
    old = EstimateRequest(model="llama-3.1-8b", runtime="vllm", vllm_version="0.10", gpu=None)
    new = old.model_copy(update={"vllm_version": "0.31"})
    assert not software_conflicts(old, v100)
    assert [m.code for m in software_conflicts(new, v100)] == ["platform.vllm_cc"]


def test_qlora_needs_a_platform_bitsandbytes_quantizes_on() -> None:
    # bitsandbytes 0.50.2: 4-bit on CUDA, ROCm and Apple MPS; the HPU backend only dequantizes; no TPU backend.
    req = EstimateRequest(mode="finetune", method="qlora", model="llama-3.1-8b", gpu=None)
    out = _left_out_ids(req)
    assert {"tpu-v5e", "tpu-v6e", "gaudi-2", "gaudi-3"} <= out
    assert not out & {"rtx-4090", "mi300x", "m4-pro-64gb"}
    # 8-bit Adam has no MPS kernel (optimizer_update_8bit_blockwise is not registered for mps).
    adam8 = req.model_copy(update={"optimizer": "adamw-8bit"})
    assert "m4-pro-64gb" in _left_out_ids(adam8)


def test_flash_attention_and_fp8_need_recent_gpus() -> None:
    cat = load_catalog()
    flash = EstimateRequest(model="llama-3.1-8b", attention="flash", gpu=None)
    # flash-attn README: Ampere, Ada or Hopper; 'please use FlashAttention 1.x for Turing GPUs'.
    assert {"t4", "v100-sxm2-32gb", "m4-pro-64gb"} <= _left_out_ids(flash)
    assert not software_conflicts(flash, cat.gpu("a100-80gb-sxm"))
    # transformers FP8: 'only supported on GPUs with compute capability >= 8.9 (e.g 4090/H100)'.
    fp8 = EstimateRequest(model="llama-3.1-8b", weights="fp8", gpu=None)
    assert {"a100-80gb-sxm", "rtx-3090", "t4"} <= _left_out_ids(fp8)
    assert not software_conflicts(fp8, cat.gpu("rtx-4090"))
    # vLLM runs FP8 weight-only through Marlin from 8.0 (fp8.py get_min_capability 80): A100 stays, T4 goes.
    vfp8 = fp8.model_copy(update={"runtime": "vllm"})
    assert not software_conflicts(vfp8, cat.gpu("a100-80gb-sxm"))
    assert "t4" in _left_out_ids(vfp8)


def test_the_chosen_card_warns_when_it_cannot_run_the_request() -> None:
    rep = report(EstimateRequest(model="llama-3.1-8b", runtime="vllm", gpu="m4-max-128gb"))
    assert [m.code for m in rep.fit.software] == ["platform.vllm_metal"]
    assert rep.left_out and all(isinstance(i.reason.text, str) for i in rep.left_out)


# ---------------------------------------------------------------------------------------------------------------
# Every new message code has an English and a Chinese template with the same placeholders.


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_site_translates_every_platform_and_format_code(lang: str) -> None:
    import vram_insight.platforms  # registers its codes
    import vram_insight.runtimes  # noqa: F401

    table = json.loads((ROOT / "site" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    codes = [c for c in TEMPLATES if c.startswith(("platform.", "format."))]
    assert len(codes) >= 20
    for code in codes:
        key = f"msg.{code}"
        assert key in table, key
        assert placeholders(table[key]) == placeholders(TEMPLATES[code]), key
