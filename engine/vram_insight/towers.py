"""The non-text parts of multimodal models: towers, projectors, media → token rules and tower activations.

Three small, pure entry points:

* :func:`split_multimodal` — a ``config.json`` (LLaVA, Qwen2-VL, Whisper, ...) → :class:`MultimodalSpec`: the
  language decoder as an :class:`~vram_insight.arch.ArchSpec` plus exact parameter counts of every vision/audio
  tower, the projector and other tensors. ``count_params(spec.lm).total + Σ towers + projector + other`` is the
  model's parameter count as transformers allocates it (meta-device instantiation), tied tensors once.
* :func:`media_tokens` — images / video frames / audio seconds → the LLM tokens they become and the positions
  each encoder runs over, following each model's real preprocessing (``processing_*.py`` /
  ``image_processing_*.py`` of huggingface/transformers, or the model's own remote code).
* :func:`tower_activation_bytes` — activation memory of one tower (inference peak or training, formulas.md §C
  adapted to the tower's MLP and norms).

Every parameter formula names the module it mirrors (``modeling_*.py`` of huggingface/transformers unless said
otherwise); every default filled into a sparse nested text config names the ``configuration_*.py`` it comes from.
Pure Python (runs in Pyodide): no numpy, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .arch import ArchSpec, ConfigError, LayerSpec, parse_config
from .messages import msg, shown
from .params import count_params

TowerKind = Literal["vision", "audio"]
AttentionImpl = Literal["sdpa", "eager", "flash"]
Checkpointing = Literal["none", "selective", "full"]
CrossAttentionMode = Literal["none", "interleaved", "every_layer"]


class TowerStage(BaseModel):
    """One resolution stage of a hierarchical encoder (Swin, DaViT): positions shrink by ``position_divisor``."""

    model_config = ConfigDict(frozen=True)

    layers: int
    hidden: int
    heads: int
    intermediate: int
    position_divisor: int = 1
    window: int | None = None


class Tower(BaseModel):
    """A vision or audio encoder in the shape the memory formulas need (CLIP/SigLIP text towers are ``lm``)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="'vision' or 'audio' — the key of MediaTokens.encoder_positions.")
    kind: TowerKind
    arch: str = Field(
        description="Encoder family, e.g. 'clip_vit', 'siglip_vit', 'qwen2_5_vit', 'whisper_encoder'."
    )
    params: int = Field(description="Exact parameter count of the tower (projector not included).")
    layers: int
    hidden: int
    heads: int
    intermediate: int
    gated_mlp: bool = False
    unfused_act: bool = Field(
        default=False, description="quick_gelu written as x·sigmoid(1.702x): one more i-wide tensor saved."
    )
    norm: Literal["layer", "rms"] = "layer"
    softmax_fp32: bool = Field(
        default=True,
        description="Eager attention takes softmax in fp32 and casts back (False: in the dtype).",
    )
    rope_fp32_qk: bool = Field(
        default=False,
        description="Vision RoPE on fp32 copies of q and k (Qwen-VL apply_rotary_pos_emb_vision: q.float(), k.float()).",
    )
    patch_size: int | None = None
    image_size: int | None = None
    temporal_patch_size: int = 1
    merge: int = Field(default=1, description="Positions merged into one LLM token per side (2 → 2×2 = 4).")
    num_mel_bins: int | None = None
    max_source_positions: int | None = None
    attention: Literal["full", "windowed"] = "full"
    window: int | None = Field(default=None, description="Positions per attention window in windowed layers.")
    full_attention_layers: int = Field(
        default=0, description="Windowed towers: layers that still attend fully."
    )
    stages: list[TowerStage] = Field(default_factory=list, description="Hierarchical encoders only.")
    extra_saved_per_layer: int = Field(
        default=0,
        description="Training: extra activation elements per position per layer (conformer conv module).",
    )
    notes: list[str] = Field(default_factory=list)


class MultimodalSpec(BaseModel):
    """A multimodal model split into its language decoder, encoders, projector and the rest."""

    model_config = ConfigDict(frozen=True)

    model_type: str
    lm: ArchSpec
    towers: list[Tower] = Field(default_factory=list)
    projector_params: int = 0
    other_params: dict[str, int] = Field(default_factory=dict)
    cross_attention: CrossAttentionMode = Field(
        default="none",
        description=(
            "'interleaved': lm layers flagged cross_attention=True attend only to encoder states (Llama-3.2-Vision); "
            "'every_layer': every decoder layer has self- and cross-attention (Whisper, Nougat, Florence-2)."
        ),
    )
    assumptions: list[str] = Field(default_factory=list)

    @property
    def lm_params(self) -> int:
        return count_params(self.lm).total

    @property
    def tower_params(self) -> int:
        return sum(t.params for t in self.towers)

    @property
    def non_lm_params(self) -> int:
        """Everything outside the language decoder: towers, projector and other tensors."""
        return self.tower_params + self.projector_params + sum(self.other_params.values())

    @property
    def total_params(self) -> int:
        return self.lm_params + self.non_lm_params

    def tower(self, name: str) -> Tower | None:
        return next((t for t in self.towers if t.name == name), None)


# ---------------------------------------------------------------------------------------------------------------
# Small helpers


def _int(cfg: dict[str, Any], *names: str, default: int | None = None) -> int:
    """First present integer field among ``names`` (``default`` if none); a clear error otherwise."""
    for name in names:
        value = cfg.get(name)
        if value is not None:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or int(value) != value
                or value < 0
            ):
                raise ConfigError.of("error.config.not_integer", "config", key=name, got=shown(value))
            return int(value)
    if default is None:
        raise ConfigError.of("error.config.missing", "config", key=names[0])
    return default


def _sub(cfg: dict[str, Any], key: str) -> dict[str, Any]:
    value = cfg.get(key)
    return dict(value) if isinstance(value, dict) else {}


def _with_defaults(
    given: dict[str, Any], defaults: dict[str, Any], source: str, what: str, notes: list[str]
) -> dict:
    """``given`` completed with a config class's defaults; says which fields were filled and from where."""
    merged = dict(defaults)
    merged.update({k: v for k, v in given.items() if v is not None})
    filled = [k for k in defaults if given.get(k) is None and k not in ("model_type",)]
    if filled:
        shown = ", ".join(f"{k}={defaults[k]}" for k in filled)
        notes.append(f"{what}: {shown} not in config.json — {source} defaults")
    return merged


def _linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def _ln(width: int) -> int:
    """nn.LayerNorm: weight + bias."""
    return 2 * width


def _vit_layer(
    h: int,
    i: int,
    *,
    qkv_bias: bool = True,
    o_bias: bool = True,
    mlp_bias: bool = True,
    k_bias: bool = True,
    gated: bool = False,
    norm: str = "layer",
) -> int:
    """One pre-norm encoder layer: q, k, v, o (+biases), 2 norms, MLP (fc1/fc2 or gate/up/down)."""
    attn = 4 * h * h + (2 * h if qkv_bias else 0) + (h if qkv_bias and k_bias else 0) + (h if o_bias else 0)
    mlp = (
        (3 * h * i + ((2 * i + h) if mlp_bias else 0))
        if gated
        else (2 * h * i + ((i + h) if mlp_bias else 0))
    )
    norms = 2 * (2 * h if norm == "layer" else h)
    return attn + mlp + norms


# ---------------------------------------------------------------------------------------------------------------
# Language-model defaults (the config classes' __init__ defaults, for sparse nested text configs)

# configuration_llama.py LlamaConfig
LLAMA_DEFAULTS: dict[str, Any] = {
    "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
    "num_attention_heads": 32, "max_position_embeddings": 2048, "tie_word_embeddings": False,
}  # fmt: skip
# configuration_mistral.py MistralConfig
MISTRAL_DEFAULTS: dict[str, Any] = {
    "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 4096 * 32,
    "tie_word_embeddings": False,
}  # fmt: skip
# configuration_qwen2.py Qwen2Config (num_key_value_heads defaults to 32 = MHA; use_sliding_window False)
QWEN2_DEFAULTS: dict[str, Any] = {
    "vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 22016, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 32, "max_position_embeddings": 32768,
    "tie_word_embeddings": False, "use_sliding_window": False,
}  # fmt: skip
# configuration_gemma.py GemmaConfig
GEMMA_DEFAULTS: dict[str, Any] = {
    "vocab_size": 256000, "hidden_size": 3072, "intermediate_size": 24576, "num_hidden_layers": 28,
    "num_attention_heads": 16, "num_key_value_heads": 16, "head_dim": 256, "max_position_embeddings": 8192,
    "tie_word_embeddings": True,
}  # fmt: skip
# configuration_gemma3.py Gemma3TextConfig (sliding_window_pattern 6 = 5 local : 1 global)
GEMMA3_TEXT_DEFAULTS: dict[str, Any] = {
    "vocab_size": 262208, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
    "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "max_position_embeddings": 131072,
    "sliding_window": 4096, "sliding_window_pattern": 6, "query_pre_attn_scalar": 256,
    "tie_word_embeddings": True,
}  # fmt: skip
# configuration_phi3.py Phi3Config
PHI3_DEFAULTS: dict[str, Any] = {
    "vocab_size": 32064, "hidden_size": 3072, "intermediate_size": 8192, "num_hidden_layers": 32,
    "num_attention_heads": 32, "max_position_embeddings": 4096, "tie_word_embeddings": False,
}  # fmt: skip
# InternLM2 remote code configuration_internlm2.py InternLM2Config (bias defaults to True)
INTERNLM2_DEFAULTS: dict[str, Any] = {
    "vocab_size": 103168, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
    "num_attention_heads": 32, "max_position_embeddings": 2048, "bias": True, "tie_word_embeddings": False,
}  # fmt: skip

_TEXT_DEFAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "llama": (LLAMA_DEFAULTS, "LlamaConfig (configuration_llama.py)"),
    "mistral": (MISTRAL_DEFAULTS, "MistralConfig (configuration_mistral.py)"),
    "qwen2": (QWEN2_DEFAULTS, "Qwen2Config (configuration_qwen2.py)"),
    "gemma": (GEMMA_DEFAULTS, "GemmaConfig (configuration_gemma.py)"),
    "gemma3_text": (GEMMA3_TEXT_DEFAULTS, "Gemma3TextConfig (configuration_gemma3.py)"),
    "phi3": (PHI3_DEFAULTS, "Phi3Config (configuration_phi3.py)"),
    "internlm2": (INTERNLM2_DEFAULTS, "InternLM2Config (internlm2 remote configuration_internlm2.py)"),
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
    notes: list[str],
    what: str = "text config",
) -> ArchSpec:
    """Build the decoder ArchSpec from a (possibly sparse) nested text config, filling its class defaults."""
    text = dict(text)
    for field in ("vocab_size", "tie_word_embeddings"):
        if text.get(field) is None and parent.get(field) is not None:
            text[field] = parent[field]  # LlavaConfig & co. keep these at the top level in older configs
    lm_type = str(text.get("model_type") or default_type)
    lm_type = _LM_TYPE_ALIASES.get(lm_type, lm_type)
    defaults, source = _TEXT_DEFAULTS.get(lm_type, ({}, ""))
    full = _with_defaults(text, defaults, source, what, notes) if defaults else text
    full["model_type"] = lm_type
    return parse_config(full)


# ---------------------------------------------------------------------------------------------------------------
# Vision towers: exact parameter counts


def clip_vision_params(v: dict[str, Any]) -> int:
    """CLIPVisionTransformer (modeling_clip.py): class_embedding h, patch Conv2d(3, h, p, p, bias=False),
    position_embedding (N+1)·h, pre_layrnorm, L × CLIPEncoderLayer (biased q/k/v/o, fc1/fc2, 2 LayerNorm),
    post_layernorm."""
    h, i, n_layers = _int(v, "hidden_size"), _int(v, "intermediate_size"), _int(v, "num_hidden_layers")
    p, img, c = _int(v, "patch_size"), _int(v, "image_size"), _int(v, "num_channels", default=3)
    n = (img // p) ** 2
    emb = h + c * p * p * h + (n + 1) * h
    return emb + _ln(h) + n_layers * _vit_layer(h, i) + _ln(h)


def siglip_vision_params(v: dict[str, Any], use_head: bool | None = None) -> int:
    """SiglipVisionTransformer (modeling_siglip.py; Idefics2/3 and MiniCPM-V's NaViT copies are the same):
    patch Conv2d(3, h, p, p) with bias, position_embedding N·h (no CLS), L layers, post_layernorm, and the
    attention-pooling head when ``vision_use_head`` (probe h + nn.MultiheadAttention 4h²+4h + LayerNorm + MLP)."""
    h, i, n_layers = _int(v, "hidden_size"), _int(v, "intermediate_size"), _int(v, "num_hidden_layers")
    p, img, c = _int(v, "patch_size"), _int(v, "image_size"), _int(v, "num_channels", default=3)
    n = (img // p) ** 2
    total = c * p * p * h + h + n * h + n_layers * _vit_layer(h, i) + _ln(h)
    head = v.get("vision_use_head", True) if use_head is None else use_head
    if head:
        total += h + (4 * h * h + 4 * h) + _ln(h) + _linear(h, i) + _linear(i, h)
    return total


def pixtral_vision_params(v: dict[str, Any]) -> int:
    """PixtralVisionModel (modeling_pixtral.py): patch_conv Conv2d(3, h, p, p, bias=False), ln_pre RMSNorm,
    L × (attention_norm, q/k/v/o without bias, ffn_norm, SwiGLU gate/up/down without bias)."""
    h, i, n_layers = _int(v, "hidden_size"), _int(v, "intermediate_size"), _int(v, "num_hidden_layers")
    p, c = _int(v, "patch_size"), _int(v, "num_channels", default=3)
    layer = _vit_layer(h, i, qkv_bias=False, o_bias=False, mlp_bias=False, gated=True, norm="rms")
    return c * p * p * h + h + n_layers * layer


def qwen2_5_vit_params(v: dict[str, Any]) -> int:
    """Qwen2_5_VisionTransformerPretrainedModel without its merger (modeling_qwen2_5_vl.py): patch_embed
    Conv3d(3, h, (t, p, p), bias=False), blocks: 2 RMSNorm, fused qkv Linear(h, 3h) + proj Linear(h, h) with
    biases, SwiGLU gate/up/down with biases."""
    h, i, depth = _int(v, "hidden_size"), _int(v, "intermediate_size"), _int(v, "depth")
    p, t, c = _int(v, "patch_size"), _int(v, "temporal_patch_size", default=2), _int(v, "in_chans", default=3)
    return c * t * p * p * h + depth * _vit_layer(h, i, gated=True, norm="rms")


def qwen2_vit_params(v: dict[str, Any]) -> int:
    """Qwen2VisionTransformerPretrainedModel without its merger (modeling_qwen2_vl.py): Conv3d patch embed
    (no bias), blocks: 2 LayerNorm, qkv/proj with biases, fc1/fc2 of width mlp_ratio·embed_dim with biases."""
    h, depth = _int(v, "embed_dim", default=1280), _int(v, "depth", default=32)
    i = int(h * float(v.get("mlp_ratio", 4)))
    p, t, c = _int(v, "patch_size", default=14), _int(v, "temporal_patch_size", default=2), 3
    return c * t * p * p * h + depth * _vit_layer(h, i)


def qwen_merger_params(context: int, merge: int, out: int, norm: str) -> int:
    """PatchMerger: ln_q over the ViT width, then Linear(m²·h, m²·h) → GELU → Linear(m²·h, out), both biased."""
    inner = context * merge * merge
    return (context if norm == "rms" else _ln(context)) + _linear(inner, inner) + _linear(inner, out)


def intern_vit_params(v: dict[str, Any]) -> int:
    """InternVisionModel (InternVL remote modeling_intern_vit.py): class_embedding h, patch Conv2d with bias,
    position_embedding (N+1)·h; layers: fused qkv (bias = qkv_bias), proj, fc1/fc2, norm1/norm2, layer-scale
    ls1/ls2 (h each); optional q/k norms (qk_normalization). No final norm."""
    h, i, n_layers = _int(v, "hidden_size"), _int(v, "intermediate_size"), _int(v, "num_hidden_layers")
    p, img = _int(v, "patch_size"), _int(v, "image_size")
    norm = "rms" if str(v.get("norm_type", "rms_norm")).startswith("rms") else "layer"
    emb = h + 3 * p * p * h + h + ((img // p) ** 2 + 1) * h
    qkv_bias = bool(v.get("qkv_bias", False))
    layer = _vit_layer(h, i, qkv_bias=qkv_bias, o_bias=True, norm=norm) + 2 * h  # + ls1, ls2
    if v.get("qk_normalization"):
        layer += 2 * (h if norm == "rms" else 2 * h)
    return emb + n_layers * layer


def mllama_vision_params(v: dict[str, Any]) -> int:
    """MllamaVisionModel (modeling_mllama.py): patch Conv2d (no bias), class_embedding, gated positional
    embedding (gate + N·h + (A+1)·T·N·h tile table), gated pre/post tile embeddings ((A+1)·T·h + gate each),
    layernorm_pre/post, num_hidden_layers local layers (q/k/v/o without bias, biased fc1/fc2, 2 LayerNorm) and
    num_global_layers gated layers (+ gate_attn, gate_ffn). A = number of supported aspect ratios."""
    h, i = _int(v, "hidden_size", default=1280), _int(v, "intermediate_size", default=5120)
    p, img = _int(v, "patch_size", default=14), _int(v, "image_size", default=560)
    local, glob = _int(v, "num_hidden_layers", default=32), _int(v, "num_global_layers", default=8)
    tiles = _int(v, "max_num_tiles", default=4)
    ratios = v.get("supported_aspect_ratios") or _mllama_aspect_ratios(tiles)
    a = len(ratios)
    n = (img // p) ** 2 + 1
    layer = _vit_layer(h, i, qkv_bias=False, o_bias=False)
    total = 3 * p * p * h + h
    total += 1 + n * h + (a + 1) * tiles * n * h  # MllamaPrecomputedPositionEmbedding
    total += 2 * ((a + 1) * tiles * h + 1)  # MllamaPrecomputedAspectRatioEmbedding × 2 (pre, post)
    total += 2 * _ln(h)
    total += local * layer + glob * (layer + 2)
    return total


def llama4_vision_params(v: dict[str, Any]) -> int:
    """Llama4VisionModel (modeling_llama4.py): unfold-patch Linear(3p², h, bias=False), class_embedding,
    positional_embedding_vlm (N+1)·h, layernorm_pre/post, layers with biased q/k/v/o and fc1/fc2, and the
    pixel-shuffle adapter MLP Linear(intermediate, proj_in) + Linear(proj_out, proj_out), no biases."""
    h, i = _int(v, "hidden_size", default=768), _int(v, "intermediate_size", default=5632)
    n_layers, p = _int(v, "num_hidden_layers", default=34), _int(v, "patch_size", default=14)
    img = _int(v, "image_size", default=448)
    p_in, p_out = _int(v, "projector_input_dim", default=4096), _int(v, "projector_output_dim", default=4096)
    n = (img // p) ** 2 + 1
    total = 3 * p * p * h + h + n * h + 2 * _ln(h) + n_layers * _vit_layer(h, i)
    return total + i * p_in + p_out * p_out


def donut_swin_params(e: dict[str, Any]) -> int:
    """DonutSwinModel (modeling_donut_swin.py): patch Conv2d(3, C, 4, 4) + LayerNorm; per stage `depth` Swin
    blocks (LayerNorm, biased q/k/v/out, relative-position table (2w−1)²·heads, LayerNorm, fc1/fc2 of width
    mlp_ratio·dim); patch merging between stages (LayerNorm(4·dim) + Linear(4·dim, 2·dim, bias=False)).
    No final norm in the Donut variant."""
    c = _int(e, "embed_dim", default=96)
    p, w = _int(e, "patch_size", default=4), _int(e, "window_size", default=7)
    depths, heads = list(e.get("depths") or [2, 2, 6, 2]), list(e.get("num_heads") or [3, 6, 12, 24])
    ratio = float(e.get("mlp_ratio", 4.0))
    total = 3 * p * p * c + c + _ln(c)
    for s, (depth, n_heads) in enumerate(zip(depths, heads, strict=True)):
        dim = c * 2**s
        i = int(ratio * dim)
        block = (
            _ln(dim)
            + 4 * (dim * dim + dim)
            + (2 * w - 1) ** 2 * n_heads
            + _ln(dim)
            + _linear(dim, i)
            + _linear(i, dim)
        )
        total += depth * block
        if s < len(depths) - 1:
            total += _ln(4 * dim) + 4 * dim * 2 * dim
    return total


def davit_params(v: dict[str, Any]) -> int:
    """Florence-2 DaViT (modeling_florence2.py Florence2VisionBackbone): per stage a conv embedding
    (Conv2d(k, stride) with bias; LayerNorm before it when patch_prenorm, else after) and `depth` pairs of
    spatial-window and channel-attention blocks; each block = 2 depthwise ConvPosEnc (9·d + d),
    LayerNorm + biased qkv/proj, LayerNorm + fc1/fc2 (4·d) → 12d² + 33d."""
    dims, depths = list(v.get("dim_embed") or [256, 512, 1024, 2048]), list(v.get("depths") or [1, 1, 9, 1])
    kernels = list(v.get("patch_size") or [7, 3, 3, 3])
    prenorm = list(v.get("patch_prenorm") or [False, True, True, True])
    ratio = float(v.get("mlp_ratio", 4.0))
    total, c_in = 0, 3
    for dim, depth, k, pre in zip(dims, depths, kernels, prenorm, strict=True):
        total += c_in * k * k * dim + dim + (_ln(c_in) if pre else _ln(dim))
        i = int(ratio * dim)
        block = 2 * (9 * dim + dim) + _ln(dim) + _linear(dim, 3 * dim) + _linear(dim, dim) + _ln(dim)
        block += _linear(dim, i) + _linear(i, dim)
        total += depth * 2 * block
        c_in = dim
    return total


def whisper_encoder_params(a: dict[str, Any], positions_table: bool = True) -> int:
    """WhisperEncoder (modeling_whisper.py; Qwen2AudioEncoder is the same): conv1 Conv1d(mels, d, 3), conv2
    Conv1d(d, d, 3, stride 2), embed_positions max_source_positions·d (a stored, frozen table), layers with
    q/v/out biased and k unbiased, fc1/fc2, 2 LayerNorm; final layer_norm."""
    d, f = _int(a, "d_model"), _int(a, "encoder_ffn_dim")
    n_layers, mels = _int(a, "encoder_layers"), _int(a, "num_mel_bins", default=128)
    total = _linear(mels * 3, d) + _linear(d * 3, d)
    if positions_table:
        total += _int(a, "max_source_positions", default=1500) * d
    return total + n_layers * _vit_layer(d, f, k_bias=False) + _ln(d)


def eva_vit_g_params(
    width: int = 1408, depth: int = 39, mlp: int = 6144, patch: int = 14, img: int = 224
) -> int:
    """EVA-CLIP ViT-g/14 as BLIP-2 / Video-LLaMA build it (LAVIS eva_vit.py, depth 40 minus the last layer):
    patch Conv2d with bias, cls_token, pos_embed (N+1)·d; blocks: LayerNorm, qkv without bias + q_bias + v_bias,
    proj, LayerNorm, fc1/fc2 (mlp_ratio 4.3637 → 6144); plus BLIP-2's ln_vision LayerNorm."""
    n = (img // patch) ** 2
    emb = 3 * patch * patch * width + width + width + (n + 1) * width
    block = _vit_layer(width, mlp, k_bias=False)
    return emb + depth * block + _ln(width)


# ---------------------------------------------------------------------------------------------------------------
# Tower constructors (params + the shape the activation formula needs)


def _vit_tower(name: str, kind: TowerKind, arch: str, params: int, v: dict[str, Any], **extra: Any) -> Tower:
    """A Tower from a HF vision config's standard field names; ``extra`` sets or overrides any field."""
    fields: dict[str, Any] = {
        "layers": _int(v, "num_hidden_layers", "depth"),
        "hidden": _int(v, "hidden_size", "embed_dim"),
        "heads": _int(v, "num_attention_heads", "num_heads"),
        "intermediate": _int(v, "intermediate_size"),
        "patch_size": v.get("patch_size") if isinstance(v.get("patch_size"), int) else None,
        "image_size": v.get("image_size") if isinstance(v.get("image_size"), int) else None,
    }
    fields.update(extra)
    return Tower(name=name, kind=kind, arch=arch, params=params, **fields)


def _clip_tower(v: dict[str, Any], name: str = "vision") -> Tower:
    act = str(v.get("hidden_act", "quick_gelu"))  # CLIPVisionConfig default hidden_act
    return _vit_tower(name, "vision", "clip_vit", clip_vision_params(v), v, unfused_act=act == "quick_gelu")


def _siglip_tower(v: dict[str, Any], use_head: bool | None = None, arch: str = "siglip_vit") -> Tower:
    return _vit_tower("vision", "vision", arch, siglip_vision_params(v, use_head), v)


# ---------------------------------------------------------------------------------------------------------------
# Vision-config defaults for sparse vision_configs

# configuration_clip.py CLIPVisionConfig defaults are ViT-B/32; LLaVA configs always spell out ViT-L/14 fields.
CLIP_VISION_DEFAULTS: dict[str, Any] = {
    "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
    "image_size": 224, "patch_size": 32,
}  # fmt: skip
# configuration_siglip.py SiglipVisionConfig
SIGLIP_VISION_DEFAULTS: dict[str, Any] = {
    "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
    "image_size": 224, "patch_size": 16, "vision_use_head": True,
}  # fmt: skip
# configuration_pixtral.py PixtralVisionConfig
PIXTRAL_VISION_DEFAULTS: dict[str, Any] = {
    "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16,
    "image_size": 1024, "patch_size": 16,
}  # fmt: skip
# configuration_qwen2_vl.py Qwen2VLVisionConfig
QWEN2_VL_VISION_DEFAULTS: dict[str, Any] = {
    "depth": 32, "embed_dim": 1280, "hidden_size": 3584, "mlp_ratio": 4, "num_heads": 16, "patch_size": 14,
    "spatial_merge_size": 2, "temporal_patch_size": 2,
}  # fmt: skip
# configuration_qwen2_5_vl.py Qwen2_5_VLVisionConfig
QWEN2_5_VL_VISION_DEFAULTS: dict[str, Any] = {
    "depth": 32, "hidden_size": 3584, "intermediate_size": 3420, "num_heads": 16, "patch_size": 14,
    "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 112, "out_hidden_size": 3584,
    "fullatt_block_indexes": [7, 15, 23, 31],
}  # fmt: skip
# configuration_idefics2.py Idefics2VisionConfig / Idefics2PerceiverConfig
IDEFICS2_VISION_DEFAULTS: dict[str, Any] = {
    "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
    "image_size": 224, "patch_size": 32,
}  # fmt: skip
IDEFICS2_PERCEIVER_DEFAULTS: dict[str, Any] = {
    "resampler_n_latents": 64, "resampler_depth": 3, "resampler_n_heads": 16, "resampler_head_dim": 96,
    "num_key_value_heads": 4,
}  # fmt: skip
# configuration_idefics3.py Idefics3VisionConfig
IDEFICS3_VISION_DEFAULTS: dict[str, Any] = {
    "hidden_size": 1152, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 16,
    "image_size": 224, "patch_size": 32,
}  # fmt: skip
# Whisper-large-v3-shaped audio encoders: configuration_qwen2_audio.py Qwen2AudioEncoderConfig
QWEN2_AUDIO_ENCODER_DEFAULTS: dict[str, Any] = {
    "num_mel_bins": 128, "encoder_layers": 32, "encoder_attention_heads": 20, "encoder_ffn_dim": 5120,
    "d_model": 1280, "max_source_positions": 1500,
}  # fmt: skip


def _vision_cfg(v: dict[str, Any], defaults: dict[str, Any], source: str, notes: list[str]) -> dict[str, Any]:
    return _with_defaults(v, defaults, source, "vision config", notes)


# ---------------------------------------------------------------------------------------------------------------
# Per-family splitters


def _llava_projector(vision_hidden: int, text_hidden: int, cfg: dict[str, Any]) -> int:
    """LlavaMultiModalProjector (modeling_llava.py): Linear(v·n_layers, t) → GELU → Linear(t, t), biased
    unless multimodal_projector_bias is false; n_layers = len(vision_feature_layer) when it is a list."""
    layer = cfg.get("vision_feature_layer", -2)
    n = len(layer) if isinstance(layer, list) else 1
    bias = cfg.get("multimodal_projector_bias", True) is not False
    return _linear(vision_hidden * n, text_hidden, bias) + _linear(text_hidden, text_hidden, bias)


def _split_llava(cfg: dict[str, Any]) -> MultimodalSpec:
    """LLaVA-1.5 / LLaVA-NeXT / LLaVA-OneVision / Pixtral (LlavaForConditionalGeneration with a pixtral tower)."""
    notes: list[str] = []
    mt = str(cfg.get("model_type"))
    v_raw = _sub(cfg, "vision_config")
    v_type = str(v_raw.get("model_type") or "clip_vision_model")
    text = _sub(cfg, "text_config")
    # LlavaConfig: a text_config without model_type is a LlamaConfig (configuration_llava.py).
    lm = _text_lm(text, cfg, "llama", notes)
    if v_type == "pixtral":
        v = _vision_cfg(
            v_raw, PIXTRAL_VISION_DEFAULTS, "PixtralVisionConfig (configuration_pixtral.py)", notes
        )
        tower = _vit_tower(
            "vision", "vision", "pixtral_vit", pixtral_vision_params(v), v, gated_mlp=True, norm="rms"
        )
    elif v_type.startswith("siglip"):
        v = _vision_cfg(v_raw, SIGLIP_VISION_DEFAULTS, "SiglipVisionConfig (configuration_siglip.py)", notes)
        tower = _siglip_tower(v)
    else:
        v = _vision_cfg(v_raw, CLIP_VISION_DEFAULTS, "CLIPVisionConfig (configuration_clip.py)", notes)
        tower = _clip_tower(v)
    projector = _llava_projector(tower.hidden, lm.hidden_size, cfg)
    if mt in ("llava_next", "llava_onevision", "llava_next_video") and cfg.get(
        "use_image_newline_parameter", True
    ):
        projector += lm.hidden_size  # image_newline parameter (modeling_llava_next.py)
    return MultimodalSpec(model_type=mt, lm=lm, towers=[tower], projector_params=projector, assumptions=notes)


def _split_qwen_vl(cfg: dict[str, Any]) -> MultimodalSpec:
    """Qwen2-VL / Qwen2.5-VL: text fields at the top level (older configs) or under text_config."""
    notes: list[str] = []
    mt = str(cfg.get("model_type"))
    text = _sub(cfg, "text_config") or {k: v for k, v in cfg.items() if k not in ("vision_config",)}
    text["model_type"] = "qwen2"
    lm = _text_lm(text, cfg, "qwen2", notes)
    v_raw = _sub(cfg, "vision_config")
    if mt == "qwen2_vl":
        v = _vision_cfg(
            v_raw, QWEN2_VL_VISION_DEFAULTS, "Qwen2VLVisionConfig (configuration_qwen2_vl.py)", notes
        )
        merge = _int(v, "spatial_merge_size", default=2)
        params = qwen2_vit_params(v)
        h = _int(v, "embed_dim")
        tower = Tower(
            name="vision",
            kind="vision",
            arch="qwen2_vit",
            params=params,
            layers=_int(v, "depth"),
            hidden=h,
            heads=_int(v, "num_heads"),
            intermediate=int(h * float(v.get("mlp_ratio", 4))),
            patch_size=_int(v, "patch_size"),
            temporal_patch_size=_int(v, "temporal_patch_size"),
            merge=merge,
            unfused_act=str(v.get("hidden_act", "quick_gelu")) == "quick_gelu",  # Qwen2VLVisionConfig default
            rope_fp32_qk=True,
        )
        projector = qwen_merger_params(h, merge, _int(v, "hidden_size"), "layer")
    else:
        v = _vision_cfg(
            v_raw, QWEN2_5_VL_VISION_DEFAULTS, "Qwen2_5_VLVisionConfig (configuration_qwen2_5_vl.py)", notes
        )
        tower = _qwen2_5_vit_tower(v)
        projector = qwen_merger_params(tower.hidden, tower.merge, _int(v, "out_hidden_size"), "rms")
    return MultimodalSpec(model_type=mt, lm=lm, towers=[tower], projector_params=projector, assumptions=notes)


def _qwen2_5_vit_tower(v: dict[str, Any]) -> Tower:
    # Window attention: window_size px / patch / merge → merged-token window; in ViT patches that is
    # (window_size / patch)² (112 / 14 = 8 → 64 patches); fullatt_block_indexes attend over the whole image.
    p = _int(v, "patch_size", default=14)
    window = (_int(v, "window_size", default=112) // p) ** 2
    return Tower(
        name="vision",
        kind="vision",
        arch="qwen2_5_vit",
        rope_fp32_qk=True,
        params=qwen2_5_vit_params(v),
        layers=_int(v, "depth"),
        hidden=_int(v, "hidden_size"),
        heads=_int(v, "num_heads"),
        intermediate=_int(v, "intermediate_size"),
        gated_mlp=True,
        norm="rms",
        patch_size=p,
        temporal_patch_size=_int(v, "temporal_patch_size", default=2),
        merge=_int(v, "spatial_merge_size", default=2),
        attention="windowed",
        window=window,
        full_attention_layers=len(v.get("fullatt_block_indexes") or []),
    )


def _qwen_audio_tower(a: dict[str, Any], omni: bool) -> Tower:
    if omni:
        # Qwen2_5OmniAudioEncoder (modeling_qwen2_5_omni.py): sinusoidal positions are a buffer (no table),
        # ln_post LayerNorm, proj Linear(d, output_dim), audio_bos_eos_token Embedding(2, output_dim).
        d, out = _int(a, "d_model", default=1280), _int(a, "output_dim", default=3584)
        params = whisper_encoder_params(a, positions_table=False) + _linear(d, out) + 2 * out
        # chunks of 2·n_window mel frames → n_window positions after the stride-2 conv
        window = _int(a, "n_window", default=100)
        return Tower(
            name="audio",
            kind="audio",
            arch="qwen2_5_omni_audio",
            params=params,
            layers=_int(a, "encoder_layers"),
            hidden=d,
            heads=_int(a, "encoder_attention_heads"),
            intermediate=_int(a, "encoder_ffn_dim"),
            num_mel_bins=_int(a, "num_mel_bins", default=128),
            max_source_positions=_int(a, "max_source_positions", default=1500),
            attention="windowed",
            window=window,
        )
    return Tower(
        name="audio",
        kind="audio",
        arch="whisper_encoder",
        softmax_fp32=False,
        params=whisper_encoder_params(a),
        layers=_int(a, "encoder_layers"),
        hidden=_int(a, "d_model"),
        heads=_int(a, "encoder_attention_heads"),
        intermediate=_int(a, "encoder_ffn_dim"),
        num_mel_bins=_int(a, "num_mel_bins", default=128),
        max_source_positions=_int(a, "max_source_positions", default=1500),
    )


# configuration_qwen3_vl.py Qwen3VLVisionConfig
QWEN3_VL_VISION_DEFAULTS: dict[str, Any] = {
    "depth": 27, "hidden_size": 1152, "intermediate_size": 4304, "num_heads": 16, "patch_size": 16,
    "spatial_merge_size": 2, "temporal_patch_size": 2, "num_position_embeddings": 2304, "out_hidden_size": 3584,
    "deepstack_visual_indexes": [8, 16, 24],
}  # fmt: skip


def qwen3_vit_params(v: dict[str, Any]) -> int:
    """Qwen3VLVisionModel without mergers (modeling_qwen3_vl.py): patch_embed Conv3d(3, h, (t, p, p)) with bias,
    learned pos_embed num_position_embeddings·h, blocks with 2 LayerNorm, biased qkv/proj and fc1/fc2."""
    h, i, depth = _int(v, "hidden_size"), _int(v, "intermediate_size"), _int(v, "depth")
    p, t = _int(v, "patch_size"), _int(v, "temporal_patch_size")
    c = _int(v, "in_channels", default=3)
    return c * t * p * p * h + h + _int(v, "num_position_embeddings") * h + depth * _vit_layer(h, i)


def _split_qwen3_vl(cfg: dict[str, Any]) -> MultimodalSpec:
    """Qwen3-VL (dense): Qwen3 decoder + ViT + merger + DeepStack mergers (features of deepstack_visual_indexes
    layers added to the first decoder layers' hidden states)."""
    notes: list[str] = []
    text = _sub(cfg, "text_config")
    text["model_type"] = "qwen3"  # Qwen3VLTextConfig: Qwen3 decoder (q/k RMSNorm), no qkv bias
    lm = _text_lm(text, cfg, "qwen3", notes)
    v = _vision_cfg(
        _sub(cfg, "vision_config"),
        QWEN3_VL_VISION_DEFAULTS,
        "Qwen3VLVisionConfig (configuration_qwen3_vl.py)",
        notes,
    )
    h, m, out = _int(v, "hidden_size"), _int(v, "spatial_merge_size"), _int(v, "out_hidden_size")
    tower = Tower(
        name="vision",
        kind="vision",
        arch="qwen3_vit",
        rope_fp32_qk=True,  # modeling_qwen3_vl apply_rotary_pos_emb_vision (same fp32 q/k path as Qwen2-VL)
        params=qwen3_vit_params(v),
        layers=_int(v, "depth"),
        hidden=h,
        heads=_int(v, "num_heads"),
        intermediate=_int(v, "intermediate_size"),
        patch_size=_int(v, "patch_size"),
        temporal_patch_size=_int(v, "temporal_patch_size"),
        merge=m,
    )
    # Qwen3VLVisionPatchMerger: LayerNorm (over h; over m²·h "post-shuffle" for the DeepStack mergers) +
    # Linear(m²·h, m²·h) + Linear(m²·h, out), both biased.
    inner = h * m * m
    merger = _ln(h) + _linear(inner, inner) + _linear(inner, out)
    deepstack = len(v.get("deepstack_visual_indexes") or []) * (
        _ln(inner) + _linear(inner, inner) + _linear(inner, out)
    )
    return MultimodalSpec(
        model_type="qwen3_vl", lm=lm, towers=[tower], projector_params=merger + deepstack, assumptions=notes
    )


def _split_qwen2_audio(cfg: dict[str, Any]) -> MultimodalSpec:
    """Qwen2-Audio: Whisper-large-v3-style encoder + Linear(d_audio, h) projector (modeling_qwen2_audio.py)."""
    notes: list[str] = []
    lm = _text_lm(_sub(cfg, "text_config"), cfg, "qwen2", notes)
    a = _with_defaults(
        _sub(cfg, "audio_config"),
        QWEN2_AUDIO_ENCODER_DEFAULTS,
        "Qwen2AudioEncoderConfig (configuration_qwen2_audio.py)",
        "audio config",
        notes,
    )
    tower = _qwen_audio_tower(a, omni=False)
    projector = _linear(tower.hidden, lm.hidden_size)  # Qwen2AudioMultiModalProjector
    return MultimodalSpec(
        model_type="qwen2_audio", lm=lm, towers=[tower], projector_params=projector, assumptions=notes
    )


def _split_qwen2_5_omni(cfg: dict[str, Any]) -> MultimodalSpec:
    """Qwen2.5-Omni: the thinker (audio encoder + Qwen2.5-VL ViT + Qwen2 LM). Talker and token2wav are only
    loaded for speech output and are not counted."""
    notes = [
        "Qwen2.5-Omni: thinker only (text output); the talker and token2wav speech modules are not counted"
    ]
    thinker = _sub(cfg, "thinker_config") or cfg
    lm = _text_lm(_sub(thinker, "text_config"), thinker, "qwen2", notes)
    a = _with_defaults(
        _sub(thinker, "audio_config"),
        {**QWEN2_AUDIO_ENCODER_DEFAULTS, "n_window": 100, "output_dim": 3584},
        "Qwen2_5OmniAudioEncoderConfig (configuration_qwen2_5_omni.py)",
        "audio config",
        notes,
    )
    v = _vision_cfg(
        _sub(thinker, "vision_config"),
        QWEN2_5_VL_VISION_DEFAULTS,
        "Qwen2_5OmniVisionEncoderConfig (configuration_qwen2_5_omni.py)",
        notes,
    )
    vision = _qwen2_5_vit_tower(v)
    projector = qwen_merger_params(vision.hidden, vision.merge, _int(v, "out_hidden_size"), "rms")
    return MultimodalSpec(
        model_type="qwen2_5_omni",
        lm=lm,
        towers=[_qwen_audio_tower(a, omni=True), vision],
        projector_params=projector,
        assumptions=notes,
    )


def _split_idefics2(cfg: dict[str, Any]) -> MultimodalSpec:
    """Idefics2: SigLIP (NaViT) tower + connector = SwiGLU modality_projection + perceiver resampler."""
    notes: list[str] = []
    lm = _text_lm(_sub(cfg, "text_config"), cfg, "mistral", notes)
    v = _vision_cfg(
        _sub(cfg, "vision_config"),
        IDEFICS2_VISION_DEFAULTS,
        "Idefics2VisionConfig (configuration_idefics2.py)",
        notes,
    )
    tower = _siglip_tower(v, use_head=False, arch="idefics2_vit")
    pc = _with_defaults(
        _sub(cfg, "perceiver_config"),
        IDEFICS2_PERCEIVER_DEFAULTS,
        "Idefics2PerceiverConfig (configuration_idefics2.py)",
        "perceiver config",
        notes,
    )
    h = lm.hidden_size
    # Idefics2MLP(hidden=vision, intermediate=text intermediate, output=text hidden): gate, up, down, no bias.
    modality = 2 * tower.hidden * lm.intermediate_size + lm.intermediate_size * h
    n_heads, d_head, n_kv = (
        _int(pc, "resampler_n_heads"),
        _int(pc, "resampler_head_dim"),
        _int(pc, "num_key_value_heads"),
    )
    # Idefics2PerceiverLayer: 3 RMSNorm + q/k/v/o without bias + Idefics2MLP(h, 4h, h); final RMSNorm; latents.
    layer = 3 * h + h * n_heads * d_head + 2 * h * n_kv * d_head + n_heads * d_head * h + 3 * h * 4 * h
    resampler = _int(pc, "resampler_n_latents") * h + _int(pc, "resampler_depth") * layer + h
    return MultimodalSpec(
        model_type="idefics2", lm=lm, towers=[tower], projector_params=modality + resampler, assumptions=notes
    )


def _split_idefics3(cfg: dict[str, Any]) -> MultimodalSpec:
    """Idefics3 / SmolVLM: SigLIP (NaViT) tower + pixel shuffle + Linear(v·s², h, bias=False)."""
    notes: list[str] = []
    lm = _text_lm(_sub(cfg, "text_config"), cfg, "llama", notes)
    v = _vision_cfg(
        _sub(cfg, "vision_config"),
        IDEFICS3_VISION_DEFAULTS,
        "Idefics3VisionConfig (configuration_idefics3.py)",
        notes,
    )
    scale = _int(cfg, "scale_factor", default=2)
    tower = _siglip_tower(v, use_head=False, arch="idefics3_vit").model_copy(update={"merge": scale})
    projector = tower.hidden * scale * scale * lm.hidden_size
    return MultimodalSpec(
        model_type=str(cfg.get("model_type")),
        lm=lm,
        towers=[tower],
        projector_params=projector,
        assumptions=notes,
    )


def _split_mllama(cfg: dict[str, Any]) -> MultimodalSpec:
    """Llama-3.2-Vision: Llama decoder with gated cross-attention layers reading the tiled ViT's states."""
    notes: list[str] = []
    text = _sub(cfg, "text_config")
    text["model_type"] = "llama"
    lm = _text_lm(text, cfg, "llama", notes)
    cross = set(text.get("cross_attention_layers") or [])
    layers = [layer.model_copy(update={"cross_attention": i in cross}) for i, layer in enumerate(lm.layers)]
    # MllamaTextModel: embed_tokens has vocab + 8 rows; each MllamaCrossAttentionDecoderLayer has the same q/k/v/o
    # shapes as a self-attention layer plus q_norm/k_norm (RMSNorm over head_dim) and two scalar tanh gates.
    extra = {
        "embed_tokens_extra_rows": 8 * lm.hidden_size,
        "cross_attention_norms_and_gates": len(cross) * (2 * lm.head_dim + 2),
    }
    lm = lm.model_copy(update={"layers": layers, "extra_params": {**lm.extra_params, **extra}})
    v = _sub(cfg, "vision_config")
    tiles = _int(v, "max_num_tiles", default=4)
    h = _int(v, "hidden_size", default=1280)
    tower = Tower(
        name="vision",
        kind="vision",
        arch="mllama_vit",
        params=mllama_vision_params(v),
        layers=_int(v, "num_hidden_layers", default=32) + _int(v, "num_global_layers", default=8),
        hidden=h,
        heads=_int(v, "attention_heads", "num_attention_heads", default=16),
        intermediate=_int(v, "intermediate_size", default=5120),
        patch_size=_int(v, "patch_size", default=14),
        image_size=_int(v, "image_size", default=560),
        notes=[
            f"up to {tiles} tiles per image; all {tiles} tile slots run through the ViT (padding tiles masked)"
        ],
    )
    projector = _linear(_int(v, "vision_output_dim", default=7680), lm.hidden_size)  # multi_modal_projector
    notes.append(
        f"Llama-3.2-Vision: {len(cross)} of {lm.num_layers} decoder layers are cross-attention layers; they cache "
        "K/V of the vision states (not of text tokens)"
    )
    return MultimodalSpec(
        model_type="mllama",
        lm=lm,
        towers=[tower],
        projector_params=projector,
        cross_attention="interleaved",
        assumptions=notes,
    )


def _split_gemma3(cfg: dict[str, Any]) -> MultimodalSpec:
    """Gemma 3 (4B/12B/27B): SigLIP-so400m @896 without head + Gemma3MultiModalProjector."""
    notes: list[str] = []
    text = _sub(cfg, "text_config")
    text["model_type"] = "gemma3_text"
    lm = _text_lm(text, cfg, "gemma3_text", notes)
    v = _vision_cfg(
        _sub(cfg, "vision_config"),
        SIGLIP_VISION_DEFAULTS,
        "SiglipVisionConfig (configuration_siglip.py)",
        notes,
    )
    tower = _siglip_tower(v)
    # Gemma3MultiModalProjector: mm_input_projection_weight (v × h, no bias) + mm_soft_emb_norm RMSNorm(v);
    # the 4×4 average pool has no parameters.
    projector = tower.hidden * lm.hidden_size + tower.hidden
    per_side = _int(v, "image_size") // _int(v, "patch_size")
    tokens_side = math.isqrt(_int(cfg, "mm_tokens_per_image", default=256))
    tower = tower.model_copy(update={"merge": max(1, per_side // tokens_side)})
    return MultimodalSpec(
        model_type="gemma3", lm=lm, towers=[tower], projector_params=projector, assumptions=notes
    )


def _split_paligemma(cfg: dict[str, Any]) -> MultimodalSpec:
    """PaliGemma: SigLIP-so400m without head + Linear(v, projection_dim) (modeling_paligemma.py)."""
    notes: list[str] = []
    lm = _text_lm(_sub(cfg, "text_config"), cfg, "gemma", notes)
    v_raw = _sub(cfg, "vision_config")
    if v_raw.get("image_size") is None:
        n_tok = _int(
            v_raw, "num_image_tokens", default=_int(_sub(cfg, "text_config"), "num_image_tokens", default=256)
        )
        v_raw["image_size"] = math.isqrt(n_tok) * _int(v_raw, "patch_size", default=14)
        notes.append(
            f"PaliGemma: image_size {v_raw['image_size']} px from num_image_tokens {n_tok} × patch 14²"
        )
    v = _vision_cfg(v_raw, SIGLIP_VISION_DEFAULTS, "SiglipVisionConfig (configuration_siglip.py)", notes)
    tower = _siglip_tower(v)
    projector = _linear(
        tower.hidden, _int(v, "projection_dim", default=_int(cfg, "projection_dim", default=lm.hidden_size))
    )
    return MultimodalSpec(
        model_type="paligemma", lm=lm, towers=[tower], projector_params=projector, assumptions=notes
    )


def _split_internvl_chat(cfg: dict[str, Any]) -> MultimodalSpec:
    """InternVL 1.5–2.5 remote code (InternVLChatModel): InternViT + mlp1 (LayerNorm + 2 Linear) + LLM."""
    notes: list[str] = []
    llm = _sub(cfg, "llm_config")
    lm = _text_lm(llm, cfg, "internlm2", notes, what="llm_config")
    v = _sub(cfg, "vision_config")
    tower = _vit_tower(
        "vision",
        "vision",
        "intern_vit",
        intern_vit_params(v),
        v,
        norm="rms" if str(v.get("norm_type", "rms_norm")).startswith("rms") else "layer",
        softmax_fp32=False,  # InternAttention._naive_attn: attn.softmax(dim=-1)
    )
    r = float(cfg.get("downsample_ratio", 0.5))
    inner = tower.hidden * round(1 / r) ** 2
    # mlp1: LayerNorm(v·(1/r)²) → Linear(v·(1/r)², h) → GELU → Linear(h, h) (modeling_internvl_chat.py)
    projector = _ln(inner) + _linear(inner, lm.hidden_size) + _linear(lm.hidden_size, lm.hidden_size)
    tower = tower.model_copy(update={"merge": round(1 / r)})
    return MultimodalSpec(
        model_type="internvl_chat", lm=lm, towers=[tower], projector_params=projector, assumptions=notes
    )


def _split_internvl_hf(cfg: dict[str, Any]) -> MultimodalSpec:
    """transformers-native InternVL (model_type 'internvl', OpenGVLab/*-hf): same tensors, HF field names."""
    notes: list[str] = []
    lm = _text_lm(_sub(cfg, "text_config"), cfg, "qwen2", notes)
    v = dict(_sub(cfg, "vision_config"))
    v.setdefault("qkv_bias", v.get("attention_bias", False))
    v.setdefault("norm_type", v.get("norm_type", "layer_norm"))
    if isinstance(v.get("image_size"), list):
        v["image_size"] = v["image_size"][0]
    if isinstance(v.get("patch_size"), list):
        v["patch_size"] = v["patch_size"][0]
    tower = _vit_tower("vision", "vision", "intern_vit", intern_vit_params(v), v, softmax_fp32=False)
    r = float(cfg.get("downsample_ratio", 0.5))
    inner = tower.hidden * round(1 / r) ** 2
    projector = _ln(inner) + _linear(inner, lm.hidden_size) + _linear(lm.hidden_size, lm.hidden_size)
    return MultimodalSpec(
        model_type="internvl",
        lm=lm,
        towers=[tower.model_copy(update={"merge": 2})],
        projector_params=projector,
        assumptions=notes,
    )


def _split_minicpmv(cfg: dict[str, Any]) -> MultimodalSpec:
    """MiniCPM-V 2.5/2.6 remote code: SigLIP-400M (NaViT, no head) + 2D perceiver Resampler + LLM (Qwen2 for
    2.6 — the text fields sit at the top level)."""
    notes: list[str] = []
    text = {k: v for k, v in cfg.items() if k not in ("vision_config", "slice_config")}
    version = float(cfg.get("version", 2.6))
    text["model_type"] = "qwen2" if version >= 2.6 else "llama"
    lm = _text_lm(text, {}, text["model_type"], notes)
    v = _vision_cfg(
        _sub(cfg, "vision_config"),
        {**IDEFICS2_VISION_DEFAULTS, "image_size": 980, "patch_size": 14},
        "MiniCPM-V SiglipVisionConfig (remote configuration_minicpm.py)",
        notes,
    )
    if cfg.get("drop_vision_last_layer"):
        v["num_hidden_layers"] = _int(v, "num_hidden_layers") - 1
    tower = _siglip_tower(v, use_head=False, arch="minicpmv_siglip")
    h, q = lm.hidden_size, _int(cfg, "query_num", default=64)
    # resampler.py Resampler(num_queries=q, embed_dim=h, num_heads=h // 128, kv_dim=v): query q·h,
    # kv_proj Linear(v, h, bias=False), nn.MultiheadAttention (4h² + 4h), ln_q/ln_kv/ln_post, proj h×h;
    # the 2D sin-cos pos_embed is a buffer.
    resampler = q * h + tower.hidden * h + 4 * h * h + 4 * h + 3 * _ln(h) + h * h
    return MultimodalSpec(
        model_type="minicpmv", lm=lm, towers=[tower], projector_params=resampler, assumptions=notes
    )


def _split_phi3_v(cfg: dict[str, Any]) -> MultimodalSpec:
    """Phi-3/3.5-vision remote code: Phi-3-mini LM + CLIP ViT-L/14-336 (whole CLIPVisionModel) + HD projector."""
    notes: list[str] = []
    text = {k: v for k, v in cfg.items() if k not in ("embd_layer", "img_processor")}
    text["model_type"] = "phi3"
    lm = _text_lm(text, {}, "phi3", notes)
    # img_processor: CLIPVisionModel(clip-vit-large-patch14-336) — ViT-L/14 dims (config of that repo).
    v = {
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "image_size": 336,
        "patch_size": 14,
    }
    notes.append("Phi-3-vision: image encoder = openai/clip-vit-large-patch14-336 (ViT-L/14, 336 px)")
    tower = _clip_tower(v)
    d = _int(_sub(cfg, "img_processor"), "image_dim_out", default=1024)
    # Phi3ImageEmbedding: img_projection Linear(4d, h) → GELU → Linear(h, h); glb_GN (4d) + sub_GN (4d).
    projector = _linear(4 * d, lm.hidden_size) + _linear(lm.hidden_size, lm.hidden_size) + 2 * 4 * d
    return MultimodalSpec(
        model_type="phi3_v",
        lm=lm,
        towers=[tower.model_copy(update={"merge": 2})],
        projector_params=projector,
        assumptions=notes,
    )


def _phi4_lora_params(lm: ArchSpec, rank: int) -> int:
    """LoRA on qkv_proj, o_proj, gate_up_proj, down_proj of every layer: r·(in + out) per adapted Linear."""
    h, i, q, kv = lm.hidden_size, lm.intermediate_size, lm.q_dim, lm.kv_dim
    per_layer = rank * ((h + q + 2 * kv) + (q + h) + (h + 2 * i) + (i + h))
    return lm.num_layers * per_layer


def _split_phi4mm(cfg: dict[str, Any]) -> MultimodalSpec:
    """Phi-4-multimodal (remote modeling_phi4mm.py = transformers Phi4Multimodal): Phi-4-mini LM + SigLIP-400M
    @448 with pooling head + conformer speech encoder + 2 MLP projector pairs + vision/speech LoRA adapters."""
    notes: list[str] = []
    text = {
        k: v
        for k, v in cfg.items()
        if k not in ("embd_layer", "audio_processor", "vision_lora", "speech_lora")
    }
    text["model_type"] = "phi3"
    lm = _text_lm(text, {}, "phi3", notes)
    h = lm.hidden_size
    # Vision: Phi4MultimodalVisionModel = SigLIP-so400m (27 layers, 1152, MLP 4304) at crop_size 448 with head
    # (configuration_phi4_multimodal.py Phi4MultimodalVisionConfig defaults).
    img_layer = _sub(_sub(cfg, "embd_layer"), "image_embd_layer")
    v = {
        "hidden_size": 1152,
        "intermediate_size": 4304,
        "num_hidden_layers": 27,
        "num_attention_heads": 16,
        "image_size": _int(img_layer, "crop_size", default=448),
        "patch_size": 14,
        "vision_use_head": True,
    }
    vision = _siglip_tower(v, use_head=True, arch="siglip_vit").model_copy(update={"merge": 2})
    # Phi4MultimodalImageEmbedding: global/sub feature separators (v each) + Linear(v, h) → GELU → Linear(h, h).
    vision_proj = 2 * vision.hidden + _linear(vision.hidden, h) + _linear(h, h)
    # Audio: Phi4MultimodalAudioModel (conformer "cascades").
    ac = _sub(_sub(cfg, "audio_processor"), "config")
    d = _int(ac, "attention_dim", default=1024)
    lu, heads = _int(ac, "linear_units", default=1536), _int(ac, "attention_heads", default=16)
    blocks, kernel = _int(ac, "num_blocks", default=24), _int(ac, "kernel_size", default=3)
    mels = _int(ac, "input_size", default=80)
    c = _int(_sub(ac, "nemo_conv_settings"), "conv_channels", default=d)
    ext = _int(ac, "ext_pw_out_channel", default=d)
    dws = _int(ac, "depthwise_seperable_out_channel", default=d)
    t5 = _sub(ac, "relative_attention_bias_args")
    max_dist = _int(t5, "t5_bias_max_distance", default=1000)
    symmetric = bool(t5.get("t5_bias_symmetric", False))
    # NemoConvSubsampling (time_reduction 8 = 3 stride-2 stages): Conv2d(1, c, 3) + 2 × (depthwise Conv2d(c, c, 3)
    # + pointwise Conv2d(c, c, 1)), all biased; out Linear(c · ceil(mels / 8), d).
    embed = _linear(9, c) + 2 * (_linear(9, c) + _linear(c, c)) + _linear(c * math.ceil(mels / 8), d)
    ffn = _ln(d) + _linear(d, 2 * lu) + _linear(lu, d)  # feed_forward_in/out: LayerNorm, GLU gate_up, down
    conv = _ln(d) + 2 * d + _linear(d, 2 * ext) + _linear(kernel, d) + _linear(d, dws) + _linear(d, d)
    block = 2 * ffn + (4 * d * d + 4 * d) + conv + 2 * _ln(d)
    rel_bias = max_dist * (1 if symmetric else 2) * heads  # T5RelativeAttentionLogitBias bias_values
    audio_params = embed + rel_bias + blocks * block
    audio = Tower(
        name="audio",
        kind="audio",
        arch="conformer",
        params=audio_params,
        layers=blocks,
        hidden=d,
        heads=heads,
        intermediate=lu,
        gated_mlp=True,
        num_mel_bins=mels,
        # second FFN (LN in, GLU in/out 2·lu + lu, product lu) + conv module (~6·d) kept for backward per position
        extra_saved_per_layer=2 * d + 4 * lu + 6 * d,
        notes=[
            "conformer block = 2 half-step FFNs + self-attention (T5 relative bias) + depthwise conv module"
        ],
    )
    # AudioEmbedding projections for 'speech' and 'vision' modes: Linear(d, h) → GELU → Linear(h, h) each.
    audio_proj = 2 * (_linear(d, h) + _linear(h, h))
    vision_r = _int(_sub(cfg, "vision_lora"), "r", default=256)
    speech_r = _int(_sub(cfg, "speech_lora"), "r", default=320)
    if "vision_lora" not in cfg or "speech_lora" not in cfg:
        notes.append(
            "Phi-4-multimodal: LoRA ranks vision r=256, speech r=320 (microsoft/Phi-4-multimodal-instruct "
            "config) assumed — the adapters are stored with the checkpoint and loaded"
        )
    other = {"vision_lora": _phi4_lora_params(lm, vision_r), "speech_lora": _phi4_lora_params(lm, speech_r)}
    return MultimodalSpec(
        model_type="phi4mm",
        lm=lm,
        towers=[vision, audio],
        projector_params=vision_proj + audio_proj,
        other_params=other,
        assumptions=notes,
    )


def _split_whisper(cfg: dict[str, Any]) -> MultimodalSpec:
    """Whisper: audio encoder + text decoder with cross-attention in every layer (modeling_whisper.py)."""
    notes: list[str] = []
    d, n_dec = _int(cfg, "d_model"), _int(cfg, "decoder_layers")
    heads = _int(cfg, "decoder_attention_heads")
    a = dict(cfg)
    encoder = _qwen_audio_tower(a, omni=False).model_copy(update={"arch": "whisper_encoder"})
    # WhisperDecoderLayer: self_attn (q, v, out biased; k not), LayerNorm, encoder_attn (same), LayerNorm,
    # fc1/fc2 biased, final LayerNorm; decoder: embed_tokens, learned embed_positions, final layer_norm;
    # proj_out tied to embed_tokens.
    lm = ArchSpec(
        model_type="whisper",
        hidden_size=d,
        vocab_size=_int(cfg, "vocab_size"),
        num_heads=heads,
        num_kv_heads=heads,
        head_dim=d // heads,
        intermediate_size=_int(cfg, "decoder_ffn_dim"),
        layers=[LayerSpec(cross_attention=True)] * n_dec,
        gated_mlp=False,
        norm="layer",
        norms_per_layer=2,
        qkv_bias=False,
        o_bias=True,
        mlp_bias=True,
        tie_word_embeddings=True,
        learned_positions=_int(cfg, "max_target_positions", default=448),
        max_position_embeddings=_int(cfg, "max_target_positions", default=448),
        extra_params={
            "self_attn_q_v_bias": n_dec * 2 * d,
            "cross_attention": n_dec * (4 * d * d + 3 * d + _ln(d)),
        },
    )
    notes.append("Whisper: the decoder cross-attends to 1500 encoder states per 30 s window in every layer")
    return MultimodalSpec(
        model_type="whisper", lm=lm, towers=[encoder], cross_attention="every_layer", assumptions=notes
    )


def _bart_like_decoder(
    t: dict[str, Any], *, model_type: str, final_norm: bool, tie: bool, extra: dict[str, int]
) -> ArchSpec:
    """MBart/BART decoder (modeling_mbart.py / modeling_bart.py): biased q/k/v/o self- and cross-attention,
    3 LayerNorm per layer, learned positions with offset 2, layernorm_embedding."""
    d, n = _int(t, "d_model"), _int(t, "decoder_layers")
    heads = _int(t, "decoder_attention_heads")
    return ArchSpec(
        model_type=model_type,
        hidden_size=d,
        vocab_size=_int(t, "vocab_size"),
        num_heads=heads,
        num_kv_heads=heads,
        head_dim=d // heads,
        intermediate_size=_int(t, "decoder_ffn_dim"),
        layers=[LayerSpec(cross_attention=True)] * n,
        gated_mlp=False,
        norm="layer",
        norms_per_layer=2,
        qkv_bias=True,
        o_bias=True,
        mlp_bias=True,
        tie_word_embeddings=tie,
        learned_positions=_int(t, "max_position_embeddings") + 2,
        final_norm=final_norm,
        max_position_embeddings=_int(t, "max_position_embeddings"),
        extra_params={
            "layernorm_embedding": _ln(d),
            "cross_attention": n * (4 * d * d + 4 * d + _ln(d)),
            **extra,
        },
    )


def _split_vision_encoder_decoder(cfg: dict[str, Any]) -> MultimodalSpec:
    """VisionEncoderDecoderModel (Nougat, Donut): donut-swin encoder + MBart decoder with cross-attention."""
    notes: list[str] = []
    e, t = _sub(cfg, "encoder"), _sub(cfg, "decoder")
    e_type, t_type = str(e.get("model_type")), str(t.get("model_type"))
    if e_type not in ("donut-swin", "swin") or t_type not in ("mbart", "bart"):
        raise ConfigError(
            f"vision-encoder-decoder with {e_type!r} + {t_type!r} is not supported (donut-swin + mbart is)"
        )
    tie = t.get("tie_word_embeddings")
    if tie is None:
        tie = True
        notes.append(
            "decoder tie_word_embeddings not set: lm_head tied to embed_tokens (PretrainedConfig "
            "default); an untied lm_head would add vocab × d_model"
        )
    d = _int(t, "d_model")
    if _int(e, "hidden_size", default=d) != d:
        notes.append("encoder and decoder widths differ: enc_to_dec_proj Linear not counted")
    lm = _bart_like_decoder(
        t,
        model_type=t_type,
        final_norm=bool(t.get("add_final_layer_norm", t_type == "mbart")),
        tie=bool(tie),
        extra={},
    )
    c = _int(e, "embed_dim", default=96)
    depths, heads = list(e.get("depths") or [2, 2, 6, 2]), list(e.get("num_heads") or [3, 6, 12, 24])
    w = _int(e, "window_size", default=7)
    ratio = float(e.get("mlp_ratio", 4.0))
    stages = [
        TowerStage(
            layers=dep,
            hidden=c * 2**s,
            heads=hd,
            intermediate=int(ratio * c * 2**s),
            position_divisor=4**s,
            window=w * w,
        )
        for s, (dep, hd) in enumerate(zip(depths, heads, strict=True))
    ]
    img = e.get("image_size") or [2560, 1920]
    img_hw = (img[0], img[1]) if isinstance(img, list) else (int(img), int(img))
    tower = Tower(
        name="vision",
        kind="vision",
        arch="donut_swin",
        softmax_fp32=False,
        params=donut_swin_params(e),
        layers=sum(depths),
        hidden=c * 2 ** (len(depths) - 1),
        heads=heads[-1],
        intermediate=int(ratio * c * 2 ** (len(depths) - 1)),
        patch_size=_int(e, "patch_size", default=4),
        image_size=max(img_hw),
        attention="windowed",
        window=w * w,
        stages=stages,
        notes=[f"input {img_hw[0]}×{img_hw[1]} px (H×W)"],
    )
    return MultimodalSpec(
        model_type="vision-encoder-decoder",
        lm=lm,
        towers=[tower],
        cross_attention="every_layer",
        assumptions=notes,
    )


def _split_florence2(cfg: dict[str, Any]) -> MultimodalSpec:
    """Florence-2 (transformers Florence2ForConditionalGeneration): DaViT + projector + BART-style
    encoder-decoder language model (shared, tied embeddings)."""
    notes: list[str] = []
    t = _sub(cfg, "text_config")
    v = _sub(cfg, "vision_config")
    d, n_enc, f_enc = _int(t, "d_model"), _int(t, "encoder_layers"), _int(t, "encoder_ffn_dim")
    # BartEncoder: learned positions (max_pos + 2) · d, layernorm_embedding, layers (biased q/k/v/o, fc1/fc2,
    # 2 LayerNorm); it reads the 577 image tokens + the task prompt.
    text_encoder = (_int(t, "max_position_embeddings") + 2) * d + _ln(d) + n_enc * _vit_layer(d, f_enc)
    lm = _bart_like_decoder(
        t, model_type="florence2_language", final_norm=False, tie=True, extra={"text_encoder": text_encoder}
    )
    dims = list(v.get("dim_embed") or [256, 512, 1024, 2048])
    depths, heads = list(v.get("depths") or [1, 1, 9, 1]), list(v.get("num_heads") or [8, 16, 32, 64])
    strides = list(v.get("patch_stride") or [4, 2, 2, 2])
    w = _int(v, "window_size", default=12)
    divisor, stages = 1, []
    for s, (dim, dep, hd) in enumerate(zip(dims, depths, heads, strict=True)):
        divisor = 1 if s == 0 else divisor * strides[s] ** 2
        stages.append(
            TowerStage(
                layers=2 * dep,
                hidden=dim,
                heads=hd,
                intermediate=4 * dim,
                position_divisor=divisor,
                window=w * w,
            )
        )
    tower = Tower(
        name="vision",
        kind="vision",
        arch="davit",
        softmax_fp32=False,
        params=davit_params(v),
        layers=2 * sum(depths),
        hidden=dims[-1],
        heads=heads[-1],
        intermediate=4 * dims[-1],
        patch_size=strides[0] * math.prod(strides[1:]),
        image_size=768,
        attention="windowed",
        window=w * w,
        stages=stages,
        notes=["DaViT: each depth unit = spatial-window block + channel-attention block"],
    )
    proj_dim = _int(v, "projection_dim", default=_int(cfg, "projection_dim", default=d))
    pos = _sub(v, "image_pos_embed")
    n_pos = _int(pos, "max_pos_embeddings", default=50)
    # image_projection (dims[-1] × proj, no bias) + image_proj_norm LayerNorm + LearnedAbsolutePositionEmbedding2D
    # (row Embedding(n, D/2) + column Embedding(n, D − D/2), D = dims[-1]); the cosine temporal embedding is fixed.
    projector = dims[-1] * proj_dim + _ln(proj_dim) + n_pos * dims[-1]
    notes.append(
        "Florence-2: language model = BART-style encoder (counted in lm.extra_params['text_encoder']) + "
        "decoder with cross-attention; image tokens enter the text encoder"
    )
    return MultimodalSpec(
        model_type="florence2",
        lm=lm,
        towers=[tower],
        projector_params=projector,
        cross_attention="every_layer",
        assumptions=notes,
    )


def _text_encoder_lm(t: dict[str, Any], model_type: str, positions: int, head: int) -> ArchSpec:
    """CLIP/SigLIP text transformer as an ArchSpec: token + learned position embeddings, biased q/k/v/o,
    plain MLP, 2 LayerNorm per layer, final LayerNorm, no LM head (a contrastive text encoder)."""
    h, heads = _int(t, "hidden_size"), _int(t, "num_attention_heads")
    return ArchSpec(
        model_type=model_type,
        hidden_size=h,
        vocab_size=_int(t, "vocab_size"),
        num_heads=heads,
        num_kv_heads=heads,
        head_dim=h // heads,
        intermediate_size=_int(t, "intermediate_size"),
        layers=[LayerSpec()] * _int(t, "num_hidden_layers"),
        gated_mlp=False,
        norm="layer",
        qkv_bias=True,
        o_bias=True,
        mlp_bias=True,
        tie_word_embeddings=True,
        learned_positions=positions,
        max_position_embeddings=positions,
        extra_params={"text_head": head} if head else {},
        assumptions=["contrastive text encoder (not generative): no KV cache, no LM head"],
    )


def _split_clip(cfg: dict[str, Any]) -> MultimodalSpec:
    """CLIPModel (modeling_clip.py): vision + text towers, visual/text projections (no bias), logit_scale."""
    notes: list[str] = []
    t = _with_defaults(
        _sub(cfg, "text_config"),
        {
            "vocab_size": 49408,
            "hidden_size": 512,
            "intermediate_size": 2048,
            "num_hidden_layers": 12,
            "num_attention_heads": 8,
            "max_position_embeddings": 77,
        },
        "CLIPTextConfig (configuration_clip.py)",
        "text config",
        notes,
    )
    v = _vision_cfg(
        _sub(cfg, "vision_config"), CLIP_VISION_DEFAULTS, "CLIPVisionConfig (configuration_clip.py)", notes
    )
    proj = _int(cfg, "projection_dim", default=512)
    lm = _text_encoder_lm(t, "clip_text", _int(t, "max_position_embeddings"), 0)
    tower = _clip_tower(v)
    other = {
        "visual_projection": tower.hidden * proj,
        "text_projection": lm.hidden_size * proj,
        "logit_scale": 1,
    }
    return MultimodalSpec(model_type="clip", lm=lm, towers=[tower], other_params=other, assumptions=notes)


def _split_siglip(cfg: dict[str, Any]) -> MultimodalSpec:
    """SiglipModel (modeling_siglip.py): vision tower (with pooling head), text tower (+ head Linear(h, proj)),
    logit_scale and logit_bias."""
    notes: list[str] = []
    t = _with_defaults(
        _sub(cfg, "text_config"),
        {
            "vocab_size": 32000,
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "max_position_embeddings": 64,
        },
        "SiglipTextConfig (configuration_siglip.py)",
        "text config",
        notes,
    )
    v = _vision_cfg(
        _sub(cfg, "vision_config"),
        SIGLIP_VISION_DEFAULTS,
        "SiglipVisionConfig (configuration_siglip.py)",
        notes,
    )
    h = _int(t, "hidden_size")
    lm = _text_encoder_lm(
        t,
        "siglip_text",
        _int(t, "max_position_embeddings"),
        _linear(h, _int(t, "projection_size", default=h)),
    )
    return MultimodalSpec(
        model_type="siglip",
        lm=lm,
        towers=[_siglip_tower(v)],
        other_params={"logit_scale_bias": 2},
        assumptions=notes,
    )


# configuration_llama4.py Llama4VisionConfig defaults (used for fields missing from a present vision_config).
LLAMA4_VISION_DEFAULTS: dict[str, Any] = {
    "hidden_size": 768, "image_size": 448, "intermediate_size": 5632, "num_hidden_layers": 34,
    "num_attention_heads": 16, "patch_size": 14, "pixel_shuffle_ratio": 0.5, "projector_input_dim": 4096,
    "projector_output_dim": 4096, "vision_output_dim": 7680, "multi_modal_projector_bias": False,
}  # fmt: skip
# The vision_config of the released checkpoints (meta-llama/Llama-4-Scout-17B-16E and -Maverick-17B-128E share
# it), used when a config.json copy has no vision_config at all: the checkpoints always carry this tower.
LLAMA4_RELEASED_VISION: dict[str, Any] = {
    "hidden_size": 1408, "image_size": 336, "intermediate_size": 5632, "num_hidden_layers": 34,
    "num_attention_heads": 16, "patch_size": 14, "pixel_shuffle_ratio": 0.5, "projector_input_dim": 4096,
    "projector_output_dim": 4096, "vision_output_dim": 4096, "multi_modal_projector_bias": False,
}  # fmt: skip


def _split_llama4(cfg: dict[str, Any]) -> MultimodalSpec:
    """Llama 4 (Scout/Maverick): MoE text model (arch.parse_config) + Llama4VisionModel + Linear projector."""
    notes: list[str] = []
    text = _sub(cfg, "text_config")
    text["model_type"] = "llama4_text"
    lm = _text_lm(text, cfg, "llama4_text", notes)
    if isinstance(cfg.get("vision_config"), dict):
        v = _with_defaults(
            _sub(cfg, "vision_config"),
            LLAMA4_VISION_DEFAULTS,
            "Llama4VisionConfig (configuration_llama4.py)",
            "vision config",
            notes,
        )
    else:
        v = dict(LLAMA4_RELEASED_VISION)
        notes.append(
            "Llama 4: config has no vision_config — the released checkpoints' vision tower (1408 wide, 34 layers, "
            "336 px) is counted; it is loaded with the weights (Llama4ForConditionalGeneration, vLLM)"
        )
    merge = round(1 / float(v["pixel_shuffle_ratio"]))
    tower = _vit_tower(
        "vision", "vision", "llama4_vit", llama4_vision_params(v), v, merge=merge, softmax_fp32=False
    )
    # Llama4MultiModalProjector: linear_1 Linear(vision_output_dim, text hidden), bias per config
    projector = _linear(_int(v, "vision_output_dim"), lm.hidden_size, bool(v["multi_modal_projector_bias"]))
    return MultimodalSpec(
        model_type="llama4", lm=lm, towers=[tower], projector_params=projector, assumptions=notes
    )


def _split_video_llama(cfg: dict[str, Any]) -> MultimodalSpec:
    """Video-LLaMA (DAMO-NLP-SG remote code, no HF config.json): Vicuna/LLaMA-2-7B + frozen EVA-CLIP ViT-g +
    BLIP-2 Q-Formers (image, video, audio) + ImageBind-Huge audio encoder. Only the ViT and the LM are exact."""
    notes = [
        "Video-LLaMA: LM = LLaMA-7B shape (LlamaConfig defaults), EVA-CLIP ViT-g/14 exact; Q-Formers and the "
        "ImageBind-Huge audio encoder are approximate (not in transformers, not verified)",
    ]
    lm = _text_lm({"model_type": "llama"}, {}, "llama", [])
    img = _int(_sub(cfg, "vis_processor"), "image_size", default=_int(cfg, "img_size", default=224))
    vision = Tower(
        name="vision",
        kind="vision",
        arch="eva_vit_g",
        softmax_fp32=False,
        params=eva_vit_g_params(img=img),
        layers=39,
        hidden=1408,
        heads=16,
        intermediate=6144,
        patch_size=14,
        image_size=img,
    )
    towers = [vision]
    if cfg.get("equip_audio_branch", True):
        # ImageBind-Huge audio ViT (imagebind_model.py: 12 blocks, width 768, 12 heads, MLP 4×) ≈ 86M — approximate.
        towers.append(
            Tower(
                name="audio",
                kind="audio",
                arch="imagebind_audio",
                softmax_fp32=False,
                params=85_000_000,
                layers=12,
                hidden=768,
                heads=12,
                intermediate=3072,
                notes=["parameter count approximate (ImageBind-Huge audio branch)"],
            )
        )
    # BLIP-2 Q-Former (BERT-base with cross-attention every 2nd layer, 32 queries) ≈ 105M, video Q-Former
    # (2 layers) ≈ 15M, audio Q-Former ≈ 15M, linear projections to the LM — approximate.
    other = {"qformers_and_projections_approx": 105_000_000 + 2 * 15_000_000 + 2 * 768 * lm.hidden_size}
    return MultimodalSpec(
        model_type="video_llama", lm=lm, towers=towers, other_params=other, assumptions=notes
    )


_SPLITTERS: dict[str, Callable[[dict[str, Any]], MultimodalSpec]] = {
    "llava": _split_llava,
    "llava_next": _split_llava,
    "llava_onevision": _split_llava,
    "qwen2_vl": _split_qwen_vl,
    "qwen2_5_vl": _split_qwen_vl,
    "qwen3_vl": _split_qwen3_vl,
    "qwen2_audio": _split_qwen2_audio,
    "qwen2_5_omni": _split_qwen2_5_omni,
    "qwen2_5_omni_thinker": _split_qwen2_5_omni,
    "idefics2": _split_idefics2,
    "idefics3": _split_idefics3,
    "smolvlm": _split_idefics3,
    "mllama": _split_mllama,
    "gemma3": _split_gemma3,
    "paligemma": _split_paligemma,
    "internvl_chat": _split_internvl_chat,
    "internvl": _split_internvl_hf,
    "minicpmv": _split_minicpmv,
    "phi3_v": _split_phi3_v,
    "phi4mm": _split_phi4mm,
    "whisper": _split_whisper,
    "vision-encoder-decoder": _split_vision_encoder_decoder,
    "florence2": _split_florence2,
    "clip": _split_clip,
    "siglip": _split_siglip,
    "llama4": _split_llama4,
    "video_llama": _split_video_llama,
}


def _family(config: dict[str, Any]) -> str:
    mt = str(config.get("model_type") or "").lower()
    if config.get("arch") == "video_llama" or mt == "video_llama":
        return "video_llama"
    if mt == "gemma3" and not isinstance(config.get("vision_config"), dict):
        return ""  # Gemma 3 1B and text-only checkpoints
    return mt if mt in _SPLITTERS else ""


def is_multimodal(config: dict[str, Any]) -> bool:
    """True when :func:`split_multimodal` finds encoders in this config."""
    return bool(_family(config))


def split_multimodal(config: dict[str, Any]) -> MultimodalSpec:
    """Split a multimodal ``config.json`` into decoder, towers, projector and other tensors (exact counts).

    A text-only config gives ``towers == []`` and ``lm = parse_config(config)``, so callers need one path.
    """
    if not isinstance(config, dict):
        raise ConfigError("config.json must be a JSON object")
    family = _family(config)
    if not family:
        lm = parse_config(config)
        return MultimodalSpec(model_type=lm.model_type, lm=lm, assumptions=[])
    return _SPLITTERS[family](config)


# ---------------------------------------------------------------------------------------------------------------
# Media → tokens


class MediaItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["image", "video", "audio"]
    count: int = Field(description="Images, videos (one clip of video_frames frames) or audio windows.")
    llm_tokens_each: int
    encoder_positions_each: dict[str, int] = Field(default_factory=dict)
    detail: str = ""


class MediaTokens(BaseModel):
    """What the media of one sequence becomes: LLM tokens and encoder work."""

    model_config = ConfigDict(frozen=True)

    llm_tokens: int = Field(description="Tokens added to the LLM/decoder input sequence (markers included).")
    encoder_positions: dict[str, int] = Field(
        default_factory=dict,
        description="Tower name → positions the encoder runs over (all items of a sequence).",
    )
    attention_span: dict[str, int] = Field(
        default_factory=dict,
        description="Tower name → longest single attention sequence (for eager s² terms).",
    )
    cross_attention_positions: int = Field(
        default=0,
        description="Encoder states the decoder cross-attends to (mllama, Whisper, Nougat, Florence-2).",
    )
    per_item: list[MediaItem] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


MediaKind = Literal["image", "video", "audio"]


class _Ctx:
    """One media_tokens call: the inputs, the model's towers, and the items found so far."""

    def __init__(
        self,
        config: dict[str, Any],
        spec: MultimodalSpec,
        images: int,
        width: int,
        height: int,
        frames: int,
        seconds: float,
    ) -> None:
        self.config, self.spec = config, spec
        self.images, self.w, self.h, self.frames, self.seconds = images, width, height, frames, seconds
        self.vision, self.audio = spec.tower("vision"), spec.tower("audio")
        self.items: list[MediaItem] = []
        self.notes: list[str] = []
        self.span: dict[str, int] = {}
        self.cross = 0

    def add(
        self,
        kind: MediaKind,
        count: int,
        tokens: int,
        positions: dict[str, int],
        detail: str,
        span: dict[str, int] | None = None,
        cross: int = 0,
    ) -> None:
        """``count`` items of ``tokens`` LLM tokens each; ``positions`` and ``cross`` are per item too."""
        if count <= 0:
            return
        self.items.append(
            MediaItem(
                kind=kind,
                count=count,
                llm_tokens_each=tokens,
                encoder_positions_each=positions,
                detail=detail,
            )
        )
        self.notes.append(f"{count} × {kind}: {detail}")
        for name, s in (span if span is not None else positions).items():
            self.span[name] = max(self.span.get(name, 0), s)
        self.cross += count * cross

    def ignore(self, kind: str, amount: float) -> None:
        if amount:
            self.notes.append(f"{kind} ignored: {self.spec.model_type} takes no {kind} input")

    def frames_as_images(self, rule: Callable[[int], None], model: str) -> None:
        """Models without a video path see a video as that many separate images (how their processors take it)."""
        if self.frames:
            self.notes.append(
                f"{model} has no video path: the {self.frames} video frames are counted as images"
            )
            rule(self.frames)

    def result(self) -> MediaTokens:
        positions: dict[str, int] = {}
        for it in self.items:
            for name, p in it.encoder_positions_each.items():
                positions[name] = positions.get(name, 0) + it.count * p
        return MediaTokens(
            llm_tokens=sum(it.count * it.llm_tokens_each for it in self.items),
            encoder_positions=positions,
            attention_span=self.span,
            cross_attention_positions=self.cross,
            per_item=self.items,
            notes=self.notes,
        )


_QWEN_ASPECT_ERROR = msg("error.media.aspect_ratio", limit=200)


def smart_resize(
    height: int, width: int, factor: int = 28, min_pixels: int = 56 * 56, max_pixels: int = 14 * 14 * 4 * 1280
) -> tuple[int, int]:
    """Qwen2-VL ``smart_resize`` (image_processing_qwen2_vl.py): both sides multiples of ``factor`` (patch 14 ×
    merge 2), area clamped to [min_pixels, max_pixels], aspect ratio kept as closely as possible.
    Returns (height, width)."""
    if max(height, width) / min(height, width) > 200:
        raise ConfigError(_QWEN_ASPECT_ERROR)
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


# Qwen2/2.5-VL model repos' preprocessor_config.json: min_pixels 3136 (4 tokens), max_pixels 12845056 (16384).
QWEN_IMAGE_MIN_PIXELS, QWEN_IMAGE_MAX_PIXELS = 3136, 12_845_056
# Video frames: Qwen2VLVideoProcessor / Qwen2.5-Omni processor size 128·28² .. 768·28² pixels per frame, and the
# qwen-vl-utils total budget (cap_pixels_per_frame, max_video_tokens 128000 → 90 % of it in pixels).
QWEN_VIDEO_MIN_PIXELS, QWEN_VIDEO_MAX_PIXELS, QWEN_MAX_VIDEO_TOKENS = 128 * 28 * 28, 768 * 28 * 28, 128_000
# Qwen3-VL repos' preprocessor_config.json: size shortest_edge 65536, longest_edge 16777216 (64..16384 tokens);
# Qwen3VLVideoProcessor: size 128·32² .. 768·32² pixels for the whole clip, max_video_tokens 768 per frame.
QWEN3_IMAGE_MIN_PIXELS, QWEN3_IMAGE_MAX_PIXELS = 65_536, 16_777_216
QWEN3_VIDEO_MIN_PIXELS, QWEN3_VIDEO_MAX_PIXELS, QWEN3_MAX_VIDEO_TOKENS = 128 * 32 * 32, 768 * 32 * 32, 768
QWEN3_TIMESTAMP_TOKENS = 6  # "<12.5 seconds>" before each temporal patch: Qwen tokenises digits one by one


def _smart_resize_video(
    frames: int, height: int, width: int, t: int, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """Qwen3-VL video smart_resize (video_processing_qwen3_vl.py): like smart_resize, but the pixel bounds apply
    to all frames together (t_bar = frames rounded to the temporal patch)."""
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height, width = int(height * scale), int(width * scale)
    if max(height, width) / min(height, width) > 200:
        raise ConfigError(_QWEN_ASPECT_ERROR)
    h_bar, w_bar = round(height / factor) * factor, round(width / factor) * factor
    t_bar = round(frames / t) * t
    if t_bar * h_bar * w_bar > max_pixels:
        beta = math.sqrt((frames * height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif t_bar * h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (frames * height * width))
        h_bar, w_bar = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def _rule_qwen_vl(c: _Ctx) -> None:
    tower = c.vision
    assert tower is not None
    qwen3 = tower.arch == "qwen3_vit"
    p, m, t = tower.patch_size or 14, tower.merge, tower.temporal_patch_size
    factor = p * m
    if c.images:
        lo, hi = (
            (QWEN3_IMAGE_MIN_PIXELS, QWEN3_IMAGE_MAX_PIXELS)
            if qwen3
            else (QWEN_IMAGE_MIN_PIXELS, QWEN_IMAGE_MAX_PIXELS)
        )
        rh, rw = smart_resize(c.h, c.w, factor, lo, hi)
        patches = (rh // p) * (rw // p)
        tokens = patches // (m * m)
        # <|vision_start|> + tokens × <|image_pad|> + <|vision_end|>
        c.add(
            "image",
            c.images,
            tokens + 2,
            {"vision": patches},
            f"resized to {rw}×{rh} (smart_resize to multiples of {factor}) → {rw // factor}×{rh // factor} = "
            f"{tokens} tokens (+2 markers); the ViT runs on {patches} patches of {p} px before the {m}×{m} merge",
        )
    if c.frames:
        frames = max(c.frames, t)
        if qwen3:
            # cap_pixels_per_frame (the qwen-vl-utils reference behaviour): an even share of the clip budget,
            # at most max_video_tokens patches per frame, at least 1.05 × the minimum.
            per_frame = max(
                min(QWEN3_MAX_VIDEO_TOKENS * factor * factor, QWEN3_VIDEO_MAX_PIXELS // frames),
                int(QWEN3_VIDEO_MIN_PIXELS * 1.05),
            )
            rh, rw = _smart_resize_video(
                frames, c.h, c.w, t, factor, QWEN3_VIDEO_MIN_PIXELS, per_frame * frames
            )
            markers = (
                2 + QWEN3_TIMESTAMP_TOKENS
            )  # per temporal patch: timestamp + <|vision_start|>/<|vision_end|>
        else:
            budget = int(QWEN_MAX_VIDEO_TOKENS * factor * factor * 0.9)
            max_px = max(min(QWEN_VIDEO_MAX_PIXELS, budget * t // frames), int(QWEN_VIDEO_MIN_PIXELS * 1.05))
            rh, rw = smart_resize(c.h, c.w, factor, QWEN_VIDEO_MIN_PIXELS, max_px)
            markers = 0
        grid_t = math.ceil(frames / t)  # frames padded to a multiple of temporal_patch_size
        per_t = (rh // p) * (rw // p)
        tokens = grid_t * per_t // (m * m)
        c.add(
            "video",
            1,
            tokens + 2 + grid_t * markers,
            {"vision": grid_t * per_t},
            f"{c.frames} frames resized to {rw}×{rh} → {grid_t} temporal patches × {per_t // (m * m)} = {tokens} "
            f"tokens (+{2 + grid_t * markers} markers)",
            span={"vision": per_t},
        )


def _audio_clips(seconds: float, window: float = 30.0) -> list[float]:
    """Audio longer than one window is fed as consecutive 30 s clips (Whisper-style feature extractors pad and
    truncate each clip to 30 s: WhisperFeatureExtractor chunk_length 30, truncation=True)."""
    if seconds <= 0:
        return []
    full = int(seconds // window)
    rest = seconds - full * window
    return [window] * full + ([rest] if rest > 1e-9 else [])


def _rule_qwen_audio(c: _Ctx) -> None:
    tower = c.audio
    assert tower is not None
    omni = tower.arch == "qwen2_5_omni_audio"
    clips = _audio_clips(c.seconds)
    for length in sorted(set(clips), reverse=True):
        frames = math.ceil(length * 100)  # 16 kHz, hop 160 → 100 mel frames/s (feature_attention_mask length)
        after_conv = (frames - 1) // 2 + 1
        # Qwen2AudioEncoder._get_feat_extract_output_lengths: conv stride 2, then avg-pool stride 2
        tokens = (after_conv - 2) // 2 + 1
        if omni:
            # Qwen2_5OmniAudioEncoder packs the valid frames into n_window·2-frame chunks (no padding to 3000)
            # and attends within each chunk (chunk_and_pad_features / get_audio_cu_seqlens).
            chunk = 2 * (tower.window or 100)
            lengths = [chunk] * (frames // chunk) + ([frames % chunk] if frames % chunk else [])
            positions = sum((n - 1) // 2 + 1 for n in lengths)
            span = min(positions, tower.window or 100)
        else:
            positions = span = tower.max_source_positions or 1500  # padded to 3000 frames → 1500 positions
        c.add(
            "audio",
            clips.count(length),
            tokens,
            {"audio": positions},
            f"{length:g} s → {frames} mel frames → {tokens} tokens (~25 per second); the encoder runs "
            f"{positions} positions",
            span={"audio": span},
        )


def _rule_qwen(c: _Ctx) -> None:
    """Qwen2-VL, Qwen2.5-VL, Qwen2.5-Omni (thinker), Qwen2-Audio."""
    if c.vision is not None:
        _rule_qwen_vl(c)
    else:
        c.ignore("image", c.images)
        c.ignore("video", c.frames)
    if c.audio is not None:
        _rule_qwen_audio(c)
        if c.frames and c.vision is not None:
            c.notes.append("use_audio_in_video is not modelled: give the video's sound as audio seconds")
    else:
        c.ignore("audio", c.seconds)


def _vit_positions(tower: Tower, cls: bool) -> int:
    return ((tower.image_size or 224) // (tower.patch_size or 14)) ** 2 + (1 if cls else 0)


def _rule_llava(c: _Ctx) -> None:
    """LLaVA-1.5 (CLIP @336: 576 tokens, CLS dropped by the 'default' feature strategy) and Pixtral."""
    v = c.vision
    assert v is not None
    if v.arch == "pixtral_vit":

        def pixtral(n: int) -> None:
            # PixtralImageProcessor: longest edge ≤ image_size (floor), sides rounded up to 16-px patches;
            # PixtralProcessor: rows × ([IMG]·cols + [IMG_BREAK]), the last break replaced by [IMG_END].
            size, p = v.image_size or 1024, v.patch_size or 16
            ratio = max(c.h / size, c.w / size)
            rh, rw = (math.floor(c.h / ratio), math.floor(c.w / ratio)) if ratio > 1 else (c.h, c.w)
            rows, cols = (rh - 1) // p + 1, (rw - 1) // p + 1
            # PixtralTransformer runs all images of a batch as one sequence with a block-diagonal mask.
            c.add(
                "image",
                n,
                rows * (cols + 1),
                {"vision": rows * cols},
                f"{cols * p}×{rows * p} px → {rows}×{cols} patches of {p} px + {rows} row breaks = "
                f"{rows * (cols + 1)} tokens",
                span={"vision": n * rows * cols},
            )

        pixtral(c.images)
        c.frames_as_images(pixtral, "Pixtral")
    else:

        def llava(n: int) -> None:
            pos = _vit_positions(v, cls=True)
            c.add(
                "image",
                n,
                pos - 1,
                {"vision": pos},
                f"resized and cropped to {v.image_size}×{v.image_size} → {pos - 1} patch tokens (CLS dropped)",
            )

        llava(c.images)
        c.frames_as_images(llava, "LLaVA-1.5")
    c.ignore("audio", c.seconds)


def select_best_resolution(height: int, width: int, pinpoints: list[list[int]]) -> tuple[int, int]:
    """image_processing_utils.select_best_resolution: the (h, w) pinpoint keeping the most effective pixels,
    ties broken by the least waste."""
    best, best_eff, best_waste = (pinpoints[0][0], pinpoints[0][1]), 0, float("inf")
    for ph, pw in pinpoints:
        scale = min(pw / width, ph / height)
        eff = min(int(width * scale) * int(height * scale), width * height)
        waste = pw * ph - eff
        if eff > best_eff or (eff == best_eff and waste < best_waste):
            best, best_eff, best_waste = (ph, pw), eff, waste
    return best


def _unpadded_features(height: int, width: int, side: int, sh: int, sw: int) -> tuple[int, int]:
    """LlavaNextProcessor._get_unpadded_features: grid features left after removing the letterbox padding."""
    cur_h, cur_w = side * sh, side * sw
    if width / height > cur_w / cur_h:
        new_h = int(round(height * (cur_w / width), 7))
        cur_h -= ((cur_h - new_h) // 2) * 2
    else:
        new_w = int(round(width * (cur_h / height), 7))
        cur_w -= ((cur_w - new_w) // 2) * 2
    return cur_h * cur_w, cur_h


def _anyres(c: _Ctx, n: int, onevision: bool) -> None:
    """LLaVA-NeXT / LLaVA-OneVision anyres (processing_llava_next.py, processing_llava_onevision.py)."""
    v = c.vision
    assert v is not None
    size = v.image_size or 336
    side = size // (v.patch_size or 14)
    pins = c.config.get("image_grid_pinpoints") or [
        [336, 672],
        [672, 336],
        [672, 672],
        [1008, 336],
        [336, 1008],
    ]
    bh, bw = select_best_resolution(c.h, c.w, pins)
    sh, sw = bh // size, bw // size
    unpadded, newline = _unpadded_features(c.h, c.w, side, sh, sw)
    if onevision:
        # anyres_max_N: a grid worth more than N crops (ratio > 1.1) is bilinearly shrunk by that ratio.
        max_n = int(str(c.config.get("vision_aspect_ratio", "anyres_max_9")).removeprefix("anyres_max_") or 9)
        cur_h, cur_w = newline, unpadded // max(newline, 1)
        ratio = math.sqrt(cur_h * cur_w / (max_n * side * side))
        if ratio > 1.1:
            unpadded, newline = int(cur_h // ratio) * int(cur_w // ratio), int(cur_h // ratio)
        cls = 0  # SigLIP has no CLS; feature strategy 'full'
    else:
        cls = 1  # CLIP CLS, dropped by the 'default' feature strategy
    base = side * side
    tokens = unpadded + newline + base
    c.add(
        "image",
        n,
        tokens,
        {"vision": (1 + sh * sw) * (base + cls)},
        f"anyres: best fit {bw}×{bh} = {sw}×{sh} tiles of {size} px + base view → {base} base + {unpadded} grid + "
        f"{newline} newline = {tokens} tokens; the ViT runs {1 + sh * sw} × {base + cls} positions",
        span={"vision": base + cls},
    )


def _rule_llava_next(c: _Ctx) -> None:
    _anyres(c, c.images, onevision=False)
    c.frames_as_images(lambda n: _anyres(c, n, onevision=False), "LLaVA-NeXT")
    c.ignore("audio", c.seconds)


def _rule_llava_onevision(c: _Ctx) -> None:
    v = c.vision
    assert v is not None
    _anyres(c, c.images, onevision=True)
    if c.frames:
        side = (v.image_size or 384) // (v.patch_size or 14)
        pooled = math.ceil(side / 2) ** 2
        # LlavaOnevisionProcessor: num_video_tokens = frames · ceil(27/2)² + 1 newline per video.
        c.add(
            "video",
            1,
            c.frames * pooled + 1,
            {"vision": c.frames * side * side},
            f"{c.frames} frames at {v.image_size} px → {pooled} pooled tokens each + 1 newline",
            span={"vision": side * side},
        )
    c.ignore("audio", c.seconds)


def _idefics2_resize(w: int, h: int, shortest: int = 378, longest: int = 980) -> tuple[int, int]:
    """Idefics2 get_resize_output_image_size: cap the longest edge, floor both at ``shortest`` (width, height)."""
    aspect = w / h
    if w >= h and w > longest:
        w, h = longest, int(longest / aspect)
    elif h > w and h > longest:
        h, w = longest, int(longest * aspect)
    return max(w, shortest), max(h, shortest)


def _rule_idefics2(c: _Ctx) -> None:
    v = c.vision
    assert v is not None
    p = v.patch_size or 14

    def idefics2(n: int) -> None:
        # idefics2-8b preprocessor_config: do_image_splitting true → 4 crops + the original, each resized
        # (shortest ≥ 378, longest ≤ 980) and padded to the largest in the batch (the original); 64 perceiver
        # latents per view wrapped in <fake_token_around_image> (Idefics2Processor image_seq_len 64).
        lw, lh = _idefics2_resize(c.w, c.h)
        per_view = (lh // p) * (lw // p)
        c.add(
            "image",
            n,
            5 * 64 + 2 * 5,
            {"vision": 5 * per_view},
            f"split into 4 crops + the original → 5 × 64 perceiver tokens (+10 markers); SigLIP runs {per_view} "
            f"positions per view ({lw}×{lh} px, crops padded to it)",
            span={"vision": per_view},
        )

    idefics2(c.images)
    c.frames_as_images(idefics2, "Idefics2")
    c.ignore("audio", c.seconds)


def _rule_idefics3(c: _Ctx) -> None:
    v = c.vision
    assert v is not None
    tile, p = v.image_size or 364, v.patch_size or 14
    per_tile = (tile // p) ** 2
    seq = per_tile // (v.merge**2)  # image_seq_len = (364/14)² / scale_factor² = 169

    def idefics3(n: int) -> None:
        # Idefics3ImageProcessor: longest edge rescaled to 4·364 = 1456 (even short side), sides rounded up to
        # multiples of 364, split into tiles + a global 364 view (do_image_splitting true).
        longest = 4 * tile
        if c.w >= c.h:
            rw, rh = longest, int(longest / (c.w / c.h))
            rh += rh % 2
        else:
            rh, rw = longest, int(longest * (c.w / c.h))
            rw += rw % 2
        cols, rows = math.ceil(rw / tile), math.ceil(rh / tile)
        # Idefics3Processor: per tile <fake_token_around_image><row_i_col_j> + 169 × <image>, "\n" per row, then
        # "\n<fake_token_around_image><global-img>" + 169 × <image> + <fake_token_around_image>.
        tokens = rows * cols * (seq + 2) + rows + seq + 4
        c.add(
            "image",
            n,
            tokens,
            {"vision": (rows * cols + 1) * per_tile},
            f"longest edge → {longest} px, {cols}×{rows} tiles of {tile} px + global view → "
            f"{rows * cols + 1} × {seq} = {(rows * cols + 1) * seq} image tokens (+markers)",
            span={"vision": per_tile},
        )

    idefics3(c.images)
    c.frames_as_images(idefics3, "Idefics3")
    c.ignore("audio", c.seconds)


def _mllama_aspect_ratios(max_tiles: int) -> list[tuple[int, int]]:
    """get_all_supported_aspect_ratios (image_processing_mllama.py): all (w, h) with w·h ≤ max_tiles."""
    return [(w, h) for w in range(1, max_tiles + 1) for h in range(1, max_tiles + 1) if w * h <= max_tiles]


def _mllama_canvas(height: int, width: int, max_tiles: int, tile: int) -> tuple[int, int]:
    """get_optimal_tiled_canvas (image_processing_mllama.py): smallest upscale ≥ 1, else the largest downscale;
    ties → smallest area. Returns (height, width)."""
    candidates = [(a * tile, b * tile) for a, b in _mllama_aspect_ratios(max_tiles)]
    scales = [min(ch / height, cw / width) for ch, cw in candidates]
    up = [s for s in scales if s >= 1]
    chosen_scale = min(up) if up else max(scales)
    chosen = [cand for cand, s in zip(candidates, scales, strict=True) if s == chosen_scale]
    return min(chosen, key=lambda cand: cand[0] * cand[1])


def _rule_mllama(c: _Ctx) -> None:
    v = c.vision
    assert v is not None
    tiles = _int(_sub(c.config, "vision_config"), "max_num_tiles", default=4)
    size = v.image_size or 560
    per_tile = (size // (v.patch_size or 14)) ** 2 + 1  # 1600 patches + CLS
    padded = per_tile + (8 - per_tile % 8) % 8  # MllamaVisionModel pads each tile to a multiple of 8
    ch, cw = _mllama_canvas(c.h, c.w, tiles, size)

    def mllama(n: int) -> None:
        # pad_batches_and_tiles pads every image to max_num_tiles, so the ViT always runs all tile slots; the
        # text holds one <|image|> token and the cross-attention layers read tiles × 1601 states.
        c.add(
            "image",
            n,
            1,
            {"vision": tiles * padded},
            f"canvas {cw}×{ch} → {(ch // size) * (cw // size)} of {tiles} tiles used; 1 <|image|> token; the "
            f"decoder cross-attends to {tiles} × {per_tile} = {tiles * per_tile} vision states",
            cross=tiles * per_tile,
        )

    mllama(c.images)
    c.frames_as_images(mllama, "Llama-3.2-Vision")
    c.ignore("audio", c.seconds)


def _rule_gemma3(c: _Ctx) -> None:
    v = c.vision
    assert v is not None
    n_tok = _int(c.config, "mm_tokens_per_image", default=256)
    pos = _vit_positions(v, cls=False)

    def gemma3(n: int) -> None:
        # Gemma3Processor: "\n\n<start_of_image>" + 256 × <image_soft_token> + "<end_of_image>\n\n"
        c.add(
            "image",
            n,
            n_tok + 4,
            {"vision": pos},
            f"resized to {v.image_size}×{v.image_size} (pan & scan off) → {pos} patches → 4×4 average pool → "
            f"{n_tok} tokens (+4 markers)",
        )

    gemma3(c.images)
    c.frames_as_images(gemma3, "Gemma 3")
    c.ignore("audio", c.seconds)


def _rule_paligemma(c: _Ctx) -> None:
    v = c.vision
    assert v is not None
    pos = _vit_positions(v, cls=False)

    def paligemma(n: int) -> None:
        c.add("image", n, pos, {"vision": pos}, f"resized to {v.image_size}×{v.image_size} → {pos} tokens")

    paligemma(c.images)
    c.frames_as_images(paligemma, "PaliGemma")
    c.ignore("audio", c.seconds)


def _closest_grid(
    width: int, height: int, image_size: int, max_num: int, min_num: int = 1
) -> tuple[int, int]:
    """InternVL dynamic_preprocess / find_closest_aspect_ratio (model card code; Phi-4-mm's image processor uses
    the same): the (cols, rows) grid with the closest aspect ratio; on ties the larger grid wins when the image
    has more than half its pixels."""
    ratios = sorted(
        {
            (i, j)
            for n in range(min_num, max_num + 1)
            for i in range(1, n + 1)
            for j in range(1, n + 1)
            if min_num <= i * j <= max_num
        },
        key=lambda x: x[0] * x[1],
    )
    aspect = width / height
    best, best_diff, area = (1, 1), float("inf"), width * height
    for r in ratios:
        diff = abs(aspect - r[0] / r[1])
        if diff < best_diff:
            best_diff, best = diff, r
        elif diff == best_diff and area > 0.5 * image_size * image_size * r[0] * r[1]:
            best = r
    return best


INTERNVL_MAX_TILES = 12  # InternVL2.5 card: load_image(..., max_num=12)


def _rule_internvl(c: _Ctx) -> None:
    v = c.vision
    assert v is not None
    size = v.image_size or 448
    tile_pos = (size // (v.patch_size or 14)) ** 2 + 1  # 1024 patches + CLS
    tile_tok = (tile_pos - 1) // (v.merge**2)  # pixel shuffle 0.5 → 256
    cols, rows = _closest_grid(c.w, c.h, size, INTERNVL_MAX_TILES)
    n_tiles = cols * rows + (1 if cols * rows > 1 else 0)  # + a thumbnail when the image was split
    # <img> + 256·n × <IMG_CONTEXT> + </img>
    c.add(
        "image",
        c.images,
        n_tiles * tile_tok + 2,
        {"vision": n_tiles * tile_pos},
        f"dynamic tiling (max {INTERNVL_MAX_TILES}): {cols}×{rows} tiles of {size} px"
        f"{' + thumbnail' if cols * rows > 1 else ''} → {n_tiles} × {tile_tok} tokens (+2 markers)",
        span={"vision": tile_pos},
    )
    if c.frames:
        c.add(
            "video",
            1,
            c.frames * (tile_tok + 2),
            {"vision": c.frames * tile_pos},
            f"{c.frames} frames, one {size} px tile each → {tile_tok} tokens per frame",
            span={"vision": tile_pos},
        )
    c.ignore("audio", c.seconds)


def _minicpm_best_resize(w: float, h: float, scale: int, patch: int, allow_upscale: bool) -> tuple[int, int]:
    """MiniCPM-V image_processing_minicpmv.py find_best_resize: area ≈ scale², sides multiples of the patch."""
    if w * h > scale * scale or allow_upscale:
        r = w / h
        h = int(scale / math.sqrt(r))
        w = int(h * r)
    return max(round(w / patch) * patch, patch), max(round(h / patch) * patch, patch)


def _minicpm_grid(w: int, h: int, max_slices: int, scale: int) -> tuple[int, int] | None:
    """get_sliced_grid: (cols, rows) among the factorisations of ⌈area/scale²⌉ − 1 … + 1 (capped at
    max_slice_nums) with the closest log aspect ratio; None = no slicing."""
    log_ratio = math.log(w / h)
    multiple = min(math.ceil(w * h / (scale * scale)), max_slices)
    if multiple <= 1:
        return None
    best, best_err = (1, 1), float("inf")
    for n in (multiple - 1, multiple, multiple + 1):
        if n == 1 or n > max_slices:
            continue
        for m in range(1, n + 1):
            if n % m == 0:
                err = abs(log_ratio - math.log(m / (n // m)))
                if err < best_err:
                    best, best_err = (m, n // m), err
    return best


def _minicpm_image(w: int, h: int, scale: int, patch: int, max_slices: int) -> tuple[int, int, int, int]:
    """MiniCPM-V slice_image: (views, rows, SigLIP positions, cols) for one image."""
    grid = _minicpm_grid(w, h, max_slices, scale)
    if grid is None:
        sw, sh = _minicpm_best_resize(w, h, scale, patch, allow_upscale=True)
        return 1, 0, (sw // patch) * (sh // patch), 0
    cols, rows = grid
    sw, sh = _minicpm_best_resize(w, h, scale, patch, allow_upscale=False)  # overview
    # get_refine_size: the image resized so each of the cols × rows slices is ≈ scale² (multiples of patch)
    rw, rh = max(round(w / cols) * cols, cols), max(round(h / rows) * rows, rows)
    gw, gh = _minicpm_best_resize(rw / cols, rh / rows, scale, patch, allow_upscale=True)
    return (
        1 + cols * rows,
        rows,
        (sw // patch) * (sh // patch) + cols * rows * (gw // patch) * (gh // patch),
        cols,
    )


def _rule_minicpmv(c: _Ctx) -> None:
    sc = _sub(c.config, "slice_config")
    scale, patch = _int(c.config, "image_size", default=448), _int(sc, "patch_size", default=14)
    max_slices, q = _int(sc, "max_slice_nums", default=9), _int(c.config, "query_num", default=64)
    views, rows, pos, cols = _minicpm_image(c.w, c.h, scale, patch, max_slices)
    # <image_id>k</image_id><image> + 64 × <unk> + </image>, then per slice <slice> + 64 × <unk> + </slice>
    # with "\n" between slice rows (get_slice_image_placeholder, use_image_id true).
    tokens = 3 + views * (q + 2) + max(rows - 1, 0)
    grid = "no slicing" if views == 1 else f"{cols}×{rows} slices"
    c.add(
        "image",
        c.images,
        tokens,
        {"vision": pos},
        f"{grid} + overview → {views} × {q} resampler tokens (+markers); SigLIP runs {pos} positions",
        span={"vision": -(-pos // views)},
    )
    if c.frames:
        # Model card video recipe: max_slice_nums 2, use_image_id false.
        f_views, f_rows, f_pos, _ = _minicpm_image(c.w, c.h, scale, patch, 2)
        per_frame = f_views * (q + 2) + max(f_rows - 1, 0)
        c.add(
            "video",
            1,
            c.frames * per_frame,
            {"vision": c.frames * f_pos},
            f"{c.frames} frames, max_slice_nums 2 → {f_views} × {q} tokens per frame",
            span={"vision": -(-f_pos // f_views)},
        )
    c.ignore("audio", c.seconds)


def _phi3v_hd(width: int, height: int, hd_num: int) -> tuple[int, int]:
    """Phi-3-vision HD_transform (remote image_processing_phi3_v.py): the largest scale with
    scale·⌈scale/ratio⌉ ≤ hd_num, width = 336·scale, height padded up to a multiple of 336 (computed on the
    landscape orientation). Returns (width, height)."""
    trans = width < height
    if trans:
        width, height = height, width
    ratio = width / height
    scale = 1
    while scale * math.ceil(scale / ratio) <= hd_num:
        scale += 1
    scale -= 1
    new_w = int(scale * 336)
    new_h = math.ceil(int(new_w / ratio) / 336) * 336
    return (new_h, new_w) if trans else (new_w, new_h)


PHI3V_NUM_CROPS = 4  # Phi-3.5-vision-instruct preprocessor_config num_crops (card: 16 for single images)


def _rule_phi3_v(c: _Ctx) -> None:
    def phi3v(n: int) -> None:
        nw, nh = _phi3v_hd(c.w, c.h, PHI3V_NUM_CROPS)
        # Phi3VImageProcessor: ((h/336)·(w/336) + 1)·144 + 1 + (h/336 + 1)·12 (sub-crops + global, separator,
        # newlines); the CLIP tower runs num_crops + 1 padded crop slots of 577 positions.
        tokens = ((nh // 336) * (nw // 336) + 1) * 144 + 1 + (nh // 336 + 1) * 12
        c.add(
            "image",
            n,
            tokens,
            {"vision": (PHI3V_NUM_CROPS + 1) * 577},
            f"HD transform (num_crops {PHI3V_NUM_CROPS}) → {nw}×{nh} px = {(nw // 336) * (nh // 336)} crops + "
            f"global → {tokens} tokens; CLIP runs {PHI3V_NUM_CROPS + 1} × 577 positions",
            span={"vision": 577},
        )

    phi3v(c.images)
    c.frames_as_images(phi3v, "Phi-3.5-vision")
    c.ignore("audio", c.seconds)


def _phi4_image_tokens(
    width: int, height: int, crop: int = 448, patch: int = 14, max_num: int = 36
) -> tuple[int, int]:
    """Phi4MultimodalImageProcessor.dynamic_preprocess + num_img_tokens → (tokens, crops)."""
    w_crops, h_crops = math.ceil(width / crop), math.ceil(height / crop)
    cols, rows = (
        _closest_grid(width, height, crop, max_num) if w_crops * h_crops > max_num else (w_crops, h_crops)
    )
    tw, th = crop * cols, crop * rows
    if tw / width < th / height:
        pad_w, pad_h = 0, th - int(height * tw / width)
    else:
        pad_w, pad_h = tw - int(width * th / height), 0
    side = crop // patch  # 32 patches per crop side
    valid_cols = side * cols - (pad_w // patch if pad_w >= patch else 0)
    valid_rows = side * rows - (pad_h // patch if pad_h >= patch else 0)
    dc, dr = math.ceil(valid_cols / 2), math.ceil(valid_rows / 2)  # mask[0::2, 0::2] (2×2 pooling)
    # 256 global + 1 separator + valid pooled sub-crop tokens + 1 newline per pooled row + 16 global newlines
    return 256 + 1 + dc * dr + dr + 16, cols * rows


def _rule_phi4mm(c: _Ctx) -> None:
    def phi4(n: int) -> None:
        tokens, crops = _phi4_image_tokens(c.w, c.h)
        c.add(
            "image",
            n,
            tokens,
            {"vision": (1 + crops) * 1024},
            f"dynamic HD: {crops} crops of 448 px + global → {tokens} tokens; SigLIP runs {1 + crops} × 1024 "
            "positions",
            span={"vision": 1024},
        )

    phi4(c.images)
    c.frames_as_images(phi4, "Phi-4-multimodal")
    if c.seconds > 0:
        # Phi4MultimodalFeatureExtractor: 16 kHz, win 400, hop 160 → frames; _compute_audio_embed_size:
        # ⌈frames / 8⌉ (audio_compression_rate 8 → one token per 80 ms); the conformer runs on the same positions.
        samples = round(c.seconds * 16000)
        frames = max(0, (samples - 400) // 160 + 1)
        tokens = math.ceil(frames / 8)
        c.add(
            "audio",
            1,
            tokens,
            {"audio": tokens},
            f"{c.seconds:g} s → {frames} frames → {tokens} tokens (80 ms each)",
        )


def _rule_whisper(c: _Ctx) -> None:
    c.ignore("image", c.images)
    c.ignore("video", c.frames)
    windows = len(_audio_clips(c.seconds))
    # WhisperFeatureExtractor: 30 s windows → 3000 mel frames → conv stride 2 → 1500 positions (max_source_positions)
    c.add(
        "audio",
        windows,
        0,
        {"audio": 1500},
        "30 s window → 3000 mel frames → 1500 encoder positions (shorter audio is padded); the decoder "
        "cross-attends to them and writes ≤ 448 tokens per window",
        cross=1500,
    )


def _rule_vision_encoder_decoder(c: _Ctx) -> None:
    v = c.vision
    assert v is not None
    img = _sub(c.config, "encoder").get("image_size") or [2560, 1920]
    ih, iw = (img[0], img[1]) if isinstance(img, list) else (int(img), int(img))
    p = v.patch_size or 4
    pos = (ih // p) * (iw // p)
    last = pos // (v.stages[-1].position_divisor if v.stages else 1)
    c.add(
        "image",
        c.images,
        0,
        {"vision": pos},
        f"page resized and padded to {iw}×{ih} → Swin {iw // p}×{ih // p} positions → {last} encoder states for "
        "cross-attention",
        span={"vision": v.window or pos},
        cross=last,
    )
    c.ignore("video", c.frames)
    c.ignore("audio", c.seconds)


def _rule_florence2(c: _Ctx) -> None:
    v = c.vision
    assert v is not None
    pos, last = (768 // 4) ** 2, (768 // 32) ** 2
    # Florence2Processor: 768×768 input; image_feature_source [spatial_avg_pool, temporal_avg_pool] → 1 + 576
    # visual tokens prepended to the prompt in the BART encoder.
    c.add(
        "image",
        c.images,
        last + 1,
        {"vision": pos},
        f"resized to 768×768 → DaViT ({pos} positions at stride 4) → {last} + 1 pooled = {last + 1} tokens into "
        "the text encoder (the decoder cross-attends to these plus the prompt)",
        span={"vision": v.window or pos},
        cross=last + 1,
    )
    c.ignore("video", c.frames)
    c.ignore("audio", c.seconds)


def _rule_dual_encoder(c: _Ctx) -> None:
    v = c.vision
    assert v is not None
    pos = _vit_positions(v, cls=v.arch == "clip_vit")
    c.add(
        "image",
        c.images,
        0,
        {"vision": pos},
        f"{v.image_size} px → {pos} ViT positions (an image encoder: no LLM tokens)",
    )
    c.ignore("video", c.frames)
    c.ignore("audio", c.seconds)


def _llama4_grid(height: int, width: int, tile: int = 336, max_chunks: int = 16) -> tuple[int, int]:
    """Llama4ImageProcessor get_best_fit over find_supported_resolutions → (rows, cols) of tiles."""
    options = [
        (f * tile, (n // f) * tile) for n in range(max_chunks, 0, -1) for f in range(1, n + 1) if n % f == 0
    ]
    scales = [min(oh / height, ow / width) for oh, ow in options]
    up = [s for s in scales if s >= 1]
    chosen_scale = min(up) if up else max(scales)
    best = min(
        (o for o, s in zip(options, scales, strict=True) if s == chosen_scale), key=lambda o: o[0] * o[1]
    )
    return best[0] // tile, best[1] // tile


def _rule_llama4(c: _Ctx) -> None:
    v = c.vision
    assert v is not None
    size = v.image_size or 336
    per_tile = (size // (v.patch_size or 14)) ** 2
    tok = per_tile // (v.merge**2)  # pixel shuffle 0.5 → 144 tokens per tile

    def llama4(n: int) -> None:
        rows, cols = _llama4_grid(c.h, c.w, size)
        tiles = rows * cols + (1 if rows * cols > 1 else 0)  # + a global tile when split
        # Llama4Processor._prompt_split_image: <|image_start|>, per tile 144 <|patch|> with x/y separators
        # (rows·cols of them), <|image|> + the global tile, <|image_end|>.
        seps = rows * cols if rows * cols > 1 else 0
        tokens = tiles * tok + seps + 3
        c.add(
            "image",
            n,
            tokens,
            {"vision": tiles * (per_tile + 1)},
            f"{cols}×{rows} tiles of {size} px{' + global' if rows * cols > 1 else ''} → {tiles} × {tok} tokens "
            f"(+{seps + 3} markers)",
            span={"vision": per_tile + 1},
        )

    llama4(c.images)
    c.frames_as_images(llama4, "Llama 4")
    c.ignore("audio", c.seconds)


def _rule_video_llama(c: _Ctx) -> None:
    v = c.vision
    assert v is not None
    per_frame = _vit_positions(v, cls=True)
    # VideoLLAMA: image → BLIP-2 Q-Former 32 queries; video → per-frame Q-Former + video Q-Former
    # (num_video_query_token 32) → 32 tokens per clip; audio → ImageBind + audio Q-Former → 8 tokens.
    c.add("image", c.images, 32, {"vision": per_frame}, "image → 32 Q-Former query tokens")
    c.add(
        "video",
        1 if c.frames else 0,
        32,
        {"vision": c.frames * per_frame},
        f"{c.frames} frames at {v.image_size} px → video Q-Former → 32 tokens per clip",
        span={"vision": per_frame},
    )
    if c.seconds > 0 and c.audio is not None:
        c.add("audio", 1, 8, {"audio": 229}, "audio → ImageBind → audio Q-Former → 8 tokens (approximate)")


_RULES: dict[str, Callable[[_Ctx], None]] = {
    "qwen2_vl": _rule_qwen, "qwen2_5_vl": _rule_qwen, "qwen3_vl": _rule_qwen, "qwen2_5_omni": _rule_qwen, "qwen2_5_omni_thinker": _rule_qwen,
    "qwen2_audio": _rule_qwen, "llava": _rule_llava, "llava_next": _rule_llava_next,
    "llava_onevision": _rule_llava_onevision, "idefics2": _rule_idefics2, "idefics3": _rule_idefics3,
    "smolvlm": _rule_idefics3, "mllama": _rule_mllama, "gemma3": _rule_gemma3, "paligemma": _rule_paligemma,
    "internvl_chat": _rule_internvl, "internvl": _rule_internvl, "minicpmv": _rule_minicpmv,
    "phi3_v": _rule_phi3_v, "phi4mm": _rule_phi4mm, "whisper": _rule_whisper,
    "vision-encoder-decoder": _rule_vision_encoder_decoder, "florence2": _rule_florence2,
    "clip": _rule_dual_encoder, "siglip": _rule_dual_encoder, "llama4": _rule_llama4,
    "video_llama": _rule_video_llama,
}  # fmt: skip


def media_tokens(
    config: dict[str, Any],
    images: int = 1,
    width: int = 1024,
    height: int = 1024,
    video_frames: int = 0,
    audio_seconds: float = 0.0,
    spec: MultimodalSpec | None = None,
) -> MediaTokens:
    """LLM tokens and encoder positions for ``images`` images of ``width``×``height`` px, one video of
    ``video_frames`` frames of the same size, and ``audio_seconds`` of audio — per the model's preprocessing.

    Inputs the model cannot take are ignored with a note; a text-only config gives zero tokens. Pass ``spec`` to
    reuse a :func:`split_multimodal` result.
    """
    if width <= 0 or height <= 0:
        raise ConfigError("image width and height must be positive")
    if images < 0 or video_frames < 0 or audio_seconds < 0:
        raise ConfigError("images, video frames and audio seconds cannot be negative")
    spec = spec or split_multimodal(config)
    ctx = _Ctx(config, spec, images, width, height, video_frames, audio_seconds)
    rule = _RULES.get(_family(config))
    if rule is None:
        ctx.ignore("image", images)
        ctx.ignore("video", video_frames)
        ctx.ignore("audio", audio_seconds)
    else:
        rule(ctx)
    return ctx.result()


# ---------------------------------------------------------------------------------------------------------------
# Activation memory of a tower


def _stages(tower: Tower) -> list[TowerStage]:
    if tower.stages:
        return list(tower.stages)
    return [
        TowerStage(
            layers=tower.layers,
            hidden=tower.hidden,
            heads=tower.heads,
            intermediate=tower.intermediate,
            window=tower.window if tower.attention == "windowed" else None,
        )
    ]


def tower_activation_bytes(
    tower: Tower,
    positions: int,
    batch: int,
    dtype_bytes: int,
    attention: AttentionImpl,
    training: bool,
    checkpointing: Checkpointing = "none",
    span: int | None = None,
) -> int:
    """Activation bytes of one tower for ``batch`` sequences whose media give ``positions`` encoder positions each
    (``MediaTokens.encoder_positions[tower.name]``; stage-0 positions for hierarchical towers).

    ``span`` is the longest single attention sequence (``MediaTokens.attention_span[tower.name]``, default
    ``positions``); it sizes eager attention's score matrices. Windowed layers use their window instead.
    Per position (h = hidden, i = MLP width, a = heads, S = span or window, b = dtype bytes):

    * inference — the transient peak of one layer forward: the larger of the attention phase (residual h +
      norm output h + q, k, v 3h + attention output h = 6h elements) and the MLP phase (residual h + norm
      output h + gated: gate, up, act(gate) 3i / plain: fc1 out, act out 2i). Eager attention adds the a·S
      scores: most towers' eager_attention_forward takes an fp32 softmax and casts it back (4 + b bytes per
      score coexist; ``softmax_fp32`` False: scores and softmax in the dtype, 2b). FlashAttention and SDPA's
      fused kernels never materialise them.
    * training — formulas.md §C.3 for a pre-norm block without dropout: 2 norm inputs, attention input, q, k, v,
      attention output, MLP input = 8h elements, plus the MLP's i-wide tensors (gated 4: gate, up, act(gate),
      product; fused GELU 2: fc1 out, act out; quick_gelu 3: x·sigmoid(1.702x) keeps the sigmoid too) and any
      ``extra_saved_per_layer``. RMSNorm as transformers writes it keeps an fp32 copy of its input (+4h bytes
      per norm). Eager keeps the fp32 softmax and its cast copy ((4 + b)·a·S bytes, or b·a·S when the softmax
      runs in the dtype; §C.1's as²b terms without dropout); flash/SDPA keep a 4-byte log-sum-exp per head instead (§C.2). ``none`` keeps every layer;
      ``selective`` recomputes the attention core (no a·S term); ``full`` keeps each layer's input (h) and one
      layer's activations while it is recomputed (§C.4).

    Checked against the tensors autograd saves per layer (transformers 5.24, bf16, CPU): CLIP-L/14, SigLIP-so400m
    and Pixtral match to 0.02 % with SDPA and eager; the Whisper encoder keeps 6 % more, the Qwen2.5-VL ViT 3–12 %
    more (its non-flash path copies q/k/v per window). Eager scores are counted for all positions at once (a·s·S), as for towers that batch their images;
    towers that loop over images one at a time peak lower at inference.
    """
    if positions <= 0 or batch <= 0:
        return 0
    b = dtype_bytes
    # eager: an fp32 softmax plus its cast to the activation dtype (CLIP, SigLIP, Qwen, ...) or a softmax in the
    # dtype (Whisper, Swin, DaViT, InternViT, Llama 4: nn.functional.softmax(attn_weights, dim=-1))
    if tower.softmax_fp32:
        score_bytes = 4 + b if b < 4 else 4
    else:
        score_bytes = b if training else 2 * b
    if not training and tower.softmax_fp32:
        # At the softmax op of a forward: the scaled scores (b), their fp32 upcast and the fp32 softmax output
        # (measured on the Qwen2.5-VL ViT: mul bf16 + _to_copy fp32 + _softmax fp32 = 10 bytes per score).
        score_bytes = b + 4 + 4 if b < 4 else 8
    # Qwen-VL vision RoPE: fp32 copies of q and k, their products with cos/sin, the rotate_half concat and sum
    # coexist with the qkv output (measured peak op of the ViT's attention phase).
    rope_extra = 24 if tower.rope_fp32_qk else 0
    span = min(span or positions, positions)
    kept, peak, inputs = 0, 0, 0
    for st in _stages(tower):
        s = max(1, positions // st.position_divisor)
        s_span = min(max(1, span // st.position_divisor), s)
        h, i, a = st.hidden, st.intermediate, st.heads
        # Windowed towers: every layer attends within `window` positions except `full_attention_layers`.
        if not st.window:
            n_full = st.layers
        else:
            n_full = 0 if tower.stages else min(tower.full_attention_layers, st.layers)
        n_win = st.layers - n_full
        s_win = min(st.window or s_span, s_span)
        eager = attention == "eager"
        scores_full = a * s * s_span if eager and n_full else 0  # one layer's attention probabilities
        scores_win = a * s * s_win if eager and n_win else 0
        if not training:
            attn_phase = (6 * h * b + rope_extra * h) * s + max(scores_full, scores_win) * score_bytes
            mlp_phase = (2 * h + (3 * i if tower.gated_mlp else 2 * i)) * s * b
            peak = max(peak, attn_phase, mlp_phase)
            continue
        mlp_saved = 4 if tower.gated_mlp else (3 if tower.unfused_act else 2)
        per_layer = (8 * h + mlp_saved * i + tower.extra_saved_per_layer) * s * b
        if tower.norm == "rms":
            per_layer += 2 * 4 * h * s  # the fp32 input copy of each of the 2 RMSNorms
        lse = 0 if eager else 4 * a * s  # fp32 log-sum-exp per head and position (flash / SDPA backward)
        if checkpointing == "none":
            kept += st.layers * (per_layer + lse) + (n_full * scores_full + n_win * scores_win) * score_bytes
        elif checkpointing == "selective":
            kept += st.layers * (per_layer + lse)
        else:
            inputs += st.layers * h * s * b
            peak = max(peak, per_layer + lse + max(scores_full, scores_win) * score_bytes)
    if not training:
        return peak * batch
    if checkpointing == "full":
        return (inputs + peak) * batch
    return kept * batch


__all__ = [
    "MediaItem",
    "MediaTokens",
    "MultimodalSpec",
    "Tower",
    "TowerStage",
    "is_multimodal",
    "media_tokens",
    "select_best_resolution",
    "smart_resize",
    "split_multimodal",
    "tower_activation_bytes",
]
