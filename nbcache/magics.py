"""The magics: ``%%cache``, ``%cache_info`` and ``%cache_clear``. They parse, delegate and report; nothing more."""

from __future__ import annotations

import os
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Unicode

from . import background
from .cell import CachedCell, CellOptions
from .clearing import ClearRequest, ClearUsage, clear, removed_line
from .info import format_entries
from .opening import open_store, size_limit_from
from .store import Store


def _check_names(flag: str, names: list[str]) -> None:
    bad = [n for n in names if not n.isidentifier()]
    if bad:
        raise UsageError(f"{flag} takes variable names; {', '.join(map(repr, bad))} is not one")


@magics_class
class CacheMagics(Magics):
    cache_dir = Unicode(
        "",
        help="Folder (or fsspec URL) of the cache store. Empty: $NBCACHE_DIR if set, else .nbcache/ in the "
        "kernel's working directory when the extension was loaded.",
    ).tag(config=True)
    size_limit = Unicode(
        "",
        help="Most the store may hold, like '10GiB' or '500MB'; least recently used entries are evicted after "
        "each save. Empty: $NBCACHE_SIZE_LIMIT if set, else 10GiB.",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._default_dir = os.path.join(os.getcwd(), ".nbcache")
        self._stores: dict[str, Store] = {}
        self.cell_id: str | None = None

    # ---- the store, resolved at each use so %config and $NBCACHE_DIR take effect at once
    def store_path(self) -> str:
        return self.cache_dir or os.environ.get("NBCACHE_DIR") or self._default_dir

    def store(self) -> Store:
        path = self.store_path()
        if path not in self._stores:
            try:
                self._stores[path] = open_store(path)
            except ValueError as exc:
                raise UsageError(f"CacheMagics.cache_dir / $NBCACHE_DIR: {exc}") from None
        try:
            self._stores[path].size_limit = size_limit_from(self.size_limit)
        except ValueError as exc:
            raise UsageError(f"CacheMagics.size_limit / $NBCACHE_SIZE_LIMIT: {exc}") from None
        return self._stores[path]

    def pre_run_cell(self, info: Any) -> None:
        """Remember the frontend's id of the cell about to run, so a miss can be compared with its last entry."""
        self.cell_id = getattr(info, "cell_id", None)

    # ---- %%cache
    @magic_arguments()
    @argument("-f", "--force", action="store_true", help="Run the cell and overwrite its cache entry.")
    @argument(
        "--deps", nargs="+", default=[], metavar="PATH",
        help="Files the cell depends on (globs allowed); a change in their content is a miss.",
    )
    @argument(
        "--ignore", nargs="+", default=[], metavar="NAME",
        help="Inputs that must not affect the key (a logger, a progress bar, a connection).",
    )
    @argument("-q", "--quiet", action="store_true", help="Do not print the status line.")
    @cell_magic
    def cache(self, line: str, cell: str) -> Any:
        """Cache a cell: restore its variables and outputs when nothing it reads has changed, else run it.

        The key is the cell's code (comments and layout do not count) plus the content of every variable
        it reads and every --deps file. A hit restores the variables the cell binds, replays what it printed
        and displayed, and returns its last value. When nbcache cannot be sure (a value it cannot hash,
        eval/globals()), the cell runs uncached with a one-line note.
        """
        __tracebackhide__ = True  # noqa: F841
        args = parse_argstring(self.cache, line)
        _check_names("--ignore", args.ignore)
        options = CellOptions(args.force, tuple(args.deps), tuple(args.ignore), args.quiet)
        return CachedCell(self.shell, self.store(), options, self.cell_id).run(cell)

    # ---- %cache_info
    @line_magic
    def cache_info(self, line: str) -> None:
        """List the cache's entries: cell, created, hits, size, compute time, time saved; then totals."""
        if line.strip():
            raise UsageError(f"%cache_info takes no arguments, got {line.strip()!r}")
        background.wait()  # hit counts recorded in the background are part of the listing
        print(format_entries(self.store().entries(), self.store_path()))

    # ---- %cache_clear
    @magic_arguments()
    @argument("--all", action="store_true", help="Remove every entry.")
    @argument("--older-than", metavar="AGE", help="Remove entries not used for this long: 7d, 12h, 30m, 2w.")
    @argument("--larger-than", metavar="SIZE", help="Remove entries larger than this: 100MB, 1GiB.")
    @argument("keys", nargs="*", help="Remove the entries whose key starts with one of these prefixes.")
    @line_magic
    def cache_clear(self, line: str) -> None:
        """Remove cache entries: ``--all``, key prefixes (see %cache_info), or ``--older-than``/``--larger-than``."""
        args = parse_argstring(self.cache_clear, line)
        request = ClearRequest(args.all, args.keys, args.older_than, args.larger_than)
        background.wait()  # hit statistics still being written decide what --older-than removes
        try:
            removed = clear(self.store(), request)
        except ClearUsage as exc:
            raise UsageError(f"%cache_clear {exc}") from None
        print(removed_line(removed))
