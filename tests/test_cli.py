"""The `nbcache` command on a store a shell filled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nbcache.cli import main
from nbcache.store.entry import EntryMeta
from nbcache.store.local import Store
from tests.support import Shell


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


def _filled_store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "store", size_limit=None)
    for i, nbytes in enumerate((10, 2 * 10**6, 3 * 10**6)):
        store.save(f"{i:x}" * 32, {"outputs": {"x": np.zeros(nbytes, dtype=np.uint8)}}, EntryMeta(cell=f"cell {i}"))
    return store


def test_info_prints_totals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_store(tmp_path)
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "entries:    3" in out and "4.8 MiB" in out  # 5,000,010 bytes and some pickle headers


def test_clear_by_size_and_age(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _filled_store(tmp_path)
    assert main(["clear", "--larger-than", "2.5MB"]) == 0
    assert "removed 1 entry" in capsys.readouterr().out and len(store.entries()) == 2
    assert main(["clear", "--older-than", "1d"]) == 0
    assert "removed 0 entries" in capsys.readouterr().out and len(store.entries()) == 2


@pytest.mark.parametrize("argv, flag", [(["clear", "--older-than", "soon"], "--older-than"),
                                        (["clear", "--larger-than", "big"], "--larger-than"),
                                        (["prune", "--max-size", "1 lot"], "--max-size")])
def test_bad_values_name_the_flag(argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert flag in capsys.readouterr().err


def test_prune_evicts_least_recently_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _filled_store(tmp_path)
    store.record_hit("0" * 32, 0.0)
    store.record_hit("1" * 32, 0.0)  # "2..." is now the least recently used
    assert main(["prune", "--max-size", "4MB"]) == 0
    assert "removed 1 entry" in capsys.readouterr().out
    assert sorted(e.key[0] for e in store.entries()) == ["0", "1"]


def test_verify_passes_a_sound_store_and_fails_a_damaged_one(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    store = _filled_store(tmp_path)
    assert main(["verify"]) == 0
    assert "all 3 entries sound" in capsys.readouterr().out
    big = max((store.root / "blobs").iterdir(), key=lambda p: p.stat().st_size)
    with open(big, "r+b") as f:  # flip one byte in the middle: same size, other content
        f.seek(10**6)
        f.write(b"\x01")
    assert main(["verify"]) == 1
    out = capsys.readouterr().out
    assert "damaged: 2222" in out and "1 damaged" in out
