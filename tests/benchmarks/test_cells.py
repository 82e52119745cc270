"""The benchmarks run and report well-formed rows (their figures are for `make bench`, never asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import run as runner

FIELDS = {"group", "case", "subject_s", "subject_range", "baseline", "baseline_s", "baseline_range", "ratio",
          "goal", "met", "unit"}


def test_quick_cell_benchmarks_write_well_formed_results(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    assert runner.main(["--quick", "--only", "cells", "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["quick"] is True and written["machine"]["cpus"] >= 1
    rows = written["results"]
    assert {r["group"] for r in rows} >= {"trivial cell", "first hit", "large input", "model"}
    assert "hit, paired with the plain cell before it" in {r["case"] for r in rows if r["group"] == "trivial cell"}
    for r in rows:
        assert set(r) == FIELDS
        assert r["subject_range"][0] <= r["subject_s"] <= r["subject_range"][1]
        assert r["ratio"] == r["subject_s"] / r["baseline_s"]
