"""Build hook: compiles the optional C accelerators (``nbcache/_strhash.c``: object-string hashing;
``nbcache/_bindings.c``: a cell's module-level locals) into the wheel, or in place for an editable install (whose
``.pth`` points at this tree).

Optional by design: without a compiler, Python headers or setuptools the build warns and goes on, and nbcache
uses its pure-Python route, which gives the same digests. ``python hatch_build.py`` builds it in place (a checkout
whose editable install predates the extension, or after editing the C source).
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
# module -> its C source
EXTENSIONS = {"nbcache._strhash": "nbcache/_strhash.c", "nbcache._bindings": "nbcache/_bindings.c"}


def compile_extension(dest: Path, module: str, source: str) -> Path:
    """The extension built with setuptools' compiler (the flags Python was built with) under ``dest``."""
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    ext = Extension(module, [source])
    cmd = build_ext(Distribution({"name": "nbcache-ext", "ext_modules": [ext], "script_name": "hatch_build.py"}))
    cwd = os.getcwd()
    os.chdir(ROOT)  # setuptools wants source paths relative to the project
    try:
        with tempfile.TemporaryDirectory() as temp:
            cmd.build_lib, cmd.build_temp = str(dest), temp
            cmd.ensure_finalized()
            cmd.run()
        return Path(cmd.get_ext_fullpath(module)).resolve()
    finally:
        os.chdir(cwd)


def try_compile(dest: Path) -> list[Path]:
    """Each extension that could be built; one that cannot is left out with a warning (its Python route runs)."""
    built = []
    for module, source in EXTENSIONS.items():
        try:
            built.append(compile_extension(dest, module, source))
        except Exception:  # no compiler, headers or setuptools: the pure-Python route does the same, slower
            traceback.print_exc()
            print(f"nbcache: the optional C accelerator {source} was not built; nbcache uses its pure-Python "
                  "route instead (same results, slower).", file=sys.stderr)
    return built


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as a script, outside a build
    BuildHookInterface = object  # type: ignore[assignment,misc]


class CustomBuildHook(BuildHookInterface):  # type: ignore[misc,valid-type]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        if version == "editable":  # imported from this tree: built next to the sources
            try_compile(ROOT)
            return
        built = try_compile(Path(self.directory) / "_extensions_build")
        for path in built:
            build_data["force_include"][str(path)] = f"nbcache/{path.name}"
        if built:
            build_data["pure_python"] = False
            build_data["infer_tag"] = True


if __name__ == "__main__":
    sys.exit(0 if len(try_compile(ROOT)) == len(EXTENSIONS) else 1)
