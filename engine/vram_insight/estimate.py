"""One request → its memory estimate: pick the workload for the mode and run it.

The machinery lives below: :mod:`.phases` (Phase, Ctx, finishing a result), :mod:`.resolve` (which
architecture), :mod:`.workloads` (what each mode computes), :mod:`.runtimes` (what each inference runtime
allocates) and :mod:`.device` (memory outside the tensors). ``EstimateError`` and ``resolve_model`` are
re-exported here because callers (planning, the CLI, the web API) know them by this module.
"""

from __future__ import annotations

from .errors import EstimateError
from .messages import Message, msg, register
from .quant import HF_FORMATS, is_gguf, normalise_format
from .resolve import ResolvedModel, resolve_model
from .schemas import EstimateRequest, EstimateResult
from .workloads.inference import inference
from .workloads.multimodal import multimodal, towers_as_text_model
from .workloads.plausibility import plausibility_warnings
from .workloads.rl import rl
from .workloads.training import training

__all__ = ["EstimateError", "ResolvedModel", "estimate", "resolve_model"]

register({
    "estimate.text_only_multimodal": "Text-only use of a multimodal model: its vision/audio towers ({params:,} "
    "parameters, 16-bit) are loaded but see no media",
})  # fmt: skip


def estimate(req: EstimateRequest, *, layer_scan: bool = False) -> EstimateResult:
    """Memory per device for one request, with warnings for inputs that cannot run as asked.

    ``layer_scan``: for llama.cpp inference, also size every ``-ngl`` (``details.llama_cpp.gpu_total_by_layers``)
    for planning's inverse search.
    """
    req, inferred = runtime_for_weights(req)
    result = _estimate(req, layer_scan)
    if inferred is not None:
        result.assumptions.insert(0, inferred)
    result.warnings.extend(plausibility_warnings(req, resolve_model(req), result))
    return result


register(
    {
        "runtime.inferred_llama_cpp": "Runtime llama.cpp: weights {weights} is a GGUF type, which only llama.cpp loads",
    }
)


def runtime_for_weights(req: EstimateRequest) -> tuple[EstimateRequest, Message | None]:
    """A GGUF-only weight format means llama.cpp when the request names no runtime (``vram estimate -w q4_k_m``)."""
    inference = req.mode == "inference" or (req.mode == "multimodal" and req.task == "inference")
    if "runtime" in req.model_fields_set or not inference:
        return req, None
    try:
        fmt = normalise_format(req.weights)
    except ValueError:
        return req, None
    if not is_gguf(fmt) or fmt in HF_FORMATS:
        return req, None
    return req.model_copy(update={"runtime": "llama.cpp"}), msg("runtime.inferred_llama_cpp", weights=fmt)


def _estimate(req: EstimateRequest, layer_scan: bool) -> EstimateResult:
    if req.mode == "multimodal":
        return multimodal(req, layer_scan=layer_scan)
    model = resolve_model(req)
    extra = towers_as_text_model(model)
    if req.mode == "inference":
        result = inference(req, model, extra, layer_scan=layer_scan)
    elif req.mode in ("finetune", "training"):
        result = training(req, model, extra)
    else:
        result = rl(req, model, extra)
    if extra:
        result.assumptions.append(msg("estimate.text_only_multimodal", params=extra["params"]))
    return result
