"""The non-text parts of multimodal models: towers, projectors, media → token rules and tower activations.

Three small, pure entry points:

* :func:`split_multimodal` — a ``config.json`` (LLaVA, Qwen2-VL, Whisper, ...) → :class:`MultimodalSpec`: the
  language decoder as an :class:`~vram_insight.arch.ArchSpec` plus exact parameter counts of every vision/audio
  tower, the projector and other tensors. ``count_params(spec.lm).total + Σ towers + projector + other`` is the
  model's parameter count as transformers allocates it (meta-device instantiation), tied tensors once.
* :func:`media_tokens` — images / video frames / audio seconds → the LLM tokens they become and the positions
  each encoder runs over, following each model's real preprocessing (``processing_*.py`` /
  ``image_processing_*.py`` of huggingface/transformers, or the model's own remote code).
* :func:`tower_activation_bytes` — activation memory of one tower (inference peak or training, formulas.md §C
  adapted to the tower's MLP and norms).

Every parameter formula names the module it mirrors (``modeling_*.py`` of huggingface/transformers unless said
otherwise); every default filled into a sparse nested text config names the ``configuration_*.py`` it comes from.
Pure Python (runs in Pyodide): no numpy, no I/O.

Layout: :data:`MODEL_TYPES` maps each supported ``model_type`` to its family module's split function and token
rule (one module per model family, e.g. ``llava.py``, ``qwen_vl.py``, ``whisper.py``, holding both side by
side). ``base.py`` holds the shared shapes and helpers, ``encoders.py`` / ``decoders.py`` the builders several
families share, ``activations.py`` the tower activation formula.
"""

from __future__ import annotations

from typing import Any

from ..arch import ConfigError, parse_config
from . import (
    clip_siglip,
    donut,
    florence2,
    gemma3,
    idefics,
    internvl,
    llama4,
    llava,
    minicpmv,
    mllama,
    phi,
    qwen_audio,
    qwen_omni,
    qwen_vl,
    video_llama,
    whisper,
)
from .activations import tower_activation_bytes
from .base import Family, MediaItem, MediaTokens, MultimodalSpec, Tower, TowerStage, _Ctx
from .llava import select_best_resolution
from .qwen_vl import smart_resize

# model_type → (parameter split, media → token rule). All Qwen model types share qwen_omni.rule_qwen, which runs
# the vision part (qwen_vl) and the audio part (qwen_audio) each model has.
MODEL_TYPES: dict[str, Family] = {
    "llava": Family(llava.split_llava, llava.rule_llava),
    "llava_next": Family(llava.split_llava, llava.rule_llava_next),
    "llava_onevision": Family(llava.split_llava, llava.rule_llava_onevision),
    "qwen2_vl": Family(qwen_vl.split_qwen_vl, qwen_omni.rule_qwen),
    "qwen2_5_vl": Family(qwen_vl.split_qwen_vl, qwen_omni.rule_qwen),
    "qwen3_vl": Family(qwen_vl.split_qwen3_vl, qwen_omni.rule_qwen),
    "qwen2_audio": Family(qwen_audio.split_qwen2_audio, qwen_omni.rule_qwen),
    "qwen2_5_omni": Family(qwen_omni.split_qwen2_5_omni, qwen_omni.rule_qwen),
    "qwen2_5_omni_thinker": Family(qwen_omni.split_qwen2_5_omni, qwen_omni.rule_qwen),
    "idefics2": Family(idefics.split_idefics2, idefics.rule_idefics2),
    "idefics3": Family(idefics.split_idefics3, idefics.rule_idefics3),
    "smolvlm": Family(idefics.split_idefics3, idefics.rule_idefics3),
    "mllama": Family(mllama.split_mllama, mllama.rule_mllama),
    "gemma3": Family(gemma3.split_gemma3, gemma3.rule_gemma3),
    "paligemma": Family(gemma3.split_paligemma, gemma3.rule_paligemma),
    "internvl_chat": Family(internvl.split_internvl_chat, internvl.rule_internvl),
    "internvl": Family(internvl.split_internvl_hf, internvl.rule_internvl),
    "minicpmv": Family(minicpmv.split_minicpmv, minicpmv.rule_minicpmv),
    "phi3_v": Family(phi.split_phi3_v, phi.rule_phi3_v),
    "phi4mm": Family(phi.split_phi4mm, phi.rule_phi4mm),
    "whisper": Family(whisper.split_whisper, whisper.rule_whisper),
    "vision-encoder-decoder": Family(donut.split_vision_encoder_decoder, donut.rule_vision_encoder_decoder),
    "florence2": Family(florence2.split_florence2, florence2.rule_florence2),
    "clip": Family(clip_siglip.split_clip, clip_siglip.rule_dual_encoder),
    "siglip": Family(clip_siglip.split_siglip, clip_siglip.rule_dual_encoder),
    "llama4": Family(llama4.split_llama4, llama4.rule_llama4),
    "video_llama": Family(video_llama.split_video_llama, video_llama.rule_video_llama),
}


def _family(config: dict[str, Any]) -> str:
    mt = str(config.get("model_type") or "").lower()
    if config.get("arch") == "video_llama" or mt == "video_llama":
        return "video_llama"
    if mt == "gemma3" and not isinstance(config.get("vision_config"), dict):
        return ""  # Gemma 3 1B and text-only checkpoints
    return mt if mt in MODEL_TYPES else ""


def is_multimodal(config: dict[str, Any]) -> bool:
    """True when :func:`split_multimodal` finds encoders in this config."""
    return bool(_family(config))


def split_multimodal(config: dict[str, Any]) -> MultimodalSpec:
    """Split a multimodal ``config.json`` into decoder, towers, projector and other tensors (exact counts).

    A text-only config gives ``towers == []`` and ``lm = parse_config(config)``, so callers need one path.
    """
    if not isinstance(config, dict):
        raise ConfigError.of("error.config.not_object", "config")
    family = _family(config)
    if not family:
        lm = parse_config(config)
        return MultimodalSpec(model_type=lm.model_type, lm=lm, assumptions=[])
    return MODEL_TYPES[family].split(config)


def media_tokens(
    config: dict[str, Any],
    images: int = 1,
    width: int = 1024,
    height: int = 1024,
    video_frames: int = 0,
    audio_seconds: float = 0.0,
    spec: MultimodalSpec | None = None,
) -> MediaTokens:
    """LLM tokens and encoder positions for ``images`` images of ``width``×``height`` px, one video of
    ``video_frames`` frames of the same size, and ``audio_seconds`` of audio — per the model's preprocessing.

    Inputs the model cannot take are ignored with a note; a text-only config gives zero tokens. Pass ``spec`` to
    reuse a :func:`split_multimodal` result.
    """
    if width <= 0 or height <= 0:
        raise ConfigError("image width and height must be positive")
    if images < 0 or video_frames < 0 or audio_seconds < 0:
        raise ConfigError("images, video frames and audio seconds cannot be negative")
    spec = spec or split_multimodal(config)
    ctx = _Ctx(config, spec, images, width, height, video_frames, audio_seconds)
    family = MODEL_TYPES.get(_family(config))
    if family is None:
        ctx.ignore("image", images)
        ctx.ignore("video", video_frames)
        ctx.ignore("audio", audio_seconds)
    else:
        family.rule(ctx)
    return ctx.result()


__all__ = [
    "MediaItem",
    "MediaTokens",
    "MultimodalSpec",
    "Tower",
    "TowerStage",
    "is_multimodal",
    "media_tokens",
    "select_best_resolution",
    "smart_resize",
    "split_multimodal",
    "tower_activation_bytes",
]
