"""Qwen2-VL, Qwen2.5-VL, Qwen3-VL and Qwen2-Audio media → token rules (multimodal/qwen_vl.py, qwen_audio.py).

Token counts are derived by hand from the published preprocessing rules; each derivation is written next to its
value."""

from __future__ import annotations

from mm_catalog import config

from vram_insight.multimodal import media_tokens, smart_resize


def test_smart_resize_rule() -> None:
    # 1024×1024: round(1024/28) = round(36.57) = 37 → 1036×1036 = 1,073,296 px, inside [3136, 12,845,056].
    assert smart_resize(1024, 1024, 28, 3136, 12_845_056) == (1036, 1036)
    # 6000×8000 (h×w): rounding gives 5992×8008 = 47,983,936 px > max → β = √(48e6 / 12,845,056) = 1.9331;
    # h = ⌊6000/1.9331/28⌋·28 = 110·28 = 3080, w = ⌊8000/1.9331/28⌋·28 = 147·28 = 4116.
    assert smart_resize(6000, 8000, 28, 3136, 12_845_056) == (3080, 4116)
    # 20×20 is below min_pixels 3136: β = √(3136/400) = 2.8 → ⌈20·2.8/28⌉·28 = 56 per side.
    assert smart_resize(20, 20, 28, 3136, 12_845_056) == (56, 56)


def test_qwen2_5_vl_image_tokens() -> None:
    # 1036×1036 → (1036/28)² = 37² = 1369 tokens + <|vision_start|>/<|vision_end|>; the ViT runs 4× as many
    # 14-px patches (74² = 5476) before the 2×2 merge.
    m = media_tokens(config("qwen2.5-vl-7b"), images=1, width=1024, height=1024)
    assert m.llm_tokens == 1369 + 2
    assert m.encoder_positions == {"vision": 5476}
    # 1920×1080: 1080/28 = 38.6 → 39 (1092 px), 1920/28 = 68.6 → 69 (1932 px) → 39·69 = 2691 tokens.
    assert media_tokens(config("qwen2.5-vl-7b"), 1, 1920, 1080).llm_tokens == 2691 + 2
    # 8000×6000 → 4116×3080 (see above) → 147·110 = 16,170 tokens, just under the 16,384 cap.
    assert media_tokens(config("qwen2.5-vl-7b"), 1, 8000, 6000).llm_tokens == 16_170 + 2


def test_qwen2_vl_video_tokens() -> None:
    # 8 frames of 640×480, video bounds 128·28²..768·28² px per frame: 480/28 = 17.1 → 17 (476 px),
    # 640/28 = 22.9 → 23 (644 px) → 476·644 = 306,544 px (inside); temporal patch 2 → 4 × (17·23 = 391) tokens.
    m = media_tokens(config("qwen2-vl-7b"), images=0, width=640, height=480, video_frames=8)
    assert m.llm_tokens == 4 * 391 + 2
    assert m.encoder_positions == {"vision": 4 * 391 * 4}


def test_qwen3_vl_image_tokens() -> None:
    # Patch 16 × merge 2 → factor 32: 1024×1024 stays 1024×1024 → 32·32 = 1024 tokens; 64·64 = 4096 patches.
    m = media_tokens(config("qwen3-vl-8b"), 1, 1024, 1024)
    assert (m.llm_tokens, m.encoder_positions["vision"]) == (1024 + 2, 4096)


def test_qwen2_audio_tokens() -> None:
    # Qwen2-Audio: 30 s → 3000 frames → (3000 − 1)//2 + 1 = 1500 → (1500 − 2)//2 + 1 = 750 tokens (25 per second).
    q = media_tokens(config("qwen2-audio-7b"), images=0, audio_seconds=30)
    assert q.llm_tokens == 750
    assert q.encoder_positions == {"audio": 1500}
    # 10 s → 1000 frames → 500 → 250.
    assert media_tokens(config("qwen2-audio-7b"), images=0, audio_seconds=10).llm_tokens == 250
