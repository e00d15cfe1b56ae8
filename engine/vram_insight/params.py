"""Exact parameter counts from an :class:`~vram_insight.arch.ArchSpec`.

Each function returns the element count of one group of tensors, as the transformers modeling file for the
family allocates them (``modeling_llama.py``, ``modeling_qwen2.py``, ``modeling_deepseek_v3.py``, ...). The formulas
are those of the reference note (formulas.md §A) and reproduce the published safetensors totals exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .arch import ArchSpec, LayerSpec


def attention_params(a: ArchSpec) -> int:
    """q, k, v, o projections (+ biases, q/k-norm weights, sinks) of one standard attention layer.

    q: h·n_q·d, k and v: h·n_kv·d each, o: n_q·d·h (modeling_llama.LlamaAttention). Biases: q,k,v only for
    Qwen2/ChatGLM ``add_qkv_bias``; ``attention_bias`` adds o too. QK-norm over head_dim (Qwen3, Gemma-3): 2·d;
    over the full projection (OLMo-2): n_q·d + n_kv·d. gpt-oss sinks: one logit per head.
    """
    h, q, kv = a.hidden_size, a.q_dim, a.kv_dim
    count = h * q + 2 * h * kv + q * h
    if a.qkv_bias:
        count += q + 2 * kv
    if a.o_bias:
        count += h
    if a.qk_norm == "head":
        count += 2 * a.head_dim
    elif a.qk_norm == "full":
        count += q + kv
    if a.attention_sinks:
        count += a.num_heads
    return count


def mla_attention_params(a: ArchSpec) -> int:
    """DeepSeek-V2/V3 multi-head latent attention (modeling_deepseek_v3.DeepseekV3Attention).

    q: h·r_q + r_q (q_a_layernorm) + r_q·n·(d_nope+d_rope), or h·n·(d_nope+d_rope) without q-LoRA;
    kv: h·(r_kv+d_rope) (kv_a_proj_with_mqa) + r_kv (kv_a_layernorm) + r_kv·n·(d_nope+d_v) (kv_b_proj);
    o: n·d_v·h.
    """
    m = a.mla
    assert m is not None
    h, n = a.hidden_size, a.num_heads
    qk_head = m.qk_nope_head_dim + m.qk_rope_head_dim
    if m.q_lora_rank:
        q = h * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * n * qk_head
    else:
        q = h * n * qk_head
    kv = (
        h * (m.kv_lora_rank + m.qk_rope_head_dim)
        + m.kv_lora_rank
        + m.kv_lora_rank * n * (m.qk_nope_head_dim + m.v_head_dim)
    )
    o = n * m.v_head_dim * h
    return q + kv + o


def mlp_params(hidden: int, intermediate: int, gated: bool, bias: bool) -> int:
    """Gated (SwiGLU/GeGLU: gate, up, down) 3·h·i, or plain (fc1, fc2) 2·h·i; biases i per input side + h."""
    if gated:
        return 3 * hidden * intermediate + ((2 * intermediate + hidden) if bias else 0)
    return 2 * hidden * intermediate + ((intermediate + hidden) if bias else 0)


def expert_params(a: ArchSpec) -> int:
    """One routed expert: a gated MLP of width ``moe_intermediate_size`` (gpt-oss adds 2i + h biases)."""
    assert a.moe is not None
    return mlp_params(a.hidden_size, a.moe.expert_intermediate, True, a.moe.expert_bias)


def router_params(a: ArchSpec) -> int:
    """Router Linear(h, E) (+E bias for gpt-oss, +E e_score_correction_bias for DeepSeek-V3)."""
    assert a.moe is not None
    e = a.moe.num_experts
    return e * a.hidden_size + (e if a.moe.router_bias else 0) + (e if a.moe.router_correction_bias else 0)


def shared_expert_params(a: ArchSpec) -> int:
    """DeepSeek shared experts (one MLP of width n_shared·i_moe), Qwen2-MoE shared expert + its sigmoid gate."""
    assert a.moe is not None
    if not a.moe.shared_intermediate:
        return 0
    gate = a.hidden_size if a.moe.shared_expert_gate else 0
    return mlp_params(a.hidden_size, a.moe.shared_intermediate, True, False) + gate


def norm_params(width: int, kind: str) -> int:
    """RMSNorm: weight (width). LayerNorm: weight + bias (2·width)."""
    return width if kind == "rms" else 2 * width


@dataclass
class ParamCount:
    """Element counts per component; ``total`` counts tied tensors once."""

    components: dict[str, int] = field(default_factory=dict)
    active: int = 0
    per_layer_dense: int = 0
    per_layer_moe: int = 0

    @property
    def total(self) -> int:
        return sum(self.components.values())


def layer_params(a: ArchSpec, layer: LayerSpec) -> dict[str, int]:
    """Parameters of one decoder layer by component."""
    parts: dict[str, int] = {}
    parts["attention"] = mla_attention_params(a) if a.mla else attention_params(a)
    if layer.moe and a.moe:
        parts["experts"] = a.moe.num_experts * expert_params(a)
        parts["shared_experts"] = shared_expert_params(a)
        parts["router"] = router_params(a)
    else:
        parts["mlp"] = mlp_params(a.hidden_size, a.intermediate_size, a.gated_mlp, a.mlp_bias)
    parts["norms"] = a.norms_per_layer * norm_params(a.hidden_size, a.norm)
    return parts


_COUNTS: dict[int, tuple[ArchSpec, ParamCount]] = {}


def count_params(a: ArchSpec) -> ParamCount:
    """Total and per-token-active parameters of the decoder (memoised per ArchSpec instance)."""
    hit = _COUNTS.get(id(a))
    if hit is not None and hit[0] is a:
        return hit[1]
    result = _count_params(a)
    if len(_COUNTS) >= 128:
        _COUNTS.pop(next(iter(_COUNTS)))
    _COUNTS[id(a)] = (a, result)
    return result


def _count_params(a: ArchSpec) -> ParamCount:
    result = ParamCount()
    comp = result.components
    comp["embedding"] = a.vocab_size * a.hidden_size
    comp["lm_head"] = 0 if a.tie_word_embeddings else a.vocab_size * a.hidden_size
    if a.learned_positions:
        comp["positions"] = a.learned_positions * a.hidden_size
    inactive = 0
    for layer, count in a.layer_groups():
        for name, value in layer_params(a, layer).items():
            comp[name] = comp.get(name, 0) + value * count
        if layer.moe and a.moe:
            # Only top-k routed experts run per token (shared experts and router always do).
            inactive += (a.moe.num_experts - a.moe.top_k) * expert_params(a) * count
    comp["norms"] = comp.get("norms", 0) + (norm_params(a.hidden_size, a.norm) if a.final_norm else 0)
    for name, value in a.extra_params.items():
        comp[name] = value
    result.components = {k: v for k, v in comp.items() if v}
    result.active = result.total - inactive
    dense_layer = LayerSpec(moe=False)
    result.per_layer_dense = sum(layer_params(a, dense_layer).values())
    if a.moe:
        result.per_layer_moe = sum(layer_params(a, LayerSpec(moe=True)).values())
    return result


def linear_shapes(a: ArchSpec, layer: LayerSpec) -> dict[str, tuple[int, int]]:
    """(in, out) of every nn.Linear in one layer by PEFT target-module name (used for LoRA counts).

    Names follow the Llama-family modules; fused families map onto the same names (Phi-3 ``qkv_proj``,
    ChatGLM ``query_key_value``) in :mod:`vram_insight.lora`.
    """
    h = a.hidden_size
    shapes: dict[str, tuple[int, int]] = {}
    if a.mla:
        m = a.mla
        qk_head = m.qk_nope_head_dim + m.qk_rope_head_dim
        if m.q_lora_rank:
            shapes["q_a_proj"] = (h, m.q_lora_rank)
            shapes["q_b_proj"] = (m.q_lora_rank, a.num_heads * qk_head)
        else:
            shapes["q_proj"] = (h, a.num_heads * qk_head)
        shapes["kv_a_proj_with_mqa"] = (h, m.kv_lora_rank + m.qk_rope_head_dim)
        shapes["kv_b_proj"] = (m.kv_lora_rank, a.num_heads * (m.qk_nope_head_dim + m.v_head_dim))
        shapes["o_proj"] = (a.num_heads * m.v_head_dim, h)
    else:
        shapes["q_proj"] = (h, a.q_dim)
        shapes["k_proj"] = (h, a.kv_dim)
        shapes["v_proj"] = (h, a.kv_dim)
        shapes["o_proj"] = (a.q_dim, h)
    if not (layer.moe and a.moe):
        i = a.intermediate_size
        if a.gated_mlp:
            shapes["gate_proj"] = (h, i)
            shapes["up_proj"] = (h, i)
        else:
            shapes["up_proj"] = (h, i)
        shapes["down_proj"] = (i, h)
    return shapes
