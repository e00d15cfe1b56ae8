"""Which attention kernel runs: what PyTorch's SDPA dispatcher picks decides whether seq² scores exist.

transformers' ``sdpa`` attention calls ``torch.nn.functional.scaled_dot_product_attention``; on CUDA the dispatcher
(``aten/src/ATen/native/transformers/cuda/sdp_utils.cpp``, ``select_sdp_backend``) tries cuDNN / flash /
memory-efficient in turn and falls back to the *math* kernel, which materialises the ``[B, heads, q, kv]`` scores
like eager attention. On the CPU the flash kernel takes every dtype, so CPU runs never fall back for these shapes.

Modelled (NVIDIA sm80+, torch 2.5–2.12, no padding mask — transformers then passes ``enable_gqa=True`` for GQA,
``integrations/sdpa_attention.py`` ``use_gqa_in_sdpa``):

* flash (``can_use_flash_attention``): fp16/bf16 only (``check_dtypes_flash_attention``), q/k/v head dims equal and
  ≤ 256 (``check_head_dim_size_flash``); supports GQA.
* cuDNN (preferred on sm90/sm100 with cuDNN > 9.15, ``check_prefer_cudnn_attention``): fp16/bf16 only; no scores
  either, so for memory it is the same as flash.
* memory-efficient (``can_use_mem_efficient_attention``): fp16/bf16/fp32, q and k head dims equal and divisible
  by the GEMM alignment (8 for 16-bit, 4 for fp32: ``minimum_gemm_alignment``); no GQA before pytorch/pytorch#191085
  (July 2026, after torch 2.12).
* math: everything else.
"""

from __future__ import annotations

from typing import Literal

from .arch import ArchSpec
from .messages import Message, msg, register

register({
    "kernels.sdpa_math": "SDPA on CUDA has no fused kernel for this attention ({dtype} with grouped KV heads or an "
    "unsupported head dim, torch ≤ 2.12): the math kernel materialises [batch, heads, q, kv] scores as eager "
    "attention does",
})  # fmt: skip

SdpaBackend = Literal["flash", "efficient", "math"]
FLASH_MAX_HEAD_DIM = 256  # sdp_utils.cpp check_head_dim_size_flash: "less than or equal to 256"


def attention_head_dims(a: ArchSpec) -> tuple[int, int]:
    """(q/k head dim, v head dim): MLA's per-head q/k (nope + rope) differ from its v head dim."""
    if a.mla:
        return a.mla.qk_nope_head_dim + a.mla.qk_rope_head_dim, a.mla.v_head_dim
    return a.head_dim, a.head_dim


def sdpa_backend(a: ArchSpec, act_bytes: int, platform: str = "cuda") -> SdpaBackend:
    """The SDPA kernel PyTorch dispatches to for this model's attention in ``act_bytes``-wide activations."""
    if platform == "cpu":
        return "flash"  # aten/src/ATen/native/transformers/sdp_utils_cpp.cpp: the CPU flash kernel takes fp32 too
    qk_dim, v_dim = attention_head_dims(a)
    gqa = a.num_kv_heads < a.num_heads and not a.mla  # transformers' MLA expands K/V per query head
    if act_bytes == 2 and qk_dim == v_dim and qk_dim <= FLASH_MAX_HEAD_DIM:
        return "flash"
    alignment = 8 if act_bytes == 2 else 4
    if not gqa and qk_dim % alignment == 0 and v_dim % alignment == 0:
        return "efficient"
    return "math"


def effective_attention(requested: str, a: ArchSpec, act_bytes: int, platform: str = "cuda") -> str:
    """The attention the memory model should use: ``eager`` when SDPA falls back to the math kernel."""
    if requested == "sdpa" and sdpa_backend(a, act_bytes, platform) == "math":
        return "eager"
    return requested


def math_attention_note(act_bytes: int) -> Message:
    """The assumption shown when SDPA falls back to the math kernel."""
    return msg("kernels.sdpa_math", dtype="fp32" if act_bytes == 4 else "16-bit")
