"""nbcache: cache expensive notebook cells by what they depend on.

``%load_ext nbcache`` registers ``%%cache``, ``%%nocache``, ``%cache_auto``, ``%cache_status``, ``%cache_info``,
``%cache_clear`` and ``%cache_panel``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["load_ipython_extension", "unload_ipython_extension", "__version__"]

_MAGIC_NAMES = {"cell": ["cache", "nocache"],
                "line": ["cache_auto", "cache_status", "cache_info", "cache_clear", "cache_panel"]}


def _forget_startup_load(ip: Any) -> None:
    """Once, before the first cell: let ``%load_ext nbcache`` load it "again", as a silent no-op.

    The "Python 3 (nbcache)" kernel (``--ext=nbcache``) and ``nbcache enable`` load nbcache before any cell runs;
    IPython would then answer the README's ``%load_ext nbcache`` with "already loaded... use %reload_ext".
    """
    ip.extension_manager.loaded.discard(__name__)
    ip.events.unregister("pre_run_cell", ip._nbcache_forget)


def load_ipython_extension(ip: Any) -> None:
    if getattr(ip, "_nbcache_magics", None) is not None:
        return  # loaded at start already: nothing to add, nothing to say
    import warnings

    from nbcache.errors import CacheWarning
    from nbcache.ipython import oneline
    from nbcache.ipython.magics import CacheMagics

    magics = CacheMagics(ip)
    ip.register_magics(magics)
    ip.configurables.append(magics)
    ip.events.register("pre_run_cell", magics.pre_run_cell)
    # A warning about a cell not cached must show each time, not once per session, as one line.
    warnings.simplefilter("always", CacheWarning)
    oneline.install()
    from nbcache.keys import loggers

    loggers.watch()  # from now on, a logger the notebook makes is told from one an import makes
    ip._nbcache_magics = magics
    from nbcache.ui import staleness

    ip.events.register("post_run_cell", staleness.refresh_after_cell)
    staleness.watch(magics.status_states)
    if magics.auto:
        magics.auto_runner.enable(magics.auto_min_seconds)
    _import_panel(ip, magics)
    _sort_loaded_modules()
    if getattr(ip, "execution_count", 0) <= 1:  # no cell has run: loaded at start (a cell's count is 2 by now)
        ip._nbcache_forget = lambda info=None: _forget_startup_load(ip)
        ip.events.register("pre_run_cell", ip._nbcache_forget)


def _sort_loaded_modules() -> None:
    """Sort the modules loaded so far into the user's and the libraries' now, while the extension loads (usually as
    the kernel starts), instead of in the first cached cell: a kernel has a thousand modules loaded before any
    cell runs, and each costs a look at its file (about 25 ms in all on a 2-core VM); later cells sort only the
    modules imported since."""
    from nbcache.keys import modules

    modules.user_modules()


def _import_panel(ip: Any, magics: Any) -> None:
    """In a kernel, import the status panel's modules (ipywidgets: about 0.1 s) now, while the extension loads,
    usually as the kernel starts, instead of in the middle of the first cached cell."""
    from nbcache.ui.report import has_widget_frontend

    if magics.panel and has_widget_frontend(ip):
        import nbcache.ui.panel  # noqa: F401


def unload_ipython_extension(ip: Any) -> None:
    magics = getattr(ip, "_nbcache_magics", None)
    if magics is None:
        return
    from nbcache.store import background

    background.wait()  # statistics still being written belong to the store being let go
    magics.auto_runner.disable()
    from nbcache.ipython import oneline

    oneline.uninstall()
    from nbcache.ui import staleness

    staleness.watch(None)
    if staleness.refresh_after_cell in ip.events.callbacks["post_run_cell"]:
        ip.events.unregister("post_run_cell", staleness.refresh_after_cell)
    for kind, names in _MAGIC_NAMES.items():
        for name in names:
            ip.magics_manager.magics[kind].pop(name, None)
    ip.magics_manager.registry.pop(type(magics).__name__, None)
    if magics in ip.configurables:
        ip.configurables.remove(magics)
    ip.events.unregister("pre_run_cell", magics.pre_run_cell)
    forget = getattr(ip, "_nbcache_forget", None)
    if forget is not None and forget in ip.events.callbacks["pre_run_cell"]:
        ip.events.unregister("pre_run_cell", forget)
    from nbcache.ui.sidebar import refresh_after_cell

    if refresh_after_cell in ip.events.callbacks["post_run_cell"]:
        ip.events.unregister("post_run_cell", refresh_after_cell)
    del ip._nbcache_magics
