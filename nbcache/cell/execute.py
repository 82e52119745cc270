"""Run a cell's code in the user namespace the way IPython would, noting every name it binds or deletes."""

from __future__ import annotations

import ast
import builtins
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
    code = shell.compile(module, filename, "exec")
    last_code = shell.compile(last, filename, "eval") if last is not None else None
    return code, last_code


def run(shell: Any, tree: ast.Module, source: str, raw: str) -> Execution:
    """Execute the cell; exceptions propagate unchanged, as they would without nbcache."""
    __tracebackhide__ = True  # noqa: F841  (IPython hides this frame in the user's traceback)
    code, last_code = compile_cell(shell, tree, source, raw)
    namespace = shell.user_ns
    namespace.setdefault("__builtins__", builtins)
    recorder = _BindingRecorder(namespace)
    exec(code, shell.user_global_ns, recorder)
    value = eval(last_code, shell.user_global_ns, recorder) if last_code is not None else None
    return Execution(value=value, bound=set(recorder.bound), deleted=set(recorder.deleted))
