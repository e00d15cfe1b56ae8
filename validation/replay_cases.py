"""Trace measured (or designed) workloads and replay them through the allocator model.

    python validation/replay_cases.py --calibration shared/calibration/cuda-h200.jsonl [--only ID] [--limits]
    python validation/replay_cases.py --case '{"id": "x", "model": "llama-3.2-1b", "mode": "train", ...}'

For every case: trace it once (``validation/traces/<id>.json.gz``, reused afterwards), replay the trace with
the default allocator and with ``expandable_segments:True``, and report max allocated, max reserved and
(``--limits``) the smallest ``set_per_process_memory_fraction`` limit that still runs, next to the measured
values when the case comes from a calibration file.  Results: ``validation/results/allocator-replay.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from allocator import AllocatorConfig, replay, smallest_limit  # noqa: E402

GiB = 1 << 30
# HF config keys that are metadata, not architecture
_DROP = ("architectures", "torch_dtype", "transformers_version", "_name_or_path")


def arch_config(model_id: str) -> dict:
    with open(os.path.join(ROOT, "data", "models", model_id + ".json")) as f:
        cfg = json.load(f)["config"]
    return {k: v for k, v in cfg.items() if k not in _DROP}


def trace_path(case_id: str) -> str:
    return os.path.join(HERE, "traces", case_id.replace("/", "__") + ".json.gz")


def get_trace(case: dict, retrace: bool = False) -> dict:
    import trace as tr_mod

    path = trace_path(case["id"])
    if os.path.exists(path) and not retrace:
        return tr_mod.load_trace(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    t0 = time.time()
    tr = tr_mod.trace_case(case["case"], arch_config(case["model"]))
    meta = {"case": case, "seconds": round(time.time() - t0, 1), "oracle_hits": tr.oracle_hits}
    tr_mod.save_trace(path, tr, meta)
    return tr_mod.load_trace(path)


def replay_case(case: dict, limits: bool, retrace: bool = False) -> dict:
    d = get_trace(case, retrace)
    ev = d["events"]
    out = {
        "id": case["id"],
        "model": case["model"],
        "case": case["case"],
        "n_events": sum(1 for e in ev if e[0] == 1),
        "trace_seconds": d["meta"]["seconds"],
    }
    out["tensor_peak_bytes"] = d["tensor_summary"]["peak_bytes"]
    out["tensor_peak_where"] = d["tensor_summary"]["peak_where"]
    for name, exp in (("default", False), ("expandable", True)):
        r = replay(ev, AllocatorConfig(expandable_segments=exp))
        rec = {
            "max_allocated_bytes": r.max_allocated,
            "max_reserved_bytes": r.max_reserved,
            "reserved_at_max_allocated_bytes": r.reserved_at_max_allocated,
            "phase_max": r.phase_max,
        }
        if limits:
            ok, fail = smallest_limit(ev, expandable_segments=exp)
            rec["min_limit_bytes"], rec["fails_at_bytes"] = ok, fail
        out[name] = rec
    return out


def _load_calibration(path: str) -> list[dict]:
    cases = []
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                cases.append({"id": r["id"], "model": r["model"], "case": r["case"], "measured": r})
    return cases


def _pct(pred: int, meas: int | None) -> str:
    return "" if not meas else f"{100.0 * (pred - meas) / meas:+.1f}%"


def markdown_table(results: list[dict]) -> str:
    """Predicted vs measured, GiB (2^30 B); the measured limit is the bracket (fails, works]."""

    def g(v):
        return f"{v / GiB:.2f}" if v else "–"

    def e(p, m):
        return f" ({100.0 * (p - m) / m:+.1f} %)" if m else ""

    lines = [
        "| run | max allocated: measured / replay | max reserved: measured / replay | smallest limit: "
        "measured (fails, works] / replay | expandable: reserved / limit (replay) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        m, d, x = r.get("measured") or {}, r["default"], r["expandable"]
        lim = "– / " + g(d.get("min_limit_bytes"))
        if m.get("min_allocator_limit_bytes"):
            lim = f"({g(m.get('oom_at_limit_bytes'))}, {g(m['min_allocator_limit_bytes'])}] / {g(d['min_limit_bytes'])}"
        lines.append(
            f"| {r['id']} | {g(m.get('max_allocated_bytes'))} / {g(d['max_allocated_bytes'])}"
            f"{e(d['max_allocated_bytes'], m.get('max_allocated_bytes'))} | {g(m.get('max_reserved_bytes'))} / "
            f"{g(d['max_reserved_bytes'])}{e(d['max_reserved_bytes'], m.get('max_reserved_bytes'))} | {lim} | "
            f"{g(x['max_reserved_bytes'])} / {g(x.get('min_limit_bytes'))} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calibration", help="JSON lines with id, model, case and measured values")
    ap.add_argument("--case", action="append", default=[], help="a case as JSON (id, model, case)")
    ap.add_argument("--only", default=None, help="substring of the case ids to run")
    ap.add_argument("--limits", action="store_true", help="also binary-search the smallest working limit")
    ap.add_argument("--retrace", action="store_true", help="trace again even if a trace file exists")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "allocator-replay.jsonl"))
    ap.add_argument("--table", action="store_true", help="print --out as a markdown table and exit")
    args = ap.parse_args(argv)
    if args.table:
        with open(args.out) as f:
            print(markdown_table([json.loads(line) for line in f if line.strip()]))
        return 0
    cases = _load_calibration(args.calibration) if args.calibration else []
    cases += [json.loads(c) for c in args.case]
    if args.only:
        cases = [c for c in cases if args.only in c["id"]]
    results = {}
    if os.path.exists(args.out):
        with open(args.out) as f:
            results = {r["id"]: r for r in map(json.loads, filter(str.strip, f))}
    for c in cases:
        t0 = time.time()
        res = replay_case(c, args.limits, args.retrace)
        m = c.get("measured") or {}
        res["measured"] = {
            k: m.get(k)
            for k in (
                "max_allocated_bytes",
                "max_reserved_bytes",
                "min_allocator_limit_bytes",
                "oom_at_limit_bytes",
            )
        }
        results[c["id"]] = res
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            for r in results.values():
                f.write(json.dumps(r) + "\n")
        dflt, exp = res["default"], res["expandable"]
        print(
            f"{c['id']}: alloc {dflt['max_allocated_bytes'] / GiB:.2f} GiB "
            f"{_pct(dflt['max_allocated_bytes'], m.get('max_allocated_bytes'))} | reserved "
            f"{dflt['max_reserved_bytes'] / GiB:.2f} GiB {_pct(dflt['max_reserved_bytes'], m.get('max_reserved_bytes'))}"
            f" | expandable reserved {exp['max_reserved_bytes'] / GiB:.2f} GiB"
            + (
                f" | min limit {dflt['min_limit_bytes'] / GiB:.2f} GiB "
                f"{_pct(dflt['min_limit_bytes'], m.get('min_allocator_limit_bytes'))}, expandable "
                f"{exp['min_limit_bytes'] / GiB:.2f} GiB"
                if args.limits
                else ""
            )
            + f" ({time.time() - t0:.0f}s)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
