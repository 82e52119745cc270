"""What many tests share: an in-process shell that counts real cell runs, and a fresh process for a restart."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
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


def has_c_compiler() -> bool:
    """Whether this machine can build nbcache's C accelerators (a compiler and Python's headers): where it can,
    the install built them, and a test of an accelerator must find it (a silent fall back to Python would go
    unnoticed)."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None and Path(sysconfig.get_paths()["include"], "Python.h").exists()


def run_in_new_process(script: str, cwd: Path | None = None) -> str:
    """Run a script in a fresh Python process (a kernel restart) with the test's environment; return stdout."""
    env = dict(os.environ)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


# A cell with a statement or expression of nearly every kind, for tests that compare a walk of trees with Python's.
EVERY_KIND = '''
import os
from . import sibling as s
@decorate(1)
class C(Base, metaclass=M):
    x: int = 0
    async def f(self, /, p, *a, k=1, **kw) -> None:
        async with ctx() as c, other():
            yield [i async for i in c if i]
        return lambda y=2: (y, *a, {**kw}, f"{self!r:>10}", b"\\x00", 1j, ..., None, True)
match value:
    case [1, *rest] if rest: pass
    case {"a": b, **others}: print(b)
    case P(name=n) | None: del n
try:
    x = y = z[1:2, ::3]
except* (ValueError, TypeError) as e:
    raise e from None
finally:
    global g
while not x: x += 1; break
else: assert x, "msg"
for k, v in d.items(): continue
with open("f") as h: print(h.read(), end="", sep=None)
t = (x if y else z) @ w ** -v
'''


def standard_library_trees(count: int) -> list[ast.Module]:
    """The trees of the first ``count`` modules of Python's standard library (by name): code nobody here wrote."""
    trees = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:count]:
        try:
            trees.append(ast.parse(path.read_text(encoding="utf-8")))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
    return trees
