"""KV-cache bytes per token, hand-derived: 2 (K,V) × layers × kv_heads × head_dim × bytes (formulas.md §B)."""

import pytest

from vram_insight.arch import parse_config
from vram_insight.catalog import load_catalog
from vram_insight.kv import kv_bytes_per_token_full, kv_cache_bytes

CAT = load_catalog()


def arch(model_id: str):
    return parse_config(CAT.model(model_id).config)


@pytest.mark.parametrize(
    ("model_id", "per_token"),
    [
        ("llama-3.1-8b", 2 * 32 * 8 * 128 * 2),  # 131,072
        ("llama-3.1-70b", 2 * 80 * 8 * 128 * 2),  # 327,680
        ("llama-2-7b", 2 * 32 * 32 * 128 * 2),  # 524,288 (MHA)
        ("qwen2.5-7b", 2 * 28 * 4 * 128 * 2),  # 57,344
        ("qwen3-30b-a3b", 2 * 48 * 4 * 128 * 2),  # 98,304
        ("gemma-2b", 2 * 18 * 1 * 256 * 2),  # 18,432 (MQA)
        ("chatglm3-6b", 2 * 28 * 2 * 128 * 2),  # 28,672 (multi_query_group_num 2)
    ],
)
def test_bf16_bytes_per_token(model_id: str, per_token: int) -> None:
    assert kv_bytes_per_token_full(arch(model_id), "bf16") == per_token


def test_deepseek_v3_mla_latent() -> None:
    # (kv_lora_rank 512 + qk_rope_head_dim 64) × 61 layers × 2 B = 70,272 B/token (DeepSeek-V2 paper Table 1).
    assert kv_bytes_per_token_full(arch("deepseek-v3"), "bf16") == 70_272
    # transformers caches per-head K (192) and V (128) for 128 heads: 61 × 128 × 320 × 2 = 4,997,120 B/token.
    assert kv_bytes_per_token_full(arch("deepseek-v3"), "bf16", hf_expanded_mla=True) == 4_997_120


def test_sliding_window_caps_cache() -> None:
    a = arch("mistral-7b-v0.1")  # sliding_window 4096 in every layer
    assert kv_cache_bytes(a, 1, 32_768) == kv_cache_bytes(a, 1, 4096) == 4096 * 131_072


def test_quantized_cache_dtypes() -> None:
    a = arch("llama-3.1-8b")
    assert kv_bytes_per_token_full(a, "fp8") == 65_536
    assert kv_bytes_per_token_full(a, "q8_0") == 131_072 * 34 // 64  # 34 B per 32 elements
    assert kv_bytes_per_token_full(a, "q4_0") == 131_072 * 18 // 64


def test_paged_blocks_round_up() -> None:
    a = arch("llama-3.1-8b")
    assert kv_cache_bytes(a, 1, 17, block_size=16) == 32 * 131_072
