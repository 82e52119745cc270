"""%cache_status: after an input changes, exactly the cells that depend on it are stale, with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nbcache.keys import values
from tests.support import Shell


def _status(shell: Shell) -> list[dict]:
    _, out = shell.run("%cache_status --json")
    return json.loads(out.stdout)


def _notebook(shell: Shell, data: Path) -> None:
    shell.run("%cache_auto on --min-seconds 0")
    for cell in [
        "df = [3, 1, 2]\nother = 10",  # plain inputs
        "ordered = sorted(df)",  # reads df
        "def featurize(v):\n    return [x * 2 for x in v]",
        "features = featurize(ordered)",  # reads ordered (from a df cell) and featurize
        "unrelated = other + 1",
        f"text = open({str(data)!r}).read()",
        "tiny = 1",
    ]:
        shell.run(cell)


def test_nothing_changed_every_cell_would_hit(shell: Shell, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n")
    _notebook(shell, data)
    states = _status(shell)
    assert [s["would_hit"] for s in states] == [True] * 7
    assert [s["position"] for s in states] == list(range(1, 8))


def test_a_changed_input_marks_exactly_its_dependents(shell: Shell, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n")
    _notebook(shell, data)
    shell.ip.user_ns["df"] = [9, 8]  # as a plain cell would, without being a tracked one
    states = {s["cell"]: s for s in _status(shell)}
    stale = {cell: s["reason"] for cell, s in states.items() if not s["would_hit"]}
    assert stale == {
        "ordered = sorted(df)": "input df changed",
        "features = featurize(ordered)": "input ordered will change: it comes from stale cell 2",
    }


def test_a_changed_function_and_file_say_so(shell: Shell, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n")
    _notebook(shell, data)
    shell.ip.run_cell("%%nocache\ndef featurize(v):\n    return [x * 3 for x in v]")
    data.write_text("a,b,c\n")
    stale = {s["cell"][:12]: s["reason"] for s in _status(shell) if not s["would_hit"]}
    assert stale == {"features = f": "function featurize changed", "text = open(": f"file {data} changed"}


def test_too_cheap_and_never_stored_are_reasons(shell: Shell) -> None:
    shell.run("%cache_auto on")  # default min-seconds: these cells are too cheap
    shell.run("a = 1")
    shell.run("gen = (i for i in range(2))")
    shell.run("b = next(gen)")
    states = _status(shell)
    assert states[0]["reason"] == "too cheap to store"
    assert states[-1]["reason"].startswith("cannot be cached: input gen cannot be hashed")


def test_text_form_lists_cells_in_run_order(shell: Shell) -> None:
    shell.run("%cache_auto on --min-seconds 0")
    shell.run("p = 1")
    shell.run("r = p + 1")
    shell.run("p = 2")
    _, out = shell.run("%cache_status")
    lines = out.stdout.splitlines()
    assert lines[0] == "nbcache: 3 cells, 1 would run again"
    assert "r = p + 1" in lines[2] and "stale: input p changed" in lines[2]


def test_unchanged_immutable_inputs_are_not_hashed_again(shell: Shell, monkeypatch) -> None:
    shell.run("%cache_auto on --min-seconds 0")
    shell.run("name = 'x' * 1000")
    for i in range(20):
        shell.run(f"v{i} = len(name) + {i}")
    _status(shell)
    calls = []
    real = values.hash_value_reads

    def counting(obj, namespace=None):
        calls.append(obj)
        return real(obj, namespace)

    monkeypatch.setattr("nbcache.ipython.status.hash_value_reads", counting)
    assert all(s["would_hit"] for s in _status(shell))
    assert not any(obj is shell.ns["name"] for obj in calls)


def test_explicit_cache_cells_are_listed_too(shell: Shell) -> None:
    shell.cached("m = 5")
    shell.run("%cache_auto off")
    states = _status(shell)
    assert len(states) == 1 and states[0]["would_hit"]


def test_the_sidebar_list_marks_stale_cells_and_refreshes_after_each_cell(shell: Shell) -> None:
    from nbcache.ui.staleness import StalenessView

    shell.run("%cache_auto on --min-seconds 0")
    shell.run("a = 1")
    shell.run("b = a + 1")
    view = StalenessView()
    assert view.body.value.count("✓ hit") == 2 and "✗ stale" not in view.body.value
    shell.run("a = 2")  # the hook refreshes the open view after the cell
    assert "✗ stale" in view.body.value and "input a changed" in view.body.value


def test_a_sidebar_list_that_is_slow_to_check_stops_slowing_every_cell(shell: Shell,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The list hashes the cells' inputs again after every cell: a cell reading a 200 MB array cost every later
    cell 37 ms. A refresh over the limit turns the after-cell refresh off, says so, and a click refreshes."""
    from nbcache.ui import aftercell
    from nbcache.ui.staleness import StalenessView

    shell.run("%cache_auto on --min-seconds 0")
    shell.run("a = 1")
    view = StalenessView()
    assert view.after_cell.automatic and view.note.value == "" and view.button.layout.display == "none"
    monkeypatch.setattr(view.after_cell, "limit_s", -1.0)  # every refresh is now "too slow"
    shell.run("b = a + 1")  # refreshed after this cell, found slow
    assert "b = a + 1" in view.body.value and not view.after_cell.automatic
    assert "not refreshed after each cell" in view.note.value and view.button.layout.display is None
    shell.run("a = 2")  # no refresh after this one
    assert "✗ stale" not in view.body.value
    monkeypatch.setattr(view.after_cell, "limit_s", aftercell.LIMIT_S)
    view.button.click()  # quick again: refreshed, and after cells from now on
    assert "✗ stale" in view.body.value and view.after_cell.automatic and view.note.value == ""
    shell.run("c = 3")
    assert "c = 3" in view.body.value


def test_a_record_made_from_a_status_when_read_is_the_one_made_at_once() -> None:
    from nbcache.ipython.tracker import CellRecord, Outcome, Tracker, record_from_status
    from nbcache.ui.report import CellStatus

    hit = CellStatus("hit", "nbcache: hit", key="k1", inputs={"x": "ab"}, outputs={"y": "int"}, cell_ident="c1",
                     raw="y = x + 1", elapsed_s=0.5)
    stored = CellStatus("miss", "nbcache: miss (new cell)", "new cell", size=10, key="k2", cell_ident="",
                        raw="z = 2")
    tracker = Tracker()
    tracker.add_status(hit, "raw:1", ("data.csv",), (), 3)
    tracker.add_status(stored, "raw:2", (), ("log",), 4)
    tracker.add(CellRecord(ident="raw:3", raw="1/0", outcome=Outcome.FAILED, execution_count=5))
    tracker.add_status(hit, "raw:1", (), (), 6)  # run again: moves to the end, with its new count
    expected = [record_from_status(stored, "raw:2", (), ("log",), 4),
                CellRecord(ident="raw:3", raw="1/0", outcome=Outcome.FAILED, execution_count=5),
                record_from_status(hit, "raw:1", (), (), 6)]
    assert tracker.records() == expected and tracker.records() == expected
    assert [r.ident for r in expected] == ["raw:2", "raw:3", "c1"] and expected[0].outcome is Outcome.STORED
