"""Training and fine-tuning: model states (weights, gradients, optimizer), the activations autograd keeps, the
loss's logits, and the phases of one step (forward, backward start, recompute, backward end, optimizer step).

Methods: full training, LoRA / QLoRA (PEFT), freeze tuning (last N layers), prefix tuning. Precision conventions,
optimizer states and sharding come from :mod:`vram_insight.states` and :mod:`vram_insight.parallel`; the saved
activations per layer from :mod:`vram_insight.activations`; what the framework adds (HF + bitsandbytes vs
torchtune) from :mod:`.stacks`; the memory knobs (paged optimizers, optimizer in backward, activation offloading,
torch.compile) from :mod:`.knobs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import activations as act
from ..arch import ArchSpec
from ..device import runtime_overhead
from ..errors import EstimateError
from ..kernels import effective_attention, math_attention_note
from ..lora import LoraTargetError, lora_plan
from ..messages import msg, register
from ..parallel import GatheredSet, Sharding, fsdp_gathered, shard, sharding, weights_per_gpu, zero3_gathered
from ..params import count_params, layer_params, linear_shapes
from ..phases import Ctx, Phase, Pinned, finish, merge
from ..quant import WeightBytes, weight_bytes
from ..resolve import ResolvedModel, resolve_model
from ..schemas import EstimateRequest, EstimateResult, Params
from ..states import (
    OPTIMIZERS,
    AutocastCopies,
    autocast_weight_copies,
    optimizer_code,
    optimizer_state_bytes,
    optimizer_state_split,
    optimizer_step_temp_bytes,
    precision_spec,
)
from . import knobs
from .stacks import Stack, training_stack

_NO_GATHER = GatheredSet(0, 0, 0, 0, 0)

register({
    "training.mode_full": "Training mode trains every parameter (method is a fine-tuning option)",
    "training.weights_not_trainable": "weight format {weights} is for inference and QLoRA: trained weights are kept "
    "in the {precision} convention instead",
    "training.lora": "LoRA r={rank}, alpha={alpha}: {params:,} adapter parameters in {dtype} ({why})",
    "training.lora_fp32": "peft fp32 by default, autocast_adapter_dtype=True",
    "training.lora_model_dtype": "the model dtype",
    "training.frozen_base": "Frozen base weights: {format}",
    "training.frozen_sharded": "{sharding}: frozen base weights sharded over {group} ranks; the decoder layer "
    "computing and the prefetched one are gathered in their storage format",
    "training.freeze": "Freeze tuning: layers {first}…{last} trainable, the rest frozen in 16-bit",
    "training.prefix": "Prefix tuning (PEFT PrefixEncoder without projection): {tokens} × layers × 2 × kv_dim "
    "trainable prefix key/values, base frozen in 16-bit",
    "training.precision": "Precision: {precision}",
    "training.precision_adapters": "Precision: {precision} activations, frozen base as stored",
    "training.gathered": "{sharding}: the decoder layer computing and the prefetched one are gathered in 16 bits; a "
    "layer's unsharded gradients live until its reduce-scatter",
    "training.offload": "Optimizer states, the optimizer step and the reduced gradients are offloaded to CPU RAM "
    "(ZeRO-Offload / FSDP CPU offload): the GPU keeps only the unsharded gradients of layers being reduced",
    "training.offload_params": "Parameters offloaded to CPU (ZeRO-3 offload_param / FSDP offload_params): gathered "
    "per layer on use",
    "training.optimizer": "Optimizer: {name} — {source}",
    "training.sharding": "Sharding: {sharding} over {group} data-parallel ranks",
    "training.pipeline": "Pipeline parallel (1F1B): the first stage keeps p micro-batches of its layers",
    "training.checkpointing_full": "Gradient checkpointing (per decoder layer, as HF gradient_checkpointing_enable): "
    "keeps each layer's input; one layer is recomputed at a time in backward",
    "training.checkpointing_selective": "Selective recomputation: attention scores recomputed (Korthikanti et al. "
    "2022 §5)",
    "training.grad_accum": "Gradient accumulation {steps}: gradients from earlier micro-batches stay allocated",
    "training.autocast_copies": "Autocast keeps 16-bit copies of the Linear weights (lm_head included) from forward "
    "until their backward",
    "training.autocast_copies_ckpt": "Autocast keeps 16-bit copies of the Linear weights (lm_head included) from "
    "forward until their backward; with gradient checkpointing they are dropped when forward ends and recast per "
    "recomputed layer",
    "training.tied_grads": "Tied embeddings: the embedding and lm_head gradients are summed at the end of backward "
    "(two extra vocab × hidden buffers while all gradients exist)",
})  # fmt: skip


@dataclass
class TrainPlan:
    """Who is trainable and how the model states are stored, per device."""

    trainable: int
    weights: int  # resident weights bytes (per device), the largest gathered set included
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
    resident: int = 0  # weights without the gathered units
    gathered: GatheredSet = _NO_GATHER
    paged_optimizer: int = 0  # bitsandbytes paged states in CUDA managed memory (outside the allocator)
    dequant: int = 0  # a frozen 4-bit weight dequantised to 16 bits for one matmul (QLoRA)
    bnb_upcast: bool = False  # HF QLoRA through prepare_model_for_kbit_training
    tensor_numels: list[int] = field(default_factory=list)  # trainable tensors (per-tensor optimizer rules)


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


def trainable_tensor_numels(
    a: ArchSpec, method: str, rank: int, targets: tuple[str, ...], first: int
) -> list[int]:
    """Element counts of the trainable tensors (bitsandbytes optimizers apply their rules tensor by tensor)."""
    from ..lora import layer_linears

    out: list[int] = []
    for layer, count in a.layer_groups(first if method == "freeze" else 0):
        if method in ("lora", "qlora"):
            for name, (d_in, d_out) in layer_linears(a, layer).items():
                if name in targets:
                    out += [rank * d_in, d_out * rank] * count
            continue
        mats = [d_in * d_out for d_in, d_out in linear_shapes(a, layer).values()]
        if layer.moe and a.moe:
            # transformers ≥ 5 stores routed experts as two stacked parameters per layer (MixtralExperts and
            # the like: gate_up_proj [E, 2I, h], down_proj [E, h, I]), the router as one [E, h] matrix, and a
            # shared expert as plain Linears.
            e, h = a.moe, a.hidden_size
            mats += [e.num_experts * 2 * e.expert_intermediate * h, e.num_experts * h * e.expert_intermediate]
            mats += [e.num_experts * h]
            if e.shared_intermediate:
                mats += [h * e.shared_intermediate] * 3
        rest = sum(layer_params(a, layer).values()) - sum(mats)
        # What remains are norm weights and biases: hidden-sized vectors (a few per layer).
        vectors = [a.hidden_size] * min(rest // a.hidden_size, 64) if rest > 0 else []
        out += (mats + vectors) * count
    if method == "full":
        out.append(a.vocab_size * a.hidden_size)
        if not a.tie_word_embeddings:
            out.append(a.vocab_size * a.hidden_size)
    return out


def _gathered_set(a: ArchSpec, shd: Sharding, unit_param_bytes: int, root_param_bytes: int,
                  unit_grad_bytes: int, root_grad_bytes: int, element_bytes: int) -> GatheredSet:  # fmt: skip
    if shd.stage < 3:
        return _NO_GATHER
    if shd.deepspeed:
        return zero3_gathered(unit_param_bytes, element_bytes, a.hidden_size, unit_grad_bytes)
    return fsdp_gathered(unit_param_bytes, root_param_bytes, unit_grad_bytes, root_grad_bytes, shd.group)


def frozen_base_weights(
    ctx: Ctx, a: ArchSpec, wb: WeightBytes, shd: Sharding, tp: int, pp: int, gather_halved: bool = False
) -> tuple[int, GatheredSet]:
    """(resident bytes, gathered set) of a frozen base per GPU in its storage format (LoRA/QLoRA/prefix).

    ZeRO-3 and FSDP FULL_SHARD shard frozen parameters like trainable ones (torchtune shard_model calls fully_shard
    on every layer; FSDP1 flattens each wrapped unit; ZeRO-3 partitions at zero.Init); QLoRA under FSDP/ZeRO-3 packs
    the 4-bit weights in a 16-bit ``bnb_4bit_quant_storage`` so they shard as stored.
    """
    local = weights_per_gpu(wb.total, tp, pp)
    if shd.stage < 3:
        return local, _NO_GATHER
    largest, all_layers = largest_layer_share(a)
    unit = -(-wb.layers * largest // max(all_layers, 1)) // tp
    root = 0 if ctx.req.fsdp_shard_embeddings else (wb.embedding + wb.lm_head) // tp
    if ctx.req.fsdp_shard_embeddings:
        unit = max(unit, wb.embedding // tp, wb.lm_head // tp)
    if gather_halved:
        # fp32 storage computed in 16 bits: FSDP MixedPrecision(param_dtype=bf16) all-gathers a 16-bit copy of
        # the shard (torch/distributed/fsdp/_flat_param.py _use_low_precision_shard); DeepSpeed bf16 casts.
        unit, root = unit // 2, root // 2
    ctx.note("training.frozen_sharded", sharding=shd.label, group=shd.group)
    return shard(local, True, shd.group), _gathered_set(a, shd, unit, root, 0, 0, 2)


def unit_gradient_bytes(a: ArchSpec, trainable: int, method: str, grad_bytes: int, tp: int) -> int:
    """Unsharded gradients of one decoder layer (the unit reduced at a time), for trainable parameters."""
    largest, all_layers = largest_layer_share(a)
    if method == "full":
        return grad_bytes * largest // tp
    # Adapters and freeze-tuned layers: their share of one layer.
    return -(-grad_bytes * trainable * largest // max(all_layers, 1))


def _lora_adapters(
    ctx: Ctx, a: ArchSpec, method: str, stack: Stack
) -> tuple[int, frozenset[str], tuple[str, ...]]:
    req = ctx.req
    try:
        plan = lora_plan(a, req.lora_rank, req.lora_targets)
    except LoraTargetError as exc:
        raise EstimateError(str(exc), "lora_targets") from None
    ctx.assumptions.extend(plan.notes)
    fp32 = stack.adapter_bytes == 4
    ctx.note("training.lora", rank=req.lora_rank, alpha=req.lora_alpha, params=plan.trainable,
             dtype="fp32" if fp32 else "16-bit", why=msg("training.lora_fp32" if fp32 else "training.lora_model_dtype"))  # fmt: skip
    return plan.trainable, plan.canonical, plan.targets


def train_plan(ctx: Ctx, a: ArchSpec, method: str, data_parallel: int) -> TrainPlan:
    req = ctx.req
    pc = count_params(a)
    shd = sharding(req.zero, req.fsdp, data_parallel)
    sharded = shd.stage > 0
    stack = training_stack(ctx, method, shd.stage == 3)
    prec = precision_spec(stack.precision, sharded)
    opt = OPTIMIZERS[req.optimizer]
    tp_pp = req.tp * req.pp
    lora_targets: frozenset[str] = frozenset()
    target_names: tuple[str, ...] = ()
    grad_from = 0
    gathered = _NO_GATHER
    base_trainable = method in ("full", "freeze")
    dequant = 0
    lora_input_copy = True
    lora_saved_bytes = 4

    if method == "full":
        trainable = pc.total
        weights = weights_per_gpu(prec.weight_bytes * pc.total, req.tp, req.pp)
        if shd.stage == 3:
            weights = shard(weights, True, shd.group)
        label = f"full: all {pc.total:,} parameters trainable"
    elif method in ("lora", "qlora"):
        trainable, lora_targets, target_names = _lora_adapters(ctx, a, method, stack)
        if method == "qlora":
            fmt = stack.qlora_format
        elif stack.precision == "fp32" or req.weights == "fp32":
            # weights=fp32 with 16-bit precision: a base loaded in fp32 and computed in 16 bits (PEFT's SFT example
            # loads fp32 unless quantised: examples/sft/utils.py create_and_prepare_model)
            fmt = "fp32"
        else:
            fmt = "fp16" if stack.precision in ("fp16", "amp-fp16") else "bf16"
        wb = weight_bytes(a, pc.components, fmt)
        ctx.note("training.frozen_base", format=wb.note)
        adapter_bytes = stack.adapter_bytes
        halved = fmt == "fp32" and stack.precision != "fp32"
        weights, gathered = frozen_base_weights(ctx, a, wb, shd, req.tp, req.pp, halved)
        if stack.bnb_upcast:
            weights += knobs.kbit_upcast_extra_bytes(pc.components) // tp_pp
        if method == "qlora":
            dequant = knobs.largest_dequantised_weight(a, req.tp)
        weights += shard(trainable * adapter_bytes, shd.stage == 3, shd.group)
        act_bytes = 2 if stack.precision != "fp32" else 4
        autocast = stack.precision.startswith("amp-")
        # peft's Linear casts its input to the adapter dtype (lora/layer.py Linear.forward → _cast_input_dtype, a
        # no-op when the dtypes match); under autocast lora_A's matmul recasts that copy to 16 bits and saves the
        # 16-bit one. bitsandbytes' Linear4bit skips the cast under autocast (lora/bnb.py: requires_conversion =
        # not torch.is_autocast_enabled()).
        lora_input_copy = adapter_bytes != act_bytes and not (method == "qlora" and autocast)
        lora_saved_bytes = act_bytes if autocast else adapter_bytes
        prec = prec.__class__(**{**prec.__dict__, "weight_bytes": adapter_bytes, "grad_bytes": adapter_bytes,
                                  "state_bytes": 4 if adapter_bytes == 4 else prec.state_bytes,
                                  "autocast": False, "resid_bytes": 4 if stack.bnb_upcast else act_bytes,
                                  "act_bytes": act_bytes, "master_bytes": 0})  # fmt: skip
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
            gathered = _gathered_set(a, shd, 2 * largest // req.tp, 0, 0, 0, 2)
        label = f"freeze: last {n} layers trainable"
        ctx.note("training.freeze", first=grad_from, last=a.num_layers - 1)
    elif method == "prefix":
        trainable = req.prefix_tokens * a.num_layers * 2 * a.kv_dim
        wb = weight_bytes(a, pc.components, "bf16")
        weights, gathered = frozen_base_weights(ctx, a, wb, shd, req.tp, req.pp)
        weights += shard(trainable * 4, shd.stage == 3, shd.group)
        label = f"prefix tuning: {req.prefix_tokens} virtual tokens"
        ctx.note("training.prefix", tokens=req.prefix_tokens)
        prec = prec.__class__(**{**prec.__dict__, "weight_bytes": 4, "grad_bytes": 4, "state_bytes": 4,
                                  "autocast": False, "resid_bytes": 2, "act_bytes": 2, "master_bytes": 0})  # fmt: skip
    else:  # pragma: no cover - schema restricts values
        raise EstimateError(f"unknown method {method}", "method")

    if method in ("full", "freeze"):
        ctx.note("training.precision", precision=prec.note)
    else:
        ctx.note("training.precision_adapters", precision=stack.precision)
    trainable_local = -(-trainable // tp_pp) if method == "full" else trainable
    gradients = shard(trainable_local * prec.grad_bytes, shd.stage >= 2, shd.group)
    factored = factored_elements(a) if req.optimizer == "adafactor" else 0
    numels: list[int] = []
    paged = 0
    if opt.fixed_bytes is not None or opt.paged:
        numels = trainable_tensor_numels(a, method, req.lora_rank, target_names, grad_from)
        states, paged = optimizer_state_split(req.optimizer, numels, prec.state_bytes)
        states, paged = -(-states // tp_pp) if method == "full" else states, paged // tp_pp
    else:
        states = optimizer_state_bytes(req.optimizer, trainable_local, prec.state_bytes, factored)
    master = trainable_local * prec.master_bytes
    optimizer = shard(states + master, shd.stage >= 1, shd.group)
    paged = shard(paged, shd.stage >= 1, shd.group)
    step_temp = shard(
        optimizer_step_temp_bytes(req.optimizer, trainable_local, prec.state_bytes), shd.stage >= 1, shd.group
    )
    if opt.per_tensor_temp_bytes and numels:
        step_temp = shard(opt.per_tensor_temp_bytes * max(numels) // (tp_pp if method == "full" else 1),
                          shd.stage >= 1, shd.group)  # fmt: skip
    unit_grads = unit_gradient_bytes(a, trainable, method, prec.grad_bytes, req.tp)
    if shd.stage == 3 and method in ("full", "freeze"):
        largest = max(sum(layer_params(a, layer).values()) for layer, _ in a.layer_groups())
        unit = 2 * largest // req.tp
        root_params = root_grads = 0
        if not req.fsdp_shard_embeddings:
            head = a.vocab_size * a.hidden_size * (1 if a.tie_word_embeddings else 2)
            root_params = 2 * head // req.tp
            if method == "full":
                root_grads = prec.grad_bytes * a.vocab_size * a.hidden_size // req.tp
        else:
            unit = max(unit, 2 * a.vocab_size * a.hidden_size // req.tp)
        gathered = _gathered_set(a, shd, unit, root_params, unit_grads, root_grads, 2)
        ctx.note("training.gathered", sharding=shd.label)
    if req.offload != "none":
        optimizer = 0
        step_temp = 0
        paged = 0
        # ZeRO-Offload copies each reduced gradient partition to pinned CPU memory for the CPU optimizer step
        # (deepspeed/runtime/zero/stage_1_and_2.py async_accumulate_grad_in_cpu_via_gpu; stage3.py
        # partition_grads with offload_optimizer); FSDP CPUOffload(offload_params=True) / FSDP2 CPUOffloadPolicy
        # move sharded gradients to the CPU after the reduce-scatter (torch/distributed/fsdp/_fully_shard/
        # _fsdp_collectives.py foreach_reduce: new_sharded_grad.to("cpu")). What stays on the GPU is the
        # unsharded gradient of the unit being reduced.
        gradients = 0 if gathered.unit_grads else unit_grads
        ctx.note("training.offload")
        if req.offload == "optimizer+params" and shd.stage == 3:
            weights = 0
            ctx.note("training.offload_params")
    ctx.note("training.optimizer", name=opt.name, source=msg(optimizer_code(req.optimizer)))
    if sharded:
        ctx.note("training.sharding", sharding=shd.label, group=shd.group)
    amp = AutocastCopies(0, 0, 0)
    if prec.autocast and base_trainable:
        amp = autocast_weight_copies(a, pc.components, method, trainable, req.tp, req.pp)
    elif stack.bnb_upcast:
        amp = knobs.kbit_lm_head_copy(a, req.tp)
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
        lora_bytes=lora_saved_bytes if method in ("lora", "qlora") else 4,
        attention=effective_attention(req.attention, a, prec.act_bytes, req.platform),
        autocast=prec.autocast,
        lora_input_copy=lora_input_copy,
        compiled=req.compile,
        expand_kv=req.framework == "torchtune",
    )
    resident = weights
    weights += max(gathered.forward, gathered.backward) + gathered.root_params
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
        resident=resident,
        gathered=gathered,
        paged_optimizer=paged,
        dequant=dequant,
        bnb_upcast=stack.bnb_upcast,
        tensor_numels=numels,
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
    checkpoint = act.checkpoint_bytes_per_token(a, setup) * tokens
    layers = 0
    for layer, count in a.layer_groups(plan.grad_from_layer):
        if plan.bnb_upcast:
            parts = act.bnb_qlora_layer_saved_bytes_per_token(a, layer, setup)
        else:
            parts = act.layer_saved_bytes_per_token(a, layer, setup)
        norms = parts.pop("norms")
        per_token = sum(parts.values()) // tp + (norms // tp if req.sequence_parallel else norms)
        layer_bytes = per_token * tokens
        if setup.attention == "eager" and req.grad_checkpointing != "selective":
            layer_bytes += act.eager_scores_saved_bytes(a, seq, setup) * tokens // tp
        # A recomputed layer's backward also holds its MLP gradients at the SiLU·up product.
        working = act.mlp_backward_bytes_per_token(a, layer, setup.act_bytes) * tokens // tp
        largest_layer = max(largest_layer, layer_bytes + working)
        layers += count
        if req.grad_checkpointing == "full":
            total += checkpoint * count
        else:
            total += layer_bytes * count
    if req.activation_offloading:
        total = knobs.offloaded_saved_bytes(ctx, total, layers, req.grad_checkpointing == "full")
        # the final norm's saved input is offloaded too; the output projection runs outside the offloading
        # context (torchtune get_act_offloading_ctx_manager wraps it in NoOpManager), so lm_head keeps its input
        total += setup.resid_bytes * a.hidden_size * tokens if setup.base_trainable else 0
    else:
        # Embedding output and final norm (saved by lm_head if trainable).
        total += setup.resid_bytes * a.hidden_size * tokens * 2
    if req.pp > 1:
        # 1F1B: the first stage holds activations of its L/p layers for p micro-batches in flight.
        total = total // req.pp * req.pp
        ctx.note("training.pipeline")
    return total, largest_layer


def ce_bytes(ctx: Ctx, a: ArchSpec, tokens: int, act_bytes: int) -> tuple[int, int]:
    return knobs.loss_bytes(ctx, a, tokens, act_bytes)


def loss_pinned(base_trainable: bool, full_ckpt: bool, unit: int) -> Pinned | None:
    """Whether the fp32 loss buffer's segment stays pinned at the next loss (device.CachingAllocator).

    Full training creates parameter-sized gradients and optimizer states after the first loss, which best fit
    places in the cached loss segments (validation/ALLOCATOR.md §4: 0.28–1.74 buffers over five replays).
    Adapter training creates almost nothing long-lived: with full checkpointing the reserve is the scattered
    share (the LoRA-8B replay: 0.11 buffers, 1.5 % of the peak; Unsloth's HF QLoRA context limits agree), without
    it step-2 activations displaced into loss segments pin about two thirds of one (0.64–0.75).
    """
    if base_trainable:
        return Pinned("loss", unit)
    if full_ckpt:
        return Pinned(
            "loss_scattered", unit
        )  # reserve: the scattered share; the buffer is still cached after
    return Pinned("loss_adapters", unit)


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
        ctx.note("training.mode_full")
    if method in ("full", "freeze") and req.weights not in ("bf16", "fp16", "fp32"):
        ctx.warn("training.weights_not_trainable", weights=req.weights, precision=req.precision)
    data_parallel = req.gpus // (req.tp * req.pp)
    plan = train_plan(ctx, a, method, data_parallel)
    pc = count_params(a)
    batch, seq = req.batch_size, req.seq_len + (extra.get("tokens", 0) if extra else 0)
    tokens = batch * seq
    setup = plan.setup
    saved, largest_layer = saved_activations(ctx, a, plan, batch, seq)
    ce_fwd, ce_bwd = ce_bytes(ctx, a, tokens, setup.act_bytes)
    if req.grad_checkpointing == "full":
        ctx.note("training.checkpointing_full")
    elif req.grad_checkpointing == "selective":
        ctx.note("training.checkpointing_selective")
    extra_w = extra.get("weights", 0) if extra else 0
    extra_act = extra.get("encoder_activations", 0) if extra else 0
    tower_trainable = extra.get("tower_trainable", 0) if extra else 0
    if tower_trainable:
        # An unfrozen vision/audio tower gets gradients and optimizer states like the decoder's trainable part.
        plan.trainable += tower_trainable
        plan.gradients += tower_trainable * plan.grad_bytes
        plan.optimizer += tower_trainable * plan.state_bytes_per_param
    g = plan.gathered
    resident = {"weights": plan.resident + extra_w, "optimizer": plan.optimizer}
    at_loss_w = {"weights": g.forward + g.root_params}
    bwd_w = {"weights": g.backward + g.root_params}
    grads = knobs.gradient_timeline(ctx, a, plan, method)
    grads_prev = plan.gradients if req.grad_accum > 1 else 0
    if req.grad_accum > 1:
        ctx.note("training.grad_accum", steps=req.grad_accum)
    full_ckpt = req.grad_checkpointing == "full"
    # Autocast's weight cache holds every copy until forward's autocast exits; with full checkpointing the
    # copies are then referenced only by the lm_head's saved tensors and, in backward, the recomputed layer's.
    amp_fwd = {"weights": plan.amp.all} if plan.amp.all else {}
    amp_bwd = {"weights": plan.amp.lm_head if full_ckpt else plan.amp.all} if plan.amp.all else {}
    amp_recompute = {"weights": plan.amp.layer} if plan.amp.all else {}
    root_g = {"gradients": g.root_grads}
    # At the loss the caching allocator loses one fp32 [tokens, vocab] segment (device.CachingAllocator); a chunked
    # loss has no such buffer.
    loss_pin = (
        None
        if req.chunked_ce
        else loss_pinned(plan.setup.base_trainable, full_ckpt, tokens * a.vocab_size * 4 // req.tp)
    )
    phases = [
        Phase(
            "forward",
            merge(
                resident,
                at_loss_w,
                amp_fwd,
                {"gradients": grads_prev, "activations": saved + extra_act, "logits": ce_fwd},
            ),
            loss_pin,
        ),
        Phase(
            "backward_start",
            merge(
                resident,
                at_loss_w,
                amp_bwd,
                root_g,
                {"gradients": grads_prev + grads.held, "activations": saved + extra_act, "logits": ce_bwd},
            ),
            loss_pin,
        ),
    ]
    layer_step = {"gradients": grads.during_layers + g.unit_grads, "weights": plan.dequant}
    if full_ckpt:
        # Recompute of one layer: its saved activations are rebuilt while most gradients exist (measured peak
        # inside a recomputed layer's backward ≈ checkpoints + one layer's saved set).
        phases.append(Phase("backward_recompute", merge(resident, bwd_w, amp_recompute, root_g, layer_step,
                                                        {"activations": saved + largest_layer})))  # fmt: skip
    elif g.unit_grads or plan.dequant:
        phases.append(
            Phase("backward_layer", merge(resident, bwd_w, root_g, layer_step, {"activations": saved}))
        )
    phases.append(Phase("backward_end", merge(resident, at_loss_w, root_g, {"gradients": grads.at_end})))
    if grads.step_phase:
        phases.append(
            Phase(
                "optimizer_step", merge(resident, {"gradients": plan.gradients, "optimizer": plan.step_temp})
            )
        )
    if plan.amp.all and not plan.bnb_upcast:
        ctx.note("training.autocast_copies_ckpt" if full_ckpt else "training.autocast_copies")
    if plan.tied_grad_extra:
        ctx.note("training.tied_grads")
    knobs.report_paged(ctx, plan.paged_optimizer)
    ctx.details["tokens_per_step"] = tokens * data_parallel
    ctx.details["trainable_label"] = plan.label
    overhead = runtime_overhead(ctx)
    params = Params(total=pc.total + (extra.get("params", 0) if extra else 0), active=pc.active,
                    trainable=plan.trainable, breakdown=pc.components)  # fmt: skip
    return finish(ctx, model, phases, overhead, params, req.gpus)
