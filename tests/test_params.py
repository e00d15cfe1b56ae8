"""Parameter counts against published figures (formulas.md §A.3; each catalog entry's official_params_source)."""

import pytest

from vram_insight.arch import parse_config
from vram_insight.catalog import load_catalog
from vram_insight.estimate import resolve_model
from vram_insight.params import count_params
from vram_insight.schemas import EstimateRequest

CATALOG = load_catalog()
WITH_COUNTS = sorted(m.id for m in CATALOG.models.values() if m.official_params)


def in_memory_total(model_id: str) -> int:
    model = resolve_model(EstimateRequest(model=model_id, gpu=None))
    total = count_params(model.arch).total
    if model.multimodal is not None:
        mm = model.multimodal
        total += sum(t.params for t in mm.towers) + mm.projector_params + sum(mm.other_params.values())
    return total


@pytest.mark.parametrize("model_id", WITH_COUNTS)
def test_catalog_total_matches_published_count(model_id: str) -> None:
    entry = CATALOG.model(model_id)
    expected = entry.official_params - entry.official_params_adjustment
    got = in_memory_total(model_id)
    assert abs(got - expected) <= expected * 0.001, f"{model_id}: {got:,} vs published {expected:,}"


# (model, exact total, active or None): HF safetensors totals / model cards quoted in formulas.md §A.3.
EXACT = [
    ("llama-2-7b", 6_738_415_616, None),
    ("llama-3.1-8b", 8_030_261_248, None),
    ("llama-3.1-70b", 70_553_706_496, None),
    ("llama-3.1-405b", 405_853_388_800, None),
    ("qwen2.5-7b", 7_615_616_512, None),
    ("qwen2.5-32b", 32_763_876_352, None),
    ("qwen3-32b", 32_762_123_264, None),
    ("qwen3-30b-a3b", 30_532_122_624, 3_353_032_704),
    ("mixtral-8x7b", 46_702_792_704, 12_879_925_248),
    ("gemma-2b", 2_506_172_416, None),
    ("phi-3-mini-4k", 3_821_079_552, None),
    ("chatglm3-6b", 6_243_584_000, None),
    ("deepseek-v3", 671_026_419_200, 37_552_297_472),
    ("gpt-oss-20b", 20_914_757_184, None),
]


@pytest.mark.parametrize(("model_id", "total", "active"), EXACT)
def test_exact_counts(model_id: str, total: int, active: int | None) -> None:
    pc = count_params(parse_config(CATALOG.model(model_id).config))
    assert pc.total == total
    if active is not None:
        assert pc.active == active


def test_catalog_size_and_required_models() -> None:
    models = CATALOG.models
    assert len(models) >= 90
    assert sum(m.kind == "multimodal" for m in models.values()) >= 20
    for required in ("qwen2.5-0.5b", "qwen2.5-72b", "qwen3-0.6b", "qwen3-235b-a22b", "deepseek-r1", "llama-3.1-405b",
                     "llama-2-70b", "chatglm3-6b", "mistral-7b-v0.1", "mixtral-8x7b", "gemma-2b", "phi-3-mini-4k",
                     "codellama-34b", "qwen2.5-vl-7b", "llava-1.5-7b", "whisper-large-v3"):  # fmt: skip
        assert required in models, required
    assert len(CATALOG.gpus) >= 40


def test_glm4_hf_format_matches_chatglm_format() -> None:
    # THUDM/glm-4-9b-chat-hf re-publishes GLM-4-9B as model_type "glm" (qkv bias via attention_bias, no o bias);
    # same tensors as the chatglm-format checkpoint: 9,399,951,392 published − 32 stored inv_freq values.
    hf_format = {"model_type": "glm", "hidden_size": 4096, "intermediate_size": 13696, "num_hidden_layers": 40,
                 "num_attention_heads": 32, "num_key_value_heads": 2, "head_dim": 128, "vocab_size": 151552,
                 "attention_bias": True, "tie_word_embeddings": False}  # fmt: skip
    assert count_params(parse_config(hf_format)).total == 9_399_951_360


def test_unknown_model_type_is_read_as_generic_decoder() -> None:
    cfg = {"model_type": "brand_new_lm", "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 2,
           "num_attention_heads": 8, "vocab_size": 1000}  # fmt: skip
    a = parse_config(cfg)
    assert any("generic" in note.text for note in a.assumptions)
    # untied embed + head, 2 × (4·1024² attention + 3·1024·4096 gated MLP + 2·1024 norms) + final norm
    assert count_params(a).total == 2 * 1_024_000 + 2 * (4 * 1024**2 + 3 * 1024 * 4096 + 2048) + 1024


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"model_type": "llama"}, "hidden_size"),
        (
            {
                "model_type": "llama",
                "hidden_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 3,
                "num_key_value_heads": 2,
                "vocab_size": 10,
            },
            "multiple",
        ),
        (
            {
                "model_type": "llama",
                "hidden_size": -5,
                "num_hidden_layers": 2,
                "num_attention_heads": 1,
                "vocab_size": 10,
            },
            "hidden_size must be at least 1",
        ),
    ],
)
def test_bad_configs_raise_clear_errors(cfg: dict, message: str) -> None:
    from vram_insight.arch import ConfigError

    with pytest.raises(ConfigError, match=message):
        parse_config(cfg)
