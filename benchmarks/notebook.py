"""The demo notebook in real kernels: the warm re-run of all its cells against the cold run (same store)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from scripts.run_notebooks import cell_runs, execute

from .common import row

DEMO = Path(__file__).resolve().parent.parent / "notebooks" / "recommender.ipynb"


def _total(nb: Any) -> float:
    return sum(run.seconds for run in cell_runs(nb))


def run(quick: bool = False) -> list[dict[str, Any]]:
    if quick:  # minutes of kernel work: not a smoke-test job
        return []
    old = os.environ.get("NBCACHE_DIR")
    cold: list[float] = []
    warm: list[float] = []
    try:
        for _ in range(2):
            with tempfile.TemporaryDirectory(prefix="nbcache-bench-") as store:
                os.environ["NBCACHE_DIR"] = store
                cold.append(_total(execute(DEMO, timeout=1800)))
                warm.append(_total(execute(DEMO, timeout=1800)))
    finally:
        if old is None:
            os.environ.pop("NBCACHE_DIR", None)
        else:
            os.environ["NBCACHE_DIR"] = old
    return [row("demo notebook", "warm re-run, all cells", warm, "cold run", cold, ">= 20x faster",
                lambda s, b: s * 20 <= b)]
