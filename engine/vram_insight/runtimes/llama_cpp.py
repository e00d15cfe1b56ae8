"""llama.cpp: GGUF weights, its KV cache types and the compute buffer of one micro-batch.

Mirrors ``src/llama-context.cpp`` (graph reserve for ``n_ubatch`` tokens, the f32 logits buffer) and
``src/llama-kv-cache.cpp`` (K/V per layer in the ``--cache-type-k/-v`` type; a quantized V cache needs flash
attention).
"""

from __future__ import annotations

from ..arch import ArchSpec
from ..errors import EstimateError
from ..kv import kv_cache_bytes
from ..parallel import kv_per_gpu
from ..phases import Ctx, Phase
from ..quant import is_gguf

LLAMA_CPP_UBATCH = 512  # llama.cpp default n_ubatch
QUANTIZED_KV_TYPES = ("q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl")  # ggml types llama.cpp accepts for KV


def weight_format(fmt: str) -> str:
    """llama.cpp runs GGUF files: 16-bit and fp32 map to GGUF F16/BF16/F32, other HF formats are refused."""
    if is_gguf(fmt) or fmt == "fp32":
        return fmt
    if fmt in ("bf16", "fp16"):
        return "f16" if fmt == "fp16" else "bf16"
    raise EstimateError(
        f"llama.cpp runs GGUF files: choose a GGUF type (q4_k_m, q8_0, …), not {fmt}", "weights"
    )


def serving_phases(ctx: Ctx, a: ArchSpec, weights: int, batch: int, seq: int, kv_dtype: str) -> list[Phase]:
    """Weights + KV cache for ``batch`` sequences of ``seq`` tokens + the compute buffer."""
    req = ctx.req
    prompt = seq - req.gen_len
    kv_dt = kv_dtype if kv_dtype not in ("bf16",) else "fp16"
    if kv_dt in QUANTIZED_KV_TYPES and req.attention == "eager":
        raise EstimateError(
            "llama.cpp needs flash attention for a quantized V cache: set attention to flash",
            "kv_cache_dtype",
        )
    kv = kv_per_gpu(a, kv_cache_bytes(a, batch, seq, kv_dt, "llama.cpp"), req.tp, req.pp)
    ubatch = min(LLAMA_CPP_UBATCH, max(1, batch * prompt))
    compute = ubatch * a.vocab_size * 4 + ubatch * 4 * (4 * a.hidden_size + 3 * a.intermediate_size)
    if req.attention == "eager":
        compute += a.num_heads * seq * ubatch * 4  # KQ scores when flash attention is off
    ctx.assumptions.append(
        f"llama.cpp: n_ctx = {seq} × {batch} sequences, KV cache {kv_dt}; compute buffer for n_ubatch = "
        f"{LLAMA_CPP_UBATCH} (logits f32 + layer intermediates{'' if req.attention != 'eager' else ' + KQ scores without flash attention'})"
    )
    return [Phase("serving", {"weights": weights, "kv_cache": kv, "activations": compute})]
