"""A failing cached cell's traceback reads like the same cell's without %%cache: from the cell's own line, numbered
as the prompt shows it, with no magic call and no hidden nbcache frames above it."""

from __future__ import annotations

import re

from tests.support import Shell

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _traceback(shell: Shell, source: str) -> tuple[int, str]:
    result, captured = shell.run(source)
    assert not result.success
    return result.execution_count, ANSI.sub("", captured.stdout + captured.stderr)


def test_a_failing_cached_cell_shows_the_plain_cells_traceback(shell: Shell) -> None:
    shell.run("def ratio(a, b):\n    return a / b")
    plain_number, plain = _traceback(shell, "x = 1\nratio(x, 0)")
    number, cached = _traceback(shell, "%%cache\nx = 1\nratio(x, 0)")
    assert "run_cell_magic" not in cached and "skipping hidden" not in cached
    assert f"Cell In[{number}], line 3" in cached and f"Cell In[{plain_number}], line 2" in plain
    assert "----> 3 ratio(x, 0)" in cached and "      1 %%cache" in cached
    # The same frames: the cell, then the function it called.
    assert cached.count("Cell In[") == plain.count("Cell In[") == 2
    assert cached.splitlines()[-1] == plain.splitlines()[-1] == "ZeroDivisionError: division by zero"


def test_an_error_in_the_last_expression_is_shown_the_same_way(shell: Shell) -> None:
    number, cached = _traceback(shell, "%%cache -q\ny = 2\ny / 0")
    assert f"Cell In[{number}], line 3" in cached and "run_cell_magic" not in cached
