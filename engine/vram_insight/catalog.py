"""Model and GPU catalog: the data files under ``data/`` validated by one schema at load.

Layout (inside the wheel the folder is ``vram_insight/data``; in a checkout it is ``<repo>/data``):

* ``data/models/<id>.json`` - one catalog model per file, its Hugging Face ``config.json`` fields verbatim
  under ``config`` plus where they came from;
* ``data/gpus.json`` - ``{"gpus": [...]}``, one entry per accelerator with its sources.

Nothing is parsed at import time: :func:`load_catalog` reads the files on first use and caches the result.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .messages import InputError, shown

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
MONTH_PATTERN = r"^\d{4}-\d{2}$"


class CatalogError(InputError):
    """A catalog file is missing or does not match the schema, or an id is not in the catalog."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelEntry(_Strict):
    """One catalog model. ``config`` holds the Hugging Face ``config.json`` fields as published."""

    id: str = Field(pattern=ID_PATTERN, description="Stable slug used in URLs and on the CLI.")
    name: str = Field(min_length=1)
    hf_repo: str = Field(pattern=r"^[\w.-]+/[\w.-]+$", description="Hugging Face repository id.")
    family: str = Field(min_length=1, description="Marketing family, e.g. 'Qwen2.5', 'Llama 3.1'.")
    kind: Literal["text", "multimodal"]
    modalities: list[Literal["image", "video", "audio", "document"]] = Field(default_factory=list)
    context_length: int = Field(gt=0, description="Context length the model is released for (tokens).")
    released: str | None = Field(default=None, pattern=MONTH_PATTERN)
    config: dict[str, Any] = Field(description="config.json fields (architecture-relevant ones at least).")
    config_source: str = Field(min_length=1, description="Where the config values were read.")
    official_params: int | None = Field(default=None, gt=0, description="Published parameter count.")
    official_params_source: str | None = None
    official_params_adjustment: int = Field(
        default=0,
        description=(
            "Published count minus the in-memory count, when the published figure counts tensors that are not "
            "separate parameters in memory (a stored duplicate of a tied lm_head, an MTP module, FP8 scales)."
        ),
    )
    official_params_adjustment_reason: str | None = None
    token_rules: str | None = Field(default=None, description="How images/video/audio become tokens.")
    notes: str | None = None

    @field_validator("config")
    @classmethod
    def _config_has_type(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value.get("model_type"), str):
            raise ValueError("config must contain a string 'model_type'")
        return value


class GpuEntry(_Strict):
    """One accelerator. Memory in decimal GB as sold; throughput dense (no 2:4 sparsity)."""

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1)
    vendor: Literal["nvidia", "amd", "apple", "intel", "google"]
    segment: Literal["consumer", "workstation", "datacenter", "unified"]
    memory_gb: float = Field(gt=0, description="Memory as marketed, decimal GB (10^9 bytes).")
    usable_memory_gb: float | None = Field(
        default=None,
        gt=0,
        description="Memory a framework can allocate when less than memory_gb (Apple, B200).",
    )
    memory_type: str
    bandwidth_gbps: float = Field(gt=0, description="Memory bandwidth, GB/s (10^9 bytes/s).")
    bf16_tflops: float = Field(gt=0, description="Dense BF16 tensor TFLOPS with FP32 accumulate.")
    fp16_acc_tflops: float | None = Field(default=None, gt=0, description="Dense FP16 with FP16 accumulate.")
    fp8_tflops: float | None = Field(default=None, gt=0, description="Dense FP8 TFLOPS, if supported.")
    tdp_w: int | None = Field(default=None, gt=0)
    interconnect: str = Field(description="'nvlink', 'pcie', 'infinity-fabric', 'unified', ...")
    max_per_node: int = Field(default=8, ge=1, description="How many fit one server/workstation.")
    launch_price_usd: float | None = Field(default=None, gt=0)
    cloud_usd_per_hour: float | None = Field(default=None, gt=0)
    cloud_price_as_of: str | None = Field(default=None, pattern=MONTH_PATTERN)
    released: str | None = Field(default=None, pattern=MONTH_PATTERN)
    source: str = Field(min_length=1)
    price_source: str | None = None
    notes: str | None = None

    @property
    def memory_bytes(self) -> int:
        """Bytes a framework can use (decimal GB x 10^9)."""
        return round((self.usable_memory_gb or self.memory_gb) * 10**9)


class GpuFile(_Strict):
    gpus: list[GpuEntry]


class Catalog(BaseModel):
    model_config = ConfigDict(frozen=True)

    models: dict[str, ModelEntry]
    gpus: dict[str, GpuEntry]

    def model(self, model_id: str) -> ModelEntry:
        try:
            return self.models[model_id.lower()]
        except KeyError:
            raise CatalogError.of("error.model.unknown", "model", got=shown(model_id)) from None

    def gpu(self, gpu_id: str) -> GpuEntry:
        try:
            return self.gpus[gpu_id.lower()]
        except KeyError:
            raise CatalogError.of("error.gpu.unknown", "gpu", got=shown(gpu_id)) from None


def data_dir() -> Path:
    """The catalog folder: packed in the wheel, else the checkout's top-level ``data/``."""
    packed = resources.files("vram_insight") / "data"
    if packed.is_dir():
        return Path(str(packed))
    return Path(__file__).resolve().parents[2] / "data"


def _format_error(path: str, err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{path}: {where}: {first['msg']}"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{path.name}: cannot read catalog file: {exc}") from exc


@cache
def load_catalog(root: str | None = None) -> Catalog:
    """Read and validate every catalog file (cached)."""
    base = Path(root) if root else data_dir()
    models: dict[str, ModelEntry] = {}
    model_files = sorted((base / "models").glob("*.json"))
    if not model_files:
        raise CatalogError(f"no model files found under {base / 'models'}")
    for path in model_files:
        try:
            entry = ModelEntry.model_validate(_read_json(path))
        except ValidationError as exc:
            raise CatalogError(_format_error(f"models/{path.name}", exc)) from None
        if entry.id != path.stem:
            raise CatalogError(f"models/{path.name}: id {entry.id!r} must equal the file name")
        models[entry.id] = entry
    try:
        gpu_file = GpuFile.model_validate(_read_json(base / "gpus.json"))
    except ValidationError as exc:
        raise CatalogError(_format_error("gpus.json", exc)) from None
    gpus: dict[str, GpuEntry] = {}
    for gpu in gpu_file.gpus:
        if gpu.id in gpus:
            raise CatalogError(f"gpus.json: duplicate GPU id {gpu.id!r}")
        gpus[gpu.id] = gpu
    return Catalog(models=models, gpus=gpus)


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-")
