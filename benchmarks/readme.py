"""The README's tables of figures, written by the run that measured them (``make bench``, ``make corpus``).

A section lies between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``; everything outside is left as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def replace_section(readme: Path, name: str, text: str) -> None:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    content = readme.read_text()
    start, stop = content.index(begin) + len(begin), content.index(end)
    readme.write_text(content[:start] + "\n" + text + "\n" + content[stop:])


def _figure(value: float, unit: str) -> str:
    if unit != "s":
        return f"{value:.2f} {unit}"
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    return f"{value * 1e3:.3g} ms" if value < 1 else f"{value:.3g} s"


def _ratio(r: dict[str, Any]) -> str:
    """A ratio as the goal states it: "+2.1 ms" for overhead goals, "15x faster" for speed-ups, else "0.53x"."""
    goal, ratio = r["goal"], r["ratio"]
    if goal.lstrip("<= ").startswith("+"):
        return f"{(r['subject_s'] - r['baseline_s']) * 1e3:+.2f} ms"
    if "faster" in goal or goal.startswith(">="):
        return f"{1 / ratio:.1f}x faster" if ratio else "inf"
    return f"{ratio:.2f}x"


def table(results: list[dict[str, Any]], machine: dict[str, Any], load: str) -> str:
    """One row per figure: both medians with the subject's range, the ratio, and the goal with met or missed."""
    lines = [f"Measured {machine['date']} by `make bench` in one run: Python {machine['python']}, "
             f"{machine['cpus']} cores, {machine['platform']}, load average {load} at the start.", "",
             "| what | nbcache (median, range) | against, same run | ratio | goal |", "| --- | --- | --- | --- | --- |"]
    for r in results:
        unit = r.get("unit", "s")
        lo, hi = r["subject_range"]
        met = {True: "met", False: "**missed**", None: ""}[r["met"]]
        goal = f"{r['goal']}: {met}" if r["goal"] and met else r["goal"] or met
        lines.append(f"| {r['group']}: {r['case']} | {_figure(r['subject_s'], unit)} ({_figure(lo, unit)} to "
                     f"{_figure(hi, unit)}) | {r['baseline']}, {_figure(r['baseline_s'], unit)} | {_ratio(r)} | "
                     f"{goal} |")
    return "\n".join(lines)
