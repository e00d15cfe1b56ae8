"""vLLM serving: paged KV blocks, the activation peak profiled at startup, CUDA graphs, and the share of the GPU
vLLM reserves (``gpu_memory_utilization``), which it fills with KV blocks.

Mirrors ``vllm/v1/worker/gpu_worker.py`` (``determine_available_memory``: requested memory − weights − profiled
peak − non-torch memory = KV pool) and ``vllm/config/cache.py`` / ``scheduler.py`` (defaults below).
"""

from __future__ import annotations

from ..arch import ArchSpec
from ..device import gpu_capacity
from ..kv import kv_cache_bytes
from ..parallel import kv_per_gpu
from ..phases import Ctx, Phase
from .transformers import inference_forward_bytes

MiB = 1 << 20

VLLM_CUDA_GRAPH_BYTES = 512 * MiB  # vLLM "Graph capturing finished … took 0.3–1 GiB" (typical log lines)
VLLM_BLOCK_SIZE = 16  # vllm/config/cache.py default block_size
VLLM_MAX_NUM_BATCHED_TOKENS = 8192  # vLLM V1 default for online serving (scheduler config)
VLLM_MAX_NUM_SEQS = 256  # vLLM default max_num_seqs


def serving_phases(
    ctx: Ctx, a: ArchSpec, weights: int, batch: int, seq: int, kv_dtype: str
) -> tuple[list[Phase], int]:
    """The serving phase (weights + paged KV + profiled activations + sampler logits) and vLLM's own overhead."""
    req = ctx.req
    tp, pp = req.tp, req.pp
    act_bytes = 2
    kv = kv_per_gpu(a, kv_cache_bytes(a, batch, seq, kv_dtype, "vllm", VLLM_BLOCK_SIZE), tp, pp)
    profile_tokens = min(VLLM_MAX_NUM_BATCHED_TOKENS, max(batch * seq, 1))
    profile = inference_forward_bytes(a, 1, profile_tokens, profile_tokens, act_bytes, "flash") // tp
    sampler = min(batch, VLLM_MAX_NUM_SEQS) * a.vocab_size * 4  # fp32 logits upcast in the sampler
    serving = Phase(
        "serving", {"weights": weights, "kv_cache": kv, "activations": profile, "logits": sampler}
    )
    ctx.assumptions.append(
        f"vLLM: paged KV in {VLLM_BLOCK_SIZE}-token blocks for {batch} concurrent sequences of {seq} tokens; "
        f"activation peak profiled at max_num_batched_tokens={VLLM_MAX_NUM_BATCHED_TOKENS}; CUDA graphs ≈ "
        "0.5 GiB. vLLM itself reserves gpu_memory_utilization × GPU memory and fills the rest with KV blocks"
    )
    capacity = gpu_capacity(req)
    if capacity:
        reserved = int(req.gpu_memory_utilization * capacity)
        ctx.details["vllm_reserved_bytes"] = reserved
        need = serving.total + VLLM_CUDA_GRAPH_BYTES
        ctx.details["vllm_kv_pool_bytes"] = max(0, reserved - need + kv)
        if need > reserved:
            ctx.warnings.append(
                f"needs {need / 1e9:.1f} GB but gpu_memory_utilization={req.gpu_memory_utilization} reserves "
                f"{reserved / 1e9:.1f} GB of {req.gpu}: vLLM would refuse to start or cap concurrency"
            )
    return [serving], VLLM_CUDA_GRAPH_BYTES
