"""The catalog's multimodal configs, shared by the tests of this folder."""

from __future__ import annotations

import json
from pathlib import Path

from vram_insight.multimodal import MultimodalSpec, split_multimodal

MODELS = Path(__file__).resolve().parents[2] / "data" / "models"


def config(model_id: str) -> dict:
    """The catalog's config.json fields (the same dicts as the reference jsonl records)."""
    return json.loads((MODELS / f"{model_id}.json").read_text())["config"]


def spec(model_id: str) -> MultimodalSpec:
    return split_multimodal(config(model_id))


MULTIMODAL_IDS = sorted(
    p.stem for p in MODELS.glob("*.json") if json.loads(p.read_text())["kind"] == "multimodal"
)
