"""Which SDPA kernel runs on CUDA (rules of aten/src/ATen/native/transformers/cuda/sdp_utils.cpp, torch ≤ 2.12),
and what a math-kernel fallback costs in an estimate."""

from vram_insight import EstimateRequest, estimate
from vram_insight.kernels import effective_attention, sdpa_backend
from vram_insight.resolve import resolve_model


def arch(model: str):
    return resolve_model(EstimateRequest(model=model, gpu=None)).arch


def test_bf16_gqa_runs_flash() -> None:
    # Llama 3.1 8B: 32 query / 8 KV heads, head_dim 128 — flash takes 16-bit GQA with head_dim ≤ 256.
    assert sdpa_backend(arch("llama-3.1-8b"), 2) == "flash"


def test_fp32_gqa_falls_back_to_math() -> None:
    # flash needs 16-bit; memory-efficient takes fp32 but not enable_gqa=True (before pytorch#191085).
    assert sdpa_backend(arch("llama-3.1-8b"), 4) == "math"
    assert effective_attention("sdpa", arch("llama-3.1-8b"), 4) == "eager"


def test_fp32_multi_head_runs_memory_efficient() -> None:
    # Llama 2 7B has as many KV heads as query heads: no GQA, head_dim 128 % 4 == 0.
    assert sdpa_backend(arch("llama-2-7b"), 4) == "efficient"


def test_mla_head_dims_differ_so_not_flash() -> None:
    # DeepSeek-V2-Lite: q/k head dim 128 + 64 = 192, v head dim 128 → flash refuses unequal dims.
    a = arch("deepseek-v2-lite")
    assert sdpa_backend(a, 2) == "efficient"


def test_cpu_never_falls_back_for_these_shapes() -> None:
    assert sdpa_backend(arch("llama-3.1-8b"), 4, "cpu") == "flash"
    assert effective_attention("sdpa", arch("llama-3.1-8b"), 4, "cpu") == "sdpa"


def test_math_fallback_adds_the_scores_of_every_layer() -> None:
    # Llama 3.2 1B, fp32 training, batch 1 × 2048 tokens: the math kernel keeps the fp32 softmax
    # [1, 32 heads, 2048, 2048] of each of the 16 layers for backward: 16 × 32 × 2048² × 4 B = 8.59 GB.
    base = dict(model="llama-3.2-1b", mode="training", precision="fp32", seq_len=2048, gpu=None)
    cuda = estimate(EstimateRequest(**base, platform="cuda"))
    cpu = estimate(EstimateRequest(**base, platform="cpu"))
    scores = 16 * 32 * 2048 * 2048 * 4
    workspace = 32 * 2**20  # the CUDA figure also holds cuBLAS's workspace (Hopper default, no GPU chosen)
    extra = cuda.peak_allocated_bytes - workspace - cpu.peak_allocated_bytes
    assert scores <= extra <= scores * 1.1
    assert any("math kernel" in a.text for a in cuda.assumptions)
    # The same run under autocast computes attention in bf16: flash, no scores.
    amp = dict(base, precision="amp-bf16")
    assert (
        estimate(EstimateRequest(**amp)).peak_allocated_bytes - workspace
        == estimate(EstimateRequest(**amp, platform="cpu")).peak_allocated_bytes
    )
