"""Non-determinism: calls whose result no key can capture (clocks, uuids, a generator seeded by the OS).

Such a cell is still cached, since freezing a timestamp is often what the user wants, but its status says so.
Draws from the global random generators (``random``, ``numpy.random``, ``torch``) are not frozen: a miss notes
which generators advanced and the state they started from, and an entry only hits while they are in that state
again (a seed set in an earlier cell makes the cell reproducible). Their state after the run is stored with the
entry and restored on a hit, so later cells draw the same numbers as after the real run. Only a generator the
run itself loaded (``import numpy`` then ``np.random.rand()``, seeded by the OS) makes the result frozen.
"""

from __future__ import annotations

import array
import ast
import dis
import pickle
import struct
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from nbcache.analysis.nodes import nodes
from nbcache.keys.values import hash_value

_CLOCKS = frozenset({
    "time.time", "time.time_ns", "time.perf_counter", "time.perf_counter_ns", "time.monotonic",
    "time.monotonic_ns", "time.process_time", "time.localtime", "time.gmtime", "time.ctime",
    "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today", "datetime.date.today",
    "uuid.uuid1", "uuid.uuid4", "os.urandom", "os.getrandom", "random.SystemRandom",
})
_CLOCK_PREFIXES = ("secrets.",)
_GLOBAL_RNG_PREFIXES = ("random.", "numpy.random.", "torch.rand", "torch.normal", "torch.bernoulli",
                        "torch.multinomial")
_SEEDS = frozenset({"random.seed", "numpy.random.seed", "torch.manual_seed", "torch.random.manual_seed"})
# Generators that are deterministic when given a seed, and draw one from the OS without it.
_SEEDABLE = frozenset({
    "random.Random", "numpy.random.default_rng", "numpy.random.RandomState", "numpy.random.Generator",
    "numpy.random.SeedSequence", "numpy.random.PCG64", "numpy.random.MT19937", "numpy.random.Philox",
    "numpy.random.SFC64", "torch.Generator",
})


def _root_name(value: Any) -> str | None:
    """The dotted name a namespace value stands for: a module, a class or function, a global RNG's method."""
    if isinstance(value, types.ModuleType):
        return value.__name__
    owner = getattr(value, "__self__", None)
    if owner is not None and type(owner).__module__.startswith(("random", "numpy.random")):
        return f"{type(owner).__module__.split('.mtrand')[0]}.{value.__name__}"
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    return f"{module}.{name}" if isinstance(module, str) and isinstance(name, str) else None


# What a cell's text says about its calls, remembered per tree: a re-run cell's tree is reused (cell.parsed) and
# never changed, and walking it twice cost a miss of a small cell about 0.1 ms. Only the names' roots are resolved
# in the namespace, at each run.
_TREES = 512


@lru_cache(maxsize=_TREES)
def _import_aliases(tree: ast.AST) -> dict[str, str]:
    """Names the cell binds by importing, with the dotted name each stands for (shared: not to be changed)."""
    aliases = {}
    for node in nodes(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _dotted(node: ast.expr) -> tuple[str, list[str]] | None:
    attrs: list[str] = []
    while isinstance(node, ast.Attribute):
        attrs.insert(0, node.attr)
        node = node.value
    return (node.id, attrs) if isinstance(node, ast.Name) else None


@lru_cache(maxsize=_TREES)
def _call_shapes(tree: ast.AST) -> tuple[tuple[str, tuple[str, ...], bool], ...]:
    """(root name, attributes, has arguments) of each call in the cell on a dotted name (``np.random.rand()``)."""
    return tuple((root, tuple(attrs), bool(node.args or node.keywords)) for node in nodes(tree)
                 if isinstance(node, ast.Call) and (parts := _dotted(node.func)) for root, attrs in [parts])


def _cell_calls(tree: ast.AST, namespace: dict[str, Any]) -> Iterator[tuple[str, bool]]:
    """(dotted name, has arguments) of each call in the cell whose root resolves to a module or function."""
    aliases = _import_aliases(tree)
    for root, attrs, has_args in _call_shapes(tree):
        base = aliases.get(root) or _root_name(namespace.get(root))
        if base:
            yield ".".join([base, *attrs]), has_args


def _code_calls(code: types.CodeType, globals_: dict[str, Any]) -> Iterator[tuple[str, bool]]:
    """Dotted names loaded from globals by a function's bytecode (arguments unknown: taken as none)."""
    chain: list[str] = []
    for ins in dis.get_instructions(code):
        if ins.opname == "LOAD_GLOBAL" and isinstance(ins.argval, str):
            base = _root_name(globals_.get(ins.argval))
            chain = [base] if base else []
        elif ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and chain:
            chain.append(str(ins.argval))
        else:
            if chain:
                yield ".".join(chain), False
            chain = []
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_calls(const, globals_)


def _functions(values: Iterable[Any]) -> Iterator[types.FunctionType]:
    for value in values:
        if isinstance(value, types.FunctionType):
            yield value
        elif isinstance(value, type) and value.__module__ == "__main__":
            yield from (f for f in vars(value).values() if isinstance(f, types.FunctionType))


def _classify(calls: Iterable[tuple[str, bool]]) -> tuple[set[str], set[str], bool]:
    clocks, draws, seeded = set(), set(), False
    for name, has_args in calls:
        if name in _SEEDS:
            seeded = True
        elif name in _SEEDABLE:
            if not has_args:
                draws.add(name)
        elif name in _CLOCKS or name.startswith(_CLOCK_PREFIXES):
            clocks.add(name)
        elif name.startswith(_GLOBAL_RNG_PREFIXES):
            draws.add(name)
    return clocks, draws, seeded


def _frozen_reason(cell_calls: list[tuple[str, bool]], inputs: Iterable[Any], fresh: Iterable[str]) -> str | None:
    calls = list(cell_calls)
    cell_seeded = _classify(calls)[2]
    for fn in _functions(inputs):
        calls += _code_calls(fn.__code__, fn.__globals__)
    clocks, draws, _ = _classify(calls)
    unseeded = {d for d in draws if d in _SEEDABLE}
    loaded = {d for d in draws - unseeded if d.startswith(tuple(f"{g}." for g in fresh))}
    found = sorted(clocks | (set() if cell_seeded else unseeded | loaded))
    return f"calls {', '.join(found[:3])}" if found else None


def static_reason(tree: ast.AST, namespace: dict[str, Any], inputs: Iterable[Any],
                  fresh: Iterable[str] = ()) -> str | None:
    """'calls time.time' when the cell or a notebook function it uses reads a clock, makes a generator without a
    seed, or draws from a global generator that the run itself loaded (``fresh``: seeded by the OS)."""
    return _frozen_reason(list(_cell_calls(tree, namespace)), inputs, fresh)


# ---- the global random generators' state
@dataclass(frozen=True)
class RawRandom:
    """Python's global generator's state as read by ``nbcache._randstate``: its words as bytes (equal bytes, equal
    words) with the rest of ``random.getstate()``, which ``state()`` gives in full when it is needed: for a
    generator the run changed, not for the many runs that change none."""

    words: bytes
    version: int
    gauss_next: float | None

    def state(self) -> tuple:
        index, = struct.unpack_from("=i", self.words)
        words = array.array("I")
        words.frombytes(self.words[4:])
        return (self.version, (*words, index), self.gauss_next)

    def same(self, other: RawRandom) -> bool:
        """Equal states: the words, then the cached gaussian (``_same_gaussian``)."""
        return (self.words == other.words and self.version == other.version
                and _same_gaussian(self.gauss_next, other.gauss_next))


def _raw_reader() -> Callable[[], Any] | None:
    """How to read the global generator's state as ``RawRandom``, if the accelerator is built and reads it as
    ``getstate()`` does: checked once, on a generator of its own, before and after a draw and a gaussian."""
    import random

    try:
        from nbcache._randstate import words
    except ImportError:
        return None
    if array.array("I").itemsize != 4:
        return None

    def read(generator: random.Random) -> RawRandom | None:
        raw = words(generator)
        return None if raw is None else RawRandom(raw, generator.VERSION, getattr(generator, "gauss_next", None))

    probe = random.Random(20261130)
    for step in (lambda: None, probe.random, lambda: probe.gauss(0, 1)):
        step()
        raw = read(probe)
        if raw is None or raw.state() != probe.getstate():
            return None
    def current() -> Any:
        # The generator random.getstate reads now (a notebook may rebind it); another kind: its own getstate.
        generator = getattr(random.getstate, "__self__", None)
        raw = read(generator) if type(generator) is random.Random else None
        return raw or random.getstate()

    return current


_read_random: Callable[[], Any] | None = None


def _getstate() -> Any:
    import random

    return random.getstate()  # looked up at each call: a notebook may rebind it


def _random_state() -> Any:
    global _read_random
    if _read_random is None:
        _read_random = _raw_reader() or _getstate
    return _read_random()


def full_state(state: Any) -> Any:
    """A state as its generator's ``getstate`` gives it (what is stored, restored and digested)."""
    return state.state() if isinstance(state, RawRandom) else state


def rng_states() -> dict[str, Any]:
    """The state of each global random generator that is loaded (numpy's and torch's only if already imported:
    numpy makes its global generator when ``numpy.random`` is first imported, which reading it would do).
    Python's may be a ``RawRandom``: ``full_state`` gives its ``getstate()``."""
    states: dict[str, Any] = {"random": _random_state()}
    if "numpy.random" in sys.modules:
        states["numpy"] = sys.modules["numpy.random"].get_state()
    if "torch" in sys.modules:
        states["torch"] = sys.modules["torch"].random.get_rng_state()
    return states


def _same_random_state(before: Any, after: Any) -> bool:
    """Python's generator state, ``random.getstate()``: ``(version, 625 ints, gauss_next)``. Equal ints are equal,
    so the tuples are compared in C; the cached gaussian (None or a float) by identity or by its bits."""
    return before[:2] == after[:2] and _same_gaussian(before[2], after[2])


def _same_gaussian(a: float | None, b: float | None) -> bool:
    """The generator's cached gaussian (None or a float), by identity or by its bits: 0.0 == -0.0, yet the next
    ``gauss()`` would return the other one."""
    if type(a) is float and type(b) is float:
        return struct.pack("<d", a) == struct.pack("<d", b)
    return a is b


def _changed(before: Any, after: Any, name: str = "") -> bool:
    """Did generator ``name``'s state change? Every miss asks, and hashing Python's 625-int state value by value
    costs fifty times pickling it: equal pickles mean equal states, so the content hashes decide only when the
    pickles differ (the state did change, or its pickle is not canonical, like a torch tensor's). Python's own
    generator is compared without pickling (``_same_random_state``)."""
    if isinstance(before, RawRandom) and isinstance(after, RawRandom):
        return not before.same(after)
    before, after = full_state(before), full_state(after)
    if name == "random" and _random_state_shape(before) and _random_state_shape(after):
        return not _same_random_state(before, after)
    try:
        if pickle.dumps(before, protocol=5) == pickle.dumps(after, protocol=5):
            return False
    except Exception:
        pass
    return hash_value(before) != hash_value(after)


def _random_state_shape(state: Any) -> bool:
    return (type(state) is tuple and len(state) == 3 and type(state[0]) is int and type(state[1]) is tuple
            and (state[2] is None or type(state[2]) is float))


def _state_digest(state: Any) -> str:
    return hash_value(state).hex()


_SEED_OF = {"random.seed": "random", "numpy.random.seed": "numpy", "torch.manual_seed": "torch",
            "torch.random.manual_seed": "torch"}


@dataclass(frozen=True)
class RunRandomness:
    """What a miss learns about randomness, from the generators' states before and after the run."""

    advanced: dict[str, Any]  # generators the run changed, with their state after it (a hit restores it)
    drawn: dict[str, str]  # generators it drew from without seeding them, with a digest of their state before
    frozen: str | None  # why its result is frozen ('calls time.time'), else None


def after_run(before: dict[str, Any], after: dict[str, Any], tree: ast.AST, namespace: dict[str, Any],
              inputs: Iterable[Any]) -> RunRandomness:
    """What the run did to the global generators, in one pass: each generator's states compared once and the
    cell's calls found once (asked separately, each was done twice, a tenth of a cheap miss). A generator the cell
    seeded itself is advanced but not drawn: its result does not depend on the state it started from."""
    changed = {k for k, v in after.items() if k not in before or _changed(before[k], v, k)}
    calls = list(_cell_calls(tree, namespace))
    seeded = {_SEED_OF[name] for name, _ in calls if name in _SEED_OF}
    return RunRandomness(
        advanced={k: full_state(v) for k, v in after.items() if k in changed},
        drawn={k: _state_digest(full_state(v)) for k, v in before.items()
               if k in changed and k in after and k not in seeded},
        frozen=_frozen_reason(calls, inputs, set(after) - set(before)),
    )


def state_problem(drawn: Mapping[str, str]) -> str | None:
    """Why an entry cannot be used now: a generator it drew from (``drawn``: name -> digest of the state it started
    from) is in another state than when it ran."""
    if not drawn:
        return None
    now = rng_states()
    changed = sorted(k for k, digest in drawn.items() if k not in now or _state_digest(full_state(now[k])) != digest)
    return f"random state of {', '.join(changed)} changed" if changed else None


def restore(states: dict[str, Any] | None) -> None:
    import random

    for name, state in (states or {}).items():
        if name == "random":
            random.setstate(state)
        elif name == "numpy" and "numpy" in sys.modules:
            sys.modules["numpy"].random.set_state(state)
        elif name == "torch" and "torch" in sys.modules:
            sys.modules["torch"].random.set_rng_state(state)
