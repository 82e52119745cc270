"""What ``nbcache run`` tells: per cell hit, stored or ran with its time; totals; as text or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict

from nbcache.headless.runner import NotebookRun
from nbcache.units import human_time

_STATES = ("hit", "stored", "ran", "failed")


def totals_line(run: NotebookRun) -> str:
    counts = {state: sum(c.state == state for c in run.cells) for state in _STATES}
    parts = ", ".join(f"{counts[s]} {s}" for s in _STATES if counts[s] or s != "failed")
    saved = sum(c.saved_s for c in run.cells)
    return f"{len(run.cells)} cells: {parts}; {human_time(run.wall_s)} in all, saved {human_time(saved)}"


def text(run: NotebookRun) -> str:
    lines = [f"nbcache run: {run.path}"]
    for c in run.cells:
        saved = f"  saved {human_time(c.saved_s)}" if c.state == "hit" else ""
        lines.append(f"  [{c.execution_count or ' ':>3}] {c.first_line[:48]:<48} {c.state:<7}{human_time(c.seconds):>9}"
                     f"{saved}")
    lines.append("  " + totals_line(run))
    if run.error:
        lines.append(f"  error: {run.error}")
    return "\n".join(lines)


def as_json(runs: list[NotebookRun]) -> str:
    return json.dumps([{**asdict(run), "ok": run.ok, "saved_s": sum(c.saved_s for c in run.cells)} for run in runs],
                      indent=1)
