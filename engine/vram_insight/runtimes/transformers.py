"""Hugging Face transformers inference: ``generate()`` prefills the prompt, then decodes with a DynamicCache.

Mirrors ``transformers/generation/utils.py`` (``GenerationMixin._sample``: ``logits_to_keep=1`` in the prefill,
the fp32 copy of the next-token logits) and ``cache_utils.py`` (``DynamicLayer.update``: ``torch.cat`` of the old
and new keys/values, so one layer's cache briefly exists twice during decode). The forward transient below is the
no-grad forward of a decoder stack; training workloads reuse it for rollouts and reference passes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import activations as act
from ..arch import ArchSpec
from ..errors import EstimateError
from ..kernels import effective_attention, math_attention_note
from ..kv import kv_cache_bytes, largest_layer_kv_bytes
from ..messages import register
from ..parallel import kv_per_gpu
from ..phases import Ctx, Phase, Pinned
from ..quant import HF_FORMATS, is_gguf

if TYPE_CHECKING:
    from ..schemas import EstimateRequest

register({
    "transformers.logits_all": "Logits for every prompt token (16-bit + fp32 copy)",
    "transformers.logits_last": "Prefill computes logits for the last token only (generate() passes "
    "logits_to_keep=1); sampling works on an fp32 copy",
    "transformers.eager": "Eager attention materialises [batch, heads, q, kv] scores (fp32 softmax + 16-bit copy)",
    "transformers.fused_attention": "SDPA/flash attention: no seq² score matrix is materialised",
})  # fmt: skip


def weight_format(fmt: str) -> str:
    """transformers (and vLLM) load Hugging Face formats; GGUF-only block types need llama.cpp."""
    if is_gguf(fmt) and fmt not in HF_FORMATS:
        raise EstimateError(f"{fmt} is a GGUF (llama.cpp) format: set runtime to llama.cpp", "weights")
    return fmt


def activation_bytes(weights_format: str) -> int:
    """Activation dtype width: fp32 checkpoints compute in fp32; every other format computes in 16-bit
    (quantized formats dequantize to their compute dtype, bf16/fp16)."""
    return 4 if weights_format == "fp32" else 2


def active_tokens_layer_peak(a: ArchSpec, tokens: int, act_bytes: int) -> int:
    """Largest per-layer forward transient over the layers (MoE layers pass top-k expert widths)."""
    return (
        max(act.inference_layer_peak_per_token(a, layer, act_bytes) for layer, _ in a.layer_groups()) * tokens
    )


def inference_forward_bytes(
    a: ArchSpec, batch: int, q_len: int, kv_len: int, act_bytes: int, attention: str
) -> int:
    """No-grad forward of ``batch × q_len`` tokens attending to ``kv_len`` tokens: the transient at the peak."""
    tokens = batch * q_len
    resident = act.inference_resident_per_token(a, act_bytes) * tokens
    layer = active_tokens_layer_peak(a, tokens, act_bytes)
    if attention == "eager":
        layer = max(layer, act.eager_scores_inference_bytes(a, batch, q_len, kv_len, act_bytes))
    rope = 2 * act_bytes * a.head_dim * q_len  # cos/sin tables [1, S, d] (position embeddings)
    return resident + layer + rope


def prefill_pin(a: ArchSpec, batch: int, prompt: int, act_bytes: int, attention: str, tp: int) -> Pinned:
    """The prefill buffer the caching allocator loses segments to (device.CachingAllocator): eager attention's fp32
    [B, heads, P, P] softmax; else one MLP block [B·P, intermediate] (MoE grouped_mm: [B·P·top_k, hidden])."""
    if attention == "eager":
        return Pinned("prefill_eager", batch * a.num_heads * prompt * prompt * 4 // tp)
    width = a.moe.top_k * a.hidden_size if a.moe else a.intermediate_size
    return Pinned("prefill", act_bytes * batch * prompt * width // tp)


def generate_phases(
    ctx: Ctx,
    a: ArchSpec,
    weights: int,
    batch: int,
    seq: int,
    kv_dtype: str,
    weights_format: str,
    kv_delta: int = 0,
) -> list[Phase]:
    """Prefill of ``seq - gen_len`` prompt tokens, then (when generating) the last decode step."""
    req: EstimateRequest = ctx.req
    tp, pp = req.tp, req.pp
    prompt = seq - req.gen_len
    act_bytes = activation_bytes(weights_format)
    attention = effective_attention(req.attention, a, act_bytes, req.platform)
    if attention != req.attention:
        ctx.assumptions.append(math_attention_note(act_bytes))
    phases: list[Phase] = []
    kv_prompt = kv_per_gpu(a, kv_cache_bytes(a, batch, prompt, kv_dtype), tp, pp) + kv_delta
    prefill_act = inference_forward_bytes(a, batch, prompt, prompt, act_bytes, attention)
    prefill_act = prefill_act // tp if tp > 1 else prefill_act
    if req.logits_all_tokens:
        logits = batch * prompt * a.vocab_size * (act_bytes + 4)
        ctx.note("transformers.logits_all")
    else:
        logits = batch * a.vocab_size * (act_bytes + 4)
        ctx.note("transformers.logits_last")
    phases.append(
        Phase(
            "prefill",
            {"weights": weights, "kv_cache": kv_prompt, "activations": prefill_act, "logits": logits},
            prefill_pin(a, batch, prompt, act_bytes, attention, tp),
        )
    )
    if req.gen_len:
        kv_full = kv_per_gpu(a, kv_cache_bytes(a, batch, seq, kv_dtype), tp, pp) + kv_delta
        cat_copy = (
            largest_layer_kv_bytes(a, batch, seq, kv_dtype) if kv_dtype in ("bf16", "fp16", "fp32") else 0
        )
        decode_act = inference_forward_bytes(a, batch, 1, seq, act_bytes, attention) + cat_copy
        # Decode reuses the segments the prefill left cached: no reserve of its own (device.CachingAllocator).
        phases.append(Phase("decode", {"weights": weights, "kv_cache": kv_full, "activations": decode_act,
                                       "logits": batch * a.vocab_size * (act_bytes + 4)}, Pinned("settled", 0)))  # fmt: skip
    if attention == "eager":
        ctx.note("transformers.eager")
    else:
        ctx.note("transformers.fused_attention")
    return phases
