"""`nbcache run` in real kernels: re-running the demo after editing its last cell costs that cell plus the kernel's
start and imports; auto mode's cold overhead against a plain run, and its warm speed-up.

Quick mode runs a synthetic notebook of a few sleeping cells instead of the demo (seconds, not minutes).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

from nbcache.headless.runner import NotebookRun, RunOptions, execute_notebook

from .common import row

DEMO = Path(__file__).resolve().parent.parent / "notebooks" / "recommender.ipynb"


def _synthetic(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in (
        "import time\nimport json",
        "time.sleep(0.6)\ndata = list(range(100_000))",
        "time.sleep(0.6)\ntotal = sum(data)",
        "print(total * 2)",
    )]
    nbformat.write(nb, path)
    return path


def _edit_last(path: Path, suffix: str) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[-1].source += f"\n# edited {suffix}"
    nbformat.write(nb, path)


def _nbcache(path: Path, store: Path, min_seconds: float | None) -> NotebookRun:
    nb = nbformat.read(path, as_version=4)
    return execute_notebook(nb, path, RunOptions(store=str(store), min_seconds=min_seconds, timeout=1800,
                                                 kernel_name="python3"))


def _plain(path: Path) -> float:
    """Wall seconds of a plain nbclient execution: kernel start, every cell, shutdown."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, kernel_name="python3", timeout=1800, resources={"metadata": {"path": str(path.parent)}},
                   extra_arguments=["--ext=nbcache"]).execute()  # nbcache loaded, as the demo's %load_ext does
    return time.perf_counter() - start


def _imports_only(path: Path, folder: Path) -> Path:
    """The notebook's cells up to its first non-import cell: what kernel start plus imports costs."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    nb.cells = [c for c in code if "import" in c.source and "=" not in c.source.split("import")[0]][:2] or code[:1]
    nb.cells = [nbformat.v4.new_code_cell(c.source.split("\n\n")[0]) for c in nb.cells]
    out = folder / "imports.ipynb"
    nbformat.write(nb, out)
    return out


def _rounds(source: Path, quick: bool) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {k: [] for k in ("edited", "baseline", "cold", "plain", "warm")}
    min_seconds = 0.3 if quick else None
    for i in range(2 if quick else 1):
        with tempfile.TemporaryDirectory(prefix="nbcache-bench-run-") as tmp:
            folder = Path(tmp)
            path = folder / "nb.ipynb"
            if quick:
                _synthetic(path)
            else:
                shutil.copy(source, path)
            figures["plain"].append(_plain(path))
            cold = _nbcache(path, folder / "store", min_seconds)
            figures["cold"].append(cold.wall_s)
            figures["warm"].append(_nbcache(path, folder / "store", min_seconds).wall_s)
            _edit_last(path, str(i))
            edited = _nbcache(path, folder / "store", min_seconds)
            figures["edited"].append(edited.wall_s)
            start = time.perf_counter()
            NotebookClient(nbformat.read(_imports_only(path, folder), as_version=4), kernel_name="python3",
                           timeout=600, resources={"metadata": {"path": str(folder)}},
                           extra_arguments=["--ext=nbcache"]).execute()  # the demo's first cell loads it too
            figures["baseline"].append(time.perf_counter() - start + cold.cells[-1].seconds)
    return figures


def run(quick: bool = False) -> list[dict[str, Any]]:
    f = _rounds(DEMO, quick)
    name = "synthetic notebook" if quick else "the demo"
    return [
        row("nbcache run", f"{name} after editing its last cell", f["edited"],
            "that cell + kernel start + imports", f["baseline"], "<= 1.1x", lambda s, b: s <= 1.1 * b),
        row("nbcache run", f"{name}, cold (auto mode, storing)", f["cold"], "plain nbclient run", f["plain"],
            "< 1.03x", lambda s, b: s < 1.03 * b),
        row("nbcache run", f"{name}, warm", f["warm"], "plain nbclient run", f["plain"], "", None),
    ]
