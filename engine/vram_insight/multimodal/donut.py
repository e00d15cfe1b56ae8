"""VisionEncoderDecoderModel with a Donut-Swin encoder and an MBart/BART decoder (Nougat, Donut): parameter split
and the page → encoder-state rule.

Mirrors huggingface/transformers: models/vision_encoder_decoder/modeling_vision_encoder_decoder.py,
configuration_vision_encoder_decoder.py; models/donut/modeling_donut_swin.py, configuration_donut_swin.py,
image_processing_donut.py; models/nougat/image_processing_nougat.py, processing_nougat.py; models/mbart/
modeling_mbart.py; models/bart/modeling_bart.py.
"""

from __future__ import annotations

from typing import Any

from ..arch import ConfigError
from ..messages import Message, msg, register, shown
from .base import MultimodalSpec, TowerStage, _Ctx, _int, _linear, _ln, _sub
from .decoders import BART_DECODER, _encoder_decoder_lm
from .encoders import _hierarchical_tower

register({
    "mm.donut_tied": "decoder tie_word_embeddings not set: lm_head tied to embed_tokens (PretrainedConfig default); "
    "an untied lm_head would add vocab × d_model",
    "mm.donut_widths": "encoder and decoder widths differ: enc_to_dec_proj Linear not counted",
    "mm.donut_input": "input {height}×{width} px (H×W)",
    "media.donut_page": "page resized and padded to {width}×{height} → Swin {cols}×{rows} positions → {states} "
    "encoder states for cross-attention",
})  # fmt: skip


def donut_swin_params(e: dict[str, Any]) -> int:
    """DonutSwinModel (modeling_donut_swin.py): patch Conv2d(3, C, 4, 4) + LayerNorm; per stage `depth` Swin
    blocks (LayerNorm, biased q/k/v/out, relative-position table (2w−1)²·heads, LayerNorm, fc1/fc2 of width
    mlp_ratio·dim); patch merging between stages (LayerNorm(4·dim) + Linear(4·dim, 2·dim, bias=False)).
    No final norm in the Donut variant."""
    c = _int(e, "embed_dim", default=96)
    p, w = _int(e, "patch_size", default=4), _int(e, "window_size", default=7)
    depths, heads = list(e.get("depths") or [2, 2, 6, 2]), list(e.get("num_heads") or [3, 6, 12, 24])
    ratio = float(e.get("mlp_ratio", 4.0))
    total = 3 * p * p * c + c + _ln(c)
    for s, (depth, n_heads) in enumerate(zip(depths, heads, strict=True)):
        dim = c * 2**s
        i = int(ratio * dim)
        block = (
            _ln(dim)
            + 4 * (dim * dim + dim)
            + (2 * w - 1) ** 2 * n_heads
            + _ln(dim)
            + _linear(dim, i)
            + _linear(i, dim)
        )
        total += depth * block
        if s < len(depths) - 1:
            total += _ln(4 * dim) + 4 * dim * 2 * dim
    return total


def _input_hw(e: dict[str, Any]) -> tuple[int, int]:
    """(height, width) of the encoder input: its image_size, a [H, W] list or one side (2560×1920 if absent)."""
    img = e.get("image_size") or [2560, 1920]
    return (img[0], img[1]) if isinstance(img, list) else (int(img), int(img))


def split_vision_encoder_decoder(cfg: dict[str, Any]) -> MultimodalSpec:
    """VisionEncoderDecoderModel (Nougat, Donut): donut-swin encoder + MBart decoder with cross-attention."""
    notes: list[Message] = []
    e, t = _sub(cfg, "encoder"), _sub(cfg, "decoder")
    e_type, t_type = str(e.get("model_type")), str(t.get("model_type"))
    if e_type not in ("donut-swin", "swin") or t_type not in ("mbart", "bart"):
        raise ConfigError.of(
            "error.config.encoder_decoder_pair", "config", encoder=shown(e_type), decoder=shown(t_type)
        )
    tie = t.get("tie_word_embeddings")
    if tie is None:
        tie = True
        notes.append(msg("mm.donut_tied"))
    d = _int(t, "d_model")
    if _int(e, "hidden_size", default=d) != d:
        notes.append(msg("mm.donut_widths"))
    lm = _encoder_decoder_lm(
        t,
        BART_DECODER,
        model_type=t_type,
        tie=bool(tie),
        final_norm=bool(t.get("add_final_layer_norm", t_type == "mbart")),
    )
    c = _int(e, "embed_dim", default=96)
    depths, heads = list(e.get("depths") or [2, 2, 6, 2]), list(e.get("num_heads") or [3, 6, 12, 24])
    w = _int(e, "window_size", default=7)
    ratio = float(e.get("mlp_ratio", 4.0))
    stages = [
        TowerStage(
            layers=dep,
            hidden=c * 2**s,
            heads=hd,
            intermediate=int(ratio * c * 2**s),
            position_divisor=4**s,
            window=w * w,
        )
        for s, (dep, hd) in enumerate(zip(depths, heads, strict=True))
    ]
    img_hw = _input_hw(e)
    tower = _hierarchical_tower(
        "donut_swin",
        donut_swin_params(e),
        stages,
        patch_size=_int(e, "patch_size", default=4),
        image_size=max(img_hw),
        window=w * w,
        note=msg("mm.donut_input", height=img_hw[0], width=img_hw[1]),
    )
    return MultimodalSpec(
        model_type="vision-encoder-decoder",
        lm=lm,
        towers=[tower],
        cross_attention="every_layer",
        assumptions=notes,
    )


def rule_vision_encoder_decoder(c: _Ctx) -> None:
    v = c.vit()
    ih, iw = _input_hw(_sub(c.config, "encoder"))
    p = v.patch_size or 4
    pos = (ih // p) * (iw // p)
    last = pos // (v.stages[-1].position_divisor if v.stages else 1)
    c.add(
        "image",
        c.images,
        0,
        {"vision": pos},
        msg("media.donut_page", width=iw, height=ih, cols=iw // p, rows=ih // p, states=last),
        span={"vision": v.window or pos},
        cross=last,
    )
    c.image_only()
