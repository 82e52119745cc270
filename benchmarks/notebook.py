"""The demo notebook in real kernels: its warm re-run against the cold run (same store), cached cells alone and all
cells, and the wall time of the cold plus the warm run, as `make demo` spends it, against the 3-minute goal."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from scripts.run_notebooks import cell_runs, execute

from .common import row

DEMO = Path(__file__).resolve().parent.parent / "notebooks" / "recommender.ipynb"
GOAL_S = 180.0


def _totals(nb: Any) -> tuple[float, float]:
    """Seconds of the cached cells, and of all cells."""
    runs = cell_runs(nb)
    return sum(run.seconds for run in runs if run.cached), sum(run.seconds for run in runs)


def run(quick: bool = False) -> list[dict[str, Any]]:
    if quick:  # minutes of kernel work: not a smoke-test job
        return []
    old = os.environ.get("NBCACHE_DIR")
    cold: list[tuple[float, float]] = []
    warm: list[tuple[float, float]] = []
    walls: list[float] = []
    try:
        for _ in range(2):
            with tempfile.TemporaryDirectory(prefix="nbcache-bench-") as store:
                os.environ["NBCACHE_DIR"] = store
                start = time.perf_counter()
                cold.append(_totals(execute(DEMO, timeout=1800)))
                warm.append(_totals(execute(DEMO, timeout=1800)))
                walls.append(time.perf_counter() - start)
    finally:
        if old is None:
            os.environ.pop("NBCACHE_DIR", None)
        else:
            os.environ["NBCACHE_DIR"] = old
    return [
        row("demo notebook", "warm re-run, cached cells", [w[0] for w in warm], "cold run", [c[0] for c in cold],
            ">= 20x faster", lambda s, b: s * 20 <= b),
        row("demo notebook", "warm re-run, all cells", [w[1] for w in warm], "cold run", [c[1] for c in cold],
            "none (imports dominate)", None),
        row("demo notebook", "cold + warm run of it, wall time", walls, "the 3-minute goal", [GOAL_S], "<= 1x",
            lambda s, b: s <= b),
    ]
