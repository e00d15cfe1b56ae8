"""Device-level memory: what the card must hold beyond the tensors PyTorch's allocator hands out.

Three parts, each its own function:

* memory outside the caching allocator — the CUDA context with its loaded kernel modules, library handles,
  NCCL communicator buffers (:func:`runtime_overhead`);
* the caching allocator's reserve at the peak — segments rounded and fragmented beyond the live tensor bytes
  (not modelled yet: issue 9 adds the allocator model here);
* the capacity a workload may use on a GPU (:func:`gpu_capacity`).

Status: this module holds today's fixed overhead constants (moved unchanged from ``estimate.py``); issue 9
replaces them with sourced values per GPU generation and CUDA/PyTorch version and adds the allocator reserve.
"""

from __future__ import annotations

from .catalog import CatalogError, load_catalog
from .errors import EstimateError
from .phases import Ctx
from .schemas import EstimateRequest

MiB = 1 << 20
GiB = 1 << 30

# Runtime overheads outside PyTorch's allocator (formulas.md §I).
CUDA_CONTEXT_BYTES = (
    400 * MiB
)  # ptrblck (pytorch/pytorch #107667): "around 400MB if CUDA >= 11.7 … lazy loading"
CUBLAS_WORKSPACE_BYTES = 32 * MiB  # PyTorch CUDABlas default workspace (CUBLAS_WORKSPACE_CONFIG :4096:8)
NCCL_BYTES = 1 * GiB  # NVIDIA/nccl #864: ~1.6 GB per communicator after all-reduce; 0.5–2 GB reported


def gpu_capacity(req: EstimateRequest) -> int | None:
    """Memory of the request's GPU in bytes, or None when no GPU is chosen."""
    if not req.gpu:
        return None
    try:
        return load_catalog().gpu(req.gpu).memory_bytes
    except CatalogError as exc:
        raise EstimateError(str(exc), "gpu") from None


def runtime_overhead(ctx: Ctx, processes_per_gpu: int = 1) -> int:
    """CUDA context + cuBLAS workspace per process, + NCCL buffers when the run spans GPUs."""
    req = ctx.req
    total = CUDA_CONTEXT_BYTES + CUBLAS_WORKSPACE_BYTES
    ctx.assumptions.append(
        "Runtime overhead: CUDA context ≈ 400 MiB (lazy module loading, CUDA ≥ 11.7) + 32 MiB cuBLAS workspace; "
        "allocator fragmentation (reserved − allocated) is not included"
    )
    if req.gpus > 1:
        total += NCCL_BYTES
        ctx.assumptions.append("Multi-GPU: ≈1 GiB NCCL communicator buffers per process (0.5–2 GB reported)")
    return total * processes_per_gpu
