"""The ``%%cache`` line is parsed once per distinct text; what depends on more than the text still applies."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from tests.support import Shell


def test_a_bad_line_is_a_usage_error_every_time(shell: Shell) -> None:
    for _ in range(2):
        with pytest.raises(UsageError, match=r"\-\-ignore"):
            shell.ip.run_cell_magic("cache", "--ignore 1x", "y = 1")
    assert shell.runs == 0


def test_a_line_seen_before_follows_the_silent_setting_of_now(shell: Shell) -> None:
    _, captured = shell.cached("y = 1")
    assert "nbcache: miss" in captured.stderr
    shell.run("%config CacheMagics.silent = True")
    _, captured = shell.cached("y = 1")
    assert "nbcache" not in captured.stderr and shell.runs == 1


def test_the_same_line_gives_the_same_options_each_time(shell: Shell) -> None:
    shell.ns["log"] = []
    shell.cached("y = len(log)", flags="--ignore log")
    shell.ns["log"].append(1)  # ignored: still a hit
    _, captured = shell.cached("y = len(log)", flags="--ignore log")
    assert shell.runs == 1 and "hit" in captured.stderr
