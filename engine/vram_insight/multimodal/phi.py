"""Phi-3 / Phi-3.5-vision (CLIP ViT-L/14-336 + HD transform) and Phi-4-multimodal (SigLIP-so400m + conformer
speech encoder + vision/speech LoRA adapters); parameter split and image / audio → token rules.

Mirrors huggingface/transformers: models/phi4_multimodal/modeling_phi4_multimodal.py,
configuration_phi4_multimodal.py, image_processing_phi4_multimodal.py, feature_extraction_phi4_multimodal.py,
processing_phi4_multimodal.py; the Phi-3-vision remote code (modeling_phi3_v.py, image_embedding_phi3_v.py,
image_processing_phi3_v.py) and the Phi-4-multimodal remote code (modeling_phi4mm.py).
"""

from __future__ import annotations

import math
from typing import Any

from ..arch import ArchSpec
from ..messages import Message, msg, register
from .base import MultimodalSpec, Tower, _closest_grid, _Ctx, _int, _linear, _ln, _sub, _two_layer_mlp
from .decoders import _top_level_text_lm
from .encoders import _clip_tower, _siglip_tower

register({
    "mm.phi3v_encoder": "Phi-3-vision: image encoder = openai/clip-vit-large-patch14-336 (ViT-L/14, 336 px)",
    "mm.conformer": "conformer block = 2 half-step FFNs + self-attention (T5 relative bias) + depthwise conv module",
    "mm.phi4_lora": "Phi-4-multimodal: LoRA ranks vision r=256, speech r=320 (microsoft/Phi-4-multimodal-instruct "
    "config) assumed — the adapters are stored with the checkpoint and loaded",
    "media.phi3v": "HD transform (num_crops {num_crops}) → {width}×{height} px = {crops} crops + global → {tokens} "
    "tokens; CLIP runs {slots} × 577 positions",
    "media.phi4": "dynamic HD: {crops} crops of 448 px + global → {tokens} tokens; SigLIP runs {views} × 1024 "
    "positions",
    "media.phi4_audio": "{seconds} s → {frames} frames → {tokens} tokens (80 ms each)",
})  # fmt: skip


def split_phi3_v(cfg: dict[str, Any]) -> MultimodalSpec:
    """Phi-3/3.5-vision remote code: Phi-3-mini LM + CLIP ViT-L/14-336 (whole CLIPVisionModel) + HD projector."""
    notes: list[Message] = []
    lm = _top_level_text_lm(cfg, "phi3", notes, ("embd_layer", "img_processor"))
    # img_processor: CLIPVisionModel(clip-vit-large-patch14-336) — ViT-L/14 dims (config of that repo).
    v = {
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "image_size": 336,
        "patch_size": 14,
    }
    notes.append(msg("mm.phi3v_encoder"))
    tower = _clip_tower(v, merge=2)
    d = _int(_sub(cfg, "img_processor"), "image_dim_out", default=1024)
    # Phi3ImageEmbedding: img_projection Linear(4d, h) → GELU → Linear(h, h); glb_GN (4d) + sub_GN (4d).
    projector = _two_layer_mlp(4 * d, lm.hidden_size) + 2 * 4 * d
    return MultimodalSpec(
        model_type="phi3_v",
        lm=lm,
        towers=[tower],
        projector_params=projector,
        assumptions=notes,
    )


def _phi4_lora_params(lm: ArchSpec, rank: int) -> int:
    """LoRA on qkv_proj, o_proj, gate_up_proj, down_proj of every layer: r·(in + out) per adapted Linear."""
    h, i, q, kv = lm.hidden_size, lm.intermediate_size, lm.q_dim, lm.kv_dim
    per_layer = rank * ((h + q + 2 * kv) + (q + h) + (h + 2 * i) + (i + h))
    return lm.num_layers * per_layer


def split_phi4mm(cfg: dict[str, Any]) -> MultimodalSpec:
    """Phi-4-multimodal (remote modeling_phi4mm.py = transformers Phi4Multimodal): Phi-4-mini LM + SigLIP-400M
    @448 with pooling head + conformer speech encoder + 2 MLP projector pairs + vision/speech LoRA adapters."""
    notes: list[Message] = []
    lm = _top_level_text_lm(
        cfg, "phi3", notes, ("embd_layer", "audio_processor", "vision_lora", "speech_lora")
    )
    h = lm.hidden_size
    # Vision: Phi4MultimodalVisionModel = SigLIP-so400m (27 layers, 1152, MLP 4304) at crop_size 448 with head
    # (configuration_phi4_multimodal.py Phi4MultimodalVisionConfig defaults).
    img_layer = _sub(_sub(cfg, "embd_layer"), "image_embd_layer")
    v = {
        "hidden_size": 1152,
        "intermediate_size": 4304,
        "num_hidden_layers": 27,
        "num_attention_heads": 16,
        "image_size": _int(img_layer, "crop_size", default=448),
        "patch_size": 14,
        "vision_use_head": True,
    }
    vision = _siglip_tower(v, use_head=True, arch="siglip_vit", merge=2)
    # Phi4MultimodalImageEmbedding: global/sub feature separators (v each) + Linear(v, h) → GELU → Linear(h, h).
    vision_proj = 2 * vision.hidden + _two_layer_mlp(vision.hidden, h)
    # Audio: Phi4MultimodalAudioModel (conformer "cascades").
    ac = _sub(_sub(cfg, "audio_processor"), "config")
    d = _int(ac, "attention_dim", default=1024)
    lu, heads = _int(ac, "linear_units", default=1536), _int(ac, "attention_heads", default=16)
    blocks, kernel = _int(ac, "num_blocks", default=24), _int(ac, "kernel_size", default=3)
    mels = _int(ac, "input_size", default=80)
    c = _int(_sub(ac, "nemo_conv_settings"), "conv_channels", default=d)
    ext = _int(ac, "ext_pw_out_channel", default=d)
    dws = _int(ac, "depthwise_seperable_out_channel", default=d)
    t5 = _sub(ac, "relative_attention_bias_args")
    max_dist = _int(t5, "t5_bias_max_distance", default=1000)
    symmetric = bool(t5.get("t5_bias_symmetric", False))
    # NemoConvSubsampling (time_reduction 8 = 3 stride-2 stages): Conv2d(1, c, 3) + 2 × (depthwise Conv2d(c, c, 3)
    # + pointwise Conv2d(c, c, 1)), all biased; out Linear(c · ceil(mels / 8), d).
    embed = _linear(9, c) + 2 * (_linear(9, c) + _linear(c, c)) + _linear(c * math.ceil(mels / 8), d)
    ffn = _ln(d) + _linear(d, 2 * lu) + _linear(lu, d)  # feed_forward_in/out: LayerNorm, GLU gate_up, down
    conv = _ln(d) + 2 * d + _linear(d, 2 * ext) + _linear(kernel, d) + _linear(d, dws) + _linear(d, d)
    block = 2 * ffn + (4 * d * d + 4 * d) + conv + 2 * _ln(d)
    rel_bias = max_dist * (1 if symmetric else 2) * heads  # T5RelativeAttentionLogitBias bias_values
    audio_params = embed + rel_bias + blocks * block
    audio = Tower(
        name="audio",
        kind="audio",
        arch="conformer",
        params=audio_params,
        layers=blocks,
        hidden=d,
        heads=heads,
        intermediate=lu,
        gated_mlp=True,
        num_mel_bins=mels,
        # second FFN (LN in, GLU in/out 2·lu + lu, product lu) + conv module (~6·d) kept for backward per position
        extra_saved_per_layer=2 * d + 4 * lu + 6 * d,
        notes=[msg("mm.conformer")],
    )
    # AudioEmbedding projections for 'speech' and 'vision' modes: Linear(d, h) → GELU → Linear(h, h) each.
    audio_proj = 2 * _two_layer_mlp(d, h)
    vision_r = _int(_sub(cfg, "vision_lora"), "r", default=256)
    speech_r = _int(_sub(cfg, "speech_lora"), "r", default=320)
    if "vision_lora" not in cfg or "speech_lora" not in cfg:
        notes.append(msg("mm.phi4_lora"))
    other = {"vision_lora": _phi4_lora_params(lm, vision_r), "speech_lora": _phi4_lora_params(lm, speech_r)}
    return MultimodalSpec(
        model_type="phi4mm",
        lm=lm,
        towers=[vision, audio],
        projector_params=vision_proj + audio_proj,
        other_params=other,
        assumptions=notes,
    )


def _phi3v_hd(width: int, height: int, hd_num: int) -> tuple[int, int]:
    """Phi-3-vision HD_transform (remote image_processing_phi3_v.py): the largest scale with
    scale·⌈scale/ratio⌉ ≤ hd_num, width = 336·scale, height padded up to a multiple of 336 (computed on the
    landscape orientation). Returns (width, height)."""
    trans = width < height
    if trans:
        width, height = height, width
    ratio = width / height
    scale = 1
    while scale * math.ceil(scale / ratio) <= hd_num:
        scale += 1
    scale -= 1
    new_w = int(scale * 336)
    new_h = math.ceil(int(new_w / ratio) / 336) * 336
    return (new_h, new_w) if trans else (new_w, new_h)


PHI3V_NUM_CROPS = 4  # Phi-3.5-vision-instruct preprocessor_config num_crops (card: 16 for single images)


def rule_phi3_v(c: _Ctx) -> None:
    def phi3v(n: int) -> None:
        nw, nh = _phi3v_hd(c.w, c.h, PHI3V_NUM_CROPS)
        # Phi3VImageProcessor: ((h/336)·(w/336) + 1)·144 + 1 + (h/336 + 1)·12 (sub-crops + global, separator,
        # newlines); the CLIP tower runs num_crops + 1 padded crop slots of 577 positions.
        tokens = ((nh // 336) * (nw // 336) + 1) * 144 + 1 + (nh // 336 + 1) * 12
        c.add(
            "image",
            n,
            tokens,
            {"vision": (PHI3V_NUM_CROPS + 1) * 577},
            msg(
                "media.phi3v",
                num_crops=PHI3V_NUM_CROPS,
                width=nw,
                height=nh,
                crops=(nw // 336) * (nh // 336),
                tokens=tokens,
                slots=PHI3V_NUM_CROPS + 1,
            ),
            span={"vision": 577},
        )

    c.still_images(phi3v, "Phi-3.5-vision")


def _phi4_image_tokens(
    width: int, height: int, crop: int = 448, patch: int = 14, max_num: int = 36
) -> tuple[int, int]:
    """Phi4MultimodalImageProcessor.dynamic_preprocess + num_img_tokens → (tokens, crops)."""
    w_crops, h_crops = math.ceil(width / crop), math.ceil(height / crop)
    cols, rows = (
        _closest_grid(width, height, crop, max_num) if w_crops * h_crops > max_num else (w_crops, h_crops)
    )
    tw, th = crop * cols, crop * rows
    if tw / width < th / height:
        pad_w, pad_h = 0, th - int(height * tw / width)
    else:
        pad_w, pad_h = tw - int(width * th / height), 0
    side = crop // patch  # 32 patches per crop side
    valid_cols = side * cols - (pad_w // patch if pad_w >= patch else 0)
    valid_rows = side * rows - (pad_h // patch if pad_h >= patch else 0)
    dc, dr = math.ceil(valid_cols / 2), math.ceil(valid_rows / 2)  # mask[0::2, 0::2] (2×2 pooling)
    # 256 global + 1 separator + valid pooled sub-crop tokens + 1 newline per pooled row + 16 global newlines
    return 256 + 1 + dc * dr + dr + 16, cols * rows


def rule_phi4mm(c: _Ctx) -> None:
    def phi4(n: int) -> None:
        tokens, crops = _phi4_image_tokens(c.w, c.h)
        c.add(
            "image",
            n,
            tokens,
            {"vision": (1 + crops) * 1024},
            msg("media.phi4", crops=crops, tokens=tokens, views=1 + crops),
            span={"vision": 1024},
        )

    phi4(c.images)
    c.frames_as_images(phi4, "Phi-4-multimodal")
    if c.seconds > 0:
        # Phi4MultimodalFeatureExtractor: 16 kHz, win 400, hop 160 → frames; _compute_audio_embed_size:
        # ⌈frames / 8⌉ (audio_compression_rate 8 → one token per 80 ms); the conformer runs on the same positions.
        samples = round(c.seconds * 16000)
        frames = max(0, (samples - 400) // 160 + 1)
        tokens = math.ceil(frames / 8)
        c.add(
            "audio",
            1,
            tokens,
            {"audio": tokens},
            msg("media.phi4_audio", seconds=f"{c.seconds:g}", frames=frames, tokens=tokens),
        )
