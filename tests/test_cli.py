"""The `nbcache` command on a store a shell filled."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbcache.cli import main

from .conftest import Shell


def test_ls_lists_entries_and_clear_removes_them(shell: Shell, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    shell.cached("y = 1")
    assert main(["ls"]) == 0
    listing = capsys.readouterr().out
    assert "1 entry" in listing and "open(" in listing  # the cell's first line
    assert main(["--dir", str(tmp_path / "store"), "clear", "--all"]) == 0
    assert "removed 1 entry" in capsys.readouterr().out
    main(["ls"])
    assert "no entries" in capsys.readouterr().out


def test_clear_without_a_target_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clear"]) == 2
    assert "--all" in capsys.readouterr().err
