"""The engine-side reserve model proposed in ALLOCATOR.md, checked against the full allocator replays.

    python validation/reserve_model.py            # table: formula vs replay (and vs GPU where measured)

The engine knows the tensor peak and which phase / transient sets it; from that alone it adds the
allocator reserve the card needs on top of the tensor peak (smallest working allocator limit):

* default allocator: ``reserve_default_bytes`` — one more buffer of the transient class that tops the peak
  (see the function), because that class's earlier segments are partly occupied by longer-lived tensors
  by the time the peak request comes;
* ``expandable_segments:True``: ``reserve_expandable_bytes`` — page rounding only.

The constants are mechanism counts (one fp32 logits buffer, two MLP blocks, one fp32 score buffer), not
fits; the spread around them is reported by this script and discussed in ALLOCATOR.md.
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

GiB = 1 << 30
_LOSS_OPS = {"_log_softmax_backward_data", "nll_loss_backward", "nll_loss_forward", "_log_softmax"}


def fp32_logits_bytes(tokens: int, vocab: int) -> int:
    """One fp32 [tokens, vocab] loss buffer: transformers' ForCausalLMLoss upcasts the logits
    (``logits.float()``), and log_softmax / nll_loss_backward / _log_softmax_backward_data each make one."""
    return tokens * vocab * 4


def mlp_block_bytes(tokens: int, cfg: dict, dtype_bytes: int = 2) -> int:
    """One MLP transient of the prefill: ``[tokens, intermediate]`` (gate, silu, up, their product); for a
    MoE layer the grouped-GEMM token buffer ``[tokens * top_k, hidden]`` (transformers grouped_mm path)."""
    if cfg.get("num_experts") or cfg.get("num_local_experts"):
        k = cfg.get("num_experts_per_tok", 1)
        return tokens * k * cfg["hidden_size"] * dtype_bytes
    return tokens * cfg["intermediate_size"] * dtype_bytes


def eager_scores_bytes(batch: int, heads: int, q_len: int, kv_len: int) -> int:
    """The fp32 softmax of eager attention, ``[batch, heads, q, kv]`` (``softmax(..., dtype=float32)``)."""
    return batch * heads * q_len * kv_len * 4


def peak_class(peak_op: str, peak_phase: str, mode: str) -> str:
    """Which transient tops the tensor peak (the engine knows this from its phase breakdown)."""
    if mode != "infer" and peak_op in _LOSS_OPS:
        return "loss"
    if peak_phase.endswith("optimizer"):
        return "optimizer"
    if peak_phase == "prefill":
        return "prefill-eager" if peak_op in ("_softmax", "softmax") else "prefill"
    return "other"


# Share of the tensor peak lost to partly filled segments when no single large transient class tops the
# peak (optimizer step with foreach temporaries, activation recompute): 1.5 % of the peak (replays: 0.7-4 %).
SCATTERED_SHARE = 0.015
# expandable segments: partial 20 MiB pages around live blocks (replays: 0.03-2.4 % of the peak, median 0.4 %).
EXPANDABLE_SHARE = 0.005


def reserve_default_bytes(peak_bytes: int, klass: str, case: dict, cfg: dict) -> int:
    """Smallest working allocator limit minus the tensor peak, default allocator."""
    if klass == "loss":
        return fp32_logits_bytes(case["B"] * case["S"], cfg["vocab_size"])
    if klass == "prefill":
        return 2 * mlp_block_bytes(case["B"] * case["P"], cfg)
    if klass == "prefill-eager":
        return eager_scores_bytes(case["B"], cfg["num_attention_heads"], case["P"], case["P"])
    return int(SCATTERED_SHARE * peak_bytes)


def reserve_expandable_bytes(peak_bytes: int) -> int:
    """The same with ``expandable_segments:True``."""
    return int(EXPANDABLE_SHARE * peak_bytes)


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return (xs[(n - 1) // 2] + xs[n // 2]) / 2


def main() -> int:
    """Markdown table: replayed smallest limit vs tensor peak + formula, GiB, and the error summary."""
    from replay_cases import arch_config

    rows = []
    for name in ("allocator-replay.jsonl", "allocator-replay-extra.jsonl"):
        path = os.path.join(HERE, "results", name)
        if os.path.exists(path):
            with open(path) as f:
                rows += [json.loads(line) for line in f if line.strip()]
    print("| run | peak is | tensor peak | default: replay / formula | expandable: replay / formula | H200 |")
    print("|---|---|---|---|---|---|")
    errs_d, errs_e, raw = [], [], []
    for r in rows:
        case, cfg = r["case"], arch_config(r["model"])
        peak = r["default"]["max_allocated_bytes"]
        w = r["tensor_peak_where"]
        k = peak_class(w["op"], w["phase"], case["mode"])
        lim_d, lim_e = r["default"]["min_limit_bytes"], r["expandable"]["min_limit_bytes"]
        pd = peak + reserve_default_bytes(peak, k, case, cfg)
        pe = peak + reserve_expandable_bytes(peak)
        errs_d.append((pd - lim_d) / lim_d)
        errs_e.append((pe - lim_e) / lim_e)
        raw.append((peak - lim_d) / lim_d)
        m = (r.get("measured") or {}).get("min_allocator_limit_bytes")
        ms = f"{m / GiB:.2f} ({(pd - m) / m:+.1%})" if m else "–"
        print(
            f"| {r['id']} | {k} | {peak / GiB:.2f} | {lim_d / GiB:.2f} / {pd / GiB:.2f} ({errs_d[-1]:+.1%}) | "
            f"{lim_e / GiB:.2f} / {pe / GiB:.2f} ({errs_e[-1]:+.1%}) | {ms} |"
        )
    if rows:
        for name, errs in (
            ("default, formula", errs_d),
            ("default, tensor peak alone", raw),
            ("expandable", errs_e),
        ):
            print(
                f"\n{name}: median |error| {_median([abs(e) for e in errs]):.1%}, "
                f"largest {max(errs, key=abs):+.1%} ({len(errs)} runs)",
                end="",
            )
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
