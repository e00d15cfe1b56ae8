"""GRPO/DPO as TRL counts them (trl/trainer/grpo_config.py: per_device_train_batch_size counts completions;
generation_batch_size = per_device_train_batch_size × num_processes × steps_per_generation)."""

from vram_insight import EstimateRequest, estimate
from vram_insight.cli import main

# Qwen2.5-1.5B: 28 layers, 2 KV heads × head_dim 128 → K and V of one token: 2 × 28 × 2 × 128 × 2 B = 28,672 B.
KV_PER_TOKEN = 2 * 28 * 2 * 128 * 2


def grpo(**kw):
    base = dict(
        model="qwen2.5-1.5b", mode="grpo", num_generations=8, prompt_len=512, completion_len=256, gpu=None
    )
    return estimate(EstimateRequest(**{**base, **kw}))


def test_rollout_generates_steps_per_generation_micro_batches() -> None:
    # per_device_train_batch_size 8 with gradient_accumulation_steps 2: one generate() call makes 16 completions.
    r = grpo(batch_size=8, grad_accum=2)
    rollout_kv = r.details["phase_breakdown"]["rollout"]["kv_cache"]
    assert rollout_kv == 16 * (512 + 256) * KV_PER_TOKEN


def test_batch_counts_completions_not_prompts() -> None:
    # 8 completions of one prompt (k = 8) and 8 completions of two prompts (k = 4) are the same memory.
    assert (
        grpo(batch_size=8).peak_allocated_bytes == grpo(batch_size=8, num_generations=4).peak_allocated_bytes
    )
    assert grpo(batch_size=16).peak_allocated_bytes > grpo(batch_size=8).peak_allocated_bytes


def test_trl_divisibility_rule_is_a_warning() -> None:
    assert any("generation_batch_size" in w.text for w in grpo(batch_size=4).warnings)
    assert not grpo(batch_size=8).warnings
    assert not grpo(batch_size=4, gpus=2, zero=2).warnings  # 4 × 2 processes = 8


def test_cli_takes_trls_flag_name(capsys) -> None:
    argv = ["estimate", "-m", "qwen2.5-1.5b", "--mode", "grpo", "--json", "--gpu", "rtx-4090"]
    assert main([*argv, "--per-device-train-batch-size", "8"]) == 0
    with_flag = capsys.readouterr().out
    assert main([*argv, "--batch-size", "8"]) == 0
    assert capsys.readouterr().out == with_flag
