"""Encoder-decoder models (multimodal/whisper.py, donut.py, florence2.py and the shared decoder builder in
decoders.py): cross-attention in every layer, unsupported pairs, audio windows and page / image states."""

from __future__ import annotations

import pytest
from mm_catalog import config, spec

from vram_insight.arch import ConfigError
from vram_insight.multimodal import media_tokens, split_multimodal


def test_encoder_decoders_cross_attend_in_every_layer() -> None:
    for model_id in ("whisper-small", "nougat-base", "florence-2-large"):
        s = spec(model_id)
        assert s.cross_attention == "every_layer"
        assert all(layer.cross_attention for layer in s.lm.layers)


def test_unsupported_encoder_decoder_pair_is_a_clear_error() -> None:
    cfg = {
        "model_type": "vision-encoder-decoder",
        "encoder": {"model_type": "vit"},
        "decoder": {"model_type": "gpt2"},
    }
    with pytest.raises(ConfigError, match="not supported"):
        split_multimodal(cfg)


def test_whisper_audio_windows() -> None:
    # Whisper: one 30 s window → 3000 mel frames → 1500 encoder positions; 45 s → 2 windows.
    w = media_tokens(config("whisper-large-v3"), images=0, audio_seconds=30)
    assert (w.llm_tokens, w.encoder_positions, w.cross_attention_positions) == (0, {"audio": 1500}, 1500)
    assert media_tokens(config("whisper-small"), images=0, audio_seconds=45).encoder_positions == {
        "audio": 3000
    }


def test_document_models() -> None:
    # Nougat: 896×672 page, Swin patch 4 → 224×168, three 2× merges → 28×21 = 588 states for cross-attention.
    n = media_tokens(config("nougat-base"), 1, 1000, 1400)
    assert (n.llm_tokens, n.cross_attention_positions) == (0, 588)
    # Florence-2: 768² → DaViT stride 32 → 24² = 576 + 1 pooled = 577 visual tokens.
    assert media_tokens(config("florence-2-large"), 1, 1024, 1024).llm_tokens == 577
