"""llama.cpp (and Ollama / LM Studio, which run it): GGUF weights per device, the KV cache per device, compute
buffers per backend, what stays in system RAM, and memory outside llama.cpp's buffers.

The request maps onto llama.cpp's options: ``seq_len`` is ``-c/--ctx-size`` (all slots together), ``parallel``
``-np``, ``kv_unified`` ``-kvu``, ``gpu_layers`` ``-ngl`` (None = all), ``ubatch_size`` ``-ub``, ``no_kv_offload``
``-nkvo``, ``kv_cache_dtype`` ``-ctk/-ctv``, ``attention`` ``-fa`` (flash = on, eager = off, sdpa = auto), ``gpus``
the GPUs the layers are split over (``--split-mode layer``). ``-b/--batch-size`` (the logical batch) only caps
``-ub``, so it is taken as at least ``ubatch_size``. Placement and KV: :mod:`.llama_cpp_layout`; compute
buffers: :mod:`.llama_cpp_buffers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from ..arch import ArchSpec
from ..catalog import CatalogError, GpuEntry, load_catalog
from ..errors import EstimateError
from ..messages import msg, register, shown
from ..params import count_params
from ..phases import Ctx, Phase
from ..quant import GgufLayout, gguf_layout, is_gguf
from .llama_cpp_buffers import (
    OP_OFFLOAD_MIN_BATCH,
    SCHED_MAX_COPIES,
    Buffers,
    GraphOptions,
    GraphTerms,
    compute_buffers,
    graph_terms,
)
from .llama_cpp_layout import (
    CPU,
    KvSpec,
    Placement,
    cpu_mapped_span,
    kv_by_device,
    kv_spec,
    layer_kv_bytes,
    place_layers,
    weights_by_device,
)

MiB = 1 << 20
QUANTIZED_KV_TYPES = ("q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl")  # common/arg.cpp kv_cache_types
KV_TYPES = ("f32", "f16", "bf16", *QUANTIZED_KV_TYPES)
KV_ALIASES = {"fp32": "f32", "fp16": "f16", "float16": "f16", "bfloat16": "bf16", "float32": "f32"}

# Memory a llama.cpp process holds on each GPU outside its model/KV/compute buffers: the CUDA context with
# ggml-cuda's kernels, cuBLAS handles and ggml-cuda's own memory pool (not PyTorch's caching allocator: none is
# involved). llama.cpp reports it as "unaccounted" = total − (free + self) in common_memory_breakdown_print.
GGML_OUTSIDE_BUFFERS = {
    "ada": (456 * MiB, "RTX 4090", "llama.cpp PR #15860 (https://github.com/ggml-org/llama.cpp/pull/15860): "
            "'CUDA1 (RTX 4090): 24080 = 9868 + (13756 = 13169 + 38 + 548) + 456'"),
    "blackwell": (749 * MiB, "RTX PRO 6000 Blackwell", "llama.cpp issue #27953 (https://github.com/ggml-org/"
                  "llama.cpp/issues/27953): 'CUDA0 (RTX PRO 6000 Blackwell Max-Q Workstation Edition) | 97247 = "
                  "94682 + ( 1815 = 650 + 0 + 1164) + 749'"),
}  # fmt: skip
# Ollama's scheduler sets aside per GPU: ml/device.go DeviceInfo.MinimumMemory (457 MiB CUDA/ROCm, 512 MiB Metal)
# plus OLLAMA_GPU_OVERHEAD (envconfig.GpuOverhead, bytes).
OLLAMA_MINIMUM_MEMORY = {"apple": 512 * MiB}
OLLAMA_MINIMUM_MEMORY_DEFAULT = 457 * MiB
FIT_TARGET = (
    1024 * MiB
)  # common/common.h fit_params_target: 1024 MiB left free per device by --fit (default on)

register({
    "llama_cpp.offload": "-ngl {ngl}: the output layer and {repeating} repeating layers on the GPU ({ngl} of "
                         "{total} layers)",
    "llama_cpp.offload_no_output": "-ngl {ngl}: {repeating} repeating layers on the GPU, the output layer on the "
                                   "CPU ({ngl} of {total} layers)",
    "llama_cpp.rule_current": "Layer order of llama.cpp builds since December 2025 (PR #18148): the output layer is "
                              "offloaded first, then the last repeating layers; token_embd always stays on the CPU",
    "llama_cpp.rule_legacy": "Layer order of llama.cpp builds before December 2025: the last repeating layers are "
                             "offloaded first, the output layer only with -ngl > {layers}; token_embd stays on the "
                             "CPU",
    "llama_cpp.context_split": "n_ctx {n_ctx:,} cells over {slots} slots of {per_slot:,} (-np {slots}, KV not "
                               "unified), KV cache {kv_type}",
    "llama_cpp.context_unified": "n_ctx {n_ctx:,} cells in one KV stream shared by {slots} slot(s), KV cache "
                                 "{kv_type}",
    "llama_cpp.compute": "Compute buffer = the largest live set of the reserved graphs (n_ubatch {ubatch} tokens "
                         "over {cells:,} KV cells, and one token per slot): the {phase} moment sizes the GPU "
                         "buffer",
    "llama_cpp.flash_auto": "Flash attention auto (-fa auto): on, as llama.cpp enables it when every layer's "
                            "attention runs on the layer's own device",
    "llama_cpp.flash_off": "Flash attention off: each layer materialises the f32 KQ matrix (KV cells × n_ubatch × "
                           "heads)",
    "llama_cpp.op_offload": "Partial offload: for batches of ≥ 32 tokens ggml runs products with CPU-resident "
                            "weights on the GPU (op offload); the largest copy, {tensor}, is {mib:,.1f} MiB in the "
                            "GPU compute buffer (--no-op-offload avoids it)",
    "llama_cpp.no_kv_offload": "--no-kv-offload: the KV cache and the attention between the KV store and its "
                               "output stay on the CPU",
    "llama_cpp.ram": "System RAM: {gib:,.2f} GiB = CPU-resident weights {weights_gib:,.2f} GiB (mmap: page cache, "
                     "not the CPU_Mapped figure of {mapped_gib:,.2f} GiB) + CPU KV + host compute and output "
                     "buffers",
    "llama_cpp.overhead": "Outside llama.cpp's buffers on each GPU: CUDA context, ggml-cuda kernels, cuBLAS and "
                          "ggml's CUDA pool ≈ {mib} MiB (llama.cpp's memory breakdown 'unaccounted', measured on "
                          "{measured_on}); no PyTorch allocator is involved",
    "llama_cpp.overhead_estimated": "Outside llama.cpp's buffers on each GPU ≈ {mib} MiB, estimated from a "
                                    "measurement on {measured_on} (llama.cpp's memory breakdown 'unaccounted': CUDA "
                                    "context, kernels, cuBLAS, ggml's CUDA pool)",
    "llama_cpp.layer_split": "Layers split over {gpus} GPUs in equal shares (--split-mode layer; llama.cpp splits "
                             "by free memory, equal for identical idle cards); the output layer is on the last GPU",
    "llama_cpp.pipeline": "All layers on {gpus} GPUs: pipeline parallelism keeps {copies} copies of each GPU's "
                          "graph inputs",
    "llama_cpp.swa": "{n} sliding-window layers keep {cells:,} cells per stream (n_swa + n_ubatch, padded to 256)",
    "llama_cpp.no_swa": "llama.cpp runs {model_type} without a sliding window: every layer caches all {n_ctx:,} "
                        "cells",
    "llama_cpp.tied": "Tied embeddings: the output layer on the GPU is a copy of token_embd, which also stays on "
                      "the CPU",
    "llama_cpp.cpu_only": "No layer on the GPU: a CUDA build still multiplies prompt batches of ≥ 32 tokens on the "
                          "GPU (op offload)",
    "llama_cpp.host_only": "CPU only: every buffer is in system RAM",
    "llama_cpp.mmproj": "Multimodal projector (mmproj) and its encoder buffers on the first GPU: {gib:,.2f} GiB",
})  # fmt: skip


def weight_format(fmt: str) -> str:
    """llama.cpp runs GGUF files: 16-bit and fp32 map to GGUF F16/BF16/F32, other HF formats are refused."""
    if is_gguf(fmt) or fmt == "fp32":
        return fmt
    if fmt in ("bf16", "fp16"):
        return "f16" if fmt == "fp16" else "bf16"
    raise EstimateError(
        f"llama.cpp loads GGUF files only: choose a GGUF type (q4_k_m, q8_0, f16, …), not {fmt}", "weights"
    )


def kv_cache_type(requested: str) -> str:
    """llama.cpp's ``-ctk/-ctv`` type for the request's KV-cache dtype (f16 is llama.cpp's default)."""
    key = requested.strip().lower().replace("-", "_")
    key = KV_ALIASES.get(key, key)
    if key == "bf16":
        key = "f16"  # the request's default 16-bit cache is llama.cpp's default -ctk/-ctv f16 (same size)
    if key not in KV_TYPES:
        raise EstimateError(
            msg("error.kv_cache_dtype.llama_cpp", expected=", ".join(KV_TYPES), got=shown(requested)),
            "kv_cache_dtype",
        )
    return key


def gpu_entry(gpu_id: str | None) -> GpuEntry | None:
    if not gpu_id:
        return None
    try:
        return load_catalog().gpu(gpu_id)
    except CatalogError as exc:
        raise EstimateError(str(exc), "gpu") from None


def outside_buffers(gpu: GpuEntry | None) -> tuple[int, str, bool]:
    """(bytes per GPU, the GPU measured, estimated?) for llama.cpp's memory outside its buffers."""
    arch = gpu.architecture if gpu else "ada"
    if arch in GGML_OUTSIDE_BUFFERS:
        nbytes, measured_on, _ = GGML_OUTSIDE_BUFFERS[arch]
        return nbytes, measured_on, False
    nbytes, measured_on, _ = GGML_OUTSIDE_BUFFERS["ada"]
    return nbytes, measured_on, True


def backend_name(gpu: GpuEntry | None) -> str:
    """ggml's device names: CUDA0…, ROCm0…, MTL0… (what llama.cpp's buffer lines print)."""
    vendor = gpu.vendor if gpu else "nvidia"
    return {"nvidia": "CUDA", "amd": "ROCm", "apple": "MTL"}.get(vendor, "GPU")


@dataclass
class Plan:
    """Everything fixed by the request except ``-ngl``: the model's tensors, the context and the graph options."""

    a: ArchSpec
    layout: GgufLayout
    kv: KvSpec
    graph: GraphOptions
    n_gpus: int
    build: str
    overhead: int  # per GPU, outside llama.cpp's buffers
    extra_gpu0: int = 0  # multimodal projector weights + encoder buffers
    active_share: dict[int, int] = field(default_factory=dict)  # layer → bytes read per token (MoE: top-k)
    layer_kv: tuple[int, ...] = ()
    kind_of: tuple[int, ...] = ()  # layer → index of its kind (distinct LayerSpec)
    terms: tuple[GraphTerms, ...] = ()  # prompt graph, token-generation graph

    @property
    def slots(self) -> int:
        return self.a.num_layers + 1

    def allocate(self, gpu_layers: int) -> Allocation:
        p = place_layers(self.a.num_layers, gpu_layers, self.n_gpus, self.build)
        return Allocation(self, p)


@dataclass
class Allocation:
    """llama.cpp's buffers for one ``-ngl``: per GPU and on the host."""

    plan: Plan
    placement: Placement

    @cached_property
    def weights(self) -> dict[int, int]:
        return weights_by_device(self.plan.layout, self.placement, self.plan.n_gpus)

    @cached_property
    def kv(self) -> dict[int, int]:
        pl = self.plan
        return kv_by_device(pl.layer_kv, self.placement, pl.n_gpus, pl.graph.offload_kqv)

    @cached_property
    def buffers(self) -> Buffers:
        pl = self.plan
        graph = pl.graph
        if graph.pipeline and self.placement.gpu_layers <= pl.a.num_layers:
            graph = replace(graph, pipeline=False)  # llama-context.cpp: only with every layer offloaded
        return compute_buffers(pl.a, pl.layout, self.placement, pl.kv, graph, pl.n_gpus, pl.terms, pl.kind_of)

    def gpu_total(self, d: int) -> int:
        extra = self.plan.extra_gpu0 if d == 0 else 0
        return self.weights[d] + self.kv[d] + self.buffers.gpu[d] + self.plan.overhead + extra

    @property
    def binding_gpu(self) -> int:
        return max(range(self.plan.n_gpus), key=self.gpu_total)

    @property
    def output_buffer(self) -> int:
        """Host logits buffer: ``output_reserve(n_seq_max)``, one f32 row of n_vocab per sequence."""
        return self.plan.a.vocab_size * 4 * self.plan.graph.n_seqs

    @property
    def host_weights(self) -> int:
        return self.weights[CPU]

    @property
    def ram(self) -> int:
        return self.weights[CPU] + self.kv[CPU] + self.buffers.host + self.output_buffer

    @property
    def total(self) -> int:
        """What the binding device must hold (the largest GPU; system RAM when there is no GPU)."""
        if not self.plan.n_gpus:
            return self.ram
        return self.gpu_total(self.binding_gpu)

    def decode_bytes(self) -> tuple[int, int]:
        """Bytes read per generated token on the GPUs and on the CPU: every active weight once (token_embd: one
        row), every KV byte of the full context."""
        pl, p = self.plan, self.placement
        gpu = cpu = 0
        for il, d in enumerate(p.layer_device):
            share = pl.active_share.get(il, pl.layout.layers[il])
            if d == CPU:
                cpu += share
            else:
                gpu += share
        head = pl.layout.output + pl.layout.output_norm
        if p.output_device == CPU:
            cpu += head
        else:
            gpu += head
        kv_gpu = sum(v for d, v in self.kv.items() if d != CPU)
        return gpu + kv_gpu, cpu + self.kv[CPU]


def make_plan(ctx: Ctx, a: ArchSpec, fmt: str, seq: int, extra_gpu0: int = 0) -> Plan:
    """Validate the request for llama.cpp and fix everything but the layer count."""
    req = ctx.req
    if req.tp > 1 or req.pp > 1:
        field_name = "tp" if req.tp > 1 else "pp"
        raise EstimateError(msg("error.llama_cpp.tp_pp"), field_name)
    if req.batch_size > 1:
        raise EstimateError(msg("error.llama_cpp.batch_size"), "batch_size")
    kv_type = kv_cache_type(req.kv_cache_dtype)
    flash = req.attention != "eager"
    if kv_type in QUANTIZED_KV_TYPES and not flash:
        raise EstimateError(msg("error.kv_cache_dtype.needs_flash"), "kv_cache_dtype")
    build = req.llama_cpp_build
    gpu = gpu_entry(req.gpu)
    n_gpus = 0 if req.platform == "cpu" else req.gpus
    ubatch = min(req.ubatch_size, seq)
    kv = kv_spec(a, seq, req.parallel, req.kv_unified, ubatch, kv_type, flash, build)
    n_tokens = min(kv.n_ctx, req.ubatch_size)
    graph = GraphOptions(
        n_tokens=n_tokens,
        n_seqs=req.parallel,
        flash=flash,
        kv_quantized=kv_type in QUANTIZED_KV_TYPES,
        offload_kqv=not req.no_kv_offload,
        op_offload=True,
        build=build,
        pipeline=n_gpus > 1 and not req.no_kv_offload,
    )
    lay = gguf_layout(a, count_params(a).components, fmt)
    active: dict[int, int] = {}
    if a.moe:
        for il, mats in enumerate(lay.matrices):
            exps = sum(m.nbytes for m in mats if m.name.endswith("exps"))
            active[il] = lay.layers[il] - exps + exps * a.moe.top_k // a.moe.num_experts
    overhead = outside_buffers(gpu)[0] if n_gpus else 0
    kinds = tuple(dict.fromkeys(a.layers))
    index = {layer: k for k, layer in enumerate(kinds)}
    kind_of = tuple(index[layer] for layer in a.layers)
    kind_kv = tuple(layer_kv_bytes(a, layer, kv) for layer in kinds)
    layer_kv = tuple(kind_kv[k] for k in kind_of)
    terms = tuple(
        graph_terms(a, lay, kv, graph, t, n_gpus, kinds, kind_kv) for t in (graph.n_tokens, graph.n_seqs)
    )
    return Plan(a, lay, kv, graph, n_gpus, build, overhead, extra_gpu0, active, layer_kv, kind_of, terms)


def requested_layers(ctx: Ctx, plan: Plan) -> int:
    n = ctx.req.gpu_layers
    if n is None:
        return plan.slots
    if n > plan.slots:
        raise EstimateError(
            msg("error.llama_cpp.gpu_layers", got=n, slots=plan.slots, repeating=plan.a.num_layers),
            "gpu_layers",
        )
    return n


def serving_phases(
    ctx: Ctx, a: ArchSpec, fmt: str, seq: int, extra: dict[str, int] | None, layer_scan: bool = False
) -> tuple[list[Phase], int]:
    """The serving phase of the binding device and the memory outside llama.cpp's buffers on it.

    ``layer_scan`` adds the same allocation for every ``-ngl`` (for planning's inverse search)."""
    extra_gpu0 = (extra.get("weights", 0) + extra.get("encoder_activations", 0)) if extra else 0
    plan = make_plan(ctx, a, fmt, seq, extra_gpu0)
    alloc = plan.allocate(requested_layers(ctx, plan))
    _notes(ctx, plan, alloc)
    ctx.details["llama_cpp"] = details(ctx, plan, alloc)
    if plan.n_gpus and layer_scan:
        # The same allocation for every -ngl from 0 to n_layer + 1: planning's inverse search reads it.
        ctx.details["llama_cpp"]["gpu_total_by_layers"] = [
            plan.allocate(n).total for n in range(plan.slots + 1)
        ]
    if not plan.n_gpus:
        b = alloc.buffers
        parts = {
            "weights": alloc.weights[CPU],
            "kv_cache": alloc.kv[CPU],
            "compute_buffer": b.host + alloc.output_buffer,
        }
        return [Phase("serving", parts)], 0
    d = alloc.binding_gpu
    parts = {"weights": alloc.weights[d] + (extra_gpu0 if d == 0 else 0), "kv_cache": alloc.kv[d],
             "compute_buffer": alloc.buffers.gpu[d]}  # fmt: skip
    return [Phase("serving", parts)], plan.overhead


def _notes(ctx: Ctx, plan: Plan, alloc: Allocation) -> None:
    a, p, kv, g = plan.a, alloc.placement, plan.kv, plan.graph
    req = ctx.req
    kv_type = kv_cache_type(req.kv_cache_dtype)
    if plan.n_gpus:
        repeating = sum(d != CPU for d in p.layer_device)
        code = "llama_cpp.offload" if p.output_device != CPU else "llama_cpp.offload_no_output"
        ctx.note(code, ngl=p.gpu_layers, total=plan.slots, repeating=repeating)
        if plan.build == "current":
            ctx.note("llama_cpp.rule_current")
        else:
            ctx.note("llama_cpp.rule_legacy", layers=a.num_layers)
        if not p.gpu_layers:
            ctx.warn("llama_cpp.cpu_only")
    else:
        ctx.note("llama_cpp.host_only")
    if kv.n_stream > 1:
        ctx.note(
            "llama_cpp.context_split",
            n_ctx=kv.n_ctx,
            slots=req.parallel,
            per_slot=kv.n_ctx_seq,
            kv_type=kv_type,
        )
    else:
        ctx.note("llama_cpp.context_unified", n_ctx=kv.n_ctx, slots=req.parallel, kv_type=kv_type)
    n_swa = sum(layer.attention != "full" for layer in a.layers)
    if kv.swa_cells and n_swa:
        ctx.note("llama_cpp.swa", n=n_swa, cells=kv.swa_cells)
    elif n_swa:
        ctx.note("llama_cpp.no_swa", model_type=a.model_type, n_ctx=kv.n_ctx)
    if not g.flash:
        ctx.note("llama_cpp.flash_off")
    elif req.attention == "sdpa":
        ctx.note("llama_cpp.flash_auto")
    b = alloc.buffers
    if plan.n_gpus:
        d = alloc.binding_gpu
        ctx.note("llama_cpp.compute", ubatch=g.n_tokens, cells=kv.n_ctx_seq, phase=b.gpu_phase[d] or "none")
        if b.op_offload_tensor:
            ctx.note("llama_cpp.op_offload", tensor=b.op_offload_tensor, mib=b.op_offload_bytes / MiB)
        if plan.n_gpus > 1:
            ctx.note("llama_cpp.layer_split", gpus=plan.n_gpus)
            if g.pipeline and p.gpu_layers > a.num_layers:
                ctx.note("llama_cpp.pipeline", gpus=plan.n_gpus, copies=SCHED_MAX_COPIES)
        mib, measured_on, estimated = outside_buffers(gpu_entry(req.gpu))
        ctx.note("llama_cpp.overhead_estimated" if estimated else "llama_cpp.overhead", mib=mib // MiB,
                 measured_on=measured_on)  # fmt: skip
    if not g.offload_kqv:
        ctx.note("llama_cpp.no_kv_offload")
    if plan.layout.tied and p.output_device != CPU:
        ctx.note("llama_cpp.tied")
    if plan.extra_gpu0:
        ctx.note("llama_cpp.mmproj", gib=plan.extra_gpu0 / (1 << 30))
    span = cpu_mapped_span(plan.layout, p)
    ctx.note("llama_cpp.ram", gib=alloc.ram / (1 << 30), weights_gib=alloc.host_weights / (1 << 30),
             mapped_gib=span / (1 << 30))  # fmt: skip


def _layer_ranges(layers: list[int]) -> str:
    if not layers:
        return ""
    return f"{layers[0]}-{layers[-1]}" if len(layers) > 1 else str(layers[0])


def details(ctx: Ctx, plan: Plan, alloc: Allocation) -> dict[str, object]:
    """The ``details.llama_cpp`` block: per device as llama.cpp's load log prints it, RAM, decode bytes, Ollama."""
    a, p, kv, g, b = plan.a, alloc.placement, plan.kv, plan.graph, alloc.buffers
    name = backend_name(gpu_entry(ctx.req.gpu))
    devices: dict[str, dict[str, object]] = {}
    for d in range(plan.n_gpus):
        devices[f"{name}{d}"] = {
            "layers": _layer_ranges(p.layers_on(d)),
            "output_layer": p.output_device == d,
            "weights_bytes": alloc.weights[d] + (plan.extra_gpu0 if d == 0 else 0),
            "kv_bytes": alloc.kv[d],
            "compute_bytes": b.gpu[d],
            "compute_phase": b.gpu_phase[d],
            "overhead_bytes": plan.overhead,
            "total_bytes": alloc.gpu_total(d),
        }
    gpu_buffers = sum(alloc.weights[d] + alloc.kv[d] + b.gpu[d] for d in range(plan.n_gpus)) + plan.extra_gpu0
    host = {
        "weights_bytes": alloc.weights[CPU],
        "cpu_mapped_bytes": cpu_mapped_span(plan.layout, p),
        "kv_bytes": alloc.kv[CPU],
        "compute_bytes": b.host,
        "compute_phase": b.host_phase,
        "output_bytes": alloc.output_buffer,
        "ram_bytes": alloc.ram,
    }
    size = gpu_buffers + alloc.weights[CPU] + alloc.kv[CPU] + b.host
    gpu_bytes, cpu_bytes = alloc.decode_bytes()
    binding = alloc.binding_gpu if plan.n_gpus else None
    return {
        "build": plan.build,
        "placement_rule": "output-first" if plan.build == "current" else "repeating-first",
        "n_layer": a.num_layers,
        "gpu_layers": p.gpu_layers,
        "offloaded": f"{p.gpu_layers}/{plan.slots}",
        "output_on_gpu": p.output_device != CPU,
        "repeating_on_gpu": sum(d != CPU for d in p.layer_device),
        "n_ctx": kv.n_ctx,
        "n_ctx_seq": kv.n_ctx_seq,
        "n_seq_max": g.n_seqs,
        "kv_unified": kv.n_stream == 1,
        "n_ubatch": g.n_tokens,
        "flash_attn": g.flash,
        "kv_offload": g.offload_kqv,
        "op_offload": g.op_offload and g.n_tokens >= OP_OFFLOAD_MIN_BATCH and plan.n_gpus > 0,
        "file_bytes": plan.layout.file_bytes,
        "overhead_bytes": plan.overhead,
        "devices": devices,
        "host": host,
        "ram_bytes": alloc.ram,
        "weights_gpu_bytes": sum(alloc.weights[d] for d in range(plan.n_gpus)),
        "kv_gpu_bytes": sum(alloc.kv[d] for d in range(plan.n_gpus)),
        "compute_buffer_bytes": b.gpu[binding] if binding is not None else b.host,
        "op_offload_tensor": b.op_offload_tensor,
        "decode_gpu_bytes": gpu_bytes,
        "decode_cpu_bytes": cpu_bytes,
        "ollama": {
            "processor": ollama_processor(size, gpu_buffers),
            "size_bytes": size,
            "size_vram_bytes": gpu_buffers,
        },
    }


def ollama_processor(size: int, size_vram: int) -> str:
    """``ollama ps`` PROCESSOR column (cmd/cmd.go): 100% CPU, 100% GPU, or "x%/y% CPU/GPU" rounded."""
    if size_vram == 0:
        return "100% CPU"
    if size_vram >= size:
        return "100% GPU"
    cpu = round((size - size_vram) / size * 100)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def ollama_minimum_memory(gpu: GpuEntry | None) -> int:
    return OLLAMA_MINIMUM_MEMORY.get(gpu.vendor if gpu else "nvidia", OLLAMA_MINIMUM_MEMORY_DEFAULT)
