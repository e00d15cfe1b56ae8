"""Language-side builders several families share: the decoder of a multimodal model from its (possibly sparse)
nested text config, and the LayerNorm transformers of encoder-decoder models (Whisper, MBart/BART decoders) and
of contrastive text towers (CLIP, SigLIP).

Every default filled into a sparse nested text config names the ``configuration_*.py`` it comes from
(huggingface/transformers: configuration_llama.py, configuration_mistral.py, configuration_qwen2.py,
configuration_gemma.py, configuration_gemma3.py, configuration_phi3.py; InternLM2 remote code).
Decoder shapes mirror modeling_whisper.py, modeling_mbart.py and modeling_bart.py.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..arch import ArchSpec, LayerSpec, parse_config
from ..messages import Message
from .base import Defaults, _int, _ln, _sub

# ---------------------------------------------------------------------------------------------------------------
# Language-model defaults (the config classes' __init__ defaults, for sparse nested text configs)

# configuration_llama.py LlamaConfig
LLAMA_DEFAULTS = Defaults(
    "LlamaConfig (configuration_llama.py)",
    {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
     "num_attention_heads": 32, "max_position_embeddings": 2048, "tie_word_embeddings": False},
)  # fmt: skip
# configuration_mistral.py MistralConfig
MISTRAL_DEFAULTS = Defaults(
    "MistralConfig (configuration_mistral.py)",
    {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
     "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 4096 * 32,
     "tie_word_embeddings": False},
)  # fmt: skip
# configuration_qwen2.py Qwen2Config (num_key_value_heads defaults to 32 = MHA; use_sliding_window False)
QWEN2_DEFAULTS = Defaults(
    "Qwen2Config (configuration_qwen2.py)",
    {"vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 22016, "num_hidden_layers": 32,
     "num_attention_heads": 32, "num_key_value_heads": 32, "max_position_embeddings": 32768,
     "tie_word_embeddings": False, "use_sliding_window": False},
)  # fmt: skip
# configuration_gemma.py GemmaConfig
GEMMA_DEFAULTS = Defaults(
    "GemmaConfig (configuration_gemma.py)",
    {"vocab_size": 256000, "hidden_size": 3072, "intermediate_size": 24576, "num_hidden_layers": 28,
     "num_attention_heads": 16, "num_key_value_heads": 16, "head_dim": 256, "max_position_embeddings": 8192,
     "tie_word_embeddings": True},
)  # fmt: skip
# configuration_gemma3.py Gemma3TextConfig (sliding_window_pattern 6 = 5 local : 1 global)
GEMMA3_TEXT_DEFAULTS = Defaults(
    "Gemma3TextConfig (configuration_gemma3.py)",
    {"vocab_size": 262208, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
     "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "max_position_embeddings": 131072,
     "sliding_window": 4096, "sliding_window_pattern": 6, "query_pre_attn_scalar": 256,
     "tie_word_embeddings": True},
)  # fmt: skip
# configuration_phi3.py Phi3Config
PHI3_DEFAULTS = Defaults(
    "Phi3Config (configuration_phi3.py)",
    {"vocab_size": 32064, "hidden_size": 3072, "intermediate_size": 8192, "num_hidden_layers": 32,
     "num_attention_heads": 32, "max_position_embeddings": 4096, "tie_word_embeddings": False},
)  # fmt: skip
# InternLM2 remote code configuration_internlm2.py InternLM2Config (bias defaults to True)
INTERNLM2_DEFAULTS = Defaults(
    "InternLM2Config (internlm2 remote configuration_internlm2.py)",
    {"vocab_size": 103168, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
     "num_attention_heads": 32, "max_position_embeddings": 2048, "bias": True, "tie_word_embeddings": False},
)  # fmt: skip

_TEXT_DEFAULTS: dict[str, Defaults] = {
    "llama": LLAMA_DEFAULTS,
    "mistral": MISTRAL_DEFAULTS,
    "qwen2": QWEN2_DEFAULTS,
    "gemma": GEMMA_DEFAULTS,
    "gemma3_text": GEMMA3_TEXT_DEFAULTS,
    "phi3": PHI3_DEFAULTS,
    "internlm2": INTERNLM2_DEFAULTS,
}

# Multimodal text model_types → the decoder type arch.parse_config knows.
_LM_TYPE_ALIASES = {
    "qwen2_vl": "qwen2", "qwen2_5_vl": "qwen2", "qwen2_vl_text": "qwen2", "qwen2_5_vl_text": "qwen2",
    "qwen2_5_omni_text": "qwen2", "minicpmv": "qwen2", "phi3_v": "phi3", "phi4mm": "phi3",
    "phi4_multimodal": "phi3", "mllama_text_model": "llama", "gemma3": "gemma3_text",
    "llama4_text": "llama4_text", "internlm2": "internlm2",
}  # fmt: skip


def _text_lm(
    text: dict[str, Any],
    parent: dict[str, Any],
    default_type: str,
    notes: list[Message],
    what: str = "text_config",
) -> ArchSpec:
    """Build the decoder ArchSpec from a (possibly sparse) nested text config, filling its class defaults."""
    text = dict(text)
    for field in ("vocab_size", "tie_word_embeddings"):
        if text.get(field) is None and parent.get(field) is not None:
            text[field] = parent[field]  # LlavaConfig & co. keep these at the top level in older configs
    lm_type = str(text.get("model_type") or default_type)
    lm_type = _LM_TYPE_ALIASES.get(lm_type, lm_type)
    defaults = _TEXT_DEFAULTS.get(lm_type)
    full = defaults.fill(text, what, notes) if defaults else text
    full["model_type"] = lm_type
    return parse_config(full)


def _nested_text_lm(
    cfg: dict[str, Any], lm_type: str, notes: list[Message], *, force: bool = False
) -> ArchSpec:
    """The decoder of ``cfg['text_config']`` (a ``lm_type`` when it names none; always one when ``force``:
    configs whose text model_type is the multimodal wrapper's own, e.g. 'qwen3_vl_text')."""
    text = _sub(cfg, "text_config")
    if force:
        text["model_type"] = lm_type
    return _text_lm(text, cfg, lm_type, notes)


def _top_level_text_lm(
    cfg: dict[str, Any], lm_type: str, notes: list[Message], nested: tuple[str, ...]
) -> ArchSpec:
    """The decoder of a remote-code config that keeps the text fields at the top level, next to the
    ``nested`` encoder sections (MiniCPM-V, Phi-3-V, Phi-4-MM, older Qwen2-VL)."""
    text = {k: v for k, v in cfg.items() if k not in nested}
    text["model_type"] = lm_type
    return _text_lm(text, {}, lm_type, notes)


# ---------------------------------------------------------------------------------------------------------------
# LayerNorm transformers with a plain MLP (encoder-decoder decoders, contrastive text towers)


def _layernorm_transformer(
    model_type: str,
    *,
    hidden: int,
    heads: int,
    vocab: int,
    intermediate: int,
    layers: list[LayerSpec],
    qkv_bias: bool,
    tie: bool,
    positions: int,
    max_positions: int,
    extra: dict[str, int],
    final_norm: bool = True,
    assumptions: list[Message] | None = None,
) -> ArchSpec:
    """Pre-norm MHA layers (2 LayerNorm), biased out-projection and fc1/fc2, a learned position table."""
    return ArchSpec(
        model_type=model_type,
        hidden_size=hidden,
        vocab_size=vocab,
        num_heads=heads,
        num_kv_heads=heads,
        head_dim=hidden // heads,
        intermediate_size=intermediate,
        layers=layers,
        gated_mlp=False,
        norm="layer",
        norms_per_layer=2,
        qkv_bias=qkv_bias,
        o_bias=True,
        mlp_bias=True,
        tie_word_embeddings=tie,
        learned_positions=positions,
        final_norm=final_norm,
        max_position_embeddings=max_positions,
        extra_params=extra,
        assumptions=assumptions or [],
    )


class DecoderFlavor(NamedTuple):
    """What differs between the cross-attention decoders of encoder-decoder models."""

    k_bias: bool  # k_proj has a bias (self- and cross-attention)
    embedding_norm: bool  # layernorm_embedding after the embeddings
    positions_field: str  # config field giving the rows of the learned position table
    positions_default: int | None
    position_offset: int  # extra rows of the position table


# WhisperDecoderLayer (modeling_whisper.py): q, v, out biased, k not; embed_positions has max_target_positions
# rows (WhisperConfig default 448); no layernorm_embedding.
WHISPER_DECODER = DecoderFlavor(False, False, "max_target_positions", 448, 0)
# MBart/BART decoder (modeling_mbart.py / modeling_bart.py): biased q/k/v/o, learned positions with offset 2,
# layernorm_embedding.
BART_DECODER = DecoderFlavor(True, True, "max_position_embeddings", None, 2)


def _encoder_decoder_lm(
    t: dict[str, Any],
    flavor: DecoderFlavor,
    *,
    model_type: str,
    tie: bool,
    final_norm: bool = True,
    extra: dict[str, int] | None = None,
) -> ArchSpec:
    """The decoder of an encoder-decoder model (Whisper, Nougat/Donut, Florence-2): self-attention,
    cross-attention over the encoder states (with its own LayerNorm: 3 per layer) and fc1/fc2 in every layer."""
    d, n = _int(t, "d_model"), _int(t, "decoder_layers")
    heads = _int(t, "decoder_attention_heads")
    named: dict[str, int] = {}
    if not flavor.k_bias:
        named["self_attn_q_v_bias"] = n * 2 * d  # qkv_bias=False below counts none of q, k, v
    if flavor.embedding_norm:
        named["layernorm_embedding"] = _ln(d)
    named["cross_attention"] = n * (4 * d * d + (4 if flavor.k_bias else 3) * d + _ln(d))
    vocab, ffn = _int(t, "vocab_size"), _int(t, "decoder_ffn_dim")
    max_positions = _int(t, flavor.positions_field, default=flavor.positions_default)
    return _layernorm_transformer(
        model_type,
        hidden=d,
        heads=heads,
        vocab=vocab,
        intermediate=ffn,
        layers=[LayerSpec(cross_attention=True)] * n,
        qkv_bias=flavor.k_bias,
        tie=tie,
        positions=max_positions + flavor.position_offset,
        max_positions=max_positions,
        final_norm=final_norm,
        extra={**named, **(extra or {})},
    )
