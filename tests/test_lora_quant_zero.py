"""LoRA counts (PEFT print_trainable_parameters outputs), GGUF bpw (llama.cpp), ZeRO model states (ZeRO paper)."""

import pytest

from vram_insight.arch import parse_config
from vram_insight.catalog import load_catalog
from vram_insight.lora import lora_plan
from vram_insight.parallel import shard, sharding
from vram_insight.params import count_params
from vram_insight.quant import weight_bytes
from vram_insight.states import optimizer_state_bytes, precision_spec

CAT = load_catalog()


def arch(model_id: str):
    return parse_config(CAT.model(model_id).config)


def test_lora_llama2_7b_r8_qv() -> None:
    # "trainable params: 4,194,304 || all params: 6,738,415,616" (PEFT output quoted in many repos)
    assert lora_plan(arch("llama-2-7b"), 8, "q_proj,v_proj").trainable == 4_194_304


def test_lora_llama3_8b_r16_all_linear() -> None:
    # 32 × 16 × [2(4096+4096) + 2(4096+1024) + 3(4096+14336)] = 41,943,040
    assert lora_plan(arch("llama-3.1-8b"), 16, "all-linear").trainable == 41_943_040


def test_lora_default_targets_follow_peft() -> None:
    plan = lora_plan(arch("qwen2.5-7b"), 16, "default")
    assert plan.targets == ("q_proj", "v_proj")
    assert plan.trainable == 28 * 16 * ((3584 + 3584) + (3584 + 512))


def test_unknown_lora_target_is_an_error() -> None:
    with pytest.raises(ValueError, match="not in this model"):
        lora_plan(arch("llama-3.1-8b"), 16, "c_attn")


@pytest.mark.parametrize(
    ("model_id", "fmt", "measured_bpw"),
    [  # effective bpw of real GGUF files / llama.cpp QUANT_OPTIONS sizes (formulas.md §F.2)
        ("llama-3.1-8b", "q4_k_m", 4.90),
        ("llama-3.1-8b", "q8_0", 8.51),
        ("llama-2-7b", "q4_0", 4.54),
        ("qwen2.5-7b", "q4_k_m", 4.92),
        ("qwen3-32b", "q4_k_m", 4.83),
        ("llama-3.3-70b", "q4_k_m", 4.82),
    ],
)
def test_gguf_effective_bpw(model_id: str, fmt: str, measured_bpw: float) -> None:
    a = arch(model_id)
    wb = weight_bytes(a, count_params(a).components, fmt)
    assert wb.bits_per_weight == pytest.approx(measured_bpw, rel=0.01)


def test_nf4_llama_3_1_8b() -> None:
    # formulas.md §E.2: 6.98B linear × 0.516 B + 1.05B (embed + head) × 2 B ≈ 5.7 GB
    a = arch("llama-3.1-8b")
    wb = weight_bytes(a, count_params(a).components, "nf4")
    assert wb.total / 1e9 == pytest.approx(5.7, abs=0.1)


@pytest.mark.parametrize(("stage", "expected_gb"), [(0, 120.0), (1, 31.4), (2, 16.6), (3, 1.875)])
def test_zero_paper_worked_example(stage: int, expected_gb: float) -> None:
    # ZeRO paper Fig. 1: Ψ = 7.5B, N_d = 64, mixed-precision Adam (K = 12) → 120 / 31.4 / 16.6 / 1.9 GB.
    psi, nd = 7_500_000_000, 64
    shd = sharding(stage, "none", nd)
    prec = precision_spec("amp-bf16", sharded=True)
    weights = shard(prec.weight_bytes * psi, shd.stage >= 3, shd.group)
    grads = shard(prec.grad_bytes * psi, shd.stage >= 2, shd.group)
    optim = shard(
        optimizer_state_bytes("adamw", psi, prec.state_bytes) + prec.master_bytes * psi,
        shd.stage >= 1,
        shd.group,
    )
    assert (weights + grads + optim) / 1e9 == pytest.approx(expected_gb, rel=0.01)
