"""Issue 12, missed hits: ordinary cells that must hit on a re-run, in the same process and after a restart."""

from __future__ import annotations

from pathlib import Path

from nbcache.keys.values import hash_value
from tests.scenarios.restarts import differential
from tests.support import Shell, run_in_new_process


def test_a_class_read_with_its_instance_hashes_the_same_after_hashing(shell: Shell) -> None:
    shell.run("class P:\n    def __init__(self):\n        self.a = 1\np = P()")
    before = hash_value(shell.ns["P"])
    hash_value(shell.ns["p"])  # copyreg adds __slotnames__ to the class
    assert hash_value(shell.ns["P"]) == before
    shell.cached("r = (P, p.a)")
    shell.cached("r = (P, p.a)")
    assert shell.runs == 1


def test_a_numpy_ufunc_is_hashed_by_name(shell: Shell) -> None:
    shell.run("import numpy as np\nops = [np.add, np.multiply]")
    shell.cached("r = [f(2, 3) for f in ops]")
    _, captured = shell.cached("r = [f(2, 3) for f in ops]")
    assert shell.runs == 1 and "hit" in captured.stderr and shell.ns["r"] == [5, 6]


def test_an_import_only_cell_is_not_non_deterministic(shell: Shell, tmp_path: Path) -> None:
    script = """
import sys
sys.stderr = sys.stdout  # the status line, where this test reads it
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance(); ip.run_line_magic('load_ext', 'nbcache')
ip.run_cell("%%cache\\nimport numpy as np\\nimport json")
"""
    out = run_in_new_process(script, cwd=tmp_path)  # numpy is loaded by this very cell
    assert "miss (new cell)" in out and "non-deterministic" not in out


SCRIPT = """
import sys, os
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance(); ip.run_line_magic('load_ext', 'nbcache')
r = ip.run_cell('''{cell}''')
assert r.success, r
print('VALUE', ip.user_ns['{name}'])
"""


def _twice_in_new_processes(shell: Shell, cwd: Path, body: str, name: str) -> list[str]:
    cell = f"%%cache\n{shell.count_line()}\n{body}"
    return [run_in_new_process(SCRIPT.format(cell=cell, name=name), cwd=cwd) for _ in range(2)]


def test_a_line_magic_that_reads_no_names_hits_after_a_restart(shell: Shell, tmp_path: Path) -> None:
    # %matplotlib inline needs a kernel's GUI support; %precision is the same kind of magic in a plain shell
    outs = _twice_in_new_processes(shell, tmp_path, "%precision 3\\nimport numpy as np\\nx = 3", "x")
    assert shell.runs == 1 and all("VALUE 3" in o for o in outs)


def test_sys_path_insert_then_import_hits_after_a_restart(shell: Shell, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "feats.py").write_text("def build(v):\n    return v * 2\n")
    body = "import sys\\nsys.path.insert(0, 'src')\\nfrom feats import build\\ny = build(4)"
    outs = _twice_in_new_processes(shell, tmp_path, body, "y")
    assert shell.runs == 1 and all("VALUE 8" in o for o in outs)
    (tmp_path / "src" / "feats.py").write_text("def build(v):\n    return v * 3\n")
    out = _twice_in_new_processes(shell, tmp_path, body, "y")[0]
    assert "VALUE 12" in out and shell.runs == 2


def test_a_frame_shown_as_a_result_then_changed_by_a_cached_cell_hits(shell: Shell) -> None:
    setup = "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})"
    body = "df['b'] = df['a'] * 2"
    for _ in range(2):
        shell.run(setup)
        shell.run("df")  # the display hook's `_` and `Out` hold it
        shell.cached(body)
    assert shell.runs == 1
    assert list(shell.ns["df"].columns) == ["a", "b"] and shell.ns["_"] is shell.ns["df"]
    idx = shell.ns["df"].index
    shell.cached("idx = df.index\nk = idx.dtype.name")
    shell.cached("idx = df.index\nk = idx.dtype.name")
    assert shell.runs == 2 and shell.ns["k"] == idx.dtype.name  # loadable: no lazily filled cache in the way


def test_a_restored_bunch_and_grid_search_key_the_next_cell_as_the_originals_did(tmp_path: Path) -> None:
    """load_iris()'s Bunch loses its instance dict on a restore, and cv_results_'s masked arrays get their fill
    value set: the cell reading them must still hit after a restart that restored them (issue 12, item 9)."""
    steps = [
        ("import warnings\nwarnings.simplefilter('ignore')", False),
        ("from sklearn.datasets import load_iris\nfrom sklearn.model_selection import GridSearchCV\n"
         "from sklearn.svm import SVC\niris = load_iris()\n"
         "search = GridSearchCV(SVC(), {'C': [1, 10]}, cv=3).fit(iris.data, iris.target)", True),
        ("print(search.best_params_, round(search.score(iris.data, iris.target), 4), list(iris))", True),
        ("print(search.cv_results_['param_C'], iris.target_names)", False),
    ]
    differential(steps, tmp_path)


def test_a_cell_reading_sixteen_axes_hits_and_misses_when_one_of_them_changed(tmp_path: Path) -> None:
    """Issue 12, item 12: a 16-axes figure is keyed cheaply (one C pickle of the figure for all its Axes), still
    by its content: a line added to another Axes makes the cell run again."""
    count = "n = sum(len(a.lines) for a in axs.flat)\nprint(n, axs[0, 0].get_title())"
    steps = [
        ("import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
         "fig, axs = plt.subplots(4, 4)\nfor a in axs.flat:\n    a.plot(range(3))\nfig.canvas.draw()", False),
        (count, True),
        ("axs[3, 3].plot(range(4));", False),
        (count, True),
        ("axs[0, 0].set_title('first');", False),
        (count, True),
    ]
    observed = differential(steps, tmp_path)
    assert [observed[i]["stdout"] for i in (1, 3, 5)] == ["16 \n", "17 \n", "17 first\n"]
