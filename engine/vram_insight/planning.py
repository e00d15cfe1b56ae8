"""Planning on top of an estimate: does it fit, which GPUs to buy or rent, how far batch/context can go, and
roughly how fast it runs. Throughput figures are labelled estimates: decode from memory bandwidth (roofline),
prefill and training from FLOPs at a stated model-FLOPs utilisation (MFU).
"""

from __future__ import annotations

import math

from .catalog import GpuEntry, load_catalog
from .device import cublas_workspace_bytes, cuda_rules_overhead_bytes
from .estimate import EstimateError, estimate, resolve_model
from .messages import Message, msg, register
from .params import count_params
from .platforms import (
    apple_limit_message,
    apple_notes,
    device_allowance,
    device_capacity,
    software_conflicts,
    wired_limit,
)
from .quant import normalise_format, weight_bytes
from .runtimes import llama_cpp
from .runtimes.vllm import resolved_utilization, rules_for
from .runtimes.vllm_config import batch_defaults
from .schemas import (
    EstimateRequest,
    EstimateResult,
    Fit,
    Inverse,
    LeftOut,
    Recommendation,
    Report,
    Throughput,
    WiredLimitInfo,
)

# Counts tried for multi-GPU setups: one node of up to 8, then whole nodes.
GPU_COUNTS = (1, 2, 4, 8, 16, 32, 64)

register({
    # How a recommendation spreads the workload, and why it is listed.
    "plan.single": "single GPU",
    "plan.llama_cpp_split": "llama.cpp layer split × {count}",
    "plan.tp": "tensor parallel × {count}",
    "plan.zero": "ZeRO-{stage} × {count}",
    "plan.fsdp": "FSDP × {count}",
    "plan.zero3_default": "ZeRO-3 / FSDP full shard × {count}",
    "plan.cheapest_buy": "cheapest single card to buy",
    "plan.cheapest_rent": "cheapest single card to rent",
    "plan.cheapest_multi": "cheapest multi-GPU setup",
    "plan.smallest": "smallest single card that fits",
    # What the inverse answer (largest batch, context, -ngl) means.
    "inverse.no_gpu_layers": "no GPU: every layer runs on the CPU",
    "inverse.max_gpu_layers": "max_gpu_layers: the largest -ngl (of {slots}: {repeating} repeating layers + output) "
    "that fits",
    "inverse.llama_cpp_fit": "llama.cpp --fit (on by default when -ngl is not given) keeps 1 GiB free per GPU: -ngl "
    "{ngl}",
    "inverse.llama_cpp_fit_none": "llama.cpp --fit (on by default when -ngl is not given) keeps 1 GiB free per GPU: "
    "not even -ngl 0 fits",
    "inverse.ollama": "Ollama: its scheduler sets aside {reserve_mib:,} MiB per GPU (MinimumMemory + "
    "OLLAMA_GPU_OVERHEAD) and leaves -ngl to llama.cpp's --fit: {layers} layers; its default num_ctx on this card is "
    "{num_ctx:,}",
    "inverse.ollama_none": "Ollama: its scheduler sets aside {reserve_mib:,} MiB per GPU (MinimumMemory + "
    "OLLAMA_GPU_OVERHEAD) and leaves -ngl to llama.cpp's --fit: not even -ngl 0 fits; its default num_ctx on this "
    "card is {num_ctx:,}",
    "inverse.llama_cpp_context": "max_seq_len: the largest -c (all {slots} slot(s) together) at -ngl as set",
    "inverse.grpo_completion": "max_seq_len here is the longest completion with a {prompt:,}-token prompt",
    "inverse.context_reached": "the model's context length ({limit:,} tokens) is reached before memory runs out",
    "inverse.concurrent": "concurrent sequences of {seq:,} tokens each",
    "inverse.vllm": "vLLM: max concurrency = KV blocks / blocks per request of max_model_len (its 'Maximum "
    "concurrency' line, rounded down); max_seq_len = the longest max_model_len {batch:,} concurrent requests fit",
    # Throughput: roofline estimates and what they assume.
    "throughput.estimates": "Estimates, not measurements: roofline bounds with the stated assumptions",
    "throughput.decode": "decode: every step reads the active weights ({active_gb:.1f} GB) and the KV cache at "
    "{bandwidth:.0f} GB/s per GPU (upper bound); prefill at {mfu_pct:.0f}% MFU of {tflops:.0f} dense BF16 TFLOPS",
    "throughput.training": "training: 6 × active params FLOPs/token (4 + 2 × trainable share) at {mfu_pct:.0f}% MFU "
    "of {gpus} × {tflops:.0f} TFLOPS",
    "throughput.training_recompute": "training: 6 × active params FLOPs/token (4 + 2 × trainable share, + 2 "
    "recompute) at {mfu_pct:.0f}% MFU of {gpus} × {tflops:.0f} TFLOPS",
    "throughput.grpo": "GRPO step time excludes generation (rollout) time",
    "throughput.llama_cpp_decode": "decode: {gpu_gb:.2f} GB on the GPU at {gpu_bandwidth:.0f} GB/s + {cpu_gb:.2f} GB "
    "in system RAM at {cpu_bandwidth} GB/s per token (weights once, KV of the full context); a published llama.cpp "
    "-ngl sweep reached about 82 % (GPU) and 64 % (DDR4) of these peaks",
    "throughput.llama_cpp_prefill": "prefill at {mfu_pct:.0f}% MFU on the GPU (op offload runs large batches there)",
})  # fmt: skip


def _vllm_serving(req: EstimateRequest) -> bool:
    return req.runtime == "vllm" and (
        req.mode == "inference" or (req.mode == "multimodal" and req.task == "inference")
    )


def usable_bytes(req: EstimateRequest, gpu: GpuEntry) -> int:
    """Memory the workload may use on one GPU (a Mac: what its GPU may wire); vLLM's budget is
    gpu_memory_utilization of it."""
    capacity = device_capacity(req, gpu)
    if _vllm_serving(req):
        return int(capacity * resolved_utilization(req.gpu_memory_utilization, req.vllm_version))
    return capacity


def required_bytes(result: EstimateResult) -> int:
    """What must fit the usable memory. vLLM: weights, profiled activation peak, non-torch memory, CUDA graphs (when
    inside its budget) and the KV blocks of the requested sequences — its total is the whole reservation."""
    vllm = result.details.get("vllm")
    return int(vllm["required_bytes"]) if vllm else result.total_bytes


def fit(result: EstimateResult, gpu: GpuEntry, req: EstimateRequest | None = None) -> Fit:
    cap = usable_bytes(req, gpu) if req else gpu.memory_bytes
    need = required_bytes(result)
    limit = wired_limit(req, gpu) if req else None
    return Fit(
        gpu=gpu.id,
        gpu_name=gpu.name,
        capacity_bytes=cap,
        required_bytes=need,
        fits=need <= cap,
        headroom_bytes=cap - need,
        utilization=round(need / cap, 4),
        wired_limit=(
            WiredLimitInfo(
                limit_bytes=limit.limit_bytes,
                ram_bytes=limit.ram_bytes,
                macos_version=limit.macos_version,
                set_by=limit.set_by,
                estimated=limit.estimated,
                rule=limit.rule,
                summary=apple_limit_message(limit),
                notes=apple_notes(req),
            )
            if limit
            else None
        ),
        software=software_conflicts(req, gpu) if req else [],
    )


# --- Platforms (issue 11): cards whose platform cannot run the request's software are not recommended ---
def left_out(req: EstimateRequest) -> list[LeftOut]:
    """Catalog cards the recommendations skip, grouped by reason (the first reason each card has)."""
    groups: dict[str, LeftOut] = {}
    for gpu in load_catalog().gpus.values():
        reasons = software_conflicts(req, gpu)
        if not reasons:
            continue
        reason = reasons[0]
        key = f"{reason.code}|{sorted(reason.params.items())}"
        if key in groups:
            groups[key].gpus.append(gpu.id)
            groups[key].gpu_names.append(gpu.name)
        else:
            groups[key] = LeftOut(gpus=[gpu.id], gpu_names=[gpu.name], reason=reason)
    return list(groups.values())


def left_out_lines(items: list[LeftOut]) -> list[str]:
    """'names: reason' lines as the CLI prints them."""
    return [msg("platform.left_out", names=", ".join(i.gpu_names), reason=i.reason).text for i in items]


def _scaled_request(req: EstimateRequest, count: int) -> tuple[EstimateRequest, Message]:
    """The same workload spread over ``count`` GPUs the way practitioners would do it."""
    if count == 1:
        return req.model_copy(update={"gpus": 1, "tp": 1, "pp": 1, "zero": 0, "fsdp": "none"}), msg(
            "plan.single"
        )
    if _is_llama_cpp(req):
        return req.model_copy(update={"gpus": count, "tp": 1, "pp": 1}), msg(
            "plan.llama_cpp_split", count=count
        )
    if req.mode == "inference" or (req.mode == "multimodal" and req.task == "inference"):
        return req.model_copy(update={"gpus": count, "tp": count, "pp": 1}), msg("plan.tp", count=count)
    if req.zero or req.fsdp != "none":
        how = msg("plan.zero", stage=req.zero, count=count) if req.zero else msg("plan.fsdp", count=count)
        return req.model_copy(update={"gpus": count}), how
    return req.model_copy(update={"gpus": count, "zero": 3, "tp": 1, "pp": 1}), msg(
        "plan.zero3_default", count=count
    )


def _device_profile(req: EstimateRequest, gpu: GpuEntry) -> tuple:
    """GPUs with equal profiles share one estimate per count (corrected by :func:`_device_delta`). What the estimate
    reads from a GPU: llama.cpp only its memory outside the buffers; transformers the platform's allowance and,
    under the CUDA rules, the cuBLAS workspace, CUDA context and NCCL buffers (device.runtime_overhead), which add
    to the total; vLLM also the card's architecture, interconnect, vendor and its default batch limits (by the
    card's memory and name, ``batch_defaults``), so vLLM estimates each profile on its own."""
    if _is_llama_cpp(req):
        return ()
    allowance = device_allowance(gpu)
    if _vllm_serving(req):
        limits = batch_defaults(rules_for(req.vllm_version), gpu.memory_bytes, gpu.id + " " + gpu.name)
        return (gpu.vendor, gpu.architecture, gpu.interconnect, cublas_workspace_bytes(gpu), *limits)
    if allowance.cuda_rules:
        return ("cuda-rules",)
    return ("own-allowance", allowance.outside_bytes)


def _device_delta(
    req: EstimateRequest, gpu: GpuEntry, estimated_on: GpuEntry, count: int, cache: dict[tuple, int]
) -> int:
    """What ``gpu`` holds more than the GPU its profile was estimated on, in bytes per device: llama.cpp adds its
    outside-buffer figure to every GPU (runtimes/llama_cpp.py ``gpu_total``); under the CUDA rules the workspace,
    context and NCCL buffers add to the total (device.cuda_rules_overhead_bytes; ``cache`` keeps them by what they
    depend on: vendor, compute capability, architecture, GPU count)."""
    if req.platform == "cpu" or gpu.id == estimated_on.id:
        return 0
    if _is_llama_cpp(req):
        return llama_cpp.outside_buffers(gpu)[0] - llama_cpp.outside_buffers(estimated_on)[0]
    if _vllm_serving(req) or not device_allowance(gpu).cuda_rules:
        return 0  # estimated on its own profile

    def overhead(g: GpuEntry) -> int:
        key = (g.vendor, g.compute_capability, g.architecture, count)
        if key not in cache:
            cache[key] = cuda_rules_overhead_bytes(req.model_copy(update={"gpus": count}), g)
        return cache[key]

    try:
        return overhead(gpu) - overhead(estimated_on)
    except EstimateError:
        return 0  # a bad override: the estimate itself reports it


def recommend(req: EstimateRequest, limit: int = 8) -> list[Recommendation]:
    """Configurations that fit, each GPU at the smallest count that works. Memory per device depends on the
    count and on the kind of GPU (its context, workspace and platform rules), so one estimate per count serves
    every GPU of one device profile, estimated on that GPU rather than on the one the user chose."""
    catalog = load_catalog()
    gpus = [g for g in catalog.gpus.values() if not software_conflicts(req, g)]
    if not gpus:
        return []
    profile_of = {g.id: _device_profile(req, g) for g in gpus}
    profiles: dict[tuple, list[GpuEntry]] = {}
    for gpu in gpus:
        profiles.setdefault(profile_of[gpu.id], []).append(gpu)
    by_count: dict[tuple[tuple, int], tuple[EstimateResult, Message] | None] = {}
    usable = {g.id: usable_bytes(req, g) for g in gpus}
    delta: dict[tuple[str, int], int] = {}  # (gpu, count) → bytes more than its profile's estimated GPU
    overheads: dict[tuple, int] = {}
    for profile, members in profiles.items():
        for count in GPU_COUNTS:
            for g in members:
                delta[g.id, count] = _device_delta(req, g, members[0], count, overheads)
            smallest = min(usable[g.id] - delta[g.id, count] for g in members)
            scaled, strategy = _scaled_request(req, count)
            scaled = scaled.model_copy(update={"gpu": members[0].id})
            try:
                entry = (estimate(scaled), strategy)
            except (EstimateError, ValueError):
                by_count[profile, count] = None
                continue
            by_count[profile, count] = entry
            if required_bytes(entry[0]) <= smallest:
                break  # every GPU of this profile fits at this count: larger setups are never the smallest
    options: list[Recommendation] = []
    for gpu in gpus:
        profile = profile_of[gpu.id]
        for count in GPU_COUNTS:
            if gpu.max_per_node == 1 and count > 1:
                break
            if count > gpu.max_per_node and count % 8:
                continue
            entry = by_count.get((profile, count))
            if entry is None:
                continue
            result, strategy = entry
            need = required_bytes(result) + delta[gpu.id, count]
            cap = usable[gpu.id]
            if need > cap:
                continue
            options.append(
                Recommendation(
                    gpu=gpu.id,
                    gpu_name=gpu.name,
                    count=count,
                    strategy=strategy,
                    per_device_bytes=need,
                    capacity_bytes=cap,
                    headroom_fraction=round(1 - need / cap, 4),
                    launch_price_usd=gpu.launch_price_usd * count if gpu.launch_price_usd else None,
                    cloud_usd_per_hour=gpu.cloud_usd_per_hour * count if gpu.cloud_usd_per_hour else None,
                )
            )
            break  # the smallest count that fits this GPU
    return _rank(options, limit)


def _rank(options: list[Recommendation], limit: int) -> list[Recommendation]:
    """Cheapest single cards to buy and to rent first, then the cheapest multi-GPU setups."""
    inf = float("inf")
    singles = [o for o in options if o.count == 1]
    multis = [o for o in options if o.count > 1]
    picks: list[Recommendation] = []
    seen: set[tuple[str, int]] = set()

    def take(items: list[Recommendation], n: int, reason: Message) -> None:
        for item in items:
            if n == 0:
                return
            if (item.gpu, item.count) in seen:
                continue
            seen.add((item.gpu, item.count))
            picks.append(item.model_copy(update={"reason": reason}))
            n -= 1

    per_group = max(1, limit // 3)
    take(sorted((o for o in singles if o.launch_price_usd), key=lambda o: o.launch_price_usd or inf), per_group,
         msg("plan.cheapest_buy"))  # fmt: skip
    take(sorted((o for o in singles if o.cloud_usd_per_hour), key=lambda o: o.cloud_usd_per_hour or inf), per_group,
         msg("plan.cheapest_rent"))  # fmt: skip
    take(sorted(multis, key=lambda o: (o.cloud_usd_per_hour or inf, o.launch_price_usd or inf, o.count)),
         limit - len(picks), msg("plan.cheapest_multi"))  # fmt: skip
    if len(picks) < limit:
        take(
            sorted(singles, key=lambda o: o.capacity_bytes),
            limit - len(picks),
            msg("plan.smallest"),
        )
    return picks


def _max_fitting(req: EstimateRequest, field: str, cap: int, lo: int, hi: int) -> int | None:
    """Largest value of ``field`` in [lo, hi] whose estimate fits ``cap`` (memory grows monotonically).

    Memory is close to linear in batch and convex in context, so a guess interpolated between the bracket ends
    is usually within a step of the answer; checking its neighbour then settles it (3–6 estimates instead of
    ~20 for bisection). Bisection takes over whenever interpolation stops shrinking the bracket.
    """

    def need(value: int) -> float:
        update: dict[str, int] = {field: value}
        if field == "seq_len" and req.mode == "inference" and req.gen_len >= value:
            update["gen_len"] = max(0, value - 1)
        try:
            return required_bytes(estimate(req.model_copy(update=update)))
        except (EstimateError, ValueError):
            return float("inf")

    f_lo = need(lo)
    if f_lo > cap:
        return None
    f_hi = need(hi)
    if f_hi <= cap:
        return hi
    interpolate = True
    while hi - lo > 1:
        if interpolate and f_hi != float("inf") and f_hi > f_lo:
            guess = lo + int((cap - f_lo) * (hi - lo) / (f_hi - f_lo))
        else:
            guess = (lo + hi) // 2
        guess = min(max(guess, lo + 1), hi - 1)
        width = hi - lo
        f = need(guess)
        if f <= cap:
            lo, f_lo = guess, f
            if guess + 1 < hi:
                f_next = need(guess + 1)
                if f_next > cap:
                    return guess
                lo, f_lo = guess + 1, f_next
        else:
            hi, f_hi = guess, f
            if guess - 1 > lo:
                f_prev = need(guess - 1)
                if f_prev <= cap:
                    return guess - 1
                hi, f_hi = guess - 1, f_prev
        # Fall back to bisection when interpolation shrank the bracket by less than half.
        interpolate = (hi - lo) <= width // 2
    return lo


def _is_llama_cpp(req: EstimateRequest) -> bool:
    inference = req.mode == "inference" or (req.mode == "multimodal" and req.task == "inference")
    return inference and req.runtime == "llama.cpp"


# --- llama.cpp: the largest -ngl, --fit's and Ollama's choice -----------------------------------------------------
GiB = 1 << 30
# Ollama's default num_ctx by total VRAM minus OLLAMA_GPU_OVERHEAD (server/routes.go, "vram-based default context";
# thresholds 47/23 GiB "to account for small differences in the exact value").
OLLAMA_CONTEXT_TIERS = ((47 * GiB, 262_144), (23 * GiB, 32_768), (0, 4_096))


def largest_fitting_layers(totals: list[int], budget: int, buffers_budget: int | None = None,
                           overhead: int = 0) -> int | None:  # fmt: skip
    """The largest -ngl whose card total fits ``budget`` (and whose llama.cpp buffers, total minus the memory
    outside them, fit ``buffers_budget``); None when not even -ngl 0 fits. Every -ngl is checked: the total is
    not monotonic where moving the output layer to the GPU removes its op-offload copy."""
    best = None
    for n, total in enumerate(totals):
        if total <= budget and (buffers_budget is None or total - overhead <= buffers_budget):
            best = n
    return best


def llama_cpp_inverse(
    req: EstimateRequest, gpu: GpuEntry, result: EstimateResult
) -> tuple[int | None, list[Message]]:
    """Largest -ngl that fits the card, and what llama.cpp's --fit and Ollama would pick."""
    info = result.details["llama_cpp"]
    totals: list[int] = info.get("gpu_total_by_layers", [])
    if not totals:
        return None, [msg("inverse.no_gpu_layers")]
    cap = usable_bytes(req, gpu)
    slots = info["n_layer"] + 1
    best = largest_fitting_layers(totals, cap)
    notes = [msg("inverse.max_gpu_layers", slots=slots, repeating=slots - 1)]
    fit_n = largest_fitting_layers(totals, cap - llama_cpp.FIT_TARGET)
    notes.append(
        msg("inverse.llama_cpp_fit_none") if fit_n is None else msg("inverse.llama_cpp_fit", ngl=fit_n)
    )
    reserve = llama_cpp.ollama_minimum_memory(gpu) + req.ollama_gpu_overhead
    ollama_n = largest_fitting_layers(
        totals, cap - llama_cpp.FIT_TARGET, cap - reserve, info["overhead_bytes"]
    )
    vram = (gpu.memory_bytes - req.ollama_gpu_overhead) * req.gpus
    num_ctx = next(ctx for floor, ctx in OLLAMA_CONTEXT_TIERS if vram >= floor)
    reserve_mib = reserve // (1 << 20)
    if ollama_n is None:
        notes.append(msg("inverse.ollama_none", reserve_mib=reserve_mib, num_ctx=num_ctx))
    else:
        notes.append(msg("inverse.ollama", reserve_mib=reserve_mib, layers=ollama_n, num_ctx=num_ctx))
    return best, notes


def inverse(req: EstimateRequest, gpu: GpuEntry, result: EstimateResult | None = None) -> Inverse:
    """Largest batch, context and concurrency that fit ``req.gpus`` × ``gpu`` (llama.cpp: context and -ngl)."""
    cap = usable_bytes(req, gpu)
    if _is_llama_cpp(req):
        if result is None or "gpu_total_by_layers" not in result.details.get("llama_cpp", {}):
            result = estimate(req, layer_scan=True)
        max_layers, notes = llama_cpp_inverse(req, gpu, result)
        model = resolve_model(req)
        ctx_limit = model.info.context_length or 1 << 20
        max_seq = _max_fitting(req, "seq_len", cap, max(1, req.gen_len + 1), ctx_limit)
        notes.append(msg("inverse.llama_cpp_context", slots=req.parallel))
        return Inverse(gpu=gpu.id, count=req.gpus, max_batch_size=None, max_seq_len=max_seq,
                       max_concurrent_sequences=None, max_gpu_layers=max_layers, notes=notes)  # fmt: skip
    notes: list[Message] = []
    model = resolve_model(req)
    ctx_limit = model.info.context_length or 1 << 20
    max_batch = _max_fitting(req, "batch_size", cap, 1, 1 << 14)
    if req.mode == "grpo" and req.rl_algorithm == "grpo":
        # GRPO's sequence length is prompt + completion: the question users ask is how long completions can be.
        limit = max(1, ctx_limit - req.prompt_len)
        max_seq = _max_fitting(req, "completion_len", cap, 1, limit)
        notes.append(msg("inverse.grpo_completion", prompt=req.prompt_len))
        if max_seq == limit:
            notes.append(msg("inverse.context_reached", limit=ctx_limit))
    else:
        max_seq = _max_fitting(req, "seq_len", cap, max(1, req.gen_len + 1), ctx_limit)
        if max_seq == ctx_limit:
            notes.append(msg("inverse.context_reached", limit=ctx_limit))
    concurrency = max_batch if req.mode == "inference" else None
    if req.mode == "inference":
        notes.append(msg("inverse.concurrent", seq=req.seq_len))
    if _vllm_serving(req):
        notes.append(msg("inverse.vllm", batch=req.batch_size))
    return Inverse(
        gpu=gpu.id,
        count=req.gpus,
        max_batch_size=max_batch,
        max_seq_len=max_seq,
        max_concurrent_sequences=concurrency,
        notes=notes,
    )


def _sig(value: float, digits: int = 4) -> float | None:
    """``value`` to ``digits`` significant digits — a slow 0.0042 tokens/s stays 0.0042 instead of rounding to 0 —
    or None when it is not a positive finite number (the reply must stay strict JSON)."""
    if not math.isfinite(value) or value <= 0:
        return None
    return float(f"{value:.{digits}g}")


def throughput(req: EstimateRequest, result: EstimateResult, gpu: GpuEntry) -> Throughput:
    """Roofline estimates (labelled as such)."""
    model = resolve_model(req)
    a = model.arch
    pc = count_params(a)
    n = req.gpus
    bandwidth = gpu.bandwidth_gbps * 1e9 * n
    flops = gpu.bf16_tflops * 1e12 * n
    active = pc.active
    # Attention FLOPs per token at context s: 2 (QK and AV) × 2 FLOPs × layers × heads × head_dim × s.
    attn_per_token = 4 * a.num_layers * a.num_heads * a.head_dim
    out = Throughput(gpu=gpu.id, notes=[msg("throughput.estimates")])
    notes = out.notes  # the model's own list (pydantic copies a list passed to it)
    if _is_llama_cpp(req) and "llama_cpp" in result.details:
        return llama_cpp_throughput(req, result, gpu, out)
    if req.mode in ("inference", "multimodal") and (req.mode != "multimodal" or req.task == "inference"):
        try:
            fmt = normalise_format(req.weights)
            wb = weight_bytes(a, pc.components, fmt)
            active_bytes = wb.total * active / max(pc.total, 1)
        except ValueError:
            active_bytes = 2 * active
        vllm = result.details.get("vllm")
        # vLLM's pool fills the card; a decode step reads only the blocks of the running sequences.
        kv = (vllm["kv_needed_bytes"] if vllm else result.components.get("kv_cache", 0)) * n
        step_bytes = active_bytes + kv
        step_s = step_bytes / bandwidth
        out.decode_tokens_per_s = _sig(req.batch_size / step_s)
        prompt = req.seq_len - req.gen_len
        prefill_flops = req.batch_size * (2 * active * prompt + attn_per_token * prompt * prompt / 2)
        out.prefill_seconds = _sig(prefill_flops / (flops * req.mfu))
        notes.append(msg("throughput.decode", active_gb=active_bytes / 1e9, bandwidth=gpu.bandwidth_gbps,
                         mfu_pct=100 * req.mfu, tflops=gpu.bf16_tflops))  # fmt: skip
    else:
        tokens = req.batch_size * req.seq_len * max(1, req.gpus // (req.tp * req.pp))
        if req.mode == "grpo":
            # GRPO: batch_size counts completions (TRL per_device_train_batch_size); DPO: chosen + rejected pairs.
            per_item = 1 if req.rl_algorithm == "grpo" else 2
            tokens = req.batch_size * per_item * (req.prompt_len + req.completion_len)
        trainable_share = result.params.trainable / max(pc.total, 1)
        # 2 FLOPs/param forward; backward 2× for activations (+2× for weight grads of trainable params).
        per_token = (
            2 * active + 2 * active + 2 * active * trainable_share + 3 * attn_per_token * req.seq_len / 2
        )
        if req.grad_checkpointing == "full":
            per_token += 2 * active
        step_flops = per_token * tokens * req.grad_accum
        step_s = step_flops / (flops * req.mfu)
        out.step_seconds = _sig(step_s)
        out.train_tokens_per_s = _sig(tokens * req.grad_accum / step_s)
        code = "throughput.training_recompute" if req.grad_checkpointing == "full" else "throughput.training"
        notes.append(msg(code, mfu_pct=100 * req.mfu, gpus=n, tflops=gpu.bf16_tflops))
        if req.mode == "grpo":
            notes.append(msg("throughput.grpo"))
    return out


def decode_seconds_per_token(gpu_bytes: int, cpu_bytes: int, gpu_gbps: float, cpu_gbps: float) -> float:
    """One decode step with layers split between GPU and CPU: each side streams its weights and KV once per token
    and the sides run one after the other (llama.cpp evaluates the layers in order): GPU bytes / GPU bandwidth +
    CPU bytes / CPU bandwidth."""
    return gpu_bytes / (gpu_gbps * 1e9) + cpu_bytes / (cpu_gbps * 1e9)


def llama_cpp_throughput(
    req: EstimateRequest, result: EstimateResult, gpu: GpuEntry, out: Throughput
) -> Throughput:
    """Decode tokens/s with the GPU/CPU split (roofline at peak bandwidths: an upper bound)."""
    info = result.details["llama_cpp"]
    gpu_bytes, cpu_bytes = info["decode_gpu_bytes"], info["decode_cpu_bytes"]
    step = decode_seconds_per_token(gpu_bytes, cpu_bytes, gpu.bandwidth_gbps, req.cpu_bandwidth_gbps)
    out.decode_tokens_per_s = round(req.parallel / step, 1) if step else None
    out.notes.append(msg("throughput.llama_cpp_decode", gpu_gb=gpu_bytes / 1e9, gpu_bandwidth=gpu.bandwidth_gbps,
                         cpu_gb=cpu_bytes / 1e9, cpu_bandwidth=f"{req.cpu_bandwidth_gbps:g}"))  # fmt: skip
    a = resolve_model(req).arch
    active = count_params(a).active
    prompt = req.seq_len - req.gen_len
    flops = gpu.bf16_tflops * 1e12 * req.gpus
    attn = 4 * a.num_layers * a.num_heads * a.head_dim
    out.prefill_seconds = round((2 * active * prompt + attn * prompt * prompt / 2) / (flops * req.mfu), 4)
    out.notes.append(msg("throughput.llama_cpp_prefill", mfu_pct=100 * req.mfu))
    return out


def report(req: EstimateRequest) -> Report:
    """Estimate + fit on the chosen GPU + recommendations + inverse + throughput."""
    result = estimate(req, layer_scan=_is_llama_cpp(req) and bool(req.gpu))
    gpu = load_catalog().gpu(req.gpu) if req.gpu else None
    return Report(
        estimate=result,
        fit=fit(result, gpu, req) if gpu else None,
        recommendations=recommend(req),
        inverse=inverse(req, gpu, result) if gpu else None,
        throughput=throughput(req, result, gpu) if gpu else None,
        left_out=left_out(req),
    )
