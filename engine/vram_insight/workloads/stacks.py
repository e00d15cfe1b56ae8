"""Training stacks: what the framework running a fine-tune allocates beyond the textbook formulas.

* ``hf``: transformers Trainer / TRL + peft (+ bitsandbytes for QLoRA). The Trainer's ``bf16=True`` runs the
  forward under autocast; peft keeps LoRA adapters in fp32 (``autocast_adapter_dtype=True``); QLoRA on one GPU
  goes through ``prepare_model_for_kbit_training``, which casts every non-4-bit parameter to fp32 (peft
  utils/other.py). Sharded QLoRA (FSDP / ZeRO-3) skips it and builds bf16 adapters: TRL's SFTTrainer
  (``_prepare_peft_model``: "one should never call peft_module_casting_to_bf16 or prepare_model_for_kbit_training
  when doing QLoRA + FSDP / DS-Zero3"; ``get_peft_model(..., autocast_adapter_dtype=False)``).
* ``torchtune``: modules built in the recipe's ``dtype`` (bf16, no autocast: recipes reject fp16), adapters in that
  dtype, QLoRA through torchao's NF4Tensor (block 64, scaler block 256: the NF4 double-quant layout) with
  embeddings, norms and the output projection left in bf16 (models/*/_component_builders.py), and
  ``CEWithChunkedOutputLoss`` as the chunked loss.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..messages import register
from ..phases import Ctx
from ..schemas import EstimateRequest

register({
    "stack.torchtune_dtype": "torchtune trains in its dtype without autocast: precision {requested} read as {used}",
    "stack.torchtune_nf4": "torchtune QLoRA stores the base with torchao NF4 (4-bit, block 64, double-quantised "
    "scales): weights {requested} read as nf4",
    "stack.bnb_upcast": "HF QLoRA: prepare_model_for_kbit_training casts embeddings, lm_head and norms to fp32; the "
    "fp32 residual stream, Linear4bit outputs cast back to fp32 and per-module bf16 LoRA input copies follow",
    "stack.bnb_sharded": "HF QLoRA under {sharding}: TRL skips prepare_model_for_kbit_training (no fp32 upcast) and "
    "builds bf16 adapters; the 4-bit weights are packed in a 16-bit bnb_4bit_quant_storage so they shard",
    "stack.bnb_autocast": "HF QLoRA runs under the Trainer's autocast (bf16=True): precision {requested} read as "
    "amp-bf16",
})  # fmt: skip

BNB_FORMATS = ("nf4", "nf4-nodq", "fp4", "fp4-nodq")
QLORA_FORMATS = (*BNB_FORMATS, "int4", "int8")


@dataclass(frozen=True)
class Stack:
    """The conventions a request's framework implies for one training run."""

    framework: str
    precision: str  # the precision convention used (torchtune: no autocast)
    adapter_bytes: int  # LoRA adapter weights/grads element size
    qlora_format: str  # storage format of a QLoRA base
    bnb_upcast: (
        bool  # HF QLoRA through prepare_model_for_kbit_training (fp32 non-4-bit params, fp32 residual)
    )


def training_stack(ctx: Ctx, method: str, sharded_params: bool) -> Stack:
    """Resolve framework conventions for ``method`` (``sharded_params``: ZeRO-3 / FSDP FULL_SHARD)."""
    req: EstimateRequest = ctx.req
    precision = req.precision
    if req.framework == "torchtune" and precision.startswith("amp-"):
        precision = precision.removeprefix("amp-")
        ctx.note("stack.torchtune_dtype", requested=req.precision, used=precision)
    qlora_format = req.weights if req.weights in QLORA_FORMATS else "nf4"
    if method == "qlora" and req.framework == "torchtune" and req.weights != "nf4":
        ctx.note("stack.torchtune_nf4", requested=req.weights)
        qlora_format = "nf4"
    bnb = method == "qlora" and req.framework == "hf" and qlora_format in BNB_FORMATS
    bnb_upcast = bnb and not sharded_params
    if bnb and not precision.startswith("amp-"):
        ctx.note("stack.bnb_autocast", requested=precision)
        precision = "amp-bf16"
    if bnb_upcast:
        ctx.note("stack.bnb_upcast")
    elif bnb:
        ctx.note("stack.bnb_sharded", sharding="ZeRO-3" if req.zero == 3 else "FSDP")
    model_bytes = 4 if precision == "fp32" else 2
    if req.adapter_dtype != "auto":
        adapter_bytes = 4 if req.adapter_dtype == "fp32" else 2
    elif req.framework == "torchtune" or (bnb and sharded_params):
        adapter_bytes = model_bytes
    else:
        adapter_bytes = 4  # peft get_peft_model(autocast_adapter_dtype=True): fp32 adapters
    return Stack(req.framework, precision, adapter_bytes, qlora_format, bnb_upcast)
