"""Florence-2: DaViT vision encoder + projector + a BART-style encoder-decoder language model; parameter split and
the image → visual-token rule.

Mirrors huggingface/transformers: models/florence2/modeling_florence2.py, configuration_florence2.py,
processing_florence2.py; models/bart/modeling_bart.py.
"""

from __future__ import annotations

import math
from typing import Any

from ..messages import Message, msg, register
from .base import MultimodalSpec, TowerStage, _Ctx, _int, _linear, _ln, _sub
from .decoders import BART_DECODER, _encoder_decoder_lm
from .encoders import _hierarchical_tower, _vit_layer

register({
    "mm.davit": "DaViT: each depth unit = spatial-window block + channel-attention block",
    "mm.florence2": "Florence-2: language model = BART-style encoder (counted in lm.extra_params['text_encoder']) + "
    "decoder with cross-attention; image tokens enter the text encoder",
    "media.florence2": "resized to 768×768 → DaViT ({positions} positions at stride 4) → {pooled} + 1 pooled = "
    "{tokens} tokens into the text encoder (the decoder cross-attends to these plus the prompt)",
})  # fmt: skip


def davit_params(v: dict[str, Any]) -> int:
    """Florence-2 DaViT (modeling_florence2.py Florence2VisionBackbone): per stage a conv embedding
    (Conv2d(k, stride) with bias; LayerNorm before it when patch_prenorm, else after) and `depth` pairs of
    spatial-window and channel-attention blocks; each block = 2 depthwise ConvPosEnc (9·d + d),
    LayerNorm + biased qkv/proj, LayerNorm + fc1/fc2 (4·d) → 12d² + 33d."""
    dims, depths = list(v.get("dim_embed") or [256, 512, 1024, 2048]), list(v.get("depths") or [1, 1, 9, 1])
    kernels = list(v.get("patch_size") or [7, 3, 3, 3])
    prenorm = list(v.get("patch_prenorm") or [False, True, True, True])
    ratio = float(v.get("mlp_ratio", 4.0))
    total, c_in = 0, 3
    for dim, depth, k, pre in zip(dims, depths, kernels, prenorm, strict=True):
        total += c_in * k * k * dim + dim + (_ln(c_in) if pre else _ln(dim))
        i = int(ratio * dim)
        block = 2 * (9 * dim + dim) + _ln(dim) + _linear(dim, 3 * dim) + _linear(dim, dim) + _ln(dim)
        block += _linear(dim, i) + _linear(i, dim)
        total += depth * 2 * block
        c_in = dim
    return total


def split_florence2(cfg: dict[str, Any]) -> MultimodalSpec:
    """Florence-2 (transformers Florence2ForConditionalGeneration): DaViT + projector + BART-style
    encoder-decoder language model (shared, tied embeddings)."""
    notes: list[Message] = []
    t = _sub(cfg, "text_config")
    v = _sub(cfg, "vision_config")
    d, n_enc, f_enc = _int(t, "d_model"), _int(t, "encoder_layers"), _int(t, "encoder_ffn_dim")
    # BartEncoder: learned positions (max_pos + 2) · d, layernorm_embedding, layers (biased q/k/v/o, fc1/fc2,
    # 2 LayerNorm); it reads the 577 image tokens + the task prompt.
    text_encoder = (_int(t, "max_position_embeddings") + 2) * d + _ln(d) + n_enc * _vit_layer(d, f_enc)
    lm = _encoder_decoder_lm(
        t,
        BART_DECODER,
        model_type="florence2_language",
        tie=True,
        final_norm=False,
        extra={"text_encoder": text_encoder},
    )
    dims = list(v.get("dim_embed") or [256, 512, 1024, 2048])
    depths, heads = list(v.get("depths") or [1, 1, 9, 1]), list(v.get("num_heads") or [8, 16, 32, 64])
    strides = list(v.get("patch_stride") or [4, 2, 2, 2])
    w = _int(v, "window_size", default=12)
    divisor, stages = 1, []
    for s, (dim, dep, hd) in enumerate(zip(dims, depths, heads, strict=True)):
        divisor = 1 if s == 0 else divisor * strides[s] ** 2
        stages.append(
            TowerStage(
                layers=2 * dep,
                hidden=dim,
                heads=hd,
                intermediate=4 * dim,
                position_divisor=divisor,
                window=w * w,
            )
        )
    tower = _hierarchical_tower(
        "davit",
        davit_params(v),
        stages,
        patch_size=strides[0] * math.prod(strides[1:]),
        image_size=768,
        window=w * w,
        note=msg("mm.davit"),
    )
    proj_dim = _int(v, "projection_dim", default=_int(cfg, "projection_dim", default=d))
    pos = _sub(v, "image_pos_embed")
    n_pos = _int(pos, "max_pos_embeddings", default=50)
    # image_projection (dims[-1] × proj, no bias) + image_proj_norm LayerNorm + LearnedAbsolutePositionEmbedding2D
    # (row Embedding(n, D/2) + column Embedding(n, D − D/2), D = dims[-1]); the cosine temporal embedding is fixed.
    projector = dims[-1] * proj_dim + _ln(proj_dim) + n_pos * dims[-1]
    notes.append(msg("mm.florence2"))
    return MultimodalSpec(
        model_type="florence2",
        lm=lm,
        towers=[tower],
        projector_params=projector,
        cross_attention="every_layer",
        assumptions=notes,
    )


def rule_florence2(c: _Ctx) -> None:
    v = c.vit()
    pos, last = (768 // 4) ** 2, (768 // 32) ** 2
    # Florence2Processor: 768×768 input; image_feature_source [spatial_avg_pool, temporal_avg_pool] → 1 + 576
    # visual tokens prepended to the prompt in the BART encoder.
    c.add(
        "image",
        c.images,
        last + 1,
        {"vision": pos},
        msg("media.florence2", positions=pos, pooled=last, tokens=last + 1),
        span={"vision": v.window or pos},
        cross=last + 1,
    )
    c.image_only()
