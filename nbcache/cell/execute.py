"""Run a cell's code in the user namespace the way IPython would, noting every name it binds or deletes."""

from __future__ import annotations

import ast
import asyncio
import builtins
import inspect
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import CodeType, TracebackType
from typing import TYPE_CHECKING, Any


class _PythonBindings(dict):
    """The pure-Python route of ``nbcache._bindings.Recorder`` (built from C at install where a compiler is):
    module-level locals that write through to the user namespace and note each name bound or deleted. Its own
    items stay empty; every read falls through to the namespace."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        super().__init__()
        self.namespace = namespace
        self.bound: set[str] = set()
        self.deleted: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        return self.namespace[name]

    def __contains__(self, name: object) -> bool:
        return name in self.namespace

    def __setitem__(self, name: str, value: Any) -> None:
        self.namespace[name] = value
        self.bound.add(name)
        self.deleted.discard(name)

    def __delitem__(self, name: str) -> None:
        del self.namespace[name]
        self.deleted.add(name)
        self.bound.discard(name)


try:  # the optional C accelerator (hatch_build.py): the same reads, writes and notes, without a Python call each
    from nbcache._bindings import Recorder as _Bindings
except ImportError:  # not built (no compiler at install)
    _Bindings = _PythonBindings  # type: ignore[misc,assignment]


class _RecorderMapping:
    """The rest of the mapping API over the namespace, for either route (``recorder_type`` is the one used).

    Python stores top-level names through ``locals[name] = value`` when locals is not an exact dict, so the
    recorder sees ``x = 1`` even when ``x`` was already 1: an identity diff of the namespace would miss that
    rebinding. Top-level code reads every name through ``locals[name]`` too: written in Python, that was a
    Python call per name read, and a loop at the top of a cell ran 6x slower than without %%cache.
    """

    __slots__ = ()
    namespace: dict[str, Any]

    if TYPE_CHECKING:  # given by the route's base class
        def __setitem__(self, name: str, value: Any) -> None: ...

        def __delitem__(self, name: str) -> None: ...

    # What ``dir()``, ``locals()`` and ``vars()`` show inside the cell: the namespace, as without %%cache.
    def __iter__(self) -> Iterator[str]:
        return iter(self.namespace)

    def __len__(self) -> int:
        return len(self.namespace)

    def __repr__(self) -> str:
        return repr(self.namespace)

    def __eq__(self, other: object) -> bool:
        return self.namespace == other

    __hash__ = None  # type: ignore[assignment]

    def keys(self) -> Any:
        return self.namespace.keys()

    def values(self) -> Any:
        return self.namespace.values()

    def items(self) -> Any:
        return self.namespace.items()

    def get(self, name: str, default: Any = None) -> Any:
        return self.namespace.get(name, default)

    def copy(self) -> dict[str, Any]:
        return dict(self.namespace)

    def setdefault(self, name: str, default: Any = None) -> Any:
        if name not in self.namespace:
            self[name] = default
        return self.namespace[name]

    def pop(self, name: str, *default: Any) -> Any:
        if name in self.namespace:
            value = self.namespace[name]
            del self[name]
            return value
        return self.namespace.pop(name, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for name, value in dict(*args, **kwargs).items():
            self[name] = value


class _BindingRecorder(_RecorderMapping, _Bindings):
    """Module-level locals that write through to the user namespace and note each name bound or deleted."""


class _PythonBindingRecorder(_RecorderMapping, _PythonBindings):
    """The same on the pure-Python route (tests compare both)."""


recorder_type: type = _BindingRecorder  # tests set it to _PythonBindingRecorder to take the Python route


@dataclass
class Execution:
    value: Any = None
    bound: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)


def _cell_number(shell: Any) -> int:
    """The number of the prompt the user sees: the one IPython gave the cell holding ``%%cache``.

    ``shell.execution_count`` has already moved on to the next cell by the time a magic runs, and IPython maps
    every compiled cell's file name to its number in order, so the newest entry is the running cell's.
    """
    numbers = getattr(getattr(shell, "compile", None), "_filename_map", None)
    if isinstance(numbers, dict) and numbers:
        return int(next(reversed(numbers.values())))
    return int(shell.execution_count)


def _whole_cell(shell: Any, raw: str) -> tuple[str, int]:
    """The cell as the user typed it (the ``%%cache`` line and the body) and the number of lines before the body;
    the body alone and 0 when the running cell is not at hand (a recompute, a cell run without history)."""
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    whole = history[-1] if history else ""
    body = raw.rstrip("\n")
    if isinstance(whole, str) and whole.lstrip().startswith("%%") and whole.rstrip("\n").endswith(body):
        head = whole.rstrip("\n")[: len(whole.rstrip("\n")) - len(body)]
        if head.endswith("\n"):
            return whole, head.count("\n")
    return raw, 0


def body_offset(shell: Any, raw: str) -> int:
    """How many lines of the cell come before the body (the ``%%cache`` line): its tree is numbered past them."""
    return _whole_cell(shell, raw)[1]


def compile_cell(shell: Any, tree: ast.Module, source: str, raw: str, tree_offset: int = 0) -> tuple[Any, Any]:
    """Compile the cell's statements and its last expression separately, like IPython's 'last_expr' mode.

    The whole cell is registered with IPython's compiler cache under the cell's own prompt number, and the body's
    lines are numbered as in the cell, so a traceback reads ``Cell In[N], line 2`` with the cell's lines around it.
    ``tree`` is ``source`` parsed with ``tree_offset`` blank lines before it (see ``body_offset``).
    """
    whole, offset = _whole_cell(shell, raw)
    filename = shell.compile.cache(source if offset == 0 else whole, _cell_number(shell), raw_code=whole)
    if offset != tree_offset:
        # A fresh parse, numbered from the body's first line by the blank lines before it: ast.parse is C, where
        # a deep copy of the caller's tree cost ~10 ms a cell and ast.increment_lineno's walk ~0.05 ms.
        tree = ast.parse("\n" * offset + source)
    body, last = tree.body, None
    final = body[-1] if body else None
    if isinstance(final, ast.Expr):
        body, last = body[:-1], ast.Expression(final.value)
    module = ast.Module(body=body, type_ignores=[])
    # Top-level await (also inside a comprehension) compiles to a coroutine, as IPython's autoawait does.
    flags = shell.compile.flags | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    code = compile(module, filename, "exec", flags, True)
    last_code = compile(last, filename, "eval", flags, True) if last is not None else None
    return code, last_code


def _awaited(result: Any) -> Any:
    """The result of code that used top-level await: its coroutine run to the end. In a kernel the kernel's loop
    is running in this thread and cannot be entered again, so the coroutine gets a loop of its own in a thread."""
    if not inspect.iscoroutine(result):
        return result
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(result)
    with ThreadPoolExecutor(1, thread_name_prefix="nbcache-await") as pool:
        return pool.submit(asyncio.run, result).result()


def _from_user_code(tb: TracebackType | None, runner: CodeType) -> TracebackType | None:
    """The part of a traceback below ``runner``'s frame: the user's code and what it called."""
    while tb is not None:
        if tb.tb_frame.f_code is runner:
            return tb.tb_next
        tb = tb.tb_next
    return None


def _render_as_plain_cell(shell: Any, error: BaseException) -> None:
    """Make IPython show ``error`` as the cell without ``%%cache`` would: from the cell's own line down, without the
    ``run_cell_magic`` call and nbcache's hidden frames above it.

    IPython asks an exception for ``_render_traceback_`` before formatting it; this one formats the same exception
    from the user's frames on, and falls back to the usual traceback if the exception was raised again elsewhere.
    """
    runner = run.__code__

    def render() -> list[str]:
        tb = _from_user_code(error.__traceback__, runner)
        return shell.InteractiveTB.structured_traceback(type(error), error, tb or error.__traceback__, tb_offset=0)

    try:
        error._render_traceback_ = render  # type: ignore[attr-defined]
    except Exception:  # an exception without a __dict__ keeps IPython's usual traceback
        pass


def run(shell: Any, tree: ast.Module, source: str, raw: str, tree_offset: int = 0) -> Execution:
    """Execute the cell (``tree``: see ``compile_cell``); exceptions propagate unchanged, as without nbcache."""
    __tracebackhide__ = True  # noqa: F841  (IPython hides this frame in the user's traceback)
    code, last_code = compile_cell(shell, tree, source, raw, tree_offset)
    namespace = shell.user_ns
    namespace.setdefault("__builtins__", builtins)
    recorder = recorder_type(namespace)
    try:
        _awaited(eval(code, shell.user_global_ns, recorder))
        value = _awaited(eval(last_code, shell.user_global_ns, recorder)) if last_code is not None else None
    except Exception as error:
        if getattr(shell, "InteractiveTB", None) is not None:
            _render_as_plain_cell(shell, error)
        raise
    return Execution(value=value, bound=set(recorder.bound), deleted=set(recorder.deleted))
