"""``nbcache enable`` / ``nbcache disable``: load the extension in every IPython session of a profile, opt-in.

IPython has no ``*.d`` config folders, so nbcache never writes anyone's ``ipython_config``: it adds (or removes) one
startup file of its own in ``<profile>/startup/``, which IPython runs at start in terminals and kernels alike.
"""

from __future__ import annotations

from pathlib import Path

from IPython.core.profiledir import ProfileDir
from IPython.paths import get_ipython_dir

FILENAME = "50-nbcache.py"
_MARKER = "# Written by `nbcache enable`; `nbcache disable` removes it."
_STARTUP = f'''{_MARKER}
try:
    get_ipython().run_line_magic("load_ext", "nbcache"){{auto}}
except Exception as exc:  # a broken install must not stop IPython from starting
    print(f"nbcache: not loaded ({{exc}}); run `nbcache disable` to stop trying")
'''


def startup_file(profile: str = "default", ipython_dir: str | None = None) -> Path:
    folder = ProfileDir.create_profile_dir_by_name(ipython_dir or get_ipython_dir(), profile).startup_dir
    return Path(folder) / FILENAME


_AUTO = '\n    get_ipython().run_line_magic("cache_auto", "on")'


def enable(profile: str = "default", ipython_dir: str | None = None, auto: bool = False) -> Path:
    """Write the startup file (again, if an older one is there); return its path. ``auto``: turn auto mode on."""
    path = startup_file(profile, ipython_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_STARTUP.replace("{auto}", _AUTO if auto else ""))
    return path


def disable(profile: str = "default", ipython_dir: str | None = None) -> Path | None:
    """Remove the startup file if nbcache wrote it; return its path, or None when there was none of ours."""
    path = startup_file(profile, ipython_dir)
    if not path.exists() or _MARKER not in path.read_text(errors="replace"):
        return None  # not ours: a user's own file of that name is left alone
    path.unlink()
    return path
