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

from .arch import ArchSpec
from .messages import InputError, Message, msg, register, shown

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
    note: str  # English template of the message quant.<name> (registered below)
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
    # bitsandbytes FP4 (BitsAndBytesConfig(bnb_4bit_quant_type="fp4"), transformers' default 4-bit type): the
    # same storage as NF4 — bitsandbytes/functional.py quantize_4bit packs two 4-bit codes per byte with an fp32
    # absmax per 64 weights whatever the quant_type (which only picks the 16-entry code, get_4bit_type);
    # compress_statistics (double quant) stores the absmax as uint8 with an fp32 scale per 256 blocks.
    "fp4": WeightFormat(
        "fp4",
        "FP4 + double quant (bitsandbytes)",
        Fraction(4) + Fraction(8, 64) + Fraction(32, 64 * 256),
        _F16,
        _F16,
        _F16,
        "bitsandbytes FP4 (E2M1 code) with double quantization = 4.127 bpw on Linear layers, the NF4 layout "
        "(bitsandbytes functional.quantize_4bit); embed_tokens and lm_head stay 16-bit",
        trainable_base=False,
    ),
    "fp4-nodq": WeightFormat(
        "fp4-nodq",
        "FP4 without double quant (bitsandbytes)",
        Fraction(4) + Fraction(32, 64),
        _F16,
        _F16,
        _F16,
        "bitsandbytes FP4, fp32 absmax per 64 weights = 4.5 bpw on Linear layers (transformers' 4-bit default)",
        trainable_base=False,
    ),
    # --- GPTQ-Int8 (issue 11): vLLM model_executor/layers/quantization/gptq.py GPTQLinearMethod.create_weights
    # allocates qweight int32 [K/4, N] (8 bit per weight), qzeros int32 [K/g, N/4] (8 bit per group and column),
    # scales fp16 [K/g, N] and g_idx int32 [K] per Linear (K in, N out features); auto-gptq's QuantLinear holds the
    # same buffers. g = 128 as Qwen's and TheBloke's GPTQ-Int8 checkpoints use; g_idx is added per Linear in
    # gptq_g_idx_bytes. Embeddings, lm_head, norms and biases stay fp16 (GPTQ quantizes decoder Linears only).
    "gptq-int8": WeightFormat(
        "gptq-int8",
        "INT8 GPTQ (g128)",
        Fraction(8) + Fraction(8, 128) + Fraction(16, 128),
        _F16,
        _F16,
        _F16,
        "GPTQ int8, group 128: 8-bit weights + 8-bit zero point and fp16 scale per group of 128 = 8.1875 bpw, plus "
        "g_idx (int32 per input feature of each Linear); embeddings and lm_head 16-bit",
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
        "OCP MXFP4 on the routed experts' matrices only: 4-bit E2M1 + one E8M0 scale per 32 = 4.25 bpw; attention, "
        "router, expert biases, embeddings and lm_head stay bf16 (gpt-oss config.json quantization_config "
        "modules_to_not_convert; transformers quantizes only Mxfp4GptOssExperts' matrices)",
        trainable_base=False,
    ),
}

WEIGHT_FORMATS: tuple[str, ...] = (*HF_FORMATS, *GGUF_MIXES)


def format_code(fmt: str) -> str:
    """The message code describing a Hugging Face weight format (``quant.nf4_nodq`` for nf4-nodq)."""
    return "quant." + fmt.replace("-", "_")


register({format_code(name): f.note for name, f in HF_FORMATS.items()})
register({
    "quant.mxfp4_experts": "{format}; {share_pct:.1f}% of the parameters are expert matrices",
    "quant.gguf": "GGUF {type}: {base} blocks ({base_bpw} bpw) with llama.cpp's per-tensor mix (output.weight "
    "{output}); effective {bpw:.2f} bpw",
})  # fmt: skip


def normalise_format(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    aliases = {"nf4_nodq": "nf4-nodq", "float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "gptq": "int4",
               "awq": "int4", "gptq_int4": "int4", "gptq_int8": "gptq-int8", "fp8_e4m3": "fp8", "fp4_nodq": "fp4-nodq",
               "bnb_fp4": "fp4", "q4_k": "q4_k_m", "q5_k": "q5_k_m", "q3_k": "q3_k_m"}  # fmt: skip
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
    note: Message


def _bits_to_bytes(bits: Fraction) -> int:
    return int(-(-bits // 8))  # ceil


# src/llama-quant.cpp llama_tensor_get_type: file types whose attn_output goes to Q5_K in 8-expert models.
_Q5K_ATTN_OUT_8_EXPERTS = ("q2_k", "iq3_xs", "iq3_xxs", "q3_k_s", "q3_k_m", "iq4_nl", "q4_k_s", "q4_k_m", "iq3_s",
                           "iq3_m", "iq4_xs")  # fmt: skip


def gguf_matrix_type(fmt: str, role: str, i_layer: int, n_layers: int, n_experts: int) -> str:
    """GGUF type of one weight matrix of layer ``i_layer`` in file type ``fmt``.

    ``role`` is the matrix's projection name (``v_proj``, ``down_proj``, …). Rules of src/llama-quant.cpp
    ``llama_tensor_get_type_impl``: attn_v/ffn_down get the mix's larger type (every layer or where
    ``use_more_bits``); in 8-expert models (Mixtral) attn_k and attn_v become Q8_0 ("bumping this to Q8_0 trades
    just ~128MB") and attn_output Q5_K for the listed K/IQ file types. 16/32-bit files are not re-quantized.
    """
    mix = GGUF_MIXES[fmt]
    t = mix.base
    quantized = mix.base not in ("f32", "f16", "bf16")
    low_iq = fmt.startswith(("iq1", "iq2"))
    if role in ("v_proj", "kv_b_proj"):
        if mix.attn_v_all:
            t = mix.attn_v_all
        if mix.attn_v_more and use_more_bits(i_layer, n_layers):
            t = mix.attn_v_more
        if quantized and n_experts == 8 and not low_iq:
            t = "q8_0"
    elif role == "k_proj" and quantized and n_experts == 8:
        t = "q4_k" if low_iq else "q8_0"
    elif role == "o_proj" and n_experts == 8 and fmt in _Q5K_ATTN_OUT_8_EXPERTS:
        t = "q5_k"
    elif role == "down_proj":
        if mix.ffn_down_all:
            t = mix.ffn_down_all
        if mix.ffn_down_more and use_more_bits(i_layer, n_layers):
            t = mix.ffn_down_more
    return t


def _tensor_bytes(numel: int, gguf_type: str) -> int:
    """Bytes of one tensor: whole ggml blocks (exact for block types), IQ types at their stated bpw."""
    return int(-(-(numel * gguf_type_bpw(gguf_type)) // 8))


@dataclass(frozen=True)
class GgufMatrix:
    """One 2-D (or stacked-expert 3-D) weight of a repeating layer: its input/output widths and bytes."""

    name: str
    n_in: int
    n_out: int
    gguf_type: str
    nbytes: int


@dataclass(frozen=True)
class GgufLayout:
    """Bytes of each tensor group of a GGUF file as llama.cpp places them (src/llama-model.cpp load_tensors).

    ``token_embd`` (+ learned positions and named extra tensors) form the input layer; ``output`` is
    output.weight (for tied embeddings the size of the copy llama.cpp creates in the output buffer type) and
    ``output_norm`` the final norm; ``layers`` are the repeating layers, each with its matrices.
    """

    token_embd: int
    other: int
    output: int
    output_norm: int
    tied: bool
    layers: tuple[int, ...]
    matrices: tuple[tuple[GgufMatrix, ...], ...]
    output_type: str

    @property
    def file_bytes(self) -> int:
        """Tensor bytes of the file: a tied output matrix is stored once (as token_embd)."""
        return (
            self.token_embd
            + self.other
            + (0 if self.tied else self.output)
            + self.output_norm
            + sum(self.layers)
        )


_LAYOUTS: dict[tuple[int, str], tuple[ArchSpec, GgufLayout]] = {}


def gguf_layout(a: ArchSpec, counts: dict[str, int], fmt: str) -> GgufLayout:
    """Per-tensor bytes of a llama.cpp GGUF file type (memoised per ArchSpec instance and type)."""
    hit = _LAYOUTS.get((id(a), fmt))
    if hit is not None and hit[0] is a:
        return hit[1]
    result = _gguf_layout(a, counts, fmt)
    if len(_LAYOUTS) >= 64:
        _LAYOUTS.pop(next(iter(_LAYOUTS)))
    _LAYOUTS[(id(a), fmt)] = (a, result)
    return result


def _gguf_layout(a: ArchSpec, counts: dict[str, int], fmt: str) -> GgufLayout:
    """Per-tensor bytes of a llama.cpp GGUF file type (1-D tensors f32, matrices by :func:`gguf_matrix_type`)."""
    mix = GGUF_MIXES[fmt]
    from .params import (
        layer_params,
        linear_shapes,
        norm_params,
    )  # local: avoid an import cycle at module load

    n = a.num_layers
    n_experts = a.moe.num_experts if a.moe else 0
    # Tied embeddings: token_embd takes the output type (llama-quant.cpp: "for arches that share the same tensor
    # between the token embeddings and the output, we quantize the token embeddings with the quantization of the
    # output tensor").
    embd_type = mix.output if a.tie_word_embeddings else (mix.embedding or mix.base)
    layers: list[int] = []
    matrices: list[tuple[GgufMatrix, ...]] = []
    for i, layer in enumerate(a.layers):
        mats: list[GgufMatrix] = []
        for name, (d_in, d_out) in linear_shapes(a, layer).items():
            t = gguf_matrix_type(fmt, name, i, n, n_experts)
            mats.append(GgufMatrix(name, d_in, d_out, t, _tensor_bytes(d_in * d_out, t)))
        if layer.moe and a.moe:
            e, h = a.moe, a.hidden_size
            down_t = gguf_matrix_type(fmt, "down_proj", i, n, n_experts)
            ie = e.expert_intermediate
            # Stacked expert tensors ffn_{gate,up,down}_exps (one 3-D tensor each per layer).
            for name, d_in, d_out, t in (("gate_exps", h, ie, mix.base), ("up_exps", h, ie, mix.base),
                                         ("down_exps", ie, h, down_t)):  # fmt: skip
                numel = d_in * d_out * e.num_experts
                mats.append(GgufMatrix(name, d_in, d_out * e.num_experts, t, _tensor_bytes(numel, t)))
            if e.shared_intermediate:
                si = e.shared_intermediate
                for name, d_in, d_out, t in (("gate_shexp", h, si, mix.base), ("up_shexp", h, si, mix.base),
                                             ("down_shexp", si, h, down_t)):  # fmt: skip
                    mats.append(GgufMatrix(name, d_in, d_out, t, _tensor_bytes(d_in * d_out, t)))
        matrix_params = sum(m.n_in * m.n_out for m in mats)
        rest = max(sum(layer_params(a, layer).values()) - matrix_params, 0)
        # Norms, biases and MoE routers are f32 (convert_hf_to_gguf forces 1-D tensors and FFN_GATE_INP to F32).
        layers.append(sum(m.nbytes for m in mats) + 4 * rest)
        matrices.append(tuple(mats))
    # Learned position tables stay f32 (convert_hf_to_gguf forces POS_EMBD to F32); named extra tensors: base type.
    extra = sum(counts.get(k, 0) for k in a.extra_params)
    other = 4 * counts.get("positions", 0) + (_tensor_bytes(extra, mix.base) if extra else 0)
    final_norm = norm_params(a.hidden_size, a.norm) if a.final_norm else 0
    return GgufLayout(
        token_embd=_tensor_bytes(counts["embedding"], embd_type),
        other=other,
        output=_tensor_bytes(a.vocab_size * a.hidden_size, mix.output),
        output_norm=4 * final_norm,
        tied=a.tie_word_embeddings,
        layers=tuple(layers),
        matrices=tuple(matrices),
        output_type=mix.output,
    )


def gguf_weight_bytes(a: ArchSpec, counts: dict[str, int], fmt: str) -> WeightBytes:
    """Bytes of a llama.cpp GGUF file type: the sum of :func:`gguf_layout`'s tensors (tied output once)."""
    mix = GGUF_MIXES[fmt]
    lay = gguf_layout(a, counts, fmt)
    total = lay.file_bytes
    total_params = sum(counts.values())
    bpw = 8 * total / total_params if total_params else 0.0
    return WeightBytes(
        total=total,
        embedding=lay.token_embd,
        lm_head=0 if lay.tied else lay.output,
        layers=sum(lay.layers),
        bits_per_weight=bpw,
        note=msg(
            "quant.gguf",
            type=fmt.upper(),
            base=mix.base.upper(),
            base_bpw=f"{float(gguf_type_bpw(mix.base)):.4g}",
            output=mix.output.upper(),
            bpw=bpw,
        ),
    )


# --- Issue 11 formats: GPTQ's g_idx and gpt-oss's MXFP4 -------------------------------------------------------


def gptq_g_idx_bytes(a: ArchSpec) -> int:
    """GPTQ's ``g_idx``: one int32 per input feature of every quantized Linear (vLLM gptq.py create_weights,
    ``g_idx`` of shape [input_size_per_partition]); routed and shared experts' Linears included."""
    from .params import linear_shapes  # local: avoid an import cycle at module load

    total = 0
    for layer, count in a.layer_groups():
        per_layer = sum(d_in for d_in, _ in linear_shapes(a, layer).values())
        if layer.moe and a.moe:
            e = a.moe
            # Each gated expert: gate and up take the hidden size in, down takes the expert width in.
            per_layer += e.num_experts * (2 * a.hidden_size + e.expert_intermediate)
            if e.shared_intermediate:
                per_layer += 2 * a.hidden_size + e.shared_intermediate
        total += per_layer * count
    return 4 * total


def linear_bias_params(a: ArchSpec) -> int:
    """Biases of the Linears a format quantizes; quantizers keep them in the compute dtype (vLLM gptq.py and
    auto-gptq QuantLinear: fp16 ``bias``; bitsandbytes Linear4bit/Linear8bitLt and FP8Linear keep ``bias``
    unquantized). Attention q/k/v (Qwen2 ``qkv_bias``) and o biases, MLP biases, gpt-oss expert biases."""
    attention = 0 if a.mla else (a.q_dim + 2 * a.kv_dim) * a.qkv_bias + a.hidden_size * a.o_bias
    total = 0
    for layer, count in a.layer_groups():
        per_layer = attention
        if layer.moe and a.moe:
            if a.moe.expert_bias:
                per_layer += a.moe.num_experts * (2 * a.moe.expert_intermediate + a.hidden_size)
        elif a.mlp_bias:
            per_layer += (2 if a.gated_mlp else 1) * a.intermediate_size + a.hidden_size
        total += per_layer * count
    return total


def mxfp4_expert_matrix_params(a: ArchSpec) -> int:
    """Elements of the routed experts' weight matrices: per MoE layer E × (gate_up [2I, H] + down [H, I]) =
    E × 3·H·I (transformers GptOssExperts). Expert biases are not matrices: they stay bf16."""
    if a.moe is None:
        return 0
    from .params import mlp_params  # local: avoid an import cycle at module load

    per_expert = mlp_params(a.hidden_size, a.moe.expert_intermediate, True, False)
    return sum(a.moe.num_experts * per_expert * count for layer, count in a.layer_groups() if layer.moe)


def mxfp4_weight_bytes(a: ArchSpec, counts: dict[str, int]) -> WeightBytes:
    """gpt-oss's checkpoint layout: MXFP4 (4.25 bpw, OCP MX spec: 32 E2M1 values share one E8M0 scale) on the
    routed experts' matrices, bf16 everywhere else. Only MoE models have such experts."""
    experts = mxfp4_expert_matrix_params(a)
    if experts == 0:
        raise ValueError(
            "weights mxfp4: MXFP4 checkpoints quantize the routed experts of an MoE model (gpt-oss); this model "
            "has no experts — choose bf16, fp8, int8, gptq-int8, int4 or nf4"
        )
    mx = HF_FORMATS["mxfp4"]
    total_params = sum(counts.values())
    embed, head = counts.get("embedding", 0), counts.get("lm_head", 0)
    rest = total_params - experts - embed - head
    bits = experts * mx.linear_bpw + (embed + head + rest) * _F16
    return WeightBytes(
        total=_bits_to_bytes(bits),
        embedding=_bits_to_bytes(embed * _F16),
        lm_head=_bits_to_bytes(head * _F16),
        layers=_bits_to_bytes(experts * mx.linear_bpw + rest * _F16),
        bits_per_weight=float(bits / total_params),
        note=msg(
            "quant.mxfp4_experts", format=msg(format_code("mxfp4")), share_pct=100 * experts / total_params
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
    if fmt == "mxfp4":
        return mxfp4_weight_bytes(a, counts)
    f = HF_FORMATS[fmt]
    linear_names = ("attention", "mlp", "experts", "shared_experts")
    # Biases of the quantized Linears stay in 16 bit with the norms (issue 11: exact GPTQ-Int8 sizes).
    biases = linear_bias_params(a) if f.linear_bpw != f.other_bpw else 0
    linear = sum(counts.get(k, 0) for k in linear_names) - biases
    embed = counts.get("embedding", 0)
    head = counts.get("lm_head", 0)
    other = sum(v for k, v in counts.items() if k not in (*linear_names, "embedding", "lm_head")) + biases
    bits = linear * f.linear_bpw + embed * f.embed_bpw + head * f.head_bpw + other * f.other_bpw
    if fmt == "gptq-int8":
        bits += 8 * gptq_g_idx_bytes(a)
    total_params = linear + embed + head + other
    return WeightBytes(
        total=_bits_to_bytes(bits),
        embedding=_bits_to_bytes(embed * f.embed_bpw),
        lm_head=_bits_to_bytes(head * f.head_bpw),
        layers=_bits_to_bytes(linear * f.linear_bpw + other * f.other_bpw),
        bits_per_weight=float(bits / total_params) if total_params else 0.0,
        note=msg(format_code(fmt)),
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
