"""Published measurements nobody here made (benchmark tables, startup logs, issue reports) vs the engine.

Each file ``validation/published/<category>.jsonl`` holds one measured case per line::

    {"id": "...", "category": "llama.cpp", "source_url": "...", "source_title": "...", "quote": "the exact lines",
     "request": {EstimateRequest fields},
     "measured": {"bytes": 169869312, "value_as_published": 162.0, "unit_as_published": "MiB",
                  "what": "CUDA0 compute buffer size"},   # or {"value": 1952, ...} for a count or ratio (KV blocks)
     "predicted": "details.llama_cpp.compute_buffer_bytes",   # dotted path into the result (default total_bytes)
     "compare": "value",        # or "capacity": measured.bytes is a card this run just fits (an OOM threshold)
     "tolerance_pct": 5.0, "semantics": "MiB as printed by ggml (bytes / 1024 / 1024)"}

``"gate": false`` (with ``"not_gated_because"``) keeps a record in the comparison but out of the tolerance and
median checks — for readings whose semantics the engine does not model yet (say which and why).

``compare: "capacity"`` records say "this setting was the largest that ran on a card of N bytes": the error is the
predicted card memory relative to that capacity (a small positive error means we would call it a near miss).
No torch needed; ``python validation/compare.py`` writes the section into docs/accuracy.md and
``tests/test_published.py`` holds every record to its tolerance.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from vram_insight.planning import report
from vram_insight.schemas import EstimateRequest

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "validation" / "published"
DEFAULT_TOLERANCE_PCT = 15.0
CATEGORY_MEDIAN_LIMIT_PCT = 5.0


def load(folder: Path = PUBLISHED) -> list[dict[str, Any]]:
    """All published records, each tagged with the file it came from."""
    records = []
    for path in sorted(folder.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                rec = json.loads(line)
                rec["_file"] = f"{path.name}:{n}"
                records.append(rec)
    return records


def lookup(data: Any, path: str) -> Any:
    """``a.b.c`` into nested dicts (a missing key is a KeyError naming the path)."""
    for key in path.split("."):
        data = data[key]
    return data


def predict(record: dict[str, Any]) -> float:
    """The engine's number for one record (a full report, so fit/inverse/throughput paths work too)."""
    rep = report(EstimateRequest.model_validate(record["request"])).model_dump(mode="json")
    path = record.get("predicted", "total_bytes")
    return float(lookup(rep if path.split(".")[0] in rep else rep["estimate"], path))


def compare(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for rec in records:
        predicted = predict(rec)
        m = rec["measured"]
        measured = float(m["bytes"] if "bytes" in m else m["value"])
        rows.append({
            "id": rec["id"],
            "category": rec["category"],
            "file": rec["_file"],
            "source_url": rec["source_url"],
            "what": rec["measured"].get("what", ""),
            "compare": rec.get("compare", "value"),
            "unit": "bytes" if "bytes" in m else m.get("unit_as_published", ""),
            "measured": measured,
            "predicted": predicted,
            "error_pct": (predicted - measured) / measured * 100,
            "tolerance_pct": float(rec.get("tolerance_pct", DEFAULT_TOLERANCE_PCT)),
            "gate": bool(rec.get("gate", True)),
            "not_gated_because": rec.get("not_gated_because", ""),
        })  # fmt: skip
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[float]] = {"overall": []}
    for r in rows:
        if not r.get("gate", True):
            continue
        groups.setdefault(r["category"], []).append(abs(r["error_pct"]))
        groups["overall"].append(abs(r["error_pct"]))
    return {
        name: {"cases": len(e), "median_abs_pct": statistics.median(e), "max_abs_pct": max(e)}
        for name, e in groups.items()
        if e
    }


def render_section(rows: list[dict[str, Any]]) -> list[str]:
    """The docs/accuracy.md section (markdown lines)."""
    lines = [
        "## Published measurements",
        "",
        "Numbers other people measured and published (benchmark tables, startup logs, issue reports), each with its",
        "source and exact settings in `validation/published/*.jsonl`; GB/GiB/MiB are converted to bytes as the",
        "source's own measuring code defines them. `tests/test_published.py` holds every case to its tolerance",
        f'and every category to a median ≤ {CATEGORY_MEDIAN_LIMIT_PCT:.0f} %. "capacity" rows are OOM thresholds: the',
        'largest setting that ran on a card, compared with the card memory we predict for it. Rows marked "not',
        'gated" are shown but kept out of the tolerance and median checks, with the reason.',
        "",
        "| category | cases | median abs. error | max abs. error |",
        "|---|---:|---:|---:|",
    ]
    for name, v in summary(rows).items():
        lines.append(f"| {name} | {v['cases']} | {v['median_abs_pct']:.2f} % | {v['max_abs_pct']:.2f} % |")
    lines += ["", "| case | what was measured | measured (MB) | predicted (MB) | error | source |",
              "|---|---|---:|---:|---:|---|"]  # fmt: skip
    for r in rows:
        what = r["what"] + (" (card it just fits)" if r["compare"] == "capacity" else "")
        if r["unit"] == "bytes":
            measured, predicted = f"{r['measured'] / 1e6:,.1f}", f"{r['predicted'] / 1e6:,.1f}"
        else:  # a count or ratio (KV blocks, concurrency), in the source's unit
            measured, predicted = f"{r['measured']:,.6g} ({r['unit']})", f"{r['predicted']:,.6g}"
        if not r.get("gate", True):
            what += " — not gated: " + r["not_gated_because"]
        lines.append(
            f"| `{r['id']}` | {what} | {measured} | {predicted} | "
            f"{r['error_pct']:+.2f} % | [{r['file']}]({r['source_url']}) |"
        )
    return [*lines, ""]
