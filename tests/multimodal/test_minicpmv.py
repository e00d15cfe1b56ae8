"""MiniCPM-V image slicing (multimodal/minicpmv.py), derived by hand from the remote image processor."""

from __future__ import annotations

from mm_catalog import config

from vram_insight.multimodal import media_tokens


def test_minicpm_v_slices() -> None:
    # 1024×1024: area / 448² = 5.2 → multiple 6; candidates 5, 6, 7 slices; the closest log-aspect grids are 2×3
    # and 3×2 (|log 1.5|): the original code's float comparison keeps 3 cols × 2 rows → 6 slices + overview =
    # 7 × 64 tokens; markers <image_id>k</image_id> 3 + <image>/<slice> pairs 7·2 + 1 newline between rows.
    assert media_tokens(config("minicpm-v-2.6"), 1, 1024, 1024).llm_tokens == 7 * 64 + 3 + 14 + 1
    # 448×448: multiple 1 → no slicing: 64 tokens + 2 + 3.
    assert media_tokens(config("minicpm-v-2.6"), 1, 448, 448).llm_tokens == 64 + 5
