"""Qwen2-VL, Qwen2.5-VL and Qwen3-VL: the Qwen vision transformers and their patch mergers, the parameter split,
and the image / video → token rule (smart_resize). Qwen2.5-Omni's thinker reuses the Qwen2.5-VL ViT
(qwen_omni.py).

Mirrors huggingface/transformers: models/qwen2_vl/modeling_qwen2_vl.py, configuration_qwen2_vl.py,
image_processing_qwen2_vl.py, video_processing_qwen2_vl.py; models/qwen2_5_vl/modeling_qwen2_5_vl.py,
configuration_qwen2_5_vl.py, processing_qwen2_5_vl.py; models/qwen3_vl/modeling_qwen3_vl.py,
configuration_qwen3_vl.py, video_processing_qwen3_vl.py; the model repos' preprocessor_config.json and
qwen-vl-utils (video pixel budget).
"""

from __future__ import annotations

import math
from typing import Any

from ..arch import ConfigError
from ..messages import Message, msg, register
from .base import Defaults, MultimodalSpec, Tower, _Ctx, _int, _ln, _sub, _two_layer_mlp
from .decoders import _nested_text_lm, _top_level_text_lm
from .encoders import _vit_layer

register({
    "media.qwen_vl": "resized to {width}×{height} (smart_resize to multiples of {factor}) → {cols}×{rows} = {tokens} "
    "tokens (+2 markers); the ViT runs on {patches} patches of {patch} px before the {merge}×{merge} merge",
    "media.qwen_vl_video": "{frames} frames resized to {width}×{height} → {temporal} temporal patches × {per_patch} = "
    "{tokens} tokens (+{markers} markers)",
})  # fmt: skip

# configuration_qwen2_vl.py Qwen2VLVisionConfig
QWEN2_VL_VISION_DEFAULTS = Defaults(
    "Qwen2VLVisionConfig (configuration_qwen2_vl.py)",
    {"depth": 32, "embed_dim": 1280, "hidden_size": 3584, "mlp_ratio": 4, "num_heads": 16, "patch_size": 14,
     "spatial_merge_size": 2, "temporal_patch_size": 2},
)  # fmt: skip
# configuration_qwen2_5_vl.py Qwen2_5_VLVisionConfig
QWEN2_5_VL_VISION_DEFAULTS = Defaults(
    "Qwen2_5_VLVisionConfig (configuration_qwen2_5_vl.py)",
    {"depth": 32, "hidden_size": 3584, "intermediate_size": 3420, "num_heads": 16, "patch_size": 14,
     "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 112, "out_hidden_size": 3584,
     "fullatt_block_indexes": [7, 15, 23, 31]},
)  # fmt: skip
# configuration_qwen3_vl.py Qwen3VLVisionConfig
QWEN3_VL_VISION_DEFAULTS = Defaults(
    "Qwen3VLVisionConfig (configuration_qwen3_vl.py)",
    {"depth": 27, "hidden_size": 1152, "intermediate_size": 4304, "num_heads": 16, "patch_size": 16,
     "spatial_merge_size": 2, "temporal_patch_size": 2, "num_position_embeddings": 2304,
     "out_hidden_size": 3584, "deepstack_visual_indexes": [8, 16, 24]},
)  # fmt: skip


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


def qwen3_vit_params(v: dict[str, Any]) -> int:
    """Qwen3VLVisionModel without mergers (modeling_qwen3_vl.py): patch_embed Conv3d(3, h, (t, p, p)) with bias,
    learned pos_embed num_position_embeddings·h, blocks with 2 LayerNorm, biased qkv/proj and fc1/fc2."""
    h, i, depth = _int(v, "hidden_size"), _int(v, "intermediate_size"), _int(v, "depth")
    p, t = _int(v, "patch_size"), _int(v, "temporal_patch_size")
    c = _int(v, "in_channels", default=3)
    return c * t * p * p * h + h + _int(v, "num_position_embeddings") * h + depth * _vit_layer(h, i)


def qwen_merger_params(context: int, merge: int, out: int, norm: str, post_shuffle: bool = False) -> int:
    """PatchMerger: ln_q over the ViT width, then Linear(m²·h, m²·h) → GELU → Linear(m²·h, out), both biased.
    Qwen3VLVisionPatchMerger: LayerNorm over h, or over m²·h "post-shuffle" for the DeepStack mergers."""
    inner = context * merge * merge
    width = inner if post_shuffle else context
    return (width if norm == "rms" else _ln(width)) + _two_layer_mlp(inner, inner, out)


def _qwen_vit_tower(
    v: dict[str, Any], arch: str, params: int, hidden: int, intermediate: int, **extra: Any
) -> Tower:
    """A Qwen-VL ViT from its vision config (depth, num_heads, patch / temporal patch / spatial merge sizes).
    All three apply the vision RoPE on fp32 copies of q and k (apply_rotary_pos_emb_vision in
    modeling_qwen2_vl.py, modeling_qwen2_5_vl.py, modeling_qwen3_vl.py)."""
    return Tower(
        name="vision",
        kind="vision",
        arch=arch,
        rope_fp32_qk=True,
        params=params,
        layers=_int(v, "depth"),
        hidden=hidden,
        heads=_int(v, "num_heads"),
        intermediate=intermediate,
        patch_size=_int(v, "patch_size"),
        temporal_patch_size=_int(v, "temporal_patch_size"),
        merge=_int(v, "spatial_merge_size"),
        **extra,
    )


def _qwen2_5_vision(v: dict[str, Any]) -> tuple[Tower, int]:
    """The Qwen2.5-VL ViT (also Qwen2.5-Omni's) and its merger (RMSNorm ln_q) to out_hidden_size."""
    # Window attention: window_size px / patch / merge → merged-token window; in ViT patches that is
    # (window_size / patch)² (112 / 14 = 8 → 64 patches); fullatt_block_indexes attend over the whole image.
    window = (_int(v, "window_size") // _int(v, "patch_size")) ** 2
    tower = _qwen_vit_tower(
        v,
        "qwen2_5_vit",
        qwen2_5_vit_params(v),
        _int(v, "hidden_size"),
        _int(v, "intermediate_size"),
        gated_mlp=True,
        norm="rms",
        attention="windowed",
        window=window,
        full_attention_layers=len(v.get("fullatt_block_indexes") or []),
    )
    return tower, qwen_merger_params(tower.hidden, tower.merge, _int(v, "out_hidden_size"), "rms")


def split_qwen_vl(cfg: dict[str, Any]) -> MultimodalSpec:
    """Qwen2-VL / Qwen2.5-VL: text fields at the top level (older configs) or under text_config."""
    notes: list[Message] = []
    mt = str(cfg.get("model_type"))
    if _sub(cfg, "text_config"):
        lm = _nested_text_lm(cfg, "qwen2", notes, force=True)
    else:
        lm = _top_level_text_lm(cfg, "qwen2", notes, ("vision_config",))
    if mt == "qwen2_vl":
        v = QWEN2_VL_VISION_DEFAULTS.section(cfg, "vision_config", notes)
        h = _int(v, "embed_dim")
        tower = _qwen_vit_tower(
            v,
            "qwen2_vit",
            qwen2_vit_params(v),
            h,
            int(h * float(v.get("mlp_ratio", 4))),
            unfused_act=str(v.get("hidden_act", "quick_gelu")) == "quick_gelu",  # Qwen2VLVisionConfig default
        )
        projector = qwen_merger_params(h, tower.merge, _int(v, "hidden_size"), "layer")
    else:
        v = QWEN2_5_VL_VISION_DEFAULTS.section(cfg, "vision_config", notes)
        tower, projector = _qwen2_5_vision(v)
    return MultimodalSpec(model_type=mt, lm=lm, towers=[tower], projector_params=projector, assumptions=notes)


def split_qwen3_vl(cfg: dict[str, Any]) -> MultimodalSpec:
    """Qwen3-VL (dense): Qwen3 decoder + ViT + merger + DeepStack mergers (features of deepstack_visual_indexes
    layers added to the first decoder layers' hidden states)."""
    notes: list[Message] = []
    # Qwen3VLTextConfig: Qwen3 decoder (q/k RMSNorm), no qkv bias
    lm = _nested_text_lm(cfg, "qwen3", notes, force=True)
    v = QWEN3_VL_VISION_DEFAULTS.section(cfg, "vision_config", notes)
    h, m, out = _int(v, "hidden_size"), _int(v, "spatial_merge_size"), _int(v, "out_hidden_size")
    tower = _qwen_vit_tower(v, "qwen3_vit", qwen3_vit_params(v), h, _int(v, "intermediate_size"))
    merger = qwen_merger_params(h, m, out, "layer")
    deepstack = len(v.get("deepstack_visual_indexes") or []) * qwen_merger_params(
        h, m, out, "layer", post_shuffle=True
    )
    return MultimodalSpec(
        model_type="qwen3_vl", lm=lm, towers=[tower], projector_params=merger + deepstack, assumptions=notes
    )


# ---------------------------------------------------------------------------------------------------------------
# Media → tokens

_QWEN_ASPECT_ERROR = "Qwen-VL processors reject images whose long side is more than 200 × the short side: crop or pad the image"


def smart_resize(
    height: int,
    width: int,
    factor: int = 28,
    min_pixels: int = 56 * 56,
    max_pixels: int = 14 * 14 * 4 * 1280,
    frames: int = 1,
    temporal_patch: int = 1,
) -> tuple[int, int]:
    """Qwen2-VL ``smart_resize`` (image_processing_qwen2_vl.py): both sides multiples of ``factor`` (patch 14 ×
    merge 2), area clamped to [min_pixels, max_pixels], aspect ratio kept as closely as possible.
    Returns (height, width). With ``frames`` (Qwen3-VL video_processing_qwen3_vl.py) the pixel bounds apply to
    all frames together (t_bar = frames rounded to ``temporal_patch``)."""
    if max(height, width) / min(height, width) > 200:
        raise ConfigError(_QWEN_ASPECT_ERROR)
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    t_bar = round(frames / temporal_patch) * temporal_patch
    if t_bar * h_bar * w_bar > max_pixels:
        beta = math.sqrt((frames * height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif t_bar * h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (frames * height * width))
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
    """Qwen3-VL video smart_resize (video_processing_qwen3_vl.py): frames smaller than one factor are first
    scaled up to it, then smart_resize over all frames together."""
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height, width = int(height * scale), int(width * scale)
    return smart_resize(height, width, factor, min_pixels, max_pixels, frames=frames, temporal_patch=t)


def add_qwen_vision(c: _Ctx) -> None:
    """Images (smart_resize) and one video clip through a Qwen-VL ViT."""
    tower = c.vit()
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
            msg(
                "media.qwen_vl",
                width=rw,
                height=rh,
                factor=factor,
                cols=rw // factor,
                rows=rh // factor,
                tokens=tokens,
                patches=patches,
                patch=p,
                merge=m,
            ),
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
            msg(
                "media.qwen_vl_video",
                frames=c.frames,
                width=rw,
                height=rh,
                temporal=grid_t,
                per_patch=per_t // (m * m),
                tokens=tokens,
                markers=2 + grid_t * markers,
            ),
            span={"vision": per_t},
        )
