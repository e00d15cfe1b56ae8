"""Llama-3.2-Vision (multimodal/mllama.py): cross-attention layers and the tiled image rule."""

from __future__ import annotations

from mm_catalog import config, spec

from vram_insight.multimodal import media_tokens


def test_mllama_cross_attention_layers_flagged() -> None:
    s = spec("llama-3.2-11b-vision")
    assert s.cross_attention == "interleaved"
    cross = [i for i, layer in enumerate(s.lm.layers) if layer.cross_attention]
    assert cross == [3, 8, 13, 18, 23, 28, 33, 38]  # config text_config.cross_attention_layers


def test_mllama_cross_attention_states() -> None:
    # One <|image|> token in the text; 4 tiles × ((560/14)² + 1 CLS) = 6404 cross-attention states; the ViT pads
    # each tile to a multiple of 8 (1608) and always runs all 4 tile slots.
    m = media_tokens(config("llama-3.2-11b-vision"), 2, 1024, 768)
    assert m.llm_tokens == 2
    assert m.cross_attention_positions == 2 * 6404
    assert m.encoder_positions == {"vision": 2 * 4 * 1608}
