"""The vocabulary every workload and runtime shares: a phase of the workload, the working context of one
estimate, and how the phases become a result.

Each workload lists the phases where memory can peak (prefill/decode; forward, backward start, backward end,
optimizer step; rollout, reference pass), sums what is alive in each, and reports the largest as the peak with its
breakdown — the way the measured runs in validation/ report ``breakdown_at_peak``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .messages import Message, ParamValue, msg, unique
from .schemas import EstimateRequest, EstimateResult, Params

if TYPE_CHECKING:
    from .resolve import ResolvedModel

COMPONENTS = ("weights", "kv_cache", "activations", "logits", "gradients", "optimizer")


@dataclass(frozen=True)
class Pinned:
    """The transient that fragments the caching allocator at a phase: ``kind`` (``loss``: an fp32 [tokens, vocab]
    loss buffer; ``prefill``: an MLP block of the prefill; ``prefill_eager``: an fp32 attention-score buffer) and
    the bytes of one such buffer. device.CachingAllocator turns it into the reserve beyond the tensor peak."""

    kind: str
    unit_bytes: int


@dataclass
class Phase:
    """What is alive at one moment of the workload: component name → bytes per device."""

    name: str
    parts: dict[str, int]
    pinned: Pinned | None = None  # what pins allocator segments when this phase is the peak (None: scattered)

    @property
    def total(self) -> int:
        return sum(self.parts.values())


@dataclass
class Ctx:
    """Working state of one estimate: notes collected while computing."""

    req: EstimateRequest
    assumptions: list[Message] = field(default_factory=list)
    warnings: list[Message] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    workspace_bytes: int = 0  # non-tensor allocations inside the caching allocator (cuBLAS workspace)
    allocator: Any = None  # device.CachingAllocator when PyTorch's caching allocator holds the tensors

    def note(self, code: str, **params: ParamValue) -> None:
        """Record an assumption (a registered message code with its parameters)."""
        self.assumptions.append(msg(code, **params))

    def warn(self, code: str, **params: ParamValue) -> None:
        """Record a warning (a registered message code with its parameters)."""
        self.warnings.append(msg(code, **params))


def merge(*dicts: dict[str, int]) -> dict[str, int]:
    """Sum component dicts key by key (a phase = resident states + that moment's transients)."""
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def finish(
    ctx: Ctx,
    model: ResolvedModel,
    phases: list[Phase],
    overhead: int,
    params: Params,
    num_devices: int,
) -> EstimateResult:
    """The result: the largest phase is the tensor peak; ``overhead`` (everything not a model tensor, the cuBLAS
    workspace included) and the caching allocator's reserve at the peak are added on top: ``total_bytes`` is what
    the card must hold. ``peak_allocated_bytes`` also counts the workspace, as ``torch.cuda.max_memory_allocated``
    does."""
    peak = max(phases, key=lambda p: p.total)
    components = dict.fromkeys(COMPONENTS, 0)
    for name, value in peak.parts.items():
        components[name] = components.get(name, 0) + value
    components["overhead"] = overhead
    peak_bytes = peak.total + ctx.workspace_bytes  # what torch.cuda.max_memory_allocated reports
    reserve = 0
    if ctx.allocator is not None:
        # What the caching allocator must be allowed to reserve beyond the tensor peak: the largest live set plus
        # its fragmentation over all phases (a smaller phase can fragment more than the peak one).
        reserve = ctx.allocator.reserve(ctx, phases, ctx.workspace_bytes, overhead - ctx.workspace_bytes)
        components["allocator"] = reserve
    ctx.details["peak_phase"] = peak.name
    ctx.details["phases"] = {p.name: p.total for p in phases}
    ctx.details["phase_breakdown"] = {p.name: dict(p.parts) for p in phases}
    return EstimateResult(
        mode=ctx.req.mode,
        model=model.info,
        total_bytes=peak.total + overhead + reserve,
        peak_allocated_bytes=peak_bytes,
        components=components,
        params=params,
        num_devices=num_devices,
        assumptions=unique(model.arch.assumptions + ctx.assumptions),
        warnings=list(ctx.warnings),
        details=ctx.details,
    )
