"""The site's presets (site/app/presets.json): each one fits the hardware it names, by the engine's own fit
verdict and with room to spare, or says in its name that it demonstrates a failure.

The margin guards against small changes of the capacity and overhead model (driver-reported capacities, an
allocator reserve in the card's number): a preset that fits by 2 % today would flip to "Does not fit" tomorrow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vram_insight import web_api
from vram_insight.catalog import load_catalog
from vram_insight.schemas import EstimateRequest

ROOT = Path(__file__).resolve().parents[1]
PRESETS: list[dict[str, Any]] = json.loads((ROOT / "site" / "app" / "presets.json").read_text("utf-8"))
I18N = {
    lang: json.loads((ROOT / "site" / "i18n" / f"{lang}.json").read_text("utf-8")) for lang in ("en", "zh-CN")
}
MODES = ("inference", "finetune", "training", "grpo", "multimodal")
# A preset must leave at least this share of the card free (required <= 90 % of the engine's capacity).
MIN_HEADROOM = 0.10
# What a failure demo's name says, per language (it must say so: issue 12, item 8).
FAILURE_WORDS = {"en": "does not fit", "zh-CN": "放不下"}


def preset_request(preset: dict[str, Any]) -> dict[str, Any]:
    """What site/app/fields.js presetRequest() builds: the engine's defaults + mode, model, GPU and `set`."""
    return {
        **EstimateRequest().model_dump(mode="json"),
        "mode": preset["mode"],
        "model": preset["model"],
        "gpu": preset["gpu"],
        **preset.get("set", {}),
    }


def fit_of(preset: dict[str, Any]) -> dict[str, Any]:
    reply = json.loads(web_api.call("quick", json.dumps(preset_request(preset))))
    assert reply["ok"], (preset["id"], reply.get("error"))
    fit = reply["result"]["fit"]
    assert fit is not None, preset["id"]
    return fit


def test_presets_are_well_formed() -> None:
    ids = [p["id"] for p in PRESETS]
    assert len(ids) == len(set(ids)), "duplicate preset ids"
    assert {p["mode"] for p in PRESETS} == set(MODES), "every tab has presets"
    allowed = set(EstimateRequest.model_fields) - {"mode", "model", "gpu", "config"}
    cat = load_catalog()
    for p in PRESETS:
        assert set(p) <= {"id", "mode", "model", "gpu", "set", "expect"}, p["id"]
        assert p.get("expect", "fits") in ("fits", "no_fit"), p["id"]
        assert set(p.get("set", {})) <= allowed, (p["id"], set(p.get("set", {})) - allowed)
        model = cat.model(p["model"])  # raises for an id that is not in the catalog
        assert (model.kind == "multimodal") == (p["mode"] == "multimodal"), p["id"]
        assert p["gpu"] in cat.gpus, p["id"]
        EstimateRequest.model_validate(preset_request(p))


@pytest.mark.parametrize("preset", PRESETS, ids=[p["id"] for p in PRESETS])
def test_preset_fits_its_named_hardware(preset: dict[str, Any]) -> None:
    fit = fit_of(preset)
    used = fit["required_bytes"] / fit["capacity_bytes"]
    if preset.get("expect", "fits") == "fits":
        assert fit["fits"], f"{preset['id']}: {used:.0%} of {fit['gpu_name']}"
        assert used <= 1 - MIN_HEADROOM, f"{preset['id']}: {used:.1%} of {fit['gpu_name']} leaves < 10 %"
    else:
        assert not fit["fits"], f"{preset['id']} is named a failure demo but fits ({used:.0%})"


@pytest.mark.parametrize("lang", sorted(I18N))
def test_every_preset_is_named_in_both_languages(lang: str) -> None:
    table = I18N[lang]
    for p in PRESETS:
        name = table.get(f"preset.{p['id']}")
        assert name, f"{lang}: preset.{p['id']} is missing"
        says_failure = FAILURE_WORDS[lang] in name.lower()
        assert says_failure == (p.get("expect") == "no_fit"), (lang, p["id"], name)
    stale = {k for k in table if k.startswith("preset.")} - {f"preset.{p['id']}" for p in PRESETS}
    assert not stale, f"{lang}: names of presets that no longer exist: {sorted(stale)}"
