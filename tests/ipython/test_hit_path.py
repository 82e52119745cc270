"""What the hit path remembers between runs must never hide a change: the environment a miss records, the
namespace names it compares, the texts a cell's tree names."""

from __future__ import annotations

import os

import pytest

from nbcache.keys import settings
from tests.support import Shell


def test_an_environment_variable_a_cell_sets_is_set_again_on_a_hit(shell: Shell) -> None:
    shell.run("import os")
    body = "os.environ['NBCACHE_HIT_PATH'] = 'set'\nx = 1"
    try:
        shell.cached(body)
        del os.environ["NBCACHE_HIT_PATH"]
        shell.cached(body)
        assert shell.runs == 1 and os.environ.get("NBCACHE_HIT_PATH") == "set"
    finally:
        os.environ.pop("NBCACHE_HIT_PATH", None)


def test_the_environment_read_follows_every_change(monkeypatch: pytest.MonkeyPatch) -> None:
    first = settings._environ_read()
    monkeypatch.setenv("NBCACHE_HIT_PATH", "a")
    assert settings._environ_read()["NBCACHE_HIT_PATH"] == "a" and "NBCACHE_HIT_PATH" not in first
    monkeypatch.setenv("NBCACHE_HIT_PATH", "b")
    read = settings._environ_read()
    assert read["NBCACHE_HIT_PATH"] == "b"
    read["NBCACHE_HIT_PATH"] = "changed by the caller"
    assert settings._environ_read()["NBCACHE_HIT_PATH"] == "b"  # each caller gets its own copy


def test_a_name_bound_to_the_same_object_again_is_an_output(shell: Shell) -> None:
    shell.run("items = [1, 2]")
    shell.cached("alias = items\nitems = alias")  # `items` rebound to the very object it held
    shell.run("del alias")
    shell.cached("alias = items\nitems = alias")
    assert shell.runs == 1 and shell.ns["alias"] is shell.ns["items"]


def test_a_path_the_cell_names_is_looked_at_on_every_run(shell: Shell, tmp_path: os.PathLike) -> None:
    data = os.path.join(tmp_path, "data.txt")
    with open(data, "w") as out:
        out.write("one")
    body = f"text = open({data!r}).read()"
    shell.cached(body)
    with open(data, "w") as out:
        out.write("two")
    shell.cached(body)  # the same tree, remembered; the file is read again and changed
    assert shell.runs == 2 and shell.ns["text"] == "two"
