"""The status panel and %cache_info in a real kernel (nbclient), read back from the executed notebook."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from nbcache.store.local import Store

pytestmark = pytest.mark.kernel

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CELL = "%%cache\ny = x * 2\nprint(y)"


def run_notebook(sources: list[str], folder: Path, allow_errors: bool = False,
                 kernel: str = "python3") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in ["%load_ext nbcache", *sources]]
    NotebookClient(nb, kernel_name=kernel, timeout=120, allow_errors=allow_errors,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def widget_states(nb: nbformat.NotebookNode) -> dict[str, Any]:
    return nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]


def _child(states: dict[str, Any], model_id: str, *path: int) -> dict[str, Any]:
    state = states[model_id]["state"]
    for index in path:
        state = states[state["children"][index].removeprefix("IPY_MODEL_")]["state"]
    return state


def panel_of(nb: nbformat.NotebookNode, cell: int) -> dict[str, str]:
    """The panel under a cell: its badge state and summary (read from the saved widget state), its text line."""
    (output,) = [o for o in nb.cells[cell].outputs if WIDGET_VIEW in o.get("data", {})]
    states, root = widget_states(nb), output["data"][WIDGET_VIEW]["model_id"]
    # The header alone, or (once details, a bar or a recompute joined it) first in a box.
    header = _child(states, root, 0) if "children" in states[root]["state"] else states[root]["state"]
    stored = 'data-stored="true"' in header["description"]
    return {
        "badge": re.search(r'data-state="([^"]+)"', header["description"]).group(1) + (",stored" if stored else ""),
        "summary": header["tooltip"],
        "buttons": header["_options_labels"],
        "text": output["data"]["text/plain"],
        "models": len(states),
    }


def streams(nb: nbformat.NotebookNode, cell: int, name: str) -> str:
    return "".join(o["text"] for o in nb.cells[cell].outputs if o.get("name") == name)


def test_panel_shows_miss_then_hit_with_reason_and_sizes(tmp_path: Path) -> None:
    nb = run_notebook(["x = 3", CELL, CELL, "x = 4", CELL], tmp_path)
    miss, hit, changed = panel_of(nb, 2), panel_of(nb, 3), panel_of(nb, 5)
    assert miss["badge"] == "miss,stored" and miss["summary"].startswith("new cell · ran in")
    size = re.search(r"stored (\d+ B)", miss["summary"]).group(1)
    assert hit["badge"] == "hit" and hit["summary"].startswith(f"restored {size} in")  # one size for both
    assert miss["buttons"] == hit["buttons"] == ["recompute", "details"]  # recompute without opening details
    assert changed["badge"] == "miss,stored" and changed["summary"].startswith("input x changed")
    # The panel's bundle carries the status line, for frontends without widgets and for the saved notebook.
    assert miss["text"].startswith("nbcache: miss (new cell)") and hit["text"].startswith("nbcache: hit (y restored")
    assert streams(nb, 3, "stdout") == "6\n"  # the print replays; no old panel is replayed with it
    assert "nbcache:" not in streams(nb, 3, "stderr")


def test_a_cell_that_clears_its_output_still_ends_with_its_panel(tmp_path: Path) -> None:
    cell = "%%cache\nfrom IPython.display import clear_output\nprint('old')\nclear_output()\nprint('new')"
    nb = run_notebook([cell, cell], tmp_path)
    for index, state in ((1, "miss,stored"), (2, "hit")):
        assert panel_of(nb, index)["badge"] == state and streams(nb, index, "stdout") == "new\n"


def test_without_the_panel_the_line_goes_to_stderr_and_quiet_hides_both(tmp_path: Path) -> None:
    nb = run_notebook(["x = 3", "%config CacheMagics.panel = False", CELL, "%%cache -q\nz = 1"], tmp_path)
    assert streams(nb, 3, "stderr").startswith("nbcache: miss (new cell)")
    assert not any(WIDGET_VIEW in o.get("data", {}) for o in nb.cells[3].outputs)
    assert nb.cells[4].outputs == []


def test_a_failing_cell_leaves_the_panel_saying_so(tmp_path: Path) -> None:
    nb = run_notebook(["%%cache\nraise ValueError('no')"], tmp_path, allow_errors=True)
    panel = panel_of(nb, 1)
    assert panel["badge"] == "failed" and panel["text"] == "nbcache: not cached (the cell raised ValueError)"
    assert any(o.get("ename") == "ValueError" for o in nb.cells[1].outputs)


def test_cache_info_json_matches_the_store(tmp_path: Path) -> None:
    nb = run_notebook(["x = 3", CELL, CELL, "%%cache\nbig = list(range(1000))", "%cache_info --json --sort size"],
                      tmp_path)
    listed = json.loads(streams(nb, 5, "stdout"))
    store = Store(os.environ["NBCACHE_DIR"])
    entries = store.entries()
    assert [e["key"] for e in listed["entries"]] == [e.key for e in sorted(entries, key=lambda e: -e.size)]
    by_key = {e.key: e for e in entries}
    for row in listed["entries"]:
        entry = by_key[row["key"]]
        assert (row["size"], row["hits"], row["cell"]) == (entry.size, entry.hits, entry.cell)
    assert listed["totals"] == {"entries": 2, "size": sum(e.size for e in entries),
                                "limit": getattr(store, "size_limit", None),
                                "saved_s": sum(e.saved_s for e in entries)}


def test_cache_info_is_an_html_table_with_a_text_fallback(tmp_path: Path) -> None:
    nb = run_notebook(["x = 3", CELL, "%cache_info"], tmp_path)
    (output,) = nb.cells[3].outputs
    assert "<table class='nbcache-info'>" in output["data"]["text/html"] and "y = x * 2" in output["data"]["text/html"]
    assert output["data"]["text/plain"].startswith("nbcache: 1 entry")  # nbcache's own report, by its prefix


def test_a_hit_opens_only_the_header(tmp_path: Path) -> None:
    """Widgets cost the kernel a message each: a panel is one (its header), sharing its layout and style with
    every other panel; the box, the details, a bar are built only when needed."""
    (tmp_path / "few").mkdir()
    (tmp_path / "more").mkdir()
    few = run_notebook(["x = 3", CELL, CELL], tmp_path / "few")
    more = run_notebook(["x = 3", CELL, CELL, CELL, CELL], tmp_path / "more")
    assert len(widget_states(more)) - len(widget_states(few)) == 2 * 1


def test_load_ext_is_silent_in_the_nbcache_kernel(tmp_path: Path) -> None:
    """The README's quick start unchanged in the "Python 3 (nbcache)" kernel, which loads nbcache at start."""
    nb = run_notebook(["x = 3", CELL, "%unload_ext nbcache", "%load_ext nbcache", "%load_ext nbcache"], tmp_path,
                      kernel="nbcache")
    assert nb.cells[0].outputs == []  # %load_ext nbcache
    assert panel_of(nb, 2)["badge"] == "miss,stored"
    assert nb.cells[3].outputs == [] and nb.cells[4].outputs == []  # unloaded and loaded again, as usual
    assert "already loaded" in streams(nb, 5, "stdout")  # a second %load_ext is IPython's usual answer
