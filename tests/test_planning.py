"""Planning: fit, inverse (checked by brute force against the estimate itself), recommendations, throughput."""

import pytest

from vram_insight.catalog import load_catalog
from vram_insight.estimate import estimate
from vram_insight.planning import inverse, recommend, report, throughput
from vram_insight.schemas import EstimateRequest

CAT = load_catalog()


def fits(req: EstimateRequest, gpu: str, **update) -> bool:
    return estimate(req.model_copy(update=update)).total_bytes <= CAT.gpu(gpu).memory_bytes


@pytest.mark.parametrize(
    ("model", "mode", "extra"),
    [
        ("llama-3.1-8b", "inference", {}),
        ("mistral-7b-v0.1", "inference", {"attention": "eager"}),
        ("qwen2.5-7b", "finetune", {"method": "qlora", "grad_checkpointing": "full"}),
        ("qwen2.5-0.5b", "training", {}),
    ],
)
def test_inverse_is_the_exact_boundary(model: str, mode: str, extra: dict) -> None:
    req = EstimateRequest(model=model, mode=mode, seq_len=2048, gpu="rtx-4090", **extra)
    inv = inverse(req, CAT.gpu("rtx-4090"))
    assert inv.max_batch_size is not None
    assert fits(req, "rtx-4090", batch_size=inv.max_batch_size)
    assert not fits(req, "rtx-4090", batch_size=inv.max_batch_size + 1)
    context = CAT.model(model).context_length
    assert fits(req, "rtx-4090", seq_len=inv.max_seq_len)
    if inv.max_seq_len < context:
        assert not fits(req, "rtx-4090", seq_len=inv.max_seq_len + 1)


def test_grpo_inverse_is_about_completion_length() -> None:
    req = EstimateRequest(
        model="qwen2.5-1.5b", mode="grpo", prompt_len=512, completion_len=256, gpu="rtx-4090"
    )
    inv = inverse(req, CAT.gpu("rtx-4090"))
    assert any("completion" in n.text for n in inv.notes)
    assert fits(req, "rtx-4090", completion_len=inv.max_seq_len)


def test_recommendations_fit_and_explain() -> None:
    req = EstimateRequest(model="llama-3.1-70b", mode="inference", weights="int4", seq_len=8192, gpu=None)
    recs = recommend(req)
    assert recs
    for r in recs:
        assert r.per_device_bytes <= r.capacity_bytes and r.reason
    # 70B at 4.156 bpw ≈ 37 GB of weights: no 24 GB card alone, but a 48 GB card does.
    singles = {r.gpu for r in recs if r.count == 1}
    assert "rtx-4090" not in singles
    assert any(CAT.gpu(g).memory_gb >= 48 for g in singles)


@pytest.mark.parametrize(
    ("chosen", "extra"),
    [
        # a Mac holds no CUDA context or cuBLAS workspace
        ("m4-max-128gb", {"mode": "inference", "seq_len": 29500}),
        ("h100-sxm", {"mode": "finetune", "method": "lora", "seq_len": 4096, "batch_size": 6}),
        ("rtx-4090", {"mode": "inference", "runtime": "llama.cpp", "weights": "q4_k_m", "seq_len": 65536}),
        ("h100-sxm", {"mode": "inference", "runtime": "vllm", "seq_len": 8192, "batch_size": 16}),
    ],
)
def test_each_recommended_single_card_fits_when_chosen(chosen: str, extra: dict) -> None:
    """A card is recommended only if choosing it gives 'fits': the memory outside the tensors (CUDA context, cuBLAS
    workspace, a Mac's allowance, llama.cpp's outside buffers) is that card's, not the chosen card's. A Mac once made
    an RTX 3090 look 5.6 % free for a job that needs 25.95 GB of its 25.41 GB."""
    req = EstimateRequest(model="llama-3.1-8b", gpu=chosen, **extra)
    recs = [r for r in recommend(req, limit=50) if r.count == 1]
    assert recs
    for r in recs:
        rep = report(req.model_copy(update={"gpu": r.gpu}))
        assert rep.fit is not None and rep.fit.fits, (r.gpu, rep.fit)
        assert rep.fit.required_bytes == r.per_device_bytes, r.gpu


def test_report_and_throughput_are_labelled_estimates() -> None:
    req = EstimateRequest(model="llama-3.1-8b", mode="inference", seq_len=4096, gpu="h100-sxm")
    rep = report(req)
    assert rep.fit is not None and rep.fit.fits
    tp = throughput(req, rep.estimate, CAT.gpu("h100-sxm"))
    assert tp.decode_tokens_per_s and any("Estimates" in n.text for n in tp.notes)
    # Roofline: one decode step reads ≈16.06 GB of bf16 weights + the KV cache at 3,350 GB/s → ≤ ~210 tokens/s.
    assert 150 < tp.decode_tokens_per_s < 210
