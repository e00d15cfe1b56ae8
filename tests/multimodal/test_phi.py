"""Phi-3.5-vision and Phi-4-multimodal (multimodal/phi.py): parameter counts that follow the config, image
crops and audio tokens."""

from __future__ import annotations

from mm_catalog import config, spec

from vram_insight.multimodal import media_tokens


def test_phi4_multimodal_follows_its_config_not_the_hf_default() -> None:
    """jsonl params_computed 5,574,476,224 was measured with transformers' Phi4MultimodalAudioConfig default
    bias_max_distance 1000 (a 2000 × 16 relative-bias table); the published config sets
    relative_attention_bias_args.t5_bias_max_distance 500, i.e. a 1000 × 16 table (T5RelativeAttentionLogitBias:
    2 · max_distance buckets × heads) — 16,000 fewer parameters in the audio encoder."""
    s = spec("phi-4-multimodal")
    table_difference = (2 * 1000 - 2 * 500) * 16
    audio = s.tower("audio")
    assert audio is not None
    assert audio.params == 441_254_144 - table_difference  # jsonl tower_params audio − 16,000
    assert s.other_params == {"vision_lora": 369_098_752, "speech_lora": 461_373_440}  # jsonl tower_params
    assert s.total_params == 5_574_476_224 - table_difference


def test_phi_vision_crops() -> None:
    # Phi-3.5-vision, num_crops 4: 1024² → scale 2 (2·⌈2/1⌉ = 4 ≤ 4) → 672×672 = 2×2 crops;
    # (2·2 + 1)·144 + 1 + (2 + 1)·12 = 757 (jsonl token_rules formula).
    assert media_tokens(config("phi-3.5-vision"), 1, 1024, 1024).llm_tokens == 757
    # Phi-4-multimodal: 1024² → ⌈1024/448⌉ = 3 → 3×3 crops of 448 (1344², no padding) → 96² mask → 48² pooled
    # → 256 + 1 + 2304 + 48 + 16 = 2625.
    assert media_tokens(config("phi-4-multimodal"), 1, 1024, 1024).llm_tokens == 2625


def test_phi4_crop_limit() -> None:
    # Phi4MultimodalImageProcessor.dynamic_preprocess: 2048×1536 needs ⌈2048/448⌉·⌈1536/448⌉ = 5·4 = 20 ≤ 36 crops
    # (1 + 20 crops); 4096×3072 would need 10·7 = 70 > 36, so it is fitted to the closest aspect grid 4×3 = 12.
    big, bigger = (media_tokens(config("phi-4-multimodal"), 1, w, h) for w, h in ((2048, 1536), (4096, 3072)))
    assert big.encoder_positions["vision"] == 21 * 1024
    assert bigger.encoder_positions["vision"] == 13 * 1024
    assert bigger.llm_tokens < big.llm_tokens


def test_phi4_audio_80ms_per_token() -> None:
    # 10 s = 160,000 samples → (160000 − 400)//160 + 1 = 998 frames → ⌈998/8⌉ = 125 tokens (12.5 per second).
    m = media_tokens(config("phi-4-multimodal"), images=0, audio_seconds=10)
    assert m.llm_tokens == 125
