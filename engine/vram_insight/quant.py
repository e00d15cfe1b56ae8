"""Weight formats: bits per weight of each storage layout and which tensors a format leaves in 16 bit.

Bits per weight (bpw) are exact storage sizes of the published block layouts:
* bitsandbytes NF4 (QLoRA, Dettmers et al. 2023, arXiv:2305.14314 §2): 4 bit + fp32 absmax per 64 → 4.5 bpw;
  double quantization (FP8 absmax per 64, fp32 per 256 blocks) → 4 + 8/64 + 32/(64·256) = 4.127 bpw.
* LLM.int8() (arXiv:2208.07339): int8 weights + one fp32 scale per output row.
* GPTQ/AWQ packed int4, group 128 (AutoGPTQ/AutoAWQ layouts): 4 bit + fp16 scale/128 + 4-bit zero/128 → 4.15625 bpw.
* FP8 E4M3 checkpoints: 8 bit + per-tensor/per-block fp32 scales (≈0).
* GGUF block types: ggml/src/ggml-common.h block structs (bytes per block / weights per block);
  IQ types from tools/quantize/quantize.cpp QUANT_OPTIONS. K-quant file types (Q4_K_M, …) mix tensor types per
  src/llama-quant.cpp ``llama_tensor_get_type``: output.weight gets Q6_K, attn_v/ffn_down get a larger type in
  the layers where ``use_more_bits`` holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .arch import ArchSpec
from .messages import InputError, shown

# GGUF block types: (bytes per block, weights per block) → exact bpw.
GGUF_BLOCKS: dict[str, tuple[int, int]] = {
    "f32": (4, 1),
    "f16": (2, 1),
    "bf16": (2, 1),
    "q8_0": (34, 32),
    "q4_0": (18, 32),
    "q4_1": (20, 32),
    "q5_0": (22, 32),
    "q5_1": (24, 32),
    "q2_k": (84, 256),
    "q3_k": (110, 256),
    "q4_k": (144, 256),
    "q5_k": (176, 256),
    "q6_k": (210, 256),
    "iq4_nl": (18, 32),
    "iq4_xs": (136, 256),
}
# IQ types whose bpw llama.cpp states in QUANT_OPTIONS (tools/quantize/quantize.cpp).
GGUF_IQ_BPW: dict[str, Fraction] = {
    "iq1_s": Fraction(156, 100),
    "iq1_m": Fraction(175, 100),
    "iq2_xxs": Fraction(2_0625, 10_000),
    "iq2_xs": Fraction(231, 100),
    "iq2_s": Fraction(25, 10),
    "iq2_m": Fraction(27, 10),
    "iq3_xxs": Fraction(306, 100),
    "iq3_xs": Fraction(33, 10),
    "iq3_s": Fraction(344, 100),
    "iq3_m": Fraction(366, 100),
    "tq1_0": Fraction(169, 100),
    "tq2_0": Fraction(206, 100),
}


def gguf_type_bpw(name: str) -> Fraction:
    """Exact bits per weight of one GGUF tensor type."""
    if name in GGUF_BLOCKS:
        nbytes, nweights = GGUF_BLOCKS[name]
        return Fraction(8 * nbytes, nweights)
    return GGUF_IQ_BPW[name]


@dataclass(frozen=True)
class GgufMix:
    """Tensor types of a llama.cpp file type (src/llama-quant.cpp llama_tensor_get_type)."""

    base: str
    output: str = "q6_k"
    embedding: str | None = None  # None → base
    attn_v_more: str | None = None  # type for attn_v in use_more_bits layers
    ffn_down_more: str | None = None
    attn_v_all: str | None = None  # type for attn_v in every layer
    ffn_down_all: str | None = None


GGUF_MIXES: dict[str, GgufMix] = {
    "q2_k": GgufMix("q2_k", embedding="q2_k", attn_v_all="q4_k", ffn_down_all="q3_k"),
    "q3_k_s": GgufMix("q3_k", embedding="q3_k"),
    "q3_k_m": GgufMix("q3_k", attn_v_all="q4_k", ffn_down_more="q5_k", attn_v_more="q5_k"),
    "q3_k_l": GgufMix("q3_k", attn_v_all="q5_k", ffn_down_all="q5_k"),
    "q4_0": GgufMix("q4_0"),
    "q4_1": GgufMix("q4_1"),
    "q4_k_s": GgufMix("q4_k", attn_v_more="q5_k", ffn_down_more="q5_k"),
    "q4_k_m": GgufMix("q4_k", attn_v_more="q6_k", ffn_down_more="q6_k"),
    "q5_0": GgufMix("q5_0"),
    "q5_1": GgufMix("q5_1"),
    "q5_k_s": GgufMix("q5_k"),
    "q5_k_m": GgufMix("q5_k", attn_v_more="q6_k", ffn_down_more="q6_k"),
    "q6_k": GgufMix("q6_k", output="q6_k"),
    "q8_0": GgufMix("q8_0", output="q8_0"),
    "iq4_xs": GgufMix("iq4_xs"),
    "iq4_nl": GgufMix("iq4_nl"),
    "iq3_xxs": GgufMix("iq3_xxs", attn_v_all="q4_k"),
    "iq3_xs": GgufMix("iq3_xs", attn_v_all="q4_k"),
    "iq3_s": GgufMix("iq3_s", attn_v_all="q4_k"),
    "iq3_m": GgufMix("iq3_m", attn_v_all="q4_k"),
    "iq2_xxs": GgufMix("iq2_xxs", attn_v_all="q4_k", output="q5_k"),
    "iq2_xs": GgufMix("iq2_xs", attn_v_all="q4_k", output="q5_k"),
    "iq2_s": GgufMix("iq2_s", attn_v_all="q4_k", output="q5_k"),
    "iq2_m": GgufMix("iq2_m", attn_v_all="q4_k", output="q5_k"),
    "iq1_s": GgufMix("iq1_s", attn_v_all="q4_k", output="q5_k"),
    "iq1_m": GgufMix("iq1_m", attn_v_all="q4_k", output="q5_k"),
    "f16": GgufMix("f16", output="f16"),
    "bf16": GgufMix("bf16", output="bf16"),
}


@dataclass(frozen=True)
class WeightFormat:
    """A dense format: bytes per weight for quantised Linear layers and for embeddings/lm_head."""

    name: str
    label: str
    linear_bpw: Fraction
    embed_bpw: Fraction  # token embedding
    head_bpw: Fraction  # lm_head (when untied)
    other_bpw: Fraction  # norms, biases, routers kept in higher precision
    note: str
    trainable_base: bool = True  # can the base weights be trained in this format?


_F16 = Fraction(16)
HF_FORMATS: dict[str, WeightFormat] = {
    "fp32": WeightFormat(
        "fp32", "FP32", Fraction(32), Fraction(32), Fraction(32), Fraction(32), "all weights fp32"
    ),
    "bf16": WeightFormat("bf16", "BF16", _F16, _F16, _F16, _F16, "all weights bf16"),
    "fp16": WeightFormat("fp16", "FP16", _F16, _F16, _F16, _F16, "all weights fp16"),
    "fp8": WeightFormat(
        "fp8",
        "FP8 (E4M3)",
        Fraction(8),
        _F16,
        _F16,
        _F16,
        "Linear weights FP8 E4M3 (1 B + negligible scales); embeddings, lm_head and norms stay bf16 "
        "(DeepSeek-V3 README_WEIGHTS.md; vLLM/llm-compressor FP8 checkpoints)",
        trainable_base=False,
    ),
    "int8": WeightFormat(
        "int8",
        "INT8 (LLM.int8)",
        Fraction(8),
        _F16,
        _F16,
        _F16,
        "bitsandbytes LLM.int8(): Linear weights int8 + fp32 row scale; embeddings and lm_head stay 16-bit",
        trainable_base=False,
    ),
    "nf4": WeightFormat(
        "nf4",
        "NF4 + double quant (QLoRA)",
        Fraction(4) + Fraction(8, 64) + Fraction(32, 64 * 256),
        _F16,
        _F16,
        _F16,
        "bitsandbytes NF4 with double quantization = 4.127 bpw on Linear layers (QLoRA paper §2); "
        "embed_tokens and lm_head are not nn.Linear targets and stay 16-bit",
        trainable_base=False,
    ),
    "nf4-nodq": WeightFormat(
        "nf4-nodq",
        "NF4 without double quant",
        Fraction(4) + Fraction(32, 64),
        _F16,
        _F16,
        _F16,
        "bitsandbytes NF4, fp32 absmax per 64 weights = 4.5 bpw on Linear layers",
        trainable_base=False,
    ),
    "int4": WeightFormat(
        "int4",
        "INT4 GPTQ/AWQ (g128)",
        Fraction(4) + Fraction(16, 128) + Fraction(4, 128),
        _F16,
        _F16,
        _F16,
        "GPTQ/AWQ packed int4 with fp16 scale and 4-bit zero point per group of 128 = 4.156 bpw; "
        "embeddings and lm_head 16-bit",
        trainable_base=False,
    ),
    "mxfp4": WeightFormat(
        "mxfp4",
        "MXFP4 (gpt-oss experts)",
        Fraction(4) + Fraction(8, 32),
        _F16,
        _F16,
        _F16,
        "OCP MXFP4: 4-bit E2M1 + one E8M0 scale per 32 = 4.25 bpw (gpt-oss ships MoE experts this way)",
        trainable_base=False,
    ),
}

WEIGHT_FORMATS: tuple[str, ...] = (*HF_FORMATS, *GGUF_MIXES)


def normalise_format(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    aliases = {"nf4_nodq": "nf4-nodq", "float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "gptq": "int4",
               "awq": "int4", "fp8_e4m3": "fp8", "q4_k": "q4_k_m", "q5_k": "q5_k_m", "q3_k": "q3_k_m"}  # fmt: skip
    key = aliases.get(key, key)
    if key in HF_FORMATS or key in GGUF_MIXES:
        return key
    raise InputError.of(
        "error.weights.unknown", "weights", got=shown(name), expected=", ".join(WEIGHT_FORMATS)
    )


def is_gguf(fmt: str) -> bool:
    return fmt in GGUF_MIXES and fmt not in HF_FORMATS


def use_more_bits(i_layer: int, n_layers: int) -> bool:
    """llama.cpp src/llama-quant.cpp: first and last eighth of the layers, and every third one between."""
    return i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8 or (i_layer - n_layers // 8) % 3 == 2


@dataclass(frozen=True)
class WeightBytes:
    total: int
    embedding: int
    lm_head: int
    layers: int
    bits_per_weight: float  # effective average over all parameters
    note: str


def _bits_to_bytes(bits: Fraction) -> int:
    return int(-(-bits // 8))  # ceil


def gguf_weight_bytes(a: ArchSpec, counts: dict[str, int], fmt: str) -> WeightBytes:
    """Bytes of a llama.cpp GGUF file type: per-tensor types of the mix (1-D tensors stay f32)."""
    mix = GGUF_MIXES[fmt]
    base = gguf_type_bpw(mix.base)
    from .params import (
        layer_params,
        linear_shapes,
        norm_params,
    )  # local: avoid an import cycle at module load

    emb_bits = counts["embedding"] * gguf_type_bpw(mix.embedding or mix.base)
    head_bits = counts.get("lm_head", 0) * gguf_type_bpw(mix.output)
    layer_bits = Fraction(0)
    n = a.num_layers
    # Layers of one kind that agree on use_more_bits get the same tensor types: price each such group once
    # (a 1,024-layer model would otherwise cost thousands of Fraction operations per estimate).
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for i, layer in enumerate(a.layers):
        key = (layer.attention, layer.window, layer.moe, layer.cross_attention, use_more_bits(i, n))
        if key in groups:
            groups[key][2] += 1
        else:
            groups[key] = [layer, i, 1]
    for layer, i, copies in groups.values():
        one = Fraction(0)
        shapes = linear_shapes(a, layer)
        params = layer_params(a, layer)
        matrix_total = 0
        for name, (d_in, d_out) in shapes.items():
            numel = d_in * d_out
            matrix_total += numel
            t = base
            if name == "v_proj" or name == "kv_b_proj":
                if mix.attn_v_all:
                    t = gguf_type_bpw(mix.attn_v_all)
                if mix.attn_v_more and use_more_bits(i, n):
                    t = gguf_type_bpw(mix.attn_v_more)
            if name == "down_proj":
                if mix.ffn_down_all:
                    t = gguf_type_bpw(mix.ffn_down_all)
                if mix.ffn_down_more and use_more_bits(i, n):
                    t = gguf_type_bpw(mix.ffn_down_more)
            one += numel * t
        if layer.moe and a.moe:
            e = a.moe
            h, ie = a.hidden_size, e.expert_intermediate
            down_t = base
            if mix.ffn_down_all:
                down_t = gguf_type_bpw(mix.ffn_down_all)
            if mix.ffn_down_more and use_more_bits(i, n):
                down_t = gguf_type_bpw(mix.ffn_down_more)
            # Routed experts all have one shape: count them by multiplication (E reaches the thousands).
            widths = [(ie, e.num_experts)] + ([(e.shared_intermediate, 1)] if e.shared_intermediate else [])
            for w, count in widths:
                one += count * (2 * h * w * base + h * w * down_t)
                matrix_total += count * 3 * h * w
        rest = sum(params.values()) - matrix_total
        one += max(rest, 0) * 32  # norms, biases, routers: f32 in GGUF
        layer_bits += copies * one
    final_norm = norm_params(a.hidden_size, a.norm) if a.final_norm else 0
    bits = emb_bits + head_bits + layer_bits + Fraction(32) * final_norm  # 1-D tensors stay f32
    total_params = sum(counts.values())
    total = _bits_to_bytes(bits)
    return WeightBytes(
        total=total,
        embedding=_bits_to_bytes(emb_bits),
        lm_head=_bits_to_bytes(head_bits),
        layers=_bits_to_bytes(layer_bits),
        bits_per_weight=float(bits / total_params) if total_params else 0.0,
        note=(
            f"GGUF {fmt.upper()}: {mix.base.upper()} blocks ({float(base):.4g} bpw) with llama.cpp's per-tensor "
            f"mix (output.weight {mix.output.upper()}); effective {float(bits / total_params):.2f} bpw"
        ),
    )


def weight_bytes(a: ArchSpec, counts: dict[str, int], fmt: str) -> WeightBytes:
    """Bytes of the model's weights in memory for a storage format.

    ``counts`` are the components of :func:`vram_insight.params.count_params`. Linear layers (attention, MLP,
    experts) take the format's bpw; embeddings/lm_head/norms the format's higher precision.
    """
    fmt = normalise_format(fmt)
    if is_gguf(fmt):
        return gguf_weight_bytes(a, counts, fmt)
    f = HF_FORMATS[fmt]
    linear_names = ("attention", "mlp", "experts", "shared_experts")
    linear = sum(counts.get(k, 0) for k in linear_names)
    embed = counts.get("embedding", 0)
    head = counts.get("lm_head", 0)
    other = sum(v for k, v in counts.items() if k not in (*linear_names, "embedding", "lm_head"))
    bits = linear * f.linear_bpw + embed * f.embed_bpw + head * f.head_bpw + other * f.other_bpw
    total_params = linear + embed + head + other
    return WeightBytes(
        total=_bits_to_bytes(bits),
        embedding=_bits_to_bytes(embed * f.embed_bpw),
        lm_head=_bits_to_bytes(head * f.head_bpw),
        layers=_bits_to_bytes(linear * f.linear_bpw + other * f.other_bpw),
        bits_per_weight=float(bits / total_params) if total_params else 0.0,
        note=f.note,
    )


# KV-cache element sizes (formulas.md §B.4): vLLM fp8 1 B; llama.cpp q8_0 34 B/32, q4_0 18 B/32, ...
KV_DTYPE_BITS: dict[str, Fraction] = {
    "fp32": Fraction(32),
    "bf16": Fraction(16),
    "fp16": Fraction(16),
    "fp8": Fraction(8),
    "q8_0": Fraction(34 * 8, 32),
    "q5_1": Fraction(24 * 8, 32),
    "q5_0": Fraction(22 * 8, 32),
    "q4_1": Fraction(20 * 8, 32),
    "q4_0": Fraction(18 * 8, 32),
    "iq4_nl": Fraction(18 * 8, 32),
}


def kv_dtype_bits(name: str) -> Fraction:
    key = name.strip().lower().replace("-", "_")
    key = {"float16": "fp16", "bfloat16": "bf16", "fp8_e4m3": "fp8", "fp8_e5m2": "fp8", "f16": "fp16"}.get(
        key, key
    )
    if key not in KV_DTYPE_BITS:
        raise InputError.of(
            "error.kv_cache_dtype.unknown",
            "kv_cache_dtype",
            got=shown(name),
            expected=", ".join(KV_DTYPE_BITS),
        )
    return KV_DTYPE_BITS[key]
