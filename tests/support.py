"""What many tests share: an in-process shell that counts real cell runs, and a fresh process for a restart."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output


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


def run_in_new_process(script: str, cwd: Path | None = None) -> str:
    """Run a script in a fresh Python process (a kernel restart) with the test's environment; return stdout."""
    env = dict(os.environ)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout
