"""The headless benchmark's quick mode runs `nbcache run` on a synthetic notebook and writes well-formed rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import run as runner
from tests.benchmarks.test_cells import FIELDS


@pytest.mark.kernel
@pytest.mark.timeout(600)
def test_quick_headless_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    assert runner.main(["--quick", "--only", "headless", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["results"]
    assert [r["group"] for r in rows] == ["nbcache run"] * 3
    assert all(set(r) == FIELDS for r in rows)
