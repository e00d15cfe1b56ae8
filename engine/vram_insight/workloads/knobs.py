"""Training memory knobs and the framework pieces they act on (issues 10–11).

* paged bitsandbytes optimizers: states of large tensors in CUDA managed memory, outside PyTorch's allocator;
* optimizer in backward (torchtune ``optimizer_in_bwd``): each parameter steps and drops its gradient as soon as
  the gradient is accumulated;
* activation offloading (torchtune ``enable_activation_offloading``, TRL ``activation_offloading``);
* torch.compile: fused element-wise chains (RMSNorm, SwiGLU, the loss) keep fewer tensors for backward;
* the loss as each stack computes it, and HF QLoRA's ``prepare_model_for_kbit_training`` upcasts.

Where compile does **not** change memory: weights, gradients and optimizer states; the attention kernel's saved
q/k/v/output (SDPA/flash are single ops); matmul inputs saved for weight gradients; gradient-checkpoint inputs;
the KV cache and inference. The engine applies it to the saved activations of each layer and to the loss only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import activations as act
from ..arch import ArchSpec
from ..messages import register
from ..params import linear_shapes
from ..phases import Ctx
from ..states import OPTIMIZERS, AutocastCopies

if TYPE_CHECKING:
    from .training import TrainPlan

GiB = 1 << 30

# torchtune training/_activation_offloading.py OffloadActivations: the forward stash keeps the 5 most recently saved
# tensors (max_fwd_stash_size) on the GPU while their copies to the host are in flight — with checkpointing those
# are the last layer's saved inputs (hidden state, mask, positions), i.e. one layer's checkpoint; without, a layer
# saves more than 5 tensors, and in backward the next layer's tensors are brought back ahead of use: two layers.
OFFLOAD_CHECKPOINTS_KEPT = 1
OFFLOAD_LAYERS_IN_FLIGHT = 2

register({
    "knobs.paged": "Paged optimizer: {paged_gib:.2f} GiB of states in CUDA managed memory, outside PyTorch's "
    "allocator (not in the peak); they occupy free GPU memory and are evicted to host RAM under pressure",
    "knobs.opt_in_bwd": "Optimizer in backward: each parameter steps as its gradient is accumulated and the "
    "gradient is freed, so at most the largest gradient ({largest_gib:.2f} GiB) is alive",
    "knobs.offload": "Activation offloading: saved activations go to pinned CPU memory; the GPU keeps {kept} of "
    "{layers} layers' saved tensors (forward stash and the backward prefetch)",
    "knobs.compile": "torch.compile: fused norms, SwiGLU and loss keep their inputs instead of intermediates "
    "(AOTAutograd min-cut recomputation); weights, states, attention saves and checkpoints are unchanged",
    "knobs.loss_hf": "Loss: transformers upcasts logits to fp32 inside the loss; backward starts with three fp32 "
    "[tokens × vocab] tensors (log-softmax, its gradient input and output)",
    "knobs.loss_shift": "transformers {version}: the loss shifts the fp32 logits with .contiguous() (one more fp32 "
    "[tokens × vocab] copy at the log-softmax; 4.50 pads the labels instead)",
    "knobs.loss_liger": "Chunked/fused linear cross-entropy (Liger): no [tokens, vocab] logits tensor",
    "knobs.loss_tt_chunked": "Loss: torchtune CEWithChunkedOutputLoss — {chunks} 16-bit logit chunks, upcast one at "
    "a time; every chunk's fp32 log-softmax stays saved for backward",
    "knobs.loss_tt_chunked_compiled": "Loss: torchtune CEWithChunkedOutputLoss compiled per chunk — {chunks} 16-bit logit "
    "chunks saved for backward, no fp32 copies",
    "knobs.loss_compiled": "Loss compiled: upcast, log-softmax and NLL fused (saves its input and a log-sum-exp)",
})  # fmt: skip


def kbit_upcast_extra_bytes(components: dict[str, int]) -> int:
    """peft prepare_model_for_kbit_training: every non-4-bit fp16/bf16 parameter (embeddings, lm_head, norms,
    biases) becomes fp32 — 2 more bytes per parameter than the 16-bit storage counted in the weight format."""
    linear = sum(components.get(k, 0) for k in ("attention", "mlp", "experts", "shared_experts"))
    return 2 * (sum(components.values()) - linear)


def kbit_lm_head_copy(a: ArchSpec, tp: int) -> AutocastCopies:
    """The fp32 lm_head under autocast: a cached 16-bit copy of its weight, saved by the logits matmul until its
    backward (aten autocast cached_cast for leaf tensors)."""
    copy = 2 * a.vocab_size * a.hidden_size // tp
    return AutocastCopies(copy, copy, 0)


def largest_dequantised_weight(a: ArchSpec, tp: int) -> int:
    """A 4-bit weight dequantised to 16 bits for one matmul: bitsandbytes MatMul4Bit backward
    (``F.dequantize_4bit(B).to(dtype)``) and its forward for more than 1536 rows (backends/cuda/ops.py
    _dequant_linear_fallback); torchao ``linear_nf4`` (``weight.to(input.dtype)``) — the largest Linear's."""
    largest = max(
        d_in * d_out for layer, _ in a.layer_groups() for d_in, d_out in linear_shapes(a, layer).values()
    )
    return 2 * largest // tp


def offloaded_saved_bytes(ctx: Ctx, total: int, layers: int, checkpointed: bool) -> int:
    """Saved activations left on the GPU with activation offloading (see OFFLOAD_CHECKPOINTS_KEPT)."""
    if layers == 0:
        return total
    kept = min(layers, OFFLOAD_CHECKPOINTS_KEPT if checkpointed else OFFLOAD_LAYERS_IN_FLIGHT)
    ctx.note("knobs.offload", kept=kept, layers=layers)
    return total * kept // layers


def loss_bytes(ctx: Ctx, a: ArchSpec, tokens: int, act_bytes: int) -> tuple[int, int]:
    """(forward peak, backward-start peak) of the logits and loss, per framework, chunking and compile."""
    req = ctx.req
    if req.chunked_ce and req.framework == "torchtune":
        fwd, bwd = act.torchtune_chunked_ce_bytes(tokens, a.vocab_size, act_bytes, req.compile)
        ctx.note("knobs.loss_tt_chunked_compiled" if req.compile else "knobs.loss_tt_chunked", chunks=8)
    elif req.chunked_ce:
        fwd = bwd = act.chunked_ce_bytes(tokens, a.vocab_size, a.hidden_size, act_bytes)
        ctx.note("knobs.loss_liger")
    elif req.compile:
        fwd, bwd = act.compiled_ce_peak_bytes(tokens, a.vocab_size, act_bytes, req.framework == "torchtune")
        ctx.note("knobs.loss_compiled")
    else:
        version = hf_version(req.transformers_version)
        shift = req.framework == "hf" and version < (4, 50)
        # before 4.45 the model itself did ``logits = logits.float()``, dropping the 16-bit logits
        in_model = req.framework == "hf" and version < (4, 45)
        fwd, bwd = act.training_ce_peak_bytes(tokens, a.vocab_size, act_bytes, shift, in_model)
        ctx.note("knobs.loss_hf")
        if shift:
            ctx.note("knobs.loss_shift", version=req.transformers_version)
    if req.compile:
        ctx.note("knobs.compile")
    return fwd // req.tp, bwd // req.tp


def hf_version(text: str) -> tuple[int, int]:
    """``"4.46"`` → (4, 46) (the schema checks the form)."""
    major, minor = text.split(".")
    return int(major), int(minor)


@dataclass(frozen=True)
class GradientTimeline:
    """Gradient bytes alive at each moment of backward."""

    held: int  # from backward start (tied weight's first gradient under optimizer-in-backward)
    during_layers: int  # while the decoder layers run backward
    at_end: int  # when backward ends
    step_phase: bool  # whether a separate optimizer step (all gradients alive) follows


def gradient_timeline(ctx: Ctx, a: ArchSpec, plan: TrainPlan, method: str) -> GradientTimeline:
    """Without optimizer-in-backward every gradient exists at the end of backward and through the step. With it
    (torchtune training/memory.py register_optim_in_bwd_hooks: ``p.register_post_accumulate_grad_hook`` runs the
    parameter's optimizer step then ``zero_grad``), only gradients not yet accumulated exist: the one being
    produced, plus a tied embedding's first gradient held in autograd's input buffer until its second use."""
    req = ctx.req
    # A chunked loss (torchtune chunked_output, Liger) uses the output weight once per chunk: its gradient
    # accumulates while the chunks' logits still exist.
    head_grad = (
        plan.grad_bytes * a.vocab_size * a.hidden_size // req.tp if method == "full" and req.chunked_ce else 0
    )
    if not req.optimizer_in_bwd:
        return GradientTimeline(head_grad, plan.gradients, plan.gradients + plan.tied_grad_extra, True)
    numels = plan.tensor_numels or [0]
    largest = max(numels) if method != "full" else max(max(numels), a.vocab_size * a.hidden_size)
    largest_grad = plan.grad_bytes * largest // (req.tp * req.pp if method == "full" else 1)
    # each parameter steps alone: foreach AdamW's temporary is one state of that parameter; per-tensor
    # temporaries (torchao) are already sized for the largest tensor
    spec = OPTIMIZERS[req.optimizer]
    step_temp = (
        plan.step_temp if spec.per_tensor_temp_bytes else plan.step_temp * largest // max(plan.trainable, 1)
    )
    held = max(plan.tied_grad_extra // 2, head_grad)
    ctx.note("knobs.opt_in_bwd", largest_gib=largest_grad / GiB)
    at_end = held + max(plan.tied_grad_extra, largest_grad) + step_temp
    return GradientTimeline(held, held + largest_grad + step_temp, at_end, False)


def report_paged(ctx: Ctx, paged: int) -> None:
    """Paged states are not in the allocator peak: reported apart (details.paged_optimizer_bytes)."""
    if paged:
        ctx.details["paged_optimizer_bytes"] = paged
        ctx.note("knobs.paged", paged_gib=paged / GiB)
