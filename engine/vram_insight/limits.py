"""Bounds on every config.json dimension the engine reads, checked before any per-layer work.

A config.json is untrusted input: a value far beyond any real model would only produce a meaningless number,
and the engine builds per-layer lists (and the multimodal rules loop over tiles and slices), so an unbounded
value would also take unbounded time. The engine runs in Pyodide without threads or signals, so speed is
guaranteed by these bounds, not by timers. Each bound has headroom of several times what the largest released
model uses (``real``, cited); a value outside is rejected with the key's name, before parsing starts.

The check walks the whole config (text, vision, audio and other nested configs alike): a key means the same
wherever it appears.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .messages import ConfigError, shown

MAX_DEPTH = 16  # real configs nest 4 levels (config → vision_config → rope_scaling → mrope_section)
# Keys + list entries of one config: real configs have under 200 (Phi-4-multimodal: 191), id2label tables ~2,000.
MAX_NODES = 20_000
MAX_LIST = 4096  # entries in one list; per-layer lists hold one entry per layer (≤ MAX_LAYERS)
MAX_LAYERS = 1024  # ≈ 8 × Llama 3.1 405B's 126 decoder layers (config.json num_hidden_layers)


@dataclass(frozen=True)
class Bound:
    lo: int | float
    hi: int | float
    real: int | float  # the largest value a released model uses
    integer: bool = True
    list_ok: bool = False  # may also be a list of such values (Swin depths, (h, w) image sizes)
    list_len: int | None = None  # ... of exactly this many values


# Sources of ``real``: config.json of the cited Hugging Face repositories.
_LAYERS = Bound(1, MAX_LAYERS, 126)  # meta-llama/Llama-3.1-405B num_hidden_layers
_LAYERS0 = Bound(0, MAX_LAYERS, 126)
_WIDTH = Bound(1, 1 << 16, 16_384)  # Llama-3.1-405B hidden_size (PaLM 540B: 18,432)
_FFN = Bound(1, 1 << 18, 53_248)  # Llama-3.1-405B intermediate_size
_FFN0 = Bound(0, 1 << 18, 53_248)
_HEADS = Bound(1, 1024, 128)  # Llama-3.1-405B and DeepSeek-V3 num_attention_heads
_HEAD_DIM = Bound(1, 4096, 256)  # google/gemma-7b head_dim
_RANK = Bound(1, 1 << 16, 1536)  # DeepSeek-V3 q_lora_rank (kv_lora_rank 512)
_VOCAB = Bound(1, 1 << 22, 262_144)  # google/gemma-3-27b-it vocab_size
_EXPERTS = Bound(0, 4096, 384)  # moonshotai/Kimi-K2-Instruct n_routed_experts
_TOP_K = Bound(1, 4096, 8)  # DeepSeek-V3 num_experts_per_tok
_STEP = Bound(0, MAX_LAYERS, 2)  # Llama-4-Maverick interleave_moe_layer_step; 0 is read as 1
_TOKENS = Bound(0, 1 << 27, 10_485_760)  # meta-llama/Llama-4-Scout max_position_embeddings (10M)
_POSITIONS = Bound(1, 1 << 27, 10_485_760)
_PIXELS = Bound(
    1, 1 << 16, 2560, list_ok=True, list_len=2
)  # naver-clova-ix/donut-base image_size [2560, 1920]
_PATCH = Bound(1, 1024, 16, list_ok=True)  # Llama-4 / Pixtral patch_size (Florence-2 DaViT [7, 3, 3, 3])
_MERGE = Bound(1, 64, 2)  # Qwen2.5-VL spatial_merge_size, temporal_patch_size; Idefics3 scale_factor
_MEDIA_TOKENS = Bound(1, 1 << 16, 256)  # Gemma 3 mm_tokens_per_image, PaliGemma num_image_tokens
_QUERIES = Bound(1, 4096, 64)  # MiniCPM-V query_num (BLIP-2 Q-Former 32 queries)
_TILES = Bound(1, 64, 9)  # MiniCPM-V max_slice_nums 9, Llama-3.2-Vision max_num_tiles 4
_CHANNELS = Bound(1, 1024, 128)  # Whisper-large-v3 num_mel_bins 128; image channels 3
_RATIO = Bound(1 / 16, 1.0, 0.5, integer=False)  # InternVL downsample_ratio, Llama 4 pixel_shuffle_ratio


def _all(names: str, bound: Bound) -> dict[str, Bound]:
    """The same bound for every (space-separated) key name: the families' names for one dimension."""
    return dict.fromkeys(names.split(), bound)


INT_BOUNDS: dict[str, Bound] = {
    # Depth.
    **_all("num_hidden_layers num_layers n_layer encoder_layers decoder_layers depth", _LAYERS),
    **_all("num_global_layers resampler_depth first_k_dense_replace max_window_layers", _LAYERS0),
    "depths": Bound(0, MAX_LAYERS, 18, list_ok=True),  # Swin stage depths [2, 2, 18, 2]
    # Widths.
    **_all(
        "hidden_size n_embd d_model embed_dim projection_dim out_hidden_size vision_output_dim output_dim "
        "projector_input_dim projector_output_dim attention_dim ext_pw_out_channel "
        "depthwise_seperable_out_channel projection_size conv_channels image_dim_out",
        _WIDTH,
    ),
    "dim_embed": Bound(1, 1 << 16, 2048, list_ok=True),  # Florence-2 DaViT stage widths
    **_all(
        "intermediate_size ffn_hidden_size intermediate_size_mlp ff_intermediate_size moe_intermediate_size "
        "encoder_ffn_dim decoder_ffn_dim linear_units",
        _FFN,
    ),
    "shared_expert_intermediate_size": _FFN0,
    # Attention.
    **_all(
        "num_attention_heads n_head encoder_attention_heads decoder_attention_heads attention_heads "
        "resampler_n_heads num_key_value_heads num_kv_heads multi_query_group_num",
        _HEADS,
    ),
    "num_heads": Bound(1, 1024, 64, list_ok=True),  # Swin/DaViT per-stage heads are lists
    **_all("head_dim kv_channels resampler_head_dim qk_nope_head_dim qk_rope_head_dim v_head_dim", _HEAD_DIM),
    **_all("kv_lora_rank q_lora_rank", _RANK),
    **_all("sliding_window attention_chunk_size sliding_window_size", _TOKENS),
    "sliding_window_pattern": Bound(0, MAX_LAYERS, 6),  # Gemma 3: 5 local : 1 global; 0 is read as 6
    **_all(
        "max_position_embeddings seq_length n_positions max_source_positions max_target_positions "
        "num_position_embeddings max_pos_embeddings original_max_position_embeddings",
        _POSITIONS,
    ),
    # Vocabulary and experts.
    **_all("vocab_size padded_vocab_size", _VOCAB),
    **_all("num_local_experts num_experts n_routed_experts n_shared_experts", _EXPERTS),
    **_all("num_experts_per_tok experts_per_token moe_topk", _TOP_K),
    **_all("moe_layer_freq decoder_sparse_step interleave_moe_layer_step", _STEP),
    # Vision and audio towers.
    **_all("image_size img_size crop_size force_image_size", _PIXELS),
    **_all("patch_size spatial_patch_size kernel_size", _PATCH),
    "patch_stride": Bound(1, 1024, 4, list_ok=True),
    "patch_padding": Bound(0, 1024, 3, list_ok=True),
    "window_size": Bound(1, 1 << 16, 112),  # Qwen2.5-VL vision window_size 112 px (Swin: 7 patches)
    **_all("spatial_merge_size temporal_patch_size scale_factor", _MERGE),
    **_all("mm_tokens_per_image num_image_tokens num_img_tokens image_seq_length", _MEDIA_TOKENS),
    **_all(
        "query_num num_query_token resampler_n_latents num_audio_query_token num_video_query_token", _QUERIES
    ),
    **_all("max_slice_nums max_num_tiles", _TILES),
    **_all("num_mel_bins num_channels in_chans in_channels input_size", _CHANNELS),
    "n_window": Bound(1, 1 << 16, 100),  # Qwen2.5-Omni audio n_window
    "num_blocks": Bound(1, MAX_LAYERS, 24),  # Phi-4-multimodal audio conformer blocks
    # Non-integers the engine computes with.
    **_all("downsample_ratio pixel_shuffle_ratio", _RATIO),
    "mlp_ratio": Bound(0.25, 64.0, 4.0, integer=False),  # Qwen2-VL / DaViT mlp_ratio 4
    "version": Bound(0.0, 100.0, 2.6, integer=False),  # MiniCPM-V version 2.6
}

# Lists of layer indices (or per-layer 0/1 flags) that the engine turns into per-layer attributes.
LAYER_INDEX_LISTS = (
    "moe_layers", "mlp_only_layers", "cross_attention_layers", "fullatt_block_indexes", "deepstack_visual_indexes",
    "intermediate_layers_indices",
)  # fmt: skip
_FLAG = Bound(0, 1, 1)  # Llama 4 no_rope_layers: one 0/1 (or false/true) per layer
# Lists of (height, width) pairs: LLaVA-NeXT image_grid_pinpoints (pixels), Mllama supported_aspect_ratios (tiles).
PAIR_LISTS = {"image_grid_pinpoints": _PIXELS, "supported_aspect_ratios": _TILES}
_LAYER_INDEX = Bound(0, MAX_LAYERS - 1, 125)
STRING_KEYS = ("model_type",)
_ANYRES = re.compile(r"anyres_max_([1-9][0-9]{0,3})")


def _field(path: str) -> str:
    return "config." + path if path else "config"


def _number(value: Any, key: str, path: str, bound: Bound) -> None:
    """One number against its bound (integers must be whole; bools are not numbers)."""
    ok_type = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok_type or (isinstance(value, float) and not math.isfinite(value)):
        code = "error.config.not_integer" if bound.integer else "error.config.not_number"
        raise ConfigError.of(code, _field(path), key=key, got=shown(value))
    if bound.integer and isinstance(value, float) and not value.is_integer():
        raise ConfigError.of("error.config.not_integer", _field(path), key=key, got=shown(value))
    if value < bound.lo:
        raise ConfigError.of(
            "error.config.too_small", _field(path), key=key, limit=bound.lo, got=shown(value)
        )
    if value > bound.hi:
        raise ConfigError.of(
            "error.config.too_large", _field(path), key=key, limit=bound.hi, real=bound.real, got=shown(value)
        )


def _bounded(value: Any, key: str, path: str, bound: Bound) -> None:
    if value is None and bound.integer:
        return  # absent: the engine applies its default (non-integers are read with .get(key, default): no null)
    if bound.list_ok and isinstance(value, list):
        if bound.list_len is not None and len(value) != bound.list_len:
            raise ConfigError.of("error.config.list_length", _field(path), key=key, length=bound.list_len)
        if not value or len(value) > 64:
            raise ConfigError.of(
                "error.config.list_too_long", _field(path), key=key, length=len(value), limit=64
            )
        for item in value:
            _number(item, key, path, bound)
        return
    _number(value, key, path, bound)


def _list(value: Any, key: str, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError.of("error.config.not_list", _field(path), key=key, got=shown(value))
    return value


def _check_key(key: str, value: Any, path: str) -> None:
    """The rules for one key of the table, wherever it appears."""
    if key in INT_BOUNDS:
        _bounded(value, key, path, INT_BOUNDS[key])
    elif value is None:
        return
    elif key in LAYER_INDEX_LISTS:
        for item in _list(value, key, path):
            _number(item, key, path, _LAYER_INDEX)
    elif key == "no_rope_layers":
        for item in _list(value, key, path):
            if not isinstance(item, bool):
                _number(item, key, path, _FLAG)
    elif key in PAIR_LISTS:
        for pair in _list(value, key, path):
            if not isinstance(pair, list) or len(pair) != 2:
                raise ConfigError.of("error.config.not_list", _field(path), key=key, got=shown(pair))
            for item in pair:
                _number(item, key, path, PAIR_LISTS[key])
        if not value:
            raise ConfigError.of("error.config.too_small", _field(path), key=key, limit=1, got="[]")
    elif key == "layer_types":
        for item in _list(value, key, path):
            if not isinstance(item, str):
                raise ConfigError.of("error.config.not_string", _field(path), key=key, got=shown(item))
    elif key in STRING_KEYS:
        if not isinstance(value, str):
            raise ConfigError.of("error.config.not_string", _field(path), key=key, got=shown(value))
    elif key == "vision_aspect_ratio" and not (isinstance(value, str) and _ANYRES.fullmatch(value)):
        # LLaVA-OneVision: "anyres_max_9" (the number is the crop budget the processor shrinks grids to).
        raise ConfigError.of(
            "error.config.bad_choice", _field(path), key=key, expected="anyres_max_<N>", got=shown(value)
        )


# (width, heads) pairs that must divide (head_dim = width / heads) unless the config sets the head size itself.
WIDTH_HEADS = (
    ("hidden_size", "num_attention_heads"), ("n_embd", "n_head"), ("d_model", "encoder_attention_heads"),
    ("d_model", "decoder_attention_heads"), ("hidden_size", "num_heads"), ("embed_dim", "num_heads"),
    ("attention_dim", "attention_heads"),
)  # fmt: skip
OWN_HEAD_SIZE = ("head_dim", "kv_channels", "kv_lora_rank")
# Hierarchical towers zip per-stage lists (towers.davit_params: dim_embed, depths, patch_size, patch_prenorm;
# towers.donut_swin_params: depths, num_heads); a list the config leaves out defaults to 4 stages.
DAVIT_STAGES = ("dim_embed", "depths", "patch_size", "patch_prenorm")
SWIN_STAGES = ("depths", "num_heads")
DEFAULT_STAGES = 4
STAGED_TOWERS = {
    "florence2": ("vision_config", DAVIT_STAGES),
    "vision-encoder-decoder": ("encoder", SWIN_STAGES),
}
# towers._anyres: LLaVA-NeXT's default grid when a llava_next/llava_onevision config lists no pinpoints (336 px).
DEFAULT_PINPOINT_MIN = 336


def _int_value(node: dict[str, Any], key: str) -> int | None:
    value = node.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def _check_stages(config: dict[str, Any]) -> None:
    """The per-stage lists of a Florence-2 DaViT (vision_config) or Donut Swin (encoder) tower agree in length."""
    key, group = STAGED_TOWERS.get(str(config.get("model_type")), ("", ()))
    node = config.get(key)
    if not isinstance(node, dict):
        return
    first: tuple[str, int] | None = None
    for name in group:
        value = node.get(name)
        if value is not None and not isinstance(value, list):
            raise ConfigError.of("error.config.not_list", _field(f"{key}.{name}"), key=name, got=shown(value))
        length = len(value) if value else DEFAULT_STAGES
        if first is None:
            first = (name, length)
        elif length != first[1]:
            raise ConfigError.of(
                "error.config.lengths_differ", _field(f"{key}.{name}"), key=first[0], other=name
            )


def _cross_check(node: dict[str, Any], path: str, root: bool) -> None:
    """Relations between keys of one (sub-)config that the formulas divide by (values already in bounds)."""
    where = f"{path}." if path else ""
    for width_key, heads_key in WIDTH_HEADS:
        width, heads = _int_value(node, width_key), _int_value(node, heads_key)
        if width and heads and width % heads and not any(node.get(k) for k in OWN_HEAD_SIZE):
            raise ConfigError.of("error.config.not_multiple", _field(where + width_key), key=width_key, value=width,
                                 other=heads_key, other_value=heads)  # fmt: skip
    image, patch = _int_value(node, "image_size"), _int_value(node, "patch_size")
    if image and patch and image < patch:
        raise ConfigError.of("error.config.below_other", _field(where + "image_size"), key="image_size", value=image,
                             other="patch_size", other_value=patch)  # fmt: skip
    if root:
        _check_stages(node)
    vision = node.get("vision_config")
    tile = _int_value(vision, "image_size") if root and isinstance(vision, dict) else None
    if tile:
        pins = node.get("image_grid_pinpoints")
        if isinstance(pins, list) and pins:
            smallest = min(min(int(side) for side in pin) for pin in pins)
        elif str(node.get("model_type")) in ("llava_next", "llava_onevision"):
            smallest = DEFAULT_PINPOINT_MIN
        else:
            smallest = None
        if smallest is not None and smallest < tile:
            # anyres splits the image into tiles of image_size pixels: every grid point must hold one.
            raise ConfigError.of("error.config.below_other", _field("image_grid_pinpoints"),
                                 key="image_grid_pinpoints", value=smallest, other="vision_config.image_size",
                                 other_value=tile)  # fmt: skip


def check_config(config: Any) -> None:
    """Raise :class:`ConfigError` (code ``error.config.*``, field ``config.<path>``) for the first value outside
    its bound or of the wrong type; None when every value the engine reads is sane. Linear in the config's size.
    """
    if not isinstance(config, dict):
        raise ConfigError.of("error.config.not_object", "config")
    stack: list[tuple[Any, str, int]] = [(config, "", 1)]
    nodes = 0
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigError.of("error.config.too_deep", _field(path), limit=MAX_DEPTH)
        items: list[tuple[str, Any]]
        if isinstance(node, dict):
            items = [(_key_text(k), v) for k, v in node.items()]
        else:
            if len(node) > MAX_LIST:
                key = path.rsplit(".", 1)[-1]
                raise ConfigError.of("error.config.list_too_long", _field(path), key=key, length=len(node),
                                     limit=MAX_LIST)  # fmt: skip
            items = []
            for item in node:
                if isinstance(item, dict | list):
                    stack.append((item, path, depth + 1))
            nodes += len(node)
        nodes += len(items)
        if nodes > MAX_NODES:
            raise ConfigError.of("error.config.too_many_keys", "config", limit=MAX_NODES)
        for key, value in items:
            sub = f"{path}.{key}" if path else key
            _check_key(key, value, sub)
            if isinstance(value, dict | list):
                stack.append((value, sub, depth + 1))
        if isinstance(node, dict):
            _cross_check(node, path, root=node is config)


def _key_text(key: Any) -> str:
    """A dict key as it appears in a field path (long keys shortened, so a message stays one short line)."""
    text = " ".join(str(key).split())
    return text if len(text) <= 64 else text[:63] + "…"
