"""CLIP and SigLIP dual encoders (contrastive image + text towers, no LLM): parameter split and the image →
encoder-position rule. The text tower is carried as ``lm``.

Mirrors huggingface/transformers: models/clip/modeling_clip.py, configuration_clip.py,
image_processing_clip.py; models/siglip/modeling_siglip.py, configuration_siglip.py,
image_processing_siglip.py.
"""

from __future__ import annotations

from typing import Any

from ..arch import ArchSpec, LayerSpec
from ..messages import Message, msg, register
from .base import Defaults, MultimodalSpec, _Ctx, _int, _linear, _vit_positions
from .decoders import _layernorm_transformer
from .encoders import CLIP_VISION_DEFAULTS, SIGLIP_VISION_DEFAULTS, _clip_tower, _siglip_tower

register({
    "mm.contrastive_text": "contrastive text encoder (not generative): no KV cache, no LM head",
    "media.dual_encoder": "{size} px → {positions} ViT positions (an image encoder: no LLM tokens)",
})  # fmt: skip

# configuration_clip.py CLIPTextConfig
CLIP_TEXT_DEFAULTS = Defaults(
    "CLIPTextConfig (configuration_clip.py)",
    {"vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 12,
     "num_attention_heads": 8, "max_position_embeddings": 77},
)  # fmt: skip
# configuration_siglip.py SiglipTextConfig
SIGLIP_TEXT_DEFAULTS = Defaults(
    "SiglipTextConfig (configuration_siglip.py)",
    {"vocab_size": 32000, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
     "num_attention_heads": 12, "max_position_embeddings": 64},
)  # fmt: skip


def _text_encoder_lm(t: dict[str, Any], model_type: str, positions: int, head: int) -> ArchSpec:
    """CLIP/SigLIP text transformer as an ArchSpec: token + learned position embeddings, biased q/k/v/o,
    plain MLP, 2 LayerNorm per layer, final LayerNorm, no LM head (a contrastive text encoder)."""
    h, heads = _int(t, "hidden_size"), _int(t, "num_attention_heads")
    vocab, intermediate = _int(t, "vocab_size"), _int(t, "intermediate_size")
    return _layernorm_transformer(
        model_type,
        hidden=h,
        heads=heads,
        vocab=vocab,
        intermediate=intermediate,
        layers=[LayerSpec()] * _int(t, "num_hidden_layers"),
        qkv_bias=True,
        tie=True,
        positions=positions,
        max_positions=positions,
        extra={"text_head": head} if head else {},
        assumptions=[msg("mm.contrastive_text")],
    )


def split_clip(cfg: dict[str, Any]) -> MultimodalSpec:
    """CLIPModel (modeling_clip.py): vision + text towers, visual/text projections (no bias), logit_scale."""
    notes: list[Message] = []
    t = CLIP_TEXT_DEFAULTS.section(cfg, "text_config", notes)
    v = CLIP_VISION_DEFAULTS.section(cfg, "vision_config", notes)
    proj = _int(cfg, "projection_dim", default=512)
    lm = _text_encoder_lm(t, "clip_text", _int(t, "max_position_embeddings"), 0)
    tower = _clip_tower(v)
    other = {
        "visual_projection": tower.hidden * proj,
        "text_projection": lm.hidden_size * proj,
        "logit_scale": 1,
    }
    return MultimodalSpec(model_type="clip", lm=lm, towers=[tower], other_params=other, assumptions=notes)


def split_siglip(cfg: dict[str, Any]) -> MultimodalSpec:
    """SiglipModel (modeling_siglip.py): vision tower (with pooling head), text tower (+ head Linear(h, proj)),
    logit_scale and logit_bias."""
    notes: list[Message] = []
    t = SIGLIP_TEXT_DEFAULTS.section(cfg, "text_config", notes)
    v = SIGLIP_VISION_DEFAULTS.section(cfg, "vision_config", notes)
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


def rule_dual_encoder(c: _Ctx) -> None:
    v = c.vit()
    pos = _vit_positions(v, cls=v.arch == "clip_vit")
    c.add(
        "image",
        c.images,
        0,
        {"vision": pos},
        msg("media.dual_encoder", size=v.image_size, positions=pos),
    )
    c.image_only()
