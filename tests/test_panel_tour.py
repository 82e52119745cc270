"""notebooks/panel_tour.ipynb in real kernels: cold then warm on one store, every cached cell a hit the second time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

TOUR = Path(__file__).resolve().parents[1] / "notebooks" / "panel_tour.ipynb"
PREFIX = "nbcache: "
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def execute() -> nbformat.NotebookNode:
    nb = nbformat.read(TOUR, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(TOUR.parent)}}).execute()
    return nb


def verdict(cell: nbformat.NotebookNode) -> str:
    """The first word of the cell's status line, from stderr or from its panel's text form."""
    texts = [o.get("text", "") if o["output_type"] == "stream" else o.get("data", {}).get("text/plain", "")
             for o in cell.outputs]
    lines = [line for text in texts for line in text.splitlines() if line.startswith(PREFIX)]
    return lines[-1][len(PREFIX):].split(" (")[0] if lines else ""


def shown(cell: nbformat.NotebookNode) -> list[Any]:
    """What the user reads apart from nbcache's own reports, which rightly differ between the runs."""
    kept: list[Any] = []
    for output in cell.outputs:
        if output["output_type"] == "stream":
            text = "".join(x for x in output["text"].splitlines(True) if not x.startswith(PREFIX))
            if kept and isinstance(kept[-1], str):  # a replay may split a stream into other chunks
                kept[-1] += text
            else:
                kept.append(text)
        elif "data" in output and not output["data"].get("text/plain", "").startswith(PREFIX):
            kept.append({k: v for k, v in output["data"].items() if k != WIDGET_VIEW})
    return [k for k in kept if k]


@pytest.mark.kernel
def test_tour_runs_cold_then_warm_with_every_cached_cell_hit() -> None:
    cold, warm = execute(), execute()
    cached = [i for i, c in enumerate(cold.cells) if c.cell_type == "code" and c.source.startswith("%%cache")]
    assert len(cached) == 4
    assert [verdict(cold.cells[i]) for i in cached] == ["miss"] * 4
    assert [verdict(warm.cells[i]) for i in cached] == ["hit"] * 4
    code = [i for i, c in enumerate(cold.cells) if c.cell_type == "code"]
    assert [shown(cold.cells[i]) for i in code] == [shown(warm.cells[i]) for i in code]
    assert "4 entries from this tour" in "".join(shown(warm.cells[code[-3]])[0])
