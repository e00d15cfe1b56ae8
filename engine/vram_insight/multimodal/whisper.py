"""Whisper: audio encoder + text decoder with cross-attention in every layer; parameter split and the audio →
30 s window rule.

Mirrors huggingface/transformers: models/whisper/modeling_whisper.py, configuration_whisper.py,
feature_extraction_whisper.py.
"""

from __future__ import annotations

from typing import Any

from ..messages import Message, msg, register
from .base import MultimodalSpec, _audio_clips, _Ctx
from .decoders import WHISPER_DECODER, _encoder_decoder_lm
from .encoders import whisper_encoder_tower

register({
    "mm.whisper": "Whisper: the decoder cross-attends to 1500 encoder states per 30 s window in every layer",
    "media.whisper": "30 s window → 3000 mel frames → 1500 encoder positions (shorter audio is padded); the decoder "
    "cross-attends to them and writes ≤ 448 tokens per window",
})  # fmt: skip


def split_whisper(cfg: dict[str, Any]) -> MultimodalSpec:
    """Whisper: audio encoder + text decoder with cross-attention in every layer (modeling_whisper.py)."""
    notes: list[Message] = []
    # WhisperDecoderLayer: self_attn (q, v, out biased; k not), LayerNorm, encoder_attn (same), LayerNorm,
    # fc1/fc2 biased, final LayerNorm; decoder: embed_tokens, learned embed_positions, final layer_norm;
    # proj_out tied to embed_tokens.
    lm = _encoder_decoder_lm(cfg, WHISPER_DECODER, model_type="whisper", tie=True)
    encoder = whisper_encoder_tower(cfg)
    notes.append(msg("mm.whisper"))
    return MultimodalSpec(
        model_type="whisper", lm=lm, towers=[encoder], cross_attention="every_layer", assumptions=notes
    )


def rule_whisper(c: _Ctx) -> None:
    c.ignore("image", c.images)
    c.ignore("video", c.frames)
    windows = len(_audio_clips(c.seconds))
    # WhisperFeatureExtractor: 30 s windows → 3000 mel frames → conv stride 2 → 1500 positions (max_source_positions)
    c.add(
        "audio",
        windows,
        0,
        {"audio": 1500},
        msg("media.whisper"),
        cross=1500,
    )
