"""Multimodal workloads: the media tokens each model's processor makes, its vision/audio towers' weights and
activations, and cross-attention caches — added to the text workloads (inference or training) of its decoder.

The per-family rules (towers, projectors, token counts) live in :mod:`vram_insight.multimodal` (one module per family).
"""

from __future__ import annotations

from ..arch import ArchSpec, ConfigError
from ..errors import EstimateError
from ..messages import msg, register, unique
from ..quant import kv_dtype_bits
from ..resolve import ResolvedModel, resolve_model
from ..schemas import EstimateRequest, EstimateResult
from .inference import inference
from .training import training

register({
    "multimodal.media": "Media: {tokens} tokens added to each sequence; vision/audio towers and projector "
    "({params:,} parameters) in 16-bit",
    "multimodal.media_trained": "Media: {tokens} tokens added to each sequence; vision/audio towers and projector "
    "({params:,} parameters) in 16-bit, trained",
    "multimodal.media_frozen": "Media: {tokens} tokens added to each sequence; vision/audio towers and projector "
    "({params:,} parameters) in 16-bit, frozen",
})  # fmt: skip


def multimodal(req: EstimateRequest, *, layer_scan: bool = False) -> EstimateResult:
    model = resolve_model(req)
    mm = model.multimodal
    if mm is None:
        raise EstimateError(msg("error.model.no_tower"), "model")
    from ..multimodal import media_tokens, tower_activation_bytes

    try:
        tokens = media_tokens(
            model.config, req.images, req.image_width, req.image_height, req.video_frames, req.audio_seconds
        )
    except ConfigError as exc:
        raise EstimateError(str(exc), "image_width") from None
    training_task = req.task != "inference"
    tower_weight_fmt_bytes = 2 if req.precision != "fp32" else 4
    tower_params = mm.non_lm_params
    enc_act = 0
    for tower in mm.towers:
        positions = tokens.encoder_positions.get(tower.name, 0)
        if positions:
            enc_act += tower_activation_bytes(
                tower,
                positions,
                req.batch_size,
                tower_weight_fmt_bytes,
                req.attention,
                training_task and req.train_vision_tower,
                req.grad_checkpointing,
                span=tokens.attention_span.get(tower.name),
            )
    extra = {
        "weights": tower_params * tower_weight_fmt_bytes,
        "tokens": tokens.llm_tokens,
        "encoder_activations": enc_act,
        "params": tower_params,
        "tower_trainable": tower_params if training_task and req.train_vision_tower else 0,
        "kv_delta": cross_attention_kv_delta(
            model.arch, mm.cross_attention, tokens.cross_attention_positions, req
        ),
    }
    max_pos = model.arch.max_position_embeddings
    if mm.cross_attention == "every_layer" and max_pos and req.seq_len > max_pos:
        raise EstimateError(msg("error.seq_len.above_decoder_max", limit=max_pos), "seq_len")
    if req.task == "inference":
        result = inference(req.model_copy(update={"mode": "multimodal"}), model, extra, layer_scan=layer_scan)
    else:
        result = training(req.model_copy(update={"mode": "multimodal"}), model, extra)
    code = (
        "multimodal.media"
        if not training_task
        else ("multimodal.media_trained" if req.train_vision_tower else "multimodal.media_frozen")
    )
    # What the model split assumed (defaults filled in, approximate towers, modules not counted), then the media.
    tower_notes = [note for tower in mm.towers for note in tower.notes]
    result.assumptions = unique([*result.assumptions, *mm.assumptions, *tower_notes, *tokens.notes,
                                 msg(code, tokens=tokens.llm_tokens, params=tower_params)])  # fmt: skip
    result.details["media_tokens"] = tokens.llm_tokens
    result.details["encoder_positions"] = dict(tokens.encoder_positions)
    result.details["tower_params"] = {t.name: t.params for t in mm.towers} | {
        "projector": mm.projector_params
    }
    return result


def cross_attention_kv_delta(a: ArchSpec, mode: str, positions: int, req: EstimateRequest) -> int:
    """KV bytes of cross-attention over encoder states, relative to a plain self-attention cache.

    'interleaved' (Llama-3.2-Vision): the cross-attention layers cache K/V of the vision states, not of the
    text (modeling_mllama.py MllamaTextCrossAttention). 'every_layer' (Whisper, Nougat, Florence-2): each decoder
    layer also caches cross-attention K/V over the encoder states (EncoderDecoderCache).
    """
    if mode == "none" or not positions:
        return 0
    bits = kv_dtype_bits(req.kv_cache_dtype)
    per_layer_token = 2 * a.num_kv_heads * a.head_dim
    cross_layers = [layer for layer in a.layers if layer.cross_attention]
    seq = req.seq_len
    if mode == "interleaved":
        delta_tokens = positions - seq
        count = len(cross_layers)
    else:
        delta_tokens = positions
        count = a.num_layers
    return int(per_layer_token * count * delta_tokens * bits * req.batch_size / 8) // req.tp


def towers_as_text_model(model: ResolvedModel) -> dict[str, int] | None:
    """A multimodal model used for text only still loads its towers: count their weights, no media tokens."""
    mm = model.multimodal
    if mm is None:
        return None
    params = mm.non_lm_params
    return {"weights": 2 * params, "params": params}
