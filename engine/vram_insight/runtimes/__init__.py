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

from ..errors import EstimateError
from ..quant import normalise_format
from . import llama_cpp, transformers, vllm


def weight_format(runtime: str, requested: str) -> str:
    """The weight format id the runtime loads for the user's ``weights`` choice (or a clear error)."""
    try:
        fmt = normalise_format(requested)
    except ValueError as exc:
        raise EstimateError(str(exc), "weights") from None
    if runtime == "llama.cpp":
        return llama_cpp.weight_format(fmt)
    if runtime == "vllm":
        return vllm.weight_format(fmt)
    return transformers.weight_format(fmt)
