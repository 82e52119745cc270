"""Which loaded modules are the user's, and the code they run (``nbcache.keys.modules``)."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

from nbcache.keys import modules


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        sys.modules.pop(name, None)


def test_a_module_imported_after_another_was_dropped_is_found(on_path: Path) -> None:
    """sys.modules the same size as at the last look, other content: the new module is still the loaded one."""
    (on_path / "nbc_first.py").write_text("A = 1\n")
    (on_path / "nbc_second.py").write_text("B = 2\n")
    importlib.import_module("nbc_first")
    assert modules._loaded_module(os.path.realpath(on_path / "nbc_first.py")) is sys.modules["nbc_first"]
    del sys.modules["nbc_first"]
    second = importlib.import_module("nbc_second")
    assert modules._loaded_module(os.path.realpath(on_path / "nbc_second.py")) is second


def test_nbcache_itself_is_not_a_user_module() -> None:
    """Installed editable (``make`` does), nbcache's own files are outside site-packages: they are still not the
    user's code to digest and watch."""
    assert not any(name.split(".")[0] == "nbcache" for name in modules.user_modules())


def test_a_linked_file_in_a_library_folder_is_the_user_s(tmp_path: Path) -> None:
    """Folders are resolved once each; a file that is itself a link is still followed to where it lies."""
    library = tmp_path / "lib" / "site-packages"
    library.mkdir(parents=True)
    (tmp_path / "mine.py").write_text("X = 1\n")
    (library / "mine.py").symlink_to(tmp_path / "mine.py")
    (library / "theirs.py").write_text("Y = 1\n")
    assert not modules.is_library_file(str(library / "mine.py"))
    assert modules.is_library_file(str(library / "theirs.py"))


def test_a_library_folder_reached_through_a_linked_folder_is_where_the_link_leads(tmp_path: Path) -> None:
    """Folders are resolved from their parent's real path, one link at a time: a package folder linked into
    site-packages (``flit install --symlink``) is the user's, wherever in the path the link lies."""
    library = tmp_path / "lib" / "site-packages"
    (tmp_path / "src" / "pkg" / "sub").mkdir(parents=True)
    library.mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "sub" / "mod.py").write_text("X = 1\n")
    (library / "pkg").symlink_to(tmp_path / "src" / "pkg")
    linked = library / "pkg" / "sub"
    for folder in (linked, library / "pkg" / "." / "sub", tmp_path / "lib" / ".." / "lib" / "site-packages" / "pkg"):
        assert modules._real_folder(str(folder)) == os.path.realpath(folder)
    assert not modules.is_library_file(str(linked / "mod.py"))
