"""Device-level memory: cuBLAS workspace (inside the allocator), CUDA context and NCCL (outside it)."""

import pytest
from pydantic import ValidationError

from vram_insight import EstimateRequest, estimate
from vram_insight.catalog import load_catalog
from vram_insight.device import cublas_workspace_bytes

MiB = 2**20
CAT = load_catalog()


def test_cublas_workspace_follows_torchs_defaults() -> None:
    # CUBLAS_WORKSPACE_CONFIG ":4096:8" on compute capability 9.x/10.x, ":4096:2:16:8" elsewhere.
    assert cublas_workspace_bytes(CAT.gpu("h200-sxm")) == 32 * MiB
    assert cublas_workspace_bytes(CAT.gpu("b200")) == 32 * MiB
    assert cublas_workspace_bytes(CAT.gpu("rtx-4090")) == 4096 * 1024 * 2 + 16 * 1024 * 8 == 8_519_680
    assert cublas_workspace_bytes(CAT.gpu("rtx-5090")) == 8_519_680  # consumer Blackwell is cc 12.0


def test_peak_allocated_counts_the_workspace_as_max_memory_allocated_does() -> None:
    base = dict(model="llama-3.1-8b", seq_len=4096)
    cuda = estimate(EstimateRequest(**base, gpu="h200-sxm"))
    cpu = estimate(EstimateRequest(**base, gpu=None, platform="cpu"))
    assert cuda.peak_allocated_bytes - cpu.peak_allocated_bytes == 32 * MiB
    assert cpu.total_bytes == cpu.peak_allocated_bytes  # no context, workspace or reserve on the CPU


def test_context_is_the_measured_figure_or_the_override() -> None:
    base = dict(model="llama-3.1-8b", seq_len=4096, gpu="h200-sxm")
    measured = estimate(EstimateRequest(**base))
    # H200, CUDA 13, torch 2.11: 804,061,184 B outside the allocator in the calibration training runs.
    outside = measured.total_bytes - measured.peak_allocated_bytes - measured.components["allocator"]
    assert outside == measured.details["allocator"]["outside_allocator_bytes"] == 804_061_184
    overridden = estimate(EstimateRequest(**base, cuda_context_mib=500))
    assert overridden.details["allocator"]["outside_allocator_bytes"] == 500 * MiB


def test_nccl_only_for_multi_gpu_runs() -> None:
    one = estimate(EstimateRequest(model="llama-3.1-70b", mode="training", zero=3, gpus=1, gpu="h100-sxm"))
    assert not any("NCCL" in a.text for a in one.assumptions)
    eight = estimate(EstimateRequest(model="llama-3.1-70b", mode="training", zero=3, gpus=8, gpu="h100-sxm"))
    assert any("NCCL" in a.text for a in eight.assumptions)
    fixed = estimate(
        EstimateRequest(model="llama-3.1-70b", mode="training", zero=3, gpus=8, gpu="h100-sxm", nccl_mib=0)
    )
    assert eight.total_bytes - fixed.total_bytes > 0


@pytest.mark.parametrize(
    "field,value", [("cuda_context_mib", -1), ("cuda_context_mib", 10**6), ("nccl_mib", -5)]
)
def test_overrides_out_of_range_name_the_field(field: str, value: int) -> None:
    with pytest.raises(ValidationError) as err:
        EstimateRequest(**{field: value})
    assert err.value.errors()[0]["loc"] == (field,)


def test_vllm_takes_the_context_and_nccl_overrides() -> None:
    """vLLM's own accounting holds the same context and NCCL buffers: the user's figures replace its measured ones."""
    base = dict(model="llama-3.1-8b", runtime="vllm", gpu="h100-sxm")
    measured = estimate(EstimateRequest(**base))
    overridden = estimate(EstimateRequest(**base, cuda_context_mib=2000))
    assert overridden.details["vllm"]["cuda_context_bytes"] == 2000 * MiB
    # the context lies outside vLLM's budget (0.10+): the card holds exactly the difference more
    delta = 2000 * MiB - measured.details["vllm"]["cuda_context_bytes"]
    assert overridden.total_bytes - measured.total_bytes == delta
    tp = dict(model="llama-3.1-70b", runtime="vllm", gpu="h100-sxm", gpus=4, tp=4)
    # non_torch_memory with TP = vLLM's 0.16 GiB single-GPU figure + the NCCL buffers the user gives
    single = estimate(EstimateRequest(**base)).details["vllm"]["non_torch_bytes"]
    assert (
        estimate(EstimateRequest(**tp, nccl_mib=3000)).details["vllm"]["non_torch_bytes"]
        == single + 3000 * MiB
    )
