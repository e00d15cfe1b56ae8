"""Model and GPU catalog: the data files under ``data/`` validated by one schema at load.

Layout (inside the wheel the folder is ``vram_insight/data``; in a checkout it is ``<repo>/data``):

* ``data/models/<id>.json`` - one catalog model per file, its Hugging Face ``config.json`` fields verbatim
  under ``config`` plus where they came from;
* ``data/gpus.json`` - ``{"gpus": [...]}``, one entry per accelerator with its sources.

Nothing is parsed at import time: :func:`load_catalog` reads the files on first use and caches the result.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .messages import InputError, shown

MiB = 1 << 20
GiB = 1 << 30

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
MONTH_PATTERN = r"^\d{4}-\d{2}$"


class CatalogError(InputError):
    """A catalog file is missing or does not match the schema, or an id is not in the catalog."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelEntry(_Strict):
    """One catalog model. ``config`` holds the Hugging Face ``config.json`` fields as published."""

    id: str = Field(pattern=ID_PATTERN, description="Stable slug used in URLs and on the CLI.")
    name: str = Field(min_length=1)
    hf_repo: str = Field(pattern=r"^[\w.-]+/[\w.-]+$", description="Hugging Face repository id.")
    family: str = Field(min_length=1, description="Marketing family, e.g. 'Qwen2.5', 'Llama 3.1'.")
    kind: Literal["text", "multimodal"]
    modalities: list[Literal["image", "video", "audio", "document"]] = Field(default_factory=list)
    context_length: int = Field(gt=0, description="Context length the model is released for (tokens).")
    released: str | None = Field(default=None, pattern=MONTH_PATTERN)
    config: dict[str, Any] = Field(description="config.json fields (architecture-relevant ones at least).")
    config_source: str = Field(min_length=1, description="Where the config values were read.")
    official_params: int | None = Field(default=None, gt=0, description="Published parameter count.")
    official_params_source: str | None = None
    official_params_adjustment: int = Field(
        default=0,
        description=(
            "Published count minus the in-memory count, when the published figure counts tensors that are not "
            "separate parameters in memory (a stored duplicate of a tied lm_head, an MTP module, FP8 scales)."
        ),
    )
    official_params_adjustment_reason: str | None = None
    token_rules: str | None = Field(default=None, description="How images/video/audio become tokens.")
    notes: str | None = None

    @field_validator("config")
    @classmethod
    def _config_has_type(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value.get("model_type"), str):
            raise ValueError("config must contain a string 'model_type'")
        return value


# NVIDIA generations, then AMD, then the rest.
Architecture = Literal[
    "volta", "turing", "ampere", "ada", "hopper", "blackwell", "cdna2", "cdna3", "cdna4", "rdna3", "apple-silicon",
    "gaudi", "tpu",
]  # fmt: skip
# How reported_memory_bytes was obtained (each with its quote in reported_memory_source):
# - torch-total-memory: torch.cuda.get_device_properties().total_memory, i.e. cudaDeviceProp.totalGlobalMem
#   (torch/csrc/cuda/Module.cpp binds it directly), as printed by torch or by CUDA's deviceQuery sample;
# - cuda-mem-get-info: the total of cudaMemGetInfo, printed by PyTorch's OOM message ("GPU 0 has a total
#   capacity of ..."; c10/cuda/CUDACachingAllocator.cpp calls cudaMemGetInfo), vLLM or llama.cpp;
# - metal-working-set: Metal's recommendedMaxWorkingSetSize (Apple), as logged by llama.cpp;
# - estimated: derived from the nearest evidence; the source starts with "ESTIMATED" and gives the reasoning.
MemoryBasis = Literal["torch-total-memory", "cuda-mem-get-info", "metal-working-set", "estimated"]


class GpuEntry(_Strict):
    """One accelerator. ``memory_gb`` is the marketed figure (display only); the engine sizes against
    ``memory_bytes`` = ``reported_memory_bytes``, what the runtime reports. Throughput dense (no 2:4 sparsity)."""

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1)
    vendor: Literal["nvidia", "amd", "apple", "intel", "google"]
    segment: Literal["consumer", "workstation", "datacenter", "unified"]
    architecture: Architecture
    aliases: list[str] = Field(
        default_factory=list, description="Other names people use for this GPU (lower-case, e.g. 'a100')."
    )
    compute_capability: str | None = Field(
        default=None,
        pattern=r"^\d+\.\d+$",
        description="NVIDIA CUDA compute capability (major.minor); decides cuBLAS workspace and kernel support.",
    )
    compute_capability_source: str | None = Field(default=None, min_length=20)
    memory_gb: float = Field(gt=0, description="Memory as marketed (display; vendors mean GiB-sized parts).")
    device_total_mib: int | None = Field(
        default=None,
        gt=0,
        description=(
            "Total the vendor tool reports, MiB (nvidia-smi memory.total, hl-smi; RAM for Apple). ECC, where on, is "
            "already excluded; the driver's own reservation is not."
        ),
    )
    device_total_source: str | None = Field(default=None, min_length=20)
    reported_memory_bytes: int = Field(
        gt=0,
        description=(
            "Bytes one framework device can hold at most: the cudaMemGetInfo / torch total_memory figure (NVIDIA, "
            "AMD: device total minus the driver's reservation), Metal's recommendedMaxWorkingSetSize (Apple)."
        ),
    )
    reported_memory_basis: MemoryBasis
    reported_memory_source: str = Field(min_length=20, description="Where the figure was read, quoted.")
    memory_type: str
    bandwidth_gbps: float = Field(gt=0, description="Memory bandwidth, GB/s (10^9 bytes/s).")
    bf16_tflops: float = Field(gt=0, description="Dense BF16 tensor TFLOPS with FP32 accumulate.")
    fp16_acc_tflops: float | None = Field(default=None, gt=0, description="Dense FP16 with FP16 accumulate.")
    fp8_tflops: float | None = Field(default=None, gt=0, description="Dense FP8 TFLOPS, if supported.")
    tdp_w: int | None = Field(default=None, gt=0)
    interconnect: str = Field(description="'nvlink', 'pcie', 'infinity-fabric', 'unified', ...")
    max_per_node: int = Field(default=8, ge=1, description="How many fit one server/workstation.")
    launch_price_usd: float | None = Field(default=None, gt=0)
    cloud_usd_per_hour: float | None = Field(default=None, gt=0)
    cloud_price_as_of: str | None = Field(default=None, pattern=MONTH_PATTERN)
    released: str | None = Field(default=None, pattern=MONTH_PATTERN)
    source: str = Field(min_length=1)
    price_source: str | None = None
    notes: str | None = None

    @model_validator(mode="after")
    def _memory_is_consistent(self) -> GpuEntry:
        if (self.compute_capability is None) != (self.compute_capability_source is None):
            raise ValueError("compute_capability and compute_capability_source must be given together")
        if self.vendor == "nvidia" and self.compute_capability is None:
            raise ValueError("NVIDIA GPUs need compute_capability (with its source)")
        if (self.device_total_mib is None) != (self.device_total_source is None):
            raise ValueError("device_total_mib and device_total_source must be given together")
        estimated = self.reported_memory_basis == "estimated"
        if estimated and not self.reported_memory_source.startswith("ESTIMATED"):
            raise ValueError("reported_memory_source must start with 'ESTIMATED' when the basis is estimated")
        # Vendors' "80 GB" parts hold 80 GiB of DRAM; no runtime reports more than that.
        if self.reported_memory_bytes > self.memory_gb * GiB:
            raise ValueError("reported_memory_bytes exceeds memory_gb GiB (the physical size)")
        if self.device_total_mib is not None and self.reported_memory_bytes > self.device_total_mib * MiB:
            raise ValueError("reported_memory_bytes exceeds device_total_mib")
        # Catches a figure typed in the wrong unit: even one MI250X die (64 GiB of a 128 GB card) is above half.
        if self.reported_memory_bytes < self.memory_gb * 10**9 / 2:
            raise ValueError("reported_memory_bytes is below half of memory_gb; check its unit")
        return self

    @property
    def memory_bytes(self) -> int:
        """Capacity the engine sizes against: ``reported_memory_bytes``, what the runtime reports for one device
        (cudaMemGetInfo / torch total_memory, Metal's working-set limit), not the marketed ``memory_gb``. The
        memory the runtime itself then uses (CUDA context, NCCL) is not subtracted here: see
        :func:`cuda_context_bytes` and :func:`nccl_buffer_bytes`."""
        return self.reported_memory_bytes

    @property
    def cc_major(self) -> int | None:
        """Compute capability major version (NVIDIA), e.g. 9 for Hopper."""
        return int(self.compute_capability.split(".")[0]) if self.compute_capability else None

    @property
    def usable_memory_gb(self) -> float:
        """``reported_memory_bytes`` in decimal GB (10^9 bytes), rounded to 0.01, for display."""
        return round(self.reported_memory_bytes / 10**9, 2)


class GpuFile(_Strict):
    gpus: list[GpuEntry]


class Catalog(BaseModel):
    model_config = ConfigDict(frozen=True)

    models: dict[str, ModelEntry]
    gpus: dict[str, GpuEntry]

    def model(self, model_id: str) -> ModelEntry:
        try:
            return self.models[model_id.lower()]
        except KeyError:
            raise CatalogError.of("error.model.unknown", "model", got=shown(model_id)) from None

    def gpu(self, gpu_id: str) -> GpuEntry:
        """A GPU by id or by a common name (``4090``, ``h100``, ``A100 40GB``, ``NVIDIA GeForce RTX 3090``)."""
        hit = self.gpus.get(gpu_id.lower()) or self.gpus.get(gpu_aliases(self.gpus).get(gpu_key(gpu_id), ""))
        if hit is None:
            raise CatalogError.of("error.gpu.unknown", "gpu", got=shown(gpu_id))
        return hit


# Words people add to GPU names that the ids leave out, and id parts they leave off.
_GPU_NOISE = re.compile(r"\b(nvidia|geforce|amd|instinct|radeon|tesla)\b")
_GPU_OPTIONAL = ("rtx-", "-sxm", "-sxm2", "-sxm4", "-sxm5")


def gpu_key(name: str) -> str:
    """A name as a lookup key: lower case, vendor words dropped, runs of spaces/underscores as one dash."""
    text = _GPU_NOISE.sub(" ", name.lower())
    return re.sub(r"[\s_]+", "-", text.strip()).strip("-")


_ALIASES: dict[int, dict[str, str]] = {}


def gpu_aliases(gpus: dict[str, GpuEntry]) -> dict[str, str]:
    """Common names → GPU id: each id without its optional parts (``rtx-``, ``-sxm``…), plus the entries' own
    ``aliases``. A name two GPUs could claim is left out (``h100`` is the SXM part only because the PCIe and NVL
    ids keep their suffixes)."""
    hit = _ALIASES.get(id(gpus))
    if hit is not None:
        return hit
    claims: dict[str, set[str]] = {}
    for gid, g in gpus.items():
        names = {gid, gpu_key(g.name), *g.aliases}
        for name in list(names):
            for part in _GPU_OPTIONAL:
                names.add(name.replace(part, "") if part.startswith("-") else name.removeprefix(part))
        for name in names:
            claims.setdefault(gpu_key(name), set()).add(gid)
    out = {name: next(iter(ids)) for name, ids in claims.items() if len(ids) == 1}
    _ALIASES[id(gpus)] = out
    return out


def data_dir() -> Path:
    """The catalog folder: packed in the wheel, else the checkout's top-level ``data/``."""
    packed = resources.files("vram_insight") / "data"
    if packed.is_dir():
        return Path(str(packed))
    return Path(__file__).resolve().parents[2] / "data"


def _format_error(path: str, err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{path}: {where}: {first['msg']}"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{path.name}: cannot read catalog file: {exc}") from exc


@cache
def load_catalog(root: str | None = None) -> Catalog:
    """Read and validate every catalog file (cached)."""
    base = Path(root) if root else data_dir()
    models: dict[str, ModelEntry] = {}
    model_files = sorted((base / "models").glob("*.json"))
    if not model_files:
        raise CatalogError(f"no model files found under {base / 'models'}")
    for path in model_files:
        try:
            entry = ModelEntry.model_validate(_read_json(path))
        except ValidationError as exc:
            raise CatalogError(_format_error(f"models/{path.name}", exc)) from None
        if entry.id != path.stem:
            raise CatalogError(f"models/{path.name}: id {entry.id!r} must equal the file name")
        models[entry.id] = entry
    try:
        gpu_file = GpuFile.model_validate(_read_json(base / "gpus.json"))
    except ValidationError as exc:
        raise CatalogError(_format_error("gpus.json", exc)) from None
    gpus: dict[str, GpuEntry] = {}
    for gpu in gpu_file.gpus:
        if gpu.id in gpus:
            raise CatalogError(f"gpus.json: duplicate GPU id {gpu.id!r}")
        gpus[gpu.id] = gpu
    return Catalog(models=models, gpus=gpus)


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-")


# ---------------------------------------------------------------------------------------------------------------
# Memory the runtime holds outside the framework's allocator: data/runtime_overheads.json


class OverheadMeasurement(_Strict):
    """One published or project measurement of memory outside PyTorch's allocator."""

    id: str = Field(pattern=ID_PATTERN)
    gpu: str = Field(min_length=1, description="The GPU as the source names it.")
    architecture: Architecture | None = Field(description="None when the source does not name the GPU.")
    stack: str = Field(min_length=1, description="CUDA / PyTorch / driver versions as the source gives them.")
    module_loading: Literal["lazy", "eager"] | None
    scope: Literal["bare-context", "small-workload", "full-workload", "communicator"]
    bytes: int = Field(gt=0, description="The figure the rules use (the largest when a range was measured).")
    bytes_min: int | None = Field(default=None, gt=0)
    what: str = Field(min_length=20, description="What was measured and how.")
    source: str = Field(min_length=20)


class ContextRule(_Strict):
    architectures: list[Architecture] = Field(min_length=1)
    module_loading: Literal["lazy", "eager"]
    measurement: str
    estimated: bool
    reason: str = Field(min_length=20)


class NcclRule(_Strict):
    pattern: Literal["allreduce", "alltoall"]
    min_ranks: int = Field(ge=2)
    max_ranks: int | None = Field(default=None, ge=2)
    measurements: list[str] = Field(min_length=1, description="Summed.")
    reason: str = Field(min_length=20)


class RuntimeOverheads(_Strict):
    context_measurements: list[OverheadMeasurement]
    context_rules: list[ContextRule]
    nccl_measurements: list[OverheadMeasurement]
    nccl_rules: list[NcclRule]

    @model_validator(mode="after")
    def _rules_are_complete(self) -> RuntimeOverheads:
        context = {m.id for m in self.context_measurements}
        nccl = {m.id for m in self.nccl_measurements}
        for mode in ("lazy", "eager"):
            covered = [a for r in self.context_rules if r.module_loading == mode for a in r.architectures]
            if sorted(covered) != sorted(get_args(Architecture)):
                raise ValueError(
                    f"context_rules must name every architecture exactly once for {mode} loading"
                )
        for rule in self.context_rules:
            if rule.measurement not in context:
                raise ValueError(f"context_rules: unknown measurement {rule.measurement!r}")
        for rule in self.nccl_rules:
            for ref in rule.measurements:
                if ref not in nccl:
                    raise ValueError(f"nccl_rules: unknown measurement {ref!r}")
        for pattern in ("allreduce", "alltoall"):
            if _nccl_rule(self.nccl_rules, pattern, 2) is None:
                raise ValueError(f"nccl_rules: no rule for {pattern} at 2 ranks")
        return self


class RuntimeOverhead(BaseModel):
    """Bytes one process holds outside the allocator, with what the figure assumes and where it comes from."""

    model_config = ConfigDict(frozen=True)

    bytes: int = Field(ge=0)
    estimated: bool
    assumption: str
    sources: list[str]


@cache
def load_runtime_overheads(root: str | None = None) -> RuntimeOverheads:
    """Read and validate ``runtime_overheads.json`` (cached)."""
    base = Path(root) if root else data_dir()
    try:
        return RuntimeOverheads.model_validate(_read_json(base / "runtime_overheads.json"))
    except ValidationError as exc:
        raise CatalogError(_format_error("runtime_overheads.json", exc)) from None


def _override(value_mib: int | None, flag: str) -> RuntimeOverhead | None:
    if value_mib is None:
        return None
    if isinstance(value_mib, bool) or not isinstance(value_mib, int) or value_mib < 0:
        raise CatalogError(f"{flag} must be a whole number of MiB >= 0, got {value_mib!r}")
    return RuntimeOverhead(
        bytes=value_mib * MiB, estimated=False, assumption=f"set by {flag}={value_mib} MiB", sources=[]
    )


def cuda_context_bytes(
    gpu: GpuEntry | None,
    *,
    module_loading: Literal["lazy", "eager"] = "lazy",
    override_mib: int | None = None,
    overheads: RuntimeOverheads | None = None,
) -> RuntimeOverhead:
    """Memory one process holds outside the allocator on ``gpu``: CUDA context, loaded kernel modules, library
    handles. ``lazy`` is the default since CUDA 11.7 with PyTorch >= 1.13 (which sets CUDA_MODULE_LOADING=LAZY,
    pytorch/pytorch PR #86509); ``eager`` is CUDA < 11.7 or CUDA_MODULE_LOADING=EAGER. ``override_mib`` is the
    user's ``--cuda-context-mib``. With no GPU chosen the Hopper rule (the measured one) applies. Counted once per
    process on each GPU."""
    chosen = _override(override_mib, "--cuda-context-mib")
    if chosen is not None:
        return chosen
    data = overheads or load_runtime_overheads()
    arch = gpu.architecture if gpu else "hopper"
    rule = next(
        r for r in data.context_rules if r.module_loading == module_loading and arch in r.architectures
    )
    m = next(x for x in data.context_measurements if x.id == rule.measurement)
    measured_on = f"{m.gpu}, {m.stack}, {m.module_loading} module loading, {m.scope}"
    return RuntimeOverhead(
        bytes=m.bytes,
        estimated=rule.estimated,
        assumption=f"{m.bytes / GiB:.2f} GiB measured on {measured_on}. {rule.reason}",
        sources=[m.source],
    )


def _nccl_rule(rules: list[NcclRule], pattern: str, ranks: int) -> NcclRule | None:
    for rule in rules:
        if (
            rule.pattern == pattern
            and rule.min_ranks <= ranks
            and (rule.max_ranks is None or ranks <= rule.max_ranks)
        ):
            return rule
    return None


def nccl_buffer_bytes(
    gpu: GpuEntry | None,
    ranks: int,
    *,
    pattern: Literal["allreduce", "alltoall"] = "allreduce",
    override_mib: int | None = None,
    overheads: RuntimeOverheads | None = None,
) -> RuntimeOverhead:
    """NCCL buffers one process holds per communicator of ``ranks`` GPUs (0 for a single GPU). ``allreduce``
    covers tensor parallel, DDP and ZeRO/FSDP collectives; ``alltoall`` adds expert-parallel all-to-all. One
    communicator is assumed; frameworks that open several (TP + DP groups) hold one set per communicator
    (NVIDIA/nccl #864: "More communicators = more memory used")."""
    if isinstance(ranks, bool) or not isinstance(ranks, int) or ranks < 1:
        raise CatalogError(f"ranks must be a whole number >= 1, got {ranks!r}")
    chosen = _override(override_mib, "--nccl-mib")
    if chosen is not None:
        return chosen
    if ranks == 1:
        return RuntimeOverhead(
            bytes=0, estimated=False, assumption="single GPU: no NCCL communicator", sources=[]
        )
    data = overheads or load_runtime_overheads()
    rule = _nccl_rule(data.nccl_rules, pattern, ranks)
    if rule is None:
        raise CatalogError(f"runtime_overheads.json: no nccl_rules entry for {pattern} over {ranks} GPUs")
    parts = [next(x for x in data.nccl_measurements if x.id == ref) for ref in rule.measurements]
    estimated = gpu is None or any(p.architecture != gpu.architecture for p in parts)
    measured = "; ".join(f"{p.bytes / MiB:.0f} MiB on {p.gpu}" for p in parts)
    return RuntimeOverhead(
        bytes=sum(p.bytes for p in parts),
        estimated=estimated,
        assumption=f"{pattern} over {ranks} GPUs, one communicator: {measured}. {rule.reason}",
        sources=[p.source for p in parts],
    )
