"""How parallelism divides memory across devices: tensor/pipeline splits and ZeRO/FSDP sharding.

Pure formulas (no request, no phases): the workloads decide which state each one applies to.
"""

from __future__ import annotations

from dataclasses import dataclass

from .arch import ArchSpec


def weights_per_gpu(total: int, tp: int, pp: int) -> int:
    """Weight bytes per GPU: Megatron splits every Linear over TP ranks and the layers over PP stages."""
    return -(-total // (tp * pp))


def kv_per_gpu(a: ArchSpec, total: int, tp: int, pp: int) -> int:
    """KV cache per GPU: heads split over TP (replicated when n_kv < tp), layers over PP.

    MLA caches one latent per token that every TP rank needs whole (vLLM MLA backends), so TP does not divide it.
    """
    heads_split = min(tp, a.num_kv_heads) if not a.mla else 1
    return -(-total // (heads_split * pp))


@dataclass(frozen=True)
class Sharding:
    """Which model states are divided across the data-parallel group (ZeRO paper Fig. 1)."""

    stage: int  # 0 none, 1 optimizer states, 2 + gradients, 3 + parameters
    group: int  # data-parallel degree they are divided by
    label: str


def sharding(zero: int, fsdp: str, data_parallel: int, gpus_per_node: int = 8) -> Sharding:
    """Map ZeRO stage or FSDP strategy to a sharding (formulas.md §D.2–D.3)."""
    if fsdp == "full_shard":
        return Sharding(3, data_parallel, "FSDP FULL_SHARD (= ZeRO-3)")
    if fsdp == "shard_grad_op":
        return Sharding(2, data_parallel, "FSDP SHARD_GRAD_OP (= ZeRO-2)")
    if fsdp == "hybrid_shard":
        return Sharding(3, min(data_parallel, gpus_per_node), "FSDP HYBRID_SHARD (ZeRO-3 within a node)")
    if zero:
        return Sharding(zero, data_parallel, f"DeepSpeed ZeRO-{zero}")
    return Sharding(0, 1, "no sharding (DDP / single GPU)")


def shard(value: int, divide: bool, group: int) -> int:
    """``value`` divided (rounded up) over ``group`` ranks when this state is sharded, else whole."""
    return -(-value // group) if divide and group > 1 else value
