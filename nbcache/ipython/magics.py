"""The magics: ``%%cache``, ``%%nocache``, ``%cache_auto``, ``%cache_status``, ``%cache_info``, ``%cache_clear``,
``%cache_panel``. They parse, delegate and report."""

from __future__ import annotations

import ast
import functools
import json
import os
import warnings
from dataclasses import replace
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from traitlets import Bool, Float, Unicode

from nbcache import config
from nbcache.cell import execute
from nbcache.cell.run import CachedCell, CellOptions
from nbcache.errors import CacheWarning, StoreError
from nbcache.ipython.auto import DEFAULT_MIN_SECONDS, AutoRunner
from nbcache.ipython.status import StatusBoard, states_json, states_text
from nbcache.ipython.tracker import CellRecord, Outcome, Tracker, TrackingReporter, current_count
from nbcache.store import background
from nbcache.store.clearing import ClearRequest, ClearUsage, clear, removed_line
from nbcache.store.location import open_store, size_limit_from
from nbcache.store.protocol import EntryStore
from nbcache.ui.listing import SORTS, entries_html, entries_json, format_entries, info_text, sort_entries
from nbcache.ui.report import (
    CellStatus,
    QuietReporter,
    Reporter,
    SafeReporter,
    TextReporter,
    has_widget_frontend,
)


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
    panel = Bool(
        True,
        help="Show a status panel widget under each cached cell when running in a kernel; False: the text line "
        "on stderr only.",
    ).tag(config=True)
    auto = Bool(
        False,
        help="Start in auto mode (every cell cached as if it carried %%cache); the 'Python 3 (nbcache auto)' "
        "kernel sets it.",
    ).tag(config=True)
    auto_min_seconds = Float(
        DEFAULT_MIN_SECONDS,
        help="In auto mode, a miss is stored only if the cell ran at least this long (0: every cell that can be).",
    ).tag(config=True)
    silent = Bool(
        False,
        help="Show no panel and no status line at all, for any cell (`nbcache run`: the executed notebook holds "
        "the cells' own outputs only).",
    ).tag(config=True)
    outcome_file = Unicode(
        "",
        help="Append one JSON line per cell run under nbcache to this file (how `nbcache run` learns what hit).",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._default_dir = os.getcwd()  # where the extension was loaded
        self._stores: dict[str, EntryStore] = {}
        self.cell_id: str | None = None
        self.tracker = Tracker()
        self.board = StatusBoard(self.shell.transform_cell if self.shell is not None else str)
        self.auto_runner = AutoRunner(self)

    # ---- the store, resolved at each use so %config and $NBCACHE_DIR take effect at once
    def store_path(self) -> str:
        return config.store_location(self.cache_dir, self._default_dir)

    def store(self) -> EntryStore:
        path = self.store_path()
        if path not in self._stores:
            try:
                self._stores[path] = open_store(path)
            except ValueError as exc:
                raise UsageError(f"CacheMagics.cache_dir / $NBCACHE_DIR: {exc}") from None
        try:
            self._stores[path].size_limit = _size_limit(config.size_limit_text(self.size_limit))
        except ValueError as exc:
            raise UsageError(f"CacheMagics.size_limit / $NBCACHE_SIZE_LIMIT: {exc}") from None
        return self._stores[path]

    def pre_run_cell(self, info: Any) -> None:
        """Remember the frontend's id of the cell about to run, so a miss can be compared with its last entry."""
        self.cell_id = getattr(info, "cell_id", None)
        self.auto_runner.pre_run_cell(info)

    # ---- what auto mode and the status need from here
    def visible_reporter(self, options: CellOptions, raw: str) -> Any:
        """A maker of the panel (or line) an auto cell shows on a hit or a store; None when nothing may show."""
        if self.silent:
            return None
        return lambda: self._reporter(options, raw)

    def report_outcome(self, execution_count: int | None, status: CellStatus | None, reason: str) -> None:
        """One JSON line for `nbcache run`: what this cell did (hit, stored, ran, failed) and what it took."""
        if not self.outcome_file:
            return
        line: dict[str, Any]
        if status is None:
            line = {"state": "failed" if not reason else "ran", "reason": reason}
        else:
            stored = status.state == "miss" and status.size is not None
            state = "hit" if status.state == "hit" else "stored" if stored else "ran"
            line = {"state": state, "reason": status.reason, "elapsed_s": status.elapsed_s,
                    "saved_s": status.saved_s if status.state == "hit" else 0.0}
        line["execution_count"] = execution_count
        try:
            with open(self.outcome_file, "a") as out:
                out.write(json.dumps(line) + "\n")
        except OSError as exc:
            warnings.warn(f"nbcache: could not write the outcome file ({exc})", CacheWarning, stacklevel=2)

    def _tracked(self, reporter: Reporter, raw: str, options: CellOptions) -> Reporter:
        count, ident = current_count(self.shell), self.cell_id or f"raw:{hash(raw)}"

        def record(status: CellStatus | None) -> None:
            if status is None:
                self.tracker.add(CellRecord(ident=ident, raw=raw, outcome=Outcome.FAILED, execution_count=count))
            else:
                self.tracker.add_status(status, ident, options.deps, options.ignore, count)
            self.report_outcome(count, status, "")

        return TrackingReporter(reporter, record)

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
        options = _cell_options(line)
        if self.silent:
            options = replace(options, quiet=True)
        reporter = self._tracked(self._reporter(options, cell), cell, options)
        return CachedCell(self.shell, self.store(), options, self.cell_id, reporter).run(cell)

    # ---- %%nocache
    @cell_magic
    def nocache(self, line: str, cell: str) -> Any:
        """Run this cell plainly, without caching it, in auto mode (see %cache_auto); elsewhere it just runs."""
        __tracebackhide__ = True  # noqa: F841
        if line.strip():
            raise UsageError(f"%%nocache takes no options, got {line.strip()!r}")
        # Auto mode runs a %%nocache cell's body itself (as IPython would); this runs only outside auto mode.
        shell: Any = self.shell
        source = shell.transform_cell(cell)
        return execute.run(self.shell, ast.parse(source), source, cell).value

    # ---- %cache_auto
    @magic_arguments()
    @argument("mode", nargs="?", choices=["on", "off"], help="on: cache every cell; off: only %%cache cells.")
    @argument("--min-seconds", type=float, default=None, metavar="S",
              help=f"Store a miss only if the cell ran at least S seconds (default {DEFAULT_MIN_SECONDS:g}; 0: all).")
    @line_magic
    def cache_auto(self, line: str) -> None:
        """Auto mode: every code cell is cached as if it carried %%cache; quiet unless it hits or stores.

        ``%cache_auto on [--min-seconds S]``, ``%cache_auto off``; alone, prints the state. ``%%nocache`` on a cell
        runs it plainly. See ``%cache_status`` for what would hit now.
        """
        args = parse_argstring(self.cache_auto, line)
        if args.min_seconds is not None and (args.min_seconds < 0 or args.min_seconds != args.min_seconds):
            raise UsageError(f"--min-seconds takes a number of seconds >= 0, got {args.min_seconds}")
        if args.mode is None and args.min_seconds is not None:
            raise UsageError("--min-seconds goes with `%cache_auto on`")
        if args.mode == "on":
            self.auto_runner.enable(self.auto_min_seconds if args.min_seconds is None else args.min_seconds)
        elif args.mode == "off":
            self.auto_runner.disable()
        state = self.auto_runner.state
        print(f"nbcache: auto mode {'on' if state.on else 'off'}"
              + (f" (cells that run at least {state.min_seconds:g} s are stored)" if state.on else ""))

    # ---- %cache_status
    @magic_arguments()
    @argument("--json", action="store_true", help="Print the cells' states as JSON.")
    @line_magic
    def cache_status(self, line: str) -> None:
        """The cells run under nbcache in this kernel, in run order: would each hit now, and if not, why."""
        args = parse_argstring(self.cache_status, line)
        states = self.status_states()
        print(states_json(states) if args.json else states_text(states))

    def status_states(self) -> list[Any]:
        """Each tracked cell's state now; nothing runs (see nbcache.ipython.status)."""
        try:
            stored = {e.key for e in self.store().entries()}
        except Exception:  # an unreachable store: every cell would miss, and the reasons still say why
            stored = set()
        shell: Any = self.shell
        return self.board.states(self.tracker.records(), shell.user_ns, stored)

    def _reporter(self, options: CellOptions, cell: str) -> Reporter:
        """The panel in a kernel, else the stderr line; -q neither. A panel that cannot be built is the line."""
        if options.quiet:
            return QuietReporter()
        if not (self.panel and has_widget_frontend(self.shell)):
            return TextReporter()
        cell_id, forced = self.cell_id, replace(options, force=True)

        def recompute(panel: Reporter) -> Any:
            return CachedCell(self.shell, self.store(), forced, cell_id, SafeReporter(panel)).run(cell)

        try:
            from nbcache.ui.panel import StatusPanel

            return SafeReporter(StatusPanel(self.store(), recompute))
        except Exception as exc:  # never the cell's failure: the line says the same
            warnings.warn(f"nbcache: no status panel ({type(exc).__name__}: {exc}); showing the text line",
                          CacheWarning, stacklevel=2)
            return TextReporter()

    # ---- %cache_info
    @magic_arguments()
    @argument("--sort", choices=sorted(SORTS), help="Biggest, oldest or most time saved first.")
    @argument("--json", action="store_true", help="Print the entries and totals as JSON.")
    @line_magic
    def cache_info(self, line: str) -> None:
        """List the cache's entries: cell, key, created, last used, hits, compute time, time saved, size; totals."""
        args = parse_argstring(self.cache_info, line)
        background.wait()  # hit counts recorded in the background are part of the listing
        entries = sort_entries(self.store().entries(), args.sort)
        limit = getattr(self.store(), "size_limit", None)  # a store without a size limit has no such attribute
        if args.json:
            print(entries_json(entries, self.store_path(), limit))
        elif getattr(self.shell, "kernel", None) is None:  # a terminal shows text only
            print(format_entries(entries, self.store_path()))
        else:
            text = info_text(entries, self.store_path(), limit)
            display({"text/html": entries_html(entries, self.store_path(), limit), "text/plain": text}, raw=True)

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
        try:
            removed = clear(self.store(), request)
        except ClearUsage as exc:
            raise UsageError(f"%cache_clear {exc}") from None
        except StoreError as exc:  # e.g. a remote that refuses the credentials: nothing was removed
            raise UsageError(f"%cache_clear: {exc}") from None
        print(removed_line(removed))

    # ---- %cache_panel
    @magic_arguments()
    @argument("--inline", action="store_true", help="Show the panel in the cell's output, not the sidebar.")
    @line_magic
    def cache_panel(self, line: str) -> None:
        """Open the cache browser in JupyterLab's right sidebar: entries by cell, search, select and clear."""
        args = parse_argstring(self.cache_panel, line)
        from nbcache.ui.sidebar import open_browser

        open_browser(self.shell, self.store(), args.inline)


@functools.lru_cache(maxsize=16)
def _size_limit(text: str) -> int:
    """The size limit a setting's text means, parsed once per text: every cell asks (a text in error raises each
    time, lru_cache keeps no exception)."""
    return size_limit_from(text)


@functools.lru_cache(maxsize=256)
def _cell_options(line: str) -> CellOptions:
    """The options of a ``%%cache`` line, parsed once per distinct line: argparse costs more than a trivial hit.
    A line in error raises each time (lru_cache keeps no exception)."""
    try:
        args = parse_argstring(CacheMagics.cache, line)
    except ValueError as exc:  # shlex: an unterminated quote
        raise UsageError(f"%%cache {line}: {exc}") from None
    _check_names("--ignore", args.ignore)
    return CellOptions(args.force, tuple(args.deps), tuple(args.ignore), args.quiet)
