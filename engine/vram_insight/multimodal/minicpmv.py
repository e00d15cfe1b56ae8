"""MiniCPM-V 2.5 / 2.6 (remote code): SigLIP-400M (NaViT) + 2D perceiver resampler + a Qwen2 / Llama decoder
whose fields sit at the top level of the config; parameter split and the image-slicing → token rule.

Mirrors the MiniCPM-V remote code: modeling_minicpmv.py, resampler.py, configuration_minicpm.py,
image_processing_minicpmv.py, processing_minicpmv.py (and the model card's video recipe); its SigLIP is
huggingface/transformers models/idefics2/modeling_idefics2.py's NaViT copy.
"""

from __future__ import annotations

import math
from typing import Any

from ..messages import Message, msg, register
from .base import Defaults, MultimodalSpec, _Ctx, _int, _ln, _sub
from .decoders import _top_level_text_lm
from .encoders import _siglip_tower
from .idefics import IDEFICS2_VISION_DEFAULTS

register({
    "media.minicpmv_whole": "no slicing + overview → {views} × {queries} resampler tokens (+markers); SigLIP runs "
    "{positions} positions",
    "media.minicpmv": "{cols}×{rows} slices + overview → {views} × {queries} resampler tokens (+markers); SigLIP runs "
    "{positions} positions",
    "media.minicpmv_video": "{frames} frames, max_slice_nums 2 → {views} × {queries} tokens per frame",
})  # fmt: skip

MINICPMV_VISION_DEFAULTS = Defaults(
    "MiniCPM-V SiglipVisionConfig (remote configuration_minicpm.py)",
    {**IDEFICS2_VISION_DEFAULTS.values, "image_size": 980, "patch_size": 14},
)


def split_minicpmv(cfg: dict[str, Any]) -> MultimodalSpec:
    """MiniCPM-V 2.5/2.6 remote code: SigLIP-400M (NaViT, no head) + 2D perceiver Resampler + LLM (Qwen2 for
    2.6 — the text fields sit at the top level)."""
    notes: list[Message] = []
    version = float(cfg.get("version", 2.6))
    lm_type = "qwen2" if version >= 2.6 else "llama"
    lm = _top_level_text_lm(cfg, lm_type, notes, ("vision_config", "slice_config"))
    v = MINICPMV_VISION_DEFAULTS.section(cfg, "vision_config", notes)
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


def rule_minicpmv(c: _Ctx) -> None:
    sc = _sub(c.config, "slice_config")
    scale, patch = _int(c.config, "image_size", default=448), _int(sc, "patch_size", default=14)
    max_slices, q = _int(sc, "max_slice_nums", default=9), _int(c.config, "query_num", default=64)
    views, rows, pos, cols = _minicpm_image(c.w, c.h, scale, patch, max_slices)
    # <image_id>k</image_id><image> + 64 × <unk> + </image>, then per slice <slice> + 64 × <unk> + </slice>
    # with "\n" between slice rows (get_slice_image_placeholder, use_image_id true).
    tokens = 3 + views * (q + 2) + max(rows - 1, 0)
    detail = (
        msg("media.minicpmv_whole", views=views, queries=q, positions=pos)
        if views == 1
        else msg("media.minicpmv", cols=cols, rows=rows, views=views, queries=q, positions=pos)
    )
    c.add(
        "image",
        c.images,
        tokens,
        {"vision": pos},
        detail,
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
            msg("media.minicpmv_video", frames=c.frames, views=f_views, queries=q),
            span={"vision": -(-f_pos // f_views)},
        )
    c.ignore("audio", c.seconds)
