"""Which architecture to size: a catalog entry's config or a custom ``config.json``, parsed once and cached."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .arch import ArchSpec, ConfigError, parse_config
from .catalog import CatalogError, ModelEntry, load_catalog
from .errors import EstimateError
from .schemas import EstimateRequest, ModelInfo


@dataclass
class ResolvedModel:
    arch: ArchSpec
    info: ModelInfo
    config: dict[str, Any]
    entry: ModelEntry | None
    multimodal: Any = None  # multimodal.MultimodalSpec when the config has vision/audio towers


def _is_multimodal_config(config: dict[str, Any]) -> bool:
    from .multimodal import is_multimodal

    return is_multimodal(config)


_RESOLVED: dict[tuple[str | None, str | None, int | None], ResolvedModel] = {}
_RESOLVED_MAX = 64


def resolve_model(req: EstimateRequest) -> ResolvedModel:
    """The architecture to size (cached: planning re-estimates the same model many times)."""
    key = (req.model if req.config is None else None,
           json.dumps(req.config, sort_keys=True, default=str) if req.config is not None else None, req.num_layers)  # fmt: skip
    hit = _RESOLVED.get(key)
    if hit is None:
        hit = _resolve_model(req)
        if len(_RESOLVED) >= _RESOLVED_MAX:
            _RESOLVED.pop(next(iter(_RESOLVED)))
        _RESOLVED[key] = hit
    return hit


def _resolve_model(req: EstimateRequest) -> ResolvedModel:
    """A custom config.json, or a catalog entry's config, parsed into an ArchSpec (+ towers)."""
    entry: ModelEntry | None = None
    if req.config is not None:
        config = req.config
        name = str(config.get("_name_or_path") or config.get("model_type") or "custom model")
        source = "custom"
    else:
        try:
            entry = load_catalog().model(req.model or "")
        except CatalogError as exc:
            raise EstimateError(str(exc), "model") from None
        config = entry.config
        name = entry.name
        source = "catalog"
    multimodal = None
    try:
        if _is_multimodal_config(config):
            from .multimodal import split_multimodal

            multimodal = split_multimodal(config)
            arch = multimodal.lm
            if req.num_layers:
                arch = arch.model_copy(update={"layers": arch.layers[:1] * req.num_layers})
        else:
            arch = parse_config(config, num_layers=req.num_layers)
    except ConfigError as exc:
        raise EstimateError(str(exc), "config") from None
    except (TypeError, KeyError, ValueError) as exc:
        raise EstimateError(f"config.json could not be read: {exc}", "config") from None
    info = ModelInfo(
        id=entry.id if entry else None,
        name=name,
        model_type=arch.model_type,
        source=source,
        num_layers=arch.num_layers,
        context_length=entry.context_length if entry else arch.max_position_embeddings,
    )
    return ResolvedModel(arch=arch, info=info, config=config, entry=entry, multimodal=multimodal)
