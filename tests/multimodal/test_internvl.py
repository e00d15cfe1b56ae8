"""InternVL dynamic tiling (multimodal/internvl.py), derived by hand from the model card's preprocessing."""

from __future__ import annotations

from mm_catalog import config

from vram_insight.multimodal import media_tokens


def test_internvl_dynamic_tiles() -> None:
    # 1024×1024 (aspect 1): grids 1×1, 2×2, 3×3 tie; larger wins while the image has > ½ of its pixels
    # (1,048,576 > 0.5·448²·9 = 903,168) → 3×3 + thumbnail = 10 tiles × 256 + <img></img>.
    m = media_tokens(config("internvl2.5-8b"), 1, 1024, 1024)
    assert m.llm_tokens == 10 * 256 + 2
    assert m.encoder_positions == {"vision": 10 * 1025}
    # 448×448 → one tile, no thumbnail.
    assert media_tokens(config("internvl2.5-8b"), 1, 448, 448).llm_tokens == 256 + 2
