"""The kernel benchmark runs its quick mode and reports well-formed rows (figures are for `make bench` only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import run as runner
from tests.benchmarks.test_cells import FIELDS

pytestmark = pytest.mark.kernel


def test_quick_kernel_benchmark_writes_hit_and_miss_rows(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    assert runner.main(["--quick", "--only", "kernel", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["results"]
    assert [r["case"] for r in rows] == ["cheap cell, hit (panel included)",
                                         "cheap cell, miss incl. save (panel included)",
                                         "cheap cell, miss less its own save", "the save alone (in those misses)"]
    for r in rows:
        assert set(r) == FIELDS and r["group"] == "kernel" and r["baseline"] == "the plain cell"
        assert 0 < r["subject_range"][0] <= r["subject_s"] <= r["subject_range"][1]
