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
    # peft casts a LoRA layer's input to the adapter dtype (a saved copy per adapted Linear) unless the dtypes
    # already match or autocast runs (peft/tuners/lora/layer.py Linear.forward: requires_conversion =
    # not torch.is_autocast_enabled()); without the copy lora_A saves the shared input tensor itself.
    lora_input_copy: bool = True
    compiled: bool = False  # torch.compile of the decoder layers (AOTAutograd min-cut partitioner)
    # torchtune MultiHeadAttention expands grouped K and V to every query head before the attention call
    # (modules/attention.py: ``k.unsqueeze(2).expand(expand_shape).flatten(1, 2)``, a copy the kernel saves).
    expand_kv: bool = False


def mlp_width_per_token(a: ArchSpec, layer: LayerSpec) -> int:
    """MLP intermediate width one token passes through (MoE: top-k experts + shared expert)."""
    if layer.moe and a.moe:
        return a.moe.top_k * a.moe.expert_intermediate + a.moe.shared_intermediate
    return a.intermediate_size


def _rms_norm_saved(h: int, s: TrainSetup, weight_trainable: bool) -> int:
    """HF RMSNorm under autograd: fp32 input kept by pow/mul; normalised x kept by ``weight *`` if trainable."""
    if s.compiled:
        # Inductor's partitioner (torch/_functorch/partitioners.py min_cut_rematerialization_partition) saves the
        # norm's input in its own dtype and recomputes the fp32 upcast and the normalised x in backward (measured on
        # a Llama layer's AOT forward graph: the layer input, the mid-layer residual and rstd are saved).
        return s.resid_bytes * h
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
        # saves lora_A's output (rank r). Without the cast lora_A saves the shared input (see _lora_shared_inputs).
        if s.lora_input_copy:
            saved += s.lora_bytes * d_in
        saved += (s.lora_bytes if s.lora_input_copy else s.act_bytes) * s.lora_rank
    return saved


def _lora_shared_inputs(a: ArchSpec, i: int, s: TrainSetup) -> int:
    """Inputs lora_A saves without a cast, once per distinct tensor, that no frozen Linear saves: the normalised
    hidden state (q/k/v; gate/up) and the MLP product (down). o_proj's input is attention's saved output."""
    if s.lora_input_copy or s.base_trainable or not s.lora_targets:
        return 0
    t = s.lora_targets
    shared = 0
    if t & {"q_proj", "k_proj", "v_proj"}:
        shared += s.act_bytes * a.hidden_size
    if t & {"gate_proj", "up_proj"}:
        shared += s.act_bytes * a.hidden_size
    if "down_proj" in t:
        shared += s.act_bytes * i
    return shared


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
        post = ab * h if s.compiled else FP32 * h + (ab * h if s.base_trainable else 0)
        norms += 2 * post
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
    if s.expand_kv and not a.mla:
        kv = v_width = q
    attn = ab * (q + kv + v_width + q)
    if s.compiled and s.base_trainable:
        # measured AOT forward graph: the compiled layer saves o_proj's input apart from the attention output
        attn += ab * q
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
        # compiled: SiLU(gate) is recomputed from gate in backward (measured AOT graph: gate, up [, product])
        mlp = (2 if s.compiled else 3) * ab * i
        mlp_in_names = ("gate_proj", "up_proj")
        # ... and the product for down_proj's weight gradient.
        if s.base_trainable:
            mlp += ab * i
    else:
        # fc1 output for GELU; GELU output for fc2 (recomputed from fc1's output when compiled)
        mlp = ab * i + (ab * i if s.base_trainable and not s.compiled else 0)
        mlp_in_names = ("up_proj",)
    if s.base_trainable and not s.autocast:
        linear_inputs += ab * h  # post-attention norm output, shared by gate/up
    for name in mlp_in_names:
        linear_inputs += _linear_input_saved(name, h, s)
    linear_inputs += _linear_input_saved("down_proj", i, s)
    linear_inputs += _lora_shared_inputs(a, i, s)
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


def bnb_qlora_layer_saved_bytes_per_token(a: ArchSpec, layer: LayerSpec, s: TrainSetup) -> dict[str, int]:
    """One decoder layer of HF + bitsandbytes QLoRA after peft's ``prepare_model_for_kbit_training``, under the
    Trainer's autocast: what autograd keeps per token (measured on a Mistral-7B layer, validation/measure.py
    run_train_qlora_bnb).

    * prepare_model_for_kbit_training casts every non-4-bit parameter to fp32 (peft/utils/other.py): the fp32
      embedding makes the residual stream fp32 and the fp32 norm weights keep the normalised states fp32;
    * bitsandbytes Linear4bit.forward casts its input to the bf16 compute dtype and its output back to the input
      dtype (nn/modules.py: ``.to(inp_dtype)``), so every projection output is fp32; MatMul4Bit saves no input
      (the frozen 4-bit weight needs none) — autograd/_functions.py;
    * under autocast each adapted Linear's lora_A casts its fp32 input to bf16 (one copy per module) and saves it;
      lora_B saves lora_A's bf16 output (rank r);
    * attention runs on bf16 casts of q, k, v (saved by SDPA with its output and log-sum-exp).
    """
    h, q, kv, r = a.hidden_size, a.q_dim, a.kv_dim, s.lora_rank
    i = mlp_width_per_token(a, layer)
    t = s.lora_targets
    parts: dict[str, int] = {"norms": a.norms_per_layer * (FP32 * h + FP32)}  # fp32 input + rsqrt per norm
    parts["attention"] = 2 * (q + kv + kv + q) + FP32 * a.num_heads
    lora = 0
    for name, d_in in (("q_proj", h), ("k_proj", h), ("v_proj", h), ("gate_proj", h), ("up_proj", h)):
        if name in t:
            lora += 2 * d_in + 2 * r
    if "o_proj" in t:
        lora += 2 * r  # its input is the bf16 attention output, saved by SDPA already
    if "down_proj" in t:
        lora += 2 * i + 2 * r
    parts["linear_inputs"] = lora
    # gate and up outputs (fp32) kept by SiLU and the product, SiLU(gate) (fp32) kept by the product
    parts["mlp"] = (3 if a.gated_mlp else 1) * FP32 * i
    return parts


def compiled_ce_peak_bytes(tokens: int, vocab: int, act_bytes: int, upcast_in_model: bool) -> tuple[int, int]:
    """Cross-entropy compiled by Inductor (HF torch_compile of the model; torchtune compile_loss): the upcast,
    log-softmax and NLL fuse into one kernel that saves its input and a per-row log-sum-exp, and the backward
    writes the gradient in one pass. Returns (forward peak, backward-start peak).

    ``upcast_in_model``: torchtune's TransformerDecoder returns ``self.output(h).float()`` outside the compiled
    region, so the fp32 logits exist and are the saved input (and the gradient is fp32 before its cast back).
    """
    n = tokens * vocab
    if upcast_in_model:
        return (act_bytes + FP32) * n, 2 * FP32 * n
    return act_bytes * n, 2 * act_bytes * n


def torchtune_chunked_ce_bytes(
    tokens: int, vocab: int, act_bytes: int, compiled: bool, chunks: int = 8
) -> tuple[int, int]:
    """torchtune CEWithChunkedOutputLoss (modules/loss/ce_chunked_output_loss.py, 8 chunks): the model returns
    the logits as ``num_output_chunks`` 16-bit chunks (TransformerDecoder.chunked_output) and the loss upcasts one
    chunk at a time. Returns (forward peak, backward-start peak).

    Eager: every chunk's fp32 log-softmax stays saved for backward while the 16-bit chunks exist; backward works
    one chunk at a time. Compiled (``compute_cross_entropy`` compiled by compile_loss): each chunk saves only its
    16-bit input and a log-sum-exp, and its backward writes a 16-bit gradient chunk.
    """
    n = tokens * vocab
    chunk = -(-n // chunks)
    if compiled:
        return act_bytes * n, act_bytes * n + act_bytes * chunk
    forward = act_bytes * n + FP32 * n + FP32 * chunk
    backward = FP32 * n + 2 * FP32 * chunk + act_bytes * chunk
    return forward, backward


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


def training_ce_peak_bytes(
    tokens: int, vocab: int, act_bytes: int, shift_copy: bool = False, upcast_in_model: bool = False
) -> tuple[int, int]:
    """Cross-entropy as transformers computes it (loss_utils.ForCausalLMLoss: ``logits.float()`` then
    F.cross_entropy). Returns (forward peak, backward-start peak):

    forward: 16-bit logits + their fp32 copy + the fp32 log-softmax (saved);
    backward: saved log-softmax + nll_loss_backward's grad + _log_softmax_backward_data's output, all fp32.
    ``shift_copy``: transformers < 4.50 shifted the logits with ``logits[..., :-1, :].contiguous()`` (4.46–4.49
    loss_utils.py; the model forwards before them did the same), one more fp32 copy alive at the log-softmax —
    4.50 pads the labels instead. ``upcast_in_model``: before 4.45 LlamaForCausalLM.forward replaced its 16-bit
    logits with ``logits = logits.float()``, so the 16-bit logits are gone by the log-softmax.
    """
    n = tokens * vocab
    half = act_bytes if act_bytes != FP32 and not upcast_in_model else 0
    forward = n * half + (3 if shift_copy else 2) * FP32 * n
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
