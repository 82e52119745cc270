"""benchmarks/remote.py smoke-runs at small sizes against moto and returns well-formed rows (figures never asserted)."""

from __future__ import annotations

from benchmarks import remote
from tests.benchmarks.test_cells import FIELDS


def test_quick_remote_benchmark_rows_are_well_formed() -> None:
    rows = remote.run(quick=True)
    assert [r["group"] for r in rows] == ["remote hit", "remote hit"]
    for r in rows:
        assert set(r) == FIELDS
        assert r["subject_range"][0] <= r["subject_s"] <= r["subject_range"][1]
        assert r["ratio"] == r["subject_s"] / r["baseline_s"]
