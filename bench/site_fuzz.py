#!/usr/bin/env python3
"""Hostile inputs through the real page: the built site in headless Chromium, the real engine worker, the page's
engine client with its watchdog. Produces the site figures of docs/reliability.md.

    python bench/site_fuzz.py [--site DIR] [--seed N] [--cases N] [--no-timings]

1. Timings (unless --no-timings): every catalog model × every mode as a full "report", and the "catalog" op,
   through engine.call: the slowest legitimate calls, against which the watchdog's CALL_TIMEOUT_MS is set.
2. Fuzz: a seeded list of hostile requests (out-of-range and wrong-typed fields, unknown fields, long strings,
   payloads that are not JSON, pathological custom configs, unknown ops), each sent through engine.call as the
   page does, classified by how it ended: a result, the engine's own one-line rejection, or one of the
   watchdog's codes (timeout = a hang caught and the worker restarted, crashed, non_finite). After a restart the
   default request is replayed, as the page replays the last valid inputs. Every message is checked to be one
   line without a traceback.

Writes bench/results/site_fuzz.json and prints a summary. Not part of CI (a hang costs the watchdog's 10 s).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("BENCH_CHROMIUM", "/usr/bin/chromium")
OUT = ROOT / "bench" / "results" / "site_fuzz.json"

INT_FIELDS = [
    "batch_size", "seq_len", "gen_len", "grad_accum", "lora_rank", "lora_alpha", "num_generations", "prompt_len",
    "completion_len", "gpus", "tp", "pp", "images", "image_width", "image_height", "video_frames", "num_layers",
    "prefix_tokens", "freeze_trainable_layers",
]  # fmt: skip
FLOAT_FIELDS = ["gpu_memory_utilization", "beta", "vllm_gpu_memory_utilization", "mfu", "audio_seconds"]
ENUM_FIELDS = [
    "mode",
    "weights",
    "kv_cache_dtype",
    "runtime",
    "attention",
    "precision",
    "optimizer",
    "method",
]
MODES = ["inference", "finetune", "training", "grpo", "multimodal"]
ODD_NUMBERS = [0, -1, 1, 2**31, 2**53, 10**7, 10**15, 1.5, -0.0, 1e308, "12", None, True, [], {}]
ODD_FLOATS = [0.0, -1.0, 1.0, 2.0, 1e-300, 1e308, "0.5", None, [], float("nan")]
LLAMA = {
    "model_type": "llama",
    "hidden_size": 4096,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "intermediate_size": 14336,
    "vocab_size": 128256,
    "max_position_embeddings": 131072,
}
CONFIG_VARIANTS = [
    {"num_hidden_layers": 10**3},
    {"num_hidden_layers": 10**5},
    {"num_hidden_layers": 10**7},
    {"num_hidden_layers": 0},
    {"num_hidden_layers": -4},
    {"hidden_size": 10**9},
    {"hidden_size": 0},
    {"num_attention_heads": 0},
    {"num_attention_heads": 7},
    {"num_key_value_heads": 0},
    {"intermediate_size": 10**12},
    {"vocab_size": 10**12},
    {"vocab_size": "many"},
    {"model_type": "no-such-arch"},
    {"model_type": None},
    {"num_local_experts": 10**6, "num_experts_per_tok": 2},
    {"num_local_experts": 8, "num_experts_per_tok": 10**6},
    {"max_position_embeddings": 10**12},
    {"text_config": {"nested": [1, 2, {"deeper": None}]}},
    {"torch_dtype": "float1024"},
]


def hostile_cases(rng: random.Random, n: int) -> list[dict]:
    """[{family, op, payload (a JSON string or an object)}], deterministic for a seed."""
    cases: list[dict] = []
    for variant in CONFIG_VARIANTS:
        cfg = {**LLAMA, **variant}
        cases.append({"family": "custom config", "op": "report", "payload": {"config": cfg}})
    for raw in ["", "{", "null", "[]", "1e999", '{"seq_len": Infinity}', "\u0000", '"text"', "{" * 5000]:
        cases.append({"family": "not a request", "op": "report", "payload": raw})
    cases.append({"family": "not a request", "op": "report", "payload": json.dumps({"pad": "x" * 2_000_000})})
    for op in ["no-such-op", "", "__import__", "info", "catalog", "parse_config"]:
        cases.append({"family": "ops", "op": op, "payload": {}})
    while len(cases) < n:
        req: dict = {"mode": rng.choice(MODES)}
        for _ in range(rng.randint(1, 4)):
            kind = rng.random()
            if kind < 0.5:
                req[rng.choice(INT_FIELDS)] = rng.choice(ODD_NUMBERS)
            elif kind < 0.7:
                req[rng.choice(FLOAT_FIELDS)] = rng.choice(ODD_FLOATS)
            elif kind < 0.85:
                req[rng.choice(ENUM_FIELDS)] = rng.choice(["", "x" * 10_000, 3, None, "bf16", "nope"])
            else:
                req[rng.choice(["model", "gpu", "unknown_field", "config"])] = rng.choice(
                    ["llama-3.1-8b", "no-such-model", 42, None, {"a": 1}, "h100-sxm", ""]
                )
        payload = json.dumps(req, allow_nan=True)  # NaN is sent as JSON's invalid bare NaN on purpose
        cases.append({"family": "fields", "op": rng.choice(["quick", "report"]), "payload": payload})
    return cases[:n] if n >= len(CONFIG_VARIANTS) else cases


TIMINGS_JS = """async () => {
  const e = window.__vramApp.engine; const out = [];
  let t = performance.now(); const cat = await e.call('catalog', {});
  out.push(['catalog', performance.now() - t]);
  for (const m of cat.models) for (const mode of ['inference', 'finetune', 'training', 'grpo', 'multimodal']) {
    const t0 = performance.now();
    try { await e.call('report', { model: m.id, mode }); } catch { /* counted by the fuzz, not here */ }
    out.push([`report ${m.id} ${mode}`, performance.now() - t0]);
  }
  return out;
}"""

FUZZ_JS = """async (cases) => {
  const e = window.__vramApp.engine;
  const waitReady = () => new Promise((resolve) => {
    if (e.state === 'ready' || e.state === 'error') return resolve(e.state);
    const off = e.onState((s) => { if (s === 'ready' || s === 'error') { off(); resolve(s); } });
  });
  const out = [];
  for (const c of cases) {
    const t0 = performance.now();
    let outcome, message = null;
    try {
      await e.call(c.op, c.payload);
      outcome = 'ok';
    } catch (err) {
      outcome = err.code || 'rejected';
      message = String(err.message);
    }
    const ms = performance.now() - t0;
    let recover_ms = null;
    if (outcome === 'timeout' || outcome === 'crashed') {
      const t1 = performance.now();
      await waitReady();
      // The page replays the last valid inputs on the fresh worker.
      try { await e.call('report', {}); } catch { /* counted below via state */ }
      recover_ms = performance.now() - t1;
    }
    out.push({ family: c.family, op: c.op, outcome, message, ms, recover_ms, state: e.state });
    if (e.state === 'error') break;
  }
  return out;
}"""


def short(payload: object, limit: int = 160) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


def load_build():
    spec = importlib.util.spec_from_file_location("vram_build", ROOT / "build.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["vram_build"] = mod
    spec.loader.exec_module(mod)
    return mod


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--site", type=Path, default=ROOT / "_site")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--no-timings", action="store_true")
    args = ap.parse_args(argv)
    if not (args.site / "index.html").is_file():
        raise SystemExit(f"{args.site} has no index.html: python build.py --out {args.site}")
    from playwright.sync_api import sync_playwright

    build = load_build()
    httpd = build.make_server(args.site, 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    cases = hostile_cases(random.Random(args.seed), args.cases)
    report: dict = {"seed": args.seed, "cases": len(cases)}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(600_000)
        page.goto(url)
        page.wait_for_selector("[data-testid=engine-status][data-state=ready]", timeout=120_000)
        report["limits"] = page.evaluate("window.__vramApp.engine.limits")
        if not args.no_timings:
            timings = sorted(page.evaluate(TIMINGS_JS), key=lambda r: -r[1])
            reports = sorted(ms for name, ms in timings if name.startswith("report"))
            report["timings"] = {
                "calls": len(timings),
                "slowest": [[name, round(ms)] for name, ms in timings[:5]],
                "report_median_ms": round(reports[len(reports) // 2], 1),
                "report_max_ms": round(reports[-1]),
                "catalog_ms": round(next(ms for name, ms in timings if name == "catalog")),
            }
        results = page.evaluate(FUZZ_JS, cases)
        browser.close()
    httpd.shutdown()
    by_outcome: dict[str, int] = {}
    by_family: dict[str, dict[str, int]] = {}
    for r in results:
        by_outcome[r["outcome"]] = by_outcome.get(r["outcome"], 0) + 1
        fam = by_family.setdefault(r["family"], {})
        fam[r["outcome"]] = fam.get(r["outcome"], 0) + 1
    bad_messages = [
        r for r in results if r["message"] and ("\n" in r["message"] or "Traceback" in r["message"])
    ]
    recoveries = sorted(r["recover_ms"] for r in results if r["recover_ms"] is not None)
    report.update(
        {
            "tried": len(results),
            "outcomes": by_outcome,
            "families": by_family,
            "multi_line_or_traceback_messages": len(bad_messages),
            "examples_bad_messages": [r["message"][:300] for r in bad_messages[:5]],
            "recovery_ms": {
                "count": len(recoveries),
                "median": round(recoveries[len(recoveries) // 2]) if recoveries else None,
                "max": round(recoveries[-1]) if recoveries else None,
            },
            "engine_state_at_end": results[-1]["state"] if results else None,
            # The cases the watchdog had to handle, with what was sent (cut short).
            "watchdog_cases": [
                {"outcome": r["outcome"], "op": r["op"], "payload": short(c["payload"]), "ms": round(r["ms"])}
                for r, c in zip(results, cases, strict=False)
                if r["outcome"] in {"timeout", "crashed", "non_finite", "unavailable"}
            ],
        }
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
