"""%cache_info in a terminal-like shell: sorting, JSON, and the text forms."""

from __future__ import annotations

import json

import pytest
from IPython.core.error import UsageError

from nbcache.ui.listing import entries_html, info_text
from tests.support import Shell


def _fill(shell: Shell) -> None:
    shell.run("%%cache\nsmall = 1")
    shell.run("%%cache\nbig = list(range(10_000))")
    shell.run("%%cache\nbig = list(range(10_000))")  # one hit


def test_sort_by_size_age_and_saved(shell: Shell) -> None:
    _fill(shell)
    first_cells = {}
    for order in ("size", "age", "saved"):
        _, captured = shell.run(f"%cache_info --sort {order}")
        first_cells[order] = captured.stdout.splitlines()[1]
    assert "big = " in first_cells["size"] and "small = " in first_cells["age"] and "big = " in first_cells["saved"]
    with pytest.raises(UsageError):
        shell.ip.run_line_magic("cache_info", "--sort colour")


def test_json_lists_what_the_store_holds(shell: Shell) -> None:
    _fill(shell)
    _, captured = shell.run("%cache_info --json")
    listed = json.loads(captured.stdout)
    entries = shell.ip._nbcache_magics.store().entries()
    assert [(e["key"], e["size"], e["hits"]) for e in listed["entries"]] == [(e.key, e.size, e.hits) for e in entries]
    assert listed["totals"]["entries"] == 2 and listed["store"] == shell.ip._nbcache_magics.store_path()


def test_text_and_html_forms(shell: Shell) -> None:
    _fill(shell)
    entries = shell.ip._nbcache_magics.store().entries()
    assert info_text(entries, "here", 10**9).startswith("nbcache: 2 entries · ")
    assert "of 1.0 GiB" in info_text(entries, "here", 2**30)
    assert info_text([], "here", None) == "nbcache: no entries in here"
    page = entries_html(entries, "<here>", None)
    assert page.count("<tr>") == 3 and "&lt;here&gt;" in page  # header plus two rows, the location escaped
