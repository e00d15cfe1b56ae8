"""Assemble a memory estimate for one request: the live set at each phase of the workload, and its peak.

Each mode lists the phases where memory can peak (prefill/decode; forward, backward start, backward end,
optimizer step; rollout, reference pass), sums what is alive in each, and reports the largest as the peak with
its breakdown — the same way the measured runs in validation/ report ``breakdown_at_peak``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from . import activations as act
from .arch import ArchSpec, ConfigError, parse_config
from .catalog import CatalogError, ModelEntry, load_catalog
from .kv import kv_bytes_per_token_full, kv_cache_bytes, largest_layer_kv_bytes
from .lora import LoraTargetError, lora_plan
from .messages import InputError, msg
from .params import count_params, layer_params, linear_shapes
from .quant import HF_FORMATS, is_gguf, kv_dtype_bits, normalise_format, weight_bytes
from .schemas import EstimateRequest, EstimateResult, ModelInfo, Params
from .training import (
    OPTIMIZERS,
    optimizer_state_bytes,
    optimizer_step_temp_bytes,
    precision_spec,
    shard,
    sharding,
)

MiB = 1 << 20
GiB = 1 << 30

# Runtime overheads outside PyTorch's allocator (formulas.md §I).
CUDA_CONTEXT_BYTES = (
    400 * MiB
)  # ptrblck (pytorch/pytorch #107667): "around 400MB if CUDA >= 11.7 … lazy loading"
CUBLAS_WORKSPACE_BYTES = 32 * MiB  # PyTorch CUDABlas default workspace (CUBLAS_WORKSPACE_CONFIG :4096:8)
NCCL_BYTES = 1 * GiB  # NVIDIA/nccl #864: ~1.6 GB per communicator after all-reduce; 0.5–2 GB reported
VLLM_CUDA_GRAPH_BYTES = 512 * MiB  # vLLM "Graph capturing finished … took 0.3–1 GiB" (typical log lines)
VLLM_BLOCK_SIZE = 16  # vllm/config/cache.py default block_size
VLLM_MAX_NUM_BATCHED_TOKENS = 8192  # vLLM V1 default for online serving (scheduler config)
VLLM_MAX_NUM_SEQS = 256  # vLLM default max_num_seqs
LLAMA_CPP_UBATCH = 512  # llama.cpp default n_ubatch


class EstimateError(InputError):
    """Invalid or incompatible input; ``field`` names the request field when one is at fault."""


@dataclass
class Phase:
    name: str
    parts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.parts.values())


@dataclass
class ResolvedModel:
    arch: ArchSpec
    info: ModelInfo
    config: dict[str, Any]
    entry: ModelEntry | None
    multimodal: Any = None  # towers.MultimodalSpec when the config has vision/audio towers


@dataclass
class Ctx:
    """Working state of one estimate: notes collected while computing."""

    req: EstimateRequest
    assumptions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def _is_multimodal_config(config: dict[str, Any]) -> bool:
    from .towers import is_multimodal

    return is_multimodal(config)


_RESOLVED: dict[tuple[str | None, str | None, int | None], ResolvedModel] = {}
_RESOLVED_MAX = 64


def resolve_model(req: EstimateRequest) -> ResolvedModel:
    """The architecture to size (cached: planning re-estimates the same model many times)."""
    key = (req.model if req.config is None else None,
           json.dumps(req.config, sort_keys=True, default=str) if req.config is not None else None, req.num_layers)  # fmt: skip
    hit = _RESOLVED.get(key)
    if hit is None:
        hit = _resolve_model(req)
        if len(_RESOLVED) >= _RESOLVED_MAX:
            _RESOLVED.pop(next(iter(_RESOLVED)))
        _RESOLVED[key] = hit
    return hit


def _resolve_model(req: EstimateRequest) -> ResolvedModel:
    """A custom config.json, or a catalog entry's config, parsed into an ArchSpec (+ towers)."""
    entry: ModelEntry | None = None
    if req.config is not None:
        config = req.config
        name = str(config.get("_name_or_path") or config.get("model_type") or "custom model")
        source = "custom"
    else:
        try:
            entry = load_catalog().model(req.model or "")
        except CatalogError as exc:
            raise EstimateError(str(exc), "model") from None
        config = entry.config
        name = entry.name
        source = "catalog"
    multimodal = None
    try:
        if _is_multimodal_config(config):
            from .towers import split_multimodal

            multimodal = split_multimodal(config)
            arch = multimodal.lm
            if req.num_layers:
                arch = arch.model_copy(update={"layers": arch.layers[:1] * req.num_layers})
        else:
            arch = parse_config(config, num_layers=req.num_layers)
    except ConfigError as exc:
        raise EstimateError(str(exc), "config") from None
    except (TypeError, KeyError, ValueError) as exc:
        raise EstimateError(f"config.json could not be read: {exc}", "config") from None
    info = ModelInfo(
        id=entry.id if entry else None,
        name=name,
        model_type=arch.model_type,
        source=source,
        num_layers=arch.num_layers,
        context_length=entry.context_length if entry else arch.max_position_embeddings,
    )
    return ResolvedModel(arch=arch, info=info, config=config, entry=entry, multimodal=multimodal)


def _gpu_capacity(req: EstimateRequest) -> int | None:
    if not req.gpu:
        return None
    try:
        return load_catalog().gpu(req.gpu).memory_bytes
    except CatalogError as exc:
        raise EstimateError(str(exc), "gpu") from None


def _overhead(ctx: Ctx, processes_per_gpu: int = 1) -> int:
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


# ---------------------------------------------------------------------------------------------------------------
# Shared pieces


def _tp_heads_note(ctx: Ctx, a: ArchSpec, tp: int) -> None:
    if tp > 1 and a.num_kv_heads < tp:
        ctx.assumptions.append(
            f"Tensor parallel {tp} > {a.num_kv_heads} KV heads: KV heads are replicated, each GPU caches one head"
        )


def _kv_per_gpu(a: ArchSpec, total: int, tp: int, pp: int) -> int:
    """KV cache per GPU: heads split over TP (replicated when n_kv < tp), layers over PP."""
    heads_split = min(tp, a.num_kv_heads) if not a.mla else 1
    return -(-total // (heads_split * pp))


def _weights_per_gpu(total: int, tp: int, pp: int) -> int:
    return -(-total // (tp * pp))


def _active_tokens_layer_peak(a: ArchSpec, tokens: int, act_bytes: int) -> int:
    """Largest per-layer forward transient over the layers (MoE layers pass top-k expert widths)."""
    return (
        max(act.inference_layer_peak_per_token(a, layer, act_bytes) for layer, _ in a.layer_groups()) * tokens
    )


def _inference_forward_bytes(
    a: ArchSpec, batch: int, q_len: int, kv_len: int, act_bytes: int, attention: str
) -> int:
    """No-grad forward of ``batch × q_len`` tokens attending to ``kv_len`` tokens: the transient at the peak."""
    tokens = batch * q_len
    resident = act.inference_resident_per_token(a, act_bytes) * tokens
    layer = _active_tokens_layer_peak(a, tokens, act_bytes)
    if attention == "eager":
        layer = max(layer, act.eager_scores_inference_bytes(a, batch, q_len, kv_len, act_bytes))
    rope = 2 * act_bytes * a.head_dim * q_len  # cos/sin tables [1, S, d] (position embeddings)
    return resident + layer + rope


def _finish(
    ctx: Ctx,
    model: ResolvedModel,
    phases: list[Phase],
    overhead: int,
    params: Params,
    num_devices: int,
) -> EstimateResult:
    peak = max(phases, key=lambda p: p.total)
    components = {"weights": 0, "kv_cache": 0, "activations": 0, "logits": 0, "gradients": 0, "optimizer": 0}
    for name, value in peak.parts.items():
        components[name] = components.get(name, 0) + value
    components["overhead"] = overhead
    peak_bytes = peak.total
    ctx.details["peak_phase"] = peak.name
    ctx.details["phases"] = {p.name: p.total for p in phases}
    ctx.details["phase_breakdown"] = {p.name: dict(p.parts) for p in phases}
    return EstimateResult(
        mode=ctx.req.mode,
        model=model.info,
        total_bytes=peak_bytes + overhead,
        peak_allocated_bytes=peak_bytes,
        components=components,
        params=params,
        num_devices=num_devices,
        assumptions=list(dict.fromkeys(model.arch.assumptions + ctx.assumptions)),
        warnings=ctx.warnings,
        details=ctx.details,
    )


# ---------------------------------------------------------------------------------------------------------------
# Inference


def _format_for_runtime(ctx: Ctx) -> str:
    req = ctx.req
    try:
        fmt = normalise_format(req.weights)
    except ValueError as exc:
        raise EstimateError(str(exc), "weights") from None
    if req.runtime == "llama.cpp" and not is_gguf(fmt) and fmt not in ("fp32",):
        if fmt in ("bf16", "fp16"):
            fmt = "f16" if fmt == "fp16" else "bf16"
        else:
            raise EstimateError(msg("error.weights.llama_cpp_needs_gguf", got=fmt), "weights")
    if req.runtime != "llama.cpp" and is_gguf(fmt) and fmt not in HF_FORMATS:
        raise EstimateError(msg("error.weights.gguf_needs_llama_cpp", got=fmt), "weights")
    return fmt


def inference(
    req: EstimateRequest, model: ResolvedModel | None = None, extra: dict[str, int] | None = None
) -> EstimateResult:
    ctx = Ctx(req)
    model = model or resolve_model(req)
    a = model.arch
    pc = count_params(a)
    fmt = _format_for_runtime(ctx)
    wb = weight_bytes(a, pc.components, fmt)
    ctx.assumptions.append(f"Weights: {wb.note}")
    tp, pp = req.tp, req.pp
    weights = _weights_per_gpu(wb.total, tp, pp)
    if extra:
        weights += _weights_per_gpu(extra.get("weights", 0), tp, pp)
    batch, seq = req.batch_size, req.seq_len + (extra.get("tokens", 0) if extra else 0)
    prompt = seq - req.gen_len
    act_bytes = 2
    kv_dtype = req.kv_cache_dtype
    hf_mla = a.mla is not None and req.runtime == "transformers"
    try:
        per_token = kv_bytes_per_token_full(a, kv_dtype, hf_mla)
    except ValueError as exc:
        raise EstimateError(str(exc), "kv_cache_dtype") from None
    ctx.details["kv_bytes_per_token"] = per_token
    ctx.details["kv_tokens"] = batch * seq
    ctx.details["weights_bits_per_weight"] = round(wb.bits_per_weight, 4)
    if hf_mla:
        ctx.assumptions.append(
            "transformers' DeepSeek attention caches per-head K/V, not the MLA latent (vLLM/SGLang cache the "
            f"{a.mla.kv_lora_rank + a.mla.qk_rope_head_dim}-element latent): switch runtime to vLLM for MLA caching"  # type: ignore[union-attr]
        )
    if any(layer.attention != "full" for layer in a.layers):
        n_local = sum(layer.attention != "full" for layer in a.layers)
        ctx.assumptions.append(
            f"{n_local} of {a.num_layers} layers use sliding-window/chunked attention: their cache holds at most "
            f"{max(layer.window or 0 for layer in a.layers)} tokens"
        )
    _tp_heads_note(ctx, a, tp)
    phases: list[Phase] = []
    overhead = _overhead(ctx)
    if extra and extra.get("encoder_activations"):
        phases.append(Phase("encoder", {"weights": weights, "activations": extra["encoder_activations"]}))

    if req.runtime == "vllm":
        kv = _kv_per_gpu(a, kv_cache_bytes(a, batch, seq, kv_dtype, "vllm", VLLM_BLOCK_SIZE), tp, pp)
        profile_tokens = min(VLLM_MAX_NUM_BATCHED_TOKENS, max(batch * seq, 1))
        profile = _inference_forward_bytes(a, 1, profile_tokens, profile_tokens, act_bytes, "flash") // tp
        sampler = min(batch, VLLM_MAX_NUM_SEQS) * a.vocab_size * 4  # fp32 logits upcast in the sampler
        phases.append(
            Phase("serving", {"weights": weights, "kv_cache": kv, "activations": profile, "logits": sampler})
        )
        overhead += VLLM_CUDA_GRAPH_BYTES
        ctx.assumptions.append(
            f"vLLM: paged KV in {VLLM_BLOCK_SIZE}-token blocks for {batch} concurrent sequences of {seq} tokens; "
            f"activation peak profiled at max_num_batched_tokens={VLLM_MAX_NUM_BATCHED_TOKENS}; CUDA graphs ≈ "
            "0.5 GiB. vLLM itself reserves gpu_memory_utilization × GPU memory and fills the rest with KV blocks"
        )
        capacity = _gpu_capacity(req)
        if capacity:
            reserved = int(req.gpu_memory_utilization * capacity)
            ctx.details["vllm_reserved_bytes"] = reserved
            need = sum(phases[-1].parts.values()) + VLLM_CUDA_GRAPH_BYTES
            ctx.details["vllm_kv_pool_bytes"] = max(0, reserved - need + kv)
            if need > reserved:
                ctx.warnings.append(
                    f"needs {need / 1e9:.1f} GB but gpu_memory_utilization={req.gpu_memory_utilization} reserves "
                    f"{reserved / 1e9:.1f} GB of {req.gpu}: vLLM would refuse to start or cap concurrency"
                )
    elif req.runtime == "llama.cpp":
        kv_dt = kv_dtype if kv_dtype not in ("bf16",) else "fp16"
        if kv_dt in ("q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl") and req.attention == "eager":
            raise EstimateError(msg("error.kv_cache_dtype.needs_flash"), "kv_cache_dtype")
        kv = _kv_per_gpu(a, kv_cache_bytes(a, batch, seq, kv_dt, "llama.cpp"), tp, pp)
        ubatch = min(LLAMA_CPP_UBATCH, max(1, batch * prompt))
        compute = ubatch * a.vocab_size * 4 + ubatch * 4 * (4 * a.hidden_size + 3 * a.intermediate_size)
        if req.attention == "eager":
            compute += a.num_heads * seq * ubatch * 4  # KQ scores when flash attention is off
        phases.append(Phase("serving", {"weights": weights, "kv_cache": kv, "activations": compute}))
        ctx.assumptions.append(
            f"llama.cpp: n_ctx = {seq} × {batch} sequences, KV cache {kv_dt}; compute buffer for n_ubatch = "
            f"{LLAMA_CPP_UBATCH} (logits f32 + layer intermediates{'' if req.attention != 'eager' else ' + KQ scores without flash attention'})"
        )
    else:
        # transformers generate(): prefill the prompt, then decode with a DynamicCache.
        kv_delta = extra.get("kv_delta", 0) if extra else 0
        kv_prompt = _kv_per_gpu(a, kv_cache_bytes(a, batch, prompt, kv_dtype), tp, pp) + kv_delta
        prefill_act = _inference_forward_bytes(a, batch, prompt, prompt, act_bytes, req.attention)
        prefill_act = prefill_act // tp if tp > 1 else prefill_act
        if req.logits_all_tokens:
            logits = batch * prompt * a.vocab_size * (act_bytes + 4)
            ctx.assumptions.append("Logits for every prompt token (16-bit + fp32 copy)")
        else:
            logits = batch * a.vocab_size * (act_bytes + 4)
            ctx.assumptions.append(
                "Prefill computes logits for the last token only (generate() passes logits_to_keep=1); "
                "sampling works on an fp32 copy"
            )
        phases.append(
            Phase(
                "prefill",
                {"weights": weights, "kv_cache": kv_prompt, "activations": prefill_act, "logits": logits},
            )
        )
        if req.gen_len:
            kv_full = _kv_per_gpu(a, kv_cache_bytes(a, batch, seq, kv_dtype), tp, pp) + kv_delta
            cat_copy = (
                largest_layer_kv_bytes(a, batch, seq, kv_dtype) if kv_dtype in ("bf16", "fp16", "fp32") else 0
            )
            decode_act = _inference_forward_bytes(a, batch, 1, seq, act_bytes, req.attention) + cat_copy
            phases.append(Phase("decode", {"weights": weights, "kv_cache": kv_full, "activations": decode_act,
                                           "logits": batch * a.vocab_size * (act_bytes + 4)}))  # fmt: skip
        if req.attention == "eager":
            ctx.assumptions.append(
                "Eager attention materialises [batch, heads, q, kv] scores (fp32 softmax + 16-bit copy)"
            )
        else:
            ctx.assumptions.append("SDPA/flash attention: no seq² score matrix is materialised")
    if tp > 1 or pp > 1:
        ctx.assumptions.append(f"Weights split over tensor parallel {tp} × pipeline parallel {pp}")
    params = Params(total=pc.total + (extra.get("params", 0) if extra else 0), active=pc.active, trainable=0,
                    breakdown=pc.components)  # fmt: skip
    return _finish(ctx, model, phases, overhead, params, req.gpus)


# ---------------------------------------------------------------------------------------------------------------
# Training / fine-tuning


@dataclass
class TrainPlan:
    """Who is trainable and how the model states are stored, per device."""

    trainable: int
    weights: int  # resident weights bytes (per device)
    gradients: int
    optimizer: int
    step_temp: int
    amp_copies: int  # autocast 16-bit weight copies kept for backward
    tied_grad_extra: int  # end-of-backward transient of a tied, trainable embedding
    setup: act.TrainSetup  # how the layers that save activations are trained
    grad_from_layer: int  # first layer whose inputs need gradients (earlier layers save nothing)
    label: str
    grad_bytes: int = 2  # per trainable parameter, for extra trainable parts (an unfrozen vision tower)
    state_bytes_per_param: int = 8  # optimizer states + master copy per trainable parameter


def _factored_elements(a: ArchSpec) -> int:
    """Adafactor: rows + cols per matrix, full size for vectors (embedding counted as a matrix)."""
    total = 2 * (a.vocab_size + a.hidden_size)
    for layer, count in a.layer_groups():
        for d_in, d_out in linear_shapes(a, layer).values():
            total += (d_in + d_out) * count
        total += a.norms_per_layer * a.hidden_size * count
    return total


def _train_plan(ctx: Ctx, a: ArchSpec, method: str, data_parallel: int) -> TrainPlan:
    req = ctx.req
    pc = count_params(a)
    shd = sharding(req.zero, req.fsdp, data_parallel)
    sharded = shd.stage > 0
    prec = precision_spec(req.precision, sharded)
    opt = OPTIMIZERS[req.optimizer]
    tp_pp = req.tp * req.pp
    lora_targets: frozenset[str] = frozenset()
    grad_from = 0
    base_trainable = method in ("full", "freeze")

    if method == "full":
        trainable = pc.total
        weights = _weights_per_gpu(prec.weight_bytes * pc.total, req.tp, req.pp)
        if shd.stage == 3:
            weights = shard(weights, True, shd.group)
        label = f"full: all {pc.total:,} parameters trainable"
    elif method in ("lora", "qlora"):
        try:
            plan = lora_plan(a, req.lora_rank, req.lora_targets)
        except LoraTargetError as exc:
            raise EstimateError(str(exc), "lora_targets") from None
        ctx.assumptions.extend(plan.notes)
        trainable = plan.trainable
        lora_targets = plan.canonical
        if method == "qlora":
            fmt = req.weights if req.weights in ("nf4", "nf4-nodq", "int4", "int8") else "nf4"
        else:
            fmt = (
                "fp32"
                if req.precision == "fp32"
                else ("fp16" if req.precision in ("fp16", "amp-fp16") else "bf16")
            )
        wb = weight_bytes(a, pc.components, fmt)
        ctx.assumptions.append(f"Frozen base weights: {wb.note}")
        adapter_bytes = 4 if req.adapter_dtype == "fp32" else 2
        weights = _weights_per_gpu(wb.total, req.tp, req.pp) + trainable * adapter_bytes
        ctx.assumptions.append(
            f"LoRA r={req.lora_rank}, alpha={req.lora_alpha}: {trainable:,} adapter parameters in {req.adapter_dtype} "
            "(PEFT keeps adapters fp32 by default, autocast_adapter_dtype=True)"
        )
        prec = prec.__class__(**{**prec.__dict__, "weight_bytes": adapter_bytes, "grad_bytes": adapter_bytes,
                                  "state_bytes": 4 if req.adapter_dtype == "fp32" else prec.state_bytes,
                                  "autocast": False, "resid_bytes": 2 if req.precision != "fp32" else 4,
                                  "act_bytes": 2 if req.precision != "fp32" else 4, "master_bytes": 0})  # fmt: skip
        label = f"{method}: adapters only"
    elif method == "freeze":
        n = min(req.freeze_trainable_layers, a.num_layers)
        grad_from = a.num_layers - n
        trainable = sum(sum(layer_params(a, layer).values()) * n for layer, n in a.layer_groups(grad_from))
        frozen = pc.total - trainable
        weights = frozen * 2 + prec.weight_bytes * trainable
        label = f"freeze: last {n} layers trainable"
        ctx.assumptions.append(
            f"Freeze tuning: layers {grad_from}…{a.num_layers - 1} trainable, the rest frozen in 16-bit"
        )
    elif method == "prefix":
        trainable = req.prefix_tokens * a.num_layers * 2 * a.kv_dim
        weights = _weights_per_gpu(pc.total * 2, req.tp, req.pp) + trainable * 4
        lora_targets = frozenset()
        label = f"prefix tuning: {req.prefix_tokens} virtual tokens"
        ctx.assumptions.append(
            f"Prefix tuning (PEFT PrefixEncoder without projection): {req.prefix_tokens} × layers × 2 × kv_dim "
            "trainable prefix key/values, base frozen in 16-bit"
        )
        prec = prec.__class__(**{**prec.__dict__, "weight_bytes": 4, "grad_bytes": 4, "state_bytes": 4,
                                  "autocast": False, "resid_bytes": 2, "act_bytes": 2, "master_bytes": 0})  # fmt: skip
    else:  # pragma: no cover - schema restricts values
        raise EstimateError(f"unknown method {method}", "method")

    ctx.assumptions.append(f"Precision: {prec.note}")
    trainable_local = -(-trainable // tp_pp) if method == "full" else trainable
    gradients = shard(trainable_local * prec.grad_bytes, shd.stage >= 2, shd.group)
    factored = _factored_elements(a) if req.optimizer == "adafactor" else 0
    states = optimizer_state_bytes(req.optimizer, trainable_local, prec.state_bytes, factored)
    master = trainable_local * prec.master_bytes
    optimizer = shard(states + master, shd.stage >= 1, shd.group)
    step_temp = shard(
        optimizer_step_temp_bytes(req.optimizer, trainable_local, prec.state_bytes), shd.stage >= 1, shd.group
    )
    if req.offload != "none":
        optimizer = 0
        step_temp = 0
        ctx.assumptions.append(
            "Optimizer states (and step) offloaded to CPU RAM (ZeRO-Offload): not on the GPU"
        )
        if req.offload == "optimizer+params" and shd.stage == 3:
            weights = 0
            ctx.assumptions.append(
                "Parameters offloaded to CPU (ZeRO-3 offload_param): gathered per layer on use"
            )
    ctx.assumptions.append(f"Optimizer: {opt.name} — {opt.source}")
    if sharded:
        ctx.assumptions.append(f"Sharding: {shd.label} over {shd.group} data-parallel ranks")
    amp_copies = 0
    if prec.autocast and base_trainable:
        linear = sum(
            pc.components.get(k, 0) for k in ("attention", "mlp", "experts", "shared_experts", "lm_head")
        )
        if method == "freeze":
            linear = trainable
        amp_copies = -(-2 * linear // tp_pp)
    tied_extra = 0
    if method == "full" and a.tie_word_embeddings:
        # Embedding and lm_head share one tensor: autograd sums the two gradients (mm + embedding backward,
        # InputBuffer add) while all other gradients exist.
        tied_extra = 2 * a.vocab_size * a.hidden_size * prec.grad_bytes // req.tp
    setup = act.TrainSetup(
        act_bytes=prec.act_bytes,
        resid_bytes=prec.resid_bytes,
        base_trainable=base_trainable,
        lora_targets=lora_targets,
        lora_rank=req.lora_rank,
        lora_bytes=4 if req.adapter_dtype == "fp32" else 2,
        attention=req.attention,
        autocast=prec.autocast,
    )
    if shd.stage == 3 and method == "full":
        # Gathered 16-bit parameters of the layer being computed (and the prefetched next one).
        largest = max(sum(layer_params(a, layer).values()) for layer, _ in a.layer_groups())
        weights += 2 * 2 * largest // req.tp
        ctx.assumptions.append("ZeRO-3/FSDP: +2 gathered 16-bit layers (current + prefetched) per GPU")
    per_param_states = optimizer_state_bytes(req.optimizer, 1, prec.state_bytes, 1) + prec.master_bytes
    return TrainPlan(
        trainable,
        weights,
        gradients,
        optimizer,
        step_temp,
        amp_copies,
        tied_extra,
        setup,
        grad_from,
        label,
        grad_bytes=prec.grad_bytes,
        state_bytes_per_param=per_param_states,
    )


def _saved_activations(ctx: Ctx, a: ArchSpec, plan: TrainPlan, batch: int, seq: int) -> tuple[int, int]:
    """(bytes kept for backward over all layers, one layer's full saved bytes) for ``batch × seq`` tokens."""
    req = ctx.req
    tokens = batch * seq
    tp = req.tp
    total = 0
    largest_layer = 0
    setup = plan.setup
    for layer, count in a.layer_groups(plan.grad_from_layer):
        parts = act.layer_saved_bytes_per_token(a, layer, setup)
        norms = parts.pop("norms")
        per_token = sum(parts.values()) // tp + (norms // tp if req.sequence_parallel else norms)
        layer_bytes = per_token * tokens
        if setup.attention == "eager" and req.grad_checkpointing != "selective":
            layer_bytes += act.eager_scores_saved_bytes(a, seq, setup) * tokens // tp
        largest_layer = max(largest_layer, layer_bytes)
        if req.grad_checkpointing == "full":
            total += act.checkpoint_bytes_per_token(a, setup) * tokens * count
        else:
            total += layer_bytes * count
    # Embedding output and final norm (saved by lm_head if trainable).
    last = setup
    total += last.resid_bytes * a.hidden_size * tokens * 2
    if req.pp > 1:
        # 1F1B: the first stage holds activations of its L/p layers for p micro-batches in flight.
        total = total // req.pp * req.pp
        ctx.assumptions.append(
            "Pipeline parallel (1F1B): the first stage keeps p micro-batches of its layers"
        )
    return total, largest_layer


def _ce_bytes(ctx: Ctx, a: ArchSpec, tokens: int, act_bytes: int) -> tuple[int, int]:
    req = ctx.req
    if req.chunked_ce:
        b = act.chunked_ce_bytes(tokens, a.vocab_size, a.hidden_size, act_bytes)
        ctx.assumptions.append("Chunked/fused linear cross-entropy (Liger): no [tokens, vocab] logits tensor")
        return b, b
    fwd, bwd = act.training_ce_peak_bytes(tokens, a.vocab_size, act_bytes)
    ctx.assumptions.append(
        "Loss: transformers upcasts logits to fp32 inside the loss; backward starts with three fp32 "
        "[tokens × vocab] tensors (log-softmax, its gradient input and output)"
    )
    return fwd // req.tp, bwd // req.tp


def training(
    req: EstimateRequest, model: ResolvedModel | None = None, extra: dict[str, int] | None = None
) -> EstimateResult:
    ctx = Ctx(req)
    model = model or resolve_model(req)
    a = model.arch
    method = (
        "full"
        if req.mode == "training" or (req.mode == "multimodal" and req.task == "training")
        else req.method
    )
    if req.mode == "training" and req.method != "full":
        ctx.assumptions.append("Training mode trains every parameter (method is a fine-tuning option)")
    if method in ("full", "freeze") and req.weights not in ("bf16", "fp16", "fp32"):
        ctx.warnings.append(
            f"weight format {req.weights} is for inference and QLoRA: trained weights are kept in the "
            f"{req.precision} convention instead"
        )
    data_parallel = req.gpus // (req.tp * req.pp)
    plan = _train_plan(ctx, a, method, data_parallel)
    pc = count_params(a)
    batch, seq = req.batch_size, req.seq_len + (extra.get("tokens", 0) if extra else 0)
    tokens = batch * seq
    setup = plan.setup
    saved, largest_layer = _saved_activations(ctx, a, plan, batch, seq)
    ce_fwd, ce_bwd = _ce_bytes(ctx, a, tokens, setup.act_bytes)
    if req.grad_checkpointing == "full":
        ctx.assumptions.append(
            "Gradient checkpointing (per decoder layer, as HF gradient_checkpointing_enable): keeps each layer's "
            "input; one layer is recomputed at a time in backward"
        )
    elif req.grad_checkpointing == "selective":
        ctx.assumptions.append(
            "Selective recomputation: attention scores recomputed (Korthikanti et al. 2022 §5)"
        )
    extra_w = extra.get("weights", 0) if extra else 0
    extra_act = extra.get("encoder_activations", 0) if extra else 0
    tower_trainable = extra.get("tower_trainable", 0) if extra else 0
    if tower_trainable:
        # An unfrozen vision/audio tower gets gradients and optimizer states like the decoder's trainable part.
        plan.trainable += tower_trainable
        plan.gradients += tower_trainable * plan.grad_bytes
        plan.optimizer += tower_trainable * plan.state_bytes_per_param
    base = {"weights": plan.weights + extra_w, "optimizer": plan.optimizer}
    grads_prev = plan.gradients if req.grad_accum > 1 else 0
    if req.grad_accum > 1:
        ctx.assumptions.append(
            f"Gradient accumulation {req.grad_accum}: gradients from earlier micro-batches stay allocated"
        )
    amp = {"weights": plan.amp_copies} if plan.amp_copies else {}
    phases = [
        Phase(
            "forward",
            _merge(base, amp, {"gradients": grads_prev, "activations": saved + extra_act, "logits": ce_fwd}),
        ),
        Phase(
            "backward_start",
            _merge(base, amp, {"gradients": grads_prev, "activations": saved + extra_act, "logits": ce_bwd}),
        ),
    ]
    if req.grad_checkpointing == "full":
        # Recompute of one layer: its saved activations are rebuilt while most gradients exist (measured peak
        # inside a recomputed layer's backward ≈ checkpoints + one layer's saved set).
        phases.append(Phase("backward_recompute", _merge(base, amp, {"gradients": plan.gradients,
                                                                       "activations": saved + largest_layer})))  # fmt: skip
    phases.append(Phase("backward_end", _merge(base, {"gradients": plan.gradients + plan.tied_grad_extra})))
    phases.append(
        Phase("optimizer_step", _merge(base, {"gradients": plan.gradients, "optimizer": plan.step_temp}))
    )
    if plan.amp_copies:
        ctx.assumptions.append(
            "Autocast keeps 16-bit copies of the Linear weights from forward until their backward"
        )
    if plan.tied_grad_extra:
        ctx.assumptions.append(
            "Tied embeddings: the embedding and lm_head gradients are summed at the end of backward (two extra "
            "vocab × hidden buffers while all gradients exist)"
        )
    ctx.details["tokens_per_step"] = tokens * data_parallel
    ctx.details["trainable_label"] = plan.label
    overhead = _overhead(ctx)
    params = Params(total=pc.total + (extra.get("params", 0) if extra else 0), active=pc.active,
                    trainable=plan.trainable, breakdown=pc.components)  # fmt: skip
    return _finish(ctx, model, phases, overhead, params, req.gpus)


def _merge(*dicts: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


# ---------------------------------------------------------------------------------------------------------------
# GRPO / DPO (TRL)


def rl(
    req: EstimateRequest, model: ResolvedModel | None = None, extra: dict[str, int] | None = None
) -> EstimateResult:
    ctx = Ctx(req)
    model = model or resolve_model(req)
    a = model.arch
    pc = count_params(a)
    method = "full" if req.policy == "full" else "lora"
    # TRL loads the policy in its config dtype (bf16) and trains with bf16=True: weights, grads and torch
    # optimizer states are bf16 unless the user picked fp32 or a sharded mixed-precision setup.
    rl_req = req
    if req.precision.startswith("amp") and req.zero == 0 and req.fsdp == "none":
        rl_req = req.model_copy(update={"precision": "bf16"})
        ctx.assumptions.append(
            "TRL loads the policy in its config dtype (bf16); with bf16=True autocast is then a no-op, so weights, "
            "gradients and AdamW states are bf16"
        )
    sub = Ctx(rl_req, ctx.assumptions, ctx.warnings, ctx.details)
    data_parallel = req.gpus // (req.tp * req.pp)
    plan = _train_plan(sub, a, method, data_parallel)
    act_bytes = plan.setup.act_bytes
    phases: list[Phase] = []
    base = {"weights": plan.weights + (extra.get("weights", 0) if extra else 0), "optimizer": plan.optimizer}
    ref_weights = 0
    if req.beta > 0 and method == "full":
        ref_weights = weight_bytes(a, pc.components, "bf16").total // (req.tp * req.pp)
        ctx.assumptions.append(f"beta = {req.beta} ≠ 0: a frozen bf16 reference model is loaded")
    elif req.beta > 0:
        ctx.assumptions.append(
            "LoRA policy: the reference log-probs come from the base model with adapters disabled"
        )
    else:
        ctx.assumptions.append("beta = 0 (TRL default since v0.19): no reference model is loaded")
    base["weights"] += ref_weights

    if req.rl_algorithm == "dpo":
        seqs, seq = 2 * req.batch_size, req.prompt_len + req.completion_len
        ctx.assumptions.append(
            f"DPO: {req.batch_size} pair(s) of chosen + rejected sequences of {seq} tokens (prompt + completion), "
            "concatenated → 2 × batch sequences per forward"
        )
        saved, _ = _saved_activations(sub, a, plan, seqs, seq)
        ce_fwd, ce_bwd = _ce_bytes(sub, a, seqs * seq, act_bytes)
        if ref_weights:
            ref_act = (
                _inference_forward_bytes(a, seqs, seq, seq, act_bytes, req.attention)
                + seqs * seq * a.vocab_size * 6
            )
            phases.append(Phase("reference_forward", _merge(base, {"activations": ref_act})))
        phases.append(Phase("backward_start", _merge(base, {"activations": saved, "logits": ce_bwd})))
        phases.append(Phase("forward", _merge(base, {"activations": saved, "logits": ce_fwd})))
    else:
        k, prompt, comp = req.num_generations, req.prompt_len, req.completion_len
        # batch_size counts prompts; each prompt gets k completions, so TRL's per_device_train_batch_size
        # (completions) is batch_size × k and always divisible by num_generations.
        seqs = req.batch_size * k
        seq = prompt + comp
        ctx.assumptions.append(
            f"GRPO: {req.batch_size} prompt(s) × k = {k} completions = {seqs} sequences per device per step "
            f"(TRL per_device_train_batch_size = {seqs}); prompt {prompt} + completion {comp} tokens"
        )
        # Rollout.
        if req.generation_backend == "vllm":
            capacity = _gpu_capacity(req)
            if capacity is None:
                raise EstimateError(msg("error.gpu.required_for_colocated_vllm"), "gpu")
            vllm = int(req.vllm_gpu_memory_utilization * capacity)
            base["kv_cache"] = vllm
            ctx.assumptions.append(
                f"vLLM colocate (TRL vllm_mode='colocate'): the engine holds vllm_gpu_memory_utilization = "
                f"{req.vllm_gpu_memory_utilization} × {capacity / 1e9:.0f} GB (its own weight copy + KV pool) for the "
                "whole run (sleep mode off)"
            )
        else:
            kv = _kv_per_gpu(a, kv_cache_bytes(a, seqs, seq, "bf16"), req.tp, req.pp)
            rollout = _inference_forward_bytes(a, seqs, prompt, prompt, act_bytes, req.attention)
            phases.append(Phase("rollout", _merge(base, {"kv_cache": kv, "activations": rollout,
                                                         "logits": seqs * a.vocab_size * 6})))  # fmt: skip
            ctx.assumptions.append(
                "Rollout with transformers generate() on the policy (KV cache for every completion)"
            )
        if req.beta > 0:
            # Under no_grad the layer transients are gone before the logits exist; the completion logits and
            # their temperature-scaled copy then coexist while rows are log-softmaxed one at a time.
            ref_act = _inference_forward_bytes(a, seqs, seq, seq, act_bytes, req.attention)
            ref_logits = act.grpo_reference_logits_bytes(seqs, comp, a.vocab_size, act_bytes)
            final_hidden = act_bytes * seqs * seq * a.hidden_size
            phases.append(Phase("reference_forward", _merge(base, {"activations": ref_act})))
            phases.append(
                Phase("reference_logprobs", _merge(base, {"activations": final_hidden, "logits": ref_logits}))
            )
        saved, largest = _saved_activations(sub, a, plan, seqs, seq)
        logits = act.grpo_logits_bytes(seqs, comp, a.vocab_size, act_bytes) // req.tp
        ctx.assumptions.append(
            "Policy log-probs over completion tokens only (logits_to_keep), selective_log_softmax"
        )
        phases.append(Phase("policy_backward_start", _merge(base, {"activations": saved, "logits": logits})))
        if req.grad_checkpointing == "full":
            phases.append(Phase("backward_recompute", _merge(base, {"gradients": plan.gradients,
                                                                     "activations": saved + largest})))  # fmt: skip
    phases.append(Phase("backward_end", _merge(base, {"gradients": plan.gradients + plan.tied_grad_extra})))
    phases.append(
        Phase("optimizer_step", _merge(base, {"gradients": plan.gradients, "optimizer": plan.step_temp}))
    )
    overhead = _overhead(ctx)
    params = Params(
        total=pc.total + (extra.get("params", 0) if extra else 0),
        active=pc.active,
        trainable=plan.trainable,
        breakdown=pc.components,
    )
    return _finish(ctx, model, phases, overhead, params, req.gpus)


# ---------------------------------------------------------------------------------------------------------------
# Multimodal


def multimodal(req: EstimateRequest) -> EstimateResult:
    model = resolve_model(req)
    mm = model.multimodal
    if mm is None:
        raise EstimateError(msg("error.model.no_tower"), "model")
    from .towers import media_tokens, tower_activation_bytes

    try:
        tokens = media_tokens(
            model.config, req.images, req.image_width, req.image_height, req.video_frames, req.audio_seconds
        )
    except ConfigError as exc:
        raise EstimateError(str(exc), "image_width") from None
    training_task = req.task != "inference"
    tower_weight_fmt_bytes = 2 if req.precision != "fp32" else 4
    tower_params = mm.non_lm_params
    enc_act = 0
    for tower in mm.towers:
        positions = tokens.encoder_positions.get(tower.name, 0)
        if positions:
            enc_act += tower_activation_bytes(
                tower,
                positions,
                req.batch_size,
                tower_weight_fmt_bytes,
                req.attention,
                training_task and req.train_vision_tower,
                req.grad_checkpointing,
                span=tokens.attention_span.get(tower.name),
            )
    extra = {
        "weights": tower_params * tower_weight_fmt_bytes,
        "tokens": tokens.llm_tokens,
        "encoder_activations": enc_act,
        "params": tower_params,
        "tower_trainable": tower_params if training_task and req.train_vision_tower else 0,
        "kv_delta": _cross_attention_kv_delta(
            model.arch, mm.cross_attention, tokens.cross_attention_positions, req
        ),
    }
    max_pos = model.arch.max_position_embeddings
    if mm.cross_attention == "every_layer" and max_pos and req.seq_len > max_pos:
        raise EstimateError(msg("error.seq_len.above_decoder_max", limit=max_pos), "seq_len")
    if req.task == "inference":
        result = inference(req.model_copy(update={"mode": "multimodal"}), model, extra)
    else:
        result = training(req.model_copy(update={"mode": "multimodal"}), model, extra)
    result.assumptions.extend(tokens.notes)
    result.assumptions.append(
        f"Media: {tokens.llm_tokens} tokens added to each sequence; vision/audio towers and projector "
        f"({tower_params:,} parameters) in 16-bit"
        + ("" if not training_task else (", trained" if req.train_vision_tower else ", frozen"))
    )
    result.details["media_tokens"] = tokens.llm_tokens
    result.details["encoder_positions"] = dict(tokens.encoder_positions)
    result.details["tower_params"] = {t.name: t.params for t in mm.towers} | {
        "projector": mm.projector_params
    }
    return result


def _cross_attention_kv_delta(a: ArchSpec, mode: str, positions: int, req: EstimateRequest) -> int:
    """KV bytes of cross-attention over encoder states, relative to a plain self-attention cache.

    'interleaved' (Llama-3.2-Vision): the cross-attention layers cache K/V of the vision states, not of the
    text (modeling_mllama.py MllamaTextCrossAttention). 'every_layer' (Whisper, Nougat, Florence-2): each decoder
    layer also caches cross-attention K/V over the encoder states (EncoderDecoderCache).
    """
    if mode == "none" or not positions:
        return 0
    bits = kv_dtype_bits(req.kv_cache_dtype)
    per_layer_token = 2 * a.num_kv_heads * a.head_dim
    cross_layers = [layer for layer in a.layers if layer.cross_attention]
    seq = req.seq_len
    if mode == "interleaved":
        delta_tokens = positions - seq
        count = len(cross_layers)
    else:
        delta_tokens = positions
        count = a.num_layers
    return int(per_layer_token * count * delta_tokens * bits * req.batch_size / 8) // req.tp


def _towers_as_text_model(model: ResolvedModel) -> dict[str, int] | None:
    """A multimodal model used for text only still loads its towers: count their weights, no media tokens."""
    mm = model.multimodal
    if mm is None:
        return None
    params = mm.non_lm_params
    return {"weights": 2 * params, "params": params}


def estimate(req: EstimateRequest) -> EstimateResult:
    """Memory per device for one request."""
    if req.mode == "multimodal":
        return multimodal(req)
    model = resolve_model(req)
    extra = _towers_as_text_model(model)
    if req.mode == "inference":
        result = inference(req, model, extra)
    elif req.mode in ("finetune", "training"):
        result = training(req, model, extra)
    else:
        result = rl(req, model, extra)
    if extra:
        result.assumptions.append(
            f"Text-only use of a multimodal model: its vision/audio towers ({extra['params']:,} parameters, 16-bit) "
            "are loaded but see no media"
        )
    return result
