"""Accuracy gate on the committed measurements (no torch needed): median ≤ 5 %, every case ≤ 15 %."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "validation"))

import compare  # noqa: E402


def test_predictions_match_measured_peaks() -> None:
    rows = compare.compare(compare.load_records())
    assert len(rows) >= 30
    s = compare.summary(rows)["overall"]
    worst = max(rows, key=lambda r: abs(r["error_pct"]))
    assert s["median_abs_pct"] <= compare.MEDIAN_LIMIT
    assert s["max_abs_pct"] <= compare.MAX_LIMIT, f"worst: {worst['id']} {worst['error_pct']:+.1f} %"
