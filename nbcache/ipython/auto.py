"""Auto mode: every code cell keyed, and restored on a hit, as if it carried ``%%cache``.

Where the hook sits, and why. An input transformer that prefixed each cell with ``%%cache`` would make IPython run
``get_ipython().run_cell_magic('cache', '', ...)`` instead of the cell: ``In[n]`` would hold that call, tracebacks
would start at it, and the cell's value would reach ``Out`` as the magic's return value. Instead nbcache wraps
``shell.run_ast_nodes``, the step of ``run_cell`` that runs the parsed cell. Everything around it stays IPython's
own: the execution count, history and ``In``, the display trap, ``post_run_cell``. On a miss the very same nodes
go through IPython's own ``run_ast_nodes`` (so tracebacks, the display hook, ``Out`` and ``_`` are those of a plain
run) while nbcache records what the cell shows and binds. Only a hit differs: the values are restored, the outputs
replayed, and the value the cell showed is passed to the display hook, as the cell's last line would have done.
"""

from __future__ import annotations

import ast
import sys
import warnings
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import Any

from nbcache.analysis.names import CellAnalysis, analyse_tree
from nbcache.cell import execute
from nbcache.cell.payload import Event, Payload, StreamEvent
from nbcache.cell.run import CachedCell, CellOptions, Prepared
from nbcache.errors import CacheWarning, UnhashableInput
from nbcache.ipython.tracker import CellRecord, Outcome, current_count
from nbcache.keys.cellkey import normalise
from nbcache.store.entry import EntryMeta
from nbcache.ui.report import CellStatus, Reason, Reporter

# The break-even rule (README, "Auto mode"): a cell is worth storing when its run costs more than a hit plus its
# save spread over the hits to come. A hit costs milliseconds and a save tens of milliseconds for modest outputs;
# below a second the saving is small next to the noise of a notebook session, and the store would fill with
# entries of trivial cells. At 1 s a save of 30 ms is 3% of the run, the most auto mode may add to a cold run.
DEFAULT_MIN_SECONDS = 1.0

NOCACHE = "%%nocache"
_ABSENT = object()


@dataclass
class AutoState:
    on: bool = False
    min_seconds: float = DEFAULT_MIN_SECONDS


class _CellRaised(Exception):
    """The cell raised; IPython has shown its traceback already."""


def _drive(coroutine: Coroutine[Any, Any, bool]) -> bool:
    """Run IPython's ``run_ast_nodes`` to its end from synchronous code.

    Auto mode never takes cells with top-level ``await``, so the coroutine finishes without suspending.
    """
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return bool(stop.value)
    coroutine.close()
    raise RuntimeError("nbcache auto mode: a cell without await suspended")


def _names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _names(elt)]
    if isinstance(target, ast.Starred):
        return _names(target.value)
    return []


def definite_bindings(tree: ast.Module) -> set[str]:
    """Names every complete run of the cell binds: those of its top-level, unconditional statements."""
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            bound.update(n for target in node.targets for n in _names(target))
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and (not isinstance(node, ast.AnnAssign) or node.value):
            bound.update(_names(node.target))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name.split(".")[0]) for a in node.names if a.name != "*")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
    return bound


# Restoring a module is importing it, so a cell of imports only can never be sped up: it runs as it is, unkeyed
# (keying it would look up every library's version, which costs more than most imports).
IMPORTS_ONLY = "imports only: restoring a module is importing it"


def plain_reason(tree: ast.Module, analysis: CellAnalysis) -> str | None:
    """Why auto mode runs this cell as it is, without keying it; None when it can be keyed."""
    if all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body):
        return IMPORTS_ONLY
    if analysis.uses_await:
        return "the cell uses top-level await"
    if analysis.dynamic:
        return f"cell {analysis.dynamic}, so nbcache cannot tell what it reads"
    if any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in tree.body):
        return "a star import binds names nbcache cannot list"
    return None


def coalesce(events: Sequence[Event]) -> tuple[Event, ...]:
    """Join consecutive stream events of the same stream."""
    joined: list[Event] = []
    for event in events:
        last = joined[-1] if joined else None
        if isinstance(event, StreamEvent) and isinstance(last, StreamEvent) and last.stream == event.stream:
            joined[-1] = StreamEvent(event.stream, last.text + event.text)
        else:
            joined.append(event)
    return tuple(joined)


class AutoCell(CachedCell):
    """A cached cell whose miss runs through IPython's own ``run_ast_nodes`` (see the module's docstring)."""

    def __init__(self, shell: Any, store: Any, options: CellOptions, cell_id: str | None, reporter: Reporter,
                 run_plain: Callable[[], bool]) -> None:
        super().__init__(shell, store, options, cell_id, reporter)
        self._run_plain = run_plain
        self._ambiguous: list[str] = []

    def _execute(self, cell: Prepared) -> execute.Execution:
        __tracebackhide__ = True  # noqa: F841
        definite = definite_bindings(cell.tree)
        before = {name: self.ns.get(name, _ABSENT) for name in cell.analysis.outputs - definite}
        shown: list[Any] = []
        saved, sys.displayhook = sys.displayhook, shown.append
        try:  # the value the last line shows is held back and shown after the recording (see _keyed)
            raised = self._run_plain()
        finally:
            sys.displayhook = saved
        if raised:
            raise _CellRaised()
        # A name the cell binds only on some paths that still holds the same object: the run may have rebound it
        # or left it alone. A hit cannot tell which, so such a run is not stored.
        self._ambiguous = sorted(n for n, v in before.items() if v is not _ABSENT and self.ns.get(n, _ABSENT) is v)
        value = shown[-1] if shown else None
        return execute.Execution(value=value, bound=definite, deleted=set(cell.analysis.deletions))

    def _hit(self, cell: Prepared, payload: Payload, info: Any) -> Any:
        # Consecutive writes to one stream are replayed as one, as the kernel batches a live run's prints.
        return super()._hit(cell, replace(payload, events=coalesce(payload.events)), info)

    def _save(self, key: str, payload: Payload, meta: EntryMeta, refs: dict[int, tuple],
              reason: Callable[[], str] | None = None) -> tuple[int | None, float, str]:
        if self._ambiguous:
            return None, 0.0, f"it may or may not rebind {self._ambiguous[0]}"
        with warnings.catch_warnings(record=True):  # quiet: the reason is in %cache_status instead
            warnings.simplefilter("always", CacheWarning)
            return super()._save(key, payload, meta, refs, reason)

    def _load(self, key: str) -> tuple[Payload, Any] | None:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always", CacheWarning)
            return super()._load(key)


class AutoReporter:
    """Quiet while the cell runs; tells only a hit or a store, once known, and records every outcome."""

    def __init__(self, visible: Callable[[], Reporter] | None, record: Callable[[CellStatus | None], None]) -> None:
        self._visible = visible
        self._record = record
        self.status: CellStatus | None = None

    def begin(self, state: str, reason: Reason = "") -> None:
        pass

    def restoring(self, status: CellStatus) -> None:
        pass  # told at ``done``, once the hit is complete

    def output_starts(self) -> None:
        pass

    def saving(self, approx_bytes: int) -> None:
        pass

    def failed(self, error: BaseException) -> None:
        self._record(None)

    def done(self, status: CellStatus) -> None:
        self.status = status
        self._record(status)
        told = status.state == "hit" or (status.state == "miss" and status.size is not None)
        if told and self._visible is not None:
            self._visible().done(status)


class AutoRunner:
    """Wraps ``shell.run_ast_nodes`` while auto mode is on; hands the cell to an AutoCell when it can be keyed."""

    def __init__(self, magics: Any) -> None:
        self.magics = magics
        self.shell = magics.shell
        self.state = AutoState()
        self._raw: str | None = None
        self._original: Any = None

    # ---- switching
    def enable(self, min_seconds: float) -> None:
        self.state = AutoState(True, min_seconds)
        if self._original is None:
            self._original = self.shell.run_ast_nodes
            self.shell.run_ast_nodes = self.run_ast_nodes

    def disable(self) -> None:
        self.state = AutoState(False, self.state.min_seconds)
        if self._original is not None:
            del self.shell.run_ast_nodes  # the class's own method again
            self._original = None

    def pre_run_cell(self, info: Any) -> None:
        self._raw = getattr(info, "raw_cell", None)

    # ---- the hook
    async def run_ast_nodes(self, nodelist: list[ast.stmt], cell_name: str, interactivity: str = "last_expr",
                            compiler: Any = compile, result: Any = None) -> bool:
        raw, self._raw = self._raw, None  # only the cell run_cell announced, never a nested or silent one
        original = self._original
        if raw is None or not nodelist or interactivity != "last_expr" or not raw.strip():
            return await original(nodelist, cell_name, interactivity, compiler, result)
        if raw.lstrip().startswith(NOCACHE):
            nodelist, cell_name = self._nocache_body(raw)
            return bool(nodelist) and await original(nodelist, cell_name, interactivity, compiler, result)
        if raw.lstrip().startswith("%%"):  # another cell magic (%%cache itself, %%time...): as it is
            return await original(nodelist, cell_name, interactivity, compiler, result)
        tree = ast.Module(body=nodelist, type_ignores=[])
        try:
            analysis: CellAnalysis | None = analyse_tree(tree)
            reason = plain_reason(tree, analysis) if analysis else None
        except Exception as exc:  # an analysis bug must never stop the user's cell
            analysis, reason = None, f"nbcache could not analyse it ({type(exc).__name__})"
        if analysis is None or reason is not None:
            self._uncached(raw, reason or "")
            return await original(nodelist, cell_name, interactivity, compiler, result)

        def run_plain() -> bool:
            return _drive(original(nodelist, cell_name, interactivity, compiler, result))

        return self._keyed(raw, tree, analysis, run_plain)

    def _nocache_body(self, raw: str) -> tuple[list[ast.stmt], str]:
        """``%%nocache``: the cell's body, to run plainly; its line numbers stay those of the cell."""
        body = raw.lstrip().split("\n", 1)[1] if "\n" in raw.lstrip() else ""
        source = "\n" + self.shell.transform_cell(body)
        name = self.shell.compile.cache(source, self.shell.execution_count, raw_code=raw)
        return ast.parse(source).body, name

    def _uncached(self, raw: str, reason: str) -> None:
        count = current_count(self.shell)
        self.magics.report_outcome(count, None, reason)
        if reason == IMPORTS_ONLY or all(line.lstrip()[:1] in ("%", "!", "#") for line in raw.splitlines()
                                         if line.strip()):
            return  # imports, magics, shell commands (%cache_status itself): nothing a status could judge
        self.magics.tracker.add(CellRecord(ident=self._ident(raw), raw=raw, outcome=Outcome.UNCACHED, reason=reason,
                                           execution_count=count))

    def _ident(self, raw: str) -> str:
        return self.magics.cell_id or f"raw:{hash(raw)}"

    def _keyed(self, raw: str, tree: ast.Module, analysis: CellAnalysis, run_plain: Callable[[], bool]) -> bool:
        options = CellOptions(min_seconds=self.state.min_seconds)
        reporter = AutoReporter(self.magics.visible_reporter(options, raw), self._recorder(raw, options))
        cell = AutoCell(self.shell, self.magics.store(), options, self.magics.cell_id, reporter, run_plain)
        try:
            prepared = cell._prepare(raw, self.shell.transform_cell(raw), tree, analysis, normalise(tree))
        except UnhashableInput as exc:
            self._uncached(raw, f"input {exc.name} cannot be hashed: {exc.description}")
            return run_plain()
        except Exception as exc:  # keying failed for a reason of nbcache's own: the cell still runs
            self._uncached(raw, f"nbcache could not key it ({type(exc).__name__}: {exc})")
            return run_plain()
        try:
            value = cell._run_prepared(prepared)
        except _CellRaised:
            return True
        if value is not None:
            # What the cell's last line shows, hit or miss, after the recording: Out, _ and the prompt as usual.
            self.shell.displayhook(value)
        return False

    def _recorder(self, raw: str, options: CellOptions) -> Callable[[CellStatus | None], None]:
        count, ident = current_count(self.shell), self._ident(raw)

        def record(status: CellStatus | None) -> None:
            if status is None:
                self.magics.tracker.add(CellRecord(ident=ident, raw=raw, outcome=Outcome.FAILED,
                                                   execution_count=count))
            else:
                self.magics.tracker.add_status(status, ident, options.deps, options.ignore, count)
            self.magics.report_outcome(count, status, "")

        return record



def load_ipython_extension(ip: Any) -> None:
    """``--ext=nbcache.ipython.auto`` (the "Python 3 (nbcache auto)" kernel, ``nbcache run``): nbcache in auto mode.

    Loaded under this name, a notebook's own ``%load_ext nbcache`` still runs silently, as in a plain kernel.
    """
    import nbcache

    nbcache.load_ipython_extension(ip)
    magics = ip._nbcache_magics
    magics.auto_runner.enable(magics.auto_min_seconds)
