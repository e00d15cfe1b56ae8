"""Model-state memory in training: bytes per parameter of weights, gradients and optimizer states.

How ZeRO/FSDP and tensor/pipeline parallelism divide them is in :mod:`vram_insight.parallel`.

Conventions (say which one applies — they differ by 2 B/param):
* torch autocast AMP (HF Trainer ``bf16=True`` without DeepSpeed): fp32 weights 4 + fp32 grads 4 + AdamW 8, plus
  the 16-bit weight copies autocast makes for the forward and keeps for backward (HF "Model training anatomy":
  6 B/param weights, 4 B grads, 8 B AdamW → 18 B/param).
* DeepSpeed/FSDP mixed precision (ZeRO paper, arXiv:1910.02054 §3): 16-bit weights 2 + 16-bit grads 2 + K=12
  (fp32 master 4 + momentum 4 + variance 4) → 16 B/param, partitioned by stage (paper Fig. 1).
* pure fp32: 4 + 4 + 8; pure bf16 (no master copy): 2 + 2 + states in bf16 (torch.optim keeps states in the
  parameter dtype: ``torch.zeros_like(p)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .arch import ArchSpec, LayerSpec
from .params import layer_params


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    states: int  # full-size state tensors per parameter (in the state dtype)
    fixed_bytes: float | None  # bytes/param independent of dtype (8-bit optimizers), else None
    step_temp_states: float  # full-size temporaries during step() (torch foreach AdamW: sqrt(v) list)
    source: str


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "adamw": OptimizerSpec(
        "AdamW", 2, None, 1.0,
        "torch.optim.AdamW: exp_avg + exp_avg_sq; the default foreach step allocates _foreach_sqrt(exp_avg_sq)"
        " (one parameter-sized temporary) — torch/optim/adamw.py _multi_tensor_adamw",
    ),
    "adamw-8bit": OptimizerSpec(
        "AdamW 8-bit", 0, 2.0, 0.0,
        "bitsandbytes AdamW8bit: two 8-bit block-quantised states (blocksize 2048, Dettmers et al. 2021, "
        "arXiv:2110.02861); tensors < 4096 elements keep 32-bit states; fused update kernel",
    ),
    "sgd": OptimizerSpec("SGD", 0, None, 0.0, "torch.optim.SGD without momentum keeps no state"),
    "sgd-momentum": OptimizerSpec(
        "SGD + momentum", 1, None, 0.0, "torch.optim.SGD momentum_buffer (one state), updated in place"
    ),
    "adafactor": OptimizerSpec(
        "Adafactor", 0, None, 0.0,
        "Adafactor (Shazeer & Stern 2018, arXiv:1804.04235) with beta1=None (HF default): factored second "
        "moment — one row and one column vector per matrix",
    ),
    "lion": OptimizerSpec(
        "Lion", 1, None, 1.0, "Lion (Chen et al. 2023, arXiv:2302.06675): one momentum state; the update "
        "sign(·) is a parameter-sized temporary",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class PrecisionSpec:
    name: str
    weight_bytes: int  # resident weights of trainable params
    grad_bytes: int
    state_bytes: int  # per optimizer state element
    master_bytes: int  # fp32 master copy held by the optimizer (DeepSpeed/FSDP mixed precision)
    act_bytes: int
    resid_bytes: int
    autocast: bool
    note: str


def precision_spec(precision: str, sharded: bool) -> PrecisionSpec:
    """Bytes per trainable parameter for a precision convention (see module docstring)."""
    if precision == "fp32":
        return PrecisionSpec("fp32", 4, 4, 4, 0, 4, 4, False, "pure fp32: weights, grads and states fp32")
    if precision in ("bf16", "fp16"):
        return PrecisionSpec(
            precision, 2, 2, 2, 0, 2, 2, False,
            f"pure {precision}: weights, grads and optimizer states {precision} (no fp32 master copy)",
        )  # fmt: skip
    half = precision.removeprefix("amp-")
    if sharded:
        return PrecisionSpec(
            precision, 2, 2, 4, 4, 2, 2, False,
            f"mixed precision as DeepSpeed/FSDP keep it: {half} weights 2 + {half} grads 2 + fp32 master 4 + "
            "fp32 optimizer states (ZeRO paper: 16 B/param with AdamW)",
        )  # fmt: skip
    return PrecisionSpec(
        precision, 4, 4, 4, 0, 2, 4, True,
        f"torch autocast ({half}) with fp32 weights 4 + fp32 grads 4 + fp32 optimizer states, plus {half} "
        "copies of the Linear weights made by autocast and kept for backward (HF 'Model training anatomy': "
        "18 B/param with AdamW)",
    )  # fmt: skip


def optimizer_state_bytes(opt: str, trainable: int, state_bytes: int, factored_elements: int = 0) -> int:
    """Optimizer state bytes for ``trainable`` parameters.

    ``factored_elements`` (Adafactor): Σ (rows + cols) over matrices + the size of 1-D parameters.
    """
    spec = OPTIMIZERS[opt]
    if spec.fixed_bytes is not None:
        return int(trainable * spec.fixed_bytes)
    if opt == "adafactor":
        return 4 * factored_elements
    return trainable * spec.states * state_bytes


def optimizer_step_temp_bytes(opt: str, trainable: int, state_bytes: int) -> int:
    """Temporaries allocated inside optimizer.step()."""
    return int(OPTIMIZERS[opt].step_temp_states * trainable * state_bytes)


@dataclass(frozen=True)
class AutocastCopies:
    """16-bit copies of fp32 weights that torch.autocast makes for the Linear layers, in bytes per device."""

    all: int  # every cast weight: held by autocast's weight cache until the outermost autocast exits
    lm_head: (
        int  # the output projection's copy (tied or not: the embedding matrix is cast for the lm_head matmul)
    )
    layer: int  # one decoder layer's copies (the largest layer)


# Linear weights autocast casts to 16-bit (aten/src/ATen/autocast_mode.cpp: linear/matmul/mm are in the lower-
# precision list; cached_cast caches a cast only for leaf tensors that require grad, and clear_cache() runs when
# the outermost autocast context exits — torch/amp/autocast_mode.py __exit__).
_CAST_COMPONENTS = ("attention", "mlp", "experts", "shared_experts")


def autocast_weight_copies(
    a: ArchSpec, components: dict[str, int], method: str, trainable: int, tp: int, pp: int
) -> AutocastCopies:
    """The autocast copies of trainable fp32 weights (frozen 16-bit weights need none), per device: Linear
    weights are split over ``tp`` ranks and the layers over ``pp`` stages."""
    tp_pp = tp * pp
    if method == "freeze":
        # Only the last layers are fp32 leaves that require grad; lm_head stays frozen in 16-bit.
        largest = max(sum(_layer_linear(a, layer).values()) for layer, _ in a.layer_groups())
        return AutocastCopies(-(-2 * trainable // tp_pp), 0, 2 * largest // tp_pp)
    lm_head = components.get("lm_head") or (a.vocab_size * a.hidden_size if a.tie_word_embeddings else 0)
    linear = sum(components.get(k, 0) for k in _CAST_COMPONENTS) + lm_head
    largest = max(sum(_layer_linear(a, layer).values()) for layer, _ in a.layer_groups())
    return AutocastCopies(-(-2 * linear // tp_pp), 2 * lm_head // tp, 2 * largest // tp)


def _layer_linear(a: ArchSpec, layer: LayerSpec) -> dict[str, int]:
    return {k: v for k, v in layer_params(a, layer).items() if k in _CAST_COMPONENTS}
