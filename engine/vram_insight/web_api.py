"""JSON-in/JSON-out entry point for the browser worker (and anything else that speaks JSON).

``call(op, payload_json)`` never raises: it returns strict JSON (no NaN or Infinity), either
``{"ok": true, "result": …}`` or ``{"ok": false, "error": {"code", "field", "params", "message"}}`` — a message
code the site translates with its parameters, the English text, and the request field at fault (a config.json
key as ``config.<path>``) so the UI can show the message next to the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from . import __version__
from .arch import ConfigError
from .catalog import load_catalog
from .errors import as_input_error, error_payload
from .estimate import EstimateError, estimate
from .messages import InputError, msg, one_line, register
from .params import count_params
from .planning import report
from .schemas import EstimateRequest

MAX_PAYLOAD = 1 << 20  # 1 MiB: a config.json is a few KB
MAX_JSON_DEPTH = 32  # a request nests 5 levels (request → config → vision_config → rope_scaling → list)
INT_DIGITS = 4300  # CPython's int/str conversion limit (sys.get_int_max_str_digits default), Pyodide's too

register({
    "config.summary": "{model_type}: {layers} layers, hidden {hidden}, {heads} heads / {kv_heads} KV heads × "
    "{head_dim}, vocab {vocab:,}",
    "config.summary_moe": "{model_type}: {layers} layers, hidden {hidden}, {heads} heads / {kv_heads} KV heads × "
    "{head_dim}, vocab {vocab:,}, {experts} experts top-{top_k}",
})  # fmt: skip


def _info(_: dict[str, Any]) -> dict[str, Any]:
    cat = load_catalog()
    text = sum(1 for m in cat.models.values() if m.kind == "text")
    return {
        "engine_version": __version__,
        "catalog": {"models": len(cat.models), "text_models": text, "multimodal_models": len(cat.models) - text,
                    "gpus": len(cat.gpus)},
    }  # fmt: skip


def catalog_summary() -> dict[str, Any]:
    from .estimate import resolve_model

    cat = load_catalog()
    models = []
    for m in cat.models.values():
        try:
            resolved = resolve_model(EstimateRequest(model=m.id, gpu=None))
            pc = count_params(resolved.arch)
            extra = 0
            if resolved.multimodal is not None:
                mm = resolved.multimodal
                extra = mm.non_lm_params
            total, active = pc.total + extra, pc.active
        except (EstimateError, ValueError):
            total = active = None
        models.append(
            {"id": m.id, "name": m.name, "family": m.family, "kind": m.kind, "modalities": list(m.modalities),
             "hf_repo": m.hf_repo, "context_length": m.context_length, "params_total": total,
             "params_active": active, "model_type": m.config.get("model_type")}
        )  # fmt: skip
    gpus = [
        {"id": g.id, "name": g.name, "vendor": g.vendor, "segment": g.segment, "memory_gb": g.memory_gb,
         "usable_memory_gb": g.usable_memory_gb, "bandwidth_gbps": g.bandwidth_gbps, "bf16_tflops": g.bf16_tflops,
         "launch_price_usd": g.launch_price_usd, "cloud_usd_per_hour": g.cloud_usd_per_hour,
         "max_per_node": g.max_per_node}
        for g in cat.gpus.values()
    ]  # fmt: skip
    return {"models": models, "gpus": gpus, **formats()}


def formats() -> dict[str, Any]:
    """The weight formats and KV-cache dtypes the engine accepts (ids, labels, bits per weight/element)."""
    from .quant import GGUF_MIXES, HF_FORMATS, KV_DTYPE_BITS, gguf_type_bpw

    weights = [
        {"id": f.name, "label": f.label, "bits": float(f.linear_bpw), "family": "hf"}
        for f in HF_FORMATS.values()
    ]
    weights += [
        {"id": k, "label": f"GGUF {k.upper()}", "bits": float(gguf_type_bpw(m.base)), "family": "gguf"}
        for k, m in GGUF_MIXES.items()
        if k not in HF_FORMATS
    ]
    kv = [
        {"id": k, "label": k.upper() if "_" in k else k, "bits": float(v)} for k, v in KV_DTYPE_BITS.items()
    ]
    return {"weight_formats": weights, "kv_cache_dtypes": kv}


def _catalog(_: dict[str, Any]) -> dict[str, Any]:
    return catalog_summary()


def _estimate(payload: dict[str, Any]) -> dict[str, Any]:
    return estimate(EstimateRequest.model_validate(payload)).model_dump(mode="json")


def _quick(payload: dict[str, Any]) -> dict[str, Any]:
    """The estimate and its fit on the chosen GPU only: what the UI shows first while ``report`` runs."""
    from .planning import fit

    req = EstimateRequest.model_validate(payload)
    result = estimate(req)
    gpu = load_catalog().gpu(req.gpu) if req.gpu else None
    return {
        "estimate": result.model_dump(mode="json"),
        "fit": fit(result, gpu, req).model_dump(mode="json") if gpu else None,
    }


def _report(payload: dict[str, Any]) -> dict[str, Any]:
    return report(EstimateRequest.model_validate(payload)).model_dump(mode="json")


def _parse_config(payload: dict[str, Any]) -> dict[str, Any]:
    config = payload.get("config")
    if not isinstance(config, dict):
        raise ConfigError.of("error.config.not_object", "config")
    from .estimate import resolve_model

    resolved = resolve_model(EstimateRequest(config=config, model=None, gpu=None))
    a = resolved.arch
    pc = count_params(a)
    extra = 0
    if resolved.multimodal is not None:
        mm = resolved.multimodal
        extra = mm.non_lm_params
    shape = {"model_type": a.model_type, "layers": a.num_layers, "hidden": a.hidden_size, "heads": a.num_heads,
             "kv_heads": a.num_kv_heads, "head_dim": a.head_dim, "vocab": a.vocab_size}  # fmt: skip
    summary = (
        msg("config.summary_moe", **shape, experts=a.moe.num_experts, top_k=a.moe.top_k)
        if a.moe
        else msg("config.summary", **shape)
    )
    return {"model_type": a.model_type, "params_total": pc.total + extra, "params_active": pc.active,
            "summary": summary.model_dump(mode="json"),
            "assumptions": [m.model_dump(mode="json") for m in a.assumptions]}  # fmt: skip


def _schema(_: dict[str, Any]) -> dict[str, Any]:
    return EstimateRequest.model_json_schema()


OPS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "info": _info,
    "catalog": _catalog,
    "estimate": _estimate,
    "quick": _quick,
    "report": _report,
    "parse_config": _parse_config,
    "schema": _schema,
}


def _finite(text: str) -> float:
    """JSON numbers as floats, but never inf (1e400) — the engine's replies must stay strict JSON."""
    value = float(text)
    if not math.isfinite(value):
        raise InputError.of("error.json.non_finite", None, got=one_line(text, 40))
    return value


def _no_constant(name: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity`` are JavaScript, not JSON: refuse them."""
    raise InputError.of("error.json.non_finite", None, got=name)


def _depth_ok(value: Any, limit: int) -> bool:
    """True when ``value`` nests at most ``limit`` containers deep (iterative: no recursion on hostile input)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return False
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return True


def parse_request(payload_json: Any) -> dict[str, Any]:
    """The payload as a dict, or an InputError (``error.json.*``) saying what is wrong with the text."""
    if not isinstance(payload_json, str):
        raise InputError.of("error.json.not_text")
    if len(payload_json) > MAX_PAYLOAD:
        raise InputError.of("error.json.too_large", "config", limit=MAX_PAYLOAD)
    try:
        payload = json.loads(payload_json or "{}", parse_float=_finite, parse_constant=_no_constant)
    except InputError:
        raise
    except json.JSONDecodeError as exc:
        raise InputError.of("error.json.invalid", None, line=exc.lineno, column=exc.colno) from None
    except RecursionError:
        raise InputError.of("error.json.too_deep", None, limit=MAX_JSON_DEPTH) from None
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise InputError.of("error.json.number_too_long", None, limit=INT_DIGITS) from None
    if not isinstance(payload, dict):
        raise InputError.of("error.json.not_object")
    if not _depth_ok(payload, MAX_JSON_DEPTH):
        raise InputError.of("error.json.too_deep", None, limit=MAX_JSON_DEPTH)
    return payload


def _failure(err: InputError) -> str:
    return json.dumps({"ok": False, "error": error_payload(err)}, allow_nan=False)


def _call(op: Any, payload_json: Any) -> str:
    handler = OPS.get(op) if isinstance(op, str) else None
    if handler is None:
        raise InputError.of(
            "error.request.unknown_op", None, got=one_line(repr(op), 40), expected=", ".join(OPS)
        )
    payload = parse_request(payload_json)
    return json.dumps({"ok": True, "result": handler(payload)}, allow_nan=False)


# The reply when even an error cannot be encoded (never seen; the contract is "always JSON").
_LAST_RESORT = json.dumps({"ok": False, "error": {"code": "error.internal", "field": None, "params": {"detail": ""},
                                                  "message": "the engine could not compute this input"}})  # fmt: skip


def call(op: str, payload_json: str = "{}") -> str:
    """Run one operation; always returns a strict JSON string and never raises."""
    try:
        return _call(op, payload_json)
    except Exception as exc:  # the contract: every failure becomes an error reply
        try:
            return _failure(as_input_error(exc))
        except Exception:
            return _LAST_RESORT
