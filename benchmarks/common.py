"""What every benchmark shares: repeated timing with medians and ranges, and the row format the runner prints."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timings(fn: Callable[[], Any], repeat: int, setup: Callable[[], Any] | None = None) -> list[float]:
    """Seconds each of `repeat` calls took; `setup` runs before each call, untimed."""
    out = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def row(group: str, case: str, subject: list[float], baseline_name: str, baseline: list[float],
        goal: str, met: Callable[[float, float], bool] | None, unit: str = "s") -> dict[str, Any]:
    """One result: medians, ranges, the ratio subject/baseline and whether the goal was met.

    `unit` is what the figures count: seconds unless a row measures something else (memory in GiB)."""
    s, b = statistics.median(subject), statistics.median(baseline)
    return {
        "group": group, "case": case,
        "subject_s": s, "subject_range": [min(subject), max(subject)],
        "baseline": baseline_name, "baseline_s": b, "baseline_range": [min(baseline), max(baseline)],
        "ratio": s / b if b > 0 else float("inf"),
        "goal": goal, "met": None if met is None else bool(met(s, b)), "unit": unit,
    }
