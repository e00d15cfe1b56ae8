"""InternVL: InternViT + pixel shuffle + mlp1 projector + an InternLM2 / Qwen2 decoder, in its remote-code form
(model_type 'internvl_chat', InternVL 1.5–2.5) and its transformers-native form ('internvl', OpenGVLab/*-hf);
parameter split and the dynamic-tiling image → token rule.

Mirrors huggingface/transformers: models/internvl/modeling_internvl.py, configuration_internvl.py,
processing_internvl.py; the InternVL remote code (modeling_intern_vit.py, modeling_internvl_chat.py) and the
model cards' dynamic_preprocess / load_image.
"""

from __future__ import annotations

from typing import Any

from ..arch import ArchSpec
from ..messages import Message, msg, register
from .base import MultimodalSpec, Tower, _closest_grid, _Ctx, _int, _ln, _sub, _tile_side, _two_layer_mlp
from .decoders import _nested_text_lm, _text_lm
from .encoders import _vit_layer, _vit_tower

register({
    "media.internvl": "dynamic tiling (max {max_tiles}): {cols}×{rows} tiles of {size} px → {tiles} × {per_tile} "
    "tokens (+2 markers)",
    "media.internvl_thumbnail": "dynamic tiling (max {max_tiles}): {cols}×{rows} tiles of {size} px + thumbnail → "
    "{tiles} × {per_tile} tokens (+2 markers)",
    "media.internvl_video": "{frames} frames, one {size} px tile each → {per_tile} tokens per frame",
})  # fmt: skip


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


def _intern_vision(
    cfg: dict[str, Any], v: dict[str, Any], lm: ArchSpec, merge: int | None = None, **extra: Any
) -> tuple[Tower, int]:
    """InternViT (eager softmax in the dtype: InternAttention._naive_attn: attn.softmax(dim=-1)) and mlp1:
    LayerNorm(v·(1/r)²) → Linear(v·(1/r)², h) → GELU → Linear(h, h) (modeling_internvl_chat.py), r =
    downsample_ratio of the pixel shuffle; ``merge`` defaults to 1/r."""
    r = float(cfg.get("downsample_ratio", 0.5))
    tower = _vit_tower(
        "vision",
        "vision",
        "intern_vit",
        intern_vit_params(v),
        v,
        softmax_fp32=False,
        merge=round(1 / r) if merge is None else merge,
        **extra,
    )
    inner = tower.hidden * round(1 / r) ** 2
    return tower, _ln(inner) + _two_layer_mlp(inner, lm.hidden_size)


def split_internvl_chat(cfg: dict[str, Any]) -> MultimodalSpec:
    """InternVL 1.5–2.5 remote code (InternVLChatModel): InternViT + mlp1 (LayerNorm + 2 Linear) + LLM."""
    notes: list[Message] = []
    llm = _sub(cfg, "llm_config")
    lm = _text_lm(llm, cfg, "internlm2", notes, what="llm_config")
    v = _sub(cfg, "vision_config")
    norm = "rms" if str(v.get("norm_type", "rms_norm")).startswith("rms") else "layer"
    tower, projector = _intern_vision(cfg, v, lm, norm=norm)
    return MultimodalSpec(
        model_type="internvl_chat", lm=lm, towers=[tower], projector_params=projector, assumptions=notes
    )


def split_internvl_hf(cfg: dict[str, Any]) -> MultimodalSpec:
    """transformers-native InternVL (model_type 'internvl', OpenGVLab/*-hf): same tensors, HF field names."""
    notes: list[Message] = []
    lm = _nested_text_lm(cfg, "qwen2", notes)
    v = dict(_sub(cfg, "vision_config"))
    v.setdefault("qkv_bias", v.get("attention_bias", False))
    v.setdefault("norm_type", v.get("norm_type", "layer_norm"))
    if isinstance(v.get("image_size"), list):
        v["image_size"] = v["image_size"][0]
    if isinstance(v.get("patch_size"), list):
        v["patch_size"] = v["patch_size"][0]
    tower, projector = _intern_vision(cfg, v, lm, merge=2)
    return MultimodalSpec(
        model_type="internvl", lm=lm, towers=[tower], projector_params=projector, assumptions=notes
    )


INTERNVL_MAX_TILES = 12  # InternVL2.5 card: load_image(..., max_num=12)


def rule_internvl(c: _Ctx) -> None:
    v = c.vit()
    size, side = _tile_side(v, 448)
    tile_pos = side**2 + 1  # 1024 patches + CLS
    tile_tok = (tile_pos - 1) // (v.merge**2)  # pixel shuffle 0.5 → 256
    cols, rows = _closest_grid(c.w, c.h, size, INTERNVL_MAX_TILES)
    n_tiles = cols * rows + (1 if cols * rows > 1 else 0)  # + a thumbnail when the image was split
    # <img> + 256·n × <IMG_CONTEXT> + </img>
    c.add(
        "image",
        c.images,
        n_tiles * tile_tok + 2,
        {"vision": n_tiles * tile_pos},
        msg(
            "media.internvl_thumbnail" if cols * rows > 1 else "media.internvl",
            max_tiles=INTERNVL_MAX_TILES,
            cols=cols,
            rows=rows,
            size=size,
            tiles=n_tiles,
            per_tile=tile_tok,
        ),
        span={"vision": tile_pos},
    )
    if c.frames:
        c.add(
            "video",
            1,
            c.frames * (tile_tok + 2),
            {"vision": c.frames * tile_pos},
            msg("media.internvl_video", frames=c.frames, size=size, per_tile=tile_tok),
            span={"vision": tile_pos},
        )
    c.ignore("audio", c.seconds)
