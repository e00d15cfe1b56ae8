"""Idefics2 / Idefics3 image → token rules (multimodal/idefics.py), derived by hand from the published
preprocessing rules."""

from __future__ import annotations

from mm_catalog import config

from vram_insight.multimodal import media_tokens


def test_idefics_tokens() -> None:
    # Idefics2: 4 crops + the original, 64 perceiver latents each → 320 image tokens (+ a fake token around each).
    m = media_tokens(config("idefics2-8b"), 1, 1024, 1024)
    assert m.llm_tokens == 5 * 64 + 5 * 2
    # Idefics3: longest edge → 1456 = 4·364 → 4×4 tiles + global view, 169 tokens each → 17·169 = 2873 image
    # tokens + markers (2 per tile, a newline per row, "\n<fake><global-img>…<fake>").
    m3 = media_tokens(config("idefics3-8b"), 1, 1024, 1024)
    assert m3.llm_tokens == 17 * 169 + 16 * 2 + 4 + 4
    assert m3.encoder_positions == {"vision": 17 * 676}
