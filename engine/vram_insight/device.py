"""Device-level memory: what the card must hold beyond the tensors PyTorch's allocator hands out.

* inside the caching allocator but not a tensor of the model: cuBLAS's workspace (:func:`cublas_workspace_bytes`),
  which ``torch.cuda.max_memory_allocated`` counts;
* outside the caching allocator: the CUDA context with its loaded kernel modules and library handles, NCCL
  communicator buffers (:func:`outside_allocator_bytes`, sourced per GPU generation in
  ``data/runtime_overheads.json``, overridable with ``cuda_context_mib`` / ``nccl_mib``);
* the caching allocator's reserve at the peak — segments rounded and fragmented beyond the live bytes
  (:class:`CachingAllocator`, derived from replays of full-size allocation traces through a model of
  ``c10/cuda/CUDACachingAllocator.cpp``: validation/ALLOCATOR.md);
* the capacity a workload may use on a GPU (:func:`gpu_capacity`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import (
    CatalogError,
    GpuEntry,
    RuntimeOverhead,
    cuda_context_bytes,
    load_catalog,
    nccl_buffer_bytes,
)
from .errors import EstimateError
from .messages import msg, register
from .phases import Ctx, Phase
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


# The caching allocator's reserve at the tensor peak (validation/ALLOCATOR.md §4–5: replays of 20 full-size
# traces through validation/allocator.py, a model of c10/cuda/CUDACachingAllocator.cpp; checked against the three
# smallest working limits measured on an H200). What cannot be reused is free space inside segments that live
# blocks pin: one fp32 [tokens, vocab] loss segment when the loss tops the peak (0.11–1.74 buffers in the
# replays), about two MLP blocks in a flash/SDPA prefill (1.3–2.6), one fp32 score buffer in an eager prefill
# (1.01–1.33); elsewhere scattered partial blocks (0.7–4 % of the peak). expandable_segments:True unmaps free pages
# and remaps them where needed: what remains is partial 20 MiB pages (0.02–2.4 %, median 0.5 %).
PINNED_UNITS = {"loss": 1.0, "loss_adapters": 0.64, "prefill": 2.0, "prefill_eager": 1.0}
PINNED_BAND = {
    "loss": (0.28, 1.74),
    "loss_adapters": (0.11, 0.75),
    "prefill": (1.3, 2.6),
    "prefill_eager": (1.01, 1.33),
}
SCATTERED_SHARE = 0.015
SCATTERED_BAND = (0.007, 0.04)
EXPANDABLE_SHARE = 0.005
EXPANDABLE_BAND = (0.0002, 0.024)
EXPANDABLE_SETTING = "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"

register({
    "device.reserve.pinned": (
        "Card memory = tensor peak {peak_gib:.2f} GiB + {reserve_gib:.2f} GiB the caching allocator cannot reuse "
        "({what}; {low_gib:.2f}–{high_gib:.2f} GiB in replays of real allocation traces) + {outside_gib:.2f} GiB "
        "outside PyTorch's allocator"
    ),
    "device.reserve.scattered": (
        "Card memory = tensor peak {peak_gib:.2f} GiB + {reserve_gib:.2f} GiB of partly used allocator segments + "
        "{outside_gib:.2f} GiB outside PyTorch's allocator"
    ),
    "device.reserve.expandable": (
        "Card memory = tensor peak {peak_gib:.2f} GiB + {reserve_gib:.2f} GiB of partly mapped pages "
        "(expandable_segments:True) + {outside_gib:.2f} GiB outside PyTorch's allocator"
    ),
    "device.reserve.what.loss": "an fp32 [tokens × vocab] loss segment pinned by later tensors",
    "device.reserve.what.loss_adapters": "part of an fp32 [tokens × vocab] loss segment pinned by activations",
    "device.reserve.what.prefill": "MLP-sized prefill segments pinned by KV-cache and residual tensors",
    "device.reserve.what.prefill_eager": "an fp32 attention-score segment pinned by smaller tensors",
    "device.reserve_band": (
        "Near the edge: with the default allocator this kind of peak has needed up to {worst_gb:.2f} GB (the "
        "card has {capacity_gb:.2f} GB); {setting} needs {expandable_gb:.2f} GB and removes the risk"
    ),
    "device.expandable_fits": (
        "With the default allocator this needs {default_gb:.2f} GB of the {capacity_gb:.2f} GB card; with "
        "{setting} it needs {expandable_gb:.2f} GB and fits"
    ),
})  # fmt: skip


@dataclass(frozen=True)
class CachingAllocator:
    """PyTorch's CUDA caching allocator (default or expandable segments) for one estimate."""

    mode: str  # "default" | "expandable"
    capacity: int | None  # the chosen GPU's memory, for the expandable_segments suggestion

    def phase_reserve(self, phase: Phase, live: int) -> tuple[int, str, int, int]:
        """(reserve, kind, low, high) for one phase whose live allocator bytes are ``live``."""
        pinned = phase.pinned
        if self.mode == "expandable":
            low, high = (int(f * live) for f in EXPANDABLE_BAND)
            return int(EXPANDABLE_SHARE * live), "expandable", low, high
        if pinned is not None and pinned.kind == "settled":
            return 0, "settled", 0, 0
        if pinned is not None and pinned.kind in PINNED_UNITS:
            low, high = (int(f * pinned.unit_bytes) for f in PINNED_BAND[pinned.kind])
            return int(PINNED_UNITS[pinned.kind] * pinned.unit_bytes), pinned.kind, low, high
        low, high = (int(f * live) for f in SCATTERED_BAND)
        return int(SCATTERED_SHARE * live), "scattered", low, high

    def reserve(self, ctx: Ctx, phases: list[Phase], workspace: int, outside: int) -> int:
        """Bytes the allocator must be allowed to hold beyond the tensor peak (``peak_allocated_bytes``): the
        largest (live + reserve) over the phases, minus the largest live set. Recorded in ``details.allocator``."""
        needs = []
        for phase in phases:
            live = phase.total + workspace
            reserve, kind, low, high = self.phase_reserve(phase, live)
            needs.append((live + reserve, live, reserve, kind, low, high, phase))
        need, _live, _reserve, kind, low, high, at = max(needs, key=lambda n: n[0])
        peak_bytes = max(n[1] for n in needs)
        expandable = max(n[1] + int(EXPANDABLE_SHARE * n[1]) for n in needs)
        common = {
            "peak_gib": peak_bytes / GiB,
            "reserve_gib": (need - peak_bytes) / GiB,
            "outside_gib": outside / GiB,
        }
        if kind in PINNED_UNITS:
            what = msg(f"device.reserve.what.{kind}")
            ctx.note("device.reserve.pinned", what=what, low_gib=low / GiB, high_gib=high / GiB, **common)
        else:
            ctx.note(f"device.reserve.{'expandable' if kind == 'expandable' else 'scattered'}", **common)
        # What nvidia-smi shows can exceed the smallest limit by loss buffers cached after the loss and never
        # released without memory pressure: up to three fp32 [tokens, vocab] buffers and the 16-bit logits
        # (validation/ALLOCATOR.md §5: within 3·N·V·4 + N·V·2 in 11 of 12 training replays).
        loss_units = [p.pinned.unit_bytes for p in phases if p.pinned and p.pinned.kind.startswith("loss")]
        cached_loss = (3 * max(loss_units) + max(loss_units) // 2) if loss_units else 0
        ctx.details["allocator"] = {
            "cached_loss_bytes": cached_loss,
            "mode": self.mode,
            "kind": kind,
            "phase": at.name,
            "reserve_bytes": need - peak_bytes,
            "phase_reserve_range_bytes": [low, high],
            "smallest_limit_bytes": need,
            "expandable_limit_bytes": expandable,
            "outside_allocator_bytes": outside,
            "setting": EXPANDABLE_SETTING,
        }
        if self.mode == "default" and self.capacity:
            default_total = need + outside
            expandable_total = expandable + outside
            worst_total = max(n[1] + n[5] for n in needs) + outside
            if default_total <= self.capacity < worst_total:
                # Fits at the central estimate, but the replays put this kind of reserve as high as `high`.
                ctx.warn(
                    "device.reserve_band",
                    worst_gb=worst_total / 1e9,
                    capacity_gb=self.capacity / 1e9,
                    expandable_gb=expandable_total / 1e9,
                    setting=EXPANDABLE_SETTING,
                )
            if expandable_total <= self.capacity < default_total:
                ctx.warn(
                    "device.expandable_fits",
                    default_gb=default_total / 1e9,
                    capacity_gb=self.capacity / 1e9,
                    expandable_gb=expandable_total / 1e9,
                    setting=EXPANDABLE_SETTING,
                )
        return need - peak_bytes


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


def outside_allocator_parts(
    req: EstimateRequest, gpu: GpuEntry | None
) -> tuple[RuntimeOverhead, RuntimeOverhead | None]:
    """(CUDA context, NCCL buffers or None on one GPU) one process holds outside the caching allocator."""
    try:
        context = cuda_context_bytes(gpu, override_mib=req.cuda_context_mib)
        nccl = nccl_buffer_bytes(gpu, req.gpus, override_mib=req.nccl_mib) if req.gpus > 1 else None
    except CatalogError as exc:
        raise EstimateError(str(exc), "cuda_context_mib") from None
    return context, nccl


def cuda_rules_overhead_bytes(req: EstimateRequest, gpu: GpuEntry | None) -> int:
    """What :func:`runtime_overhead` adds under the CUDA rules: cuBLAS workspace + CUDA context + NCCL buffers."""
    context, nccl = outside_allocator_parts(req, gpu)
    return cublas_workspace_bytes(gpu) + context.bytes + (nccl.bytes if nccl else 0)


def outside_allocator_bytes(ctx: Ctx, gpu: GpuEntry | None) -> int:
    """CUDA context + NCCL buffers one process holds outside the caching allocator."""
    req = ctx.req
    context, nccl = outside_allocator_parts(req, gpu)
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
    ctx.allocator = CachingAllocator(req.allocator, gpu.memory_bytes if gpu else None)
    ctx.note("device.workspace", workspace_mib=workspace / MiB)
    return (workspace + outside_allocator_bytes(ctx, gpu)) * processes_per_gpu
