"""Encoder builders several families share: the pre-norm ViT layer count, CLIP and SigLIP vision transformers,
the Whisper-style audio encoder, and the Tower constructors for flat ViTs, Whisper encoders and hierarchical
(Swin / DaViT) encoders.

Mirrors huggingface/transformers: models/clip/modeling_clip.py, configuration_clip.py; models/siglip/
modeling_siglip.py, configuration_siglip.py; models/whisper/modeling_whisper.py.
"""

from __future__ import annotations

from typing import Any

from ..messages import Message
from .base import Defaults, Tower, TowerKind, TowerStage, _int, _linear, _ln


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
# CLIP and SigLIP vision transformers (LLaVA, Phi-3-V, Gemma 3, PaliGemma, Idefics, MiniCPM-V, Phi-4-MM, ...)

# configuration_clip.py CLIPVisionConfig defaults are ViT-B/32; LLaVA configs always spell out ViT-L/14 fields.
CLIP_VISION_DEFAULTS = Defaults(
    "CLIPVisionConfig (configuration_clip.py)",
    {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
     "image_size": 224, "patch_size": 32},
)  # fmt: skip
# configuration_siglip.py SiglipVisionConfig
SIGLIP_VISION_DEFAULTS = Defaults(
    "SiglipVisionConfig (configuration_siglip.py)",
    {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
     "image_size": 224, "patch_size": 16, "vision_use_head": True},
)  # fmt: skip


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


def _clip_tower(v: dict[str, Any], name: str = "vision", **extra: Any) -> Tower:
    act = str(v.get("hidden_act", "quick_gelu"))  # CLIPVisionConfig default hidden_act
    return _vit_tower(
        name, "vision", "clip_vit", clip_vision_params(v), v, unfused_act=act == "quick_gelu", **extra
    )


def _siglip_tower(
    v: dict[str, Any], use_head: bool | None = None, arch: str = "siglip_vit", **extra: Any
) -> Tower:
    return _vit_tower("vision", "vision", arch, siglip_vision_params(v, use_head), v, **extra)


# ---------------------------------------------------------------------------------------------------------------
# Whisper-style audio encoder (Whisper, Qwen2-Audio, Qwen2.5-Omni)


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


def _whisper_tower(a: dict[str, Any], arch: str, params: int, **extra: Any) -> Tower:
    """A Tower from a Whisper-style encoder config (d_model, encoder_layers, encoder_attention_heads, ...)."""
    return Tower(
        name="audio",
        kind="audio",
        arch=arch,
        params=params,
        layers=_int(a, "encoder_layers"),
        hidden=_int(a, "d_model"),
        heads=_int(a, "encoder_attention_heads"),
        intermediate=_int(a, "encoder_ffn_dim"),
        num_mel_bins=_int(a, "num_mel_bins", default=128),
        max_source_positions=_int(a, "max_source_positions", default=1500),
        **extra,
    )


def whisper_encoder_tower(a: dict[str, Any]) -> Tower:
    """WhisperEncoder / Qwen2AudioEncoder: eager attention takes its softmax in the dtype."""
    return _whisper_tower(a, "whisper_encoder", whisper_encoder_params(a), softmax_fp32=False)


# ---------------------------------------------------------------------------------------------------------------
# Hierarchical encoders (Donut-Swin, DaViT)


def _hierarchical_tower(
    arch: str,
    params: int,
    stages: list[TowerStage],
    *,
    patch_size: int,
    image_size: int,
    window: int,
    note: Message,
) -> Tower:
    """A windowed multi-stage vision encoder; its summary shape is its last (widest) stage, layers all stages'.
    Both use nn.functional.softmax(attn, dim=-1) in the dtype (modeling_donut_swin.py, modeling_florence2.py)."""
    last = stages[-1]
    return Tower(
        name="vision",
        kind="vision",
        arch=arch,
        softmax_fp32=False,
        params=params,
        layers=sum(st.layers for st in stages),
        hidden=last.hidden,
        heads=last.heads,
        intermediate=last.intermediate,
        patch_size=patch_size,
        image_size=image_size,
        attention="windowed",
        window=window,
        stages=stages,
        notes=[note],
    )
