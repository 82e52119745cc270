"""benchmarks/store.py smoke-runs at small sizes and returns well-formed rows (figures are never asserted)."""

from __future__ import annotations

from benchmarks import store
from tests.benchmarks.test_cells import FIELDS


def test_quick_store_benchmark_rows_are_well_formed() -> None:
    rows = store.run(quick=True)
    assert {r["group"] for r in rows} == {"store restore", "store save", "store memory", "store scale",
                                          "store growth"}
    for r in rows:
        assert set(r) == FIELDS
        assert r["subject_range"][0] <= r["subject_s"] <= r["subject_range"][1]
        assert r["ratio"] == r["subject_s"] / r["baseline_s"]
