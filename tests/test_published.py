"""Published measurements from outside the project (validation/published/*.jsonl): each case within its
tolerance, each category's median within 5 %."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "validation"))

import published  # noqa: E402

RECORDS = published.load()
ROWS = published.compare(RECORDS)


def test_records_name_their_source_and_semantics() -> None:
    assert len(RECORDS) >= 10
    for rec in RECORDS:
        assert rec["source_url"].startswith("https://"), rec["id"]
        assert rec["quote"] and rec["measured"]["what"], rec["id"]
        m = rec["measured"]
        if "bytes" in m:
            assert isinstance(m["bytes"], int) and m["bytes"] > 0, rec["id"]
        else:  # a count or ratio (KV blocks, concurrency) with its unit
            assert isinstance(m["value"], int | float) and m["value"] > 0, rec["id"]
            assert m["unit_as_published"], rec["id"]


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_case_within_its_tolerance(row: dict) -> None:
    if not row["gate"]:
        assert len(row["not_gated_because"]) > 40, f"{row['id']}: say why it is not gated"
        return
    assert abs(row["error_pct"]) <= row["tolerance_pct"], f"{row['error_pct']:+.2f} % ({row['file']})"


def test_category_medians() -> None:
    for name, s in published.summary(ROWS).items():
        assert s["median_abs_pct"] <= published.CATEGORY_MEDIAN_LIMIT_PCT, name
