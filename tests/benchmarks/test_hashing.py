"""benchmarks/hashing.py in quick mode returns well-formed rows (its timings are reported, never asserted)."""

from __future__ import annotations

from benchmarks.hashing import run
from tests.benchmarks.test_cells import FIELDS


def test_quick_run_returns_well_formed_rows() -> None:
    rows = run(quick=True)
    assert {r["group"] for r in rows} == {"numpy", "pandas", "keying"}
    for r in rows:
        assert set(r) == FIELDS
        assert r["subject_range"][0] <= r["subject_s"] <= r["subject_range"][1]
        assert r["baseline_range"][0] <= r["baseline_s"] <= r["baseline_range"][1]
        assert r["ratio"] == r["subject_s"] / r["baseline_s"] and r["met"] in (True, False, None)
