"""Shared shapes of the multimodal package: towers, the split result, media tokens, the token-rule context, the
family registry entry and the small config and counting helpers every family module uses.

Pure Python (runs in Pyodide): no numpy, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from ..arch import ArchSpec, ConfigError
from ..messages import Message, msg, register, shown
from ..params import count_params

TowerKind = Literal["vision", "audio"]
AttentionImpl = Literal["sdpa", "eager", "flash"]
Checkpointing = Literal["none", "selective", "full"]
CrossAttentionMode = Literal["none", "interleaved", "every_layer"]
MediaKind = Literal["image", "video", "audio"]

register({
    "mm.defaults": "{what}: {fields} not in config.json — {source} defaults",
    "media.item_image": "{count} × image: {detail}",
    "media.item_video": "{count} × video: {detail}",
    "media.item_audio": "{count} × audio: {detail}",
    "media.ignored_image": "image ignored: {model_type} takes no image input",
    "media.ignored_video": "video ignored: {model_type} takes no video input",
    "media.ignored_audio": "audio ignored: {model_type} takes no audio input",
    "media.frames_as_images": "{model} has no video path: the {frames} video frames are counted as images",
})  # fmt: skip


class TowerStage(BaseModel):
    """One resolution stage of a hierarchical encoder (Swin, DaViT): positions shrink by ``position_divisor``."""

    model_config = ConfigDict(frozen=True)

    layers: int
    hidden: int
    heads: int
    intermediate: int
    position_divisor: int = 1
    window: int | None = None


class Tower(BaseModel):
    """A vision or audio encoder in the shape the memory formulas need (CLIP/SigLIP text towers are ``lm``)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="'vision' or 'audio' — the key of MediaTokens.encoder_positions.")
    kind: TowerKind
    arch: str = Field(
        description="Encoder family, e.g. 'clip_vit', 'siglip_vit', 'qwen2_5_vit', 'whisper_encoder'."
    )
    params: int = Field(description="Exact parameter count of the tower (projector not included).")
    layers: int
    hidden: int
    heads: int
    intermediate: int
    gated_mlp: bool = False
    unfused_act: bool = Field(
        default=False, description="quick_gelu written as x·sigmoid(1.702x): one more i-wide tensor saved."
    )
    norm: Literal["layer", "rms"] = "layer"
    softmax_fp32: bool = Field(
        default=True,
        description="Eager attention takes softmax in fp32 and casts back (False: in the dtype).",
    )
    rope_fp32_qk: bool = Field(
        default=False,
        description="Vision RoPE on fp32 copies of q and k (Qwen-VL apply_rotary_pos_emb_vision: q.float(), k.float()).",
    )
    patch_size: int | None = None
    image_size: int | None = None
    temporal_patch_size: int = 1
    merge: int = Field(default=1, description="Positions merged into one LLM token per side (2 → 2×2 = 4).")
    num_mel_bins: int | None = None
    max_source_positions: int | None = None
    attention: Literal["full", "windowed"] = "full"
    window: int | None = Field(default=None, description="Positions per attention window in windowed layers.")
    full_attention_layers: int = Field(
        default=0, description="Windowed towers: layers that still attend fully."
    )
    stages: list[TowerStage] = Field(default_factory=list, description="Hierarchical encoders only.")
    extra_saved_per_layer: int = Field(
        default=0,
        description="Training: extra activation elements per position per layer (conformer conv module).",
    )
    notes: list[Message] = Field(default_factory=list)


class MultimodalSpec(BaseModel):
    """A multimodal model split into its language decoder, encoders, projector and the rest."""

    model_config = ConfigDict(frozen=True)

    model_type: str
    lm: ArchSpec
    towers: list[Tower] = Field(default_factory=list)
    projector_params: int = 0
    other_params: dict[str, int] = Field(default_factory=dict)
    cross_attention: CrossAttentionMode = Field(
        default="none",
        description=(
            "'interleaved': lm layers flagged cross_attention=True attend only to encoder states (Llama-3.2-Vision); "
            "'every_layer': every decoder layer has self- and cross-attention (Whisper, Nougat, Florence-2)."
        ),
    )
    assumptions: list[Message] = Field(default_factory=list)

    @property
    def lm_params(self) -> int:
        return count_params(self.lm).total

    @property
    def tower_params(self) -> int:
        return sum(t.params for t in self.towers)

    @property
    def non_lm_params(self) -> int:
        """Everything outside the language decoder: towers, projector and other tensors."""
        return self.tower_params + self.projector_params + sum(self.other_params.values())

    @property
    def total_params(self) -> int:
        return self.lm_params + self.non_lm_params

    def tower(self, name: str) -> Tower | None:
        return next((t for t in self.towers if t.name == name), None)


class MediaItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: MediaKind
    count: int = Field(description="Images, videos (one clip of video_frames frames) or audio windows.")
    llm_tokens_each: int
    encoder_positions_each: dict[str, int] = Field(default_factory=dict)
    detail: Message | None = None


class MediaTokens(BaseModel):
    """What the media of one sequence becomes: LLM tokens and encoder work."""

    model_config = ConfigDict(frozen=True)

    llm_tokens: int = Field(description="Tokens added to the LLM/decoder input sequence (markers included).")
    encoder_positions: dict[str, int] = Field(
        default_factory=dict,
        description="Tower name → positions the encoder runs over (all items of a sequence).",
    )
    attention_span: dict[str, int] = Field(
        default_factory=dict,
        description="Tower name → longest single attention sequence (for eager s² terms).",
    )
    cross_attention_positions: int = Field(
        default=0,
        description="Encoder states the decoder cross-attends to (mllama, Whisper, Nougat, Florence-2).",
    )
    per_item: list[MediaItem] = Field(default_factory=list)
    notes: list[Message] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------------
# Small config helpers


def _int(cfg: dict[str, Any], *names: str, default: int | None = None) -> int:
    """First present integer field among ``names`` (``default`` if none); a clear error otherwise."""
    for name in names:
        value = cfg.get(name)
        if value is not None:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or int(value) != value
                or value < 0
            ):
                if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                    raise ConfigError.of(
                        "error.config.too_small", "config", key=name, limit=0, got=shown(value)
                    )
                raise ConfigError.of("error.config.not_integer", "config", key=name, got=shown(value))
            return int(value)
    if default is None:
        raise ConfigError.of("error.config.missing", "config", key=names[0])
    return default


def _sub(cfg: dict[str, Any], key: str) -> dict[str, Any]:
    value = cfg.get(key)
    return dict(value) if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Defaults:
    """A config class's ``__init__`` defaults, for sparse nested configs, and the class they come from."""

    source: str
    values: dict[str, Any]

    def fill(self, given: dict[str, Any], what: str, notes: list[Message]) -> dict[str, Any]:
        """``given`` completed with these defaults; says which fields were filled and from where."""
        merged = dict(self.values)
        merged.update({k: v for k, v in given.items() if v is not None})
        filled = [k for k in self.values if given.get(k) is None and k not in ("model_type",)]
        if filled:
            shown = ", ".join(f"{k}={self.values[k]}" for k in filled)
            notes.append(msg("mm.defaults", what=what, fields=shown, source=self.source))
        return merged

    def section(self, cfg: dict[str, Any], key: str, notes: list[Message]) -> dict[str, Any]:
        """``cfg[key]`` (e.g. ``vision_config``) completed with these defaults (noted under the key's name)."""
        return self.fill(_sub(cfg, key), key, notes)


# ---------------------------------------------------------------------------------------------------------------
# Parameter-count building blocks


def _linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def _ln(width: int) -> int:
    """nn.LayerNorm: weight + bias."""
    return 2 * width


def _two_layer_mlp(n_in: int, width: int, n_out: int | None = None, bias: bool = True) -> int:
    """Linear(n_in, width) → activation → Linear(width, n_out) (n_out defaults to width): the usual projector."""
    return _linear(n_in, width, bias) + _linear(width, width if n_out is None else n_out, bias)


# ---------------------------------------------------------------------------------------------------------------
# Media → tokens: the rule context and helpers several families share


class _Ctx:
    """One media_tokens call: the inputs, the model's towers, and the items found so far."""

    def __init__(
        self,
        config: dict[str, Any],
        spec: MultimodalSpec,
        images: int,
        width: int,
        height: int,
        frames: int,
        seconds: float,
    ) -> None:
        self.config, self.spec = config, spec
        self.images, self.w, self.h, self.frames, self.seconds = images, width, height, frames, seconds
        self.vision, self.audio = spec.tower("vision"), spec.tower("audio")
        self.items: list[MediaItem] = []
        self.notes: list[Message] = []
        self.span: dict[str, int] = {}
        self.cross = 0

    def vit(self) -> Tower:
        """The vision tower (every family whose rule asks for it has one)."""
        assert self.vision is not None
        return self.vision

    def add(
        self,
        kind: MediaKind,
        count: int,
        tokens: int,
        positions: dict[str, int],
        detail: Message,
        span: dict[str, int] | None = None,
        cross: int = 0,
    ) -> None:
        """``count`` items of ``tokens`` LLM tokens each; ``positions`` and ``cross`` are per item too."""
        if count <= 0:
            return
        self.items.append(
            MediaItem(
                kind=kind,
                count=count,
                llm_tokens_each=tokens,
                encoder_positions_each=positions,
                detail=detail,
            )
        )
        self.notes.append(msg(f"media.item_{kind}", count=count, detail=detail))
        for name, s in (span if span is not None else positions).items():
            self.span[name] = max(self.span.get(name, 0), s)
        self.cross += count * cross

    def ignore(self, kind: str, amount: float) -> None:
        if amount:
            self.notes.append(msg(f"media.ignored_{kind}", model_type=self.spec.model_type))

    def frames_as_images(self, rule: Callable[[int], None], model: str) -> None:
        """Models without a video path see a video as that many separate images (how their processors take it)."""
        if self.frames:
            self.notes.append(msg("media.frames_as_images", model=model, frames=self.frames))
            rule(self.frames)

    def still_images(self, rule: Callable[[int], None], model: str) -> None:
        """Image-only models: ``rule(n)`` adds n images; video frames count as images; audio is ignored."""
        rule(self.images)
        self.frames_as_images(rule, model)
        self.ignore("audio", self.seconds)

    def image_only(self) -> None:
        """Models that take one still image per item and nothing else: video and audio are ignored."""
        self.ignore("video", self.frames)
        self.ignore("audio", self.seconds)

    def result(self) -> MediaTokens:
        positions: dict[str, int] = {}
        for it in self.items:
            for name, p in it.encoder_positions_each.items():
                positions[name] = positions.get(name, 0) + it.count * p
        return MediaTokens(
            llm_tokens=sum(it.count * it.llm_tokens_each for it in self.items),
            encoder_positions=positions,
            attention_span=self.span,
            cross_attention_positions=self.cross,
            per_item=self.items,
            notes=self.notes,
        )


def _tile_side(tower: Tower, default_size: int) -> tuple[int, int]:
    """(input side in px, patches per side) of a square-input ViT (patch 14 when the config has none)."""
    size = tower.image_size or default_size
    return size, size // (tower.patch_size or 14)


def _vit_positions(tower: Tower, cls: bool) -> int:
    return _tile_side(tower, 224)[1] ** 2 + (1 if cls else 0)


def _audio_clips(seconds: float, window: float = 30.0) -> list[float]:
    """Audio longer than one window is fed as consecutive 30 s clips (Whisper-style feature extractors pad and
    truncate each clip to 30 s: WhisperFeatureExtractor chunk_length 30, truncation=True)."""
    if seconds <= 0:
        return []
    full = int(seconds // window)
    rest = seconds - full * window
    return [window] * full + ([rest] if rest > 1e-9 else [])


def _closest_grid(
    width: int, height: int, image_size: int, max_num: int, min_num: int = 1
) -> tuple[int, int]:
    """InternVL dynamic_preprocess / find_closest_aspect_ratio (model card code; Phi-4-mm's image processor uses
    the same): the (cols, rows) grid with the closest aspect ratio; on ties the larger grid wins when the image
    has more than half its pixels."""
    ratios = sorted(
        {
            (i, j)
            for n in range(min_num, max_num + 1)
            for i in range(1, n + 1)
            for j in range(1, n + 1)
            if min_num <= i * j <= max_num
        },
        key=lambda x: x[0] * x[1],
    )
    aspect = width / height
    best, best_diff, area = (1, 1), float("inf"), width * height
    for r in ratios:
        diff = abs(aspect - r[0] / r[1])
        if diff < best_diff:
            best_diff, best = diff, r
        elif diff == best_diff and area > 0.5 * image_size * image_size * r[0] * r[1]:
            best = r
    return best


def _best_fit_canvas(height: int, width: int, canvases: list[tuple[int, int]]) -> tuple[int, int]:
    """The tiled canvas a Llama image processor picks (image_processing_mllama.py get_optimal_tiled_canvas,
    image_processing_llama4.py get_best_fit): the smallest upscale ≥ 1, else the largest downscale; ties → the
    smallest area (the first listed among equals). ``canvases`` and the result are (height, width)."""
    scales = [min(ch / height, cw / width) for ch, cw in canvases]
    up = [s for s in scales if s >= 1]
    chosen_scale = min(up) if up else max(scales)
    chosen = [cand for cand, s in zip(canvases, scales, strict=True) if s == chosen_scale]
    return min(chosen, key=lambda cand: cand[0] * cand[1])


# ---------------------------------------------------------------------------------------------------------------
# The registry entry of a model_type


class Family(NamedTuple):
    """What the package knows of one model_type: its parameter split and its media → token rule."""

    split: Callable[[dict[str, Any]], MultimodalSpec]
    rule: Callable[[_Ctx], None]
