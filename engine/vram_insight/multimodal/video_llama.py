"""Video-LLaMA (DAMO-NLP-SG remote code, no HF config.json): LLaMA-7B + frozen EVA-CLIP ViT-g + BLIP-2 Q-Formers +
ImageBind-Huge audio encoder; parameter split (ViT and LM exact, the rest approximate) and media → query-token
rule.

Mirrors the DAMO-NLP-SG Video-LLaMA remote code, LAVIS eva_vit.py (EVA-CLIP ViT-g as BLIP-2 builds it) and
ImageBind imagebind_model.py; there is no huggingface/transformers counterpart.
"""

from __future__ import annotations

from typing import Any

from ..messages import msg, register
from .base import MultimodalSpec, Tower, _Ctx, _int, _ln, _sub, _vit_positions
from .decoders import _text_lm
from .encoders import _vit_layer

register({
    "mm.video_llama": "Video-LLaMA: LM = LLaMA-7B shape (LlamaConfig defaults), EVA-CLIP ViT-g/14 exact; Q-Formers "
    "and the ImageBind-Huge audio encoder are approximate (not in transformers, not verified)",
    "mm.imagebind_approx": "parameter count approximate (ImageBind-Huge audio branch)",
    "media.video_llama_image": "image → 32 Q-Former query tokens",
    "media.video_llama_video": "{frames} frames at {size} px → video Q-Former → 32 tokens per clip",
    "media.video_llama_audio": "audio → ImageBind → audio Q-Former → 8 tokens (approximate)",
})  # fmt: skip


def eva_vit_g_params(
    width: int = 1408, depth: int = 39, mlp: int = 6144, patch: int = 14, img: int = 224
) -> int:
    """EVA-CLIP ViT-g/14 as BLIP-2 / Video-LLaMA build it (LAVIS eva_vit.py, depth 40 minus the last layer):
    patch Conv2d with bias, cls_token, pos_embed (N+1)·d; blocks: LayerNorm, qkv without bias + q_bias + v_bias,
    proj, LayerNorm, fc1/fc2 (mlp_ratio 4.3637 → 6144); plus BLIP-2's ln_vision LayerNorm."""
    n = (img // patch) ** 2
    emb = 3 * patch * patch * width + width + width + (n + 1) * width
    block = _vit_layer(width, mlp, k_bias=False)
    return emb + depth * block + _ln(width)


def split_video_llama(cfg: dict[str, Any]) -> MultimodalSpec:
    """Video-LLaMA (DAMO-NLP-SG remote code, no HF config.json): Vicuna/LLaMA-2-7B + frozen EVA-CLIP ViT-g +
    BLIP-2 Q-Formers (image, video, audio) + ImageBind-Huge audio encoder. Only the ViT and the LM are exact."""
    notes = [msg("mm.video_llama")]
    lm = _text_lm({"model_type": "llama"}, {}, "llama", [])
    img = _int(_sub(cfg, "vis_processor"), "image_size", default=_int(cfg, "img_size", default=224))
    vision = Tower(
        name="vision",
        kind="vision",
        arch="eva_vit_g",
        softmax_fp32=False,
        params=eva_vit_g_params(img=img),
        layers=39,
        hidden=1408,
        heads=16,
        intermediate=6144,
        patch_size=14,
        image_size=img,
    )
    towers = [vision]
    if cfg.get("equip_audio_branch", True):
        # ImageBind-Huge audio ViT (imagebind_model.py: 12 blocks, width 768, 12 heads, MLP 4×) ≈ 86M — approximate.
        towers.append(
            Tower(
                name="audio",
                kind="audio",
                arch="imagebind_audio",
                softmax_fp32=False,
                params=85_000_000,
                layers=12,
                hidden=768,
                heads=12,
                intermediate=3072,
                notes=[msg("mm.imagebind_approx")],
            )
        )
    # BLIP-2 Q-Former (BERT-base with cross-attention every 2nd layer, 32 queries) ≈ 105M, video Q-Former
    # (2 layers) ≈ 15M, audio Q-Former ≈ 15M, linear projections to the LM — approximate.
    other = {"qformers_and_projections_approx": 105_000_000 + 2 * 15_000_000 + 2 * 768 * lm.hidden_size}
    return MultimodalSpec(
        model_type="video_llama", lm=lm, towers=towers, other_params=other, assumptions=notes
    )


def rule_video_llama(c: _Ctx) -> None:
    v = c.vit()
    per_frame = _vit_positions(v, cls=True)
    # VideoLLAMA: image → BLIP-2 Q-Former 32 queries; video → per-frame Q-Former + video Q-Former
    # (num_video_query_token 32) → 32 tokens per clip; audio → ImageBind + audio Q-Former → 8 tokens.
    c.add("image", c.images, 32, {"vision": per_frame}, msg("media.video_llama_image"))
    c.add(
        "video",
        1 if c.frames else 0,
        32,
        {"vision": c.frames * per_frame},
        msg("media.video_llama_video", frames=c.frames, size=v.image_size),
        span={"vision": per_frame},
    )
    if c.seconds > 0 and c.audio is not None:
        c.add("audio", 1, 8, {"audio": 229}, msg("media.video_llama_audio"))
