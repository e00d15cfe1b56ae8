"""Gemma 3 (4B/12B/27B) and PaliGemma: SigLIP-so400m towers feeding a Gemma decoder; parameter split and fixed
image → token rules.

Mirrors huggingface/transformers: models/gemma3/modeling_gemma3.py, configuration_gemma3.py,
processing_gemma3.py, image_processing_gemma3.py; models/paligemma/modeling_paligemma.py,
configuration_paligemma.py, processing_paligemma.py.
"""

from __future__ import annotations

import math
from typing import Any

from ..messages import Message, msg, register
from .base import MultimodalSpec, _Ctx, _int, _linear, _sub, _vit_positions
from .decoders import _nested_text_lm
from .encoders import SIGLIP_VISION_DEFAULTS, _siglip_tower

register({
    "mm.paligemma_size": "PaliGemma: image_size {size} px from num_image_tokens {tokens} × patch 14²",
    "media.gemma3": "resized to {size}×{size} (pan & scan off) → {patches} patches → 4×4 average pool → {tokens} "
    "tokens (+4 markers)",
    "media.resized": "resized to {size}×{size} → {tokens} tokens",
})  # fmt: skip


def split_gemma3(cfg: dict[str, Any]) -> MultimodalSpec:
    """Gemma 3 (4B/12B/27B): SigLIP-so400m @896 without head + Gemma3MultiModalProjector."""
    notes: list[Message] = []
    lm = _nested_text_lm(cfg, "gemma3_text", notes, force=True)
    v = SIGLIP_VISION_DEFAULTS.section(cfg, "vision_config", notes)
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


def split_paligemma(cfg: dict[str, Any]) -> MultimodalSpec:
    """PaliGemma: SigLIP-so400m without head + Linear(v, projection_dim) (modeling_paligemma.py)."""
    notes: list[Message] = []
    lm = _nested_text_lm(cfg, "gemma", notes)
    v_raw = _sub(cfg, "vision_config")
    if v_raw.get("image_size") is None:
        n_tok = _int(
            v_raw, "num_image_tokens", default=_int(_sub(cfg, "text_config"), "num_image_tokens", default=256)
        )
        v_raw["image_size"] = math.isqrt(n_tok) * _int(v_raw, "patch_size", default=14)
        notes.append(msg("mm.paligemma_size", size=v_raw["image_size"], tokens=n_tok))
    v = SIGLIP_VISION_DEFAULTS.fill(v_raw, "vision_config", notes)
    tower = _siglip_tower(v)
    projector = _linear(
        tower.hidden, _int(v, "projection_dim", default=_int(cfg, "projection_dim", default=lm.hidden_size))
    )
    return MultimodalSpec(
        model_type="paligemma", lm=lm, towers=[tower], projector_params=projector, assumptions=notes
    )


def rule_gemma3(c: _Ctx) -> None:
    v = c.vit()
    n_tok = _int(c.config, "mm_tokens_per_image", default=256)
    pos = _vit_positions(v, cls=False)

    def gemma3(n: int) -> None:
        # Gemma3Processor: "\n\n<start_of_image>" + 256 × <image_soft_token> + "<end_of_image>\n\n"
        c.add(
            "image",
            n,
            n_tok + 4,
            {"vision": pos},
            msg("media.gemma3", size=v.image_size, patches=pos, tokens=n_tok),
        )

    c.still_images(gemma3, "Gemma 3")


def rule_paligemma(c: _Ctx) -> None:
    v = c.vit()
    pos = _vit_positions(v, cls=False)

    def paligemma(n: int) -> None:
        c.add("image", n, pos, {"vision": pos}, msg("media.resized", size=v.image_size, tokens=pos))

    c.still_images(paligemma, "PaliGemma")
