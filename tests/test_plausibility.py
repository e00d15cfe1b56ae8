"""Impossible inputs are warned about, not passed silently (issue 12 item 4)."""

from vram_insight import EstimateRequest, estimate

TINY = {
    "model_type": "qwen2", "hidden_size": 512, "intermediate_size": 1024, "num_attention_heads": 8,
    "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 1000, "max_position_embeddings": 32768,
}  # fmt: skip


def warnings(**kw) -> list[str]:
    return [w.text for w in estimate(EstimateRequest(**kw)).warnings]


def test_the_ten_million_token_context_of_the_issue_warns_twice() -> None:
    w = warnings(model="llama-3.1-8b", seq_len=10_000_000)
    assert any("131,072 tokens" in x for x in w)  # Llama 3.1's released context
    assert any("largest GPU in the catalog" in x for x in w)


def test_context_within_the_release_is_quiet_and_one_past_it_warns() -> None:
    assert warnings(model="llama-3.1-8b", seq_len=131_072) == []
    assert any("exceed" in x for x in warnings(model="llama-3.1-8b", seq_len=131_073))


def test_custom_config_context_counts_rope_scaling() -> None:
    yarn = dict(TINY, rope_scaling={"type": "yarn", "factor": 4, "original_max_position_embeddings": 32768})
    assert warnings(model=None, config=yarn, seq_len=131_072) == []  # 32,768 × 4
    assert any("131,072" in x for x in warnings(model=None, config=yarn, seq_len=131_073))
    assert any("32,768" in x for x in warnings(model=None, config=TINY, seq_len=40_000))


def test_grpo_counts_prompt_plus_completion() -> None:
    # Qwen2.5-1.5B is released for 32,768 tokens.
    base = dict(model="qwen2.5-1.5b", mode="grpo", batch_size=8, gpu=None)
    assert not any("exceed" in x for x in warnings(**base, prompt_len=16_384, completion_len=16_384))
    assert any("32,769 tokens" in x for x in warnings(**base, prompt_len=16_384, completion_len=16_385))


def test_lora_rank_as_large_as_the_hidden_size_warns() -> None:
    assert any("rank 512" in x for x in warnings(model=None, config=TINY, mode="finetune", lora_rank=512))
    assert not any("rank" in x for x in warnings(model=None, config=TINY, mode="finetune", lora_rank=511))
