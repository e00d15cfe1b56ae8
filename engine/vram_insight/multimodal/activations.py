"""Activation memory of one vision or audio tower (inference peak or training, formulas.md §C adapted to the
tower's MLP and norms).

Pure Python (runs in Pyodide).
"""

from __future__ import annotations

from .base import AttentionImpl, Checkpointing, Tower, TowerStage


def _stages(tower: Tower) -> list[TowerStage]:
    if tower.stages:
        return list(tower.stages)
    return [
        TowerStage(
            layers=tower.layers,
            hidden=tower.hidden,
            heads=tower.heads,
            intermediate=tower.intermediate,
            window=tower.window if tower.attention == "windowed" else None,
        )
    ]


def tower_activation_bytes(
    tower: Tower,
    positions: int,
    batch: int,
    dtype_bytes: int,
    attention: AttentionImpl,
    training: bool,
    checkpointing: Checkpointing = "none",
    span: int | None = None,
) -> int:
    """Activation bytes of one tower for ``batch`` sequences whose media give ``positions`` encoder positions each
    (``MediaTokens.encoder_positions[tower.name]``; stage-0 positions for hierarchical towers).

    ``span`` is the longest single attention sequence (``MediaTokens.attention_span[tower.name]``, default
    ``positions``); it sizes eager attention's score matrices. Windowed layers use their window instead.
    Per position (h = hidden, i = MLP width, a = heads, S = span or window, b = dtype bytes):

    * inference — the transient peak of one layer forward: the larger of the attention phase (residual h +
      norm output h + q, k, v 3h + attention output h = 6h elements) and the MLP phase (residual h + norm
      output h + gated: gate, up, act(gate) 3i / plain: fc1 out, act out 2i). Eager attention adds the a·S
      scores: most towers' eager_attention_forward takes an fp32 softmax and casts it back (4 + b bytes per
      score coexist; ``softmax_fp32`` False: scores and softmax in the dtype, 2b). FlashAttention and SDPA's
      fused kernels never materialise them.
    * training — formulas.md §C.3 for a pre-norm block without dropout: 2 norm inputs, attention input, q, k, v,
      attention output, MLP input = 8h elements, plus the MLP's i-wide tensors (gated 4: gate, up, act(gate),
      product; fused GELU 2: fc1 out, act out; quick_gelu 3: x·sigmoid(1.702x) keeps the sigmoid too) and any
      ``extra_saved_per_layer``. RMSNorm as transformers writes it keeps an fp32 copy of its input (+4h bytes
      per norm). Eager keeps the fp32 softmax and its cast copy ((4 + b)·a·S bytes, or b·a·S when the softmax
      runs in the dtype; §C.1's as²b terms without dropout); flash/SDPA keep a 4-byte log-sum-exp per head instead (§C.2). ``none`` keeps every layer;
      ``selective`` recomputes the attention core (no a·S term); ``full`` keeps each layer's input (h) and one
      layer's activations while it is recomputed (§C.4).

    Checked against the tensors autograd saves per layer (transformers 5.24, bf16, CPU): CLIP-L/14, SigLIP-so400m
    and Pixtral match to 0.02 % with SDPA and eager; the Whisper encoder keeps 6 % more, the Qwen2.5-VL ViT 3–12 %
    more (its non-flash path copies q/k/v per window). Eager scores are counted for all positions at once (a·s·S), as for towers that batch their images;
    towers that loop over images one at a time peak lower at inference.
    """
    if positions <= 0 or batch <= 0:
        return 0
    b = dtype_bytes
    # eager: an fp32 softmax plus its cast to the activation dtype (CLIP, SigLIP, Qwen, ...) or a softmax in the
    # dtype (Whisper, Swin, DaViT, InternViT, Llama 4: nn.functional.softmax(attn_weights, dim=-1))
    if tower.softmax_fp32:
        score_bytes = 4 + b if b < 4 else 4
    else:
        score_bytes = b if training else 2 * b
    if not training and tower.softmax_fp32:
        # At the softmax op of a forward: the scaled scores (b), their fp32 upcast and the fp32 softmax output
        # (measured on the Qwen2.5-VL ViT: mul bf16 + _to_copy fp32 + _softmax fp32 = 10 bytes per score).
        score_bytes = b + 4 + 4 if b < 4 else 8
    # Qwen-VL vision RoPE: fp32 copies of q and k, their products with cos/sin, the rotate_half concat and sum
    # coexist with the qkv output (measured peak op of the ViT's attention phase).
    rope_extra = 24 if tower.rope_fp32_qk else 0
    span = min(span or positions, positions)
    kept, peak, inputs = 0, 0, 0
    for st in _stages(tower):
        s = max(1, positions // st.position_divisor)
        s_span = min(max(1, span // st.position_divisor), s)
        h, i, a = st.hidden, st.intermediate, st.heads
        # Windowed towers: every layer attends within `window` positions except `full_attention_layers`.
        if not st.window:
            n_full = st.layers
        else:
            n_full = 0 if tower.stages else min(tower.full_attention_layers, st.layers)
        n_win = st.layers - n_full
        s_win = min(st.window or s_span, s_span)
        eager = attention == "eager"
        scores_full = a * s * s_span if eager and n_full else 0  # one layer's attention probabilities
        scores_win = a * s * s_win if eager and n_win else 0
        if not training:
            attn_phase = (6 * h * b + rope_extra * h) * s + max(scores_full, scores_win) * score_bytes
            mlp_phase = (2 * h + (3 * i if tower.gated_mlp else 2 * i)) * s * b
            peak = max(peak, attn_phase, mlp_phase)
            continue
        mlp_saved = 4 if tower.gated_mlp else (3 if tower.unfused_act else 2)
        per_layer = (8 * h + mlp_saved * i + tower.extra_saved_per_layer) * s * b
        if tower.norm == "rms":
            per_layer += 2 * 4 * h * s  # the fp32 input copy of each of the 2 RMSNorms
        lse = 0 if eager else 4 * a * s  # fp32 log-sum-exp per head and position (flash / SDPA backward)
        if checkpointing == "none":
            kept += st.layers * (per_layer + lse) + (n_full * scores_full + n_win * scores_win) * score_bytes
        elif checkpointing == "selective":
            kept += st.layers * (per_layer + lse)
        else:
            inputs += st.layers * h * s * b
            peak = max(peak, per_layer + lse + max(scores_full, scores_win) * score_bytes)
    if not training:
        return peak * batch
    if checkpointing == "full":
        return (inputs + peak) * batch
    return kept * batch
