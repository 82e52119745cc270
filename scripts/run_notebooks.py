"""Run every notebook in a folder twice in real kernels, cold then warm, on one fresh store; report and check.

For each `%%cache` cell it prints the status (hit, miss, not cached) and time of both runs, then the notebook's
total cold and warm time. It fails (exit 1) if a cell raises, if a cached cell misses on the warm run, or if a
cell's outputs differ between the runs (apart from nbcache's own status lines): a warm run must look exactly
like a cold one, only faster.

    python scripts/run_notebooks.py notebooks [--store DIR] [--timeout S]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

STATUS_PREFIX = "nbcache: "
_STATUS = re.compile(r"nbcache: (hit|miss|not cached)\b")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@dataclass(frozen=True)
class CellRun:
    index: int
    first_line: str
    cached: bool
    status: str  # the full status line, "" if none
    seconds: float

    @property
    def verdict(self) -> str:
        words = self.status[len(STATUS_PREFIX):].split(" (")[0] if self.status else ""
        return words or ("?" if self.cached else "")


def execute(path: Path, timeout: int) -> nbformat.NotebookNode:
    """Execute a notebook in a new kernel, in the notebook's folder; the store comes from $NBCACHE_DIR."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def _seconds(cell: nbformat.NotebookNode) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not start or not end:
        return 0.0
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def _output_texts(cell: nbformat.NotebookNode) -> list[str]:
    texts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            texts.append(output.get("text", ""))
        elif "data" in output:
            texts.append(str(output["data"].get("text/plain", "")))
    return texts


def status_line(cell: nbformat.NotebookNode) -> str:
    """nbcache's status for the cell, from stderr or from the text form of its status display; a warning (also a
    line starting "nbcache:") only when there is no status."""
    lines = [line for text in _output_texts(cell) for line in text.splitlines() if line.startswith(STATUS_PREFIX)]
    statuses = [line for line in lines if _STATUS.match(line)]
    return (statuses or lines or [""])[-1]


def cell_runs(nb: nbformat.NotebookNode) -> list[CellRun]:
    runs = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        lines = [line for line in cell.source.splitlines() if line.strip()]
        cached = bool(lines) and lines[0].startswith("%%cache")
        first = next((line for line in lines[1 if cached else 0:]), "")
        runs.append(CellRun(index, first, cached, status_line(cell), _seconds(cell)))
    return runs


def comparable_outputs(cell: nbformat.NotebookNode) -> list[Any]:
    """A cell's outputs without what may rightly differ: status lines, widget views, counts, timing."""
    kept: list[Any] = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            text = "".join(line for line in output["text"].splitlines(keepends=True)
                           if not line.startswith(STATUS_PREFIX))
            if text:
                kept.append(("stream", output["name"], text))
        elif kind in ("display_data", "execute_result"):
            data = {k: v for k, v in output["data"].items() if k != WIDGET_VIEW}
            if data and not str(data.get("text/plain", "")).startswith(STATUS_PREFIX):
                kept.append((kind, data))
        elif kind == "error":
            kept.append(("error", output["ename"], output["evalue"]))
    # Consecutive stream chunks may be split differently between runs: merge them before comparing.
    merged: list[Any] = []
    for item in kept:
        if merged and item[0] == "stream" and merged[-1][0] == "stream" and merged[-1][1] == item[1]:
            merged[-1] = ("stream", item[1], merged[-1][2] + item[2])
        else:
            merged.append(item)
    return merged


def problems(cold: nbformat.NotebookNode, warm: nbformat.NotebookNode) -> list[str]:
    found = []
    for run in cell_runs(warm):
        if run.cached and run.verdict != "hit":
            found.append(f"cell {run.index} ({run.first_line!r}) was not a hit on the warm run: {run.status!r}")
    for index, (a, b) in enumerate(zip(cold.cells, warm.cells, strict=True)):
        if a.cell_type == "code" and comparable_outputs(a) != comparable_outputs(b):
            found.append(f"cell {index} shows different outputs on the warm run")
    return found


def _row(cold: CellRun, warm: CellRun) -> str:
    return (f"  [{cold.index:>2}] {cold.first_line[:44]:<44} {cold.verdict:>10} {cold.seconds:>8.2f}s"
            f" {warm.verdict:>10} {warm.seconds:>8.2f}s")


def report(name: str, cold: nbformat.NotebookNode, warm: nbformat.NotebookNode) -> str:
    cold_runs, warm_runs = cell_runs(cold), cell_runs(warm)
    lines = [f"{name}", f"  {'cell':<49} {'cold':>10} {'':>9} {'warm':>10}"]
    lines += [_row(c, w) for c, w in zip(cold_runs, warm_runs, strict=True) if c.cached]
    cold_s, warm_s = sum(r.seconds for r in cold_runs), sum(r.seconds for r in warm_runs)
    ratio = cold_s / warm_s if warm_s > 0 else float("inf")
    lines.append(f"  all cells: cold {cold_s:.2f}s, warm {warm_s:.2f}s ({ratio:.1f}x faster)")
    return "\n".join(lines)


def run_folder(folder: Path, store: Path, timeout: int) -> list[str]:
    """Cold then warm run of every notebook; prints the report; returns the problems found."""
    os.environ["NBCACHE_DIR"] = str(store)  # the kernels inherit it
    found: list[str] = []
    for path in sorted(folder.glob("*.ipynb")):
        try:
            cold, warm = execute(path, timeout), execute(path, timeout)
        except CellExecutionError as exc:
            found.append(f"{path.name}: a cell raised:\n{exc}")
            continue
        print(report(path.name, cold, warm), flush=True)
        found += [f"{path.name}: {p}" for p in problems(cold, warm)]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--store", type=Path, help="store to use (default: a fresh temporary folder)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds a cell may take (default 900)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nbcache-demo-") as tmp:
        found = run_folder(args.folder, args.store or Path(tmp), args.timeout)
    for problem in found:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    print("demo: OK, every cached cell hit on the warm run" if not found else "demo: FAILED", flush=True)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
