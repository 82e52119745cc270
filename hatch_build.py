"""Build hook: compiles the optional C accelerator ``nbcache/_strhash.c`` (object-string hashing) into the wheel,
or in place for an editable install (whose ``.pth`` points at this tree).

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
SOURCE = "nbcache/_strhash.c"
MODULE = "nbcache._strhash"


def compile_extension(dest: Path) -> Path:
    """The extension built with setuptools' compiler (the flags Python was built with) under ``dest``."""
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    ext = Extension(MODULE, [SOURCE])
    cmd = build_ext(Distribution({"name": "nbcache-strhash", "ext_modules": [ext], "script_name": "hatch_build.py"}))
    cwd = os.getcwd()
    os.chdir(ROOT)  # setuptools wants source paths relative to the project
    try:
        with tempfile.TemporaryDirectory() as temp:
            cmd.build_lib, cmd.build_temp = str(dest), temp
            cmd.ensure_finalized()
            cmd.run()
        return Path(cmd.get_ext_fullpath(MODULE)).resolve()
    finally:
        os.chdir(cwd)


def try_compile(dest: Path) -> Path | None:
    try:
        return compile_extension(dest)
    except Exception:  # no compiler, headers or setuptools: the pure-Python route does the same, slower
        traceback.print_exc()
        print(f"nbcache: the optional C accelerator ({SOURCE}) was not built; object-string columns are hashed "
              "by the pure-Python route (same digests, slower).", file=sys.stderr)
        return None


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
        built = try_compile(Path(self.directory) / "_strhash_build")
        if built is not None:
            build_data["force_include"][str(built)] = f"nbcache/{built.name}"
            build_data["pure_python"] = False
            build_data["infer_tag"] = True


if __name__ == "__main__":
    sys.exit(0 if try_compile(ROOT) is not None else 1)
