"""Llama-3.2-Vision (mllama): a tiled ViT with gated global layers, read by gated cross-attention layers
interleaved in a Llama decoder; parameter split and image → tile / token rule.

Mirrors huggingface/transformers: models/mllama/modeling_mllama.py, configuration_mllama.py,
image_processing_mllama.py, processing_mllama.py.
"""

from __future__ import annotations

from typing import Any

from ..messages import Message, msg, register
from .base import MultimodalSpec, Tower, _best_fit_canvas, _Ctx, _int, _linear, _ln, _sub, _tile_side
from .decoders import _nested_text_lm
from .encoders import _vit_layer

register({
    "mm.mllama_tiles": "up to {tiles} tiles per image; all {tiles} tile slots run through the ViT (padding tiles "
    "masked)",
    "mm.mllama_cross": "Llama-3.2-Vision: {cross} of {layers} decoder layers are cross-attention layers; they cache "
    "K/V of the vision states (not of text tokens)",
    "media.mllama": "canvas {width}×{height} → {used} of {tiles} tiles used; 1 <|image|> token; the decoder "
    "cross-attends to {tiles} × {per_tile} = {states} vision states",
})  # fmt: skip


def mllama_vision_params(v: dict[str, Any]) -> int:
    """MllamaVisionModel (modeling_mllama.py): patch Conv2d (no bias), class_embedding, gated positional
    embedding (gate + N·h + (A+1)·T·N·h tile table), gated pre/post tile embeddings ((A+1)·T·h + gate each),
    layernorm_pre/post, num_hidden_layers local layers (q/k/v/o without bias, biased fc1/fc2, 2 LayerNorm) and
    num_global_layers gated layers (+ gate_attn, gate_ffn). A = number of supported aspect ratios."""
    h, i = _int(v, "hidden_size", default=1280), _int(v, "intermediate_size", default=5120)
    p, img = _int(v, "patch_size", default=14), _int(v, "image_size", default=560)
    local, glob = _int(v, "num_hidden_layers", default=32), _int(v, "num_global_layers", default=8)
    tiles = _int(v, "max_num_tiles", default=4)
    ratios = v.get("supported_aspect_ratios") or _mllama_aspect_ratios(tiles)
    a = len(ratios)
    n = (img // p) ** 2 + 1
    layer = _vit_layer(h, i, qkv_bias=False, o_bias=False)
    total = 3 * p * p * h + h
    total += 1 + n * h + (a + 1) * tiles * n * h  # MllamaPrecomputedPositionEmbedding
    total += 2 * ((a + 1) * tiles * h + 1)  # MllamaPrecomputedAspectRatioEmbedding × 2 (pre, post)
    total += 2 * _ln(h)
    total += local * layer + glob * (layer + 2)
    return total


def _mllama_aspect_ratios(max_tiles: int) -> list[tuple[int, int]]:
    """get_all_supported_aspect_ratios (image_processing_mllama.py): all (w, h) with w·h ≤ max_tiles."""
    return [(w, h) for w in range(1, max_tiles + 1) for h in range(1, max_tiles + 1) if w * h <= max_tiles]


def split_mllama(cfg: dict[str, Any]) -> MultimodalSpec:
    """Llama-3.2-Vision: Llama decoder with gated cross-attention layers reading the tiled ViT's states."""
    notes: list[Message] = []
    lm = _nested_text_lm(cfg, "llama", notes, force=True)
    cross = set(_sub(cfg, "text_config").get("cross_attention_layers") or [])
    layers = [layer.model_copy(update={"cross_attention": i in cross}) for i, layer in enumerate(lm.layers)]
    # MllamaTextModel: embed_tokens has vocab + 8 rows; each MllamaCrossAttentionDecoderLayer has the same q/k/v/o
    # shapes as a self-attention layer plus q_norm/k_norm (RMSNorm over head_dim) and two scalar tanh gates.
    extra = {
        "embed_tokens_extra_rows": 8 * lm.hidden_size,
        "cross_attention_norms_and_gates": len(cross) * (2 * lm.head_dim + 2),
    }
    lm = lm.model_copy(update={"layers": layers, "extra_params": {**lm.extra_params, **extra}})
    v = _sub(cfg, "vision_config")
    tiles = _int(v, "max_num_tiles", default=4)
    h = _int(v, "hidden_size", default=1280)
    tower = Tower(
        name="vision",
        kind="vision",
        arch="mllama_vit",
        params=mllama_vision_params(v),
        layers=_int(v, "num_hidden_layers", default=32) + _int(v, "num_global_layers", default=8),
        hidden=h,
        heads=_int(v, "attention_heads", "num_attention_heads", default=16),
        intermediate=_int(v, "intermediate_size", default=5120),
        patch_size=_int(v, "patch_size", default=14),
        image_size=_int(v, "image_size", default=560),
        notes=[msg("mm.mllama_tiles", tiles=tiles)],
    )
    projector = _linear(_int(v, "vision_output_dim", default=7680), lm.hidden_size)  # multi_modal_projector
    notes.append(msg("mm.mllama_cross", cross=len(cross), layers=lm.num_layers))
    return MultimodalSpec(
        model_type="mllama",
        lm=lm,
        towers=[tower],
        projector_params=projector,
        cross_attention="interleaved",
        assumptions=notes,
    )


def _mllama_canvas(height: int, width: int, max_tiles: int, tile: int) -> tuple[int, int]:
    """get_optimal_tiled_canvas (image_processing_mllama.py): smallest upscale ≥ 1, else the largest downscale;
    ties → smallest area. Returns (height, width)."""
    return _best_fit_canvas(
        height, width, [(a * tile, b * tile) for a, b in _mllama_aspect_ratios(max_tiles)]
    )


def rule_mllama(c: _Ctx) -> None:
    tiles = _int(_sub(c.config, "vision_config"), "max_num_tiles", default=4)
    size, side = _tile_side(c.vit(), 560)
    per_tile = side**2 + 1  # 1600 patches + CLS
    padded = per_tile + (8 - per_tile % 8) % 8  # MllamaVisionModel pads each tile to a multiple of 8
    ch, cw = _mllama_canvas(c.h, c.w, tiles, size)

    def mllama(n: int) -> None:
        # pad_batches_and_tiles pads every image to max_num_tiles, so the ViT always runs all tile slots; the
        # text holds one <|image|> token and the cross-attention layers read tiles × 1601 states.
        c.add(
            "image",
            n,
            1,
            {"vision": tiles * padded},
            msg(
                "media.mllama",
                width=cw,
                height=ch,
                used=(ch // size) * (cw // size),
                tiles=tiles,
                per_tile=per_tile,
                states=tiles * per_tile,
            ),
            cross=tiles * per_tile,
        )

    c.still_images(mllama, "Llama-3.2-Vision")
