"""Would each cell this kernel ran under nbcache hit if it ran again now, and if not, why.

Nothing is run: each cell is keyed again from the current namespace, files and modules, and its key looked up
among the store's entries. A cell is also stale when it reads a name that an earlier stale cell binds: re-running
that cell will change the name, so this one will miss after it ("exactly the cells that depend on it").

Keying stays cheap: a cell's parse and analysis are kept by source, one object read by many cells is hashed once
per call, and immutable scalars and strings (whose hash cannot change while the object lives) are not hashed
again from one call to the next.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from nbcache.analysis.names import CellAnalysis, analyse_tree, is_ipython_name
from nbcache.errors import UnhashableInput, UnhashableValue
from nbcache.ipython.tracker import CellRecord, Outcome
from nbcache.keys.cellkey import ABSENT, cell_key, expand_deps, key_inputs, normalise
from nbcache.keys.reasons import describe_changes
from nbcache.keys.values import hash_value_reads

# Values whose content cannot change while the object lives: their hash is kept by id between calls.
_IMMUTABLE = (bool, int, float, complex, str, bytes, type(None))


@dataclass(frozen=True)
class CellState:
    """One line of ``%cache_status``."""

    position: int  # 1-based, in run order
    execution_count: int | None
    cell: str  # the first line
    outcome: str  # of its last run: hit, stored, not stored, failed, not cached
    would_hit: bool
    reason: str  # why it would not hit; empty when it would


@dataclass(frozen=True)
class _Parsed:
    tree: ast.Module
    analysis: CellAnalysis
    normalised: str


class _Hashes:
    """Input hashes for one status call, sharing work between cells (and, for immutable values, calls)."""

    def __init__(self, namespace: dict[str, Any], lasting: dict[int, tuple[Any, str]]) -> None:
        self.ns = namespace
        self.memo: dict[int, tuple[str, set[str]]] = {}
        self.lasting = lasting  # id -> (the object, kept alive so the id stays its own; its hash)

    def _value(self, value: Any) -> tuple[str, set[str]]:
        kept = self.lasting.get(id(value))
        if kept is not None and kept[0] is value:
            return kept[1], set()
        if id(value) not in self.memo:
            digest, reads = hash_value_reads(value, self.ns)
            self.memo[id(value)] = digest.hex(), reads
            if type(value) in _IMMUTABLE:
                self.lasting[id(value)] = value, digest.hex()
        return self.memo[id(value)]

    def inputs(self, names: Iterable[str], ignore: Iterable[str]) -> dict[str, str]:
        """Like keys.cellkey.hash_inputs: the names and, transitively, the globals their functions read."""
        skip, hashes = set(ignore), {}
        pending = sorted(set(names), reverse=True)
        while pending:
            name = pending.pop()
            if name in hashes or name in skip or is_ipython_name(name):
                continue
            if name not in self.ns:
                hashes[name] = _builtin_marker(name)
                continue
            hashes[name], reads = self._value(self.ns[name])
            pending.extend(sorted(reads - hashes.keys(), reverse=True))
        return hashes


def _builtin_marker(name: str) -> str:
    import builtins

    return f"builtin:{name}" if hasattr(builtins, name) else ABSENT


class StatusBoard:
    """Computes the cells' states; keeps parses and immutable hashes between calls."""

    def __init__(self, transform: Callable[[str], str]) -> None:
        self._transform = transform
        self._parsed: dict[str, _Parsed | None] = {}
        self._lasting: dict[int, tuple[Any, str]] = {}

    def _parse(self, raw: str) -> _Parsed | None:
        if raw not in self._parsed:
            try:
                tree = ast.parse(self._transform(raw))
                self._parsed[raw] = _Parsed(tree, analyse_tree(tree), normalise(tree))
            except SyntaxError:
                self._parsed[raw] = None
        return self._parsed[raw]

    def states(self, records: list[CellRecord], namespace: dict[str, Any], stored: set[str]) -> list[CellState]:
        hashes = _Hashes(namespace, self._lasting)
        stale_names: dict[str, int] = {}  # name -> position of the stale cell that binds it
        states = []
        for position, record in enumerate(records, 1):
            parsed = self._parse(record.raw)
            reason = self._reason(record, parsed, hashes, stored, stale_names)
            would_hit = not reason
            for name in record.outputs:
                if would_hit:
                    stale_names.pop(name, None)
                else:
                    stale_names[name] = position
            states.append(CellState(position, record.execution_count, record.first_line[:80],
                                    record.outcome.value, would_hit, reason))
        return states

    def _reason(self, record: CellRecord, parsed: _Parsed | None, hashes: _Hashes, stored: set[str],
                stale_names: dict[str, int]) -> str:
        if record.outcome is Outcome.UNCACHED:
            return f"cannot be cached: {record.reason}"
        if record.outcome is Outcome.FAILED:
            return "it raised when it last ran"
        if parsed is None:
            return "its source does not parse"
        upstream = sorted(n for n in parsed.analysis.inputs if n in stale_names)
        if upstream:
            name = upstream[0]
            return f"input {name} will change: it comes from stale cell {stale_names[name]}"
        values = {n: hashes.ns[n] for n in parsed.analysis.inputs if n in hashes.ns and n not in record.ignore}
        try:
            variables = hashes.inputs(parsed.analysis.inputs, record.ignore)
            inputs = key_inputs(parsed.tree, variables, values, expand_deps(record.deps))
        except (UnhashableValue, UnhashableInput) as exc:
            return f"an input cannot be hashed: {exc.description}"
        except FileNotFoundError as exc:
            return f"--deps {exc.args[0]!r} matches no file"
        if cell_key(parsed.normalised, inputs) in stored:
            return ""
        return _miss_reason(record, inputs, hashes.ns)


def _miss_reason(record: CellRecord, inputs: dict[str, str], namespace: dict[str, Any]) -> str:
    old = record.inputs
    changed = sorted(n for n in inputs.keys() | old.keys() if inputs.get(n) != old.get(n))
    gone = [n for n in changed if inputs.get(n) == ABSENT]
    if gone:
        return f"input {gone[0]} is no longer defined"
    if changed:
        return describe_changes(changed, namespace)
    if record.outcome is Outcome.NOT_STORED:
        return record.reason
    if record.outcome in (Outcome.HIT, Outcome.STORED):
        return "its entry is no longer in the store"
    return "never stored"


def states_json(states: list[CellState]) -> str:
    return json.dumps([asdict(s) for s in states], indent=1)


def states_text(states: list[CellState]) -> str:
    if not states:
        return "nbcache: no cells ran under nbcache in this kernel yet"
    stale = sum(not s.would_hit for s in states)
    lines = [f"nbcache: {len(states)} cells, {stale} would run again"]
    for s in states:
        count = f"[{s.execution_count}]" if s.execution_count is not None else "[ ]"
        verdict = "hit" if s.would_hit else f"stale: {s.reason}"
        lines.append(f"  {count:>6} {s.cell[:50]:<50}  {verdict}")
    return "\n".join(lines)
