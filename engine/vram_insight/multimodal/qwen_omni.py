"""Qwen2.5-Omni (the thinker: audio encoder + Qwen2.5-VL ViT + Qwen2 decoder), and the one media rule all Qwen
model types share (it runs the vision and audio parts each model has).

Mirrors huggingface/transformers: models/qwen2_5_omni/modeling_qwen2_5_omni.py, configuration_qwen2_5_omni.py,
processing_qwen2_5_omni.py.
"""

from __future__ import annotations

from typing import Any

from ..messages import msg, register
from .base import Defaults, MultimodalSpec, Tower, _Ctx, _int, _linear, _sub
from .decoders import _nested_text_lm
from .encoders import _whisper_tower, whisper_encoder_params
from .qwen_audio import QWEN2_AUDIO_ENCODER_DEFAULTS, add_qwen_audio
from .qwen_vl import QWEN2_5_VL_VISION_DEFAULTS, _qwen2_5_vision, add_qwen_vision

register({
    "mm.qwen_omni_thinker": "Qwen2.5-Omni: thinker only (text output); the talker and token2wav speech modules are "
    "not counted",
    "media.qwen_omni_video_audio": "use_audio_in_video is not modelled: give the video's sound as audio seconds",
})  # fmt: skip

QWEN2_5_OMNI_AUDIO_DEFAULTS = Defaults(
    "Qwen2_5OmniAudioEncoderConfig (configuration_qwen2_5_omni.py)",
    {**QWEN2_AUDIO_ENCODER_DEFAULTS.values, "n_window": 100, "output_dim": 3584},
)
QWEN2_5_OMNI_VISION_DEFAULTS = Defaults(
    "Qwen2_5OmniVisionEncoderConfig (configuration_qwen2_5_omni.py)", QWEN2_5_VL_VISION_DEFAULTS.values
)


def _omni_audio_tower(a: dict[str, Any]) -> Tower:
    # Qwen2_5OmniAudioEncoder (modeling_qwen2_5_omni.py): sinusoidal positions are a buffer (no table),
    # ln_post LayerNorm, proj Linear(d, output_dim), audio_bos_eos_token Embedding(2, output_dim).
    d, out = _int(a, "d_model", default=1280), _int(a, "output_dim", default=3584)
    params = whisper_encoder_params(a, positions_table=False) + _linear(d, out) + 2 * out
    # chunks of 2·n_window mel frames → n_window positions after the stride-2 conv
    window = _int(a, "n_window", default=100)
    return _whisper_tower(a, "qwen2_5_omni_audio", params, attention="windowed", window=window)


def split_qwen2_5_omni(cfg: dict[str, Any]) -> MultimodalSpec:
    """Qwen2.5-Omni: the thinker (audio encoder + Qwen2.5-VL ViT + Qwen2 LM). Talker and token2wav are only
    loaded for speech output and are not counted."""
    notes = [msg("mm.qwen_omni_thinker")]
    thinker = _sub(cfg, "thinker_config") or cfg
    lm = _nested_text_lm(thinker, "qwen2", notes)
    a = QWEN2_5_OMNI_AUDIO_DEFAULTS.section(thinker, "audio_config", notes)
    vision, projector = _qwen2_5_vision(QWEN2_5_OMNI_VISION_DEFAULTS.section(thinker, "vision_config", notes))
    return MultimodalSpec(
        model_type="qwen2_5_omni",
        lm=lm,
        towers=[_omni_audio_tower(a), vision],
        projector_params=projector,
        assumptions=notes,
    )


def rule_qwen(c: _Ctx) -> None:
    """Qwen2-VL, Qwen2.5-VL, Qwen3-VL, Qwen2.5-Omni (thinker), Qwen2-Audio."""
    if c.vision is not None:
        add_qwen_vision(c)
    else:
        c.ignore("image", c.images)
        c.ignore("video", c.frames)
    if c.audio is not None:
        add_qwen_audio(c)
        if c.frames and c.vision is not None:
            c.notes.append(msg("media.qwen_omni_video_audio"))
    else:
        c.ignore("audio", c.seconds)
