"""LoRA target modules and exact adapter parameter counts.

Per adapted ``nn.Linear(d_in → d_out)`` LoRA adds A (r × d_in) and B (d_out × r): ``r · (d_in + d_out)``
parameters (Hu et al. 2021, arXiv:2106.09685; peft/tuners/lora/layer.py). PEFT's default ``target_modules`` per
model type come from ``TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`` (peft/utils/constants.py);
``"all-linear"`` targets every Linear except the output head (peft/tuners/tuners_utils.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from .arch import ArchSpec, LayerSpec
from .messages import InputError, Message, msg, one_line, register

register({
    "lora.no_default_targets": "PEFT has no default target_modules for model_type '{model_type}' (you must pass "
    "them): assumed all-linear",
    "lora.default_targets": "LoRA targets: PEFT's default for {model_type}: {targets}",
    "lora.all_linear": "LoRA targets: all-linear (every Linear in the decoder layers, not the lm_head)",
    "lora.moe_experts": "MoE routed experts are fused 3-D parameters in transformers ≥5, not nn.Linear: not adapted",
})  # fmt: skip

# peft/utils/constants.py TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING (the families we parse).
PEFT_DEFAULT_TARGETS: dict[str, tuple[str, ...]] = {
    "llama": ("q_proj", "v_proj"),
    "llama4": ("q_proj", "v_proj"),
    "mistral": ("q_proj", "v_proj"),
    "mixtral": ("q_proj", "v_proj"),
    "qwen2": ("q_proj", "v_proj"),
    "qwen2_moe": ("q_proj", "v_proj"),
    "qwen3": ("q_proj", "v_proj"),
    "qwen3_moe": ("q_proj", "v_proj"),
    "gemma": ("q_proj", "v_proj"),
    "gemma2": ("q_proj", "v_proj"),
    "gemma3": ("q_proj", "v_proj"),
    "gemma3_text": ("q_proj", "v_proj"),
    "chatglm": ("query_key_value",),
    "baichuan": ("W_pack",),
    "internlm2": ("wqkv",),
    "phi": ("q_proj", "v_proj", "fc1", "fc2"),
    "olmo2": ("q_proj", "v_proj"),
    "deepseek_v2": ("q_proj", "v_proj"),
}

# Module names per family: canonical → the name in the family's modeling file, and fused projections.
_FUSED_QKV = {"phi3": "qkv_proj", "chatglm": "query_key_value", "baichuan": "W_pack", "internlm2": "wqkv",
              "phi3small": "query_key_value"}  # fmt: skip
_FUSED_GATE_UP = {"phi3": "gate_up_proj", "chatglm": "dense_h_to_4h", "phi3small": "up_proj"}
_RENAMES = {
    "chatglm": {"o_proj": "dense", "down_proj": "dense_4h_to_h"},
    "internlm2": {"o_proj": "wo", "gate_proj": "w1", "up_proj": "w3", "down_proj": "w2"},
    "phi3small": {"o_proj": "dense", "down_proj": "down_proj"},
}


class LoraTargetError(InputError):
    """``lora_targets`` names modules the model does not have."""


def layer_linears(a: ArchSpec, layer: LayerSpec) -> dict[str, tuple[int, int]]:
    """Every nn.Linear of one layer by its module name in the family's modeling file → (d_in, d_out)."""
    from .params import linear_shapes

    shapes = linear_shapes(a, layer)
    mt = a.model_type
    if mt in _FUSED_QKV and {"q_proj", "k_proj", "v_proj"} <= shapes.keys():
        d_out = shapes.pop("q_proj")[1] + shapes.pop("k_proj")[1] + shapes.pop("v_proj")[1]
        shapes = {_FUSED_QKV[mt]: (a.hidden_size, d_out), **shapes}
    if mt in _FUSED_GATE_UP and {"gate_proj", "up_proj"} <= shapes.keys():
        d_out = shapes.pop("gate_proj")[1] + shapes.pop("up_proj")[1]
        shapes[_FUSED_GATE_UP[mt]] = (a.hidden_size, d_out)
    renames = _RENAMES.get(mt, {})
    shapes = {renames.get(k, k): v for k, v in shapes.items()}
    if layer.moe and a.moe:
        shapes["gate"] = (a.hidden_size, a.moe.num_experts)  # router Linear
        if a.moe.shared_intermediate:
            si = a.moe.shared_intermediate
            shapes["shared_expert.gate_proj"] = (a.hidden_size, si)
            shapes["shared_expert.up_proj"] = (a.hidden_size, si)
            shapes["shared_expert.down_proj"] = (si, a.hidden_size)
    if not a.gated_mlp and "up_proj" in shapes:
        shapes["fc1"] = shapes.pop("up_proj")
        shapes["fc2"] = shapes.pop("down_proj")
    return shapes


@dataclass(frozen=True)
class LoraPlan:
    targets: tuple[str, ...]
    trainable: int  # adapter parameters
    canonical: frozenset[str]  # canonical names (q_proj, …) touched, for the activation model
    notes: tuple[Message, ...]


_CANONICAL = {
    "qkv_proj": ("q_proj",), "query_key_value": ("q_proj",), "W_pack": ("q_proj",), "wqkv": ("q_proj",),
    "gate_up_proj": ("gate_proj",), "dense_h_to_4h": ("gate_proj",), "dense": ("o_proj",), "wo": ("o_proj",),
    "dense_4h_to_h": ("down_proj",), "w1": ("gate_proj",), "w3": ("up_proj",), "w2": ("down_proj",),
    "fc1": ("up_proj",), "fc2": ("down_proj",),
}  # fmt: skip


def resolve_targets(a: ArchSpec, spec: str) -> tuple[tuple[str, ...], list[Message]]:
    """'default' (PEFT's mapping), 'all-linear', or a comma-separated list of module names."""
    notes: list[Message] = []
    available: set[str] = set()
    for layer, _count in a.layer_groups():
        available |= layer_linears(a, layer).keys()
    key = spec.strip()
    if key in ("", "default"):
        default = PEFT_DEFAULT_TARGETS.get(a.model_type)
        if default is None:
            notes.append(msg("lora.no_default_targets", model_type=a.model_type))
            key = "all-linear"
        else:
            notes.append(msg("lora.default_targets", model_type=a.model_type, targets=", ".join(default)))
            return default, notes
    if key == "all-linear":
        names = tuple(sorted(available))
        notes.append(msg("lora.all_linear"))
        if a.moe:
            notes.append(msg("lora.moe_experts"))
        return names, notes
    names = tuple(n.strip() for n in key.split(",") if n.strip())
    unknown = [n for n in names if n not in available]
    if unknown:
        raise LoraTargetError.of(
            "error.lora_targets.unknown",
            "lora_targets",
            got=one_line(", ".join(unknown), 80),
            expected=", ".join(sorted(available)),
        )
    return names, notes


def lora_plan(a: ArchSpec, rank: int, spec: str, dora: bool = False) -> LoraPlan:
    """Exact trainable adapter parameters for a target spec."""
    targets, notes = resolve_targets(a, spec)
    total = 0
    for layer, count in a.layer_groups():
        for name, (d_in, d_out) in layer_linears(a, layer).items():
            if name in targets:
                total += count * (rank * (d_in + d_out) + (d_out if dora else 0))
    canonical: set[str] = set()
    for t in targets:
        canonical.update(_CANONICAL.get(t, (t,)))
    return LoraPlan(targets=targets, trainable=total, canonical=frozenset(canonical), notes=tuple(notes))
