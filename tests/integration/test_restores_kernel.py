"""Outputs only a kernel shows: the same cells plain, then with %%cache cold and warm, each in a fresh kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from scripts.run_notebooks import comparable_outputs, status_line


def _run(cells: list[tuple[str, bool]], cached: bool, folder: Path) -> list[nbformat.NotebookNode]:
    sources = ["%load_ext nbcache"] + [("%%cache\n" if cached and c else "") + s for s, c in cells]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return list(nb.cells[1:])


def _differential(cells: list[tuple[str, bool]], tmp_path: Path) -> tuple[list, list, list]:
    plain, cold, warm = (_run(cells, cached, tmp_path) for cached in (False, True, True))
    for run in (cold, warm):
        assert [comparable_outputs(c) for c in run] == [comparable_outputs(c) for c in plain]
    return plain, cold, warm


@pytest.fixture(autouse=True)
def _inline_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")


@pytest.mark.kernel
def test_a_plot_ending_in_an_expression_shows_value_then_figure_on_a_hit(tmp_path: Path) -> None:
    cells = [("import matplotlib.pyplot as plt", False),
             ("fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nax.set_ylabel('y')", True)]  # drawing moves the label
    plain, _, warm = _differential(cells, tmp_path)
    kinds = [o["output_type"] for o in plain[-1].outputs if o["output_type"] != "stream"]
    assert kinds == ["execute_result", "display_data"]  # the value, then the figure
    assert status_line(warm[-1]).startswith("nbcache: hit")


@pytest.mark.kernel
def test_logging_to_the_kernels_stderr_is_replayed_on_a_hit(tmp_path: Path) -> None:
    cells = [("import logging, sys\nlog = logging.getLogger('demo')\nlog.addHandler(logging.StreamHandler(sys.stderr))"
              "\nlog.setLevel(logging.INFO)", False),
             ("log.info('fitting done')\nresult = 42", True)]
    plain, _, warm = _differential(cells, tmp_path)
    assert "fitting done" in str(plain[-1].outputs)
    assert status_line(warm[-1]).startswith("nbcache: hit")


@pytest.mark.kernel
def test_what_drawing_the_figure_writes_is_replayed_on_a_hit(tmp_path: Path) -> None:
    """matplotlib logs to stderr while the inline backend draws the figure, after the cell's code (matplotlib's
    own Sankey example does: "Ignoring fixed y limits to fulfill fixed data aspect...")."""
    cells = [("import matplotlib.pyplot as plt\nimport logging\nlogging.getLogger('matplotlib').setLevel('INFO')",
              False),
             ("import matplotlib.axes\nclass Loud(matplotlib.axes.Axes):\n    name = 'loud'\n"
              "    def draw(self, renderer):\n        logging.getLogger('matplotlib').warning('drawn once')\n"
              "        super().draw(renderer)\nimport matplotlib.projections\n"
              "matplotlib.projections.register_projection(Loud)", False),
             ("fig = plt.figure()\nax = fig.add_subplot(projection='loud')\nax.plot([1, 2])\nax.set_title('t')",
              True)]
    plain, _, warm = _differential(cells, tmp_path)
    assert "drawn once" in str(plain[-1].outputs)
    assert status_line(warm[-1]).startswith("nbcache: hit")


@pytest.mark.kernel
def test_a_cell_showing_a_widget_is_not_stored_and_shows_it_every_time(tmp_path: Path) -> None:
    cells = [("from ipywidgets import interact", False),
             ("def square(x):\n    print(x * x)\nw = interact(square, x=3)", True)]
    _, cold, warm = _differential(cells, tmp_path)
    for run in (cold, warm):
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in run[-1].outputs)
        assert "widgets" in status_line(run[-1]) and "not stored" in status_line(run[-1])
