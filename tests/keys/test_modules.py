"""Which loaded modules are the user's, and the code they run (``nbcache.keys.modules``)."""

from __future__ import annotations

import importlib
import importlib.util
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


def _full_scan() -> dict[str, object]:
    """What reading every module of sys.modules again finds: the map the incremental one must equal."""
    found = {}
    for module in list(sys.modules.values()):
        real = modules._user_file(module)
        if real is not None:
            found[real] = module
    return found


def _incremental() -> dict[str, object]:
    modules._loaded_module("")
    return {path: m for path, m in modules._user.by_file.items() if sys.modules.get(getattr(m, "__name__", "")) is m}


def _load_as(name: str, path: Path) -> None:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


def test_the_map_follows_imports_removals_and_reimports_as_a_full_scan(on_path: Path) -> None:
    """The map of user modules is updated from the modules added since the last look; every kind of change to
    sys.modules must leave it as a scan of everything would."""
    for name in ("nbc_a", "nbc_b", "nbc_c"):
        (on_path / f"{name}.py").write_text(f"NAME = {name!r}\n")
    steps = [
        lambda: importlib.import_module("nbc_a"),
        lambda: importlib.import_module("nbc_b"),
        lambda: sys.modules.pop("nbc_a"),  # removed: fewer modules than the walk accounts for
        lambda: importlib.import_module("nbc_a"),  # imported again: a new object at the end
        lambda: importlib.reload(sys.modules["nbc_b"]),  # the same object, run again
        lambda: sys.modules.__setitem__("nbc_alias", sys.modules["nbc_b"]),  # a second name for one module
        lambda: importlib.import_module("nbc_c"),
        lambda: sys.modules.pop("nbc_alias"),
        lambda: _load_as("nbc_c_again", on_path / "nbc_c.py"),  # one file, two module objects
        lambda: sys.modules.pop("nbc_c_again"),  # the file's other module is the loaded one again
    ]
    for step in steps:
        step()
        assert _incremental() == _full_scan()
    assert modules._loaded_module(os.path.realpath(on_path / "nbc_a.py")) is sys.modules["nbc_a"]


def test_a_module_imported_while_the_map_is_read_is_found(on_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another thread importing during the walk (sys.modules changes size): everything is read again."""
    (on_path / "nbc_threaded.py").write_text("X = 1\n")
    modules._loaded_module("")
    real_reversed = reversed

    def importing_reversed(items):  # type: ignore[no-untyped-def]
        walk = real_reversed(items)
        yield next(walk)
        importlib.import_module("nbc_threaded")  # as if another thread imported it now, mid-walk
        yield from walk  # the dict's own iterator raises: it changed size

    monkeypatch.setattr(modules, "reversed", importing_reversed, raising=False)
    sys.modules["nbc_marker"] = sys  # a change, so that the map is refreshed
    try:
        found = modules._loaded_module(os.path.realpath(on_path / "nbc_threaded.py"))
    finally:
        monkeypatch.undo()
        sys.modules.pop("nbc_marker", None)
    assert found is sys.modules["nbc_threaded"]


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
