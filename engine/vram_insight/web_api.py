"""JSON-in/JSON-out entry point for the browser worker (and anything else that speaks JSON).

``call(op, payload_json)`` never raises: it returns ``{"ok": true, "result": …}`` or
``{"ok": false, "error": {"message": …, "field": …}}`` so the UI can show the message next to the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from . import __version__
from .arch import ConfigError
from .catalog import CatalogError, load_catalog
from .estimate import EstimateError, estimate
from .params import count_params
from .planning import report
from .schemas import EstimateRequest

MAX_PAYLOAD = 1 << 20  # 1 MiB: a config.json is a few KB


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
        raise ConfigError("paste a config.json object")
    from .estimate import resolve_model

    resolved = resolve_model(EstimateRequest(config=config, model=None, gpu=None))
    a = resolved.arch
    pc = count_params(a)
    extra = 0
    if resolved.multimodal is not None:
        mm = resolved.multimodal
        extra = mm.non_lm_params
    summary = (
        f"{a.model_type}: {a.num_layers} layers, hidden {a.hidden_size}, {a.num_heads} heads / {a.num_kv_heads} KV "
        f"heads × {a.head_dim}, vocab {a.vocab_size:,}"
        + (f", {a.moe.num_experts} experts top-{a.moe.top_k}" if a.moe else "")
    )
    return {"model_type": a.model_type, "params_total": pc.total + extra, "params_active": pc.active,
            "summary": summary, "assumptions": list(a.assumptions)}  # fmt: skip


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


def _error(message: str, field: str | None = None, coded: Any = None) -> str:
    error: dict[str, Any] = {"message": message, "field": field}
    if coded is not None:  # a coded EstimateError: the site renders msg.<code> with params in its language
        error.update(code=coded.code, params=dict(coded.params))
    return json.dumps({"ok": False, "error": error})


def call(op: str, payload_json: str = "{}") -> str:
    """Run one operation; always returns a JSON string."""
    handler = OPS.get(op)
    if handler is None:
        return _error(f"unknown operation {op!r}; one of {', '.join(OPS)}")
    if len(payload_json) > MAX_PAYLOAD:
        return _error("input too large (limit 1 MiB)", "config")
    try:
        payload = json.loads(payload_json or "{}")
    except json.JSONDecodeError as exc:
        return _error(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", "config")
    if not isinstance(payload, dict):
        return _error("the request must be a JSON object")
    try:
        return json.dumps({"ok": True, "result": handler(payload)})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        field = loc[0] if loc else (first.get("ctx") or {}).get("field")
        message = first["msg"].removeprefix("Value error, ")
        return _error(f"{'.'.join(loc) + ': ' if loc else ''}{message}", field)
    except EstimateError as exc:
        return _error(str(exc), exc.field, exc.coded)
    except (ConfigError, CatalogError) as exc:
        return _error(str(exc), "config" if isinstance(exc, ConfigError) else "model")
    except (ValueError, TypeError, KeyError, ArithmeticError, RecursionError) as exc:
        return _error(f"could not compute this input: {exc}")
