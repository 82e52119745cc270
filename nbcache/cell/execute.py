"""Run a cell's code in the user namespace the way IPython would, noting every name it binds or deletes."""

from __future__ import annotations

import ast
import asyncio
import builtins
import inspect
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any


class _BindingRecorder(dict):
    """Module-level locals that write through to the user namespace and note each name bound or deleted.

    Python stores top-level names through ``locals[name] = value`` when locals is not an exact dict, so this
    sees ``x = 1`` even when ``x`` was already 1: an identity diff of the namespace would miss that rebinding.
    The dict itself stays empty; every read falls through to the user namespace.
    """

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

    # What ``dir()``, ``locals()`` and ``vars()`` show inside the cell: the namespace, as without %%cache.
    def __iter__(self) -> Iterator[str]:
        return iter(self.namespace)

    def __len__(self) -> int:
        return len(self.namespace)

    def __repr__(self) -> str:
        return repr(self.namespace)

    def __eq__(self, other: object) -> bool:
        return self.namespace == other

    __hash__ = None

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


@dataclass
class Execution:
    value: Any = None
    bound: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)


def compile_cell(shell: Any, tree: ast.Module, source: str, raw: str) -> tuple[Any, Any]:
    """Compile the cell's statements and its last expression separately, like IPython's 'last_expr' mode.

    The source is registered with IPython's compiler cache so tracebacks show the cell's lines.
    """
    filename = shell.compile.cache(source, shell.execution_count, raw_code=raw)
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


def run(shell: Any, tree: ast.Module, source: str, raw: str) -> Execution:
    """Execute the cell; exceptions propagate unchanged, as they would without nbcache."""
    __tracebackhide__ = True  # noqa: F841  (IPython hides this frame in the user's traceback)
    code, last_code = compile_cell(shell, tree, source, raw)
    namespace = shell.user_ns
    namespace.setdefault("__builtins__", builtins)
    recorder = _BindingRecorder(namespace)
    _awaited(eval(code, shell.user_global_ns, recorder))
    value = _awaited(eval(last_code, shell.user_global_ns, recorder)) if last_code is not None else None
    return Execution(value=value, bound=set(recorder.bound), deleted=set(recorder.deleted))
