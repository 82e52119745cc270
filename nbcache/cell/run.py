"""One execution of a ``%%cache`` cell: analyse it, key it, then restore a hit or run, record and store a miss."""

from __future__ import annotations

import ast
import sys
import time
import types
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from IPython.core.error import UsageError

from nbcache.analysis import determinism
from nbcache.analysis.names import CellAnalysis
from nbcache.cell import aliases as references
from nbcache.cell import execute, fills
from nbcache.cell.capture import Recording, after_cell, recording, replay
from nbcache.cell.inplace import update_in_place
from nbcache.cell.namespace import Before, changes_of_run
from nbcache.cell.parsed import hides_value, parse_cell
from nbcache.cell.payload import ClearEvent, Payload
from nbcache.errors import CacheWarning, SerializationError, UnhashableInput
from nbcache.keys import settings
from nbcache.keys.cellkey import (
    Inputs,
    cell_key,
    expand_deps,
    hash_inputs,
    key_inputs,
    rehash,
    source_digest,
)
from nbcache.keys.reasons import LateReason, describe_changes
from nbcache.keys.values import shared_figures
from nbcache.store import background, clearing
from nbcache.store.entry import EntryMeta
from nbcache.ui.progress import Ticker
from nbcache.ui.report import CellState, CellStatus, QuietReporter, Reporter, TextReporter, approx_size
from nbcache.ui.statusline import hit_line, miss_line, uncached_line

_MISSING = object()
TOO_CHEAP = "too cheap to store"
# A miss takes its key's lock (so that another kernel missing on the key waits for this result) once it has run
# this long: a second kernel that starts the same cell sooner computes it too, as where locks are unavailable.
LOCK_AFTER_S = 0.2


@dataclass(frozen=True)
class CellOptions:
    force: bool = False
    deps: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    quiet: bool = False
    # A miss that ran for less than this is not stored: caching it would cost more than it saves (auto mode).
    min_seconds: float = 0.0


@dataclass
class Prepared:
    """A parsed, analysed and keyed cell, ready to run or restore."""

    raw: str
    source: str
    tree: ast.Module
    analysis: CellAnalysis
    inputs: Inputs
    key_inputs: dict[str, str]
    normalised: str
    key: str
    ident: str
    offset: int = 0  # lines of the cell before ``source``: ``tree`` is numbered past them
    # The settings' values keying read (settings.take_reads): a miss's snapshot reuses them unless something was
    # unpickled since (a load can import and run code).
    settings_read: dict[str, Any] = field(default_factory=dict)


def _warn(message: str) -> None:
    warnings.warn(message, CacheWarning, stacklevel=2)


def _mutated_inputs(inputs: Inputs, namespace: dict[str, Any], cached_before: dict[str, frozenset[str]]
                    ) -> tuple[dict[str, Any], tuple[tuple[str, tuple[str, ...]], ...]]:
    """Input objects whose content the run changed (``x.append(1)``, ``model.fit()``), by input name; also when
    the name was rebound afterwards (``x.append(1); x = []``), since another name may still hold the object.
    Then, of those, the ones whose only change was filling cached properties, with their names (fills.py)."""
    mutated, filled = {}, []
    with shared_figures():  # `fig` and `ax` read by the cell: the figure is written once
        for name, value in inputs.values.items():
            if isinstance(value, types.ModuleType):  # its attributes the run set are replayed by keys.settings
                continue
            try:
                changed = rehash(value, namespace) != inputs.hashes[name]
            except Exception:  # no longer hashable: it certainly changed
                changed = True
            if changed:
                mutated[name] = value
                if name in cached_before:
                    names = fills.fill_only(value, cached_before[name], _hashes_to(inputs.hashes[name], namespace))
                    filled += [(name, names)] if names else []
    return mutated, tuple(filled)


def _hashes_to(expected: str, namespace: dict[str, Any]) -> Callable[[Any], bool]:
    return lambda value: rehash(value, namespace) == expected


def _hidden_references(name: str, slots: list[dict]) -> bool:
    """True if something other than a name in ``slots`` refers to ``slots[0][name]`` (a list, an attribute...).

    Atomic values never count: nobody can observe their identity.
    """
    obj = slots[0].get(name, _MISSING)
    if obj is _MISSING or isinstance(obj, references.ATOMIC):
        return False
    known = sum(1 for slot in slots for value in slot.values() if value is obj)
    # getrefcount counts its own argument and this frame's `obj`; no other frame may hold one here.
    return sys.getrefcount(obj) - 2 > known


def _execution_results(shell: Any) -> list[dict]:
    """Where IPython keeps the last results besides the namespace: the display hook's own `_`, `__`, `___` and
    its ExecutionResult objects (their real attribute dicts, so each reference is counted once)."""
    hook = shell.displayhook
    found = [hook, getattr(shell, "last_execution_result", None), getattr(hook, "exec_result", None)]
    unique = {id(r): r for r in found if r is not None and isinstance(getattr(r, "__dict__", None), dict)}
    hidden = getattr(shell, "user_ns_hidden", None)
    return [vars(r) for r in unique.values()] + ([hidden] if isinstance(hidden, dict) else [])


def _frozen(reason: str | None) -> str:
    return f"non-deterministic: result frozen ({reason})" if reason else ""


def _frozen_note(meta: EntryMeta) -> str:
    return _frozen(meta.nondeterministic)


class CachedCell:
    def __init__(self, shell: Any, store: Any, options: CellOptions, cell_id: str | None = None,
                 reporter: Reporter | None = None) -> None:
        self.shell = shell
        self.store = store
        self.options = options
        self.cell_id = cell_id
        self.started = time.perf_counter()  # a hit's cost is counted from here: keying is part of the wait
        self.reporter = reporter or (QuietReporter() if options.quiet else TextReporter())
        self._loaded = False  # an entry was read (unpickled, or kept from an earlier read) since keying

    @property
    def ns(self) -> dict[str, Any]:
        return self.shell.user_ns

    # ---- entry point
    def run(self, raw: str) -> Any:
        __tracebackhide__ = True  # noqa: F841
        self.started = time.perf_counter()
        value = self._run(raw)
        # A trailing ';' hides the value, as it would without %%cache (IPython only sees the magic call).
        return None if hides_value(raw) else value

    def _run(self, raw: str) -> Any:
        __tracebackhide__ = True  # noqa: F841
        # Parsed numbered as the run compiles it (past the %%cache line); a SyntaxError surfaces as without %%cache.
        parsed = parse_cell(self.shell, raw, execute.body_offset(self.shell, raw))
        source, tree, analysis, offset = parsed.source, parsed.tree, parsed.analysis, parsed.offset
        if analysis.dynamic:
            reason = f"cell {analysis.dynamic}, so nbcache cannot tell what it reads"
            return self._uncached(tree, source, raw, reason, offset)
        try:
            cell = self._prepare(raw, source, tree, analysis, parsed.normalised, offset)
        except UnhashableInput as exc:
            reason = f"input {exc.name} cannot be hashed: {exc.description}; add --ignore {exc.name} to leave it out"
            return self._uncached(tree, source, raw, reason, offset)
        return self._run_prepared(cell)

    def _prepare(self, raw: str, source: str, tree: ast.Module, analysis: CellAnalysis, normalised: str,
                 offset: int = 0) -> Prepared:
        """``offset``: the lines before ``source`` in the cell, by which ``tree`` is numbered (see execute.py)."""
        try:
            files = expand_deps(self.options.deps)
        except FileNotFoundError as exc:
            raise UsageError(f"--deps {exc.args[0]!r} matches no file; check the path (globs are allowed)") from None
        inputs = hash_inputs(analysis.inputs, self.ns, self.options.ignore)
        inputs_of_key = key_inputs(tree, inputs.hashes, inputs.values, files)
        key = cell_key(normalised, inputs_of_key)
        ident = self.cell_id or f"src:{source_digest(normalised)}"
        return Prepared(raw, source, tree, analysis, inputs, inputs_of_key, normalised, key, ident, offset,
                        settings.take_reads())

    def _run_prepared(self, cell: Prepared) -> Any:
        __tracebackhide__ = True  # noqa: F841
        if self.options.force:
            return self._miss(cell, "forced with -f")
        with settings.cell_import_path(cell.tree):
            loaded = self._load(cell.key)
        if loaded is None:
            return self._miss_unless_computed_meanwhile(cell)
        payload, info = loaded
        problem = self._restore_problem(cell, payload, info.meta)
        if problem:
            return self._miss(cell, problem)
        return self._hit(cell, payload, info)

    # ---- hit
    def _resolve(self, ref: tuple) -> Any:
        return references.resolve(ref, self.ns)

    def _load(self, key: str) -> tuple[Payload, Any] | None:
        try:
            loaded = self.store.load(key, self._resolve, Payload.shared)
        except Exception as exc:  # the store warns about damage itself; anything else must not break the cell
            _warn(f"nbcache: could not read the cache entry ({exc}); running the cell")
            return None
        if loaded is None:
            return None
        self._loaded = True
        payload, info = loaded
        payload = Payload.of(payload)
        if not payload.mutated and info.meta.mutated:  # older entries: mutated inputs were still bound
            mutated = {n: payload.outputs[n] for n in info.meta.mutated if n in payload.outputs}
            payload = replace(payload, mutated=mutated)
        return payload, info

    def _restore_problem(self, cell: Prepared, payload: Payload, meta: EntryMeta) -> str | None:
        random_state = determinism.state_problem(meta.random_state)
        if random_state:
            return random_state
        if not payload.mutated:  # the common hit: no reference to look for
            return None
        # The keyed input values are nbcache's own reference, not a hidden one; nor are IPython's records of the
        # last results (the display hook's ExecutionResult objects, behind `_` and `Out`).
        slots = self._slots(cell)
        filled = dict(payload.filled)
        for name, restored in payload.mutated.items():
            # No local name for the live object: _hidden_references counts every reference to it.
            if update_in_place(self.ns.get(name, _MISSING), restored, dry_run=True):
                continue  # written into the live object: whoever holds it sees the change
            if not _hidden_references(name, slots):
                continue  # every name holding it is rebound to the restored copy
            if name in filled and not fills.held_elsewhere(restored, filled[name], payload.outputs, name):
                continue  # the live object stays; the hit fills its cached properties
            return (f"input {name} is also referenced from inside another object, "
                    f"so its change could not be replayed there")
        return None

    def _slots(self, cell: Prepared) -> list[dict]:
        """Where a name may hold an input without hiding it: the namespace first (see _hidden_references)."""
        return [self.ns, self.ns.get("Out", {}), cell.inputs.values, *_execution_results(self.shell)]

    def _apply_mutations(self, cell: Prepared, payload: Payload) -> dict[str, Any]:
        """Replay what the run did to its inputs' objects: into the live object where possible (views, closures
        and containers holding it follow; cached properties filled where the copy cannot stand in for it), else
        other names bound to it follow the restored copy."""
        outputs = dict(payload.outputs)
        out = self.ns.get("Out", {})
        slots = self._slots(cell) if payload.filled else []
        refill = {name: names for name, names in payload.filled if _hidden_references(name, slots)}
        for name, restored in payload.mutated.items():
            live = self.ns.get(name, _MISSING)
            if update_in_place(live, restored) or name in refill:
                fills.refill(live, refill.get(name, ()))
                outputs.update({n: live for n, v in outputs.items() if v is restored})
                continue
            for slot in (self.ns, out, *_execution_results(self.shell)):
                for alias in [k for k, v in slot.items() if v is live and k != name]:
                    slot[alias] = restored
        return outputs

    def _hit(self, cell: Prepared, payload: Payload, info: Any) -> Any:
        outputs = self._apply_mutations(cell, payload)
        for name in info.meta.deletions:
            self.ns.pop(name, None)
        self.ns.update(outputs)
        settings.replay(payload.changes, self.shell)
        determinism.restore(payload.rng)
        # The facts are final before the outputs replay, so a panel is shown once, above them, with its final
        # text: the time is the restore's, up to the replay of the outputs.
        elapsed = time.perf_counter() - self.started
        saved = info.compute_s - elapsed
        line = hit_line(outputs, info.size, elapsed, saved, _frozen_note(info.meta))
        status = self._facts(cell, CellState.HIT, line, "", elapsed, max(saved, 0.0), info.size, payload)
        if payload.events:
            self.reporter.restoring(status)
        replay(self.shell, payload.events)
        self._status(status)
        background.record_hit(self.store, cell.key, saved)  # counted in memory, written in a batch
        return payload.value

    # ---- miss
    def _miss_unless_computed_meanwhile(self, cell: Prepared) -> Any:
        """Run the cell holding its key's lock; if another kernel holds it, wait for and restore its result."""
        __tracebackhide__ = True  # noqa: F841
        lock = self.store.lock(cell.key)
        later: Ticker | None = None
        try:
            if not lock.try_acquire(create=False):
                self.reporter.begin(CellState.WAITING, "another kernel is computing this cell; waiting for its result")
                lock.wait()
                loaded = self._load(cell.key)
                if loaded is not None and not self._restore_problem(cell, loaded[0], loaded[1].meta):
                    return self._hit(cell, *loaded)
            if not lock.held:  # no lock file yet: made and taken only if the cell runs long enough (locks.py)
                later = Ticker(lock.try_acquire, LOCK_AFTER_S).start()
            return self._miss(cell)
        finally:
            if later is not None:
                later.stop()  # waits for a take under way: none comes after
            lock.release()

    def _miss_reason(self, cell: Prepared, before: Before) -> str:
        """Why ``cell`` missed, against its newest entry; ``before``: the namespace before the run (its names'
        kinds, function or class, name what changed)."""
        try:
            previous = self.store.latest_for_cell(cell.ident)
        except Exception:
            previous = None
        if previous is None:
            return "entry cleared" if clearing.was_cleared(cell.ident) else "new cell"
        if previous.meta.source != source_digest(cell.normalised):
            return "source changed"
        old = previous.meta.inputs
        changed = sorted(n for n in cell.key_inputs.keys() | old.keys() if cell.key_inputs.get(n) != old.get(n))
        if not changed:
            return "entry not in the store"
        return describe_changes(changed, before.namespace())

    def _miss(self, cell: Prepared, given: str | None = None) -> Any:
        """Run and store the cell; ``given``: why it runs, else worked out late from the store (``LateReason``)."""
        __tracebackhide__ = True  # noqa: F841
        known = {} if self._loaded else cell.settings_read
        before, rng_before, snapshot = Before.of(self.ns), determinism.rng_states(), settings.snapshot(known)
        reason = LateReason.given(given) if given is not None else LateReason(lambda: self._miss_reason(cell, before))
        cached_before = fills.present(cell.inputs.values)
        self.reporter.begin(CellState.RUNNING, reason)
        start = time.perf_counter()
        with recording(self.shell, self.reporter.output_starts) as recorded, self._reporting_failure():
            run = self._execute(cell)
        compute_s = time.perf_counter() - start
        random = determinism.after_run(rng_before, determinism.rng_states(), cell.tree, self.ns,
                                       cell.inputs.values.values())
        randomness = {"nondeterministic": random.frozen, "random_state": random.drawn}
        changes = settings.changes(snapshot, cell.analysis.magics)
        outputs, deletions = changes_of_run(before, self.ns, run.bound, run.deleted)
        mutated, filled = _mutated_inputs(cell.inputs, self.ns, cached_before)
        outputs |= {name for name, value in mutated.items() if self.ns.get(name, _MISSING) is value}
        values = {n: self.ns[n] for n in sorted(outputs)}
        # The payload is made when the outputs are complete: figures drawn after the cell add their events.
        after_cell(self.shell, recorded, lambda: self._store(
            cell, reason, Payload(values, run.value, tuple(recorded.events), random.advanced, mutated, changes,
                                filled),
            recorded, (outputs, deletions, sorted(mutated), compute_s), randomness))
        return run.value

    def _store(self, cell: Prepared, reason: LateReason, payload: Payload, recorded: Recording,
               run: tuple[set[str], set[str], list[str], float], randomness: dict[str, Any]) -> None:
        """Save the entry once the cell's outputs are complete, and say how the miss went."""
        compute_s = run[3]
        if compute_s < self.options.min_seconds:
            stored, save_s, note = None, 0.0, TOO_CHEAP
        elif recorded.widgets:  # a hit could not show them: the cell runs each time instead
            stored, save_s, note = None, 0.0, "it shows widgets, which live in the kernel and cannot be replayed"
        elif unset := payload.changes.not_replayed():
            stored, save_s, note = None, 0.0, f"it changes {' and '.join(unset)}, which a hit cannot set again"
        else:
            stored, save_s, note = self._save_entry(cell, reason, payload, run, randomness)
        notes = [n for n in (note, _frozen(randomness["nondeterministic"])) if n]
        line = miss_line(reason(), compute_s, stored, save_s, "; ".join(notes))
        self._status(self._facts(cell, CellState.MISS, line, reason(), compute_s, compute_s, stored, payload))

    def _save_entry(self, cell: Prepared, reason: LateReason, payload: Payload,
                    run: tuple[set[str], set[str], list[str], float],
                    randomness: dict[str, Any]) -> tuple[int | None, float, str]:
        """Store the entry: its size (None if not stored), the seconds storing took, a note if it failed.

        Timed as one, for the status line's "stored in" and the benchmarks' save: all that exists only to store
        the entry (the save's progress bar, the entry's metadata, the references to inputs it is written with),
        then the store's write (pickling, files, signature, index)."""
        start = time.perf_counter()
        outputs, deletions, mutated, compute_s = run
        self.reporter.saving(sum(approx_size(v) for v in payload.outputs.values()))
        meta = replace(self._meta(cell, outputs, deletions, mutated, compute_s), **randomness)
        stored, _, note = self._save(cell.key, payload, meta, self._references(cell, outputs, payload.mutated), reason)
        return stored, (time.perf_counter() - start if stored is not None else 0.0), note

    def _execute(self, cell: Prepared) -> execute.Execution:
        """Run the cell live (auto mode overrides this to run it through IPython's own code path)."""
        __tracebackhide__ = True  # noqa: F841
        return execute.run(self.shell, cell.tree, cell.source, cell.raw, cell.offset)

    def _meta(self, cell: Prepared, outputs: set[str], deletions: set[str], mutated: list[str],
              compute_s: float) -> EntryMeta:
        first_line = next((line for line in cell.raw.splitlines() if line.strip()), "")
        return EntryMeta(
            cell=first_line[:200],
            cell_ident=cell.ident,
            source=source_digest(cell.normalised),
            inputs=cell.key_inputs,
            outputs={n: type(self.ns[n]).__qualname__ for n in sorted(outputs)},
            deletions=tuple(sorted(deletions)),
            mutated=tuple(sorted(mutated)),
            compute_s=compute_s,
        )

    def _references(self, cell: Prepared, outputs: set[str], mutated: dict[str, Any]) -> dict[int, tuple]:
        """Objects to store by reference: the namespace, and what lies inside inputs the run left unchanged."""
        unchanged = {name: value for name, value in cell.inputs.values.items()
                     if name not in outputs and name not in mutated and self.ns.get(name, _MISSING) is value}
        return references.input_references(unchanged, self.ns)

    def _save(self, key: str, payload: Payload, meta: EntryMeta, refs: dict[int, tuple],
              reason: Callable[[], str] | None = None) -> tuple[int | None, float, str]:
        """``reason``: the miss's reason, for the manifest, asked by the store once it has just used its index."""
        start = time.perf_counter()
        try:
            stored = self.store.save(key, payload.stored(), meta, refs, reason=reason)
        except SerializationError as exc:
            _warn(f"nbcache: the cell ran but was not cached: {exc}. Its results are in the namespace; "
                  "delete that value at the end of the cell or run the cell without %%cache.")
            return None, 0.0, "an output cannot be saved"
        except Exception as exc:  # a full disk, a read-only store: never the user's cell's fault
            _warn(f"nbcache: the cell ran but its result was not stored: {exc}")
            return None, 0.0, "saving failed"
        return stored, time.perf_counter() - start, ""

    # ---- uncached
    def _uncached(self, tree: ast.Module, source: str, raw: str, reason: str, offset: int = 0) -> Any:
        __tracebackhide__ = True  # noqa: F841
        self._status(CellStatus(state=CellState.NOT_CACHED, line=uncached_line(reason), reason=reason, raw=raw))
        return execute.run(self.shell, tree, source, raw, offset).value

    # ---- what the user is told: the stderr line or the panel, as the reporter decides
    @contextmanager
    def _reporting_failure(self) -> Iterator[None]:
        try:
            yield
        except BaseException as exc:  # the cell's own error surfaces unchanged; the panel just stops "running"
            self.reporter.failed(exc)
            raise

    def _facts(self, cell: Prepared, state: CellState, line: str, reason: str, elapsed: float, saved_s: float,
               size: int | None, payload: Payload) -> CellStatus:
        """The status with the facts the panel's details show; ``saved_s``: saved by a hit, or a later hit saves."""
        outputs = payload.outputs
        return CellStatus(
            state=state, line=line, reason=reason, elapsed_s=elapsed, saved_s=saved_s, size=size, key=cell.key,
            inputs=dict(cell.key_inputs), outputs={n: type(v).__qualname__ for n, v in outputs.items()},
            output_sizes={n: approx_size(v) for n, v in outputs.items()}, cell_ident=cell.ident, raw=cell.raw,
            cleared_output=any(isinstance(event, ClearEvent) for event in payload.events),
        )

    def _status(self, status: CellStatus) -> None:
        self.reporter.done(status)
