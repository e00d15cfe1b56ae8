"""Training and fine-tuning: model states (weights, gradients, optimizer), the activations autograd keeps, the
loss's logits, and the phases of one step (forward, backward start, recompute, backward end, optimizer step).

Methods: full training, LoRA / QLoRA (PEFT), freeze tuning (last N layers), prefix tuning. Precision conventions,
optimizer states and sharding come from :mod:`vram_insight.states` and :mod:`vram_insight.parallel`; the saved
activations per layer from :mod:`vram_insight.activations`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import activations as act
from ..arch import ArchSpec
from ..device import runtime_overhead
from ..errors import EstimateError
from ..kernels import effective_attention, math_attention_note
from ..lora import LoraTargetError, lora_plan
from ..parallel import Sharding, shard, sharding, weights_per_gpu
from ..params import count_params, layer_params, linear_shapes
from ..phases import Ctx, Phase, finish, merge
from ..quant import WeightBytes, weight_bytes
from ..resolve import ResolvedModel, resolve_model
from ..schemas import EstimateRequest, EstimateResult, Params
from ..states import (
    OPTIMIZERS,
    AutocastCopies,
    autocast_weight_copies,
    optimizer_state_bytes,
    optimizer_step_temp_bytes,
    precision_spec,
)


@dataclass
class TrainPlan:
    """Who is trainable and how the model states are stored, per device."""

    trainable: int
    weights: int  # resident weights bytes (per device)
    gradients: int
    optimizer: int
    step_temp: int
    amp: AutocastCopies  # autocast 16-bit weight copies (all / lm_head / one layer)
    tied_grad_extra: int  # end-of-backward transient of a tied, trainable embedding
    setup: act.TrainSetup  # how the layers that save activations are trained
    grad_from_layer: int  # first layer whose inputs need gradients (earlier layers save nothing)
    label: str
    grad_bytes: int = 2  # per trainable parameter, for extra trainable parts (an unfrozen vision tower)
    state_bytes_per_param: int = 8  # optimizer states + master copy per trainable parameter


def factored_elements(a: ArchSpec) -> int:
    """Adafactor: rows + cols per matrix, full size for vectors (embedding counted as a matrix)."""
    total = 2 * (a.vocab_size + a.hidden_size)
    for layer, count in a.layer_groups():
        for d_in, d_out in linear_shapes(a, layer).values():
            total += (d_in + d_out) * count
        total += a.norms_per_layer * a.hidden_size * count
    return total


def largest_layer_share(a: ArchSpec) -> tuple[int, int]:
    """(parameters of the largest decoder layer, parameters of all decoder layers)."""
    largest = max(sum(layer_params(a, layer).values()) for layer, _ in a.layer_groups())
    total = sum(sum(layer_params(a, layer).values()) * n for layer, n in a.layer_groups())
    return largest, total


def frozen_base_weights(
    ctx: Ctx, a: ArchSpec, wb: WeightBytes, shd: Sharding, tp: int, pp: int
) -> tuple[int, int]:
    """(resident, gathered) frozen base weights per GPU in their storage format (LoRA/QLoRA/prefix tuning).

    ZeRO-3 and FSDP FULL_SHARD shard frozen parameters like trainable ones: each rank keeps 1/N of every flat
    parameter and all-gathers one unit (decoder layer) before its forward and backward, prefetching the next
    (torch/distributed/fsdp: BackwardPrefetch.BACKWARD_PRE, the default; DeepSpeed stage3 prefetch bucket).
    QLoRA under FSDP packs the 4-bit weights into a 16-bit ``bnb_4bit_quant_storage`` so they shard as stored.
    """
    local = weights_per_gpu(wb.total, tp, pp)
    if shd.stage < 3:
        return local, 0
    largest, all_layers = largest_layer_share(a)
    unit = -(-wb.layers * largest // max(all_layers, 1)) // tp
    ctx.assumptions.append(
        f"{shd.label}: frozen base weights sharded over {shd.group} ranks, plus 2 gathered decoder layers "
        "(current + prefetched) in their storage format"
    )
    return shard(local, True, shd.group), 2 * unit


def unit_gradient_bytes(a: ArchSpec, trainable: int, method: str, grad_bytes: int, tp: int) -> int:
    """Unsharded gradients of one decoder layer (the unit reduced at a time), for trainable parameters."""
    largest, all_layers = largest_layer_share(a)
    if method == "full":
        return grad_bytes * largest // tp
    # Adapters and freeze-tuned layers: their share of one layer.
    return -(-grad_bytes * trainable * largest // max(all_layers, 1))


def train_plan(ctx: Ctx, a: ArchSpec, method: str, data_parallel: int) -> TrainPlan:
    req = ctx.req
    pc = count_params(a)
    shd = sharding(req.zero, req.fsdp, data_parallel)
    sharded = shd.stage > 0
    prec = precision_spec(req.precision, sharded)
    opt = OPTIMIZERS[req.optimizer]
    tp_pp = req.tp * req.pp
    lora_targets: frozenset[str] = frozenset()
    grad_from = 0
    gathered = 0  # all-gathered units under ZeRO-3 / FSDP full shard, on top of the resident shard
    base_trainable = method in ("full", "freeze")

    if method == "full":
        trainable = pc.total
        weights = weights_per_gpu(prec.weight_bytes * pc.total, req.tp, req.pp)
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
        weights, gathered = frozen_base_weights(ctx, a, wb, shd, req.tp, req.pp)
        weights += shard(trainable * adapter_bytes, shd.stage == 3, shd.group)
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
        weights = weights_per_gpu(frozen * 2 + prec.weight_bytes * trainable, req.tp, req.pp)
        if shd.stage == 3:
            largest, _ = largest_layer_share(a)
            weights = shard(weights, True, shd.group)
            gathered = 2 * 2 * largest // req.tp
            ctx.assumptions.append(f"{shd.label}: +2 gathered 16-bit layers (current + prefetched) per GPU")
        label = f"freeze: last {n} layers trainable"
        ctx.assumptions.append(
            f"Freeze tuning: layers {grad_from}…{a.num_layers - 1} trainable, the rest frozen in 16-bit"
        )
    elif method == "prefix":
        trainable = req.prefix_tokens * a.num_layers * 2 * a.kv_dim
        wb = weight_bytes(a, pc.components, "bf16")
        weights, gathered = frozen_base_weights(ctx, a, wb, shd, req.tp, req.pp)
        weights += shard(trainable * 4, shd.stage == 3, shd.group)
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
    factored = factored_elements(a) if req.optimizer == "adafactor" else 0
    states = optimizer_state_bytes(req.optimizer, trainable_local, prec.state_bytes, factored)
    master = trainable_local * prec.master_bytes
    optimizer = shard(states + master, shd.stage >= 1, shd.group)
    step_temp = shard(
        optimizer_step_temp_bytes(req.optimizer, trainable_local, prec.state_bytes), shd.stage >= 1, shd.group
    )
    if req.offload != "none":
        optimizer = 0
        step_temp = 0
        # ZeRO-Offload copies each reduced gradient partition to pinned CPU memory for the CPU optimizer step
        # (deepspeed/runtime/zero/stage_1_and_2.py async_accumulate_grad_in_cpu_via_gpu; stage3.py
        # partition_grads with offload_optimizer); FSDP CPUOffload(offload_params=True) moves sharded gradients
        # to the CPU after reduce-scatter (torch/distributed/fsdp/_runtime_utils.py _post_backward_hook). What
        # stays on the GPU is the unsharded gradient of the unit being reduced.
        gradients = unit_gradient_bytes(a, trainable, method, prec.grad_bytes, req.tp)
        ctx.assumptions.append(
            "Optimizer states, the optimizer step and the reduced gradients are offloaded to CPU RAM "
            "(ZeRO-Offload / FSDP CPU offload): the GPU keeps one layer's unreduced gradients at a time"
        )
        if req.offload == "optimizer+params" and shd.stage == 3:
            weights = 0
            ctx.assumptions.append(
                "Parameters offloaded to CPU (ZeRO-3 offload_param / FSDP offload_params): gathered per layer on use"
            )
    ctx.assumptions.append(f"Optimizer: {opt.name} — {opt.source}")
    if sharded:
        ctx.assumptions.append(f"Sharding: {shd.label} over {shd.group} data-parallel ranks")
    amp = AutocastCopies(0, 0, 0)
    if prec.autocast and base_trainable:
        amp = autocast_weight_copies(a, pc.components, method, trainable, req.tp, req.pp)
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
        attention=effective_attention(req.attention, a, prec.act_bytes, req.platform),
        autocast=prec.autocast,
    )
    if shd.stage == 3 and method == "full":
        # Gathered 16-bit parameters of the layer being computed (and the prefetched next one).
        largest = max(sum(layer_params(a, layer).values()) for layer, _ in a.layer_groups())
        gathered = 2 * 2 * largest // req.tp
        ctx.assumptions.append("ZeRO-3/FSDP: +2 gathered 16-bit layers (current + prefetched) per GPU")
    weights += gathered
    if setup.attention != req.attention:
        ctx.assumptions.append(math_attention_note(prec.act_bytes))
    per_param_states = optimizer_state_bytes(req.optimizer, 1, prec.state_bytes, 1) + prec.master_bytes
    return TrainPlan(
        trainable,
        weights,
        gradients,
        optimizer,
        step_temp,
        amp,
        tied_extra,
        setup,
        grad_from,
        label,
        grad_bytes=prec.grad_bytes,
        state_bytes_per_param=per_param_states,
    )


def saved_activations(ctx: Ctx, a: ArchSpec, plan: TrainPlan, batch: int, seq: int) -> tuple[int, int]:
    """(bytes kept for backward over all layers, one layer's saved bytes + its backward working set) for
    ``batch × seq`` tokens."""
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
        # A recomputed layer's backward also holds its MLP gradients at the SiLU·up product.
        working = act.mlp_backward_bytes_per_token(a, layer, setup.act_bytes) * tokens // tp
        largest_layer = max(largest_layer, layer_bytes + working)
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


def ce_bytes(ctx: Ctx, a: ArchSpec, tokens: int, act_bytes: int) -> tuple[int, int]:
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
    plan = train_plan(ctx, a, method, data_parallel)
    pc = count_params(a)
    batch, seq = req.batch_size, req.seq_len + (extra.get("tokens", 0) if extra else 0)
    tokens = batch * seq
    setup = plan.setup
    saved, largest_layer = saved_activations(ctx, a, plan, batch, seq)
    ce_fwd, ce_bwd = ce_bytes(ctx, a, tokens, setup.act_bytes)
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
    full_ckpt = req.grad_checkpointing == "full"
    # Autocast's weight cache holds every copy until forward's autocast exits; with full checkpointing the
    # copies are then referenced only by the lm_head's saved tensors and, in backward, the recomputed layer's.
    amp_fwd = {"weights": plan.amp.all} if plan.amp.all else {}
    amp_bwd = {"weights": plan.amp.lm_head if full_ckpt else plan.amp.all} if plan.amp.all else {}
    amp_recompute = {"weights": plan.amp.layer} if plan.amp.all else {}
    phases = [
        Phase(
            "forward",
            merge(
                base, amp_fwd, {"gradients": grads_prev, "activations": saved + extra_act, "logits": ce_fwd}
            ),
        ),
        Phase(
            "backward_start",
            merge(
                base, amp_bwd, {"gradients": grads_prev, "activations": saved + extra_act, "logits": ce_bwd}
            ),
        ),
    ]
    if req.grad_checkpointing == "full":
        # Recompute of one layer: its saved activations are rebuilt while most gradients exist (measured peak
        # inside a recomputed layer's backward ≈ checkpoints + one layer's saved set).
        phases.append(Phase("backward_recompute", merge(base, amp_recompute, {"gradients": plan.gradients,
                                                                       "activations": saved + largest_layer})))  # fmt: skip
    phases.append(Phase("backward_end", merge(base, {"gradients": plan.gradients + plan.tied_grad_extra})))
    phases.append(
        Phase("optimizer_step", merge(base, {"gradients": plan.gradients, "optimizer": plan.step_temp}))
    )
    if plan.amp.all:
        ctx.assumptions.append(
            "Autocast keeps 16-bit copies of the Linear weights (lm_head included) from forward until their "
            "backward"
            + (
                "; with gradient checkpointing they are dropped when forward ends and recast per recomputed layer"
                if full_ckpt
                else ""
            )
        )
    if plan.tied_grad_extra:
        ctx.assumptions.append(
            "Tied embeddings: the embedding and lm_head gradients are summed at the end of backward (two extra "
            "vocab × hidden buffers while all gradients exist)"
        )
    ctx.details["tokens_per_step"] = tokens * data_parallel
    ctx.details["trainable_label"] = plan.label
    overhead = runtime_overhead(ctx)
    params = Params(total=pc.total + (extra.get("params", 0) if extra else 0), active=pc.active,
                    trainable=plan.trainable, breakdown=pc.components)  # fmt: skip
    return finish(ctx, model, phases, overhead, params, req.gpus)
