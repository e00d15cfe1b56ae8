"""TRL's preference and RL trainers: GRPO (rollout, reference pass, policy loss over completions) and DPO
(chosen + rejected sequences, optional reference model).

Mirrors ``trl/trainer/grpo_trainer.py`` (``_generate_and_score_completions``, ``_get_per_token_logps`` with
``logits_to_keep``, ``selective_log_softmax``) and ``trl/trainer/dpo_trainer.py`` (``concatenated_forward``).
"""

from __future__ import annotations

from .. import activations as act
from ..device import gpu_capacity, runtime_overhead
from ..errors import EstimateError
from ..kv import kv_cache_bytes
from ..messages import msg, register
from ..parallel import kv_per_gpu
from ..params import count_params
from ..phases import Ctx, Phase, finish, merge
from ..quant import weight_bytes
from ..resolve import ResolvedModel, resolve_model
from ..runtimes.transformers import inference_forward_bytes
from ..schemas import EstimateRequest, EstimateResult, Params
from .training import ce_bytes, loss_pinned, saved_activations, train_plan

register({
    "rl.bf16_policy": "TRL loads the policy in its config dtype (bf16); with bf16=True autocast is then a no-op, so "
    "weights, gradients and AdamW states are bf16",
    "rl.reference_model": "beta = {beta} ≠ 0: a frozen bf16 reference model is loaded",
    "rl.reference_adapters": "LoRA policy: the reference log-probs come from the base model with adapters disabled",
    "rl.no_reference": "beta = 0 (TRL default since v0.19): no reference model is loaded",
    "rl.dpo": "DPO: {pairs} pair(s) of chosen + rejected sequences of {seq} tokens (prompt + completion), "
    "concatenated → 2 × batch sequences per forward",
    "rl.generation_batch": "TRL rejects this: generation_batch_size = per_device_train_batch_size × processes × "
    "steps_per_generation = {seqs} × {processes} × {accum} must be divisible by num_generations = {k}",
    "rl.grpo": "GRPO: per_device_train_batch_size = {seqs} completions per micro-step (k = {k} per prompt); one "
    "rollout generates {rollout} completions per device (steps_per_generation = gradient_accumulation_steps = "
    "{accum}); prompt {prompt} + completion {completion} tokens",
    "rl.vllm_colocate": "vLLM colocate (TRL vllm_mode='colocate'): the engine holds vllm_gpu_memory_utilization = "
    "{util} × {capacity_gb:.0f} GB (its own weight copy + KV pool) for the whole run (sleep mode off)",
    "rl.rollout_transformers": "Rollout with transformers generate() on the policy (KV cache for every completion)",
    "rl.completion_logprobs": "Policy log-probs over completion tokens only (logits_to_keep), selective_log_softmax",
})  # fmt: skip


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
        ctx.note("rl.bf16_policy")
    sub = Ctx(rl_req, ctx.assumptions, ctx.warnings, ctx.details)
    data_parallel = req.gpus // (req.tp * req.pp)
    plan = train_plan(sub, a, method, data_parallel)
    act_bytes = plan.setup.act_bytes
    phases: list[Phase] = []
    base = {"weights": plan.weights + (extra.get("weights", 0) if extra else 0), "optimizer": plan.optimizer}
    ref_weights = 0
    if req.beta > 0 and method == "full":
        ref_weights = weight_bytes(a, pc.components, "bf16").total // (req.tp * req.pp)
        ctx.note("rl.reference_model", beta=req.beta)
    elif req.beta > 0:
        ctx.note("rl.reference_adapters")
    else:
        ctx.note("rl.no_reference")
    base["weights"] += ref_weights

    if req.rl_algorithm == "dpo":
        seqs, seq = 2 * req.batch_size, req.prompt_len + req.completion_len
        ctx.note("rl.dpo", pairs=req.batch_size, seq=seq)
        saved, _ = saved_activations(sub, a, plan, seqs, seq)
        ce_fwd, ce_bwd = ce_bytes(sub, a, seqs * seq, act_bytes)
        if ref_weights:
            ref_act = (
                inference_forward_bytes(a, seqs, seq, seq, act_bytes, plan.setup.attention)
                + seqs * seq * a.vocab_size * 6
            )
            phases.append(Phase("reference_forward", merge(base, {"activations": ref_act})))
        dpo_pin = (
            None
            if req.chunked_ce
            else loss_pinned(
                method == "full", req.grad_checkpointing == "full", seqs * seq * a.vocab_size * 4 // req.tp
            )
        )
        phases.append(Phase("backward_start", merge(base, {"activations": saved, "logits": ce_bwd}), dpo_pin))
        phases.append(Phase("forward", merge(base, {"activations": saved, "logits": ce_fwd}), dpo_pin))
    else:
        k, prompt, comp = req.num_generations, req.prompt_len, req.completion_len
        # TRL's meaning (trl/trainer/grpo_config.py): per_device_train_batch_size counts completions per device
        # per micro-step; one generation round makes generation_batch_size = per_device_train_batch_size ×
        # num_processes × steps_per_generation completions (steps_per_generation defaults to
        # gradient_accumulation_steps), each process generating its share in one generate() call.
        seqs = req.batch_size
        rollout_seqs = seqs * req.grad_accum
        processes = req.gpus // (req.tp * req.pp)
        if (seqs * processes * req.grad_accum) % k:
            ctx.warn("rl.generation_batch", seqs=seqs, processes=processes, accum=req.grad_accum, k=k)
        seq = prompt + comp
        ctx.note("rl.grpo", seqs=seqs, k=k, rollout=rollout_seqs, accum=req.grad_accum, prompt=prompt,
                 completion=comp)  # fmt: skip
        # Rollout.
        if req.generation_backend == "vllm":
            capacity = gpu_capacity(req)
            if capacity is None:
                raise EstimateError(msg("error.gpu.required_for_colocated_vllm"), "gpu")
            vllm = int(req.vllm_gpu_memory_utilization * capacity)
            base["kv_cache"] = vllm
            ctx.note("rl.vllm_colocate", util=req.vllm_gpu_memory_utilization, capacity_gb=capacity / 1e9)
        else:
            kv = kv_per_gpu(a, kv_cache_bytes(a, rollout_seqs, seq, "bf16"), req.tp, req.pp)
            rollout = inference_forward_bytes(
                a, rollout_seqs, prompt, prompt, act_bytes, plan.setup.attention
            )
            phases.append(Phase("rollout", merge(base, {"kv_cache": kv, "activations": rollout,
                                                         "logits": rollout_seqs * a.vocab_size * 6})))  # fmt: skip
            ctx.note("rl.rollout_transformers")
        if req.beta > 0:
            # Under no_grad the layer transients are gone before the logits exist; the completion logits and
            # their temperature-scaled copy then coexist while rows are log-softmaxed one at a time.
            ref_act = inference_forward_bytes(a, seqs, seq, seq, act_bytes, plan.setup.attention)
            ref_logits = act.grpo_reference_logits_bytes(seqs, comp, a.vocab_size, act_bytes)
            final_hidden = act_bytes * seqs * seq * a.hidden_size
            phases.append(Phase("reference_forward", merge(base, {"activations": ref_act})))
            phases.append(
                Phase("reference_logprobs", merge(base, {"activations": final_hidden, "logits": ref_logits}))
            )
        saved, largest = saved_activations(sub, a, plan, seqs, seq)
        logits = act.grpo_logits_bytes(seqs, comp, a.vocab_size, act_bytes) // req.tp
        ctx.note("rl.completion_logprobs")
        # Gradients of earlier micro-steps stay allocated while the next one runs forward and backward.
        grads_prev = plan.gradients if req.grad_accum > 1 else 0
        phases.append(
            Phase(
                "policy_backward_start",
                merge(base, {"gradients": grads_prev, "activations": saved, "logits": logits}),
                # the [B, C + 1, V] logits gradient is the loss-sized segment the allocator loses here
                loss_pinned(
                    method == "full",
                    req.grad_checkpointing == "full",
                    act_bytes * seqs * (comp + 1) * a.vocab_size // req.tp,
                ),
            )
        )
        if req.grad_checkpointing == "full":
            phases.append(Phase("backward_recompute", merge(base, {"gradients": plan.gradients,
                                                                     "activations": saved + largest})))  # fmt: skip
    phases.append(Phase("backward_end", merge(base, {"gradients": plan.gradients + plan.tied_grad_extra})))
    phases.append(
        Phase("optimizer_step", merge(base, {"gradients": plan.gradients, "optimizer": plan.step_temp}))
    )
    overhead = runtime_overhead(ctx)
    params = Params(
        total=pc.total + (extra.get("params", 0) if extra else 0),
        active=pc.active,
        trainable=plan.trainable,
        breakdown=pc.components,
    )
    return finish(ctx, model, phases, overhead, params, req.gpus)
