"""How parallelism divides memory across devices: tensor/pipeline splits and ZeRO/FSDP sharding.

Pure formulas (no request, no phases): the workloads decide which state each one applies to.
"""

from __future__ import annotations

from dataclasses import dataclass

from .arch import ArchSpec
from .messages import Message, msg, register

register({
    "parallel.fsdp_full_shard": "FSDP FULL_SHARD (= ZeRO-3)",
    "parallel.fsdp_shard_grad_op": "FSDP SHARD_GRAD_OP (= ZeRO-2)",
    "parallel.fsdp_hybrid_shard": "FSDP HYBRID_SHARD (ZeRO-3 within a node)",
    "parallel.zero": "DeepSpeed ZeRO-{stage}",
    "parallel.none": "no sharding (DDP / single GPU)",
})  # fmt: skip


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
    label: Message
    deepspeed: bool = False  # DeepSpeed ZeRO (else FSDP or none)


def sharding(zero: int, fsdp: str, data_parallel: int, gpus_per_node: int = 8) -> Sharding:
    """Map ZeRO stage or FSDP strategy to a sharding (formulas.md §D.2–D.3)."""
    if fsdp == "full_shard":
        return Sharding(3, data_parallel, msg("parallel.fsdp_full_shard"))
    if fsdp == "shard_grad_op":
        return Sharding(2, data_parallel, msg("parallel.fsdp_shard_grad_op"))
    if fsdp == "hybrid_shard":
        return Sharding(3, min(data_parallel, gpus_per_node), msg("parallel.fsdp_hybrid_shard"))
    if zero:
        return Sharding(zero, data_parallel, msg("parallel.zero", stage=zero), deepspeed=True)
    return Sharding(0, 1, msg("parallel.none"))


def shard(value: int, divide: bool, group: int) -> int:
    """``value`` divided (rounded up) over ``group`` ranks when this state is sharded, else whole."""
    return -(-value // group) if divide and group > 1 else value


# DeepSpeed ZeRO-3 defaults as the HF integration fills them (transformers integrations/deepspeed.py
# trainer_config_finalize: stage3_prefetch_bucket_size "auto" = 0.9·hidden²) and DeepSpeed's own
# (runtime/zero/config.py: stage3_max_live_parameters 1e9 elements).
ZERO3_PREFETCH_BUCKET_PER_HIDDEN_SQ = 0.9
ZERO3_MAX_LIVE_PARAMETERS = 1_000_000_000


@dataclass(frozen=True)
class GatheredSet:
    """Unsharded memory of ZeRO-3 / FSDP FULL_SHARD on top of the resident shards, per GPU."""

    forward: int  # gathered parameters at the loss (end of forward, start of backward)
    backward: int  # gathered parameters while a layer runs backward
    unit_grads: int  # unsharded gradients of layers being reduced (trainable units only)
    root_params: int  # FSDP root unit's parameters, unsharded from forward to the end of backward
    root_grads: int  # the root unit's unsharded gradients, from its first backward use to the end of backward


def fsdp_gathered(
    unit_params: int, root_params: int, unit_grads: int, root_grads: int, group: int
) -> GatheredSet:
    """FSDP FULL_SHARD (FSDP1 and FSDP2 alike) around one wrapped decoder layer of ``unit_params`` bytes.

    * Parameters: in a layer's backward the unit computing and the one prefetched (FSDP1 BACKWARD_PRE; FSDP2
      ``pre_backward`` → ``_backward_prefetch``, torch/distributed/fsdp/_fully_shard/_fsdp_param_group.py); at the
      loss the decoder layers are resharded and only the last layer, prefetched by the root's pre-backward, is
      gathered.
    * Gradients of trainable units: the unit's unsharded gradients and the previous unit's reduce-scatter input,
      kept until its reduce-scatter is waited on (``reduce_scatter_max_input_buffers`` = 1, post_backward).
    * The root unit (what no wrapped layer holds: embeddings, final norm, lm_head) is not resharded after forward
      (FSDP2: ``post_forward_mesh_info = None`` for the root in _fsdp_state.py _lazy_init; FSDP1:
      _runtime_utils._post_forward_reshard skips the root), and reduces its gradients last.
    The resident 1/N shard of each is counted with the sharded weights, so only the other (N−1)/N is added.
    """
    rest = 1 - 1 / group
    return GatheredSet(
        forward=unit_params,
        backward=2 * unit_params,
        unit_grads=2 * unit_grads,
        root_params=int(root_params * rest),
        root_grads=root_grads,
    )


def zero3_gathered(unit_params: int, bytes_per_element: int, hidden: int, unit_grads: int) -> GatheredSet:
    """DeepSpeed ZeRO-3: the layer computing plus the prefetch bucket (0.9·hidden² elements), at most
    ``stage3_max_live_parameters`` elements gathered (runtime/zero/partitioned_param_coordinator.py
    fetch_sub_module); parameters are released after use. A trainable layer's gradients exist unsharded until
    its reduce bucket is reduce-scattered (stage3.py reduce_independent_p_g_buckets_and_remove_grads)."""
    bucket = int(ZERO3_PREFETCH_BUCKET_PER_HIDDEN_SQ * hidden * hidden) * bytes_per_element
    live = min(unit_params + bucket, max(unit_params, ZERO3_MAX_LIVE_PARAMETERS * bytes_per_element))
    return GatheredSet(forward=live, backward=live, unit_grads=unit_grads, root_params=0, root_grads=0)
