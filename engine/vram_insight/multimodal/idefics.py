"""Idefics2 (SigLIP NaViT + perceiver resampler) and Idefics3 / SmolVLM (SigLIP NaViT + pixel shuffle): parameter
split and image → token rules (image splitting).

Mirrors huggingface/transformers: models/idefics2/modeling_idefics2.py, configuration_idefics2.py,
image_processing_idefics2.py, processing_idefics2.py; models/idefics3/modeling_idefics3.py,
configuration_idefics3.py, image_processing_idefics3.py, processing_idefics3.py; models/smolvlm/ (Idefics3
shapes).
"""

from __future__ import annotations

import math
from typing import Any

from ..messages import Message, msg, register
from .base import Defaults, MultimodalSpec, _Ctx, _int, _tile_side
from .decoders import _nested_text_lm
from .encoders import _siglip_tower

register({
    "media.idefics2": "split into 4 crops + the original → 5 × 64 perceiver tokens (+10 markers); SigLIP runs "
    "{per_view} positions per view ({width}×{height} px, crops padded to it)",
    "media.idefics3": "longest edge → {longest} px, {cols}×{rows} tiles of {tile} px + global view → {views} × "
    "{per_view} = {tokens} image tokens (+markers)",
})  # fmt: skip

# configuration_idefics2.py Idefics2VisionConfig / Idefics2PerceiverConfig
IDEFICS2_VISION_DEFAULTS = Defaults(
    "Idefics2VisionConfig (configuration_idefics2.py)",
    {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
     "image_size": 224, "patch_size": 32},
)  # fmt: skip
IDEFICS2_PERCEIVER_DEFAULTS = Defaults(
    "Idefics2PerceiverConfig (configuration_idefics2.py)",
    {"resampler_n_latents": 64, "resampler_depth": 3, "resampler_n_heads": 16, "resampler_head_dim": 96,
     "num_key_value_heads": 4},
)  # fmt: skip
# configuration_idefics3.py Idefics3VisionConfig
IDEFICS3_VISION_DEFAULTS = Defaults(
    "Idefics3VisionConfig (configuration_idefics3.py)",
    {"hidden_size": 1152, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 16,
     "image_size": 224, "patch_size": 32},
)  # fmt: skip


def split_idefics2(cfg: dict[str, Any]) -> MultimodalSpec:
    """Idefics2: SigLIP (NaViT) tower + connector = SwiGLU modality_projection + perceiver resampler."""
    notes: list[Message] = []
    lm = _nested_text_lm(cfg, "mistral", notes)
    v = IDEFICS2_VISION_DEFAULTS.section(cfg, "vision_config", notes)
    tower = _siglip_tower(v, use_head=False, arch="idefics2_vit")
    pc = IDEFICS2_PERCEIVER_DEFAULTS.section(cfg, "perceiver_config", notes)
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


def split_idefics3(cfg: dict[str, Any]) -> MultimodalSpec:
    """Idefics3 / SmolVLM: SigLIP (NaViT) tower + pixel shuffle + Linear(v·s², h, bias=False)."""
    notes: list[Message] = []
    lm = _nested_text_lm(cfg, "llama", notes)
    v = IDEFICS3_VISION_DEFAULTS.section(cfg, "vision_config", notes)
    scale = _int(cfg, "scale_factor", default=2)
    tower = _siglip_tower(v, use_head=False, arch="idefics3_vit", merge=scale)
    projector = tower.hidden * scale * scale * lm.hidden_size
    return MultimodalSpec(
        model_type=str(cfg.get("model_type")),
        lm=lm,
        towers=[tower],
        projector_params=projector,
        assumptions=notes,
    )


def _idefics2_resize(w: int, h: int, shortest: int = 378, longest: int = 980) -> tuple[int, int]:
    """Idefics2 get_resize_output_image_size: cap the longest edge, floor both at ``shortest`` (width, height)."""
    aspect = w / h
    if w >= h and w > longest:
        w, h = longest, int(longest / aspect)
    elif h > w and h > longest:
        h, w = longest, int(longest * aspect)
    return max(w, shortest), max(h, shortest)


def rule_idefics2(c: _Ctx) -> None:
    p = c.vit().patch_size or 14

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
            msg("media.idefics2", per_view=per_view, width=lw, height=lh),
            span={"vision": per_view},
        )

    c.still_images(idefics2, "Idefics2")


def rule_idefics3(c: _Ctx) -> None:
    v = c.vit()
    tile, side = _tile_side(v, 364)
    per_tile = side**2
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
            msg(
                "media.idefics3",
                longest=longest,
                cols=cols,
                rows=rows,
                tile=tile,
                views=rows * cols + 1,
                per_view=seq,
                tokens=(rows * cols + 1) * seq,
            ),
            span={"vision": per_tile},
        )

    c.still_images(idefics3, "Idefics3")
