"""benchmarks/frames.py smoke-runs at a small size and returns a well-formed row (figures are never asserted)."""

from __future__ import annotations

from benchmarks import frames
from tests.benchmarks.test_cells import FIELDS


def test_quick_frame_restore_row_is_well_formed() -> None:
    rows = frames.run(quick=True)
    assert [r["group"] for r in rows] == ["frame restore"]
    for r in rows:
        assert set(r) == FIELDS
        assert r["subject_range"][0] <= r["subject_s"] <= r["subject_range"][1]
        assert r["ratio"] == r["subject_s"] / r["baseline_s"]
