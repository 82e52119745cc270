"""`nbcache run` in real kernels: the demo twice, after editing its last cell, after editing a middle cell, and a
notebook whose cell raises. Real runs are counted with a marker line in each cell."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from nbcache.cli import main
from tests.integration.test_auto_kernel import coalesced

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(1500)]

DEMO = Path(__file__).resolve().parents[2] / "notebooks" / "recommender.ipynb"
FULL_SIZE = "N_USERS, N_ITEMS, N_RATINGS = 50_000, 8_000, 4_000_000"
SMALL = "N_USERS, N_ITEMS, N_RATINGS = 2_000, 400, 40_000"
# Fewer boosting rounds: the flow is under test, not the model (and a loaded machine must still finish it).
SHRINK = {FULL_SIZE: SMALL, "max_iter=300": "max_iter=15", "max_iter=400": "max_iter=20"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _marked_demo(path: Path, marker: Path) -> Path:
    """The demo, scaled down, each code cell (but %load_ext) writing its index to the marker when it really runs."""
    nb = nbformat.read(DEMO, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or cell.source.startswith("%load_ext"):
            continue
        for old, new in SHRINK.items():
            cell.source = cell.source.replace(old, new)
        head, _, body = cell.source.partition("\n") if cell.source.startswith("%%") else ("", "", cell.source)
        mark = f"open({str(marker)!r}, 'a').write('{index},')"
        cell.source = "\n".join(part for part in (head, mark, body) if part)
    nbformat.write(nb, path)
    return path


def _edit(path: Path, index: int, old: str, new: str) -> None:
    nb = nbformat.read(path, as_version=4)
    assert old in nb.cells[index].source
    nb.cells[index].source = nb.cells[index].source.replace(old, new)
    nbformat.write(nb, path)


def _runs(marker: Path) -> list[int]:
    text = marker.read_text() if marker.exists() else ""
    marker.unlink(missing_ok=True)
    return [int(i) for i in text.split(",") if i]


def _run(path: Path, store: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list]:
    code = main(["run", str(path), "--store", str(store), "--output", str(out), "--json", *extra])
    captured = capsys.readouterr()
    assert "nbcache run:" in captured.err  # the summary goes to stderr
    return code, json.loads(captured.out)[0]["cells"]


def _outputs(nb: nbformat.NotebookNode) -> list[list[dict]]:
    """Each code cell's outputs without nbcache's panels (a plain execution of the demo shows them)."""
    def mine(o: dict) -> bool:
        return str(o.get("data", {}).get("text/plain", "")).startswith("nbcache: ")

    return [coalesced([o for o in c.outputs if not mine(o)]) for c in nb.cells if c.cell_type == "code"]


def _plain(path: Path, monkeypatch: pytest.MonkeyPatch, store: Path) -> nbformat.NotebookNode:
    monkeypatch.setenv("NBCACHE_DIR", str(store))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def test_run_twice_then_edit_the_last_cell_then_a_middle_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # kernels inherit it: no thread oversubscription on a busy machine
    marker, store, out = tmp_path / "runs.txt", tmp_path / "store", tmp_path / "out.ipynb"
    demo = _marked_demo(tmp_path / "demo.ipynb", marker)
    plain = _plain(demo, monkeypatch, tmp_path / "plain-store")
    every = _runs(marker)

    code, cells = _run(demo, store, out, capsys, "--min-seconds", "0")
    assert code == 0 and _runs(marker) == every
    executed = nbformat.read(out, as_version=4)
    assert _outputs(executed) == _outputs(plain)
    texts = [json.dumps(o) for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert not any("nbcache: " in t or WIDGET_VIEW in t for t in texts)  # nothing of nbcache's in the notebook

    code, cells = _run(demo, store, out, capsys, "--min-seconds", "0")
    assert code == 0 and _runs(marker) == []  # every cell restored
    assert {c["state"] for c in cells} == {"hit"}, cells  # %load_ext too: a magic reading nothing runs again
    assert _outputs(nbformat.read(out, as_version=4)) == _outputs(plain)

    last = max(every)
    _edit(demo, last, "[:5]", "[:3]")
    code, cells = _run(demo, store, out, capsys, "--min-seconds", "0")
    assert code == 0 and _runs(marker) == [last]
    assert cells[-1]["state"] == "stored"

    # A helper in a middle cell changes: it, the cells reading its results, and theirs run; the data does not.
    _edit(demo, 6, '.agg(["mean", "count", "std"])', '.agg(["mean", "count", "std", "median"])')
    code, cells = _run(demo, store, out, capsys, "--min-seconds", "0")
    assert code == 0 and _runs(marker) == [i for i in every if i >= 6]
    assert _runs(marker) == []


def test_a_failing_cell_exits_non_zero_with_the_error_in_the_notebook(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in ("a = 1", "a / 0", "b = 2")]
    path, out = tmp_path / "bad.ipynb", tmp_path / "bad-out.ipynb"
    nbformat.write(nb, path)
    code = main(["run", str(path), "--store", str(tmp_path / "store"), "--output", str(out)])
    assert code == 1
    err = capsys.readouterr().err
    assert "failed" in err and "ZeroDivisionError" in err
    executed = nbformat.read(out, as_version=4)
    assert executed.cells[1].outputs[0]["ename"] == "ZeroDivisionError"
    assert executed.cells[2].execution_count is None  # the run stopped there, as `jupyter execute` does


def test_bad_arguments_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "missing.ipynb")]) == 2
    assert "no such notebook" in capsys.readouterr().err
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "a.ipynb")
    assert main(["run", str(tmp_path / "a.ipynb"), "--min-seconds", "-1"]) == 2
    assert "--min-seconds" in capsys.readouterr().err
