"""Device-level memory: what the card must hold beyond the tensors PyTorch's allocator hands out.

* inside the caching allocator but not a tensor of the model: cuBLAS's workspace (:func:`cublas_workspace_bytes`),
  which ``torch.cuda.max_memory_allocated`` counts;
* outside the caching allocator: the CUDA context with its loaded kernel modules and library handles, NCCL
  communicator buffers (:func:`outside_allocator_bytes`, sourced per GPU generation in
  ``data/runtime_overheads.json``, overridable with ``cuda_context_mib`` / ``nccl_mib``);
* the caching allocator's reserve at the peak — segments rounded and fragmented beyond the live bytes (issue 9
  adds the allocator model here);
* the capacity a workload may use on a GPU (:func:`gpu_capacity`).
"""

from __future__ import annotations

from .catalog import CatalogError, GpuEntry, cuda_context_bytes, load_catalog, nccl_buffer_bytes
from .errors import EstimateError
from .messages import msg, register
from .phases import Ctx
from .platforms import device_allowance
from .schemas import EstimateRequest

MiB = 1 << 20
GiB = 1 << 30

# aten/src/ATen/cuda/CublasHandlePool.cpp (getChosenWorkspaceSize): CUBLAS_WORKSPACE_CONFIG defaults to ":4096:8"
# (8 × 4096 KiB) on compute capability 9.x/10.x and ":4096:2:16:8" (2 × 4096 KiB + 8 × 16 KiB) elsewhere; the
# workspace is allocated through the caching allocator at the first GEMM and kept (torch ≥ 2.5 shares it with
# cuBLASLt). The H200 calibration runs show max_memory_allocated = tensor peak + 32 MiB.
CUBLAS_WORKSPACE_HOPPER = 4096 * 1024 * 8
CUBLAS_WORKSPACE_DEFAULT = 4096 * 1024 * 2 + 16 * 1024 * 8

register({
    "device.context": "Outside PyTorch's allocator: CUDA context and kernel modules {context_gib:.2f} GiB ({how})",
    "device.workspace": "cuBLAS workspace {workspace_mib:.1f} MiB inside the allocator (CUBLAS_WORKSPACE_CONFIG default)",
    "device.nccl": "NCCL buffers {nccl_gib:.2f} GiB per process ({how})",
    "device.cpu": "CPU run: no CUDA context, workspace or allocator reserve",
    "device.set_by": "set by {flag}",
    "device.estimated": "estimated from the nearest measured GPU",
    "device.measured": "measured",
    "device.nccl_group": "all-reduce communicator of {gpus} GPUs",
})  # fmt: skip


def gpu_entry(req: EstimateRequest) -> GpuEntry | None:
    """The request's GPU from the catalog, or None when no GPU is chosen."""
    if not req.gpu:
        return None
    try:
        return load_catalog().gpu(req.gpu)
    except CatalogError as exc:
        raise EstimateError(str(exc), "gpu") from None


def gpu_capacity(req: EstimateRequest) -> int | None:
    """Memory of the request's GPU in bytes as the driver reports it, or None when no GPU is chosen."""
    gpu = gpu_entry(req)
    return gpu.memory_bytes if gpu else None


def cublas_workspace_bytes(gpu: GpuEntry | None) -> int:
    """cuBLAS workspace PyTorch allocates per process (no GPU chosen: the Hopper default, as the calibration)."""
    major = gpu.cc_major if gpu else 9
    if gpu is not None and gpu.vendor != "nvidia":
        return CUBLAS_WORKSPACE_DEFAULT  # hipBLAS on ROCm takes the same default string (HIPBLAS_WORKSPACE_CONFIG)
    return CUBLAS_WORKSPACE_HOPPER if major in (9, 10) else CUBLAS_WORKSPACE_DEFAULT


def outside_allocator_bytes(ctx: Ctx, gpu: GpuEntry | None) -> int:
    """CUDA context + NCCL buffers one process holds outside the caching allocator."""
    req = ctx.req
    try:
        context = cuda_context_bytes(gpu, override_mib=req.cuda_context_mib)
        nccl = nccl_buffer_bytes(gpu, req.gpus, override_mib=req.nccl_mib) if req.gpus > 1 else None
    except CatalogError as exc:
        raise EstimateError(str(exc), "cuda_context_mib") from None
    how = (
        msg("device.set_by", flag="cuda_context_mib")
        if req.cuda_context_mib is not None
        else msg("device.estimated" if context.estimated else "device.measured")
    )
    ctx.note("device.context", context_gib=context.bytes / GiB, how=how)
    total = context.bytes
    if nccl is not None:
        nccl_how = (
            msg("device.set_by", flag="nccl_mib")
            if req.nccl_mib is not None
            else msg("device.nccl_group", gpus=req.gpus)
        )
        ctx.note("device.nccl", nccl_gib=nccl.bytes / GiB, how=nccl_how)
        total += nccl.bytes
    return total


def runtime_overhead(ctx: Ctx, processes_per_gpu: int = 1) -> int:
    """Everything the process holds that is not a model tensor: cuBLAS workspace (inside the allocator, so it
    also raises ``peak_allocated_bytes``: recorded in ``ctx.workspace_bytes``) + memory outside the allocator."""
    req = ctx.req
    if req.platform == "cpu":
        ctx.note("device.cpu")
        return 0
    gpu = gpu_entry(req)
    # --- platforms (issue 11): Apple Metal has no CUDA context or cuBLAS workspace (platforms.device_allowance) ---
    allowance = device_allowance(gpu)
    if not allowance.cuda_rules:
        if allowance.note is not None:
            ctx.assumptions.append(allowance.note)
        return allowance.outside_bytes * processes_per_gpu
    # --- end platforms ---
    workspace = cublas_workspace_bytes(gpu)
    ctx.workspace_bytes = workspace * processes_per_gpu
    ctx.note("device.workspace", workspace_mib=workspace / MiB)
    return (workspace + outside_allocator_bytes(ctx, gpu)) * processes_per_gpu
