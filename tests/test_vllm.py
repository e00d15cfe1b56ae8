"""vLLM runtime: the reservation, the profiled activation peak, KV blocks and concurrency, defaults and checks.

Expected values are hand-derived from vLLM's source (the formula is spelled out next to each number) or read from
published startup logs; validation/published/vllm.jsonl holds the logged activation peaks and KV pools.
"""

from __future__ import annotations

import json
import math

import pytest

from vram_insight.cli import main
from vram_insight.errors import EstimateError
from vram_insight.estimate import estimate
from vram_insight.planning import report
from vram_insight.resolve import resolve_model
from vram_insight.runtimes import vllm
from vram_insight.runtimes.vllm_config import graph_counts, resolve_scheduler, rules_for
from vram_insight.schemas import EstimateRequest

GiB = 1 << 30
H100_TOTAL = 85_028_896_768  # data/gpus.json h100-sxm (torch total_memory, 79.19 GiB)
LLAMA8B_WEIGHTS = 2 * 8_030_261_248


def vreq(**kw) -> EstimateRequest:
    base = {"model": "llama-3.1-8b", "runtime": "vllm", "gpu": "h100-sxm"}
    return EstimateRequest(**{**base, **kw})


# ------------------------------------------------------------------------------------------- profiled activations
def test_sort_sampler_holds_38_bytes_per_logit_with_many_rows() -> None:
    # 256 rows × Llama-3 vocabulary 128,256: bf16 logits 2 + fp32 copy 4 + sorted values 4 + int64 indices 8 +
    # segmented_sort_pairs' int64 index copy 8 + cub's alternate keys 4 and values 8 = 38 B per logit.
    assert vllm.sampler_peak_bytes(rules_for("0.10"), 256, 128_256, 2) == 256 * 128_256 * 38 == 1_247_674_368


def test_triton_sampler_from_0_18() -> None:
    # 1,024 rows: bf16 2 + fp32 4 + softmax probs 4 + exponential q 4 = 14 B per logit, plus the Triton row
    # buffer of min(rows, 132 SMs) fp32 vocabulary rows.
    expected = 1024 * 128_256 * 14 + 132 * 128_256 * 4
    assert vllm.sampler_peak_bytes(rules_for("0.21"), 1024, 128_256, 2) == expected == 1_906_397_184
    # Fewer than 8 rows still take the PyTorch sort (apply_top_k_top_p); one row skips the index copy.
    assert vllm.sampler_peak_bytes(rules_for("0.21"), 1, 128_256, 2) == 128_256 * (2 + 4 + 12 + 12)


def test_forward_peak_is_the_gated_mlp_of_one_layer() -> None:
    # Llama-3.1-8B at one GPU: residual, normed input, down output (3 × 4,096) + gate_up and SiLU·up (3 × 14,336),
    # bf16, over 20,000 tokens. vllm-project/vllm #10517 logs peak_torch_memory 17.06 GiB − weights 14.9888 GiB
    # = 2.07 GiB for this profile (max_model_len 20,000, V0 without chunked prefill).
    a = resolve_model(EstimateRequest(model="llama-3.1-8b")).arch
    assert vllm.forward_peak_bytes(a, 20_000, 1, 2, "bf16") == 20_000 * 2 * (3 * 4096 + 3 * 14_336)
    assert abs(20_000 * 2 * (3 * 4096 + 3 * 14_336) / GiB - 2.07) < 0.015


def test_sampler_does_not_shrink_with_tensor_parallel() -> None:
    # vllm-project/vllm PR #10511: Llama-3-8B logs "PyTorch activation peak memory 1.26GiB" at TP 1 and TP 2.
    one = estimate(vreq(model="llama-3-8b", vllm_version="0.6.5", max_num_seqs=256, max_num_batched_tokens=8192,
                        seq_len=8192))  # fmt: skip
    two = estimate(vreq(model="llama-3-8b", vllm_version="0.6.5", max_num_seqs=256, max_num_batched_tokens=8192,
                        seq_len=8192, gpus=2, tp=2))  # fmt: skip
    assert one.details["vllm"]["activation_peak_bytes"] == two.details["vllm"]["activation_peak_bytes"]
    # hidden states 8,192 × 4,096 × 2 B held beside the sampler's 256 × 128,256 × 38 B
    assert one.details["vllm"]["activation_peak_bytes"] == 8192 * 4096 * 2 + 256 * 128_256 * 38


# ----------------------------------------------------------------------------------------------- KV pool, blocks
def test_kv_pool_blocks_and_concurrency_by_hand() -> None:
    # vLLM 0.7.3 (V0), H100, gpu_memory_utilization 0.9, enforce_eager, 256 seqs, 8,192 batched tokens:
    # requested = int(0.9 × 85,028,896,768) = 76,526,007,091
    # activation = max(forward 8,192 × 110,592, hidden 67,108,864 + sampler 1,247,674,368) = 1,314,783,232
    # pool = requested − weights 16,060,522,496 − activation − non-torch int(0.16 GiB) 171,798,691
    # block = 16 tokens × 32 layers × 2 × 8 heads × 128 × 2 B = 2,097,152
    res = estimate(vreq(vllm_version="0.7.3", gpu_memory_utilization=0.9, enforce_eager=True, max_num_seqs=256,
                        max_num_batched_tokens=8192, seq_len=8192))  # fmt: skip
    v = res.details["vllm"]
    pool = 76_526_007_091 - 16_060_522_496 - 1_314_783_232 - 171_798_691
    assert v["requested_memory_bytes"] == 76_526_007_091
    assert v["kv_cache_bytes"] == pool == 58_978_902_672
    assert v["num_gpu_blocks"] == pool // 2_097_152 == 28_123
    # V0 prints num_gpu_blocks × block_size / max_model_len
    assert v["max_concurrency"] == pytest.approx(28_123 * 16 / 8192, abs=1e-4)
    assert v["kv_cache_tokens"] == 28_123 * 16
    # The card holds the reservation plus the CUDA context outside it; the pool fills the reservation.
    assert res.components["kv_cache"] == pool
    assert v["reserved_total_bytes"] == 76_526_007_091 + v["cuda_context_bytes"]
    assert res.total_bytes == v["reserved_total_bytes"]


def test_published_concurrency_formula_70b() -> None:
    # vllm-project/vllm PR #12569: Llama-3.1-70B, max_model_len 2048 → "# GPU blocks: 1381",
    # "Maximum concurrency for 2048 tokens per request: 10.79x" = 1381 / cdiv(2048, 16).
    a = resolve_model(EstimateRequest(model="llama-3.1-70b")).arch
    layout = vllm.kv_layout(rules_for("0.10"), a, 1, 1, 16, 2, 2048, 2048)
    assert layout.page_bytes == 16 * 2 * 8 * 128 * 2
    assert layout.block_bytes == 80 * 65_536  # 327,680 B per token × 16
    assert layout.blocks_per_request == 128
    assert round(1381 / layout.blocks_per_request, 2) == 10.79


def test_hybrid_groups_gemma3() -> None:
    # Gemma-3-27B: 52 sliding-window (1,024) and 10 full layers → group size 10 (the smaller count), 6 sliding
    # groups + 1 full group. One request of 8,192 tokens with 2,048 batched tokens needs cdiv(8192, 16) = 512
    # full blocks + 6 × (cdiv(min(1023 + 2048, 8192), 16) + 1) = 6 × 193 sliding blocks.
    a = resolve_model(EstimateRequest(model="gemma-3-27b")).arch
    layout = vllm.kv_layout(rules_for("0.21"), a, 1, 1, 16, 2, 8192, 2048)
    assert layout.groups == 7
    assert layout.block_bytes == 10 * 16 * 2 * 16 * 128 * 2
    assert layout.blocks_per_request == 512 + 6 * 193


def test_requested_concurrency_matches_inverse() -> None:
    rep = report(vreq(seq_len=8192, batch_size=4))
    v = rep.estimate.details["vllm"]
    assert rep.inverse is not None and rep.fit is not None
    assert rep.inverse.max_concurrent_sequences == math.floor(v["max_concurrency"])
    assert rep.fit.fits and rep.fit.capacity_bytes == v["requested_memory_bytes"]


def test_inverse_longest_context_for_the_concurrency() -> None:
    # The longest max_model_len at which the pool still holds batch_size requests: vLLM's concurrency there is
    # ≥ 8 and one token more drops it below 8.
    rep = report(vreq(seq_len=8192, batch_size=8))
    assert rep.inverse is not None and rep.inverse.max_seq_len is not None
    longest = rep.inverse.max_seq_len
    at = estimate(vreq(seq_len=longest, batch_size=8)).details["vllm"]
    beyond = estimate(vreq(seq_len=longest + 1, batch_size=8)).details["vllm"]
    assert at["max_concurrency"] >= 8 > beyond["max_concurrency"]
    # 8 requests × blocks of 16 tokens × 131,072 B per token fill the pool to within one block per request
    assert (
        0 <= at["kv_cache_bytes"] - 8 * at["blocks_per_request"] * at["block_bytes"] < 8 * at["block_bytes"]
    )


def test_pool_too_small_is_reported() -> None:
    res = estimate(vreq(model="llama-3.1-70b", gpu="rtx-4090", weights="int4", seq_len=131_072))
    assert any("refuse to start" in w.text for w in res.warnings)
    assert res.details["vllm"]["num_gpu_blocks"] < res.details["vllm"]["blocks_per_request"]


# ------------------------------------------------------------------------------------------ defaults and graphs
@pytest.mark.parametrize(
    ("version", "gpu", "expected"),
    [
        (
            "0.21",
            "h100-sxm",
            (8192, 1024),
        ),  # ≥ 70 GiB, not an A100 (arg_utils.py get_batch_defaults, vllm serve)
        ("0.21", "a100-80gb-sxm", (2048, 256)),  # PR #17885: A100 keeps the small defaults
        ("0.21", "l40s", (2048, 256)),
        ("0.21", "b200", (8192, 1024)),
        ("0.30", "b200", (16384, 1024)),  # the ≥ 160 GiB row
        ("0.21", None, (2048, 256)),  # no device: vLLM falls back to device_memory = 0
    ],
)
def test_vllm_serve_defaults(version: str, gpu: str | None, expected: tuple[int, int]) -> None:
    v = estimate(vreq(vllm_version=version, gpu=gpu, seq_len=32768)).details["vllm"]
    assert (v["max_num_batched_tokens"], v["max_num_seqs"]) == expected


def test_v0_token_budget_defaults() -> None:
    # V0 config.py: max(max_model_len, 2048) without chunked prefill; chunked prefill (2048) above 32K.
    rules = rules_for("0.7.3")
    assert (
        resolve_scheduler(rules, 20_000, None, None, None, None, "", False).max_num_batched_tokens == 20_000
    )
    long = resolve_scheduler(rules, 131_072, None, None, None, None, "", False)
    assert (long.chunked_prefill, long.max_num_batched_tokens, long.max_num_seqs) == (True, 2048, 256)


def test_utilization_and_block_size_defaults() -> None:
    assert rules_for("0.10").default_utilization == 0.9
    assert rules_for("0.21").default_utilization == 0.92
    assert (rules_for("0.34").default_utilization, rules_for("0.34").default_block_size) == (1.0, 64)


def test_cuda_graph_counts_match_logs() -> None:
    # 0.21, 256 seqs: [1,2,4] + 8..248 step 8 + 256..512 step 16 = 51 PIECEWISE; sizes ≤ 256 = 35 FULL
    # (vllm-project/vllm PR #39559 "PIECEWISE=51 (largest=512), FULL=35 (largest=256)").
    assert graph_counts(rules_for("0.21"), 256, 8192) == (51, 35, 512)
    # 0.10: [1,2,4] + range(8, 513, 8) = 67 (RFC #20098: "By default, vLLM captures 67 graphs").
    assert graph_counts(rules_for("0.10"), 256, 8192) == (67, 0, 512)
    # V0 decode graphs up to 256 sequences: 35 (PR #11349 "Capturing CUDA graph shapes: 35/35").
    assert graph_counts(rules_for("0.6.5"), 256, 8192) == (35, 0, 256)


def test_enforce_eager_has_no_graphs() -> None:
    eager = estimate(vreq(enforce_eager=True)).details["vllm"]
    graphs = estimate(vreq()).details["vllm"]
    assert eager["cuda_graph_bytes"] == 0 and graphs["cuda_graph_bytes"] > 0
    # ≥ 0.20 subtracts the graph estimate from the KV budget
    assert graphs["kv_cache_bytes"] == eager["kv_cache_bytes"] - graphs["cuda_graph_bytes"]


# --------------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("update", "field"),
    [
        ({"weights": "q4_k_m"}, "weights"),
        ({"kv_cache_dtype": "q8_0"}, "kv_cache_dtype"),
        (
            {"enable_chunked_prefill": False, "max_num_batched_tokens": 4096, "seq_len": 8192},
            "max_num_batched_tokens",
        ),
        ({"max_num_batched_tokens": 128, "max_num_seqs": 256}, "max_num_batched_tokens"),
        ({"vllm_version": "latest"}, "vllm_version"),
        ({"vllm_version": "0.5.4"}, "vllm_version"),
    ],
)
def test_bad_input_names_the_field(update: dict, field: str) -> None:
    with pytest.raises(EstimateError) as err:
        estimate(vreq(**update))
    assert err.value.field == field


def test_cli_flags_and_startup_lines(capsys) -> None:
    argv = ["estimate", "-m", "llama-3.1-8b", "--runtime", "vllm", "--gpu", "h100-sxm", "--max-model-len", "8192",
            "--max-num-seqs", "256", "--max-num-batched-tokens", "4096", "--enforce-eager", "--block-size", "32",
            "--vllm-version", "0.10", "--no-enable-chunked-prefill", "--max-num-batched-tokens", "8192"]  # fmt: skip
    assert main([*argv, "--json"]) == 0
    v = json.loads(capsys.readouterr().out)["details"]["vllm"]
    assert (v["max_num_seqs"], v["max_num_batched_tokens"], v["block_size"]) == (256, 8192, 32)
    assert v["enforce_eager"] and not v["chunked_prefill"] and v["version"] == "0.10"
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"Available KV cache memory: {v['kv_cache_bytes'] / GiB:.2f} GiB" in out
    assert f"# GPU blocks: {v['num_gpu_blocks']:,}" in out
    assert f"Maximum concurrency for 8,192 tokens per request: {v['max_concurrency']:.2f}x" in out
    assert "x gpu_memory_utilization (0.90)" in out


def test_cli_gguf_on_vllm_is_one_line_error(capsys) -> None:
    assert main(["estimate", "-m", "llama-3.1-8b", "--runtime", "vllm", "-w", "q4_k_m"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "weights" in err and "llama.cpp" in err


def test_tensor_parallel_must_divide_the_attention_heads() -> None:
    """vLLM refuses tp=3 for Qwen2.5-7B's 28 heads (config.json num_attention_heads: 28); tp=4 starts."""
    base = dict(model="qwen2.5-7b", runtime="vllm")
    with pytest.raises(EstimateError) as info:
        estimate(EstimateRequest(**base, tp=3, gpus=3))
    assert info.value.field == "tp" and "28 attention heads" in str(info.value)
    assert estimate(EstimateRequest(**base, tp=4, gpus=4)).total_bytes > 0
