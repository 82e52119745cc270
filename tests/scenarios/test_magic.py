"""%%cache in an in-process shell: counted runs, namespaces and outputs compared with a real re-run."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from nbcache.errors import CacheWarning
from tests.support import Shell, run_in_new_process


def test_second_run_is_a_hit_and_restores_outputs(shell: Shell) -> None:
    shell.ns["x"] = 3
    shell.cached("y = x * 2\nz = [y, y]")
    shell.ns.update(y=None, z=None)
    _, captured = shell.cached("y = x * 2\nz = [y, y]")
    assert shell.runs == 1
    assert (shell.ns["y"], shell.ns["z"]) == (6, [6, 6])
    assert "nbcache: hit" in captured.stderr


def test_the_registry_a_warning_leaves_is_no_output(shell: Shell) -> None:
    cell = "import warnings\nwarnings.warn('careful')\ny = 1"
    shell.cached(cell)
    shell.ns.pop("__warningregistry__", None)
    _, captured = shell.cached(cell)
    assert shell.runs == 1
    assert "nbcache: hit (warnings, y restored" in captured.stderr
    assert "__warningregistry__" not in shell.ns


def test_input_change_is_a_miss_and_switching_back_hits_again(shell: Shell) -> None:
    cell = "y = x + 1"
    for x in (1, 2, 1, 2):
        shell.ns["x"] = x
        shell.cached(cell)
        assert shell.ns["y"] == x + 1
    assert shell.runs == 2


def test_miss_reason_names_the_changed_input(shell: Shell) -> None:
    shell.ns.update(x=1, k=5)
    shell.cached("y = x + k")
    shell.ns["x"] = 2
    _, captured = shell.cached("y = x + k")
    assert "miss (input x changed)" in captured.stderr


def test_a_miss_reason_is_worked_out_once_by_the_save_before_the_index_holds_the_entry(
        shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reason reads the index: asked in the save, just after the blobs' claims used it (a warm read), and
    before the new entry is indexed, so the answer is about the entries there were before this miss."""
    store = shell.ip._nbcache_magics.store()
    steps: list[str] = []
    for name in ("_put_blob", "_index_saved", "latest_for_cell"):
        method = getattr(store, name)
        monkeypatch.setattr(store, name, lambda *a, _m=method, _n=name, **k: (steps.append(_n), _m(*a, **k))[1])
    shell.ns.update(x=1)
    shell.cached("y = x + 1")
    assert steps == ["_put_blob", "latest_for_cell", "_index_saved"]
    shell.ns.update(x=2)
    steps.clear()
    _, captured = shell.cached("y = x + 1")
    assert steps == ["_put_blob", "latest_for_cell", "_index_saved"]
    assert "miss (input x changed)" in captured.stderr
    assert {e.meta.reason for e in store.entries()} == {"new cell", "input x changed"}


def test_a_miss_that_stores_nothing_still_says_why(shell: Shell) -> None:
    """No save to ask it: the reason is worked out at the end of the miss, against the entry there was."""
    def run(body: str) -> tuple[str, list]:
        with capture_output() as captured, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            shell.ip.run_cell(f"%%cache\n{body}", store_history=True, cell_id="cell-a")
        return captured.stderr, [str(w.message) for w in caught]

    shell.ns.update(x=1)
    run("y = x + 1")
    stderr, warned = run("y = x + 1\ng = (i for i in range(y))")  # a generator cannot be stored
    assert "nbcache: miss (source changed)" in stderr and shell.ns["y"] == 2
    assert any("was not cached" in w for w in warned), warned


def test_a_miss_reason_names_what_a_name_was_before_the_run(shell: Shell) -> None:
    """The cell rebinds the function it calls to its result: the reason still says a function changed."""
    shell.run("def f(v):\n    return v + 1")
    shell.cached("f = f(2)")
    shell.run("def f(v):\n    return v + 2")
    _, captured = shell.cached("f = f(2)")
    assert shell.ns["f"] == 4 and "miss (function f changed)" in captured.stderr


def test_an_edited_cell_is_known_by_its_frontend_cell_id(shell: Shell) -> None:
    """JupyterLab sends each cell's id: an edit is "source changed" there, and "new cell" without an id."""
    def run(body: str, cell_id: str | None) -> str:
        with capture_output() as captured:
            shell.ip.run_cell(f"%%cache\n{body}", store_history=True, cell_id=cell_id)
        return captured.stderr

    run("y = 1", "cell-a")
    assert "nbcache: miss (source changed)" in run("y = 2", "cell-a")
    assert "nbcache: miss (new cell)" in run("y = 3", None)
    assert "nbcache: miss (new cell)" in run("y = 4", "cell-b")


def test_comments_and_layout_do_not_change_the_key(shell: Shell) -> None:
    shell.cached("y = 1 + 2")
    shell.cached("# a comment\ny   =   1+2   # why\n\n")
    assert shell.runs == 1


def test_a_different_constant_type_is_a_miss(shell: Shell) -> None:
    shell.cached("y = 1")
    shell.cached("y = '1'")
    assert shell.runs == 2 and shell.ns["y"] == "1"


def test_input_type_is_part_of_the_key(shell: Shell) -> None:
    shell.ns["x"] = 1
    shell.cached("y = x")
    shell.ns["x"] = True
    shell.cached("y = x")
    assert shell.runs == 2 and shell.ns["y"] is True


def test_rebinding_to_an_equal_value_is_still_restored(shell: Shell) -> None:
    shell.ns["x"] = 1  # the cell binds x to the very object it already holds
    shell.cached("x = 1\ny = 2")
    del shell.ns["x"], shell.ns["y"]
    shell.cached("x = 1\ny = 2")
    assert shell.runs == 1 and (shell.ns["x"], shell.ns["y"]) == (1, 2)


def test_mutation_of_an_input_is_replayed(shell: Shell) -> None:
    shell.ns["lst"] = [1]
    shell.cached("lst.append(2)")
    assert shell.ns["lst"] == [1, 2]
    shell.ns["lst"] = [1]  # back to the state the entry was keyed on
    shell.cached("lst.append(2)")
    assert shell.runs == 1 and shell.ns["lst"] == [1, 2]


def test_mutation_follows_plain_aliases(shell: Shell) -> None:
    shell.ns["lst"] = [1]
    shell.cached("lst.append(2)")
    shell.run("lst = [1]\nother = lst")
    shell.cached("lst.append(2)")
    assert shell.runs == 1 and shell.ns["other"] is shell.ns["lst"] and shell.ns["other"] == [1, 2]


def test_mutation_of_a_list_referenced_elsewhere_is_written_into_it(shell: Shell) -> None:
    shell.ns["lst"] = [1]
    shell.cached("lst.append(2)")
    shell.run("lst = [1]\nholder = {'inner': lst}")
    shell.cached("lst.append(2)")
    assert shell.runs == 1 and shell.ns["holder"]["inner"] is shell.ns["lst"] and shell.ns["lst"] == [1, 2]


def test_mutation_of_an_object_referenced_elsewhere_runs_instead(shell: Shell) -> None:
    shell.run("class Box:\n    def __init__(self):\n        self.v = 1")
    shell.run("box = Box()")
    shell.cached("box.v = 2")
    shell.run("box = Box()\nholder = {'inner': box}")
    _, captured = shell.cached("box.v = 2")
    # A restore could not update holder['inner'] (an object nbcache does not write into); re-running is exact.
    assert shell.runs == 2 and shell.ns["holder"]["inner"].v == 2
    assert "referenced from inside another object" in captured.stderr


def test_deletion_is_replayed(shell: Shell) -> None:
    shell.ns["tmp"] = 1
    shell.cached("del tmp\nz = 2")
    shell.ns["tmp"] = 1
    shell.cached("del tmp\nz = 2")
    assert shell.runs == 1 and "tmp" not in shell.ns


def test_shared_objects_stay_shared(shell: Shell) -> None:
    shell.cached("a = [1, 2]\nb = a")
    shell.ns.update(a=None, b=None)
    shell.cached("a = [1, 2]\nb = a")
    assert shell.runs == 1 and shell.ns["b"] is shell.ns["a"]


def test_printed_and_displayed_outputs_replay_in_order(shell: Shell) -> None:
    body = """
    import sys
    from IPython.display import display, HTML
    print('one')
    display(HTML('<b>two</b>'))
    print('three', file=sys.stderr)
    print('four')
    """
    _, first = shell.cached(body)
    _, second = shell.cached(body)
    assert shell.runs == 1
    assert first.stdout == second.stdout and "one\nfour" in second.stdout
    assert [o.data for o in first.outputs] == [o.data for o in second.outputs]
    assert "three" in second.stderr


def test_last_expression_sets_out_and_underscore(shell: Shell) -> None:
    first, _ = shell.cached("41 + 1")
    second, _ = shell.cached("41 + 1")
    assert shell.runs == 1
    assert first.result == second.result == 42
    assert shell.ns["_"] == 42 and shell.ns["Out"][second.execution_count] == 42


def test_semicolon_suppresses_the_value_as_without_cache(shell: Shell) -> None:
    result, _ = shell.cached("41 + 1;")
    assert result.result is None


def test_errors_are_never_cached(shell: Shell) -> None:
    first, _ = shell.cached("y = 1\nraise ValueError('boom')")
    second, _ = shell.cached("y = 1\nraise ValueError('boom')")
    assert isinstance(first.error_in_exec, ValueError) and isinstance(second.error_in_exec, ValueError)
    assert shell.runs == 2


def test_syntax_error_is_reported_as_such(shell: Shell) -> None:
    result, _ = shell.run("%%cache\nx = = 1")
    assert isinstance(result.error_in_exec, SyntaxError) or isinstance(result.error_before_exec, SyntaxError)


def test_unpicklable_output_keeps_results_and_warns(shell: Shell) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shell.cached("gen = (i for i in range(3))\nv = 5")
    assert shell.ns["v"] == 5 and list(shell.ns["gen"]) == [0, 1, 2]
    assert any("gen" in str(w.message) for w in caught)
    shell.cached("gen = (i for i in range(3))\nv = 5")
    assert shell.runs == 2  # nothing was stored that a hit could restore half-way


def test_unhashable_input_runs_uncached_with_a_note(shell: Shell) -> None:
    shell.ns["g"] = (i for i in range(100))
    _, captured = shell.cached("first = next(g)")
    _, captured = shell.cached("second = next(g)")
    assert shell.runs == 2 and (shell.ns["first"], shell.ns["second"]) == (0, 1)
    assert "not cached (input g cannot be hashed" in captured.stderr and "--ignore g" in captured.stderr


def test_ignore_leaves_an_input_out_of_the_key(shell: Shell) -> None:
    shell.ns["log"] = (i for i in range(3))  # unhashable, but irrelevant to the result
    shell.ns["x"] = 2
    shell.cached("print(type(log).__name__)\ny = x * 10", flags="--ignore log")
    shell.cached("print(type(log).__name__)\ny = x * 10", flags="--ignore log")
    assert shell.runs == 1 and shell.ns["y"] == 20


def test_dynamic_access_runs_uncached(shell: Shell) -> None:
    shell.ns["x"] = 1
    _, captured = shell.cached("y = eval('x + 1')")
    shell.cached("y = eval('x + 1')")
    assert shell.runs == 2 and shell.ns["y"] == 2
    assert "not cached (cell uses eval()" in captured.stderr


def test_force_runs_and_overwrites(shell: Shell) -> None:
    shell.cached("y = 1")
    shell.cached("y = 1", flags="-f")
    _, captured = shell.cached("y = 1")
    assert shell.runs == 2 and "hit" in captured.stderr


def test_quiet_prints_no_status(shell: Shell) -> None:
    _, captured = shell.cached("y = 1", flags="-q")
    assert "nbcache" not in captured.stderr


@pytest.mark.parametrize("flags, named", [("--bogus", "--bogus"), ("--ignore 1x", "--ignore"),
                                          ("--deps /nonexistent/*.csv", "--deps")])
def test_bad_options_are_usage_errors_naming_the_flag(shell: Shell, flags: str, named: str) -> None:
    with pytest.raises(UsageError, match=named.replace("-", r"\-")):
        shell.ip.run_cell_magic("cache", flags, "y = 1")
    assert shell.runs == 0


def test_deps_file_change_is_a_miss_naming_the_file(shell: Shell, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    shell.cached("y = 1", flags=f"--deps {data}")
    shell.cached("y = 1", flags=f"--deps {data}")
    data.write_text("a\n2\n")
    _, captured = shell.cached("y = 1", flags=f"--deps {data}")
    assert shell.runs == 2 and "data.csv changed" in captured.stderr


def test_cache_clear_all_and_by_prefix(shell: Shell) -> None:
    shell.cached("y = 1")
    shell.cached("y = 2")
    keys = [e.key for e in shell.ip._nbcache_magics.store().entries()]
    _, captured = shell.run(f"%cache_clear {keys[0][:10]}")
    assert "removed 1 entry" in captured.stdout
    _, captured = shell.run("%cache_clear --all")
    assert "removed 1 entry" in captured.stdout
    shell.cached("y = 1")
    assert shell.runs == 3
    with pytest.raises(UsageError):
        shell.ip.run_line_magic("cache_clear", "")


def test_cache_info_lists_entries(shell: Shell) -> None:
    shell.cached("y = 1  # first cell")
    shell.cached("y = 1  # first cell")
    _, captured = shell.run("%cache_info")
    assert "1 entry" in captured.stdout and "%%cache" not in captured.stdout
    assert " 1 " in captured.stdout.splitlines()[1]  # one hit


def test_store_location_follows_env_and_config(shell: Shell, tmp_path: Path, monkeypatch) -> None:
    shell.cached("y = 1")
    assert (tmp_path / "store").exists()
    shell.run(f"%config CacheMagics.cache_dir = {str(tmp_path / 'other')!r}")
    shell.cached("y = 1")
    assert shell.runs == 2 and (tmp_path / "other").exists()


def test_damaged_entry_is_a_miss_with_a_warning(shell: Shell, tmp_path: Path) -> None:
    shell.cached("y = 1")
    for blob in (tmp_path / "store" / "blobs").iterdir():
        blob.write_bytes(b"garbage")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result, _ = shell.cached("y = 1")
    assert result.success and shell.runs == 2 and shell.ns["y"] == 1
    assert len([w for w in caught if issubclass(w.category, CacheWarning)]) == 1


def test_unload_removes_the_magics(shell: Shell) -> None:
    import nbcache

    nbcache.unload_ipython_extension(shell.ip)
    assert "cache" not in shell.ip.magics_manager.magics["cell"]
    assert "cache_info" not in shell.ip.magics_manager.magics["line"]
    nbcache.load_ipython_extension(shell.ip)


RESTART_SCRIPT = """
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic('load_ext', 'nbcache')
ip.user_ns['x'] = 4
r = ip.run_cell('''%%cache
open({marker!r}, 'a').write('.')
def square(v):
    return v * v
class Box:
    def __init__(self, v):
        self.v = v
box = Box(square(x))
f = lambda: box.v + 1
''')
assert r.success, r
print('RESULT', ip.user_ns['box'].v, ip.user_ns['f'](), ip.user_ns['square'](3))
"""


def test_hit_after_a_kernel_restart_restores_notebook_functions_and_classes(tmp_path: Path) -> None:
    marker = tmp_path / "runs.txt"
    script = RESTART_SCRIPT.format(marker=str(marker))
    first = run_in_new_process(script)
    second = run_in_new_process(script)
    assert "RESULT 16 17 9" in first and "RESULT 16 17 9" in second
    assert marker.read_text() == "."  # the second process restored instead of running


def test_an_input_bound_to_a_new_name_is_the_same_object_after_a_hit(shell: Shell) -> None:
    shell.ns["a"] = [1, 2]
    shell.cached("b = a")
    shell.ns["b"] = None
    shell.cached("b = a")
    assert shell.runs == 1 and shell.ns["b"] is shell.ns["a"]


RESTORED_FUNCTION_SCRIPT = """
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic('load_ext', 'nbcache')
ip.run_cell('factor = 2')
r = ip.run_cell('''%%cache
open({marker!r}, 'a').write('.')
def scale(v):
    return v * factor
''')
assert r.success, r
ip.run_cell('factor = 10')
print('RESULT', ip.user_ns['scale'](3))
"""


def test_a_restored_function_reads_the_live_namespace(tmp_path: Path) -> None:
    # A real re-run would define scale() over the notebook's globals, so a later `factor = 10` must count.
    script = RESTORED_FUNCTION_SCRIPT.format(marker=str(tmp_path / "runs.txt"))
    first, second = run_in_new_process(script), run_in_new_process(script)
    assert "RESULT 30" in first and "RESULT 30" in second
    assert (tmp_path / "runs.txt").read_text() == "."


def test_a_global_mutated_through_a_helper_is_replayed(shell: Shell) -> None:
    shell.run("state = []\ndef bump():\n    state.append(1)\n    return len(state)")
    shell.cached("n = bump()")
    shell.run("state = []")  # back to the content the entry was keyed on
    shell.cached("n = bump()")
    assert shell.runs == 1 and shell.ns["state"] == [1] and shell.ns["n"] == 1


def test_an_object_inside_an_input_is_the_same_object_after_a_hit(shell: Shell) -> None:
    shell.ns["rows"] = {"a": [[1], [2]]}
    shell.cached("first = rows['a'][0]\nrest = rows['a'][1:]")
    shell.ns.update(first=None, rest=None)
    shell.cached("first = rows['a'][0]\nrest = rows['a'][1:]")
    assert shell.runs == 1 and shell.ns["first"] is shell.ns["rows"]["a"][0]
    assert shell.ns["rest"][0] is shell.ns["rows"]["a"][1]


def test_a_view_into_an_input_array_is_a_view_of_the_live_input_after_a_hit(shell: Shell) -> None:
    import numpy as np

    shell.ns["arr"] = np.arange(10)
    shell.cached("head = arr[2:5]")
    shell.ns["head"] = None
    shell.cached("head = arr[2:5]")
    assert shell.runs == 1 and np.shares_memory(shell.ns["head"], shell.ns["arr"])
    shell.ns["arr"][2] = 99
    assert shell.ns["head"][0] == 99


def test_a_view_into_a_non_contiguous_input_is_a_view_of_its_memory_after_a_hit(shell: Shell) -> None:
    import numpy as np

    shell.ns["arr"] = np.arange(20).reshape(4, 5)[:, ::2]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shell.cached("head = arr[:2]")
    shell.ns["head"] = None
    shell.cached("head = arr[:2]")
    assert shell.runs == 1 and np.shares_memory(shell.ns["head"], shell.ns["arr"])
    assert not [w for w in caught if issubclass(w.category, CacheWarning)]
    shell.ns["arr"][0, 1] = 99
    assert shell.ns["head"][0, 1] == 99


def test_a_view_into_an_input_that_no_longer_shares_memory_as_saved_is_not_restored(shell: Shell) -> None:
    import numpy as np

    shell.ns["arr"] = np.arange(20).reshape(4, 5)[:, ::2]
    shell.cached("head = arr[:2]")
    owner = np.zeros((4, 10), dtype=shell.ns["arr"].dtype)
    owner[:, ::4] = shell.ns["arr"]
    shell.ns["arr"] = owner[:, ::4]  # equal content, another layout in its owner: the key is the same
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shell.cached("head = arr[:2]")
    assert shell.runs == 2 and np.shares_memory(shell.ns["head"], shell.ns["arr"])
    assert any("no longer shares memory" in str(w.message) for w in caught)


def test_objects_reached_through_a_module_input_are_stored_by_value(shell: Shell) -> None:
    # A module is keyed by name and version, not content: nothing hanging off it may stand in for an output.
    import numpy as np

    shell.ns["np"] = np
    shell.cached("a = np.ones(3)")
    shell.ns["a"] = None
    shell.cached("a = np.ones(3)")
    assert shell.runs == 1 and list(shell.ns["a"]) == [1.0, 1.0, 1.0]


def test_a_view_of_an_output_array_still_shares_its_memory_after_a_hit(shell: Shell) -> None:
    import numpy as np

    shell.ns["np"] = np
    body = "X = np.arange(12.0).reshape(3, 4)\ntrain = X[:2]\ncol = X[:, 1]"
    shell.cached(body)
    shell.ns.update(X=None, train=None, col=None)
    shell.cached(body)
    X, train, col = shell.ns["X"], shell.ns["train"], shell.ns["col"]
    X -= 1.0  # an in-place change a later cell makes: a real run's views see it
    assert shell.runs == 1 and train[0, 0] == -1.0 and col[2] == 8.0


def test_loading_sorts_the_modules_loaded_so_far(shell: Shell) -> None:
    """The extension sorts the modules a kernel has loaded into the user's and libraries' as it loads, so the
    first cached cell does not pay for it (a thousand modules in a kernel: tens of ms)."""
    import nbcache
    from nbcache.keys import modules

    nbcache.unload_ipython_extension(shell.ip)
    modules._user.signature = None  # as in a new process
    nbcache.load_ipython_extension(shell.ip)
    assert modules._user.signature == modules._modules_signature()
    assert modules._user.seen.keys() == sys.modules.keys()
