"""Issue 12, item 9: a matplotlib figure restored by a hit keys the next cell as the original did, in the same
process and after a restart; a change made to the restored figure still makes that cell run again."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbcache.keys import values
from tests.scenarios.restarts import Step, _observe, differential
from tests.support import Shell

_SETUP = "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\nimport numpy as np"
# Cell A: a figure of several kinds of artists (a line with a legend, bars, an image with a colorbar, text).
_MAKE = ("fig, ax = plt.subplots()\n"
         "ax.plot([1, 2, 3], [4, 1, 2], label='a')\nax.bar([1, 2], [3, 4])\nax.set_title('t')\nax.legend()\n"
         "im = ax.imshow(np.arange(12.).reshape(3, 4))\nfig.colorbar(im)\nax.text(1, 1, 'hi')\nax.set_xlim(0, 5);")
# Cell B: reads the figure (its Axes) and shows what it holds.
_READ = ("print(len(ax.lines), len(ax.patches), ax.get_title(), [float(v) for v in ax.get_xlim()],\n"
         "      [float(v) for v in ax.lines[0].get_ydata()], ax.lines[0].get_linestyle())")


def test_a_cell_reading_a_restored_figure_hits_after_a_restart(tmp_path: Path) -> None:
    steps: list[Step] = [(_SETUP, False), (_MAKE, True), (_READ, True)]
    observed = differential(steps, tmp_path)  # the warm run: A hits, then B hits (no cached cell runs again)
    assert observed[2]["stdout"] == "1 2 t [0.0, 5.0] [4.0, 1.0, 2.0] -\n"


def test_a_cell_reading_a_restored_figure_hits_in_the_same_process(shell: Shell) -> None:
    shell.run(_SETUP)
    for _ in range(2):  # the second time A hits (the figure is a restored one) and B must hit too
        shell.cached(_MAKE)
        _, captured = shell.cached(_READ)
    assert shell.runs == 2 and "hit" in captured.stderr


def test_a_change_to_a_restored_figure_makes_the_reading_cell_run_again(tmp_path: Path) -> None:
    marker = tmp_path / "runs.txt"
    _observe([(_SETUP, False), (_MAKE, True), (_READ, True)], marker, True, tmp_path)
    changes = ["ax.lines[0].set_ydata([7, 8, 9])", "ax.set_xlim(1, 3)", "ax.set_title('other')",
               "ax.patches[0].remove()", "ax.lines[0].set_linestyle('--')"]
    for number, change in enumerate(changes):
        steps: list[Step] = [(_SETUP, False), (_MAKE, True), (change, False), (_READ, True)]
        cached = _observe(steps, marker, True, tmp_path)
        plain = _observe(steps, tmp_path / "plain.txt", False, tmp_path)
        assert cached == plain, change
        assert marker.read_text() == "." * (3 + number), f"{change}: the reading cell hit"


def test_a_miss_of_a_cell_reading_fig_and_ax_writes_the_figure_once_per_keying(
        shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12: on a miss the figure was written twice for the key and twice to tell whether the cell changed
    it, once for ``fig`` and once for ``ax``; now once each (the save writes it a third time, as an output)."""
    writes: list[object] = []
    dump = values._FigurePickler.dump
    monkeypatch.setattr(values._FigurePickler, "dump", lambda self, obj: (writes.append(obj), dump(self, obj))[1])
    shell.run(_SETUP)
    shell.cached(_MAKE)
    assert writes == []  # made by the cell: nothing to key
    shell.cached("fig.suptitle('s')\nax.set_title('u');")
    assert len(writes) == 2 and shell.runs == 2
