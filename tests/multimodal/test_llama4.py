"""Llama 4 (multimodal/llama4.py): the vision remainder of Scout and the tiled image rule."""

from __future__ import annotations

from mm_catalog import config, spec

from vram_insight.multimodal import media_tokens


def test_llama4_scout_vision_remainder() -> None:
    """Scout's text part is 107,769,861,120 (text jsonl, standard formula); a same-shape derivative's HF API total
    is 108,641,793,536 — the vision tower + projector remainder 871,932,416 (text jsonl notes)."""
    s = spec("llama-4-scout-17b-16e")
    assert s.lm_params == 107_769_861_120
    assert s.total_params == 108_641_793_536


def test_llama4_tiles() -> None:
    # 1024² → smallest upscaling canvas 1344² = 4×4 tiles of 336 + a global tile → 17 × 144 (pixel shuffle ½ of
    # 24²) = 2448 + 16 separators + <|image_start|> <|image|> <|image_end|>.
    assert media_tokens(config("llama-4-scout-17b-16e"), 1, 1024, 1024).llm_tokens == 2448 + 16 + 3
