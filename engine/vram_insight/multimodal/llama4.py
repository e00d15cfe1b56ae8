"""Llama 4 (Scout / Maverick): MoE text model + Llama4VisionModel with a pixel-shuffle adapter + Linear
projector; parameter split and the tiled image → token rule.

Mirrors huggingface/transformers: models/llama4/modeling_llama4.py, configuration_llama4.py,
image_processing_llama4.py, processing_llama4.py.
"""

from __future__ import annotations

from typing import Any

from ..messages import Message, msg, register
from .base import Defaults, MultimodalSpec, _best_fit_canvas, _Ctx, _int, _linear, _ln, _tile_side
from .decoders import _nested_text_lm
from .encoders import _vit_layer, _vit_tower

register({
    "mm.llama4_released_vision": "Llama 4: config has no vision_config — the released checkpoints' vision tower "
    "(1408 wide, 34 layers, 336 px) is counted; it is loaded with the weights (Llama4ForConditionalGeneration, vLLM)",
    "media.llama4": "{cols}×{rows} tiles of {size} px → {tiles} × {per_tile} tokens (+{markers} markers)",
    "media.llama4_global": "{cols}×{rows} tiles of {size} px + global → {tiles} × {per_tile} tokens (+{markers} "
    "markers)",
})  # fmt: skip

# configuration_llama4.py Llama4VisionConfig defaults (used for fields missing from a present vision_config).
LLAMA4_VISION_DEFAULTS = Defaults(
    "Llama4VisionConfig (configuration_llama4.py)",
    {"hidden_size": 768, "image_size": 448, "intermediate_size": 5632, "num_hidden_layers": 34,
     "num_attention_heads": 16, "patch_size": 14, "pixel_shuffle_ratio": 0.5, "projector_input_dim": 4096,
     "projector_output_dim": 4096, "vision_output_dim": 7680, "multi_modal_projector_bias": False},
)  # fmt: skip
# The vision_config of the released checkpoints (meta-llama/Llama-4-Scout-17B-16E and -Maverick-17B-128E share
# it), used when a config.json copy has no vision_config at all: the checkpoints always carry this tower.
LLAMA4_RELEASED_VISION: dict[str, Any] = {
    "hidden_size": 1408, "image_size": 336, "intermediate_size": 5632, "num_hidden_layers": 34,
    "num_attention_heads": 16, "patch_size": 14, "pixel_shuffle_ratio": 0.5, "projector_input_dim": 4096,
    "projector_output_dim": 4096, "vision_output_dim": 4096, "multi_modal_projector_bias": False,
}  # fmt: skip


def llama4_vision_params(v: dict[str, Any]) -> int:
    """Llama4VisionModel (modeling_llama4.py): unfold-patch Linear(3p², h, bias=False), class_embedding,
    positional_embedding_vlm (N+1)·h, layernorm_pre/post, layers with biased q/k/v/o and fc1/fc2, and the
    pixel-shuffle adapter MLP Linear(intermediate, proj_in) + Linear(proj_out, proj_out), no biases."""
    h, i = _int(v, "hidden_size", default=768), _int(v, "intermediate_size", default=5632)
    n_layers, p = _int(v, "num_hidden_layers", default=34), _int(v, "patch_size", default=14)
    img = _int(v, "image_size", default=448)
    p_in, p_out = _int(v, "projector_input_dim", default=4096), _int(v, "projector_output_dim", default=4096)
    n = (img // p) ** 2 + 1
    total = 3 * p * p * h + h + n * h + 2 * _ln(h) + n_layers * _vit_layer(h, i)
    return total + i * p_in + p_out * p_out


def split_llama4(cfg: dict[str, Any]) -> MultimodalSpec:
    """Llama 4 (Scout/Maverick): MoE text model (arch.parse_config) + Llama4VisionModel + Linear projector."""
    notes: list[Message] = []
    lm = _nested_text_lm(cfg, "llama4_text", notes, force=True)
    if isinstance(cfg.get("vision_config"), dict):
        v = LLAMA4_VISION_DEFAULTS.section(cfg, "vision_config", notes)
    else:
        v = dict(LLAMA4_RELEASED_VISION)
        notes.append(msg("mm.llama4_released_vision"))
    merge = round(1 / float(v["pixel_shuffle_ratio"]))
    tower = _vit_tower(
        "vision", "vision", "llama4_vit", llama4_vision_params(v), v, merge=merge, softmax_fp32=False
    )
    # Llama4MultiModalProjector: linear_1 Linear(vision_output_dim, text hidden), bias per config
    projector = _linear(_int(v, "vision_output_dim"), lm.hidden_size, bool(v["multi_modal_projector_bias"]))
    return MultimodalSpec(
        model_type="llama4", lm=lm, towers=[tower], projector_params=projector, assumptions=notes
    )


def _llama4_grid(height: int, width: int, tile: int = 336, max_chunks: int = 16) -> tuple[int, int]:
    """Llama4ImageProcessor get_best_fit over find_supported_resolutions → (rows, cols) of tiles."""
    options = [
        (f * tile, (n // f) * tile) for n in range(max_chunks, 0, -1) for f in range(1, n + 1) if n % f == 0
    ]
    best = _best_fit_canvas(height, width, options)
    return best[0] // tile, best[1] // tile


def rule_llama4(c: _Ctx) -> None:
    v = c.vit()
    size, side = _tile_side(v, 336)
    per_tile = side**2
    tok = per_tile // (v.merge**2)  # pixel shuffle 0.5 → 144 tokens per tile

    def llama4(n: int) -> None:
        rows, cols = _llama4_grid(c.h, c.w, size)
        tiles = rows * cols + (1 if rows * cols > 1 else 0)  # + a global tile when split
        # Llama4Processor._prompt_split_image: <|image_start|>, per tile 144 <|patch|> with x/y separators
        # (rows·cols of them), <|image|> + the global tile, <|image_end|>.
        seps = rows * cols if rows * cols > 1 else 0
        tokens = tiles * tok + seps + 3
        c.add(
            "image",
            n,
            tokens,
            {"vision": tiles * (per_tile + 1)},
            msg(
                "media.llama4_global" if rows * cols > 1 else "media.llama4",
                cols=cols,
                rows=rows,
                size=size,
                tiles=tiles,
                per_tile=tok,
                markers=seps + 3,
            ),
            span={"vision": per_tile + 1},
        )

    c.still_images(llama4, "Llama 4")
