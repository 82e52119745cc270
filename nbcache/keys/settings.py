"""State outside the namespace that changes what a cell computes or prints: library settings and the attributes
of the user's own modules.

Each setting is decided both ways. *Keyed*: its value before the run is part of the key, so a cell run under
other print options, pandas options or rcParams misses (some settings only when the cell observes them: the
environment and ``sys.argv`` differ in every kernel, so they count when the cell's code names them). *Recorded
and replayed*: a setting the run changed (``plt.style.use``, ``pd.set_option``, ``config.THRESHOLD = 5``,
``sys.path.insert``) is stored with the entry and set again on a hit, also after a restart. Line magics that
read nothing from the namespace (``%matplotlib inline``) run again on a hit.
"""

from __future__ import annotations

import ast
import decimal
import operator
import os
import re
import sys
import types
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from nbcache.analysis.nodes import nodes
from nbcache.errors import UnhashableValue
from nbcache.keys import loggers
from nbcache.keys.inputs import setting_input
from nbcache.keys.modules import is_library_file, note_imports, user_modules
from nbcache.keys.values import hash_value


# ---- the settings, each with how to read it and how to set it again
def _numpy() -> Any:
    return sys.modules["numpy"]


def _pandas_flat(tree: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _pandas_flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


_pandas_last: list[Any] = [None, None]  # (a deep copy of pandas' nested options, their flat form)


def _pandas_read() -> dict[str, Any]:
    """pandas' options by dotted name. Flattening the nested dict costs about 40 us, most of a trivial hit's
    settings; comparing it with a copy of the last one read is a C loop, so it is flattened only when it changed.
    The dict returned is shared: not to be changed."""
    import copy

    nested = sys.modules["pandas"]._config.config._global_config
    last_nested, last_flat = _pandas_last
    try:
        if last_nested is not None and nested == last_nested:
            return last_flat
    except Exception:  # an option whose values cannot be compared with ==: flattened every time
        return dict(_pandas_flat(nested))
    flat = dict(_pandas_flat(nested))
    _pandas_last[:] = [copy.deepcopy(nested), flat]
    return flat


def _pandas_write(values: dict[str, Any]) -> None:
    pd, now = sys.modules["pandas"], _pandas_read()
    for key, value in values.items():
        if now.get(key, object()) != value:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a deprecated option warned when the cell set it
                pd.set_option(key, value)


def _sklearn_read() -> dict[str, Any]:
    return dict(sys.modules["sklearn"].get_config())


def _sklearn_write(values: dict[str, Any]) -> None:
    sklearn, now = sys.modules["sklearn"], _sklearn_read()
    changed = {k: v for k, v in values.items() if not _same(now.get(k, _AT_DEFAULT), v)}
    if changed:
        sklearn.set_config(**changed)


def _cannot_set(value: Any) -> None:
    raise NotImplementedError("a hit cannot set it again")


_DECIMAL_SIGNALS = tuple(decimal.DefaultContext.traps)
_decimal_last: list[Any] = [None, None]  # (the context's fields and traps as read, the value made of them)


def _decimal_read() -> tuple:
    """The context's precision, rounding, limits and traps by name. The traps' mapping is a Python ``Mapping``
    whose ``items()`` cost most of every hit's read: looking up each signal tells whether they changed since."""
    c = decimal.getcontext()
    seen = (c.prec, c.rounding, c.Emin, c.Emax, c.capitals, c.clamp, *map(c.traps.__getitem__, _DECIMAL_SIGNALS))
    if seen == _decimal_last[0]:
        return _decimal_last[1]
    traps = tuple(sorted(t.__name__ for t, on in c.traps.items() if on))
    value = (*seen[:6], traps)
    _decimal_last[:] = [seen, value]
    return value


def _decimal_write(value: tuple) -> None:
    c = decimal.getcontext()
    c.prec, c.rounding, c.Emin, c.Emax, c.capitals, c.clamp, traps = value
    for signal in c.traps:
        c.traps[signal] = signal.__name__ in traps


_warnings_last: list[Any] = [(), ()]  # (the filters' entries as last read, the value made of them)


def _warnings_pattern(regex: Any) -> Any:
    return regex if regex is None or isinstance(regex, str) else (regex.pattern, regex.flags)


def _warnings_read() -> tuple:
    """The filters, each regex as its pattern and flags. A kernel has a few dozen, read before and after every
    miss; each entry is a tuple, never changed in place, so the same entries in the same order (a C loop of
    identity checks) give the value made last time."""
    filters, (entries, value) = list(warnings.filters), _warnings_last
    if len(filters) == len(entries) and all(map(operator.is_, filters, entries)):
        return value
    value = tuple((action, _warnings_pattern(msg), category, _warnings_pattern(module), lineno)
                  for action, msg, category, module, lineno in filters)
    _warnings_last[:] = [filters, value]
    return value


def _warnings_write(value: tuple) -> None:
    def regex(pattern: Any) -> Any:
        return pattern if pattern is None or isinstance(pattern, str) else re.compile(pattern[0], pattern[1])

    filters: Any = warnings.filters  # a list at run time, typed as a Sequence
    filters[:] = [(a, regex(m), c, regex(mod), n) for a, m, c, mod, n in value]
    mutated = getattr(warnings, "_filters_mutated", None)
    if mutated is not None:
        mutated()


def _rc_read() -> dict[str, Any]:
    return dict(dict.items(sys.modules["matplotlib"].rcParams))  # RcParams' own __getitem__ is slow


def _rc_unchanged(last: Any) -> bool:
    """The same comparison as ``_same(last, _rc_read())``, dict to dict, without the copy."""
    return type(last) is dict and dict.__eq__(sys.modules["matplotlib"].rcParams, last) is True


def _rc_write(values: dict[str, Any]) -> None:
    rc = sys.modules["matplotlib"].rcParams
    for key, value in values.items():
        # ``!=`` can raise here: a colour cycle of RGBA arrays against one of hex strings or RGB triples.
        if not _same(dict.get(rc, key, _MISSING), value):
            dict.__setitem__(rc, key, value)  # validated when the cell set it


_environ_seen: tuple[dict[Any, Any], dict[str, str]] | None = None  # the raw environment last read, decoded


def _environ_read() -> dict[str, str]:
    """``dict(os.environ)``, decoded again only when the raw environment changed: a miss reads it twice, and
    decoding every variable cost a cheap miss more than comparing the raw mapping does."""
    global _environ_seen
    raw = getattr(os.environ, "_data", None)  # CPython's undecoded mapping behind os.environ
    if not isinstance(raw, dict):
        return dict(os.environ)
    seen = _environ_seen
    if seen is None or seen[0] != raw:
        seen = _environ_seen = (dict(raw), dict(os.environ))
    return dict(seen[1])  # a copy: the caller may keep or change it


def _environ_write(values: dict[str, str]) -> None:
    for key in set(os.environ) - set(values):
        del os.environ[key]
    os.environ.update(values)


def _argv_write(value: list[str]) -> None:
    sys.argv[:] = value


def _path_write(value: list[str]) -> None:
    sys.path[:] = value


@dataclass(frozen=True)
class Setting:
    name: str
    module: str  # nothing to read until this module is loaded
    read: Callable[[], Any]
    write: Callable[[Any], None]
    # Names in the cell's code that show it observes the setting; empty: every cell is keyed on it.
    observed_by: frozenset[str] = frozenset()
    keyed: bool = True
    replayed: bool = True  # False: a hit could not set it again, so a cell that changes it is not stored
    # The library's own defaults: a setting left at them keys as if the library were not loaded, so a cell that
    # imports numpy keys the same before and after numpy is loaded.
    default: Callable[[], Any] | None = None
    # True when the setting still equals ``last``, a value read before, told without reading a copy (keying
    # compares every hit's value with the last one read; copying rcParams to compare cost more than the compare).
    unchanged: Callable[[Any], bool] | None = None


_NUMPY_DEFAULTS = {"edgeitems": 3, "threshold": 1000, "floatmode": "maxprec", "precision": 8, "suppress": False,
                   "linewidth": 75, "nanstr": "nan", "infstr": "inf", "sign": "-", "formatter": None,
                   "legacy": False, "override_repr": None}

_NUMPY_ERR_DEFAULTS = {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}


@cache
def _rc_defaults() -> dict[str, Any]:
    return dict(dict.items(sys.modules["matplotlib"].rcParamsOrig))


@cache
def _pandas_defaults() -> dict[str, Any]:
    return {k: o.defval for k, o in sys.modules["pandas"]._config.config._registered_options.items()}


@cache
def _sklearn_defaults() -> dict[str, Any]:
    # set_config changes a per-thread copy; the module's dict stays what the library started with.
    return dict(getattr(sys.modules["sklearn._config"], "_global_config", {}))


def _decimal_default() -> tuple:
    c = decimal.DefaultContext
    traps = tuple(sorted(t.__name__ for t, on in c.traps.items() if on))
    return (c.prec, c.rounding, c.Emin, c.Emax, c.capitals, c.clamp, traps)


SETTINGS: tuple[Setting, ...] = (
    Setting("numpy.printoptions", "numpy", lambda: _numpy().get_printoptions(),
            lambda v: _numpy().set_printoptions(**v), default=lambda: _NUMPY_DEFAULTS),
    # Floating-point error handling: whether a cell warns, raises or stays silent on a division by zero.
    Setting("numpy.errstate", "numpy", lambda: _numpy().geterr(), lambda v: _numpy().seterr(**v),
            default=lambda: _NUMPY_ERR_DEFAULTS),
    Setting("pandas.options", "pandas", _pandas_read, _pandas_write, default=_pandas_defaults),
    # set_config(transform_output="pandas") makes every transformer return frames instead of arrays.
    Setting("sklearn.config", "sklearn", _sklearn_read, _sklearn_write, default=_sklearn_defaults),
    Setting("decimal.context", "decimal", _decimal_read, _decimal_write, default=_decimal_default),
    Setting("warnings.filters", "warnings", _warnings_read, _warnings_write,
            frozenset({"warnings", "warn", "filterwarnings", "simplefilter", "catch_warnings"})),
    Setting("matplotlib.rcParams", "matplotlib", _rc_read, _rc_write,
            default=lambda: _rc_defaults(), unchanged=_rc_unchanged),
    # Handlers hold streams and files that cannot be stored: a cell that changes logging is not stored (replayed
    # is False), and a cell run under another logging configuration misses, as it would log other lines.
    Setting("logging", "logging", loggers.read, _cannot_set, replayed=False, default=loggers.default),
    Setting("sys.argv", "sys", lambda: list(sys.argv), _argv_write,
            frozenset({"argv", "parse_args", "parse_known_args", "ArgumentParser", "argparse"})),
    Setting("os.environ", "os", _environ_read, _environ_write,
            frozenset({"environ", "getenv", "environb", "getenvb"})),
    # Imports are keyed by where the modules are found; a cell that extends the path has it set again on a hit.
    Setting("sys.path", "sys", lambda: list(sys.path), _path_write, keyed=False),
)


# ---- keyed: the settings' values before the run
_last: dict[str, tuple[Any, str]] = {}  # name -> (value, digest): equal values are not hashed again


def _digest(setting: Setting, value: Any) -> str:
    last = _last.get(setting.name)
    if last is not None and _same(last[0], value):  # == can raise (an array in a colour cycle): _same falls back
        return last[1]
    try:
        digest = hash_value(value).hex()
    except UnhashableValue as exc:
        digest = f"unhashable:{exc.description}"
    _last[setting.name] = (value, digest)
    return digest


def _code_names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


@lru_cache(maxsize=64)  # keyed by the tree object: a re-run cell's tree is reused (cell.parsed), and never changed
def _tree_names(tree: ast.AST) -> frozenset[str]:
    names: set[str] = set()
    for n in nodes(tree):
        if isinstance(n, ast.Name):
            names.add(n.id)
        elif isinstance(n, ast.Attribute):
            names.add(n.attr)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names.update(a.name.split(".")[-1] for a in n.names)
    return frozenset(names)


def _observed_names(tree: ast.AST, values: Iterable[Any]) -> set[str]:
    names = set(_tree_names(tree))
    for value in values:  # notebook functions: what their code names
        code = getattr(value, "__code__", None)
        if isinstance(code, types.CodeType) and not is_library_file(code.co_filename):
            names.update(_code_names(code))
    return names


def setting_inputs(tree: ast.AST, values: Iterable[Any]) -> dict[str, str]:
    """Key inputs for the settings in force before the run that the cell may observe. The values read are kept
    for ``take_reads``."""
    _reads.clear()
    observed: set[str] | None = None
    result = {}
    for setting in SETTINGS:
        if not setting.keyed or setting.module not in sys.modules:
            continue
        if setting.observed_by:
            observed = _observed_names(tree, values) if observed is None else observed
            if not setting.observed_by & observed:
                continue
        value = _departure(setting)
        if value is not _AT_DEFAULT:
            result[setting_input(setting.name)] = _digest(setting, value)
    return result


_AT_DEFAULT = object()
# The settings' values the last keying read (``setting_inputs``), by name, until ``take_reads``.
_reads: dict[str, Any] = {}


def take_reads() -> dict[str, Any]:
    """The values the last keying read, handed over (kept no longer): a miss's ``snapshot`` need not read them
    again when nothing ran since."""
    taken = dict(_reads)
    _reads.clear()
    return taken


_last_read: dict[str, tuple[Any, Any]] = {}  # name -> (value read, its departure): most cells change nothing


def _departure(setting: Setting) -> Any:
    """The setting's value, or only what differs from the library's defaults; _AT_DEFAULT if nothing does."""
    last = _last_read.get(setting.name)
    if last is not None and setting.unchanged is not None and _still(setting.unchanged, last[0]):
        return last[1]
    value = _reads[setting.name] = setting.read()
    if setting.default is None:
        return value
    if last is not None and _same(last[0], value):
        return last[1]
    departure = _departure_from(setting, value)
    _last_read[setting.name] = (value, departure)
    return departure


def _still(unchanged: Callable[[Any], bool], last: Any) -> bool:
    try:
        return bool(unchanged(last))
    except Exception:  # values that cannot be compared with == (arrays): read and compared by content instead
        return False


def _departure_from(setting: Setting, value: Any) -> Any:
    assert setting.default is not None
    default = setting.default()
    if isinstance(value, dict) and isinstance(default, dict):
        value = {k: v for k, v in value.items() if k not in default or not _same(default[k], v)}
        return value or _AT_DEFAULT
    return _AT_DEFAULT if _same(default, value) else value


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # an array-valued option: compare by content
        return hash_value(a) == hash_value(b)


# ---- recorded: what the run changed, and replayed on a hit
@dataclass(frozen=True)
class Snapshot:
    settings: dict[str, Any]
    modules: dict[str, dict[str, Any]]  # user module name -> a shallow copy of its attributes


@dataclass(frozen=True)
class Changes:
    """What a run changed outside its namespace; stored with the entry, set again on a hit."""

    settings: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)  # module -> attribute -> new value
    removed: dict[str, tuple[str, ...]] = field(default_factory=dict)  # module -> attributes deleted
    magics: tuple[tuple[str, str], ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing changed outside the namespace (most runs): nothing to replay."""
        return not (self.magics or self.settings or self.attributes or self.removed)

    def not_replayed(self) -> list[str]:
        """The settings the run changed that a hit could not set again."""
        return [s.name for s in SETTINGS if s.name in self.settings and not s.replayed]


def _user_modules() -> dict[str, types.ModuleType]:
    # (nbcache's own modules are never the user's state, also where nbcache is installed in editable mode)
    return {name: m for name, m in user_modules().items() if name != "__main__" and name.split(".")[0] != "nbcache"}


def snapshot(known: dict[str, Any] | None = None) -> Snapshot:
    """The settings and the user modules' attributes now. ``known``: values read moments ago (``take_reads``),
    with nothing run since that could change them: they are not read again (each read of logging's loggers, the
    warnings filters or the decimal context costs a cheap cell's miss as much as its whole status line)."""
    known = known or {}
    values = {s.name: known[s.name] if s.name in known else s.read() for s in SETTINGS if s.module in sys.modules}
    return Snapshot(values, {name: dict(vars(m)) for name, m in _user_modules().items()})


def _patch(before: Any, after: Any) -> Any:
    """What the run changed in a setting: for a dict (the environment) only the keys it set or removed, for a
    list (sys.path) its value before and after, so a hit in another kernel changes nothing else."""
    if isinstance(before, dict) and isinstance(after, dict):
        return _DictPatch({k: v for k, v in after.items() if k not in before or not _same(before[k], v)},
                          tuple(k for k in before if k not in after))
    if isinstance(before, list) and isinstance(after, list):
        return _ListPatch(tuple(before), tuple(after))
    return after


@dataclass(frozen=True)
class _DictPatch:
    set: dict[str, Any]
    removed: tuple[str, ...]

    def apply(self, now: dict[str, Any]) -> dict[str, Any]:
        result = {k: v for k, v in now.items() if k not in self.removed}
        result.update(self.set)
        return result


@dataclass(frozen=True)
class _ListPatch:
    before: tuple
    after: tuple

    def apply(self, now: list) -> list:
        if tuple(now) == self.before:
            return list(self.after)
        result = list(now)  # another kernel's list: add what the run added, where it added it
        for i, item in enumerate(self.after):
            if item not in result and item not in self.before:
                result.insert(min(i, len(result)), item)
        return result


def changes(before: Snapshot, magics: tuple[tuple[str, str], ...] = ()) -> Changes:
    """Compare with the state before the run. Modules the run imported are left out: a hit imports them."""
    note_imports()
    settings = {}
    for setting in SETTINGS:
        if setting.module in sys.modules:
            value = setting.read()
            if setting.name not in before.settings:
                settings[setting.name] = value
            elif not _same(before.settings[setting.name], value):
                settings[setting.name] = _patch(before.settings[setting.name], value)
    attributes: dict[str, dict[str, Any]] = {}
    removed: dict[str, tuple[str, ...]] = {}
    for name, module in _user_modules().items():
        old = before.modules.get(name)
        if old is None:
            continue
        now = vars(module)
        changed = {k: v for k, v in now.items() if old.get(k, _MISSING) is not v and not k.startswith("__")}
        gone = tuple(sorted(k for k in old if k not in now))
        if changed:
            attributes[name] = changed
        if gone:
            removed[name] = gone
    return Changes(settings, attributes, removed, magics)


_MISSING = object()


def _warn(what: str, exc: Exception) -> None:
    from nbcache.errors import CacheWarning

    warnings.warn(f"nbcache: could not set {what} again on this hit ({type(exc).__name__}: {exc}); run the cell "
                  "with -f if it matters", CacheWarning, stacklevel=3)


def replay(record: Changes | None, shell: Any) -> None:
    """Set again what the run changed: settings, module attributes, and the line magics it ran. A failure warns:
    the hit's values are restored all the same."""
    if record is None or record.empty:
        return  # most entries: the run changed nothing outside its namespace
    for name, args in record.magics:
        try:
            shell.run_line_magic(name, args)
        except Exception as exc:
            _warn(f"%{name} {args}", exc)
    by_name = {s.name: s for s in SETTINGS}
    for name, value in record.settings.items():
        setting = by_name.get(name)
        if setting is None or setting.module not in sys.modules:
            continue
        try:
            setting.write(value.apply(setting.read()) if isinstance(value, (_DictPatch, _ListPatch)) else value)
        except Exception as exc:
            _warn(name, exc)
    for module_name in sorted(record.attributes.keys() | record.removed.keys()):
        try:
            module = _import(module_name)
            for attr, value in record.attributes.get(module_name, {}).items():
                setattr(module, attr, value)
            for attr in record.removed.get(module_name, ()):
                module.__dict__.pop(attr, None)
        except Exception as exc:
            _warn(f"the attributes of module {module_name}", exc)


def _import(name: str) -> types.ModuleType:
    import importlib

    return sys.modules.get(name) or importlib.import_module(name)


# ---- imports a cell makes possible itself: `sys.path.insert(0, "src")` then `from feats import build`
@lru_cache(maxsize=64)  # keyed by the tree object: a re-run cell's tree is reused (cell.parsed), and never changed
def _path_literals_added(tree: ast.AST) -> tuple[str, ...]:
    found = []
    for node in nodes(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("insert", "append") and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "path" and node.args):
            arg = node.args[-1]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append(arg.value)
    return tuple(found)


def _added_paths(tree: ast.AST) -> list[str]:
    """Folders the cell adds to sys.path by a literal (``sys.path.insert(0, "src")``, ``.append("lib")``)."""
    return [path for path in _path_literals_added(tree) if os.path.isdir(path)]


def cell_import_path(tree: ast.AST) -> AbstractContextManager[None]:
    """While the cell is keyed and its entry loaded, the folders it adds to sys.path are on it, so its imports
    are found (and keyed) and its restored functions import; sys.path is put back afterwards (a hit sets the
    path the run left). Most cells add none: nothing to enter then (a generator context costs every hit twice)."""
    if not _path_literals_added(tree):
        return _NOTHING_ADDED
    return _import_path(tree)


_NOTHING_ADDED = nullcontext()  # stateless: one serves every cell


@contextmanager
def _import_path(tree: ast.AST) -> Iterator[None]:
    added = [p for p in _added_paths(tree) if p not in sys.path]
    saved = list(sys.path)
    sys.path[:0] = added
    try:
        yield
    finally:
        if added:
            sys.path[:] = saved
