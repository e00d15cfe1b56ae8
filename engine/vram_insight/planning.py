"""Planning on top of an estimate: does it fit, which GPUs to buy or rent, how far batch/context can go, and
roughly how fast it runs. Throughput figures are labelled estimates: decode from memory bandwidth (roofline),
prefill and training from FLOPs at a stated model-FLOPs utilisation (MFU).
"""

from __future__ import annotations

import math

from .catalog import GpuEntry, load_catalog
from .estimate import EstimateError, estimate, resolve_model
from .params import count_params
from .quant import normalise_format, weight_bytes
from .schemas import EstimateRequest, EstimateResult, Fit, Inverse, Recommendation, Report, Throughput

# Counts tried for multi-GPU setups: one node of up to 8, then whole nodes.
GPU_COUNTS = (1, 2, 4, 8, 16, 32, 64)


def usable_bytes(req: EstimateRequest, gpu: GpuEntry) -> int:
    """Memory the workload may use on one GPU: vLLM only takes gpu_memory_utilization of it."""
    if req.runtime == "vllm" and (
        req.mode == "inference" or (req.mode == "multimodal" and req.task == "inference")
    ):
        return int(gpu.memory_bytes * req.gpu_memory_utilization)
    return gpu.memory_bytes


def fit(result: EstimateResult, gpu: GpuEntry, req: EstimateRequest | None = None) -> Fit:
    cap = usable_bytes(req, gpu) if req else gpu.memory_bytes
    need = result.total_bytes
    return Fit(
        gpu=gpu.id,
        gpu_name=gpu.name,
        capacity_bytes=cap,
        required_bytes=need,
        fits=need <= cap,
        headroom_bytes=cap - need,
        utilization=round(need / cap, 4),
    )


def _scaled_request(req: EstimateRequest, count: int) -> tuple[EstimateRequest, str]:
    """The same workload spread over ``count`` GPUs the way practitioners would do it."""
    if count == 1:
        return req.model_copy(update={"gpus": 1, "tp": 1, "pp": 1, "zero": 0, "fsdp": "none"}), "single GPU"
    if req.mode == "inference" or (req.mode == "multimodal" and req.task == "inference"):
        return req.model_copy(update={"gpus": count, "tp": count, "pp": 1}), f"tensor parallel × {count}"
    if req.zero or req.fsdp != "none":
        return req.model_copy(
            update={"gpus": count}
        ), f"{'ZeRO-' + str(req.zero) if req.zero else 'FSDP'} × {count}"
    return req.model_copy(
        update={"gpus": count, "zero": 3, "tp": 1, "pp": 1}
    ), f"ZeRO-3 / FSDP full shard × {count}"


def recommend(req: EstimateRequest, limit: int = 8) -> list[Recommendation]:
    """Configurations that fit, each GPU at the smallest count that works (memory per device depends only on
    the count, so one estimate per count serves every GPU)."""
    catalog = load_catalog()
    by_count: dict[int, tuple[EstimateResult, str] | None] = {}
    smallest = min(usable_bytes(req, g) for g in catalog.gpus.values())
    for count in GPU_COUNTS:
        scaled, strategy = _scaled_request(req, count)
        try:
            by_count[count] = (estimate(scaled), strategy)
        except (EstimateError, ValueError):
            by_count[count] = None
            continue
        if by_count[count][0].total_bytes <= smallest:
            break  # every GPU already fits at this count: larger setups are never the smallest that fits
    options: list[Recommendation] = []
    for gpu in catalog.gpus.values():
        for count in GPU_COUNTS:
            if gpu.max_per_node == 1 and count > 1:
                break
            if count > gpu.max_per_node and count % 8:
                continue
            entry = by_count.get(count)
            if entry is None:
                continue
            result, strategy = entry
            need, cap = result.total_bytes, usable_bytes(req, gpu)
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

    def take(items: list[Recommendation], n: int, reason: str) -> None:
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
         "cheapest single card to buy")  # fmt: skip
    take(sorted((o for o in singles if o.cloud_usd_per_hour), key=lambda o: o.cloud_usd_per_hour or inf), per_group,
         "cheapest single card to rent")  # fmt: skip
    take(sorted(multis, key=lambda o: (o.cloud_usd_per_hour or inf, o.launch_price_usd or inf, o.count)),
         limit - len(picks), "cheapest multi-GPU setup")  # fmt: skip
    if len(picks) < limit:
        take(
            sorted(singles, key=lambda o: o.capacity_bytes),
            limit - len(picks),
            "smallest single card that fits",
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
            return estimate(req.model_copy(update=update)).total_bytes
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


def inverse(req: EstimateRequest, gpu: GpuEntry) -> Inverse:
    """Largest batch, context and concurrency that fit ``req.gpus`` × ``gpu``."""
    cap = usable_bytes(req, gpu)
    notes: list[str] = []
    model = resolve_model(req)
    ctx_limit = model.info.context_length or 1 << 20
    max_batch = _max_fitting(req, "batch_size", cap, 1, 1 << 14)
    if req.mode == "grpo" and req.rl_algorithm == "grpo":
        # GRPO's sequence length is prompt + completion: the question users ask is how long completions can be.
        limit = max(1, ctx_limit - req.prompt_len)
        max_seq = _max_fitting(req, "completion_len", cap, 1, limit)
        notes.append(f"max_seq_len here is the longest completion with a {req.prompt_len:,}-token prompt")
        if max_seq == limit:
            notes.append(
                f"the model's context length ({ctx_limit:,} tokens) is reached before memory runs out"
            )
    else:
        max_seq = _max_fitting(req, "seq_len", cap, max(1, req.gen_len + 1), ctx_limit)
        if max_seq == ctx_limit:
            notes.append(
                f"the model's context length ({ctx_limit:,} tokens) is reached before memory runs out"
            )
    concurrency = max_batch if req.mode == "inference" else None
    if req.mode == "inference":
        notes.append(f"concurrent sequences of {req.seq_len:,} tokens each")
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
    notes = ["Estimates, not measurements: roofline bounds with the stated assumptions"]
    n = req.gpus
    bandwidth = gpu.bandwidth_gbps * 1e9 * n
    flops = gpu.bf16_tflops * 1e12 * n
    active = pc.active
    # Attention FLOPs per token at context s: 2 (QK and AV) × 2 FLOPs × layers × heads × head_dim × s.
    attn_per_token = 4 * a.num_layers * a.num_heads * a.head_dim
    out = Throughput(gpu=gpu.id, notes=notes)
    if req.mode in ("inference", "multimodal") and (req.mode != "multimodal" or req.task == "inference"):
        try:
            fmt = normalise_format(req.weights)
            wb = weight_bytes(a, pc.components, fmt)
            active_bytes = wb.total * active / max(pc.total, 1)
        except ValueError:
            active_bytes = 2 * active
        kv = result.components.get("kv_cache", 0) * n
        step_bytes = active_bytes + kv
        step_s = step_bytes / bandwidth
        out.decode_tokens_per_s = _sig(req.batch_size / step_s)
        prompt = req.seq_len - req.gen_len
        prefill_flops = req.batch_size * (2 * active * prompt + attn_per_token * prompt * prompt / 2)
        out.prefill_seconds = _sig(prefill_flops / (flops * req.mfu))
        notes.append(
            f"decode: every step reads the active weights ({active_bytes / 1e9:.1f} GB) and the KV cache at "
            f"{gpu.bandwidth_gbps:.0f} GB/s per GPU (upper bound); prefill at {req.mfu:.0%} MFU of "
            f"{gpu.bf16_tflops:.0f} dense BF16 TFLOPS"
        )
    else:
        tokens = req.batch_size * req.seq_len * max(1, req.gpus // (req.tp * req.pp))
        if req.mode == "grpo":
            k = req.num_generations if req.rl_algorithm == "grpo" else 2  # completions per prompt / DPO pair
            tokens = req.batch_size * k * (req.prompt_len + req.completion_len)
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
        notes.append(
            f"training: 6 × active params FLOPs/token (4 + 2 × trainable share{', + 2 recompute' if req.grad_checkpointing == 'full' else ''}) "
            f"at {req.mfu:.0%} MFU of {n} × {gpu.bf16_tflops:.0f} TFLOPS"
        )
        if req.mode == "grpo":
            notes.append("GRPO step time excludes generation (rollout) time")
    return out


def report(req: EstimateRequest) -> Report:
    """Estimate + fit on the chosen GPU + recommendations + inverse + throughput."""
    result = estimate(req)
    gpu = load_catalog().gpu(req.gpu) if req.gpu else None
    return Report(
        estimate=result,
        fit=fit(result, gpu, req) if gpu else None,
        recommendations=recommend(req),
        inverse=inverse(req, gpu) if gpu else None,
        throughput=throughput(req, result, gpu) if gpu else None,
    )
