"""KV-cache size: GQA/MQA heads, MLA latents, sliding-window and chunked layers, cache dtype, paged blocks.

Per layer and token a standard cache holds K and V: ``2 · n_kv · d`` elements (formulas.md §B.1). MLA caches the
compressed latent plus the decoupled RoPE key once per layer: ``kv_lora_rank + qk_rope_head_dim`` elements
(DeepSeek-V2 paper Table 1; vLLM MLA backends use head_dim = 576 for DeepSeek-V3). Sliding-window layers keep at
most ``window`` tokens (Mistral rolling buffer; HF HybridCache/``DynamicSlidingWindowLayer``; vLLM hybrid KV
manager), chunked-attention layers (Llama 4) at most one chunk.
"""

from __future__ import annotations

from fractions import Fraction

from .arch import ArchSpec, LayerSpec
from .quant import kv_dtype_bits


def kv_elements_per_token(a: ArchSpec, layer: LayerSpec, hf_expanded_mla: bool = False) -> int:
    """Cached elements per token in one layer.

    ``hf_expanded_mla``: transformers' DeepSeek-V2/V3 attention caches the per-head K (nope+rope) and V, not the
    latent (modeling_deepseek_v3.py ``past_key_values.update(key_states, value_states, …)``).
    """
    if a.mla:
        m = a.mla
        if hf_expanded_mla:
            return a.num_heads * (m.qk_nope_head_dim + m.qk_rope_head_dim + m.v_head_dim)
        return m.kv_lora_rank + m.qk_rope_head_dim
    return 2 * a.num_kv_heads * a.head_dim


def cached_tokens(layer: LayerSpec, seq_len: int, runtime: str) -> int:
    """Tokens one sequence keeps in this layer's cache.

    transformers and vLLM bound sliding-window/chunked layers to the window; llama.cpp does too since PR #13194
    (``--swa-full`` off by default in llama-cli/server).
    """
    if layer.attention in ("sliding", "chunked") and layer.window:
        return min(seq_len, layer.window)
    return seq_len


def kv_bytes_per_token_full(a: ArchSpec, dtype: str = "bf16", hf_expanded_mla: bool = False) -> int:
    """Bytes per token summed over all layers if every layer cached every token (the headline figure)."""
    bits = kv_dtype_bits(dtype)
    elements = sum(kv_elements_per_token(a, layer, hf_expanded_mla) * n for layer, n in a.layer_groups())
    return int(-(-elements * bits // 8))


def kv_cache_bytes(
    a: ArchSpec,
    batch: int,
    seq_len: int,
    dtype: str = "bf16",
    runtime: str = "transformers",
    block_size: int = 0,
    hf_expanded_mla: bool = False,
) -> int:
    """Total KV bytes for ``batch`` sequences of ``seq_len`` cached tokens.

    ``block_size`` > 0 rounds each sequence up to whole blocks (vLLM paged attention, default 16 tokens,
    vllm/config/cache.py).
    """
    bits = kv_dtype_bits(dtype)
    total = Fraction(0)
    for layer, count in a.layer_groups():
        tokens = cached_tokens(layer, seq_len, runtime)
        if block_size:
            tokens = -(-tokens // block_size) * block_size
        total += kv_elements_per_token(a, layer, hf_expanded_mla) * tokens * bits * count
    return int(-(-(total * batch) // 8))


def largest_layer_kv_bytes(a: ArchSpec, batch: int, seq_len: int, dtype: str = "bf16") -> int:
    """One layer's cache (the transient copy DynamicCache's ``torch.cat`` makes when a token is appended)."""
    bits = kv_dtype_bits(dtype)
    best = 0
    for layer, _count in a.layer_groups():
        tokens = cached_tokens(layer, seq_len, "transformers")
        best = max(best, int(kv_elements_per_token(a, layer) * tokens * bits * batch / 8))
    return best
