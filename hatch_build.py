"""Build hook: compiles the optional C accelerators (``nbcache/_strhash.c``: object-string hashing;
``nbcache/_bindings.c``: a cell's module-level locals; ``nbcache/_randstate.c``: random's state) into the wheel, or in place for an editable install (whose
``.pth`` points at this tree).

Optional by design: without a compiler, Python headers or setuptools the build warns and goes on, and nbcache
uses its pure-Python route, which gives the same digests. ``python hatch_build.py`` builds it in place (a checkout
whose editable install predates the extension, or after editing the C source).
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
# The official BLAKE3 C implementation (CC0-1.0 or Apache-2.0: nbcache/_blake3/LICENSE), version 1.3.1 as Debian's
# librust-blake3-dev ships it, for _strhash's hashing thread, which calls it without the GIL. On x86-64 Unix its
# SSE2/SSE4.1/AVX2 assembly (chosen at run time by CPU; the intrinsics' C files, built by GCC 12, hashed at 2 GB/s
# against 3.3 for the assembly and the blake3 module); elsewhere the portable C alone (same digests, slower).
# AVX-512 left out: its assembly is untested here (no such CPU).
_X86_64_UNIX = platform.machine().lower() in ("x86_64", "amd64") and sys.platform != "win32"
BLAKE3 = [f"nbcache/_blake3/{name}" for name in (
    "blake3.c", "blake3_dispatch.c", "blake3_portable.c",
    *([f"blake3_{isa}_x86-64_unix.S" for isa in ("sse2", "sse41", "avx2")] if _X86_64_UNIX else []))]
BLAKE3_MACROS = [(f"BLAKE3_NO_{isa}", "1") for isa in (("AVX512",) if _X86_64_UNIX else ("SSE2", "SSE41", "AVX2",
                                                                                       "AVX512"))]
# module -> its C sources
EXTENSIONS = {"nbcache._strhash": ["nbcache/_strhash.c", *BLAKE3], "nbcache._bindings": ["nbcache/_bindings.c"],
              "nbcache._randstate": ["nbcache/_randstate.c"]}


def _build_ext() -> type:
    from setuptools.command.build_ext import build_ext

    class BuildExt(build_ext):  # type: ignore[misc,valid-type]
        def build_extensions(self) -> None:
            # gcc and clang assemble the vendored BLAKE3 .S files (setuptools lists only C-family suffixes)
            self.compiler.src_extensions = [*self.compiler.src_extensions, ".S"]
            super().build_extensions()

    return BuildExt


def compile_extension(dest: Path, module: str, sources: list[str]) -> Path:
    """The extension built with setuptools' compiler (the flags Python was built with) under ``dest``."""
    from setuptools import Distribution, Extension

    ext = Extension(module, sources, define_macros=BLAKE3_MACROS)
    cmd = _build_ext()(Distribution({"name": "nbcache-ext", "ext_modules": [ext], "script_name": "hatch_build.py"}))
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
    for module, sources in EXTENSIONS.items():
        try:
            built.append(compile_extension(dest, module, sources))
        except Exception:  # no compiler, headers or setuptools: the pure-Python route does the same, slower
            traceback.print_exc()
            print(f"nbcache: the optional C accelerator {sources[0]} was not built; nbcache uses its pure-Python "
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
