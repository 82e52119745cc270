"""Every notebook in notebooks/ in real kernels: cold, then warm on the same store, as `make demo` runs them."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from scripts.run_notebooks import cell_runs, comparable_outputs, execute, problems, status_line

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
# What a notebook itself reports about the cache, which a warm run must show too: the tour lists its own entries.
SAYS = {"panel_tour": "4 entries from this tour"}


@pytest.mark.kernel
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_warm_run_hits_every_cached_cell_with_the_same_outputs(path: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBCACHE_DIR", str(tmp_path / "store"))
    cold, warm = execute(path, timeout=600), execute(path, timeout=600)
    cached = [run for run in cell_runs(cold) if run.cached]
    assert cached, "a demo notebook must have %%cache cells"
    assert all(run.verdict in ("miss", "not cached") for run in cached), [run.status for run in cached]
    assert [run.verdict for run in cell_runs(warm) if run.cached] == ["hit"] * len(cached)
    assert problems(cold, warm) == []
    # The comparison must see real content: the warm outputs are not empty where the cold ones were not.
    assert sum(len(comparable_outputs(c)) for c in warm.cells if c.cell_type == "code") > len(cached)
    if path.stem in SAYS:
        assert SAYS[path.stem] in json.dumps([c.get("outputs", []) for c in warm.cells])


def test_status_lines_are_found_in_streams_and_display_text() -> None:
    cell = nbformat.v4.new_code_cell("%%cache\nx = 1")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="nbcache: hit (x restored) in 1 ms\n")]
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert cell_runs(nb)[0].verdict == "hit"
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": "nbcache: miss (new cell)"})]
    assert cell_runs(nb)[0].verdict == "miss" and comparable_outputs(cell) == []
    # nbcache's one-line warnings start like a status line and come after it: the status is still the status
    cell.outputs.append(nbformat.v4.new_output("stream", name="stderr",
                                               text="nbcache: the cell ran but was not cached: output 'g' ...\n"))
    assert status_line(cell) == "nbcache: miss (new cell)" and comparable_outputs(cell) == []
