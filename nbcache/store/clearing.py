"""Which entries a clear removes, shared by ``%cache_clear`` and ``nbcache clear``: one rule, two entry points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nbcache.store import background
from nbcache.store.protocol import EntryStore
from nbcache.units import parse_age, parse_size, plural


class ClearUsage(ValueError):
    """A clear request that does not make sense; the message names the flag."""


@dataclass(frozen=True)
class ClearRequest:
    all: bool = False
    keys: Sequence[str] = ()
    older_than: str | None = None
    larger_than: str | None = None


def _filters(request: ClearRequest) -> tuple[float | None, int | None]:
    try:
        age = parse_age(request.older_than) if request.older_than is not None else None
    except ValueError as exc:
        raise ClearUsage(f"--older-than: {exc}") from None
    try:
        size = parse_size(request.larger_than) if request.larger_than is not None else None
    except ValueError as exc:
        raise ClearUsage(f"--larger-than: {exc}") from None
    return age, size


# Cells whose entries this process removed, so the next run says "entry cleared" rather than "new cell".
_cleared_cells: set[str] = set()


def was_cleared(cell_ident: str) -> bool:
    return cell_ident in _cleared_cells


def _remember_cells(store: EntryStore, request: ClearRequest, age: float | None, size: int | None) -> None:
    if request.all:
        entries = store.entries()
    elif request.keys:
        entries = [e for e in store.entries() if e.key.startswith(tuple(request.keys))]
    else:
        entries = store.select(age, size)
    _cleared_cells.update(e.meta.cell_ident for e in entries if e.meta.cell_ident)


def clear(store: EntryStore, request: ClearRequest) -> int:
    """Remove what the request names; return how many entries went. ClearUsage on a request that makes no sense."""
    age, size = _filters(request)
    filtered = age is not None or size is not None
    if [request.all, bool(request.keys), filtered].count(True) != 1:
        raise ClearUsage("give one of --all, key prefixes, or --older-than/--larger-than (which combine)")
    # Hit statistics still being written decide what --older-than removes, and written after a removal they
    # would leave a row behind: every clear (magic, panel, sidebar, command line) waits for them first.
    background.wait()
    _remember_cells(store, request, age, size)
    if request.all:
        return store.clear()
    if request.keys:
        return sum(store.remove(prefix) for prefix in request.keys)
    return store.remove_keys(e.key for e in store.select(age, size))


def removed_text(count: int) -> str:
    return f"removed {plural(count, 'entry', 'entries')}"


def removed_line(count: int) -> str:
    return f"nbcache: {removed_text(count)}"
