"""vLLM serving: the share of the GPU vLLM reserves, the activation peak it profiles at startup, and the KV pool,
blocks and concurrency that follow, as vLLM logs them.

Mirrors ``v1/worker/gpu_worker.py`` ``determine_available_memory`` (V0: ``worker/worker.py``
``determine_num_available_blocks``)::

    requested  = gpu_memory_utilization × total memory (torch's total_memory)
    KV pool    = requested − weights − torch peak increase of profile_run − non-torch increase [− CUDA graphs ≥ 0.20]
    # blocks   = KV pool // (page size × layers sharing a block)         (v1/core/kv_cache_utils.py get_num_blocks)
    concurrency = # blocks / blocks one max_model_len request needs      (get_max_concurrency_for_kv_cache_config)

``profile_run`` (``v1/worker/gpu_model_runner.py``) runs one forward over ``max_num_batched_tokens`` tokens split
into ``min(max_num_seqs, max_num_batched_tokens)`` requests, then ``_dummy_sampler_run`` on one row per request at
the full vocabulary. The version rules and defaults are in :mod:`.vllm_config`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..arch import ArchSpec, LayerSpec
from ..catalog import CatalogError, GpuEntry, load_catalog, load_runtime_overheads, nccl_buffer_bytes
from ..errors import EstimateError
from ..kv import kv_elements_per_token
from ..messages import Message, msg, register
from ..phases import Ctx, Phase
from ..quant import is_gguf, kv_dtype_bits
from .vllm_config import Rules, Scheduler, graph_counts, resolve_scheduler, rules_for

MiB = 1 << 20
GiB = 1 << 30

# vLLM's non_torch_memory with one GPU: "non_torch_memory takes 0.16GiB" on an H100 in vllm-project/vllm PR #12126
# (Llama-3.2-11B-Vision) and kubernetes-sigs/gateway-api-inference-extension PR #550 (Llama-3.1-8B): kernel
# modules, cuBLAS/cuDNN handles loaded after vLLM's start snapshot. Logged with 2 decimals.
NON_TORCH_BYTES = int(0.16 * GiB)
# Tensor parallel over PCIe: "non_torch_memory takes 0.25GiB" with 2× RTX 4090, TP 2 (vllm-project/vllm #13061).
NON_TORCH_TP_PCIE_BYTES = int(0.25 * GiB)
# CUDA graphs: vLLM's own estimate is the first (largest) capture plus one per-graph increment for each further graph
# (gpu_model_runner.py profile_cudagraph_memory). The increment: vllm-project/vllm PR #11349 logs "Graph capturing
# finished in 14 secs, took 0.21 GiB" for 35 graphs of Llama-3.2-1B (largest 256 tokens, whose forward peak is
# 256 × 61,440 B = 15.7 MB), i.e. (225.5 − 15.7) MB / 34 = 6.2 MB a graph. Other logs: 0.73 GiB for 86 graphs
# (PR #39559), 0.11 GiB for 30 (aivrar/vllm-windows-build #4): ±50 %.
CUDA_GRAPH_BYTES_EACH = 6 * MiB
# 0.18+ Triton top-k/top-p keeps one fp32 vocabulary row per program, min(SMs, rows) programs
# (v1/sample/ops/topk_topp_triton.py _TRITON_BUFFER_CACHE): 132 SMs on an H100/H200 SXM.
TRITON_SAMPLER_ROWS = 132
FP32 = 4

register(
    {
        "vllm.rules": "vLLM {version} ({engine} engine): KV pool = gpu_memory_utilization × total memory − weights "
        "− profiled activation peak − non-torch memory",
        "vllm.rules_graphs": "vLLM {version} ({engine} engine): KV pool = gpu_memory_utilization × total memory − "
        "weights − profiled activation peak − non-torch memory − CUDA graphs (estimated, subtracted since 0.20)",
        "vllm.approximated": "vLLM {version} is modelled with the rules of {rules}: {why}",
        "vllm.why_v1": "V1 became the default engine in 0.8",
        "vllm.why_v2_runner": "0.22 moved dense models to the V2 model runner, whose sampler warm-up is not modelled",
        "vllm.scheduler": "max_num_seqs {seqs:,}, max_num_batched_tokens {tokens:,}; chunked prefill {chunked}",
        "vllm.scheduler_defaults": "max_num_seqs {seqs:,}, max_num_batched_tokens {tokens:,} (vllm serve defaults "
        "for this GPU and version); chunked prefill {chunked}",
        "vllm.on": "on",
        "vllm.off": "off",
        "vllm.profile": "Activation peak of vLLM's startup profile: a forward over {tokens:,} tokens "
        "({forward_gib:.2f} GiB) or the sampler warm-up over {rows:,} rows × {vocab:,} vocabulary "
        "({sampler_gib:.2f} GiB, {sampler}) beside the forward's {hidden_gib:.2f} GiB of hidden states, "
        "whichever is larger",
        "vllm.graphs": "CUDA graphs: {count:,} captured (largest {largest:,} tokens), ≈ {gib:.2f} GiB estimated, "
        "{where}",
        "vllm.graphs_in_budget": "subtracted from the KV budget",
        "vllm.graphs_outside": "captured after the KV cache, outside gpu_memory_utilization",
        "vllm.eager": "enforce_eager: no CUDA graphs are captured (and no torch.compile)",
        "vllm.context": "CUDA context ≈ {gib:.2f} GiB ({source}) {where}",
        "vllm.context_measured": "bare context measured on {gpu}",
        "vllm.context_estimated": "bare context measured on {gpu}, estimated",
        "vllm.context_in_budget": "counted inside the budget (0.6: non_torch_memory is everything the device reports "
        "used)",
        "vllm.context_outside": "outside the budget (created before vLLM's start snapshot)",
        "vllm.no_gpu": "No GPU chosen: vLLM's reservation and KV pool need the card's memory; shown is what "
        "{batch:,} sequences of {seq:,} tokens need",
        "vllm.kv_short": "The KV pool ({pool_gib:.2f} GiB, {blocks:,} blocks) holds {concurrency:.2f} sequences of "
        "{seq:,} tokens, fewer than the {batch:,} requested",
        "vllm.no_start": "vLLM would refuse to start: the KV pool ({pool_gib:.2f} GiB) cannot hold one request of "
        "max_model_len {seq:,} tokens",
        "vllm.over_card": "gpu_memory_utilization {util} reserves {requested_gib:.2f} GiB but only "
        "{free_gib:.2f} GiB of the {total_gib:.2f} GiB card is free beside the CUDA context: vLLM refuses to start",
        "vllm.platform": "vLLM's CUDA/ROCm accounting is shown; on {gpu} vLLM needs a separate platform plugin "
        "whose memory handling may differ",
        "vllm.seqs_cap": "vLLM runs at most max_num_seqs = {seqs:,} sequences at once; {batch:,} requested",
        "vllm.long_context": "max_model_len {seq:,} exceeds the model's context ({limit:,}): vLLM refuses it "
        "unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1",
    }
)


def weight_format(fmt: str) -> str:
    """vLLM loads Hugging Face checkpoints (bf16/fp16/fp32, FP8, GPTQ/AWQ int4/int8, bitsandbytes, MXFP4)."""
    if is_gguf(fmt):
        raise EstimateError(
            f"weights {fmt} is a GGUF format: vLLM's GGUF loading is experimental (docs.vllm.ai "
            "features/quantization/gguf: 'highly experimental and under-optimized') and since 0.25 lives outside "
            "vLLM in vllm-gguf-plugin; use runtime llama.cpp for GGUF, or an HF format with vLLM",
            "weights",
        )
    return fmt


def kv_cache_dtype_bytes(kv_dtype: str) -> int:
    """vLLM's --kv-cache-dtype: auto (the model dtype: bf16/fp16/fp32) or fp8 (config/cache.py CacheDType)."""
    if kv_dtype not in ("bf16", "fp16", "fp32", "fp8"):
        raise EstimateError(msg("error.kv_cache_dtype.vllm", got=kv_dtype), "kv_cache_dtype")
    return kv_dtype_bits(kv_dtype) // 8


# ---------------------------------------------------------------------------------------------------------------
# The profiled activation peak


def sort_bytes_per_element(rows: int) -> int:
    """Bytes per logit torch.sort holds while sorting fp32 values with int64 indices (aten/src/ATen/native/cuda/
    SortStable.cu): the outputs (4 + 8) plus the workspace of the path it takes for ``rows`` rows —
    ≥ 128: segmented_sort_pairs, an int64 index copy (8) and cub's alternate key/value buffers (4 + 8);
    2–127: segmented_sort_pairs_by_full_sort, two int2 arrays (8 + 8), keys_out (4) and cub's buffers (4 + 8);
    1: segmented_sort_large_segments, cub's buffers only (4 + 8)."""
    workspace = 20 if rows >= 128 else 32 if rows >= 2 else 12
    return 12 + workspace


def sampler_peak_bytes(rules: Rules, rows: int, vocab: int, logits_bytes: int) -> int:
    """The sampler warm-up's peak over ``rows`` × ``vocab`` logits (independent of TP: the logits are gathered
    whole on every rank, LogitsProcessor._gather_logits).

    Held throughout: the logits in the model dtype and their fp32 copy (``logits.to(torch.float32)``, sampler.py).
    "sort" (V0, V1 ≤ 0.17, and 0.18+ below 8 rows): the peak is inside ``logits.sort`` (apply_top_k_top_p).
    "triton": top-k/top-p in place, then ``probs = softmax`` and ``q = empty_like(probs)`` (random_sample), plus
    the Triton row buffer."""
    held = rows * vocab * (logits_bytes + FP32)
    if rules.sampler == "triton" and rows >= 8:
        programs = min(rows, TRITON_SAMPLER_ROWS)
        buffer_rows = min(1 << (programs - 1).bit_length(), TRITON_SAMPLER_ROWS)
        return held + rows * vocab * 2 * FP32 + buffer_rows * vocab * FP32
    return held + rows * vocab * sort_bytes_per_element(rows)


def layer_peak_per_token(a: ArchSpec, layer: LayerSpec, tp: int) -> int:
    """Elements alive per token at a decoder layer's peak in vLLM's eager forward (one TP rank).

    Held across the layer: the residual and the normalised input (fused_add_rms_norm works in place). MLP
    (model_executor/models/llama.py LlamaMLP): gate_up [2I/tp], SiluAndMul's output [I/tp] and down_proj's output
    [h]; attention: qkv [(q + 2kv)/tp], the attention output [q/tp] and o_proj's output [h]. MoE (fused_moe.py
    fused_experts_impl): intermediate_cache1/3 share one top_k × max(2I/tp, h) buffer, cache2 top_k × I/tp, the
    output [h], and a shared expert's output [h] held beside. Under TP the row-parallel output is all-reduced out
    of place (+h)."""
    h = a.hidden_size
    reduce = h if tp > 1 else 0
    attn = 3 * h + (a.q_dim + 2 * a.kv_dim + a.q_dim) // tp + reduce
    if layer.moe and a.moe:
        e = a.moe
        experts = e.top_k * (max(2 * e.expert_intermediate // tp, h) + e.expert_intermediate // tp)
        mlp = 3 * h + experts + (h if e.shared_intermediate else 0)
    else:
        width = a.intermediate_size // tp
        mlp = 3 * h + (3 if a.gated_mlp else 2) * width + reduce
    return max(attn, mlp)


def forward_peak_bytes(a: ArchSpec, tokens: int, tp: int, act_bytes: int, weights_format: str) -> int:
    """The forward's transient peak over ``tokens`` tokens (eager; torch.compile fuses some of it away).

    bitsandbytes 4-bit (nf4) dequantises each weight to 16 bits for its matmul (bitsandbytes matmul_4bit): the
    largest linear (gate_up or qkv on this rank) adds its 16-bit copy."""
    per_token = max(layer_peak_per_token(a, layer, tp) for layer, _ in a.layer_groups())
    dequant = 0
    if weights_format in ("nf4", "nf4-nodq"):
        widest = max(2 * a.intermediate_size, a.q_dim + 2 * a.kv_dim) // tp
        dequant = 2 * a.hidden_size * widest
    return tokens * per_token * act_bytes + dequant


@dataclass(frozen=True)
class Profile:
    forward: int
    hidden: int  # the forward's output [tokens, h], held while the sampler runs
    sampler: int
    peak: int


def profile_peak(
    rules: Rules,
    a: ArchSpec,
    sched: Scheduler,
    tp: int,
    act_bytes: int,
    fmt: str,
    encoder: int,
    last_stage: bool,
) -> Profile:
    """torch's allocated-peak increase during profile_run (the "PyTorch activation peak memory")."""
    tokens = sched.max_num_batched_tokens
    forward = forward_peak_bytes(a, tokens, tp, act_bytes, fmt)
    rows = min(sched.max_num_seqs, tokens)
    hidden = tokens * a.hidden_size * act_bytes if last_stage else 0
    sampler = sampler_peak_bytes(rules, rows, a.vocab_size, act_bytes) if last_stage else 0
    return Profile(forward, hidden, sampler, max(forward, hidden + sampler, encoder))


# ---------------------------------------------------------------------------------------------------------------
# Memory outside the tensors


def gpu_entry(req_gpu: str | None) -> GpuEntry | None:
    if not req_gpu:
        return None
    try:
        return load_catalog().gpu(req_gpu)
    except CatalogError as exc:
        raise EstimateError(str(exc), "gpu") from None


def bare_context(gpu: GpuEntry | None, override_mib: int | None = None) -> tuple[int, Message]:
    """The CUDA context as it stands when vLLM takes its start snapshot (no kernels run yet): the user's figure
    (``cuda_context_mib``), else the bare-context measurement of the GPU's architecture in
    data/runtime_overheads.json, else the largest one measured."""
    if override_mib is not None:
        return override_mib * MiB, msg("device.set_by", flag="cuda_context_mib")
    bare = [m for m in load_runtime_overheads().context_measurements if m.scope == "bare-context"]
    same = [m for m in bare if gpu and m.architecture == gpu.architecture]
    m = same[0] if same else max(bare, key=lambda x: x.bytes)
    return m.bytes, msg("vllm.context_measured" if same else "vllm.context_estimated", gpu=m.gpu)


def non_torch_bytes(tp: int, gpu: GpuEntry | None, nccl_mib: int | None = None) -> int:
    """vLLM's non-torch increase: 0.16 GiB on one GPU; with TP, NCCL's buffers (the user's ``nccl_mib``, else
    data/runtime_overheads.json, measured over NVLink, or, over PCIe, vLLM's own 0.25 GiB measurement)."""
    if tp == 1:
        return NON_TORCH_BYTES
    if nccl_mib is not None:
        return NON_TORCH_BYTES + nccl_mib * MiB
    if gpu is not None and gpu.interconnect == "pcie":
        return NON_TORCH_TP_PCIE_BYTES
    return NON_TORCH_BYTES + nccl_buffer_bytes(gpu, tp).bytes


def cuda_graph_bytes(
    rules: Rules, a: ArchSpec, sched: Scheduler, tp: int, act_bytes: int
) -> tuple[int, int, int]:
    """(estimated bytes, graphs captured, largest size): the largest graph's forward activations stay in the graph
    pool; each further graph adds CUDA_GRAPH_BYTES_EACH. FULL and PIECEWISE graphs share the pool, so the first
    capture counts once (profile_cudagraph_memory: max of first captures + Σ per-graph)."""
    piecewise, full, largest = graph_counts(rules, sched.max_num_seqs, sched.max_num_batched_tokens)
    first = forward_peak_bytes(a, largest, tp, act_bytes, "bf16")
    extra = (piecewise - 1) + max(full - 1, 0)
    return first + extra * CUDA_GRAPH_BYTES_EACH, piecewise + full, largest


# ---------------------------------------------------------------------------------------------------------------
# KV blocks


@dataclass(frozen=True)
class KvLayout:
    page_bytes: int  # one layer's page (block_size tokens) on one GPU
    block_bytes: int  # what one block id occupies: a page in each layer sharing it
    blocks_per_request: int  # blocks one request of max_model_len tokens needs
    groups: int  # KV cache groups (1 unless the model mixes attention types)


def kv_layout(
    rules: Rules,
    a: ArchSpec,
    tp: int,
    pp: int,
    block_size: int,
    dtype_bytes: int,
    max_model_len: int,
    mnbt: int,
) -> KvLayout:
    """Pages, groups and per-request blocks (v1/kv_cache_interface.py, kv_cache_utils.py).

    Layers of one attention type share a group; with several types the group size is the smallest type's layer
    count (or the largest when it is < 1.5× the smallest), each type split into groups of that size
    (``_get_kv_cache_groups_uniform_page_size``). A block id holds one page per layer of a group; a request needs
    ``cdiv(max_model_len, block_size)`` blocks in a full-attention group, ``cdiv(min(window − 1 + mnbt, len),
    block_size) + 1`` in a sliding-window group and ``cdiv(min(chunk + mnbt, len), block_size)`` in a chunked one.
    V0 allocates every layer for the full length."""
    heads = max(1, a.num_kv_heads // tp) if not a.mla else 0
    elements = kv_elements_per_token(a, a.layers[0]) if a.mla else 2 * heads * a.head_dim
    page = block_size * elements * dtype_bytes
    counts: dict[tuple[str, int], int] = {}
    for layer, n in a.layer_groups():
        kind = (layer.attention if layer.window and rules.engine == "V1" else "full", layer.window or 0)
        counts[kind] = counts.get(kind, 0) + -(-n // pp)
    full_blocks = -(-max_model_len // block_size)

    def blocks(kind: tuple[str, int]) -> int:
        attention, window = kind
        if attention == "sliding":
            return -(-min(window - 1 + mnbt, max_model_len) // block_size) + 1
        if attention == "chunked":
            return -(-min(window + mnbt, max_model_len) // block_size)
        return full_blocks

    if len(counts) == 1:
        ((kind, layers),) = counts.items()
        return KvLayout(page, page * layers, blocks(kind), 1)
    smallest, largest = min(counts.values()), max(counts.values())
    size = largest if largest < 1.5 * smallest else smallest
    groups = {kind: -(-n // size) for kind, n in counts.items()}
    per_request = sum(g * blocks(kind) for kind, g in groups.items())
    return KvLayout(page, page * size, per_request, sum(groups.values()))


# ---------------------------------------------------------------------------------------------------------------
# The serving phase and vLLM's startup numbers


def _gib(n: int | float) -> float:
    return round(n / GiB, 4)


def resolved_utilization(utilization: float | None, version: str) -> float:
    """gpu_memory_utilization as vLLM uses it: the user's, else the version's default."""
    return utilization if utilization is not None else rules_for(version).default_utilization


def serving_phases(
    ctx: Ctx, a: ArchSpec, weights: int, seq: int, fmt: str, act_bytes: int, encoder: int = 0
) -> tuple[list[Phase], int]:
    """vLLM's serving phase per GPU and the memory beside it (non-torch, CUDA graphs, the CUDA context).

    With a GPU chosen, the phase holds the KV pool vLLM allocates (the rest of its reservation) and the total is
    what the card holds: ``gpu_memory_utilization × total`` plus what lies outside that budget. Without a GPU, or
    when the pool is too small for the request, the phase holds the KV the ``batch_size`` sequences need.
    ``seq`` is vLLM's max_model_len: the request's tokens, media tokens included."""
    req = ctx.req
    rules = rules_for(req.vllm_version)
    tp, pp = req.tp, req.pp
    if a.num_heads % tp:  # vllm/config ModelConfig.verify_with_parallel_config
        raise EstimateError(msg("error.vllm.tp_heads", tp=tp, heads=a.num_heads), "tp")
    batch = req.batch_size
    gpu = gpu_entry(req.gpu)
    total = gpu.memory_bytes if gpu else None
    sliding = any(layer.attention != "full" for layer in a.layers)
    sched = resolve_scheduler(
        rules, seq, req.max_num_seqs, req.max_num_batched_tokens, req.enable_chunked_prefill, total,
        gpu.id + " " + gpu.name if gpu else "", sliding,
    )  # fmt: skip
    dtype_bytes = kv_cache_dtype_bytes(req.kv_cache_dtype)
    block_size = req.block_size or rules.default_block_size
    util = resolved_utilization(req.gpu_memory_utilization, req.vllm_version)

    # V0 samples on the driver (TP rank 0) only; V1 on every TP rank of the last pipeline stage. The reported rank
    # is the one that holds the most (it sets the block count: vLLM takes the minimum over workers).
    prof = profile_peak(rules, a, sched, tp, act_bytes, fmt, encoder, last_stage=True)
    non_torch = non_torch_bytes(tp, gpu, req.nccl_mib)
    context, context_source = bare_context(gpu, req.cuda_context_mib)
    if rules.context_in_budget:
        non_torch += context
    graphs = graph_count = largest = 0
    if not req.enforce_eager:
        graphs, graph_count, largest = cuda_graph_bytes(rules, a, sched, tp, act_bytes)
    graphs_inside = graphs if rules.graphs_in_budget else 0
    layout = kv_layout(rules, a, tp, pp, block_size, dtype_bytes, seq, sched.max_num_batched_tokens)
    per_request = layout.blocks_per_request * layout.block_bytes
    kv_needed = batch * per_request
    fixed = weights + prof.peak + non_torch + graphs_inside
    required = fixed + kv_needed

    info: dict[str, object] = {
        "version": req.vllm_version, "engine": rules.engine, "rules": rules.approximated_by or req.vllm_version,
        "gpu_memory_utilization": util, "max_model_len": seq, "max_num_seqs": sched.max_num_seqs,
        "max_num_batched_tokens": sched.max_num_batched_tokens, "chunked_prefill": sched.chunked_prefill,
        "enforce_eager": req.enforce_eager, "block_size": block_size, "weights_bytes": weights,
        "activation_peak_bytes": prof.peak, "forward_peak_bytes": prof.forward, "sampler_peak_bytes": prof.sampler,
        "non_torch_bytes": non_torch, "cuda_graph_bytes": graphs, "cuda_graphs": graph_count,
        "cuda_graphs_in_budget": rules.graphs_in_budget, "cuda_context_bytes": context,
        "page_size_bytes": layout.page_bytes, "block_bytes": layout.block_bytes,
        "blocks_per_request": layout.blocks_per_request, "kv_cache_groups": layout.groups,
        "kv_needed_bytes": kv_needed, "required_bytes": required,
    }  # fmt: skip
    _notes(ctx, rules, sched, prof, a, graphs, graph_count, largest, context, context_source)
    outside = (0 if rules.context_in_budget else context) + (graphs - graphs_inside)
    kv = kv_needed
    if total is not None:
        requested = int(util * total)
        free = total - (0 if rules.context_in_budget else context)
        if rules.extensible_kv:
            requested = min(requested, free)  # sized from what is really free; the utilization only caps it
        pool = requested - fixed
        blocks = max(0, pool // layout.block_bytes)
        if rules.engine == "V0":
            concurrency = blocks * block_size / seq
            tokens = blocks * block_size
        else:
            concurrency = blocks / layout.blocks_per_request
            tokens = (
                int(concurrency * seq)
                if rules.tokens_from_concurrency
                else blocks // layout.groups * block_size
            )
        info.update(
            total_gpu_memory_bytes=total, requested_memory_bytes=requested, kv_cache_bytes=pool,
            num_gpu_blocks=blocks, kv_cache_tokens=tokens, max_concurrency=round(concurrency, 4),
            reserved_total_bytes=requested + outside,
        )  # fmt: skip
        if pool >= kv_needed:
            kv = pool
        if blocks < layout.blocks_per_request:
            ctx.warn("vllm.no_start", pool_gib=_gib(pool), seq=seq)
        elif pool < kv_needed:
            ctx.warn(
                "vllm.kv_short",
                pool_gib=_gib(pool),
                blocks=blocks,
                concurrency=concurrency,
                seq=seq,
                batch=batch,
            )
        if requested > free:
            ctx.warn("vllm.over_card", util=util, requested_gib=_gib(requested), free_gib=_gib(free),
                     total_gib=_gib(total))  # fmt: skip
    else:
        ctx.note("vllm.no_gpu", batch=batch, seq=seq)
    if gpu is not None and gpu.vendor not in ("nvidia", "amd"):
        ctx.warn("vllm.platform", gpu=gpu.name)
    if batch > sched.max_num_seqs:
        ctx.warn("vllm.seqs_cap", seqs=sched.max_num_seqs, batch=batch)
    limit = a.max_position_embeddings
    if limit and seq > limit:
        ctx.warn("vllm.long_context", seq=seq, limit=limit)
    ctx.details["vllm"] = info
    sampler_wins = prof.hidden + prof.sampler >= prof.forward and prof.hidden + prof.sampler >= encoder
    parts = {
        "weights": weights,
        "kv_cache": kv,
        "activations": prof.hidden if sampler_wins else prof.peak,
        "logits": prof.sampler if sampler_wins else 0,
    }
    return [Phase("serving", parts)], non_torch + graphs + (0 if rules.context_in_budget else context)


def _notes(
    ctx: Ctx, rules: Rules, sched: Scheduler, prof: Profile, a: ArchSpec, graphs: int, count: int, largest: int,
    context: int, context_source: Message,
) -> None:  # fmt: skip
    req = ctx.req
    ctx.note("vllm.rules_graphs" if rules.graphs_in_budget else "vllm.rules", version=req.vllm_version,
             engine=rules.engine)  # fmt: skip
    if rules.approximated_by:
        why = msg("vllm.why_v1" if rules.approximated_by == "0.10" else "vllm.why_v2_runner")
        ctx.warn("vllm.approximated", version=req.vllm_version, rules=rules.approximated_by, why=why)
    explicit = req.max_num_seqs is not None and req.max_num_batched_tokens is not None
    ctx.note("vllm.scheduler" if explicit else "vllm.scheduler_defaults", seqs=sched.max_num_seqs,
             tokens=sched.max_num_batched_tokens, chunked=msg("vllm.on" if sched.chunked_prefill else "vllm.off"))  # fmt: skip
    rows = min(sched.max_num_seqs, sched.max_num_batched_tokens)
    sampler = "PyTorch sort" if rules.sampler == "sort" or rows < 8 else "Triton top-k/top-p"
    ctx.note("vllm.profile", tokens=sched.max_num_batched_tokens, forward_gib=_gib(prof.forward), rows=rows,
             vocab=a.vocab_size, sampler_gib=_gib(prof.sampler), sampler=sampler, hidden_gib=_gib(prof.hidden))  # fmt: skip
    if req.enforce_eager:
        ctx.note("vllm.eager")
    else:
        where = msg("vllm.graphs_in_budget" if rules.graphs_in_budget else "vllm.graphs_outside")
        ctx.note("vllm.graphs", count=count, largest=largest, gib=_gib(graphs), where=where)
    where = msg("vllm.context_in_budget" if rules.context_in_budget else "vllm.context_outside")
    ctx.note("vllm.context", gib=_gib(context), source=context_source, where=where)
