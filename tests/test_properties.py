"""Property tests: memory never decreases when batch/context/rank grows, and valid inputs never crash."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vram_insight.estimate import estimate
from vram_insight.schemas import EstimateRequest

MODELS = [
    "qwen2.5-0.5b",
    "llama-3.1-8b",
    "mixtral-8x7b",
    "gemma-2-27b",
    "deepseek-v2",
    "gpt-oss-20b",
    "phi-3-mini-4k",
]
MODES = ["inference", "finetune", "training", "grpo"]
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def total(**kw) -> int:
    return estimate(EstimateRequest(gpu=None, **kw)).total_bytes


@FAST
@given(st.sampled_from(MODELS), st.sampled_from(MODES), st.integers(1, 64), st.integers(16, 16384))
def test_monotonic_in_batch(model: str, mode: str, batch: int, seq: int) -> None:
    assert total(model=model, mode=mode, batch_size=batch, seq_len=seq) <= total(
        model=model, mode=mode, batch_size=batch + 1, seq_len=seq
    )


@FAST
@given(st.sampled_from(MODELS), st.sampled_from(MODES), st.integers(1, 8), st.integers(16, 16384),
       st.sampled_from(["sdpa", "eager"]))  # fmt: skip
def test_monotonic_in_context(model: str, mode: str, batch: int, seq: int, attention: str) -> None:
    assert total(model=model, mode=mode, batch_size=batch, seq_len=seq, attention=attention) <= total(
        model=model, mode=mode, batch_size=batch, seq_len=seq + 64, attention=attention
    )


@FAST
@given(st.sampled_from(MODELS), st.integers(1, 256), st.sampled_from(["default", "all-linear"]))
def test_monotonic_in_lora_rank(model: str, rank: int, targets: str) -> None:
    kw = {"model": model, "mode": "finetune", "method": "lora", "lora_targets": targets}
    assert total(lora_rank=rank, **kw) <= total(lora_rank=rank + 1, **kw)


@FAST
@given(
    st.sampled_from([*MODELS, "qwen3-30b-a3b", "llama-4-scout-17b-16e"]),
    st.sampled_from(MODES),
    st.integers(1, 4096),
    st.integers(1, 1 << 20),
    st.sampled_from(["bf16", "fp8", "int4", "nf4", "fp32"]),
    st.sampled_from(["fp32", "bf16", "amp-bf16"]),
    st.sampled_from(["adamw", "adamw-8bit", "sgd", "sgd-momentum", "adafactor", "lion"]),
    st.sampled_from(["none", "selective", "full"]),
    st.sampled_from([(1, 1, 1, 0), (8, 8, 1, 0), (8, 1, 1, 3), (16, 2, 2, 1)]),
)
def test_valid_inputs_never_crash(model, mode, batch, seq, weights, precision, optimizer, ckpt, par) -> None:
    gpus, tp, pp, zero = par
    res = estimate(EstimateRequest(model=model, mode=mode, batch_size=batch, seq_len=seq, weights=weights,
                                   precision=precision, optimizer=optimizer, grad_checkpointing=ckpt, gpus=gpus,
                                   tp=tp, pp=pp, zero=zero, gpu=None))  # fmt: skip
    assert res.total_bytes == sum(res.components.values())
    assert res.peak_allocated_bytes > 0
    for key in ("weights", "kv_cache", "activations", "gradients", "optimizer", "overhead"):
        assert key in res.components and res.components[key] >= 0
