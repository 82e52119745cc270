"""nbcache's warnings are one line under the cell: the message, not nbcache's file and source line."""

from __future__ import annotations

import sys
import warnings

import nbcache
from nbcache.errors import CacheWarning
from tests.support import Shell


def _shown(category: type[Warning], message: str) -> str:
    """The text Python's ``showwarning`` writes for a warning."""
    return warnings._formatwarnmsg(warnings.WarningMessage(message, category, __file__, 1))  # type: ignore[attr-defined]


def _to_stderr(msg: warnings.WarningMessage) -> None:
    """Python's own way of showing a warning, which pytest replaces with a recorder while tests run."""
    sys.stderr.write(warnings._formatwarnmsg(msg))  # type: ignore[attr-defined]


def test_a_cache_warning_is_its_message_on_one_line_and_others_keep_their_format(shell: Shell) -> None:
    assert _shown(CacheWarning, "nbcache: the cell ran but was not cached: x") == \
        "nbcache: the cell ran but was not cached: x\n"
    other = _shown(UserWarning, "careful")
    assert other.startswith(__file__) and "UserWarning: careful" in other


def test_unloading_puts_the_format_back(shell: Shell) -> None:
    nbcache.unload_ipython_extension(shell.ip)
    try:
        assert _shown(CacheWarning, "nbcache: x").startswith(__file__)
    finally:
        nbcache.load_ipython_extension(shell.ip)


def test_a_cell_not_stored_says_why_in_one_line_on_stderr(shell: Shell) -> None:
    with warnings.catch_warnings():
        warnings.showwarning = warnings._showwarning_orig  # type: ignore[attr-defined]
        warnings._showwarnmsg_impl = _to_stderr  # type: ignore[attr-defined]
        _, captured = shell.cached("numbers = (i for i in range(3))")
    err = captured.stderr
    assert all(line.startswith("nbcache: ") for line in err.splitlines()), err  # no nbcache file, no source line
    assert any("was not cached: output 'numbers'" in line for line in err.splitlines()), err
