"""Multimodal towers: exact parameter counts, media → token rules, tower activations.

Expected parameter counts are copied from independent measurements, never from this code's output:
``params_computed`` / ``tower_params`` of shared/reference/model-configs-multimodal.jsonl (meta-device
instantiation with transformers 5.24.0, unique parameters) or a published total (``official_params``: HF
safetensors totals and similar, quoted with their source there and in the catalog files). Token counts are
derived by hand from the published preprocessing rules; each derivation is written next to its value.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from vram_insight.arch import ConfigError, parse_config
from vram_insight.params import count_params
from vram_insight.towers import (
    MultimodalSpec,
    is_multimodal,
    media_tokens,
    select_best_resolution,
    smart_resize,
    split_multimodal,
    tower_activation_bytes,
)

MODELS = Path(__file__).resolve().parents[1] / "data" / "models"


def config(model_id: str) -> dict:
    """The catalog's config.json fields (the same dicts as the reference jsonl records)."""
    return json.loads((MODELS / f"{model_id}.json").read_text())["config"]


def spec(model_id: str) -> MultimodalSpec:
    return split_multimodal(config(model_id))


# ---------------------------------------------------------------------------------------------------------------
# Exact totals: count_params(lm).total + Σ towers + projector + other

TOTALS = [
    # id, expected total, where the number comes from
    ("qwen2.5-vl-3b", 3_754_622_976, "jsonl params_computed; = EXPECTED_PARAMS of Qwen2.5-VL-3B loads"),
    ("qwen2.5-vl-7b", 8_292_166_656, "jsonl official_params: HF Hub numParameters"),
    ("qwen2.5-vl-72b", 73_410_777_344, "jsonl params_computed (reconstructed config)"),
    ("qwen2-vl-7b", 8_291_375_616, "jsonl official_params: HF safetensors BF16 parameter_count"),
    ("qwen2-audio-7b", 8_397_094_912, "jsonl official_params"),
    ("qwen2.5-omni-7b", 8_931_813_888, "jsonl tower_params.thinker_total_computed (thinker only)"),
    ("llava-1.5-7b", 7_063_427_072, "jsonl official_params: safetensors header audit"),
    ("llava-1.5-13b", 13_351_494_656, "jsonl params_computed"),
    ("llava-next-7b", 7_566_747_648, "jsonl params_computed"),
    ("llava-next-34b", 34_752_083_968, "jsonl params_computed"),
    ("llava-onevision-7b", 8_030_807_584, "jsonl params_computed"),
    ("idefics2-8b", 8_402_768_112, "jsonl params_computed"),
    ("idefics3-8b", 8_462_086_384, "jsonl params_computed"),
    ("llama-3.2-11b-vision", 10_670_220_835, "jsonl official_params: HF safetensors total"),
    ("llama-3.2-90b-vision", 88_593_355_323, "jsonl params_computed"),
    ("gemma-3-4b", 4_300_079_472, "jsonl official_params"),
    ("gemma-3-12b", 12_187_325_040, "jsonl official_params"),
    ("gemma-3-27b", 27_432_406_640, "jsonl official_params"),
    ("paligemma-3b", 2_923_466_480, "jsonl official_params"),
    ("pixtral-12b", 12_682_739_712, "jsonl params_computed"),
    ("internvl2.5-8b", 8_075_365_376, "jsonl official_params: HF safetensors BF16 parameter_count"),
    # jsonl official_params 8,099,175,152 (HF safetensors); its params_computed 8,099,175,552 is a hand estimate
    # of the remote-code resampler 400 too high — q·h + kv_proj + MultiheadAttention + 3 LayerNorm + proj
    # = 229,376 + 4,128,768 + 51,394,560 + 21,504 + 12,845,056 = 68,619,264 closes the official total exactly.
    ("minicpm-v-2.6", 8_099_175_152, "jsonl official_params: HF safetensors BF16 parameter_count"),
    ("phi-3.5-vision", 4_146_621_440, "jsonl official_params: HF safetensors BF16 parameter_count"),
    ("whisper-large-v3", 1_543_490_560, "jsonl official_params: safetensors.total"),
    ("whisper-medium", 763_857_920, "jsonl official_params"),
    ("whisper-small", 241_734_912, "jsonl official_params: safetensors header sum"),
    ("nougat-base", 297_487_992, "jsonl params_computed (lm_head tied, as the config implies)"),
    ("florence-2-large", 770_173_952, "jsonl params_computed"),
    ("clip-vit-large-patch14-336", 427_944_193, "jsonl official_params: keras-hub preset"),
    ("siglip-so400m-patch14-384", 877_960_498, "jsonl official_params: mteb ModelMeta"),
    # Beyond the multimodal jsonl: published totals quoted in the catalog / text jsonl.
    ("llama-4-maverick-17b-128e", 401_583_781_376, "text jsonl official_params: HF API safetensors total"),
    ("qwen3-vl-2b", 2_127_532_032, "catalog official_params: HF API safetensors.total"),
    ("qwen3-vl-8b", 8_767_123_696, "catalog official_params: HF API safetensors.total"),
    ("qwen2-vl-2b", 2_208_985_600, "catalog official_params"),
    ("internvl3-1b", 938_193_024, "catalog official_params"),
    ("internvl3-2b", 2_088_957_440, "catalog official_params"),
    ("internvl3-8b", 7_944_373_760, "catalog official_params"),
]


@pytest.mark.parametrize(("model_id", "expected", "source"), TOTALS, ids=[t[0] for t in TOTALS])
def test_total_parameters_exact(model_id: str, expected: int, source: str) -> None:
    s = spec(model_id)
    assert s.total_params == expected, source
    assert s.total_params == count_params(s.lm).total + s.tower_params + s.projector_params + sum(
        s.other_params.values()
    )


# Per-tower values: jsonl tower_params (meta-device counts of the tower module alone).
TOWERS = [
    ("qwen2.5-vl-3b", "vision", 631_975_680),
    ("qwen2.5-vl-72b", "vision", 636_401_664),
    ("qwen2-vl-7b", "vision", 631_183_360),
    ("qwen2-audio-7b", "audio", 636_968_960),
    ("qwen2.5-omni-7b", "audio", 639_647_232),
    ("qwen2.5-omni-7b", "vision", 631_975_680),
    ("llava-1.5-7b", "vision", 303_507_456),
    ("llava-onevision-7b", "vision", 397_747_744),
    ("idefics2-8b", "vision", 417_792_240),
    ("idefics3-8b", "vision", 412_926_192),
    ("llama-3.2-11b-vision", "vision", 863_567_379),
    ("gemma-3-4b", "vision", 416_866_032),
    ("paligemma-3b", "vision", 412_442_352),
    ("pixtral-12b", "vision", 403_489_792),
    ("internvl2.5-8b", "vision", 304_012_288),
    ("minicpm-v-2.6", "vision", 417_792_240),
    ("phi-3.5-vision", "vision", 303_507_456),
    ("phi-4-multimodal", "vision", 428_565_440),
    ("whisper-large-v3", "audio", 636_968_960),
    ("whisper-medium", "audio", 307_216_384),
    ("whisper-small", "audio", 88_154_112),
    ("nougat-base", "vision", 74_120_824),
    ("florence-2-large", "vision", 360_632_320),
    ("clip-vit-large-patch14-336", "vision", 303_507_456),
    ("siglip-so400m-patch14-384", "vision", 428_225_600),
]


@pytest.mark.parametrize(("model_id", "tower", "expected"), TOWERS, ids=[f"{t[0]}-{t[1]}" for t in TOWERS])
def test_tower_parameters_exact(model_id: str, tower: str, expected: int) -> None:
    t = spec(model_id).tower(tower)
    assert t is not None
    assert t.params == expected


PROJECTORS = [  # jsonl tower_params "projector"
    ("qwen2.5-vl-3b", 36_708_608),
    ("qwen2.5-vl-7b", 44_574_464),
    ("qwen2.5-vl-72b", 68_172_032),
    ("qwen2-vl-7b", 44_575_744),
    ("qwen2-audio-7b", 5_246_976),
    ("llava-1.5-7b", 20_979_712),
    ("llava-1.5-13b", 31_467_520),
    ("llava-next-7b", 20_983_808),  # includes the image_newline vector
    ("llava-next-34b", 58_741_760),
    ("llava-onevision-7b", 16_984_576),
    ("idefics2-8b", 743_219_200),  # modality projection + perceiver resampler
    ("idefics3-8b", 18_874_368),
    ("llama-3.2-11b-vision", 31_461_376),
    ("llama-3.2-90b-vision", 62_922_752),
    ("gemma-3-4b", 2_950_272),
    ("gemma-3-12b", 4_424_832),
    ("gemma-3-27b", 6_194_304),
    ("paligemma-3b", 2_361_344),
    ("pixtral-12b", 31_467_520),
    ("internvl2.5-8b", 33_570_816),
    ("phi-3.5-vision", 22_034_432),
    ("phi-4-multimodal", 12_984_576 + 25_178_112),  # vision projector + 2 audio projections
    ("florence-2-large", 2_201_600),
]


@pytest.mark.parametrize(("model_id", "expected"), PROJECTORS, ids=[p[0] for p in PROJECTORS])
def test_projector_parameters_exact(model_id: str, expected: int) -> None:
    assert spec(model_id).projector_params == expected


LANGUAGE_MODELS = [  # jsonl tower_params: language_model (+ lm_head when listed separately)
    ("qwen2.5-vl-7b", 7_070_619_136 + 544_997_376),
    ("qwen2-audio-7b", 7_115_771_904 + 639_107_072),
    ("llava-1.5-7b", 6_607_605_760 + 131_334_144),
    ("idefics3-8b", 7_504_936_960 + 525_348_864),
    ("llama-3.2-11b-vision", 9_249_855_504 + 525_336_576),
    ("gemma-3-27b", 27_009_346_304),
    ("pixtral-12b", 11_576_693_760 + 671_088_640),
    ("internvl2.5-8b", 7_737_782_272),
    ("minicpm-v-2.6", 7_612_763_648),
    ("phi-4-multimodal", 3_836_021_760),
    ("whisper-large-v3", 906_521_600),  # decoder incl. tied embeddings
    ("nougat-base", 223_367_168),
    ("florence-2-large", 407_340_032),  # BART-style encoder + decoder
    ("clip-vit-large-patch14-336", 123_060_480),  # the text tower
    ("siglip-so400m-patch14-384", 449_734_896),
]


@pytest.mark.parametrize(("model_id", "expected"), LANGUAGE_MODELS, ids=[m[0] for m in LANGUAGE_MODELS])
def test_language_model_parameters_exact(model_id: str, expected: int) -> None:
    assert spec(model_id).lm_params == expected


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


def test_llama4_scout_vision_remainder() -> None:
    """Scout's text part is 107,769,861,120 (text jsonl, standard formula); a same-shape derivative's HF API total
    is 108,641,793,536 — the vision tower + projector remainder 871,932,416 (text jsonl notes)."""
    s = spec("llama-4-scout-17b-16e")
    assert s.lm_params == 107_769_861_120
    assert s.total_params == 108_641_793_536


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


def test_mllama_cross_attention_layers_flagged() -> None:
    s = spec("llama-3.2-11b-vision")
    assert s.cross_attention == "interleaved"
    cross = [i for i, layer in enumerate(s.lm.layers) if layer.cross_attention]
    assert cross == [3, 8, 13, 18, 23, 28, 33, 38]  # config text_config.cross_attention_layers


def test_encoder_decoders_cross_attend_in_every_layer() -> None:
    for model_id in ("whisper-small", "nougat-base", "florence-2-large"):
        s = spec(model_id)
        assert s.cross_attention == "every_layer"
        assert all(layer.cross_attention for layer in s.lm.layers)


def test_unsupported_encoder_decoder_pair_is_a_clear_error() -> None:
    cfg = {
        "model_type": "vision-encoder-decoder",
        "encoder": {"model_type": "vit"},
        "decoder": {"model_type": "gpt2"},
    }
    with pytest.raises(ConfigError, match="not supported"):
        split_multimodal(cfg)


# ---------------------------------------------------------------------------------------------------------------
# Media → tokens (hand-derived from the published preprocessing rules)


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


def test_idefics_tokens() -> None:
    # Idefics2: 4 crops + the original, 64 perceiver latents each → 320 image tokens (+ a fake token around each).
    m = media_tokens(config("idefics2-8b"), 1, 1024, 1024)
    assert m.llm_tokens == 5 * 64 + 5 * 2
    # Idefics3: longest edge → 1456 = 4·364 → 4×4 tiles + global view, 169 tokens each → 17·169 = 2873 image
    # tokens + markers (2 per tile, a newline per row, "\n<fake><global-img>…<fake>").
    m3 = media_tokens(config("idefics3-8b"), 1, 1024, 1024)
    assert m3.llm_tokens == 17 * 169 + 16 * 2 + 4 + 4
    assert m3.encoder_positions == {"vision": 17 * 676}


def test_gemma3_paligemma_fixed_tokens() -> None:
    # Gemma 3: 896 px → 64² patches → 4×4 pool → 256 tokens (+ "\n\n<start_of_image>" … "<end_of_image>\n\n").
    g = media_tokens(config("gemma-3-4b"), 2, 3000, 2000)
    assert g.llm_tokens == 2 * (256 + 4)
    assert g.encoder_positions == {"vision": 2 * 4096}
    # PaliGemma-224: (224/14)² = 256 tokens.
    assert media_tokens(config("paligemma-3b"), 1, 640, 480).llm_tokens == 256


def test_pixtral_row_breaks() -> None:
    # 1024×1024 at 16 px → 64 rows × (64 + [IMG_BREAK]) = 4160; 2048×1024 is halved to 1024×512 → 32 × 65 = 2080.
    assert media_tokens(config("pixtral-12b"), 1, 1024, 1024).llm_tokens == 64 * 65
    assert media_tokens(config("pixtral-12b"), 1, 2048, 1024).llm_tokens == 32 * 65


def test_internvl_dynamic_tiles() -> None:
    # 1024×1024 (aspect 1): grids 1×1, 2×2, 3×3 tie; larger wins while the image has > ½ of its pixels
    # (1,048,576 > 0.5·448²·9 = 903,168) → 3×3 + thumbnail = 10 tiles × 256 + <img></img>.
    m = media_tokens(config("internvl2.5-8b"), 1, 1024, 1024)
    assert m.llm_tokens == 10 * 256 + 2
    assert m.encoder_positions == {"vision": 10 * 1025}
    # 448×448 → one tile, no thumbnail.
    assert media_tokens(config("internvl2.5-8b"), 1, 448, 448).llm_tokens == 256 + 2


def test_minicpm_v_slices() -> None:
    # 1024×1024: area / 448² = 5.2 → multiple 6; candidates 5, 6, 7 slices; the closest log-aspect grids are 2×3
    # and 3×2 (|log 1.5|): the original code's float comparison keeps 3 cols × 2 rows → 6 slices + overview =
    # 7 × 64 tokens; markers <image_id>k</image_id> 3 + <image>/<slice> pairs 7·2 + 1 newline between rows.
    assert media_tokens(config("minicpm-v-2.6"), 1, 1024, 1024).llm_tokens == 7 * 64 + 3 + 14 + 1
    # 448×448: multiple 1 → no slicing: 64 tokens + 2 + 3.
    assert media_tokens(config("minicpm-v-2.6"), 1, 448, 448).llm_tokens == 64 + 5


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


def test_mllama_cross_attention_states() -> None:
    # One <|image|> token in the text; 4 tiles × ((560/14)² + 1 CLS) = 6404 cross-attention states; the ViT pads
    # each tile to a multiple of 8 (1608) and always runs all 4 tile slots.
    m = media_tokens(config("llama-3.2-11b-vision"), 2, 1024, 768)
    assert m.llm_tokens == 2
    assert m.cross_attention_positions == 2 * 6404
    assert m.encoder_positions == {"vision": 2 * 4 * 1608}


def test_llama4_tiles() -> None:
    # 1024² → smallest upscaling canvas 1344² = 4×4 tiles of 336 + a global tile → 17 × 144 (pixel shuffle ½ of
    # 24²) = 2448 + 16 separators + <|image_start|> <|image|> <|image_end|>.
    assert media_tokens(config("llama-4-scout-17b-16e"), 1, 1024, 1024).llm_tokens == 2448 + 16 + 3


def test_audio_rules() -> None:
    # Whisper: one 30 s window → 3000 mel frames → 1500 encoder positions; 45 s → 2 windows.
    w = media_tokens(config("whisper-large-v3"), images=0, audio_seconds=30)
    assert (w.llm_tokens, w.encoder_positions, w.cross_attention_positions) == (0, {"audio": 1500}, 1500)
    assert media_tokens(config("whisper-small"), images=0, audio_seconds=45).encoder_positions == {
        "audio": 3000
    }
    # Qwen2-Audio: 30 s → 3000 frames → (3000 − 1)//2 + 1 = 1500 → (1500 − 2)//2 + 1 = 750 tokens (25 per second).
    q = media_tokens(config("qwen2-audio-7b"), images=0, audio_seconds=30)
    assert q.llm_tokens == 750
    assert q.encoder_positions == {"audio": 1500}
    # 10 s → 1000 frames → 500 → 250.
    assert media_tokens(config("qwen2-audio-7b"), images=0, audio_seconds=10).llm_tokens == 250


def test_document_models() -> None:
    # Nougat: 896×672 page, Swin patch 4 → 224×168, three 2× merges → 28×21 = 588 states for cross-attention.
    n = media_tokens(config("nougat-base"), 1, 1000, 1400)
    assert (n.llm_tokens, n.cross_attention_positions) == (0, 588)
    # Florence-2: 768² → DaViT stride 32 → 24² = 576 + 1 pooled = 577 visual tokens.
    assert media_tokens(config("florence-2-large"), 1, 1024, 1024).llm_tokens == 577


def test_unsupported_inputs_are_ignored_with_a_note() -> None:
    m = media_tokens(config("llava-1.5-7b"), images=0, audio_seconds=20)
    assert m.llm_tokens == 0
    assert any("audio ignored" in n for n in m.notes)


MULTIMODAL_IDS = sorted(
    p.stem for p in MODELS.glob("*.json") if json.loads(p.read_text())["kind"] == "multimodal"
)


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


# ---------------------------------------------------------------------------------------------------------------
# Tower activations


def test_clip_tower_activation_by_hand() -> None:
    clip = spec("llava-1.5-7b").tower("vision")
    assert clip is not None
    h, i, a, s, layers = 1024, 4096, 16, 577, 24
    # Inference, SDPA: max(attention phase 6h, MLP phase 2h + 2i) per position, bf16.
    assert tower_activation_bytes(clip, s, 1, 2, "sdpa", False) == max(6 * h, 2 * h + 2 * i) * s * 2
    # Eager adds a·S scores per position; at the softmax op the scaled bf16 scores, their fp32 upcast and the fp32
    # softmax coexist (2 + 4 + 4 bytes; measured on the Qwen2.5-VL ViT, validation/results/cpu.jsonl infer-mm eager).
    assert tower_activation_bytes(clip, s, 1, 2, "eager", False) == max(
        6 * h * s * 2 + a * s * s * 10, (2 * h + 2 * i) * s * 2
    )
    # Training, no checkpointing, SDPA: 8h + 3i per position per layer (quick_gelu keeps fc1 out, the sigmoid and
    # the product) + a 4-byte log-sum-exp per head.
    per_layer = (8 * h + 3 * i) * s * 2 + 4 * a * s
    assert tower_activation_bytes(clip, s, 1, 2, "sdpa", True, "none") == layers * per_layer
    # Full checkpointing: each layer's input (h) + one layer's activations during its recompute.
    assert tower_activation_bytes(clip, s, 1, 2, "sdpa", True, "full") == layers * h * s * 2 + per_layer


# Bytes autograd saves for backward per encoder layer, measured once with torch.autograd.graph.saved_tensors_hooks
# around transformers 5.24 towers built from the catalog configs (bf16, CPU, 1 image; the difference between 2-
# and 1-layer towers, parameters excluded). Independent of this code.
MEASURED_SAVED_PER_LAYER = [
    # id, tower, positions, attention, measured bytes, allowed relative error
    ("llava-1.5-7b", "vision", 577, "sdpa", 23_675_464, 0.001),
    ("llava-1.5-7b", "vision", 577, "eager", 55_599_720, 0.001),
    ("siglip-so400m-patch14-384", "vision", 729, "sdpa", 26_039_880, 0.001),
    ("siglip-so400m-patch14-384", "vision", 729, "eager", 77_011_560, 0.001),
    ("pixtral-12b", "vision", 1024, "sdpa", 58_793_984, 0.001),  # 512×512 image
    ("pixtral-12b", "vision", 1024, "eager", 159_391_744, 0.001),
    ("whisper-small", "audio", 1500, "sdpa", 39_252_000, 0.07),
    ("whisper-small", "audio", 1500, "eager", 90_876_000, 0.001),
    ("qwen2.5-vl-7b", "vision", 1024, "sdpa", 67_411_968, 0.15),  # 448×448, full-attention block
    ("qwen2.5-vl-7b", "vision", 1024, "eager", 165_388_288, 0.05),
]


@pytest.mark.parametrize(
    ("model_id", "tower", "positions", "attention", "measured", "tolerance"),
    MEASURED_SAVED_PER_LAYER,
    ids=[f"{m[0]}-{m[3]}" for m in MEASURED_SAVED_PER_LAYER],
)
def test_training_activations_match_measured_saved_tensors(
    model_id: str, tower: str, positions: int, attention: str, measured: int, tolerance: float
) -> None:
    t = spec(model_id).tower(tower)
    assert t is not None
    one_layer = t.model_copy(
        update={"layers": 1, "attention": "full", "window": None, "full_attention_layers": 0}
    )
    predicted = tower_activation_bytes(one_layer, positions, 1, 2, attention, True, "none")
    assert abs(predicted - measured) <= tolerance * measured


def test_activation_orderings() -> None:
    for model_id in ("qwen2.5-vl-7b", "llava-next-7b", "whisper-small", "nougat-base", "phi-4-multimodal"):
        s = spec(model_id)
        m = media_tokens(config(model_id), 2, 1024, 768, 0, 20)
        for t in s.towers:
            pos = m.encoder_positions.get(t.name, 0)
            span = m.attention_span.get(t.name)
            if not pos:
                continue

            def act(
                attn: str, training: bool, ckpt: str = "none", batch: int = 1, t=t, pos=pos, span=span
            ) -> int:
                return tower_activation_bytes(t, pos, batch, 2, attn, training, ckpt, span=span)

            assert act("eager", False) >= act("sdpa", False) > 0
            assert (
                act("eager", True)
                >= act("sdpa", True)
                >= act("sdpa", True, "selective")
                >= act("sdpa", True, "full")
            )
            assert act("sdpa", True) >= act("sdpa", False)
            assert act("sdpa", True, batch=3) == 3 * act("sdpa", True)
    assert tower_activation_bytes(spec("whisper-small").towers[0], 0, 4, 2, "sdpa", True) == 0


def test_windowed_attention_is_cheaper_than_full_in_eager() -> None:
    t = spec("qwen2.5-vl-7b").tower("vision")
    assert t is not None and t.attention == "windowed" and t.window == 64 and t.full_attention_layers == 4
    full = t.model_copy(update={"attention": "full", "window": None, "full_attention_layers": 0})
    positions = 5476
    assert tower_activation_bytes(t, positions, 1, 2, "eager", True) < tower_activation_bytes(
        full, positions, 1, 2, "eager", True
    )
    # Exactly: 28 windowed layers keep a·s·64 softmax elements instead of a·s·s, 6 bytes each (fp32 + bf16).
    a = t.heads
    saved = 28 * a * positions * (positions - 64) * 6
    assert (
        tower_activation_bytes(full, positions, 1, 2, "eager", True)
        - tower_activation_bytes(t, positions, 1, 2, "eager", True)
        == saved
    )


def test_attention_span_shrinks_the_eager_term() -> None:
    clip = spec("llava-next-7b").tower("vision")
    assert clip is not None
    whole = tower_activation_bytes(clip, 5 * 577, 1, 2, "eager", True)
    per_view = tower_activation_bytes(clip, 5 * 577, 1, 2, "eager", True, span=577)
    assert per_view < whole
    assert whole - per_view == 24 * clip.heads * 5 * 577 * (5 * 577 - 577) * 6
