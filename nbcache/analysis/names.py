"""Static analysis of a cell: which names it reads, binds and deletes.

The cell has already been through ``shell.transform_cell``, so it is plain Python in which magics appear as
``get_ipython().run_line_magic(...)`` calls. The analysis is flow-sensitive at the top level: a name is an input
when some path may read it before the cell has *definitely* bound it. Bindings inside a branch, a loop, a ``with``
(its context manager may suppress an exception) or a ``try`` only count as "maybe bound", so a later read stays an
input. Over-reporting inputs costs a needless miss; under-reporting would be a stale hit, which is never acceptable.

What a run changes in place (``lst.append(1)``, ``model.fit()``) is not guessed here: the cell run rehashes its
inputs afterwards and sees it (``cell/run.py``), as it sees the names a run really bound.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from nbcache.analysis.nodes import Visitor, walk

# IPython's and Python's own bookkeeping names: never inputs or outputs of a cell. (``__warningregistry__`` is
# what the warnings module adds to the namespace of code that warns; it is not the cell's result.)
_IPYTHON_NAME = re.compile(
    r"^(_+|_i+|_i\d+|_\d+|_oh|_ih|_dh|_sh|In|Out|get_ipython|exit|quit|_exit_code"
    r"|__builtins__|__builtin__|__name__|__doc__|__package__|__loader__|__spec__|__warningregistry__)$"
)

# Builtins that read or write variables by name at run time: nbcache cannot know the cell's inputs then.
_DYNAMIC_CALLS = {"eval", "exec", "globals", "locals", "vars", "__import__", "compile"}

# Line magics whose argument is Python code run in the user namespace; its names are analysed like the cell's.
_CODE_MAGICS = {"time", "timeit", "prun"}
_SHELL_CALLS = {"system", "getoutput"}


# Of those, the ones a cell can read as values (the last results and inputs): they are inputs like any other.
# ``Out[3]``/``In[3]`` with a literal index are inputs named so; the whole history dicts are not (see _HISTORY).
_READABLE_NAME = re.compile(r"^(_{1,3}|_\d+|_i+|_i\d+)$")
_HISTORY = frozenset({"Out", "_oh", "In", "_ih"})

# Line magics that read nothing from the namespace and bind nothing in it: a hit runs them again.
REPLAYED_MAGICS = frozenset({"matplotlib", "config", "precision", "load_ext", "reload_ext", "autoreload",
                             "aimport", "xmode", "colors"})


def is_ipython_name(name: str) -> bool:
    return bool(_IPYTHON_NAME.match(name))


def is_readable_history(name: str) -> bool:
    """``_``, ``__``, ``_5``, ``_i5``, ``Out[5]``: IPython's names a cell may read as an input."""
    return bool(_READABLE_NAME.match(name)) or bool(re.match(r"^(Out|_oh|In|_ih)\[-?\d+\]$", name))


@dataclass(frozen=True)
class CellAnalysis:
    inputs: frozenset[str]
    outputs: frozenset[str]
    deletions: frozenset[str]
    # Why the cell's inputs cannot be known statically (eval, globals(), an unknown magic...), else None.
    dynamic: str | None = None
    uses_await: bool = False
    # Line magics (name, line) of REPLAYED_MAGICS the cell runs, in order: a hit runs them again.
    magics: tuple[tuple[str, str], ...] = ()


# --------------------------------------------------------------------------------------------------------------
# Nested scopes (functions, lambdas, classes, comprehensions): which outer names they may read.


def _target_names(node: ast.AST) -> Iterator[str]:
    """Names bound by an assignment target (``a``, ``a, *b``), not those merely read (``a.x``, ``a[i]``)."""
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, (ast.Tuple, ast.List)):
        for elt in node.elts:
            yield from _target_names(elt)
    elif isinstance(node, ast.Starred):
        yield from _target_names(node.value)


def _pattern_names(pattern: ast.pattern) -> Iterator[str]:
    for node in walk(pattern):
        if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            yield node.name
        elif isinstance(node, ast.MatchMapping) and node.rest:
            yield node.rest


def _arg_names(args: ast.arguments) -> Iterator[str]:
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None:
            yield arg.arg


def _signature_exprs(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[ast.expr]:
    """Expressions evaluated where the function is *defined*: decorators, defaults, annotations."""
    args = node.args
    exprs: list[ast.expr] = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
    if not isinstance(node, ast.Lambda):
        exprs += node.decorator_list
        exprs += [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs] if a.annotation]
        exprs += [a.annotation for a in (args.vararg, args.kwarg) if a is not None and a.annotation]
        if node.returns is not None:
            exprs.append(node.returns)
    return exprs


class _ScopeNames(Visitor):
    """Collects, flow-insensitively, the names one scope loads and binds; nested scopes report their free names."""

    def __init__(self) -> None:
        self.loads: set[str] = set()
        self.binds: set[str] = set()
        self.declared_global: set[str] = set()
        self.declared_nonlocal: set[str] = set()

    def free(self) -> set[str]:
        local = self.binds - self.declared_global - self.declared_nonlocal
        return self.loads - local

    def visit_Name(self, node: ast.Name) -> None:
        (self.loads if isinstance(node.ctx, ast.Load) else self.binds).add(node.id)

    def visit_Global(self, node: ast.Global) -> None:
        self.declared_global.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.declared_nonlocal.update(node.names)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.binds.add(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.binds.add(node.name)
        self.generic_visit(node)

    def visit_match_case(self, node: ast.match_case) -> None:
        self.binds.update(_pattern_names(node.pattern))
        self.generic_visit(node)

    def _nested(self, names: set[str], exprs: Iterable[ast.AST]) -> None:
        self.loads.update(names)
        for expr in exprs:
            self.visit(expr)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.binds.add(node.name)
        self._nested(function_free_names(node), _signature_exprs(node))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._nested(function_free_names(node), _signature_exprs(node))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.binds.add(node.name)
        self._nested(class_free_names(node), [*node.decorator_list, *node.bases, *node.keywords])

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp) -> None:
        free, walrus = comprehension_names(node)
        self.binds.update(walrus)
        self._nested(free, [node.generators[0].iter])

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension


def function_free_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    """Names a function's body may read from enclosing scopes or globals when it is called."""
    scope = _ScopeNames()
    scope.binds.update(_arg_names(node.args))
    body = [node.body] if isinstance(node, ast.Lambda) else node.body
    for stmt in body:
        scope.visit(stmt)
    return scope.free()


def class_free_names(node: ast.ClassDef) -> set[str]:
    """Names a class body may read from outside it. A class body runs top to bottom, so a name it binds after
    reading it was read from outside: all loads count (methods' free names are among them, as they skip the
    class scope)."""
    scope = _ScopeNames()
    for stmt in node.body:
        scope.visit(stmt)
    return scope.loads


def comprehension_names(
    node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp,
) -> tuple[set[str], set[str]]:
    """(free names, walrus targets). The first iterable runs in the enclosing scope and is left to the caller;
    a walrus inside a comprehension binds in the enclosing scope (PEP 572)."""
    scope = _ScopeNames()
    for i, gen in enumerate(node.generators):
        if i > 0:
            scope.visit(gen.iter)
        scope.binds.update(_target_names(gen.target))
        for cond in gen.ifs:
            scope.visit(cond)
    for elt in (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,):
        scope.visit(elt)
    walrus = {n.target.id for n in walk(node) if isinstance(n, ast.NamedExpr)}
    targets = set().union(*(set(_target_names(g.target)) for g in node.generators))
    return scope.loads - targets - scope.binds | (scope.loads & walrus), walrus


# --------------------------------------------------------------------------------------------------------------
# The cell's top level, in execution order.


@dataclass
class _State:
    bound: set[str] = field(default_factory=set)  # definitely bound at this point
    inputs: set[str] = field(default_factory=set)
    outputs: set[str] = field(default_factory=set)
    deletions: set[str] = field(default_factory=set)
    dynamic: list[str] = field(default_factory=list)
    uses_await: bool = False
    magics: list[tuple[str, str]] = field(default_factory=list)


def _is_get_ipython_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "get_ipython"
        and not node.args
    )


def _is_globals_call(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "globals" \
        and not node.args


def _string_arg(call: ast.Call, index: int) -> str | None:
    if len(call.args) > index and isinstance(call.args[index], ast.Constant):
        arg = call.args[index]
        return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
    return None


_EXPANSION = re.compile(r"\$\$|\$([A-Za-z_]\w*)|\{([^{}]+)\}")
_MAGIC_OPTION = re.compile(r"^\s*(-[A-Za-z]+(\s+(?!-)[^\s-]\S*)?\s+)*")


def _expanded_names(line: str) -> set[str] | None:
    """Names IPython's variable expansion ($name, {expr}) reads in a magic or shell line; None if unreadable."""
    names: set[str] = set()
    for match in _EXPANSION.finditer(line):
        if match.group(1):
            names.add(match.group(1))
        elif match.group(2):
            try:
                tree = ast.parse(match.group(2).strip(), mode="eval")
            except SyntaxError:
                return None
            names |= {n.id for n in walk(tree) if isinstance(n, ast.Name)}
    return names


class _CellVisitor(Visitor):
    def __init__(self) -> None:
        self.s = _State()

    # ---- primitive events
    def read(self, name: str) -> None:
        if name not in self.s.bound:
            self.s.inputs.add(name)

    def bind(self, name: str) -> None:
        self.s.bound.add(name)
        self.s.outputs.add(name)

    # ---- branches: bindings inside only "maybe" happen
    def branch(self, stmts: Iterable[ast.AST], start: set[str] | None = None) -> set[str]:
        saved = self.s.bound
        self.s.bound = set(saved if start is None else start)
        for stmt in stmts:
            self.visit(stmt)
        result, self.s.bound = self.s.bound, saved
        return result

    # ---- expressions
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and node.id in _HISTORY and node.id not in self.s.bound:
            self.s.dynamic.append(f"{node.id} (IPython's history) without a literal index")
        elif isinstance(node.ctx, ast.Load):
            self.read(node.id)
        elif isinstance(node.ctx, ast.Store):
            self.bind(node.id)
        else:
            self.s.deletions.add(node.id)
            self.s.bound.discard(node.id)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.bind(node.target.id)

    def visit_Await(self, node: ast.Await) -> None:
        self.s.uses_await = True
        self.generic_visit(node)

    def _store_target(self, target: ast.expr) -> None:
        if isinstance(target, ast.Subscript) and _is_globals_call(target.value):
            self.visit(target.slice)  # `globals()[k] = v` only writes: the runtime diff sees the new name
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            self.visit(target)  # reads the object and the index
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._store_target(elt)
        elif isinstance(target, ast.Starred):
            self._store_target(target.value)
        else:
            self.visit(target)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _is_get_ipython_call(node.value) and node.attr in {"user_ns", "user_global_ns", "ev", "ex"}:
            self.s.dynamic.append(f"get_ipython().{node.attr}")
        self.visit(node.value)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        value, index = node.value, node.slice
        if (isinstance(value, ast.Name) and value.id in _HISTORY and value.id not in self.s.bound
                and isinstance(index, ast.Constant) and type(index.value) is int):
            self.read(f"{value.id}[{index.value}]")  # Out[3]: that one result is the input
            return
        self.visit(node.value)
        self.visit(node.slice)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in _DYNAMIC_CALLS:
            if not (func.id == "vars" and node.args):
                self.s.dynamic.append(f"{func.id}()")
        if isinstance(func, ast.Attribute) and _is_get_ipython_call(func.value):
            self._ipython_call(func.attr, node)
        self.generic_visit(node)

    def _ipython_call(self, method: str, call: ast.Call) -> None:
        if method == "run_line_magic":
            magic, line = _string_arg(call, 0), _string_arg(call, 1)
            if magic in _CODE_MAGICS and line is not None:
                self._magic_code(magic, line)
            elif magic in REPLAYED_MAGICS and line is not None and (names := _expanded_names(line)) is not None:
                for name in names:
                    self.read(name)
                self.s.magics.append((magic, line))
            else:
                self.s.dynamic.append(f"line magic %{magic}")
        elif method in _SHELL_CALLS:
            names = _expanded_names(_string_arg(call, 0) or "")
            if names is None:
                self.s.dynamic.append("a shell command with an expression nbcache cannot read")
            for name in names or ():
                self.read(name)
        else:
            self.s.dynamic.append(f"get_ipython().{method}()")

    def _magic_code(self, magic: str, line: str) -> None:
        option = _MAGIC_OPTION.match(line)
        code = line if magic == "time" or option is None else line[option.end() :]
        try:
            tree = ast.parse(code)
        except SyntaxError:
            self.s.dynamic.append(f"line magic %{magic} with code nbcache cannot parse")
            return
        if magic == "time":
            for stmt in tree.body:
                self.visit(stmt)
        else:
            # %timeit and %prun run the code in a namespace of their own: they read but never bind.
            outputs = set(self.s.outputs)
            self.branch(tree.body)
            self.s.outputs = outputs

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expr in _signature_exprs(node):
            self.visit(expr)
        for name in function_free_names(node):
            self.read(name)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp) -> None:
        self.visit(node.generators[0].iter)
        free, walrus = comprehension_names(node)
        for name in free:
            self.read(name)
        # A walrus inside binds in the cell, but only if the comprehension had an element: maybe bound.
        self.s.outputs.update(walrus)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    # ---- simple statements
    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._store_target(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.read(node.target.id)
            self.bind(node.target.id)
        else:
            self._store_target(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            self._store_target(node.target)
        elif not isinstance(node.target, ast.Name):
            self.visit(node.target)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.s.outputs.add("*")  # names unknown until run time; the runtime diff finds them
            else:
                self.bind(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_Global(self, node: ast.Global) -> None:
        """``global`` at module level changes nothing."""

    visit_Nonlocal = visit_Global  # type: ignore[assignment]  # the same no-op for both statements

    # ---- definitions
    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expr in _signature_exprs(node):
            self.visit(expr)
        # Free names are read when the function is called; taking them as read here, where it is defined, is
        # conservative: a name the cell binds later still counts as an input.
        for name in function_free_names(node):
            self.read(name)
        self.bind(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(expr)
        for name in class_free_names(node):
            self.read(name)
        self.bind(node.name)

    # ---- compound statements
    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        body, orelse = self.branch(node.body), self.branch(node.orelse)
        self.s.bound |= body & orelse

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.branch([ast.Assign(targets=[node.target], value=ast.Constant(None)), *node.body])
        self.branch(node.orelse)

    visit_AsyncFor = visit_For

    def visit_While(self, node: ast.While) -> None:
        self.visit(node.test)
        self.branch([*node.body, ast.Expr(node.test)])
        self.branch(node.orelse)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._store_target(item.optional_vars)
        self.branch(node.body)  # the context manager may suppress an exception half-way

    visit_AsyncWith = visit_With

    def visit_Try(self, node: ast.Try) -> None:
        start = set(self.s.bound)
        paths = [self.branch([*node.body, *node.orelse])]
        for handler in node.handlers:
            if handler.type is not None:
                self.branch([ast.Expr(handler.type)], start)
            stmts: list[ast.AST] = list(handler.body)
            if handler.name:
                stmts.insert(0, ast.Assign(targets=[ast.Name(handler.name, ast.Store())], value=ast.Constant(None)))
                stmts.append(ast.Delete(targets=[ast.Name(handler.name, ast.Del())]))
            paths.append(self.branch(stmts, start))
        self.s.bound |= set.intersection(*paths)
        for stmt in node.finalbody:
            self.visit(stmt)

    visit_TryStar = visit_Try  # type: ignore[assignment]  # except* binds and reads as except does

    def visit_Match(self, node: ast.Match) -> None:
        self.visit(node.subject)
        for case in node.cases:
            captures = [ast.Assign(targets=[ast.Name(n, ast.Store())], value=ast.Constant(None))
                        for n in _pattern_names(case.pattern)]
            values = [ast.Expr(n.value) for n in walk(case.pattern) if isinstance(n, ast.MatchValue)]
            values += [ast.Expr(n.cls) for n in walk(case.pattern) if isinstance(n, ast.MatchClass)]
            guard = [ast.Expr(case.guard)] if case.guard is not None else []
            self.branch([*values, *captures, *guard, *case.body])


def _finish(state: _State) -> CellAnalysis:
    def clean(names: set[str]) -> frozenset[str]:
        return frozenset(n for n in names if not is_ipython_name(n))

    inputs = frozenset(n for n in state.inputs if not is_ipython_name(n) or is_readable_history(n))

    dynamic = None
    if state.dynamic:
        dynamic = "uses " + ", ".join(sorted(set(state.dynamic)))
    return CellAnalysis(
        inputs=inputs,
        outputs=clean(state.outputs - {"*"}) | ({"*"} & state.outputs),
        deletions=clean(state.deletions),
        dynamic=dynamic,
        uses_await=state.uses_await,
        magics=tuple(state.magics),
    )


def analyse_tree(tree: ast.Module) -> CellAnalysis:
    visitor = _CellVisitor()
    for stmt in tree.body:
        visitor.visit(stmt)
    return _finish(visitor.s)
