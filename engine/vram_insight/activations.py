"""Activation memory: what a Hugging Face transformers decoder layer keeps alive, per token.

The layer modelled is the Llama-style block of ``modeling_llama.py`` (RMSNorm → q/k/v → RoPE → attention → o_proj
→ residual → RMSNorm → gated MLP → residual), which Qwen2/3, Mistral, Gemma, Phi-3, DeepSeek (dense layers) and
most current decoders share. Counting follows Korthikanti et al. 2022 (arXiv:2205.05198, Table 1 / §4): for each
op, which tensors autograd saves for backward — adapted to what PyTorch really saves:

* ``x * rsqrt(var)`` and ``x.pow(2)`` save their input; HF's RMSNorm upcasts to fp32 first
  (``hidden_states.to(torch.float32)``), so a 16-bit model keeps a 4-byte copy per norm.
* ``weight * x`` saves ``x`` only when ``weight`` is trainable; a Linear saves its input only when its weight is
  trainable (grad_W = grad_yᵀ·x); a frozen Linear needs just its weight.
* SDPA/flash attention saves q, k, v, the output and the log-sum-exp (no s² term, FlashAttention §3.1); eager
  attention saves the fp32 softmax and its 16-bit cast (``modeling_llama.eager_attention_forward``).
* the gated MLP saves gate (for SiLU), SiLU(gate) and up (for the product), and the product (for down_proj).

The same functions give the inference (no-grad) transient: the tensors alive at the peak op of a forward.
All results are bytes for one token unless the name says otherwise; s² terms are returned separately.
"""

from __future__ import annotations

from dataclasses import dataclass

from .arch import ArchSpec, LayerSpec

FP32 = 4


@dataclass(frozen=True)
class TrainSetup:
    """How one layer is trained: activation/residual dtype and which weights need gradients."""

    act_bytes: int  # dtype of matmul outputs (2 for bf16/fp16/autocast, 4 for fp32)
    resid_bytes: int  # dtype of the residual stream (4 under autocast with fp32 weights)
    base_trainable: bool  # full fine-tuning / training: every weight of the layer gets a gradient
    lora_targets: frozenset[str] = frozenset()  # adapted Linear names (PEFT target_modules)
    lora_rank: int = 0
    lora_bytes: int = FP32  # PEFT keeps adapters in fp32 by default and casts the input to it
    attention: str = "sdpa"
    autocast: bool = False


def mlp_width_per_token(a: ArchSpec, layer: LayerSpec) -> int:
    """MLP intermediate width one token passes through (MoE: top-k experts + shared expert)."""
    if layer.moe and a.moe:
        return a.moe.top_k * a.moe.expert_intermediate + a.moe.shared_intermediate
    return a.intermediate_size


def _rms_norm_saved(h: int, s: TrainSetup, weight_trainable: bool) -> int:
    """HF RMSNorm under autograd: fp32 input kept by pow/mul; normalised x kept by ``weight *`` if trainable."""
    if s.resid_bytes == FP32:
        # input already fp32: .to(float32) is a no-op; x (the residual stream tensor) and x·rsqrt are saved
        return FP32 * h + (FP32 * h if weight_trainable else 0)
    # 16-bit residual: the fp32 copy is saved; the 16-bit cast of x·rsqrt is saved by weight-mul if trainable
    return FP32 * h + (s.resid_bytes * h if weight_trainable else 0)


def _linear_input_saved(name: str, d_in: int, s: TrainSetup) -> int:
    """Bytes a Linear keeps of its input beyond the shared input tensor (which q/k/v and gate/up share, and the
    caller counts once when the base weights are trainable): autocast's per-op 16-bit copy, LoRA's fp32 copy."""
    saved = 0
    if s.base_trainable and s.autocast:
        saved += 2 * d_in  # autocast makes a bf16 copy per op (casts of non-leaf tensors are not cached)
    if name in s.lora_targets:
        # peft/tuners/lora/layer.py Linear.forward: x = x.to(lora_A.weight.dtype); lora_A saves it; lora_B
        # saves lora_A's output (rank r).
        saved += s.lora_bytes * d_in + s.lora_bytes * s.lora_rank
    return saved


def layer_saved_bytes_per_token(a: ArchSpec, layer: LayerSpec, s: TrainSetup) -> dict[str, int]:
    """Bytes per token one decoder layer keeps for backward (no recomputation), by part."""
    h, q, kv = a.hidden_size, a.q_dim, a.kv_dim
    if a.mla:
        m = a.mla
        q = a.num_heads * (m.qk_nope_head_dim + m.qk_rope_head_dim)
        kv = a.num_heads * (m.qk_nope_head_dim + m.qk_rope_head_dim)  # expanded per-head K (and V below)
    i = mlp_width_per_token(a, layer)
    ab = s.act_bytes
    parts: dict[str, int] = {}
    # Norms (2 standard, 4 in Gemma-2/3: the post-norms see 16-bit o_proj/down_proj outputs).
    norms = 2 * _rms_norm_saved(h, s, s.base_trainable)
    if a.norms_per_layer == 4:
        norms += 2 * (FP32 * h + (ab * h if s.base_trainable else 0))
    if a.qk_norm != "none":
        # q_norm / k_norm (Qwen3, Gemma-3 per head; OLMo-2 full width): the same RMSNorm, over q and k.
        norms += _rms_norm_saved(q, s, s.base_trainable) + _rms_norm_saved(kv, s, s.base_trainable)
    parts["norms"] = norms
    # Inputs of the q/k/v projections: the normalised hidden state, shared by q, k, v.
    linear_inputs = ab * h if (s.base_trainable and not s.autocast) else 0
    for name in ("q_proj", "k_proj", "v_proj"):
        linear_inputs += _linear_input_saved(name, h, s)
    # Attention core. SDPA/flash: q, k (after RoPE), v and the output (the output is already laid out as
    # [B, S, n, d], so o_proj's .contiguous() is a view).
    v_width = a.num_heads * a.mla.v_head_dim if a.mla else kv
    attn = ab * (q + kv + v_width + q)
    if s.attention == "eager":
        # repeat_kv materialises K and V for every query head when n_kv < n_q; the output is transposed
        # (a copy) before o_proj.
        if a.num_kv_heads < a.num_heads and not a.mla:
            attn += ab * (2 * q - 2 * kv)
        attn += ab * q
    parts["attention"] = attn
    # o_proj input (the attention output) is saved by the base Linear if trainable: counted in `attn` already.
    linear_inputs += _linear_input_saved("o_proj", q, s)
    # MLP: gate (for SiLU), SiLU(gate) and up (for the product) ...
    if a.gated_mlp:
        mlp = 3 * ab * i
        mlp_in_names = ("gate_proj", "up_proj")
        # ... and the product for down_proj's weight gradient.
        if s.base_trainable:
            mlp += ab * i
    else:
        mlp = ab * i + (ab * i if s.base_trainable else 0)  # fc1 output for GELU; GELU output for fc2
        mlp_in_names = ("up_proj",)
    if s.base_trainable and not s.autocast:
        linear_inputs += ab * h  # post-attention norm output, shared by gate/up
    for name in mlp_in_names:
        linear_inputs += _linear_input_saved(name, h, s)
    linear_inputs += _linear_input_saved("down_proj", i, s)
    parts["mlp"] = mlp
    parts["linear_inputs"] = linear_inputs
    if layer.moe and a.moe:
        # Router logits (fp32 softmax over E experts) and the token→expert gather buffers.
        parts["router"] = FP32 * a.moe.num_experts + ab * h * a.moe.top_k
    return parts


def mlp_backward_bytes_per_token(a: ArchSpec, layer: LayerSpec, act_bytes: int) -> int:
    """Gradients alive in a layer's MLP backward beyond its saved set, per token: at the SiLU·up product
    (``mul`` backward), the gradient flowing in from down_proj and the gradient it produces for one factor, both
    intermediate-wide (measured in a recomputed layer: one extra mm and one extra mul [T, I] output)."""
    return 2 * act_bytes * mlp_width_per_token(a, layer)


def eager_scores_saved_bytes(a: ArchSpec, seq_len: int, s: TrainSetup) -> int:
    """Per token, eager attention keeps the fp32 softmax [B, n, S, S] and its 16-bit cast for backward."""
    per_row = a.num_heads * seq_len
    return per_row * (FP32 + (s.act_bytes if s.act_bytes != FP32 else 0))


def checkpoint_bytes_per_token(a: ArchSpec, s: TrainSetup) -> int:
    """Full recompute (HF gradient_checkpointing, one checkpoint per decoder layer): the layer input only."""
    return s.resid_bytes * a.hidden_size


def inference_layer_peak_per_token(a: ArchSpec, layer: LayerSpec, act_bytes: int) -> int:
    """Tensors alive at the peak op of a no-grad layer forward, per token (excluding the residual inputs).

    At the MLP product: SiLU(gate), up and the product (gated; gate itself is freed after SiLU), or fc1 output
    and GELU output (plain). Measured in transformers 5.x as the prefill peak op (mul.Tensor).
    """
    i = mlp_width_per_token(a, layer)
    mlp = (3 if a.gated_mlp else 2) * act_bytes * i
    if layer.moe and a.moe:
        # transformers ≥ 5 grouped_mm experts (integrations/moe.py grouped_mm_experts_forward): each token is
        # copied once per routed expert (S = tokens·top_k rows). Two peaks, whichever is larger:
        # * the gate: the gathered inputs [S, h], the fused gate_up output [S, 2I], SiLU(gate) [S, I] and the
        #   product [S, I] (measured on Mixtral: index, _grouped_mm, silu, mul);
        # * after the down projection: the gathered inputs, the down output, its routing-weighted product and
        #   the inverse-permuted copy, all [S, h] (measured on Qwen3-MoE: index ×2, _grouped_mm, mul);
        # and a shared expert (dense gated MLP) runs while the routed output [tokens, h] is held.
        e = a.moe
        gate = e.top_k * (a.hidden_size + 4 * e.expert_intermediate)
        down = 4 * e.top_k * a.hidden_size
        shared = a.hidden_size + 3 * e.shared_intermediate if e.shared_intermediate else 0
        mlp = act_bytes * max(gate, down, shared)
    # attention phase: q, k, v, rotated q/k and the output
    attn = act_bytes * (3 * a.q_dim + 4 * a.kv_dim)
    return max(mlp, attn)


def inference_resident_per_token(a: ArchSpec, act_bytes: int) -> int:
    """Hidden-state tensors alive during a forward (per token): inputs_embeds held by the model's forward, the
    layer input, the mid-layer residual and the normalised input of the current sub-block."""
    return 4 * act_bytes * a.hidden_size


def eager_scores_inference_bytes(a: ArchSpec, batch: int, q_len: int, kv_len: int, act_bytes: int) -> int:
    """Eager attention at its peak op (softmax → .to(dtype)): scaled scores, masked scores, fp32 softmax and its
    16-bit cast over [B, n, q, kv], plus the [B, 1, q, kv] additive mask."""
    elems = batch * a.num_heads * q_len * kv_len
    per_elem = 2 * act_bytes + FP32 + (act_bytes if act_bytes != FP32 else 0)
    return elems * per_elem + batch * q_len * kv_len * act_bytes


def training_ce_peak_bytes(tokens: int, vocab: int, act_bytes: int) -> tuple[int, int]:
    """Cross-entropy as transformers computes it (loss_utils.ForCausalLMLoss: ``logits.float()`` then
    F.cross_entropy). Returns (forward peak, backward-start peak):

    forward: 16-bit logits + their fp32 copy + the fp32 log-softmax (saved);
    backward: saved log-softmax + nll_loss_backward's grad + _log_softmax_backward_data's output, all fp32.
    """
    n = tokens * vocab
    forward = n * (act_bytes if act_bytes != FP32 else 0) + 2 * FP32 * n
    backward = 3 * FP32 * n
    return forward, backward


def chunked_ce_bytes(tokens: int, vocab: int, hidden: int, act_bytes: int) -> int:
    """Liger FusedLinearCrossEntropy: logits only for a chunk of rows at a time.

    chunk = next_pow2(ceil(BT / ceil(V / H))) rows (liger_kernel/ops/fused_linear_cross_entropy.py); the chunk's
    logits and their gradient in place, plus grad_input [BT, H].
    """
    inc = -(-vocab // hidden)
    rows = -(-tokens // inc)
    chunk = 1 << max(0, (rows - 1).bit_length())
    return 2 * act_bytes * chunk * vocab + act_bytes * tokens * hidden


def grpo_logits_bytes(sequences: int, completion_len: int, vocab: int, act_bytes: int) -> int:
    """TRL GRPO policy pass, at its peak (the first op of backward, measured: slice_backward): the gradient of
    the kept completion logits [B, C, V] and slice_backward's zero-padded [B, C + 1, V] (logits_to_keep = C + 1,
    the last position dropped). The forward's [B, C + 1, V] logits are gone by then (only their temperature-scaled
    copy and the row-wise log-softmax outputs were saved, and backward consumes them row by row)."""
    return act_bytes * sequences * vocab * (2 * completion_len + 1)


def grpo_reference_logits_bytes(sequences: int, completion_len: int, vocab: int, act_bytes: int) -> int:
    """TRL reference log-probs under no_grad: the [B, C+1, V] logits (logits_to_keep = C + 1) and their
    temperature-scaled copy; row-wise log_softmax outputs are freed row by row."""
    return 2 * act_bytes * sequences * (completion_len + 1) * vocab
