"""LLaVA-1.5, LLaVA-NeXT, LLaVA-OneVision and Pixtral image → token rules (multimodal/llava.py), derived by hand
from the published preprocessing rules."""

from __future__ import annotations

from mm_catalog import config

from vram_insight.multimodal import media_tokens, select_best_resolution


def test_llava_1_5_is_576_tokens_whatever_the_size() -> None:
    # CLIP ViT-L/14 @336: (336/14)² = 576 patch features (CLS dropped by the 'default' strategy); 577 positions.
    for w, h in ((336, 336), (1024, 768), (4000, 100)):
        m = media_tokens(config("llava-1.5-7b"), 1, w, h)
        assert m.llm_tokens == 576
        assert m.encoder_positions == {"vision": 577}
    assert media_tokens(config("llava-1.5-7b"), 3, 640, 480).llm_tokens == 3 * 576


def test_llava_next_anyres_tokens() -> None:
    # 1024×1024: best pinpoint 672×672 (2×2 tiles) → grid 48×48 = 2304 + 48 newlines + 576 base = 2928
    # (jsonl token_rules: "Upper bound for 672x672: 576 + 48*48 + 48 = 2928"); ViT: 5 views × 577.
    m = media_tokens(config("llava-next-7b"), 1, 1024, 1024)
    assert m.llm_tokens == 2928
    assert m.encoder_positions == {"vision": 5 * 577}
    # 800×600 (4:3): 672×672 keeps the most pixels (scale 0.84 → 672×504); 48×48 grid, letterbox removed:
    # new height = 600·48/800 = 36, padding (48−36)/2 = 6 per side → 36×48 = 1728 + 36 newlines + 576 = 2340.
    assert media_tokens(config("llava-next-7b"), 1, 800, 600).llm_tokens == 2340
    pinpoints = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]
    assert select_best_resolution(600, 800, pinpoints) == (672, 672)


def test_llava_onevision_anyres_max_9() -> None:
    # 1024×1024 → pinpoint 1152×1152 (3×3 crops of 384): grid 81×81 = 6561 + 81 newlines + 729 base = 7371;
    # √(81·81 / (9·27²)) = 1.0 ≤ 1.1 → no downscale. Video: 8 frames × ⌈27/2⌉² = 196 + 1 newline.
    assert media_tokens(config("llava-onevision-7b"), 1, 1024, 1024).llm_tokens == 7371
    assert media_tokens(config("llava-onevision-7b"), 0, 384, 384, video_frames=8).llm_tokens == 8 * 196 + 1


def test_pixtral_row_breaks() -> None:
    # 1024×1024 at 16 px → 64 rows × (64 + [IMG_BREAK]) = 4160; 2048×1024 is halved to 1024×512 → 32 × 65 = 2080.
    assert media_tokens(config("pixtral-12b"), 1, 1024, 1024).llm_tokens == 64 * 65
    assert media_tokens(config("pixtral-12b"), 1, 2048, 1024).llm_tokens == 32 * 65
