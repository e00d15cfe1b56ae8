"""Normalise a Hugging Face ``config.json`` into one architecture description (:class:`ArchSpec`).

Each family's field names differ (ChatGLM ``num_layers``/``kv_channels``/``multi_query_group_num``, DeepSeek
``n_routed_experts``, Mixtral ``num_local_experts``, ...); after :func:`parse_config` the formulas see one shape:
per-layer attention kind and MoE flag, head counts, widths and which optional tensors exist. Field names and
defaults follow the ``configuration_*.py`` files of huggingface/transformers for each ``model_type``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .limits import check_config
from .messages import ConfigError, Message, msg, register, shown

__all__ = ["ArchSpec", "ConfigError", "LayerSpec", "MLASpec", "MoESpec", "language_config", "parse_config"]

AttentionKind = Literal["full", "sliding", "chunked"]

register({
    "arch.no_model_type": "config has no model_type: read as a generic Llama-style decoder (SwiGLU, RMSNorm, RoPE)",
    "arch.unknown_model_type": "model_type {model_type} is not one the engine knows: read as a generic Llama-style "
    "decoder (SwiGLU MLP, RMSNorm, no biases) from its standard fields",
    "arch.layers_overridden": "layer count overridden: {layers} instead of the config's {config_layers}",
    "arch.intermediate_default": "intermediate_size missing: assumed 4 × hidden_size",
    "arch.sliding_window_unused": "sliding_window is present but use_sliding_window is false: full attention in "
    "every layer",
})  # fmt: skip


class LayerSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    attention: AttentionKind = "full"
    window: int | None = Field(default=None, description="Tokens a sliding/chunked layer attends to.")
    moe: bool = False
    cross_attention: bool = False


class MLASpec(BaseModel):
    """Multi-head latent attention (DeepSeek-V2 paper, arXiv:2405.04434 §2.1)."""

    model_config = ConfigDict(frozen=True)

    q_lora_rank: int | None
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int


class MoESpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    num_experts: int
    top_k: int
    expert_intermediate: int
    shared_intermediate: int = 0
    shared_expert_gate: bool = False  # Qwen2-MoE: sigmoid gate Linear(h, 1)
    router_bias: bool = False  # gpt-oss router Linear has a bias
    router_correction_bias: bool = False  # DeepSeek-V3 e_score_correction_bias (E per layer)
    expert_bias: bool = False  # gpt-oss experts carry gate_up and down biases


class ArchSpec(BaseModel):
    """A decoder (or the language part of a multimodal model) in one normalised shape."""

    model_config = ConfigDict(frozen=True)

    model_type: str
    hidden_size: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    num_heads: int = Field(gt=0)
    num_kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    intermediate_size: int = Field(gt=0, description="Dense MLP width.")
    layers: list[LayerSpec] = Field(min_length=1)
    gated_mlp: bool = True  # SwiGLU / GeGLU: gate, up, down
    norm: Literal["rms", "layer"] = "rms"
    norms_per_layer: int = 2
    qk_norm: Literal["none", "head", "full"] = "none"  # per head_dim (Qwen3, Gemma-3) or full width (OLMo-2)
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    attention_sinks: bool = False  # gpt-oss: one learned logit per head
    tie_word_embeddings: bool = False
    learned_positions: int = 0  # GPT-2/Whisper-style position table rows
    final_norm: bool = True
    max_position_embeddings: int | None = None
    mla: MLASpec | None = None
    moe: MoESpec | None = None
    extra_params: dict[str, int] = Field(
        default_factory=dict, description="Named tensors outside the pattern."
    )
    assumptions: list[Message] = Field(default_factory=list)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def layer_groups(self, start: int = 0) -> list[tuple[LayerSpec, int]]:
        """Distinct layer kinds with their counts (from layer ``start`` on): formulas run once per kind."""
        # Keyed by a plain tuple: hashing the pydantic models themselves is ~10× slower, and a 1,024-layer model is
        # grouped dozens of times per report.
        groups: dict[tuple[Any, ...], list[Any]] = {}
        for layer in self.layers[start:]:
            key = (layer.attention, layer.window, layer.moe, layer.cross_attention)
            entry = groups.get(key)
            if entry is None:
                groups[key] = [layer, 1]
            else:
                entry[1] += 1
        return [(layer, count) for layer, count in groups.values()]

    @property
    def q_dim(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim


# ---------------------------------------------------------------------------------------------------------------
# Field access helpers


def _get(cfg: dict[str, Any], *names: str, default: Any = None) -> Any:
    """First present, non-null field among ``names``."""
    for name in names:
        value = cfg.get(name)
        if value is not None:
            return value
    return default


def _present(cfg: dict[str, Any], names: tuple[str, ...]) -> str:
    """The first of ``names`` the config sets (the one an error should name), else the first."""
    return next((n for n in names if cfg.get(n) is not None), names[0])


def _whole(value: Any) -> bool:
    """An integer, or a float with an integral finite value (some configs write 4096.0); never a bool."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or value.is_integer()


def _require_int(cfg: dict[str, Any], *names: str) -> int:
    value = _get(cfg, *names)
    key = _present(cfg, names)
    field = "config." + key
    if value is None:
        raise ConfigError.of("error.config.missing", field, key=key)
    if not _whole(value):
        raise ConfigError.of("error.config.not_integer", field, key=key, got=shown(value))
    if value <= 0:
        raise ConfigError.of("error.config.too_small", field, key=key, limit=1, got=shown(value))
    return int(value)


def _opt_int(cfg: dict[str, Any], *names: str, default: int | None = None) -> int | None:
    value = _get(cfg, *names)
    if value is None:
        return default
    key = _present(cfg, names)
    field = "config." + key
    if not _whole(value):
        raise ConfigError.of("error.config.not_integer", field, key=key, got=shown(value))
    if value < 0:
        raise ConfigError.of("error.config.too_small", field, key=key, limit=0, got=shown(value))
    return int(value)


# Families whose transformers config class defaults ``tie_word_embeddings`` to True.
_TIED_BY_DEFAULT = {"gemma", "gemma2", "gemma3", "gemma3_text", "paligemma", "phi3small"}

TEXT_CONFIG_KEYS = ("text_config", "llm_config", "language_config")


def language_config(config: dict[str, Any]) -> dict[str, Any]:
    """The decoder's config: ``text_config`` (or ``llm_config``) of a multimodal config, else the config itself.

    Parent-level fields the decoder needs (vocab, tie flag) are inherited when the nested config lacks them.
    """
    for key in TEXT_CONFIG_KEYS:
        nested = config.get(key)
        if isinstance(nested, dict):
            merged = dict(nested)
            for field in ("tie_word_embeddings", "vocab_size"):
                if field not in merged and field in config:
                    merged[field] = config[field]
            if "model_type" not in merged:
                merged["model_type"] = str(config.get("model_type", "llama")) + "_text"
            return merged
    return config


def _layer_kinds(
    cfg: dict[str, Any], model_type: str, n_layers: int
) -> tuple[list[LayerSpec], list[Message]]:
    """Per-layer attention kind: full, sliding window (Mistral, Gemma-2/3, gpt-oss) or chunked (Llama 4)."""
    notes: list[Message] = []
    window = _opt_int(cfg, "sliding_window")
    layer_types = cfg.get("layer_types")
    kinds: list[tuple[AttentionKind, int | None]] = [("full", None)] * n_layers

    if isinstance(layer_types, list) and len(layer_types) >= n_layers and window:
        # transformers ≥ 4.53 writes the pattern explicitly: "sliding_attention" / "full_attention".
        kinds = [
            ("sliding", window) if "sliding" in str(t) else ("full", None) for t in layer_types[:n_layers]
        ]
    elif model_type in ("gemma2",) and window:
        # Gemma-2 alternates local (sliding) and global layers, local first (modeling_gemma2.py: layer_idx % 2 == 0).
        kinds = [("sliding", window) if i % 2 == 0 else ("full", None) for i in range(n_layers)]
    elif model_type in ("gemma3", "gemma3_text") and window:
        # Gemma-3: every `sliding_window_pattern`-th layer is global (default 6 → 5 local : 1 global).
        pattern = _opt_int(cfg, "sliding_window_pattern", default=6) or 6
        kinds = [("full", None) if (i + 1) % pattern == 0 else ("sliding", window) for i in range(n_layers)]
    elif model_type in ("llama4", "llama4_text"):
        chunk = _opt_int(cfg, "attention_chunk_size")
        no_rope = cfg.get("no_rope_layers")
        if chunk:
            if isinstance(no_rope, list) and len(no_rope) >= n_layers:
                kinds = [("chunked", chunk) if no_rope[i] else ("full", None) for i in range(n_layers)]
            else:
                # Llama 4: every 4th layer is a global NoPE layer, the rest use chunked local attention.
                kinds = [("full", None) if (i + 1) % 4 == 0 else ("chunked", chunk) for i in range(n_layers)]
    elif window and model_type in ("qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "qwen2_5_vl", "qwen2_vl"):
        if cfg.get("use_sliding_window"):
            max_window_layers = _opt_int(cfg, "max_window_layers", default=n_layers) or 0
            kinds = [
                ("sliding", window) if i >= max_window_layers else ("full", None) for i in range(n_layers)
            ]
        else:
            notes.append(msg("arch.sliding_window_unused"))
    elif window and model_type in ("mistral", "mixtral", "phi3", "starcoder2", "generic"):
        kinds = [("sliding", window)] * n_layers
    # One LayerSpec object per kind (a 1,024-layer model has at most 3 kinds).
    made: dict[tuple[AttentionKind, int | None], LayerSpec] = {}
    for kind in kinds:
        if kind not in made:
            made[kind] = LayerSpec(attention=kind[0], window=kind[1])
    return [made[kind] for kind in kinds], notes


def _moe_layer_flags(cfg: dict[str, Any], model_type: str, n_layers: int) -> list[bool]:
    """Which decoder layers carry experts."""
    if model_type in ("deepseek", "deepseek_v2", "deepseek_v3", "kimi_k2"):
        first_dense = _opt_int(cfg, "first_k_dense_replace", default=0) or 0
        freq = _opt_int(cfg, "moe_layer_freq", default=1) or 1
        return [i >= first_dense and i % freq == 0 for i in range(n_layers)]
    if model_type in ("qwen2_moe", "qwen3_moe"):
        step = _opt_int(cfg, "decoder_sparse_step", default=1) or 1
        mlp_only = set(cfg.get("mlp_only_layers") or [])
        return [(i not in mlp_only) and (i + 1) % step == 0 for i in range(n_layers)]
    if model_type in ("llama4", "llama4_text"):
        moe_layers = cfg.get("moe_layers")
        if isinstance(moe_layers, list):
            listed = set(moe_layers)
            return [i in listed for i in range(n_layers)]
        step = _opt_int(cfg, "interleave_moe_layer_step", default=1) or 1
        # modeling_llama4 / configuration_llama4: moe_layers = range(step - 1, L, step)
        return [(i + 1) % step == 0 for i in range(n_layers)]
    return [True] * n_layers


def _moe_spec(cfg: dict[str, Any], model_type: str) -> MoESpec | None:
    n_experts = _opt_int(cfg, "num_local_experts", "num_experts", "n_routed_experts")
    if not n_experts or n_experts <= 1:
        return None
    top_k = _opt_int(cfg, "num_experts_per_tok", "experts_per_token", "moe_topk", default=2) or 2
    if top_k > n_experts:
        key = _present(cfg, ("num_experts_per_tok", "experts_per_token", "moe_topk"))
        raise ConfigError.of(
            "error.config.top_k_above_experts", f"config.{key}", top_k=top_k, experts=n_experts
        )
    if model_type == "mixtral" or model_type == "gpt_oss" or model_type.startswith("llama4"):
        expert_i = _require_int(cfg, "intermediate_size")
    else:
        expert_i = _require_int(cfg, "moe_intermediate_size", "intermediate_size")
    shared = 0
    shared_gate = False
    if model_type in ("deepseek", "deepseek_v2", "deepseek_v3", "kimi_k2"):
        shared = (_opt_int(cfg, "n_shared_experts", default=0) or 0) * expert_i
    elif model_type == "qwen2_moe":
        shared = _opt_int(cfg, "shared_expert_intermediate_size", default=0) or 0
        shared_gate = shared > 0
    elif model_type.startswith("llama4"):
        shared = expert_i  # Llama 4 MoE layers add one always-on shared expert of the same width
    return MoESpec(
        num_experts=n_experts,
        top_k=top_k,
        expert_intermediate=expert_i,
        shared_intermediate=shared,
        shared_expert_gate=shared_gate,
        router_bias=model_type == "gpt_oss",
        router_correction_bias=model_type in ("deepseek_v3", "kimi_k2")
        or cfg.get("topk_method") == "noaux_tc",
        expert_bias=model_type == "gpt_oss",
    )


KNOWN_TYPES = {
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma", "gemma2", "gemma3",
    "gemma3_text", "phi3", "phi", "deepseek", "deepseek_v2", "deepseek_v3", "chatglm", "glm", "glm4", "baichuan",
    "gpt_oss", "internlm2", "olmo2", "olmo", "yi", "llama4", "llama4_text", "starcoder2", "phi3small", "cohere",
    "granite", "exaone", "kimi_k2", "smollm3", "falcon", "gpt2", "gpt_neox",
}  # fmt: skip


def parse_config(config: dict[str, Any], num_layers: int | None = None) -> ArchSpec:
    """Read a config.json dict (a multimodal one too: its text part) into an :class:`ArchSpec`.

    Raises :class:`ConfigError` with a one-line, actionable message on missing or invalid fields.
    """
    check_config(config)  # bounds and types of every value read below, before any per-layer list is built
    cfg = language_config(config)
    nested = next((k for k in TEXT_CONFIG_KEYS if isinstance(config.get(k), dict)), None)
    try:
        return _parse_language(cfg, num_layers)
    except ConfigError as exc:
        if nested and exc.field and exc.field.startswith("config.") and exc.field[7:] in config[nested]:
            exc.field = f"config.{nested}.{exc.field[7:]}"  # the key is in the nested config the user wrote
        raise
    except ValidationError as exc:  # a combination the checks above let through: still one line, no dump
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise ConfigError.of("error.config.invalid", "config", detail=f"{where}: {first['msg']}") from None


def _parse_language(cfg: dict[str, Any], num_layers: int | None) -> ArchSpec:
    """:func:`parse_config` for the decoder's own (possibly merged) config."""
    model_type = str(cfg.get("model_type") or "").lower()
    notes: list[Message] = []
    if model_type.endswith("_text") and model_type not in KNOWN_TYPES:
        model_type = model_type.removesuffix("_text")
    mt = model_type if model_type in KNOWN_TYPES else "generic"  # the family whose rules apply
    if not model_type:
        notes.append(msg("arch.no_model_type"))
        model_type = "generic"
    elif model_type not in KNOWN_TYPES:
        notes.append(msg("arch.unknown_model_type", model_type=shown(model_type)))
    hidden = _require_int(cfg, "hidden_size", "n_embd", "d_model")
    n_layers_cfg = _require_int(cfg, "num_hidden_layers", "num_layers", "n_layer")
    n_layers = num_layers or n_layers_cfg
    if num_layers and num_layers != n_layers_cfg:
        notes.append(msg("arch.layers_overridden", layers=num_layers, config_layers=n_layers_cfg))
    n_heads = _require_int(cfg, "num_attention_heads", "n_head")
    vocab = _require_int(cfg, "padded_vocab_size", "vocab_size")

    if mt == "chatglm" or (mt in ("glm", "glm4") and "multi_query_group_num" in cfg):
        n_kv = (
            _opt_int(cfg, "multi_query_group_num", default=n_heads)
            if cfg.get("multi_query_attention")
            else n_heads
        )
        head_dim = _opt_int(cfg, "kv_channels", default=hidden // n_heads) or hidden // n_heads
        intermediate = _require_int(cfg, "ffn_hidden_size", "intermediate_size")
    else:
        n_kv = _opt_int(cfg, "num_key_value_heads", "num_kv_heads", default=n_heads) or n_heads
        head_dim = _opt_int(cfg, "head_dim") or hidden // n_heads
        intermediate = _opt_int(
            cfg, "intermediate_size_mlp", "intermediate_size", "ffn_hidden_size", "ff_intermediate_size"
        )
        if intermediate is None:
            intermediate = 4 * hidden
            notes.append(msg("arch.intermediate_default"))
    if n_heads % n_kv:
        raise ConfigError.of("error.config.heads_not_multiple", "config.num_key_value_heads",
                             heads=n_heads, kv_heads=n_kv)  # fmt: skip
    if not head_dim or (
        hidden % n_heads and not _get(cfg, "head_dim", "kv_channels") and not cfg.get("kv_lora_rank")
    ):
        raise ConfigError.of("error.config.hidden_not_divisible", "config.hidden_size",
                             hidden=hidden, heads=n_heads)  # fmt: skip

    layers, layer_notes = _layer_kinds(cfg, mt, n_layers)
    notes += layer_notes
    moe = _moe_spec(cfg, mt)
    if moe:
        flags = _moe_layer_flags(cfg, mt, n_layers)
        variants: dict[tuple[int, bool], LayerSpec] = {}
        for layer, flag in zip(layers, flags, strict=True):
            if (id(layer), flag) not in variants:
                variants[(id(layer), flag)] = layer.model_copy(update={"moe": flag})
        layers = [variants[(id(layer), flag)] for layer, flag in zip(layers, flags, strict=True)]

    mla = None
    if cfg.get("kv_lora_rank"):
        mla = MLASpec(
            q_lora_rank=_opt_int(cfg, "q_lora_rank"),
            kv_lora_rank=_require_int(cfg, "kv_lora_rank"),
            qk_nope_head_dim=_require_int(cfg, "qk_nope_head_dim"),
            qk_rope_head_dim=_require_int(cfg, "qk_rope_head_dim"),
            v_head_dim=_require_int(cfg, "v_head_dim"),
        )

    act = str(_get(cfg, "hidden_act", "hidden_activation", "activation_function", default="silu"))
    gated = mt not in ("gpt2", "gpt_neox", "falcon", "phi", "starcoder2") and act not in ("gelu_new",)
    norm: Literal["rms", "layer"] = (
        "layer" if mt in ("gpt2", "gpt_neox", "falcon", "phi", "starcoder2", "phi3small", "cohere") else "rms"
    )
    if mt == "chatglm" and cfg.get("rmsnorm") is False:
        norm = "layer"

    # GPT-2 (Conv1D), GPT-NeoX (GPTNeoXConfig attention_bias=True, biased dense_h_to_4h/dense_4h_to_h) and Phi-1/2
    # (biased q/k/v/dense and fc1/fc2) carry biases on every Linear unless the config says otherwise.
    always_biased = mt in ("gpt2", "phi") or (mt == "gpt_neox" and cfg.get("attention_bias") is not False)
    qkv_bias = bool(
        always_biased
        or mt in ("qwen2", "qwen2_moe", "qwen2_5_vl", "qwen2_vl")
        or (mt in ("chatglm", "glm", "glm4") and cfg.get("add_qkv_bias"))
        or cfg.get("attention_bias")
        or cfg.get("qkv_bias")
        or (mt == "internlm2" and cfg.get("bias"))
        or mt == "phi3small"
    )
    o_bias = bool(
        always_biased
        or (cfg.get("attention_bias") and mt not in ("qwen2", "qwen2_moe", "glm", "glm4"))
        or (mt == "internlm2" and cfg.get("bias"))
        or (mt == "chatglm" and cfg.get("add_bias_linear"))
        or mt == "phi3small"
    )
    mlp_bias = bool(
        mt in ("gpt2", "gpt_neox", "phi")
        or cfg.get("mlp_bias")
        or (mt == "chatglm" and cfg.get("add_bias_linear"))
        or mt == "phi3small"
    )

    qk_norm: Literal["none", "head", "full"] = "none"
    if mt in ("qwen3", "qwen3_moe", "gemma3", "gemma3_text") or (
        mt.startswith("llama4") and cfg.get("use_qk_norm")
    ):
        qk_norm = "head"
    elif mt == "olmo2":
        qk_norm = "full"
    if mt.startswith("llama4") and cfg.get("use_qk_norm"):
        # Llama 4's L2 qk-norm has no weight (modeling_llama4.Llama4TextL2Norm).
        qk_norm = "none"

    # Gemma-2/3 and GLM-4-0414 add post-attention and post-MLP norms (modeling_gemma2.py, modeling_glm4.py).
    norms_per_layer = 4 if mt in ("gemma2", "gemma3", "gemma3_text", "glm4") else 2

    tie = cfg.get("tie_word_embeddings")
    if tie is None:
        # Llama/Qwen/Mistral config classes default to untied; Gemma ties. Unknown: untied (the larger figure).
        tie = mt in _TIED_BY_DEFAULT
    if mt == "chatglm":
        tie = False  # ChatGLM always has a separate output_layer

    spec = ArchSpec(
        model_type=model_type,
        hidden_size=hidden,
        vocab_size=vocab,
        num_heads=n_heads,
        num_kv_heads=n_kv,
        head_dim=head_dim,
        intermediate_size=intermediate,
        layers=layers,
        gated_mlp=gated,
        norm=norm,
        norms_per_layer=norms_per_layer,
        qk_norm=qk_norm,
        qkv_bias=qkv_bias,
        o_bias=o_bias,
        mlp_bias=mlp_bias,
        attention_sinks=mt == "gpt_oss",
        tie_word_embeddings=bool(tie),
        max_position_embeddings=_opt_int(cfg, "max_position_embeddings", "seq_length", "n_positions"),
        mla=mla,
        moe=moe,
        assumptions=notes,
    )
    return spec
