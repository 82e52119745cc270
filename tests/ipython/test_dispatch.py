"""A %%cache cell skips IPython's one-line prefilter (nbcache.ipython.dispatch), to the very same code."""

from __future__ import annotations

import ast
from typing import Any

import pytest

import nbcache
from nbcache.ipython import dispatch
from tests.support import Shell

_CELLS = ["%%cache\ny = x + 1\ny", "%%cache -q --ignore log\ny = x + 1\n", "%%cache\n", "%%cache\nprint('%%cache')"]


def _prefiltered(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    manager: Any = shell.ip.prefilter_manager
    real = manager.prefilter_lines
    monkeypatch.setattr(manager, "prefilter_lines", lambda lines, *a: (seen.append(lines), real(lines, *a))[1])
    return seen


@pytest.mark.parametrize("raw", _CELLS)
def test_the_same_code_as_ipythons_path(shell: Shell, raw: str) -> None:
    ours = shell.ip.transform_cell(raw)
    dispatch.uninstall(shell.ip)
    try:
        theirs = shell.ip.transform_cell(raw)
    finally:
        dispatch.install(shell.ip)
    assert ours == theirs + "\n" and ast.dump(ast.parse(ours)) == ast.dump(ast.parse(theirs))


def test_a_cache_cell_is_not_prefiltered_and_still_runs(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _prefiltered(shell, monkeypatch)
    shell.ns["x"] = 1
    for _ in range(2):  # a miss, then a hit
        result, _ = shell.cached("y = x + 1\ny")
        assert result.result == 2 and shell.ns["y"] == 2  # type: ignore[attr-defined]
    assert shell.runs == 1 and not any("run_cell_magic('cache'" in s for s in seen)


@pytest.mark.parametrize("setup", ["autocall", "checker"])
def test_ipythons_path_when_the_prefilter_could_change_the_call(shell: Shell, monkeypatch: pytest.MonkeyPatch,
                                                                 setup: str) -> None:
    if setup == "autocall":
        monkeypatch.setattr(shell.ip, "autocall", 1)
    else:
        class Custom:  # a checker of the user's, which might act on any line
            priority = 1
            enabled = True

            def check(self, line_info: Any) -> None:
                return None

        monkeypatch.setattr(shell.ip.prefilter_manager, "_checkers", [*shell.ip.prefilter_manager.checkers, Custom()])
    seen = _prefiltered(shell, monkeypatch)
    shell.ns["x"] = 1
    result, _ = shell.run("%%cache\ny = x + 1\ny")
    assert result.result == 2  # type: ignore[attr-defined]
    assert any("run_cell_magic('cache'" in s for s in seen)


def test_other_cells_keep_ipythons_path(shell: Shell) -> None:
    for raw in ("%%capture\nx = 1", "x = 1", "%time x = 1", "%%cache?"):
        ours = shell.ip.transform_cell(raw)
        dispatch.uninstall(shell.ip)
        try:
            assert ours == shell.ip.transform_cell(raw)
        finally:
            dispatch.install(shell.ip)


def test_unloading_nbcache_removes_it(shell: Shell) -> None:
    nbcache.unload_ipython_extension(shell.ip)
    try:
        transforms = shell.ip.input_transformer_manager.line_transforms
        assert not any(isinstance(t, dispatch._EndWithEmptyLine) for t in transforms)
    finally:
        nbcache.load_ipython_extension(shell.ip)
    transforms = shell.ip.input_transformer_manager.line_transforms
    assert sum(isinstance(t, dispatch._EndWithEmptyLine) for t in transforms) == 1
