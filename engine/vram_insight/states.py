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
from .messages import Message, msg, register
from .params import layer_params


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    states: int  # full-size state tensors per parameter (in the state dtype)
    fixed_bytes: float | None  # bytes/param independent of dtype (8-bit optimizers), else None
    step_temp_states: float  # full-size temporaries during step() (torch foreach AdamW: sqrt(v) list)
    source: str  # English template of the message optim.<key> (registered below)
    state_dtype_bytes: int | None = (
        None  # states kept in this dtype whatever the parameters' (bnb 32-bit: fp32)
    )
    paged: bool = (
        False  # bitsandbytes paged optimizer: large states in CUDA managed memory (outside the allocator)
    )
    per_tensor_temp_bytes: int = 0  # bytes per element of the tensor being stepped (one tensor at a time)


# bitsandbytes/optim/optimizer.py (0.43–0.50) Optimizer2State.init_state: 8-bit states are uint8 with one fp32
# absmax per 256-element block (``blocksize = 256``) each; tensors with fewer than ``min_8bit_size`` (4096)
# elements keep fp32 states. get_state_buffer: paged optimizers allocate states of tensors with ≥ 1e5 elements with
# F.get_paged (cudaMallocManaged via lib.cget_managed_ptr, wrapped by torch.frombuffer: not PyTorch's allocator).
BNB_BLOCKSIZE = 256
BNB_MIN_8BIT_SIZE = 4096
BNB_MIN_PAGED_SIZE = 100_000

OPTIMIZERS: dict[str, OptimizerSpec] = {
    "adamw": OptimizerSpec(
        "AdamW", 2, None, 1.0,
        "torch.optim.AdamW: exp_avg + exp_avg_sq; the default foreach step allocates _foreach_sqrt(exp_avg_sq)"
        " (one parameter-sized temporary) — torch/optim/adamw.py _multi_tensor_adamw",
    ),
    "adamw-fused": OptimizerSpec(
        "AdamW (fused)", 2, None, 0.0,
        "torch.optim.AdamW(fused=True) (HF optim adamw_torch_fused; torchtune configs' fused: True): exp_avg + "
        "exp_avg_sq updated in place by torch._fused_adamw_, no temporaries — torch/optim/adam.py _fused_adam",
    ),
    "adamw-8bit": OptimizerSpec(
        "AdamW 8-bit", 0, 2 + 2 * 4 / BNB_BLOCKSIZE, 0.0,
        "bitsandbytes AdamW8bit (HF adamw_bnb_8bit) / torchao AdamW8bit: two uint8 states + an fp32 absmax per 256 "
        "elements each (bitsandbytes/optim/optimizer.py Optimizer2State.init_state); tensors < 4096 elements keep "
        "fp32 states; fused update kernel",
    ),
    "adamw-8bit-torchao": OptimizerSpec(
        "AdamW 8-bit (torchao)", 0, 2 + 2 * 4 / BNB_BLOCKSIZE, 0.0,
        "torchao AdamW8bit (torchtune's low-precision optimizer): uint8 states + an fp32 scale per 256 elements; "
        "each parameter's compiled step (low_bit_optim/adam.py single_param_adam) dequantises both states to fp32 "
        "(exp_avg.float().lerp(...)) and requantises them with copy_, one parameter at a time",
        per_tensor_temp_bytes=2 * 4,
    ),
    "paged-adamw-32bit": OptimizerSpec(
        "Paged AdamW 32-bit", 2, None, 0.0,
        "bitsandbytes PagedAdamW (HF paged_adamw_32bit): fp32 exp_avg + exp_avg_sq; states of tensors ≥ 1e5 elements "
        "in CUDA managed memory (optimizer.py get_state_buffer → F.get_paged), outside PyTorch's allocator; fused "
        "update kernel",
        state_dtype_bytes=4,
        paged=True,
    ),
    "paged-adamw-8bit": OptimizerSpec(
        "Paged AdamW 8-bit", 0, 2 + 2 * 4 / BNB_BLOCKSIZE, 0.0,
        "bitsandbytes PagedAdamW8bit (HF paged_adamw_8bit): 8-bit blockwise states (256-element blocks, fp32 for "
        "tensors < 4096 elements) in CUDA managed memory for tensors ≥ 1e5 elements (F.get_paged), outside "
        "PyTorch's allocator",
        paged=True,
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


def optimizer_code(opt: str) -> str:
    """The message code describing an optimizer's states (``optim.adamw_8bit`` for adamw-8bit)."""
    return "optim." + opt.replace("-", "_")


register({optimizer_code(key): spec.source for key, spec in OPTIMIZERS.items()})
register({
    "states.fp32": "pure fp32: weights, grads and states fp32",
    "states.pure_half": "pure {dtype}: weights, grads and optimizer states {dtype} (no fp32 master copy)",
    "states.mixed_sharded": "mixed precision as DeepSpeed/FSDP keep it: {half} weights 2 + {half} grads 2 + fp32 "
    "master 4 + fp32 optimizer states (ZeRO paper: 16 B/param with AdamW)",
    "states.autocast": "torch autocast ({half}) with fp32 weights 4 + fp32 grads 4 + fp32 optimizer states, plus "
    "{half} copies of the Linear weights made by autocast and kept for backward (HF 'Model training anatomy': "
    "18 B/param with AdamW)",
})  # fmt: skip


def bnb_state_bytes(opt: str, numel: int, state_bytes: int) -> int:
    """Optimizer-state bytes of one tensor of ``numel`` elements (per-tensor rules of bitsandbytes' optimizers)."""
    spec = OPTIMIZERS[opt]
    if spec.fixed_bytes is not None:  # 8-bit blockwise
        if numel < BNB_MIN_8BIT_SIZE:
            # bitsandbytes: fp32 states; torchao (_AdamBase._new_buffer): plain states in the parameter dtype
            return 2 * (state_bytes if opt == "adamw-8bit-torchao" else 4) * numel
        blocks = -(-numel // BNB_BLOCKSIZE)
        return 2 * numel + 2 * 4 * blocks
    return spec.states * (spec.state_dtype_bytes or state_bytes) * numel


def optimizer_state_split(opt: str, tensor_numels: list[int], state_bytes: int) -> tuple[int, int]:
    """(bytes in PyTorch's allocator, bytes in CUDA managed memory) of an optimizer's states, tensor by tensor.

    Only bitsandbytes' paged optimizers put states in managed memory (tensors ≥ 1e5 elements); the driver migrates
    those pages to the GPU for the update and evicts them to host RAM under memory pressure.
    """
    spec = OPTIMIZERS[opt]
    allocator = paged = 0
    for n in tensor_numels:
        b = bnb_state_bytes(opt, n, state_bytes)
        if spec.paged and n >= BNB_MIN_PAGED_SIZE:
            # 8-bit: only state1/state2 come from get_state_buffer; the fp32 absmax per block is a plain
            # torch.zeros on the device (Optimizer2State.init_state)
            absmax = (
                2 * 4 * -(-n // BNB_BLOCKSIZE)
                if spec.fixed_bytes is not None and n >= BNB_MIN_8BIT_SIZE
                else 0
            )
            paged += b - absmax
            allocator += absmax
        else:
            allocator += b
    return allocator, paged


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
    note: Message


def precision_spec(precision: str, sharded: bool) -> PrecisionSpec:
    """Bytes per trainable parameter for a precision convention (see module docstring)."""
    if precision == "fp32":
        return PrecisionSpec("fp32", 4, 4, 4, 0, 4, 4, False, msg("states.fp32"))
    if precision in ("bf16", "fp16"):
        return PrecisionSpec(precision, 2, 2, 2, 0, 2, 2, False, msg("states.pure_half", dtype=precision))
    half = precision.removeprefix("amp-")
    if sharded:
        return PrecisionSpec(precision, 2, 2, 4, 4, 2, 2, False, msg("states.mixed_sharded", half=half))
    return PrecisionSpec(precision, 4, 4, 4, 0, 2, 4, True, msg("states.autocast", half=half))


def optimizer_state_bytes(opt: str, trainable: int, state_bytes: int, factored_elements: int = 0) -> int:
    """Optimizer state bytes for ``trainable`` parameters.

    ``factored_elements`` (Adafactor): Σ (rows + cols) over matrices + the size of 1-D parameters.
    """
    spec = OPTIMIZERS[opt]
    if spec.fixed_bytes is not None:
        return int(trainable * spec.fixed_bytes)
    if opt == "adafactor":
        return 4 * factored_elements
    return trainable * spec.states * (spec.state_dtype_bytes or state_bytes)


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
