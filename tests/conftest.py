"""Shared fixtures: an in-process IPython shell with nbcache loaded and a store of the test's own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output

import nbcache


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real home: store, secret and IPython's dirs live under tmp_path."""
    monkeypatch.setenv("NBCACHE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("NBCACHE_SECRET_FILE", str(tmp_path / "secret.key"))
    monkeypatch.delenv("NBCACHE_KEY", raising=False)
    for var in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))


class Shell:
    """An in-process IPython shell with nbcache loaded, and a marker file that counts real cell runs."""

    def __init__(self, ip: InteractiveShell, marker: Path) -> None:
        self.ip = ip
        self.marker = marker

    @property
    def ns(self) -> dict:
        return self.ip.user_ns

    def count_line(self) -> str:
        """A line to put in a cell body: appends one mark to the marker file each time the body really runs."""
        return f"open({str(self.marker)!r}, 'a').write('.')"

    @property
    def runs(self) -> int:
        return len(self.marker.read_text()) if self.marker.exists() else 0

    def run(self, source: str) -> tuple[object, CapturedIO]:
        with capture_output() as captured:
            result = self.ip.run_cell(textwrap.dedent(source), store_history=True)
        return result, captured

    def cached(self, body: str, flags: str = "") -> tuple[object, CapturedIO]:
        """Run `body` as a %%cache cell whose first line counts the run."""
        return self.run(f"%%cache {flags}\n{self.count_line()}\n{textwrap.dedent(body)}")


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    ip = InteractiveShell.instance()
    ip.reset(new_session=False)
    nbcache.load_ipython_extension(ip)
    try:
        yield Shell(ip, tmp_path / "runs.txt")
    finally:
        nbcache.unload_ipython_extension(ip)
        ip.config.pop("CacheMagics", None)  # the shell is a singleton: a test's %config must not leak
        ip.reset(new_session=False)


def run_in_new_process(script: str, cwd: Path | None = None) -> str:
    """Run a script in a fresh Python process (a kernel restart) with the test's environment; return stdout."""
    env = dict(os.environ)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout
