"""Auto mode in an in-process shell: every cell keyed as if it carried %%cache, quiet, identical to a plain run."""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import nbcache
from nbcache.ipython.auto import definite_bindings
from tests.support import Shell


def _cells(counter: str) -> list[str]:
    """A small notebook; each cell's first line counts its real runs."""
    return [
        f"{counter}\nbase = [1, 2, 3]",
        f"{counter}\ntotal = sum(base)\nprint('total', total)\ntotal",
        f"{counter}\ndef scale(v):\n    return v * 10\nscaled = scale(total)",
        f"{counter}\nscaled + 1;",
        f"{counter}\nscaled / 0",
    ]


def _observe(ip: InteractiveShell, cells: list[str]) -> list[tuple]:
    """Everything a user sees: stdout, each result, the namespace's plain values, Out, the error's kind."""
    seen = []
    for cell in cells:
        with capture_output() as out:
            result = ip.run_cell(cell, store_history=True)
        error = type(result.error_in_exec).__name__ if result.error_in_exec else None
        tb = out.stdout.split("Traceback", 1)[-1] if error else ""
        seen.append((out.stdout.split("Traceback")[0], result.result, error, tb, result.execution_count))
    names = {k: v for k, v in ip.user_ns.items() if k in ("base", "total", "scaled")}
    return [*seen, names, dict(ip.user_ns["Out"]), ip.user_ns.get("_")]


def test_a_notebook_looks_the_same_with_auto_mode_as_plain(shell: Shell, tmp_path: Path) -> None:
    counter = shell.count_line()
    ip = shell.ip
    nbcache.unload_ipython_extension(ip)
    ip.reset(new_session=True)
    plain = _observe(ip, _cells(counter))
    ip.reset(new_session=True)
    nbcache.load_ipython_extension(ip)
    ip.run_line_magic("config", "CacheMagics.silent = True")  # the status lines go to stdout in a shell
    ip.run_line_magic("cache_auto", "on --min-seconds 0")
    ip.reset(new_session=True)
    cold = _observe(ip, _cells(counter))
    assert cold == plain
    runs = shell.runs
    ip.reset(new_session=True)
    warm = _observe(ip, _cells(counter))
    assert warm == plain
    assert shell.runs == runs + 1  # only the failing cell ran again; the others were restored


def test_cheap_cells_are_not_stored_and_say_nothing(shell: Shell) -> None:
    shell.run("%cache_auto on")
    _, out = shell.run(f"{shell.count_line()}\nx = 1\nx")
    assert out.stderr == "" and "nbcache" not in out.stdout
    shell.run(f"{shell.count_line()}\nx = 1\nx")
    assert shell.runs == 2  # never stored, so it ran both times
    _, out = shell.run("%cache_status")
    assert "too cheap to store" in out.stdout


def test_min_seconds_zero_stores_and_a_hit_says_so(shell: Shell) -> None:
    shell.run("%cache_auto on --min-seconds 0")
    _, first = shell.run(f"{shell.count_line()}\ny = 2")
    _, second = shell.run(f"{shell.count_line()}\ny = 2")
    assert shell.runs == 1
    assert "stored" in first.stderr and "nbcache: hit" in second.stderr


def test_nocache_runs_one_cell_plainly(shell: Shell) -> None:
    shell.run("%cache_auto on --min-seconds 0")
    for _ in range(2):
        result, out = shell.run(f"%%nocache\n{shell.count_line()}\nz = 3\nz")
        assert result.result == 3 and out.stderr == ""
    assert shell.runs == 2 and shell.ns["z"] == 3


def test_nocache_traceback_points_at_the_cells_own_line(shell: Shell) -> None:
    shell.run("%cache_auto on --min-seconds 0")
    _, out = shell.run("%%nocache\nx = 1\n1 / 0")
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout)
    assert "line 3" in text and "----> 3 1 / 0" in text


def test_explicit_cache_options_still_apply(shell: Shell, tmp_path: Path) -> None:
    data = tmp_path / "d.txt"
    data.write_text("a")
    shell.run("%cache_auto on")  # default min-seconds: a plain cheap cell would not be stored
    shell.cached(f"n = len(open({str(data)!r}).read())")
    shell.cached(f"n = len(open({str(data)!r}).read())")
    assert shell.runs == 1  # explicit %%cache stores whatever its time


def test_a_name_bound_only_on_some_paths_is_not_stored(shell: Shell) -> None:
    """`if flag: x = ...` that left x alone: a hit could not tell whether to restore x, so nothing is stored."""
    shell.run("%cache_auto on --min-seconds 0")
    shell.run("flag = False\nx = 5")
    cell = f"{shell.count_line()}\nif flag:\n    x = 1\ny = 1"
    shell.run(cell)
    shell.run("x = 7")
    shell.run(cell)
    assert shell.runs == 2 and shell.ns["x"] == 7


def test_unhashable_input_runs_plainly_without_a_warning(shell: Shell) -> None:
    shell.run("%cache_auto on --min-seconds 0")
    shell.run("gen = (i for i in range(3))")
    _, out = shell.run("first = next(gen)")
    assert out.stderr == "" and shell.ns["first"] == 0


def test_cache_auto_prints_and_switches_state(shell: Shell) -> None:
    assert "off" in shell.run("%cache_auto")[1].stdout
    assert "on" in shell.run("%cache_auto on --min-seconds 2.5")[1].stdout
    assert "2.5 s" in shell.run("%cache_auto")[1].stdout
    assert "off" in shell.run("%cache_auto off")[1].stdout
    shell.run(f"{shell.count_line()}\nq = 1")
    shell.run(f"{shell.count_line()}\nq = 1")
    assert shell.runs == 2


def test_bad_min_seconds_is_a_usage_error(shell: Shell) -> None:
    with pytest.raises(UsageError, match="--min-seconds"):
        shell.ip.run_line_magic("cache_auto", "on --min-seconds -1")


def test_definite_bindings_leave_out_branches() -> None:
    tree = ast.parse(textwrap.dedent("""
        a = 1
        b, (c, *d) = 1, (2, 3)
        import os.path as p, sys
        def f(): pass
        if x:
            e = 1
        for g in []:
            pass
    """))
    assert definite_bindings(tree) == {"a", "b", "c", "d", "p", "sys", "f"}


def test_a_cell_of_imports_only_runs_plainly_and_is_not_listed(shell: Shell) -> None:
    shell.run("%cache_auto on --min-seconds 0")
    _, out = shell.run("import json\nfrom os import path")
    assert out.stderr == "" and shell.ns["json"].__name__ == "json"
    assert "no cells ran under nbcache" in shell.run("%cache_status")[1].stdout
