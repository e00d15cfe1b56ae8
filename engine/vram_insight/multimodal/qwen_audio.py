"""Qwen2-Audio: a Whisper-large-v3-style audio encoder + Linear projector + Qwen2 decoder; the audio → token rule
shared with Qwen2.5-Omni's thinker.

Mirrors huggingface/transformers: models/qwen2_audio/modeling_qwen2_audio.py, configuration_qwen2_audio.py,
processing_qwen2_audio.py; models/qwen2_5_omni/modeling_qwen2_5_omni.py (audio chunking); models/whisper/
feature_extraction_whisper.py.
"""

from __future__ import annotations

import math
from typing import Any

from ..messages import Message, msg, register
from .base import Defaults, MultimodalSpec, _audio_clips, _Ctx, _linear
from .decoders import _nested_text_lm
from .encoders import whisper_encoder_tower

register({
    "media.qwen_audio": "{seconds} s → {frames} mel frames → {tokens} tokens (~25 per second); the encoder runs "
    "{positions} positions",
})  # fmt: skip

# Whisper-large-v3-shaped audio encoders: configuration_qwen2_audio.py Qwen2AudioEncoderConfig
QWEN2_AUDIO_ENCODER_DEFAULTS = Defaults(
    "Qwen2AudioEncoderConfig (configuration_qwen2_audio.py)",
    {"num_mel_bins": 128, "encoder_layers": 32, "encoder_attention_heads": 20, "encoder_ffn_dim": 5120,
     "d_model": 1280, "max_source_positions": 1500},
)  # fmt: skip


def split_qwen2_audio(cfg: dict[str, Any]) -> MultimodalSpec:
    """Qwen2-Audio: Whisper-large-v3-style encoder + Linear(d_audio, h) projector (modeling_qwen2_audio.py)."""
    notes: list[Message] = []
    lm = _nested_text_lm(cfg, "qwen2", notes)
    tower = whisper_encoder_tower(QWEN2_AUDIO_ENCODER_DEFAULTS.section(cfg, "audio_config", notes))
    projector = _linear(tower.hidden, lm.hidden_size)  # Qwen2AudioMultiModalProjector
    return MultimodalSpec(
        model_type="qwen2_audio", lm=lm, towers=[tower], projector_params=projector, assumptions=notes
    )


def add_qwen_audio(c: _Ctx) -> None:
    """Audio seconds through the Qwen2-Audio / Qwen2.5-Omni encoder, in 30 s clips."""
    tower = c.audio
    assert tower is not None
    omni = tower.arch == "qwen2_5_omni_audio"
    clips = _audio_clips(c.seconds)
    for length in sorted(set(clips), reverse=True):
        frames = math.ceil(length * 100)  # 16 kHz, hop 160 → 100 mel frames/s (feature_attention_mask length)
        after_conv = (frames - 1) // 2 + 1
        # Qwen2AudioEncoder._get_feat_extract_output_lengths: conv stride 2, then avg-pool stride 2
        tokens = (after_conv - 2) // 2 + 1
        if omni:
            # Qwen2_5OmniAudioEncoder packs the valid frames into n_window·2-frame chunks (no padding to 3000)
            # and attends within each chunk (chunk_and_pad_features / get_audio_cu_seqlens).
            chunk = 2 * (tower.window or 100)
            lengths = [chunk] * (frames // chunk) + ([frames % chunk] if frames % chunk else [])
            positions = sum((n - 1) // 2 + 1 for n in lengths)
            span = min(positions, tower.window or 100)
        else:
            positions = span = tower.max_source_positions or 1500  # padded to 3000 frames → 1500 positions
        c.add(
            "audio",
            clips.count(length),
            tokens,
            {"audio": positions},
            msg("media.qwen_audio", seconds=f"{length:g}", frames=frames, tokens=tokens, positions=positions),
            span={"audio": span},
        )
