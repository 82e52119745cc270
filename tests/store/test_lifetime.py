"""Size limit with least-recently-used eviction, and clearing by age and size, from the magics."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from IPython.core.error import UsageError

from nbcache.store.entry import EntryMeta
from nbcache.store.local import Store
from nbcache.units import parse_age, parse_size
from tests.support import Shell

MB = 1000**2


def _save(store: Store, key: str, nbytes: int) -> None:
    store.save(key, {"outputs": {"x": np.full(nbytes, ord(key[0]), dtype=np.uint8)}}, EntryMeta())


def _age(store: Store, key: str, seconds: float) -> None:
    """Pretend the entry was last used ``seconds`` ago."""
    path = store.root / "stats" / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"hits": 1, "last_used": time.time() - seconds, "saved_s": 0}))


@pytest.mark.parametrize("text, expected", [("10GiB", 10 * 2**30), ("100MB", 100 * MB), ("1.5k", 1536),
                                            ("2048", 2048), (" 3 gb ", 3 * 1000**3)])
def test_sizes_parse(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text, expected", [("7d", 7 * 86400), ("12h", 43200), ("30m", 1800), ("2w", 1209600)])
def test_ages_parse(text: str, expected: float) -> None:
    assert parse_age(text) == expected


def test_least_recently_used_entries_are_evicted_first(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", size_limit=None)
    for key in ("aa" * 16, "bb" * 16, "cc" * 16):
        _save(store, key, MB)
    _age(store, "aa" * 16, 10)
    _age(store, "bb" * 16, 30)  # least recently used
    _age(store, "cc" * 16, 20)
    store.size_limit = int(3.5 * MB)
    _save(store, "dd" * 16, MB)  # four entries do not fit: one goes
    assert sorted(e.key[:2] for e in store.entries()) == ["aa", "cc", "dd"]
    store.size_limit = int(1.5 * MB)
    _save(store, "ee" * 16, 10)  # tiny: cc then aa go, dd (newer) stays
    assert sorted(e.key[:2] for e in store.entries()) == ["dd", "ee"]
    assert store.usage() <= 1.5 * MB
    store.sweep(grace=0)  # (blobs written a moment ago wait a grace period: another kernel may be reusing them)
    assert len(list((store.root / "blobs").iterdir())) == 3


def test_the_entry_just_saved_is_kept_even_if_alone_too_large(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", size_limit=MB)
    _save(store, "aa" * 16, 2 * MB)
    assert [e.key[:2] for e in store.entries()] == ["aa"]


def test_hits_count_as_use(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", size_limit=None)
    _save(store, "aa" * 16, MB)
    _save(store, "bb" * 16, MB)
    store.record_hit("aa" * 16, 1.0)  # aa, older by creation, is now the most recently used
    assert store.prune(int(1.5 * MB)) == 1
    assert [e.key[:2] for e in store.entries()] == ["aa"]


def test_size_limit_setting_evicts_after_save(shell: Shell) -> None:
    shell.run("%config CacheMagics.size_limit = '1.5MB'")
    shell.ns["np"] = np
    shell.cached("a = np.ones(10**6, dtype=np.uint8)")
    shell.cached("b = np.zeros(10**6, dtype=np.uint8)")
    entries = shell.ip._nbcache_magics.store().entries()
    assert len(entries) == 1 and "b" in entries[0].meta.outputs


def test_size_limit_from_the_environment(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBCACHE_SIZE_LIMIT", "2MiB")
    assert shell.ip._nbcache_magics.store().size_limit == 2 * 2**20


def test_a_bad_size_limit_is_a_usage_error_naming_the_setting(shell: Shell) -> None:
    shell.run("%config CacheMagics.size_limit = 'lots'")
    with pytest.raises(UsageError, match="size_limit"):
        shell.ip.run_cell_magic("cache", "", "y = 1")


def test_cache_clear_older_than_and_larger_than(shell: Shell) -> None:
    shell.ns["np"] = np
    shell.cached("small = 1")
    shell.cached("big = np.ones(2 * 10**6, dtype=np.uint8)")
    store = shell.ip._nbcache_magics.store()
    keys = {("big" if "big" in e.meta.outputs else "small"): e.key for e in store.entries()}
    for key in keys.values():
        _age(store, key, 8 * 86400)
    _, captured = shell.run("%cache_clear --older-than 7d --larger-than 1MB")
    assert "removed 1 entry" in captured.stdout and [e.key for e in store.entries()] == [keys["small"]]
    _, captured = shell.run("%cache_clear --older-than 9d")
    assert "removed 0 entries" in captured.stdout
    _, captured = shell.run("%cache_clear --older-than 7d")
    assert "removed 1 entry" in captured.stdout and store.entries() == []


@pytest.mark.parametrize("line, flag", [("--older-than 7 days", "--older-than"),
                                        ("--larger-than huge", "--larger-than"), ("--all --older-than 7d", "--all")])
def test_bad_clear_requests_are_usage_errors_naming_the_flag(shell: Shell, line: str, flag: str) -> None:
    with pytest.raises(UsageError, match=flag):
        shell.ip.run_line_magic("cache_clear", line)
