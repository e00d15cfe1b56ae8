"""Gemma 3 and PaliGemma fixed image → token rules (multimodal/gemma3.py)."""

from __future__ import annotations

from mm_catalog import config

from vram_insight.multimodal import media_tokens


def test_gemma3_paligemma_fixed_tokens() -> None:
    # Gemma 3: 896 px → 64² patches → 4×4 pool → 256 tokens (+ "\n\n<start_of_image>" … "<end_of_image>\n\n").
    g = media_tokens(config("gemma-3-4b"), 2, 3000, 2000)
    assert g.llm_tokens == 2 * (256 + 4)
    assert g.encoder_positions == {"vision": 2 * 4096}
    # PaliGemma-224: (224/14)² = 256 tokens.
    assert media_tokens(config("paligemma-3b"), 1, 640, 480).llm_tokens == 256
