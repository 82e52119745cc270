"""Execute one notebook with nbclient in a kernel that has nbcache in auto mode, and learn what each cell did.

The kernel is the notebook's own (else ``python3``) started with ``--ext=nbcache.ipython.auto`` and
``CacheMagics.silent``, so the executed notebook holds the cells' own outputs and nothing of nbcache's. The kernel
appends one JSON line per cell to an outcome file (``CacheMagics.outcome_file``); that is how this side knows which
cells hit, were stored, or just ran, without adding anything to the notebook.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunOptions:
    store: str | None = None  # a folder or fsspec URL; None: $NBCACHE_DIR, else .nbcache/ by the notebook
    min_seconds: float | None = None  # None: auto mode's default
    timeout: float | None = None  # per cell, as nbclient's timeout
    kernel_name: str | None = None  # None: the notebook's kernelspec, else python3


@dataclass(frozen=True)
class CellOutcome:
    index: int  # position among the notebook's cells
    execution_count: int | None
    first_line: str
    state: str  # hit, stored, ran, failed
    seconds: float  # wall time of the cell in the kernel
    saved_s: float = 0.0


@dataclass(frozen=True)
class NotebookRun:
    path: str
    cells: tuple[CellOutcome, ...]
    wall_s: float
    error: str | None = None  # the failing cell's error, as nbclient reports it

    @property
    def ok(self) -> bool:
        return self.error is None


def _store_argument(store: str | None) -> str | None:
    if store is None:
        return os.environ.get("NBCACHE_DIR") or None
    return store if "://" in store else str(Path(store).resolve())


def kernel_arguments(options: RunOptions, outcome_file: str) -> list[str]:
    args = ["--ext=nbcache.ipython.auto", "--CacheMagics.silent=True", f"--CacheMagics.outcome_file={outcome_file}"]
    if options.min_seconds is not None:
        args.append(f"--CacheMagics.auto_min_seconds={options.min_seconds}")
    store = _store_argument(options.store)
    if store:
        args.append(f"--CacheMagics.cache_dir={store}")
    return args


def _seconds(cell: Any) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = datetime.fromisoformat
    return max((parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds(), 0.0)


def _outcomes(nb: Any, lines: list[dict[str, Any]]) -> tuple[CellOutcome, ...]:
    by_count = {line.get("execution_count"): line for line in lines}
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or cell.get("execution_count") is None:
            continue
        line = by_count.get(cell.execution_count, {})
        failed = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        state = "failed" if failed else line.get("state", "ran")
        first = next((s for s in cell.source.splitlines() if s.strip()), "")
        cells.append(CellOutcome(index, cell.execution_count, first[:60], state, _seconds(cell),
                                 float(line.get("saved_s", 0.0))))
    return tuple(cells)


def _read_lines(path: str) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return []


def execute_notebook(nb: Any, path: Path, options: RunOptions) -> NotebookRun:
    """Execute ``nb`` (read from ``path``) in place; its cells get their outputs as in a plain execution."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    kernel = options.kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    with tempfile.TemporaryDirectory(prefix="nbcache-run-") as folder:
        outcome_file = os.path.join(folder, "outcomes.jsonl")
        client = NotebookClient(nb, kernel_name=kernel, timeout=options.timeout,
                                resources={"metadata": {"path": str(path.parent.resolve())}},
                                extra_arguments=kernel_arguments(options, outcome_file))
        start, error = time.perf_counter(), None
        try:
            client.execute()
        except CellExecutionError as exc:
            error = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        wall = time.perf_counter() - start
        return NotebookRun(str(path), _outcomes(nb, _read_lines(outcome_file)), wall, error)
