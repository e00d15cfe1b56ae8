"""The package's entry points across families: which configs are multimodal, that every catalog multimodal
model splits, inputs a model cannot take, and token counts that never fall as media grow."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
from mm_catalog import MODELS, MULTIMODAL_IDS, config

from vram_insight.arch import parse_config
from vram_insight.multimodal import is_multimodal, media_tokens, split_multimodal


def test_text_only_config_has_no_towers() -> None:
    cfg = {"model_type": "llama", "hidden_size": 512, "intermediate_size": 1024, "num_hidden_layers": 2,
           "num_attention_heads": 8, "vocab_size": 1000}  # fmt: skip
    s = split_multimodal(cfg)
    assert not is_multimodal(cfg)
    assert s.towers == [] and s.projector_params == 0
    assert s.lm == parse_config(cfg)
    assert media_tokens(cfg, images=2).llm_tokens == 0


def test_every_catalog_multimodal_model_splits() -> None:
    for path in sorted(MODELS.glob("*.json")):
        entry = json.loads(path.read_text())
        if entry["kind"] != "multimodal":
            continue
        s = split_multimodal(entry["config"])
        assert s.towers, entry["id"]
        assert all(t.params > 0 and t.layers > 0 and t.hidden > 0 for t in s.towers), entry["id"]


def test_unsupported_inputs_are_ignored_with_a_note() -> None:
    m = media_tokens(config("llava-1.5-7b"), images=0, audio_seconds=20)
    assert m.llm_tokens == 0
    assert any(n.code == "media.ignored_audio" and "audio ignored" in n.text for n in m.notes)


@pytest.mark.parametrize("model_id", MULTIMODAL_IDS)
def test_more_media_never_fewer_tokens(model_id: str) -> None:
    cfg = config(model_id)
    s = split_multimodal(cfg)

    def tokens(images: int = 1, w: int = 640, h: int = 480, frames: int = 0, seconds: float = 0.0) -> tuple:
        m = media_tokens(cfg, images, w, h, frames, seconds, spec=s)
        return m.llm_tokens, sum(m.encoder_positions.values()), m.cross_attention_positions

    def not_fewer(a: tuple, b: tuple) -> bool:
        return all(y >= x for x, y in zip(a, b, strict=True))

    for n in range(4):
        assert not_fewer(tokens(images=n), tokens(images=n + 1))
    # Phi-4-multimodal's processor re-fits images needing more than 36 crops into the closest aspect grid of
    # ≤ 36 crops, so very large images can get fewer tokens (see test_phi4_crop_limit); stop below that.
    scales = [8, 32, 64, 128, 256, 512] + ([] if model_id == "phi-4-multimodal" else [1024])
    for aspect in ((1, 1), (4, 3), (3, 4), (16, 9)):
        sizes = [tokens(w=aspect[0] * k, h=aspect[1] * k) for k in scales]
        assert all(not_fewer(a, b) for a, b in pairwise(sizes)), aspect
    frames = [tokens(images=0, frames=f) for f in (0, 2, 4, 8, 32)]
    assert all(not_fewer(a, b) for a, b in pairwise(frames))
    audio = [tokens(images=0, seconds=t) for t in (0, 1, 10, 30, 31, 90)]
    assert all(not_fewer(a, b) for a, b in pairwise(audio))
