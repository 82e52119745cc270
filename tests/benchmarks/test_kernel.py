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
                                         "cheap cell, miss less its own save", "the save alone (in those misses)",
                                         "cheap cell, hit, paired with the plain cell before it",
                                         "cheap cell, miss less its save, paired with the plain cell before it"]
    for r in rows:
        assert set(r) == FIELDS and r["group"] == "kernel" and r["baseline"] == "the plain cell"
        assert r["subject_range"][0] <= r["subject_s"] <= r["subject_range"][1]
        assert "paired" in r["case"] or r["subject_range"][0] > 0  # a pair's difference may be below zero


def test_paired_figures_are_the_plain_median_plus_each_pairs_difference() -> None:
    from benchmarks.kernel import paired

    assert paired([5.0, 7.0, 4.0], [3.0, 4.0, 1.0]) == [5.0, 6.0, 6.0]  # median of the plain cells: 3.0
