"""The distribution index names the same providers as importlib.metadata, and is rebuilt when a folder changes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib.metadata import packages_distributions, version
from pathlib import Path

import pytest

from nbcache.keys import distributions


@pytest.fixture(autouse=True)
def _private_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    distributions._all_providers.cache_clear()
    yield
    distributions._all_providers.cache_clear()  # no test's fake folders outlive it


def _install(site: Path, name: str, ver: str, record: list[str], top_level: str | None = None) -> None:
    info = site / f"{name}-{ver}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n\nName: not a header\n")
    (info / "RECORD").write_text("".join(f"{path},sha256=x,1\n" for path in record))
    if top_level is not None:
        (info / "top_level.txt").write_text(top_level)


def _age(folder: Path) -> None:
    """An mtime well in the past, as a folder nobody installed into for a while has (so its index is saved)."""
    old = os.stat(folder).st_mtime - 60
    os.utime(folder, (old, old))


def test_every_installed_top_level_name_maps_as_importlib_metadata_says() -> None:
    for top, dists in packages_distributions().items():
        expected = sorted(dists)[0]
        assert distributions.provider(top) == (expected, version(expected)), top


def test_record_paths_infer_packages_and_modules_but_not_metadata_or_scripts(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site, "Demo-Pkg", "1.0", ["demo/__init__.py", "single.py", "fast.cpython-311-x86_64-linux-gnu.so",
                                       "Demo_Pkg-1.0.dist-info/RECORD", "../../bin/demo", "x.pth"])
    tops = distributions.folder_providers(str(site))
    assert set(tops) == {"demo", "single", "fast"}
    assert tops["demo"] == [("Demo-Pkg", "1.0")]


def test_declared_top_level_wins_over_the_file_list(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site, "yaml-ish", "6.0", ["_yaml/__init__.py", "yaml/__init__.py"], top_level="yaml\n")
    assert set(distributions.folder_providers(str(site))) == {"yaml"}


def test_saved_index_is_reused_until_the_folder_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    _install(site, "alpha", "1.0", ["alpha/__init__.py"])
    _age(site)
    assert distributions.folder_providers(str(site)) == {"alpha": [("alpha", "1.0")]}
    scans: list[str] = []
    real_scan = distributions._scan
    monkeypatch.setattr(distributions, "_scan", lambda folder: scans.append(folder) or real_scan(folder))
    assert distributions.folder_providers(str(site)) == {"alpha": [("alpha", "1.0")]}
    assert scans == []  # read from disk
    # An upgrade: pip removes the old dist-info and writes the new one, which changes the folder's mtime.
    (site / "alpha-1.0.dist-info" / "RECORD").unlink()
    (site / "alpha-1.0.dist-info" / "METADATA").unlink()
    (site / "alpha-1.0.dist-info").rmdir()
    _install(site, "alpha", "2.0", ["alpha/__init__.py"])
    assert distributions.folder_providers(str(site)) == {"alpha": [("alpha", "2.0")]}
    assert scans == [str(site)]


def test_a_folder_changed_just_now_is_not_saved(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site, "beta", "1.0", ["beta.py"])
    distributions.folder_providers(str(site))
    assert not Path(distributions._index_file(str(site))).exists()


def test_a_damaged_index_is_rebuilt(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site, "gamma", "3.1", ["gamma/__init__.py"])
    _age(site)
    distributions.folder_providers(str(site))
    index = Path(distributions._index_file(str(site)))
    index.write_text('{"version": 1, "folder": ')
    assert distributions.folder_providers(str(site)) == {"gamma": [("gamma", "3.1")]}


def test_namespace_package_takes_the_first_distribution_by_name(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    _install(site, "zeta-ns", "1.0", ["nspkg/zeta/__init__.py"])
    _install(site, "eta-ns", "2.0", ["nspkg/eta/__init__.py"])
    monkeypatch.setattr("sys.path", [str(site)])
    assert distributions.provider("nspkg") == ("eta-ns", "2.0")
    assert distributions.provider("missing") is None
