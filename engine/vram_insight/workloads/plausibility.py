"""Inputs that compute but cannot run as asked: warned about in the result, never silently passed.

* a sequence longer than the model was released for (or, for a custom config, than its positions and RoPE
  scaling cover) — transformers keeps going with degraded output, vLLM and llama.cpp refuse;
* a per-device total larger than the largest GPU in the catalog — no card holds it at this parallelism;
* a LoRA rank at least as large as the dimension it factorises — the adapter outgrows the weight.
"""

from __future__ import annotations

from typing import Any

from ..catalog import load_catalog
from ..messages import Message, msg, register
from ..resolve import ResolvedModel
from ..schemas import EstimateRequest, EstimateResult

register({
    "check.context_exceeds": (
        "{tokens:,} tokens per sequence exceed this model's context of {limit:,} tokens ({basis}): output degrades "
        "past it in transformers, and vLLM / llama.cpp refuse to start"
    ),
    "check.no_gpu_holds": (
        "{need_gb:,.1f} GB per device is more than the largest GPU in the catalog holds ({gpu}, {cap_gb:,.1f} GB): "
        "spread the work over more GPUs or reduce batch or context"
    ),
    "check.lora_rank": (
        "LoRA rank {rank} is not below the hidden size {hidden}: the adapter is as large as the weights it adapts"
    ),
    "check.basis_released": "released context",
    "check.basis_config": "max_position_embeddings and RoPE scaling of the config",
})  # fmt: skip

# RoPE scaling types whose factor extends the usable context beyond original_max_position_embeddings
# (transformers/modeling_rope_utils.py ROPE_INIT_FUNCTIONS: linear, dynamic, yarn, longrope, llama3).
_EXTENDING_ROPE = {"linear", "dynamic", "yarn", "longrope", "llama3"}


def context_limit(model: ResolvedModel) -> tuple[int | None, Message]:
    """(tokens, basis): the released context of a catalog model, else what a custom config's positions cover."""
    if model.entry is not None:
        return model.entry.context_length, msg("check.basis_released")
    limit = model.arch.max_position_embeddings
    scaling: Any = model.config.get("rope_scaling")
    if isinstance(scaling, dict) and limit:
        kind = scaling.get("rope_type") or scaling.get("type")
        original = scaling.get("original_max_position_embeddings")
        factor = scaling.get("factor")
        if kind in _EXTENDING_ROPE and isinstance(factor, int | float) and isinstance(original, int):
            limit = max(limit, int(original * factor))
    return limit, msg("check.basis_config")


def tokens_per_sequence(req: EstimateRequest, result: EstimateResult) -> int:
    if req.mode == "grpo":
        return req.prompt_len + req.completion_len
    return req.seq_len + int(result.details.get("media_tokens", 0))


def plausibility_warnings(
    req: EstimateRequest, model: ResolvedModel, result: EstimateResult
) -> list[Message]:
    out: list[Message] = []
    limit, basis = context_limit(model)
    tokens = tokens_per_sequence(req, result)
    if limit and tokens > limit:
        out.append(msg("check.context_exceeds", tokens=tokens, limit=limit, basis=basis))
    largest = max(load_catalog().gpus.values(), key=lambda g: g.memory_bytes)
    if result.total_bytes > largest.memory_bytes:
        out.append(
            msg(
                "check.no_gpu_holds",
                need_gb=result.total_bytes / 1e9,
                gpu=largest.name,
                cap_gb=largest.memory_bytes / 1e9,
            )
        )
    trains_lora = (req.mode == "finetune" and req.method in ("lora", "qlora")) or (
        req.mode == "grpo" and req.policy == "lora"
    )
    if trains_lora and req.lora_rank >= model.arch.hidden_size:
        out.append(msg("check.lora_rank", rank=req.lora_rank, hidden=model.arch.hidden_size))
    return out
