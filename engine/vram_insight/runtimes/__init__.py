"""What each inference runtime allocates: one module per runtime.

* :mod:`.transformers` — Hugging Face ``generate()``: prefill then decode with a DynamicCache; also the no-grad
  forward transient that training workloads reuse for rollouts and reference passes.
* :mod:`.vllm` — vLLM: the reservation (gpu_memory_utilization), the profiled activation peak, the KV pool, blocks
  and concurrency; :mod:`.vllm_config` — its version rules, defaults and startup checks.
* :mod:`.llama_cpp` — llama.cpp (Ollama, LM Studio): GGUF weights, KV cache and compute buffers per device under
  ``-ngl``, system RAM, memory outside its buffers; placement in :mod:`.llama_cpp_layout`, compute buffers in
  :mod:`.llama_cpp_buffers`.

Each module cites where its constants are defined in the runtime's own source. A runtime module may import the
formula layers (arch, params, kv, quant, activations, parallel) and :mod:`vram_insight.phases`; it must not
import workloads, planning or the interfaces.
"""

from __future__ import annotations

from ..arch import ArchSpec
from ..errors import EstimateError
from ..messages import msg, shown
from ..quant import WEIGHT_FORMATS, is_gguf, normalise_format
from . import llama_cpp, transformers, vllm

# Formats a runtime does not load are coded errors naming `weights` (error_codes.py: error.weights.*).


def check_format_for_model(fmt: str, arch: ArchSpec, model_name: str) -> None:
    """A format the model cannot be stored in: MXFP4 quantizes routed experts only (transformers
    Mxfp4GptOssExperts; vLLM Mxfp4MoEMethod is a FusedMoE method), so a dense model has nothing in MXFP4."""
    if fmt == "mxfp4" and arch.moe is None:
        raise EstimateError(msg("error.weights.mxfp4_dense", model=model_name), "weights")


def weight_format(runtime: str, requested: str) -> str:
    """The weight format id the runtime loads for the user's ``weights`` choice (or a coded error naming it)."""
    try:
        fmt = normalise_format(requested)
    except ValueError:
        raise EstimateError(
            msg("error.weights.unknown", got=shown(requested), expected=", ".join(WEIGHT_FORMATS)), "weights"
        ) from None
    if runtime == "llama.cpp":
        if not is_gguf(fmt) and fmt not in ("fp32", "bf16", "fp16"):
            raise EstimateError(msg("error.weights.llama_cpp_needs_gguf", got=fmt), "weights")
        return llama_cpp.weight_format(fmt)
    if runtime == "transformers" and is_gguf(fmt):
        raise EstimateError(
            msg("error.weights.gguf_needs_llama_cpp", runtime="transformers", got=fmt), "weights"
        )
    if runtime == "vllm":
        if is_gguf(fmt):
            raise EstimateError(msg("error.weights.vllm_gguf", got=fmt), "weights")
        return vllm.weight_format(fmt)
    return transformers.weight_format(fmt)
