"""Inference: weights in the chosen format, the KV cache, and the runtime's own transients and reservations."""

from __future__ import annotations

from ..arch import ArchSpec
from ..device import gpu_entry, runtime_overhead
from ..errors import EstimateError
from ..kv import kv_bytes_per_token_full
from ..messages import register
from ..parallel import weights_per_gpu
from ..params import count_params
from ..phases import Ctx, Phase, finish
from ..platforms import loaded_weight_format
from ..quant import weight_bytes
from ..resolve import ResolvedModel, resolve_model
from ..runtimes import check_format_for_model, llama_cpp, transformers, vllm, weight_format
from ..schemas import EstimateRequest, EstimateResult, Params

register({
    "inference.weights": "Weights: {format}",
    "inference.tp_kv_heads": "Tensor parallel {tp} > {kv_heads} KV heads: KV heads are replicated, each GPU caches "
    "one head",
    "inference.hf_mla": "transformers' DeepSeek attention caches per-head K/V, not the MLA latent (vLLM/SGLang cache "
    "the {latent}-element latent): switch runtime to vLLM for MLA caching",
    "inference.local_layers": "{local} of {layers} layers use sliding-window/chunked attention: their cache holds at "
    "most {window} tokens",
    "inference.tp_pp": "Weights split over tensor parallel {tp} × pipeline parallel {pp}",
})  # fmt: skip


def tp_heads_note(ctx: Ctx, a: ArchSpec, tp: int) -> None:
    if tp > 1 and a.num_kv_heads < tp:
        ctx.note("inference.tp_kv_heads", tp=tp, kv_heads=a.num_kv_heads)


def inference(
    req: EstimateRequest,
    model: ResolvedModel | None = None,
    extra: dict[str, int] | None = None,
    *,
    layer_scan: bool = False,
) -> EstimateResult:
    """Memory per device of one inference request on ``req.runtime``.

    ``extra`` carries a multimodal model's share: tower weights, media tokens per sequence, encoder activations,
    cross-attention KV (see :mod:`.multimodal`).
    """
    ctx = Ctx(req)
    model = model or resolve_model(req)
    a = model.arch
    pc = count_params(a)
    fmt = weight_format(req.runtime, req.weights)
    # --- Platforms (issue 11): the format the chosen GPU holds (transformers dequantizes MXFP4 without kernels) ---
    fmt, dequantized = loaded_weight_format(req, fmt, gpu_entry(req))
    if dequantized is not None:
        ctx.warnings.append(dequantized)
    check_format_for_model(fmt, a, model.info.name)
    wb = weight_bytes(a, pc.components, fmt)
    ctx.note("inference.weights", format=wb.note)
    if req.runtime == "llama.cpp":
        return llama_cpp_inference(ctx, model, fmt, extra, layer_scan)
    tp, pp = req.tp, req.pp
    weights = weights_per_gpu(wb.total, tp, pp)
    if extra:
        weights += weights_per_gpu(extra.get("weights", 0), tp, pp)
    batch, seq = req.batch_size, req.seq_len + (extra.get("tokens", 0) if extra else 0)
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
        ctx.note("inference.hf_mla", latent=a.mla.kv_lora_rank + a.mla.qk_rope_head_dim)  # type: ignore[union-attr]
    if any(layer.attention != "full" for layer in a.layers):
        n_local = sum(layer.attention != "full" for layer in a.layers)
        window = max(layer.window or 0 for layer in a.layers)
        ctx.note("inference.local_layers", local=n_local, layers=a.num_layers, window=window)
    tp_heads_note(ctx, a, tp)
    phases: list[Phase] = []
    encoder = extra.get("encoder_activations", 0) if extra else 0
    if req.runtime == "vllm":
        # vLLM runs the encoder inside its startup profile: its peak enters the activation peak, not a phase.
        phases, overhead = vllm.serving_phases(
            ctx, a, weights, seq, fmt, transformers.activation_bytes(fmt), encoder
        )
    else:
        overhead = runtime_overhead(ctx)
        if encoder:
            phases.append(Phase("encoder", {"weights": weights, "activations": encoder}))
        kv_delta = extra.get("kv_delta", 0) if extra else 0
        phases += transformers.generate_phases(ctx, a, weights, batch, seq, kv_dtype, fmt, kv_delta)
    if tp > 1 or pp > 1:
        ctx.note("inference.tp_pp", tp=tp, pp=pp)
    params = Params(total=pc.total + (extra.get("params", 0) if extra else 0), active=pc.active, trainable=0,
                    breakdown=pc.components)  # fmt: skip
    return finish(ctx, model, phases, overhead, params, req.gpus)


def llama_cpp_inference(
    ctx: Ctx, model: ResolvedModel, fmt: str, extra: dict[str, int] | None, layer_scan: bool = False
) -> EstimateResult:
    """llama.cpp: its buffers per device (weights, KV, compute; the multimodal projector and its encoder buffers
    on the first GPU) and ggml-cuda's memory outside them — no PyTorch allocator or context figures."""
    req = ctx.req
    seq = req.seq_len + (extra.get("tokens", 0) if extra else 0)
    phases, overhead = llama_cpp.serving_phases(ctx, model.arch, fmt, seq, extra, layer_scan)
    pc = count_params(model.arch)
    params = Params(total=pc.total + (extra.get("params", 0) if extra else 0), active=pc.active, trainable=0,
                    breakdown=pc.components)  # fmt: skip
    return finish(ctx, model, phases, overhead, params, req.gpus)
