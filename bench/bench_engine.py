"""CPython engine benchmarks: import time, one estimate (median/p95), a report, the full catalog sweep and the
`vram` CLI wall time. Prints JSON; `bench/run.py` folds it into the report.

    python bench/bench_engine.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "engine"


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": round(statistics.median(ordered), 4), "p95_ms": round(p95, 4), "n": len(ordered)}


def _subprocess_ms(code: list[str], runs: int) -> dict[str, float]:
    env_path = str(ENGINE)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            code, check=True, capture_output=True, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"}
        )
        samples.append((time.perf_counter() - t0) * 1000)
    return _percentiles(samples)


def bench(quick: bool = False) -> dict[str, Any]:
    sys.path.insert(0, str(ENGINE))
    runs = 3 if quick else 7
    out: dict[str, Any] = {}
    out["import_vram_insight"] = _subprocess_ms([sys.executable, "-c", "import vram_insight.web_api"], runs)
    out["cli_estimate_wall"] = _subprocess_ms(
        [sys.executable, "-m", "vram_insight", "estimate", "-m", "llama-3.1-8b", "--json"], runs
    )

    from vram_insight.catalog import load_catalog
    from vram_insight.estimate import estimate
    from vram_insight.planning import report
    from vram_insight.schemas import EstimateRequest

    cat = load_catalog()
    req = EstimateRequest(model="llama-3.1-8b", mode="inference", seq_len=8192, gpu=None)
    estimate(req)  # warm the model cache, as the worker does after its first call
    samples = []
    for _ in range(200 if not quick else 50):
        t0 = time.perf_counter()
        estimate(req)
        samples.append((time.perf_counter() - t0) * 1000)
    out["one_estimate"] = _percentiles(samples)

    samples = []
    rep_req = req.model_copy(update={"gpu": "rtx-4090"})
    for _ in range(20 if not quick else 5):
        t0 = time.perf_counter()
        report(rep_req)
        samples.append((time.perf_counter() - t0) * 1000)
    out["one_report"] = _percentiles(samples)

    # Full sweep: every catalog model × every mode that applies, then the fit on every GPU.
    t0 = time.perf_counter()
    count = 0
    for model in cat.models.values():
        modes = ["inference", "finetune", "training", "grpo"] + (
            ["multimodal"] if model.kind == "multimodal" else []
        )
        for mode in modes:
            try:
                res = estimate(EstimateRequest(model=model.id, mode=mode, gpu=None))
            except ValueError:
                continue
            for gpu in cat.gpus.values():
                _ = res.total_bytes <= gpu.memory_bytes
            count += 1
    out["full_sweep"] = {
        "seconds": round(time.perf_counter() - t0, 3),
        "estimates": count,
        "gpus": len(cat.gpus),
        "models": len(cat.models),
    }
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(bench(args.quick), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
