"""LLaVA-1.5, LLaVA-NeXT (anyres), LLaVA-OneVision (anyres_max + pooled video) and Pixtral (a LLaVA model with a
Pixtral tower): parameter split and media → token rules.

Mirrors huggingface/transformers: models/llava/modeling_llava.py, configuration_llava.py, processing_llava.py;
models/llava_next/modeling_llava_next.py, processing_llava_next.py, image_processing_llava_next.py;
models/llava_onevision/modeling_llava_onevision.py, processing_llava_onevision.py; models/pixtral/
modeling_pixtral.py, configuration_pixtral.py, image_processing_pixtral.py, processing_pixtral.py;
image_processing_utils.py (select_best_resolution).
"""

from __future__ import annotations

import math
from typing import Any

from ..messages import Message, msg, register
from .base import Defaults, MultimodalSpec, _Ctx, _int, _sub, _tile_side, _two_layer_mlp, _vit_positions
from .decoders import _nested_text_lm
from .encoders import (
    CLIP_VISION_DEFAULTS,
    SIGLIP_VISION_DEFAULTS,
    _clip_tower,
    _siglip_tower,
    _vit_layer,
    _vit_tower,
)

register({
    "media.pixtral": "{width}×{height} px → {rows}×{cols} patches of {patch} px + {rows} row breaks = {tokens} tokens",
    "media.llava": "resized and cropped to {size}×{size} → {tokens} patch tokens (CLS dropped)",
    "media.anyres": "anyres: best fit {width}×{height} = {cols}×{rows} tiles of {size} px + base view → {base} base "
    "+ {grid} grid + {newline} newline = {tokens} tokens; the ViT runs {views} × {positions} positions",
    "media.onevision_video": "{frames} frames at {size} px → {pooled} pooled tokens each + 1 newline",
})  # fmt: skip

# configuration_pixtral.py PixtralVisionConfig
PIXTRAL_VISION_DEFAULTS = Defaults(
    "PixtralVisionConfig (configuration_pixtral.py)",
    {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16,
     "image_size": 1024, "patch_size": 16},
)  # fmt: skip


def pixtral_vision_params(v: dict[str, Any]) -> int:
    """PixtralVisionModel (modeling_pixtral.py): patch_conv Conv2d(3, h, p, p, bias=False), ln_pre RMSNorm,
    L × (attention_norm, q/k/v/o without bias, ffn_norm, SwiGLU gate/up/down without bias)."""
    h, i, n_layers = _int(v, "hidden_size"), _int(v, "intermediate_size"), _int(v, "num_hidden_layers")
    p, c = _int(v, "patch_size"), _int(v, "num_channels", default=3)
    layer = _vit_layer(h, i, qkv_bias=False, o_bias=False, mlp_bias=False, gated=True, norm="rms")
    return c * p * p * h + h + n_layers * layer


def _llava_projector(vision_hidden: int, text_hidden: int, cfg: dict[str, Any]) -> int:
    """LlavaMultiModalProjector (modeling_llava.py): Linear(v·n_layers, t) → GELU → Linear(t, t), biased
    unless multimodal_projector_bias is false; n_layers = len(vision_feature_layer) when it is a list."""
    layer = cfg.get("vision_feature_layer", -2)
    n = len(layer) if isinstance(layer, list) else 1
    bias = cfg.get("multimodal_projector_bias", True) is not False
    return _two_layer_mlp(vision_hidden * n, text_hidden, bias=bias)


def split_llava(cfg: dict[str, Any]) -> MultimodalSpec:
    """LLaVA-1.5 / LLaVA-NeXT / LLaVA-OneVision / Pixtral (LlavaForConditionalGeneration with a pixtral tower)."""
    notes: list[Message] = []
    mt = str(cfg.get("model_type"))
    v_raw = _sub(cfg, "vision_config")
    v_type = str(v_raw.get("model_type") or "clip_vision_model")
    # LlavaConfig: a text_config without model_type is a LlamaConfig (configuration_llava.py).
    lm = _nested_text_lm(cfg, "llama", notes)
    if v_type == "pixtral":
        v = PIXTRAL_VISION_DEFAULTS.fill(v_raw, "vision_config", notes)
        tower = _vit_tower(
            "vision", "vision", "pixtral_vit", pixtral_vision_params(v), v, gated_mlp=True, norm="rms"
        )
    elif v_type.startswith("siglip"):
        v = SIGLIP_VISION_DEFAULTS.fill(v_raw, "vision_config", notes)
        tower = _siglip_tower(v)
    else:
        v = CLIP_VISION_DEFAULTS.fill(v_raw, "vision_config", notes)
        tower = _clip_tower(v)
    projector = _llava_projector(tower.hidden, lm.hidden_size, cfg)
    if mt in ("llava_next", "llava_onevision", "llava_next_video") and cfg.get(
        "use_image_newline_parameter", True
    ):
        projector += lm.hidden_size  # image_newline parameter (modeling_llava_next.py)
    return MultimodalSpec(model_type=mt, lm=lm, towers=[tower], projector_params=projector, assumptions=notes)


def rule_llava(c: _Ctx) -> None:
    """LLaVA-1.5 (CLIP @336: 576 tokens, CLS dropped by the 'default' feature strategy) and Pixtral."""
    v = c.vit()
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
                msg(
                    "media.pixtral",
                    width=cols * p,
                    height=rows * p,
                    rows=rows,
                    cols=cols,
                    patch=p,
                    tokens=rows * (cols + 1),
                ),
                span={"vision": n * rows * cols},
            )

        c.still_images(pixtral, "Pixtral")
    else:

        def llava(n: int) -> None:
            pos = _vit_positions(v, cls=True)
            c.add(
                "image",
                n,
                pos - 1,
                {"vision": pos},
                msg("media.llava", size=v.image_size, tokens=pos - 1),
            )

        c.still_images(llava, "LLaVA-1.5")


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
    v = c.vit()
    size, side = _tile_side(v, 336)
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
        msg(
            "media.anyres",
            width=bw,
            height=bh,
            cols=sw,
            rows=sh,
            size=size,
            base=base,
            grid=unpadded,
            newline=newline,
            tokens=tokens,
            views=1 + sh * sw,
            positions=base + cls,
        ),
        span={"vision": base + cls},
    )


def rule_llava_next(c: _Ctx) -> None:
    c.still_images(lambda n: _anyres(c, n, onevision=False), "LLaVA-NeXT")


def rule_llava_onevision(c: _Ctx) -> None:
    v = c.vit()
    _anyres(c, c.images, onevision=True)
    if c.frames:
        side = _tile_side(v, 384)[1]
        pooled = math.ceil(side / 2) ** 2
        # LlavaOnevisionProcessor: num_video_tokens = frames · ceil(27/2)² + 1 newline per video.
        c.add(
            "video",
            1,
            c.frames * pooled + 1,
            {"vision": c.frames * side * side},
            msg("media.onevision_video", frames=c.frames, size=v.image_size, pooled=pooled),
            span={"vision": side * side},
        )
    c.ignore("audio", c.seconds)
